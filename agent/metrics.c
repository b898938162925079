// SPDX-License-Identifier: BSD-2-Clause
/* Prometheus text format:
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 * Every family is written whole (HELP, TYPE, then all its samples) from
 * one read of the maps per scrape: O(routes) lookups, no lock the
 * datapath could wait on (per-CPU counters are only read). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "addr.h"
#include "dns.h"
#include "metrics.h"
#include "stats.h"

static void header(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped as the format requires. */
static void label(FILE *out, const char *key, const char *val, bool first)
{
	fprintf(out, "%s%s=\"", first ? "" : ",", key);
	for (const char *p = val; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', out);
		if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

enum family {
	F_ROUTE_CONNS,
	F_ROUTE_SPLIT,
	F_ROUTE_DENIALS,
	F_ROUTE_NO_ROUTE,
	F_ROUTE_OVERRIDE,
	F_BE_CONNS,
	F_BE_ESTABLISHED,
	F_BE_FAILED,
	F_BE_CLOSED,
	F_BE_ACTIVE,
	F_BE_SENT_BYTES,
	F_BE_RECV_BYTES,
	F_BE_SENT_PACKETS,
	F_BE_RECV_PACKETS,
	F_RTT,
	F_BE_EJECTED,
	F_BE_EJECTIONS,
	F_BE_OVERFLOW,
	F_COUNT,
};

static const struct {
	const char *name, *type, *help;
} families[F_COUNT] = {
	[F_ROUTE_CONNS] = { "steer_route_connections_total", "counter",
			    "New connections steered, by route, rule, version "
			    "and layer." },
	[F_ROUTE_SPLIT] = { "steer_route_split_ratio", "gauge",
			    "Share of a rule's new connections a version gets "
			    "now (0..1)." },
	[F_ROUTE_DENIALS] = { "steer_route_policy_denials_total", "counter",
			      "Connections refused by policy (EPERM at the "
			      "socket layer, dropped at TC)." },
	[F_ROUTE_NO_ROUTE] = { "steer_route_no_route_total", "counter",
			       "Connections refused for want of a matching "
			       "rule or a usable backend." },
	[F_ROUTE_OVERRIDE] = { "steer_route_override", "gauge",
			       "1 while a steerctl change is in force instead "
			       "of the route file." },
	[F_BE_CONNS] = { "steer_backend_connections_total", "counter",
			 "New connections sent to a backend." },
	[F_BE_ESTABLISHED] = { "steer_backend_connections_established_total",
			       "counter",
			       "Connections to a backend that reached "
			       "ESTABLISHED." },
	[F_BE_FAILED] = { "steer_backend_connect_failures_total", "counter",
			  "Connects to a backend that failed before "
			  "ESTABLISHED: refused, reset or timed out." },
	[F_BE_CLOSED] = { "steer_backend_connections_closed_total", "counter",
			  "Established connections to a backend that "
			  "ended." },
	[F_BE_ACTIVE] = { "steer_backend_active_connections", "gauge",
			  "Established connections to a backend open now." },
	[F_BE_SENT_BYTES] = { "steer_backend_sent_bytes_total", "counter",
			      "Payload bytes clients sent to a backend (socket "
			      "layer: counted when the connection closes)." },
	[F_BE_RECV_BYTES] = { "steer_backend_received_bytes_total", "counter",
			      "Payload bytes a backend sent to clients "
			      "(socket layer: counted when the connection "
			      "closes)." },
	[F_BE_SENT_PACKETS] = { "steer_backend_sent_packets_total", "counter",
				"Packets clients sent to a backend (TC "
				"layer only)." },
	[F_BE_RECV_PACKETS] = { "steer_backend_received_packets_total",
				"counter",
				"Packets a backend sent to clients (TC layer "
				"only)." },
	[F_RTT] = { "steer_version_connect_rtt_seconds", "histogram",
		    "Time from connect() to ESTABLISHED of a version's "
		    "connections (socket layer)." },
	[F_BE_EJECTED] = { "steer_backend_ejected", "gauge",
			   "1 while a backend gets no new connections: "
			   "ejected by passive health or steerctl eject." },
	[F_BE_EJECTIONS] = { "steer_backend_ejections_total", "counter",
			     "Times passive health ejected a backend." },
	[F_BE_OVERFLOW] = { "steer_backend_overflow_total", "counter",
			    "Connections a backend turned away at "
			    "connection-pool max-connections." },
};

/* Passive health of one backend (no layer: health spans both). */
static void health_series(FILE *out, const struct stats_route *rs,
			  enum family f)
{
	const struct steer_route_cfg *cfg = &rs->cfg;
	char be[ADDR_STR_MAX];

	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *ver = &cfg->versions[v];

		for (int b = 0; b < ver->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++) {
			const struct steer_backend *sb = &ver->backends[b];
			const struct steer_health *h = &rs->health[v][b];
			__u64 val =
				f == F_BE_EJECTIONS ? h->ejections
				: f == F_BE_OVERFLOW
					? h->overflow
					: rs->now_ns < h->ejected_until_ns ||
						  (sb->flags &
						   STEER_BACKEND_EJECTED);

			addr_format(be, sizeof(be), sb->family, sb->addr,
				    ntohs(sb->port));
			fputs(families[f].name, out);
			label(out, "{route", cfg->name, true);
			label(out, "version", ver->name, false);
			label(out, "backend", be, false);
			fprintf(out, "} %llu\n", (unsigned long long)val);
		}
	}
}

static __u64 be_value(const struct stats_route *rs, enum family f, int v, int b,
		      int l)
{
	const struct steer_backend_stats *s = &rs->be[v][b][l];

	switch (f) {
	case F_BE_CONNS:
		return s->connections;
	case F_BE_ESTABLISHED:
		return s->established;
	case F_BE_FAILED:
		return s->failed;
	case F_BE_CLOSED:
		return s->closed;
	case F_BE_ACTIVE:
		return stats_active(s);
	case F_BE_SENT_BYTES:
		return s->bytes_to;
	case F_BE_RECV_BYTES:
		return s->bytes_from;
	case F_BE_SENT_PACKETS:
		return s->packets_to;
	default:
		return s->packets_from;
	}
}

static void backend_series(FILE *out, const struct stats_route *rs,
			   enum family f)
{
	const struct steer_route_cfg *cfg = &rs->cfg;
	char be[ADDR_STR_MAX];

	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *ver = &cfg->versions[v];

		for (int b = 0; b < ver->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++) {
			const struct steer_backend *sb = &ver->backends[b];

			addr_format(be, sizeof(be), sb->family, sb->addr,
				    ntohs(sb->port));
			for (int l = 0; l < STEER_LAYER_COUNT; l++) {
				fputs(families[f].name, out);
				label(out, "{route", cfg->name, true);
				label(out, "version", ver->name, false);
				label(out, "backend", be, false);
				label(out, "layer", stats_layer_names[l],
				      false);
				fprintf(out, "} %llu\n",
					(unsigned long long)be_value(rs, f, v,
								     b, l));
			}
		}
	}
}

/* Cumulative buckets (le = 2^i microseconds), +Inf, _sum and _count. */
static void rtt_series(FILE *out, const struct stats_route *rs)
{
	const struct steer_route_cfg *cfg = &rs->cfg;
	const char *name = families[F_RTT].name;

	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_rtt *h = &rs->rtt[v];
		__u64 cum = 0;

		for (int i = 0; i < STEER_RTT_BUCKETS; i++) {
			cum += h->buckets[i];
			fprintf(out, "%s_bucket", name);
			label(out, "{route", cfg->name, true);
			label(out, "version", cfg->versions[v].name, false);
			if (i < STEER_RTT_BUCKETS - 1)
				fprintf(out, ",le=\"%.6f\"} %llu\n",
					(double)(1ULL << i) / 1e6,
					(unsigned long long)cum);
			else
				fprintf(out, ",le=\"+Inf\"} %llu\n",
					(unsigned long long)cum);
		}
		fprintf(out, "%s_sum", name);
		label(out, "{route", cfg->name, true);
		label(out, "version", cfg->versions[v].name, false);
		fprintf(out, "} %.9f\n", h->sum_ns / 1e9);
		fprintf(out, "%s_count", name);
		label(out, "{route", cfg->name, true);
		label(out, "version", cfg->versions[v].name, false);
		fprintf(out, "} %llu\n", (unsigned long long)cum);
	}
}

/* The samples of family @f for one route. */
static void route_series(FILE *out, const struct stats_route *rs, enum family f)
{
	const struct steer_route_cfg *cfg = &rs->cfg;
	const char *name = families[f].name;

	if (f >= F_BE_CONNS && f <= F_BE_RECV_PACKETS) {
		backend_series(out, rs, f);
		return;
	}
	if (f == F_RTT) {
		rtt_series(out, rs);
		return;
	}
	if (f >= F_BE_EJECTED && f <= F_BE_OVERFLOW) {
		health_series(out, rs, f);
		return;
	}
	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS;
		     v++) {
			for (int l = 0;
			     f == F_ROUTE_CONNS && l < STEER_LAYER_COUNT; l++) {
				fputs(name, out);
				label(out, "{route", cfg->name, true);
				label(out, "rule", cfg->rules[r].name, false);
				label(out, "version", cfg->versions[v].name,
				      false);
				label(out, "layer", stats_layer_names[l],
				      false);
				fprintf(out, "} %llu\n",
					(unsigned long long)rs->conns[r][v][l]);
			}
			if (f == F_ROUTE_SPLIT) {
				fputs(name, out);
				label(out, "{route", cfg->name, true);
				label(out, "rule", cfg->rules[r].name, false);
				label(out, "version", cfg->versions[v].name,
				      false);
				fprintf(out, "} %.4f\n",
					cfg->rules[r].split[v] / 10000.0);
			}
		}
	}
	for (int l = 0; l < STEER_LAYER_COUNT; l++) {
		if (f != F_ROUTE_DENIALS && f != F_ROUTE_NO_ROUTE)
			break;
		fputs(name, out);
		label(out, "{route", cfg->name, true);
		label(out, "layer", stats_layer_names[l], false);
		fprintf(out, "} %llu\n",
			(unsigned long long)(f == F_ROUTE_DENIALS
						     ? rs->denied[l]
						     : rs->noroute[l]));
	}
	if (f == F_ROUTE_OVERRIDE) {
		fputs(name, out);
		label(out, "{route", cfg->name, true);
		fprintf(out, "} %d\n", !!(cfg->flags & STEER_ROUTE_OVERRIDE));
	}
}

static void write_reasons(FILE *out, const struct steer_maps *m)
{
	__u64 n[STEER_REASON_COUNT];

	if (stats_read_reasons(m, n))
		return;
	header(out, "steer_verdicts_total", "counter",
	       "Datapath verdicts by reason, all routes and layers: steered, "
	       "not_frontend, and every reason a connection was refused or "
	       "dropped.");
	for (__u32 r = 0; r < STEER_REASON_COUNT; r++)
		fprintf(out, "steer_verdicts_total{reason=\"%s\"} %llu\n",
			stats_reason_name(r), (unsigned long long)n[r]);
}

int metrics_write(FILE *out, const struct metrics_state *s)
{
	const struct steer_maps *m = s->maps;
	struct stats_route **rs;
	__u32 *ids;
	int n, ns = 0, ret = 0;

	header(out, "steer_config_generation", "gauge",
	       "Generation of the configuration steerd applied last.");
	fprintf(out, "steer_config_generation %llu\n",
		(unsigned long long)s->generation);
	header(out, "steer_config_last_apply_timestamp_seconds", "gauge",
	       "Unix time of the last successful apply of the route files.");
	fprintf(out, "steer_config_last_apply_timestamp_seconds %.3f\n",
		s->last_apply_s);
	header(out, "steer_config_apply_errors_total", "counter",
	       "Route-file applies that failed and changed nothing.");
	fprintf(out, "steer_config_apply_errors_total %llu\n",
		(unsigned long long)s->apply_errors);

	n = maps_route_ids(m, &ids);
	if (n < 0)
		return n;
	rs = calloc(n ? n : 1, sizeof(*rs));
	if (!rs) {
		free(ids);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		rs[ns] = malloc(sizeof(*rs[ns]));
		if (!rs[ns]) {
			ret = -ENOMEM;
			break;
		}
		if (stats_read_route(m, ids[i], rs[ns]))
			stats_route_free(rs[ns]); /* deleted meanwhile */
		else
			ns++;
	}
	header(out, "steer_routes", "gauge", "Routes in the datapath.");
	fprintf(out, "steer_routes %d\n", ns);
	for (int f = 0; f < F_COUNT; f++) {
		header(out, families[f].name, families[f].type,
		       families[f].help);
		for (int i = 0; i < ns; i++)
			route_series(out, rs[i], f);
	}
	write_reasons(out, m);
	dns_metrics_write(out, s->dns);
	for (int i = 0; i < ns; i++)
		stats_route_free(rs[i]);
	free(rs);
	free(ids);
	return ret;
}
