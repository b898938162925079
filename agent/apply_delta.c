// SPDX-License-Identifier: BSD-2-Clause
/*
 * An apply that looks only at what changed since the previous one (see
 * apply_routes). The routes routes_load_dir_from took unchanged from the
 * previous set are live as they were: their ids are in their `applied`
 * records, and nothing of them is read or written. What is left is:
 *  - the routes parsed anew (or whose compiled form depends on more than
 *    their text): compiled, looked up in the index by name, published if
 *    their source changed, their frontends written;
 *  - the routes left in the previous set: gone, unless a route parsed
 *    anew has the name; their frontends that no route parsed anew claims
 *    are deleted.
 * A one-route change with 100,000 routes live costs a few syscalls, where
 * the full apply reads the index, the outer map and the frontends whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "apply_internal.h"

static int cmp_route_name(const void *a, const void *b)
{
	return strcmp((*(const struct route *const *)a)->name,
		      (*(const struct route *const *)b)->name);
}

static const struct route *find_name(const struct route *const *sorted, int n,
				     const char *name)
{
	struct route key;
	const struct route *k = &key, *const * hit;

	memcpy(key.name, name, sizeof(key.name));
	hit = n ? bsearch(&k, sorted, n, sizeof(*sorted), cmp_route_name)
		: NULL;
	return hit ? *hit : NULL;
}

static bool taken(const struct apply_memo *memo, __u32 id)
{
	return id < memo->max && (memo->taken[id / 8] & (1u << (id % 8)));
}

static void take(struct apply_memo *memo, __u32 id, bool on)
{
	if (id >= memo->max)
		return;
	if (on)
		memo->taken[id / 8] |= (__u8)(1u << (id % 8));
	else
		memo->taken[id / 8] &= (__u8) ~(1u << (id % 8));
}

/* What the delta works on: the routes parsed anew and those left over. */
struct delta {
	int *touched, n_touched;
	const struct route **left; /* sorted by name */
	int n_left;
	const struct route **names; /* the touched routes, sorted by name */
};

static void delta_free(struct delta *d)
{
	free(d->touched);
	free(d->left);
	free(d->names);
}

/* -EAGAIN when a leftover was never applied: only a full apply can tell
 * what of it is live. */
static int delta_init(struct delta *d, struct route_set *set,
		      const struct route_set *prev)
{
	memset(d, 0, sizeof(*d));
	d->touched = calloc(set->n + 1, sizeof(*d->touched));
	d->names = calloc(set->n + 1, sizeof(*d->names));
	d->left = calloc(prev->n + 1, sizeof(*d->left));
	if (!d->touched || !d->names || !d->left)
		return -ENOMEM;
	for (int i = 0; i < prev->n; i++) {
		const struct route *r = &prev->routes[i];

		if (!r->name[0])
			continue; /* taken by @set */
		if (!r->applied.valid)
			return -EAGAIN;
		d->left[d->n_left++] = r;
	}
	qsort(d->left, d->n_left, sizeof(*d->left), cmp_route_name);
	for (int i = 0; i < set->n; i++) {
		struct route *r = &set->routes[i];

		/* A route taken whose text is all it depends on is live
		 * as it was (route.text_only). */
		if (r->reused_from && r->applied.valid && r->text_only)
			continue;
		d->touched[d->n_touched] = i;
		d->names[d->n_touched++] = r;
	}
	qsort(d->names, d->n_touched, sizeof(*d->names), cmp_route_name);
	return 0;
}

/*
 * Route @i's id: its index entry's (*@e, NULL when there is none or its
 * rows are missing: then it is published again), else the lowest free.
 * An index entry naming an id another live route holds is a state only a
 * full apply sorts out: -EAGAIN.
 */
static int delta_id(const struct steer_maps *m, struct apply_memo *memo,
		    const struct delta *d, struct plan *p, int i,
		    const char *name, struct maps_index_entry *ent,
		    const struct maps_index_entry **e, char *err, size_t errlen)
{
	*e = maps_index_get(m, name, ent) ? NULL : ent;
	if (*e) {
		const struct route *was = find_name(d->left, d->n_left, name);
		__u32 id = ent->v.id;

		if (id >= memo->max ||
		    (taken(memo, id) && (!was || was->applied.id != id)))
			return -EAGAIN;
		p->ids[i] = id;
		if (!maps_route_present(m, id))
			*e = NULL;
		take(memo, id, true);
		return 0;
	}
	while (p->next_id < memo->max && taken(memo, p->next_id))
		p->next_id++;
	if (p->next_id >= memo->max) {
		snprintf(err, errlen, "no free route id below --max-routes %u",
			 memo->max);
		return -E2BIG;
	}
	p->ids[i] = p->next_id;
	p->fresh[i] = true;
	take(memo, p->next_id++, true);
	return 0;
}

/* 1. Compile and classify the touched routes; nothing is written yet. */
static int delta_plan(const struct steer_maps *m, struct route_set *set,
		      const char *cgroup_root, struct apply_memo *memo,
		      const struct delta *d, struct plan *p,
		      struct apply_stats *st, char *err, size_t errlen)
{
	struct steer_route_cfg *scratch = calloc(1, sizeof(*scratch));
	int ret = scratch ? 0 : -ENOMEM;

	for (int i = 0; i < set->n; i++)
		if (set->routes[i].applied.valid)
			p->ids[i] = set->routes[i].applied.id;
	st->unchanged = set->n - d->n_touched;
	for (int t = 0; t < d->n_touched && !ret; t++) {
		int i = d->touched[t];
		struct route *r = &set->routes[i];
		const struct maps_index_entry *e;
		struct maps_index_entry ent;

		ret = compile_route_check(r, cgroup_root, scratch, err, errlen);
		if (!ret)
			ret = delta_id(m, memo, d, p, i, r->name, &ent, &e, err,
				       errlen);
		if (!ret)
			apply_classify(m, r, i, e, scratch, p, st);
	}
	route_cfg_destroy(scratch, 1);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return ret;
}

/* 2. The ids (and names) of leftovers no touched route took over. */
static void delta_gone(const struct delta *d, const struct route_set *set,
		       struct plan *p, const char **gone_names)
{
	for (int k = 0; k < d->n_left; k++) {
		const struct route *was = d->left[k];
		const struct route *now =
			find_name(d->names, d->n_touched, was->name);

		if (!now || p->ids[now - set->routes] != was->applied.id) {
			gone_names[p->n_gone] = was->name;
			p->gone[p->n_gone++] = was->applied.id;
		}
	}
}

static int cmp_frontend_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct steer_frontend_key));
}

/* 3. The leftovers' frontends that no touched route claims. */
static int delta_prune(const struct steer_maps *m, const struct delta *d,
		       const struct route_set *set)
{
	struct steer_frontend_key *want, k;
	struct steer_frontend v;
	int n = 0, ret = 0;

	want = calloc((size_t)d->n_touched * STEER_MAX_FRONTENDS + 1,
		      sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (int t = 0; t < d->n_touched; t++) {
		const struct route *r = &set->routes[d->touched[t]];

		for (int f = 0; f < r->n_frontends; f++)
			apply_frontend_entry(&r->frontends[f], 0, f, &want[n++],
					     &v);
	}
	qsort(want, n, sizeof(*want), cmp_frontend_key);
	for (int l = 0; l < d->n_left && !ret; l++) {
		const struct route *r = d->left[l];

		for (int f = 0; f < r->n_frontends && !ret; f++) {
			apply_frontend_entry(&r->frontends[f], 0, f, &k, &v);
			if (bsearch(&k, want, n, sizeof(*want),
				    cmp_frontend_key))
				continue;
			if (bpf_map_delete_elem(m->frontends, &k) &&
			    errno != ENOENT)
				ret = -errno;
		}
	}
	free(want);
	return ret;
}

/* 2-4: publish, point frontends, remove what is gone. */
static int delta_write(struct steer_maps *m, const struct route_set *set,
		       const char *cgroup_root, const struct delta *d,
		       struct plan *p, __u64 generation, char *err,
		       size_t errlen)
{
	const char **gone_names = calloc(d->n_left + 1, sizeof(*gone_names));
	struct timespec now;
	int n_cleared, ret;

	if (!gone_names) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	delta_gone(d, set, p, gone_names);
	n_cleared = p->n_gone;
	for (int c = 0; c < p->n_changed; c++)
		if (p->fresh[p->changed[c]])
			p->gone[n_cleared++] = p->ids[p->changed[c]];
	maps_stats_clear_many(m, p->gone, n_cleared); /* fresh ids: 0 */
	clock_gettime(CLOCK_REALTIME, &now);
	ret = apply_publish_changed(
		m, set, p->changed, p->n_changed, p->ids, p->fresh, p->keep,
		cgroup_root, generation,
		(__u64)now.tv_sec * 1000000000ull + now.tv_nsec, err, errlen);
	if (!ret)
		ret = apply_write_frontends(m, set, d->touched, d->n_touched,
					    p->ids, err, errlen);
	if (!ret) {
		ret = delta_prune(m, d, set);
		if (ret)
			snprintf(err, errlen, "cannot remove frontends: %s",
				 strerror(-ret));
	}
	if (!ret) {
		ret = maps_route_delete_named(m, p->gone, gone_names,
					      p->n_gone);
		if (ret)
			snprintf(err, errlen, "cannot remove %d route%s: %s",
				 p->n_gone, p->n_gone == 1 ? "" : "s",
				 strerror(-ret));
		else
			maps_stats_clear_many(m, p->gone, p->n_gone);
	}
	free(gone_names);
	return ret;
}

int apply_delta(struct steer_maps *m, struct route_set *set,
		struct route_set *prev, const char *cgroup_root,
		struct apply_memo *memo, struct apply_stats *st, char *err,
		size_t errlen)
{
	__u64 generation = memo->generation + 1;
	struct plan p = { 0 };
	struct delta d;
	int ret;

	if ((__u32)set->n > m->max_routes) {
		snprintf(err, errlen, "%d routes, more than --max-routes %u",
			 set->n, m->max_routes);
		return -E2BIG;
	}
	ret = delta_init(&d, set, prev);
	if (!ret)
		ret = apply_plan_alloc(&p, set->n, d.n_left);
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (!ret)
		ret = delta_plan(m, set, cgroup_root, memo, &d, &p, st, err,
				 errlen);
	if (!ret)
		ret = delta_write(m, set, cgroup_root, &d, &p, generation, err,
				  errlen);
	if (!ret) {
		for (int g = 0; g < p.n_gone; g++)
			take(memo, p.gone[g], false);
		for (int t = 0; t < d.n_touched; t++) {
			struct route *r = &set->routes[d.touched[t]];

			r->applied.id = p.ids[d.touched[t]];
			r->applied.valid = true;
			take(memo, r->applied.id, true);
		}
		st->published = p.n_changed;
		st->removed = p.n_gone;
		st->generation = memo->generation;
		if (p.n_changed || p.n_gone)
			st->generation = memo->generation = generation;
	}
	delta_free(&d);
	apply_plan_free(&p);
	return ret;
}
