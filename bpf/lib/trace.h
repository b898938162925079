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
	e = bpf_ringbuf_reserve(&steer_events_v1, sizeof(*e), 0);
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = now;
	e->rule = STEER_MAX_RULES;
	e->version = STEER_MAX_VERSIONS;
	e->backend = STEER_MAX_BACKENDS;
	return e;
}

static __always_inline void trace_submit(struct steer_event *e)
{
	bpf_ringbuf_submit(e, 0);
}

#endif /* STEER_BPF_LIB_TRACE_H */
