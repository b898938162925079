/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Decision events for `steerctl trace`, shared by every layer: a layer
 * calls trace_begin(), fills in what it knows and calls trace_submit().
 * While nobody traces, the lease in steer_trace_v1 is 0 and trace_begin()
 * costs one array lookup (inlined by the verifier) and one compare: no
 * clock read, no ring buffer.
 */
#ifndef STEER_BPF_LIB_TRACE_H
#define STEER_BPF_LIB_TRACE_H

#include "maps.h"
#include "decide.h"

/* The tgid of the task that connects: only the socket layer has one. */
#ifndef steer_current_pid
#define steer_current_pid() 0U
#endif

/* A zeroed event to fill in, or NULL when tracing is off (or the ring is
 * full: the event is lost, never the connection). */
static __always_inline struct steer_event *trace_begin(void)
{
	const struct steer_trace_ctl *t;
	struct steer_event *e;
	__u32 zero = 0;
	__u64 now;

	t = bpf_map_lookup_elem(&steer_trace_v1, &zero);
	if (!t || !t->until_ns)
		return NULL;
	now = bpf_ktime_get_ns();
	if (now >= t->until_ns)
		return NULL;
	e = bpf_ringbuf_reserve(&steer_events_v2, sizeof(*e), 0);
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->rule = STEER_MAX_RULES;
	e->version = STEER_MAX_VERSIONS;
	e->backend = STEER_BACKEND_NONE;
	return e;
}

static __always_inline void trace_submit(struct steer_event *e)
{
	bpf_ringbuf_submit(e, 0);
}

/*
 * One event for a decision on a new connection or flow to frontend @fk,
 * when someone traces, on route @rt (its hdr NULL: no route config); @d
 * may be NULL; @b is the backend written (address and port as sent), NULL
 * unless steered. @sport is the client's port where the layer knows it,
 * else 0.
 */
static __always_inline void
trace_decision(const struct steer_frontend_key *fk,
	       const struct steer_client *cl, const struct steer_route *rt,
	       const struct steer_decision *d, enum steer_verdict verdict,
	       enum steer_reason reason, const struct steer_backend_addr *b,
	       __be16 sport)
{
	struct steer_event *e = trace_begin();

	if (!e)
		return;
	/* The socket layer's client key is its cgroup id; TC's an address. */
	e->cgroup_id = cl->layer == STEER_LAYER_SOCK ? cl->affinity_key : 0;
	e->generation = rt->hdr ? rt->hdr->generation : 0;
	__builtin_memcpy(e->saddr, cl->saddr, sizeof(e->saddr));
	__builtin_memcpy(e->daddr, fk->addr, sizeof(e->daddr));
	e->sport = sport;
	e->dport = fk->port;
	e->family = fk->family;
	e->proto = fk->proto;
	e->uid = cl->uid;
	e->pid = steer_current_pid();
	e->route_id = rt->id;
	e->layer = cl->layer;
	e->verdict = verdict;
	e->reason = reason;
	if (d) {
		e->rule = d->rule;
		e->version = d->version;
	}
	if (verdict == STEER_VERDICT_STEER && d && b) {
		e->backend = d->backend_idx;
		__builtin_memcpy(e->baddr, b->addr, sizeof(e->baddr));
		e->bport = b->port;
	}
	trace_submit(e);
}

#endif /* STEER_BPF_LIB_TRACE_H */
