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
#include "apply_internal.h"
#include "compile.h"
#include "log.h"

/*
 * What is live now, from the route index (name -> id, generation, source
 * hash) and the outer map's ids: no route's rows are read unless its file
 * changed. @wanted marks index entries a route of the set still has.
 */
struct live {
	int n;
	struct maps_index_entry *idx; /* sorted by name */
	bool *wanted;
	int n_ids;
	__u32 *ids; /* every route id in the outer map, ascending */
	/* Bitmaps of max_routes bits over route ids. */
	__u8 *taken;   /* in the outer map, in the index, or given out */
	__u8 *in_map;  /* in the outer map */
	__u8 *indexed; /* named by the index */
	__u8 *mine;    /* given to a route of the set being applied */
	__u64 generation;
};

static void live_free(struct live *l)
{
	free(l->idx);
	free(l->wanted);
	free(l->ids);
	free(l->taken);
	free(l->in_map);
	free(l->indexed);
	free(l->mine);
	memset(l, 0, sizeof(*l));
}

static void bit_set(__u8 *bits, __u32 id, __u32 max)
{
	if (id < max)
		bits[id / 8] |= (__u8)(1u << (id % 8));
}

static bool bit_get(const __u8 *bits, __u32 id, __u32 max)
{
	return id < max && (bits[id / 8] & (1u << (id % 8)));
}

static int live_read(const struct steer_maps *m, struct live *l)
{
	__u32 max = m->max_routes;
	int n;

	memset(l, 0, sizeof(*l));
	n = maps_index_read(m, &l->idx);
	if (n < 0)
		return n;
	l->n = n;
	n = maps_route_ids(m, &l->ids);
	if (n < 0)
		return n;
	l->n_ids = n;
	l->wanted = calloc(l->n ? l->n : 1, sizeof(*l->wanted));
	l->taken = calloc(max / 8 + 1, 1);
	l->in_map = calloc(max / 8 + 1, 1);
	l->indexed = calloc(max / 8 + 1, 1);
	l->mine = calloc(max / 8 + 1, 1);
	if (!l->wanted || !l->taken || !l->in_map || !l->indexed || !l->mine)
		return -ENOMEM;
	for (int i = 0; i < l->n_ids; i++) {
		bit_set(l->taken, l->ids[i], max);
		bit_set(l->in_map, l->ids[i], max);
	}
	for (int i = 0; i < l->n; i++) {
		bit_set(l->taken, l->idx[i].v.id, max);
		bit_set(l->indexed, l->idx[i].v.id, max);
		if (l->idx[i].v.generation > l->generation)
			l->generation = l->idx[i].v.generation;
	}
	return 0;
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
						  &ver->backends[b]) < 0) {
				maps_backend_stats_clear(
					m, id, ver->counter_slot,
					ver->backends[b].counter_slot);
				/* A backend new to its slot starts healthy. */
				maps_health_clear(
					m, id, ver->counter_slot,
					ver->backends[b].counter_slot);
			}
	}
}

void apply_frontend_entry(const struct route_frontend *f, __u32 id, int idx,
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
	struct steer_frontend_key *want, *live;
	int n_want = 0, ret = 0;
	__u32 n_live, n = 0;

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

			apply_frontend_entry(&set->routes[r].frontends[f], 0, f,
					     &want[n_want++], &v);
		}
	}
	qsort(want, n_want, sizeof(*want), cmp_frontend_key);
	/* Every live key in a few batched reads (a walk took a syscall a
	 * key: 0.1 s at 100k routes, in every full apply). */
	ret = maps_read_all(m->frontends, sizeof(*live),
			    sizeof(struct steer_frontend), (void **)&live, NULL,
			    &n_live);
	if (ret) {
		free(want);
		return ret;
	}
	for (__u32 i = 0; i < n_live; i++)
		if (!bsearch(&live[i], want, n_want, sizeof(*want),
			     cmp_frontend_key))
			live[n++] = live[i]; /* gone, kept in place */
	free(want);
	for (__u32 i = 0; i < n && !ret; i++)
		if (bpf_map_delete_elem(m->frontends, &live[i]) &&
		    errno != ENOENT)
			ret = -errno;
	free(live);
	return ret;
}

/* Routes compiled and published per round: bounds the memory in use. */
#define APPLY_CHUNK 64

/*
 * Whether route @id's live steerctl override outlives the change to
 * @scratch: the file itself is the same (equal file hashes), only what
 * its dns/srv entries resolve to changed. Then the new addresses go live
 * with steerctl's splits and ejections, as the override survives a steerd
 * restart; a changed file still wins. One header read, only for an
 * overridden route whose source hash changed.
 */
static bool dns_only_changed(const struct steer_maps *m, __u32 id,
			     const struct steer_route_cfg *scratch)
{
	struct steer_route_hdr h;

	return scratch->file_hash && !maps_route_hdr(m, id, &h) &&
	       h.file_hash == scratch->file_hash;
}

/*
 * Route @id's live config into @prev: 1, or 0 when it has none (@fresh,
 * or not in the map), or -errno. A live route that cannot be read (EPERM
 * without CAP_SYS_ADMIN: inner maps are found by id) must not be
 * published over as if new: its tables and counter slots would not carry
 * over.
 */
static int live_prev(const struct steer_maps *m, __u32 id, bool fresh,
		     struct steer_route_cfg *prev, const char *name, char *err,
		     size_t errlen)
{
	int ret = fresh ? -ENOENT : maps_route_get(m, id, prev);

	if (ret == -ENOENT)
		return 0;
	if (ret) {
		snprintf(err, errlen, "cannot read live route %s: %s", name,
			 strerror(-ret));
		return ret;
	}
	return 1;
}

int apply_publish_changed(struct steer_maps *m, const struct route_set *set,
			  const int *which, int n, const __u32 *ids,
			  const bool *fresh, const bool *keep,
			  const char *cgroup_root, __u64 generation,
			  __u64 now_ns, char *err, size_t errlen)
{
	/* A config is 165 KB: as many as this publish needs, not a whole
	 * chunk's 10 MB zeroed for a one-route change. */
	int chunk = n < APPLY_CHUNK ? (n > 0 ? n : 1) : APPLY_CHUNK;
	struct steer_route_cfg *cfgs = calloc((size_t)chunk, sizeof(*cfgs));
	struct steer_route_cfg *prev = calloc(1, sizeof(*prev));
	const struct steer_route_cfg *pub[APPLY_CHUNK];
	bool pub_absent[APPLY_CHUNK];
	__u32 pub_ids[APPLY_CHUNK];
	int ret = 0;

	if (!cfgs || !prev) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (int done = 0; done < n && !ret;) {
		int k = 0;

		for (; k < chunk && done + k < n; k++) {
			int i = which[done + k];
			int had = live_prev(m, ids[i], fresh[i], prev,
					    set->routes[i].name, err, errlen);

			if (had < 0) {
				ret = had;
				goto out;
			}
			ret = compile_route(&set->routes[i], cgroup_root,
					    had ? prev : NULL, &cfgs[k], err,
					    errlen);
			if (ret)
				goto out;
			if (had && keep[i])
				compile_keep_overrides(&cfgs[k], prev);
			cfgs[k].generation = generation;
			cfgs[k].applied_ns = now_ns;
			/* Counters first: a config must find its new slots
			 * at zero. */
			if (had)
				zero_new_counters(m, ids[i], prev, &cfgs[k]);
			pub[k] = &cfgs[k];
			pub_ids[k] = ids[i];
			/* A fresh id is in no live route (the plan's walk of
			 * the map, or the memo at an unchanged generation):
			 * the publish need not read its header. */
			pub_absent[k] = fresh[i];
		}
		ret = maps_route_publish_absent(m, pub_ids, pub, pub_absent, k);
		if (ret)
			snprintf(err, errlen, "cannot publish %d route%s: %s",
				 k, k == 1 ? "" : "s", strerror(-ret));
		done += k;
	}
out:
	route_cfg_destroy(cfgs, chunk);
	route_cfg_destroy(prev, 1);
	return ret;
}

int apply_write_frontends(const struct steer_maps *m,
			  const struct route_set *set, const int *which,
			  int n_which, const __u32 *ids, char *err,
			  size_t errlen)
{
	enum { BATCH = 4096 };
	struct steer_frontend_key *k = calloc(BATCH, sizeof(*k));
	struct steer_frontend *v = calloc(BATCH, sizeof(*v));
	int n = 0, ret = 0;

	if (!k || !v) {
		ret = -ENOMEM;
		goto out;
	}
	if (!which)
		n_which = set->n;
	for (int w = 0; w <= n_which && !ret; w++) {
		int i = w < n_which ? which ? which[w] : w : -1;
		const struct route *r = i >= 0 ? &set->routes[i] : NULL;

		for (int f = 0; r && f < r->n_frontends; f++)
			apply_frontend_entry(&r->frontends[f], ids[i], f, &k[n],
					     &v[n]),
				n++;
		if (n && (n + STEER_MAX_FRONTENDS > BATCH || !r)) {
			__u32 count = (__u32)n;

			if (bpf_map_update_batch(m->frontends, k, v, &count,
						 NULL))
				for (__u32 j = count; j < (__u32)n && !ret; j++)
					if (bpf_map_update_elem(m->frontends,
								&k[j], &v[j],
								BPF_ANY))
						ret = -errno;
			n = 0;
		}
	}
out:
	if (ret)
		snprintf(err, errlen, "cannot write frontends: %s",
			 strerror(-ret));
	free(k);
	free(v);
	return ret;
}

void apply_plan_free(struct plan *p)
{
	free(p->ids);
	free(p->fresh);
	free(p->keep);
	free(p->changed);
	free(p->gone);
}

int apply_plan_alloc(struct plan *p, int n, int n_gone)
{
	memset(p, 0, sizeof(*p));
	p->ids = calloc(n + 1, sizeof(*p->ids));
	p->fresh = calloc(n + 1, sizeof(*p->fresh));
	p->keep = calloc(n + 1, sizeof(*p->keep));
	p->changed = calloc(n + 1, sizeof(*p->changed));
	p->gone = calloc(n_gone + n + 1, sizeof(*p->gone));
	return p->ids && p->fresh && p->keep && p->changed && p->gone ? 0
								      : -ENOMEM;
}

/* Route @i's id: the one the index gives its name, else the lowest free. */
static int plan_id(struct plan *p, struct live *l, __u32 max, int i,
		   const struct maps_index_entry **e, char *err, size_t errlen)
{
	if (*e) {
		p->ids[i] = (*e)->v.id;
		l->wanted[*e - l->idx] = true;
		/* An index entry whose route is gone from the map (a delete
		 * that died before the index's): publish it again. */
		if (!bit_get(l->in_map, (*e)->v.id, max))
			*e = NULL;
	} else {
		while (p->next_id < max && bit_get(l->taken, p->next_id, max))
			p->next_id++;
		if (p->next_id >= max) {
			snprintf(err, errlen,
				 "no free route id below --max-routes %u", max);
			return -E2BIG;
		}
		p->ids[i] = p->next_id;
		bit_set(l->taken, p->next_id++, max);
		p->fresh[i] = true;
	}
	bit_set(l->mine, p->ids[i], max);
	return 0;
}

void apply_classify(const struct steer_maps *m, struct route *r, int i,
		    const struct maps_index_entry *e,
		    const struct steer_route_cfg *scratch, struct plan *p,
		    struct apply_stats *st)
{
	if (e && (e->v.flags & STEER_ROUTE_OVERRIDE) &&
	    e->v.source_hash == scratch->source_hash)
		st->kept++;
	else if (e && e->v.source_hash == scratch->source_hash &&
		 e->v.encoding == STEER_ROWS_ENCODING)
		st->unchanged++;
	else
		p->changed[p->n_changed++] = i;
	if (e && (e->v.flags & STEER_ROUTE_OVERRIDE) &&
	    e->v.source_hash != scratch->source_hash)
		p->keep[i] = dns_only_changed(m, e->v.id, scratch);
	r->applied.source_hash = scratch->source_hash;
}

/*
 * 1. Check that every route compiles and find what changed, from the
 * source hash the index keeps: nothing is written yet, so a bad input
 * changes nothing.
 */
static int plan_routes(const struct steer_maps *m, struct route_set *set,
		       const char *cgroup_root, struct live *l, struct plan *p,
		       struct apply_stats *st, char *err, size_t errlen)
{
	struct steer_route_cfg *scratch = calloc(1, sizeof(*scratch));
	int ret = scratch ? 0 : -ENOMEM;

	for (int i = 0; i < set->n && !ret; i++) {
		struct route *r = &set->routes[i];
		const struct maps_index_entry *e =
			maps_index_find(l->idx, l->n, r->name);

		ret = compile_route_check(r, cgroup_root, scratch, err, errlen);
		if (!ret)
			ret = plan_id(p, l, m->max_routes, i, &e, err, errlen);
		if (ret)
			break;
		apply_classify(m, r, i, e, scratch, p, st);
	}
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	route_cfg_destroy(scratch, 1);
	return ret;
}

/* 4. Routes no file has any more (nothing points at them now), and routes
 * of the map no index entry names (a publish that died before its index
 * write) that the set did not take. */
static int remove_gone(const struct steer_maps *m, struct live *l,
		       struct plan *p, char *err, size_t errlen)
{
	int ret;

	p->n_gone = 0;
	for (int i = 0; i < l->n; i++)
		if (!l->wanted[i])
			p->gone[p->n_gone++] = l->idx[i].v.id;
	for (int i = 0; i < l->n_ids; i++)
		if (!bit_get(l->mine, l->ids[i], m->max_routes) &&
		    !bit_get(l->indexed, l->ids[i], m->max_routes))
			p->gone[p->n_gone++] = l->ids[i];
	ret = maps_route_delete_many(m, p->gone, p->n_gone);
	if (ret) {
		snprintf(err, errlen, "cannot remove %d route%s: %s", p->n_gone,
			 p->n_gone == 1 ? "" : "s", strerror(-ret));
		return ret;
	}
	maps_stats_clear_many(m, p->gone, p->n_gone);
	return 0;
}

/* What a successful full apply leaves for the next one to go on from. */
static void remember_full(struct apply_memo *memo, struct route_set *set,
			  const struct plan *p, const struct live *l, __u32 max,
			  __u64 generation)
{
	for (int i = 0; i < set->n; i++) {
		set->routes[i].applied.id = p->ids[i];
		set->routes[i].applied.valid = true;
	}
	free(memo->taken);
	memo->taken = l->mine; /* the ids live now: the set's own */
	memo->max = max;
	memo->generation = generation;
	memo->valid = true;
}

/* Every route of @set checked against the whole of the live maps. */
static int apply_full(struct steer_maps *m, struct route_set *set,
		      const char *cgroup_root, struct apply_memo *memo,
		      struct apply_stats *st, char *err, size_t errlen)
{
	struct timespec now;
	struct plan p = { 0 };
	struct live live;
	__u64 generation;
	int ret;

	maps_backend_ids_session(m, true);
	ret = live_read(m, &live);
	if (ret) {
		snprintf(err, errlen, "cannot read live routes: %s",
			 strerror(-ret));
		goto out;
	}
	st->generation = live.generation;
	generation = live.generation + 1;
	if ((__u32)set->n > m->max_routes) {
		ret = -E2BIG;
		snprintf(err, errlen, "%d routes, more than --max-routes %u",
			 set->n, m->max_routes);
		goto out;
	}
	ret = apply_plan_alloc(&p, set->n, live.n + live.n_ids);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	ret = plan_routes(m, set, cgroup_root, &live, &p, st, err, errlen);
	if (ret)
		goto out;

	/* 2. Publish what changed, each route in one swap, before frontends
	 * point at it. A fresh id starts with no counts. */
	for (int c = 0; c < p.n_changed; c++)
		if (p.fresh[p.changed[c]])
			p.gone[p.n_gone++] = p.ids[p.changed[c]];
	maps_stats_clear_many(m, p.gone, p.n_gone);
	clock_gettime(CLOCK_REALTIME, &now);
	ret = apply_publish_changed(
		m, set, p.changed, p.n_changed, p.ids, p.fresh, p.keep,
		cgroup_root, generation,
		(__u64)now.tv_sec * 1000000000ull + now.tv_nsec, err, errlen);
	if (ret)
		goto out;
	st->published = p.n_changed;

	/* 3. Point frontends at their routes, then drop the ones gone. */
	ret = apply_write_frontends(m, set, NULL, 0, p.ids, err, errlen);
	if (!ret) {
		ret = prune_frontends(m, set);
		if (ret)
			snprintf(err, errlen, "cannot remove frontends: %s",
				 strerror(-ret));
	}
	if (!ret)
		ret = remove_gone(m, &live, &p, err, errlen);
	if (ret)
		goto out;
	st->removed = p.n_gone;
	if (p.n_changed || p.n_gone)
		st->generation = generation;
	if (memo) {
		remember_full(memo, set, &p, &live, m->max_routes,
			      st->generation);
		live.mine = NULL; /* now the memo's */
	}
out:
	maps_backend_ids_session(m, false);
	live_free(&live);
	apply_plan_free(&p);
	return ret;
}

int apply_routes(struct steer_maps *m, struct route_set *set,
		 struct route_set *prev, const char *cgroup_root,
		 struct apply_memo *memo, struct apply_stats *st, char *err,
		 size_t errlen)
{
	int ret;

	memset(st, 0, sizeof(*st));
	if (memo && memo->valid && prev && memo->max == m->max_routes &&
	    maps_generation(m) == memo->generation)
		ret = apply_delta(m, set, prev, cgroup_root, memo, st, err,
				  errlen);
	else
		ret = -EAGAIN;
	if (memo)
		memo->valid = false; /* until an apply succeeds */
	if (ret == -EAGAIN)
		ret = apply_full(m, set, cgroup_root, memo, st, err, errlen);
	else if (!ret)
		memo->valid = true;
	return ret;
}

void apply_memo_free(struct apply_memo *memo)
{
	free(memo->taken);
	memset(memo, 0, sizeof(*memo));
}
