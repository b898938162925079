/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Counting a decision, the same way at every layer: the rule/version row of
 * steer_stats_v1 and, for a steered connection, its backend's row of
 * steer_backend_stats_v1.
 */
#ifndef STEER_BPF_LIB_COUNT_H
#define STEER_BPF_LIB_COUNT_H

#include "route.h"
#include "decide.h"

static __always_inline void count_decision(__u32 route,
					   const struct steer_route_cfg *cfg,
					   const struct steer_decision *d,
					   enum steer_verdict verdict,
					   enum steer_layer layer)
{
	__u32 row = STEER_MAX_RULES, col = STEER_MAX_VERSIONS;
	struct steer_backend_stats *bs;
	struct steer_stats *st;

	if (layer >= STEER_LAYER_COUNT)
		return;
	if (d->rule < STEER_MAX_RULES)
		row = cfg->rules[d->rule].stats_slot;
	if (d->version < STEER_MAX_VERSIONS)
		col = cfg->versions[d->version].stats_slot;
	st = stats_lookup(route, row, col);
	if (!st)
		return;
	switch (verdict) {
	case STEER_VERDICT_STEER:
		st->connections[layer]++;
		bs = backend_stats_lookup(route, cfg, d->version,
					  d->backend_idx, layer);
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
