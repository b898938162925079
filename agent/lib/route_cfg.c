// SPDX-License-Identifier: BSD-2-Clause
/*
 * The heap parts of a compiled route (struct steer_route_cfg): each
 * version's backends and backend tables. Every copy, comparison and
 * release of a config goes through here, so no caller copies a pointer it
 * does not own.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "route_cfg.h"

/* The heap arrays of the versions, set aside while a memset or memcpy of
 * the whole struct runs and put back after it. */
struct heap_parts {
	struct steer_backend *backends;
	__u16 cap;
	__u16 *table[STEER_FAM_COUNT];
};

static void take_parts(struct steer_route_cfg *cfg,
		       struct heap_parts p[STEER_MAX_VERSIONS])
{
	for (int v = 0; v < STEER_MAX_VERSIONS; v++) {
		p[v].backends = cfg->versions[v].backends;
		p[v].cap = cfg->versions[v].cap;
		memcpy(p[v].table, cfg->versions[v].table, sizeof(p[v].table));
	}
}

static void put_parts(struct steer_route_cfg *cfg,
		      const struct heap_parts p[STEER_MAX_VERSIONS])
{
	for (int v = 0; v < STEER_MAX_VERSIONS; v++) {
		struct steer_version *ver = &cfg->versions[v];

		ver->backends = p[v].backends;
		ver->cap = p[v].cap;
		memcpy(ver->table, p[v].table, sizeof(ver->table));
		ver->n_backends = 0;
		ver->tables = 0;
	}
}

void route_cfg_free(struct steer_route_cfg *cfg)
{
	if (!cfg)
		return;
	for (int v = 0; v < STEER_MAX_VERSIONS; v++) {
		struct steer_version *ver = &cfg->versions[v];

		free(ver->backends);
		for (int f = 0; f < STEER_FAM_COUNT; f++)
			free(ver->table[f]);
		ver->backends = NULL;
		memset(ver->table, 0, sizeof(ver->table));
		ver->n_backends = ver->cap = 0;
		ver->tables = 0;
	}
}

void route_cfg_destroy(struct steer_route_cfg *cfgs, int n)
{
	for (int i = 0; cfgs && i < n; i++)
		route_cfg_free(&cfgs[i]);
	free(cfgs);
}

void route_cfg_reset(struct steer_route_cfg *cfg)
{
	struct heap_parts p[STEER_MAX_VERSIONS];

	take_parts(cfg, p);
	memset(cfg, 0, sizeof(*cfg));
	put_parts(cfg, p);
}

int route_cfg_reserve(struct steer_version *v, int n)
{
	struct steer_backend *b;
	int cap;

	if (n < 0 || n > ROUTE_MAX_BACKENDS)
		return -E2BIG;
	if (n <= v->cap)
		return 0;
	/* Doubling from 4: a decode adds one backend at a time. */
	cap = v->cap ? v->cap : 4;
	while (cap < n)
		cap *= 2;
	if (cap > ROUTE_MAX_BACKENDS)
		cap = ROUTE_MAX_BACKENDS;
	b = realloc(v->backends, (size_t)cap * sizeof(*b));
	if (!b)
		return -ENOMEM;
	v->backends = b;
	v->cap = (__u16)cap;
	return 0;
}

__u16 *route_cfg_table_new(struct steer_version *v, int f)
{
	if (!v->table[f]) {
		v->table[f] =
			malloc(STEER_BACKEND_TABLE_UNIT * sizeof(*v->table[f]));
		if (!v->table[f])
			return NULL;
	}
	v->tables |= 1u << f;
	return v->table[f];
}

int route_cfg_copy(struct steer_route_cfg *dst,
		   const struct steer_route_cfg *src)
{
	struct heap_parts p[STEER_MAX_VERSIONS];

	if (dst == src)
		return 0;
	take_parts(dst, p);
	memcpy(dst, src, sizeof(*dst));
	put_parts(dst, p);
	for (int v = 0; v < src->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *sv = &src->versions[v];
		struct steer_version *dv = &dst->versions[v];

		if (route_cfg_reserve(dv, sv->n_backends))
			return -ENOMEM;
		if (sv->n_backends)
			memcpy(dv->backends, sv->backends,
			       sv->n_backends * sizeof(*sv->backends));
		dv->n_backends = sv->n_backends;
		for (int f = 0; f < STEER_FAM_COUNT; f++) {
			const __u16 *t = route_cfg_table(sv, f);
			__u16 *d;

			if (!t)
				continue;
			d = route_cfg_table_new(dv, f);
			if (!d)
				return -ENOMEM;
			memcpy(d, t, STEER_BACKEND_TABLE_UNIT * sizeof(*d));
		}
	}
	return 0;
}

static bool version_equal(const struct steer_version *a,
			  const struct steer_version *b)
{
	if (memcmp(a->name, b->name, sizeof(a->name)) ||
	    a->n_backends != b->n_backends ||
	    a->counter_slot != b->counter_slot || a->tables != b->tables)
		return false;
	if (a->n_backends && memcmp(a->backends, b->backends,
				    a->n_backends * sizeof(*a->backends)))
		return false;
	for (int f = 0; f < STEER_FAM_COUNT; f++) {
		const __u16 *ta = route_cfg_table(a, f);

		if (ta && memcmp(ta, route_cfg_table(b, f),
				 STEER_BACKEND_TABLE_UNIT * sizeof(*ta)))
			return false;
	}
	return true;
}

bool route_cfg_equal(const struct steer_route_cfg *a,
		     const struct steer_route_cfg *b)
{
	if (memcmp(a, b, offsetof(struct steer_route_cfg, versions)) ||
	    memcmp(a->rules, b->rules, sizeof(a->rules)))
		return false;
	for (int v = 0; v < a->n_versions && v < STEER_MAX_VERSIONS; v++)
		if (!version_equal(&a->versions[v], &b->versions[v]))
			return false;
	return true;
}
