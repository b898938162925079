// SPDX-License-Identifier: BSD-2-Clause
/*
 * Routes in the pinned maps: reading a route's rows and decoding them,
 * publishing a compiled route as a new inner map of rows (with its match
 * blocks and backend addresses), deleting routes, and the name index.
 * Why a publish is atomic: the top of steer_abi.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maps.h"
#include "maps_internal.h"
#include "rows.h"

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

int maps_route_ids(const struct steer_maps *m, __u32 **ids)
{
	__u32 key, next, max = m->max_routes ? m->max_routes : 1;
	void *prev = NULL;
	__u32 n = 0;

	*ids = calloc(max, sizeof(**ids));
	if (!*ids)
		return -ENOMEM;
	while (!bpf_map_get_next_key(m->routes, prev, &next)) {
		if (n < max)
			(*ids)[n++] = next;
		key = next;
		prev = &key;
	}
	if (errno != ENOENT) {
		int ret = -errno;

		free(*ids);
		*ids = NULL;
		return ret;
	}
	qsort(*ids, n, sizeof(**ids), cmp_u32);
	return (int)n;
}

/* An fd of route @id's live inner map, or -errno. */
static int route_rows_fd(const struct steer_maps *m, __u32 id)
{
	__u32 inner_id;
	int fd;

	if (bpf_map_lookup_elem(m->routes, &id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	return fd < 0 ? -errno : fd;
}

int maps_route_hdr(const struct steer_maps *m, __u32 id,
		   struct steer_route_hdr *out)
{
	__u32 zero = 0;
	int fd = route_rows_fd(m, id), ret;

	if (fd < 0)
		return fd;
	ret = bpf_map_lookup_elem(fd, &zero, out) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * Rows 0..@n-1 of inner map @fd into @buf: one BPF_MAP_LOOKUP_BATCH for
 * all (a route with tables has thousands), the rest one by one if the
 * batch stops short. 0 or -errno.
 */
static int rows_read(int fd, __u32 n, unsigned char *buf)
{
	__u32 *keys = malloc((n ? n : 1) * sizeof(*keys)), out, count = n;
	int ret = 0;

	if (!keys)
		return -ENOMEM;
	/* ENOENT: the batch reached the map's end, @count rows read. */
	if (bpf_map_lookup_batch(fd, NULL, &out, keys, buf, &count, NULL) &&
	    errno != ENOENT)
		count = 0;
	for (__u32 i = count < n ? count : n; i < n && !ret; i++)
		if (bpf_map_lookup_elem(fd, &i,
					buf + (size_t)i * STEER_ROW_SIZE))
			ret = -errno;
	free(keys);
	return ret;
}

int maps_route_rows(const struct steer_maps *m, __u32 id, void **rows)
{
	struct steer_route_hdr h;
	int fd = route_rows_fd(m, id), ret = 0;
	unsigned char *buf;

	*rows = NULL;
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &(__u32){ 0 }, &h)) {
		ret = -errno;
		goto out;
	}
	buf = calloc(h.n_rows ? h.n_rows : 1, STEER_ROW_SIZE);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	ret = rows_read(fd, h.n_rows, buf);
	if (ret) {
		free(buf);
		goto out;
	}
	*rows = buf;
	ret = h.n_rows;
out:
	close(fd);
	return ret;
}

static int backend_addr_of(void *ctx, __u32 id, struct steer_backend_addr *a)
{
	const struct steer_maps *m = ctx;

	return bpf_map_lookup_elem(m->backends, &id, a) ? -errno : 0;
}

static int match_of(void *ctx, __u32 id, struct steer_match *mt)
{
	const struct steer_maps *m = ctx;

	return bpf_map_lookup_elem(m->matches, &id, mt) ? -errno : 0;
}

/* maps_route_get; into an all-zero @out with @zeroed (rows_decode_zeroed). */
static int route_get(const struct steer_maps *m, __u32 id,
		     struct steer_route_cfg *out, bool zeroed)
{
	void *rows;
	int n = maps_route_rows(m, id, &rows), ret;

	if (n < 0)
		return n;
	ret = (zeroed ? rows_decode_zeroed : rows_decode)(
		rows, (__u32)n, id, backend_addr_of, match_of, (void *)m, out);
	free(rows);
	return ret;
}

int maps_route_get(const struct steer_maps *m, __u32 id,
		   struct steer_route_cfg *out)
{
	return route_get(m, id, out, false);
}

/* ---- the name index (steer_route_index_v2) ---------------------------- */

static void index_key(struct steer_route_name *k, const char *name)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->name, name, strnlen(name, sizeof(k->name) - 1));
}

/*
 * Record that routes @ids, named in @cfgs, are live at their generations:
 * one batch write. A failure only costs readers a scan: they never trust
 * the index blindly.
 */
static void index_put(const struct steer_maps *m, const __u32 *ids,
		      const struct steer_route_cfg *const *cfgs, __u32 n,
		      struct steer_route_name *k, struct steer_route_index *v)
{
	__u32 count = n;

	for (__u32 i = 0; i < n; i++) {
		index_key(&k[i], cfgs[i]->name);
		v[i] = (struct steer_route_index){
			.id = ids[i],
			.flags = cfgs[i]->flags,
			.generation = cfgs[i]->generation,
			.source_hash = cfgs[i]->source_hash,
			.encoding = STEER_ROWS_ENCODING
		};
	}
	if (bpf_map_update_batch(m->route_index, k, v, &count, NULL))
		for (__u32 i = count; i < n; i++)
			bpf_map_update_elem(m->route_index, &k[i], &v[i],
					    BPF_ANY);
}

/* Remove the index entries of the @n ids in @ids. */
static void index_drop(const struct steer_maps *m, const __u32 *in, int n)
{
	struct steer_route_name key, next, *drop = NULL, *grown;
	struct steer_route_index v;
	__u32 *ids = malloc(n * sizeof(*ids) + 1);
	size_t n_drop = 0, cap = 0;
	void *prev = NULL;

	if (!ids)
		return; /* the entries stay; readers check what they find */
	memcpy(ids, in, n * sizeof(*ids));
	qsort(ids, n, sizeof(*ids), cmp_u32);
	/*
	 * One walk, then the deletes: deleting mid-walk would restart it.
	 * An id may have several entries (a name published over an older
	 * one's id): all of them go.
	 */
	while (!bpf_map_get_next_key(m->route_index, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->route_index, &next, &v) ||
		    !bsearch(&v.id, ids, n, sizeof(*ids), cmp_u32))
			continue;
		if (n_drop == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(drop, cap * sizeof(*drop));
			if (!grown)
				break;
			drop = grown;
		}
		drop[n_drop++] = next;
	}
	for (size_t i = 0; i < n_drop; i++)
		bpf_map_delete_elem(m->route_index, &drop[i]);
	free(drop);
	free(ids);
}

static int cmp_index_entry(const void *a, const void *b)
{
	return strncmp(((const struct maps_index_entry *)a)->name.name,
		       ((const struct maps_index_entry *)b)->name.name,
		       STEER_NAME_LEN);
}

int maps_index_read(const struct steer_maps *m, struct maps_index_entry **out)
{
	struct steer_route_name key, next;
	struct maps_index_entry *e = NULL, *grown;
	size_t n = 0, cap = 0;
	void *prev = NULL;

	*out = NULL;
	while (!bpf_map_get_next_key(m->route_index, prev, &next)) {
		key = next;
		prev = &key;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			grown = realloc(e, cap * sizeof(*e));
			if (!grown) {
				free(e);
				return -ENOMEM;
			}
			e = grown;
		}
		e[n].name = next;
		if (next.name[0] && /* not the newest-generation entry */
		    !bpf_map_lookup_elem(m->route_index, &next, &e[n].v))
			n++;
	}
	if (errno != ENOENT) {
		int ret = -errno;

		free(e);
		return ret;
	}
	if (n)
		qsort(e, n, sizeof(*e), cmp_index_entry);
	*out = e;
	return (int)n;
}

const struct maps_index_entry *maps_index_find(const struct maps_index_entry *e,
					       int n, const char *name)
{
	struct maps_index_entry k;

	memset(&k, 0, sizeof(k));
	memcpy(k.name.name, name, strnlen(name, STEER_NAME_LEN - 1));
	return n > 0 ? bsearch(&k, e, n, sizeof(*e), cmp_index_entry) : NULL;
}

/* The id the index gives for @name, or -ENOENT. */
static int index_find(const struct steer_maps *m, const char *name)
{
	struct steer_route_index v;
	struct steer_route_name k;

	index_key(&k, name);
	if (bpf_map_lookup_elem(m->route_index, &k, &v))
		return -ENOENT;
	return (int)v.id;
}

int maps_index_get(const struct steer_maps *m, const char *name,
		   struct maps_index_entry *out)
{
	index_key(&out->name, name);
	return bpf_map_lookup_elem(m->route_index, &out->name, &out->v) ? -errno
									: 0;
}

__u64 maps_generation(const struct steer_maps *m)
{
	struct steer_route_index v = { 0 };
	struct steer_route_name k = { 0 };

	return bpf_map_lookup_elem(m->route_index, &k, &v) ? 0 : v.generation;
}

bool maps_route_present(const struct steer_maps *m, __u32 id)
{
	__u32 inner_id;

	return !bpf_map_lookup_elem(m->routes, &id, &inner_id);
}

/* maps_route_find; @zeroed: @out is all zero (maps_route_find_zeroed). */
static int route_find(const struct steer_maps *m, const char *name,
		      struct steer_route_cfg *out, bool zeroed)
{
	struct steer_route_cfg *cfg = out ? out : calloc(1, sizeof(*cfg));
	__u32 *ids = NULL;
	int n = -ENOMEM, ret = -ENOENT;

	if (cfg) {
		int id = index_find(m, name);

		/* The shortcut, checked against the config it names. */
		if (id >= 0 && !route_get(m, (__u32)id, cfg, zeroed || !out) &&
		    !strncmp(cfg->name, name, sizeof(cfg->name))) {
			if (!out)
				route_cfg_destroy(cfg, 1);
			return id;
		}
		n = maps_route_ids(m, &ids);
	}
	if (n < 0)
		ret = n;
	for (int i = 0; i < n; i++) {
		if (maps_route_get(m, ids[i], cfg))
			continue;
		if (!strncmp(cfg->name, name, sizeof(cfg->name))) {
			ret = (int)ids[i];
			break;
		}
	}
	if (!out)
		route_cfg_destroy(cfg, 1);
	free(ids);
	return ret;
}

int maps_route_find(const struct steer_maps *m, const char *name,
		    struct steer_route_cfg *out)
{
	return route_find(m, name, out, false);
}

int maps_route_find_zeroed(const struct steer_maps *m, const char *name,
			   struct steer_route_cfg *out)
{
	return route_find(m, name, out, true);
}

/*
 * The newest generation ever published, in the index under the empty name
 * (no route can have it): one lookup where a walk of every route's entry
 * took 0.2 s at 100k routes. Publishers hold the pin directory's lock.
 */
static void generation_note(const struct steer_maps *m, __u64 gen)
{
	struct steer_route_index v = { 0 };
	struct steer_route_name k = { 0 };

	if (!bpf_map_lookup_elem(m->route_index, &k, &v) && v.generation >= gen)
		return;
	v.id = ~0u; /* no route's id: index_drop never matches it */
	v.generation = gen;
	bpf_map_update_elem(m->route_index, &k, &v, BPF_ANY);
}

/* ---- publishing ---------------------------------------------------------- */

/* Delete every match block of route @id's bank @bank (missing ones are
 * no error). Only for a bank no live rows use. */
static void matches_drop(const struct steer_maps *m, __u32 id, __u32 bank)
{
	for (__u32 pos = 0; pos < ROWS_MAX_MATCHES; pos++) {
		__u32 mid = steer_match_id(id, bank, pos);

		bpf_map_delete_elem(m->matches, &mid);
	}
}

/* Positions [@from, @from + @n) of route @id's bank @bank. */
static void matches_drop_range(const struct steer_maps *m, __u32 id, __u32 bank,
			       __u32 from, __u32 n)
{
	for (__u32 pos = from; pos < from + n && pos < ROWS_MAX_MATCHES;
	     pos++) {
		__u32 mid = steer_match_id(id, bank, pos);

		bpf_map_delete_elem(m->matches, &mid);
	}
}

/*
 * The match blocks header @h's rows can name, in the bank it used: a bank
 * holds no other (a publish that fails clears its new bank whole). One
 * delete per rule and policy entry where every position of the bank was
 * 24 deletes a publish, most of a route's republish (13.8 s for 100,000
 * routes changed).
 */
static void matches_drop_used(const struct steer_maps *m, __u32 id,
			      const struct steer_route_hdr *h)
{
	matches_drop_range(m, id, h->match_bank, 0, h->n_rules);
	matches_drop_range(m, id, h->match_bank, STEER_MATCH_ALLOW_BASE,
			   h->n_allow);
	matches_drop_range(m, id, h->match_bank, STEER_MATCH_DENY_BASE,
			   h->n_deny);
}

/*
 * A new inner map of @n rows, by BPF_MAP_CREATE itself: libbpf 1.1's
 * bpf_map_create() first loads two probe programs in every process that
 * has not loaded one (memcg accounting, object names), two verifier runs
 * and JIT compiles that were a fifth of a `steerctl set`; the kernels
 * steer runs on (6.1+) have both. Returns an fd or -errno.
 */
static int inner_create(__u32 n)
{
	static const char name[] = "steer_route";
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = sizeof(__u32);
	attr.value_size = STEER_ROW_SIZE;
	attr.max_entries = n;
	attr.map_flags = BPF_F_INNER_MAP;
	memcpy(attr.map_name, name, sizeof(name));
	fd = (int)syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

/*
 * A new, frozen inner map holding @rows; returns its fd or -errno. The
 * match blocks of @rows go into the route's bank first: nothing reads
 * that bank until the swap.
 */
static int route_inner(const struct steer_maps *m, __u32 id,
		       const struct route_rows *rows)
{
	__u32 bank = rows_hdr(rows->rows)->match_bank, count;
	__u32 *keys = NULL;
	int inner, ret = 0;

	for (int i = 0; i < rows->n_matches; i++) {
		__u32 mid = steer_match_id(id, bank, rows->matches[i].pos);

		if (bpf_map_update_elem(m->matches, &mid,
					&rows->matches[i].match, BPF_ANY))
			return -errno;
	}
	inner = inner_create(rows->n_rows);
	if (inner < 0)
		return inner;
	keys = malloc(rows->n_rows * sizeof(*keys));
	if (!keys) {
		ret = -ENOMEM;
		goto fail;
	}
	for (__u32 i = 0; i < rows->n_rows; i++)
		keys[i] = i;
	/*
	 * Fill the new map completely and freeze it: nobody can write it
	 * again, so what the datapath reads after the swap is exactly it.
	 */
	count = rows->n_rows;
	if (bpf_map_update_batch(inner, keys, rows->rows, &count, NULL)) {
		for (__u32 i = count; i < rows->n_rows && !ret; i++)
			if (bpf_map_update_elem(inner, &keys[i],
						(char *)rows->rows +
							(size_t)i *
								STEER_ROW_SIZE,
						BPF_ANY))
				ret = -errno;
		if (ret)
			goto fail;
	}
	if (bpf_map_freeze(inner)) {
		ret = -errno;
		goto fail;
	}
	free(keys);
	return inner;
fail:
	free(keys);
	close(inner);
	return ret;
}

/*
 * Outer-map writes per batch: each holds an inner map fd open until the
 * batch is written, so this stays well under a default 1024-fd limit.
 */
#define ROUTE_BATCH 256

/* Write @n (id, inner fd) pairs into the outer map; -errno on failure. */
static int routes_write(const struct steer_maps *m, const __u32 *ids,
			const int *fds, __u32 n)
{
	__u32 count = n;

	if (!bpf_map_update_batch(m->routes, ids, fds, &count, NULL))
		return 0;
	/* No batch support (older kernels): one write per route. */
	if (errno != EINVAL && errno != EOPNOTSUPP &&
	    errno != 524 /* ENOTSUPP */)
		return -errno;
	for (__u32 i = count; i < n; i++)
		if (bpf_map_update_elem(m->routes, &ids[i], &fds[i], BPF_ANY))
			return -errno;
	return 0;
}

int maps_route_publish(struct steer_maps *m, __u32 id,
		       const struct steer_route_cfg *cfg)
{
	return maps_route_publish_many(m, &id, &cfg, 1);
}

/*
 * The zeroed passive-health entries of a route with health or limits (see
 * bpf/lib/health.h): one per backend and, per version, the pages of
 * ejection slots its max-ejected cap needs (in order: the programs stop
 * at the first page missing), created before the route goes live. BPF_NOEXIST
 * keeps the entries programs hold; a full map leaves the rest without health.
 */
static void health_seed(const struct steer_maps *m, __u32 id,
			const struct steer_route_cfg *cfg)
{
	struct steer_health_slots slots = { 0 };
	struct steer_health h = { 0 };

	if (m->health < 0 || m->health_slots < 0 ||
	    (!cfg->health_failures && !cfg->max_connections))
		return;
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *ver = &cfg->versions[v];
		__u32 cap = steer_health_max_ejected(ver->n_backends,
						     cfg->health_max_ejected);
		struct steer_health_key k = { .route = id,
					      .version = ver->counter_slot };

		for (__u32 p = 0; p * STEER_HEALTH_EJECT_SLOTS < cap &&
				  p < STEER_HEALTH_SLOT_PAGES;
		     p++) {
			k.backend = steer_health_slots_page(p);
			bpf_map_update_elem(m->health_slots, &k, &slots,
					    BPF_NOEXIST);
		}
		for (int b = 0; b < ver->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++) {
			k.backend = ver->backends[b].counter_slot;
			bpf_map_update_elem(m->health, &k, &h, BPF_NOEXIST);
		}
	}
}

/* The names and entries of one batch's index write. */
struct index_batch {
	struct steer_route_name k[ROUTE_BATCH];
	struct steer_route_index v[ROUTE_BATCH];
};

/* One batch of at most ROUTE_BATCH routes; see maps_route_publish. */
static int publish_batch(struct steer_maps *m, const __u32 *ids,
			 const struct steer_route_cfg *const *cfgs,
			 const bool *absent, __u32 n, struct index_batch *ib)
{
	int fds[ROUTE_BATCH], ret = 0;
	struct steer_route_hdr old_hdr[ROUTE_BATCH];
	__u8 old_bank[ROUTE_BATCH];
	bool had[ROUTE_BATCH];
	__u64 gen = 0;
	__u32 k = 0;

	maps_backend_ids_batch(m);
	for (; k < n && !ret; k++) {
		struct steer_route_hdr h;
		struct route_rows rows;

		/* Known absent: no header to read (a fresh install). */
		ret = absent && absent[k] ? -ENOENT
					  : maps_route_hdr(m, ids[k], &h);
		/* Only a route that is not there is new: writing the bank
		 * of one that could not be read might be writing its live
		 * bank. */
		if (ret && ret != -ENOENT)
			break;
		had[k] = !ret;
		old_bank[k] = had[k] ? h.match_bank : 1;
		if (had[k])
			old_hdr[k] = h;
		ret = rows_encode(cfgs[k], old_bank[k] ^ 1, maps_backend_id, m,
				  &rows);
		if (ret)
			break;
		health_seed(m, ids[k], cfgs[k]);
		fds[k] = route_inner(m, ids[k], &rows);
		rows_free(&rows);
		if (fds[k] < 0) {
			ret = fds[k];
			/* It may have written match blocks first. */
			matches_drop(m, ids[k], old_bank[k] ^ 1);
			break;
		}
	}
	/* New backend addresses before the rows that refer to them. */
	if (!ret)
		ret = maps_backend_ids_flush(m);
	if (!ret)
		ret = routes_write(m, ids, fds, k);
	if (!ret)
		index_put(m, ids, cfgs, k, ib->k, ib->v);
	for (__u32 i = 0; i < k; i++) {
		if (!ret) {
			if (cfgs[i]->generation > gen)
				gen = cfgs[i]->generation;
			/* The swap waited for readers: the old bank is free. */
			if (had[i])
				matches_drop_used(m, ids[i], &old_hdr[i]);
		} else {
			/* Nothing live names the new bank: clear it whole. */
			matches_drop(m, ids[i], old_bank[i] ^ 1);
		}
		close(fds[i]);
	}
	if (!ret && k)
		generation_note(m, gen);
	return ret;
}

int maps_route_publish_absent(struct steer_maps *m, const __u32 *ids,
			      const struct steer_route_cfg *const *cfgs,
			      const bool *absent, int n)
{
	struct index_batch *ib = malloc(sizeof(*ib));
	int ret = ib ? 0 : -ENOMEM;

	for (int done = 0; done < n && !ret;) {
		__u32 k = n - done < ROUTE_BATCH ? (__u32)(n - done)
						 : ROUTE_BATCH;

		ret = publish_batch(m, ids + done, cfgs + done,
				    absent ? absent + done : NULL, k, ib);
		done += (int)k;
	}
	free(ib);
	return ret;
}

int maps_route_publish_many(struct steer_maps *m, const __u32 *ids,
			    const struct steer_route_cfg *const *cfgs, int n)
{
	return maps_route_publish_absent(m, ids, cfgs, NULL, n);
}

static int route_delete(const struct steer_maps *m, __u32 id)
{
	if (bpf_map_delete_elem(m->routes, &id) && errno != ENOENT)
		return -errno;
	return 0;
}

int maps_route_delete(const struct steer_maps *m, __u32 id)
{
	return maps_route_delete_many(m, &id, 1);
}

/* Remove the index entries of @names, each only while it names its id. */
static void index_drop_names(const struct steer_maps *m, const __u32 *ids,
			     const char *const *names, int n)
{
	for (int i = 0; i < n; i++) {
		struct maps_index_entry e;

		if (!maps_index_get(m, names[i], &e) && e.v.id == ids[i])
			bpf_map_delete_elem(m->route_index, &e.name);
	}
}

int maps_route_delete_named(const struct steer_maps *m, const __u32 *ids,
			    const char *const *names, int n)
{
	for (int done = 0; done < n;) {
		__u32 k = n - done < ROUTE_BATCH ? (__u32)(n - done)
						 : ROUTE_BATCH;
		__u32 count = k;

		if (bpf_map_delete_batch(m->routes, ids + done, &count, NULL)) {
			/* A missing id, or no batch support: one by one. */
			for (__u32 i = count; i < k; i++) {
				int ret = route_delete(m, ids[done + i]);

				if (ret)
					return ret;
			}
		}
		done += (int)k;
	}
	/* No reader can hold the deleted rows now: their matches go. */
	for (int i = 0; i < n; i++) {
		matches_drop(m, ids[i], 0);
		matches_drop(m, ids[i], 1);
	}
	if (names)
		index_drop_names(m, ids, names, n);
	else
		index_drop(m, ids, n);
	return 0;
}

int maps_route_delete_many(const struct steer_maps *m, const __u32 *ids, int n)
{
	if (n <= 0)
		return 0; /* and no walk of the index */
	return maps_route_delete_named(m, ids, NULL, n);
}

/*
 * The newest generation from the index, when it holds an entry for every
 * live route (it does unless pins of an older steer are in use); -1 when
 * it cannot answer.
 */
static long long index_generation_max(const struct steer_maps *m, int routes)
{
	struct steer_route_name key, next;
	struct steer_route_index v;
	void *prev = NULL;
	long long gen = 0;
	int n = 0;

	while (!bpf_map_get_next_key(m->route_index, prev, &next)) {
		if (next.name[0] &&
		    !bpf_map_lookup_elem(m->route_index, &next, &v)) {
			n++;
			if ((long long)v.generation > gen)
				gen = (long long)v.generation;
		}
		key = next;
		prev = &key;
	}
	return n == routes ? gen : -1;
}

__u64 maps_generation_max(const struct steer_maps *m)
{
	struct steer_route_name newest = { 0 };
	struct steer_route_index nv;
	struct steer_route_cfg *cfg;
	__u32 *ids = NULL;
	long long fast;
	__u64 gen = 0;
	int n;

	if (!bpf_map_lookup_elem(m->route_index, &newest, &nv))
		return nv.generation;
	n = maps_route_ids(m, &ids);
	fast = n >= 0 ? index_generation_max(m, n) : -1;
	if (fast >= 0) {
		free(ids);
		return (__u64)fast;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		n = 0;
	for (int i = 0; ids && i < n; i++)
		if (!maps_route_get(m, ids[i], cfg) && cfg->generation > gen)
			gen = cfg->generation;
	free(ids);
	route_cfg_destroy(cfg, 1);
	return gen;
}
