// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "stats.h"

const char *const stats_layer_names[STEER_LAYER_COUNT] = { "sock", "tc" };

static const char *const reason_names[STEER_REASON_COUNT] = {
	[STEER_REASON_STEERED] = "steered",
	[STEER_REASON_NOT_FRONTEND] = "not_frontend",
	[STEER_REASON_POLICY_DENY] = "policy_deny",
	[STEER_REASON_NO_RULE] = "no_rule",
	[STEER_REASON_NO_BACKEND] = "no_backend",
	[STEER_REASON_NO_ROUTE_CFG] = "no_route_config",
	[STEER_REASON_TC_PASS] = "tc_pass",
	[STEER_REASON_TC_FRAGMENT] = "tc_fragment",
	[STEER_REASON_TC_MALFORMED] = "tc_malformed",
	[STEER_REASON_TC_UNSUPPORTED] = "tc_unsupported",
	[STEER_REASON_TC_CT_FULL] = "tc_ct_full",
	[STEER_REASON_TC_CT_RECREATED] = "tc_ct_recreated",
	[STEER_REASON_TC_REWRITE_FAILED] = "tc_rewrite_failed",
	[STEER_REASON_ALL_EJECTED] = "all_ejected",
	[STEER_REASON_OVERFLOW] = "overflow",
	[STEER_REASON_FAILOVER] = "failover",
};

const char *stats_reason_name(unsigned int reason)
{
	if (reason < STEER_REASON_COUNT && reason_names[reason])
		return reason_names[reason];
	return "unknown";
}

int stats_read_route(const struct steer_maps *m, __u32 id,
		     struct stats_route *out)
{
	static struct steer_stats st[STEER_MAX_RULES + 1]
				    [STEER_MAX_VERSIONS + 1];
	const struct steer_route_cfg *cfg = &out->cfg;
	int ret;

	memset(out, 0, sizeof(*out));
	out->id = id;
	ret = maps_route_get(m, id, &out->cfg);
	if (!ret)
		ret = maps_stats_read(m, id, st);
	if (ret)
		return ret;
	for (int r = 0; r <= STEER_MAX_RULES; r++)
		for (int v = 0; v <= STEER_MAX_VERSIONS; v++)
			for (int l = 0; l < STEER_LAYER_COUNT; l++) {
				out->denied[l] += st[r][v].denied[l];
				out->noroute[l] += st[r][v].no_route[l];
			}
	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		int row = cfg->rules[r].counter_slot % STEER_MAX_RULES;

		for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS;
		     v++) {
			int col = cfg->versions[v].counter_slot %
				  STEER_MAX_VERSIONS;

			for (int l = 0; l < STEER_LAYER_COUNT; l++)
				out->conns[r][v][l] =
					st[row][col].connections[l];
		}
	}
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *ver = &cfg->versions[v];

		ret = maps_rtt_read(m, id, ver->counter_slot, &out->rtt[v]);
		out->be[v] = calloc(ver->n_backends ? ver->n_backends : 1,
				    sizeof(*out->be[v]));
		out->health[v] = calloc(ver->n_backends ? ver->n_backends : 1,
					sizeof(*out->health[v]));
		if (!out->be[v] || !out->health[v])
			return -ENOMEM;
		for (int b = 0;
		     !ret && b < ver->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++) {
			for (int l = 0; !ret && l < STEER_LAYER_COUNT; l++)
				ret = maps_backend_stats_read(
					m, id, ver->counter_slot,
					ver->backends[b].counter_slot, l,
					&out->be[v][b][l]);
			/* missing (never seeded): reads as healthy */
			maps_health_read(m, id, ver->counter_slot,
					 ver->backends[b].counter_slot,
					 &out->health[v][b]);
		}
		if (ret)
			return ret;
	}
	out->now_ns = maps_now_ns();
	return 0;
}

void stats_route_free(struct stats_route *rs)
{
	if (!rs)
		return;
	for (int v = 0; v < STEER_MAX_VERSIONS; v++) {
		free(rs->be[v]);
		free(rs->health[v]);
	}
	route_cfg_free(&rs->cfg);
	free(rs);
}

__u64 stats_active(const struct steer_backend_stats *b)
{
	return b->established > b->closed ? b->established - b->closed : 0;
}

int stats_read_reasons(const struct steer_maps *m,
		       __u64 out[STEER_REASON_COUNT])
{
	int cpus = libbpf_num_possible_cpus();
	__u64 *per;

	memset(out, 0, sizeof(__u64) * STEER_REASON_COUNT);
	if (cpus <= 0)
		return cpus ? cpus : -EINVAL;
	per = calloc(cpus, sizeof(*per));
	if (!per)
		return -ENOMEM;
	for (__u32 r = 0; r < STEER_REASON_COUNT; r++) {
		if (bpf_map_lookup_elem(m->reasons, &r, per))
			continue;
		for (int c = 0; c < cpus; c++)
			out[r] += per[c];
	}
	free(per);
	return 0;
}
