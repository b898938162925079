/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Compile a parsed route into the one map value the datapath reads
 * (struct steer_route_cfg), including the prefilled selection tables.
 *
 * Tables are stable: given the configuration that is live now (@prev), a
 * table entry keeps its version (and its backend) unless that version must
 * give entries up. So raising a version's share never moves a client off it,
 * and lowering it moves only as many clients as it must (docs/DESIGN.md §2).
 */
#ifndef STEER_COMPILE_H
#define STEER_COMPILE_H

#include <stddef.h>
#include "routes.h"

/*
 * Fill @out from @r. Cgroup paths are resolved below @cgroup_root (the
 * cgroup2 mount point); a cgroup that does not exist gets id 0 and never
 * matches. @prev (may be NULL) is the live config whose tables are kept
 * stable. Returns 0 or -errno with a message in @err.
 */
int compile_route(const struct route *r, const char *cgroup_root,
		  const struct steer_route_cfg *prev,
		  struct steer_route_cfg *out, char *err, size_t errlen);

/*
 * compile_route() without the tables and counter slots: whether @r
 * compiles, and its source_hash, in @scratch (which it leaves holding
 * the rest). Cheap enough to run on every route of every apply.
 */
int compile_route_check(const struct route *r, const char *cgroup_root,
			struct steer_route_cfg *scratch, char *err,
			size_t errlen);

/*
 * Rebuild every selection table of @cfg from its splits, versions, backend
 * weights and backend flags, keeping entries of @prev (may be NULL) where it
 * can. steerctl uses it after changing a split or ejecting a backend.
 */
void compile_tables(struct steer_route_cfg *cfg,
		    const struct steer_route_cfg *prev);
/* Only the tables the route's rows store (compile_needs_table, and rule
 * tables with client affinity): what publishing needs. */
void compile_stored_tables(struct steer_route_cfg *cfg,
			   const struct steer_route_cfg *prev);
/*
 * Whether version @v of @cfg is chosen from by a backend table for family
 * @f: with client affinity, or when its usable backends of @f do not all
 * weigh the same; otherwise by index, and no table is stored.
 */
bool compile_needs_table(const struct steer_route_cfg *cfg,
			 const struct steer_version *v, int f);

/*
 * Stable apportionment of @n_entries table entries among @n owners with
 * @want[i] entries each (sum == n_entries, or 0 to leave every entry
 * STEER_TABLE_NONE).
 * @old (may be NULL) is the previous table, already translated to the new
 * owner indices (STEER_TABLE_NONE for owners that are gone). Exposed for the
 * unit tests.
 */
void compile_fill_table(__u8 *table, size_t n_entries, const __u32 *want, int n,
			const __u8 *old);

/*
 * Largest-remainder apportionment of @total units by @weights (n entries,
 * zero weights get zero). Exact when the weights divide @total evenly.
 */
void compile_apportion(const __u32 *weights, int n, __u32 total, __u32 *out);

/*
 * Give each rule, version and backend of @cfg its counter slot (counter_slot),
 * keeping the slots of same-named rules and versions of @prev (may be NULL)
 * and of same-addressed backends within a same-named version.
 * compile_route calls it; the caller zeroes the counters of slots that are
 * new before publishing (apply.c).
 */
void compile_counter_slots(struct steer_route_cfg *cfg,
			   const struct steer_route_cfg *prev);

/* Index of the version / rule named @name in @cfg, or -1. */
int compile_version_index(const struct steer_route_cfg *cfg, const char *name);
int compile_rule_index(const struct steer_route_cfg *cfg, const char *name);
/* Index of the backend of @v with @b's family, address and port, or -1. */
int compile_backend_index(const struct steer_version *v,
			  const struct steer_backend *b);

/* compile_source.c: the hash of what the route file says (not of tables,
 * flags set by steerctl), and the file hash (route_cfg.h) of @cfg compiled
 * from @r. */
__u64 compile_source_hash(const struct steer_route_cfg *cfg);
__u32 compile_file_hash(const struct route *r,
			const struct steer_route_cfg *cfg);

/*
 * True when @cfg's splits or manual ejections differ from its file: what
 * STEER_ROUTE_OVERRIDE marks (steerctl's edits; steerd when only DNS
 * answers changed under them).
 */
bool compile_overridden(const struct steer_route_cfg *cfg);

/*
 * @cfg, compiled from an unchanged file with new DNS answers, takes the
 * steerctl changes of @live: its rules' splits, its backends' ejections
 * (by address), OVERRIDE while they differ from the file; tables rebuilt
 * against @live.
 */
void compile_keep_overrides(struct steer_route_cfg *cfg,
			    const struct steer_route_cfg *live);

#endif /* STEER_COMPILE_H */
