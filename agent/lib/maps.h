/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Access to steer's pinned maps, shared by steerd and steerctl. Route
 * configs are published by building a new inner map and swapping it into
 * steer_routes_v2 (see the comment at the top of steer_abi.h).
 */
#ifndef STEER_MAPS_H
#define STEER_MAPS_H

#include <stdbool.h>
#include "route_cfg.h"

#define STEER_DEFAULT_BPFFS "/sys/fs/bpf/steer"

/* Pinned map names under <bpffs>/maps/ (the names the BPF object uses;
 * include/steer_abi.manifest lists them with their layouts). */
#define STEER_MAP_ROUTES	"steer_routes_v2"
#define STEER_MAP_FRONTENDS	"steer_frontends_v2"
#define STEER_MAP_BACKENDS	"steer_backends_v2"
#define STEER_MAP_BACKEND_IDS	"steer_backend_ids_v2"
#define STEER_MAP_MATCHES	"steer_matches_v2"
#define STEER_MAP_STATS		"steer_stats_v2"
#define STEER_MAP_REASONS	"steer_reasons_v2"
#define STEER_MAP_SK_ORIG	"steer_sk_orig_v2"
#define STEER_MAP_SK_UDP	"steer_sk_udp_v1"
#define STEER_MAP_SEQ		"steer_seq_v1"
#define STEER_MAP_ROUTE_INDEX	"steer_route_index_v2"
#define STEER_MAP_BACKEND_STATS "steer_backend_stats_v2"
#define STEER_MAP_RTT		"steer_rtt_v2"
#define STEER_MAP_TRACE		"steer_trace_v1"
#define STEER_MAP_EVENTS	"steer_events_v2"
#define STEER_MAP_AGENT		"steer_agent_v1"
#define STEER_MAP_CT		"steer_ct_v1" /* TC layer only */
#define STEER_MAP_HEALTH	"steer_health_v1"
#define STEER_MAP_HEALTH_SLOTS	"steer_health_slots_v1"

struct steer_maps {
	int routes;
	int frontends;
	int backends;	 /* backend id -> address */
	int backend_ids; /* address -> backend id */
	int matches;	 /* match id -> match block */
	int stats;
	int reasons;
	int backend_stats;
	int rtt;	    /* connect-RTT histograms */
	int trace;	    /* tracing lease */
	int events;	    /* ring buffer of decisions */
	int agent;	    /* steerd's own counters */
	int route_index;    /* route name -> id, generation */
	int health;	    /* passive health per backend; -1: pins of a
			       steerd without it */
	int health_slots;   /* a version's ejection slots */
	__u32 max_routes;   /* from the routes map's max_entries */
	__u32 max_backends; /* from the backends map's max_entries */
	/*
	 * The next backend id to try (0: not known yet, found by one walk of
	 * backend_ids on first use). Only publishers that hold the pin
	 * directory's lock (maps_lock) allocate ids.
	 */
	__u32 next_backend_id;
	/*
	 * Backend ids are reclaimed when none is left (maps_backends.c): the
	 * ids freed then, handed out before anything else, and a bitmap of
	 * the ids the publish in progress has handed out (its routes are
	 * not live yet, so no scan of the live routes sees them). malloc'ed
	 * on first need; maps_close frees them.
	 */
	__u32 *free_ids;
	__u32 n_free;
	__u8 *ids_busy;
	/*
	 * Backend addresses new to the publish in progress, not written yet:
	 * they go to the kernel in two batch writes just before the routes
	 * that refer to them go live (maps_backend_ids_flush), where two
	 * writes per address took a third of a 100k-route install. A small
	 * open-addressing table finds an address met twice in one batch.
	 */
	struct maps_pending_ids *pending;
};

/* No map open: every fd -1, so maps_close() on it closes nothing. */
void maps_init(struct steer_maps *m);

struct bpf_object;
/*
 * The maps of a loaded object that are not pinned (tests): every fd that
 * maps_open() would open, from the object's own maps (-1 when it has none
 * of that name). The fds stay the object's: no maps_close().
 */
void maps_from_object(struct bpf_object *obj, struct steer_maps *m);

/* Path of pinned map @name under @bpffs into @buf. */
int maps_pin_path(char *buf, size_t len, const char *bpffs, const char *name);

/*
 * Open the pinned maps under @bpffs. Returns 0 or -errno; on error a
 * one-line reason is in @err ("no steer maps at /sys/fs/bpf/x: ...").
 */
int maps_open(const char *bpffs, struct steer_maps *m, char *err,
	      size_t errlen);

/* Maps to open with maps_open_some(), one bit each. */
enum maps_set {
	MAPS_ROUTES = 1u << 0,
	MAPS_FRONTENDS = 1u << 1,
	MAPS_BACKENDS = 1u << 2,
	MAPS_BACKEND_IDS = 1u << 3,
	MAPS_MATCHES = 1u << 4,
	MAPS_STATS = 1u << 5,
	MAPS_REASONS = 1u << 6,
	MAPS_BACKEND_STATS = 1u << 7,
	MAPS_RTT = 1u << 8,
	MAPS_TRACE = 1u << 9,
	MAPS_EVENTS = 1u << 10,
	MAPS_AGENT = 1u << 11,
	MAPS_ROUTE_INDEX = 1u << 12,
	MAPS_HEALTH = 1u << 13,
	MAPS_HEALTH_SLOTS = 1u << 14,
	MAPS_ALL = (1u << 15) - 1,
	/*
	 * What reading, editing and publishing one route by name needs
	 * (maps_route_find, maps_route_publish, maps_generation_max): no
	 * counter, frontend, trace or agent map.
	 */
	MAPS_EDIT = MAPS_ROUTES | MAPS_BACKENDS | MAPS_BACKEND_IDS |
		    MAPS_MATCHES | MAPS_ROUTE_INDEX | MAPS_HEALTH |
		    MAPS_HEALTH_SLOTS,
};

/*
 * maps_open() of the maps in @which only (MAPS_ROUTES always): the others
 * stay -1. Each pin costs a path walk to open and a close; a command that
 * touches one route needs half of them.
 */
int maps_open_some(const char *bpffs, struct steer_maps *m, unsigned int which,
		   char *err, size_t errlen);
void maps_close(struct steer_maps *m);

/*
 * Route ids in use, ascending, in *@ids (malloc'ed, room for max_routes;
 * the caller frees it). Returns the count or -errno (*@ids then NULL).
 */
int maps_route_ids(const struct steer_maps *m, __u32 **ids);

/* The live config of route @id; -ENOENT when there is none. */
int maps_route_get(const struct steer_maps *m, __u32 id,
		   struct steer_route_cfg *out);

/* One entry of the route index (steer_route_index_v2). */
struct maps_index_entry {
	struct steer_route_name name;
	struct steer_route_index v;
};

/*
 * The whole route index, sorted by name, in *@out (malloc'ed; the caller
 * frees it). Returns the count or -errno.
 */
int maps_index_read(const struct steer_maps *m, struct maps_index_entry **out);
/* The entry of @name in a sorted index of @n entries, or NULL. */
const struct maps_index_entry *maps_index_find(const struct maps_index_entry *e,
					       int n, const char *name);

/* The index entry of @name, by one lookup: 0, or -ENOENT. */
int maps_index_get(const struct steer_maps *m, const char *name,
		   struct maps_index_entry *out);
/* The newest generation ever published (one lookup; 0: none yet). */
__u64 maps_generation(const struct steer_maps *m);
/* Whether route @id has rows in steer_routes_v2. */
bool maps_route_present(const struct steer_maps *m, __u32 id);

/* Find a route by name; returns its id or -ENOENT. @out may be NULL. */
int maps_route_find(const struct steer_maps *m, const char *name,
		    struct steer_route_cfg *out);
/*
 * maps_route_find into an @out that is all zero (fresh from calloc): see
 * rows_decode_zeroed. Readers of one route (steerctl's edits) use it.
 */
int maps_route_find_zeroed(const struct steer_maps *m, const char *name,
			   struct steer_route_cfg *out);

/*
 * Publish @cfg as route @id in one step: encode it into the rows of a new,
 * frozen inner map (its match blocks into the bank the live rows do not
 * use, new backend addresses into steer_backends_v2) and swap that into
 * the outer map. The kernel returns from the swap only after every
 * program that could see the old rows has finished; then the old bank's
 * match blocks go. Call with the pin directory locked (maps_lock).
 */
int maps_route_publish(struct steer_maps *m, __u32 id,
		       const struct steer_route_cfg *cfg);
int maps_route_delete(const struct steer_maps *m, __u32 id);
/*
 * maps_route_publish / maps_route_delete for @n routes. Each route is still
 * swapped in (or removed) by one write of its own, but the writes go to the
 * kernel in batches (BPF_MAP_UPDATE_BATCH / BPF_MAP_DELETE_BATCH), and the
 * kernel waits for running programs once per batch instead of once per
 * route: ~10 ms per route on a 2-CPU VM, which made 1000 routes take 10 s.
 */
/* The header of route @id's live rows (cheap: no decoding); -ENOENT. */
int maps_route_hdr(const struct steer_maps *m, __u32 id,
		   struct steer_route_hdr *out);
int maps_route_publish_many(struct steer_maps *m, const __u32 *ids,
			    const struct steer_route_cfg *const *cfgs, int n);
int maps_route_delete_many(const struct steer_maps *m, const __u32 *ids, int n);
/*
 * Begin (@begin) or end a publishing session, within one hold of the pin
 * directory's lock: in between, the first new backend address reads the
 * whole backend id map in batches (where a walk found the next free id),
 * and later addresses are looked up in that copy, not one syscall each.
 */
void maps_backend_ids_session(struct steer_maps *m, bool begin);
/*
 * maps_route_publish_many where the caller knows, under the lock, that
 * route @ids[i] is not in the map when @absent[i] (an id the plan gave a
 * new route): its live header is not read. @absent may be NULL.
 */
int maps_route_publish_absent(struct steer_maps *m, const __u32 *ids,
			      const struct steer_route_cfg *const *cfgs,
			      const bool *absent, int n);
/* maps_route_delete_many when the routes' names are known (@names[i] for
 * @ids[i]): their index entries go by name, where the other walks the
 * whole index to find every entry of those ids. */
int maps_route_delete_named(const struct steer_maps *m, const __u32 *ids,
			    const char *const *names, int n);

/*
 * The newest generation among the live routes; a publisher (steerd or
 * steerctl) stamps its change with this + 1, so generations only grow.
 */
__u64 maps_generation_max(const struct steer_maps *m);

/*
 * Every entry of hash map @fd, read in batches of 4,096 (one syscall where
 * a walk takes one a key): *@keys and, unless @vals is NULL, *@vals get
 * malloc'ed arrays of *@n entries (never NULL, even for none). 0 or
 * -errno. (Batch lookups of hash maps: Linux 5.6; steer needs 6.1.)
 */
int maps_read_all(int fd, size_t key_size, size_t value_size, void **keys,
		  void **vals, __u32 *n);

/*
 * Serialise read-modify-publish cycles on one pin directory between steerd
 * and steerctl: an flock on the directory itself. Without it, a steerctl
 * change and a steerd apply that read the same live config could each
 * publish over the other. Returns an fd to pass to maps_unlock, or -errno.
 */
int maps_lock(const char *bpffs);
void maps_unlock(int fd);

/*
 * Sum of per-CPU counters of route @id: st[rule counter slot][version
 * counter slot], row STEER_COUNTER_NO_RULE and column
 * STEER_COUNTER_NO_VERSION for "none" (see abi).
 */
int maps_stats_read(
	const struct steer_maps *m, __u32 id,
	struct steer_stats st[STEER_MAX_RULES + 1][STEER_MAX_VERSIONS + 1]);
/*
 * Sum of per-CPU counters of one backend of route @id at @layer: @vslot and
 * @bslot are the version's and the backend's counter_slot.
 */
int maps_backend_stats_read(const struct steer_maps *m, __u32 id, __u32 vslot,
			    __u32 bslot, enum steer_layer layer,
			    struct steer_backend_stats *out);
/* Zero one backend's counters (both layers): its slot is new to it. */
int maps_backend_stats_clear(const struct steer_maps *m, __u32 id, __u32 vslot,
			     __u32 bslot);
/* Sum of per-CPU connect-RTT histograms of version slot @vslot of @id. */
int maps_rtt_read(const struct steer_maps *m, __u32 id, __u32 vslot,
		  struct steer_rtt *out);
/* Zero one version slot's histogram: the slot is new to its version. */
int maps_rtt_clear(const struct steer_maps *m, __u32 id, __u32 vslot);
/*
 * The passive-health entry of one backend (@vslot, @bslot: counter
 * slots) of route @id; -ENOENT when it never failed, was never limited
 * (all zero in @out).
 */
int maps_health_read(const struct steer_maps *m, __u32 id, __u32 vslot,
		     __u32 bslot, struct steer_health *out);
/* Forget one backend's health (its counter slot is new to it). */
int maps_health_clear(const struct steer_maps *m, __u32 id, __u32 vslot,
		      __u32 bslot);
/* CLOCK_MONOTONIC now, in ns: what the datapath's ejections are timed in. */
__u64 maps_now_ns(void);
/* steerd's pinned counters (they outlive a steerd restart). */
int maps_agent_get(const struct steer_maps *m, struct steer_agent_state *out);
int maps_agent_put(const struct steer_maps *m,
		   const struct steer_agent_state *st);
/* Zero route @id's counters (the id is being freed or reused). */
int maps_stats_clear(const struct steer_maps *m, __u32 id);
/* The same for @n routes, in one walk of each counter map. */
int maps_stats_clear_many(const struct steer_maps *m, const __u32 *ids, int n);
/* Zero the counters of one (rule, version) position of route @id. */
int maps_stats_clear_slot(const struct steer_maps *m, __u32 id, __u32 rule,
			  __u32 version);

#endif /* STEER_MAPS_H */
