/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * steer map ABI: every key, value, enum and limit that both the BPF programs
 * and userspace (steerd, steerctl, tests) see. This is the only copy.
 *
 * How a route is stored, and why a change is atomic
 * -------------------------------------------------
 * A route's whole compiled configuration (rules, match lists, policy,
 * versions, backends and the prefilled selection tables) is ONE value,
 * struct steer_route_cfg, held in a single-entry array map of its own (the
 * "inner" map). The outer map steer_routes_v1 (HASH_OF_MAPS, key route id)
 * points at the inner map that is live. To change a route, userspace builds
 * a brand-new inner map, fills it completely, and then replaces the outer
 * entry with one BPF_MAP_UPDATE_ELEM. A connection's program looks the inner
 * map up once and reads everything from that one value, so it sees either
 * the old route or the new route, never a mixture. The kernel waits for
 * running programs (synchronize_rcu) inside the outer update, so the old
 * inner map is never freed or reused under a reader.
 *
 * Frontends (steer_frontends_v1) map a dialled address to a route id. They
 * are hash elements, each replaced atomically; userspace publishes a route's
 * inner map before any frontend points at it and removes frontends before
 * the route they point at.
 *
 * Map names carry a layout version (_v1). Change a struct below and the
 * name's version changes with it, so a stale pin is never misread.
 */
#ifndef STEER_ABI_H
#define STEER_ABI_H

#ifdef __BPF__
/* vmlinux.h provides the __u8 .. __u64 and __be16/__be32 types. */
#else
#include <linux/types.h>
#endif

/* ---- Limits (per route unless stated) ---------------------------------- */
#define STEER_MAX_VERSIONS	 8   /* versions of one route */
#define STEER_MAX_RULES		 8   /* rules of one route */
#define STEER_MAX_POLICY	 8   /* allow entries; as many deny entries */
#define STEER_MAX_MATCH_ITEMS	 8   /* items of each match field */
#define STEER_MAX_BACKENDS	 32  /* backends of one version */
#define STEER_MAX_FRONTENDS	 16  /* frontends of one route */
#define STEER_DEFAULT_MAX_ROUTES 256 /* routes per steerd (--max-routes) */
#define STEER_NAME_LEN		 64  /* route names: at most 63 chars + NUL */
#define STEER_SHORT_NAME_LEN	 32  /* version and rule names */

/* A split is given in 0.01 % steps: 100 % = 10000 slots, one per step. */
#define STEER_SPLIT_SLOTS 10000
/*
 * Backend weight table per version and address family. 2520 = lcm(1..10):
 * any weights whose sum divides 2520 are represented exactly.
 */
#define STEER_BACKEND_SLOTS 2520
#define STEER_SLOT_NONE	    0xff /* table slot with no version / backend */

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

/* ---- steer_frontends_v1: struct steer_frontend_key -> steer_frontend --- */
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

/* ---- route configuration (the inner map's one value) ----------------- */
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

struct steer_rule {
	char name[STEER_SHORT_NAME_LEN];
	struct steer_match match;
	__u16 file_split[STEER_MAX_VERSIONS]; /* 0.01 % units as the file gives
					       */
	__u16 split[STEER_MAX_VERSIONS];      /* 0.01 % units in force */
	/*
	 * Counter row of this rule in steer_stats_v1. It follows the rule's
	 * name, not its position, so inserting a rule never shows one rule's
	 * counts under another's name (compile_route keeps it stable).
	 */
	__u8 stats_slot;
	__u8 pad[7];
	/*
	 * Version index per slot and family. A version with no usable backend
	 * of a family gets no slot in that family's table: its share goes to
	 * the rule's other versions by their weights, or the slot is
	 * STEER_SLOT_NONE when no version has one (connection refused).
	 */
	__u8 slots[STEER_FAM_COUNT][STEER_SPLIT_SLOTS];
};

enum steer_backend_flags {
	STEER_BACKEND_EJECTED = 1 << 0, /* gets no new connections */
};

struct steer_backend {
	__u32 addr[4]; /* network order */
	__be16 port;   /* 0: the frontend's target port */
	__u8 family;   /* enum steer_family */
	__u8 flags;    /* enum steer_backend_flags */
	__u16 weight;
	/*
	 * Counter slot of this backend in steer_backend_stats_v1, within its
	 * version's. It follows the address, not the list position, so
	 * editing the list never shows one backend's counts under another's
	 * address (compile_stats_slots keeps it stable).
	 */
	__u8 stats_slot;
	__u8 pad;
	__u64 ejected_until_ns; /* CLOCK_MONOTONIC; 0 when not ejected */
};

struct steer_version {
	char name[STEER_SHORT_NAME_LEN];
	__u8 n_backends;
	__u8 stats_slot; /* counter column in steer_stats_v1, like rules' */
	__u8 pad[6];
	struct steer_backend backends[STEER_MAX_BACKENDS];
	/* Backend index per slot and family, in proportion to the weights. */
	__u8 slots[STEER_FAM_COUNT][STEER_BACKEND_SLOTS];
};

enum steer_route_flags {
	STEER_ROUTE_AFFINITY_CLIENT =
		1 << 0, /* same client, same version+backend */
	STEER_ROUTE_DEFAULT_DENY = 1 << 1, /* policy.default: deny */
	STEER_ROUTE_OVERRIDE = 1 << 2, /* steerctl changed it; file did not */
};

struct steer_route_cfg {
	char name[STEER_NAME_LEN];
	__u64 generation;  /* steerd's apply counter when published */
	__u64 source_hash; /* hash of the route as its file gives it */
	__u64 applied_ns;  /* CLOCK_REALTIME of publication */
	__u32 flags;	   /* enum steer_route_flags */
	__u32 seed;	   /* per-route hash seed (affinity) */
	__u32 health_failures;
	__u32 health_eject_ms;
	__u8 n_versions;
	__u8 n_rules;
	__u8 n_allow;
	__u8 n_deny;
	__u8 n_frontends;
	__u8 pad[3];
	struct steer_match allow[STEER_MAX_POLICY];
	struct steer_match deny[STEER_MAX_POLICY];
	struct steer_version versions[STEER_MAX_VERSIONS];
	struct steer_rule rules[STEER_MAX_RULES];
};

/* ---- counters: steer_stats_v1 (PERCPU_ARRAY) ---------------------------- */
/*
 * Index = steer_stats_index(route, rule stats_slot, version stats_slot).
 * Row STEER_MAX_RULES stands for "no rule" (policy denials, no_route),
 * column STEER_MAX_VERSIONS for "no version".
 */
enum steer_layer {
	STEER_LAYER_SOCK = 0,
	STEER_LAYER_TC = 1,
	STEER_LAYER_COUNT = 2,
};

struct steer_stats {
	__u64 connections[STEER_LAYER_COUNT]; /* new connections steered */
	__u64 denied[STEER_LAYER_COUNT];      /* policy denials */
	__u64 no_route[STEER_LAYER_COUNT];    /* no rule / no usable backend */
	__u64 reserved[2];
};

#define STEER_STATS_PER_ROUTE ((STEER_MAX_RULES + 1) * (STEER_MAX_VERSIONS + 1))

static inline __u32 steer_stats_index(__u32 route, __u32 rule, __u32 version)
{
	return (route * (STEER_MAX_RULES + 1) + rule) *
		       (STEER_MAX_VERSIONS + 1) +
	       version;
}

/* ---- steer_backend_stats_v1 (PERCPU_ARRAY): per backend and layer ---- */
/*
 * Index = steer_backend_stats_index(route, version stats_slot, backend
 * stats_slot, layer). "to" is client -> backend, "from" backend -> client.
 * Active connections = established - closed (sums over CPUs: a connection
 * may open on one CPU and close on another).
 */
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

#define STEER_BACKEND_STATS_PER_ROUTE                                          \
	(STEER_MAX_VERSIONS * STEER_MAX_BACKENDS * STEER_LAYER_COUNT)

static inline __u32 steer_backend_stats_index(__u32 route, __u32 version,
					      __u32 backend, __u32 layer)
{
	return ((route * STEER_MAX_VERSIONS + version) * STEER_MAX_BACKENDS +
		backend) *
		       STEER_LAYER_COUNT +
	       layer;
}

/* ---- the decision's outcome (bpf/lib/decide.h steer_decide()) --------- */
/* Kept apart from enum steer_reason: a verdict is what happens to the
 * connection, a reason is what the counters record (STYLE.md 7). */
enum steer_verdict {
	STEER_VERDICT_STEER = 0,
	STEER_VERDICT_DENY,	  /* policy: EPERM / drop */
	STEER_VERDICT_NO_RULE,	  /* ECONNREFUSED / drop */
	STEER_VERDICT_NO_BACKEND, /* ECONNREFUSED / drop */
};

/* ---- steer_reasons_v1 (PERCPU_ARRAY): one counter per verdict reason --- */
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
	__u8 backend;	   /* index in the config at connect time */
	__u8 rule;	   /* index in the config at connect time */
	__u8 rule_slot;	   /* counter slots at connect time */
	__u8 version_slot; /* (stats_slot of the rule, version, backend) */
	__u8 backend_slot;
	__u8 state; /* enum steer_sk_state */
	__u8 pad[2];
	__u64 connect_ns; /* bpf_ktime_get_ns() at connect() */
};

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

/* ---- steer_rtt_v1 (PERCPU_ARRAY): connect RTT per route and version ---- */
/*
 * Index = steer_rtt_index(route, version stats_slot). Bucket i counts
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

static inline __u32 steer_rtt_index(__u32 route, __u32 version)
{
	return route * STEER_MAX_VERSIONS + version;
}

/* ---- steer_trace_v1 (ARRAY, 1 entry) + steer_events_v1 (RINGBUF) ------ */
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
	__u8 backend; /* index; STEER_MAX_BACKENDS when none */
	__u8 pad[6];
};

/* ---- steer_route_index_v1 (HASH): route name -> id and generation ---- */
/*
 * Userspace only (no program reads it): finding a route by name, and the
 * newest generation, from small entries instead of every route's whole
 * config. Written right after a route is published; a reader checks the
 * name in the config it then reads, and scans the routes when the index
 * does not answer (pins of an older steer), so the index is a shortcut,
 * never the truth.
 */
struct steer_route_name {
	char name[STEER_NAME_LEN];
};

struct steer_route_index {
	__u32 id;
	__u32 pad;
	__u64 generation;
};

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
	__u8 backend_slot;
	__u8 flags; /* enum steer_ct_flags */
	__u32 pad;
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

#ifndef __BPF__
_Static_assert(sizeof(struct steer_ct_key) == 40, "ct key ABI");
_Static_assert(sizeof(struct steer_ct_entry) == 40, "ct entry ABI");
_Static_assert(sizeof(struct steer_frontend_key) == 20, "frontend key ABI");
_Static_assert(sizeof(struct steer_frontend) == 8, "frontend ABI");
_Static_assert(sizeof(struct steer_cidr) == 20, "cidr ABI");
_Static_assert(sizeof(struct steer_match) == 312, "match ABI");
_Static_assert(sizeof(struct steer_backend) == 32, "backend ABI");
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
_Static_assert(sizeof(struct steer_route_cfg) % 8 == 0, "route cfg ABI");
/* apply.c compares configs field by field up to flags, then as bytes. */
_Static_assert(__builtin_offsetof(struct steer_route_cfg, flags) ==
		       STEER_NAME_LEN + 3 * sizeof(__u64),
	       "route cfg header");
#endif

#endif /* STEER_ABI_H */
