// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TC layer: clsact ingress of the interfaces steerd is told to steer
 * (--tc-iface). For traffic the socket layer never saw: a new flow to a
 * frontend (TCP SYN, UDP first datagram) is decided by the same rules,
 * tables and affinity as a connect(), DNATed to the chosen backend and
 * tracked; later packets of the flow follow the tracked entry, and the
 * backend's replies (arriving at ingress of the backend-facing interface)
 * get the frontend back as their source. Every exit bumps a counter.
 *
 * Passive health holds here as at the socket layer (lib/health.h): an
 * ejected backend gets no new flow, a version with none left fails over
 * to the rule's other versions by their split, and a flow with nowhere to
 * go is dropped and counted (all_ejected). A backend's RST to a SYN is a
 * failed connect, its SYN-ACK a success. max-connections is not enforced
 * at TC: a flow's place could only be given back when its entry ends, and
 * an LRU eviction ends one unseen, which would leak places.
 *
 * The packet, keys, entries and client live in a per-CPU scratch map
 * (lib/scratch.h): on the stack they filled Linux 6.1's 512-byte limit on
 * a call chain's frames with the health-aware choice (416 + 96 bytes), and
 * the 6.1 verifier walked 247k instructions of its 250k budget; with the
 * scratch: 280 + 96 bytes, 139k instructions.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/decide.h"
#include "lib/pkt.h"
#include "lib/scratch.h"
#include "lib/count.h"
#include "lib/trace.h"
#include "lib/verdict.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline __u64 fold_addr(const __u32 *a)
{
	return ((__u64)a[0] << 32 | a[1]) * 0x9e3779b97f4a7c15ULL ^
	       ((__u64)a[2] << 32 | a[3]);
}

/* The flow's identity, for a choice that a lost entry can repeat. */
static __always_inline __u64 flow_key(const struct steer_ct_key *k)
{
	__u64 h = fold_addr(k->saddr);

	h = h * 0xff51afd7ed558ccdULL ^ fold_addr(k->daddr);
	return h * 0xc4ceb9fe1a85ec53ULL ^
	       ((__u64)k->sport << 24 | (__u64)k->dport << 8 | k->proto);
}

/*
 * Passive health from a TCP flow's start (lib/health.h): the backend's
 * RST to a SYN (nothing listens) is a failed connect, its SYN-ACK a
 * success. A client's own RST is not the backend's failure.
 */
static __always_inline void tc_health(const struct steer_pkt *p,
				      const struct steer_ct_entry *ct, __u8 was)
{
	__u16 bslot = ct->backend_slot | ct->backend_slot_hi << 8;

	if (p->key.proto != STEER_PROTO_TCP || was != STEER_CT_NEW ||
	    ct->layout != STEER_LAYOUT_V2 || ct->dir != STEER_CT_REPLY)
		return;
	if (ct->state == STEER_CT_CLOSED && (p->tcp_flags & TCP_RST))
		health_failed(ct->route_id, ct->version_slot, bslot);
	else if (ct->state == STEER_CT_ESTABLISHED)
		health_succeeded(ct->route_id, ct->version_slot, bslot);
}

/* A packet of a tracked flow: advance its state, count it, NAT it. */
static __always_inline int tc_tracked(struct __sk_buff *skb,
				      struct tc_scratch *s,
				      struct steer_ct_entry *ct)
{
	const struct steer_pkt *p = &s->p;
	struct steer_backend_stats *bs = NULL;
	bool fwd = ct->dir == STEER_CT_FORWARD;
	__u8 was = ct->state;

	/* A flow of layout v1 (before an upgrade) keeps its NAT; its counter
	 * slots name v1's counters, so it is not counted. */
	if (ct->layout == STEER_LAYOUT_V2)
		bs = backend_stats_get(ct->route_id, ct->version_slot,
				       ct->backend_slot | ct->backend_slot_hi
								  << 8,
				       STEER_LAYER_TC);
	if (bs) {
		if (fwd) {
			bs->packets_to++;
			bs->bytes_to += skb->len;
		} else {
			bs->packets_from++;
			bs->bytes_from += skb->len;
		}
	}
	ct->last_seen_ns = bpf_ktime_get_ns();
	if (ct_advance(ct, p->key.proto, p->tcp_flags, bs)) {
		ct_sync_peer(&p->key, ct, &s->key);
		tc_health(p, ct, was);
	}
	/* fwd: client -> backend; reply: frontend -> client */
	if (rewrite(skb, p, fwd, ct->nat_addr, ct->nat_port)) {
		reason_count(STEER_REASON_TC_REWRITE_FAILED);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

/*
 * Track a new flow to the backend in s->out: the reply entry first, so no
 * reply finds none. Both are built in the scratch (not the stack).
 */
static __always_inline struct steer_ct_entry *
ct_create(struct tc_scratch *s, __u32 route, const struct steer_decision *d,
	  __u8 state)
{
	const struct steer_pkt *p = &s->p;
	struct steer_ct_entry *e = &s->e;
	struct steer_ct_key *rk = &s->key;

	__builtin_memset(e, 0, sizeof(*e));
	e->route_id = route;
	e->rule_slot = d->rule_slot;
	e->version_slot = d->version_slot;
	e->backend_slot = (__u8)d->backend_slot;
	e->backend_slot_hi = (__u8)(d->backend_slot >> 8);
	e->layout = STEER_LAYOUT_V2;
	e->state = state;
	e->last_seen_ns = bpf_ktime_get_ns();

	e->dir = STEER_CT_REPLY;
	__builtin_memcpy(e->nat_addr, p->key.daddr, sizeof(e->nat_addr));
	e->nat_port = p->key.dport;
	__builtin_memset(rk, 0, sizeof(*rk));
	rk->family = p->key.family;
	rk->proto = p->key.proto;
	__builtin_memcpy(rk->saddr, s->out.addr, sizeof(rk->saddr));
	rk->sport = s->out.port;
	__builtin_memcpy(rk->daddr, p->key.saddr, sizeof(rk->daddr));
	rk->dport = p->key.sport;
	if (ct_update(rk, e))
		return NULL;

	e->dir = STEER_CT_FORWARD;
	__builtin_memcpy(e->nat_addr, s->out.addr, sizeof(e->nat_addr));
	e->nat_port = s->out.port;
	if (ct_update(&p->key, e))
		return NULL;
	return ct_lookup(&p->key);
}

/*
 * A packet of no tracked flow: to a frontend it is decided like a
 * connect(). A TCP packet other than a SYN is a flow whose entry was lost
 * (LRU, restart of an older version): it is decided again, which gives
 * the same backend while the route is unchanged, and tracked again.
 */
static __always_inline int tc_new(struct __sk_buff *skb, struct tc_scratch *s)
{
	const struct steer_pkt *p = &s->p;
	struct steer_frontend_key *fk = &s->fk;
	struct steer_client *cl = &s->cl;
	struct steer_route rt = {};
	const struct steer_frontend *fe;
	struct steer_decision d = {};
	enum steer_verdict verdict;
	struct steer_ct_entry *ct;
	bool syn, midflow;

	__builtin_memcpy(fk->addr, p->key.daddr, sizeof(fk->addr));
	fk->port = p->key.dport;
	fk->family = p->key.family;
	fk->proto = p->key.proto;
	fe = frontend_lookup(fk);
	if (!fe) {
		reason_count(STEER_REASON_TC_PASS);
		return TC_ACT_OK;
	}
	if (!route_lookup(fe->route_id, &rt)) {
		reason_count(STEER_REASON_NO_ROUTE_CFG);
		return TC_ACT_SHOT;
	}
	__builtin_memset(cl, 0, sizeof(*cl));
	__builtin_memcpy(cl->saddr, p->key.saddr, sizeof(cl->saddr));
	cl->family = p->key.family;
	cl->dport = bpf_ntohs(p->key.dport);
	cl->layer = STEER_LAYER_TC;
	cl->route_id = fe->route_id;
	cl->proto = p->key.proto;
	cl->affinity_key = fold_addr(p->key.saddr);
	cl->flow_key = flow_key(&p->key);

	syn = (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	midflow = p->key.proto == STEER_PROTO_TCP && !syn;
	verdict = steer_decide(&rt, cl, &d);
	if (verdict == STEER_VERDICT_STEER && !d.backend)
		verdict = STEER_VERDICT_NO_BACKEND; /* cannot happen; drop */
	if (verdict != STEER_VERDICT_STEER) {
		enum steer_reason reason = verdict_reason(verdict, &d);

		count_decision(fe->route_id, &d, verdict, STEER_LAYER_TC);
		reason_count(reason);
		trace_decision(fk, cl, &rt, &d, verdict, reason, NULL,
			       p->key.sport);
		return TC_ACT_SHOT;
	}

	verdict_backend(&d, fe, p->key.dport, &s->out);
	ct = ct_create(s, fe->route_id, &d,
		       midflow ? STEER_CT_ESTABLISHED : STEER_CT_NEW);
	if (!ct) {
		reason_count(STEER_REASON_TC_CT_FULL);
		return TC_ACT_SHOT;
	}
	if (midflow) {
		/* The flow was counted and traced when it began. */
		reason_count(STEER_REASON_TC_CT_RECREATED);
	} else {
		count_decision(fe->route_id, &d, verdict, STEER_LAYER_TC);
		reason_count(STEER_REASON_STEERED);
		if (d.failover)
			reason_count(STEER_REASON_FAILOVER);
		trace_decision(fk, cl, &rt, &d, verdict, STEER_REASON_STEERED,
			       &s->out, p->key.sport);
	}
	return tc_tracked(skb, s, ct);
}

/* A SYN that hits a flow which ended (or idled out) starts a new one. */
static __always_inline bool ct_reusable(const struct steer_pkt *p,
					const struct steer_ct_entry *ct)
{
	if ((p->tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN ||
	    ct->dir != STEER_CT_FORWARD)
		return false;
	return ct->state == STEER_CT_CLOSED ||
	       bpf_ktime_get_ns() - ct->last_seen_ns >
		       steer_ct_timeout_ns(p->key.proto, ct->state);
}

SEC("tc")
int steer_tc_ingress(struct __sk_buff *skb)
{
	struct tc_scratch *s = scratch_get();
	struct steer_ct_entry *ct;

	if (!s) {
		/* cannot happen: a per-CPU array's slot 0 is always there */
		reason_count(STEER_REASON_TC_PASS);
		return TC_ACT_OK;
	}
	switch (parse(skb, &s->p)) {
	case PARSE_OK:
		break;
	case PARSE_FRAGMENT:
		reason_count(STEER_REASON_TC_FRAGMENT);
		return TC_ACT_OK;
	case PARSE_MALFORMED:
		reason_count(STEER_REASON_TC_MALFORMED);
		return TC_ACT_OK;
	case PARSE_UNSUPPORTED:
		reason_count(STEER_REASON_TC_UNSUPPORTED);
		return TC_ACT_OK;
	default:
		reason_count(STEER_REASON_TC_PASS);
		return TC_ACT_OK;
	}
	ct = ct_lookup(&s->p.key);
	if (ct && !ct_reusable(&s->p, ct))
		return tc_tracked(skb, s, ct);
	return tc_new(skb, s);
}
