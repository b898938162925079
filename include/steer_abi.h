/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * steer map ABI: every key, value, enum and limit that both the BPF programs
 * and userspace (steerd, steerctl, tests) see. This is the only copy. The
 * pinned maps, their sizes and sizing rules are listed in
 * include/steer_abi.manifest and described in docs/map-abi.md.
 *
 * How a route is stored, and why a change is atomic (layout v2)
 * ------------------------------------------------------------
 * A route is an array of 64-byte rows (struct steer_route_hdr in row 0,
 * then rules, versions, backend references and, for affinity routes, the
 * stable selection tables), held in an inner ARRAY map of its own sized to
 * what the route holds (BPF_F_INNER_MAP: inner maps differ in max_entries
 * only). The outer map steer_routes_v2 (HASH_OF_MAPS, key route id) points
 * at the inner map that is live. To change a route, userspace builds a new
 * inner map, fills and freezes it, and replaces the outer entry with one
 * write; the kernel returns from that write only after every program that
 * could still read the old inner map has finished (synchronize_rcu), so a
 * connection sees the old route or the new one, never a mixture.
 *
 * What rows refer to lives in shared maps whose entries are immutable
 * while referenced: backend addresses (steer_backends_v2, one entry per
 * distinct address, shared by every route that names it) and match blocks
 * (steer_matches_v2, in one of two banks per route: a publish writes the
 * bank the live rows do not use, and the old bank is deleted only after
 * the swap). Nothing a reader can hold is ever written in place.
 *
 * Counters are per-CPU hash entries created on first use, keyed by route
 * and counter slot: memory grows with what is used, and a route's
 * counters follow the names of its rules, versions and backends.
 *
 * Map names carry a layout version (_v2). Change a struct below and the
 * name's version changes with it, so a stale pin is never misread
 * (make abi-check enforces it against the released manifests).
 */
#ifndef STEER_ABI_H
#define STEER_ABI_H

#ifdef __BPF__
/* vmlinux.h provides the __u8 .. __u64 and __be16/__be32 types. */
#else
#include <linux/types.h>
#endif

/* ---- Limits (per route unless stated) ---------------------------------- */
#define STEER_MAX_VERSIONS	 8    /* versions of one route */
#define STEER_MAX_RULES		 8    /* rules of one route */
#define STEER_MAX_POLICY	 8    /* allow entries; as many deny entries */
#define STEER_MAX_MATCH_ITEMS	 8    /* items of each match field */
#define STEER_MAX_BACKENDS	 4096 /* backends of one version */
#define STEER_MAX_FRONTENDS	 16   /* frontends of one route */
#define STEER_DEFAULT_MAX_ROUTES 256  /* routes per steerd (--max-routes) */
/* Distinct backend addresses per route of --max-routes (the size of
 * steer_backends_v2, shared by all routes). */
#define STEER_BACKENDS_PER_ROUTE 8
#define STEER_NAME_LEN		 64 /* route names: at most 63 chars + NUL */
#define STEER_SHORT_NAME_LEN	 32 /* version and rule names */

/* A split is given in 0.01 % steps: 100 % = 10000 points. */
#define STEER_SPLIT_POINTS 10000
/*
 * Selection tables (see compile.h): an affinity route keeps a stable
 * version table of STEER_SPLIT_POINTS entries per rule and family; a
 * version of an affinity route, or whose usable backends weigh unequally,
 * keeps a backend table of STEER_BACKEND_TABLE_UNIT entries per family.
 * 2520 = lcm(1..10): any weights whose sum divides 2520 are represented
 * exactly.
 */
#define STEER_BACKEND_TABLE_UNIT 2520
#define STEER_TABLE_NONE	 0xff	/* version table entry: no version */
#define STEER_BACKEND_NONE	 0xffff /* backend table entry: none */

/* Address families as table indices (not AF_* values). */
enum steer_family {
	STEER_FAM_INET = 0,
	STEER_FAM_INET6 = 1,
	STEER_FAM_COUNT = 2,
};

enum steer_proto {
	STEER_PROTO_TCP = 6,  /* IPPROTO_TCP */
	STEER_PROTO_UDP = 17, /* IPPROTO_UDP */
};

/* ---- steer_frontends_v2: struct steer_frontend_key -> steer_frontend --- */
struct steer_frontend_key {
	__u32 addr[4]; /* network order; IPv4 in addr[0], rest zero */
	__be16 port;
	__u8 family; /* enum steer_family */
	__u8 proto;  /* enum steer_proto */
};

struct steer_frontend {
	__u32 route_id;
	__be16 target_port; /* port for backends written without one; 0 =
			       dialled port */
	__u16 index;	    /* position in the route's frontend list */
};

/* ---- steer_matches_v2: match id -> struct steer_match ------------------ */
struct steer_cidr {
	__u32 addr[4]; /* network order, host bits zero */
	__u8 family;   /* enum steer_family */
	__u8 prefixlen;
	__u16 pad;
};

/*
 * One match block: a rule's match or one policy entry. Fields AND together,
 * items of one field OR together; a field with 0 items does not constrain.
 */
struct steer_match {
	__u8 n_sources;
	__u8 n_cgroups;
	__u8 n_uids;
	__u8 n_ports;
	__u32 pad;
	struct steer_cidr sources[STEER_MAX_MATCH_ITEMS];
	__u64 cgroup_ids[STEER_MAX_MATCH_ITEMS]; /* 0: cgroup did not exist */
	__u32 cgroup_levels[STEER_MAX_MATCH_ITEMS]; /* depth below the cgroup2
						       root */
	__u32 uids[STEER_MAX_MATCH_ITEMS];
	__u16 ports[STEER_MAX_MATCH_ITEMS]; /* host order */
};

/*
 * Match ids: route id << 6 | bank << 5 | position + 1 (position: rules
 * 0..7, allow 8..15, deny 16..23). 0 means "matches everything". A publish
 * writes the bank the live rows do not use (see the top of this file).
 */
#define STEER_MATCH_ALLOW_BASE 8
#define STEER_MATCH_DENY_BASE  16

static inline __u32 steer_match_id(__u32 route, __u32 bank, __u32 pos)
{
	return route << 6 | (bank & 1) << 5 | (pos + 1);
}

/* ---- steer_backends_v2: backend id -> struct steer_backend_addr -------- */
/*
 * One entry per distinct backend address, shared by every route and
 * version that names it (the id is kept in steer_backend_ids_v2). An id's
 * entry is written before any route refers to it and is reused for
 * another address only after no live route refers to it.
 */
struct steer_backend_addr {
	__u32 addr[4]; /* network order */
	__be16 port;   /* 0: the frontend's target port */
	__u8 family;   /* enum steer_family */
	__u8 pad;
};

#define STEER_BACKEND_ID_NONE 0 /* ids start at 1 */

/* ---- steer_routes_v2: route id -> inner ARRAY of 64-byte rows ---------- */
#define STEER_ROW_SIZE 64

enum steer_route_flags {
	STEER_ROUTE_AFFINITY_CLIENT =
		1 << 0, /* same client, same version+backend */
	STEER_ROUTE_DEFAULT_DENY = 1 << 1, /* policy.default: deny */
	STEER_ROUTE_OVERRIDE = 1 << 2, /* steerctl changed it; file did not */
};

/* Row 0. Row 1 is the route's name (char[STEER_NAME_LEN]). */
struct steer_route_hdr {
	__u32 flags; /* enum steer_route_flags */
	__u32 seed;  /* per-route hash seed (affinity, TC flows) */
	__u8 n_rules;
	__u8 n_versions;
	__u8 n_allow;
	__u8 n_deny;
	__u8 n_frontends;
	__u8 match_bank;   /* bank of this publish's match ids */
	__u16 n_rows;	   /* rows of this route (the inner map's size) */
	__u16 rule_row;	   /* first rule row; two rows per rule */
	__u16 version_row; /* first version row; one row per version */
	/*
	 * Passive health (route file "health:", lib/health.h). 0 failures:
	 * no health section, no ejection. Layout v1 wrote zero where the
	 * last three fields are (then "reserved"): zero means "none".
	 */
	__u32 health_failures; /* consecutive failed connects that eject */
	__u32 health_eject_ms; /* first ejection's length */
	/*
	 * The source hash, folded to 32 bits, with dns/srv entries as written
	 * instead of the addresses their answers gave (compile_source.c);
	 * 0: no dns/srv entry, or a steerd before them (this was padding,
	 * written zero). Userspace only: it tells "the file changed" from
	 * "only DNS answers changed" under a steerctl override.
	 */
	__u32 file_hash;
	__u64 generation;	   /* steerd's apply counter when published */
	__u64 source_hash;	   /* hash of the route as its file gives it */
	__u64 applied_ns;	   /* CLOCK_REALTIME of publication */
	__u32 health_max_eject_ms; /* cap of the doubling ejection time */
	__u16 max_connections;	   /* per backend, TCP; 0: no limit */
	__u8 health_max_ejected;   /* % of a version's backends ejected at
				      once (at least one) */
	__u8 pad;
};

/* Rule r: row rule_row + 2r (what the datapath reads) ... */
struct steer_rule_row {
	/*
	 * Cumulative split per family in 0.01 % units: version v takes the
	 * points [cum[f][v-1], cum[f][v]). A version with no usable backend
	 * of family f has its share handed to the rule's other versions by
	 * their weights; cum[f][n_versions - 1] is 10000, or 0 when no
	 * version has a usable backend of f (connection refused).
	 */
	__u16 cum[STEER_FAM_COUNT][STEER_MAX_VERSIONS];
	__u32 match_id;	   /* 0: matches everything; else the rule's block is
			      steer_match_id(route, hdr.match_bank, rule) */
	__u16 table_row;   /* affinity: first row of the version tables (one
			      table of STEER_SPLIT_POINTS bytes per family,
			      back to back); 0: none */
	__u8 counter_slot; /* counter slot of this rule (follows its name) */
	__u8 pad[25];
};

/* ... and row rule_row + 2r + 1 (what userspace shows and edits). */
struct steer_rule_meta {
	char name[STEER_SHORT_NAME_LEN];
	__u16 file_split[STEER_MAX_VERSIONS]; /* 0.01 % units, as the file */
	__u16 split[STEER_MAX_VERSIONS];      /* 0.01 % units, in force */
};

enum steer_version_flags {
	/* every usable backend of the family has the same weight: choose
	 * by index, no search */
	STEER_VERSION_EQUAL_INET = 1 << 0,
	STEER_VERSION_EQUAL_INET6 = 1 << 1,
};

/* Version v: row version_row + v. */
struct steer_version_row {
	char name[STEER_SHORT_NAME_LEN];
	__u16 refs_row[STEER_FAM_COUNT];     /* first row of backend refs */
	__u16 n_refs[STEER_FAM_COUNT];	     /* backends of the family */
	__u32 total_weight[STEER_FAM_COUNT]; /* of the usable ones; 0: none */
	__u16 table_row[STEER_FAM_COUNT];    /* backend table (__u16 entries,
						ref index) of an affinity route
						or of unequal weights; 0: none
						(choose by index) */
	__u16 table_len[STEER_FAM_COUNT];    /* entries of that table */
	__u8 counter_slot;		     /* follows the version's name */
	__u8 flags;			     /* enum steer_version_flags */
	/*
	 * The health-aware choice's step through the family's refs
	 * (bpf/lib/decide.h): coprime with n_refs, about 0.618 n_refs.
	 * 0, as rows of an earlier release have it: 1.
	 */
	__u16 probe_stride[STEER_FAM_COUNT];
	__u8 pad[2];
};

enum steer_backend_flags {
	STEER_BACKEND_EJECTED = 1 << 0, /* gets no new connections */
};

/* A version's backend of one family: four to a row, in file order. */
struct steer_backend_ref {
	__u32 id;	    /* steer_backends_v2 */
	__u32 cum;	    /* cumulative weight of usable refs up to this one
			       (what a table is filled from; shown by steerctl) */
	__u16 counter_slot; /* follows the address within the version */
	__u16 weight;
	__u8 flags; /* enum steer_backend_flags */
	__u8 pad[3];
};

#define STEER_REFS_PER_ROW   (STEER_ROW_SIZE / sizeof(struct steer_backend_ref))
#define STEER_TABLE_PER_ROW  STEER_ROW_SIZE	  /* version table: __u8 */
#define STEER_BTABLE_PER_ROW (STEER_ROW_SIZE / 2) /* backend table: __u16 */
/* Row 0 .. 65535: a route of at most 64 Ki rows (4 MB). */
#define STEER_MAX_ROWS 65535

/* ---- counters (PERCPU_HASH, created on first use) ---------------------- */
enum steer_layer {
	STEER_LAYER_SOCK = 0,
	STEER_LAYER_TC = 1,
	STEER_LAYER_COUNT = 2,
};

/* Slot values meaning "no rule" / "no version" (policy denials, no rule). */
#define STEER_COUNTER_NO_RULE	 STEER_MAX_RULES
#define STEER_COUNTER_NO_VERSION STEER_MAX_VERSIONS

/* steer_stats_v2: (route, rule counter slot, version counter slot) */
struct steer_stats_key {
	__u32 route;
	__u8 rule;    /* counter_slot; STEER_COUNTER_NO_RULE when none */
	__u8 version; /* counter_slot; STEER_COUNTER_NO_VERSION when none */
	__u16 pad;
};

struct steer_stats {
	__u64 connections[STEER_LAYER_COUNT]; /* new connections steered */
	__u64 denied[STEER_LAYER_COUNT];      /* policy denials */
	__u64 no_route[STEER_LAYER_COUNT];    /* no rule / no usable backend */
	__u64 reserved[2];
};

/*
 * steer_backend_stats_v2: per backend and layer. "to" is client ->
 * backend, "from" backend -> client. Active connections = established -
 * closed (sums over CPUs: a connection may open on one CPU and close on
 * another).
 */
struct steer_backend_stats_key {
	__u32 route;
	__u8 version;  /* counter_slot of the version */
	__u8 layer;    /* enum steer_layer */
	__u16 backend; /* counter_slot of the backend */
};

struct steer_backend_stats {
	__u64 connections; /* new connections / flows sent here */
	__u64 established; /* reached ESTABLISHED */
	__u64 failed;	   /* refused, timed out or reset before established */
	__u64 closed;	   /* established connections that ended */
	__u64 bytes_to;	   /* socket layer: at close; TC: per packet */
	__u64 bytes_from;
	__u64 packets_to;   /* TC layer only */
	__u64 packets_from; /* TC layer only */
};

/* ---- the decision's outcome (bpf/lib/decide.h steer_decide()) --------- */
/* Kept apart from enum steer_reason: a verdict is what happens to the
 * connection, a reason is what the counters record (STYLE.md 7). */
enum steer_verdict {
	STEER_VERDICT_STEER = 0,
	STEER_VERDICT_DENY,	  /* policy: EPERM / drop */
	STEER_VERDICT_NO_RULE,	  /* ECONNREFUSED / drop */
	STEER_VERDICT_NO_BACKEND, /* ECONNREFUSED / drop */
};

/* ---- steer_reasons_v2 (PERCPU_ARRAY): one counter per verdict reason --- */
/*
 * The map has STEER_REASON_SLOTS entries, more than there are reasons, so
 * that a new reason takes a free index without a new map (v1 grew with
 * each reason, and an upgrade then refused its pin).
 */
#define STEER_REASON_SLOTS 64
enum steer_reason {
	STEER_REASON_STEERED = 0,  /* destination rewritten to a backend */
	STEER_REASON_NOT_FRONTEND, /* not a frontend: untouched */
	STEER_REASON_POLICY_DENY,  /* EPERM */
	STEER_REASON_NO_RULE,	   /* ECONNREFUSED: no rule matched */
	STEER_REASON_NO_BACKEND,   /* ECONNREFUSED: no usable backend */
	STEER_REASON_NO_ROUTE_CFG, /* frontend without route config */
	/* TC layer (bpf/tc.bpf.c): one count per packet or new flow */
	STEER_REASON_TC_PASS,	      /* not for steer (no frontend, no flow) */
	STEER_REASON_TC_FRAGMENT,     /* IP fragment: passed untouched */
	STEER_REASON_TC_MALFORMED,    /* truncated or bad header: untouched */
	STEER_REASON_TC_UNSUPPORTED,  /* IPv6 routing header, AH, ESP, ...:
					 passed untouched */
	STEER_REASON_TC_CT_FULL,      /* a new flow could not be tracked:
					 dropped */
	STEER_REASON_TC_CT_RECREATED, /* packet of a flow whose entry was
					 lost: decided again and tracked */
	STEER_REASON_TC_REWRITE_FAILED, /* a rewrite helper failed: dropped */
	/* passive health and limits (lib/health.h); appended: the slots of
	 * the reasons above never move */
	STEER_REASON_ALL_EJECTED, /* ECONNREFUSED / drop: every backend of
				     every version the rule can use is
				     ejected */
	STEER_REASON_OVERFLOW,	  /* ECONNREFUSED / drop: the usable
				     backends are at max-connections */
	STEER_REASON_FAILOVER,	  /* steered to another version of the
				     rule: the drawn one had no usable
				     backend (counted besides STEERED) */
	STEER_REASON_COUNT,
};

/* ---- steer_sk_orig_v2 (SK_STORAGE): what the application dialled ------- */
/* Where a steered TCP socket is in its life, for counting each outcome once. */
enum steer_sk_state {
	STEER_SK_CONNECTING = 0,  /* connect() steered it; no outcome yet */
	STEER_SK_ESTABLISHED = 1, /* counted as established */
	STEER_SK_DONE = 2,	  /* counted as failed or closed */
};

/*
 * Written at connect(). The counter slots are copied from the config in
 * force then, so the sockops program counts the connection's outcome under
 * the rule, version and backend it was steered to even if the route has
 * changed (or is gone) by the time it closes.
 */
struct steer_sk_orig {
	__u32 addr[4]; /* frontend address, network order */
	__be16 port;   /* frontend port */
	__u8 family;
	__u8 version; /* index in the config at connect time */
	__u32 route_id;
	__u8 backend;	   /* low byte of the ref index at connect time */
	__u8 rule;	   /* index in the config at connect time */
	__u8 rule_slot;	   /* counter slots at connect time */
	__u8 version_slot; /* (counter_slot of the rule, version, backend) */
	__u8 backend_slot; /* low byte of the backend's counter slot */
	__u8 state;	   /* enum steer_sk_state */
	/*
	 * Layout v2 (4096 backends a version) uses what v1 left as padding
	 * (and wrote 0 to): the high byte of the backend's counter slot, and
	 * a mark of the layout that wrote the entry. The counter slots of a
	 * socket steered by layout v1 name v1's counters, so sockops counts
	 * its outcome only when the mark says v2 (docs/upgrade.md).
	 */
	__u8 backend_slot_hi;
	__u8 layout;	  /* STEER_LAYOUT_V2; 0: written by layout v1 */
	__u64 connect_ns; /* bpf_ktime_get_ns() at connect() */
};

#define STEER_LAYOUT_V2 2
/*
 * Layout v2, and the socket holds one of its backend's active connections
 * (steer_health_v1 .active, taken at connect() under max-connections):
 * sockops gives it back when the socket closes. Programs before health
 * wrote only STEER_LAYOUT_V2.
 */
#define STEER_LAYOUT_V2_ACTIVE 3

static inline int steer_sk_layout_v2(const struct steer_sk_orig *o)
{
	return o->layout == STEER_LAYOUT_V2 ||
	       o->layout == STEER_LAYOUT_V2_ACTIVE;
}

static inline __u16 steer_sk_backend_slot(const struct steer_sk_orig *o)
{
	return (__u16)(o->backend_slot | o->backend_slot_hi << 8);
}

/* ---- steer_sk_udp_v1 (SK_STORAGE): unconnected UDP, per socket -------- */
/*
 * Frontends an unconnected UDP socket sent to with sendto()/sendmsg() and the
 * backend each was steered to. The first datagram of a socket to a frontend
 * decides; every later one to that frontend goes to the same backend, and
 * recvmsg shows a datagram from that backend as coming from the frontend.
 * When two frontends of one socket reach the same backend, the datagram is
 * shown as coming from the one the socket sent to last (request/answer).
 * A socket remembers STEER_SK_UDP_PEERS frontends; the next new frontend
 * takes the slot that was filled first (round robin). The entries live and
 * die with the socket (socket storage: nothing shared to fill up or evict).
 */
#define STEER_SK_UDP_PEERS 4

struct steer_sk_peer {
	__u32 frontend[4]; /* network order; IPv4 in [0], rest zero */
	__u32 backend[4];  /* as written into the datagram (same family) */
	__be16 frontend_port;
	__be16 backend_port;
	__u8 family; /* enum steer_family of both addresses */
	__u8 used;   /* 0: free slot */
	__u16 pad;
	__u32 route_id;	 /* a frontend moved to another route decides anew */
	__u32 last_sent; /* steer_sk_udp.sends when last sent to */
};

struct steer_sk_udp {
	struct steer_sk_peer peers[STEER_SK_UDP_PEERS];
	__u8 next; /* slot the next new frontend replaces once all are used */
	__u8 pad[3];
	__u32 sends; /* datagrams sent to frontends, for last_sent */
};

/* ---- steer_health_v1 (HASH, no prealloc): passive health per backend -- */
/*
 * Keyed like steer_backend_stats_v2 without the layer: the counter slots
 * follow a version's name and a backend's address across route changes,
 * so a backend keeps its health when the route is edited. Entries are
 * created on first use with BPF_NOEXIST (zeroed) and afterwards only
 * changed in place with atomic operations, never replaced while programs
 * hold them (lib/health.h). Every field is shared by all CPUs: a limit and
 * an ejection must be exact, not a per-CPU approximation.
 *
 * steer_health_slots_v1 (HASH, no prealloc), same key with backend
 * STEER_HEALTH_VERSION - p: page p of a version's ejection slots. The cap
 * "max-ejected" is enforced by claiming a free slot with a
 * compare-and-swap before a backend is ejected: exact under concurrent
 * failures, and a slot frees itself when its ejection ends, with no
 * writer. A version has as many pages as its cap needs (a version of
 * STEER_MAX_BACKENDS at 100%: STEER_HEALTH_SLOT_PAGES), created by the
 * publisher before the route goes live.
 */
#define STEER_HEALTH_VERSION 0xffff
/* Ejection slots in one steer_health_slots_v1 entry (a page). */
#define STEER_HEALTH_EJECT_SLOTS	  32
#define STEER_HEALTH_SLOT_PAGES		  (STEER_MAX_BACKENDS / STEER_HEALTH_EJECT_SLOTS)
#define STEER_HEALTH_DEFAULT_MAX_EJECT_MS 300000 /* 5m */
#define STEER_HEALTH_DEFAULT_MAX_EJECTED  50	 /* % */
/* The backoff doubles at most this many times (eject << 16 > 24h * ...). */
#define STEER_HEALTH_MAX_SHIFT 16

struct steer_health_key {
	__u32 route;
	__u8 version; /* counter_slot of the version */
	__u8 pad;
	__u16 backend; /* counter_slot of the backend; STEER_HEALTH_VERSION */
};

/* A backend's entry. All 64-bit: the programs update them with 64-bit
 * atomics (BPF_ATOMIC), which every BPF target clang builds for has. */
struct steer_health {
	__u64 ejected_until_ns; /* CLOCK_MONOTONIC; ejected while now < it */
	__u64 failures;		/* consecutive failed connects */
	__u64 streak;		/* ejections since the last success: the
				   next one lasts eject << streak */
	__u64 ejections;	/* times ejected, ever (a counter) */
	__u64 active;		/* connections holding a max-connections
				   place (socket layer, TCP) */
	__u64 overflow;		/* connections turned away at the limit */
	__u64 capped;		/* ejections refused by max-ejected */
	__u64 reserved;
};

/* steer_health_slots_v1: a page of a version's ejection slots. */
struct steer_health_slots {
	__u64 until_ns[STEER_HEALTH_EJECT_SLOTS]; /* a slot is taken while
						     now < until_ns */
};

/* Backend counter slots stay below STEER_MAX_BACKENDS: no backend's key is
 * a page's. */
_Static_assert(STEER_MAX_BACKENDS + STEER_HEALTH_SLOT_PAGES <=
		       STEER_HEALTH_VERSION,
	       "ejection-slot pages keep clear of backend counter slots");

/* The key's backend field of ejection-slot page @page. */
static inline __u16 steer_health_slots_page(__u32 page)
{
	return (__u16)(STEER_HEALTH_VERSION - page);
}

/*
 * How many of a version's @n_backends may be ejected at once: @pct percent
 * (max-ejected; 0 for the default), at least one. The programs claim
 * slots below it; the publisher creates the pages that hold them.
 */
static inline __u32 steer_health_max_ejected(__u32 n_backends, __u32 pct)
{
	__u32 n;

	if (!pct)
		pct = STEER_HEALTH_DEFAULT_MAX_EJECTED;
	n = n_backends * pct / 100;
	return n ? n : 1;
}

/*
 * steerctl restore ends a passive ejection in the kernel, on the live
 * entry: bpf/health_restore.bpf.c, loaded by steerctl on the pinned
 * health maps and run once per backend with BPF_PROG_TEST_RUN. Its one
 * argument is steer_health_restore_arg(); it returns a
 * steer_health_restore_result.
 */
enum steer_health_restore_result {
	STEER_RESTORE_NO_ENTRY = 0, /* the route has no health for it */
	STEER_RESTORE_NOT_EJECTED = 1,
	STEER_RESTORE_ENDED = 2, /* a passive ejection was ended */
};

static inline __u64 steer_health_restore_arg(__u32 route, __u8 vslot,
					     __u16 bslot)
{
	return (__u64)route << 32 | (__u64)vslot << 16 | bslot;
}

/* ---- steer_rtt_v2 (PERCPU_HASH): connect RTT per route and version ---- */
/*
 * Key: struct steer_rtt_key (route, version counter_slot). Bucket i counts
 * connects whose connect()-to-ESTABLISHED time t satisfies
 * t < 2^i microseconds (and t >= 2^(i-1) us for i > 0); the last bucket
 * takes everything longer (+Inf).
 */
#define STEER_RTT_BUCKETS 24

struct steer_rtt {
	__u64 buckets[STEER_RTT_BUCKETS];
	__u64 sum_ns;
	__u64 count;
};

struct steer_rtt_key {
	__u32 route;
	__u32 version; /* counter_slot of the version */
};

/* ---- steer_trace_v1 (ARRAY, 1 entry) + steer_events_v2 (RINGBUF) ------ */
/*
 * Tracing is a lease: `steerctl trace` sets until_ns = now + 3 s and renews
 * it every second; the datapath emits events only while
 * bpf_ktime_get_ns() < until_ns. 0 = off (no clock read at all). A tracer
 * that dies without clearing it turns tracing off within 3 s.
 */
struct steer_trace_ctl {
	__u64 until_ns; /* CLOCK_MONOTONIC */
	__u64 reserved[3];
};

#define STEER_TRACE_LEASE_NS (3ULL * 1000000000ULL)

/* One decision, as `steerctl trace` shows it. */
struct steer_event {
	__u64 ts_ns;	  /* bpf_ktime_get_ns() */
	__u64 cgroup_id;  /* client cgroup (socket layer), else 0 */
	__u64 generation; /* of the route config that decided */
	__u32 saddr[4];	  /* client; zero when not known yet */
	__u32 daddr[4];	  /* frontend dialled */
	__u32 baddr[4];	  /* backend chosen (verdict STEER only) */
	__be16 sport;	  /* 0 when not known yet */
	__be16 dport;
	__be16 bport;
	__u8 family; /* enum steer_family */
	__u8 proto;  /* enum steer_proto */
	__u32 uid;   /* socket layer, else 0 */
	__u32 pid;   /* tgid; socket layer, else 0 */
	__u32 route_id;
	__u8 layer;   /* enum steer_layer */
	__u8 verdict; /* enum steer_verdict */
	__u8 reason;  /* enum steer_reason */
	__u8 rule;    /* index; STEER_MAX_RULES when none */
	__u8 version; /* index; STEER_MAX_VERSIONS when none */
	__u8 pad0;
	__u16 backend; /* ref index in the version's list of the family;
			  STEER_BACKEND_NONE when none */
	__u8 pad[4];
};

/* ---- steer_route_index_v2 (HASH): route name -> id, generation, hashes - */
/*
 * Userspace only (no program reads it): finding a route by name, the
 * newest generation, and whether a route's file changed (source_hash),
 * from small entries instead of every route's rows. Written right after a
 * route is published, under the pin directory's lock; a reader checks the
 * name in the rows it then reads.
 */
struct steer_route_name {
	char name[STEER_NAME_LEN];
};

struct steer_route_index {
	__u32 id;
	__u32 flags; /* the route's enum steer_route_flags */
	__u64 generation;
	__u64 source_hash; /* as in the route's header */
	__u64 encoding;	   /* STEER_ROWS_ENCODING of the publisher (a steerd
			      whose rows differ republishes the route) */
};

/* Bumped when the same route file compiles to other rows. */
#define STEER_ROWS_ENCODING 1

/* ---- steer_agent_v1 (ARRAY, 1 entry): steerd's own counters, pinned ---- */
/* So they survive a steerd restart like the datapath's (never reset). */
struct steer_agent_state {
	__u64 apply_errors;
	__u64 applies;
	__u64 last_apply_ns; /* CLOCK_REALTIME of the last successful apply */
	__u64 reserved[5];
};

/* ---- steer_ct_v1 (LRU_HASH): TC-layer connection tracking ------------- */
/*
 * Two entries per flow, each keyed by a packet's tuple as it arrives: the
 * client's (client -> frontend, FORWARD: rewrite the destination to the
 * backend) and the backend's reply (backend -> client, REPLY: rewrite the
 * source back to the frontend). One lookup serves either direction. An
 * entry holds the address to write and the counter slots of its flow,
 * never an index into the live route, so a flow keeps its backend and its
 * counters when the route changes or the backend is removed.
 */
#define STEER_DEFAULT_CT_MAX 65536 /* flows tracked (steerd --ct-max) */

struct steer_ct_key {
	__u32 saddr[4]; /* network order; IPv4 in [0], rest zero */
	__u32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u8 family; /* enum steer_family */
	__u8 proto;  /* enum steer_proto */
	__u16 pad;
};

enum steer_ct_dir {
	STEER_CT_FORWARD = 0, /* client -> frontend: DNAT to nat_addr */
	STEER_CT_REPLY = 1,   /* backend -> client: source back to nat_addr */
};

/* TCP: NEW (SYN) -> ESTABLISHED (SYN-ACK) -> CLOSED (FIN both ways, RST).
 * UDP: NEW -> ESTABLISHED once answered; it ends by idle timeout. */
enum steer_ct_state {
	STEER_CT_NEW = 0,	  /* TCP: SYN sent; UDP: not answered yet */
	STEER_CT_ESTABLISHED = 1, /* TCP: SYN-ACK seen; UDP: answered */
	STEER_CT_CLOSED = 2,	  /* TCP: FIN both ways, or RST */
};

enum steer_ct_flags {
	STEER_CT_FIN_FORWARD = 1 << 0, /* client sent FIN */
	STEER_CT_FIN_REPLY = 1 << 1,   /* backend sent FIN */
};

struct steer_ct_entry {
	__u32 nat_addr[4]; /* FORWARD: backend; REPLY: frontend */
	__be16 nat_port;
	__u8 dir;   /* enum steer_ct_dir */
	__u8 state; /* enum steer_ct_state */
	__u32 route_id;
	__u8 rule_slot; /* counter slots of the flow (stats_slot values) */
	__u8 version_slot;
	__u8 backend_slot;    /* low byte of the backend's counter slot */
	__u8 flags;	      /* enum steer_ct_flags */
	__u8 backend_slot_hi; /* high byte (layout v1 wrote 0 here) */
	__u8 layout;	      /* STEER_LAYOUT_V2; 0: a flow of layout v1,
				 whose counter slots name v1's counters */
	__u8 pad[2];
	__u64 last_seen_ns; /* bpf_ktime_get_ns() = CLOCK_MONOTONIC */
};

/* Idle timeouts by state; steerd removes entries idle for longer. */
#define STEER_CT_TIMEOUT_NEW_S	  60	/* SYN without answer */
#define STEER_CT_TIMEOUT_TCP_S	  21600 /* established TCP, idle */
#define STEER_CT_TIMEOUT_UDP_S	  60	/* UDP, idle */
#define STEER_CT_TIMEOUT_CLOSED_S 10	/* after FIN both ways or RST */

static inline __u64 steer_ct_timeout_ns(__u8 proto, __u8 state)
{
	__u64 s = state == STEER_CT_CLOSED	  ? STEER_CT_TIMEOUT_CLOSED_S
		  : proto == STEER_PROTO_UDP	  ? STEER_CT_TIMEOUT_UDP_S
		  : state == STEER_CT_ESTABLISHED ? STEER_CT_TIMEOUT_TCP_S
						  : STEER_CT_TIMEOUT_NEW_S;

	return s * 1000000000ULL;
}

/*
 * The key of the other direction's entry of the flow that @key and @e
 * belong to: the packet's source stays, the NAT side is swapped in. The
 * TC program keeps both entries' state alike with it; steerd's sweep
 * removes a flow only when both entries are idle.
 */
static inline void steer_ct_peer_key(const struct steer_ct_key *key,
				     const struct steer_ct_entry *e,
				     struct steer_ct_key *peer)
{
	__builtin_memset(peer, 0, sizeof(*peer));
	peer->family = key->family;
	peer->proto = key->proto;
	if (e->dir == STEER_CT_FORWARD) {
		/* backend -> client */
		__builtin_memcpy(peer->saddr, e->nat_addr, sizeof(peer->saddr));
		peer->sport = e->nat_port;
		__builtin_memcpy(peer->daddr, key->saddr, sizeof(peer->daddr));
		peer->dport = key->sport;
	} else {
		/* client -> frontend */
		__builtin_memcpy(peer->saddr, key->daddr, sizeof(peer->saddr));
		peer->sport = key->dport;
		__builtin_memcpy(peer->daddr, e->nat_addr, sizeof(peer->daddr));
		peer->dport = e->nat_port;
	}
}

#ifndef __BPF__
_Static_assert(sizeof(struct steer_ct_key) == 40, "ct key ABI");
_Static_assert(sizeof(struct steer_ct_entry) == 40, "ct entry ABI");
_Static_assert(sizeof(struct steer_frontend_key) == 20, "frontend key ABI");
_Static_assert(sizeof(struct steer_frontend) == 8, "frontend ABI");
_Static_assert(sizeof(struct steer_cidr) == 20, "cidr ABI");
_Static_assert(sizeof(struct steer_match) == 312, "match ABI");
_Static_assert(sizeof(struct steer_backend_addr) == 20, "backend addr ABI");
_Static_assert(sizeof(struct steer_route_hdr) == STEER_ROW_SIZE, "hdr row");
_Static_assert(sizeof(struct steer_rule_row) == STEER_ROW_SIZE, "rule row");
_Static_assert(sizeof(struct steer_rule_meta) == STEER_ROW_SIZE, "rule meta");
_Static_assert(sizeof(struct steer_version_row) == STEER_ROW_SIZE,
	       "version row");
_Static_assert(sizeof(struct steer_backend_ref) == 16, "backend ref ABI");
_Static_assert(sizeof(struct steer_stats_key) == 8, "stats key ABI");
_Static_assert(sizeof(struct steer_backend_stats_key) == 8,
	       "backend stats key ABI");
_Static_assert(sizeof(struct steer_rtt_key) == 8, "rtt key ABI");
_Static_assert(sizeof(struct steer_health_key) == 8, "health key ABI");
_Static_assert(sizeof(struct steer_health) == 64, "health ABI");
_Static_assert(sizeof(struct steer_health_slots) == 256, "health slots ABI");
_Static_assert(sizeof(struct steer_stats) == 64, "stats ABI");
_Static_assert(sizeof(struct steer_backend_stats) == 64, "backend stats ABI");
_Static_assert(sizeof(struct steer_sk_orig) == 40, "sk_orig ABI");
_Static_assert(sizeof(struct steer_sk_peer) == 48, "sk peer ABI");
_Static_assert(sizeof(struct steer_sk_udp) == 4 * 48 + 8, "sk udp ABI");
_Static_assert(sizeof(struct steer_rtt) == (STEER_RTT_BUCKETS + 2) * 8,
	       "rtt ABI");
_Static_assert(sizeof(struct steer_trace_ctl) == 32, "trace ctl ABI");
_Static_assert(sizeof(struct steer_event) == 104, "event ABI");
_Static_assert(sizeof(struct steer_agent_state) == 64, "agent state ABI");
_Static_assert(sizeof(struct steer_route_index) == 32, "route index ABI");
_Static_assert(STEER_REASON_COUNT <= STEER_REASON_SLOTS, "reason slots");
#endif

#endif /* STEER_ABI_H */
