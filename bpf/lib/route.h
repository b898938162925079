/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Accessors for routes, frontends, backends, matches and counters: program
 * code never builds map keys inline. */
#ifndef STEER_BPF_LIB_ROUTE_H
#define STEER_BPF_LIB_ROUTE_H

#include "maps.h"

static __always_inline const struct steer_frontend *
frontend_lookup(const struct steer_frontend_key *key)
{
	return bpf_map_lookup_elem(&steer_frontends_v2, key);
}

/*
 * A live route: its inner map of rows (see steer_abi.h) and its header.
 * Everything a decision reads comes from this one inner map, or from
 * entries it refers to that are never written while referred to.
 */
struct steer_route {
	void *rows;
	const struct steer_route_hdr *hdr;
	__u32 id;
};

static __always_inline bool route_lookup(__u32 id, struct steer_route *rt)
{
	__u32 zero = 0;

	rt->id = id;
	rt->rows = bpf_map_lookup_elem(&steer_routes_v2, &id);
	if (!rt->rows)
		return false;
	rt->hdr = bpf_map_lookup_elem(rt->rows, &zero);
	return rt->hdr != NULL;
}

/* Row @row of @rt (64 bytes), NULL past the route's last row. */
static __always_inline const void *route_row(const struct steer_route *rt,
					     __u32 row)
{
	return bpf_map_lookup_elem(rt->rows, &row);
}

static __always_inline const struct steer_backend_addr *backend_lookup(__u32 id)
{
	return bpf_map_lookup_elem(&steer_backends_v2, &id);
}

static __always_inline const struct steer_match *match_lookup(__u32 id)
{
	return bpf_map_lookup_elem(&steer_matches_v2, &id);
}

static __always_inline void reason_count(enum steer_reason reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&steer_reasons_v2, &key);

	if (n)
		*n += 1;
}

/* The next sequence number of route @id on this CPU (0 if out of range). */
static __always_inline __u32 seq_next(__u32 id)
{
	__u64 *seq = bpf_map_lookup_elem(&steer_seq_v1, &id);

	return seq ? (__u32)(*seq)++ : 0;
}

/*
 * The counter entry of @key in per-CPU hash @map, created (zeroed) on
 * first use: counters cost memory only once something is counted. NULL
 * when the map is full.
 */
static __always_inline void *counter_get(void *map, const void *key,
					 const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, key);
}

static __always_inline struct steer_stats *stats_get(__u32 route, __u8 rule,
						     __u8 version)
{
	struct steer_stats_key key = { .route = route,
				       .rule = rule,
				       .version = version };
	struct steer_stats zero = {};

	return counter_get(&steer_stats_v2, &key, &zero);
}

/* Counters of a backend by its counter slots (as a decision, a socket or a
 * flow carries them). */
static __always_inline struct steer_backend_stats *
backend_stats_get(__u32 route, __u8 vslot, __u16 bslot, enum steer_layer layer)
{
	struct steer_backend_stats_key key = {
		.route = route,
		.version = vslot,
		.layer = layer,
		.backend = bslot,
	};
	struct steer_backend_stats zero = {};

	return counter_get(&steer_backend_stats_v2, &key, &zero);
}

/* The connect-RTT histogram of version slot @vslot of route @route. */
static __always_inline struct steer_rtt *rtt_get(__u32 route, __u32 vslot)
{
	struct steer_rtt_key key = { .route = route, .version = vslot };
	struct steer_rtt zero = {};

	return counter_get(&steer_rtt_v2, &key, &zero);
}

#endif /* STEER_BPF_LIB_ROUTE_H */
