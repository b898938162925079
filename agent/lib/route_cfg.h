/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A compiled route as userspace holds it (steerd, steerctl, tests): every
 * field of a route, with its stable selection tables; fixed arrays but for
 * each version's backends and backend tables (heap, sized to the version:
 * route_cfg_copy/route_cfg_free below). It is not a map value: rows.c encodes
 * it into the rows of the route's inner map (struct steer_route_hdr and friends
 * in steer_abi.h) and decodes it back.
 */
#ifndef STEER_ROUTE_CFG_H
#define STEER_ROUTE_CFG_H

#include <stdbool.h>
#include "steer_abi.h"

/*
 * Backends of one version: the map layout's limit (STEER_MAX_BACKENDS).
 * A version keeps them on the heap, sized to what it has (route_cfg.c),
 * so a route of two backends costs two, not 4,096.
 */
#define ROUTE_MAX_BACKENDS STEER_MAX_BACKENDS

struct steer_rule {
	char name[STEER_SHORT_NAME_LEN];
	struct steer_match match;
	__u16 file_split[STEER_MAX_VERSIONS]; /* 0.01 % units as the file gives
					       */
	__u16 split[STEER_MAX_VERSIONS];      /* 0.01 % units in force */
	/*
	 * Counter slot of this rule (steer_stats_v2 keys). It follows the
	 * rule's name, not its position, so inserting a rule never shows one
	 * rule's counts under another's name (compile_route keeps it stable).
	 */
	__u8 counter_slot;
	__u8 pad[7];
	/*
	 * Version index per split point and family (the table). A version
	 * with no usable backend of a family gets no entry in that family's
	 * table: its share goes to the rule's other versions by their
	 * weights, or the entry is STEER_TABLE_NONE when no version has one
	 * (connection refused).
	 */
	__u8 table[STEER_FAM_COUNT][STEER_SPLIT_POINTS];
};

struct steer_backend {
	__u32 addr[4]; /* network order */
	__be16 port;   /* 0: the frontend's target port */
	__u8 family;   /* enum steer_family */
	__u8 flags;    /* enum steer_backend_flags */
	__u16 weight;
	/*
	 * Counter slot of this backend within its version's
	 * (steer_backend_stats_v2 keys). It follows the address, not the
	 * list position, so editing the list never shows one backend's
	 * counts under another's address (compile_counter_slots keeps it).
	 */
	__u16 counter_slot;
	__u64 ejected_until_ns; /* CLOCK_MONOTONIC; 0 when not ejected */
};

/*
 * A version. Its backends and backend tables are heap arrays it owns: a
 * struct steer_route_cfg is never copied with '=' or memcpy but with
 * route_cfg_copy(), and released with route_cfg_free(). A zeroed struct is
 * an empty config (calloc); decoding or compiling into a config reuses the
 * arrays it already has.
 */
struct steer_version {
	char name[STEER_SHORT_NAME_LEN];
	__u16 n_backends;
	__u16 cap;	   /* room in backends[] */
	__u8 counter_slot; /* counter slot (steer_stats_v2 keys), like rules' */
	__u8 tables;	   /* bit f: table[f] holds family f's table */
	__u8 pad[2];
	struct steer_backend *backends; /* cap; n_backends used */
	/*
	 * Backend index (into backends[]) per table entry and family, in
	 * proportion to the weights, or STEER_BACKEND_NONE; STEER_BACKEND_
	 * TABLE_UNIT entries, allocated when first needed and valid only
	 * while bit f of tables is set (route_cfg_table()).
	 */
	__u16 *table[STEER_FAM_COUNT];
};

struct steer_route_cfg {
	char name[STEER_NAME_LEN];
	__u64 generation;  /* steerd's apply counter when published */
	__u64 source_hash; /* hash of the route as its file gives it */
	__u64 applied_ns;  /* CLOCK_REALTIME of publication */
	__u32 flags;	   /* enum steer_route_flags */
	__u32 seed;	   /* per-route hash seed (affinity) */
	/*
	 * The source hash with dns/srv entries as written instead of the
	 * addresses their answers gave (steer_route_hdr.file_hash); 0 for a
	 * route without them. Equal file hashes with other source hashes:
	 * only DNS answers changed (apply.c keeps a steerctl override then).
	 */
	__u32 file_hash;
	__u32 health_failures; /* 0: no health section */
	__u32 health_eject_ms;
	__u32 health_max_eject_ms;
	__u16 max_connections;	 /* per backend; 0: no limit */
	__u8 health_max_ejected; /* % */
	__u8 pad0;
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

/* Release every heap array of @cfg; it is left an empty config. */
void route_cfg_free(struct steer_route_cfg *cfg);

/* route_cfg_free() on each of @n configs at @cfgs, then free(@cfgs): the
 * end of configs from calloc. NULL is a no-op. */
void route_cfg_destroy(struct steer_route_cfg *cfgs, int n);

/*
 * Empty @cfg (every field zero) but keep its versions' arrays for reuse:
 * what a decode or compile into it starts from.
 */
void route_cfg_reset(struct steer_route_cfg *cfg);

/* Deep copy of @src into @dst (whose arrays are reused). 0 or -ENOMEM. */
int route_cfg_copy(struct steer_route_cfg *dst,
		   const struct steer_route_cfg *src);

/* Equal configs: the same fields, backends and tables (arrays compared by
 * content, versions past n_versions ignored). */
bool route_cfg_equal(const struct steer_route_cfg *a,
		     const struct steer_route_cfg *b);

/* Room for @n backends in @v (its first n_backends kept). 0 or -ENOMEM. */
int route_cfg_reserve(struct steer_version *v, int n);

/* Family @f's backend table of @v, allocated if need be and marked valid
 * (its content is the caller's to fill); NULL when out of memory. */
__u16 *route_cfg_table_new(struct steer_version *v, int f);

/* Family @f's backend table of @v, or NULL when it has none. */
static inline const __u16 *route_cfg_table(const struct steer_version *v, int f)
{
	return (v->tables & (1u << f)) ? v->table[f] : NULL;
}

#endif /* STEER_ROUTE_CFG_H */
