// SPDX-License-Identifier: BSD-2-Clause
/*
 * What spans routes: duplicate route names and frontends, found by
 * sorting (O(n log n) where comparing every pair took minutes at 100k
 * routes). The error is the one a walk in file order meets first (a
 * route's name before its frontends), naming the first place too.
 *
 * A reload checks the set it is about to build (a route_plan: routes
 * parsed anew and routes taken from the previous set, which keep their
 * old line numbers until the set is built: their shift is added here).
 * The taken routes were checked among themselves by the previous load,
 * so every duplicate involves a route parsed anew: only the keys of those
 * are looked for among the others, in one pass that allocates nothing the
 * size of the set.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "routes_internal.h"

/* The routes a check walks: a set, or a plan over the previous set. */
struct view {
	const struct route_set *set;
	const struct route_plan *pl;
	const struct route_set *prev;
};

static int view_n(const struct view *v)
{
	return v->pl ? v->pl->n : v->set->n;
}

/* Route @i, *@shift: what to add to its line numbers, *@taken: whether
 * it comes from the previous set. */
static const struct route *view_route(const struct view *v, int i, int *shift,
				      bool *taken)
{
	*shift = 0;
	*taken = false;
	if (!v->pl)
		return &v->set->routes[i];
	return routes_plan_route(v->pl, v->prev, i, shift, taken);
}

/* A route name or a frontend with where it is: sorted, equal ones meet. */
struct seen {
	const struct route *r;
	const struct route_frontend *f; /* NULL: the route's name */
	int i, k;			/* route index, frontend index */
	int shift;			/* added to the lines of r and f */
};

/* A growing array of seen entries. */
struct seen_list {
	struct seen *e;
	size_t n;
};

static int seen_push(struct seen_list *l, struct seen s)
{
	if (l->n > INT_MAX - 1 ||
	    route_array_grow((void **)&l->e, (int)l->n, sizeof(*l->e)))
		return -ENOMEM;
	l->e[l->n++] = s;
	return 0;
}

static int cmp_key(const struct seen *a, const struct seen *b)
{
	const struct route_addr *x, *y;

	if (!a->f)
		return strcmp(a->r->name, b->r->name);
	if (a->f->proto != b->f->proto)
		return a->f->proto < b->f->proto ? -1 : 1;
	x = &a->f->addr;
	y = &b->f->addr;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->has_port != y->has_port)
		return x->has_port < y->has_port ? -1 : 1;
	if (x->has_port && x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

static int cmp_key_only(const void *a, const void *b)
{
	return cmp_key(a, b);
}

static int cmp_seen(const void *pa, const void *pb)
{
	const struct seen *a = pa, *b = pb;
	int c = cmp_key(a, b);

	if (c)
		return c;
	if (a->i != b->i)
		return a->i < b->i ? -1 : 1;
	return a->k < b->k ? -1 : a->k > b->k;
}

static void sort_seen(struct seen_list *l)
{
	if (l->n)
		qsort(l->e, l->n, sizeof(*l->e), cmp_seen);
}

/*
 * The first duplicate in file order among @n sorted entries: the entry
 * with the lowest (route, frontend) position that has an equal one before
 * it, and that first one. NULL when there is none.
 */
static const struct seen *first_dup(const struct seen *e, size_t n,
				    const struct seen **first)
{
	const struct seen *best = NULL;

	for (size_t g = 0; g < n;) {
		size_t h = g + 1;

		while (h < n && !cmp_key(&e[g], &e[h]))
			h++;
		if (h - g > 1 &&
		    (!best || e[g + 1].i < best->i ||
		     (e[g + 1].i == best->i && e[g + 1].k < best->k))) {
			best = &e[g + 1];
			*first = &e[g];
		}
		g = h;
	}
	return best;
}

/* Route @i's name into @names and its frontends into @fronts; with
 * @names_of / @fronts_of (sorted keys), only those with such a key. */
static int seen_add(const struct route *r, int i, int shift,
		    struct seen_list *names, struct seen_list *fronts,
		    const struct seen_list *names_of,
		    const struct seen_list *fronts_of)
{
	struct seen s = { .r = r, .i = i, .shift = shift };
	int ret = 0;

	if (!names_of || (names_of->n && bsearch(&s, names_of->e, names_of->n,
						 sizeof(s), cmp_key_only)))
		ret = seen_push(names, s);
	for (int k = 0; !ret && k < r->n_frontends; k++) {
		s = (struct seen){ r, &r->frontends[k], i, k, shift };
		if (!fronts_of ||
		    (fronts_of->n && bsearch(&s, fronts_of->e, fronts_of->n,
					     sizeof(s), cmp_key_only)))
			ret = seen_push(fronts, s);
	}
	return ret;
}

static int dup_error(const struct seen *dn, const struct seen *fn,
		     const struct seen *df, const struct seen *ff, char *err,
		     size_t errlen)
{
	char buf[ADDR_STR_MAX];

	if (dn && (!df || dn->i <= df->i)) {
		snprintf(err, errlen,
			 "%s:%d:%d: duplicate route name \"%s\" (also in "
			 "%s:%d:%d)",
			 dn->r->file, dn->r->pos.line + dn->shift,
			 dn->r->pos.col, dn->r->name, fn->r->file,
			 fn->r->pos.line + fn->shift, fn->r->pos.col);
		return -EINVAL;
	}
	if (!df)
		return 0;
	/* A frontend always has a port. */
	addr_format(buf, sizeof(buf), df->f->addr.family, df->f->addr.addr,
		    df->f->addr.port);
	snprintf(err, errlen,
		 "%s:%d:%d: duplicate frontend %s/%s (also in %s:%d:%d)",
		 df->r->file, df->f->pos.line + df->shift, df->f->pos.col, buf,
		 df->f->proto == STEER_PROTO_UDP ? "udp" : "tcp", ff->r->file,
		 ff->f->pos.line + ff->shift, ff->f->pos.col);
	return -EINVAL;
}

/*
 * Duplicates among the routes of @v. With @only_new, among the routes
 * taken from the previous set there are none: gather the keys of the
 * others, then the entries of every route that has one of those keys.
 */
static int check_view(const struct view *v, bool only_new, char *err,
		      size_t errlen)
{
	struct seen_list names = { 0 }, fronts = { 0 };
	struct seen_list pn = { 0 }, pf = { 0 };
	const struct seen *dn = NULL, *df = NULL, *fn = NULL, *ff = NULL;
	int n = view_n(v), ret = 0;
	const struct route *r;
	bool taken;
	int shift;

	for (int i = 0; only_new && !ret && i < n; i++) {
		r = view_route(v, i, &shift, &taken);
		if (!taken)
			ret = seen_add(r, i, shift, &pn, &pf, NULL, NULL);
	}
	if (ret || (only_new && !pn.n))
		goto out; /* nothing parsed anew: nothing can clash */
	sort_seen(&pn);
	sort_seen(&pf);
	for (int i = 0; !ret && i < n; i++) {
		r = view_route(v, i, &shift, &taken);
		if (only_new && !taken)
			ret = seen_add(r, i, shift, &names, &fronts, NULL,
				       NULL);
		else
			ret = seen_add(r, i, shift, &names, &fronts,
				       only_new ? &pn : NULL,
				       only_new ? &pf : NULL);
	}
	if (ret)
		goto out;
	sort_seen(&names);
	sort_seen(&fronts);
	dn = first_dup(names.e, names.n, &fn);
	df = first_dup(fronts.e, fronts.n, &ff);
	ret = dup_error(dn, fn, df, ff, err, errlen);
out:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(names.e);
	free(fronts.e);
	free(pn.e);
	free(pf.e);
	return ret;
}

int routes_check_set(const struct route_set *set, char *err, size_t errlen)
{
	struct view v = { .set = set };

	return check_view(&v, false, err, errlen);
}

int routes_check_plan(const struct route_plan *pl, const struct route_set *prev,
		      char *err, size_t errlen)
{
	struct view v = { .pl = pl, .prev = prev };
	bool any_taken = false;

	for (int i = 0; !any_taken && i < pl->n; i++)
		any_taken = pl->src[i] >= 0;
	return check_view(&v, any_taken, err, errlen);
}
