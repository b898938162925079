/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Route file parser: every example parses, parsed values are exact, and
 * directories are all or nothing (bad files: test_routes_bad.c). Run from
 * the repository root.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "addr.h"
#include "routes.h"
#include "tmpdir.h"

/* A parsed address as the error messages print it. */
static const char *addr_text(const struct route_addr *a, char *buf, size_t len)
{
	return addr_format(buf, len, a->family, a->addr,
			   a->has_port ? a->port : 0);
}

/* Parse @text as a file "t.yaml" in a temp dir; 0 or -errno, err set. */
static int parse_text(const char *text, struct route_set *set, char *err)
{
	char path[256];
	int ret;

	if (!mktmp() || write_file(tmpdir, "t.yaml", text))
		return -EIO;
	snprintf(path, sizeof(path), "%s/t.yaml", tmpdir);
	ret = routes_parse_file(path, set, err, ROUTE_ERR_MAX);
	rmtmp();
	return ret;
}

static __u32 ip4(const char *s)
{
	__u32 a = 0;

	inet_pton(AF_INET, s, &a);
	return a;
}

static int ip6_eq(const __u32 *addr, const char *s)
{
	__u32 a[4];

	return inet_pton(AF_INET6, s, a) == 1 && !memcmp(a, addr, sizeof(a));
}

TEST(examples_parse)
{
	char err[ROUTE_ERR_MAX], path[300];
	struct route_set set = { 0 };
	struct dirent *de;
	int n = 0, ret;
	DIR *d;

	d = opendir("examples");
	ASSERT_TRUE(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".yaml"))
			continue;
		snprintf(path, sizeof(path), "examples/%s", de->d_name);
		err[0] = '\0';
		ret = routes_parse_file(path, &set, err, sizeof(err));
		if (ret)
			closedir(d);
		ASSERT_STREQ(err, "");
		ASSERT_EQ(ret, 0);
		n++;
	}
	closedir(d);
	ASSERT_TRUE(n >= 4);
	ASSERT_EQ(set.n, 5);
	routes_free(&set);
	ASSERT_EQ(routes_load_dir("examples", &set, err, sizeof(err)), 0);
	ASSERT_EQ(set.n, 5);
	/* Sorted by file name: affinity, multi (web, dns), ratings, reviews. */
	ASSERT_STREQ(set.routes[0].name, "checkout");
	ASSERT_STREQ(set.routes[1].name, "web");
	ASSERT_STREQ(set.routes[2].name, "dns");
	ASSERT_STREQ(set.routes[3].name, "ratings");
	ASSERT_STREQ(set.routes[4].name, "reviews");
	ASSERT_STREQ(set.routes[4].file, "examples/reviews.yaml");
	routes_free(&set);
}

TEST(reviews_values)
{
	char err[ROUTE_ERR_MAX], buf[64];
	struct route_set set = { 0 };
	const struct route *r;
	const struct route_version *v2;
	const struct route_rule *t;

	ASSERT_EQ(routes_parse_file("examples/reviews.yaml", &set, err,
				    sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 1);
	r = &set.routes[0];
	ASSERT_STREQ(r->name, "reviews");
	ASSERT_EQ(r->pos.line, 3);
	ASSERT_EQ(r->n_frontends, 3);
	ASSERT_EQ(r->frontends[0].addr.family, STEER_FAM_INET);
	ASSERT_EQ(r->frontends[0].addr.addr[0], ip4("10.96.0.20"));
	ASSERT_EQ(r->frontends[0].addr.port, 9080);
	ASSERT_EQ(r->frontends[0].proto, STEER_PROTO_TCP);
	ASSERT_EQ(r->frontends[0].target_port, 0);
	ASSERT_EQ(r->frontends[0].pos.line, 6);
	ASSERT_EQ(r->frontends[0].pos.col, 5);
	ASSERT_EQ(r->frontends[1].proto, STEER_PROTO_UDP);
	ASSERT_EQ(r->frontends[1].addr.port, 9053);
	ASSERT_EQ(r->frontends[2].addr.family, STEER_FAM_INET6);
	ASSERT_TRUE(ip6_eq(r->frontends[2].addr.addr, "fd00:96::20"));
	ASSERT_STREQ(addr_text(&r->frontends[2].addr, buf, sizeof(buf)),
		     "[fd00:96::20]:9080");

	ASSERT_EQ(r->n_versions, 2);
	ASSERT_STREQ(r->versions[0].name, "v1");
	ASSERT_EQ(r->versions[0].n_backends, 2);
	v2 = &r->versions[1];
	ASSERT_EQ(v2->n_backends, 3);
	ASSERT_EQ(v2->backends[0].weight, 1);
	ASSERT_EQ(v2->backends[1].weight, 3);
	ASSERT_EQ(v2->backends[1].addr.addr[0], ip4("10.244.2.8"));
	ASSERT_EQ(v2->backends[1].addr.port, 9080);
	ASSERT_TRUE(!v2->backends[2].addr.has_port);
	ASSERT_STREQ(addr_text(&v2->backends[2].addr, buf, sizeof(buf)),
		     "10.244.2.9");

	ASSERT_EQ(r->n_rules, 2);
	t = &r->rules[0];
	ASSERT_STREQ(t->name, "testers");
	ASSERT_EQ(t->match.n_sources, 2);
	ASSERT_EQ(t->match.sources[0].prefixlen, 24);
	ASSERT_EQ(t->match.sources[0].addr[0], ip4("10.244.9.0"));
	ASSERT_EQ(t->match.sources[1].family, STEER_FAM_INET6);
	ASSERT_EQ(t->match.sources[1].prefixlen, 64);
	ASSERT_TRUE(ip6_eq(t->match.sources[1].addr, "fd00:9::"));
	ASSERT_EQ(t->match.n_cgroups, 1);
	ASSERT_STREQ(t->match.cgroups[0], "/kubepods/pod-tester");
	ASSERT_EQ(t->match.n_uids, 1);
	ASSERT_EQ(t->match.uids[0], 1001);
	ASSERT_EQ(t->match.n_ports, 1);
	ASSERT_EQ(t->match.ports[0], 9080);
	ASSERT_EQ(t->split[0], 0);
	ASSERT_EQ(t->split[1], 10000);
	t = &r->rules[1];
	ASSERT_EQ(t->match.n_sources + t->match.n_cgroups + t->match.n_uids +
			  t->match.n_ports,
		  0);
	ASSERT_EQ(t->split[0], 9500);
	ASSERT_EQ(t->split[1], 500);

	ASSERT_EQ(r->affinity, ROUTE_AFFINITY_CLIENT);
	ASSERT_TRUE(!r->policy_default_deny);
	ASSERT_EQ(r->n_allow, 1);
	ASSERT_EQ(r->allow[0].sources[0].prefixlen, 16);
	ASSERT_EQ(r->n_deny, 1);
	ASSERT_EQ(r->deny[0].sources[0].addr[0], ip4("10.244.66.0"));
	ASSERT_EQ(r->health_failures, 5);
	ASSERT_EQ(r->health_eject_ms, 30000);
	ASSERT_EQ(routes_version_index(r, "v2"), 1);
	ASSERT_EQ(routes_version_index(r, "v3"), -1);
	routes_free(&set);
}

TEST(ipv6_and_target_port)
{
	char err[ROUTE_ERR_MAX], buf[64];
	struct route_set set = { 0 };
	const struct route *r;

	ASSERT_EQ(routes_parse_file("examples/ratings-v6.yaml", &set, err,
				    sizeof(err)),
		  0);
	r = &set.routes[0];
	ASSERT_EQ(r->frontends[0].addr.family, STEER_FAM_INET6);
	ASSERT_EQ(r->frontends[0].addr.port, 80);
	ASSERT_EQ(r->frontends[0].target_port, 0);
	ASSERT_EQ(r->frontends[1].addr.port, 8080);
	ASSERT_EQ(r->frontends[1].target_port, 9090);
	ASSERT_EQ(r->frontends[1].proto, STEER_PROTO_TCP);
	/* Bare IPv6 backend: no brackets, no port. */
	ASSERT_EQ(r->versions[0].backends[0].addr.family, STEER_FAM_INET6);
	ASSERT_TRUE(!r->versions[0].backends[0].addr.has_port);
	ASSERT_TRUE(
		ip6_eq(r->versions[0].backends[0].addr.addr, "fd00:244:1::5"));
	ASSERT_STREQ(
		addr_text(&r->versions[1].backends[0].addr, buf, sizeof(buf)),
		"[fd00:244:2::7]:8080");
	ASSERT_EQ(r->versions[1].backends[1].weight, 2);
	ASSERT_STREQ(r->versions[1].name, "v2-canary");
	ASSERT_EQ(r->rules[0].split[0], 9950);
	ASSERT_EQ(r->rules[0].split[1], 50);
	ASSERT_EQ(r->affinity, ROUTE_AFFINITY_NONE);
	ASSERT_EQ(r->health_failures, 0);
	ASSERT_EQ(r->n_allow + r->n_deny, 0);
	routes_free(&set);
}

#define SPLIT_ROUTE(split)                                                     \
	"kind: Route\nname: s\nfrontends: [10.0.0.1:80]\nversions:\n"          \
	"  a: {backends: [10.1.0.1]}\n  b: {backends: [10.1.0.2]}\n"           \
	"  c: {backends: [10.1.0.3]}\nrules:\n  - name: r\n"                   \
	"    split: " split "\n"

TEST(split_units_exact)
{
	static const struct {
		const char *text;
		__u16 a, b, c;
	} cases[] = {
		{ SPLIT_ROUTE("{a: 33.33, b: 33.33, c: 33.34}"), 3333, 3333,
		  3334 },
		{ SPLIT_ROUTE("{a: 0.01, b: 99.99}"), 1, 9999, 0 },
		{ SPLIT_ROUTE("{a: 100}"), 10000, 0, 0 },
		{ SPLIT_ROUTE("{a: 5, b: 82.5, c: 12.50}"), 500, 8250, 1250 },
		{ SPLIT_ROUTE("{a: \"95\", b: '5', c: 0}"), 9500, 500, 0 },
		{ SPLIT_ROUTE("{a: 100.00, b: 0.0}"), 10000, 0, 0 },
		{ SPLIT_ROUTE("{c: 70, a: 30}"), 3000, 0, 7000 },
	};
	char err[ROUTE_ERR_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct route_set set = { 0 };

		err[0] = '\0';
		ASSERT_EQ(parse_text(cases[i].text, &set, err), 0);
		ASSERT_EQ(set.routes[0].rules[0].split[0], cases[i].a);
		ASSERT_EQ(set.routes[0].rules[0].split[1], cases[i].b);
		ASSERT_EQ(set.routes[0].rules[0].split[2], cases[i].c);
		routes_free(&set);
	}
}

#define HEALTH_ROUTE(h)                                                        \
	"kind: Route\nname: h\nfrontends: [10.0.0.1:80]\nversions:\n"          \
	"  a: {backends: [10.1.0.1]}\nrules: [{name: r, split: {a: 100}}]\n"   \
	"health: " h "\n"

/*
 * The parser zeroes a route element by element as it fills it, not the
 * whole 70 KB: every scalar a file leaves out must still read as zero or
 * its default. make sanitize fills new memory with 0xbe throughout
 * (ASAN_OPTIONS=max_malloc_fill_size, Makefile), so a field the parser
 * forgot shows here; health and connection-pool limits once read 104.
 */
TEST(fields_left_out_are_zero)
{
	char err[ROUTE_ERR_MAX] = "";
	struct route_set set = { 0 };
	const struct route *r;

	ASSERT_EQ(parse_text("kind: Route\nname: plain\n"
			     "frontends: [10.96.0.20:80]\n"
			     "versions:\n  v1: {backends: [10.0.1.1:80]}\n"
			     "rules:\n  - name: default\n"
			     "    split: {v1: 100}\n",
			     &set, err),
		  0);
	r = &set.routes[0];
	ASSERT_EQ(r->health_failures, 0);
	ASSERT_EQ(r->health_eject_ms, 0);
	ASSERT_EQ(r->health_max_eject_ms, 0);
	ASSERT_EQ(r->health_max_ejected, 0);
	ASSERT_EQ(r->max_connections, 0);
	ASSERT_EQ(r->n_allow, 0);
	ASSERT_EQ(r->n_deny, 0);
	ASSERT_TRUE(!r->policy_default_deny);
	ASSERT_EQ(r->affinity, ROUTE_AFFINITY_NONE);
	ASSERT_EQ(r->versions[0].n_dns, 0);
	ASSERT_EQ(r->versions[0].n_dns_backends, 0);
	ASSERT_EQ(r->versions[0].backends[0].weight, 1);
	ASSERT_EQ(r->rules[0].match.n_sources, 0);
	ASSERT_EQ(r->rules[0].match.n_cgroups, 0);
	ASSERT_EQ(r->rules[0].match.n_uids, 0);
	ASSERT_EQ(r->rules[0].match.n_ports, 0);
	ASSERT_EQ(r->frontends[0].target_port, 0);
	routes_free(&set);
}

TEST(health_and_policy_fields)
{
	static const struct {
		const char *text;
		__u32 failures, eject_ms;
	} cases[] = {
		{ HEALTH_ROUTE("{failures: 1, eject: 500ms}"), 1, 500 },
		{ HEALTH_ROUTE("{failures: 1000, eject: 5m}"), 1000, 300000 },
		{ HEALTH_ROUTE("{eject: 1h}"), 5, 3600000 },
		{ HEALTH_ROUTE("{eject: 24h}"), 5, 86400000 },
		{ HEALTH_ROUTE("{failures: 3}"), 3, 30000 },
	};
	char err[ROUTE_ERR_MAX];
	struct route_set set = { 0 };
	const struct route *r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ASSERT_EQ(parse_text(cases[i].text, &set, err), 0);
		ASSERT_EQ(set.routes[0].health_failures, cases[i].failures);
		ASSERT_EQ(set.routes[0].health_eject_ms, cases[i].eject_ms);
		routes_free(&set);
	}
	ASSERT_EQ(routes_parse_file("examples/multi.yaml", &set, err,
				    sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 2);
	r = &set.routes[1];
	ASSERT_STREQ(r->name, "dns");
	ASSERT_EQ(r->pos.line, 19);
	ASSERT_TRUE(r->policy_default_deny);
	ASSERT_EQ(r->n_allow, 2);
	ASSERT_EQ(r->allow[1].n_cgroups, 1);
	ASSERT_STREQ(r->allow[1].cgroups[0], "/system.slice");
	ASSERT_EQ(r->allow[1].uids[1], 101);
	ASSERT_EQ(r->frontends[0].proto, STEER_PROTO_UDP);
	ASSERT_EQ(r->frontends[1].proto, STEER_PROTO_TCP);
	ASSERT_STREQ(r->versions[1].name, "coredns-1.12");
	/* A bare source address is a /32. */
	ASSERT_EQ(set.routes[0].rules[0].match.sources[1].prefixlen, 32);
	routes_free(&set);

	ASSERT_EQ(routes_parse_file("examples/affinity.yaml", &set, err,
				    sizeof(err)),
		  0);
	r = &set.routes[0];
	ASSERT_EQ(r->frontends[0].target_port, 8443);
	ASSERT_EQ(r->versions[0].backends[0].weight, 2);
	ASSERT_EQ(r->affinity, ROUTE_AFFINITY_CLIENT);
	ASSERT_EQ(r->n_deny, 1);
	ASSERT_EQ(r->deny[0].sources[1].prefixlen, 48);
	ASSERT_EQ(r->health_eject_ms, 500);
	routes_free(&set);
}

TEST(addr_parsing)
{
	struct route_addr a;
	struct steer_cidr c;

	ASSERT_EQ(addr_parse("10.0.0.1:80", &a), 0);
	ASSERT_TRUE(a.has_port && a.port == 80);
	ASSERT_EQ(addr_parse("10.0.0.1", &a), 0);
	ASSERT_TRUE(!a.has_port);
	ASSERT_EQ(addr_parse("fd00::5", &a), 0);
	ASSERT_EQ(a.family, STEER_FAM_INET6);
	ASSERT_EQ(addr_parse("[fd00::5]:65535", &a), 0);
	ASSERT_EQ(a.port, 65535);
	ASSERT_EQ(addr_parse("[fd00::5]", &a), 0);
	ASSERT_TRUE(!a.has_port);
	ASSERT_EQ(addr_parse("10.0.0.1:0", &a), -ERANGE);
	ASSERT_EQ(addr_parse("10.0.0.1:", &a), -ERANGE);
	ASSERT_EQ(addr_parse("10.0.0.1:8o", &a), -ERANGE);
	ASSERT_EQ(addr_parse("[fd00::5]:", &a), -ERANGE);
	ASSERT_EQ(addr_parse("[10.0.0.1]:80", &a), -EINVAL);
	ASSERT_EQ(addr_parse("fd00::5:80:", &a), -EINVAL);
	ASSERT_EQ(addr_parse("[fd00::5]80", &a), -EINVAL);
	ASSERT_EQ(addr_parse("host.example:80", &a), -EINVAL);
	ASSERT_EQ(addr_parse("", &a), -EINVAL);
	ASSERT_EQ(addr_parse_cidr("0.0.0.0/0", &c), 0);
	ASSERT_EQ(c.prefixlen, 0);
	ASSERT_EQ(addr_parse_cidr("fd00::1", &c), 0);
	ASSERT_EQ(c.prefixlen, 128);
	ASSERT_EQ(addr_parse_cidr("fd00::/129", &c), -EINVAL);
	ASSERT_EQ(addr_parse_cidr("fd00::1/64", &c), -EDOM);
	ASSERT_EQ(addr_parse_cidr("10.0.0.0/", &c), -EINVAL);
	ASSERT_EQ(addr_parse_cidr("10.0.0.128/25", &c), 0);
	ASSERT_EQ(addr_parse_cidr("10.0.0.128/24", &c), -EDOM);
}

static const char route_a[] = "kind: Route\nname: a\n"
			      "frontends: [10.96.0.20:9080]\n"
			      "versions: {v1: {backends: [10.1.0.1]}}\n"
			      "rules: [{name: r, split: {v1: 100}}]\n";
static const char route_b[] = "kind: Route\nname: b\n"
			      "frontends:\n  - 10.96.0.21:9080\n"
			      "  - 10.96.0.20:9080\n"
			      "versions: {v1: {backends: [10.1.0.2]}}\n"
			      "rules: [{name: r, split: {v1: 100}}]\n";
/* Same address as route_a but UDP: a different frontend. */
static const char route_c[] = "kind: Route\nname: c\n"
			      "frontends: [10.96.0.20:9080/udp]\n"
			      "versions: {v1: {backends: [10.1.0.3]}}\n"
			      "rules: [{name: r, split: {v1: 100}}]\n";

TEST(dir_duplicate_frontend)
{
	char err[ROUTE_ERR_MAX], want[ROUTE_ERR_MAX];
	struct route_set set = { 0 };

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(write_file(tmpdir, "a.yaml", route_a), 0);
	ASSERT_EQ(write_file(tmpdir, "c.yml", route_c), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), 0);
	ASSERT_EQ(set.n, 2);
	ASSERT_EQ(write_file(tmpdir, "b.yaml", route_b), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/b.yaml:5:5: duplicate frontend 10.96.0.20:9080/tcp (also "
		 "in %s/a.yaml:3:13)",
		 tmpdir, tmpdir);
	ASSERT_STREQ(err, want);
	/* On error the set is emptied. */
	ASSERT_EQ(set.n, 0);
	ASSERT_TRUE(!set.routes);
	rmtmp();
}

TEST(dir_duplicate_name)
{
	char err[ROUTE_ERR_MAX], want[ROUTE_ERR_MAX], dir[80];
	struct route_set set = { 0 };

	ASSERT_TRUE(mktmp());
	/* A trailing slash is taken as given. */
	snprintf(dir, sizeof(dir), "%s/", tmpdir);
	ASSERT_EQ(write_file(tmpdir, "1-a.yaml", route_a), 0);
	ASSERT_EQ(write_file(tmpdir, "2-a.yaml",
			     "# same name, other frontend\n---\nkind: "
			     "Route\nname: a\n"
			     "frontends: [10.96.0.99:80]\n"
			     "versions: {v1: {backends: [10.1.0.1]}}\n"
			     "rules: [{name: r, split: {v1: 100}}]\n"),
		  0);
	ASSERT_EQ(routes_load_dir(dir, &set, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/2-a.yaml:2:1: duplicate route name \"a\" (also in "
		 "%s/1-a.yaml:1:1)",
		 tmpdir, tmpdir);
	ASSERT_STREQ(err, want);
	ASSERT_EQ(set.n, 0);
	rmtmp();
}

TEST(dir_files_selected_and_sorted)
{
	char err[ROUTE_ERR_MAX];
	struct route_set set = { 0 };

	ASSERT_TRUE(mktmp());
	/* Empty directory: zero routes, valid. */
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), 0);
	ASSERT_EQ(set.n, 0);
	ASSERT_EQ(write_file(tmpdir, "b.yaml", route_b), 0);
	ASSERT_EQ(write_file(tmpdir, "a.yml", route_c), 0);
	ASSERT_EQ(write_file(tmpdir, ".hidden.yaml", "not: [valid"), 0);
	ASSERT_EQ(write_file(tmpdir, "README", "not: [valid"), 0);
	ASSERT_EQ(write_file(tmpdir, "x.yaml.bak", "not: [valid"), 0);
	ASSERT_EQ(write_file(tmpdir, "empty.yaml", "# nothing yet\n---\n"), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), 0);
	ASSERT_EQ(set.n, 2);
	ASSERT_STREQ(set.routes[0].name, "c");
	ASSERT_STREQ(set.routes[1].name, "b");
	/* A second load replaces the set. */
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), 0);
	ASSERT_EQ(set.n, 2);
	routes_free(&set);
	rmtmp();
	ASSERT_EQ(routes_load_dir("/nonexistent-steer-dir", &set, err,
				  sizeof(err)),
		  -ENOENT);
	ASSERT_STREQ(err, "/nonexistent-steer-dir: No such file or directory");
}

/* A file truncated to nothing fails the whole directory, naming it. */
TEST(dir_with_empty_file_fails)
{
	char err[ROUTE_ERR_MAX], want[ROUTE_ERR_MAX];
	struct route_set set = { 0 };

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(write_file(tmpdir, "b.yaml", route_b), 0);
	ASSERT_EQ(write_file(tmpdir, "c.yaml", ""), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/c.yaml:1:1: empty route file (0 bytes): refusing to "
		 "remove its routes; delete the file to remove them",
		 tmpdir);
	ASSERT_STREQ(err, want);
	ASSERT_EQ(set.n, 0);
	/* Deleting it is how its routes go. */
	snprintf(want, sizeof(want), "%s/c.yaml", tmpdir);
	ASSERT_EQ(unlink(want), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), 0);
	ASSERT_EQ(set.n, 1);
	routes_free(&set);
	rmtmp();
}

/*
 * Kubernetes mounts a ConfigMap as kubelet's atomic writer lays it out:
 * ..TIMESTAMP/ holds the files, ..data -> ..TIMESTAMP, and NAME -> ..data/NAME
 * for each key. The links are followed, the dot entries ignored, and a link
 * left dangling by a key's removal counts as the file removed.
 */
TEST(dir_configmap_layout)
{
	char err[ROUTE_ERR_MAX], path[256], target[256];
	struct route_set set = { 0 };

	ASSERT_TRUE(mktmp());
	snprintf(path, sizeof(path), "%s/..2026_12_04_15_00_00.123", tmpdir);
	ASSERT_EQ(mkdir(path, 0755), 0);
	ASSERT_EQ(write_file(path, "b.yaml", route_b), 0);
	ASSERT_EQ(write_file(path, "c.yaml", route_c), 0);
	snprintf(path, sizeof(path), "%s/..data", tmpdir);
	ASSERT_EQ(symlink("..2026_12_04_15_00_00.123", path), 0);
	snprintf(path, sizeof(path), "%s/b.yaml", tmpdir);
	ASSERT_EQ(symlink("..data/b.yaml", path), 0);
	snprintf(path, sizeof(path), "%s/c.yaml", tmpdir);
	ASSERT_EQ(symlink("..data/c.yaml", path), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), 0);
	ASSERT_EQ(set.n, 2);
	/* c.yaml removed from the ConfigMap: a new ..TIMESTAMP without it,
	 * ..data swapped to it; c.yaml dangles until kubelet removes it. */
	snprintf(path, sizeof(path), "%s/..2026_12_04_15_01_00.456", tmpdir);
	ASSERT_EQ(mkdir(path, 0755), 0);
	ASSERT_EQ(write_file(path, "b.yaml", route_b), 0);
	snprintf(path, sizeof(path), "%s/..data_tmp", tmpdir);
	ASSERT_EQ(symlink("..2026_12_04_15_01_00.456", path), 0);
	snprintf(target, sizeof(target), "%s/..data", tmpdir);
	ASSERT_EQ(rename(path, target), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &set, err, sizeof(err)), 0);
	ASSERT_EQ(set.n, 1);
	ASSERT_STREQ(set.routes[0].name, "b");
	routes_free(&set);
	rmtmp();
}

TEST(empty_and_odd_files)
{
	char err[ROUTE_ERR_MAX];
	struct route_set set = { 0 };

	/* Empty or whitespace only: what a truncating write shows a reader
	 * midway. An error, never "no routes". */
	ASSERT_EQ(parse_text("", &set, err), -EINVAL);
	ASSERT_TRUE(strstr(err, "t.yaml:1:1: empty route file (0 bytes): "
				"refusing to remove its routes; delete the "
				"file to remove them"));
	ASSERT_EQ(parse_text(" \n\t\r\n", &set, err), -EINVAL);
	ASSERT_TRUE(strstr(err, "empty route file (whitespace only)"));
	ASSERT_EQ(set.n, 0);
	/* Comments and empty documents are written on purpose: no route. */
	ASSERT_EQ(parse_text("---\n# only a comment\n---\n", &set, err), 0);
	ASSERT_EQ(set.n, 0);
	/* Anchors and aliases are YAML: fine. */
	ASSERT_EQ(parse_text("kind: Route\nname: x\nfrontends: [10.0.0.1:80]\n"
			     "versions:\n  a: {backends: &b [10.1.0.1]}\n"
			     "  b: {backends: *b}\n"
			     "rules: [{name: r, split: {a: 50, b: 50}}]\n",
			     &set, err),
		  0);
	ASSERT_EQ(set.routes[0].versions[1].n_backends, 1);
	routes_free(&set);
	/* A cycle through an alias is refused, not followed. */
	ASSERT_EQ(parse_text("kind: Route\nname: x\nfrontends: &f [*f]\n", &set,
			     err),
		  -EINVAL);
	ASSERT_TRUE(strstr(err, "frontend must be an address or a mapping"));
	ASSERT_EQ(parse_text("kind: Route\nname: \"x\\0y\"\n", &set, err),
		  -EINVAL);
	ASSERT_TRUE(strstr(err, "t.yaml:2:7: name must not contain NUL"));
	ASSERT_EQ(parse_text("kind: Route\n\"na\\0me\": x\n", &set, err),
		  -EINVAL);
	ASSERT_TRUE(strstr(err, "t.yaml:2:1: keys in route must be strings"));
	ASSERT_EQ(parse_text("kind: Route\n? [name]\n: x\n", &set, err),
		  -EINVAL);
	ASSERT_TRUE(strstr(err, "t.yaml:2:3: keys in route must be strings"));
	ASSERT_EQ(set.n, 0);
}

/*
 * libyaml's scanner is quadratic in flow nesting: 40 KB of '[' took ~20 s
 * before the depth limit (found by tests/fuzz). Now it stops at level 33.
 */
TEST(deep_nesting_refused)
{
	struct route_set set = { 0 };
	char err[ROUTE_ERR_MAX];
	size_t n = 40000;
	char *text = malloc(n + 1);

	ASSERT_TRUE(text);
	memset(text, '[', n);
	text[n] = '\0';
	ASSERT_EQ(parse_text(text, &set, err), -EINVAL);
	free(text);
	ASSERT_TRUE(strstr(err, "t.yaml:1:33: nested deeper than 32 levels"));
	ASSERT_EQ(set.n, 0);
	/* Block nesting counts the same. */
	ASSERT_EQ(parse_text("kind: Route\nname: x\nfrontends:\n"
			     "- - - - - - - - - - - - - - - - - - - - - - - - "
			     "- - - - - - - - - - x\n",
			     &set, err),
		  -EINVAL);
	ASSERT_TRUE(strstr(err, "nested deeper than 32 levels"));
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
