/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing and NAT rewrites for the TC layer. Parsing never writes;
 * anything it cannot parse with certainty (fragments, truncated headers,
 * IPv6 routing headers, ...) is reported and left untouched (Calico:
 * dropped or passed, never modified). Rewrites keep the IPv4 header and
 * TCP/UDP checksums valid through the kernel's incremental helpers.
 */
#ifndef STEER_BPF_LIB_PKT_H
#define STEER_BPF_LIB_PKT_H

#include <bpf/bpf_endian.h>
#include "lib/ct.h"

#define ETH_HLEN      14
#define ETH_P_IP      0x0800
#define ETH_P_IPV6    0x86DD
#define IP_MF_OFFSET  0x3fff /* more-fragments flag and fragment offset */
#define NH_HOPOPTS    0
#define NH_ROUTING    43
#define NH_FRAGMENT   44
#define NH_DSTOPTS    60
#define MAX_EXT_HDRS  4
#define MAX_L4_OFFSET 512 /* where an L4 header may start, at most */

enum parse_result {
	PARSE_OK = 0,
	PARSE_PASS,	   /* not IP, or not TCP/UDP: not steer's */
	PARSE_FRAGMENT,	   /* an IP fragment */
	PARSE_MALFORMED,   /* truncated or inconsistent headers */
	PARSE_UNSUPPORTED, /* headers steer does not rewrite under */
};

struct steer_pkt {
	struct steer_ct_key key; /* the packet's tuple */
	__u32 l4_off;		 /* offset of the TCP/UDP header */
	__u32 csum_off;		 /* offset of its checksum */
	__u8 tcp_flags;
};

/*
 * The linear packet data. The barrier keeps clang from computing the
 * field addresses once and reusing them (the verifier refuses a load
 * through a ctx pointer that was moved).
 */
static __always_inline void *pkt_data(struct __sk_buff *skb, void **end)
{
	asm volatile("" : "+r"(skb));
	*end = (void *)(long)skb->data_end;
	return (void *)(long)skb->data;
}

/* At least @len bytes linear at the start of the packet; false when the
 * packet is shorter. */
static __always_inline bool pull(struct __sk_buff *skb, __u32 len)
{
	void *end, *data = pkt_data(skb, &end);

	if (data + len <= end)
		return true;
	if (skb->len < len || bpf_skb_pull_data(skb, len))
		return false;
	data = pkt_data(skb, &end);
	return data + len <= end;
}

/* The TCP or UDP header at p->l4_off, inside an IP payload ending at @end. */
static __always_inline int parse_l4(struct __sk_buff *skb, struct steer_pkt *p,
				    __u32 end)
{
	__u32 off = p->l4_off, hlen;
	void *data_end;
	__u8 *l4;

	if (off > MAX_L4_OFFSET)
		return PARSE_UNSUPPORTED;
	hlen = p->key.proto == STEER_PROTO_TCP ? 20 : 8;
	if (off + hlen > end || !pull(skb, off + hlen))
		return PARSE_MALFORMED;
	l4 = (__u8 *)pkt_data(skb, &data_end) + off;
	if ((void *)(l4 + 8) > data_end)
		return PARSE_MALFORMED;
	p->key.sport = *(__be16 *)l4;
	p->key.dport = *(__be16 *)(l4 + 2);
	if (p->key.proto == STEER_PROTO_UDP) {
		__u32 ulen = bpf_ntohs(*(__be16 *)(l4 + 4));

		if (ulen < 8 || off + ulen > end)
			return PARSE_MALFORMED;
		p->csum_off = off + 6;
		return PARSE_OK;
	}
	if ((void *)(l4 + 20) > data_end)
		return PARSE_MALFORMED;
	if ((l4[12] >> 4) < 5 || off + (l4[12] >> 4) * 4 > end)
		return PARSE_MALFORMED;
	p->tcp_flags = l4[13];
	p->csum_off = off + 16;
	return PARSE_OK;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb,
				      struct steer_pkt *p)
{
	__u32 ihl, tot;
	void *data_end;
	__u8 *ip;

	if (!pull(skb, ETH_HLEN + 20))
		return PARSE_MALFORMED;
	ip = (__u8 *)pkt_data(skb, &data_end) + ETH_HLEN;
	if ((void *)(ip + 20) > data_end)
		return PARSE_MALFORMED;
	ihl = (ip[0] & 0xf) * 4;
	tot = bpf_ntohs(*(__be16 *)(ip + 2));
	if (ip[0] >> 4 != 4 || ihl < 20 || tot < ihl ||
	    ETH_HLEN + tot > skb->len)
		return PARSE_MALFORMED;
	if (*(__be16 *)(ip + 6) & bpf_htons(IP_MF_OFFSET))
		return PARSE_FRAGMENT;
	if (ip[9] != STEER_PROTO_TCP && ip[9] != STEER_PROTO_UDP)
		return PARSE_PASS;
	p->key.family = STEER_FAM_INET;
	p->key.proto = ip[9];
	p->key.saddr[0] = *(__u32 *)(ip + 12);
	p->key.daddr[0] = *(__u32 *)(ip + 16);
	p->l4_off = ETH_HLEN + ihl;
	return parse_l4(skb, p, ETH_HLEN + tot);
}

/*
 * IPv6: hop-by-hop and destination options are stepped over; a fragment
 * header is a fragment; a routing header (the destination is not final),
 * AH and ESP are passed as unsupported, never rewritten under.
 */
static __always_inline int parse_ipv6(struct __sk_buff *skb,
				      struct steer_pkt *p)
{
	__u32 off = ETH_HLEN + 40, end;
	__u8 *ip, nh, ext[2];
	void *data_end;

	if (!pull(skb, ETH_HLEN + 40))
		return PARSE_MALFORMED;
	ip = (__u8 *)pkt_data(skb, &data_end) + ETH_HLEN;
	if ((void *)(ip + 40) > data_end)
		return PARSE_MALFORMED;
	end = off + bpf_ntohs(*(__be16 *)(ip + 4));
	if (ip[0] >> 4 != 6 || end > skb->len)
		return PARSE_MALFORMED;
	if (end == off && ip[6] == NH_HOPOPTS)
		return PARSE_UNSUPPORTED; /* jumbogram */
	nh = ip[6];
	__builtin_memcpy(p->key.saddr, ip + 8, 16);
	__builtin_memcpy(p->key.daddr, ip + 24, 16);
	for (int i = 0; i < MAX_EXT_HDRS; i++) {
		if (nh == STEER_PROTO_TCP || nh == STEER_PROTO_UDP)
			break;
		if (nh == NH_FRAGMENT)
			return PARSE_FRAGMENT;
		if (nh != NH_HOPOPTS && nh != NH_DSTOPTS)
			return nh == NH_ROUTING || nh == 50 || nh == 51
				       ? PARSE_UNSUPPORTED
				       : PARSE_PASS;
		if (off + 8 > end || bpf_skb_load_bytes(skb, off, ext, 2))
			return PARSE_MALFORMED;
		nh = ext[0];
		off += (ext[1] + 1) * 8;
	}
	if (nh != STEER_PROTO_TCP && nh != STEER_PROTO_UDP)
		return PARSE_UNSUPPORTED; /* more extension headers */
	p->key.family = STEER_FAM_INET6;
	p->key.proto = nh;
	p->l4_off = off;
	return parse_l4(skb, p, end);
}

static __always_inline int parse(struct __sk_buff *skb, struct steer_pkt *p)
{
	if (skb->protocol == bpf_htons(ETH_P_IP))
		return parse_ipv4(skb, p);
	if (skb->protocol == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(skb, p);
	return PARSE_PASS;
}

/* Fold a 32-bit one's complement sum to 16 bits. */
static __always_inline __u16 csum_fold32(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/*
 * The IPv4 header checksum after a 32-bit field changes from @from to @to
 * (RFC 1624, eqn. 3). Raw network-order words throughout: one's complement
 * sums do not depend on byte order. The IP header checksum is never left
 * to offload, so unlike the TCP/UDP one it can be updated by hand.
 */
static __always_inline __u16 ip_csum_replace4(__u16 check, __u32 from, __u32 to)
{
	__u32 s = (__u16)~check;

	s += (__u16) ~(from & 0xffff) + (__u16) ~(from >> 16);
	s += (to & 0xffff) + (to >> 16);
	return (__u16)~csum_fold32(s);
}

/*
 * Write @addr over the packet's destination (@dst) or source address, and
 * the IPv4 header checksum, by direct packet access (no helper call: each
 * costs ~30 ns). -1 when the header is not in the linear data.
 */
static __always_inline int store_addr(struct __sk_buff *skb,
				      const struct steer_pkt *p, bool dst,
				      const __u32 *addr)
{
	void *end, *data = pkt_data(skb, &end);

	if (p->key.family == STEER_FAM_INET) {
		struct iphdr *ip = data + ETH_HLEN;
		__u32 old;

		if ((void *)(ip + 1) > end)
			return -1;
		old = dst ? ip->daddr : ip->saddr;
		ip->check = ip_csum_replace4(ip->check, old, addr[0]);
		if (dst)
			ip->daddr = addr[0];
		else
			ip->saddr = addr[0];
	} else {
		struct ipv6hdr *ip6 = data + ETH_HLEN;

		if ((void *)(ip6 + 1) > end)
			return -1;
		if (dst)
			__builtin_memcpy(&ip6->daddr, addr, 16);
		else
			__builtin_memcpy(&ip6->saddr, addr, 16);
	}
	return 0;
}

/* Write @port at @off (a TCP/UDP port) by direct packet access. */
static __always_inline int store_port(struct __sk_buff *skb, __u32 off,
				      __be16 port)
{
	void *end, *data = pkt_data(skb, &end);
	__be16 *at;

	if (off > MAX_L4_OFFSET + 2)
		return -1;
	at = data + off;
	if ((void *)(at + 1) > end)
		return -1;
	*at = port;
	return 0;
}

/*
 * Write @addr and @port over the packet's destination (@dst) or source,
 * with the checksums updated incrementally: the IPv4 header checksum by
 * hand, the TCP/UDP checksum through bpf_l4_csum_replace, which alone
 * knows how the skb's checksum is kept (complete, partial, unnecessary)
 * and updates it to match: the pseudo-header address, then the port. A
 * UDP checksum of 0 (none, IPv4) stays 0 (BPF_F_MARK_MANGLED_0), and a
 * result of 0 is written as 0xffff. Returns 0 or a negative error.
 */
static __always_inline int rewrite(struct __sk_buff *skb,
				   const struct steer_pkt *p, bool dst,
				   const __u32 *addr, __be16 port)
{
	const __u32 *old = dst ? p->key.daddr : p->key.saddr;
	__be16 old_port = dst ? p->key.dport : p->key.sport;
	__u64 l4f = p->key.proto == STEER_PROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
	__u32 port_off = p->l4_off + (dst ? 2 : 0);
	int ret;

	if (store_addr(skb, p, dst, addr))
		return -14; /* EFAULT: parse() made these bytes linear */
	if (p->key.family == STEER_FAM_INET) {
		ret = bpf_l4_csum_replace(skb, p->csum_off, old[0], addr[0],
					  BPF_F_PSEUDO_HDR | l4f | 4);
	} else {
		__s64 diff =
			bpf_csum_diff((__be32 *)old, 16, (__be32 *)addr, 16, 0);

		/*
		 * BPF_F_IPV6 (kernel 6.16+): the address is in the packet
		 * and no IP header checksum balances it, so a CHECKSUM_COMPLETE
		 * skb->csum must not move with the pseudo-header. Older
		 * kernels refuse the flag with -EINVAL before touching the
		 * packet; then the call is made without it.
		 */
		ret = diff < 0 ? (int)diff : 0;
		if (!ret)
			ret = bpf_l4_csum_replace(
				skb, p->csum_off, 0, (__u32)diff,
				BPF_F_PSEUDO_HDR | BPF_F_IPV6 | l4f);
		if (ret == -22) /* EINVAL */
			ret = bpf_l4_csum_replace(skb, p->csum_off, 0,
						  (__u32)diff,
						  BPF_F_PSEUDO_HDR | l4f);
	}
	if (ret || port == old_port)
		return ret;
	if (store_port(skb, port_off, port))
		return -14;
	return bpf_l4_csum_replace(skb, p->csum_off, old_port, port, l4f | 2);
}

#endif /* STEER_BPF_LIB_PKT_H */
