// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl stats: counters per route, version and backend; with --watch,
 * rates per second too, redrawn every interval until interrupted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "addr.h"
#include "ctl.h"
#include "stats.h"

/* Counters of one backend or version, over both layers or one. */
struct counts {
	__u64 conns, established, failed, closed, active;
	__u64 bytes_sent, bytes_recv, packets_sent, packets_recv;
};

/* One frame: every route shown, read at @when. */
struct frame {
	double when; /* CLOCK_MONOTONIC seconds */
	int n;
	struct stats_route **routes;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void add(struct counts *c, const struct steer_backend_stats *s)
{
	c->conns += s->connections;
	c->established += s->established;
	c->failed += s->failed;
	c->closed += s->closed;
	c->active += stats_active(s);
	c->bytes_sent += s->bytes_to;
	c->bytes_recv += s->bytes_from;
	c->packets_sent += s->packets_to;
	c->packets_recv += s->packets_from;
}

static void backend_counts(const struct stats_route *rs, int v, int b,
			   struct counts *c)
{
	memset(c, 0, sizeof(*c));
	for (int l = 0; l < STEER_LAYER_COUNT; l++)
		add(c, &rs->be[v][b][l]);
}

static void version_counts(const struct stats_route *rs, int v,
			   struct counts *c)
{
	memset(c, 0, sizeof(*c));
	for (int b = 0; b < rs->cfg.versions[v].n_backends; b++)
		for (int l = 0; l < STEER_LAYER_COUNT; l++)
			add(c, &rs->be[v][b][l]);
}

static __u64 route_conns(const struct stats_route *rs)
{
	struct counts c;
	__u64 n = 0;

	for (int v = 0; v < rs->cfg.n_versions && v < STEER_MAX_VERSIONS; v++) {
		version_counts(rs, v, &c);
		n += c.conns;
	}
	return n;
}

static void frame_free(struct frame *f)
{
	for (int i = 0; i < f->n; i++)
		stats_route_free(f->routes[i]);
	free(f->routes);
	memset(f, 0, sizeof(*f));
}

/* Read every route (or @only) into @f. 0, -ENOENT for no such route. */
static int frame_read(const struct steer_maps *m, const char *only,
		      struct frame *f)
{
	struct timespec ts;
	__u32 *ids;
	int n;

	memset(f, 0, sizeof(*f));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	f->when = ts.tv_sec + ts.tv_nsec / 1e9;
	n = maps_route_ids(m, &ids);
	if (n < 0)
		return n;
	f->routes = calloc(n ? n : 1, sizeof(*f->routes));
	if (!f->routes) {
		free(ids);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct stats_route *rs = malloc(sizeof(*rs));

		if (!rs) {
			free(ids);
			frame_free(f);
			return -ENOMEM;
		}
		if (stats_read_route(m, ids[i], rs) ||
		    (only && strcmp(only, rs->cfg.name))) {
			stats_route_free(rs);
			continue;
		}
		f->routes[f->n++] = rs;
	}
	free(ids);
	return only && !f->n ? -ENOENT : 0;
}

static const struct stats_route *find_route(const struct frame *f,
					    const char *name)
{
	for (int i = 0; f && i < f->n; i++)
		if (!strcmp(f->routes[i]->cfg.name, name))
			return f->routes[i];
	return NULL;
}

static int find_version(const struct stats_route *rs, const char *name)
{
	for (int v = 0; rs && v < rs->cfg.n_versions && v < STEER_MAX_VERSIONS;
	     v++)
		if (!strcmp(rs->cfg.versions[v].name, name))
			return v;
	return -1;
}

static int find_backend(const struct stats_route *rs, int v,
			const struct steer_backend *be)
{
	const struct steer_version *ver = &rs->cfg.versions[v];

	for (int b = 0; b < ver->n_backends && b < ROUTE_MAX_BACKENDS; b++)
		if (!memcmp(ver->backends[b].addr, be->addr,
			    sizeof(be->addr)) &&
		    ver->backends[b].port == be->port &&
		    ver->backends[b].family == be->family)
			return b;
	return -1;
}

static double ratio(__u64 num, __u64 den)
{
	return den ? (double)num / (double)den : 0.0;
}

/* Per-second rates between @prev and @cur (zeros when @prev is NULL). */
struct rates {
	double conns, failed, bytes_sent, bytes_recv;
	double failure_rate; /* failed / connections over the interval */
	__u64 d_conns;
};

static void rates_of(const struct counts *cur, const struct counts *prev,
		     double secs, struct rates *r)
{
	memset(r, 0, sizeof(*r));
	if (!prev || secs <= 0 || cur->conns < prev->conns)
		return; /* counters were reset (route re-created): no rate */
	r->d_conns = cur->conns - prev->conns;
	r->conns = r->d_conns / secs;
	r->failed = (cur->failed - prev->failed) / secs;
	r->bytes_sent = (cur->bytes_sent - prev->bytes_sent) / secs;
	r->bytes_recv = (cur->bytes_recv - prev->bytes_recv) / secs;
	r->failure_rate = ratio(cur->failed - prev->failed, r->d_conns);
}

static struct json_object *counts_json(const struct counts *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "connections",
			       json_object_new_uint64(c->conns));
	json_object_object_add(o, "established",
			       json_object_new_uint64(c->established));
	json_object_object_add(o, "failed", json_object_new_uint64(c->failed));
	json_object_object_add(o, "closed", json_object_new_uint64(c->closed));
	json_object_object_add(o, "active", json_object_new_uint64(c->active));
	json_object_object_add(o, "bytes_sent",
			       json_object_new_uint64(c->bytes_sent));
	json_object_object_add(o, "bytes_received",
			       json_object_new_uint64(c->bytes_recv));
	json_object_object_add(o, "packets_sent",
			       json_object_new_uint64(c->packets_sent));
	json_object_object_add(o, "packets_received",
			       json_object_new_uint64(c->packets_recv));
	json_object_object_add(
		o, "failure_rate",
		json_object_new_double(ratio(c->failed, c->conns)));
	return o;
}

static struct json_object *rates_json(const struct rates *r, double share)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "connections_per_second",
			       json_object_new_double(r->conns));
	json_object_object_add(o, "failed_per_second",
			       json_object_new_double(r->failed));
	json_object_object_add(o, "bytes_sent_per_second",
			       json_object_new_double(r->bytes_sent));
	json_object_object_add(o, "bytes_received_per_second",
			       json_object_new_double(r->bytes_recv));
	json_object_object_add(o, "failure_rate",
			       json_object_new_double(r->failure_rate));
	if (share >= 0)
		json_object_object_add(o, "share",
				       json_object_new_double(share));
	return o;
}

static struct json_object *by_layer(const __u64 v[STEER_LAYER_COUNT])
{
	struct json_object *o = json_object_new_object();

	for (int l = 0; l < STEER_LAYER_COUNT; l++)
		json_object_object_add(o, stats_layer_names[l],
				       json_object_new_uint64(v[l]));
	return o;
}

static struct json_object *backend_json(const struct stats_route *rs, int v,
					int b, const struct stats_route *prev,
					double secs)
{
	const struct steer_backend *be = &rs->cfg.versions[v].backends[b];
	struct json_object *o, *layers = json_object_new_object();
	struct counts c, pc;
	struct rates r;
	char name[ADDR_STR_MAX];

	backend_counts(rs, v, b, &c);
	o = counts_json(&c);
	addr_format(name, sizeof(name), be->family, be->addr, ntohs(be->port));
	json_object_object_add(o, "address", json_object_new_string(name));
	json_object_object_add(
		o, "ejected",
		json_object_new_boolean(
			be->flags & STEER_BACKEND_EJECTED ||
			rs->now_ns < rs->health[v][b].ejected_until_ns));
	json_object_object_add(
		o, "ejections",
		json_object_new_uint64(rs->health[v][b].ejections));
	json_object_object_add(
		o, "ejected_for_ms",
		json_object_new_uint64(
			rs->now_ns < rs->health[v][b].ejected_until_ns
				? (rs->health[v][b].ejected_until_ns -
				   rs->now_ns) /
					  1000000
				: 0));
	json_object_object_add(
		o, "overflow",
		json_object_new_uint64(rs->health[v][b].overflow));
	for (int l = 0; l < STEER_LAYER_COUNT; l++) {
		struct counts lc = { 0 };

		add(&lc, &rs->be[v][b][l]);
		json_object_object_add(layers, stats_layer_names[l],
				       counts_json(&lc));
	}
	json_object_object_add(o, "layers", layers);
	if (secs > 0) {
		int pv = find_version(prev, rs->cfg.versions[v].name);
		int pb = pv < 0 ? -1 : find_backend(prev, pv, be);

		if (pb >= 0)
			backend_counts(prev, pv, pb, &pc);
		rates_of(&c, pb >= 0 ? &pc : NULL, secs, &r);
		json_object_object_add(o, "rates", rates_json(&r, -1));
	}
	return o;
}

static struct json_object *route_json(const struct stats_route *rs,
				      const struct stats_route *prev,
				      double secs)
{
	const struct steer_route_cfg *cfg = &rs->cfg;
	struct json_object *o = json_object_new_object(), *a;
	__u64 total = route_conns(rs), dtotal = 0;
	struct counts c, pc;
	struct rates r;

	if (secs > 0 && prev && route_conns(prev) <= total)
		dtotal = total - route_conns(prev);
	json_object_object_add(o, "name", json_object_new_string(cfg->name));
	json_object_object_add(o, "id", json_object_new_int64(rs->id));
	json_object_object_add(o, "generation",
			       json_object_new_uint64(cfg->generation));
	json_object_object_add(o, "connections", json_object_new_uint64(total));
	json_object_object_add(o, "denied", by_layer(rs->denied));
	json_object_object_add(o, "no_route", by_layer(rs->noroute));

	a = json_object_new_array();
	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		struct json_object *ro = json_object_new_object();
		struct json_object *vo = json_object_new_object();

		json_object_object_add(
			ro, "name", json_object_new_string(cfg->rules[r].name));
		for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS;
		     v++)
			json_object_object_add(vo, cfg->versions[v].name,
					       by_layer(rs->conns[r][v]));
		json_object_object_add(ro, "connections", vo);
		json_object_array_add(a, ro);
	}
	json_object_object_add(o, "rules", a);

	a = json_object_new_array();
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_rtt *h = &rs->rtt[v];
		struct json_object *vo, *ro, *bs = json_object_new_array();

		version_counts(rs, v, &c);
		vo = counts_json(&c);
		json_object_object_add(
			vo, "name",
			json_object_new_string(cfg->versions[v].name));
		json_object_object_add(
			vo, "share",
			json_object_new_double(ratio(c.conns, total)));
		ro = json_object_new_object();
		json_object_object_add(ro, "count",
				       json_object_new_uint64(h->count));
		json_object_object_add(ro, "sum_seconds",
				       json_object_new_double(h->sum_ns / 1e9));
		json_object_object_add(
			ro, "mean_seconds",
			json_object_new_double(
				h->count ? h->sum_ns / 1e9 / h->count : 0));
		json_object_object_add(vo, "connect_rtt", ro);
		if (secs > 0) {
			int pv = find_version(prev, cfg->versions[v].name);

			if (pv >= 0)
				version_counts(prev, pv, &pc);
			rates_of(&c, pv >= 0 ? &pc : NULL, secs, &r);
			json_object_object_add(
				vo, "rates",
				rates_json(&r, ratio(r.d_conns, dtotal)));
		}
		for (int b = 0;
		     b < cfg->versions[v].n_backends && b < ROUTE_MAX_BACKENDS;
		     b++)
			json_object_array_add(
				bs, backend_json(rs, v, b, prev, secs));
		json_object_object_add(vo, "backends", bs);
		json_object_array_add(a, vo);
	}
	json_object_object_add(o, "versions", a);
	return o;
}

/* "12.3k" for counts and bytes in narrow columns. */
static const char *human(char *buf, size_t len, double v)
{
	static const char units[] = " kMGTP";
	int u = 0;

	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	if (!u)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

static void bar(char *buf, size_t len, double share, int width)
{
	int n = (int)(share * width + 0.5), i = 0;

	for (; i < width && (size_t)i + 1 < len; i++)
		buf[i] = i < n ? '#' : '.';
	buf[i] = '\0';
}

static void row(const char *name, const struct counts *c, const struct rates *r,
		double share, double rtt, bool watch)
{
	char a[16], b[16], d[16], e[16], f[16], bs[24];

	bar(bs, sizeof(bs), share, 20);
	printf("  %-24s %7s %7s %6s %6.1f%% %6s %6s", name,
	       human(a, sizeof(a), (double)c->conns),
	       human(b, sizeof(b), (double)c->failed),
	       human(d, sizeof(d), (double)c->active),
	       100.0 * (watch ? r->failure_rate : ratio(c->failed, c->conns)),
	       human(e, sizeof(e), (double)c->bytes_sent),
	       human(f, sizeof(f), (double)c->bytes_recv));
	if (rtt >= 0)
		printf(" %8.3fms", rtt * 1e3);
	else
		printf(" %10s", "");
	if (watch)
		printf(" %8.1f/s %s %5.1f%%", r->conns, bs, 100.0 * share);
	else
		printf(" %s %5.1f%%", bs, 100.0 * share);
	printf("\n");
}

static void route_text(const struct stats_route *rs,
		       const struct stats_route *prev, double secs)
{
	const struct steer_route_cfg *cfg = &rs->cfg;
	__u64 total = route_conns(rs), dtotal = 0;
	bool watch = secs > 0;
	struct counts c, pc;
	struct rates r;
	char name[64], addr[ADDR_STR_MAX];

	if (watch && prev && route_conns(prev) <= total)
		dtotal = total - route_conns(prev);
	printf("route %s  (generation %llu)  %llu connections, refused: %llu "
	       "denied, %llu no route\n",
	       cfg->name, (unsigned long long)cfg->generation,
	       (unsigned long long)total,
	       (unsigned long long)(rs->denied[0] + rs->denied[1]),
	       (unsigned long long)(rs->noroute[0] + rs->noroute[1]));
	printf("  %-24s %7s %7s %6s %7s %6s %6s %10s %s\n", "VERSION / BACKEND",
	       "CONNS", "FAILED", "ACTIVE", "FAIL%", "TX", "RX", "RTT(avg)",
	       watch ? "    RATE   SHARE (interval)" : "SHARE");
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *ver = &cfg->versions[v];
		const struct steer_rtt *h = &rs->rtt[v];
		int pv = find_version(prev, ver->name);

		version_counts(rs, v, &c);
		if (pv >= 0)
			version_counts(prev, pv, &pc);
		rates_of(&c, pv >= 0 ? &pc : NULL, secs, &r);
		row(ver->name, &c, &r,
		    watch ? ratio(r.d_conns, dtotal) : ratio(c.conns, total),
		    h->count ? h->sum_ns / 1e9 / h->count : -1, watch);
		for (int b = 0; b < ver->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++) {
			int pb = pv < 0 ? -1
					: find_backend(prev, pv,
						       &ver->backends[b]);

			backend_counts(rs, v, b, &c);
			if (pb >= 0)
				backend_counts(prev, pv, pb, &pc);
			rates_of(&c, pb >= 0 ? &pc : NULL, secs, &r);
			const struct steer_backend *be = &ver->backends[b];

			addr_format(addr, sizeof(addr), be->family, be->addr,
				    ntohs(be->port));
			snprintf(
				name, sizeof(name), "  %s%s", addr,
				be->flags & STEER_BACKEND_EJECTED ||
						rs->now_ns <
							rs->health[v][b]
								.ejected_until_ns
					? " (ej)"
					: "");
			row(name, &c, &r,
			    watch ? ratio(r.d_conns, dtotal)
				  : ratio(c.conns, total),
			    -1, watch);
		}
	}
}

static void show(const struct ctl *c, const struct frame *f,
		 const struct frame *prev, double interval)
{
	double secs = prev ? f->when - prev->when : 0;

	if (c->json) {
		struct json_object *doc = json_object_new_object();
		struct json_object *arr = json_object_new_array();

		json_object_object_add(doc, "bpffs",
				       json_object_new_string(c->bpffs));
		json_object_object_add(
			doc, "time",
			json_object_new_double((double)time(NULL)));
		if (prev)
			json_object_object_add(doc, "interval_s",
					       json_object_new_double(secs));
		for (int i = 0; i < f->n; i++)
			json_object_array_add(
				arr,
				route_json(f->routes[i],
					   find_route(prev,
						      f->routes[i]->cfg.name),
					   secs));
		json_object_object_add(doc, "routes", arr);
		if (prev) /* --watch: one compact document per line */
			printf("%s\n",
			       json_object_to_json_string_ext(
				       doc,
				       JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			ctl_print_json(doc);
		if (prev)
			json_object_put(doc);
		fflush(stdout);
		return;
	}
	if (prev) {
		char when[32];
		time_t now = time(NULL);

		strftime(when, sizeof(when), "%H:%M:%S", localtime(&now));
		if (isatty(STDOUT_FILENO))
			printf("\033[H\033[J");
		printf("steerctl stats  %s  every %.1fs (Ctrl-C stops)\n", when,
		       interval);
	}
	for (int i = 0; i < f->n; i++)
		route_text(f->routes[i],
			   find_route(prev, f->routes[i]->cfg.name), secs);
	if (!f->n)
		printf("no routes\n");
	fflush(stdout);
}

/* Sleep @secs, or less when a signal asks us to stop. */
static void nap(double secs)
{
	struct timespec ts = { .tv_sec = (time_t)secs,
			       .tv_nsec = (long)((secs - (time_t)secs) * 1e9) };

	while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

struct stats_args {
	const char *only; /* ROUTE or NULL */
	double interval;  /* seconds between redraws */
	long count;	  /* redraws; 0 until Ctrl-C */
	bool watch;
};

static int parse_stats_args(struct ctl *c, int argc, char **argv,
			    struct stats_args *a)
{
	static const struct option opts[] = {
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ 0 },
	};
	char *end;
	int opt;

	*a = (struct stats_args){ .interval = 1.0 };
	optind = 0; /* reset GNU getopt: main() used it */
	while ((opt = getopt_long(argc, argv, "wi:n:", opts, NULL)) != -1) {
		switch (opt) {
		case 'w':
			a->watch = true;
			break;
		case 'i':
			a->interval = strtod(optarg, &end);
			if (*end ||
			    !(a->interval >= 0.1 && a->interval <= 3600))
				return ctl_error(c, CTL_USAGE,
						 "stats: --interval: '%s' is "
						 "not 0.1 to 3600 seconds",
						 optarg);
			break;
		case 'n':
			a->count = strtol(optarg, &end, 10);
			if (*end || a->count < 1)
				return ctl_error(c, CTL_USAGE,
						 "stats: --count: '%s' is not "
						 "a positive number",
						 optarg);
			break;
		default:
			return ctl_error(c, CTL_USAGE,
					 "stats: see 'steerctl help stats'");
		}
	}
	if (optind < argc)
		a->only = argv[optind++];
	if (optind < argc)
		return ctl_error(c, CTL_USAGE, "stats: too many arguments");
	if (!a->watch && a->count)
		return ctl_error(c, CTL_USAGE, "stats: --count needs --watch");
	return CTL_OK;
}

/*
 * --watch: read and show a frame every interval until a signal or
 * --count stops it; @cur holds the first frame and @prev is empty.
 * CTL_OK or the error, reported.
 */
static int watch(struct ctl *c, const struct steer_maps *m,
		 const struct stats_args *a, struct frame *cur,
		 struct frame *prev)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (long i = 0; !stop && (!a->count || i < a->count); i++) {
		nap(a->interval);
		if (stop)
			break;
		frame_free(prev);
		*prev = *cur;
		ret = frame_read(m, a->only, cur);
		if (ret && ret != -ENOENT)
			return ctl_error(c, CTL_ERR, "cannot read counters: %s",
					 strerror(-ret));
		show(c, cur, prev, a->interval);
	}
	return CTL_OK;
}

static int run_stats(struct ctl *c, int argc, char **argv)
{
	struct frame cur = { 0 }, prev = { 0 };
	struct stats_args a;
	struct steer_maps m;
	int ret;

	ret = parse_stats_args(c, argc, argv, &a);
	if (ret)
		return ret;
	ret = ctl_open_maps(c, &m, MAPS_ALL);
	if (ret)
		return ret;
	ret = frame_read(&m, a.only, &cur);
	if (ret)
		ret = ret == -ENOENT ? ctl_error(c, CTL_ERR,
						 "no route named '%s'", a.only)
				     : ctl_error(c, CTL_ERR,
						 "cannot read counters: %s",
						 strerror(-ret));
	else if (!a.watch)
		show(c, &cur, NULL, 0);
	else
		ret = watch(c, &m, &a, &cur, &prev);
	frame_free(&cur);
	frame_free(&prev);
	maps_close(&m);
	return ret;
}

const struct ctl_cmd ctl_cmd_stats = {
	.name = "stats",
	.run = run_stats,
	.summary = "per-route/version/backend counters and rates",
	.help = "Usage: steerctl stats [ROUTE] [--watch [--interval SECS] "
		"[--count N]]\n"
		"Counters of every route (or ROUTE), per version and per "
		"backend,\n"
		"both layers added up: connections, failed connects (refused, "
		"reset\n"
		"or timed out before established), active connections, bytes "
		"sent\n"
		"to (TX) and received from (RX) the backends, the mean connect "
		"RTT,\n"
		"and each version's share of the route's connections. "
		"Connections\n"
		"refused at connect() (policy, no route) are counted per "
		"route.\n"
		"\n"
		"  -w, --watch          redraw every interval until Ctrl-C: "
		"rates\n"
		"                       per second, and share and failure rate "
		"over\n"
		"                       the last interval\n"
		"  -i, --interval SECS  redraw interval (default 1, from 0.1)\n"
		"  -n, --count N        stop after N redraws\n"
		"\n"
		"-o json prints one document; with --watch one document per "
		"line\n"
		"per interval, each version and backend with \"rates\".\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl stats\n"
		"  steerctl stats reviews --watch\n"
		"  steerctl -o json stats reviews | jq "
		"'.routes[0].versions[]'\n"
		"  steerctl -o json stats reviews --watch --count 5\n",
};
