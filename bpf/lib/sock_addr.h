/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The socket layer's steps that its sock_addr hooks share (bpf/sock.bpf.c):
 * a dialled address as a frontend key, the decision with its counting and
 * tracing, the connect path and the sendmsg path (unconnected UDP,
 * lib/udp.h), and writing addresses back in each family's form.
 */
#ifndef STEER_BPF_LIB_SOCK_ADDR_H
#define STEER_BPF_LIB_SOCK_ADDR_H

#include "lib/decide.h"
#include "lib/count.h"
#include "lib/trace.h"
#include "lib/udp.h"
#include "lib/verdict.h"

#define ECONNREFUSED 111
#define SYS_PROCEED  1
#define SYS_REJECT   0

static __always_inline void
remember_frontend(struct bpf_sock_addr *ctx,
		  const struct steer_frontend_key *fk, __u32 route,
		  struct steer_decision *d)
{
	struct steer_sk_orig *o;

	if (d->rule >= STEER_MAX_RULES || d->version >= STEER_MAX_VERSIONS ||
	    d->backend_idx >= STEER_MAX_BACKENDS) {
		steer_decision_release(route, d);
		return;
	}
	o = bpf_sk_storage_get(&steer_sk_orig_v2, ctx->sk, 0,
			       BPF_SK_STORAGE_GET_F_CREATE);
	if (!o) {
		/* Nothing would give the place back at close. */
		steer_decision_release(route, d);
		return;
	}
	__builtin_memcpy(o->addr, fk->addr, sizeof(o->addr));
	o->port = fk->port;
	o->family = fk->family;
	o->route_id = route;
	o->rule = d->rule;
	o->version = d->version;
	o->backend = (__u8)d->backend_idx;
	o->rule_slot = d->rule_slot;
	o->version_slot = d->version_slot;
	o->backend_slot = (__u8)d->backend_slot;
	o->backend_slot_hi = (__u8)(d->backend_slot >> 8);
	o->layout = d->claimed ? STEER_LAYOUT_V2_ACTIVE : STEER_LAYOUT_V2;
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
				       struct steer_backend_addr *out, bool udp)
{
	struct steer_route rt = {};
	struct steer_decision d = {};
	enum steer_verdict verdict;
	enum steer_reason reason;

	cl->dport = bpf_ntohs(fk->port);
	cl->uid = (__u32)bpf_get_current_uid_gid();
	cl->affinity_key = bpf_get_current_cgroup_id();
	cl->layer = STEER_LAYER_SOCK;
	cl->route_id = fe->route_id;
	cl->proto = fk->proto;

	if (!route_lookup(fe->route_id, &rt)) {
		rt.hdr = NULL;
		reason_count(STEER_REASON_NO_ROUTE_CFG);
		trace_decision(fk, cl, &rt, NULL, STEER_VERDICT_NO_RULE,
			       STEER_REASON_NO_ROUTE_CFG, NULL, 0);
		bpf_set_retval(-ECONNREFUSED);
		return SYS_REJECT;
	}

	verdict = steer_decide(&rt, cl, &d);
	count_decision(fe->route_id, &d, verdict, STEER_LAYER_SOCK);
	if (verdict == STEER_VERDICT_STEER && !d.backend)
		verdict = STEER_VERDICT_NO_BACKEND; /* cannot happen; refuse */
	if (verdict == STEER_VERDICT_STEER) {
		verdict_backend(&d, fe, fk->port, out);
		if (!udp)
			remember_frontend(ctx, fk, fe->route_id, &d);
		if (d.failover)
			reason_count(STEER_REASON_FAILOVER);
	}
	reason = verdict_reason(verdict, &d);
	reason_count(reason);
	trace_decision(fk, cl, &rt, &d, verdict, reason, out, 0);
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
					struct steer_backend_addr *out)
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
 * A socket that connect() steered to frontend @fk and that names @fk in a
 * sendto() keeps the backend it is connected to (its peer): one socket,
 * one frontend, one backend, and one connection counted.
 */
static __always_inline bool
connected_backend(struct bpf_sock_addr *ctx,
		  const struct steer_frontend_key *fk,
		  struct steer_backend_addr *out, bool v6)
{
	const struct steer_sk_orig *o;
	struct bpf_sock *sk = ctx->sk;
	__u32 d[4];

	if (sk->state != BPF_TCP_ESTABLISHED)
		return false;
	o = bpf_sk_storage_get(&steer_sk_orig_v2, sk, 0, 0);
	if (!o || o->family != fk->family || o->port != fk->port ||
	    !addr_eq(o->addr, fk->addr))
		return false;
	out->port = sk->dst_port;
	/* Per hook, every field read as itself: no pointer arithmetic on
	 * sock. A dual-stack socket's IPv4 peer is in dst_ip4 too. */
	if (!v6) {
		out->addr[0] = sk->dst_ip4;
		return true;
	}
	d[0] = sk->dst_ip6[0];
	d[1] = sk->dst_ip6[1];
	d[2] = sk->dst_ip6[2];
	d[3] = sk->dst_ip6[3];
	if (fk->family == STEER_FAM_INET)
		out->addr[0] = d[3]; /* ::ffff:backend */
	else
		__builtin_memcpy(out->addr, d, sizeof(out->addr));
	return true;
}

/*
 * The sendmsg path of both families: a UDP datagram with a destination
 * address (the kernel runs the hook only then: sendto()/sendmsg() with a
 * name, never a connected socket's send()). The first datagram of the
 * socket to a frontend decides; later ones take the backend the socket's
 * table remembers, with no second decision, count or event, for as long
 * as the frontend belongs to the same route; a connected socket's first
 * sendto() to its own frontend takes its connected backend. @v6: the
 * sendmsg6 hook. Returns as sock_connect().
 */
static __always_inline int sock_sendmsg(struct bpf_sock_addr *ctx,
					struct steer_frontend_key *fk,
					struct steer_client *cl,
					struct steer_backend_addr *out, bool v6)
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
	if (!p && connected_backend(ctx, fk, out, v6)) {
		if (u)
			udp_remember(u, NULL, fk, fe->route_id, out);
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

/*
 * Write backend @be into @ctx in the hook's form: IPv4, IPv6, or, for a
 * dual-stack socket that dialled an IPv4 frontend as ::ffff:VIP
 * (@mapped), ::ffff:backend.
 */
static __always_inline void sock_write(struct bpf_sock_addr *ctx,
				       struct steer_backend_addr *be, bool v6,
				       bool mapped)
{
	if (!v6) {
		ctx->user_ip4 = be->addr[0];
		ctx->user_port = be->port;
		return;
	}
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

/* Which of the socket layer's steering hooks runs. */
enum sock_path {
	SOCK_CONNECT, /* connect4/6: TCP and connected UDP */
	SOCK_SENDMSG, /* sendmsg4/6: a UDP datagram with an address */
};

/*
 * The one body of connect4, connect6, sendmsg4 and sendmsg6. @family and
 * @path are constants at each call, so every hook is compiled to only its
 * own branches: the verifier refuses a hook that so much as names another
 * family's ctx fields. A socket that is no frontend's, and any error
 * before the decision, proceeds untouched; a refusal returns SYS_REJECT
 * with its errno set.
 */
static __always_inline int sock_addr_hook(struct bpf_sock_addr *ctx,
					  __u8 family, enum sock_path path)
{
	struct steer_frontend_key fk = {};
	struct steer_client cl = {};
	struct steer_backend_addr be = {};
	struct bpf_sock *sk = ctx->sk;
	bool v6 = family == STEER_FAM_INET6;
	bool mapped = false;
	int ret;

	if (!sk)
		return SYS_PROCEED;
	if (v6)
		mapped = sock6_key(ctx, sk, &fk, &cl);
	else
		sock4_key(ctx, sk, &fk, &cl);
	if (path == SOCK_SENDMSG)
		ret = sock_sendmsg(ctx, &fk, &cl, &be, v6);
	else
		ret = sock_connect(ctx, &fk, &cl, &be);
	if (ret < 0)
		return SYS_PROCEED;
	if (ret == SYS_PROCEED)
		sock_write(ctx, &be, v6, mapped);
	return ret;
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

/* A datagram from @src:@port came from the peer of connected socket @sk. */
static __always_inline bool
connected_from(struct bpf_sock *sk, const __u32 *src, __be16 port, bool v6)
{
	if (sk->state != BPF_TCP_ESTABLISHED || sk->dst_port != port)
		return false;
	if (!v6)
		return sk->dst_ip4 == src[0];
	return sk->dst_ip6[0] == src[0] && sk->dst_ip6[1] == src[1] &&
	       sk->dst_ip6[2] == src[2] && sk->dst_ip6[3] == src[3];
}

#endif /* STEER_BPF_LIB_SOCK_ADDR_H */
