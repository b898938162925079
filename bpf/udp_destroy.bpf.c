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
/* Backends a version has, at most (the route-file parser keeps 32). */
#define UDP_MAX_REFS 32

/* Sockets aborted by the last runs (read by the tests, via the skeleton). */
__u64 destroyed = 0;

/* Is backend @b the peer @sk is connected to? A backend without a port
 * takes the frontend's target port: the address decides. */
static __always_inline bool is_peer(const struct steer_backend_addr *b,
				    const struct sock_common *sk, __u8 fam)
{
	if (b->port && b->port != sk->skc_dport)
		return false;
	if (fam == STEER_FAM_INET)
		return b->addr[0] == sk->skc_daddr;
	for (int i = 0; i < 4; i++)
		if (b->addr[i] != sk->skc_v6_daddr.in6_u.u6_addr32[i])
			return false;
	return true;
}

/* May socket @sk (steered as @o) keep its backend? Yes while that backend
 * is in its version's live rows and not passively ejected. */
static __always_inline bool peer_live(const struct steer_sk_orig *o,
				      const struct sock_common *sk)
{
	const struct steer_version_row *v;
	const struct steer_backend_ref *ref;
	const struct steer_backend_addr *b;
	struct steer_route rt = {};
	struct steer_health *h;
	__u8 fam = o->family;
	__u32 n;

	if (fam >= STEER_FAM_COUNT)
		return true;
	if (!route_lookup(o->route_id, &rt))
		return false; /* the route is gone */
	v = version_by_slot(&rt, o->version_slot);
	if (!v)
		return false; /* its version is gone */
	n = v->n_refs[fam];
	for (__u32 i = 0; i < UDP_MAX_REFS; i++) {
		if (i >= n)
			break;
		ref = ref_at(&rt, v->refs_row[fam], i);
		if (!ref)
			break;
		b = backend_lookup(ref->id);
		if (!b || !is_peer(b, sk, fam))
			continue;
		h = health_lookup(rt.id, o->version_slot, ref->counter_slot);
		return !h ||
		       bpf_ktime_get_ns() >= HEALTH_READ(h->ejected_until_ns);
	}
	return false; /* no longer a backend of its version */
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
