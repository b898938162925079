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

/* A line at @p (of @end) that starts with @mark followed by a blank. */
static bool marker_line(const unsigned char *p, const unsigned char *end,
			const char *mark)
{
	size_t n = strlen(mark);

	if ((size_t)(end - p) < n || memcmp(p, mark, n))
		return false;
	return p + n == end || strchr(" \t\r\n", p[n]);
}

int routes_split_docs(const unsigned char *buf, size_t len,
		      struct route_doc_span **out)
{
	const unsigned char *p = buf, *end = buf + len, *nl;
	struct route_doc_span *s = NULL;
	int n = 0, line = 0;

	*out = NULL;
	for (; p < end; p = nl + 1, line++) {
		if (*p == '%' || marker_line(p, end, "...")) {
			n = 0; /* one span: see the top of the file */
			break;
		}
		if (p == buf || marker_line(p, end, "---")) {
			if (route_array_grow((void **)&s, n, sizeof(*s))) {
				free(s);
				return -ENOMEM;
			}
			s[n].off = (size_t)(p - buf);
			s[n].line = line;
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
		s[0] = (struct route_doc_span){ .off = 0, .line = 0 };
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
int routes_reuse_init(struct route_reuse *ru, struct route_set *prev)
{
	size_t cap = 2;

	memset(ru, 0, sizeof(*ru));
	ru->prev = prev;
	if (!prev || !prev->n)
		return 0;
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

void routes_reuse_free(struct route_reuse *ru)
{
	free(ru->slot);
	memset(ru, 0, sizeof(*ru));
}

int routes_reuse_find(const struct route_reuse *ru, const char *path,
		      __u64 hash)
{
	if (!ru->slot)
		return -1;
	for (size_t h = (size_t)hash;; h++) {
		int i = ru->slot[h & ru->mask];
		const struct route *r;

		if (i < 0)
			return -1;
		r = &ru->prev->routes[i];
		if (r->doc_hash == hash && !r->reused_by &&
		    !strcmp(r->file, path))
			return i;
	}
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

void routes_reuse_take(struct route_set *set, struct route_set *prev)
{
	for (int i = 0; i < set->n; i++) {
		struct route *r = &set->routes[i], *from;
		int line;

		if (!r->reused_from)
			continue;
		from = &prev->routes[r->reused_from - 1];
		line = r->doc_line;
		*r = *from; /* a move: @prev keeps a zeroed husk */
		memset(from, 0, sizeof(*from));
		r->reused_from = (int)(from - prev->routes) + 1;
		r->reused_by = 0;
		shift_lines(r, line - r->doc_line);
		r->doc_line = line;
		/* Addresses from DNS answers are added again by the caller.
		 * (Most routes have none: their versions stay untouched.) */
		for (int v = 0; r->has_dns && v < r->n_versions; v++) {
			r->versions[v].n_backends -=
				r->versions[v].n_dns_backends;
			r->versions[v].n_dns_backends = 0;
		}
	}
}

void routes_reuse_give_back(struct route_set *set, struct route_set *prev)
{
	for (int i = 0; i < set->n; i++) {
		struct route *r = &set->routes[i];
		struct route *to;

		if (!r->reused_from || !r->name[0])
			continue;
		to = &prev->routes[r->reused_from - 1];
		*to = *r;
		to->reused_from = 0;
		memset(r, 0, sizeof(*r));
	}
	for (int i = 0; i < prev->n; i++)
		prev->routes[i].reused_by = 0; /* the claims, too */
}
