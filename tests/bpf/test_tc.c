/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Packet-level tests of the TC layer (bpf/tc.bpf.c) through
 * BPF_PROG_TEST_RUN: packets in, verdict and packet out (Katran, Cilium
 * bpf/tests). Routes are parsed and applied with the real routes_parse_file()
 * and apply_routes() into the maps of a privately loaded tc.bpf.o; nothing
 * is attached and nothing is pinned (docs/DESIGN.md §8).
 *
 * Every expected packet is built from scratch with checksums computed here
 * (never by the program under test) and compared byte for byte, and every
 * packet the program rewrote has its checksums recomputed and checked.
 * Cases are a data table (tc_cases); flows over several packets, removed
 * backends, lost entries and splits are tests of their own. -t NAME runs
 * one. The benchmark runs only as -t benchmark (make bench-tc);
 * STEER_TC_BENCH_RUNS=N makes it average N single runs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "tc.h"
#include "maps.h"
#include "routes.h"
#include "test.h"
#include "tc.skel.h"
#include "progs/test_empty.skel.h"

/* Packet specs name the fields they need; the rest are zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2
#define PKT_MAX	    512
#define TCP_FIN	    0x01
#define TCP_SYN	    0x02
#define TCP_RST	    0x04
#define TCP_PSH	    0x08
#define TCP_ACK	    0x10

static struct steer_tc *skel;
static struct steer_test_empty *empty;
static struct steer_maps maps; /* set by maps_from_object() */
static int prog_fd = -1, ct_fd = -1;
static __u64 mono_ns(void);
static char tmpdir[] = "/tmp/steer-tctest-XXXXXX";

/* v1: port 8080 (rewritten), v2: no port (the frontend's port kept). */
#define Y_WEB(v1, v2, extra)                                                   \
	"kind: Route\n"                                                        \
	"name: web\n"                                                          \
	"frontends: [10.96.0.10:80, \"[fd00:96::10]:80\", 10.96.0.10:53/udp,"  \
	" \"[fd00:96::10]:53/udp\"]\n"                                         \
	"versions:\n"                                                          \
	"  v1: {backends: [" v1 "]}\n"                                         \
	"  v2: {backends: [" v2 "]}\n"                                         \
	"rules:\n"                                                             \
	"  - name: testers\n"                                                  \
	"    match: {sources: [10.244.9.0/24, \"fd00:9::/64\"]}\n"             \
	"    split: {v2: 100}\n"                                               \
	"  - name: default\n"                                                  \
	"    split: {v1: 100}\n"                                               \
	"policy:\n"                                                            \
	"  deny: [{sources: [10.244.66.0/24, \"fd00:66::/64\"]}]\n" extra

#define V1_BACKENDS "10.244.1.5:8080, \"[fd00:244:1::5]:8080\""
#define V2_BACKENDS "10.244.2.7, \"fd00:244:2::7\""
/* No rule for most clients; no IPv6 backend at all. */
#define Y_NOROUTE                                                              \
	"---\n"                                                                \
	"kind: Route\n"                                                        \
	"name: noroute\n"                                                      \
	"frontends: [10.96.0.40:80, \"[fd00:96::40]:80\"]\n"                   \
	"versions:\n"                                                          \
	"  v1: {backends: [10.244.1.5]}\n"                                     \
	"rules:\n"                                                             \
	"  - name: testers\n"                                                  \
	"    match: {sources: [10.244.9.0/24, \"fd00:9::/64\"]}\n"             \
	"    split: {v1: 100}\n"
static const char Y_ROUTE[] = Y_WEB(V1_BACKENDS, V2_BACKENDS, Y_NOROUTE);
/* v1's backend replaced: flows to the old one must keep it. */
static const char Y_ROUTE_MOVED[] =
	Y_WEB("10.244.1.6:8080, \"[fd00:244:1::6]:8080\"", V2_BACKENDS, "");
/* A second route: 80/20 over many backends, and one with affinity. */
static const char Y_SPLIT[] = "kind: Route\n"
			      "name: split\n"
			      "frontends: [10.96.0.20:80]\n"
			      "versions:\n"
			      "  v1: {backends: [10.244.1.5, 10.244.1.6]}\n"
			      "  v2: {backends: [10.244.2.7, 10.244.2.8]}\n"
			      "  v3: {backends: [10.244.3.3]}\n"
			      "rules:\n"
			      "  - name: default\n"
			      "    split: {v1: 80, v2: 20, v3: 0}\n"
			      "---\n"
			      "kind: Route\n"
			      "name: sticky\n"
			      "frontends: [10.96.0.30:80]\n"
			      "versions:\n"
			      "  v1: {backends: [10.244.1.5, 10.244.1.6]}\n"
			      "  v2: {backends: [10.244.2.7, 10.244.2.8]}\n"
			      "rules:\n"
			      "  - name: default\n"
			      "    split: {v1: 50, v2: 50}\n"
			      "affinity: client\n";

/* ---- packets ---------------------------------------------------------- */

struct pkt_spec {
	const char *src, *dst; /* IPv4 or IPv6, both of one family */
	__u16 sport, dport;
	__u8 proto;	 /* 6 or 17 */
	__u8 tcp_flags;	 /* default SYN */
	__u8 ip_opts;	 /* bytes of IPv4 options (multiple of 4) */
	__u8 ext[4];	 /* IPv6 extension headers in order, 0-terminated
			    except a leading hop-by-hop given as 0xff */
	__u16 frag;	 /* IPv4 frag_off (host order); IPv6: any value
			    adds a fragment header with it */
	bool udp_nocsum; /* UDP checksum 0 (none) */
	__u8 payload;	 /* payload bytes */
	__u16 cut;	 /* bytes cut off the end after building */
	__u8 tcp_doff;	 /* TCP data offset (words); 0 = 5 */
};

static __u32 sum16(const __u8 *p, size_t n, __u32 s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (__u32)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (__u32)p[n - 1] << 8;
	return s;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static bool is_v6(const char *a)
{
	return strchr(a, ':') != NULL;
}

/* The L4 checksum over the pseudo-header and @l4 (@len bytes). */
static __u16 l4_csum(bool v6, const __u8 *saddr, const __u8 *daddr, __u8 proto,
		     const __u8 *l4, size_t len)
{
	int alen = v6 ? 16 : 4;
	__u32 s = 0;

	s = sum16(saddr, alen, s);
	s = sum16(daddr, alen, s);
	s += proto + (__u32)len;
	return (__u16)~fold(sum16(l4, len, s));
}

/* Build @sp into @buf with every checksum right; returns the length. */
static size_t build(const struct pkt_spec *sp, __u8 *buf)
{
	bool v6 = is_v6(sp->src);
	__u8 *ip = buf + 14, *l4, *p;
	__u8 nexthdr_pos = 6;
	size_t l4len, iplen;
	int doff = sp->tcp_doff ? sp->tcp_doff : 5;
	__u8 flags = sp->tcp_flags ? sp->tcp_flags : TCP_SYN;

	memset(buf, 0, PKT_MAX);
	memcpy(buf, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	buf[12] = v6 ? 0x86 : 0x08;
	buf[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		ip[0] = 0x60;
		ip[7] = 64;
		inet_pton(AF_INET6, sp->src, ip + 8);
		inet_pton(AF_INET6, sp->dst, ip + 24);
		p = ip + 40;
		for (int i = 0; i < 4 && sp->ext[i]; i++) {
			__u8 type = sp->ext[i] == 0xff ? 0 : sp->ext[i];

			ip[nexthdr_pos] = type;
			nexthdr_pos = (__u8)(p - ip);
			/* 16 bytes: next header, length 1, PadN */
			p[1] = type == 44 ? 0 : 1;
			if (type != 44) {
				p[2] = 1;
				p[3] = 12;
				p += 16;
			} else {
				p += 8;
			}
		}
		if (sp->frag) {
			ip[nexthdr_pos] = 44;
			nexthdr_pos = (__u8)(p - ip);
			p[2] = (__u8)(sp->frag >> 8);
			p[3] = (__u8)sp->frag;
			p[7] = 1; /* identification */
			p += 8;
		}
		ip[nexthdr_pos] = sp->proto;
	} else {
		ip[0] = 0x40 | (5 + sp->ip_opts / 4);
		ip[6] = (__u8)(sp->frag >> 8);
		ip[7] = (__u8)sp->frag;
		ip[8] = 64;
		ip[9] = sp->proto;
		inet_pton(AF_INET, sp->src, ip + 12);
		inet_pton(AF_INET, sp->dst, ip + 16);
		for (int i = 0; i < sp->ip_opts; i++)
			ip[20 + i] = i == 0 ? 0x94 : i == 1 ? 4 : 1;
		if (sp->ip_opts) /* router alert (4 bytes) then NOPs */
			ip[22] = ip[23] = 0;
		p = ip + 20 + sp->ip_opts;
	}
	l4 = p;
	l4[0] = (__u8)(sp->sport >> 8);
	l4[1] = (__u8)sp->sport;
	l4[2] = (__u8)(sp->dport >> 8);
	l4[3] = (__u8)sp->dport;
	if (sp->proto == 6) {
		l4len = (size_t)doff * 4 + sp->payload;
		l4[4] = 0x11; /* seq */
		l4[12] = (__u8)(doff << 4);
		l4[13] = flags;
		l4[14] = 0xfa; /* window */
		for (int i = 20; i < doff * 4; i++)
			l4[i] = 1; /* NOP options */
	} else {
		l4len = 8 + (size_t)sp->payload;
		l4[4] = (__u8)(l4len >> 8);
		l4[5] = (__u8)l4len;
	}
	for (size_t i = l4len - sp->payload; i < l4len; i++)
		l4[i] = (__u8)(0xa0 + i);
	iplen = (size_t)(l4 + l4len - ip);
	if (v6) {
		ip[4] = (__u8)((iplen - 40) >> 8);
		ip[5] = (__u8)(iplen - 40);
	} else {
		ip[2] = (__u8)(iplen >> 8);
		ip[3] = (__u8)iplen;
		__u16 c = (__u16)~fold(sum16(ip, 20 + sp->ip_opts, 0));
		ip[10] = (__u8)(c >> 8);
		ip[11] = (__u8)c;
	}
	if (!(sp->proto == 17 && sp->udp_nocsum)) {
		__u16 c = l4_csum(v6, ip + (v6 ? 8 : 12), ip + (v6 ? 24 : 16),
				  sp->proto, l4, l4len);
		int off = sp->proto == 6 ? 16 : 6;

		if (sp->proto == 17 && c == 0)
			c = 0xffff;
		l4[off] = (__u8)(c >> 8);
		l4[off + 1] = (__u8)c;
	}
	return (size_t)(l4 + l4len - buf) - sp->cut;
}

/*
 * Recompute every checksum of @pkt as a receiver would; true when all hold
 * (a UDP checksum of 0 is "none" in IPv4). Handles what build() makes.
 */
static bool csums_valid(const __u8 *pkt, size_t len, char *why, size_t wl)
{
	const __u8 *ip = pkt + 14, *l4;
	bool v6 = pkt[12] == 0x86;
	__u8 proto;
	size_t l4len;

	if (v6) {
		__u8 nh = ip[6];
		const __u8 *p = ip + 40;

		while (nh == 0 || nh == 60 || nh == 43) {
			nh = p[0];
			p += (p[1] + 1) * 8;
		}
		proto = nh;
		l4 = p;
		l4len = 40 + ((size_t)ip[4] << 8 | ip[5]) - (size_t)(l4 - ip);
	} else {
		size_t ihl = (ip[0] & 0xf) * 4u;

		if (fold(sum16(ip, ihl, 0)) != 0xffff) {
			snprintf(why, wl, "IPv4 header checksum");
			return false;
		}
		proto = ip[9];
		l4 = ip + ihl;
		l4len = ((size_t)ip[2] << 8 | ip[3]) - ihl;
	}
	if ((size_t)(l4 - pkt) + l4len > len) {
		snprintf(why, wl, "short packet");
		return false;
	}
	if (proto == 17 && !v6 && !l4[6] && !l4[7])
		return true;
	if (l4_csum(v6, ip + (v6 ? 8 : 12), ip + (v6 ? 24 : 16), proto, l4,
		    l4len) != 0) {
		snprintf(why, wl, "%s checksum", proto == 6 ? "TCP" : "UDP");
		return false;
	}
	return true;
}

static void hexdump(const char *what, const __u8 *p, size_t n)
{
	fprintf(stderr, "    %s (%zu):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n      ", p[i]);
	fputc('\n', stderr);
}

struct run_out {
	int verdict;
	__u8 pkt[PKT_MAX];
	size_t len;
};

static int run_pkt(const __u8 *in, size_t len, struct run_out *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = (__u32)len, .data_out = out->pkt,
		    .data_size_out = PKT_MAX);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	out->verdict = (int)opts.retval;
	out->len = opts.data_size_out;
	return 0;
}

static __u64 reason(enum steer_reason r)
{
	__u32 key = r;
	int n = libbpf_num_possible_cpus();
	__u64 vals[n > 0 ? n : 1], sum = 0;

	if (bpf_map_lookup_elem(maps.reasons, &key, vals))
		return 0;
	for (int i = 0; i < n; i++)
		sum += vals[i];
	return sum;
}

/* ---- single packets as data ------------------------------------------- */

struct tc_case {
	const char *desc;
	struct pkt_spec in;
	int verdict;
	/* expected packet: @in with these replaced; all NULL/0 = untouched */
	const char *src, *dst;
	__u16 sport, dport;
	enum steer_reason reason; /* this counter grows by one */
};

#define C4  "10.244.1.100" /* an ordinary client */
#define T4  "10.244.9.7"   /* a tester: v2 */
#define D4  "10.244.66.9"  /* denied */
#define C6  "fd00:1::100"
#define T6  "fd00:9::7"
#define D6  "fd00:66::9"
#define F4  "10.96.0.10"
#define F6  "fd00:96::10"
#define B14 "10.244.1.5"
#define B16 "fd00:244:1::5"
#define B24 "10.244.2.7"
#define B26 "fd00:244:2::7"

/* One case per entry reads better than one field per line. */
/* clang-format off */
static const struct tc_case tc_cases[] = {
	{ "v4 SYN to frontend -> v1 backend, port 8080",
	  { C4, F4, 40001, 80, 6 }, TC_ACT_OK, C4, B14, 40001, 8080, STEER_REASON_STEERED },
	{ "v6 SYN to frontend -> v1 backend, port 8080",
	  { C6, F6, 40001, 80, 6 }, TC_ACT_OK, C6, B16, 40001, 8080, STEER_REASON_STEERED },
	{ "v4 tester SYN -> v2, port kept",
	  { T4, F4, 40002, 80, 6 }, TC_ACT_OK, T4, B24, 40002, 80, STEER_REASON_STEERED },
	{ "v6 tester SYN -> v2, port kept",
	  { T6, F6, 40002, 80, 6 }, TC_ACT_OK, T6, B26, 40002, 80, STEER_REASON_STEERED },
	{ "v4 SYN with payload and TCP options",
	  { C4, F4, 40003, 80, 6, .payload = 33, .tcp_doff = 8 }, TC_ACT_OK, C4, B14, 40003, 8080,
	  STEER_REASON_STEERED },
	{ "v4 UDP first datagram",
	  { C4, F4, 40004, 53, 17, .payload = 20 }, TC_ACT_OK, C4, B14, 40004, 8080,
	  STEER_REASON_STEERED },
	{ "v4 UDP zero checksum stays zero",
	  { C4, F4, 40005, 53, 17, .payload = 21, .udp_nocsum = true }, TC_ACT_OK, C4, B14, 40005,
	  8080, STEER_REASON_STEERED },
	{ "v6 UDP first datagram",
	  { C6, F6, 40006, 53, 17, .payload = 7 }, TC_ACT_OK, C6, B16, 40006, 8080,
	  STEER_REASON_STEERED },
	{ "v4 with IP options (ihl 8)",
	  { C4, F4, 40007, 80, 6, .ip_opts = 12, .payload = 5 }, TC_ACT_OK, C4, B14, 40007, 8080,
	  STEER_REASON_STEERED },
	{ "v6 hop-by-hop + destination options",
	  { C6, F6, 40008, 80, 6, .ext = { 0xff, 60 }, .payload = 9 }, TC_ACT_OK, C6, B16, 40008,
	  8080, STEER_REASON_STEERED },
	{ "v6 UDP after destination options",
	  { C6, F6, 40009, 53, 17, .ext = { 60 }, .payload = 4 }, TC_ACT_OK, C6, B16, 40009, 8080,
	  STEER_REASON_STEERED },
	/* untouched */
	{ "v4 non-frontend address", { C4, "10.96.0.99", 40010, 80, 6 }, TC_ACT_OK, NULL, NULL,
	  0, 0, STEER_REASON_TC_PASS },
	{ "v4 frontend address, other port", { C4, F4, 40011, 81, 6 }, TC_ACT_OK, NULL, NULL, 0, 0,
	  STEER_REASON_TC_PASS },
	{ "v4 frontend port, wrong protocol (UDP 80)", { C4, F4, 40012, 80, 17 }, TC_ACT_OK, NULL,
	  NULL, 0, 0, STEER_REASON_TC_PASS },
	{ "v6 non-frontend", { C6, "fd00:96::99", 40013, 80, 6 }, TC_ACT_OK, NULL, NULL, 0, 0,
	  STEER_REASON_TC_PASS },
	{ "v4 first fragment (MF)", { C4, F4, 40014, 80, 6, .frag = 0x2000 }, TC_ACT_OK, NULL,
	  NULL, 0, 0, STEER_REASON_TC_FRAGMENT },
	{ "v4 later fragment (offset)", { C4, F4, 40015, 80, 17, .frag = 0x0010 }, TC_ACT_OK,
	  NULL, NULL, 0, 0, STEER_REASON_TC_FRAGMENT },
	{ "v4 DF alone is no fragment", { C4, F4, 40016, 80, 6, .frag = 0x4000 }, TC_ACT_OK, C4,
	  B14, 40016, 8080, STEER_REASON_STEERED },
	{ "v6 fragment header", { C6, F6, 40017, 80, 6, .frag = 0x0001 }, TC_ACT_OK, NULL, NULL,
	  0, 0, STEER_REASON_TC_FRAGMENT },
	{ "v6 routing header", { C6, F6, 40018, 80, 6, .ext = { 43 } }, TC_ACT_OK, NULL, NULL, 0,
	  0, STEER_REASON_TC_UNSUPPORTED },
	{ "v4 truncated TCP header", { C4, F4, 40019, 80, 6, .cut = 8 }, TC_ACT_OK, NULL, NULL,
	  0, 0, STEER_REASON_TC_MALFORMED },
	{ "v4 truncated payload (tot_len > packet)", { C4, F4, 40020, 80, 6, .payload = 10,
	  .cut = 4 }, TC_ACT_OK, NULL, NULL, 0, 0, STEER_REASON_TC_MALFORMED },
	{ "v4 packet ends inside IP options", { C4, F4, 40021, 80, 6, .ip_opts = 8, .cut = 24 },
	  TC_ACT_OK, NULL, NULL, 0, 0, STEER_REASON_TC_MALFORMED },
	{ "v6 truncated UDP", { C6, F6, 40022, 53, 17, .cut = 5 }, TC_ACT_OK, NULL, NULL, 0, 0,
	  STEER_REASON_TC_MALFORMED },
	{ "v6 packet ends inside an extension header", { C6, F6, 40023, 80, 6, .ext = { 60 },
	  .cut = 32 }, TC_ACT_OK, NULL, NULL, 0, 0, STEER_REASON_TC_MALFORMED },
	{ "TCP data offset < 5", { C4, F4, 40024, 80, 6, .tcp_doff = 4 }, TC_ACT_OK, NULL, NULL,
	  0, 0, STEER_REASON_TC_MALFORMED },
	/* dropped */
	{ "v4 denied source", { D4, F4, 40026, 80, 6 }, TC_ACT_SHOT, NULL, NULL, 0, 0,
	  STEER_REASON_POLICY_DENY },
	{ "v6 denied source", { D6, F6, 40027, 80, 6 }, TC_ACT_SHOT, NULL, NULL, 0, 0,
	  STEER_REASON_POLICY_DENY },
	{ "v4 denied UDP", { D4, F4, 40028, 53, 17 }, TC_ACT_SHOT, NULL, NULL, 0, 0,
	  STEER_REASON_POLICY_DENY },
	{ "v4 no rule matches", { C4, "10.96.0.40", 40029, 80, 6 }, TC_ACT_SHOT, NULL, NULL, 0,
	  0, STEER_REASON_NO_RULE },
	{ "v6 tester: no IPv6 backend", { T6, "fd00:96::40", 40030, 80, 6 }, TC_ACT_SHOT, NULL,
	  NULL, 0, 0, STEER_REASON_NO_BACKEND },
	{ "v4 tester of that route is steered", { T4, "10.96.0.40", 40031, 80, 6 }, TC_ACT_OK,
	  T4, B14, 40031, 80, STEER_REASON_STEERED },
};
/* clang-format on */

/* Build @sp with the addresses and ports that @c says the output has. */
static size_t expected(const struct tc_case *c, __u8 *buf)
{
	struct pkt_spec sp = c->in;

	if (c->src) {
		sp.src = c->src;
		sp.dst = c->dst;
		sp.sport = c->sport;
		sp.dport = c->dport;
	}
	return build(&sp, buf);
}

static bool check_out(const char *desc, const __u8 *in, size_t in_len,
		      const __u8 *want, size_t want_len, int want_verdict,
		      const struct run_out *out, bool rewritten)
{
	char why[64];

	if (out->verdict != want_verdict) {
		FAIL_AT("%s: verdict %d, want %d", desc, out->verdict,
			want_verdict);
		return false;
	}
	if (want_verdict == TC_ACT_SHOT)
		return true;
	if (out->len != want_len || memcmp(out->pkt, want, want_len)) {
		FAIL_AT("%s: packet differs", desc);
		hexdump("in", in, in_len);
		hexdump("got", out->pkt, out->len);
		hexdump("want", want, want_len);
		return false;
	}
	if (rewritten && !csums_valid(out->pkt, out->len, why, sizeof(why))) {
		FAIL_AT("%s: %s wrong after rewrite", desc, why);
		return false;
	}
	return true;
}

TEST(packet_table)
{
	__u8 in[PKT_MAX], want[PKT_MAX];
	struct run_out out;

	for (size_t i = 0; i < sizeof(tc_cases) / sizeof(*tc_cases); i++) {
		const struct tc_case *c = &tc_cases[i];
		size_t len = build(&c->in, in), wlen;
		__u64 before = reason(c->reason);
		int ret = run_pkt(in, len, &out);

		if (ret) {
			FAIL_AT("%s: test run: %s", c->desc, strerror(-ret));
			continue;
		}
		wlen = c->src ? expected(c, want) : len;
		if (!c->src)
			memcpy(want, in, len);
		if (!check_out(c->desc, in, len, want, wlen, c->verdict, &out,
			       c->src != NULL))
			continue;
		if (reason(c->reason) != before + 1)
			FAIL_AT("%s: reason %d counted %llu times, want 1",
				c->desc, c->reason,
				(unsigned long long)(reason(c->reason) -
						     before));
	}
}

/* Run packets through instance @t and point the test's map fds at it. */
static void use_instance(struct steer_tc *t)
{
	prog_fd = bpf_program__fd(t->progs.steer_tc_ingress);
	ct_fd = bpf_map__fd(t->maps.steer_ct_v1);
	maps_from_object(t->obj, &maps);
}

/* ---- flows ------------------------------------------------------------ */

/* Send @sp; it must come out as @want_src:@sport -> @want_dst:@dport with
 * valid checksums (or untouched when @want_src is NULL). */
static bool send_expect(const char *desc, struct pkt_spec sp,
			const char *want_src, __u16 sport, const char *want_dst,
			__u16 dport)
{
	__u8 in[PKT_MAX], want[PKT_MAX];
	struct run_out out;
	size_t len = build(&sp, in), wlen = len;
	int ret = run_pkt(in, len, &out);

	if (ret) {
		FAIL_AT("%s: test run: %s", desc, strerror(-ret));
		return false;
	}
	memcpy(want, in, len);
	if (want_src) {
		sp.src = want_src;
		sp.dst = want_dst;
		sp.sport = sport;
		sp.dport = dport;
		wlen = build(&sp, want);
	}
	return check_out(desc, in, len, want, wlen, TC_ACT_OK, &out,
			 want_src != NULL);
}

static int apply_yaml(const char *yaml)
{
	char path[PATH_MAX], err[ROUTE_ERR_MAX] = "";
	struct route_set set = { 0 };
	struct apply_stats st;
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/routes.yaml", tmpdir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(yaml, f);
	fclose(f);
	ret = routes_parse_file(path, &set, err, sizeof(err));
	if (!ret)
		ret = apply_routes(&maps, &set, NULL, tmpdir, NULL, &st, err,
				   sizeof(err));
	if (ret)
		fprintf(stderr, "  apply: %s\n", err);
	routes_free(&set);
	unlink(path);
	return ret;
}

/* TC-layer counters of backend @b of version @v of route @name. */
static struct steer_backend_stats bstats(const char *name, int v, int b)
{
	struct steer_backend_stats bs = { 0 };
	struct steer_route_cfg *cfg = calloc(1, sizeof(*cfg));
	int id = cfg ? maps_route_find(&maps, name, cfg) : -ENOMEM;

	if (id >= 0)
		maps_backend_stats_read(
			&maps, (__u32)id, cfg->versions[v].counter_slot,
			cfg->versions[v].backends[b].counter_slot,
			STEER_LAYER_TC, &bs);
	route_cfg_destroy(cfg, 1);
	return bs;
}

static int ct_state(const char *src, __u16 sport, const char *dst, __u16 dport,
		    __u8 proto)
{
	struct steer_ct_key k = { .proto = proto };
	struct steer_ct_entry e;
	int fam = is_v6(src) ? AF_INET6 : AF_INET;

	k.family = fam == AF_INET6 ? STEER_FAM_INET6 : STEER_FAM_INET;
	inet_pton(fam, src, k.saddr);
	inet_pton(fam, dst, k.daddr);
	k.sport = htons(sport);
	k.dport = htons(dport);
	if (bpf_map_lookup_elem(ct_fd, &k, &e))
		return -1;
	return e.state;
}

/* A whole TCP connection: handshake, data, FIN both ways, port reuse. */
static void tcp_flow(const char *c, const char *f, const char *b, int bi)
{
	struct steer_backend_stats s0 = bstats("web", 0, bi), s1;
	__u16 cp = 41000;

	send_expect("SYN", (struct pkt_spec){ c, f, cp, 80, 6, TCP_SYN }, c, cp,
		    b, 8080);
	ASSERT_EQ(ct_state(c, cp, f, 80, 6), STEER_CT_NEW);
	send_expect("SYN retransmitted",
		    (struct pkt_spec){ c, f, cp, 80, 6, TCP_SYN }, c, cp, b,
		    8080);
	send_expect("SYN-ACK reverse-NATed",
		    (struct pkt_spec){ b, c, 8080, cp, 6, TCP_SYN | TCP_ACK },
		    f, 80, c, cp);
	ASSERT_EQ(ct_state(c, cp, f, 80, 6), STEER_CT_ESTABLISHED);
	ASSERT_EQ(ct_state(b, 8080, c, cp, 6), STEER_CT_ESTABLISHED);
	send_expect("ACK", (struct pkt_spec){ c, f, cp, 80, 6, TCP_ACK }, c, cp,
		    b, 8080);
	send_expect("data",
		    (struct pkt_spec){ c, f, cp, 80, 6, TCP_ACK | TCP_PSH,
				       .payload = 100 },
		    c, cp, b, 8080);
	send_expect("reply data",
		    (struct pkt_spec){ b, c, 8080, cp, 6, TCP_ACK | TCP_PSH,
				       .payload = 200 },
		    f, 80, c, cp);
	send_expect("client FIN",
		    (struct pkt_spec){ c, f, cp, 80, 6, TCP_FIN | TCP_ACK }, c,
		    cp, b, 8080);
	ASSERT_EQ(ct_state(c, cp, f, 80, 6), STEER_CT_ESTABLISHED);
	send_expect("backend FIN",
		    (struct pkt_spec){ b, c, 8080, cp, 6, TCP_FIN | TCP_ACK },
		    f, 80, c, cp);
	ASSERT_EQ(ct_state(c, cp, f, 80, 6), STEER_CT_CLOSED);
	ASSERT_EQ(ct_state(b, 8080, c, cp, 6), STEER_CT_CLOSED);
	send_expect("last ACK still NATed",
		    (struct pkt_spec){ c, f, cp, 80, 6, TCP_ACK }, c, cp, b,
		    8080);
	s1 = bstats("web", 0, bi);
	ASSERT_EQ(s1.connections - s0.connections, 1);
	ASSERT_EQ(s1.established - s0.established, 1);
	ASSERT_EQ(s1.closed - s0.closed, 1);
	ASSERT_EQ(s1.failed - s0.failed, 0);
	ASSERT_EQ(s1.packets_to - s0.packets_to, 6);
	ASSERT_EQ(s1.packets_from - s0.packets_from, 3);
	ASSERT_TRUE(s1.bytes_to - s0.bytes_to >= 6 * 54);

	/* the port used again after the close: a new flow */
	send_expect("SYN on a closed flow",
		    (struct pkt_spec){ c, f, cp, 80, 6, TCP_SYN }, c, cp, b,
		    8080);
	ASSERT_EQ(ct_state(c, cp, f, 80, 6), STEER_CT_NEW);
	ASSERT_EQ(bstats("web", 0, bi).connections - s0.connections, 2);
	/* backend refuses: RST before established is a failure */
	send_expect("RST from backend",
		    (struct pkt_spec){ b, c, 8080, cp, 6, TCP_RST | TCP_ACK },
		    f, 80, c, cp);
	ASSERT_EQ(ct_state(c, cp, f, 80, 6), STEER_CT_CLOSED);
	ASSERT_EQ(bstats("web", 0, bi).failed - s0.failed, 1);
}

TEST(flow_tcp_v4)
{
	tcp_flow(C4, F4, B14, 0);
}

TEST(flow_tcp_v6)
{
	tcp_flow(C6, F6, B16, 1);
}

TEST(flow_udp)
{
	struct steer_backend_stats s0 = bstats("web", 0, 0);

	send_expect("first datagram",
		    (struct pkt_spec){ C4, F4, 42000, 53, 17, .payload = 3 },
		    C4, 42000, B14, 8080);
	ASSERT_EQ(ct_state(C4, 42000, F4, 53, 17), STEER_CT_NEW);
	send_expect("answer",
		    (struct pkt_spec){ B14, C4, 8080, 42000, 17, .payload = 9,
				       .udp_nocsum = true },
		    F4, 53, C4, 42000);
	ASSERT_EQ(ct_state(C4, 42000, F4, 53, 17), STEER_CT_ESTABLISHED);
	send_expect("second datagram",
		    (struct pkt_spec){ C4, F4, 42000, 53, 17, .payload = 3 },
		    C4, 42000, B14, 8080);
	send_expect("v6 first datagram",
		    (struct pkt_spec){ C6, F6, 42000, 53, 17, .payload = 3 },
		    C6, 42000, B16, 8080);
	send_expect("v6 answer",
		    (struct pkt_spec){ B16, C6, 8080, 42000, 17, .payload = 1 },
		    F6, 53, C6, 42000);
	ASSERT_EQ(bstats("web", 0, 0).established - s0.established, 1);
	ASSERT_EQ(bstats("web", 0, 0).connections - s0.connections, 1);
}

TEST(reply_without_flow_untouched)
{
	__u64 before = reason(STEER_REASON_TC_PASS);

	send_expect(
		"stray reply",
		(struct pkt_spec){ B14, C4, 8080, 49999, 6, TCP_SYN | TCP_ACK },
		NULL, 0, NULL, 0);
	ASSERT_EQ(reason(STEER_REASON_TC_PASS) - before, 1);
}

/* A route change moves no flow: a removed backend keeps its flows. */
TEST(removed_backend_keeps_flow)
{
	__u16 cp = 43000;

	send_expect("SYN", (struct pkt_spec){ C4, F4, cp, 80, 6 }, C4, cp, B14,
		    8080);
	send_expect(
		"SYN-ACK",
		(struct pkt_spec){ B14, C4, 8080, cp, 6, TCP_SYN | TCP_ACK },
		F4, 80, C4, cp);
	ASSERT_EQ(apply_yaml(Y_ROUTE_MOVED), 0);
	send_expect("ACK after the change still to the old backend",
		    (struct pkt_spec){ C4, F4, cp, 80, 6, TCP_ACK }, C4, cp,
		    B14, 8080);
	send_expect("reply from the old backend",
		    (struct pkt_spec){ B14, C4, 8080, cp, 6, TCP_ACK }, F4, 80,
		    C4, cp);
	send_expect("a new flow goes to the new backend",
		    (struct pkt_spec){ C4, F4, cp + 1, 80, 6 }, C4, cp + 1,
		    "10.244.1.6", 8080);
	ASSERT_EQ(apply_yaml(Y_ROUTE), 0);
}

/* Version and backend of a SYN from @src:@sport to @vip:80 (its output
 * destination's last byte: 5/6 = v1, 7/8 = v2, 3 = v3), -1 on error. */
static int chosen(const char *src, __u16 sport, const char *vip)
{
	struct pkt_spec sp = { src, vip, sport, 80, 6, TCP_SYN };
	__u8 in[PKT_MAX];
	struct run_out out;
	size_t len = build(&sp, in);

	if (run_pkt(in, len, &out) || out.verdict != TC_ACT_OK)
		return -1;
	return out.pkt[14 + 19];
}

/* A lost entry (LRU) is decided again to the same backend. */
TEST(lost_entry_recreated_same_backend)
{
	struct steer_ct_key k = { .family = STEER_FAM_INET, .proto = 6 };
	struct steer_ct_key r = k;
	__u64 before;
	__u16 cp = 44000;

	ASSERT_EQ(apply_yaml(Y_SPLIT), 0);
	/* 2 versions x 2 backends: find a flow and drop its entries */
	ASSERT_TRUE(chosen(C4, cp, "10.96.0.20") > 0);
	inet_pton(AF_INET, C4, k.saddr);
	inet_pton(AF_INET, "10.96.0.20", k.daddr);
	k.sport = htons(cp);
	k.dport = htons(80);
	struct steer_ct_entry e, again;

	ASSERT_EQ(bpf_map_lookup_elem(ct_fd, &k, &e), 0);
	memcpy(r.saddr, e.nat_addr, 16);
	memcpy(r.daddr, k.saddr, 16);
	r.sport = e.nat_port;
	r.dport = k.sport;
	ASSERT_EQ(bpf_map_delete_elem(ct_fd, &k), 0);
	ASSERT_EQ(bpf_map_delete_elem(ct_fd, &r), 0);
	before = reason(STEER_REASON_TC_CT_RECREATED);
	char be[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, e.nat_addr, be, sizeof(be));
	send_expect("mid-flow ACK without entry",
		    (struct pkt_spec){ C4, "10.96.0.20", cp, 80, 6, TCP_ACK },
		    C4, cp, be, 80);
	ASSERT_EQ(reason(STEER_REASON_TC_CT_RECREATED) - before, 1);
	ASSERT_EQ(bpf_map_lookup_elem(ct_fd, &k, &again), 0);
	ASSERT_EQ(again.state, STEER_CT_ESTABLISHED);
	ASSERT_EQ(memcmp(again.nat_addr, e.nat_addr, 16), 0);
	send_expect("reply finds the recreated entry",
		    (struct pkt_spec){ be, C4, 80, cp, 6, TCP_ACK },
		    "10.96.0.20", 80, C4, cp);
}

TEST(split_80_20_by_flow_hash)
{
	int v[3] = { 0 }, n = 0, v2_500 = 0;

	ASSERT_EQ(apply_yaml(Y_SPLIT), 0);
	for (int i = 0; i < 10000; i++) {
		int last =
			chosen("10.244.5.1", (__u16)(20000 + i), "10.96.0.20");

		if (last < 0) {
			FAIL_AT("run %d: no backend", i);
			return;
		}
		v[last == 5 || last == 6 ? 0 : last == 3 ? 2 : 1]++;
		if (i < 500)
			v2_500 += last == 7 || last == 8;
		n++;
	}
	/* a hash of the 5-tuple: binomial, sd 0.4 points over 10000 */
	ASSERT_TRUE(v[0] >= 7800 && v[0] <= 8200);
	ASSERT_EQ(v[2], 0);
	ASSERT_TRUE(v2_500 >= 75 && v2_500 <= 125);
	/* the same flow decided twice gets the same backend */
	ASSERT_EQ(chosen("10.244.5.1", 20001, "10.96.0.20"),
		  chosen("10.244.5.1", 20001, "10.96.0.20"));
}

TEST(affinity_client_by_source)
{
	int first, spread[256] = { 0 }, distinct = 0;

	ASSERT_EQ(apply_yaml(Y_SPLIT), 0);
	first = chosen("10.244.5.1", 30000, "10.96.0.30");
	ASSERT_TRUE(first > 0);
	for (int i = 1; i < 200; i++)
		ASSERT_EQ(
			chosen("10.244.5.1", (__u16)(30000 + i), "10.96.0.30"),
			first);
	for (int i = 1; i <= 200; i++) {
		char src[32];

		snprintf(src, sizeof(src), "10.244.6.%d", i);
		spread[chosen(src, 30000, "10.96.0.30") & 0xff]++;
	}
	for (int i = 0; i < 256; i++)
		distinct += spread[i] > 0;
	ASSERT_EQ(distinct, 4); /* 200 clients reach all four backends */
}

/* ---- passive health ---------------------------------------------------- */

/* v1's two backends may both be ejected (max-ejected 100%); v3 is dark. */
static const char Y_HEALTH[] =
	"kind: Route\n"
	"name: health\n"
	"frontends: [10.96.0.50:80]\n"
	"versions:\n"
	"  v1: {backends: [10.244.1.5, 10.244.1.6]}\n"
	"  v2: {backends: [10.244.2.7]}\n"
	"  v3: {backends: [10.244.3.3]}\n"
	"rules:\n"
	"  - name: default\n"
	"    split: {v1: 90, v2: 10, v3: 0}\n"
	"health: {failures: 2, eject: 30s, max-ejected: 100%}\n";
#define FH "10.96.0.50"

/* The passive-health entry of backend @b of version @v of route "health". */
static struct steer_health health_of(int v, int b)
{
	struct steer_health h = { 0 };
	struct steer_route_cfg *cfg = calloc(1, sizeof(*cfg));
	int id = cfg ? maps_route_find(&maps, "health", cfg) : -ENOMEM;

	if (id >= 0 &&
	    maps_health_read(&maps, (__u32)id, cfg->versions[v].counter_slot,
			     cfg->versions[v].backends[b].counter_slot, &h))
		memset(&h, 0, sizeof(h));
	route_cfg_destroy(cfg, 1);
	return h;
}

static bool ejected(int v, int b)
{
	return health_of(v, b).ejected_until_ns > mono_ns();
}

/*
 * One TCP flow from C4:*@port (advanced past it) that the program sends to
 * backend 10.244.@v.@last, answered by that backend with an RST: a failed
 * connect. False when no flow of 2000 reached it.
 */
static bool refused_by(int v, int last, __u16 *port)
{
	char b[INET_ADDRSTRLEN];

	snprintf(b, sizeof(b), "10.244.%d.%d", v, last);
	for (int i = 0; i < 2000; i++) {
		__u16 cp = (*port)++;

		if (chosen(C4, cp, FH) != last)
			continue;
		return send_expect("RST from the backend to a SYN",
				   (struct pkt_spec){ b, C4, 80, cp, 6,
						      TCP_RST | TCP_ACK },
				   FH, 80, C4, cp);
	}
	FAIL_AT("no flow reached %s", b);
	return false;
}

/* Where 300 new flows go: counts by the backend's last byte; -1 dropped. */
static void spread_of(__u16 *port, int n[256], int *dropped)
{
	struct pkt_spec sp = { C4, FH, 0, 80, 6, TCP_SYN };
	__u8 in[PKT_MAX];
	struct run_out out;

	*dropped = 0;
	memset(n, 0, 256 * sizeof(n[0]));
	for (int i = 0; i < 300; i++) {
		sp.sport = (*port)++;
		if (run_pkt(in, build(&sp, in), &out)) {
			FAIL_AT("test run failed");
			return;
		}
		if (out.verdict == TC_ACT_SHOT)
			(*dropped)++;
		else
			n[out.pkt[14 + 19]]++;
	}
}

/*
 * An ejected backend gets no new TC flow; a version with none left fails
 * over to the rule's other versions by their split (the 0% one stays
 * dark); nothing left: dropped and counted as all_ejected.
 */
TEST(ejected_backend_not_chosen)
{
	__u64 ej0 = reason(STEER_REASON_ALL_EJECTED), fo0, nb0;
	__u16 port = 50000;
	int n[256], dropped;

	ASSERT_EQ(apply_yaml(Y_HEALTH), 0);
	/* exactly two failures eject 10.244.1.5 */
	ASSERT_TRUE(refused_by(1, 5, &port));
	ASSERT_TRUE(!ejected(0, 0));
	spread_of(&port, n, &dropped);
	ASSERT_TRUE(n[5] > 0 && n[6] > 0);
	ASSERT_TRUE(refused_by(1, 5, &port));
	ASSERT_TRUE(ejected(0, 0));
	ASSERT_EQ(health_of(0, 0).ejections, 1);
	spread_of(&port, n, &dropped);
	ASSERT_EQ(dropped, 0);
	ASSERT_EQ(n[5], 0);
	ASSERT_TRUE(n[6] > 200 && n[7] > 0 && n[6] + n[7] == 300);

	/* v1 all ejected: its share goes to v2, never to the dark v3 */
	fo0 = reason(STEER_REASON_FAILOVER);
	ASSERT_TRUE(refused_by(1, 6, &port));
	ASSERT_TRUE(refused_by(1, 6, &port));
	ASSERT_TRUE(ejected(0, 1));
	spread_of(&port, n, &dropped);
	ASSERT_EQ(dropped, 0);
	ASSERT_EQ(n[7], 300);
	ASSERT_TRUE(reason(STEER_REASON_FAILOVER) - fo0 > 200);

	/* nothing left: every new flow dropped and counted */
	ASSERT_TRUE(refused_by(2, 7, &port));
	ASSERT_TRUE(refused_by(2, 7, &port));
	ASSERT_TRUE(ejected(1, 0));
	ASSERT_TRUE(!ejected(2, 0));
	nb0 = reason(STEER_REASON_NO_BACKEND);
	spread_of(&port, n, &dropped);
	ASSERT_EQ(dropped, 300);
	ASSERT_EQ(reason(STEER_REASON_ALL_EJECTED) - ej0, 300);
	ASSERT_EQ(reason(STEER_REASON_NO_BACKEND), nb0);
	ASSERT_EQ(apply_yaml(Y_ROUTE), 0);
}

/* v1: twelve backends listed together (a node), then one more; v2 beside. */
static const char Y_HEALTH_RUN[] =
	"kind: Route\n"
	"name: health\n"
	"frontends: [10.96.0.50:80]\n"
	"versions:\n"
	"  v1: {backends: [10.244.1.10, 10.244.1.11, 10.244.1.12, 10.244.1.13,"
	" 10.244.1.14, 10.244.1.15, 10.244.1.16, 10.244.1.17, 10.244.1.18,"
	" 10.244.1.19, 10.244.1.20, 10.244.1.21, 10.244.1.30]}\n"
	"  v2: {backends: [10.244.2.7]}\n"
	"rules:\n"
	"  - name: default\n"
	"    split: {v1: 90, v2: 10}\n"
	"health: {failures: 1, eject: 30s, max-ejected: 100%}\n";

/*
 * A run of ejected backends keeps its version's share in the version: with
 * the twelve ejected, v1's 90 % of new flows all reach the thirteenth,
 * whichever ref their draw lands on (the scan goes past the first eight it
 * tries), and none fails over to v2 for v1 looking empty.
 */
TEST(run_of_ejected_backends_stays_in_version)
{
	__u64 fo0;
	__u16 port = 40000;
	int n[256], dropped, v1 = 0;

	ASSERT_EQ(apply_yaml(Y_HEALTH_RUN), 0);
	for (int i = 0; i < 12; i++) {
		ASSERT_TRUE(refused_by(1, 10 + i, &port));
		ASSERT_TRUE(ejected(0, i));
	}
	fo0 = reason(STEER_REASON_FAILOVER);
	spread_of(&port, n, &dropped);
	ASSERT_EQ(dropped, 0);
	for (int i = 10; i <= 21; i++)
		v1 += n[i];
	ASSERT_EQ(v1, 0);
	ASSERT_EQ(n[30] + n[7], 300);
	ASSERT_TRUE(n[30] > 240);
	ASSERT_EQ(reason(STEER_REASON_FAILOVER), fo0);
	ASSERT_EQ(apply_yaml(Y_ROUTE), 0);
}

/*
 * A version larger than STEER_HEALTH_PROBES: 200 backends, the first 80 of
 * the list ejected together (a zone), a run longer than the probes. The
 * probes a stride apart leave it at once: every new flow of v1's share
 * reaches one of the other 120, none fails over to v2.
 */
TEST(run_of_ejected_in_a_large_version_stays_in_version)
{
	char *y = malloc(8192);
	size_t off;
	__u64 fo0;
	__u16 port = 5000; /* below every other test's flows to FH */
	int n[256], dropped, down = 0, up = 0;

	ASSERT_TRUE(y != NULL);
	off = (size_t)snprintf(y, 8192,
			       "kind: Route\nname: health\n"
			       "frontends: [10.96.0.50:80]\nversions:\n"
			       "  v1: {backends: [");
	for (int i = 0; i < 200; i++)
		off += (size_t)snprintf(y + off, 8192 - off, "%s10.244.1.%d",
					i ? ", " : "", 50 + i);
	snprintf(y + off, 8192 - off,
		 "]}\n  v2: {backends: [10.244.2.7]}\n"
		 "rules:\n  - name: default\n    split: {v1: 90, v2: 10}\n"
		 "health: {failures: 1, eject: 30s, max-ejected: 50%%}\n");
	ASSERT_EQ(apply_yaml(y), 0);
	free(y);
	for (int i = 0; i < 80; i++) {
		ASSERT_TRUE(refused_by(1, 50 + i, &port));
		ASSERT_TRUE(ejected(0, i));
	}
	fo0 = reason(STEER_REASON_FAILOVER);
	spread_of(&port, n, &dropped);
	ASSERT_EQ(dropped, 0);
	for (int i = 50; i < 250; i++)
		*(i < 130 ? &down : &up) += n[i];
	ASSERT_EQ(down, 0);
	ASSERT_EQ(up + n[7], 300);
	ASSERT_TRUE(up > 240);
	ASSERT_EQ(reason(STEER_REASON_FAILOVER), fo0);
	ASSERT_EQ(apply_yaml(Y_ROUTE), 0);
}

/* ---- benchmark (make bench-tc) ------------------------------------------- */

/*
 * ns per packet of @fd on @sp, as the mean of @runs single runs. Not one
 * run with .repeat: the kernel repeats a program on the same skb, so from
 * the second run on a rewriting path would see its own rewritten packet
 * (addressed to the backend: the non-frontend path), not @sp.
 */
static double ns_per_packet(int fd, const struct pkt_spec *sp, __u32 runs)
{
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len = build(sp, in);
	double sum = 0;

	for (__u32 i = 0; i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
			    .data_size_in = (__u32)len, .data_out = out,
			    .data_size_out = PKT_MAX, .repeat = 1);

		if (bpf_prog_test_run_opts(fd, &opts))
			return -1;
		sum += opts.duration;
	}
	return sum / runs;
}

/*
 * ns per new flow: a new flow cannot repeat in the kernel (its second run
 * finds the entry the first made), so each run is one BPF_PROG_TEST_RUN
 * after the flow's entries are deleted; @base is the empty program's cost
 * measured the same way.
 */
static double ns_new_flow(const struct pkt_spec *sp, int runs, int efd,
			  double *base)
{
	struct steer_ct_key k = { .family = STEER_FAM_INET, .proto = 6 }, r;
	__u8 in[PKT_MAX], out[PKT_MAX];
	size_t len = build(sp, in);
	struct steer_ct_entry e;
	double sum = 0, esum = 0;

	inet_pton(AF_INET, sp->src, k.saddr);
	inet_pton(AF_INET, sp->dst, k.daddr);
	k.sport = htons(sp->sport);
	k.dport = htons(sp->dport);
	for (int i = 0; i < runs; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in,
			    .data_size_in = (__u32)len, .data_out = out,
			    .data_size_out = PKT_MAX, .repeat = 1);

		if (!bpf_map_lookup_elem(ct_fd, &k, &e)) {
			r = k;
			memcpy(r.saddr, e.nat_addr, 16);
			memcpy(r.daddr, k.saddr, 16);
			r.sport = e.nat_port;
			r.dport = k.sport;
			bpf_map_delete_elem(ct_fd, &k);
			bpf_map_delete_elem(ct_fd, &r);
		}
		if (bpf_prog_test_run_opts(prog_fd, &o))
			return -1;
		sum += o.duration;
		o.duration = 0;
		if (bpf_prog_test_run_opts(efd, &o))
			return -1;
		esum += o.duration;
	}
	*base = esum / runs;
	return sum / runs;
}

/*
 * Not a test (BENCH: runs only with -t benchmark, as make bench-tc does):
 * prints ns per packet by path, minus an empty sched_cls program run the
 * same way (STEER_TC_BENCH_RUNS single runs each, default 20000). The
 * established packet is checked to leave DNATed to the backend.
 */
BENCH(benchmark)
{
	const char *env = getenv("STEER_TC_BENCH_RUNS");
	__u32 runs = env ? (__u32)strtoul(env, NULL, 10) : 20000;
	int efd = bpf_program__fd(empty->progs.test_empty);
	struct pkt_spec est = { C4, F4, 45000, 80, 6, TCP_ACK };
	struct pkt_spec syn = { C4, F4, 45000, 80, 6, TCP_SYN };
	struct pkt_spec syn2 = { C4, F4, 45001, 80, 6, TCP_SYN };
	struct pkt_spec rep = { B14, C4, 8080, 45000, 6, TCP_ACK };
	struct pkt_spec non = { C4, "10.96.0.99", 45000, 80, 6, TCP_ACK };
	double base, e, r, n, s, sbase = 0;

	ASSERT_EQ(apply_yaml(Y_ROUTE), 0);
	send_expect("bench flow", syn, C4, 45000, B14, 8080);
	send_expect("bench established", est, C4, 45000, B14, 8080);
	if (runs < 1)
		runs = 1;
	base = ns_per_packet(efd, &est, runs);
	e = ns_per_packet(prog_fd, &est, runs);
	r = ns_per_packet(prog_fd, &rep, runs);
	n = ns_per_packet(prog_fd, &non, runs);
	s = ns_new_flow(&syn2, runs < 20000 ? runs : 20000, efd, &sbase);
	ASSERT_TRUE(base >= 0 && e >= 0 && r >= 0 && n >= 0 && s >= 0);
	printf("  bench: empty %.0f ns (%u single runs each); minus empty: "
	       "established %.0f, reply %.0f, non-frontend %.0f, "
	       "new flow %.0f ns/packet\n",
	       base, runs, e - base, r - base, n - base, s - sbase);
}

/* ---- setup ------------------------------------------------------------ */

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("STEER_TEST_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void cleanup(void)
{
	if (skel)
		steer_tc__destroy(skel);
	if (empty)
		steer_test_empty__destroy(empty);
	skel = NULL;
	empty = NULL;
	rmdir(tmpdir);
}

static int setup(void)
{
	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	atexit(cleanup);
	skel = steer_tc__open_and_load();
	empty = steer_test_empty__open_and_load();
	if (!skel || !empty) {
		fprintf(stderr, "failed to load tc.bpf.o / test_empty: %s\n",
			strerror(errno));
		return -1;
	}
	use_instance(skel);
	return apply_yaml(Y_ROUTE);
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_quiet);
	if (setup()) {
		/* the runner needs a summary line even when nothing ran */
		printf("0 passed, 1 failed\n");
		return 1;
	}
	return test_main(argc, argv);
}

/* ---- conntrack expiry (steerd's sweep, agent/tc.c) --------------------- */

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* Open a flow C4:@cp and run it to @state (NEW, ESTABLISHED, CLOSED). */
static void open_flow(__u16 cp, int state)
{
	send_expect("SYN", (struct pkt_spec){ C4, F4, cp, 80, 6 }, C4, cp, B14,
		    8080);
	if (state >= STEER_CT_ESTABLISHED)
		send_expect("SYN-ACK",
			    (struct pkt_spec){ B14, C4, 8080, cp, 6,
					       TCP_SYN | TCP_ACK },
			    F4, 80, C4, cp);
	if (state == STEER_CT_CLOSED)
		send_expect("RST",
			    (struct pkt_spec){ C4, F4, cp, 80, 6, TCP_RST }, C4,
			    cp, B14, 8080);
}

/* Empty the conntrack map: counts below are of this test's flows only. */
static void ct_clear(void)
{
	struct steer_ct_key k;

	for (int i = 0; i < 100000 && !bpf_map_get_next_key(ct_fd, NULL, &k);
	     i++)
		bpf_map_delete_elem(ct_fd, &k);
}

TEST(conntrack_sweep_by_state_timeout)
{
	__u64 now, s = 1000000000ULL;

	ASSERT_EQ(apply_yaml(Y_ROUTE), 0);
	ct_clear();
	open_flow(46000, STEER_CT_NEW);
	open_flow(46001, STEER_CT_ESTABLISHED);
	open_flow(46002, STEER_CT_CLOSED);
	now = mono_ns();
	/* now: nothing is idle */
	ASSERT_EQ(tc_ct_sweep(ct_fd, now), 0);
	/* 11 s on: only the closed flow (10 s) goes, both its entries */
	ASSERT_EQ(tc_ct_sweep(ct_fd, now + 11 * s), 1);
	ASSERT_EQ(ct_state(C4, 46002, F4, 80, 6), -1);
	ASSERT_EQ(ct_state(B14, 8080, C4, 46002, 6), -1);
	ASSERT_EQ(ct_state(C4, 46000, F4, 80, 6), STEER_CT_NEW);
	/* 61 s: the unanswered SYN too; the established flow stays */
	ASSERT_EQ(tc_ct_sweep(ct_fd, now + 61 * s), 1);
	ASSERT_EQ(ct_state(C4, 46000, F4, 80, 6), -1);
	ASSERT_EQ(ct_state(C4, 46001, F4, 80, 6), STEER_CT_ESTABLISHED);
	ASSERT_EQ(ct_state(B14, 8080, C4, 46001, 6), STEER_CT_ESTABLISHED);
	/* past the established timeout everything goes */
	ASSERT_TRUE(tc_ct_sweep(ct_fd,
				now + (STEER_CT_TIMEOUT_TCP_S + 1) * s) >= 1);
	ASSERT_EQ(ct_state(C4, 46001, F4, 80, 6), -1);
	ASSERT_EQ(ct_state(B14, 8080, C4, 46001, 6), -1);
}

/* A flow whose client still talks keeps its idle reply entry. */
TEST(conntrack_sweep_keeps_half_idle_flow)
{
	struct steer_ct_key k = { .family = STEER_FAM_INET, .proto = 17 };
	struct steer_ct_entry e;
	__u64 now = mono_ns(), s = 1000000000ULL;

	send_expect("datagram",
		    (struct pkt_spec){ C4, F4, 46100, 53, 17, .payload = 1 },
		    C4, 46100, B14, 8080);
	/* age the reply entry only */
	inet_pton(AF_INET, B14, k.saddr);
	inet_pton(AF_INET, C4, k.daddr);
	k.sport = htons(8080);
	k.dport = htons(46100);
	ASSERT_EQ(bpf_map_lookup_elem(ct_fd, &k, &e), 0);
	e.last_seen_ns = now - 120 * s;
	ASSERT_EQ(bpf_map_update_elem(ct_fd, &k, &e, BPF_EXIST), 0);
	ASSERT_EQ(tc_ct_sweep(ct_fd, now), 0);
	ASSERT_EQ(ct_state(B14, 8080, C4, 46100, 17), STEER_CT_NEW);
}

/*
 * A full conntrack table: new flows keep coming (each inserted, the LRU
 * evicting), and a flow that carries packets both ways keeps both its
 * entries throughout. Run on a second instance with a 64-entry table.
 */
TEST(full_table_keeps_busy_flow)
{
	int broken = 0, i;
	struct steer_tc *small = steer_tc__open();

	ASSERT_TRUE(small);
	if (bpf_map__set_max_entries(small->maps.steer_ct_v1, 64) ||
	    steer_tc__load(small)) {
		steer_tc__destroy(small);
		FAIL_AT("small instance does not load");
		return;
	}
	use_instance(small);
	if (apply_yaml(Y_ROUTE)) {
		FAIL_AT("apply");
		goto out;
	}
	open_flow(47000, STEER_CT_ESTABLISHED);
	for (i = 0; i < 2000 && !broken; i++) {
		char desc[64];

		snprintf(desc, sizeof(desc), "new flow %d", i);
		send_expect(desc, (struct pkt_spec){ C6, F6, 10000 + i, 80, 6 },
			    C6, 10000 + i, B16, 8080);
		broken += !send_expect(
			"busy flow",
			(struct pkt_spec){ C4, F4, 47000, 80, 6, TCP_ACK }, C4,
			47000, B14, 8080);
		broken += !send_expect(
			"busy flow reply",
			(struct pkt_spec){ B14, C4, 8080, 47000, 6, TCP_ACK },
			F4, 80, C4, 47000);
	}
	if (broken)
		FAIL_AT("busy flow broken after %d new flows", i);
out:
	use_instance(skel);
	steer_tc__destroy(small);
}
