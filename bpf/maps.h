/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions (BPF side only; the layouts live in steer_abi.h, the
 * sizing rules in include/steer_abi.manifest). Userspace sets max_entries
 * before load from --max-routes, --max-backends and --ct-max.
 */
#ifndef STEER_BPF_MAPS_H
#define STEER_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "steer_abi.h"

/*
 * The inner map: one route's rows (see steer_abi.h). BPF_F_INNER_MAP lets
 * every route's inner map have the number of rows it needs. Sized with
 * sizeof, not __type: clang leaves a struct that is only read through
 * pointers as a forward declaration in BTF.
 */
struct steer_route_rows {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, STEER_ROW_SIZE);
};

/* route id -> inner map of the route's rows */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, STEER_DEFAULT_MAX_ROUTES);
	__type(key, __u32);
	__array(values, struct steer_route_rows);
} steer_routes_v2 SEC(".maps");

/* struct steer_frontend_key -> struct steer_frontend (dialled address ->
 * route); no preallocation: memory follows the frontends in use */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_DEFAULT_MAX_ROUTES *STEER_MAX_FRONTENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_frontend_key);
	__type(value, struct steer_frontend);
} steer_frontends_v2 SEC(".maps");

/* backend id -> struct steer_backend_addr, shared by all routes */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STEER_BACKENDS_PER_ROUTE *STEER_DEFAULT_MAX_ROUTES);
	__type(key, __u32);
	__type(value, struct steer_backend_addr);
} steer_backends_v2 SEC(".maps");

/* struct steer_backend_addr -> backend id (userspace's allocation; no
 * program reads it) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_BACKENDS_PER_ROUTE *STEER_DEFAULT_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_backend_addr);
	__type(value, __u32);
} steer_backend_ids_v2 SEC(".maps");

/* match id -> struct steer_match (rule matches and policy entries) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * STEER_MAX_RULES * STEER_DEFAULT_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct steer_match);
} steer_matches_v2 SEC(".maps");

/* struct steer_stats_key -> per-CPU struct steer_stats */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 2 * STEER_MAX_RULES * STEER_DEFAULT_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_stats_key);
	__type(value, struct steer_stats);
} steer_stats_v2 SEC(".maps");

/* struct steer_backend_stats_key -> per-CPU struct steer_backend_stats */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, STEER_LAYER_COUNT *STEER_BACKENDS_PER_ROUTE
				    *STEER_DEFAULT_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_backend_stats_key);
	__type(value, struct steer_backend_stats);
} steer_backend_stats_v2 SEC(".maps");

/*
 * route id -> per-CPU connection sequence number. Without affinity, the
 * k-th connection of a route on a CPU takes the k-th point of a
 * low-discrepancy (Weyl) sequence instead of a random draw, so a split is
 * met closely over any run of connections, not only on average.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_DEFAULT_MAX_ROUTES);
	__type(key, __u32);
	__type(value, __u64);
} steer_seq_v1 SEC(".maps");

/* enum steer_reason -> per-CPU count of verdicts for that reason */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_REASON_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} steer_reasons_v2 SEC(".maps");

/*
 * socket -> struct steer_sk_orig: the frontend its owner dialled and the
 * counter slots its outcome is counted under. Socket storage lives and dies
 * with the socket: nothing to fill up, nothing to evict.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct steer_sk_orig);
} steer_sk_orig_v2 SEC(".maps");

/*
 * socket -> struct steer_sk_udp: the frontends an unconnected UDP socket
 * sent to and the backend each one sticks to (sendmsg4/6, recvmsg4/6).
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct steer_sk_udp);
} steer_sk_udp_v1 SEC(".maps");

/* struct steer_rtt_key -> per-CPU struct steer_rtt */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, STEER_MAX_VERSIONS *STEER_DEFAULT_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_rtt_key);
	__type(value, struct steer_rtt);
} steer_rtt_v2 SEC(".maps");

/* steer_health_v1, steer_health_slots_v1: health_maps.h (their own header:
 * health_restore.bpf.c needs only them) */
#include "health_maps.h"

/* 0 -> struct steer_trace_ctl: the tracing lease (see steer_abi.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_trace_ctl);
} steer_trace_v1 SEC(".maps");

/* ring buffer of struct steer_event, written only while the lease runs */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} steer_events_v2 SEC(".maps");

/* 0 -> struct steer_agent_state: steerd's counters (never read by BPF) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_agent_state);
} steer_agent_v1 SEC(".maps");

/* route name -> id, generation, source hash: userspace's index */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* every route, and the newest generation under the empty name; a
	 * cap (no preallocation): a full index would lose a route's entry */
	__uint(max_entries, 2 * STEER_DEFAULT_MAX_ROUTES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct steer_route_name);
	__type(value, struct steer_route_index);
} steer_route_index_v2 SEC(".maps");

#endif /* STEER_BPF_MAPS_H */
