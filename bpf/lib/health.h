/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Passive health in the datapath (route file "health:" and
 * "connection-pool:"): outlier ejection from the failed connects that
 * sockops (lib/outcome.h) and TC (tc.bpf.c) see, and the per-backend
 * connection limit. No daemon in the loop.
 *
 * - health.failures consecutive failed connects of a backend eject it for
 *   health.eject; when that ends it is tried again, and a failure then
 *   ejects it at once for twice as long (up to health.max-eject); an
 *   established connection resets both.
 * - At most health.max-ejected % of a version's backends (at least one)
 *   are ejected at once: an ejection first claims one of the version's
 *   ejection slots (steer_health_slots_v1) with a compare-and-swap, so
 *   the cap holds exactly under concurrent failures, and a slot frees
 *   itself when its ejection ends.
 * - connection-pool.max-connections: a connect() takes a place
 *   (active + 1) when it is steered to the backend and gives it back when
 *   the socket closes; a backend whose places are taken gets no new
 *   connection (counted as overflow).
 *
 * The publisher (maps_route_publish) creates the zeroed entries of a
 * route with health, one per backend and the pages of ejection slots each
 * version's cap needs (32 slots a page), with BPF_NOEXIST: memory follows the
 * configuration, and no zeroed value has to fit on a BPF stack. Programs only
 * look entries up and change them in place with atomics; nobody replaces an
 * entry a program may hold (a replaced hash element swallows concurrent
 * updates) except a reset of a counter slot that a new backend takes.
 */
#ifndef STEER_BPF_LIB_HEALTH_H
#define STEER_BPF_LIB_HEALTH_H

#include "lib/route.h"

#define HEALTH_READ(x) (*(volatile __typeof__(x) *)&(x))

/* Does route header @h ask for passive health or a connection limit? */
static __always_inline bool health_on(const struct steer_route_hdr *h)
{
	return h->health_failures || h->max_connections;
}

static __always_inline struct steer_health_key
health_key(__u32 route, __u8 vslot, __u16 bslot)
{
	struct steer_health_key k = {
		.route = route,
		.version = vslot,
		.backend = bslot,
	};

	return k;
}

static __always_inline struct steer_health *
health_lookup(__u32 route, __u8 vslot, __u16 bslot)
{
	struct steer_health_key k = health_key(route, vslot, bslot);

	return bpf_map_lookup_elem(&steer_health_v1, &k);
}

/* What the health-aware choice of a backend knows and saw. */
struct steer_pick {
	__u64 now;	  /* bpf_ktime_get_ns(); 0: health off for the route */
	__u32 max_conn;	  /* places a backend has; 0: no limit here */
	__u8 ejected;	  /* passed a backend for being ejected */
	__u8 full;	  /* passed one for being at its limit */
	__u8 claimed;	  /* the chosen backend's place is taken (active+1) */
	__u8 fam;	  /* enum steer_family of the connection */
	__u32 backend_id; /* the chosen one: steer_backends_v2 id */
	__u16 backend_slot; /* and counter slot */
	__u16 pad;
};

/*
 * May backend @ref of version slot @vslot take the new connection? Not
 * when ejected (by steerctl: the flag; passively: until now), nor when
 * its places are all taken; else it is taken here (active + 1), atomically
 * and exactly: a second connect() that finds the last place gone gives
 * its increment back.
 */
static __always_inline bool health_admit(const struct steer_route *rt,
					 __u8 vslot,
					 const struct steer_backend_ref *ref,
					 struct steer_pick *pk)
{
	struct steer_health *h;
	__u64 old;

	if (ref->flags & STEER_BACKEND_EJECTED || !ref->weight) {
		pk->ejected = 1;
		return false;
	}
	if (!pk->now)
		return true;
	h = health_lookup(rt->id, vslot, ref->counter_slot);
	if (!h)
		return true;
	if (pk->now < HEALTH_READ(h->ejected_until_ns)) {
		pk->ejected = 1;
		return false;
	}
	if (!pk->max_conn)
		return true;
	old = __sync_fetch_and_add(&h->active, 1);
	if (old >= pk->max_conn) {
		__sync_fetch_and_add(&h->active, -1);
		__sync_fetch_and_add(&h->overflow, 1);
		pk->full = 1;
		return false;
	}
	pk->claimed = 1;
	return true;
}

/* Give a place back; never below zero (an entry reset under a socket). */
static __always_inline void health_release(__u32 route, __u8 vslot, __u16 bslot)
{
	struct steer_health *h = health_lookup(route, vslot, bslot);
	__u64 old;

	if (!h)
		return;
	for (int i = 0; i < 4; i++) {
		old = HEALTH_READ(h->active);
		if (!old || __sync_val_compare_and_swap(&h->active, old,
							old - 1) == old)
			break;
	}
}

/* The version row of @rt whose counter slot is @vslot; NULL if gone. */
static __always_inline const struct steer_version_row *
version_by_slot(const struct steer_route *rt, __u8 vslot)
{
	const struct steer_version_row *v;

	for (int i = 0; i < STEER_MAX_VERSIONS; i++) {
		if (i >= rt->hdr->n_versions)
			break;
		v = route_row(rt, rt->hdr->version_row + i);
		if (v && v->counter_slot == vslot)
			return v;
	}
	return NULL;
}

/* Page @page of version slot @vslot's ejection slots; NULL if none. */
static __always_inline struct steer_health_slots *
slots_page(__u32 route, __u8 vslot, __u32 page)
{
	struct steer_health_key k =
		health_key(route, vslot, steer_health_slots_page(page));

	return bpf_map_lookup_elem(&steer_health_slots_v1, &k);
}

/* One claim's search through a version's pages (bpf_loop's context). */
struct slot_claim {
	__u64 now, until;
	__u32 route, n;
	__u8 vslot;
	int slot; /* the slot claimed, -1 while none */
};

/* bpf_loop callback: claim a free slot of page @p below c->n; 1 stops. */
static long claim_in_page(__u32 p, void *ctx)
{
	struct slot_claim *c = ctx;
	struct steer_health_slots *s = slots_page(c->route, c->vslot, p);
	__u64 old;

	if (!s)
		return 1; /* pages are made in order: none further */
	for (__u32 i = 0; i < STEER_HEALTH_EJECT_SLOTS; i++) {
		if (p * STEER_HEALTH_EJECT_SLOTS + i >= c->n)
			return 1;
		old = HEALTH_READ(s->until_ns[i]);
		if (old > c->now)
			continue;
		if (__sync_val_compare_and_swap(&s->until_ns[i], old,
						c->until) == old) {
			c->slot = (int)(p * STEER_HEALTH_EJECT_SLOTS + i);
			return 1;
		}
	}
	return 0;
}

/*
 * Claim one of the first @n ejection slots of the version for an
 * ejection that ends at @until. Returns the slot or -1 when all @n are
 * taken (max-ejected reached). A loop over the pages (bpf_loop): up to
 * STEER_MAX_BACKENDS slots, checked by the verifier once.
 */
static __always_inline int claim_slot(__u32 route, __u8 vslot, __u32 n,
				      __u64 now, __u64 until)
{
	struct slot_claim c = {
		.now = now,
		.until = until,
		.route = route,
		.n = n,
		.vslot = vslot,
		.slot = -1,
	};
	__u32 pages =
		(n + STEER_HEALTH_EJECT_SLOTS - 1) / STEER_HEALTH_EJECT_SLOTS;

	if (pages > STEER_HEALTH_SLOT_PAGES)
		pages = STEER_HEALTH_SLOT_PAGES;
	bpf_loop(pages, claim_in_page, &c, 0);
	return c.slot;
}

static __always_inline void release_slot(__u32 route, __u8 vslot, int i,
					 __u64 until)
{
	struct steer_health_slots *s;

	if (i < 0 || i >= STEER_MAX_BACKENDS)
		return;
	s = slots_page(route, vslot, (__u32)i / STEER_HEALTH_EJECT_SLOTS);
	if (s)
		__sync_val_compare_and_swap(
			&s->until_ns[(__u32)i & (STEER_HEALTH_EJECT_SLOTS - 1)],
			until, 0);
}

/*
 * Eject backend @h (@bslot of version @vslot) from @now: for eject <<
 * streak, at most max-eject, if the version's cap leaves a slot. @seen is
 * the ejected_until_ns the caller read: the compare-and-swap on it makes
 * one of several concurrent failures the one that ejects.
 */
static __always_inline void health_eject(const struct steer_route *rt,
					 struct steer_health *h, __u8 vslot,
					 __u64 now, __u64 seen)
{
	const struct steer_route_hdr *hdr = rt->hdr;
	const struct steer_version_row *v = version_by_slot(rt, vslot);
	__u64 len, max, streak = HEALTH_READ(h->streak);
	__u32 n;
	int slot;

	if (!v)
		return; /* the version is gone: nothing to send there anyway */
	if (streak > STEER_HEALTH_MAX_SHIFT)
		streak = STEER_HEALTH_MAX_SHIFT;
	len = ((__u64)hdr->health_eject_ms * 1000000ULL) << streak;
	max = (__u64)(hdr->health_max_eject_ms
			      ? hdr->health_max_eject_ms
			      : STEER_HEALTH_DEFAULT_MAX_EJECT_MS) *
	      1000000ULL;
	if (max < (__u64)hdr->health_eject_ms * 1000000ULL)
		max = (__u64)hdr->health_eject_ms * 1000000ULL;
	if (len > max)
		len = max;
	n = steer_health_max_ejected((__u32)v->n_refs[0] + v->n_refs[1],
				     hdr->health_max_ejected);
	slot = claim_slot(rt->id, vslot, n, now, now + len);
	if (slot < 0) {
		__sync_fetch_and_add(&h->capped, 1);
		return;
	}
	if (__sync_val_compare_and_swap(&h->ejected_until_ns, seen,
					now + len) != seen) {
		release_slot(rt->id, vslot, slot, now + len);
		return;
	}
	h->failures = 0;
	__sync_fetch_and_add(&h->streak, 1);
	__sync_fetch_and_add(&h->ejections, 1);
}

/*
 * A connect to backend @bslot of version @vslot of route @route failed
 * (refused, reset or timed out before established). A backend already
 * ejected is not ejected again by connections it took before.
 */
static __always_inline void health_failed(__u32 route, __u8 vslot, __u16 bslot)
{
	struct steer_route rt = {};
	struct steer_health *h;
	__u64 now, seen, n;

	if (!route_lookup(route, &rt) || !rt.hdr->health_failures)
		return;
	h = health_lookup(route, vslot, bslot);
	if (!h)
		return;
	now = bpf_ktime_get_ns();
	seen = HEALTH_READ(h->ejected_until_ns);
	if (now < seen)
		return;
	n = __sync_fetch_and_add(&h->failures, 1) + 1;
	/* A failure on retry (after an ejection, before any success)
	 * ejects again at once. */
	if (n >= rt.hdr->health_failures || HEALTH_READ(h->streak))
		health_eject(&rt, h, vslot, now, seen);
}

/* A connect to the backend succeeded: the failures and backoff reset. */
static __always_inline void health_succeeded(__u32 route, __u8 vslot,
					     __u16 bslot)
{
	struct steer_health *h = health_lookup(route, vslot, bslot);

	if (!h)
		return;
	if (HEALTH_READ(h->failures))
		h->failures = 0;
	if (HEALTH_READ(h->streak))
		h->streak = 0;
}

#endif /* STEER_BPF_LIB_HEALTH_H */
