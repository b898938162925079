// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test-runnable wrapper around the per-connection decision (lib/decide.h).
 * cgroup sock_addr programs have no BPF_PROG_TEST_RUN support, so, as
 * Cilium does, the selection logic is called from a program that has one: a
 * SEC("syscall") program reads a client from its ctx, looks the route up
 * through the same route_lookup() / steer_routes_v2 path as the socket
 * layer, runs steer_decide() and writes the decision back into the ctx.
 * Never attached anywhere; tests/bpf/test_decide.c runs it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "test_decide.h"

/*
 * The client's cgroup ancestry for this run, copied from the ctx: the
 * socket layer asks the kernel (bpf_get_current_ancestor_cgroup_id), here
 * the test says where the client sits.
 */
__u64 test_cgroups[TEST_CGROUP_LEVELS];

static __always_inline __u64 test_ancestor_cgroup_id(__u32 level)
{
	return level < TEST_CGROUP_LEVELS ? test_cgroups[level] : 0;
}

#define steer_ancestor_cgroup_id(level) test_ancestor_cgroup_id(level)
#include "lib/decide.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("syscall")
int test_decide(struct test_decide_ctx *ctx)
{
	const struct steer_version_row *ver;
	struct steer_route rt = {};
	struct steer_decision d = {};
	struct steer_client cl = {};
	enum steer_verdict verdict;

	for (int i = 0; i < TEST_CGROUP_LEVELS; i++)
		test_cgroups[i] = ctx->cgroups[i];
	if (!route_lookup(ctx->route_id, &rt))
		return TEST_DECIDE_NO_CFG;

	/* The client on the stack, as the socket layer builds it. */
	__builtin_memcpy(cl.saddr, ctx->saddr, sizeof(cl.saddr));
	cl.affinity_key = ctx->affinity_key;
	cl.uid = ctx->uid;
	cl.dport = ctx->dport;
	cl.family = ctx->family;
	cl.layer = ctx->layer;
	cl.route_id = ctx->route_id;
	cl.proto = ctx->proto ? ctx->proto : STEER_PROTO_TCP;

	verdict = steer_decide(&rt, &cl, &d);
	ctx->generation = rt.hdr->generation;
	ctx->verdict = verdict;
	ctx->rule = d.rule;
	ctx->version = d.version;
	ctx->reason = d.reason;
	ctx->failover = d.failover;
	ctx->claimed = d.claimed;
	/* The index in the version's backend list (IPv4 ones first), as the
	 * userspace config shows it: the datapath's is within the family. */
	ctx->backend_idx = d.backend_idx;
	if (d.backend && (cl.family & 1)) {
		ver = route_row(&rt, rt.hdr->version_row + d.version);
		if (ver)
			ctx->backend_idx += ver->n_refs[STEER_FAM_INET];
	}
	ctx->has_backend = d.backend != NULL;
	if (d.backend) {
		__builtin_memcpy(ctx->backend_addr, d.backend->addr,
				 sizeof(ctx->backend_addr));
		ctx->backend_port = d.backend->port;
		ctx->backend_family = d.backend->family;
	}
	return TEST_DECIDE_OK;
}
