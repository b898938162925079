/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Route file parser: every example parses, every file in tests/unit/bad/
 * fails with its exact "file:line:col: message", parsed values are exact,
 * and directories are all or nothing. Run from the repository root.
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

#define BAD_DIR "tests/unit/bad/"

/* Bad files and their errors; "@F" in a message stands for the file. */
static const struct bad_case {
	const char *file;
	const char *pos;
	const char *msg;
} bad_cases[] = {
	{ "bad/bad-address.yaml", "6:16",
	  "bad address \"10.0.0.300\"" },
	{ "bad/bad-affinity.yaml", "12:11",
	  "affinity must be \"none\" or \"client\"" },
	{ "bad/bad-cidr.yaml", "12:17",
	  "bad CIDR \"10.0.0.0/33\"" },
	{ "bad/bad-eject-unit.yaml", "13:10",
	  "health eject must be a duration like 500ms, 30s, 5m or 1h, above 0 and at most 24h" },
	{ "bad/bad-eject.yaml", "14:10",
	  "health eject must be a duration like 500ms, 30s, 5m or 1h, above 0 and at most 24h" },
	{ "bad/bad-failures.yaml", "13:13",
	  "health failures must be an integer from 1 to 1000" },
	{ "bad/bad-ipv6.yaml", "3:13",
	  "bad address \"[fd00::zz]:9080\"" },
	{ "bad/bad-match-port.yaml", "11:27",
	  "port must be an integer from 1 to 65535" },
	{ "bad/bad-name-long.yaml", "2:7",
	  "name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" is not a valid name: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters" },
	{ "bad/bad-name.yaml", "2:7",
	  "name \"Reviews\" is not a valid name: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters" },
	{ "bad/bad-policy-default.yaml", "13:12",
	  "policy default must be \"allow\" or \"deny\"" },
	{ "bad/bad-port.yaml", "3:13",
	  "bad port in \"10.0.0.1:99999\"" },
	{ "bad/bad-protocol.yaml", "3:13",
	  "bad protocol in \"10.96.0.20:9080/sctp\": tcp or udp" },
	{ "bad/bad-rule-name.yaml", "10:11",
	  "rule name \"Default_Rule\" is not a valid name: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 31 characters" },
	{ "bad/bad-target-port.yaml", "4:42",
	  "targetPort must be an integer from 1 to 65535" },
	{ "bad/bad-uid.yaml", "11:26",
	  "uid must be an integer from 0 to 4294967294" },
	{ "bad/bad-version-name.yaml", "7:3",
	  "version \"V2\" is not a valid name: lowercase letters, digits, '-', '.' and '_', starting and ending with a letter or digit, at most 31 characters" },
	{ "bad/bad-weight-float.yaml", "8:17",
	  "weight must be an integer from 1 to 65535" },
	{ "bad/bad-weight.yaml", "6:51",
	  "weight must be an integer from 1 to 65535" },
	{ "bad/cgroup-relative.yaml", "12:17",
	  "cgroup path \"kubepods/pod-tester\" must start with '/'" },
	{ "bad/dup-backend.yaml", "6:50",
	  "duplicate backend 10.244.1.5:9080 in version \"v1\"" },
	{ "bad/dup-key.yaml", "12:1",
	  "duplicate key \"name\" in route" },
	{ "bad/dup-rule.yaml", "12:11",
	  "duplicate rule \"default\"" },
	{ "bad/dup-version.yaml", "9:3",
	  "duplicate key \"v1\" in versions" },
	{ "bad/empty-rules.yaml", "9:8",
	  "route has no rules" },
	{ "bad/empty-sources.yaml", "12:16",
	  "sources must not be empty" },
	{ "bad/frontend-no-address.yaml", "4:5",
	  "frontend has no \"address\"" },
	{ "bad/frontend-no-port.yaml", "3:13",
	  "frontend needs a port" },
	{ "bad/frontend-v6-no-port.yaml", "3:13",
	  "frontend needs a port" },
	{ "bad/frontends-not-list.yaml", "3:12",
	  "frontends must be a list" },
	{ "bad/host-bits.yaml", "12:32",
	  "CIDR \"10.0.0.1/24\" has host bits set" },
	{ "bad/kind.yaml", "1:7",
	  "kind must be \"Route\"" },
	{ "bad/no-frontends.yaml", "3:12",
	  "route has no frontends" },
	{ "bad/no-kind.yaml", "1:1",
	  "route has no \"kind\"" },
	{ "bad/no-name.yaml", "2:1",
	  "route has no \"name\"" },
	{ "bad/no-rules.yaml", "1:1",
	  "route has no \"rules\"" },
	{ "bad/no-versions.yaml", "4:11",
	  "route has no versions" },
	{ "bad/not-mapping.yaml", "1:1",
	  "route must be a mapping" },
	{ "bad/rule-no-name.yaml", "10:5",
	  "rule has no \"name\"" },
	{ "bad/rule-no-split.yaml", "10:5",
	  "rule \"default\" has no \"split\"" },
	{ "bad/second-doc-bad.yaml", "23:12",
	  "split sums to 99.00, must be 100" },
	{ "bad/split-decimals.yaml", "11:17",
	  "split \"33.333\" has more than 2 decimals" },
	{ "bad/split-dup-key.yaml", "11:21",
	  "duplicate key \"v1\" in split" },
	{ "bad/split-negative.yaml", "11:17",
	  "split value must be a number between 0 and 100" },
	{ "bad/split-not-number.yaml", "11:25",
	  "split value must be a number between 0 and 100" },
	{ "bad/split-over-100.yaml", "11:17",
	  "split value must be a number between 0 and 100" },
	{ "bad/split-sum.yaml", "11:12",
	  "split sums to 90.00, must be 100" },
	{ "bad/split-unknown-version.yaml", "11:21",
	  "unknown version \"v3\" in split" },
	{ "bad/too-many-allow.yaml", "23:7",
	  "too many allow entries: at most 8" },
	{ "bad/too-many-backends.yaml", "39:9",
	  "too many backends in version \"v1\": at most 32" },
	{ "bad/too-many-frontends.yaml", "20:5",
	  "too many frontends: at most 16" },
	{ "bad/too-many-rules.yaml", "34:5",
	  "too many rules: at most 8" },
	{ "bad/too-many-sources.yaml", "12:97",
	  "too many sources: at most 8" },
	{ "bad/too-many-versions.yaml", "21:3",
	  "too many versions: at most 8" },
	{ "bad/unknown-field.yaml", "7:36",
	  "unknown field \"weigth\" in backend" },
	{ "bad/unknown-match-field.yaml", "12:7",
	  "unknown field \"source\" in match" },
	{ "bad/unknown-policy-field.yaml", "14:3",
	  "unknown field \"permit\" in policy" },
	{ "bad/unknown-route-field.yaml", "12:1",
	  "unknown field \"foo\" in route" },
	{ "bad/version-empty.yaml", "5:3",
	  "version \"v1\" has no backends" },
	{ "bad/version-no-backends.yaml", "5:3",
	  "version \"v1\" has no backends" },
	{ "bad/yaml-indent.yaml", "11:11",
	  "yaml: mapping values are not allowed in this context" },
	{ "bad/yaml-syntax.yaml", "7:5",
	  "yaml: did not find expected ',' or ']'" },
	{ "bad/dup-frontend.yaml", "6:5",
	  "duplicate frontend 10.96.0.20:9080/tcp (also in @F:4:5)" },
	{ "bad/dup-frontend-docs.yaml", "15:13",
	  "duplicate frontend 10.96.0.20:9080/tcp (also in @F:3:13)" },
	{ "bad/dup-route-name.yaml", "12:1",
	  "duplicate route name \"reviews\" (also in @F:1:1)" },
};

static char tmpdir[64];

/* A fresh empty directory for this test. */
static const char *mktmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/steer-routes-XXXXXX");
	if (!mkdtemp(tmpdir))
		return NULL;
	return tmpdir;
}

static void rmtmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "  cannot remove %s\n", tmpdir);
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
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

TEST(bad_files)
{
	char err[ROUTE_ERR_MAX], want[1024], path[128], msg[512];
	struct route_set set = { 0 };
	size_t i;

	ASSERT_TRUE(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 35);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		const char *at = strstr(bc->msg, "@F");

		snprintf(path, sizeof(path), "tests/unit/%s", bc->file);
		if (at)
			snprintf(msg, sizeof(msg), "%.*s%s%s",
				 (int)(at - bc->msg), bc->msg, path, at + 2);
		else
			snprintf(msg, sizeof(msg), "%s", bc->msg);
		snprintf(want, sizeof(want), "%s:%s: %s", path, bc->pos, msg);
		err[0] = '\0';
		/* Report every case that differs, not only the first. */
		if (routes_parse_file(path, &set, err, sizeof(err)) != -EINVAL ||
		    strcmp(err, want) || set.n)
			FAIL_AT("%s:\n    got  \"%s\"\n    want \"%s\"", path,
				err, want);
	}
}

/* Every file in bad/ has a case, so none is left untested. */
TEST(bad_files_all_listed)
{
	struct dirent *de;
	size_t i, n = 0;
	DIR *d = opendir(BAD_DIR);

	ASSERT_TRUE(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		n++;
		for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
			if (!strcmp(bad_cases[i].file + 4, de->d_name))
				break;
		}
		if (i == sizeof(bad_cases) / sizeof(bad_cases[0])) {
			FAIL_AT("%s has no case", de->d_name);
			break;
		}
	}
	closedir(d);
	ASSERT_EQ(n, sizeof(bad_cases) / sizeof(bad_cases[0]));
}

TEST(reviews_values)
{
	char err[ROUTE_ERR_MAX], buf[64];
	struct route_set set = { 0 };
	const struct route *r;
	const struct route_version *v2;
	const struct route_rule *t;

	ASSERT_EQ(routes_parse_file("examples/reviews.yaml", &set, err,
				    sizeof(err)), 0);
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
	ASSERT_STREQ(routes_addr_str(&r->frontends[2].addr, buf, sizeof(buf)),
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
	ASSERT_STREQ(routes_addr_str(&v2->backends[2].addr, buf, sizeof(buf)),
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
			  t->match.n_ports, 0);
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
				    sizeof(err)), 0);
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
	ASSERT_TRUE(ip6_eq(r->versions[0].backends[0].addr.addr,
			   "fd00:244:1::5"));
	ASSERT_STREQ(routes_addr_str(&r->versions[1].backends[0].addr, buf,
				     sizeof(buf)),
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

#define SPLIT_ROUTE(split)                                            \
	"kind: Route\nname: s\nfrontends: [10.0.0.1:80]\nversions:\n" \
	"  a: {backends: [10.1.0.1]}\n  b: {backends: [10.1.0.2]}\n"  \
	"  c: {backends: [10.1.0.3]}\nrules:\n  - name: r\n"           \
	"    split: " split "\n"

TEST(split_units_exact)
{
	static const struct {
		const char *text;
		__u16 a, b, c;
	} cases[] = {
		{ SPLIT_ROUTE("{a: 33.33, b: 33.33, c: 33.34}"), 3333, 3333, 3334 },
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

#define HEALTH_ROUTE(h)                                                   \
	"kind: Route\nname: h\nfrontends: [10.0.0.1:80]\nversions:\n"     \
	"  a: {backends: [10.1.0.1]}\nrules: [{name: r, split: {a: 100}}]\n" \
	"health: " h "\n"

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
				    sizeof(err)), 0);
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
				    sizeof(err)), 0);
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
		 "%s/b.yaml:5:5: duplicate frontend 10.96.0.20:9080/tcp (also in %s/a.yaml:3:13)",
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
			     "# same name, other frontend\n---\nkind: Route\nname: a\n"
			     "frontends: [10.96.0.99:80]\n"
			     "versions: {v1: {backends: [10.1.0.1]}}\n"
			     "rules: [{name: r, split: {v1: 100}}]\n"),
		  0);
	ASSERT_EQ(routes_load_dir(dir, &set, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/2-a.yaml:2:1: duplicate route name \"a\" (also in %s/1-a.yaml:1:1)",
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
				  sizeof(err)), -ENOENT);
	ASSERT_STREQ(err, "/nonexistent-steer-dir: No such file or directory");
}

TEST(bad_file_leaves_set_untouched)
{
	char err[ROUTE_ERR_MAX];
	struct route_set set = { 0 };
	struct route *before;

	ASSERT_EQ(routes_parse_file("examples/multi.yaml", &set, err,
				    sizeof(err)), 0);
	ASSERT_EQ(set.n, 2);
	before = set.routes;
	/* The first document is good, the second is not: nothing is added. */
	ASSERT_EQ(routes_parse_file(BAD_DIR "second-doc-bad.yaml", &set, err,
				    sizeof(err)), -EINVAL);
	ASSERT_EQ(set.n, 2);
	ASSERT_TRUE(set.routes == before);
	ASSERT_STREQ(set.routes[1].name, "dns");
	ASSERT_EQ(routes_parse_file("/nonexistent.yaml", &set, err,
				    sizeof(err)), -ENOENT);
	ASSERT_EQ(set.n, 2);
	/* A good file appends. */
	ASSERT_EQ(routes_parse_file("examples/reviews.yaml", &set, err,
				    sizeof(err)), 0);
	ASSERT_EQ(set.n, 3);
	ASSERT_STREQ(set.routes[2].name, "reviews");
	/* The file need not agree with the set: routes_check_set says so. */
	ASSERT_EQ(routes_check_set(&set, err, sizeof(err)), 0);
	ASSERT_EQ(routes_parse_file("examples/reviews.yaml", &set, err,
				    sizeof(err)), 0);
	ASSERT_EQ(routes_check_set(&set, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err,
		     "examples/reviews.yaml:3:1: duplicate route name \"reviews\" (also in examples/reviews.yaml:3:1)");
	routes_free(&set);
}

TEST(empty_and_odd_files)
{
	char err[ROUTE_ERR_MAX];
	struct route_set set = { 0 };

	ASSERT_EQ(parse_text("", &set, err), 0);
	ASSERT_EQ(set.n, 0);
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
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
