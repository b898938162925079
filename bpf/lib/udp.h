/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unconnected UDP at the socket layer: the per-socket table of frontends a
 * socket sent to and the backend each one sticks to (steer_sk_udp_v1).
 * sendmsg looks a frontend up (and fills a slot after a decision); recvmsg
 * looks a datagram's source up among the backends. Every loop runs over
 * STEER_SK_UDP_PEERS (4) slots.
 */
#ifndef STEER_BPF_LIB_UDP_H
#define STEER_BPF_LIB_UDP_H

#include "maps.h"

static __always_inline bool addr_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* The socket's table, created on first use when @create. */
static __always_inline struct steer_sk_udp *sk_udp(struct bpf_sock *sk,
						   bool create)
{
	return bpf_sk_storage_get(&steer_sk_udp_v1, sk, 0,
				  create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
}

/* The slot that remembers frontend @fk (family, address, port), or NULL. */
static __always_inline struct steer_sk_peer *
udp_peer_by_frontend(struct steer_sk_udp *u,
		     const struct steer_frontend_key *fk)
{
#pragma unroll
	for (int i = 0; i < STEER_SK_UDP_PEERS; i++) {
		struct steer_sk_peer *p = &u->peers[i];

		if (p->used && p->family == fk->family &&
		    p->frontend_port == fk->port &&
		    addr_eq(p->frontend, fk->addr))
			return p;
	}
	return NULL;
}

/*
 * The slot that a datagram from backend @addr:@port (family @family) came
 * through, or NULL. Nothing in the datagram tells two frontends of the
 * socket that reach the same backend apart: the one sent to last wins,
 * which is right for request and answer.
 */
static __always_inline const struct steer_sk_peer *
udp_peer_by_backend(const struct steer_sk_udp *u, const __u32 *addr,
		    __be16 port, __u8 family)
{
	const struct steer_sk_peer *best = NULL;

#pragma unroll
	for (int i = 0; i < STEER_SK_UDP_PEERS; i++) {
		const struct steer_sk_peer *p = &u->peers[i];

		if (p->used && p->family == family && p->backend_port == port &&
		    addr_eq(p->backend, addr) &&
		    (!best || (__s32)(p->last_sent - best->last_sent) > 0))
			best = p;
	}
	return best;
}

/* Stamp slot @p as the one the socket sent to last. */
static __always_inline void udp_sent(struct steer_sk_udp *u,
				     struct steer_sk_peer *p)
{
	p->last_sent = ++u->sends;
}

/*
 * Remember that frontend @fk of route @route sticks to backend @be: in slot
 * @p when the caller has one (the frontend's old slot: it moved to another
 * route), else in a free slot, else in the one filled longest ago.
 */
static __always_inline void udp_remember(struct steer_sk_udp *u,
					 struct steer_sk_peer *p,
					 const struct steer_frontend_key *fk,
					 __u32 route,
					 const struct steer_backend_addr *be)
{
#pragma unroll
	for (int i = 0; i < STEER_SK_UDP_PEERS; i++)
		if (!p && !u->peers[i].used)
			p = &u->peers[i];
	if (!p) {
		__u32 slot = u->next % STEER_SK_UDP_PEERS;

		u->next = (slot + 1) % STEER_SK_UDP_PEERS;
		p = &u->peers[slot];
	}
	__builtin_memcpy(p->frontend, fk->addr, sizeof(p->frontend));
	__builtin_memcpy(p->backend, be->addr, sizeof(p->backend));
	p->frontend_port = fk->port;
	p->backend_port = be->port;
	p->family = fk->family;
	p->route_id = route;
	p->used = 1;
	udp_sent(u, p);
}

#endif /* STEER_BPF_LIB_UDP_H */
