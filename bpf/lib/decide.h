/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-connection decision shared by the socket and TC layers: policy,
 * first matching rule, version by the rule's prefilled split table, backend
 * by the version's prefilled weight table. No loop runs over weights: each
 * choice is one index into a table userspace filled (DESIGN.md §2).
 */
#ifndef STEER_BPF_LIB_DECIDE_H
#define STEER_BPF_LIB_DECIDE_H

#include <bpf/bpf_endian.h>
#include "lib/route.h"

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
	/*
	 * TC layer, affinity none: a hash of the flow's 5-tuple. The choice
	 * is a function of the flow, so a flow whose conntrack entry was
	 * lost is decided again to the same backend (Katran).
	 */
	__u64 flow_key;
};

/* enum steer_verdict is in steer_abi.h: tests and tracing see it too. */

struct steer_decision {
	const struct steer_backend *backend;
	__u8 rule;    /* STEER_MAX_RULES when none */
	__u8 version; /* STEER_MAX_VERSIONS when none */
	__u8 backend_idx;
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
 * index is spilled, and an index into a 217 KB value must stay provable.
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

/* Deny wins over allow; neither matching leaves the route's default. */
static __always_inline bool policy_allows(const struct steer_route_cfg *cfg,
					  const struct steer_client *cl)
{
	for (int i = 0; i < STEER_MAX_POLICY; i++) {
		if (i >= cfg->n_deny)
			break;
		if (steer_match(&cfg->deny[i], cl))
			return false;
	}
	for (int i = 0; i < STEER_MAX_POLICY; i++) {
		if (i >= cfg->n_allow)
			break;
		if (steer_match(&cfg->allow[i], cl))
			return true;
	}
	return !(cfg->flags & STEER_ROUTE_DEFAULT_DENY);
}

static __always_inline int first_rule(const struct steer_route_cfg *cfg,
				      const struct steer_client *cl)
{
	for (int i = 0; i < STEER_MAX_RULES; i++) {
		if (i >= cfg->n_rules)
			break;
		if (steer_match(&cfg->rules[i].match, cl))
			return i;
	}
	return -1;
}

static __always_inline enum steer_verdict
steer_decide(const struct steer_route_cfg *cfg, const struct steer_client *cl,
	     struct steer_decision *d)
{
	const struct steer_version *ver;
	__u32 vslot, bslot, fam = cl->family & 1;
	int r;
	__u8 v, b;

	d->rule = STEER_MAX_RULES;
	d->version = STEER_MAX_VERSIONS;
	d->backend = NULL;
	if (!policy_allows(cfg, cl))
		return STEER_VERDICT_DENY;
	r = first_rule(cfg, cl);
	if (r < 0 || r >= STEER_MAX_RULES)
		return STEER_VERDICT_NO_RULE;
	d->rule = r;

	if (cfg->flags & STEER_ROUTE_AFFINITY_CLIENT ||
	    cl->layer == STEER_LAYER_TC) {
		__u64 key = cfg->flags & STEER_ROUTE_AFFINITY_CLIENT
				    ? cl->affinity_key
				    : cl->flow_key;

		vslot = steer_hash(key, cfg->seed);
		bslot = steer_hash(key, cfg->seed ^ 0x9e3779b9);
	} else {
		/*
		 * A 2-D Weyl sequence, k * (golden ratio, sqrt(2) - 1) mod 1:
		 * consecutive points spread evenly over both tables, so N
		 * connections meet a split to within a few, where random
		 * draws stray by sqrt(N) (80/20 over 500: about 9 either way).
		 */
		__u32 k = seq_next(cl->route_id);

		vslot = k * 0x9e3779b9u;
		bslot = k * 0x6a09e667u;
	}
	v = cfg->rules[r].slots[fam][steer_reduce(vslot, STEER_SPLIT_SLOTS)];
	if (v >= STEER_MAX_VERSIONS)
		return STEER_VERDICT_NO_BACKEND;
	d->version = v;
	ver = &cfg->versions[steer_index(v, STEER_MAX_VERSIONS)];
	b = ver->slots[fam][steer_reduce(bslot, STEER_BACKEND_SLOTS)];
	if (b >= STEER_MAX_BACKENDS)
		return STEER_VERDICT_NO_BACKEND;
	d->backend_idx = b;
	d->backend = &ver->backends[steer_index(b, STEER_MAX_BACKENDS)];
	return STEER_VERDICT_STEER;
}

#endif /* STEER_BPF_LIB_DECIDE_H */
