// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl rollout and passive health: a canary backend that the datapath
 * ejected (README "Passive health") failed connects in a row, however few
 * connections the step has counted so far, and its ejection hides that
 * from the failure rate: the ejected backend gets no more connections to
 * fail, and with every backend ejected the canary's share fails over to
 * the other versions. So an ejection fails the step at once.
 *
 * Only passive ejections count: one by 'steerctl eject' (a flag in the
 * route's rows) is an operator's choice, not a verdict on the canary.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "ctl_rollout.h"

void rollout_read_ejected(struct rollout_run *r,
			  const struct steer_version *ver)
{
	__u64 now = maps_now_ns();
	struct steer_health h;

	r->n_canary = 0;
	r->n_ejected = 0;
	for (int b = 0; b < ver->n_backends && b < ROUTE_MAX_BACKENDS; b++) {
		const struct steer_backend *be = &ver->backends[b];

		r->n_canary++;
		/* No entry (no health section, pins older than health):
		 * nothing ejected. */
		if (maps_health_read(&r->m, (__u32)r->id, ver->counter_slot,
				     be->counter_slot, &h) ||
		    h.ejected_until_ns <= now)
			continue;
		addr_format(r->ejected[r->n_ejected], ADDR_STR_MAX, be->family,
			    be->addr, ntohs(be->port));
		r->ejected_ms[r->n_ejected] =
			(h.ejected_until_ns - now + 999999) / 1000000;
		r->n_ejected++;
	}
}

bool rollout_judge_ejected(struct rollout_run *r)
{
	const struct rollout_args *a = r->a;
	char pct[16];

	if (!r->n_ejected)
		return false;
	rollout_pct(pct, sizeof(pct), a->steps[r->step]);
	if (r->n_ejected == r->n_canary)
		snprintf(r->why, sizeof(r->why),
			 "%s is ejected by passive health: all %d of its "
			 "backends (%s%s) failed their connects, at step "
			 "%d/%d (%s%%)",
			 a->version, r->n_canary, r->ejected[0],
			 r->n_canary > 1 ? ", ..." : "", r->step + 1,
			 a->n_steps, pct);
	else
		snprintf(r->why, sizeof(r->why),
			 "%s backend %s is ejected by passive health (%d of "
			 "%d backends ejected, for %.1fs more) at step %d/%d "
			 "(%s%%)",
			 a->version, r->ejected[0], r->n_ejected, r->n_canary,
			 (double)r->ejected_ms[0] / 1000, r->step + 1,
			 a->n_steps, pct);
	return true;
}
