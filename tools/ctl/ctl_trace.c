// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl trace: live connection decisions from the steer_events_v2 ring
 * buffer. The datapath writes events only while the lease in
 * steer_trace_v1 runs; this command holds it (3 s, renewed every second)
 * and clears it when it ends, so nobody tracing costs the datapath a
 * compare, and a tracer killed with -9 stops the events within 3 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "addr.h"
#include "ctl.h"
#include "stats.h"
#include "sysfs.h"

#define RENEW_NS    1000000000ULL
#define CG_CACHE    64
#define ROUTE_CACHE 16
#define MAX_CG_WALK 200000

struct tracer {
	const struct ctl *c;
	struct steer_maps m;
	const char *only; /* route name or NULL */
	long count, seen;
	__u64 start_ns;	     /* events older than this are an earlier run's */
	double mono_to_real; /* CLOCK_REALTIME - CLOCK_MONOTONIC, seconds */
	char cg_root[512];
	struct {
		__u64 id;
		char path[256];
	} cg[CG_CACHE];
	int n_cg;
	struct {
		__u32 id;
		bool valid;
		struct steer_route_cfg *cfg;
	} routes[ROUTE_CACHE];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int lease_set(const struct steer_maps *m, __u64 until)
{
	struct steer_trace_ctl t = { .until_ns = until };
	__u32 zero = 0;

	return bpf_map_update_elem(m->trace, &zero, &t, BPF_ANY) ? -errno : 0;
}

/* Clear the lease unless another tracer renewed it since our last write. */
static void lease_end(const struct steer_maps *m, __u64 ours)
{
	struct steer_trace_ctl t;
	__u32 zero = 0;

	if (!bpf_map_lookup_elem(m->trace, &zero, &t) && t.until_ns == ours)
		lease_set(m, 0);
}

/* The cgroup path of @id below the cgroup2 mount, found by walking it
 * once per new id (cached); "" when not found. */
static __u64 walk_id;
static char walk_path[256];
static long walk_left;
static size_t walk_root_len;

static int walk_cb(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_D || --walk_left < 0)
		return walk_left < 0;
	if ((__u64)st->st_ino == walk_id) {
		snprintf(walk_path, sizeof(walk_path), "%s",
			 path[walk_root_len] ? path + walk_root_len : "/");
		return 1;
	}
	return 0;
}

static const char *cgroup_path(struct tracer *t, __u64 id)
{
	int slot;

	if (!id || !t->cg_root[0])
		return "";
	for (int i = 0; i < t->n_cg && i < CG_CACHE; i++)
		if (t->cg[i].id == id)
			return t->cg[i].path;
	walk_id = id;
	walk_path[0] = '\0';
	walk_left = MAX_CG_WALK;
	walk_root_len = strlen(t->cg_root);
	nftw(t->cg_root, walk_cb, 16, FTW_PHYS);
	slot = t->n_cg++ % CG_CACHE;
	t->cg[slot].id = id;
	snprintf(t->cg[slot].path, sizeof(t->cg[slot].path), "%s", walk_path);
	return t->cg[slot].path;
}

/* The config of route @id, re-read when the event's generation is newer. */
static const struct steer_route_cfg *route_of(struct tracer *t, __u32 id,
					      __u64 generation)
{
	int slot = (int)(id % ROUTE_CACHE);

	if (!t->routes[slot].cfg) {
		t->routes[slot].cfg = calloc(1, sizeof(struct steer_route_cfg));
		if (!t->routes[slot].cfg)
			return NULL;
	}
	if (!t->routes[slot].valid || t->routes[slot].id != id ||
	    t->routes[slot].cfg->generation != generation)
		t->routes[slot].valid =
			!maps_route_get(&t->m, id, t->routes[slot].cfg);
	t->routes[slot].id = id;
	return t->routes[slot].valid ? t->routes[slot].cfg : NULL;
}

static const char *verdict_name(__u8 v)
{
	switch (v) {
	case STEER_VERDICT_STEER:
		return "steered";
	case STEER_VERDICT_DENY:
		return "denied";
	default:
		return "no_route";
	}
}

static const char *addr_str(char *buf, size_t len, const __u32 a[4],
			    __u8 family, __be16 port)
{
	static const __u32 zero[4];

	if (!memcmp(a, zero, sizeof(zero)))
		snprintf(buf, len, "-");
	else
		addr_format(buf, len, family, a, ntohs(port));
	return buf;
}

/* One event as text: every field that the two output forms print. */
struct trace_line {
	const char *route, *rule, *version, *layer, *proto;
	char client[ADDR_STR_MAX], fe[ADDR_STR_MAX], be[ADDR_STR_MAX];
	char when[40], frac[16]; /* "2024-05-01T12:00:00", ".123456Z" */
};

/* The names and addresses of event @e, "-" where it has none. */
static void describe(struct tracer *t, const struct steer_event *e,
		     const struct steer_route_cfg *cfg, struct trace_line *l)
{
	double real;
	time_t secs;

	l->route = l->rule = l->version = "-";
	if (cfg) {
		l->route = cfg->name;
		if (e->rule < cfg->n_rules && e->rule < STEER_MAX_RULES)
			l->rule = cfg->rules[e->rule].name;
		if (e->version < cfg->n_versions &&
		    e->version < STEER_MAX_VERSIONS)
			l->version = cfg->versions[e->version].name;
	}
	l->layer = e->layer < STEER_LAYER_COUNT ? stats_layer_names[e->layer]
						: "?";
	l->proto = e->proto == STEER_PROTO_UDP ? "udp" : "tcp";
	addr_str(l->client, sizeof(l->client), e->saddr, e->family, e->sport);
	addr_format(l->fe, sizeof(l->fe), e->family, e->daddr, ntohs(e->dport));
	if (e->verdict == STEER_VERDICT_STEER)
		addr_format(l->be, sizeof(l->be), e->family, e->baddr,
			    ntohs(e->bport));
	else
		snprintf(l->be, sizeof(l->be), "-");
	real = t->mono_to_real + e->ts_ns / 1e9;
	secs = (time_t)real;
	strftime(l->when, sizeof(l->when), "%Y-%m-%dT%H:%M:%S", gmtime(&secs));
	snprintf(l->frac, sizeof(l->frac), ".%06ldZ",
		 (long)((real - (double)secs) * 1e6));
}

/* @s as a JSON string, or null for "-". */
static struct json_object *str_or_null(const char *s)
{
	return strcmp(s, "-") ? json_object_new_string(s) : NULL;
}

static void print_json(struct tracer *t, const struct steer_event *e,
		       const struct trace_line *l)
{
	struct json_object *o = json_object_new_object();
	struct json_object *cl = json_object_new_object();
	char time[sizeof(l->when) + sizeof(l->frac)];

	snprintf(time, sizeof(time), "%s%s", l->when, l->frac);
	json_object_object_add(o, "time", json_object_new_string(time));
	json_object_object_add(o, "layer", json_object_new_string(l->layer));
	json_object_object_add(
		o, "verdict", json_object_new_string(verdict_name(e->verdict)));
	json_object_object_add(
		o, "reason",
		json_object_new_string(stats_reason_name(e->reason)));
	json_object_object_add(cl, "address", str_or_null(l->client));
	json_object_object_add(cl, "cgroup_id",
			       json_object_new_uint64(e->cgroup_id));
	json_object_object_add(
		cl, "cgroup",
		json_object_new_string(cgroup_path(t, e->cgroup_id)));
	json_object_object_add(cl, "uid", json_object_new_int64(e->uid));
	json_object_object_add(cl, "pid", json_object_new_int64(e->pid));
	json_object_object_add(o, "client", cl);
	json_object_object_add(o, "frontend", json_object_new_string(l->fe));
	json_object_object_add(o, "proto", json_object_new_string(l->proto));
	json_object_object_add(o, "route", json_object_new_string(l->route));
	json_object_object_add(o, "rule", str_or_null(l->rule));
	json_object_object_add(o, "version", str_or_null(l->version));
	json_object_object_add(o, "backend", str_or_null(l->be));
	json_object_object_add(o, "generation",
			       json_object_new_uint64(e->generation));
	printf("%s\n", json_object_to_json_string_ext(
			       o, JSON_C_TO_STRING_PLAIN |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct tracer *t = ctx;
	const struct steer_event *e = data;
	const struct steer_route_cfg *cfg;
	struct trace_line l;

	if (size < sizeof(*e) || e->ts_ns < t->start_ns)
		return 0;
	cfg = route_of(t, e->route_id, e->generation);
	if (t->only && (!cfg || strcmp(t->only, cfg->name)))
		return 0;
	describe(t, e, cfg, &l);
	if (t->c->json)
		print_json(t, e, &l);
	else
		printf("%s%.4s %s %-8s client=%s uid=%u cgroup=%s "
		       "frontend=%s/%s route=%s rule=%s version=%s "
		       "backend=%s\n",
		       l.when + 11, l.frac, l.layer, verdict_name(e->verdict),
		       l.client, e->uid,
		       e->cgroup_id ? cgroup_path(t, e->cgroup_id) : "-", l.fe,
		       l.proto, l.route, l.rule, l.version, l.be);
	fflush(stdout);
	if (t->count && ++t->seen >= t->count)
		stop = 1;
	return 0;
}

/* [--count N] [ROUTE] into @t. */
static int parse_trace_args(struct ctl *c, int argc, char **argv,
			    struct tracer *t)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ 0 },
	};
	char *end;
	int opt;

	optind = 0; /* reset GNU getopt: main() used it */
	while ((opt = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		if (opt != 'n')
			return ctl_error(c, CTL_USAGE,
					 "trace: see 'steerctl help trace'");
		t->count = strtol(optarg, &end, 10);
		if (*end || t->count < 1)
			return ctl_error(c, CTL_USAGE,
					 "trace: --count: '%s' is not a "
					 "positive number",
					 optarg);
	}
	if (optind < argc)
		t->only = argv[optind++];
	if (optind < argc)
		return ctl_error(c, CTL_USAGE, "trace: too many arguments");
	return CTL_OK;
}

/*
 * Print events until a signal or --count stops it, renewing the lease
 * every RENEW_NS (@until: when the lease in force ends). CTL_OK or the
 * error, reported.
 */
static int trace_loop(struct ctl *c, struct tracer *t, struct ring_buffer *rb,
		      __u64 *until)
{
	__u64 now, next_renew = t->start_ns + RENEW_NS;
	int ret;

	fprintf(stderr, "steerctl: tracing %s%s (Ctrl-C stops)\n",
		t->only ? "route " : "all routes", t->only ? t->only : "");
	while (!stop) {
		ret = ring_buffer__poll(rb, 200);
		if (ret < 0 && ret != -EINTR)
			return ctl_error(c, CTL_ERR, "reading events: %s",
					 strerror(-ret));
		now = mono_ns();
		if (now >= next_renew && !stop) {
			*until = now + STEER_TRACE_LEASE_NS;
			lease_set(&t->m, *until);
			next_renew = now + RENEW_NS;
		}
	}
	ring_buffer__consume(rb); /* what the datapath wrote before we stop */
	return CTL_OK;
}

static int run_trace(struct ctl *c, int argc, char **argv)
{
	struct tracer t = { .c = c };
	struct sigaction sa = { .sa_handler = on_signal };
	struct ring_buffer *rb = NULL;
	struct timespec mono, real;
	__u64 until = 0;
	int ret;

	ret = parse_trace_args(c, argc, argv, &t);
	if (ret)
		return ret;
	ret = ctl_open_maps(c, &t.m, MAPS_ALL);
	if (ret)
		return ret;
	if (t.only && maps_route_find(&t.m, t.only, NULL) < 0) {
		ret = ctl_error(c, CTL_ERR, "no route named '%s'", t.only);
		goto out;
	}
	if (sysfs_cgroup2_root(t.cg_root, sizeof(t.cg_root)))
		t.cg_root[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	t.mono_to_real = (real.tv_sec - mono.tv_sec) +
			 (real.tv_nsec - mono.tv_nsec) / 1e9;
	rb = ring_buffer__new(t.m.events, on_event, &t, NULL);
	if (!rb) {
		ret = ctl_error(c, CTL_ERR, "cannot read the event ring: %s",
				strerror(errno));
		goto out;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	t.start_ns = mono_ns();
	until = t.start_ns + STEER_TRACE_LEASE_NS;
	ret = lease_set(&t.m, until);
	if (ret) {
		ret = ctl_error(c, CTL_ERR, "cannot start tracing: %s",
				strerror(-ret));
		goto out;
	}
	ret = trace_loop(c, &t, rb, &until);
out:
	if (until)
		lease_end(&t.m, until);
	ring_buffer__free(rb);
	for (int i = 0; i < ROUTE_CACHE; i++)
		route_cfg_destroy(t.routes[i].cfg, 1);
	maps_close(&t.m);
	return ret;
}

const struct ctl_cmd ctl_cmd_trace = {
	.name = "trace",
	.run = run_trace,
	.summary = "live connection decisions (who, rule, version, backend, "
		   "verdict)",
	.help = "Usage: steerctl trace [ROUTE] [--count N]\n"
		"Print every connection decision of every route (or ROUTE) "
		"as it\n"
		"happens, one line each: time, layer, verdict (steered, "
		"denied,\n"
		"no_route), client address (- at the socket layer when the "
		"socket\n"
		"is not bound yet), uid and cgroup, frontend, route, rule, "
		"version\n"
		"and backend. -o json prints one JSON object per line "
		"instead.\n"
		"Runs until Ctrl-C (or N events with --count).\n"
		"\n"
		"The datapath writes events only while a tracer holds a 3 s "
		"lease\n"
		"that this command renews every second; when it ends the lease "
		"is\n"
		"cleared, and a tracer killed with -9 stops the events within "
		"3 s.\n"
		"Without a tracer the datapath's tracing work is one array "
		"lookup\n"
		"and a compare. Events that find the ring buffer full are "
		"lost\n"
		"(never the connection). Run one tracer per pin directory at "
		"a\n"
		"time: tracers share one ring buffer.\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl trace\n"
		"  steerctl trace reviews\n"
		"  steerctl -o json trace reviews | jq 'select(.verdict != "
		"\"steered\")'\n",
};
