/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-connection decision shared by the socket and TC layers: policy,
 * first matching rule, version by the rule's prefilled split table, backend
 * by the version's weights. No loop runs over weights: a version is found
 * among at most 8 cumulative shares (or in an affinity route's stable
 * table), a backend by index when the weights are equal, else in a table
 * userspace filled in proportion to them (docs/map-abi.md).
 */
#ifndef STEER_BPF_LIB_DECIDE_H
#define STEER_BPF_LIB_DECIDE_H

#include <bpf/bpf_endian.h>
#include "lib/route.h"
#include "lib/health.h"

/*
 * The cgroup of the task that connects: only the socket layer has one. A
 * layer without it leaves this undefined and cgroup matches never hit.
 */
#ifndef steer_ancestor_cgroup_id
#define steer_ancestor_cgroup_id(level) ((void)(level), 0ULL)
#endif

/* Who is connecting, as far as the layer can tell. */
struct steer_client {
	__u32 saddr[4]; /* network order; all zero when not known yet */
	__u64 affinity_key;
	__u32 uid;
	__u16 dport; /* frontend port, host order */
	__u8 family; /* enum steer_family */
	__u8 layer;  /* enum steer_layer: cgroups and uids exist only at SOCK */
	__u32 route_id; /* for the route's connection sequence */
	__u8 proto;	/* enum steer_proto: limits count TCP connects */
	/*
	 * TC layer, affinity none: a hash of the flow's 5-tuple. The choice
	 * is a function of the flow, so a flow whose conntrack entry was
	 * lost is decided again to the same backend (Katran).
	 */
	__u64 flow_key;
};

/* enum steer_verdict is in steer_abi.h: tests and tracing see it too. */

struct steer_decision {
	const struct steer_backend_addr *backend;
	__u8 rule;	   /* STEER_MAX_RULES when none */
	__u8 version;	   /* STEER_MAX_VERSIONS when none */
	__u16 backend_idx; /* ref index; STEER_BACKEND_NONE when none */
	__u8 rule_slot;	   /* counter slots: STEER_COUNTER_NO_RULE, */
	__u8 version_slot; /* STEER_COUNTER_NO_VERSION when none */
	__u16 backend_slot;
	__u8 reason;   /* no backend: STEER_REASON_ALL_EJECTED or
			  STEER_REASON_OVERFLOW when health says why; 0 */
	__u8 failover; /* steered to a version other than the drawn one */
	__u8 claimed;  /* holds a max-connections place of the backend */
	__u8 pad[5];
};

static __always_inline __u32 steer_hash(__u64 key, __u32 seed)
{
	/* murmur3 fmix64: cheap, and every input bit moves every output bit */
	__u64 h = key ^ (((__u64)seed << 32) | seed);

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (__u32)h;
}

/*
 * Map a uniform 32-bit value onto [0, n) by multiply-shift (Lemire): no
 * division, and the verifier can bound the result, which it cannot for %.
 */
static __always_inline __u32 steer_reduce(__u32 x, __u32 n)
{
	/*
	 * Opaque to clang: it would otherwise fold the hash's last 64-bit
	 * steps into the product, and the 6.1 verifier loses the bound of
	 * x there; this way x reaches the multiply zero-extended.
	 */
	asm volatile("" : "+r"(x));
	return (__u32)(((__u64)x * n) >> 32);
}

/*
 * @i, known to be below the power of two @n, masked where clang cannot drop
 * the mask as redundant: the 6.1 verifier loses a checked bound when the
 * index is spilled, and an index into a row must stay provable.
 */
static __always_inline __u32 steer_index(__u32 i, __u32 n)
{
	asm volatile("" : "+r"(i));
	return i & (n - 1);
}

static __always_inline bool cidr_match(const struct steer_cidr *c,
				       const struct steer_client *cl)
{
	if (c->family != cl->family)
		return false;
	if (!cl->saddr[0] && !cl->saddr[1] && !cl->saddr[2] && !cl->saddr[3])
		return false; /* source not known at this layer */
#pragma unroll
	for (int i = 0; i < 4; i++) {
		int bits = (int)c->prefixlen - 32 * i;
		__u32 mask;

		if (bits <= 0)
			break;
		mask = bits >= 32 ? 0xffffffffu : bpf_htonl(~0u << (32 - bits));
		if ((cl->saddr[i] & mask) != c->addr[i])
			return false;
	}
	return true;
}

/*
 * One match block: fields AND, items OR, an empty field does not constrain.
 * A global function so that the verifier checks it once, not once for
 * every rule and policy entry that calls it.
 */
__noinline int steer_match(const struct steer_match *m,
			   const struct steer_client *cl)
{
	bool hit;

	if (!m || !cl)
		return 0;
	if (m->n_sources) {
		hit = false;
		for (int i = 0; i < STEER_MAX_MATCH_ITEMS && !hit; i++)
			hit = i < m->n_sources &&
			      cidr_match(&m->sources[i], cl);
		if (!hit)
			return false;
	}
	if (m->n_cgroups) {
		if (cl->layer != STEER_LAYER_SOCK)
			return false;
		hit = false;
		for (int i = 0; i < STEER_MAX_MATCH_ITEMS && !hit; i++) {
			if (i >= m->n_cgroups)
				break;
			hit = m->cgroup_ids[i] &&
			      steer_ancestor_cgroup_id(m->cgroup_levels[i]) ==
				      m->cgroup_ids[i];
		}
		if (!hit)
			return false;
	}
	if (m->n_uids) {
		if (cl->layer != STEER_LAYER_SOCK)
			return false;
		hit = false;
		for (int i = 0; i < STEER_MAX_MATCH_ITEMS && !hit; i++)
			hit = i < m->n_uids && m->uids[i] == cl->uid;
		if (!hit)
			return false;
	}
	if (m->n_ports) {
		hit = false;
		for (int i = 0; i < STEER_MAX_MATCH_ITEMS && !hit; i++)
			hit = i < m->n_ports && m->ports[i] == cl->dport;
		if (!hit)
			return false;
	}
	return true;
}

/* Does match @pos (rule r, or a policy entry) of @rt's live bank match? */
static __always_inline bool route_match(const struct steer_route *rt, __u32 pos,
					const struct steer_client *cl)
{
	const struct steer_match *m =
		match_lookup(steer_match_id(rt->id, rt->hdr->match_bank, pos));

	/* A match the publisher wrote but the map lost matches nothing. */
	return m && steer_match(m, cl);
}

/* Deny wins over allow; neither matching leaves the route's default. */
static __always_inline bool policy_allows(const struct steer_route *rt,
					  const struct steer_client *cl)
{
	const struct steer_route_hdr *h = rt->hdr;

	for (int i = 0; i < STEER_MAX_POLICY; i++) {
		if (i >= h->n_deny)
			break;
		if (route_match(rt, STEER_MATCH_DENY_BASE + i, cl))
			return false;
	}
	for (int i = 0; i < STEER_MAX_POLICY; i++) {
		if (i >= h->n_allow)
			break;
		if (route_match(rt, STEER_MATCH_ALLOW_BASE + i, cl))
			return true;
	}
	return !(h->flags & STEER_ROUTE_DEFAULT_DENY);
}

/* The first rule of @rt that matches @cl, its row in *@row; -1 if none. */
static __always_inline int first_rule(const struct steer_route *rt,
				      const struct steer_client *cl,
				      const struct steer_rule_row **row)
{
	for (int i = 0; i < STEER_MAX_RULES; i++) {
		const struct steer_rule_row *r;

		if (i >= rt->hdr->n_rules)
			break;
		r = route_row(rt, rt->hdr->rule_row + 2 * i);
		if (!r)
			return -1;
		if (!r->match_id || route_match(rt, i, cl)) {
			*row = r;
			return i;
		}
	}
	return -1;
}

/*
 * The version that split point @x (0 .. 9999) of family @fam falls on:
 * the first whose cumulative share exceeds it. At most 8 steps, over the
 * versions, never over weights.
 */
static __always_inline __u32 version_by_point(const struct steer_route *rt,
					      const struct steer_rule_row *r,
					      __u32 fam, __u32 x)
{
	const __u8 *t;
	__u32 i;

	if (r->table_row) {
		/* affinity: the stable table (compile.h), 64 points a row */
		i = fam * STEER_SPLIT_POINTS + x;
		t = route_row(rt, r->table_row + i / STEER_TABLE_PER_ROW);
		return t ? t[steer_index(i % STEER_TABLE_PER_ROW,
					 STEER_TABLE_PER_ROW)]
			 : STEER_TABLE_NONE;
	}
	for (int v = 0; v < STEER_MAX_VERSIONS; v++)
		if (x < r->cum[fam][v])
			return v;
	return STEER_TABLE_NONE;
}

/* Ref @i of the family's refs starting at row @first. */
static __always_inline const struct steer_backend_ref *
ref_at(const struct steer_route *rt, __u32 first, __u32 i)
{
	const struct steer_backend_ref *row =
		route_row(rt, first + i / STEER_REFS_PER_ROW);

	return row ? &row[steer_index(i % STEER_REFS_PER_ROW,
				      STEER_REFS_PER_ROW)]
		   : NULL;
}

/*
 * The backend ref that draw @y picks in version row @v for family @fam:
 * by index when the usable backends weigh the same, else through the
 * version's table, filled in proportion to the weights (stably, for an
 * affinity route) by userspace. Returns the ref index or
 * STEER_BACKEND_NONE.
 */
static __always_inline __u32 backend_by_draw(const struct steer_route *rt,
					     const struct steer_version_row *v,
					     __u32 fam, __u32 y)
{
	const __u16 *t;
	__u32 i;

	if (!v->n_refs[fam] || !v->total_weight[fam])
		return STEER_BACKEND_NONE;
	if (!v->table_row[fam])
		return (v->flags & (STEER_VERSION_EQUAL_INET << fam))
			       ? steer_reduce(y, v->n_refs[fam])
			       : STEER_BACKEND_NONE;
	i = steer_reduce(y, v->table_len[fam]);
	t = route_row(rt, v->table_row[fam] + i / STEER_BTABLE_PER_ROW);
	return t ? t[steer_index(i % STEER_BTABLE_PER_ROW,
				 STEER_BTABLE_PER_ROW)]
		 : STEER_BACKEND_NONE;
}

/* Give back the place a decision took, when its connection will not be. */
static __always_inline void steer_decision_release(__u32 route,
						   struct steer_decision *d)
{
	if (d->claimed)
		health_release(route, d->version_slot, d->backend_slot);
	d->claimed = 0;
}

/*
 * Health-aware choice of a backend (lib/health.h), for a route with
 * health or limits: the draw @y picks a ref as without health; when
 * health passes it over (ejected, or at its connection limit), further
 * refs a stride apart (the version row's probe_stride: coprime with the
 * refs, about 0.618 of them), until one is admitted, up to
 * STEER_HEALTH_PROBES (bpf_loop: the verifier checks one step). A version
 * of up to STEER_HEALTH_PROBES backends is thus found to have none usable
 * only when it has none; in a larger one the probes spread evenly over its
 * list, so a run of ejected backends (a node's or a zone's, listed
 * together) is left in a step or two and keeps its share in the version,
 * while a connection to a version that is all down costs at most
 * STEER_HEALTH_PROBES health lookups (a TC SYN flood included). On
 * success pk->backend_id and pk->backend_slot name the backend, and the
 * ref index is returned; else STEER_BACKEND_NONE.
 *
 * A global function, so the verifier checks it once, not once for every
 * version a failover tries and every health state (that took the connect
 * programs past the 1M-instruction limit). A global function cannot be
 * handed the route's inner map, so it looks the route up again and finds
 * the version by its counter slot, which follows the version's name: if a
 * publish swapped the route in between, the backend comes from the same
 * version as published now.
 */
#define STEER_HEALTH_PROBES 64

struct pick_scan {
	struct steer_route rt; /* here, not beside: the frame stays small */
	struct steer_pick *pk;
	__u32 refs_row; /* the family's first ref row */
	__u32 at;	/* the ref to try next, below n */
	__u32 stride;	/* below n */
	__u32 n;	/* the family's refs */
	__u32 found;	/* the admitted ref's index; STEER_BACKEND_NONE */
	__u8 vslot;
};

/* bpf_loop callback: try ref s->at, then step; 1 stops the scan. */
static long pick_scan_one(__u32 i, void *ctx)
{
	struct pick_scan *s = ctx;
	const struct steer_backend_ref *ref;
	__u32 j = s->at;

	if (j >= s->n || j >= STEER_MAX_BACKENDS)
		return 1;
	s->at = j + s->stride < s->n ? j + s->stride : j + s->stride - s->n;
	ref = ref_at(&s->rt, s->refs_row, j);
	if (!ref || !health_admit(&s->rt, s->vslot, ref, s->pk))
		return 0;
	s->pk->backend_id = ref->id;
	s->pk->backend_slot = ref->counter_slot;
	s->found = j;
	return 1;
}

__noinline int steer_pick_backend(__u32 route_id, __u32 vslot, __u32 y,
				  struct steer_pick *pk)
{
	const struct steer_version_row *ver;
	struct pick_scan s = {};
	__u32 fam, n, b;

	if (!pk || !route_lookup(route_id, &s.rt))
		return STEER_BACKEND_NONE;
	ver = version_by_slot(&s.rt, (__u8)vslot);
	if (!ver)
		return STEER_BACKEND_NONE;
	fam = pk->fam & 1;
	n = ver->n_refs[fam];
	if (!n || n > STEER_MAX_BACKENDS)
		return STEER_BACKEND_NONE;
	b = backend_by_draw(&s.rt, ver, fam, y);
	if (b >= n)
		b = steer_reduce(y, n);
	s.pk = pk;
	s.refs_row = ver->refs_row[fam];
	s.at = b;
	s.stride = ver->probe_stride[fam];
	if (!s.stride || s.stride >= n)
		s.stride = 1; /* rows of an earlier release; n <= 2 */
	s.n = n;
	s.found = STEER_BACKEND_NONE;
	s.vslot = ver->counter_slot;
	bpf_loop(n < STEER_HEALTH_PROBES ? n : STEER_HEALTH_PROBES,
		 pick_scan_one, &s, 0);
	return s.found < n ? (int)s.found : STEER_BACKEND_NONE;
}

/*
 * Failover: a version of rule @r other than those in @excl, chosen by
 * draw @y in proportion to the rule's split of family @fam (a version
 * whose share is 0 stays dark). STEER_TABLE_NONE when none is left. A
 * global function for the same reason as steer_pick_backend.
 */
__noinline int steer_failover_version(const struct steer_rule_row *r, __u32 fam,
				      __u32 n_versions, __u32 excl, __u32 y)
{
	__u32 total = 0, lo = 0, at = 0, x, w, c;

	if (!r)
		return STEER_TABLE_NONE;
	fam &= 1;
	for (__u32 v = 0; v < STEER_MAX_VERSIONS; v++) {
		if (v >= n_versions)
			break;
		c = r->cum[fam][v];
		w = c > lo ? c - lo : 0;
		lo = c;
		if (!(excl & (1u << v)))
			total += w;
	}
	if (!total)
		return STEER_TABLE_NONE;
	x = steer_reduce(y, total);
	lo = 0;
	for (__u32 v = 0; v < STEER_MAX_VERSIONS; v++) {
		if (v >= n_versions)
			break;
		c = r->cum[fam][v];
		w = c > lo ? c - lo : 0;
		lo = c;
		if (excl & (1u << v) || !w)
			continue;
		at += w;
		if (x < at)
			return (int)v;
	}
	return STEER_TABLE_NONE;
}

static __always_inline enum steer_verdict
steer_decide(const struct steer_route *rt, const struct steer_client *cl,
	     struct steer_decision *d)
{
	const struct steer_rule_row *rule = NULL;
	const struct steer_version_row *ver;
	const struct steer_backend_ref *ref;
	struct steer_pick pk = {};
	__u32 vdraw, bdraw, fam = cl->family & 1, v, b, excl;
	int r;

	d->rule = STEER_MAX_RULES;
	d->version = STEER_MAX_VERSIONS;
	d->backend_idx = STEER_BACKEND_NONE;
	d->rule_slot = STEER_COUNTER_NO_RULE;
	d->version_slot = STEER_COUNTER_NO_VERSION;
	d->backend_slot = 0;
	d->backend = NULL;
	d->reason = 0;
	d->failover = 0;
	d->claimed = 0;
	if (!policy_allows(rt, cl))
		return STEER_VERDICT_DENY;
	r = first_rule(rt, cl, &rule);
	if (r < 0 || r >= STEER_MAX_RULES || !rule)
		return STEER_VERDICT_NO_RULE;
	d->rule = r;
	d->rule_slot = rule->counter_slot;

	if (rt->hdr->flags & STEER_ROUTE_AFFINITY_CLIENT ||
	    cl->layer == STEER_LAYER_TC) {
		__u64 key = rt->hdr->flags & STEER_ROUTE_AFFINITY_CLIENT
				    ? cl->affinity_key
				    : cl->flow_key;

		vdraw = steer_hash(key, rt->hdr->seed);
		bdraw = steer_hash(key, rt->hdr->seed ^ 0x9e3779b9);
	} else {
		/*
		 * A 2-D Weyl sequence, k * (golden ratio, sqrt(2) - 1) mod 1:
		 * consecutive points spread evenly over both draws, so N
		 * connections meet a split to within a few, where random
		 * draws stray by sqrt(N) (80/20 over 500: about 9 either way).
		 */
		__u32 k = seq_next(cl->route_id);

		vdraw = k * 0x9e3779b9u;
		bdraw = k * 0x6a09e667u;
	}
	v = version_by_point(rt, rule, fam,
			     steer_reduce(vdraw, STEER_SPLIT_POINTS));
	if (v >= STEER_MAX_VERSIONS || v >= rt->hdr->n_versions)
		return STEER_VERDICT_NO_BACKEND;
	d->version = v;
	ver = route_row(rt, rt->hdr->version_row + v);
	if (!ver)
		return STEER_VERDICT_NO_BACKEND;
	d->version_slot = ver->counter_slot;
	if (!health_on(rt->hdr)) {
		/* No health: the one draw, as ever. */
		b = backend_by_draw(rt, ver, fam, bdraw);
		if (b >= ver->n_refs[fam])
			return STEER_VERDICT_NO_BACKEND;
		ref = ref_at(rt, ver->refs_row[fam], b);
		if (!ref || (ref->flags & STEER_BACKEND_EJECTED))
			return STEER_VERDICT_NO_BACKEND;
		d->backend = backend_lookup(ref->id);
		if (!d->backend)
			return STEER_VERDICT_NO_BACKEND;
		d->backend_idx = b;
		d->backend_slot = ref->counter_slot;
		return STEER_VERDICT_STEER;
	}

	pk.fam = fam;
	pk.now = bpf_ktime_get_ns();
	/* Places are held by TCP sockets, which sockops gives back. */
	if (cl->layer == STEER_LAYER_SOCK && cl->proto == STEER_PROTO_TCP)
		pk.max_conn = rt->hdr->max_connections;
	b = steer_pick_backend(rt->id, ver->counter_slot, bdraw, &pk);
	/*
	 * Every backend of the drawn version is ejected or full: the rule's
	 * other versions by their split, each tried as the drawn one was.
	 */
	excl = 1u << v;
	for (int k = 1; k < STEER_MAX_VERSIONS; k++) {
		if (b < STEER_MAX_BACKENDS)
			break;
		v = steer_failover_version(rule, fam, rt->hdr->n_versions, excl,
					   steer_hash(vdraw, k));
		if (v >= STEER_MAX_VERSIONS)
			break;
		excl |= 1u << v;
		ver = route_row(rt, rt->hdr->version_row + v);
		if (!ver)
			break;
		b = steer_pick_backend(rt->id, ver->counter_slot, bdraw, &pk);
		if (b < STEER_MAX_BACKENDS) {
			d->version = v;
			d->version_slot = ver->counter_slot;
			d->failover = 1;
		}
	}
	d->claimed = pk.claimed;
	if (b >= STEER_MAX_BACKENDS) {
		d->reason = pk.full	 ? STEER_REASON_OVERFLOW
			    : pk.ejected ? STEER_REASON_ALL_EJECTED
					 : 0;
		return STEER_VERDICT_NO_BACKEND;
	}
	d->backend_idx = b;
	d->backend_slot = pk.backend_slot;
	d->backend = backend_lookup(pk.backend_id);
	if (!d->backend) {
		steer_decision_release(rt->id, d);
		return STEER_VERDICT_NO_BACKEND;
	}
	return STEER_VERDICT_STEER;
}

#endif /* STEER_BPF_LIB_DECIDE_H */
