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
#include "maps.h"
#include "maps_internal.h"
#include "rows.h"

static int cmp_u32_desc(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x > y ? -1 : x < y;
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
 * before any route refers to it, so no reader ever sees an id without its
 * address. Ids no route refers to any more are reclaimed when none is
 * left (backend_ids_reclaim; docs/map-abi.md: "Backend ids").
 */
int maps_backend_id(void *ctx, const struct steer_backend_addr *a, __u32 *id)
{
	struct steer_maps *m = ctx;
	bool reused = false;
	__u32 next;
	int ret;

	if (!bpf_map_lookup_elem(m->backend_ids, a, id))
		return id_busy_set(m, *id);
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
	if (bpf_map_update_elem(m->backends, &next, a, BPF_ANY) ||
	    bpf_map_update_elem(m->backend_ids, a, &next, BPF_NOEXIST)) {
		ret = -errno;
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
	if (m->ids_busy)
		memset(m->ids_busy, 0, m->max_backends / 8 + 1);
}
