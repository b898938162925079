// SPDX-License-Identifier: BSD-2-Clause
/*
 * A route file's text as documents: split at the document markers,
 * hashed, and the documents whose text is unchanged since the previous
 * load taken from it instead of parsed again. With 100,000 routes in a
 * file, parsing is most of a reload (libyaml alone needs ~1 s); a change
 * to one route re-parses that route only.
 *
 * Splitting is safe because YAML fixes where a document may begin: a line
 * starting with "---" followed by a blank or the end of the line is a
 * document marker wherever it appears, inside block scalars too (YAML 1.2
 * §9.1.4, "c-forbidden"; libyaml refuses one inside a quoted scalar). A
 * file with directives ('%') or document end markers ("...") is not split:
 * those tie a document to its neighbours.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL /* header-only: no library to link or ship */
#include <xxhash.h>
#include "routes_internal.h"

/* A line at @p (of @end) that is "ccc" followed by a blank or its end
 * ("---", "..."). Inline: it runs at the start of every line. */
static inline bool marker_line(const unsigned char *p, const unsigned char *end,
			       unsigned char c)
{
	return end - p >= 3 && p[0] == c && p[1] == c && p[2] == c &&
	       (end - p == 3 || p[3] == ' ' || p[3] == '\t' || p[3] == '\r' ||
		p[3] == '\n');
}

bool routes_split_docs_whole(const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf, *end = buf + len, *nl;

	for (; p < end; p = nl + 1) {
		if (*p == '%' || marker_line(p, end, '.'))
			return true;
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
	}
	return false;
}

int routes_split_docs(const unsigned char *buf, size_t len,
		      struct route_doc_span **out)
{
	const unsigned char *p = buf, *end = buf + len, *nl;
	struct route_doc_span *s = NULL;
	int n = 0, line = 0;

	*out = NULL;
	for (; p < end; p = nl + 1, line++) {
		if (*p == '%' || marker_line(p, end, '.')) {
			n = 0; /* one span: see the top of the file */
			break;
		}
		if (p == buf || marker_line(p, end, '-')) {
			if (route_array_grow((void **)&s, n, sizeof(*s))) {
				free(s);
				return -ENOMEM;
			}
			s[n].off = (size_t)(p - buf);
			s[n].line = line;
			s[n].n_routes = -1;
			if (n)
				s[n - 1].len = s[n].off - s[n - 1].off;
			n++;
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
	}
	if (!n) {
		if (route_array_grow((void **)&s, 0, sizeof(*s)))
			return -ENOMEM;
		s[0] = (struct route_doc_span){ .n_routes = -1 };
		n = 1;
	}
	s[n - 1].len = len - s[n - 1].off;
	for (int i = 0; i < n; i++)
		s[i].hash = XXH3_64bits(buf + s[i].off, s[i].len) | 1;
	*out = s;
	return n;
}

/*
 * Open addressing over the previous set's documents: doc hash -> route
 * index. The route arrays move (realloc), so a library table that keeps
 * pointers to its elements (uthash) cannot index them in place.
 */
static int reuse_index(struct route_reuse *ru)
{
	const struct route_set *prev = ru->prev;
	size_t cap = 2;

	while (cap < 2 * (size_t)prev->n)
		cap *= 2;
	ru->slot = malloc(cap * sizeof(*ru->slot));
	if (!ru->slot)
		return -ENOMEM;
	memset(ru->slot, 0xff, cap * sizeof(*ru->slot)); /* -1: empty */
	ru->mask = cap - 1;
	for (int i = 0; i < prev->n; i++) {
		size_t h = (size_t)prev->routes[i].doc_hash;

		if (!prev->routes[i].doc_hash)
			continue;
		while (ru->slot[h & ru->mask] >= 0)
			h++;
		ru->slot[h & ru->mask] = i;
	}
	return 0;
}

void routes_reuse_init(struct route_reuse *ru, struct route_set *prev)
{
	memset(ru, 0, sizeof(*ru));
	ru->prev = prev && prev->n ? prev : NULL;
}

void routes_reuse_free(struct route_reuse *ru)
{
	free(ru->slot);
	memset(ru, 0, sizeof(*ru));
}

__u64 routes_path_hash(const char *path)
{
	return XXH3_64bits(path, strlen(path));
}

/* The file is told by its path's hash, as the text by the document's: the
 * path itself lies elsewhere in memory, one cache miss per route. */
static bool reuse_match(const struct route *r, __u64 file_hash, __u64 hash)
{
	return r->doc_hash == hash && r->file_hash == file_hash &&
	       !r->reused_by;
}

/* Documents a one-document edit leaves between the last route taken and
 * the next unchanged one: the one replaced or removed, and some room. */
#define REUSE_NEAR 4

int routes_reuse_near(struct route_reuse *ru, __u64 file_hash, __u64 hash)
{
	/* An edit leaves the documents around it in order: look where the
	 * last one taken was first (a walk through memory in order). */
	for (int i = ru->next;
	     ru->prev && i < ru->prev->n && i < ru->next + REUSE_NEAR; i++)
		if (reuse_match(&ru->prev->routes[i], file_hash, hash))
			return i;
	return -1;
}

int routes_reuse_find(struct route_reuse *ru, __u64 file_hash, __u64 hash)
{
	int k = routes_reuse_near(ru, file_hash, hash);

	if (k >= 0 || !ru->prev)
		return k;
	if (!ru->slot && reuse_index(ru))
		return -ENOMEM;
	for (size_t h = (size_t)hash;; h++) {
		int i = ru->slot[h & ru->mask];

		if (i < 0)
			return -1;
		if (reuse_match(&ru->prev->routes[i], file_hash, hash))
			return i;
	}
}

int routes_plan_add(struct route_plan *pl, int src, int line)
{
	if (route_array_grow((void **)&pl->src, pl->n, sizeof(*pl->src)) ||
	    route_array_grow((void **)&pl->line, pl->n, sizeof(*pl->line)))
		return -ENOMEM;
	pl->src[pl->n] = src;
	pl->line[pl->n++] = line;
	return 0;
}

void routes_plan_free(struct route_plan *pl)
{
	routes_free(&pl->parsed);
	free(pl->src);
	free(pl->line);
	memset(pl, 0, sizeof(*pl));
}

const struct route *routes_plan_route(const struct route_plan *pl,
				      const struct route_set *prev, int i,
				      int *shift, bool *taken)
{
	const struct route *r;

	*taken = pl->src[i] >= 0;
	if (!*taken) {
		*shift = 0;
		return &pl->parsed.routes[~pl->src[i]];
	}
	r = &prev->routes[pl->src[i]];
	*shift = pl->line[i] - r->doc_line;
	return r;
}

void routes_plan_unclaim(const struct route_plan *pl, struct route_set *prev)
{
	for (int i = 0; prev && i < pl->n; i++)
		if (pl->src[i] >= 0)
			prev->routes[pl->src[i]].reused_by = 0;
}

/* Add @delta to every line number of @r: its document moved. */
static void shift_lines(struct route *r, int delta)
{
	r->pos.line += delta;
	for (int i = 0; i < r->n_frontends; i++)
		r->frontends[i].pos.line += delta;
	for (int v = 0; v < r->n_versions; v++) {
		struct route_version *ver = &r->versions[v];

		ver->pos.line += delta;
		for (int b = 0; b < ver->n_backends; b++)
			ver->backends[b].pos.line += delta;
		for (int k = 0; k < ver->n_dns; k++)
			ver->dns[k].pos.line += delta;
	}
	for (int i = 0; i < r->n_rules; i++)
		r->rules[i].pos.line += delta;
}

/* Route @r, taken from index @k of the previous set, in its new place. */
static void taken_settle(struct route *r, int k, int line)
{
	r->reused_from = k + 1;
	r->reused_by = 0;
	if (line != r->doc_line) {
		shift_lines(r, line - r->doc_line);
		r->doc_line = line;
	}
	/* Addresses from DNS answers are added again by the caller.
	 * (Most routes have none: their versions stay untouched.) */
	for (int v = 0; r->has_dns && v < r->n_versions; v++) {
		r->versions[v].n_backends -= r->versions[v].n_dns_backends;
		r->versions[v].n_dns_backends = 0;
	}
}

int routes_plan_build(struct route_plan *pl, struct route_set *prev,
		      struct route_set *set)
{
	int n = pl->n, n_prev = prev ? prev->n : 0, n_taken = 0, n_left = 0;
	struct route *routes, *left, *parsed = pl->parsed.routes;
	bool in_place = true;

	for (int i = 0; i < n; i++) {
		if (pl->src[i] < 0)
			continue;
		n_taken++;
		in_place &= pl->src[i] == i;
	}
	/* All parsed, in order (a route is taken only from a @prev): the
	 * plan's set is the set. */
	if (!n_taken || !prev) {
		*set = pl->parsed;
		pl->parsed = (struct route_set){ 0 };
		for (int i = 0; i < n; i++)
			set->n_dns += set->routes[i].has_dns;
		set->dns_known = true;
		return 0;
	}
	n_left = n_prev - n_taken;
	/* Every allocation first: past them nothing fails. */
	left = malloc((size_t)(n_left ? n_left : 1) * sizeof(*left));
	if (!left)
		return -ENOMEM;
	if (!in_place)
		routes = malloc((size_t)n * sizeof(*routes));
	else if (n > n_prev)
		routes = realloc(prev->routes, (size_t)n * sizeof(*routes));
	else
		routes = prev->routes;
	if (!routes) {
		free(left);
		return -ENOMEM;
	}
	n_left = 0;
	if (in_place) {
		/* A place taken by a parsed route held a route not taken
		 * (one taken would be at its own index), as do those past
		 * the end of a shorter set. */
		for (int i = 0; i < n; i++) {
			if (pl->src[i] >= 0)
				continue;
			if (i < n_prev)
				left[n_left++] = routes[i];
			routes[i] = parsed[~pl->src[i]];
		}
		for (int k = n; k < n_prev; k++)
			left[n_left++] = routes[k];
	} else {
		for (int k = 0; k < n_prev; k++)
			if (!prev->routes[k].reused_by)
				left[n_left++] = prev->routes[k];
		for (int i = 0; i < n; i++)
			routes[i] = pl->src[i] >= 0 ? prev->routes[pl->src[i]]
						    : parsed[~pl->src[i]];
		free(prev->routes);
	}
	set->n_dns = 0;
	for (int i = 0; i < n; i++) {
		if (pl->src[i] >= 0)
			taken_settle(&routes[i], pl->src[i], pl->line[i]);
		set->n_dns += routes[i].has_dns;
	}
	set->dns_known = true;
	/* The parsed routes moved: only their array goes. */
	free(parsed);
	pl->parsed = (struct route_set){ 0 };
	prev->routes = left;
	prev->n = n_left;
	set->routes = routes;
	set->n = n;
	return 0;
}
