// SPDX-License-Identifier: BSD-2-Clause
/*
 * What a reload goes on from besides the previous set's routes (see
 * struct route_memo): each file's text as it was read, with its spans, and
 * the keys (route names, frontends) of the set, counted.
 *
 * Texts: a one-route edit leaves a 19 MB file the same but for a few
 * bytes. memcmp finds the common prefix and suffix at memory speed; the
 * spans that lie inside them are the previous ones (those after the
 * change moved by the change's bytes and lines), so only the middle is
 * split and hashed again.
 *
 * Keys: the previous set had no duplicates, so a reload's duplicate can
 * only involve a key of a route parsed anew. With every key of the set
 * counted, a key's count in the new set is its old count, less the routes
 * gone, plus the routes parsed anew: no walk over the routes taken. A key
 * counted twice sends the reload to the exact check (routes_check.c),
 * which names both places, or finds a hash collision and passes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#define XXH_INLINE_ALL
#include <xxhash.h>
#include "routes_internal.h"

/* ---- texts ------------------------------------------------------------- */

void routes_memo_free(struct route_memo *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n_files; i++) {
		free(m->files[i].path);
		free(m->files[i].buf);
		free(m->files[i].sp);
	}
	free(m->files);
	free(m->keys.e);
	free(m->spare.buf);
	free(m);
}

const struct route_text *routes_memo_text(const struct route_memo *m,
					  const char *path)
{
	for (int i = 0; m && i < m->n_files; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

int routes_memo_add_text(struct route_memo *m, const char *path,
			 const struct route_read *rd, struct route_doc_span *sp,
			 int n)
{
	struct route_text *t;
	char *p = strdup(path);

	if (!p || route_array_grow((void **)&m->files, m->n_files,
				   sizeof(*m->files))) {
		free(p);
		return -ENOMEM;
	}
	t = &m->files[m->n_files++];
	*t = (struct route_text){ NULL, rd->buf, rd->len, rd->cap, sp, n };
	t->path = p;
	return 0;
}

void routes_memo_keep_room(struct route_memo *to, struct route_memo *from)
{
	for (int i = 0; from && i < from->n_files; i++) {
		struct route_text *t = &from->files[i];

		if (t->cap > to->spare.cap) {
			free(to->spare.buf);
			to->spare = (struct route_buf){ t->buf, t->cap };
			t->buf = NULL;
		}
	}
}

/* Length of the common prefix of @a and @b (@n bytes each). */
static size_t common_prefix(const unsigned char *a, const unsigned char *b,
			    size_t n)
{
	size_t i = 0;

	while (i + 4096 <= n && !memcmp(a + i, b + i, 4096))
		i += 4096;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* 1 + the last i < @n where @a and @b differ, 0 when they do not. */
static size_t last_diff_end(const unsigned char *a, const unsigned char *b,
			    size_t n)
{
	size_t i = n;

	if (!memcmp(a, b, n))
		return 0;
	while (i >= 4096 && !memcmp(a + i - 4096, b + i - 4096, 4096))
		i -= 4096;
	while (i && a[i - 1] == b[i - 1])
		i--;
	return i;
}

/* What routes_read_text compared as it read. */
struct text_cmp {
	const struct route_text *old; /* NULL: no compare */
	size_t want;		      /* the size fstat gave */
	size_t pfx;		      /* common prefix so far */
	bool in_pfx;
	size_t diff_end; /* 1 + the last byte that differs, shifted */
};

/*
 * Compare the @g bytes just read at @x of the new text with the old one:
 * the prefix from the start, and as for the suffix, aligned on the ends
 * (the new text has @want bytes: a byte y is old's y - (want - old len)).
 * Done while the bytes are in the cache, the old text read once.
 */
static void text_cmp_chunk(struct text_cmp *c, const unsigned char *b, size_t x,
			   size_t g)
{
	const struct route_text *o = c->old;
	size_t d, y;

	if (c->in_pfx) {
		size_t n = x < o->len ? o->len - x : 0;
		size_t k = common_prefix(o->buf + x, b + x, n < g ? n : g);

		c->pfx = x + k;
		c->in_pfx = k == g;
	}
	if (c->want >= o->len) {
		d = c->want - o->len;
		y = x > d ? x : d; /* bytes before d have no counterpart */
		if (y > x && c->diff_end < (x + g < d ? x + g : d))
			c->diff_end = x + g < d ? x + g : d;
		if (y < x + g) {
			size_t e =
				last_diff_end(o->buf + y - d, b + y, x + g - y);

			if (e)
				c->diff_end = y + e;
		}
	} else {
		d = o->len - c->want;
		size_t e = last_diff_end(o->buf + x + d, b + x, g);

		if (e)
			c->diff_end = x + e;
	}
}

int routes_read_text(int fd, const struct route_text *old,
		     struct route_buf *spare, struct route_read *rd)
{
	struct text_cmp c = { .old = old, .in_pfx = true };
	size_t cap = 4096, n = 0;
	unsigned char *b = NULL;
	struct stat st;
	ssize_t got;

	if (!fstat(fd, &st) && S_ISREG(st.st_mode)) {
		c.want = (size_t)st.st_size;
		cap = c.want + 1; /* +1: the end shows at once */
	}
	if (spare && spare->buf && spare->cap >= cap) {
		b = spare->buf; /* its pages are there: no faults */
		cap = spare->cap;
		spare->buf = NULL;
	} else {
		/* Room to grow by some, for the text after next to read
		 * into (see route_memo.spare). */
		if (c.want)
			cap += cap / 16 + 4096;
		b = malloc(cap);
		if (!b)
			return -ENOMEM;
	}
	if (!c.want)
		c.old = NULL;
	for (;;) {
		if (n == cap) {
			unsigned char *nb = cap && cap <= SIZE_MAX / 2
						    ? realloc(b, cap * 2)
						    : NULL;

			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		got = read(fd, b + n,
			   cap - n < 256 << 10 ? cap - n : 256 << 10);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = errno;

			free(b);
			return -e;
		}
		if (!got)
			break;
		if (c.old && n + (size_t)got <= c.want)
			text_cmp_chunk(&c, b, n, (size_t)got);
		n += (size_t)got;
	}
	rd->buf = b;
	rd->len = n;
	rd->cap = cap;
	/* It changed size while read: what was compared tells nothing. */
	rd->cmp = c.old && n == c.want;
	if (rd->cmp) {
		size_t most = (old->len < n ? old->len : n) - c.pfx;

		rd->pfx = c.pfx;
		rd->sfx = n - c.diff_end < most ? n - c.diff_end : most;
	}
	return 0;
}

/* Length of the common suffix of @a (@la bytes) and @b (@lb), at most @n. */
static size_t common_suffix(const unsigned char *a, size_t la,
			    const unsigned char *b, size_t lb, size_t n)
{
	size_t i = 0;

	while (i + 4096 <= n &&
	       !memcmp(a + la - i - 4096, b + lb - i - 4096, 4096))
		i += 4096;
	while (i < n && a[la - i - 1] == b[lb - i - 1])
		i++;
	return i;
}

static int count_lines(const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len;
	int n = 0;

	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

int routes_split_docs_from(const struct route_text *old,
			   const struct route_read *rd,
			   struct route_doc_span **out)
{
	const unsigned char *buf = rd->buf;
	size_t len = rd->len;
	const struct route_doc_span *s;
	struct route_doc_span *mid = NULL, *sp;
	size_t p, sfx, m0, m1, o1;
	int n, a, b, n_mid = 0, dl;

	/* Not split (see routes_text.c) or nothing to go on from. */
	if (!old || old->n < 2)
		return routes_split_docs(buf, len, out);
	s = old->sp;
	n = old->n;
	if (rd->cmp) {
		p = rd->pfx;
		sfx = rd->sfx;
	} else {
		p = common_prefix(old->buf, buf,
				  old->len < len ? old->len : len);
		sfx = common_suffix(old->buf, old->len, buf, len,
				    (old->len < len ? old->len : len) - p);
	}
	/* A span is kept when its text and the next marker line (where it
	 * ends: "---" and one byte after) are in the prefix; or when it and
	 * the line break before it are in the suffix. */
	for (a = 0; a < n - 1 && s[a].off + s[a].len + 4 <= p; a++)
		;
	for (b = n; b > a && s[b - 1].off > old->len - sfx; b--)
		;
	m0 = a ? s[a].off : 0;
	o1 = b < n ? s[b].off : old->len;
	m1 = o1 + len - old->len;
	if (m1 > m0) {
		n_mid = routes_split_docs(buf + m0, m1 - m0, &mid);
		if (n_mid < 0)
			return n_mid;
		/* One span for many documents: a directive or an end
		 * marker in the middle; the whole file is not split. */
		if (n_mid == 1 && a + (n - b) &&
		    routes_split_docs_whole(buf + m0, m1 - m0)) {
			free(mid);
			return routes_split_docs(buf, len, out);
		}
	}
	sp = malloc((size_t)(a + n_mid + n - b) * sizeof(*sp));
	if (!sp) {
		free(mid);
		return -ENOMEM;
	}
	memcpy(sp, s, (size_t)a * sizeof(*sp));
	for (int i = 0; i < n_mid; i++) {
		sp[a + i] = mid[i];
		sp[a + i].off += m0;
		sp[a + i].line += a ? s[a].line : 0;
	}
	dl = count_lines(buf + m0, m1 - m0) -
	     count_lines(old->buf + m0, o1 - m0);
	for (int j = b; j < n; j++) {
		sp[a + n_mid + j - b] = s[j];
		sp[a + n_mid + j - b].off = s[j].off + len - old->len;
		sp[a + n_mid + j - b].line = s[j].line + dl;
	}
	free(mid);
	*out = sp;
	return a + n_mid + n - b;
}

/* ---- keys -------------------------------------------------------------- */

static __u64 name_key(const struct route *r)
{
	return XXH3_64bits_withSeed(r->name, strnlen(r->name, sizeof(r->name)),
				    1) |
	       1;
}

/* Equal exactly when routes_check.c's cmp_key calls them equal. */
static __u64 front_key(const struct route_frontend *f)
{
	struct {
		__u32 addr[4];
		__u16 port;
		__u8 proto, family, has_port, pad[3];
	} k;

	memset(&k, 0, sizeof(k));
	memcpy(k.addr, f->addr.addr, sizeof(k.addr));
	k.port = f->addr.has_port ? f->addr.port : 0;
	k.proto = f->proto;
	k.family = f->addr.family;
	k.has_port = f->addr.has_port;
	return XXH3_64bits_withSeed(&k, sizeof(k), 2) | 1;
}

static struct route_key *keys_slot(const struct route_keys *t, __u64 key)
{
	for (size_t h = (size_t)key;; h++) {
		struct route_key *e = &t->e[h & t->mask];

		if (!e->key || e->key == key)
			return e;
	}
}

static int keys_add(struct route_keys *t, __u64 key, int delta);

static int keys_grow(struct route_keys *t)
{
	struct route_keys old = *t;
	size_t cap = 64;

	while (cap < 4 * (old.live + 1))
		cap *= 2;
	t->e = calloc(cap, sizeof(*t->e));
	if (!t->e) {
		*t = old;
		return -ENOMEM;
	}
	t->mask = cap - 1;
	t->used = t->live = 0;
	for (size_t i = 0; old.e && i <= old.mask; i++)
		if (old.e[i].count)
			keys_add(t, old.e[i].key, old.e[i].count);
	free(old.e);
	return 0;
}

/* Add @delta to @key's count (a key at 0 keeps its slot until the table
 * is rebuilt). Fails only to grow: then nothing changed. */
static int keys_add(struct route_keys *t, __u64 key, int delta)
{
	struct route_key *e;

	if ((!t->e || 2 * (t->used + 1) > t->mask + 1) && keys_grow(t))
		return -ENOMEM;
	e = keys_slot(t, key);
	if (!e->key) {
		e->key = key;
		t->used++;
	}
	t->live += !e->count && delta;
	e->count += delta;
	t->live -= !e->count && delta;
	return 0;
}

static int keys_count(const struct route_keys *t, __u64 key)
{
	return t->e ? keys_slot(t, key)->count : 0;
}

/* Route @r's keys into @t, each with @delta. */
static int keys_route(struct route_keys *t, const struct route *r, int delta)
{
	int ret = keys_add(t, name_key(r), delta);

	for (int k = 0; !ret && k < r->n_frontends; k++)
		ret = keys_add(t, front_key(&r->frontends[k]), delta);
	return ret;
}

int routes_keys_build(struct route_keys *t, const struct route_set *set)
{
	int ret = 0;

	for (int i = 0; !ret && i < set->n; i++)
		ret = keys_route(t, &set->routes[i], 1);
	return ret;
}

int routes_keys_delta(const struct route_keys *t, const struct route_plan *pl,
		      const struct route_set *prev, struct route_keys *delta)
{
	int n_prev = prev ? prev->n : 0, ret = 0;
	__u8 *taken = calloc((size_t)n_prev / 8 + 1, 1);

	if (!taken)
		return -ENOMEM;
	for (int i = 0; i < pl->n; i++)
		if (pl->src[i] >= 0)
			taken[pl->src[i] / 8] |= (__u8)(1u << (pl->src[i] % 8));
	for (int k = 0; !ret && k < n_prev; k++) {
		if (taken[k / 8] == 0xff) {
			k |= 7;
			continue;
		}
		if (!(taken[k / 8] & (1u << (k % 8))))
			ret = keys_route(delta, &prev->routes[k], -1);
	}
	free(taken);
	for (int i = 0; !ret && i < pl->parsed.n; i++)
		ret = keys_route(delta, &pl->parsed.routes[i], 1);
	if (ret)
		return ret;
	for (size_t i = 0; delta->e && i <= delta->mask; i++)
		if (delta->e[i].count > 0 &&
		    keys_count(t, delta->e[i].key) + delta->e[i].count > 1)
			return 1;
	return 0;
}

int routes_keys_apply(struct route_keys *t, const struct route_keys *delta)
{
	int ret = 0;

	for (size_t i = 0; !ret && delta->e && i <= delta->mask; i++)
		if (delta->e[i].count)
			ret = keys_add(t, delta->e[i].key, delta->e[i].count);
	return ret;
}
