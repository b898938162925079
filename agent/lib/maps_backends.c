// SPDX-License-Identifier: BSD-2-Clause
/*
 * Backend ids (steer_backends_v2: id -> address, steer_backend_ids_v2:
 * address -> id): allocated as a publish meets new addresses, and
 * reclaimed when none is left, so that addresses that come and go (dns/srv
 * backends: every rollout brings new pod addresses) never exhaust them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#define XXH_INLINE_ALL /* header-only, as in routes_text.c */
#include <xxhash.h>
#include "maps.h"
#include "maps_internal.h"
#include "rows.h"

static int cmp_u32_desc(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x > y ? -1 : x < y;
}

/* ---- addresses handed out, not written yet ------------------------------ */

/* Backend address -> id, in userspace. */
struct id_table {
	struct steer_backend_addr *addr;
	__u32 *id;
	bool *reused; /* taken from free_ids: given back if never written */
	__u32 n, cap;
	__u32 *slot;   /* open addressing: index + 1 into addr/id, 0 empty */
	__u32 n_slots; /* a power of two, twice cap */
};

struct maps_pending_ids {
	struct id_table pend; /* handed out since the last flush */
	/*
	 * Within a session (maps_backend_ids_session): every entry of
	 * steer_backend_ids_v2, read in batches where the walk that found
	 * the next free id used to be, so that the addresses of a large
	 * publish are looked up here and not one syscall each.
	 */
	struct id_table known;
	bool session, known_ok;
};

static __u32 addr_hash(const struct steer_backend_addr *a)
{
	return (__u32)XXH3_64bits(a, sizeof(*a));
}
/* Where @a is, or the empty slot where it would go. */
static __u32 *table_slot(const struct id_table *t,
			 const struct steer_backend_addr *a)
{
	__u32 mask = t->n_slots - 1, i = addr_hash(a) & mask;

	while (t->slot[i] && memcmp(&t->addr[t->slot[i] - 1], a, sizeof(*a)))
		i = (i + 1) & mask;
	return &t->slot[i];
}

/* @a's id in @t: true and *@id, or false. */
static bool table_find(const struct id_table *t,
		       const struct steer_backend_addr *a, __u32 *id)
{
	__u32 *slot;

	if (!t->n)
		return false;
	slot = table_slot(t, a);
	if (*slot)
		*id = t->id[*slot - 1];
	return *slot;
}

/* Make room for one more entry; 0 or -ENOMEM. */
static int table_grow(struct id_table *t)
{
	__u32 cap = t->cap ? 2 * t->cap : 1024, *slot, *id;
	struct steer_backend_addr *addr;
	bool *reused;

	if (t->n < t->cap)
		return 0;
	addr = realloc(t->addr, cap * sizeof(*addr));
	if (addr)
		t->addr = addr;
	id = realloc(t->id, cap * sizeof(*id));
	if (id)
		t->id = id;
	reused = realloc(t->reused, cap * sizeof(*reused));
	if (reused)
		t->reused = reused;
	slot = calloc(2 * (size_t)cap, sizeof(*slot));
	if (!addr || !id || !reused || !slot) {
		free(slot);
		return -ENOMEM;
	}
	free(t->slot);
	t->slot = slot;
	t->n_slots = 2 * cap;
	t->cap = cap;
	for (__u32 i = 0; i < t->n; i++)
		*table_slot(t, &t->addr[i]) = i + 1;
	return 0;
}

/* Add @a as @id (not in @t yet); 0 or -ENOMEM. */
static int table_add(struct id_table *t, const struct steer_backend_addr *a,
		     __u32 id, bool reused)
{
	int ret = table_grow(t);

	if (ret)
		return ret;
	t->addr[t->n] = *a;
	t->id[t->n] = id;
	t->reused[t->n] = reused;
	t->n++;
	*table_slot(t, a) = t->n;
	return 0;
}

static void table_clear(struct id_table *t)
{
	if (t->n) {
		memset(t->slot, 0, t->n_slots * sizeof(*t->slot));
		t->n = 0;
	}
}

static void table_free(struct id_table *t)
{
	free(t->addr);
	free(t->id);
	free(t->reused);
	free(t->slot);
}

static struct maps_pending_ids *pending_of(struct steer_maps *m)
{
	if (!m->pending)
		m->pending = calloc(1, sizeof(*m->pending));
	return m->pending;
}

void maps_backend_ids_free(struct steer_maps *m)
{
	if (!m->pending)
		return;
	table_free(&m->pending->pend);
	table_free(&m->pending->known);
	free(m->pending);
	m->pending = NULL;
}

/* The known table no longer mirrors the map (reclaim, a failed write). */
static void known_drop(struct steer_maps *m)
{
	if (m->pending) {
		table_clear(&m->pending->known);
		m->pending->known_ok = false;
	}
}

void maps_backend_ids_session(struct steer_maps *m, bool begin)
{
	known_drop(m);
	if (m->pending)
		m->pending->session = begin;
	else if (begin && pending_of(m))
		m->pending->session = true;
}

/*
 * Read every entry of the id map into the known table, and the next id
 * past the largest; 0 or -errno (then the table is not used).
 */
static int known_load(struct steer_maps *m, __u32 *next_id)
{
	struct maps_pending_ids *p = m->pending;
	struct steer_backend_addr *keys;
	__u32 *vals, n, max = 0;
	int ret = maps_read_all(m->backend_ids, sizeof(*keys), sizeof(*vals),
				(void **)&keys, (void **)&vals, &n);

	if (ret)
		return ret;
	for (__u32 i = 0; i < n && !ret; i++) {
		ret = table_add(&p->known, &keys[i], vals[i], false);
		if (vals[i] > max)
			max = vals[i];
	}
	free(keys);
	free(vals);
	if (ret) {
		table_clear(&p->known);
		return ret;
	}
	p->known_ok = true;
	*next_id = max + 1;
	return 0;
}

/*
 * Forget the pending entries, the first @done of them written. Reused ids
 * not written are still free: nothing refers to them. New ones not written
 * leave a gap the next scan of the id map closes.
 */
static void pending_discard(struct steer_maps *m, __u32 done)
{
	struct id_table *t = m->pending ? &m->pending->pend : NULL;

	if (!t || !t->n)
		return;
	for (__u32 i = done; i < t->n; i++)
		if (t->reused[i])
			m->free_ids[m->n_free++] = t->id[i];
	if (done < t->n) {
		m->next_backend_id = 0;
		known_drop(m);
	}
	table_clear(t);
}

int maps_backend_ids_flush(struct steer_maps *m)
{
	struct maps_pending_ids *p = m->pending;
	struct id_table *t = p ? &p->pend : NULL;
	__u32 done = 0, count;
	int ret = 0;

	if (!t || !t->n)
		return 0;
	/* Addresses first: an id is never recorded without its address. */
	count = t->n;
	if (bpf_map_update_batch(m->backends, t->id, t->addr, &count, NULL))
		for (__u32 i = count; i < t->n && !ret; i++)
			if (bpf_map_update_elem(m->backends, &t->id[i],
						&t->addr[i], BPF_ANY))
				ret = -errno;
	if (ret)
		goto out;
	/* No other publisher runs (maps_lock) and none of these addresses
	 * had an id when it was looked up: a plain write adds each. */
	count = t->n;
	if (!bpf_map_update_batch(m->backend_ids, t->addr, t->id, &count, NULL))
		done = t->n;
	else
		for (done = count; done < t->n; done++)
			if (bpf_map_update_elem(m->backend_ids, &t->addr[done],
						&t->id[done], BPF_NOEXIST)) {
				ret = -errno;
				break;
			}
	for (__u32 i = 0; i < done && p->known_ok && !ret; i++)
		if (table_add(&p->known, &t->addr[i], t->id[i], false))
			known_drop(m);
out:
	pending_discard(m, done);
	return ret;
}

/* One walk of the id map: the next id is one past the largest in use. */
static __u32 backend_id_scan(const struct steer_maps *m)
{
	struct steer_backend_addr key, next;
	void *prev = NULL;
	__u32 id, max = 0;

	while (!bpf_map_get_next_key(m->backend_ids, prev, &next)) {
		if (!bpf_map_lookup_elem(m->backend_ids, &next, &id) &&
		    id > max)
			max = id;
		key = next;
		prev = &key;
	}
	return max + 1;
}

/* Mark id @id as handed out by the publish in progress. */
static int id_busy_set(struct steer_maps *m, __u32 id)
{
	if (!m->max_backends || id >= m->max_backends)
		return 0;
	if (!m->ids_busy) {
		m->ids_busy = calloc(m->max_backends / 8 + 1, 1);
		if (!m->ids_busy)
			return -ENOMEM;
	}
	m->ids_busy[id / 8] |= (__u8)(1u << (id % 8));
	return 0;
}

struct id_scan {
	__u8 *used; /* bitmap of max_backends bits */
	__u32 max;
};

/* rows_decode callbacks that only note the ids a route's rows refer to. */
static int id_note(void *ctx, __u32 id, struct steer_backend_addr *a)
{
	struct id_scan *s = ctx;

	if (id < s->max)
		s->used[id / 8] |= (__u8)(1u << (id % 8));
	memset(a, 0, sizeof(*a));
	return 0;
}

static int match_none(void *ctx, __u32 id, struct steer_match *mt)
{
	(void)ctx;
	(void)id;
	memset(mt, 0, sizeof(*mt));
	return 0;
}

/*
 * Every id no live route and no route of the publish in progress refers to
 * goes back on m->free_ids; its address leaves steer_backend_ids_v2. Run
 * when ids run out: with dns/srv backends every rollout brings addresses
 * never seen before, and 8 x --max-routes of them over the pins' life
 * would otherwise end every publish with ENOSPC.
 *
 * Safe to reuse at once: rows leave the datapath only by a write or delete
 * of steer_routes_v2, a map of maps, and the kernel returns from that
 * syscall only after every program that could read the old rows has
 * finished (see maps_route_publish). So no program still reads a freed id;
 * a steerctl status that read rows just before could show the new address
 * once. Returns the number freed, or -errno (a route it cannot read: then
 * nothing is freed).
 */
static int backend_ids_reclaim(struct steer_maps *m)
{
	struct id_scan s = { .max = m->max_backends };
	struct steer_backend_addr key, next, *drop = NULL;
	struct steer_route_cfg *cfg = NULL;
	__u32 *ids = NULL, *free_ids = NULL, id, n_drop = 0;
	void *prev = NULL;
	int n, ret = 0;

	s.used = calloc(s.max / 8 + 1, 1);
	cfg = calloc(1, sizeof(*cfg));
	drop = calloc(s.max, sizeof(*drop));
	free_ids = calloc(s.max, sizeof(*free_ids));
	if (!s.used || !cfg || !drop || !free_ids) {
		ret = -ENOMEM;
		goto out;
	}
	n = maps_route_ids(m, &ids);
	if (n < 0) {
		ret = n;
		goto out;
	}
	for (int i = 0; i < n && !ret; i++) {
		void *rows;
		int rn = maps_route_rows(m, ids[i], &rows);

		if (rn == -ENOENT)
			continue; /* deleted since the walk */
		if (rn < 0) {
			ret = rn;
			break;
		}
		ret = rows_decode(rows, (__u32)rn, ids[i], id_note, match_none,
				  &s, cfg);
		free(rows);
	}
	if (ret)
		goto out;
	for (__u32 i = 0; m->ids_busy && i <= s.max / 8; i++)
		s.used[i] |= m->ids_busy[i];
	while (!bpf_map_get_next_key(m->backend_ids, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->backend_ids, &next, &id) ||
		    id >= s.max || (s.used[id / 8] & (1u << (id % 8))) ||
		    n_drop == s.max)
			continue;
		drop[n_drop++] = next;
	}
	/* One walk, then the deletes: deleting mid-walk would restart it. */
	for (__u32 i = 0; i < n_drop; i++)
		if (!bpf_map_lookup_elem(m->backend_ids, &drop[i], &id) &&
		    !bpf_map_delete_elem(m->backend_ids, &drop[i]))
			free_ids[ret++] = id;
	known_drop(m); /* addresses left the map */
	/* Popped from the end: the lowest ids go first. */
	qsort(free_ids, (size_t)ret, sizeof(*free_ids), cmp_u32_desc);
	free(m->free_ids);
	m->free_ids = free_ids;
	m->n_free = (__u32)ret;
	free_ids = NULL;
out:
	free(s.used);
	route_cfg_destroy(cfg, 1);
	free(drop);
	free(free_ids);
	free(ids);
	return ret;
}

/*
 * The id of backend address @a. A new address gets a free id: its entry
 * in steer_backends_v2 is written before the id is recorded, and both
 * before any route refers to it (maps_backend_ids_flush, before the
 * routes' swap), so no reader ever sees an id without its address. Ids no route
 * refers to any more are reclaimed when none is left (backend_ids_reclaim;
 * docs/map-abi.md: "Backend ids").
 */
int maps_backend_id(void *ctx, const struct steer_backend_addr *a, __u32 *id)
{
	struct steer_maps *m = ctx;
	struct maps_pending_ids *p = m->pending;
	bool reused = false;
	__u32 next;
	int ret;

	if (p && table_find(&p->pend, a, id))
		return 0; /* busy since it was handed out */
	if (p && p->known_ok) {
		if (table_find(&p->known, a, id))
			return id_busy_set(m, *id);
	} else if (!bpf_map_lookup_elem(m->backend_ids, a, id)) {
		return id_busy_set(m, *id);
	}
	/* The first new address: in a session, one batched read of the id
	 * map finds the next id and answers the lookups that follow. */
	if (!m->next_backend_id && p && p->session && !p->known_ok &&
	    !known_load(m, &next))
		m->next_backend_id = next;
	if (!m->next_backend_id)
		m->next_backend_id = backend_id_scan(m);
	if (!m->n_free && m->max_backends &&
	    m->next_backend_id >= m->max_backends) {
		ret = backend_ids_reclaim(m);
		if (ret < 0)
			return ret;
	}
	if (m->n_free) {
		next = m->free_ids[--m->n_free];
		reused = true;
	} else if (m->max_backends && m->next_backend_id >= m->max_backends) {
		return -ENOSPC;
	} else {
		next = m->next_backend_id;
	}
	ret = p || (p = pending_of(m)) ? table_add(&p->pend, a, next, reused)
				       : -ENOMEM;
	if (ret) {
		if (reused)
			m->n_free++; /* still free: nothing refers to it */
		return ret;
	}
	if (!reused)
		m->next_backend_id = next + 1;
	*id = next;
	return id_busy_set(m, next);
}

void maps_backend_ids_batch(struct steer_maps *m)
{
	pending_discard(m, 0); /* a batch that failed before its flush */
	if (m->ids_busy)
		memset(m->ids_busy, 0, m->max_backends / 8 + 1);
}
