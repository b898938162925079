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
 * Apply @set to @m. Route ids are kept by name. A route that steerctl
 * changed (STEER_ROUTE_OVERRIDE) keeps its live config while its file
 * says what it said when the override was made. Published routes get the
 * newest live generation + 1. Call with maps_lock() held. Returns 0 or
 * -errno with a message in @err.
 */
int apply_routes(struct steer_maps *m, const struct route_set *set,
		 const char *cgroup_root, struct apply_stats *st, char *err,
		 size_t errlen);

#endif /* STEER_APPLY_H */
