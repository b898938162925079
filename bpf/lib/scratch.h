/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TC layer: the large locals of one packet's handling, kept in a per-CPU
 * map instead of on the stack. Linux 6.1's verifier holds the frames of a
 * call chain to 512 bytes together; with the packet, the flow keys and
 * entries and the client on its own stack (416 bytes), the TC program and
 * the health-aware choice's frame (steer_pick_backend, lib/decide.h: 80
 * then, 96 as 6.1 rounds it) filled all 512, and 6.1's verifier needed 247k
 * of its 250k-instruction budget for the program. Here: 280 bytes, 139k
 * (with the choice's probes through a version, 104 + 24 bytes, `make
 * vmtest` shows 480 of 512 for the chain and 135k instructions).
 *
 * One slot per CPU is enough: a TC program runs to its end on its CPU
 * (softirq, or with bottom halves off) before the next one starts there.
 * Only pointer-free structs may live here: a pointer stored in a map value
 * loses its type for the verifier (the decision and the route stay on the
 * stack for that reason).
 */
#ifndef STEER_BPF_LIB_SCRATCH_H
#define STEER_BPF_LIB_SCRATCH_H

#include "lib/pkt.h"
#include "lib/decide.h"

struct tc_scratch {
	struct steer_pkt p;	       /* the packet being handled */
	struct steer_client cl;	       /* who sends it (a new flow) */
	struct steer_frontend_key fk;  /* the frontend it is sent to */
	struct steer_backend_addr out; /* the backend a new flow goes to */
	struct steer_ct_key key;       /* a flow's other direction */
	struct steer_ct_entry e;       /* a new flow's entry, before stored */
};

/*
 * The map's value is a fixed size, more than the struct needs, so that the
 * struct may change without changing the pinned map's layout (a scratch
 * value is never read across two packets, so a program of another build
 * that shares the pin during an upgrade reads nothing of this one's).
 */
#define STEER_TC_SCRATCH_SIZE 512
_Static_assert(sizeof(struct tc_scratch) <= STEER_TC_SCRATCH_SIZE,
	       "TC scratch fits its map value");

union tc_scratch_value {
	struct tc_scratch s;
	__u8 bytes[STEER_TC_SCRATCH_SIZE];
};

/* 0 -> per-CPU union tc_scratch_value: TC's large locals (see above) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, union tc_scratch_value);
} steer_tc_scratch_v1 SEC(".maps");

/* This CPU's scratch, its packet zeroed (parse() fills only some of it). */
static __always_inline struct tc_scratch *scratch_get(void)
{
	__u32 zero = 0;
	union tc_scratch_value *v =
		bpf_map_lookup_elem(&steer_tc_scratch_v1, &zero);

	if (!v)
		return NULL;
	__builtin_memset(&v->s.p, 0, sizeof(v->s.p));
	return &v->s;
}

#endif /* STEER_BPF_LIB_SCRATCH_H */
