// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connected UDP sockets of a removed or ejected backend are closed with an
 * error (docs/DESIGN.md §2), so that the application reconnects to a live
 * backend instead of sending into the void. A UDP socket iterator that
 * steerd runs after each apply and every second while a backend is
 * ejected: for each UDP socket of its network namespace that our
 * connect() hook steered (it has a steer_sk_orig_v2 entry: route, version
 * and backend slots), if its peer (the backend the hook wrote) is no
 * longer a backend of its route's version in the live rows, or is
 * passively ejected, bpf_sock_destroy() aborts it: the next recv or send
 * fails with ECONNABORTED.
 *
 * Its own object: bpf_sock_destroy is a Linux 6.5 kfunc, and this object
 * fails to load without it while sock.bpf.o still loads (steerd then logs
 * once and goes on). Nothing here is pinned but the shared maps.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/decide.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

#ifndef AF_INET6
#define AF_INET6 10
#endif
#define UDP_CONNECTED 1 /* TCP_ESTABLISHED: a connected UDP socket */

/* Sockets aborted by the last runs (read by the tests, via the skeleton). */
__u64 destroyed = 0;

/* One socket's search through its version's refs (bpf_loop's context). */
struct peer_scan {
	struct steer_route rt;
	__u32 refs_row; /* the version's first ref row for the family */
	__u32 daddr[4]; /* the socket's peer, network order (IPv4: [0]) */
	__be16 dport;
	__u8 fam;
	__u8 vslot;
	bool found; /* the peer is a backend of the version */
	bool live;  /* ... and not passively ejected */
};

/* Is backend @b the peer? A backend without a port takes the frontend's
 * target port: the address decides. */
static __always_inline bool is_peer(const struct steer_backend_addr *b,
				    const struct peer_scan *c)
{
	if (b->port && b->port != c->dport)
		return false;
	if (c->fam == STEER_FAM_INET)
		return b->addr[0] == c->daddr[0];
	return b->addr[0] == c->daddr[0] && b->addr[1] == c->daddr[1] &&
	       b->addr[2] == c->daddr[2] && b->addr[3] == c->daddr[3];
}

/* bpf_loop callback: is ref @i the peer? 1 stops the loop. */
static long scan_ref(__u32 i, void *ctx)
{
	struct peer_scan *c = ctx;
	const struct steer_backend_ref *ref;
	const struct steer_backend_addr *b;
	struct steer_health *h;

	ref = ref_at(&c->rt, c->refs_row, i);
	if (!ref)
		return 1;
	b = backend_lookup(ref->id);
	if (!b || !is_peer(b, c))
		return 0;
	h = health_lookup(c->rt.id, c->vslot, ref->counter_slot);
	c->found = true;
	c->live = !h || bpf_ktime_get_ns() >= HEALTH_READ(h->ejected_until_ns);
	return 1;
}

/* May socket @sk (steered as @o) keep its backend? Yes while that backend
 * is in its version's live rows and not passively ejected. Every ref of
 * the version is looked at (up to STEER_MAX_BACKENDS): the index the
 * connect hook saw may have moved since. */
static __always_inline bool peer_live(const struct steer_sk_orig *o,
				      const struct sock_common *sk)
{
	const struct steer_version_row *v;
	struct peer_scan c = {};
	__u32 n;

	c.fam = o->family;
	if (c.fam >= STEER_FAM_COUNT)
		return true;
	if (!route_lookup(o->route_id, &c.rt))
		return false; /* the route is gone */
	v = version_by_slot(&c.rt, o->version_slot);
	if (!v)
		return false; /* its version is gone */
	n = v->n_refs[c.fam];
	if (n > STEER_MAX_BACKENDS)
		n = STEER_MAX_BACKENDS;
	c.refs_row = v->refs_row[c.fam];
	c.vslot = o->version_slot;
	c.dport = sk->skc_dport;
	if (c.fam == STEER_FAM_INET) {
		c.daddr[0] = sk->skc_daddr;
	} else {
		for (int i = 0; i < 4; i++)
			c.daddr[i] = sk->skc_v6_daddr.in6_u.u6_addr32[i];
	}
	bpf_loop(n, scan_ref, &c, 0);
	return c.found && c.live; /* not found: no longer a backend */
}

SEC("iter/udp")
int steer_udp_destroy(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	const struct steer_sk_orig *o;
	struct sock_common *sk;

	if (!udp)
		return 0;
	sk = &udp->inet.sk.__sk_common;
	if (sk->skc_state != UDP_CONNECTED)
		return 0;
	o = bpf_sk_storage_get(&steer_sk_orig_v2, &udp->inet.sk, NULL, 0);
	if (!o || !steer_sk_layout_v2(o))
		return 0;
	if ((o->family == STEER_FAM_INET6) != (sk->skc_family == AF_INET6))
		return 0;
	if (peer_live(o, sk))
		return 0;
	if (!bpf_sock_destroy(sk))
		__sync_fetch_and_add(&destroyed, 1);
	return 0;
}
