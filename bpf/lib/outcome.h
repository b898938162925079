/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection outcomes at the socket layer (sockops): established, failed,
 * closed with its bytes, and the connect RTT, each counted exactly once per
 * connect() under the counter slots that socket storage remembered.
 */
#ifndef STEER_BPF_LIB_OUTCOME_H
#define STEER_BPF_LIB_OUTCOME_H

#include "lib/route.h"
#include "lib/health.h"

/* Bits of @v: 0 for 0, floor(log2 v) + 1 otherwise. No loop. */
static __always_inline __u64 steer_fls64(__u64 v)
{
	__u64 r = 0;

	if (v >> 32) {
		v >>= 32;
		r += 32;
	}
	if (v >> 16) {
		v >>= 16;
		r += 16;
	}
	if (v >> 8) {
		v >>= 8;
		r += 8;
	}
	if (v >> 4) {
		v >>= 4;
		r += 4;
	}
	if (v >> 2) {
		v >>= 2;
		r += 2;
	}
	if (v >> 1) {
		v >>= 1;
		r += 1;
	}
	return r + v;
}

static __always_inline void rtt_observe(const struct steer_sk_orig *o, __u64 ns)
{
	struct steer_rtt *h = rtt_get(o->route_id, o->version_slot);
	__u64 b = steer_fls64(ns / 1000);

	if (!h)
		return;
	if (b >= STEER_RTT_BUCKETS)
		b = STEER_RTT_BUCKETS - 1;
	h->buckets[b]++;
	h->sum_ns += ns;
	h->count++;
}

/*
 * Payload bytes each way of a closing socket: bytes_sent minus
 * retransmissions (no SYN, no FIN), and bytes_received less the peer's
 * FIN, which the kernel counts as one received byte (tcp_fin sets
 * SOCK_DONE).
 */
static __always_inline void bytes_of(struct bpf_sock *sk, __u64 *to,
				     __u64 *from)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);

	*to = *from = 0;
	if (!tp)
		return;
	*to = tp->bytes_sent - tp->bytes_retrans;
	*from = tp->bytes_received;
	if ((tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags &
	     (1UL << SOCK_DONE)) &&
	    *from)
		*from -= 1;
}

/*
 * A state change of a steered TCP socket (BPF_SOCK_OPS_STATE_CB, asked
 * for at BPF_SOCK_OPS_TCP_CONNECT_CB). SYN_SENT -> ESTABLISHED is
 * established; any -> CLOSE before that is failed (refused by RST, timed
 * out, reset, or given up by the application); CLOSE after it is closed.
 * o->state makes each count happen once.
 */
static __always_inline void outcome_state(struct bpf_sock_ops *ctx,
					  struct bpf_sock *sk,
					  struct steer_sk_orig *o, __u32 next)
{
	struct steer_backend_stats *bs;
	__u64 to, from;

	/* A socket steered by layout v1 (before an upgrade) names v1's
	 * counter slots: its outcome is not counted (docs/upgrade.md). */
	if (!steer_sk_layout_v2(o))
		return;
	bs = backend_stats_get(o->route_id, o->version_slot,
			       steer_sk_backend_slot(o), STEER_LAYER_SOCK);
	if (next == BPF_TCP_ESTABLISHED && o->state == STEER_SK_CONNECTING) {
		o->state = STEER_SK_ESTABLISHED;
		if (bs)
			bs->established++;
		rtt_observe(o, bpf_ktime_get_ns() - o->connect_ns);
		health_succeeded(o->route_id, o->version_slot,
				 steer_sk_backend_slot(o));
	} else if (next == BPF_TCP_CLOSE) {
		if (o->layout == STEER_LAYOUT_V2_ACTIVE &&
		    o->state != STEER_SK_DONE) {
			health_release(o->route_id, o->version_slot,
				       steer_sk_backend_slot(o));
			o->layout = STEER_LAYOUT_V2;
		}
		if (o->state == STEER_SK_CONNECTING) {
			if (bs)
				bs->failed++;
			health_failed(o->route_id, o->version_slot,
				      steer_sk_backend_slot(o));
		} else if (o->state == STEER_SK_ESTABLISHED) {
			bytes_of(sk, &to, &from);
			if (bs) {
				bs->closed++;
				bs->bytes_to += to;
				bs->bytes_from += from;
			}
		}
		o->state = STEER_SK_DONE;
	}
}

#endif /* STEER_BPF_LIB_OUTCOME_H */
