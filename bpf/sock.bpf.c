// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket layer: cgroup sock_addr hooks. connect4/6 choose a backend for a
 * connect() to a frontend and write it into the socket; getpeername4/6
 * show the application the frontend it dialled; sockops counts what became
 * of each steered TCP connection (lib/outcome.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define steer_ancestor_cgroup_id(level)                                        \
	bpf_get_current_ancestor_cgroup_id(level)
#define steer_current_pid() ((__u32)(bpf_get_current_pid_tgid() >> 32))
#include "lib/decide.h"
#include "lib/outcome.h"
#include "lib/count.h"
#include "lib/trace.h"

#define ECONNREFUSED 111
#define SYS_PROCEED  1
#define SYS_REJECT   0

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void
remember_frontend(struct bpf_sock_addr *ctx,
		  const struct steer_frontend_key *fk, __u32 route,
		  const struct steer_route_cfg *cfg,
		  const struct steer_decision *d)
{
	struct steer_sk_orig *o;

	if (d->rule >= STEER_MAX_RULES || d->version >= STEER_MAX_VERSIONS ||
	    d->backend_idx >= STEER_MAX_BACKENDS)
		return;
	o = bpf_sk_storage_get(&steer_sk_orig_v2, ctx->sk, 0,
			       BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return;
	__builtin_memcpy(o->addr, fk->addr, sizeof(o->addr));
	o->port = fk->port;
	o->family = fk->family;
	o->route_id = route;
	o->rule = d->rule;
	o->version = d->version;
	o->backend = d->backend_idx;
	o->rule_slot = cfg->rules[d->rule].stats_slot;
	o->version_slot = cfg->versions[d->version].stats_slot;
	o->backend_slot =
		cfg->versions[d->version].backends[d->backend_idx].stats_slot;
	o->state = STEER_SK_CONNECTING;
	o->connect_ns = bpf_ktime_get_ns();
}

/*
 * The connect path of both families. @fk is the dialled address. Returns
 * -1 when it is no frontend (leave the socket alone), SYS_REJECT with the
 * errno already set, or SYS_PROCEED with the backend in @out for the caller
 * to write into @ctx in its family's form.
 */
static __always_inline int sock_connect(struct bpf_sock_addr *ctx,
					struct steer_frontend_key *fk,
					struct steer_client *cl,
					struct steer_backend *out)
{
	const struct steer_route_cfg *cfg;
	const struct steer_frontend *fe;
	struct steer_decision d = {};
	enum steer_verdict verdict;
	enum steer_reason reason;
	__be16 port;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return -1;
	fk->proto = ctx->protocol;
	fe = frontend_lookup(fk);
	if (!fe) {
		/* A reused socket must not keep showing an old frontend. */
		bpf_sk_storage_delete(&steer_sk_orig_v2, ctx->sk);
		reason_count(STEER_REASON_NOT_FRONTEND);
		return -1;
	}
	cl->dport = bpf_ntohs(fk->port);
	cl->uid = (__u32)bpf_get_current_uid_gid();
	cl->affinity_key = bpf_get_current_cgroup_id();
	cl->layer = STEER_LAYER_SOCK;
	cl->route_id = fe->route_id;

	cfg = route_lookup(fe->route_id);
	if (!cfg) {
		reason_count(STEER_REASON_NO_ROUTE_CFG);
		trace_decision(fk, cl, fe->route_id, NULL, NULL,
			       STEER_VERDICT_NO_RULE, STEER_REASON_NO_ROUTE_CFG,
			       NULL, 0);
		bpf_set_retval(-ECONNREFUSED);
		return SYS_REJECT;
	}

	verdict = steer_decide(cfg, cl, &d);
	count_decision(fe->route_id, cfg, &d, verdict, STEER_LAYER_SOCK);
	if (verdict == STEER_VERDICT_STEER && !d.backend)
		verdict = STEER_VERDICT_NO_BACKEND; /* cannot happen; refuse */
	switch (verdict) {
	case STEER_VERDICT_STEER:
		reason = STEER_REASON_STEERED;
		__builtin_memcpy(out->addr, d.backend->addr, sizeof(out->addr));
		port = d.backend->port;
		if (!port)
			port = fe->target_port ? fe->target_port : fk->port;
		out->port = port;
		remember_frontend(ctx, fk, fe->route_id, cfg, &d);
		break;
	case STEER_VERDICT_DENY:
		reason = STEER_REASON_POLICY_DENY;
		break;
	case STEER_VERDICT_NO_RULE:
		reason = STEER_REASON_NO_RULE;
		break;
	default:
		reason = STEER_REASON_NO_BACKEND;
		break;
	}
	reason_count(reason);
	trace_decision(fk, cl, fe->route_id, cfg, &d, verdict, reason, out, 0);
	if (verdict == STEER_VERDICT_STEER)
		return SYS_PROCEED;
	if (verdict != STEER_VERDICT_DENY)
		bpf_set_retval(-ECONNREFUSED);
	return SYS_REJECT; /* a denial is EPERM, the hook's default */
}

SEC("cgroup/connect4")
int steer_sock4_connect(struct bpf_sock_addr *ctx)
{
	struct steer_frontend_key fk = {};
	struct steer_client cl = {};
	struct steer_backend be = {};
	struct bpf_sock *sk = ctx->sk;
	int ret;

	if (!sk)
		return SYS_PROCEED;
	fk.addr[0] = ctx->user_ip4;
	fk.port = (__be16)ctx->user_port;
	fk.family = STEER_FAM_INET;
	cl.family = STEER_FAM_INET;
	cl.saddr[0] = sk->src_ip4; /* 0 unless the socket is bound */

	ret = sock_connect(ctx, &fk, &cl, &be);
	if (ret < 0)
		return SYS_PROCEED;
	if (ret == SYS_PROCEED) {
		ctx->user_ip4 = be.addr[0];
		ctx->user_port = be.port;
	}
	return ret;
}

/* ::ffff:a.b.c.d, how a dual-stack IPv6 socket dials an IPv4 address. */
static __always_inline bool v4_mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0x0000ffff);
}

/*
 * A dual-stack socket that dials ::ffff:VIP runs only this hook (the
 * kernel's IPv6 pre-connect), so it is steered here as the IPv4 frontend
 * VIP and gets ::ffff:backend, the way Cilium's sock6 hook does.
 */
SEC("cgroup/connect6")
int steer_sock6_connect(struct bpf_sock_addr *ctx)
{
	struct steer_frontend_key fk = {};
	struct steer_client cl = {};
	struct steer_backend be = {};
	struct bpf_sock *sk = ctx->sk;
	__u32 dst[4], src[4];
	bool mapped;
	int ret;

	if (!sk)
		return SYS_PROCEED;
	/* Field by field: ctx and sock allow no pointer arithmetic. */
	dst[0] = ctx->user_ip6[0];
	dst[1] = ctx->user_ip6[1];
	dst[2] = ctx->user_ip6[2];
	dst[3] = ctx->user_ip6[3];
	src[0] = sk->src_ip6[0];
	src[1] = sk->src_ip6[1];
	src[2] = sk->src_ip6[2];
	src[3] = sk->src_ip6[3];
	mapped = v4_mapped(dst);
	fk.port = (__be16)ctx->user_port;
	if (mapped) {
		fk.addr[0] = dst[3];
		fk.family = cl.family = STEER_FAM_INET;
		cl.saddr[0] = v4_mapped(src) ? src[3] : 0;
	} else {
		__builtin_memcpy(fk.addr, dst, sizeof(fk.addr));
		__builtin_memcpy(cl.saddr, src, sizeof(cl.saddr));
		fk.family = cl.family = STEER_FAM_INET6;
	}

	ret = sock_connect(ctx, &fk, &cl, &be);
	if (ret < 0)
		return SYS_PROCEED;
	if (ret == SYS_PROCEED) {
		if (mapped) {
			be.addr[3] = be.addr[0];
			be.addr[0] = be.addr[1] = 0;
			be.addr[2] = bpf_htonl(0x0000ffff);
		}
		ctx->user_ip6[0] = be.addr[0];
		ctx->user_ip6[1] = be.addr[1];
		ctx->user_ip6[2] = be.addr[2];
		ctx->user_ip6[3] = be.addr[3];
		ctx->user_port = be.port;
	}
	return ret;
}

/* getpeername: show the frontend, never the backend (Cilium #9974). */
static __always_inline const struct steer_sk_orig *
sk_orig(struct bpf_sock_addr *ctx)
{
	if (!ctx->sk)
		return NULL;
	return bpf_sk_storage_get(&steer_sk_orig_v2, ctx->sk, 0, 0);
}

SEC("cgroup/getpeername4")
int steer_sock4_getpeername(struct bpf_sock_addr *ctx)
{
	const struct steer_sk_orig *o = sk_orig(ctx);

	if (o && o->family == STEER_FAM_INET) {
		ctx->user_ip4 = o->addr[0];
		ctx->user_port = o->port;
	}
	return SYS_PROCEED;
}

SEC("cgroup/getpeername6")
int steer_sock6_getpeername(struct bpf_sock_addr *ctx)
{
	const struct steer_sk_orig *o = sk_orig(ctx);

	if (!o)
		return SYS_PROCEED;
	if (o->family == STEER_FAM_INET6) {
		ctx->user_ip6[0] = o->addr[0];
		ctx->user_ip6[1] = o->addr[1];
		ctx->user_ip6[2] = o->addr[2];
		ctx->user_ip6[3] = o->addr[3];
	} else { /* dialled as ::ffff:VIP */
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = o->addr[0];
	}
	ctx->user_port = o->port;
	return SYS_PROCEED;
}

/*
 * sockops: every TCP socket of the cgroup passes here for the callbacks
 * that are always on; only those with socket storage (steered at connect)
 * ask for state callbacks, so the others cost the early return.
 */
SEC("sockops")
int steer_sockops(struct bpf_sock_ops *ctx)
{
	struct steer_sk_orig *o;
	struct bpf_sock *sk;
	__u32 op = ctx->op;

	if (op == BPF_SOCK_OPS_STATE_CB) {
		/* Only these two transitions count: skip the storage lookup
		 * for FIN_WAIT1, CLOSE_WAIT, LAST_ACK and the like. */
		if (ctx->args[1] != BPF_TCP_ESTABLISHED &&
		    ctx->args[1] != BPF_TCP_CLOSE)
			return 1;
	} else if (op != BPF_SOCK_OPS_TCP_CONNECT_CB) {
		return 1;
	}
	sk = ctx->sk;
	if (!sk)
		return 1;
	o = bpf_sk_storage_get(&steer_sk_orig_v2, sk, 0, 0);
	if (!o)
		return 1;
	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB)
		bpf_sock_ops_cb_flags_set(ctx,
					  ctx->bpf_sock_ops_cb_flags |
						  BPF_SOCK_OPS_STATE_CB_FLAG);
	else
		outcome_state(ctx, sk, o, ctx->args[1]);
	return 1;
}
