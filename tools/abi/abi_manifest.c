// SPDX-License-Identifier: BSD-2-Clause
/*
 * abi_manifest: the pinned-map ABI of steer's BPF objects, one line a map.
 *
 *   abi_manifest [--sizing MANIFEST] OBJ...
 *
 * Opens each OBJ (no load: no privileges needed) and prints, sorted by
 * name, one line per map that steerd pins (libbpf's internal .rodata,
 * .bss, .data and .kconfig maps are skipped):
 *
 *   name  type  key_size  value_size  flags  max_entries  sizing
 *
 * A map-in-map also gets a line for its inner map template, named
 * OUTER.inner: the kernel refuses an inner map of another layout, so it is
 * as much a part of the ABI as the outer map. A map that several objects
 * share is printed once; if the objects disagree on it, that is an error.
 *
 * max_entries is the object's, i.e. the size at steerd's default flags.
 * The sizing rule says how steerd sizes the map at load, which the object
 * cannot tell; it is read from the sizing column of MANIFEST (the committed
 * include/steer_abi.manifest) and checked against max_entries:
 *   fixed            max_entries is what the object says, always
 *   max-routes[*N]   --max-routes times N (default STEER_DEFAULT_MAX_ROUTES)
 *   ct-max[*N]       --ct-max times N (default STEER_DEFAULT_CT_MAX)
 * Without --sizing the column is "-".
 *
 * Exit status: 0 ok, 1 error (objects disagree, a map without a sizing
 * rule, a rule that does not give max_entries), 2 usage. Errors go to
 * stderr; the manifest is printed in full either way, so that a diff
 * shows everything.
 *
 * EXAMPLES
 *   abi_manifest build/sock.bpf.o build/tc.bpf.o
 *   abi_manifest --sizing include/steer_abi.manifest build/sock.bpf.o
 * build/tc.bpf.o
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "steer_abi.h"

#define MAX_MAPS   128
#define NAME_LEN   128
#define SIZING_LEN 128
#define MAX_ERRORS 64

struct abi_map {
	char name[NAME_LEN];
	char type[32];
	__u32 key_size;
	__u32 value_size;
	__u32 flags;
	__u32 max_entries;
	char sizing[SIZING_LEN];
	const char *obj; /* the object it was first seen in */
};

static struct abi_map maps[MAX_MAPS];
static size_t nmaps;
static int errors;

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("abi_manifest: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	errors++;
}

/* libbpf chatter only when it is a warning. */
static int print_warn(enum libbpf_print_level level, const char *fmt,
		      va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void describe(const struct abi_map *m, char *buf, size_t len)
{
	snprintf(buf, len, "%s %u %u 0x%x %u", m->type, m->key_size,
		 m->value_size, m->flags, m->max_entries);
}

static bool same_layout(const struct abi_map *a, const struct abi_map *b)
{
	return !strcmp(a->type, b->type) && a->key_size == b->key_size &&
	       a->value_size == b->value_size && a->flags == b->flags &&
	       a->max_entries == b->max_entries;
}

/* Add @m, or check it against the map of the same name seen before. */
static int add_map(const struct abi_map *m)
{
	char was[96], now[96];

	for (size_t i = 0; i < nmaps; i++) {
		if (strcmp(maps[i].name, m->name))
			continue;
		if (!same_layout(&maps[i], m)) {
			describe(&maps[i], was, sizeof(was));
			describe(m, now, sizeof(now));
			warn("%s differs between %s (%s) and %s (%s)", m->name,
			     maps[i].obj, was, m->obj, now);
		}
		return 0;
	}
	if (nmaps == MAX_MAPS) {
		warn("more than %d maps", MAX_MAPS);
		return -E2BIG;
	}
	maps[nmaps++] = *m;
	return 0;
}

static void fill(struct abi_map *m, const struct bpf_map *map, const char *name,
		 const char *obj)
{
	const char *type = libbpf_bpf_map_type_str(bpf_map__type(map));

	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->type, sizeof(m->type), "%s", type ? type : "unknown");
	m->key_size = bpf_map__key_size(map);
	m->value_size = bpf_map__value_size(map);
	m->flags = bpf_map__map_flags(map);
	m->max_entries = bpf_map__max_entries(map);
	snprintf(m->sizing, sizeof(m->sizing), "-");
	m->obj = obj;
}

static int read_object(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	const char *obj_name = base_name(path);
	struct bpf_map *map, *inner;
	struct abi_map m;
	char name[NAME_LEN + 8];
	int ret = 0;

	if (!obj) {
		warn("cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		fill(&m, map, bpf_map__name(map), obj_name);
		ret = add_map(&m);
		if (ret)
			break;
		inner = bpf_map__inner_map(map);
		if (!inner)
			continue;
		snprintf(name, sizeof(name), "%s.inner", bpf_map__name(map));
		fill(&m, inner, name, obj_name);
		ret = add_map(&m);
		if (ret)
			break;
	}
	bpf_object__close(obj);
	return ret;
}

static struct abi_map *find_map(const char *name)
{
	for (size_t i = 0; i < nmaps; i++)
		if (!strcmp(maps[i].name, name))
			return &maps[i];
	return NULL;
}

/*
 * The max_entries @rule gives at steerd's default flags, or 0 when @rule
 * is "fixed"; -1 when it is not a rule.
 */
static long long rule_entries(const char *rule)
{
	const struct {
		const char *flag;
		unsigned long long dflt;
	} flags[] = {
		{ "max-routes", STEER_DEFAULT_MAX_ROUTES },
		{ "ct-max", STEER_DEFAULT_CT_MAX },
	};

	if (!strcmp(rule, "fixed"))
		return 0;
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		size_t n = strlen(flags[i].flag);
		unsigned long long mul = 1;
		char *end;

		if (strncmp(rule, flags[i].flag, n))
			continue;
		if (rule[n] == '*') {
			errno = 0;
			mul = strtoull(rule + n + 1, &end, 10);
			if (errno || *end || end == rule + n + 1 || !mul ||
			    mul > 1000000)
				return -1;
		} else if (rule[n]) {
			return -1;
		}
		return (long long)(flags[i].dflt * mul);
	}
	return -1;
}

/* Read the sizing column of @path into the maps it names. */
static int read_sizing(const char *path)
{
	char line[512], name[NAME_LEN], rule[SIZING_LEN];
	FILE *f = fopen(path, "r");
	int lineno = 0;

	if (!f) {
		warn("cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#');
		char fields[7][NAME_LEN];
		struct abi_map *m;
		int n;

		lineno++;
		if (hash)
			*hash = '\0';
		n = sscanf(line, "%127s %127s %127s %127s %127s %127s %127s",
			   fields[0], fields[1], fields[2], fields[3],
			   fields[4], fields[5], fields[6]);
		if (n <= 0)
			continue;
		snprintf(name, sizeof(name), "%s", fields[0]);
		if (n < 7) {
			warn("%s:%d: %s has no sizing rule (the last column: "
			     "fixed, max-routes[*N] or ct-max[*N])",
			     path, lineno, name);
			snprintf(rule, sizeof(rule), "?");
		} else {
			snprintf(rule, sizeof(rule), "%s", fields[6]);
		}
		m = find_map(name);
		if (m)
			snprintf(m->sizing, sizeof(m->sizing), "%s", rule);
	}
	fclose(f);
	return 0;
}

/* Every map has a rule, and the rule gives the object's max_entries. */
static void check_sizing(const char *path)
{
	for (size_t i = 0; i < nmaps; i++) {
		const struct abi_map *m = &maps[i];
		long long want;

		if (!strcmp(m->sizing, "-")) {
			warn("%s has no line in %s: add one with its sizing "
			     "rule",
			     m->name, path);
			continue;
		}
		if (!strcmp(m->sizing, "?"))
			continue; /* said when the line was read */
		want = rule_entries(m->sizing);
		if (want < 0)
			warn("%s: unknown sizing rule \"%s\" (fixed, "
			     "max-routes[*N] or ct-max[*N])",
			     m->name, m->sizing);
		else if (want && want != m->max_entries)
			warn("%s: sizing rule %s gives %lld entries at the "
			     "default flags, the object has %u",
			     m->name, m->sizing, want, m->max_entries);
	}
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct abi_map *)a)->name,
		      ((const struct abi_map *)b)->name);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: abi_manifest [--sizing MANIFEST] OBJ...\n"
		   "  print one line per pinned map of the BPF objects:\n"
		   "  name type key_size value_size flags max_entries "
		   "sizing\n"
		   "EXAMPLES\n"
		   "  abi_manifest --sizing include/steer_abi.manifest "
		   "build/sock.bpf.o build/tc.bpf.o\n");
}

int main(int argc, char **argv)
{
	const char *sizing = NULL;
	int i = 1;

	if (i < argc &&
	    (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (i < argc && !strcmp(argv[i], "--sizing")) {
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		sizing = argv[i + 1];
		i += 2;
	}
	if (i >= argc || argv[i][0] == '-') {
		usage(stderr);
		return 2;
	}
	libbpf_set_print(print_warn);
	for (; i < argc; i++)
		if (read_object(argv[i]))
			return 1;
	qsort(maps, nmaps, sizeof(maps[0]), cmp_name);
	if (sizing && !read_sizing(sizing))
		check_sizing(sizing);

	printf("# steer's pinned-map ABI: one line per map that steerd pins "
	       "(docs/upgrade.md).\n"
	       "# Generated by tools/abi/abi_manifest (make abi-manifest) "
	       "except the sizing\n"
	       "# column, which is kept by hand: fixed, max-routes[*N] or "
	       "ct-max[*N].\n"
	       "# make abi-check fails when the build differs from this "
	       "file, and when a map\n"
	       "# of a release in tests/upgrade/releases has another layout "
	       "under the same name:\n"
	       "# change a layout, change the name (_vN+1).\n"
	       "# %-24s %-14s %5s %7s %6s %8s  %s\n",
	       "name", "type", "key", "value", "flags", "entries", "sizing");
	for (size_t k = 0; k < nmaps; k++) {
		const struct abi_map *m = &maps[k];
		char flags[16];

		snprintf(flags, sizeof(flags), "0x%x", m->flags);
		printf("%-26s %-14s %5u %7u %6s %8u  %s\n", m->name, m->type,
		       m->key_size, m->value_size, flags, m->max_entries,
		       m->sizing);
	}
	return errors ? 1 : 0;
}
