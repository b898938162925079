/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * DNS backend entries in route files: {dns: NAME, port: P} and
 * {srv: _service._proto.NAME} parse next to address backends, offline
 * (nothing is resolved), and DNS names are checked label by label. The
 * errors of bad entries are in test_routes_bad.c (tests/unit/bad/dns-*).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "test.h"
#include "routes.h"

static int parse(const char *text, struct route_set *set, char *err)
{
	char path[] = "/tmp/steer-unit-dns-XXXXXX";
	int fd = mkstemp(path), ret;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	close(fd);
	ret = routes_parse_file(path, set, err, ROUTE_ERR_MAX);
	unlink(path);
	return ret;
}

TEST(dns_and_srv_entries_parse)
{
	struct route_set set = { 0 };
	char err[ROUTE_ERR_MAX] = "";
	const struct route_version *v1, *v2;

	ASSERT_EQ(parse("kind: Route\nname: reviews\n"
			"frontends: [10.96.0.20:9080]\n"
			"versions:\n"
			"  v1:\n"
			"    backends:\n"
			"      - {dns: reviews-v1.default.svc.cluster.local, "
			"port: 9080}\n"
			"      - 10.244.1.5:9080\n"
			"  v2:\n"
			"    backends:\n"
			"      - {srv: _http._tcp.reviews-v2.default.svc."
			"cluster.local.}\n"
			"rules:\n  - name: default\n    split: {v1: 90, v2: "
			"10}\n",
			&set, err),
		  0);
	ASSERT_EQ(set.n, 1);
	v1 = &set.routes[0].versions[0];
	v2 = &set.routes[0].versions[1];
	ASSERT_EQ(v1->n_backends, 1);
	ASSERT_EQ(v1->n_dns, 1);
	ASSERT_EQ(v1->dns[0].kind, ROUTE_DNS_ADDR);
	ASSERT_EQ(v1->dns[0].port, 9080);
	ASSERT_STREQ(v1->dns[0].name, "reviews-v1.default.svc.cluster.local");
	ASSERT_EQ(v1->dns[0].pos.line, 7);
	ASSERT_EQ(v1->dns[0].pos.col, 9);
	/* a version of dns/srv entries only is not "without backends" */
	ASSERT_EQ(v2->n_backends, 0);
	ASSERT_EQ(v2->n_dns, 1);
	ASSERT_EQ(v2->dns[0].kind, ROUTE_DNS_SRV);
	ASSERT_EQ(v2->dns[0].port, 0);
	ASSERT_STREQ(v2->dns[0].name,
		     "_http._tcp.reviews-v2.default.svc.cluster.local.");
	routes_free(&set);
}

/*
 * The parser zeroes a route's arrays element by element as it fills them
 * (routes_doc.c): a version's dns entries must start empty too, not with
 * what the memory held. Under make sanitize, ASan fills new memory with
 * 0xbe, which made n_dns -1094795586 before parse_version zeroed it; in a
 * plain build the memory of a freed set full of dns entries is what the
 * next parse may get back.
 */
TEST(dns_entries_start_empty_in_reused_memory)
{
	static const char with_dns[] =
		"kind: Route\nname: r%d\n"
		"frontends: [10.96.1.%d:80]\n"
		"versions:\n"
		"  v1: {backends: [{dns: a.example, port: 80}, "
		"{dns: b.example, port: 80}, {srv: _h._tcp.c.example}]}\n"
		"  v2: {backends: [{dns: d.example, port: 80}]}\n"
		"rules:\n  - name: default\n    split: {v1: 50, v2: 50}\n"
		"---\n";
	static const char plain[] =
		"kind: Route\nname: r%d\n"
		"frontends: [10.96.1.%d:80]\n"
		"versions:\n"
		"  v1: {backends: [10.244.1.5:80]}\n"
		"  v2: {backends: [10.244.1.6:80]}\n"
		"rules:\n  - name: default\n    split: {v1: 50, v2: 50}\n"
		"---\n";
	char err[ROUTE_ERR_MAX] = "", *text = malloc(16 * 1024);
	struct route_set set = { 0 };
	size_t len;

	ASSERT_TRUE(text);
	for (int pass = 0; pass < 2; pass++) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len += (size_t)snprintf(text + len, 16 * 1024 - len,
						pass ? plain : with_dns, i, i);
		if (parse(text, &set, err)) {
			free(text);
			FAIL_AT("pass %d: %s", pass, err);
			return;
		}
		if (pass)
			break;
		ASSERT_EQ(set.routes[7].versions[0].n_dns, 3);
		routes_free(&set);
		memset(&set, 0, sizeof(set));
	}
	free(text);
	for (int i = 0; i < set.n; i++)
		for (int v = 0; v < set.routes[i].n_versions; v++)
			if (set.routes[i].versions[v].n_dns) {
				FAIL_AT("route %d version %d: %d dns entries "
					"in a file with none",
					i, v, set.routes[i].versions[v].n_dns);
				routes_free(&set);
				return;
			}
	ASSERT_EQ(set.n, 8);
	routes_free(&set);
}

TEST(dns_name_checks)
{
	static const struct {
		const char *name;
		bool srv;
		const char *err; /* NULL: valid */
	} cases[] = {
		{ "reviews", false, NULL },
		{ "reviews-v2.default.svc.cluster.local", false, NULL },
		{ "reviews.default.", false, NULL },
		{ "a1.B2.c-3", false, NULL },
		{ "", false, "empty" },
		{ ".", false, "empty label" },
		{ "a..b", false, "empty label" },
		{ "-a.b", false, "a label starts with '-'" },
		{ "a-.b", false, "a label ends with '-'" },
		{ "a_b.c", false,
		  "only letters, digits, '-' and '.' are allowed" },
		{ "_http._tcp.a", false,
		  "only letters, digits, '-' and '.' are allowed" },
		{ "_http._tcp.reviews", true, NULL },
		{ "_dns._udp.kube-dns.kube-system.svc.", true, NULL },
		{ "_http._sctp.a", true,
		  "an SRV name starts with _service._tcp. or _service._udp." },
		{ "http._tcp.a", true,
		  "an SRV name starts with _service._tcp. or _service._udp." },
		{ "_http._tcp", true,
		  "an SRV name starts with _service._tcp. or _service._udp." },
		{ "_http._tcp.", true,
		  "an SRV name needs a domain after _service._proto" },
		{ "a._tcp.b", true,
		  "an SRV name starts with _service._tcp. or _service._udp." },
	};
	char label64[80], long254[300];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got =
			routes_dns_name_error(cases[i].name, cases[i].srv);

		if (!cases[i].err)
			ASSERT_TRUE(!got || !fprintf(stderr, "%s: %s\n",
						     cases[i].name, got));
		else
			ASSERT_STREQ(got ? got : "(valid)", cases[i].err);
	}
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".b");
	ASSERT_STREQ(routes_dns_name_error(label64, false),
		     "a label is longer than 63 characters");
	strcpy(label64 + 63, ".b");
	ASSERT_TRUE(!routes_dns_name_error(label64, false));
	for (int i = 0; i < 254; i++)
		long254[i] = i % 2 ? '.' : 'a';
	long254[253] = 'a';
	long254[254] = '\0';
	ASSERT_STREQ(routes_dns_name_error(long254, false),
		     "longer than 253 characters");
	long254[253] = '\0';
	ASSERT_TRUE(!routes_dns_name_error(long254, false));
	long254[253] = '.'; /* 253 and the final dot of the root */
	long254[254] = '\0';
	ASSERT_TRUE(!routes_dns_name_error(long254, false));
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
