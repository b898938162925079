/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counting a decision, the same way at every layer: the rule/version entry
 * of steer_stats_v2 and, for a steered connection, its backend's entry of
 * steer_backend_stats_v2, both under the counter slots the decision read.
 */
#ifndef STEER_BPF_LIB_COUNT_H
#define STEER_BPF_LIB_COUNT_H

#include "route.h"
#include "decide.h"

static __always_inline void count_decision(__u32 route,
					   const struct steer_decision *d,
					   enum steer_verdict verdict,
					   enum steer_layer layer)
{
	struct steer_backend_stats *bs;
	struct steer_stats *st;

	if (layer >= STEER_LAYER_COUNT)
		return;
	st = stats_get(route, d->rule_slot, d->version_slot);
	if (!st)
		return;
	switch (verdict) {
	case STEER_VERDICT_STEER:
		st->connections[layer]++;
		bs = backend_stats_get(route, d->version_slot, d->backend_slot,
				       layer);
		if (bs)
			bs->connections++;
		break;
	case STEER_VERDICT_DENY:
		st->denied[layer]++;
		break;
	default:
		st->no_route[layer]++;
		break;
	}
}

#endif /* STEER_BPF_LIB_COUNT_H */
