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

/* Header layouts are vmlinux.h's struct ethhdr, iphdr, ipv6hdr,
 * ipv6_opt_hdr, tcphdr and udphdr; what they do not name is here. */
#define ETH_HLEN      14 /* sizeof(struct ethhdr): the IP header's offset */
#define ETH_P_IP      0x0800
#define ETH_P_IPV6    0x86DD
#define IP_MF_OFFSET  0x3fff /* more-fragments flag and fragment offset */
#define NH_HOPOPTS    0	     /* IPv6 next-header values (RFC 8200) */
#define NH_ROUTING    43
#define NH_FRAGMENT   44
#define NH_DSTOPTS    60
#define IPV6_EXT_UNIT 8 /* extension header lengths count 8-byte units */
#define HDR_WORD_LEN  4 /* IPv4 IHL and TCP data offset count 32-bit words */
/* The flags byte (FIN..CWR) after the data offset: bitfields of struct
 * tcphdr, which HDR_OFF() cannot name. */
#define TCP_FLAGS_OFF 13
#define MAX_EXT_HDRS  4
#define MAX_L4_OFFSET 512 /* where an L4 header may start, at most */

/*
 * The offset of a header field, as a constant. libbpf's offsetof() takes
 * a field's address, which on vmlinux.h's structs (preserve_access_index)
 * clang turns into a CO-RE relocation, not a number.
 */
#define HDR_OFF(type, field) __builtin_offsetof(struct type, field)

#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EINVAL
#define EINVAL 22
#endif

_Static_assert(sizeof(struct ethhdr) == ETH_HLEN, "Ethernet header");
/* Ports sit at the same offsets in both: parse_l4() and store_port()
 * read and write them alike for either. */
_Static_assert(HDR_OFF(tcphdr, source) == HDR_OFF(udphdr, source) &&
		       HDR_OFF(tcphdr, dest) == HDR_OFF(udphdr, dest),
	       "TCP and UDP ports");
_Static_assert(HDR_OFF(tcphdr, window) == TCP_FLAGS_OFF + 1, "TCP flags byte");

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
	__u32 off = p->l4_off, hlen, doff;
	struct udphdr *udp;
	struct tcphdr *tcp;
	void *data_end;

	if (off > MAX_L4_OFFSET)
		return PARSE_UNSUPPORTED;
	hlen = p->key.proto == STEER_PROTO_TCP ? sizeof(*tcp) : sizeof(*udp);
	if (off + hlen > end || !pull(skb, off + hlen))
		return PARSE_MALFORMED;
	/* The ports first, through the shorter header (same offsets). */
	udp = pkt_data(skb, &data_end) + off;
	if ((void *)(udp + 1) > data_end)
		return PARSE_MALFORMED;
	p->key.sport = udp->source;
	p->key.dport = udp->dest;
	if (p->key.proto == STEER_PROTO_UDP) {
		__u32 ulen = bpf_ntohs(udp->len);

		if (ulen < sizeof(*udp) || off + ulen > end)
			return PARSE_MALFORMED;
		p->csum_off = off + HDR_OFF(udphdr, check);
		return PARSE_OK;
	}
	tcp = (struct tcphdr *)udp;
	if ((void *)(tcp + 1) > data_end)
		return PARSE_MALFORMED;
	doff = tcp->doff;
	if (doff * HDR_WORD_LEN < sizeof(*tcp) ||
	    off + doff * HDR_WORD_LEN > end)
		return PARSE_MALFORMED;
	p->tcp_flags = ((__u8 *)tcp)[TCP_FLAGS_OFF];
	p->csum_off = off + HDR_OFF(tcphdr, check);
	return PARSE_OK;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb,
				      struct steer_pkt *p)
{
	struct iphdr *ip;
	__u32 ihl, tot;
	void *data_end;

	if (!pull(skb, ETH_HLEN + sizeof(*ip)))
		return PARSE_MALFORMED;
	ip = pkt_data(skb, &data_end) + ETH_HLEN;
	if ((void *)(ip + 1) > data_end)
		return PARSE_MALFORMED;
	ihl = ip->ihl * HDR_WORD_LEN;
	tot = bpf_ntohs(ip->tot_len);
	if (ip->version != 4 || ihl < sizeof(*ip) || tot < ihl ||
	    ETH_HLEN + tot > skb->len)
		return PARSE_MALFORMED;
	if (ip->frag_off & bpf_htons(IP_MF_OFFSET))
		return PARSE_FRAGMENT;
	if (ip->protocol != STEER_PROTO_TCP && ip->protocol != STEER_PROTO_UDP)
		return PARSE_PASS;
	p->key.family = STEER_FAM_INET;
	p->key.proto = ip->protocol;
	p->key.saddr[0] = ip->saddr;
	p->key.daddr[0] = ip->daddr;
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
	struct ipv6_opt_hdr ext;
	struct ipv6hdr *ip6;
	__u32 off, end;
	void *data_end;
	__u8 nh;

	off = ETH_HLEN + sizeof(*ip6);
	if (!pull(skb, off))
		return PARSE_MALFORMED;
	ip6 = pkt_data(skb, &data_end) + ETH_HLEN;
	if ((void *)(ip6 + 1) > data_end)
		return PARSE_MALFORMED;
	end = off + bpf_ntohs(ip6->payload_len);
	if (ip6->version != 6 || end > skb->len)
		return PARSE_MALFORMED;
	if (end == off && ip6->nexthdr == NH_HOPOPTS)
		return PARSE_UNSUPPORTED; /* jumbogram */
	nh = ip6->nexthdr;
	__builtin_memcpy(p->key.saddr, &ip6->saddr, sizeof(ip6->saddr));
	__builtin_memcpy(p->key.daddr, &ip6->daddr, sizeof(ip6->daddr));
	for (int i = 0; i < MAX_EXT_HDRS; i++) {
		if (nh == STEER_PROTO_TCP || nh == STEER_PROTO_UDP)
			break;
		if (nh == NH_FRAGMENT)
			return PARSE_FRAGMENT;
		if (nh != NH_HOPOPTS && nh != NH_DSTOPTS)
			return nh == NH_ROUTING || nh == IPPROTO_ESP ||
					       nh == IPPROTO_AH
				       ? PARSE_UNSUPPORTED
				       : PARSE_PASS;
		if (off + IPV6_EXT_UNIT > end ||
		    bpf_skb_load_bytes(skb, off, &ext, sizeof(ext)))
			return PARSE_MALFORMED;
		nh = ext.nexthdr;
		off += (ext.hdrlen + 1) * IPV6_EXT_UNIT;
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
			__builtin_memcpy(&ip6->daddr, addr, sizeof(ip6->daddr));
		else
			__builtin_memcpy(&ip6->saddr, addr, sizeof(ip6->saddr));
	}
	return 0;
}

/* Write @port at @off (a TCP/UDP port) by direct packet access. */
static __always_inline int store_port(struct __sk_buff *skb, __u32 off,
				      __be16 port)
{
	void *end, *data = pkt_data(skb, &end);
	__be16 *at;

	if (off > MAX_L4_OFFSET + HDR_OFF(tcphdr, dest))
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
	__u32 port_off = p->l4_off + (dst ? HDR_OFF(tcphdr, dest)
					  : HDR_OFF(tcphdr, source));
	int ret;

	/* parse() made these bytes linear: failing here is a fault. */
	if (store_addr(skb, p, dst, addr))
		return -EFAULT;
	/* The low bits of the flags are the size of the field replaced. */
	if (p->key.family == STEER_FAM_INET) {
		ret = bpf_l4_csum_replace(skb, p->csum_off, old[0], addr[0],
					  BPF_F_PSEUDO_HDR | l4f |
						  sizeof(old[0]));
	} else {
		__s64 diff = bpf_csum_diff(
			(__be32 *)old, sizeof(struct in6_addr), (__be32 *)addr,
			sizeof(struct in6_addr), 0);

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
		if (ret == -EINVAL)
			ret = bpf_l4_csum_replace(skb, p->csum_off, 0,
						  (__u32)diff,
						  BPF_F_PSEUDO_HDR | l4f);
	}
	if (ret || port == old_port)
		return ret;
	if (store_port(skb, port_off, port))
		return -EFAULT;
	return bpf_l4_csum_replace(skb, p->csum_off, old_port, port,
				   l4f | sizeof(port));
}

#endif /* STEER_BPF_LIB_PKT_H */
