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
#include "lib/sock_addr.h"
#include "lib/outcome.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The four hooks that steer share one body (lib/sock_addr.h), specialised
 * by family and path at compile time: connect() (TCP and connected UDP)
 * and sendmsg() (unconnected UDP), IPv4 and IPv6.
 */
SEC("cgroup/connect4")
int steer_sock4_connect(struct bpf_sock_addr *ctx)
{
	return sock_addr_hook(ctx, STEER_FAM_INET, SOCK_CONNECT);
}

/*
 * A dual-stack IPv6 socket's sendto(::ffff:VIP) arrives here too: the
 * kernel hands a v4-mapped destination to udp_sendmsg() as an IPv4 one.
 */
SEC("cgroup/sendmsg4")
int steer_sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_addr_hook(ctx, STEER_FAM_INET, SOCK_SENDMSG);
}

/* A dual-stack socket that dials ::ffff:VIP runs only this hook (the
 * kernel's IPv6 pre-connect), so it is steered here as the IPv4 VIP. */
SEC("cgroup/connect6")
int steer_sock6_connect(struct bpf_sock_addr *ctx)
{
	return sock_addr_hook(ctx, STEER_FAM_INET6, SOCK_CONNECT);
}

SEC("cgroup/sendmsg6")
int steer_sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_addr_hook(ctx, STEER_FAM_INET6, SOCK_SENDMSG);
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
