/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TC-layer connection tracking: the map and its accessors (layout and
 * timeouts in steer_abi.h). Two entries per flow, one per direction, each
 * keyed by the tuple its packets arrive with.
 */
#ifndef STEER_BPF_LIB_CT_H
#define STEER_BPF_LIB_CT_H

#include "lib/route.h"

/*
 * struct steer_ct_key (a packet's tuple) -> struct steer_ct_entry.
 * LRU: when full, the least recently used entries give way. Both entries
 * of a flow that carries traffic either way are touched by its packets;
 * a flow that lost its entries is decided again, to the same backend
 * (the choice is a hash of the flow), by its next client packet. steerd
 * sizes it (--ct-max flows, two entries each) and removes idle entries.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2 * STEER_DEFAULT_CT_MAX);
	__type(key, struct steer_ct_key);
	__type(value, struct steer_ct_entry);
} steer_ct_v1 SEC(".maps");

static __always_inline struct steer_ct_entry *
ct_lookup(const struct steer_ct_key *key)
{
	return bpf_map_lookup_elem(&steer_ct_v1, key);
}

static __always_inline int ct_update(const struct steer_ct_key *key,
				     const struct steer_ct_entry *e)
{
	return bpf_map_update_elem(&steer_ct_v1, key, e, BPF_ANY);
}

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/*
 * Advance the flow's state for a packet with @tcp_flags that hit @e, and
 * count what the flow did in @bs (may be NULL). Returns true when the state
 * changed, so the caller copies it to the other direction's entry.
 */
static __always_inline bool ct_advance(struct steer_ct_entry *e, __u8 proto,
				       __u8 tcp_flags,
				       struct steer_backend_stats *bs)
{
	__u8 state = e->state, flags = e->flags;
	bool reply = e->dir == STEER_CT_REPLY;

	if (proto == STEER_PROTO_UDP) {
		if (reply && state == STEER_CT_NEW) {
			state = STEER_CT_ESTABLISHED;
			if (bs)
				bs->established++;
		}
	} else if (tcp_flags & TCP_RST) {
		if (bs && state == STEER_CT_NEW)
			bs->failed++;
		else if (bs && state == STEER_CT_ESTABLISHED)
			bs->closed++;
		state = STEER_CT_CLOSED;
	} else if (reply && state == STEER_CT_NEW &&
		   (tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)) {
		state = STEER_CT_ESTABLISHED;
		if (bs)
			bs->established++;
	} else if (tcp_flags & TCP_FIN) {
		flags |= reply ? STEER_CT_FIN_REPLY : STEER_CT_FIN_FORWARD;
		if (flags == (STEER_CT_FIN_REPLY | STEER_CT_FIN_FORWARD) &&
		    state != STEER_CT_CLOSED) {
			if (bs && state == STEER_CT_ESTABLISHED)
				bs->closed++;
			state = STEER_CT_CLOSED;
		}
	}
	if (state == e->state && flags == e->flags)
		return false;
	e->state = state;
	e->flags = flags;
	return true;
}

/*
 * Copy the state of @e to the other direction's entry, if it is there.
 * @peer is room for that entry's key (off the stack: lib/scratch.h).
 */
static __always_inline void ct_sync_peer(const struct steer_ct_key *key,
					 const struct steer_ct_entry *e,
					 struct steer_ct_key *peer)
{
	struct steer_ct_entry *pe;

	steer_ct_peer_key(key, e, peer);
	pe = ct_lookup(peer);
	if (pe) {
		pe->state = e->state;
		pe->flags = e->flags;
	}
}

#endif /* STEER_BPF_LIB_CT_H */
