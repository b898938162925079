/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * BPF-level tests of the per-connection decision (bpf/lib/decide.h) with
 * real data: route files are parsed (routes_parse_file) and compiled
 * (compile_route) exactly as steerd does, published with the real
 * maps_route_publish() into the maps of a privately loaded test program
 * (tests/bpf/progs/test_decide.bpf.c), and the decision is run in the
 * kernel through BPF_PROG_TEST_RUN. cgroup sock_addr programs cannot be
 * test-run; this is how their selection logic is tested below e2e.
 *
 * Safety (docs/DESIGN.md §8): nothing is attached and nothing is pinned; the
 * maps live as long as this process. Temporary files (route files and a
 * fake cgroup tree of plain directories) go under one mkdtemp directory
 * that is removed on exit.
 *
 * Cases are data tables: decide_cases (one verdict per client), dist_cases
 * (shares over many runs); affinity, republish, freeze and the verifier
 * record are tests of their own. Run one with -t NAME.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "compile.h"
#include "maps.h"
#include "routes.h"
#include "test.h"
#include "test_decide.h"
#include "progs/test_decide.skel.h"

#define NONE	 NULL /* no rule / no version expected */
#define ROUTE_ID 7    /* any id below max_entries */

static struct steer_test_decide *skel;
static struct steer_maps maps; /* set by maps_from_object() */
static int prog_fd = -1;
static char tmpdir[] = "/tmp/steer-bpftest-XXXXXX";
static char cgroot[256]; /* fake cgroup2 root: plain directories */
static __u64 generation;

/* The fake cgroup tree, created under cgroot; deepest last for rmdir. */
static const char *const cg_dirs[] = {
	"kubepods",
	"kubepods/pod-tester",
	"kubepods/pod-tester/ctr",
	"kubepods/pod-other",
};

/* ---- route files ------------------------------------------------------ */

/* Rule order, sources, uids, ports, cgroups and AND of fields. */
static const char Y_MATCH[] =
	"kind: Route\n"
	"name: match\n"
	"frontends: [10.96.0.20:9080, \"[fd00:96::20]:9080\"]\n"
	"versions:\n"
	"  v1:\n"
	"    backends: [10.0.1.1:80, \"[fd00:1::1]:80\"]\n"
	"  v2:\n"
	"    backends: [10.0.2.1:80, \"[fd00:2::1]:80\"]\n"
	"  v3:\n"
	"    backends: [10.0.3.1, \"fd00:3::1\"]\n"
	"rules:\n"
	"  - name: v4net\n"
	"    match: {sources: [10.244.9.0/24]}\n"
	"    split: {v2: 100}\n"
	"  - name: v6net\n"
	"    match: {sources: [\"fd00:9::/64\"]}\n"
	"    split: {v2: 100}\n"
	"  - name: host\n"
	"    match: {sources: [10.244.8.7/32]}\n"
	"    split: {v3: 100}\n"
	"  - name: uid\n"
	"    match: {uids: [1001, 1002]}\n"
	"    split: {v3: 100}\n"
	"  - name: port\n"
	"    match: {ports: [9443]}\n"
	"    split: {v3: 100}\n"
	"  - name: cgroup\n"
	"    match: {cgroups: [/kubepods/pod-tester]}\n"
	"    split: {v3: 100}\n"
	"  - name: both\n"
	"    match: {sources: [10.244.7.0/24], ports: [9090]}\n"
	"    split: {v3: 100}\n"
	"  - name: default\n"
	"    split: {v1: 100}\n";

/* /0 matches every bound source of its family, and only bound ones. */
static const char Y_ANY[] = "kind: Route\n"
			    "name: any\n"
			    "frontends: [10.96.0.21:80]\n"
			    "versions:\n"
			    "  v1:\n"
			    "    backends: [10.0.1.1:80, \"[fd00:1::1]:80\"]\n"
			    "rules:\n"
			    "  - name: all4\n"
			    "    match: {sources: [0.0.0.0/0]}\n"
			    "    split: {v1: 100}\n"
			    "  - name: all6\n"
			    "    match: {sources: [\"::/0\"]}\n"
			    "    split: {v1: 100}\n";

/* Deny wins over allow; default allow. */
static const char Y_POLICY[] = "kind: Route\n"
			       "name: policy\n"
			       "frontends: [10.96.0.22:80]\n"
			       "versions:\n"
			       "  v1:\n"
			       "    backends: [10.0.1.1:80]\n"
			       "rules:\n"
			       "  - name: default\n"
			       "    split: {v1: 100}\n"
			       "policy:\n"
			       "  default: allow\n"
			       "  allow: [{sources: [10.244.0.0/16]}]\n"
			       "  deny: [{sources: [10.244.66.0/24]}]\n";

/* Default deny with an allow list (sources OR uid 0). */
static const char Y_DENYDEF[] = "kind: Route\n"
				"name: denydef\n"
				"frontends: [10.96.0.23:80]\n"
				"versions:\n"
				"  v1:\n"
				"    backends: [10.0.1.1:80]\n"
				"rules:\n"
				"  - name: default\n"
				"    split: {v1: 100}\n"
				"policy:\n"
				"  default: deny\n"
				"  allow:\n"
				"    - {sources: [10.244.0.0/16]}\n"
				"    - {uids: [0]}\n"
				"  deny: [{sources: [10.244.66.0/24]}]\n";

static const char Y_NORULE[] = "kind: Route\n"
			       "name: norule\n"
			       "frontends: [10.96.0.24:80]\n"
			       "versions:\n"
			       "  v1:\n"
			       "    backends: [10.0.1.1:80]\n"
			       "rules:\n"
			       "  - name: testers\n"
			       "    match: {sources: [10.244.9.0/24]}\n"
			       "    split: {v1: 100}\n";

/* v1 serves IPv4 only, v2 IPv6 only: each family sees one version. */
static const char Y_FAMILY[] =
	"kind: Route\n"
	"name: family\n"
	"frontends: [10.96.0.25:80, \"[fd00:96::25]:80\"]\n"
	"versions:\n"
	"  v1:\n"
	"    backends: [10.0.1.1:80]\n"
	"  v2:\n"
	"    backends: [\"[fd00:2::1]:80\", \"[fd00:2::2]:80\"]\n"
	"rules:\n"
	"  - name: default\n"
	"    split: {v1: 50, v2: 50}\n";

/* No IPv4 backend anywhere. */
static const char Y_NOBACKEND[] =
	"kind: Route\n"
	"name: nobackend\n"
	"frontends: [10.96.0.26:80, \"[fd00:96::26]:80\"]\n"
	"versions:\n"
	"  v1:\n"
	"    backends: [\"[fd00:1::1]:80\"]\n"
	"  v2:\n"
	"    backends: [\"fd00:2::1\"]\n"
	"rules:\n"
	"  - name: default\n"
	"    split: {v1: 90, v2: 10}\n";

static const char Y_SPLIT_100_0[] = "kind: Route\n"
				    "name: split100\n"
				    "frontends: [10.96.0.27:80]\n"
				    "versions:\n"
				    "  v1:\n"
				    "    backends: [10.0.1.1:80]\n"
				    "  v2:\n"
				    "    backends: [10.0.2.1:80]\n"
				    "rules:\n"
				    "  - name: default\n"
				    "    split: {v1: 100, v2: 0}\n";

/* v3 is deployed, not released. */
static const char Y_SPLIT_ZERO[] = "kind: Route\n"
				   "name: splitzero\n"
				   "frontends: [10.96.0.28:80]\n"
				   "versions:\n"
				   "  v1:\n"
				   "    backends: [10.0.1.1:80]\n"
				   "  v2:\n"
				   "    backends: [10.0.2.1:80]\n"
				   "  v3:\n"
				   "    backends: [10.0.3.1:80]\n"
				   "rules:\n"
				   "  - name: default\n"
				   "    split: {v1: 60, v2: 40, v3: 0}\n";

/* 80/20 split, and backends 1:3 inside v2. */
static const char Y_SPLIT_80_20[] =
	"kind: Route\n"
	"name: split80\n"
	"frontends: [10.96.0.29:80]\n"
	"versions:\n"
	"  v1:\n"
	"    backends: [10.0.1.1:80]\n"
	"  v2:\n"
	"    backends:\n"
	"      - 10.0.2.1:80\n"
	"      - {address: 10.0.2.2:80, weight: 3}\n"
	"rules:\n"
	"  - name: default\n"
	"    split: {v1: 80, v2: 20}\n";

/* One version, backends weighted 1:3. */
static const char Y_WEIGHTS[] = "kind: Route\n"
				"name: weights\n"
				"frontends: [10.96.0.31:80]\n"
				"versions:\n"
				"  v1:\n"
				"    backends:\n"
				"      - 10.0.1.1:80\n"
				"      - {address: 10.0.1.2:80, weight: 3}\n"
				"rules:\n"
				"  - name: default\n"
				"    split: {v1: 100}\n";

/* ---- helpers ---------------------------------------------------------- */

/*
 * Parse @yaml as a route file and compile it against @prev; the caller
 * frees the result. NULL (with the reason on stderr) on any error.
 */
static struct steer_route_cfg *compile_yaml(const char *yaml,
					    const struct steer_route_cfg *prev)
{
	struct steer_route_cfg *cfg = NULL;
	struct route_set set = { 0 };
	char path[PATH_MAX], err[ROUTE_ERR_MAX] = "";
	size_t len = strlen(yaml);
	int fd, ret;

	snprintf(path, sizeof(path), "%s/route-XXXXXX.yaml", tmpdir);
	fd = mkstemps(path, 5);
	if (fd < 0) {
		fprintf(stderr, "  mkstemps %s: %s\n", path, strerror(errno));
		return NULL;
	}
	ret = write(fd, yaml, len) == (ssize_t)len ? 0 : -EIO;
	close(fd);
	if (!ret)
		ret = routes_parse_file(path, &set, err, sizeof(err));
	unlink(path);
	if (ret || set.n != 1) {
		fprintf(stderr, "  parse: %d (%d routes) %s\n", ret, set.n,
			err);
		goto out;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		goto out;
	ret = compile_route(&set.routes[0], cgroot, prev, cfg, err,
			    sizeof(err));
	if (ret) {
		fprintf(stderr, "  compile_route: %s\n", err);
		route_cfg_destroy(cfg, 1);
		cfg = NULL;
	}
out:
	routes_free(&set);
	return cfg;
}

/* Publish @cfg as @id with the next generation number. */
static int publish(__u32 id, struct steer_route_cfg *cfg)
{
	int ret;

	cfg->generation = ++generation;
	ret = maps_route_publish(&maps, id, cfg);
	if (ret)
		fprintf(stderr, "  maps_route_publish: %s\n", strerror(-ret));
	return ret;
}

/* Compile and publish @yaml as @id; the live config is returned. */
static struct steer_route_cfg *load_yaml(__u32 id, const char *yaml,
					 const struct steer_route_cfg *prev)
{
	struct steer_route_cfg *cfg = compile_yaml(yaml, prev);

	if (cfg && publish(id, cfg)) {
		route_cfg_destroy(cfg, 1);
		cfg = NULL;
	}
	return cfg;
}

/* A client as the test tables write it. */
struct client {
	const char *src; /* "10.1.2.3", "fd00::1"; "0.0.0.0" / "::" = unbound */
	__u16 dport;
	__u32 uid;
	__u64 key;	    /* affinity key */
	const char *cgroup; /* path below cgroot, NULL = none */
	bool tc;	    /* TC layer: no uid, no cgroup */
};

/* The ancestor ids of @path, level by level, from the fake tree. */
static int fill_cgroups(const char *path, __u64 *ids)
{
	char buf[PATH_MAX];
	struct stat st;
	int level = 0, n;
	const char *p = path;

	n = snprintf(buf, sizeof(buf), "%s", cgroot);
	for (;;) {
		if (stat(buf, &st))
			return -errno;
		if (level >= TEST_CGROUP_LEVELS)
			return -E2BIG;
		ids[level++] = st.st_ino;
		while (*p == '/')
			p++;
		if (!*p)
			return 0;
		buf[n++] = '/';
		while (*p && *p != '/' && n < (int)sizeof(buf) - 1)
			buf[n++] = *p++;
		buf[n] = '\0';
	}
}

/* Run the decision for @c on route @id; returns the program's retval. */
static int run(__u32 id, const struct client *c, struct test_decide_ctx *ctx)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int ret;

	memset(ctx, 0, sizeof(*ctx));
	ctx->route_id = id;
	if (inet_pton(AF_INET, c->src, ctx->saddr) == 1)
		ctx->family = STEER_FAM_INET;
	else if (inet_pton(AF_INET6, c->src, ctx->saddr) == 1)
		ctx->family = STEER_FAM_INET6;
	else
		return -EINVAL;
	ctx->dport = c->dport;
	ctx->uid = c->uid;
	ctx->affinity_key = c->key;
	ctx->layer = c->tc ? STEER_LAYER_TC : STEER_LAYER_SOCK;
	if (c->cgroup) {
		ret = fill_cgroups(c->cgroup, ctx->cgroups);
		if (ret)
			return ret;
	}
	/* A syscall program's ctx is copied back into ctx_in. */
	opts.ctx_in = ctx;
	opts.ctx_size_in = sizeof(*ctx);
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	return (int)opts.retval;
}

static const char *rule_name(const struct steer_route_cfg *cfg,
			     const struct test_decide_ctx *ctx)
{
	return ctx->rule < cfg->n_rules ? cfg->rules[ctx->rule].name : NONE;
}

static const char *version_name(const struct steer_route_cfg *cfg,
				const struct test_decide_ctx *ctx)
{
	return ctx->version < cfg->n_versions ? cfg->versions[ctx->version].name
					      : NONE;
}

/* "10.0.1.1:80", "[fd00::1]:80", or without ":port" when it has none. */
static const char *backend_str(const struct test_decide_ctx *ctx, char *buf,
			       size_t len)
{
	if (!ctx->has_backend)
		return "-";
	return addr_format(buf, len, ctx->backend_family, ctx->backend_addr,
			   ntohs(ctx->backend_port));
}

static bool streq_or_none(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static double absd(double x)
{
	return x < 0 ? -x : x;
}

/* Is @be one of the space-separated @set? */
static bool in_set(const char *set, const char *be)
{
	size_t n = strlen(be);

	for (const char *p = set; p && *p;) {
		const char *e = strchr(p, ' ');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == n && !strncmp(p, be, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

static const char *const verdict_names[] = { "STEER", "DENY", "NO_RULE",
					     "NO_BACKEND" };

static const char *verdict_str(int v)
{
	return v >= 0 && v <= STEER_VERDICT_NO_BACKEND ? verdict_names[v] : "?";
}

/* ---- decisions as data ------------------------------------------------ */

struct decide_case {
	const char *desc;
	const char *yaml;
	struct client cl;
	enum steer_verdict verdict;
	const char *rule;     /* NONE: no rule */
	const char *version;  /* NONE: no version */
	const char *backends; /* space-separated set the backend is in */
};

#define V4	      "10.244.1.5"
#define RUNS_PER_CASE 200 /* random draws: the answer must never vary */

/* One case per entry reads better than one field per line. */
/* clang-format off */
static const struct decide_case decide_cases[] = {
	/* no match, rule order, first match wins */
	{ "no rule matches -> NO_RULE", Y_NORULE, { .src = "192.168.1.1", .dport = 80 },
	  STEER_VERDICT_NO_RULE, NONE, NONE, NULL },
	{ "matching the only rule", Y_NORULE, { .src = "10.244.9.3", .dport = 80 },
	  STEER_VERDICT_STEER, "testers", "v1", "10.0.1.1:80" },
	{ "no rule matches an unbound client", Y_NORULE, { .src = "0.0.0.0", .dport = 80 },
	  STEER_VERDICT_NO_RULE, NONE, NONE, NULL },
	{ "nothing special -> default", Y_MATCH, { .src = V4, .dport = 9080 },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "IPv4 /24 source", Y_MATCH, { .src = "10.244.9.200", .dport = 9080 },
	  STEER_VERDICT_STEER, "v4net", "v2", "10.0.2.1:80" },
	{ "IPv4 just outside /24", Y_MATCH, { .src = "10.244.10.1", .dport = 9080 },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "first match wins: /24 before uid, port, cgroup", Y_MATCH,
	  { .src = "10.244.9.1", .dport = 9443, .uid = 1001, .cgroup = "/kubepods/pod-tester/ctr" },
	  STEER_VERDICT_STEER, "v4net", "v2", "10.0.2.1:80" },
	{ "IPv6 /64 source", Y_MATCH, { .src = "fd00:9::abcd:1", .dport = 9080 },
	  STEER_VERDICT_STEER, "v6net", "v2", "[fd00:2::1]:80" },
	{ "IPv6 just outside /64", Y_MATCH, { .src = "fd00:9:0:1::1", .dport = 9080 },
	  STEER_VERDICT_STEER, "default", "v1", "[fd00:1::1]:80" },
	{ "IPv4 /24 does not match an IPv6 client", Y_MATCH,
	  { .src = "::ffff:10.244.9.1", .dport = 9080 }, STEER_VERDICT_STEER, "default", "v1",
	  "[fd00:1::1]:80" },
	{ "/32 exact", Y_MATCH, { .src = "10.244.8.7", .dport = 9080 }, STEER_VERDICT_STEER,
	  "host", "v3", "10.0.3.1" },
	{ "/32 neighbour does not match", Y_MATCH, { .src = "10.244.8.6", .dport = 9080 },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "unbound IPv4 never matches sources", Y_MATCH, { .src = "0.0.0.0", .dport = 9080 },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "unbound IPv6 never matches sources", Y_MATCH, { .src = "::", .dport = 9080 },
	  STEER_VERDICT_STEER, "default", "v1", "[fd00:1::1]:80" },
	{ "/0 matches any bound IPv4", Y_ANY, { .src = "203.0.113.9", .dport = 80 },
	  STEER_VERDICT_STEER, "all4", "v1", "10.0.1.1:80" },
	{ "/0 matches any bound IPv6", Y_ANY, { .src = "2001:db8::9", .dport = 80 },
	  STEER_VERDICT_STEER, "all6", "v1", "[fd00:1::1]:80" },
	{ "/0 does not match an unbound IPv4", Y_ANY, { .src = "0.0.0.0", .dport = 80 },
	  STEER_VERDICT_NO_RULE, NONE, NONE, NULL },
	{ "/0 does not match an unbound IPv6", Y_ANY, { .src = "::", .dport = 80 },
	  STEER_VERDICT_NO_RULE, NONE, NONE, NULL },
	{ "uid (second item)", Y_MATCH, { .src = V4, .dport = 9080, .uid = 1002 },
	  STEER_VERDICT_STEER, "uid", "v3", "10.0.3.1" },
	{ "uid does not match at TC", Y_MATCH,
	  { .src = V4, .dport = 9080, .uid = 1001, .tc = true }, STEER_VERDICT_STEER, "default", "v1",
	  "10.0.1.1:80" },
	{ "port", Y_MATCH, { .src = V4, .dport = 9443 }, STEER_VERDICT_STEER, "port", "v3",
	  "10.0.3.1" },
	{ "cgroup subtree", Y_MATCH, { .src = V4, .dport = 9080, .cgroup = "/kubepods/pod-tester/ctr" },
	  STEER_VERDICT_STEER, "cgroup", "v3", "10.0.3.1" },
	{ "cgroup itself", Y_MATCH, { .src = V4, .dport = 9080, .cgroup = "/kubepods/pod-tester" },
	  STEER_VERDICT_STEER, "cgroup", "v3", "10.0.3.1" },
	{ "cgroup sibling", Y_MATCH, { .src = V4, .dport = 9080, .cgroup = "/kubepods/pod-other" },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "cgroup parent", Y_MATCH, { .src = V4, .dport = 9080, .cgroup = "/kubepods" },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "cgroup does not match at TC", Y_MATCH,
	  { .src = V4, .dport = 9080, .cgroup = "/kubepods/pod-tester", .tc = true }, STEER_VERDICT_STEER,
	  "default", "v1", "10.0.1.1:80" },
	{ "fields AND: source and port", Y_MATCH, { .src = "10.244.7.1", .dport = 9090 },
	  STEER_VERDICT_STEER, "both", "v3", "10.0.3.1" },
	{ "fields AND: source without port", Y_MATCH, { .src = "10.244.7.1", .dport = 9080 },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	/* policy */
	{ "deny by CIDR", Y_POLICY, { .src = "10.244.66.9", .dport = 80 }, STEER_VERDICT_DENY,
	  NONE, NONE, NULL },
	{ "allowed by CIDR", Y_POLICY, { .src = V4, .dport = 80 }, STEER_VERDICT_STEER,
	  "default", "v1", "10.0.1.1:80" },
	{ "default allow", Y_POLICY, { .src = "192.168.1.1", .dport = 80 }, STEER_VERDICT_STEER,
	  "default", "v1", "10.0.1.1:80" },
	{ "default deny: not on the allow list", Y_DENYDEF,
	  { .src = "192.168.1.1", .dport = 80, .uid = 1000 }, STEER_VERDICT_DENY, NONE, NONE, NULL },
	{ "default deny: allowed by CIDR", Y_DENYDEF, { .src = V4, .dport = 80, .uid = 1000 },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "default deny: allowed by uid", Y_DENYDEF, { .src = "192.168.1.1", .dport = 80, .uid = 0 },
	  STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "default deny: deny wins over allow", Y_DENYDEF,
	  { .src = "10.244.66.1", .dport = 80, .uid = 0 }, STEER_VERDICT_DENY, NONE, NONE, NULL },
	{ "default deny: unbound, uid 1000", Y_DENYDEF, { .src = "0.0.0.0", .dport = 80, .uid = 1000 },
	  STEER_VERDICT_DENY, NONE, NONE, NULL },
	{ "default deny: uid allow does not hold at TC", Y_DENYDEF,
	  { .src = "192.168.1.1", .dport = 80, .uid = 0, .tc = true }, STEER_VERDICT_DENY, NONE, NONE,
	  NULL },
	/* families and backends */
	{ "IPv4 client: v2 has no IPv4 backend, v1 takes all", Y_FAMILY,
	  { .src = V4, .dport = 80 }, STEER_VERDICT_STEER, "default", "v1", "10.0.1.1:80" },
	{ "IPv6 client: v1 has no IPv6 backend, v2 takes all", Y_FAMILY,
	  { .src = "fd00:9::1", .dport = 80 }, STEER_VERDICT_STEER, "default", "v2",
	  "[fd00:2::1]:80 [fd00:2::2]:80" },
	{ "no usable backend -> NO_BACKEND", Y_NOBACKEND, { .src = V4, .dport = 80 },
	  STEER_VERDICT_NO_BACKEND, "default", NONE, NULL },
	{ "same route, IPv6 client is served", Y_NOBACKEND,
	  { .src = "fd00:9::1", .dport = 80 }, STEER_VERDICT_STEER, "default", NULL,
	  "[fd00:1::1]:80 fd00:2::1" },
};
/* clang-format on */

TEST(decide_table)
{
	struct test_decide_ctx ctx;
	char buf[64];

	for (size_t i = 0; i < sizeof(decide_cases) / sizeof(*decide_cases);
	     i++) {
		const struct decide_case *tc = &decide_cases[i];
		struct steer_route_cfg *cfg =
			load_yaml(ROUTE_ID, tc->yaml, NULL);

		if (!cfg) {
			FAIL_AT("%s: route does not load", tc->desc);
			continue;
		}
		for (int n = 0; n < RUNS_PER_CASE; n++) {
			const char *be, *want_ver = tc->version;
			int ret = run(ROUTE_ID, &tc->cl, &ctx);

			if (ret != TEST_DECIDE_OK) {
				FAIL_AT("%s: run: %d", tc->desc, ret);
				break;
			}
			be = backend_str(&ctx, buf, sizeof(buf));
			/* NULL version with a backend set: any version */
			if (!want_ver && tc->backends)
				want_ver = version_name(cfg, &ctx);
			if (ctx.verdict != tc->verdict ||
			    !streq_or_none(rule_name(cfg, &ctx), tc->rule) ||
			    !streq_or_none(version_name(cfg, &ctx), want_ver) ||
			    (tc->backends ? !in_set(tc->backends, be)
					  : ctx.has_backend)) {
				FAIL_AT("%s (%s, run %d):\n"
					"    got  %s rule %s version %s "
					"backend %s\n"
					"    want %s rule %s version %s "
					"backend in {%s}",
					tc->desc, tc->cl.src, n,
					verdict_str(ctx.verdict),
					rule_name(cfg, &ctx) ?: "-",
					version_name(cfg, &ctx) ?: "-", be,
					verdict_str(tc->verdict),
					tc->rule ?: "-", tc->version ?: "-",
					tc->backends ?: "");
				break;
			}
		}
		route_cfg_destroy(cfg, 1);
	}
}

/* ---- shares as data --------------------------------------------------- */

struct share {
	const char *name; /* version name, or backend as backend_str() */
	double pct;
	double tol; /* percentage points */
};

struct dist_case {
	const char *desc;
	const char *yaml;
	struct client cl;
	int runs;
	struct share versions[4];
	struct share backends[4];
};

/* One case per entry reads better than one field per line. */
/* clang-format off */
static const struct dist_case dist_cases[] = {
	{ "100/0: always v1", Y_SPLIT_100_0, { .src = V4, .dport = 80 }, 1000,
	  { { "v1", 100, 0 }, { "v2", 0, 0 } }, { { NULL, 0, 0 } } },
	{ "0 % version never chosen", Y_SPLIT_ZERO, { .src = V4, .dport = 80 },
	  10000, { { "v1", 60, 2 }, { "v2", 40, 2 }, { "v3", 0, 0 } },
	  { { NULL, 0, 0 } } },
	{ "80/20 within 2 points", Y_SPLIT_80_20, { .src = V4, .dport = 80 },
	  10000, { { "v1", 80, 2 }, { "v2", 20, 2 } },
	  { { "10.0.1.1:80", 80, 2 },
	    { "10.0.2.1:80", 5, 2 },
	    { "10.0.2.2:80", 15, 2 } } },
	/* The connection sequence meets a split over short runs too,
	 * where random draws would stray by about 9 of 500. */
	{ "80/20 over 500 runs within 1 point", Y_SPLIT_80_20,
	  { .src = V4, .dport = 80 }, 500, { { "v1", 80, 1 }, { "v2", 20, 1 } },
	  { { "10.0.1.1:80", 80, 1 },
	    { "10.0.2.1:80", 5, 1 },
	    { "10.0.2.2:80", 15, 1 } } },
	{ "backend weights 1:3 within 3 points", Y_WEIGHTS,
	  { .src = V4, .dport = 80 }, 10000, { { "v1", 100, 0 } },
	  { { "10.0.1.1:80", 25, 3 }, { "10.0.1.2:80", 75, 3 } } },
	{ "IPv4 share of an IPv6-only version goes to v1", Y_FAMILY,
	  { .src = V4, .dport = 80 }, 1000, { { "v1", 100, 0 }, { "v2", 0, 0 } },
	  { { "10.0.1.1:80", 100, 0 } } },
	{ "IPv6 share of an IPv4-only version goes to v2", Y_FAMILY,
	  { .src = "fd00:9::1", .dport = 80 }, 10000,
	  { { "v1", 0, 0 }, { "v2", 100, 0 } },
	  { { "[fd00:2::1]:80", 50, 3 }, { "[fd00:2::2]:80", 50, 3 } } },
};
/* clang-format on */

static int count_of(const char *const *names, const int *counts, int n,
		    const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return counts[i];
	return 0;
}

/* Name -> count, for the few distinct names one case produces. */
struct tally {
	int n;
	char names[16][64];
	const char *ptrs[16];
	int counts[16];
};

static void tally_add(struct tally *t, const char *name)
{
	for (int i = 0; i < t->n; i++) {
		if (!strcmp(t->names[i], name)) {
			t->counts[i]++;
			return;
		}
	}
	if (t->n == 16)
		return;
	snprintf(t->names[t->n], sizeof(t->names[0]), "%s", name);
	t->ptrs[t->n] = t->names[t->n];
	t->counts[t->n++] = 1;
}

static bool check_shares(const char *desc, const char *what,
			 const struct share *want, const struct tally *t,
			 int runs)
{
	bool ok = true;

	for (int i = 0; i < 4 && want[i].name; i++) {
		int c = count_of(t->ptrs, t->counts, t->n, want[i].name);
		double pct = 100.0 * c / runs;

		if (absd(pct - want[i].pct) > want[i].tol) {
			FAIL_AT("%s: %s %s got %.2f %% (%d of %d), want "
				"%.2f +- %.2f",
				desc, what, want[i].name, pct, c, runs,
				want[i].pct, want[i].tol);
			ok = false;
		}
	}
	return ok;
}

TEST(distribution_table)
{
	struct test_decide_ctx ctx;
	char buf[64];

	for (size_t i = 0; i < sizeof(dist_cases) / sizeof(*dist_cases); i++) {
		const struct dist_case *dc = &dist_cases[i];
		struct steer_route_cfg *cfg =
			load_yaml(ROUTE_ID, dc->yaml, NULL);
		struct tally vt = { 0 }, bt = { 0 };
		int n;

		if (!cfg) {
			FAIL_AT("%s: route does not load", dc->desc);
			continue;
		}
		for (n = 0; n < dc->runs; n++) {
			int ret = run(ROUTE_ID, &dc->cl, &ctx);

			if (ret != TEST_DECIDE_OK ||
			    ctx.verdict != STEER_VERDICT_STEER) {
				FAIL_AT("%s: run %d: ret %d verdict %s",
					dc->desc, n, ret,
					verdict_str(ctx.verdict));
				break;
			}
			tally_add(&vt, version_name(cfg, &ctx) ?: "-");
			tally_add(&bt, backend_str(&ctx, buf, sizeof(buf)));
		}
		if (n == dc->runs) {
			check_shares(dc->desc, "version", dc->versions, &vt, n);
			check_shares(dc->desc, "backend", dc->backends, &bt, n);
		}
		route_cfg_destroy(cfg, 1);
	}
}

/* ---- affinity --------------------------------------------------------- */

/*
 * Three versions, so that the raise below cannot keep v2's clients by luck:
 * a table rebuilt without the live one would put v2's run of slots at
 * [2000, 7000) where it was [8000, 9000) and move every v2 client.
 */
#define Y_AFF(v1, v2, v3)                                                      \
	"kind: Route\n"                                                        \
	"name: sticky\n"                                                       \
	"frontends: [10.96.0.30:80]\n"                                         \
	"versions:\n"                                                          \
	"  v1:\n"                                                              \
	"    backends: [10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80]\n"              \
	"  v2:\n"                                                              \
	"    backends: [10.0.2.1:80, 10.0.2.2:80]\n"                           \
	"  v3:\n"                                                              \
	"    backends: [10.0.3.1:80]\n"                                        \
	"rules:\n"                                                             \
	"  - name: default\n"                                                  \
	"    split: {v1: " #v1 ", v2: " #v2 ", v3: " #v3 "}\n"                 \
	"affinity: client\n"

static const char Y_AFF_10[] = Y_AFF(80, 10, 10);
/* v2 raised to 50 % (v3 raised too, v1 gives up what they take) */
static const char Y_AFF_50[] = Y_AFF(20, 50, 30);

#define AFF_KEYS 4000

/* Version and backend index per key: v << 8 | backend; -1 on error. */
static int sticky_choice(__u64 key)
{
	struct client c = { .src = V4, .dport = 80, .key = key };
	struct test_decide_ctx ctx;

	if (run(ROUTE_ID, &c, &ctx) != TEST_DECIDE_OK ||
	    ctx.verdict != STEER_VERDICT_STEER)
		return -1;
	return ctx.version << 8 | ctx.backend_idx;
}

TEST(affinity_same_key_same_choice)
{
	struct steer_route_cfg *cfg = load_yaml(ROUTE_ID, Y_AFF_10, NULL);
	int on_v2 = 0;

	ASSERT_TRUE(cfg);
	for (__u64 key = 1; key <= AFF_KEYS; key++) {
		int first = sticky_choice(key * 0x10001);

		if (first < 0) {
			FAIL_AT("key %llu: no decision",
				(unsigned long long)key);
			break;
		}
		on_v2 += first >> 8 == 1;
		for (int n = 0; n < 5; n++) {
			int again = sticky_choice(key * 0x10001);

			if (again != first) {
				FAIL_AT("key %llu: version/backend %#x then "
					"%#x",
					(unsigned long long)key, first, again);
				route_cfg_destroy(cfg, 1);
				return;
			}
		}
	}
	route_cfg_destroy(cfg, 1);
	/* hashed keys still follow the split: 10 % +- 2 */
	ASSERT_TRUE(absd(100.0 * on_v2 / AFF_KEYS - 10) <= 2);
}

TEST(affinity_raise_never_moves_v2_clients)
{
	static int before[AFF_KEYS + 1];
	struct steer_route_cfg *c10, *c50 = NULL;
	int moved = 0, on_v2_after = 0, v1_moved = 0, on_v2_before = 0;

	c10 = load_yaml(ROUTE_ID, Y_AFF_10, NULL);
	ASSERT_TRUE(c10);
	for (int k = 1; k <= AFF_KEYS; k++) {
		before[k] = sticky_choice((__u64)k * 7919);
		if (before[k] < 0) {
			FAIL_AT("key %d: no decision", k);
			goto out;
		}
	}
	/* steerd compiles the new file against the live config */
	c50 = load_yaml(ROUTE_ID, Y_AFF_50, c10);
	if (!c50) {
		FAIL_AT("50 %% route does not load");
		goto out;
	}
	for (int k = 1; k <= AFF_KEYS; k++) {
		int now = sticky_choice((__u64)k * 7919);

		on_v2_before += before[k] >> 8 == 1;
		on_v2_after += now >> 8 == 1;
		/* v2 and v3 were raised: none of their clients may move */
		if (before[k] >> 8 != 0 && now != before[k])
			moved++;
		if (before[k] >> 8 == 0 && now >> 8 == 0 && now != before[k])
			v1_moved++;
	}
	if (moved)
		FAIL_AT("%d of %d clients on raised versions moved", moved,
			on_v2_before);
	if (v1_moved)
		FAIL_AT("%d clients that stayed on v1 changed backend",
			v1_moved);
	if (absd(100.0 * on_v2_after / AFF_KEYS - 50) > 3)
		FAIL_AT("v2 share after raise: %d of %d", on_v2_after,
			AFF_KEYS);
out:
	route_cfg_destroy(c10, 1);
	route_cfg_destroy(c50, 1);
}

/* ---- publication ------------------------------------------------------ */

TEST(republish_seen_by_next_run)
{
	struct steer_route_cfg *a, *b;
	struct test_decide_ctx ctx;
	struct client c = { .src = V4, .dport = 80 };
	__u64 gen_a;

	a = load_yaml(ROUTE_ID, Y_SPLIT_100_0, NULL);
	ASSERT_TRUE(a);
	gen_a = a->generation;
	ASSERT_EQ(run(ROUTE_ID, &c, &ctx), TEST_DECIDE_OK);
	ASSERT_EQ(ctx.generation, gen_a);
	ASSERT_STREQ(version_name(a, &ctx), "v1");

	/* Same route, every split moved to v2, published over it. */
	b = compile_yaml(Y_SPLIT_100_0, a);
	route_cfg_destroy(a, 1);
	ASSERT_TRUE(b);
	b->rules[0].split[0] = 0;
	b->rules[0].split[1] = 10000;
	compile_tables(b, NULL);
	ASSERT_EQ(publish(ROUTE_ID, b), 0);
	for (int n = 0; n < 100; n++) {
		ASSERT_EQ(run(ROUTE_ID, &c, &ctx), TEST_DECIDE_OK);
		ASSERT_EQ(ctx.generation, b->generation);
		ASSERT_STREQ(version_name(b, &ctx), "v2");
	}
	route_cfg_destroy(b, 1);

	/* A deleted route is gone for the next run, too. */
	ASSERT_EQ(maps_route_delete(&maps, ROUTE_ID), 0);
	ASSERT_EQ(run(ROUTE_ID, &c, &ctx), TEST_DECIDE_NO_CFG);
}

/* Match blocks of route @id in either bank (positions of rows.h). */
static int match_blocks(__u32 id)
{
	struct steer_match mb;
	int n = 0;

	for (__u32 bank = 0; bank < 2; bank++)
		for (__u32 pos = 0;
		     pos < STEER_MATCH_DENY_BASE + STEER_MAX_POLICY; pos++) {
			__u32 mid = steer_match_id(id, bank, pos);

			n += !bpf_map_lookup_elem(maps.matches, &mid, &mb);
		}
	return n;
}

/*
 * A republish drops the match blocks of the bank it retires, the ones its
 * header names (not every position of it): none is left over, and the
 * policy in force is the new one's.
 */
TEST(republish_drops_the_old_banks_matches)
{
	struct client denied = { .src = "10.244.66.9", .dport = 80 };
	struct client other = { .src = "192.168.1.1",
				.dport = 80,
				.uid = 1000 };
	struct steer_route_cfg *a, *b, *c;
	struct test_decide_ctx ctx;

	/* allow: 2 blocks, deny: 1 */
	a = load_yaml(ROUTE_ID, Y_DENYDEF, NULL);
	ASSERT_TRUE(a);
	ASSERT_EQ(match_blocks(ROUTE_ID), 3);
	ASSERT_EQ(run(ROUTE_ID, &other, &ctx), TEST_DECIDE_OK);
	ASSERT_EQ(ctx.verdict, STEER_VERDICT_DENY);

	/* allow: 1, deny: 1, default allow */
	b = load_yaml(ROUTE_ID, Y_POLICY, a);
	ASSERT_TRUE(b);
	ASSERT_EQ(match_blocks(ROUTE_ID), 2);
	ASSERT_EQ(run(ROUTE_ID, &other, &ctx), TEST_DECIDE_OK);
	ASSERT_EQ(ctx.verdict, STEER_VERDICT_STEER);
	ASSERT_EQ(run(ROUTE_ID, &denied, &ctx), TEST_DECIDE_OK);
	ASSERT_EQ(ctx.verdict, STEER_VERDICT_DENY);

	/* no match at all, then the policy again in the other bank */
	c = load_yaml(ROUTE_ID, Y_SPLIT_100_0, b);
	ASSERT_TRUE(c);
	ASSERT_EQ(match_blocks(ROUTE_ID), 0);
	ASSERT_EQ(run(ROUTE_ID, &denied, &ctx), TEST_DECIDE_OK);
	ASSERT_EQ(ctx.verdict, STEER_VERDICT_STEER);
	route_cfg_destroy(b, 1);
	b = load_yaml(ROUTE_ID, Y_POLICY, c);
	ASSERT_TRUE(b);
	ASSERT_EQ(match_blocks(ROUTE_ID), 2);
	ASSERT_EQ(run(ROUTE_ID, &denied, &ctx), TEST_DECIDE_OK);
	ASSERT_EQ(ctx.verdict, STEER_VERDICT_DENY);

	ASSERT_EQ(maps_route_delete(&maps, ROUTE_ID), 0);
	ASSERT_EQ(match_blocks(ROUTE_ID), 0);
	route_cfg_destroy(a, 1);
	route_cfg_destroy(b, 1);
	route_cfg_destroy(c, 1);
}

/*
 * The name index finds a route and the newest generation without reading
 * every config; a stale or missing entry falls back to the scan, so the
 * answer is the same either way.
 */
TEST(route_index_finds_by_name)
{
	struct steer_route_cfg *a = load_yaml(ROUTE_ID, Y_SPLIT_100_0, NULL);
	struct steer_route_name k = {};
	struct steer_route_index v;
	char name[STEER_NAME_LEN];

	ASSERT_TRUE(a);
	snprintf(name, sizeof(name), "%s", a->name);
	memcpy(k.name, name, strlen(name));
	ASSERT_EQ(bpf_map_lookup_elem(maps.route_index, &k, &v), 0);
	ASSERT_EQ(v.id, ROUTE_ID);
	ASSERT_EQ(v.generation, a->generation);
	ASSERT_EQ(maps_route_find(&maps, name, NULL), ROUTE_ID);
	ASSERT_EQ(maps_generation_max(&maps), a->generation);

	/* Entry gone (pins of an older steer): the scan still answers. */
	ASSERT_EQ(bpf_map_delete_elem(maps.route_index, &k), 0);
	ASSERT_EQ(maps_route_find(&maps, name, NULL), ROUTE_ID);
	ASSERT_EQ(maps_generation_max(&maps), a->generation);

	/* A wrong entry is checked against the config it names. */
	v.id = ROUTE_ID + 1;
	ASSERT_EQ(bpf_map_update_elem(maps.route_index, &k, &v, BPF_ANY), 0);
	ASSERT_EQ(maps_route_find(&maps, name, NULL), ROUTE_ID);

	/* Deleting the route removes its entry. */
	ASSERT_EQ(publish(ROUTE_ID, a), 0);
	ASSERT_EQ(maps_route_delete(&maps, ROUTE_ID), 0);
	ASSERT_TRUE(bpf_map_lookup_elem(maps.route_index, &k, &v) != 0);
	ASSERT_EQ(maps_route_find(&maps, name, NULL), -ENOENT);
	route_cfg_destroy(a, 1);
}

/* A one-version route of backends 10.9.@net.1 .. 10.9.@net.@n, port 80. */
static struct steer_route_cfg *churn_cfg(int net, int n)
{
	char yaml[1024];
	int len;

	len = snprintf(yaml, sizeof(yaml),
		       "kind: Route\nname: churn\n"
		       "frontends: [10.96.0.30:80]\n"
		       "versions:\n  v1:\n    backends: [");
	for (int i = 1; i <= n; i++)
		len += snprintf(yaml + len, sizeof(yaml) - (size_t)len,
				"%s10.9.%d.%d:80", i > 1 ? ", " : "", net, i);
	snprintf(yaml + len, sizeof(yaml) - (size_t)len,
		 "]\nrules:\n  - name: default\n    split: {v1: 100}\n");
	return compile_yaml(yaml, NULL);
}

/* The id of backend 10.9.@net.@i:80, or 0 when it has none. */
static __u32 churn_id(int net, int i)
{
	struct steer_backend_addr a = { .port = htons(80),
					.family = STEER_FAM_INET };
	__u32 id;

	a.addr[0] = htonl(0x0a090000u | (__u32)net << 8 | (__u32)i);
	return bpf_map_lookup_elem(maps.backend_ids, &a, &id) ? 0 : id;
}

/*
 * Pods come and go (dns/srv backends): ids of addresses no route refers to
 * any more are reused once none is left, lowest first; ids the live route
 * or the publish in progress uses never are; with none free the publish
 * fails with ENOSPC and the live route stays.
 */
static struct steer_route_cfg *churn, *churn_live; /* freed by the TEST */

static void backend_ids_churn(__u32 id)
{
	struct client c = { .src = "10.244.9.9", .dport = 80 };
	struct steer_route_cfg *cfg, *live;
	struct test_decide_ctx ctx;
	__u32 b_ids[3];

	/* a, then b over it: a's three ids are referred to no more */
	route_cfg_destroy(churn, 1);
	churn = cfg = churn_cfg(1, 3);
	ASSERT_TRUE(cfg);
	ASSERT_EQ(publish(id, cfg), 0);
	route_cfg_destroy(churn, 1);
	churn = cfg = churn_cfg(2, 3);
	ASSERT_TRUE(cfg);
	ASSERT_EQ(publish(id, cfg), 0);
	for (int i = 0; i < 3; i++) {
		b_ids[i] = churn_id(2, i + 1);
		ASSERT_TRUE(churn_id(1, i + 1) && b_ids[i]);
	}
	/*
	 * No id left past those in use: c must reuse ids no route refers to,
	 * a's among them (earlier tests' routes leave some too, lower ones),
	 * never b's, which the live route has until c is swapped in.
	 */
	maps.max_backends = maps.next_backend_id;
	route_cfg_destroy(churn, 1);
	churn = cfg = churn_cfg(3, 3);
	ASSERT_TRUE(cfg);
	ASSERT_EQ(publish(id, cfg), 0);
	for (int i = 0; i < 3; i++) {
		__u32 c_id = churn_id(3, i + 1);

		ASSERT_EQ(churn_id(1, i + 1), 0);
		ASSERT_EQ(churn_id(2, i + 1), b_ids[i]);
		ASSERT_TRUE(c_id && c_id < maps.max_backends);
		ASSERT_TRUE(c_id != b_ids[0] && c_id != b_ids[1] &&
			    c_id != b_ids[2]);
		for (int j = 0; j < i; j++)
			ASSERT_TRUE(c_id != churn_id(3, j + 1));
	}
	/* what else that reclaim freed is forgotten: only b's can come back */
	maps.n_free = 0;
	/* the datapath reads c's addresses under the reused ids */
	ASSERT_EQ(run(id, &c, &ctx), TEST_DECIDE_OK);
	ASSERT_TRUE(ctx.has_backend);
	ASSERT_EQ(ntohl(ctx.backend_addr[0]) >> 8, 0x0a0903u);
	/* four new ones with b's three free: ENOSPC, c stays live */
	route_cfg_destroy(churn, 1);
	churn = cfg = churn_cfg(4, 4);
	ASSERT_TRUE(cfg);
	ASSERT_EQ(maps_route_publish(&maps, id, cfg), -ENOSPC);
	churn_live = live = calloc(1, sizeof(*live));
	ASSERT_TRUE(live);
	ASSERT_EQ(maps_route_get(&maps, id, live), 0);
	ASSERT_EQ(live->versions[0].n_backends, 3);
	ASSERT_EQ(ntohl(live->versions[0].backends[0].addr[0]) >> 8, 0x0a0903u);
	/* d's three: b's ids again, c's untouched, no id given twice */
	route_cfg_destroy(churn, 1);
	churn = cfg = churn_cfg(5, 3);
	ASSERT_TRUE(cfg);
	ASSERT_EQ(publish(id, cfg), 0);
	for (int i = 0; i < 3; i++) {
		__u32 d = churn_id(5, i + 1);

		ASSERT_TRUE(d == b_ids[0] || d == b_ids[1] || d == b_ids[2]);
		ASSERT_TRUE(churn_id(3, i + 1) != 0);
		for (int j = 0; j < i; j++)
			ASSERT_TRUE(d != churn_id(5, j + 1));
	}
}

TEST(backend_ids_reclaimed_when_out)
{
	const __u32 id = ROUTE_ID + 2, saved_max = maps.max_backends;

	backend_ids_churn(id);
	maps_route_delete(&maps, id);
	route_cfg_destroy(churn, 1);
	route_cfg_destroy(churn_live, 1);
	churn = churn_live = NULL;
	maps.max_backends = saved_max;
	maps.n_free = 0;
}

/*
 * --max-routes routes, every one in the route index next to the
 * newest-generation entry (the empty name): the index holds twice
 * --max-routes entries (bpf/maps.h); with exactly --max-routes the last
 * route's entry was lost and the next apply found no free route id.
 */
TEST(index_holds_max_routes)
{
	__u32 max = maps.max_routes, *ids = calloc(max, sizeof(*ids));
	const struct steer_route_cfg **pub = calloc(max, sizeof(*pub));
	struct steer_route_cfg *cfgs = calloc(max, sizeof(*cfgs));
	struct steer_route_cfg *one = compile_yaml(Y_SPLIT_100_0, NULL);
	struct maps_index_entry *idx = NULL;
	__u32 *live = NULL;
	int n;

	ASSERT_TRUE(ids && pub && cfgs && one && max > 1);
	n = maps_route_ids(&maps, &live);
	ASSERT_TRUE(n >= 0);
	ASSERT_EQ(maps_route_delete_many(&maps, live, n), 0);
	free(live);
	generation++;
	for (__u32 i = 0; i < max; i++) {
		ASSERT_EQ(route_cfg_copy(&cfgs[i], one), 0);
		snprintf(cfgs[i].name, sizeof(cfgs[i].name), "r%u", i);
		cfgs[i].generation = generation;
		ids[i] = i;
		pub[i] = &cfgs[i];
	}
	n = maps_route_publish_many(&maps, ids, pub, (int)max);
	if (!n)
		n = maps_index_read(&maps, &idx);
	if (n >= 0)
		ASSERT_EQ(n, max);
	ASSERT_EQ(maps_route_find(&maps, "r0", NULL), 0);
	ASSERT_EQ(maps_route_find(&maps, "r1", NULL), 1);
	ASSERT_EQ(maps_generation_max(&maps), generation);
	ASSERT_EQ(maps_route_delete_many(&maps, ids, (int)max), 0);
	free(idx);
	route_cfg_destroy(one, 1);
	route_cfg_destroy(cfgs, (int)max);
	free(pub);
	free(ids);
}

TEST(unknown_route_has_no_config)
{
	struct test_decide_ctx ctx;
	struct client c = { .src = V4, .dport = 80 };

	ASSERT_EQ(run(ROUTE_ID + 100, &c, &ctx), TEST_DECIDE_NO_CFG);
}

TEST(inner_map_is_frozen)
{
	struct steer_route_cfg *cfg = load_yaml(ROUTE_ID, Y_POLICY, NULL);
	__u32 id = ROUTE_ID, inner_id, zero = 0;
	int fd, ret, err;

	ASSERT_TRUE(cfg);
	ret = bpf_map_lookup_elem(maps.routes, &id, &inner_id);
	if (ret) {
		FAIL_AT("outer lookup: %s", strerror(errno));
		route_cfg_destroy(cfg, 1);
		return;
	}
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0) {
		FAIL_AT("inner map %u: %s", inner_id, strerror(errno));
		route_cfg_destroy(cfg, 1);
		return;
	}
	cfg->flags ^= STEER_ROUTE_DEFAULT_DENY;
	ret = bpf_map_update_elem(fd, &zero, cfg, BPF_ANY);
	err = errno;
	close(fd);
	route_cfg_destroy(cfg, 1);
	ASSERT_EQ(ret, -1);
	ASSERT_EQ(err, EPERM);
}

/* ---- wide versions ------------------------------------------------------ */

#define WIDE_N	  1000
#define WIDE_RUNS 8000

/* v1: WIDE_N backends 10.7.x.y:80, weight 2 for every third when
 * @unequal (a backend table: __u16 entries) or all 1 (by index). */
static char *wide_yaml(bool unequal)
{
	size_t len = 256 + WIDE_N * 48, off;
	char *y = malloc(len);

	if (!y)
		return NULL;
	off = (size_t)snprintf(y, len,
			       "kind: Route\nname: wide\n"
			       "frontends: [10.96.0.40:80]\n"
			       "versions:\n  v1:\n    backends:\n");
	for (int i = 0; i < WIDE_N; i++)
		off += (size_t)snprintf(y + off, len - off,
					"      - {address: 10.7.%d.%d:80, "
					"weight: %d}\n",
					i / 250, i % 250 + 1,
					unequal && i % 3 == 0 ? 2 : 1);
	snprintf(y + off, len - off,
		 "rules:\n  - name: default\n    split: {v1: 100}\n");
	return y;
}

/*
 * A version of 1,000 backends, by index and by table: the decision
 * reaches backends past index 255 (the old __u8 limit), its address is
 * the one the config lists at that index, and it spreads over nearly all.
 */
static void wide_spread(bool unequal)
{
	const __u32 id = ROUTE_ID + 3;
	struct client c = { .src = V4, .dport = 80 };
	char *y = wide_yaml(unequal);
	struct steer_route_cfg *cfg = y ? load_yaml(id, y, NULL) : NULL;
	unsigned char hit[WIDE_N] = { 0 };
	struct test_decide_ctx ctx;
	int distinct = 0, max_idx = 0;

	free(y);
	ASSERT_TRUE(cfg);
	ASSERT_EQ(cfg->versions[0].n_backends, WIDE_N);
	ASSERT_EQ(compile_needs_table(cfg, &cfg->versions[0], STEER_FAM_INET),
		  unequal);
	for (int n = 0; n < WIDE_RUNS; n++) {
		const struct steer_backend *b;

		c.key = (__u64)n * 0x9e3779b97f4a7c15ull;
		if (run(id, &c, &ctx) != TEST_DECIDE_OK ||
		    ctx.verdict != STEER_VERDICT_STEER || !ctx.has_backend ||
		    ctx.backend_idx >= WIDE_N) {
			FAIL_AT("run %d: verdict %s, backend %u", n,
				verdict_str(ctx.verdict), ctx.backend_idx);
			break;
		}
		b = &cfg->versions[0].backends[ctx.backend_idx];
		if (memcmp(ctx.backend_addr, b->addr, 4)) {
			FAIL_AT("run %d: backend %u has another address", n,
				ctx.backend_idx);
			break;
		}
		distinct += !hit[ctx.backend_idx]++;
		if (ctx.backend_idx > max_idx)
			max_idx = ctx.backend_idx;
	}
	maps_route_delete(&maps, id);
	route_cfg_destroy(cfg, 1);
	ASSERT_TRUE(max_idx > 900);
	ASSERT_TRUE(distinct > 900);
}

TEST(wide_version_by_index)
{
	wide_spread(false);
}

TEST(wide_version_by_table)
{
	wide_spread(true);
}

/* ---- setup ------------------------------------------------------------ */

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("STEER_TEST_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void cleanup(void)
{
	char path[PATH_MAX];

	if (skel)
		steer_test_decide__destroy(skel);
	skel = NULL;
	for (int i = (int)(sizeof(cg_dirs) / sizeof(*cg_dirs)) - 1; i >= 0;
	     i--) {
		snprintf(path, sizeof(path), "%s/%s", cgroot, cg_dirs[i]);
		rmdir(path);
	}
	rmdir(cgroot);
	rmdir(tmpdir);
}

static int setup(void)
{
	char path[PATH_MAX];

	if (!mkdtemp(tmpdir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	atexit(cleanup);
	snprintf(cgroot, sizeof(cgroot), "%s/cg", tmpdir);
	if (mkdir(cgroot, 0755))
		return -1;
	for (size_t i = 0; i < sizeof(cg_dirs) / sizeof(*cg_dirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", cgroot, cg_dirs[i]);
		if (mkdir(path, 0755)) {
			fprintf(stderr, "mkdir %s: %s\n", path,
				strerror(errno));
			return -1;
		}
	}

	skel = steer_test_decide__open_and_load();
	if (!skel) {
		fprintf(stderr, "failed to load test_decide.bpf.o: %s\n",
			strerror(errno));
		return -1;
	}
	prog_fd = bpf_program__fd(skel->progs.test_decide);
	maps_from_object(skel->obj, &maps);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_quiet);
	if (setup()) {
		/* the runner needs a summary line even when nothing ran */
		printf("0 passed, 1 failed\n");
		return 1;
	}
	return test_main(argc, argv);
}
