// SPDX-License-Identifier: BSD-2-Clause
/*
 * libFuzzer target for the route parser and the table compiler: the input
 * is a route file. Every route that parses is compiled (compile_route)
 * against the config of the route before it, and its tables are rebuilt
 * again (compile_tables), as steerctl does, so the stable-table code sees
 * a changing @prev. The tables are then checked for indexes out of range.
 *
 * The parser takes a path, so the bytes go to a memfd read back through
 * /proc/self/fd/N: no file system writes, nothing left behind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "compile.h"
#include "routes.h"

/* Does not exist: every cgroup compiles to id 0. */
#define FUZZ_CGROUP_ROOT "/nonexistent-steer-fuzz-cgroup-root"

static void fuzz_fail(const char *what, int a, int b)
{
	fprintf(stderr, "fuzz_routes: %s (%d, %d)\n", what, a, b);
	abort();
}

/*
 * Every table slot names a version or backend that exists, or none. @all:
 * every table was built (compile_tables), else only those the route's rows
 * store (compile_route leaves the others as they were).
 */
static void check_cfg(const struct steer_route_cfg *cfg, bool all)
{
	bool rule_tables = all || (cfg->flags & STEER_ROUTE_AFFINITY_CLIENT);

	for (int i = 0; i < cfg->n_rules; i++) {
		const struct steer_rule *rule = &cfg->rules[i];

		if (rule->counter_slot >= STEER_MAX_RULES)
			fuzz_fail("rule counter_slot out of range", i,
				  rule->counter_slot);
		for (int f = 0; rule_tables && f < STEER_FAM_COUNT; f++)
			for (int s = 0; s < STEER_SPLIT_POINTS; s++) {
				__u8 v = rule->table[f][s];

				if (v != STEER_TABLE_NONE &&
				    v >= cfg->n_versions)
					fuzz_fail("rule slot names no version",
						  i, v);
			}
	}
	for (int i = 0; i < cfg->n_versions; i++) {
		const struct steer_version *ver = &cfg->versions[i];

		if (ver->counter_slot >= STEER_MAX_VERSIONS)
			fuzz_fail("version counter_slot out of range", i,
				  ver->counter_slot);
		for (int b = 0; b < ver->n_backends; b++)
			if (ver->backends[b].counter_slot >= ROUTE_MAX_BACKENDS)
				fuzz_fail("backend counter_slot out of range",
					  i, ver->backends[b].counter_slot);
		for (int f = 0; f < STEER_FAM_COUNT; f++) {
			const __u16 *t = route_cfg_table(ver, f);

			if (!all && !compile_needs_table(cfg, ver, f))
				continue;
			if (!t) {
				fuzz_fail("version has no table", i, f);
				continue;
			}
			for (int s = 0; s < STEER_BACKEND_TABLE_UNIT; s++) {
				__u16 b = t[s];

				if (b != STEER_BACKEND_NONE &&
				    (b >= ver->n_backends ||
				     ver->backends[b].family != f))
					fuzz_fail("version slot names no "
						  "backend of its family",
						  i, b);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Large (hundreds of KiB each): on the heap, once. */
	static struct steer_route_cfg *cfg, *prev;
	struct route_set set = { 0 };
	char path[64], err[ROUTE_ERR_MAX];
	struct steer_route_cfg *tmp;
	bool have_prev = false;
	int fd, i;

	if (!cfg) {
		cfg = calloc(1, sizeof(*cfg));
		prev = calloc(1, sizeof(*prev));
		if (!cfg || !prev)
			abort();
	}
	fd = memfd_create("fuzz-route", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (routes_parse_file(path, &set, err, sizeof(err))) {
		if (set.n || set.routes)
			fuzz_fail("failed parse left routes in the set", set.n,
				  0);
		close(fd);
		return 0;
	}
	close(fd);

	for (i = 0; i < set.n; i++) {
		const struct steer_route_cfg *p = have_prev ? prev : NULL;

		if (compile_route(&set.routes[i], FUZZ_CGROUP_ROOT, p, cfg, err,
				  sizeof(err)))
			continue;
		check_cfg(cfg, false);
		/* As steerctl does after a change: rebuild against @prev. */
		compile_tables(cfg, p);
		check_cfg(cfg, true);
		/* And against itself: a rebuild of a live config. */
		if (route_cfg_copy(prev, cfg))
			abort();
		compile_tables(cfg, prev);
		check_cfg(cfg, true);
		if (!route_cfg_equal(prev, cfg))
			fuzz_fail("rebuilding a table against itself moved "
				  "slots",
				  i, 0);
		tmp = prev;
		prev = cfg;
		cfg = tmp;
		have_prev = true;
	}
	routes_free(&set);
	return 0;
}
