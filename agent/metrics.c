// SPDX-License-Identifier: BSD-2-Clause
/* Prometheus text format:
 * https://prometheus.io/docs/instrumenting/exposition_formats/ */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "metrics.h"

static const char *const reason_names[STEER_REASON_COUNT] = {
	[STEER_REASON_STEERED] = "steered",
	[STEER_REASON_NOT_FRONTEND] = "not_frontend",
	[STEER_REASON_POLICY_DENY] = "policy_deny",
	[STEER_REASON_NO_RULE] = "no_rule",
	[STEER_REASON_NO_BACKEND] = "no_backend",
	[STEER_REASON_NO_ROUTE_CFG] = "no_route_config",
	[STEER_REASON_TC_PASS] = "tc_pass",
	[STEER_REASON_TC_FRAGMENT] = "tc_fragment",
	[STEER_REASON_TC_MALFORMED] = "tc_malformed",
	[STEER_REASON_TC_UNSUPPORTED] = "tc_unsupported",
	[STEER_REASON_TC_CT_FULL] = "tc_ct_full",
	[STEER_REASON_TC_CT_RECREATED] = "tc_ct_recreated",
	[STEER_REASON_TC_REWRITE_FAILED] = "tc_rewrite_failed",
};

static const char *const layer_names[STEER_LAYER_COUNT] = { "sock", "tc" };

static void header(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* What the exposition needs of one route, read from the maps once. */
struct route_sample {
	struct steer_route_cfg *cfg;
	__u64 conns[STEER_MAX_RULES][STEER_MAX_VERSIONS][STEER_LAYER_COUNT];
	__u64 denied[STEER_LAYER_COUNT];
	__u64 noroute[STEER_LAYER_COUNT];
};

static int sample_route(const struct steer_maps *m, __u32 id,
			struct route_sample *rs)
{
	static struct steer_stats st[STEER_MAX_RULES + 1]
				    [STEER_MAX_VERSIONS + 1];
	int ret;

	memset(rs->conns, 0, sizeof(rs->conns));
	memset(rs->denied, 0, sizeof(rs->denied));
	memset(rs->noroute, 0, sizeof(rs->noroute));
	ret = maps_route_get(m, id, rs->cfg);
	if (!ret)
		ret = maps_stats_read(m, id, st);
	if (ret)
		return ret;
	for (int r = 0; r <= STEER_MAX_RULES; r++) {
		for (int v = 0; v <= STEER_MAX_VERSIONS; v++) {
			for (int l = 0; l < STEER_LAYER_COUNT; l++) {
				rs->denied[l] += st[r][v].denied[l];
				rs->noroute[l] += st[r][v].no_route[l];
			}
		}
	}
	/* conns[] by rule and version position, through counter slots */
	for (int r = 0; r < rs->cfg->n_rules && r < STEER_MAX_RULES; r++) {
		for (int v = 0;
		     v < rs->cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
			int row =
				rs->cfg->rules[r].stats_slot % STEER_MAX_RULES;
			int col = rs->cfg->versions[v].stats_slot %
				  STEER_MAX_VERSIONS;

			for (int l = 0; l < STEER_LAYER_COUNT; l++)
				rs->conns[r][v][l] =
					st[row][col].connections[l];
		}
	}
	return 0;
}

enum route_family {
	FAM_CONNECTIONS,
	FAM_SPLIT,
	FAM_DENIALS,
	FAM_NO_ROUTE,
	FAM_OVERRIDE,
	FAM_COUNT,
};

static const struct {
	const char *name, *type, *help;
} route_families[FAM_COUNT] = {
	[FAM_CONNECTIONS] = { "steer_connections_total", "counter",
			      "New connections steered, by route, rule, "
			      "version and layer." },
	[FAM_SPLIT] = { "steer_split_ratio", "gauge",
			"Share of a rule's connections a version gets now "
			"(0..1)." },
	[FAM_DENIALS] = { "steer_policy_denials_total", "counter",
			  "Connections refused by policy (EPERM at the "
			  "socket layer)." },
	[FAM_NO_ROUTE] = { "steer_no_route_total", "counter",
			   "Connections refused for want of a matching rule "
			   "or a usable backend." },
	[FAM_OVERRIDE] = { "steer_route_override", "gauge",
			   "1 while a steerctl change is in force instead of "
			   "the route file." },
};

/* The samples of family @f for one route. Names never need escaping:
 * the parser admits only [a-z0-9._-]. */
static void route_series(FILE *out, const struct route_sample *rs,
			 enum route_family f)
{
	const struct steer_route_cfg *cfg = rs->cfg;
	const char *route = cfg->name;

	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS;
		     v++) {
			const char *rule = cfg->rules[r].name;
			const char *ver = cfg->versions[v].name;

			for (int l = 0;
			     f == FAM_CONNECTIONS && l < STEER_LAYER_COUNT; l++)
				fprintf(out,
					"steer_connections_total{route=\"%s\","
					"rule=\"%s\",version=\"%s\",layer=\"%"
					"s\"} "
					"%llu\n",
					route, rule, ver, layer_names[l],
					(unsigned long long)rs->conns[r][v][l]);
			if (f == FAM_SPLIT)
				fprintf(out,
					"steer_split_ratio{route=\"%s\","
					"rule=\"%s\",version=\"%s\"} %.4f\n",
					route, rule, ver,
					cfg->rules[r].split[v] / 10000.0);
		}
	}
	for (int l = 0; l < STEER_LAYER_COUNT; l++) {
		if (f == FAM_DENIALS)
			fprintf(out,
				"steer_policy_denials_total{route=\"%s\","
				"layer=\"%s\"} %llu\n",
				route, layer_names[l],
				(unsigned long long)rs->denied[l]);
		else if (f == FAM_NO_ROUTE)
			fprintf(out,
				"steer_no_route_total{route=\"%s\","
				"layer=\"%s\"} %llu\n",
				route, layer_names[l],
				(unsigned long long)rs->noroute[l]);
	}
	if (f == FAM_OVERRIDE)
		fprintf(out, "steer_route_override{route=\"%s\"} %d\n", route,
			!!(cfg->flags & STEER_ROUTE_OVERRIDE));
}

static void write_reasons(FILE *out, const struct steer_maps *m)
{
	int cpus = libbpf_num_possible_cpus();
	__u64 *per;

	if (cpus <= 0)
		return;
	per = calloc(cpus, sizeof(*per));
	if (!per)
		return;
	header(out, "steer_verdicts_total", "counter",
	       "Datapath verdicts by reason, all routes.");
	for (__u32 r = 0; r < STEER_REASON_COUNT; r++) {
		__u64 sum = 0;

		if (bpf_map_lookup_elem(m->reasons, &r, per))
			continue;
		for (int c = 0; c < cpus; c++)
			sum += per[c];
		fprintf(out, "steer_verdicts_total{reason=\"%s\"} %llu\n",
			reason_names[r], (unsigned long long)sum);
	}
	free(per);
}

int metrics_write(FILE *out, const struct metrics_state *s)
{
	const struct steer_maps *m = s->maps;
	struct route_sample *rs;
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
		rs[ns].cfg = malloc(sizeof(*rs[ns].cfg));
		if (!rs[ns].cfg) {
			ret = -ENOMEM;
			break;
		}
		if (sample_route(m, ids[i], &rs[ns]))
			free(rs[ns].cfg); /* deleted meanwhile */
		else
			ns++;
	}
	header(out, "steer_routes", "gauge", "Routes in the datapath.");
	fprintf(out, "steer_routes %d\n", ns);
	for (int f = 0; f < FAM_COUNT; f++) {
		header(out, route_families[f].name, route_families[f].type,
		       route_families[f].help);
		for (int i = 0; i < ns; i++)
			route_series(out, &rs[i], f);
	}
	write_reasons(out, m);
	for (int i = 0; i < ns; i++)
		free(rs[i].cfg);
	free(rs);
	free(ids);
	return ret;
}
