// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "apply.h"
#include "compile.h"
#include "log.h"

/* What is live now: route id -> config, read once per apply. */
struct live {
	int n;
	__u32 *ids;
	struct steer_route_cfg *cfgs;
	bool *wanted;
};

static void live_free(struct live *l)
{
	free(l->ids);
	free(l->cfgs);
	free(l->wanted);
	memset(l, 0, sizeof(*l));
}

static int live_read(const struct steer_maps *m, struct live *l)
{
	int n;

	memset(l, 0, sizeof(*l));
	n = maps_route_ids(m, &l->ids);
	if (n < 0)
		return n;
	l->cfgs = calloc(n ? n : 1, sizeof(*l->cfgs));
	l->wanted = calloc(n ? n : 1, sizeof(*l->wanted));
	if (!l->cfgs || !l->wanted)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		int ret = maps_route_get(m, l->ids[i], &l->cfgs[l->n]);

		if (ret == -ENOENT)
			continue; /* deleted meanwhile */
		if (ret)
			return ret;
		l->ids[l->n++] = l->ids[i];
	}
	return 0;
}

static int live_find(const struct live *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (!strncmp(l->cfgs[i].name, name, STEER_NAME_LEN))
			return i;
	return -1;
}

static bool id_taken(const struct live *l, const __u32 *ids, int n, __u32 id)
{
	for (int i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return true;
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Compare two configs, ignoring when and by which generation published. */
static bool cfg_same(const struct steer_route_cfg *a,
		     const struct steer_route_cfg *b)
{
	const size_t rest = offsetof(struct steer_route_cfg, flags);

	return !memcmp(a->name, b->name, sizeof(a->name)) &&
	       a->source_hash == b->source_hash &&
	       !memcmp((const char *)a + rest, (const char *)b + rest,
		       sizeof(*a) - rest);
}

/*
 * Counters are kept per (rule, version) and per (version, backend) counter
 * slot, and slots follow names and addresses (compile_counter_slots). A rule,
 * version or backend new to the route starts from zero: zero its slots
 * before the config that counts into them is published, while no program
 * writes them yet.
 */
static void zero_new_counters(const struct steer_maps *m, __u32 id,
			      const struct steer_route_cfg *prev,
			      const struct steer_route_cfg *cfg)
{
	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		bool new_rule =
			compile_rule_index(prev, cfg->rules[r].name) < 0;
		__u32 row = cfg->rules[r].counter_slot;

		if (new_rule)
			maps_stats_clear_slot(m, id, row, STEER_MAX_VERSIONS);
		for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS;
		     v++)
			if (new_rule ||
			    compile_version_index(prev, cfg->versions[v].name) <
				    0)
				maps_stats_clear_slot(
					m, id, row,
					cfg->versions[v].counter_slot);
	}
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *ver = &cfg->versions[v];
		int pv = compile_version_index(prev, ver->name);

		if (pv < 0)
			maps_rtt_clear(m, id, ver->counter_slot);
		for (int b = 0; b < ver->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++)
			if (pv < 0 ||
			    compile_backend_index(&prev->versions[pv],
						  &ver->backends[b]) < 0)
				maps_backend_stats_clear(
					m, id, ver->counter_slot,
					ver->backends[b].counter_slot);
	}
}

static void frontend_entry(const struct route_frontend *f, __u32 id, int idx,
			   struct steer_frontend_key *k,
			   struct steer_frontend *v)
{
	memset(k, 0, sizeof(*k));
	memset(v, 0, sizeof(*v));
	memcpy(k->addr, f->addr.addr, sizeof(k->addr));
	k->port = htons(f->addr.port);
	k->family = f->addr.family;
	k->proto = f->proto;
	v->route_id = id;
	v->target_port = htons(f->target_port);
	v->index = (__u16)idx;
}

static int cmp_frontend_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct steer_frontend_key));
}

/* Delete the frontends no route of @set has. */
static int prune_frontends(const struct steer_maps *m,
			   const struct route_set *set)
{
	struct steer_frontend_key key, next, *prev = NULL;
	struct steer_frontend_key *gone = NULL, *want;
	int n = 0, n_want = 0, ret = 0;

	/* The wanted keys, sorted: one lookup per live frontend, not a scan
	 * of every route's frontends (quadratic in the number of routes). */
	for (int r = 0; r < set->n; r++)
		n_want += set->routes[r].n_frontends;
	want = calloc(n_want ? n_want : 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	n_want = 0;
	for (int r = 0; r < set->n; r++) {
		for (int f = 0; f < set->routes[r].n_frontends; f++) {
			struct steer_frontend v;

			frontend_entry(&set->routes[r].frontends[f], 0, f,
				       &want[n_want++], &v);
		}
	}
	qsort(want, n_want, sizeof(*want), cmp_frontend_key);
	while (!bpf_map_get_next_key(m->frontends, prev, &next)) {
		if (!bsearch(&next, want, n_want, sizeof(*want),
			     cmp_frontend_key)) {
			struct steer_frontend_key *g =
				realloc(gone, (n + 1) * sizeof(*gone));

			if (!g) {
				free(gone);
				free(want);
				return -ENOMEM;
			}
			gone = g;
			gone[n++] = next;
		}
		key = next;
		prev = &key;
	}
	free(want);
	for (int i = 0; i < n && !ret; i++)
		if (bpf_map_delete_elem(m->frontends, &gone[i]) &&
		    errno != ENOENT)
			ret = -errno;
	free(gone);
	return ret;
}

int apply_routes(struct steer_maps *m, const struct route_set *set,
		 const char *cgroup_root, struct apply_stats *st, char *err,
		 size_t errlen)
{
	struct steer_route_cfg *cfgs = NULL;
	struct live live;
	struct timespec now;
	__u32 *ids = NULL, next_id = 0;
	__u64 generation = 0;
	const struct steer_route_cfg **prevs = NULL, **pub_cfgs = NULL;
	__u32 *pub_ids = NULL, *gone = NULL;
	bool *publish = NULL, *fresh = NULL;
	int ret, n_pub = 0, n_gone = 0;

	memset(st, 0, sizeof(*st));
	ret = live_read(m, &live);
	if (ret) {
		snprintf(err, errlen, "cannot read live routes: %s",
			 strerror(-ret));
		goto out;
	}
	for (int i = 0; i < live.n; i++)
		if (live.cfgs[i].generation > generation)
			generation = live.cfgs[i].generation;
	st->generation = generation++;
	if ((__u32)set->n > m->max_routes) {
		ret = -E2BIG;
		snprintf(err, errlen, "%d routes, more than --max-routes %u",
			 set->n, m->max_routes);
		goto out;
	}
	cfgs = calloc(set->n ? set->n : 1, sizeof(*cfgs));
	ids = calloc(set->n ? set->n : 1, sizeof(*ids));
	publish = calloc(set->n ? set->n : 1, sizeof(*publish));
	fresh = calloc(set->n ? set->n : 1, sizeof(*fresh));
	prevs = calloc(set->n ? set->n : 1, sizeof(*prevs));
	pub_cfgs = calloc(set->n ? set->n : 1, sizeof(*pub_cfgs));
	pub_ids = calloc(set->n ? set->n : 1, sizeof(*pub_ids));
	gone = calloc(live.n + set->n + 1, sizeof(*gone));
	if (!cfgs || !ids || !publish || !fresh || !prevs || !pub_cfgs ||
	    !pub_ids || !gone) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);

	/* 1. Compile everything; nothing is written yet. */
	for (int i = 0; i < set->n; i++) {
		const struct route *r = &set->routes[i];
		int li = live_find(&live, r->name);
		const struct steer_route_cfg *prev =
			li >= 0 ? &live.cfgs[li] : NULL;

		prevs[i] = prev;
		ret = compile_route(r, cgroup_root, prev, &cfgs[i], err,
				    errlen);
		if (ret)
			goto out;
		if (li >= 0) {
			ids[i] = live.ids[li];
			live.wanted[li] = true;
		} else {
			while (id_taken(&live, ids, i, next_id))
				next_id++;
			ids[i] = next_id++;
			fresh[i] = true;
		}
		if (prev && (prev->flags & STEER_ROUTE_OVERRIDE) &&
		    prev->source_hash == cfgs[i].source_hash) {
			st->kept++;
			continue;
		}
		if (prev && cfg_same(prev, &cfgs[i])) {
			st->unchanged++;
			continue;
		}
		cfgs[i].generation = generation;
		cfgs[i].applied_ns =
			(__u64)now.tv_sec * 1000000000ull + now.tv_nsec;
		publish[i] = true;
	}
	for (int i = 0; i < set->n; i++) {
		if (ids[i] >= m->max_routes) {
			ret = -E2BIG;
			snprintf(err, errlen, "route id %u beyond --max-routes",
				 ids[i]);
			goto out;
		}
	}

	/* 2. Publish configs, each in one swap, before frontends point at them.
	 * Counters first: a config must find its new slots at zero. */
	for (int i = 0; i < set->n; i++) {
		if (!publish[i])
			continue;
		if (fresh[i]) /* a reused id: no old counts (below) */
			gone[n_gone++] = ids[i];
		else
			zero_new_counters(m, ids[i], prevs[i], &cfgs[i]);
		pub_ids[n_pub] = ids[i];
		pub_cfgs[n_pub++] = &cfgs[i];
	}
	maps_stats_clear_many(m, gone, n_gone);
	n_gone = 0;
	ret = maps_route_publish_many(m, pub_ids, pub_cfgs, n_pub);
	if (ret) {
		snprintf(err, errlen, "cannot publish %d route%s: %s", n_pub,
			 n_pub == 1 ? "" : "s", strerror(-ret));
		goto out;
	}
	st->published = n_pub;
	if (n_pub)
		st->generation = generation;

	/* 3. Point frontends at their routes, then drop the ones gone. */
	for (int i = 0; i < set->n; i++) {
		const struct route *r = &set->routes[i];

		for (int f = 0; f < r->n_frontends; f++) {
			struct steer_frontend_key k;
			struct steer_frontend v;

			frontend_entry(&r->frontends[f], ids[i], f, &k, &v);
			if (bpf_map_update_elem(m->frontends, &k, &v,
						BPF_ANY)) {
				ret = -errno;
				snprintf(err, errlen,
					 "cannot write frontend of %s: %s",
					 r->name, strerror(errno));
				goto out;
			}
		}
	}
	ret = prune_frontends(m, set);
	if (ret) {
		snprintf(err, errlen, "cannot remove frontends: %s",
			 strerror(-ret));
		goto out;
	}

	/* 4. Routes no file has any more: nothing points at them now. */
	for (int i = 0; i < live.n; i++)
		if (!live.wanted[i])
			gone[n_gone++] = live.ids[i];
	ret = maps_route_delete_many(m, gone, n_gone);
	if (ret) {
		snprintf(err, errlen, "cannot remove %d route%s: %s", n_gone,
			 n_gone == 1 ? "" : "s", strerror(-ret));
		goto out;
	}
	maps_stats_clear_many(m, gone, n_gone);
	st->removed = n_gone;
	if (n_gone)
		st->generation = generation;
out:
	live_free(&live);
	free(cfgs);
	free(ids);
	free(publish);
	free(fresh);
	free(prevs);
	free(pub_cfgs);
	free(pub_ids);
	free(gone);
	return ret;
}
