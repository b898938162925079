/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Accessors for routes, frontends and counters: program code never builds
 * map keys inline. */
#ifndef STEER_BPF_LIB_ROUTE_H
#define STEER_BPF_LIB_ROUTE_H

#include "maps.h"

static __always_inline const struct steer_frontend *
frontend_lookup(const struct steer_frontend_key *key)
{
	return bpf_map_lookup_elem(&steer_frontends_v1, key);
}

/* The live configuration of route @id: one lookup of the outer map, one of
 * the inner map's only element. Everything after reads this one value. */
static __always_inline const struct steer_route_cfg *route_lookup(__u32 id)
{
	__u32 zero = 0;
	void *inner;

	inner = bpf_map_lookup_elem(&steer_routes_v1, &id);
	if (!inner)
		return NULL;
	return bpf_map_lookup_elem(inner, &zero);
}

static __always_inline void reason_count(enum steer_reason reason)
{
	__u32 key = reason;
	__u64 *n = bpf_map_lookup_elem(&steer_reasons_v1, &key);

	if (n)
		*n += 1;
}

/* The next sequence number of route @id on this CPU (0 if out of range). */
static __always_inline __u32 seq_next(__u32 id)
{
	__u64 *seq = bpf_map_lookup_elem(&steer_seq_v1, &id);

	return seq ? (__u32)(*seq)++ : 0;
}

static __always_inline struct steer_stats *stats_lookup(__u32 route, __u32 rule,
							__u32 version)
{
	__u32 key = steer_stats_index(route, rule, version);

	return bpf_map_lookup_elem(&steer_stats_v1, &key);
}

/* Counters of backend @backend of version @version (indexes into @cfg, not
 * counter slots) of route @route at @layer; NULL when out of range. */
static __always_inline struct steer_backend_stats *
backend_stats_lookup(__u32 route, const struct steer_route_cfg *cfg,
		     __u32 version, __u32 backend, enum steer_layer layer)
{
	__u32 key;

	if (version >= STEER_MAX_VERSIONS || backend >= STEER_MAX_BACKENDS)
		return NULL;
	key = steer_backend_stats_index(
		route, cfg->versions[version].stats_slot % STEER_MAX_VERSIONS,
		cfg->versions[version].backends[backend].stats_slot %
			STEER_MAX_BACKENDS,
		layer);
	return bpf_map_lookup_elem(&steer_backend_stats_v1, &key);
}

/* Counters of a backend by its counter slots (as a flow remembers them). */
static __always_inline struct steer_backend_stats *
backend_stats_slot_lookup(__u32 route, __u32 vslot, __u32 bslot,
			  enum steer_layer layer)
{
	__u32 key =
		steer_backend_stats_index(route, vslot % STEER_MAX_VERSIONS,
					  bslot % STEER_MAX_BACKENDS, layer);

	return bpf_map_lookup_elem(&steer_backend_stats_v1, &key);
}

/* The connect-RTT histogram of version slot @vslot of route @route. */
static __always_inline struct steer_rtt *rtt_lookup(__u32 route, __u32 vslot)
{
	__u32 key;

	if (vslot >= STEER_MAX_VERSIONS)
		return NULL;
	key = steer_rtt_index(route, vslot);
	return bpf_map_lookup_elem(&steer_rtt_v1, &key);
}

#endif /* STEER_BPF_LIB_ROUTE_H */
