/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One route's counters read from the pinned maps and arranged by the
 * positions of its rules, versions and backends in the live config (the
 * kernel keeps them by counter slot). Shared by /metrics and steerctl stats.
 */
#ifndef STEER_STATS_H
#define STEER_STATS_H

#include "maps.h"

struct stats_route {
	__u32 id;
	struct steer_route_cfg cfg;
	/* new connections by rule, version and layer */
	__u64 conns[STEER_MAX_RULES][STEER_MAX_VERSIONS][STEER_LAYER_COUNT];
	__u64 denied[STEER_LAYER_COUNT];  /* policy denials */
	__u64 noroute[STEER_LAYER_COUNT]; /* no rule / no usable backend */
	/* per backend and layer: be[v][b][l], b < the version's n_backends
	 * (heap, as the backends: stats_route_free) */
	struct steer_backend_stats (*be[STEER_MAX_VERSIONS])[STEER_LAYER_COUNT];
	struct steer_rtt rtt[STEER_MAX_VERSIONS];
	/* passive health per backend, health[v][b] (zero when the route has
	 * none) */
	struct steer_health *health[STEER_MAX_VERSIONS];
	__u64 now_ns; /* CLOCK_MONOTONIC when health was read */
};

/* Names of enum steer_layer values ("sock", "tc"). */
extern const char *const stats_layer_names[STEER_LAYER_COUNT];

/* Name of an enum steer_reason value ("policy_deny"; "unknown"). */
const char *stats_reason_name(unsigned int reason);

/* Read route @id's config and counters into @out, fresh from malloc (a
 * few syscalls per rule, version and backend). Returns 0 or -errno
 * (-ENOENT: route gone); either way stats_route_free() releases @out. */
int stats_read_route(const struct steer_maps *m, __u32 id,
		     struct stats_route *out);

/* Release @rs (from malloc) and what stats_read_route put in it. */
void stats_route_free(struct stats_route *rs);

/* Active connections of one backend at one layer: established - closed,
 * never below 0 (the per-CPU sums are read one CPU at a time). */
__u64 stats_active(const struct steer_backend_stats *b);

/* Sum over CPUs of the verdict counter of each reason into @out. */
int stats_read_reasons(const struct steer_maps *m,
		       __u64 out[STEER_REASON_COUNT]);

#endif /* STEER_STATS_H */
