/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Make the maps equal to a set of routes. Everything is parsed, validated
 * and compiled before the first map write, so a bad input changes nothing.
 */
#ifndef STEER_APPLY_H
#define STEER_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include "maps.h"
#include "routes.h"

struct apply_stats {
	int published;	  /* routes whose config was swapped */
	int unchanged;	  /* routes already live as compiled */
	int kept;	  /* routes kept because steerctl overrides them */
	int removed;	  /* routes deleted */
	__u64 generation; /* newest generation live after the apply */
};

/*
 * What one apply leaves for the next, so that it does only what changed:
 * valid while nobody else has published since (the newest generation in
 * the index is still @generation; steerctl's writes move it).
 */
struct apply_memo {
	bool valid;
	__u64 generation;
	__u32 max;   /* --max-routes: bits of @taken */
	__u8 *taken; /* route ids live, a bitmap */
};

/*
 * Apply @set to @m. Route ids are kept by name. A route that steerctl
 * changed (STEER_ROUTE_OVERRIDE) keeps its live config while its file
 * says what it said when the override was made. Published routes get the
 * newest live generation + 1. Call with maps_lock() held. Returns 0 or
 * -errno with a message in @err.
 *
 * With a valid @memo and @prev, the set of the previous apply after
 * routes_load_dir_from took from it what @set reuses, only what changed
 * is looked at: the routes @set parsed anew (and those whose compiled
 * form depends on more than their text: cgroup matches, dns backends),
 * and the routes left in @prev, which are gone. Otherwise every route is
 * checked against the whole of the live maps. Each route's `applied`
 * record and @memo are brought up to date. @memo and @prev may be NULL.
 */
int apply_routes(struct steer_maps *m, struct route_set *set,
		 struct route_set *prev, const char *cgroup_root,
		 struct apply_memo *memo, struct apply_stats *st, char *err,
		 size_t errlen);
void apply_memo_free(struct apply_memo *memo);

#endif /* STEER_APPLY_H */
