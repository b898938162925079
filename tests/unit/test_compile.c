/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for agent/lib/compile.c: split and weight tables, family and
 * ejection handling, table stability against the live config, the source
 * hash and cgroup resolution. Routes are built directly in C (no YAML), so
 * these tests do not depend on the parser.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "rows.h"
#include "rows_ids.h"
#include "test.h"

#define V4 STEER_FAM_INET
#define V6 STEER_FAM_INET6

/* ---- building routes -------------------------------------------------- */

static struct route *route_new(const char *name)
{
	struct route *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->n_frontends = 1;
	r->file = strdup("test.yaml");
	r->versions = route_versions_new(STEER_MAX_VERSIONS);
	r->frontends = calloc(STEER_MAX_FRONTENDS, sizeof(*r->frontends));
	r->rules = calloc(STEER_MAX_RULES, sizeof(*r->rules));
	r->allow = route_matches_new(STEER_MAX_POLICY);
	r->deny = route_matches_new(STEER_MAX_POLICY);
	if (!r->file || !r->versions || !r->frontends || !r->rules ||
	    !r->allow || !r->deny)
		abort();
	return r;
}

static void route_del(struct route *r)
{
	route_free(r);
	free(r);
}

static int add_version(struct route *r, const char *name)
{
	struct route_version *v = &r->versions[r->n_versions];

	snprintf(v->name, sizeof(v->name), "%s", name);
	return r->n_versions++;
}

/* "10.0.0.1" or "fd00::1"; port 0 = written without a port. */
static int add_backend(struct route *r, int v, const char *addr, int port,
		       int weight)
{
	struct route_version *ver = &r->versions[v];
	struct route_backend *b = route_backend_add(ver);

	if (!b)
		abort();
	if (inet_pton(AF_INET, addr, b->addr.addr) == 1)
		b->addr.family = STEER_FAM_INET;
	else if (inet_pton(AF_INET6, addr, b->addr.addr) == 1)
		b->addr.family = STEER_FAM_INET6;
	else
		abort();
	b->addr.has_port = port != 0;
	b->addr.port = port;
	b->weight = weight;
	return ver->n_backends - 1;
}

/* Splits in 0.01 % units, one per version in order. */
static int add_rule(struct route *r, const char *name, ...)
{
	struct route_rule *rule = &r->rules[r->n_rules];
	va_list ap;

	snprintf(rule->name, sizeof(rule->name), "%s", name);
	va_start(ap, name);
	for (int v = 0; v < r->n_versions; v++)
		rule->split[v] = va_arg(ap, int);
	va_end(ap);
	return r->n_rules++;
}

/* Two versions with one IPv4 backend each and one rule split a/b. */
static struct route *two_versions(int a, int b)
{
	struct route *r = route_new("reviews");

	add_version(r, "v1");
	add_backend(r, 0, "10.0.1.1", 80, 1);
	add_version(r, "v2");
	add_backend(r, 1, "10.0.2.1", 80, 1);
	add_rule(r, "default", a, b);
	return r;
}

static struct steer_route_cfg *compile(const struct route *r,
				       const struct steer_route_cfg *prev)
{
	struct steer_route_cfg *cfg = calloc(1, sizeof(*cfg));
	char err[256] = "";
	int ret;

	if (!cfg)
		abort();
	ret = compile_route(r, "/nonexistent-cgroup-root", prev, cfg, err,
			    sizeof(err));
	if (ret) {
		fprintf(stderr, "compile_route: %d %s\n", ret, err);
		abort();
	}
	/* Publishing fills only the tables rows store; the tests look at
	 * every one. */
	compile_tables(cfg, prev);
	return cfg;
}

static int count(const __u8 *table, size_t n, __u8 owner)
{
	int c = 0;

	for (size_t i = 0; i < n; i++)
		c += table[i] == owner;
	return c;
}

static int count16(const __u16 *table, size_t n, __u16 owner)
{
	int c = 0;

	for (size_t i = 0; table && i < n; i++)
		c += table[i] == owner;
	return c;
}

static int rule_count(const struct steer_route_cfg *c, int r, int f, int v)
{
	return count(c->rules[r].table[f], STEER_SPLIT_POINTS, v);
}

static int be_count(const struct steer_route_cfg *c, int v, int f, int b)
{
	return count16(route_cfg_table(&c->versions[v], f),
		       STEER_BACKEND_TABLE_UNIT, (__u16)b);
}

/* ---- splits ----------------------------------------------------------- */

TEST(split_one_hundredth)
{
	struct route *r = two_versions(1, 9999);
	struct steer_route_cfg *c = compile(r, NULL);

	ASSERT_EQ(rule_count(c, 0, V4, 0), 1);
	ASSERT_EQ(rule_count(c, 0, V4, 1), 9999);
	route_cfg_destroy(c, 1);
	route_del(r);
}

TEST(split_thirds)
{
	struct route *r = route_new("thirds");
	struct steer_route_cfg *c;

	for (int v = 0; v < 3; v++) {
		char name[16], addr[32];

		snprintf(name, sizeof(name), "v%d", v + 1);
		snprintf(addr, sizeof(addr), "10.0.%d.1", v);
		add_version(r, name);
		add_backend(r, v, addr, 80, 1);
	}
	add_rule(r, "default", 3333, 3333, 3334);
	c = compile(r, NULL);
	ASSERT_EQ(rule_count(c, 0, V4, 0), 3333);
	ASSERT_EQ(rule_count(c, 0, V4, 1), 3333);
	ASSERT_EQ(rule_count(c, 0, V4, 2), 3334);
	route_cfg_destroy(c, 1);
	route_del(r);
}

TEST(split_100_0_deployed_not_released)
{
	struct route *r = two_versions(10000, 0);
	struct steer_route_cfg *c = compile(r, NULL);

	ASSERT_EQ(rule_count(c, 0, V4, 0), 10000);
	ASSERT_EQ(rule_count(c, 0, V4, 1), 0);
	route_cfg_destroy(c, 1);
	route_del(r);
}

TEST(split_95_5_contiguous_without_prev)
{
	struct route *r = two_versions(9500, 500);
	struct steer_route_cfg *c = compile(r, NULL);

	ASSERT_EQ(rule_count(c, 0, V4, 0), 9500);
	ASSERT_EQ(rule_count(c, 0, V4, 1), 500);
	/* Deterministic without prev: owners in contiguous runs by index. */
	for (int s = 0; s < STEER_SPLIT_POINTS; s++)
		ASSERT_EQ(c->rules[0].table[V4][s], s < 9500 ? 0 : 1);
	/* No IPv6 backend anywhere: the IPv6 table refuses. */
	ASSERT_EQ(count(c->rules[0].table[V6], STEER_SPLIT_POINTS,
			STEER_TABLE_NONE),
		  STEER_SPLIT_POINTS);
	route_cfg_destroy(c, 1);
	route_del(r);
}

/* ---- backend weights -------------------------------------------------- */

/* One version with @n IPv4 backends of the given weights. */
static struct steer_route_cfg *weighted(int n, const int *weights)
{
	struct route *r = route_new("weights");
	struct steer_route_cfg *c;

	add_version(r, "v1");
	for (int i = 0; i < n; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.0.0.%d", i + 1);
		add_backend(r, 0, addr, 80, weights[i]);
	}
	add_rule(r, "default", 10000);
	c = compile(r, NULL);
	route_del(r);
	return c;
}

TEST(weights_1_3)
{
	static const int w[] = { 1, 3 };
	struct steer_route_cfg *c = weighted(2, w);

	ASSERT_EQ(be_count(c, 0, V4, 0), 630);
	ASSERT_EQ(be_count(c, 0, V4, 1), 1890);
	route_cfg_destroy(c, 1);
}

TEST(weights_1_1_1)
{
	static const int w[] = { 1, 1, 1 };
	struct steer_route_cfg *c = weighted(3, w);

	for (int b = 0; b < 3; b++)
		ASSERT_EQ(be_count(c, 0, V4, b), 840);
	route_cfg_destroy(c, 1);
}

TEST(weights_1_2_3_4)
{
	static const int w[] = { 1, 2, 3, 4 };
	struct steer_route_cfg *c = weighted(4, w);

	for (int b = 0; b < 4; b++)
		ASSERT_EQ(be_count(c, 0, V4, b), 252 * w[b]);
	route_cfg_destroy(c, 1);
}

TEST(weights_seven_equal)
{
	static const int w[] = { 1, 1, 1, 1, 1, 1, 1 };
	struct steer_route_cfg *c = weighted(7, w);

	for (int b = 0; b < 7; b++)
		ASSERT_EQ(be_count(c, 0, V4, b), 360);
	route_cfg_destroy(c, 1);
}

TEST(weights_eleven_not_a_divisor)
{
	static const int w[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct steer_route_cfg *c = weighted(11, w);
	int sum = 0, min = STEER_BACKEND_TABLE_UNIT, max = 0;

	for (int b = 0; b < 11; b++) {
		int n = be_count(c, 0, V4, b);

		sum += n;
		min = n < min ? n : min;
		max = n > max ? n : max;
	}
	ASSERT_EQ(sum, STEER_BACKEND_TABLE_UNIT);
	ASSERT_TRUE(max - min <= 1);
	route_cfg_destroy(c, 1);
}

TEST(apportion_ties_to_lower_index)
{
	static const __u32 w[] = { 1, 1, 1, 0 };
	__u32 out[4];

	compile_apportion(w, 4, 10, out);
	ASSERT_EQ(out[0], 4);
	ASSERT_EQ(out[1], 3);
	ASSERT_EQ(out[2], 3);
	ASSERT_EQ(out[3], 0);
	/* Largest remainder first: 2/7 and 5/7 of 3 -> 0.857, 2.143. */
	static const __u32 w2[] = { 2, 5 };
	compile_apportion(w2, 2, 3, out);
	ASSERT_EQ(out[0], 1);
	ASSERT_EQ(out[1], 2);
	static const __u32 zero[] = { 0, 0 };
	compile_apportion(zero, 2, 10, out);
	ASSERT_EQ(out[0] + out[1], 0);
}

/* ---- families and ejection -------------------------------------------- */

TEST(family_share_goes_to_others)
{
	struct route *r = route_new("fam");
	struct steer_route_cfg *c;

	add_version(r, "v1");
	add_backend(r, 0, "10.0.1.1", 80, 1);
	add_backend(r, 0, "fd00::1", 80, 1);
	add_version(r, "v2"); /* IPv6 only */
	add_backend(r, 1, "fd00::2", 80, 1);
	add_version(r, "v3");
	add_backend(r, 2, "10.0.3.1", 0, 1);
	add_rule(r, "default", 6000, 2000, 2000);
	c = compile(r, NULL);
	/* IPv4: v2's 2000 go to v1 and v3 as 60:20 -> 7500 / 2500. */
	ASSERT_EQ(rule_count(c, 0, V4, 0), 7500);
	ASSERT_EQ(rule_count(c, 0, V4, 1), 0);
	ASSERT_EQ(rule_count(c, 0, V4, 2), 2500);
	/* IPv6: v3 has none; v1 and v2 share 60:20. */
	ASSERT_EQ(rule_count(c, 0, V6, 0), 7500);
	ASSERT_EQ(rule_count(c, 0, V6, 1), 2500);
	ASSERT_EQ(rule_count(c, 0, V6, 2), 0);
	/* Backend tables per family hold only that family's backends. */
	ASSERT_EQ(be_count(c, 0, V4, 0), STEER_BACKEND_TABLE_UNIT);
	ASSERT_EQ(be_count(c, 0, V6, 1), STEER_BACKEND_TABLE_UNIT);
	ASSERT_EQ(count16(route_cfg_table(&c->versions[2], V6),
			  STEER_BACKEND_TABLE_UNIT, STEER_BACKEND_NONE),
		  STEER_BACKEND_TABLE_UNIT);
	route_cfg_destroy(c, 1);
	route_del(r);
}

TEST(ejected_backend_gets_no_slot)
{
	static const int w[] = { 1, 1, 1 };
	struct steer_route_cfg *c = weighted(3, w);
	struct steer_route_cfg *prev = calloc(1, sizeof(*prev));

	ASSERT_EQ(route_cfg_copy(prev, c), 0);
	/* What steerctl eject does: flag, then rebuild in place. */
	c->versions[0].backends[1].flags |= STEER_BACKEND_EJECTED;
	compile_tables(c, c);
	ASSERT_EQ(be_count(c, 0, V4, 1), 0);
	ASSERT_EQ(be_count(c, 0, V4, 0), 1260);
	ASSERT_EQ(be_count(c, 0, V4, 2), 1260);
	/* The others keep every slot they had. */
	for (int s = 0; s < STEER_BACKEND_TABLE_UNIT; s++)
		if (prev->versions[0].table[V4][s] != 1)
			ASSERT_EQ(c->versions[0].table[V4][s],
				  prev->versions[0].table[V4][s]);
	route_cfg_destroy(prev, 1);
	route_cfg_destroy(c, 1);
}

TEST(all_backends_ejected_share_goes_to_others)
{
	struct route *r = route_new("ej");
	struct steer_route_cfg *c;

	add_version(r, "v1");
	add_backend(r, 0, "10.0.1.1", 80, 1);
	add_version(r, "v2");
	add_backend(r, 1, "10.0.2.1", 80, 1);
	add_backend(r, 1, "10.0.2.2", 80, 1);
	add_version(r, "v3");
	add_backend(r, 2, "10.0.3.1", 80, 1);
	add_rule(r, "default", 2500, 5000, 2500);
	c = compile(r, NULL);
	c->versions[1].backends[0].flags |= STEER_BACKEND_EJECTED;
	c->versions[1].backends[1].flags |= STEER_BACKEND_EJECTED;
	compile_tables(c, c);
	ASSERT_EQ(rule_count(c, 0, V4, 0), 5000);
	ASSERT_EQ(rule_count(c, 0, V4, 1), 0);
	ASSERT_EQ(rule_count(c, 0, V4, 2), 5000);
	route_cfg_destroy(c, 1);
	route_del(r);
}

TEST(no_usable_version_refuses)
{
	struct route *r = two_versions(0, 10000);
	struct steer_route_cfg *c = compile(r, NULL);

	/* v1 is usable but has split 0: it must not take v2's share. */
	c->versions[1].backends[0].flags |= STEER_BACKEND_EJECTED;
	compile_tables(c, c);
	ASSERT_EQ(count(c->rules[0].table[V4], STEER_SPLIT_POINTS,
			STEER_TABLE_NONE),
		  STEER_SPLIT_POINTS);
	route_cfg_destroy(c, 1);
	route_del(r);
}

/* ---- stability -------------------------------------------------------- */

static int moved(const struct steer_route_cfg *a,
		 const struct steer_route_cfg *b)
{
	int n = 0;

	for (int s = 0; s < STEER_SPLIT_POINTS; s++)
		n += a->rules[0].table[V4][s] != b->rules[0].table[V4][s];
	return n;
}

TEST(raise_share_never_moves_off)
{
	struct route *r = two_versions(9000, 1000);
	struct steer_route_cfg *a = compile(r, NULL), *b;

	r->rules[0].split[0] = 5000;
	r->rules[0].split[1] = 5000;
	b = compile(r, a);
	ASSERT_EQ(rule_count(b, 0, V4, 1), 5000);
	for (int s = 0; s < STEER_SPLIT_POINTS; s++)
		if (a->rules[0].table[V4][s] == 1)
			ASSERT_EQ(b->rules[0].table[V4][s], 1);
	ASSERT_EQ(moved(a, b), 4000);
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_del(r);
}

TEST(lower_share_moves_exactly_the_difference)
{
	struct route *r = two_versions(9000, 1000);
	struct steer_route_cfg *a = compile(r, NULL), *b, *c;

	/* Start from a non-contiguous table: 10 -> 50 -> 10. */
	r->rules[0].split[0] = 5000;
	r->rules[0].split[1] = 5000;
	b = compile(r, a);
	r->rules[0].split[0] = 9000;
	r->rules[0].split[1] = 1000;
	c = compile(r, b);
	ASSERT_EQ(rule_count(c, 0, V4, 1), 1000);
	ASSERT_EQ(moved(b, c), 4000);
	for (int s = 0; s < STEER_SPLIT_POINTS; s++)
		if (b->rules[0].table[V4][s] != c->rules[0].table[V4][s]) {
			ASSERT_EQ(b->rules[0].table[V4][s], 1);
			ASSERT_EQ(c->rules[0].table[V4][s], 0);
		}
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_cfg_destroy(c, 1);
	route_del(r);
}

TEST(same_config_is_byte_identical)
{
	struct route *r = route_new("same");
	struct steer_route_cfg *a, *b, *c;

	for (int v = 0; v < 3; v++) {
		char name[16], addr[32];

		snprintf(name, sizeof(name), "v%d", v + 1);
		snprintf(addr, sizeof(addr), "10.0.%d.1", v);
		add_version(r, name);
		add_backend(r, v, addr, 80, 1);
		add_backend(r, v, addr, 81, 2);
	}
	add_rule(r, "default", 5000, 2500, 2500);
	a = compile(r, NULL);
	/* 50/25/25 -> 25/25/50 leaves a non-contiguous table behind. */
	r->rules[0].split[0] = 2500;
	r->rules[0].split[2] = 5000;
	b = compile(r, a);
	c = compile(r, b);
	ASSERT_TRUE(route_cfg_equal(b, c));
	route_cfg_destroy(c, 1);
	/* Without prev it differs (contiguous runs), with prev it is kept. */
	c = compile(r, NULL);
	ASSERT_TRUE(memcmp(b->rules, c->rules, sizeof(b->rules)) != 0);
	ASSERT_EQ(b->source_hash, c->source_hash);
	ASSERT_EQ(c->rules[0].table[V4][2500], 1);
	ASSERT_EQ(b->rules[0].table[V4][2500], 2);
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_cfg_destroy(c, 1);
	route_del(r);
}

TEST(reordered_versions_keep_slots)
{
	struct route *r = two_versions(7000, 3000);
	struct route *r2 = route_new("reviews");
	struct steer_route_cfg *a = compile(r, NULL), *b;

	/* Same route, versions (and so split columns) in the other order. */
	add_version(r2, "v2");
	add_backend(r2, 0, "10.0.2.1", 80, 1);
	add_version(r2, "v1");
	add_backend(r2, 1, "10.0.1.1", 80, 1);
	add_rule(r2, "default", 3000, 7000);
	b = compile(r2, a);
	for (int s = 0; s < STEER_SPLIT_POINTS; s++) {
		int va = a->rules[0].table[V4][s],
		    vb = b->rules[0].table[V4][s];

		ASSERT_STREQ(a->versions[va].name, b->versions[vb].name);
	}
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_del(r);
	route_del(r2);
}

TEST(removed_backend_slots_go_to_the_rest)
{
	struct route *r = route_new("rm");
	struct steer_route_cfg *a, *b;

	add_version(r, "v1");
	add_backend(r, 0, "10.0.0.1", 80, 1);
	add_backend(r, 0, "10.0.0.2", 80, 1);
	add_backend(r, 0, "10.0.0.3", 80, 1);
	add_rule(r, "default", 10000);
	a = compile(r, NULL);
	/* Drop the middle backend: .3 becomes index 1. */
	r->versions[0].backends[1] = r->versions[0].backends[2];
	r->versions[0].n_backends = 2;
	b = compile(r, a);
	ASSERT_EQ(be_count(b, 0, V4, 0), 1260);
	ASSERT_EQ(be_count(b, 0, V4, 1), 1260);
	for (int s = 0; s < STEER_BACKEND_TABLE_UNIT; s++) {
		__u16 o = a->versions[0].table[V4][s];

		if (o == 0)
			ASSERT_EQ(b->versions[0].table[V4][s], 0);
		else if (o == 2)
			ASSERT_EQ(b->versions[0].table[V4][s], 1);
	}
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_del(r);
}

TEST(fill_table_without_old_is_contiguous)
{
	static const __u32 want[] = { 3, 0, 2, 5 };
	static const __u8 expect[] = { 0, 0, 0, 2, 2, 3, 3, 3, 3, 3 };
	__u8 t[10];

	compile_fill_table(t, 10, want, 4, NULL);
	ASSERT_EQ(memcmp(t, expect, sizeof(t)), 0);
	/* Old owners keep their slots; gone owners (NONE) are refilled. */
	static const __u8 old[] = {
		3, 3, STEER_TABLE_NONE, 0, 0, 0, 0, 2, 2, 2
	};
	static const __u8 expect2[] = { 3, 3, 3, 0, 0, 0, 3, 2, 2, 3 };
	compile_fill_table(t, 10, want, 4, old);
	ASSERT_EQ(memcmp(t, expect2, sizeof(t)), 0);
}

/* Random splits with a fixed seed: the affinity property, step by step. */
TEST(stability_property_random_splits)
{
	struct route *r = route_new("prop");
	struct steer_route_cfg *prev, *next;
	unsigned int seed = 12345;

	for (int v = 0; v < 4; v++) {
		char name[16], addr[32];

		snprintf(name, sizeof(name), "v%d", v + 1);
		snprintf(addr, sizeof(addr), "10.0.%d.1", v);
		add_version(r, name);
		add_backend(r, v, addr, 80, 1);
	}
	add_rule(r, "default", 2500, 2500, 2500, 2500);
	prev = compile(r, NULL);
	for (int step = 0; step < 200; step++) {
		int left = STEER_SPLIT_POINTS, want_moved = 0, got_moved = 0;

		for (int v = 0; v < 3; v++) {
			int n = rand_r(&seed) % (left + 1);

			r->rules[0].split[v] = n;
			left -= n;
		}
		r->rules[0].split[3] = left;
		next = compile(r, prev);
		for (int v = 0; v < 4; v++) {
			int was = rule_count(prev, 0, V4, v);
			int now = rule_count(next, 0, V4, v);

			ASSERT_EQ(now, r->rules[0].split[v]);
			want_moved += was > now ? was - now : 0;
		}
		for (int s = 0; s < STEER_SPLIT_POINTS; s++) {
			__u8 o = prev->rules[0].table[V4][s];
			__u8 n = next->rules[0].table[V4][s];

			if (o == n)
				continue;
			got_moved++;
			/* Only a version that shrank gives a slot up. */
			ASSERT_TRUE(rule_count(next, 0, V4, o) <
				    rule_count(prev, 0, V4, o));
		}
		ASSERT_EQ(got_moved, want_moved);
		route_cfg_destroy(prev, 1);
		prev = next;
	}
	route_cfg_destroy(prev, 1);
	route_del(r);
}

TEST(removed_version_slots_go_to_the_rest)
{
	struct route *r = route_new("rmv");
	struct steer_route_cfg *a, *b;

	add_version(r, "v1");
	add_backend(r, 0, "10.0.1.1", 80, 1);
	add_version(r, "v2");
	add_backend(r, 1, "10.0.2.1", 80, 1);
	add_version(r, "v3");
	add_backend(r, 2, "10.0.3.1", 80, 1);
	add_rule(r, "default", 3000, 4000, 3000);
	a = compile(r, NULL);
	/* v2 goes away; v3 moves to index 1 and must keep its slots. */
	free(r->versions[1].backends); /* moved, not copied: it owns them */
	r->versions[1] = r->versions[2];
	memset(&r->versions[2], 0, sizeof(r->versions[2]));
	r->n_versions = 2;
	r->rules[0].split[0] = 5000;
	r->rules[0].split[1] = 5000;
	r->rules[0].split[2] = 0;
	b = compile(r, a);
	ASSERT_EQ(rule_count(b, 0, V4, 0), 5000);
	ASSERT_EQ(rule_count(b, 0, V4, 1), 5000);
	for (int s = 0; s < STEER_SPLIT_POINTS; s++) {
		__u8 o = a->rules[0].table[V4][s];

		if (o == 0)
			ASSERT_EQ(b->rules[0].table[V4][s], 0);
		else if (o == 2)
			ASSERT_EQ(b->rules[0].table[V4][s], 1);
	}
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_del(r);
}

/* ---- compile_route fields and the source hash ------------------------- */

TEST(route_fields)
{
	struct route *r = two_versions(9500, 500);
	struct steer_route_cfg *c, *d;

	r->affinity = ROUTE_AFFINITY_CLIENT;
	r->policy_default_deny = true;
	r->health_failures = 5;
	r->health_eject_ms = 30000;
	r->n_frontends = 3;
	r->versions[1].backends[0].addr.has_port = false;
	c = compile(r, NULL);
	ASSERT_STREQ(c->name, "reviews");
	ASSERT_EQ(c->flags,
		  STEER_ROUTE_AFFINITY_CLIENT | STEER_ROUTE_DEFAULT_DENY);
	ASSERT_EQ(c->health_failures, 5);
	ASSERT_EQ(c->health_eject_ms, 30000);
	ASSERT_EQ(c->n_versions, 2);
	ASSERT_EQ(c->n_rules, 1);
	ASSERT_EQ(c->n_frontends, 3);
	ASSERT_EQ(c->versions[0].backends[0].port, htons(80));
	ASSERT_EQ(c->versions[1].backends[0].port, 0);
	ASSERT_EQ(c->versions[0].backends[0].addr[0], inet_addr("10.0.1.1"));
	ASSERT_EQ(c->rules[0].file_split[1], 500);
	ASSERT_EQ(c->rules[0].split[1], 500);
	ASSERT_EQ(c->generation, 0);
	ASSERT_EQ(c->applied_ns, 0);
	ASSERT_EQ(c->source_hash, compile_source_hash(c));
	/* The seed is a function of the name only. */
	d = compile(r, c);
	ASSERT_EQ(c->seed, d->seed);
	snprintf(r->name, sizeof(r->name), "ratings");
	route_cfg_destroy(d, 1);
	d = compile(r, NULL);
	ASSERT_TRUE(c->seed != d->seed);
	route_cfg_destroy(c, 1);
	route_cfg_destroy(d, 1);
	route_del(r);
}

TEST(source_hash)
{
	struct route *r = two_versions(9500, 500);
	struct steer_route_cfg *a = compile(r, NULL), *b = compile(r, NULL);
	__u64 h = a->source_hash;

	ASSERT_EQ(b->source_hash, h);
	/* steerctl-made changes are not the file's: the hash stays. */
	b->rules[0].split[0] = 5000;
	b->rules[0].split[1] = 5000;
	b->flags |= STEER_ROUTE_OVERRIDE;
	b->versions[0].backends[0].flags |= STEER_BACKEND_EJECTED;
	b->versions[0].backends[0].ejected_until_ns = 12345;
	b->generation = 7;
	b->applied_ns = 99;
	compile_tables(b, b);
	ASSERT_EQ(compile_source_hash(b), h);
	b->rules[0].table[V4][17] ^= 1;
	ASSERT_EQ(compile_source_hash(b), h);
	route_cfg_destroy(b, 1);
	/* File changes do change it. */
	r->versions[1].backends[0].weight = 2;
	b = compile(r, NULL);
	ASSERT_TRUE(b->source_hash != h);
	route_cfg_destroy(b, 1);
	r->versions[1].backends[0].weight = 1;
	r->rules[0].split[0] = 9000;
	r->rules[0].split[1] = 1000;
	b = compile(r, NULL);
	ASSERT_TRUE(b->source_hash != h);
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_del(r);
}

/* A dns entry {dns: @name, port: 80} in version @v. */
static void add_dns(struct route *r, int v, const char *name)
{
	struct route_version *ver = &r->versions[v];
	struct route_dns *d;

	if (route_array_grow((void **)&ver->dns, ver->n_dns, sizeof(*d)))
		abort();
	d = &ver->dns[ver->n_dns++];
	memset(d, 0, sizeof(*d));
	r->has_dns = true;

	d->kind = ROUTE_DNS_ADDR;
	d->port = 80;
	snprintf(d->name, sizeof(d->name), "%s", name);
}

/* Version @v's DNS answers, as dns_expand adds them: @n addresses in
 * place of the last ones. */
static void set_answer(struct route *r, int v, int n, const char *const *addrs)
{
	struct route_version *ver = &r->versions[v];

	ver->n_backends -= ver->n_dns_backends;
	ver->n_dns_backends = 0;
	for (int i = 0; i < n; i++) {
		add_backend(r, v, addrs[i], 80, 1);
		ver->n_dns_backends++;
	}
}

/*
 * The file hash tells "only DNS answers changed" (equal file hashes, other
 * source hashes) from "the file changed"; 0 for a route without dns/srv.
 */
TEST(file_hash_without_dns_answers)
{
	static const char *const one[] = { "10.0.2.7" }, *const two[] = {
		"10.0.2.8", "10.0.2.9"
	};
	struct route *r = two_versions(5000, 5000);
	struct steer_route_cfg *a, *b;

	a = compile(r, NULL);
	ASSERT_EQ(a->file_hash, 0);
	route_cfg_destroy(a, 1);
	add_dns(r, 1, "v2.example");
	set_answer(r, 1, 1, one);
	a = compile(r, NULL);
	ASSERT_TRUE(a->file_hash != 0);
	/* other answers: the same file */
	set_answer(r, 1, 2, two);
	b = compile(r, NULL);
	ASSERT_TRUE(b->source_hash != a->source_hash);
	ASSERT_EQ(b->file_hash, a->file_hash);
	route_cfg_destroy(b, 1);
	/* the file's own backends, splits or dns names: another file */
	r->versions[0].backends[0].weight = 3;
	b = compile(r, NULL);
	ASSERT_TRUE(b->file_hash != a->file_hash);
	route_cfg_destroy(b, 1);
	r->versions[0].backends[0].weight = 1;
	snprintf(r->versions[1].dns[0].name, ROUTE_DNS_NAME_MAX, "v3.example");
	b = compile(r, NULL);
	ASSERT_TRUE(b->file_hash != a->file_hash);
	route_cfg_destroy(b, 1);
	snprintf(r->versions[1].dns[0].name, ROUTE_DNS_NAME_MAX, "v2.example");
	r->rules[0].split[0] = 4000;
	r->rules[0].split[1] = 6000;
	b = compile(r, NULL);
	ASSERT_TRUE(b->file_hash != a->file_hash);
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_del(r);
}

/*
 * New answers under a steerctl override: the new config takes steerctl's
 * splits and, by address, its ejections; OVERRIDE stays while they differ
 * from the file and goes when they do not any more.
 */
TEST(keep_overrides_by_name_and_address)
{
	struct route *r = two_versions(5000, 5000);
	struct steer_route_cfg *live, *c;

	add_backend(r, 0, "10.0.1.2", 80, 1);
	live = compile(r, NULL);
	live->rules[0].split[0] = 2000;
	live->rules[0].split[1] = 8000;
	live->versions[0].backends[1].flags |= STEER_BACKEND_EJECTED;
	live->flags |= STEER_ROUTE_OVERRIDE;
	compile_tables(live, NULL);
	/* v2's backend replaced (a new pod) */
	inet_pton(AF_INET, "10.0.2.2", r->versions[1].backends[0].addr.addr);
	c = compile(r, live);
	compile_keep_overrides(c, live);
	ASSERT_EQ(c->rules[0].split[0], 2000);
	ASSERT_EQ(c->rules[0].split[1], 8000);
	ASSERT_EQ(c->rules[0].file_split[0], 5000);
	ASSERT_TRUE(c->versions[0].backends[1].flags & STEER_BACKEND_EJECTED);
	ASSERT_TRUE(
		!(c->versions[0].backends[0].flags & STEER_BACKEND_EJECTED));
	ASSERT_TRUE(c->flags & STEER_ROUTE_OVERRIDE);
	/* every v1 connection goes to the backend left */
	ASSERT_EQ(be_count(c, 0, V4, 0), STEER_BACKEND_TABLE_UNIT);
	route_cfg_destroy(c, 1);
	/* the ejected backend's pod is gone and the split is the file's:
	 * nothing differs from the file any more */
	live->rules[0].split[0] = 5000;
	live->rules[0].split[1] = 5000;
	r->versions[0].n_backends = 1;
	c = compile(r, live);
	compile_keep_overrides(c, live);
	ASSERT_TRUE(!(c->flags & STEER_ROUTE_OVERRIDE));
	route_cfg_destroy(c, 1);
	route_cfg_destroy(live, 1);
	route_del(r);
}

TEST(limits_are_e2big)
{
	struct route *r = two_versions(5000, 5000);
	struct steer_route_cfg *c = calloc(1, sizeof(*c));
	char err[256] = "";

	r->n_versions = STEER_MAX_VERSIONS + 1;
	ASSERT_EQ(compile_route(r, "/", NULL, c, err, sizeof(err)), -E2BIG);
	ASSERT_TRUE(strstr(err, "versions") != NULL);
	r->n_versions = 2;
	r->rules[0].match.n_uids = STEER_MAX_MATCH_ITEMS + 1;
	ASSERT_EQ(compile_route(r, "/", NULL, c, err, sizeof(err)), -E2BIG);
	route_cfg_destroy(c, 1);
	route_del(r);
}

/* ---- cgroups ---------------------------------------------------------- */

TEST(cgroup_resolution)
{
	char root[] = "/tmp/steer-cgroup-XXXXXX", path[128];
	struct route *r = two_versions(5000, 5000);
	struct steer_route_cfg *c = calloc(1, sizeof(*c));
	struct route_match *m = &r->rules[0].match;
	struct stat st;
	char err[256] = "";
	int ret;

	ASSERT_TRUE(mkdtemp(root) != NULL);
	snprintf(path, sizeof(path), "%s/kubepods", root);
	ASSERT_EQ(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/kubepods/pod-tester", root);
	ASSERT_EQ(mkdir(path, 0700), 0);
	m->n_cgroups = 4;
	m->cgroups[0] = strdup("/kubepods/pod-tester");
	m->cgroups[1] = strdup("/");
	m->cgroups[2] = strdup("/kubepods/missing");
	m->cgroups[3] = strdup("/kubepods/");
	r->n_allow = 1;
	r->allow[0].n_cgroups = 1;
	r->allow[0].cgroups[0] = strdup("/kubepods");
	ret = compile_route(r, root, NULL, c, err, sizeof(err));

	snprintf(path, sizeof(path), "%s/kubepods/pod-tester", root);
	stat(path, &st);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/kubepods", root);
	rmdir(path);
	rmdir(root);

	ASSERT_EQ(ret, 0);
	ASSERT_EQ(c->rules[0].match.n_cgroups, 4);
	ASSERT_EQ(c->rules[0].match.cgroup_ids[0], st.st_ino);
	ASSERT_EQ(c->rules[0].match.cgroup_levels[0], 2);
	ASSERT_TRUE(c->rules[0].match.cgroup_ids[1] != 0);
	ASSERT_EQ(c->rules[0].match.cgroup_levels[1], 0);
	ASSERT_EQ(c->rules[0].match.cgroup_ids[2], 0);
	ASSERT_EQ(c->rules[0].match.cgroup_levels[3], 1);
	ASSERT_EQ(c->rules[0].match.cgroup_ids[3], c->allow[0].cgroup_ids[0]);
	ASSERT_TRUE(c->allow[0].cgroup_ids[0] != 0);
	route_cfg_destroy(c, 1);
	route_del(r);
}

/* Counter slots follow names: inserting a rule in front keeps "default" on
 * its slot and gives the new rule a slot the old config never counted in. */
TEST(counter_slots_follow_names)
{
	struct route *r = two_versions(10000, 0);
	struct steer_route_cfg *a, *b, *c;

	a = compile(r, NULL);
	ASSERT_EQ(a->rules[0].counter_slot, 0);
	ASSERT_EQ(a->versions[0].counter_slot, 0);
	ASSERT_EQ(a->versions[1].counter_slot, 1);

	r->rules[1] = r->rules[0];
	snprintf(r->rules[0].name, sizeof(r->rules[0].name), "testers");
	r->n_rules = 2;
	b = compile(r, a);
	ASSERT_STREQ(b->rules[1].name, "default");
	ASSERT_EQ(b->rules[1].counter_slot, 0);
	ASSERT_EQ(b->rules[0].counter_slot, 1);

	/* versions swapped in the file keep their columns */
	struct route_version tmp = r->versions[0];

	r->versions[0] = r->versions[1];
	r->versions[1] = tmp;
	c = compile(r, b);
	ASSERT_STREQ(c->versions[0].name, "v2");
	ASSERT_EQ(c->versions[0].counter_slot, 1);
	ASSERT_EQ(c->versions[1].counter_slot, 0);
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_cfg_destroy(c, 1);
	route_del(r);
}

/* Backend counter slots follow addresses: removing the first backend keeps
 * the others on their slots, and a new address takes a slot the old config
 * never counted in. */
TEST(backend_counter_slots_follow_addresses)
{
	struct route *r = two_versions(10000, 0);
	struct steer_route_cfg *a, *b;

	add_backend(r, 0, "10.0.1.2", 80, 1);
	add_backend(r, 0, "10.0.1.3", 80, 1);
	a = compile(r, NULL);
	ASSERT_EQ(a->versions[0].backends[0].counter_slot, 0);
	ASSERT_EQ(a->versions[0].backends[1].counter_slot, 1);
	ASSERT_EQ(a->versions[0].backends[2].counter_slot, 2);
	ASSERT_EQ(a->versions[1].backends[0].counter_slot, 0);

	/* drop 10.0.1.1, add 10.0.1.4 at the end */
	r->versions[0].backends[0] = r->versions[0].backends[1];
	r->versions[0].backends[1] = r->versions[0].backends[2];
	r->versions[0].n_backends = 2;
	add_backend(r, 0, "10.0.1.4", 80, 1);
	b = compile(r, a);
	ASSERT_EQ(b->versions[0].backends[0].counter_slot, 1); /* 10.0.1.2 */
	ASSERT_EQ(b->versions[0].backends[1].counter_slot, 2); /* 10.0.1.3 */
	ASSERT_EQ(b->versions[0].backends[2].counter_slot, 3); /* new */
	ASSERT_EQ(b->versions[1].backends[0].counter_slot, 0);
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_del(r);
}

/* Eight rules in use and one renamed: the new name reuses the only free
 * slot, and no two rules ever share one. */
TEST(counter_slots_full_route_rename)
{
	struct route *r = two_versions(10000, 0);
	struct steer_route_cfg *a, *b;
	bool seen[STEER_MAX_RULES] = { false };

	for (int i = 1; i < STEER_MAX_RULES; i++) {
		r->rules[i] = r->rules[0];
		snprintf(r->rules[i].name, sizeof(r->rules[i].name), "r%d", i);
	}
	r->n_rules = STEER_MAX_RULES;
	a = compile(r, NULL);
	snprintf(r->rules[3].name, sizeof(r->rules[3].name), "renamed");
	b = compile(r, a);
	ASSERT_EQ(b->rules[3].counter_slot, a->rules[3].counter_slot);
	for (int i = 0; i < STEER_MAX_RULES; i++) {
		ASSERT_TRUE(b->rules[i].counter_slot < STEER_MAX_RULES);
		ASSERT_TRUE(!seen[b->rules[i].counter_slot]);
		seen[b->rules[i].counter_slot] = true;
	}
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_del(r);
}

/* ---- steerctl's edit: decode into zeroed memory, copy what is used ---- */

/* rows_decode_zeroed into calloc'ed memory gives exactly what rows_decode
 * into a config that held another route gives, and route_cfg_copy copies
 * it whole. */
TEST(decode_zeroed_and_copy_are_exact)
{
	struct route *r = route_new("edit"), *other = route_new("other");
	struct steer_route_cfg *cfg, *cfg_other, *full, *zeroed, *copy;
	struct test_ids *ids = calloc(1, sizeof(*ids));
	struct route_rows rows, rows_other;

	for (int v = 0; v < 3; v++) {
		char name[16], addr[32];

		snprintf(name, sizeof(name), "v%d", v + 1);
		snprintf(addr, sizeof(addr), "10.0.%d.1", v);
		add_version(r, name);
		add_backend(r, v, addr, 80, 1);
		add_backend(r, v, addr, 81, 3);
		add_version(other, name);
		add_backend(other, v, addr, 90, 2);
	}
	add_rule(r, "canary", 0, 10000, 0);
	add_rule(r, "default", 5000, 2500, 2500);
	add_rule(other, "default", 2000, 3000, 5000);
	cfg = compile(r, NULL);
	cfg_other = compile(other, NULL);
	ASSERT_EQ(rows_encode(cfg, 1, id_of, ids, &rows), 0);
	ASSERT_EQ(rows_encode(cfg_other, 1, id_of, ids, &rows_other), 0);
	if (!ids)
		abort();
	full = calloc(1, sizeof(*full));
	zeroed = calloc(1, sizeof(*zeroed));
	copy = calloc(1, sizeof(*copy));
	if (!full || !zeroed || !copy)
		abort();
	/* @full held another route first: its arrays are reused. */
	ASSERT_EQ(rows_decode(rows_other.rows, rows_other.n_rows, 8, addr_of,
			      no_match, ids, full),
		  0);
	ASSERT_EQ(rows_decode(rows.rows, rows.n_rows, 7, addr_of, no_match, ids,
			      full),
		  0);
	ASSERT_EQ(rows_decode_zeroed(rows.rows, rows.n_rows, 7, addr_of,
				     no_match, ids, zeroed),
		  0);
	ASSERT_EQ(zeroed->n_rules, 2);
	ASSERT_TRUE(route_cfg_equal(full, zeroed));
	ASSERT_EQ(route_cfg_copy(copy, zeroed), 0);
	ASSERT_TRUE(route_cfg_equal(copy, zeroed));
	rows_free(&rows);
	rows_free(&rows_other);
	route_cfg_destroy(cfg, 1);
	route_cfg_destroy(cfg_other, 1);
	route_cfg_destroy(full, 1);
	route_cfg_destroy(zeroed, 1);
	route_cfg_destroy(copy, 1);
	free(ids);
	route_del(r);
	route_del(other);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
