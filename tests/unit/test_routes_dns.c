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
