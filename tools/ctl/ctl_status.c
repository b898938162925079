// SPDX-License-Identifier: BSD-2-Clause
/* steerctl status: routes, rules, splits, backends and counters, live. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "addr.h"
#include "ctl.h"

struct route_view {
	__u32 id;
	struct steer_route_cfg cfg;
	struct steer_stats st[STEER_MAX_RULES + 1][STEER_MAX_VERSIONS + 1];
	int n_frontends;
	char frontends[STEER_MAX_FRONTENDS][64];
	/* TC-layer counters of each backend, tc[version][backend index], and
	 * its passive health (steer_health_v1), health[version][backend]:
	 * n_backends of each version (tc_read), and when read */
	struct steer_backend_stats *tc[STEER_MAX_VERSIONS];
	struct steer_health *health[STEER_MAX_VERSIONS];
	__u64 now_ns;
};

/* Reasons the TC layer counts, as status shows them (steer_reasons_v2). */
static const struct {
	enum steer_reason reason;
	const char *name;
} tc_reasons[] = {
	{ STEER_REASON_TC_PASS, "pass" },
	{ STEER_REASON_TC_FRAGMENT, "fragment" },
	{ STEER_REASON_TC_MALFORMED, "malformed" },
	{ STEER_REASON_TC_UNSUPPORTED, "unsupported" },
	{ STEER_REASON_TC_CT_FULL, "ct_full" },
	{ STEER_REASON_TC_CT_RECREATED, "ct_recreated" },
	{ STEER_REASON_TC_REWRITE_FAILED, "rewrite_failed" },
};

static void tc_free(struct route_view *v)
{
	for (int ver = 0; ver < STEER_MAX_VERSIONS; ver++) {
		free(v->tc[ver]);
		free(v->health[ver]);
		v->tc[ver] = NULL;
		v->health[ver] = NULL;
	}
}

static int tc_read(const struct steer_maps *m, struct route_view *v)
{
	tc_free(v);
	for (int ver = 0; ver < v->cfg.n_versions && ver < STEER_MAX_VERSIONS;
	     ver++) {
		const struct steer_version *sv = &v->cfg.versions[ver];
		size_t n = sv->n_backends ? sv->n_backends : 1;

		v->tc[ver] = calloc(n, sizeof(*v->tc[ver]));
		v->health[ver] = calloc(n, sizeof(*v->health[ver]));
		if (!v->tc[ver] || !v->health[ver])
			return -ENOMEM;

		for (int b = 0; b < sv->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++) {
			maps_backend_stats_read(m, v->id, sv->counter_slot,
						sv->backends[b].counter_slot,
						STEER_LAYER_TC, &v->tc[ver][b]);
			maps_health_read(m, v->id, sv->counter_slot,
					 sv->backends[b].counter_slot,
					 &v->health[ver][b]);
		}
	}
	v->now_ns = maps_now_ns();
	return 0;
}

/* "ok", "ejected" (passively, for a while) or "manual" (steerctl eject). */
static const char *health_state(const struct route_view *v, int ver, int b)
{
	if (v->cfg.versions[ver].backends[b].flags & STEER_BACKEND_EJECTED)
		return "manual";
	return v->now_ns < v->health[ver][b].ejected_until_ns ? "ejected"
							      : "ok";
}

/* The backend's health as JSON: state, ms left, counts. */
static struct json_object *health_json(const struct route_view *v, int ver,
				       int b)
{
	const struct steer_health *h = &v->health[ver][b];
	struct json_object *o = json_object_new_object();
	__u64 left = v->now_ns < h->ejected_until_ns
			     ? (h->ejected_until_ns - v->now_ns) / 1000000
			     : 0;

	json_object_object_add(o, "state",
			       json_object_new_string(health_state(v, ver, b)));
	json_object_object_add(o, "ejected_for_ms",
			       json_object_new_uint64(left));
	json_object_object_add(o, "ejections",
			       json_object_new_uint64(h->ejections));
	json_object_object_add(o, "failures",
			       json_object_new_uint64(h->failures));
	json_object_object_add(o, "active", json_object_new_uint64(h->active));
	json_object_object_add(o, "overflow",
			       json_object_new_uint64(h->overflow));
	json_object_object_add(o, "capped", json_object_new_uint64(h->capped));
	return o;
}

/* Sum over CPUs of reason @r; 0 when it cannot be read. */
static __u64 reason_sum(const struct steer_maps *m, enum steer_reason r)
{
	int n = libbpf_num_possible_cpus();
	__u64 *per, sum = 0;
	__u32 key = r;

	if (n <= 0 || !(per = calloc((size_t)n, sizeof(*per))))
		return 0;
	if (!bpf_map_lookup_elem(m->reasons, &key, per))
		for (int i = 0; i < n; i++)
			sum += per[i];
	free(per);
	return sum;
}

static void frontends_of(const struct steer_maps *m, struct route_view *v)
{
	struct steer_frontend_key key, next, *prev = NULL;
	struct steer_frontend fe;

	v->n_frontends = 0;
	while (!bpf_map_get_next_key(m->frontends, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->frontends, &key, &fe) ||
		    fe.route_id != v->id || fe.index >= STEER_MAX_FRONTENDS)
			continue;
		char addr[ADDR_STR_MAX];

		addr_format(addr, sizeof(addr), key.family, key.addr,
			    ntohs(key.port));
		snprintf(v->frontends[fe.index], sizeof(v->frontends[0]),
			 "%s/%s", addr,
			 key.proto == STEER_PROTO_UDP ? "udp" : "tcp");
		if (fe.index + 1 > v->n_frontends)
			v->n_frontends = fe.index + 1;
	}
}

/* Connections of (rule, version), through their counter slots. */
static __u64 version_conns(const struct route_view *v, int rule, int ver)
{
	const struct steer_stats *s =
		&v->st[v->cfg.rules[rule].counter_slot % (STEER_MAX_RULES + 1)]
		      [v->cfg.versions[ver].counter_slot %
		       (STEER_MAX_VERSIONS + 1)];

	return s->connections[STEER_LAYER_SOCK] +
	       s->connections[STEER_LAYER_TC];
}

/* Per layer: connections, denials and no-route refusals of the route. */
static void layer_totals(const struct route_view *v, int layer, __u64 out[3])
{
	out[0] = out[1] = out[2] = 0;
	for (int r = 0; r <= STEER_MAX_RULES; r++) {
		for (int ver = 0; ver <= STEER_MAX_VERSIONS; ver++) {
			out[0] += v->st[r][ver].connections[layer];
			out[1] += v->st[r][ver].denied[layer];
			out[2] += v->st[r][ver].no_route[layer];
		}
	}
}

static void totals(const struct route_view *v, __u64 *denied, __u64 *noroute)
{
	*denied = *noroute = 0;
	for (int r = 0; r <= STEER_MAX_RULES; r++) {
		for (int ver = 0; ver <= STEER_MAX_VERSIONS; ver++) {
			const struct steer_stats *s = &v->st[r][ver];

			*denied += s->denied[0] + s->denied[1];
			*noroute += s->no_route[0] + s->no_route[1];
		}
	}
}

static bool rule_overridden(const struct steer_rule *r)
{
	return memcmp(r->split, r->file_split, sizeof(r->split)) != 0;
}

static void print_rules_text(const struct route_view *v)
{
	const struct steer_route_cfg *cfg = &v->cfg;
	char pct[16];

	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		const struct steer_rule *rule = &cfg->rules[r];

		printf("  rule %-14s", rule->name);
		for (int ver = 0; ver < cfg->n_versions; ver++)
			printf(" %s %s%% (%llu conns)", cfg->versions[ver].name,
			       ctl_pct(pct, sizeof(pct), rule->split[ver]),
			       (unsigned long long)version_conns(v, r, ver));
		if (rule_overridden(rule)) {
			printf("  [file:");
			for (int ver = 0; ver < cfg->n_versions; ver++)
				printf(" %s %s%%", cfg->versions[ver].name,
				       ctl_pct(pct, sizeof(pct),
					       rule->file_split[ver]));
			printf("]");
		}
		printf("\n");
	}
}

/* A line per backend of version @ver that passive health has seen. */
static void print_health_text(const struct route_view *v, int ver)
{
	const struct steer_version *sv = &v->cfg.versions[ver];
	char buf[ADDR_STR_MAX];

	for (int b = 0; b < sv->n_backends && b < ROUTE_MAX_BACKENDS; b++) {
		const struct steer_health *h = &v->health[ver][b];
		const struct steer_backend *be = &sv->backends[b];

		if (!h->ejections && !h->active && !h->overflow && !h->failures)
			continue;
		printf("    health %s  %s",
		       addr_format(buf, sizeof(buf), be->family, be->addr,
				   ntohs(be->port)),
		       health_state(v, ver, b));
		if (v->now_ns < h->ejected_until_ns)
			printf(" for %llu ms",
			       (unsigned long long)(h->ejected_until_ns -
						    v->now_ns) /
				       1000000);
		printf("  ejections %llu  failures %llu  active %llu  "
		       "overflow %llu\n",
		       (unsigned long long)h->ejections,
		       (unsigned long long)h->failures,
		       (unsigned long long)h->active,
		       (unsigned long long)h->overflow);
	}
}

/* One version: its backends on a line, then a line per backend passive
 * health has seen and per backend the TC layer has counted flows of. */
static void print_version_text(const struct route_view *v, int ver)
{
	const struct steer_version *sv = &v->cfg.versions[ver];
	char buf[ADDR_STR_MAX];

	printf("  version %-11s", sv->name);
	for (int b = 0; b < sv->n_backends && b < ROUTE_MAX_BACKENDS; b++) {
		const struct steer_backend *be = &sv->backends[b];

		printf(" %s w%u%s",
		       addr_format(buf, sizeof(buf), be->family, be->addr,
				   ntohs(be->port)),
		       be->weight,
		       be->flags & STEER_BACKEND_EJECTED ? " EJECTED" : "");
	}
	printf("\n");
	print_health_text(v, ver);
	for (int b = 0; b < sv->n_backends && b < ROUTE_MAX_BACKENDS; b++) {
		const struct steer_backend *be = &sv->backends[b];
		const struct steer_backend_stats *t = &v->tc[ver][b];

		if (!t->connections && !t->packets_to)
			continue;
		printf("    tc %s  flows %llu (established %llu, failed %llu, "
		       "closed %llu)  packets %llu/%llu  bytes %llu/%llu "
		       "to/from\n",
		       addr_format(buf, sizeof(buf), be->family, be->addr,
				   ntohs(be->port)),
		       (unsigned long long)t->connections,
		       (unsigned long long)t->established,
		       (unsigned long long)t->failed,
		       (unsigned long long)t->closed,
		       (unsigned long long)t->packets_to,
		       (unsigned long long)t->packets_from,
		       (unsigned long long)t->bytes_to,
		       (unsigned long long)t->bytes_from);
	}
}

static void print_text(const struct route_view *v)
{
	const struct steer_route_cfg *cfg = &v->cfg;
	time_t secs = (time_t)(cfg->applied_ns / 1000000000ull);
	__u64 denied, noroute;
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&secs));
	printf("route %s  (id %u, generation %llu, applied %s)%s\n", cfg->name,
	       v->id, (unsigned long long)cfg->generation, when,
	       cfg->flags & STEER_ROUTE_OVERRIDE ? "  OVERRIDE by steerctl"
						 : "");
	printf("  frontends ");
	for (int i = 0; i < v->n_frontends; i++)
		printf(" %s", v->frontends[i]);
	printf("\n  affinity   %s\n  policy     default %s, %u allow, %u "
	       "deny\n",
	       cfg->flags & STEER_ROUTE_AFFINITY_CLIENT ? "client" : "none",
	       cfg->flags & STEER_ROUTE_DEFAULT_DENY ? "deny" : "allow",
	       cfg->n_allow, cfg->n_deny);
	print_rules_text(v);
	for (int ver = 0; ver < cfg->n_versions && ver < STEER_MAX_VERSIONS;
	     ver++)
		print_version_text(v, ver);
	totals(v, &denied, &noroute);
	printf("  refused    %llu denied by policy, %llu no route\n",
	       (unsigned long long)denied, (unsigned long long)noroute);
	for (int l = 0; l < STEER_LAYER_COUNT; l++) {
		__u64 t[3];

		layer_totals(v, l, t);
		printf("  %-10s %llu connections, %llu denied, %llu no route\n",
		       l == STEER_LAYER_TC ? "tc layer" : "sock layer",
		       (unsigned long long)t[0], (unsigned long long)t[1],
		       (unsigned long long)t[2]);
	}
}

static struct json_object *tc_backend_json(const struct steer_backend_stats *t)
{
	struct json_object *o = json_object_new_object();
	const struct {
		const char *name;
		__u64 val;
	} f[] = {
		{ "connections", t->connections },
		{ "established", t->established },
		{ "failed", t->failed },
		{ "closed", t->closed },
		{ "packets_to", t->packets_to },
		{ "packets_from", t->packets_from },
		{ "bytes_to", t->bytes_to },
		{ "bytes_from", t->bytes_from },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		json_object_object_add(o, f[i].name,
				       json_object_new_uint64(f[i].val));
	return o;
}

static struct json_object *layers_json(const struct route_view *v)
{
	struct json_object *o = json_object_new_object();

	for (int l = 0; l < STEER_LAYER_COUNT; l++) {
		struct json_object *lo = json_object_new_object();
		__u64 t[3];

		layer_totals(v, l, t);
		json_object_object_add(lo, "connections",
				       json_object_new_uint64(t[0]));
		json_object_object_add(lo, "denied",
				       json_object_new_uint64(t[1]));
		json_object_object_add(lo, "no_route",
				       json_object_new_uint64(t[2]));
		json_object_object_add(o, l == STEER_LAYER_TC ? "tc" : "sock",
				       lo);
	}
	return o;
}

static struct json_object *split_json(const struct steer_route_cfg *cfg,
				      const __u16 *split)
{
	struct json_object *o = json_object_new_object();

	for (int ver = 0; ver < cfg->n_versions && ver < STEER_MAX_VERSIONS;
	     ver++)
		json_object_object_add(
			o, cfg->versions[ver].name,
			json_object_new_double(split[ver] / 100.0));
	return o;
}

static struct json_object *policy_json(const struct steer_route_cfg *cfg)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(
		p, "default",
		json_object_new_string(cfg->flags & STEER_ROUTE_DEFAULT_DENY
					       ? "deny"
					       : "allow"));
	json_object_object_add(p, "allow", json_object_new_int(cfg->n_allow));
	json_object_object_add(p, "deny", json_object_new_int(cfg->n_deny));
	return p;
}

static struct json_object *rules_json(const struct route_view *v)
{
	const struct steer_route_cfg *cfg = &v->cfg;
	struct json_object *a = json_object_new_array();

	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		const struct steer_rule *rule = &cfg->rules[r];
		struct json_object *ro = json_object_new_object();
		struct json_object *conns = json_object_new_object();

		json_object_object_add(ro, "name",
				       json_object_new_string(rule->name));
		json_object_object_add(ro, "split",
				       split_json(cfg, rule->split));
		json_object_object_add(ro, "file_split",
				       split_json(cfg, rule->file_split));
		json_object_object_add(
			ro, "override",
			json_object_new_boolean(rule_overridden(rule)));
		for (int ver = 0; ver < cfg->n_versions; ver++)
			json_object_object_add(
				conns, cfg->versions[ver].name,
				json_object_new_uint64(
					version_conns(v, r, ver)));
		json_object_object_add(ro, "connections", conns);
		json_object_array_add(a, ro);
	}
	return a;
}

static struct json_object *backend_json(const struct route_view *v, int ver,
					int b)
{
	const struct steer_backend *be = &v->cfg.versions[ver].backends[b];
	struct json_object *bo = json_object_new_object();
	char buf[ADDR_STR_MAX];

	addr_format(buf, sizeof(buf), be->family, be->addr, ntohs(be->port));
	json_object_object_add(bo, "address", json_object_new_string(buf));
	json_object_object_add(bo, "weight", json_object_new_int(be->weight));
	json_object_object_add(
		bo, "ejected",
		json_object_new_boolean(be->flags & STEER_BACKEND_EJECTED));
	json_object_object_add(bo, "tc", tc_backend_json(&v->tc[ver][b]));
	json_object_object_add(bo, "health", health_json(v, ver, b));
	return bo;
}

static struct json_object *versions_json(const struct route_view *v)
{
	const struct steer_route_cfg *cfg = &v->cfg;
	struct json_object *a = json_object_new_array();

	for (int ver = 0; ver < cfg->n_versions && ver < STEER_MAX_VERSIONS;
	     ver++) {
		const struct steer_version *sv = &cfg->versions[ver];
		struct json_object *vo = json_object_new_object();
		struct json_object *bs = json_object_new_array();

		json_object_object_add(vo, "name",
				       json_object_new_string(sv->name));
		for (int b = 0; b < sv->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++)
			json_object_array_add(bs, backend_json(v, ver, b));
		json_object_object_add(vo, "backends", bs);
		json_object_array_add(a, vo);
	}
	return a;
}

static struct json_object *route_json(const struct route_view *v)
{
	const struct steer_route_cfg *cfg = &v->cfg;
	struct json_object *o = json_object_new_object(), *a, *p;
	__u64 denied, noroute;

	json_object_object_add(o, "name", json_object_new_string(cfg->name));
	json_object_object_add(o, "id", json_object_new_int64(v->id));
	json_object_object_add(o, "generation",
			       json_object_new_uint64(cfg->generation));
	json_object_object_add(o, "applied_ns",
			       json_object_new_uint64(cfg->applied_ns));
	json_object_object_add(
		o, "override",
		json_object_new_boolean(cfg->flags & STEER_ROUTE_OVERRIDE));
	json_object_object_add(
		o, "affinity",
		json_object_new_string(cfg->flags & STEER_ROUTE_AFFINITY_CLIENT
					       ? "client"
					       : "none"));
	json_object_object_add(o, "policy", policy_json(cfg));
	a = json_object_new_array();
	for (int i = 0; i < v->n_frontends; i++)
		json_object_array_add(a,
				      json_object_new_string(v->frontends[i]));
	json_object_object_add(o, "frontends", a);
	json_object_object_add(o, "rules", rules_json(v));
	json_object_object_add(o, "versions", versions_json(v));
	totals(v, &denied, &noroute);
	p = json_object_new_object();
	json_object_object_add(p, "denied", json_object_new_uint64(denied));
	json_object_object_add(p, "no_route", json_object_new_uint64(noroute));
	json_object_object_add(o, "refused", p);
	p = json_object_new_object();
	json_object_object_add(p, "failures",
			       json_object_new_uint64(cfg->health_failures));
	json_object_object_add(p, "eject_ms",
			       json_object_new_uint64(cfg->health_eject_ms));
	json_object_object_add(
		p, "max_eject_ms",
		json_object_new_uint64(cfg->health_max_eject_ms));
	json_object_object_add(p, "max_ejected",
			       json_object_new_uint64(cfg->health_max_ejected));
	json_object_object_add(p, "max_connections",
			       json_object_new_uint64(cfg->max_connections));
	json_object_object_add(o, "health", p);
	json_object_object_add(o, "layers", layers_json(v));
	return o;
}

/* The TC layer's packet counters by reason. */
static struct json_object *tc_packets_json(const struct steer_maps *m)
{
	struct json_object *tc = json_object_new_object();

	for (size_t i = 0; i < sizeof(tc_reasons) / sizeof(*tc_reasons); i++)
		json_object_object_add(tc, tc_reasons[i].name,
				       json_object_new_uint64(reason_sum(
					       m, tc_reasons[i].reason)));
	return tc;
}

/* The same as one line, when any packet was more than passed. */
static void print_tc_packets(const struct steer_maps *m)
{
	__u64 sum = 0;

	for (size_t i = 1; i < sizeof(tc_reasons) / sizeof(*tc_reasons); i++)
		sum += reason_sum(m, tc_reasons[i].reason);
	if (!sum)
		return;
	printf("tc packets:");
	for (size_t i = 0; i < sizeof(tc_reasons) / sizeof(*tc_reasons); i++)
		printf(" %s %llu", tc_reasons[i].name,
		       (unsigned long long)reason_sum(m, tc_reasons[i].reason));
	printf("\n");
}

static int run_status(struct ctl *c, int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	struct json_object *doc = NULL, *arr = NULL, *dns;
	struct route_view *v = NULL;
	struct steer_maps m;
	__u32 *ids = NULL;
	int n, ret, shown = 0;

	if (argc > 2)
		return ctl_error(c, CTL_USAGE, "status: too many arguments");
	ret = ctl_open_maps(c, &m, MAPS_ALL);
	if (ret)
		return ret;
	v = calloc(1, sizeof(*v));
	if (!v) {
		ret = ctl_error(c, CTL_ERR, "out of memory");
		goto out;
	}
	n = maps_route_ids(&m, &ids);
	if (n < 0) {
		ret = ctl_error(c, CTL_ERR, "cannot list routes: %s",
				strerror(-n));
		goto out;
	}
	if (c->json) {
		doc = json_object_new_object();
		arr = json_object_new_array();
	}
	for (int i = 0; i < n; i++) {
		v->id = ids[i];
		if (maps_route_get(&m, ids[i], &v->cfg))
			continue;
		if (only && strcmp(only, v->cfg.name))
			continue;
		maps_stats_read(&m, ids[i], v->st);
		if (tc_read(&m, v)) {
			json_object_put(doc);
			json_object_put(arr);
			ret = ctl_error(c, CTL_ERR, "out of memory");
			goto out;
		}
		frontends_of(&m, v);
		if (arr)
			json_object_array_add(arr, route_json(v));
		else
			print_text(v);
		shown++;
	}
	if (only && !shown) {
		json_object_put(doc);
		json_object_put(arr);
		ret = ctl_error(c, CTL_ERR, "no route named '%s'", only);
		goto out;
	}
	if (doc) {
		json_object_object_add(doc, "bpffs",
				       json_object_new_string(c->bpffs));
		json_object_object_add(doc, "routes", arr);
		json_object_object_add(doc, "tc_packets", tc_packets_json(&m));
		dns = ctl_dns_names(c->bpffs);
		json_object_object_add(doc, "dns",
				       dns ? dns : json_object_new_array());
		ctl_print_json(doc);
	} else if (!shown) {
		printf("no routes\n");
	} else {
		dns = ctl_dns_names(c->bpffs);
		ctl_dns_print(dns);
		json_object_put(dns);
		print_tc_packets(&m);
	}
out:
	free(ids);
	if (v) {
		tc_free(v);
		route_cfg_free(&v->cfg);
	}
	free(v);
	maps_close(&m);
	return ret;
}

const struct ctl_cmd ctl_cmd_status = {
	.name = "status",
	.run = run_status,
	.summary = "routes, rules, splits, backends and their health",
	.help = "Usage: steerctl status [ROUTE]\n"
		"Show every route (or ROUTE) as the kernel has it now: "
		"frontends,\n"
		"affinity, policy, each rule's split with the connections it\n"
		"steered per version, each version's backends with weight and\n"
		"health, and the connections refused, per layer. Backends "
		"that\n"
		"the TC layer steered show its flows (established, failed,\n"
		"closed), packets and bytes to and from them; a last line "
		"sums\n"
		"the packets the TC layer passed or dropped without a route\n"
		"(fragments, malformed, ...). A split changed with\n"
		"steerctl is marked OVERRIDE, with the split its file gives.\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl status\n"
		"  steerctl status reviews\n"
		"  steerctl -o json status | jq '.routes[].rules'\n",
};
