/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The context of the test-runnable decision program
 * (tests/bpf/progs/test_decide.bpf.c), shared with its runner
 * (tests/bpf/test_decide.c). cgroup sock_addr programs cannot be run with
 * BPF_PROG_TEST_RUN, so a SEC("syscall") program takes the client in this
 * struct, runs the same route_lookup() + steer_decide() as the socket
 * layer, and writes the decision back into it. The kernel copies a
 * syscall program's ctx back into ctx_in when the run ends.
 */
#ifndef STEER_TEST_DECIDE_H
#define STEER_TEST_DECIDE_H

#ifndef __BPF__
#include <linux/types.h>
#endif

/* Levels of the fake cgroup hierarchy the client sits in (0 = root). */
#define TEST_CGROUP_LEVELS 8

/* Program return values (opts.retval). */
enum test_decide_ret {
	TEST_DECIDE_OK = 0,	/* decided: see verdict and friends */
	TEST_DECIDE_NO_CFG = 1, /* route_lookup() found no config */
};

struct test_decide_ctx {
	/* in: the route and the client (struct steer_client's fields) */
	__u32 route_id;
	__u32 uid;
	__u64 affinity_key;
	__u32 saddr[4]; /* network order; all zero = socket not bound */
	__u16 dport;	/* frontend port, host order */
	__u8 family;	/* enum steer_family */
	__u8 layer;	/* enum steer_layer */
	__u8 proto;	/* enum steer_proto; 0 reads as TCP */
	__u8 reason;	/* out: decision's health reason, 0 when none */
	__u8 failover;	/* out: steered to another version than drawn */
	__u8 claimed;	/* out: took a max-connections place */
	/* in: ancestor cgroup id per level, what the socket layer's
	 * bpf_get_current_ancestor_cgroup_id(level) would return; 0 = none */
	__u64 cgroups[TEST_CGROUP_LEVELS];
	/* out: the decision */
	__u64 generation; /* of the config the program read */
	__u8 verdict;	  /* enum steer_verdict */
	__u8 rule;	  /* STEER_MAX_RULES when none */
	__u8 version;	  /* STEER_MAX_VERSIONS when none */
	__u8 has_backend;
	__u16 backend_idx; /* in the version's list, IPv4 backends first */
	__u8 backend_family;
	__u8 pad1;
	__be16 backend_port; /* 0: frontend's target port */
	__u32 backend_addr[4];
	__u32 pad2;
};

#ifndef __BPF__
_Static_assert(sizeof(struct test_decide_ctx) == 144, "test ctx layout");
#endif

#endif /* STEER_TEST_DECIDE_H */
