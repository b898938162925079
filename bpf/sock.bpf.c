// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket layer: cgroup sock_addr hooks. connect4/6 choose a backend for a
 * connect() to a frontend and write it into the socket; sendmsg4/6 do the
 * same for a datagram sent with an address (unconnected UDP), once per
 * socket and frontend (lib/udp.h); recvmsg4/6 and getpeername4/6 show the
 * application the frontend it dialled; sockops counts what became of each
 * steered TCP connection (lib/outcome.h).
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
#include "lib/udp.h"

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
 * A decision for a connect() or a datagram to frontend @fe (@fk as
 * dialled): policy, rule, version, backend; counted and traced. Returns
 * SYS_REJECT with the errno already set, or SYS_PROCEED with the backend
 * in @out for the caller to write into @ctx in its family's form. A
 * connect() remembers the frontend in steer_sk_orig_v2; for a datagram
 * (@udp) the caller remembers the backend in the socket's table.
 */
static __always_inline int sock_decide(struct bpf_sock_addr *ctx,
				       const struct steer_frontend_key *fk,
				       const struct steer_frontend *fe,
				       struct steer_client *cl,
				       struct steer_backend *out, bool udp)
{
	const struct steer_route_cfg *cfg;
	struct steer_decision d = {};
	enum steer_verdict verdict;
	enum steer_reason reason;
	__be16 port;

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
		if (!udp)
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

/*
 * The connect path of both families. @fk is the dialled address. Returns
 * -1 when it is no frontend (leave the socket alone), else as
 * sock_decide().
 */
static __always_inline int sock_connect(struct bpf_sock_addr *ctx,
					struct steer_frontend_key *fk,
					struct steer_client *cl,
					struct steer_backend *out)
{
	const struct steer_frontend *fe;

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
	return sock_decide(ctx, fk, fe, cl, out, false);
}

/*
 * The sendmsg path of both families: a UDP datagram with a destination
 * address (the kernel runs the hook only then: sendto()/sendmsg() with a
 * name, never a connected socket's send()). The first datagram of the
 * socket to a frontend decides; later ones take the backend the socket's
 * table remembers, with no second decision, count or event, for as long
 * as the frontend belongs to the same route. Returns as sock_connect().
 */
static __always_inline int sock_sendmsg(struct bpf_sock_addr *ctx,
					struct steer_frontend_key *fk,
					struct steer_client *cl,
					struct steer_backend *out)
{
	const struct steer_frontend *fe;
	struct steer_sk_peer *p = NULL;
	struct steer_sk_udp *u;
	int ret;

	if (ctx->protocol != IPPROTO_UDP)
		return -1;
	fk->proto = IPPROTO_UDP;
	fe = frontend_lookup(fk);
	if (!fe) {
		reason_count(STEER_REASON_NOT_FRONTEND);
		return -1;
	}
	u = sk_udp(ctx->sk, true);
	if (u)
		p = udp_peer_by_frontend(u, fk);
	if (u && p && p->route_id == fe->route_id) {
		udp_sent(u, p);
		__builtin_memcpy(out->addr, p->backend, sizeof(out->addr));
		out->port = p->backend_port;
		return SYS_PROCEED;
	}
	ret = sock_decide(ctx, fk, fe, cl, out, true);
	/*
	 * Looked up again rather than carried through the decision: the
	 * verifier then walks the decision once, not once for each state of
	 * the table pointers (a third of the instructions).
	 */
	u = ret == SYS_PROCEED ? sk_udp(ctx->sk, false) : NULL;
	if (u)
		udp_remember(u, udp_peer_by_frontend(u, fk), fk, fe->route_id,
			     out);
	return ret;
}

/* The dialled IPv4 address of @ctx as a frontend key, and the client. */
static __always_inline void sock4_key(struct bpf_sock_addr *ctx,
				      struct bpf_sock *sk,
				      struct steer_frontend_key *fk,
				      struct steer_client *cl)
{
	fk->addr[0] = ctx->user_ip4;
	fk->port = (__be16)ctx->user_port;
	fk->family = STEER_FAM_INET;
	cl->family = STEER_FAM_INET;
	cl->saddr[0] = sk->src_ip4; /* 0 unless the socket is bound */
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
	sock4_key(ctx, sk, &fk, &cl);
	ret = sock_connect(ctx, &fk, &cl, &be);
	if (ret < 0)
		return SYS_PROCEED;
	if (ret == SYS_PROCEED) {
		ctx->user_ip4 = be.addr[0];
		ctx->user_port = be.port;
	}
	return ret;
}

/*
 * A dual-stack IPv6 socket's sendto(::ffff:VIP) arrives here too: the
 * kernel hands a v4-mapped destination to udp_sendmsg() as an IPv4 one.
 */
SEC("cgroup/sendmsg4")
int steer_sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	struct steer_frontend_key fk = {};
	struct steer_client cl = {};
	struct steer_backend be = {};
	struct bpf_sock *sk = ctx->sk;
	int ret;

	if (!sk)
		return SYS_PROCEED;
	sock4_key(ctx, sk, &fk, &cl);
	ret = sock_sendmsg(ctx, &fk, &cl, &be);
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
 * The dialled IPv6 address of @ctx as a frontend key, and the client.
 * Returns whether it is v4-mapped (::ffff:VIP): then the key is the IPv4
 * frontend VIP, and the backend is written back as ::ffff:backend, the
 * way Cilium's sock6 hook does.
 */
static __always_inline bool sock6_key(struct bpf_sock_addr *ctx,
				      struct bpf_sock *sk,
				      struct steer_frontend_key *fk,
				      struct steer_client *cl)
{
	__u32 dst[4], src[4];
	bool mapped;

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
	fk->port = (__be16)ctx->user_port;
	if (mapped) {
		fk->addr[0] = dst[3];
		fk->family = cl->family = STEER_FAM_INET;
		cl->saddr[0] = v4_mapped(src) ? src[3] : 0;
	} else {
		__builtin_memcpy(fk->addr, dst, sizeof(fk->addr));
		__builtin_memcpy(cl->saddr, src, sizeof(cl->saddr));
		fk->family = cl->family = STEER_FAM_INET6;
	}
	return mapped;
}

static __always_inline void sock6_write(struct bpf_sock_addr *ctx,
					struct steer_backend *be, bool mapped)
{
	if (mapped) {
		be->addr[3] = be->addr[0];
		be->addr[0] = be->addr[1] = 0;
		be->addr[2] = bpf_htonl(0x0000ffff);
	}
	ctx->user_ip6[0] = be->addr[0];
	ctx->user_ip6[1] = be->addr[1];
	ctx->user_ip6[2] = be->addr[2];
	ctx->user_ip6[3] = be->addr[3];
	ctx->user_port = be->port;
}

/* A dual-stack socket that dials ::ffff:VIP runs only this hook (the
 * kernel's IPv6 pre-connect), so it is steered here as the IPv4 VIP. */
SEC("cgroup/connect6")
int steer_sock6_connect(struct bpf_sock_addr *ctx)
{
	struct steer_frontend_key fk = {};
	struct steer_client cl = {};
	struct steer_backend be = {};
	struct bpf_sock *sk = ctx->sk;
	bool mapped;
	int ret;

	if (!sk)
		return SYS_PROCEED;
	mapped = sock6_key(ctx, sk, &fk, &cl);
	ret = sock_connect(ctx, &fk, &cl, &be);
	if (ret < 0)
		return SYS_PROCEED;
	if (ret == SYS_PROCEED)
		sock6_write(ctx, &be, mapped);
	return ret;
}

SEC("cgroup/sendmsg6")
int steer_sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	struct steer_frontend_key fk = {};
	struct steer_client cl = {};
	struct steer_backend be = {};
	struct bpf_sock *sk = ctx->sk;
	bool mapped;
	int ret;

	if (!sk)
		return SYS_PROCEED;
	mapped = sock6_key(ctx, sk, &fk, &cl);
	ret = sock_sendmsg(ctx, &fk, &cl, &be);
	if (ret < 0)
		return SYS_PROCEED;
	if (ret == SYS_PROCEED)
		sock6_write(ctx, &be, mapped);
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

/* Write frontend @addr:@port of @family into an IPv6 @ctx: an IPv4
 * frontend (dialled as ::ffff:VIP) as ::ffff:VIP. */
static __always_inline void show_frontend6(struct bpf_sock_addr *ctx,
					   const __u32 *addr, __be16 port,
					   __u8 family)
{
	if (family == STEER_FAM_INET6) {
		ctx->user_ip6[0] = addr[0];
		ctx->user_ip6[1] = addr[1];
		ctx->user_ip6[2] = addr[2];
		ctx->user_ip6[3] = addr[3];
	} else {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = bpf_htonl(0x0000ffff);
		ctx->user_ip6[3] = addr[0];
	}
	ctx->user_port = port;
}

SEC("cgroup/getpeername6")
int steer_sock6_getpeername(struct bpf_sock_addr *ctx)
{
	const struct steer_sk_orig *o = sk_orig(ctx);

	if (o)
		show_frontend6(ctx, o->addr, o->port, o->family);
	return SYS_PROCEED;
}

/*
 * recvmsg: a datagram from a backend shows the frontend as its source, so
 * that an application that checks who answered accepts it (Cilium #7925).
 * The kernel runs these hooks only when the application asks for the
 * source (recvfrom(), recvmsg() with a name). An unconnected socket's
 * table maps the backend back to its frontend; a connected UDP socket
 * steered at connect() receives only from its peer, the backend, and the
 * frontend is the one steer_sk_orig_v2 remembers.
 */
static __always_inline bool connected_from(struct bpf_sock *sk,
					   const __u32 *src, __be16 port,
					   bool v6)
{
	if (sk->state != BPF_TCP_ESTABLISHED || sk->dst_port != port)
		return false;
	if (!v6)
		return sk->dst_ip4 == src[0];
	return sk->dst_ip6[0] == src[0] && sk->dst_ip6[1] == src[1] &&
	       sk->dst_ip6[2] == src[2] && sk->dst_ip6[3] == src[3];
}

SEC("cgroup/recvmsg4")
int steer_sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	__u32 src[4] = { ctx->user_ip4 };
	__be16 port = (__be16)ctx->user_port;
	const struct steer_sk_orig *o;
	const struct steer_sk_peer *p;
	struct bpf_sock *sk = ctx->sk;
	struct steer_sk_udp *u;

	if (!sk)
		return SYS_PROCEED;
	u = sk_udp(sk, false);
	p = u ? udp_peer_by_backend(u, src, port, STEER_FAM_INET) : NULL;
	if (p) {
		ctx->user_ip4 = p->frontend[0];
		ctx->user_port = p->frontend_port;
		return SYS_PROCEED;
	}
	o = sk_orig(ctx);
	if (o && o->family == STEER_FAM_INET &&
	    connected_from(sk, src, port, false)) {
		ctx->user_ip4 = o->addr[0];
		ctx->user_port = o->port;
	}
	return SYS_PROCEED;
}

/* A dual-stack socket sees an IPv4 datagram's source as ::ffff:a.b.c.d. */
SEC("cgroup/recvmsg6")
int steer_sock6_recvmsg(struct bpf_sock_addr *ctx)
{
	__be16 port = (__be16)ctx->user_port;
	const struct steer_sk_orig *o;
	const struct steer_sk_peer *p;
	struct bpf_sock *sk = ctx->sk;
	__u32 src[4], key[4] = {};
	struct steer_sk_udp *u;
	__u8 family;

	if (!sk)
		return SYS_PROCEED;
	src[0] = ctx->user_ip6[0];
	src[1] = ctx->user_ip6[1];
	src[2] = ctx->user_ip6[2];
	src[3] = ctx->user_ip6[3];
	if (v4_mapped(src)) {
		key[0] = src[3];
		family = STEER_FAM_INET;
	} else {
		__builtin_memcpy(key, src, sizeof(key));
		family = STEER_FAM_INET6;
	}
	u = sk_udp(sk, false);
	p = u ? udp_peer_by_backend(u, key, port, family) : NULL;
	if (p) {
		show_frontend6(ctx, p->frontend, p->frontend_port, family);
		return SYS_PROCEED;
	}
	o = sk_orig(ctx);
	if (o && o->family == family && connected_from(sk, src, port, true))
		show_frontend6(ctx, o->addr, o->port, family);
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
