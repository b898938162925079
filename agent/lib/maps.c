// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maps.h"

int maps_pin_path(char *buf, size_t len, const char *bpffs, const char *name)
{
	int n = snprintf(buf, len, "%s/maps/%s", bpffs, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int open_pinned(const char *bpffs, const char *name, char *err,
		       size_t errlen)
{
	char path[512];
	int fd, ret;

	ret = maps_pin_path(path, sizeof(path), bpffs, name);
	if (ret)
		return ret;
	fd = bpf_obj_get(path);
	if (fd >= 0)
		return fd;
	ret = -errno;
	if (ret == -EPERM || ret == -EACCES)
		snprintf(err, errlen,
			 "cannot open %s: %s (steer needs root or CAP_BPF "
			 "and CAP_NET_ADMIN)",
			 path, strerror(-ret));
	else if (ret == -ENOENT)
		snprintf(err, errlen,
			 "no steer maps at %s (is steerd running with "
			 "--bpffs %s?)",
			 bpffs, bpffs);
	else
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(-ret));
	return ret;
}

struct map_fd {
	const char *name;
	int *fd;
};

#define N_MAPS 10

/* Every map steerd and steerctl open, by pin name, with its fd in @m. */
static void map_fds(struct steer_maps *m, struct map_fd fds[N_MAPS])
{
	const struct map_fd all[N_MAPS] = {
		{ STEER_MAP_ROUTES, &m->routes },
		{ STEER_MAP_FRONTENDS, &m->frontends },
		{ STEER_MAP_STATS, &m->stats },
		{ STEER_MAP_REASONS, &m->reasons },
		{ STEER_MAP_BACKEND_STATS, &m->backend_stats },
		{ STEER_MAP_RTT, &m->rtt },
		{ STEER_MAP_TRACE, &m->trace },
		{ STEER_MAP_EVENTS, &m->events },
		{ STEER_MAP_AGENT, &m->agent },
		{ STEER_MAP_ROUTE_INDEX, &m->route_index },
	};

	memcpy(fds, all, sizeof(all));
}

void maps_init(struct steer_maps *m)
{
	struct map_fd fds[N_MAPS];

	memset(m, 0, sizeof(*m));
	map_fds(m, fds);
	for (size_t i = 0; i < N_MAPS; i++)
		*fds[i].fd = -1;
}

void maps_from_object(struct bpf_object *obj, struct steer_maps *m)
{
	struct map_fd fds[N_MAPS];
	struct bpf_map *map;

	maps_init(m);
	map_fds(m, fds);
	for (size_t i = 0; i < N_MAPS; i++) {
		map = bpf_object__find_map_by_name(obj, fds[i].name);
		if (map)
			*fds[i].fd = bpf_map__fd(map);
	}
	map = bpf_object__find_map_by_name(obj, STEER_MAP_ROUTES);
	m->max_routes = map ? bpf_map__max_entries(map) : 0;
}

int maps_open(const char *bpffs, struct steer_maps *m, char *err, size_t errlen)
{
	struct bpf_map_info info = {};
	struct map_fd fds[N_MAPS];
	__u32 len = sizeof(info);
	int ret = 0;

	maps_init(m);
	map_fds(m, fds);
	for (size_t i = 0; i < N_MAPS && !ret; i++) {
		*fds[i].fd = open_pinned(bpffs, fds[i].name, err, errlen);
		if (*fds[i].fd < 0)
			ret = *fds[i].fd;
	}
	if (!ret && bpf_obj_get_info_by_fd(m->routes, &info, &len)) {
		ret = -errno;
		snprintf(err, errlen, "cannot read map info: %s",
			 strerror(errno));
	}
	if (ret) {
		maps_close(m);
		return ret;
	}
	m->max_routes = info.max_entries;
	return 0;
}

void maps_close(struct steer_maps *m)
{
	struct map_fd fds[N_MAPS];

	map_fds(m, fds);
	for (size_t i = 0; i < N_MAPS; i++) {
		if (*fds[i].fd >= 0)
			close(*fds[i].fd);
		*fds[i].fd = -1;
	}
}

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

int maps_route_get(const struct steer_maps *m, __u32 id,
		   struct steer_route_cfg *out)
{
	__u32 inner_id, zero = 0;
	int fd, ret;

	if (bpf_map_lookup_elem(m->routes, &id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	ret = bpf_map_lookup_elem(fd, &zero, out) ? -errno : 0;
	close(fd);
	return ret;
}

/* ---- the name index (steer_route_index_v1) ---------------------------- */

static void index_key(struct steer_route_name *k, const char *name)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->name, name, strnlen(name, sizeof(k->name) - 1));
}

/* Record that route @id, named in @cfg, is live at @cfg's generation. */
static void index_put(const struct steer_maps *m, __u32 id,
		      const struct steer_route_cfg *cfg)
{
	struct steer_route_index v = { .id = id,
				       .generation = cfg->generation };
	struct steer_route_name k;

	index_key(&k, cfg->name);
	/* A failure only costs readers a scan: they never trust it blindly. */
	bpf_map_update_elem(m->route_index, &k, &v, BPF_ANY);
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

int maps_route_find(const struct steer_maps *m, const char *name,
		    struct steer_route_cfg *out)
{
	struct steer_route_cfg *cfg = out ? out : malloc(sizeof(*cfg));
	__u32 *ids = NULL;
	int n = -ENOMEM, ret = -ENOENT;

	if (cfg) {
		int id = index_find(m, name);

		/* The shortcut, checked against the config it names. */
		if (id >= 0 && !maps_route_get(m, (__u32)id, cfg) &&
		    !strncmp(cfg->name, name, sizeof(cfg->name))) {
			if (!out)
				free(cfg);
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
		free(cfg);
	free(ids);
	return ret;
}

/* A new inner map holding exactly @cfg, frozen; returns its fd or -errno. */
static int route_inner(const struct steer_route_cfg *cfg)
{
	__u32 zero = 0;
	int inner, ret;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "steer_route", sizeof(__u32),
			       sizeof(*cfg), 1, NULL);
	if (inner < 0)
		return -errno;
	/*
	 * Fill the new map completely and freeze it: nobody can write it
	 * again, so what the datapath reads after the swap is exactly @cfg.
	 */
	if (bpf_map_update_elem(inner, &zero, cfg, BPF_ANY) ||
	    bpf_map_freeze(inner)) {
		ret = -errno;
		close(inner);
		return ret;
	}
	return inner;
}

int maps_route_publish(const struct steer_maps *m, __u32 id,
		       const struct steer_route_cfg *cfg)
{
	int inner = route_inner(cfg), ret = 0;

	if (inner < 0)
		return inner;
	/* The one write that publishes it. */
	if (bpf_map_update_elem(m->routes, &id, &inner, BPF_ANY))
		ret = -errno;
	else
		index_put(m, id, cfg);
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

int maps_route_publish_many(const struct steer_maps *m, const __u32 *ids,
			    const struct steer_route_cfg *const *cfgs, int n)
{
	int fds[ROUTE_BATCH], ret = 0;

	for (int done = 0; done < n && !ret;) {
		__u32 k = 0;

		while (k < ROUTE_BATCH && done + (int)k < n) {
			int fd = route_inner(cfgs[done + k]);

			if (fd < 0) {
				ret = fd;
				break;
			}
			fds[k++] = fd;
		}
		if (!ret && k)
			ret = routes_write(m, ids + done, fds, k);
		for (__u32 i = 0; !ret && i < k; i++)
			index_put(m, ids[done + i], cfgs[done + i]);
		for (__u32 i = 0; i < k; i++)
			close(fds[i]);
		done += (int)k;
	}
	return ret;
}

static int route_delete(const struct steer_maps *m, __u32 id)
{
	if (bpf_map_delete_elem(m->routes, &id) && errno != ENOENT)
		return -errno;
	return 0;
}

int maps_route_delete(const struct steer_maps *m, __u32 id)
{
	int ret = route_delete(m, id);

	if (!ret)
		index_drop(m, &id, 1);
	return ret;
}

int maps_route_delete_many(const struct steer_maps *m, const __u32 *ids, int n)
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
	index_drop(m, ids, n);
	return 0;
}

static int ncpus(void)
{
	static int n;

	if (!n)
		n = libbpf_num_possible_cpus();
	return n;
}

/*
 * Add the per-CPU values of @key in @fd (each @n_u64 counters) into @dst.
 * A missing key adds nothing.
 */
static int percpu_sum(int fd, __u32 key, __u64 *dst, size_t n_u64)
{
	int cpus = ncpus();
	__u64 *per;

	if (cpus <= 0)
		return cpus ? cpus : -EINVAL;
	per = calloc((size_t)cpus * n_u64, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (!bpf_map_lookup_elem(fd, &key, per))
		for (int c = 0; c < cpus; c++)
			for (size_t f = 0; f < n_u64; f++)
				dst[f] += per[(size_t)c * n_u64 + f];
	free(per);
	return 0;
}

/* Set @key of per-CPU map @fd (values of @size bytes) to zero on all CPUs. */
static int percpu_zero(int fd, __u32 key, size_t size)
{
	int cpus = ncpus(), ret = 0;
	void *zero;

	if (cpus <= 0)
		return cpus ? cpus : -EINVAL;
	zero = calloc(cpus, size);
	if (!zero)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &key, zero, BPF_ANY))
		ret = -errno;
	free(zero);
	return ret;
}

int maps_backend_stats_read(const struct steer_maps *m, __u32 id, __u32 vslot,
			    __u32 bslot, enum steer_layer layer,
			    struct steer_backend_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (vslot >= STEER_MAX_VERSIONS || bslot >= STEER_MAX_BACKENDS ||
	    layer >= STEER_LAYER_COUNT)
		return -EINVAL;
	return percpu_sum(m->backend_stats,
			  steer_backend_stats_index(id, vslot, bslot, layer),
			  (__u64 *)out, sizeof(*out) / sizeof(__u64));
}

int maps_backend_stats_clear(const struct steer_maps *m, __u32 id, __u32 vslot,
			     __u32 bslot)
{
	int ret = 0;

	for (__u32 l = 0; l < STEER_LAYER_COUNT && !ret; l++)
		ret = percpu_zero(
			m->backend_stats,
			steer_backend_stats_index(id, vslot, bslot, l),
			sizeof(struct steer_backend_stats));
	return ret;
}

int maps_rtt_read(const struct steer_maps *m, __u32 id, __u32 vslot,
		  struct steer_rtt *out)
{
	memset(out, 0, sizeof(*out));
	if (vslot >= STEER_MAX_VERSIONS)
		return -EINVAL;
	return percpu_sum(m->rtt, steer_rtt_index(id, vslot), (__u64 *)out,
			  sizeof(*out) / sizeof(__u64));
}

int maps_rtt_clear(const struct steer_maps *m, __u32 id, __u32 vslot)
{
	if (vslot >= STEER_MAX_VERSIONS)
		return -EINVAL;
	return percpu_zero(m->rtt, steer_rtt_index(id, vslot),
			   sizeof(struct steer_rtt));
}

int maps_agent_get(const struct steer_maps *m, struct steer_agent_state *out)
{
	__u32 zero = 0;

	memset(out, 0, sizeof(*out));
	return bpf_map_lookup_elem(m->agent, &zero, out) ? -errno : 0;
}

int maps_agent_put(const struct steer_maps *m,
		   const struct steer_agent_state *st)
{
	__u32 zero = 0;

	return bpf_map_update_elem(m->agent, &zero, st, BPF_ANY) ? -errno : 0;
}

int maps_stats_read(
	const struct steer_maps *m, __u32 id,
	struct steer_stats st[STEER_MAX_RULES + 1][STEER_MAX_VERSIONS + 1])
{
	int ret = 0;

	memset(st, 0,
	       sizeof(struct steer_stats) * (STEER_MAX_RULES + 1) *
		       (STEER_MAX_VERSIONS + 1));
	for (__u32 r = 0; r <= STEER_MAX_RULES && !ret; r++)
		for (__u32 v = 0; v <= STEER_MAX_VERSIONS && !ret; v++)
			ret = percpu_sum(m->stats, steer_stats_index(id, r, v),
					 (__u64 *)&st[r][v],
					 sizeof(st[r][v]) / sizeof(__u64));
	return ret;
}

int maps_stats_clear_slot(const struct steer_maps *m, __u32 id, __u32 rule,
			  __u32 version)
{
	return percpu_zero(m->stats, steer_stats_index(id, rule, version),
			   sizeof(struct steer_stats));
}

/*
 * Zero @n consecutive per-CPU entries from @first with one batch write (a
 * route's counters are one run of indices), or one by one where the
 * kernel has no batch support: a fresh route has 81 + 512 + 8 of them.
 */
static int percpu_zero_run(int fd, __u32 first, __u32 n, size_t size)
{
	int cpus = ncpus(), ret = 0;
	__u32 *keys, count = n;
	void *zero;

	if (cpus <= 0)
		return cpus ? cpus : -EINVAL;
	keys = calloc(n, sizeof(*keys));
	zero = calloc((size_t)cpus * n, size);
	if (!keys || !zero) {
		ret = -ENOMEM;
		goto out;
	}
	for (__u32 i = 0; i < n; i++)
		keys[i] = first + i;
	if (bpf_map_update_batch(fd, keys, zero, &count, NULL))
		for (__u32 i = count; i < n && !ret; i++)
			ret = percpu_zero(fd, first + i, size);
out:
	free(keys);
	free(zero);
	return ret;
}

int maps_stats_clear(const struct steer_maps *m, __u32 id)
{
	int ret = percpu_zero_run(m->stats, steer_stats_index(id, 0, 0),
				  STEER_STATS_PER_ROUTE,
				  sizeof(struct steer_stats));

	if (!ret)
		ret = percpu_zero_run(m->backend_stats,
				      steer_backend_stats_index(id, 0, 0, 0),
				      STEER_BACKEND_STATS_PER_ROUTE,
				      sizeof(struct steer_backend_stats));
	if (!ret)
		ret = percpu_zero_run(m->rtt, steer_rtt_index(id, 0),
				      STEER_MAX_VERSIONS,
				      sizeof(struct steer_rtt));
	return ret;
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
		if (!bpf_map_lookup_elem(m->route_index, &next, &v)) {
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
	struct steer_route_cfg *cfg;
	__u32 *ids = NULL;
	long long fast;
	__u64 gen = 0;
	int n;

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
	free(cfg);
	return gen;
}

int maps_lock(const char *bpffs)
{
	int fd = open(bpffs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			int ret = -errno;

			close(fd);
			return ret;
		}
	}
	return fd;
}

void maps_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the last fd drops the flock */
}
