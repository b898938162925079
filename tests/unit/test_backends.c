/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Versions of many backends: up to 4,096 parse, compile, encode into rows
 * and decode back; 4,097 are refused with the parser's message; a
 * selection table (2,520 entries a family) refuses more backends than it
 * can name when the file alone needs one, and rounds when ejections or DNS
 * answers get there; counter slots and table entries keep their backends
 * across a change (the hashed lookup, past 32 backends).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "compile.h"
#include "routes.h"
#include "rows.h"
#include "rows_ids.h"

#define V4 STEER_FAM_INET

/* The route file text: version v1 of @n backends 10.1.x.y:80 (weight
 * 2 for every other one when @unequal), @affinity; malloc'ed. */
static char *route_text(int n, bool unequal, bool affinity)
{
	size_t len = 256 + (size_t)n * 48;
	char *t = malloc(len);
	size_t off;

	if (!t)
		abort();
	off = (size_t)snprintf(t, len,
			       "kind: Route\n"
			       "name: many\n"
			       "frontends: [10.96.0.20:80]\n"
			       "versions:\n"
			       "  v1:\n"
			       "    backends:\n");
	for (int i = 0; i < n; i++) {
		if (unequal && i % 2)
			off += (size_t)snprintf(
				t + off, len - off,
				"      - {address: 10.1.%d.%d:80, weight: 2}\n",
				i / 250, i % 250 + 1);
		else
			off += (size_t)snprintf(t + off, len - off,
						"      - 10.1.%d.%d:80\n",
						i / 250, i % 250 + 1);
	}
	snprintf(t + off, len - off,
		 "rules:\n  - name: default\n    split: {v1: 100}\n%s",
		 affinity ? "affinity: client\n" : "");
	return t;
}

static char path[64];

/* Parse @text as a file of its own; 0 or -errno with @err set. */
static int parse(const char *text, struct route_set *set, char *err)
{
	int fd, ret;

	snprintf(path, sizeof(path), "/tmp/steer-backends-XXXXXX.yaml");
	fd = mkstemps(path, 5);
	if (fd < 0)
		return -errno;
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -EIO;
	close(fd);
	if (!ret)
		ret = routes_parse_file(path, set, err, ROUTE_ERR_MAX);
	unlink(path);
	return ret;
}

/* The error of parsing version v1 of @n backends, or "" when it parses. */
static const char *parse_error(int n, bool unequal, bool affinity)
{
	static char err[ROUTE_ERR_MAX];
	struct route_set set = { 0 };
	char *t = route_text(n, unequal, affinity);

	err[0] = '\0';
	if (!parse(t, &set, err))
		routes_free(&set);
	free(t);
	return err;
}

static struct steer_route_cfg *compile_text(const char *text,
					    const struct steer_route_cfg *prev)
{
	struct steer_route_cfg *cfg = calloc(1, sizeof(*cfg));
	struct route_set set = { 0 };
	char err[ROUTE_ERR_MAX] = "";

	if (!cfg || parse(text, &set, err) || set.n != 1 ||
	    compile_route(&set.routes[0], "/nonexistent-cgroup-root", prev, cfg,
			  err, sizeof(err))) {
		fprintf(stderr, "  %s\n", err);
		route_cfg_destroy(cfg, 1);
		cfg = NULL;
	}
	routes_free(&set);
	return cfg;
}

TEST(version_of_4096_backends)
{
	char *t = route_text(STEER_MAX_BACKENDS, false, false);
	struct steer_route_cfg *c = compile_text(t, NULL), *d;
	struct test_ids *ids = calloc(1, sizeof(*ids));
	struct route_rows rows;
	char *seen = calloc(STEER_MAX_BACKENDS, 1);

	free(t);
	ASSERT_TRUE(c && ids && seen);
	ASSERT_EQ(c->versions[0].n_backends, STEER_MAX_BACKENDS);
	ASSERT_EQ(c->versions[0].backends[4095].addr[0], htonl(0x0a011060));
	/* every backend its own counter slot */
	for (int b = 0; b < STEER_MAX_BACKENDS; b++) {
		__u16 s = c->versions[0].backends[b].counter_slot;

		ASSERT_TRUE(s < STEER_MAX_BACKENDS && !seen[s]);
		seen[s] = 1;
	}
	free(seen);
	/* equal weights, no affinity: by index, no table */
	ASSERT_TRUE(!compile_needs_table(c, &c->versions[0], V4));
	ASSERT_EQ(rows_encode(c, 0, id_of, ids, &rows), 0);
	/* header, name, a rule (2), a version, 1024 rows of refs */
	ASSERT_EQ(rows.n_rows, 2 + 2 + 1 + STEER_MAX_BACKENDS / 4);
	d = calloc(1, sizeof(*d));
	ASSERT_TRUE(d);
	ASSERT_EQ(rows_decode(rows.rows, rows.n_rows, 1, addr_of, no_match, ids,
			      d),
		  0);
	rows_free(&rows);
	ASSERT_EQ(d->versions[0].n_backends, STEER_MAX_BACKENDS);
	for (int b = 0; b < STEER_MAX_BACKENDS; b++) {
		ASSERT_EQ(memcmp(d->versions[0].backends[b].addr,
				 c->versions[0].backends[b].addr, 16),
			  0);
		ASSERT_EQ(d->versions[0].backends[b].counter_slot,
			  c->versions[0].backends[b].counter_slot);
	}
	/* decoding rebuilds the tables; copies are deep and equal */
	compile_tables(c, NULL);
	ASSERT_TRUE(route_cfg_equal(c, d));
	ASSERT_EQ(route_cfg_copy(c, d), 0);
	ASSERT_TRUE(route_cfg_equal(c, d));
	ASSERT_TRUE(c->versions[0].backends != d->versions[0].backends);
	route_cfg_destroy(c, 1);
	route_cfg_destroy(d, 1);
	free(ids);
}

TEST(version_of_4097_backends_refused)
{
	char want[ROUTE_ERR_MAX];
	const char *err = parse_error(STEER_MAX_BACKENDS + 1, false, false);

	/* the 4097th backend: line 6 + 4097, after "      - " */
	snprintf(want, sizeof(want),
		 "%s:%d:9: too many backends in version \"v1\": at most 4096",
		 path, 6 + STEER_MAX_BACKENDS + 1);
	ASSERT_STREQ(err, want);
}

TEST(table_of_more_than_2520_backends_refused)
{
	char want[ROUTE_ERR_MAX];
	const char *err;

	ASSERT_STREQ(parse_error(STEER_BACKEND_TABLE_UNIT, true, true), "");
	ASSERT_STREQ(parse_error(STEER_MAX_BACKENDS, false, false), "");
	err = parse_error(STEER_BACKEND_TABLE_UNIT + 1, false, true);
	snprintf(want, sizeof(want),
		 "%s:5:3: too many backends in version \"v1\" for its "
		 "selection table: 2521 IPv4 backends, at most 2520 with "
		 "affinity: client",
		 path);
	ASSERT_STREQ(err, want);
	err = parse_error(STEER_MAX_BACKENDS, true, false);
	snprintf(want, sizeof(want),
		 "%s:5:3: too many backends in version \"v1\" for its "
		 "selection table: 4096 IPv4 backends, at most 2520 with "
		 "unequal weights",
		 path);
	ASSERT_STREQ(err, want);
}

/*
 * An ejection makes a version of equal weights need a table: 4,095 usable
 * backends in 2,520 entries. Each gets at most one entry, and 2,520
 * distinct backends get one (docs/route-files.md: the rounding).
 */
TEST(table_beyond_2520_backends_rounds)
{
	char *t = route_text(STEER_MAX_BACKENDS, false, false);
	struct steer_route_cfg *c = compile_text(t, NULL);
	int *hits = calloc(STEER_MAX_BACKENDS, sizeof(*hits)), named = 0;
	const __u16 *tab;

	free(t);
	ASSERT_TRUE(c && hits);
	c->versions[0].backends[7].flags |= STEER_BACKEND_EJECTED;
	compile_tables(c, c);
	ASSERT_TRUE(compile_needs_table(c, &c->versions[0], V4));
	tab = route_cfg_table(&c->versions[0], V4);
	ASSERT_TRUE(tab);
	for (int s = 0; s < STEER_BACKEND_TABLE_UNIT; s++) {
		ASSERT_TRUE(tab[s] < STEER_MAX_BACKENDS && tab[s] != 7);
		named += !hits[tab[s]]++;
	}
	ASSERT_EQ(named, STEER_BACKEND_TABLE_UNIT);
	route_cfg_destroy(c, 1);
	free(hits);
}

/*
 * A backend removed from a version of 2,000 (affinity: a table): every
 * other backend keeps its counter slot and every table entry it had.
 */
TEST(many_backends_keep_slots_and_entries)
{
	char *t = route_text(2000, false, true);
	struct steer_route_cfg *a = compile_text(t, NULL), *b;
	char *drop;

	ASSERT_TRUE(a);
	compile_tables(a, NULL);
	/* drop backend 1000 (10.1.4.1:80): its line is 6 + 1001 */
	drop = strstr(t, "      - 10.1.4.1:80\n");
	ASSERT_TRUE(drop);
	memmove(drop, drop + strlen("      - 10.1.4.1:80\n"),
		strlen(drop + strlen("      - 10.1.4.1:80\n")) + 1);
	b = compile_text(t, a);
	free(t);
	ASSERT_TRUE(b);
	compile_tables(b, a);
	ASSERT_EQ(b->versions[0].n_backends, 1999);
	for (int i = 0; i < 1999; i++) {
		int j = i < 1000 ? i : i + 1;

		ASSERT_EQ(b->versions[0].backends[i].counter_slot,
			  a->versions[0].backends[j].counter_slot);
	}
	for (int s = 0; s < STEER_BACKEND_TABLE_UNIT; s++) {
		__u16 o = route_cfg_table(&a->versions[0], V4)[s];
		__u16 n = route_cfg_table(&b->versions[0], V4)[s];

		if (o != 1000)
			ASSERT_EQ(n, o < 1000 ? o : o - 1);
	}
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
}

static __u32 gcd_of(__u32 a, __u32 b)
{
	while (b) {
		__u32 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * The health-aware choice's step (steer_version_row.probe_stride), for
 * every version size: coprime with it, so that stepping visits every
 * backend once before any twice, and about 0.618 of it, so that probes
 * leave a run of ejected backends at once.
 */
TEST(probe_stride_visits_every_backend_and_spreads)
{
	static unsigned char seen[STEER_MAX_BACKENDS];

	ASSERT_EQ(rows_probe_stride(1), 1);
	ASSERT_EQ(rows_probe_stride(2), 1);
	for (__u32 n = 3; n <= STEER_MAX_BACKENDS; n++) {
		__u32 s = rows_probe_stride(n), at = n / 3;

		ASSERT_TRUE(s >= 1 && s < n);
		ASSERT_EQ(gcd_of(s, n), 1);
		if (n >= 16)
			ASSERT_TRUE((s + 1) * 1000 >= 618 * n &&
				    s * 100 <= 72 * n);
		if (n % 97 && n != STEER_MAX_BACKENDS)
			continue; /* the walk itself, for a sample of sizes */
		memset(seen, 0, n);
		for (__u32 i = 0; i < n; i++, at = (at + s) % n) {
			ASSERT_EQ(seen[at], 0);
			seen[at] = 1;
		}
	}
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
