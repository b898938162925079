/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Route file errors: every file in tests/unit/bad/ fails with its exact
 * "file:line:col: message", and a bad file changes nothing. Run from the
 * repository root.
 */
#include <dirent.h>
#include <errno.h>
#include "test.h"
#include "routes.h"

#define BAD_DIR "tests/unit/bad/"

/* Bad files and their errors; "@F" in a message stands for the file. */
static const struct bad_case {
	const char *file;
	const char *pos;
	const char *msg;
} bad_cases[] = {
	{ "bad/bad-address.yaml", "6:16", "bad address \"10.0.0.300\"" },
	{ "bad/bad-affinity.yaml", "12:11",
	  "affinity must be \"none\" or \"client\"" },
	{ "bad/bad-cidr.yaml", "12:17", "bad CIDR \"10.0.0.0/33\"" },
	{ "bad/bad-eject-unit.yaml", "13:10",
	  "health eject must be a duration like 500ms, 30s, 5m or 1h, above 0 "
	  "and at most 24h" },
	{ "bad/bad-eject.yaml", "14:10",
	  "health eject must be a duration like 500ms, 30s, 5m or 1h, above 0 "
	  "and at most 24h" },
	{ "bad/bad-failures.yaml", "13:13",
	  "health failures must be an integer from 1 to 1000" },
	{ "bad/bad-max-connections.yaml", "13:20",
	  "connection-pool max-connections must be an integer from 1 to "
	  "65535" },
	{ "bad/bad-max-eject.yaml", "14:14",
	  "health max-eject must be at least eject" },
	{ "bad/bad-max-ejected.yaml", "13:16",
	  "health max-ejected must be a whole percentage from 1% to 100%" },
	{ "bad/bad-pool-field.yaml", "13:3",
	  "unknown field \"max-conns\" in connection-pool" },
	{ "bad/bad-ipv6.yaml", "3:13", "bad address \"[fd00::zz]:9080\"" },
	{ "bad/bad-match-port.yaml", "11:27",
	  "port must be an integer from 1 to 65535" },
	{ "bad/bad-name-long.yaml", "2:7",
	  "name "
	  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""
	  " "
	  "is not a valid name: lowercase letters, digits and '-', starting "
	  "and "
	  "ending with a letter or digit, at most 63 characters" },
	{ "bad/bad-name.yaml", "2:7",
	  "name \"Reviews\" is not a valid name: lowercase letters, digits and "
	  "'-', starting and ending with a letter or digit, at most 63 "
	  "characters" },
	{ "bad/bad-policy-default.yaml", "13:12",
	  "policy default must be \"allow\" or \"deny\"" },
	{ "bad/bad-port.yaml", "3:13", "bad port in \"10.0.0.1:99999\"" },
	{ "bad/bad-protocol.yaml", "3:13",
	  "bad protocol in \"10.96.0.20:9080/sctp\": tcp or udp" },
	{ "bad/bad-rule-name.yaml", "10:11",
	  "rule name \"Default_Rule\" is not a valid name: lowercase letters, "
	  "digits and '-', starting and ending with a letter or digit, at most "
	  "31 characters" },
	{ "bad/bad-target-port.yaml", "4:42",
	  "targetPort must be an integer from 1 to 65535" },
	{ "bad/bad-uid.yaml", "11:26",
	  "uid must be an integer from 0 to 4294967294" },
	{ "bad/bad-version-name.yaml", "7:3",
	  "version \"V2\" is not a valid name: lowercase letters, digits, '-', "
	  "'.' and '_', starting and ending with a letter or digit, at most 31 "
	  "characters" },
	{ "bad/bad-weight-float.yaml", "8:17",
	  "weight must be an integer from 1 to 65535" },
	{ "bad/bad-weight.yaml", "6:51",
	  "weight must be an integer from 1 to 65535" },
	{ "bad/cgroup-relative.yaml", "12:17",
	  "cgroup path \"kubepods/pod-tester\" must start with '/'" },
	{ "bad/dns-bad-name.yaml", "7:15",
	  "bad DNS name \"-reviews.default\": a label starts with '-'" },
	{ "bad/dns-no-port.yaml", "7:9", "dns backend needs a \"port\"" },
	{ "bad/dns-bad-port.yaml", "7:38",
	  "port must be an integer from 1 to 65535" },
	{ "bad/dns-weight.yaml", "7:44",
	  "unknown field \"weight\" in dns backend" },
	{ "bad/srv-bad-name.yaml", "7:15",
	  "bad DNS name \"reviews.default\": an SRV name starts with "
	  "_service._tcp. or _service._udp." },
	{ "bad/srv-port.yaml", "7:35",
	  "unknown field \"port\" in srv backend" },
	{ "bad/dns-and-srv.yaml", "7:9",
	  "backend has both \"dns\" and \"srv\"" },
	{ "bad/dns-dup.yaml", "8:9",
	  "duplicate dns backend REVIEWS.default in version \"v1\"" },
	{ "bad/dns-too-many.yaml", "11:9",
	  "too many dns/srv backends in version \"v1\": at most 4" },
	{ "bad/dup-backend.yaml", "6:50",
	  "duplicate backend 10.244.1.5:9080 in version \"v1\"" },
	{ "bad/dup-key.yaml", "12:1", "duplicate key \"name\" in route" },
	{ "bad/dup-rule.yaml", "12:11", "duplicate rule \"default\"" },
	{ "bad/dup-version.yaml", "9:3", "duplicate key \"v1\" in versions" },
	{ "bad/empty.yaml", "1:1",
	  "empty route file (0 bytes): refusing to remove its routes; delete "
	  "the file to remove them" },
	{ "bad/empty-rules.yaml", "9:8", "route has no rules" },
	{ "bad/empty-sources.yaml", "12:16", "sources must not be empty" },
	{ "bad/frontend-no-address.yaml", "4:5",
	  "frontend has no \"address\"" },
	{ "bad/frontend-no-port.yaml", "3:13", "frontend needs a port" },
	{ "bad/frontend-v6-no-port.yaml", "3:13", "frontend needs a port" },
	{ "bad/frontends-not-list.yaml", "3:12", "frontends must be a list" },
	{ "bad/host-bits.yaml", "12:32",
	  "CIDR \"10.0.0.1/24\" has host bits set" },
	{ "bad/kind.yaml", "1:7", "kind must be \"Route\"" },
	{ "bad/no-frontends.yaml", "3:12", "route has no frontends" },
	{ "bad/no-kind.yaml", "1:1", "route has no \"kind\"" },
	{ "bad/no-name.yaml", "2:1", "route has no \"name\"" },
	{ "bad/no-rules.yaml", "1:1", "route has no \"rules\"" },
	{ "bad/no-versions.yaml", "4:11", "route has no versions" },
	{ "bad/not-mapping.yaml", "1:1", "route must be a mapping" },
	{ "bad/rule-no-name.yaml", "10:5", "rule has no \"name\"" },
	{ "bad/rule-no-split.yaml", "10:5",
	  "rule \"default\" has no \"split\"" },
	{ "bad/second-doc-bad.yaml", "23:12",
	  "split sums to 99.00, must be 100" },
	{ "bad/split-decimals.yaml", "11:17",
	  "split \"33.333\" has more than 2 decimals" },
	{ "bad/split-dup-key.yaml", "11:21", "duplicate key \"v1\" in split" },
	{ "bad/split-negative.yaml", "11:17",
	  "split value must be a number between 0 and 100" },
	{ "bad/split-not-number.yaml", "11:25",
	  "split value must be a number between 0 and 100" },
	{ "bad/split-over-100.yaml", "11:17",
	  "split value must be a number between 0 and 100" },
	{ "bad/split-sum.yaml", "11:12", "split sums to 90.00, must be 100" },
	{ "bad/split-unknown-version.yaml", "11:21",
	  "unknown version \"v3\" in split" },
	{ "bad/too-many-allow.yaml", "23:7",
	  "too many allow entries: at most 8" },
	{ "bad/too-many-frontends.yaml", "20:5",
	  "too many frontends: at most 16" },
	{ "bad/too-many-rules.yaml", "34:5", "too many rules: at most 8" },
	{ "bad/too-many-sources.yaml", "12:97", "too many sources: at most 8" },
	{ "bad/too-many-keys.yaml", "5:3",
	  "too many keys in versions: at most 64" },
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
	{ "bad/version-empty.yaml", "5:3", "version \"v1\" has no backends" },
	{ "bad/version-no-backends.yaml", "5:3",
	  "version \"v1\" has no backends" },
	{ "bad/whitespace-only.yaml", "1:1",
	  "empty route file (whitespace only): refusing to remove its routes; "
	  "delete the file to remove them" },
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
		if (routes_parse_file(path, &set, err, sizeof(err)) !=
			    -EINVAL ||
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

TEST(bad_file_leaves_set_untouched)
{
	char err[ROUTE_ERR_MAX];
	struct route_set set = { 0 };
	struct route *before;

	ASSERT_EQ(routes_parse_file("examples/multi.yaml", &set, err,
				    sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 2);
	before = set.routes;
	/* The first document is good, the second is not: nothing is added. */
	ASSERT_EQ(routes_parse_file(BAD_DIR "second-doc-bad.yaml", &set, err,
				    sizeof(err)),
		  -EINVAL);
	ASSERT_EQ(set.n, 2);
	ASSERT_TRUE(set.routes == before);
	ASSERT_STREQ(set.routes[1].name, "dns");
	ASSERT_EQ(
		routes_parse_file("/nonexistent.yaml", &set, err, sizeof(err)),
		-ENOENT);
	ASSERT_EQ(set.n, 2);
	/* A good file appends. */
	ASSERT_EQ(routes_parse_file("examples/reviews.yaml", &set, err,
				    sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 3);
	ASSERT_STREQ(set.routes[2].name, "reviews");
	/* The file need not agree with the set: routes_check_set says so. */
	ASSERT_EQ(routes_check_set(&set, err, sizeof(err)), 0);
	ASSERT_EQ(routes_parse_file("examples/reviews.yaml", &set, err,
				    sizeof(err)),
		  0);
	ASSERT_EQ(routes_check_set(&set, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "examples/reviews.yaml:3:1: duplicate route name "
			  "\"reviews\" (also in examples/reviews.yaml:3:1)");
	routes_free(&set);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
