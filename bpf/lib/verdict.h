/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a decision's verdict turns into, the same at every layer: the reason
 * counted in steer_reasons and traced, and the address and port a steered
 * connection goes to.
 */
#ifndef STEER_BPF_LIB_VERDICT_H
#define STEER_BPF_LIB_VERDICT_H

#include "decide.h"

/*
 * The one verdict -> reason mapping (the socket layer and TC share it).
 * A refusal for want of a backend says why when passive health knows
 * (all ejected, overflow: @d->reason).
 */
static __always_inline enum steer_reason
verdict_reason(enum steer_verdict verdict, const struct steer_decision *d)
{
	switch (verdict) {
	case STEER_VERDICT_STEER:
		return STEER_REASON_STEERED;
	case STEER_VERDICT_DENY:
		return STEER_REASON_POLICY_DENY;
	case STEER_VERDICT_NO_RULE:
		return STEER_REASON_NO_RULE;
	default:
		return d->reason ? (enum steer_reason)d->reason
				 : STEER_REASON_NO_BACKEND;
	}
}

/*
 * The backend that steered decision @d chose, as the connection's new
 * destination: its address, and its port, or, for a backend written
 * without one, the frontend's target port, else the port dialled
 * (@dport, network order).
 */
static __always_inline void verdict_backend(const struct steer_decision *d,
					    const struct steer_frontend *fe,
					    __be16 dport,
					    struct steer_backend_addr *out)
{
	__builtin_memcpy(out->addr, d->backend->addr, sizeof(out->addr));
	out->port = d->backend->port;
	if (!out->port)
		out->port = fe->target_port ? fe->target_port : dport;
}

#endif /* STEER_BPF_LIB_VERDICT_H */
