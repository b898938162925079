/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map definitions (BPF side only; the layouts live in steer_abi.h).
 * Userspace resizes the route-indexed maps before load (--max-routes).
 */
#ifndef STEER_BPF_MAPS_H
#define STEER_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "steer_abi.h"

/*
 * The inner map: one value, the whole compiled route (see steer_abi.h).
 * Sized with sizeof, not __type: clang leaves a struct that is only read
 * through pointers as a forward declaration in BTF.
 */
struct steer_route_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct steer_route_cfg));
};

/* route id -> inner map holding the live struct steer_route_cfg */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, STEER_DEFAULT_MAX_ROUTES);
	__type(key, __u32);
	__array(values, struct steer_route_inner);
} steer_routes_v1 SEC(".maps");

/* struct steer_frontend_key -> struct steer_frontend (dialled address -> route)
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_DEFAULT_MAX_ROUTES *STEER_MAX_FRONTENDS);
	__type(key, struct steer_frontend_key);
	__type(value, struct steer_frontend);
} steer_frontends_v1 SEC(".maps");

/* steer_stats_index(route, rule, version) -> per-CPU struct steer_stats */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_DEFAULT_MAX_ROUTES *STEER_STATS_PER_ROUTE);
	__type(key, __u32);
	__type(value, struct steer_stats);
} steer_stats_v1 SEC(".maps");

/* steer_backend_stats_index(route, version, backend, layer) -> per-CPU
 * struct steer_backend_stats */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries,
	       STEER_DEFAULT_MAX_ROUTES *STEER_BACKEND_STATS_PER_ROUTE);
	__type(key, __u32);
	__type(value, struct steer_backend_stats);
} steer_backend_stats_v1 SEC(".maps");

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
	__uint(max_entries, STEER_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} steer_reasons_v1 SEC(".maps");

/*
 * socket -> struct steer_sk_orig: the frontend its owner dialled and the
 * counter slots its outcome is counted under. Socket storage lives and dies
 * with the socket: nothing to fill up, nothing to evict (LESSONS.md).
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

/* steer_rtt_index(route, version slot) -> per-CPU struct steer_rtt */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STEER_DEFAULT_MAX_ROUTES *STEER_MAX_VERSIONS);
	__type(key, __u32);
	__type(value, struct steer_rtt);
} steer_rtt_v1 SEC(".maps");

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
} steer_events_v1 SEC(".maps");

/* 0 -> struct steer_agent_state: steerd's counters (never read by BPF) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_agent_state);
} steer_agent_v1 SEC(".maps");

/* route name -> id and generation: userspace's index (see steer_abi.h) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, STEER_DEFAULT_MAX_ROUTES);
	__type(key, struct steer_route_name);
	__type(value, struct steer_route_index);
} steer_route_index_v1 SEC(".maps");

#endif /* STEER_BPF_MAPS_H */
