// SPDX-License-Identifier: BSD-2-Clause
/*
 * The pinned maps: where they are, opening them, steerd's own pinned
 * counters, and the lock that serialises publishers. Routes are in
 * maps_route.c, counters in maps_counters.c.
 */
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
#include "maps_internal.h"

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

#define N_MAPS 15
/* The last ones may be missing (pins of an older steerd): -1 then. */
#define N_OPTIONAL 2

/*
 * Every map steerd and steerctl open, by pin name, with its fd in @m; entry
 * i is bit 1 << i of enum maps_set.
 */
static void map_fds(struct steer_maps *m, struct map_fd fds[N_MAPS])
{
	const struct map_fd all[N_MAPS] = {
		{ STEER_MAP_ROUTES, &m->routes },
		{ STEER_MAP_FRONTENDS, &m->frontends },
		{ STEER_MAP_BACKENDS, &m->backends },
		{ STEER_MAP_BACKEND_IDS, &m->backend_ids },
		{ STEER_MAP_MATCHES, &m->matches },
		{ STEER_MAP_STATS, &m->stats },
		{ STEER_MAP_REASONS, &m->reasons },
		{ STEER_MAP_BACKEND_STATS, &m->backend_stats },
		{ STEER_MAP_RTT, &m->rtt },
		{ STEER_MAP_TRACE, &m->trace },
		{ STEER_MAP_EVENTS, &m->events },
		{ STEER_MAP_AGENT, &m->agent },
		{ STEER_MAP_ROUTE_INDEX, &m->route_index },
		{ STEER_MAP_HEALTH, &m->health },
		{ STEER_MAP_HEALTH_SLOTS, &m->health_slots },
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
	map = bpf_object__find_map_by_name(obj, STEER_MAP_BACKENDS);
	m->max_backends = map ? bpf_map__max_entries(map) : 0;
}

_Static_assert(MAPS_ALL == (1u << N_MAPS) - 1, "a bit for every map");

int maps_open(const char *bpffs, struct steer_maps *m, char *err, size_t errlen)
{
	return maps_open_some(bpffs, m, MAPS_ALL, err, errlen);
}

int maps_open_some(const char *bpffs, struct steer_maps *m, unsigned int which,
		   char *err, size_t errlen)
{
	struct bpf_map_info info = {};
	struct map_fd fds[N_MAPS];
	__u32 len = sizeof(info);
	int ret = 0;

	which |= MAPS_ROUTES; /* max_routes, and the error of no pins */
	maps_init(m);
	map_fds(m, fds);
	for (size_t i = 0; i < N_MAPS && !ret; i++) {
		if (!(which & (1u << i)))
			continue;
		*fds[i].fd = open_pinned(bpffs, fds[i].name, err, errlen);
		if (*fds[i].fd == -ENOENT && i >= N_MAPS - N_OPTIONAL) {
			*fds[i].fd = -1;
			err[0] = '\0';
		} else if (*fds[i].fd < 0) {
			ret = *fds[i].fd;
		}
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
	memset(&info, 0, sizeof(info));
	len = sizeof(info);
	if (m->backends >= 0 &&
	    !bpf_obj_get_info_by_fd(m->backends, &info, &len))
		m->max_backends = info.max_entries;
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
	free(m->free_ids);
	free(m->ids_busy);
	maps_backend_ids_free(m);
	m->free_ids = NULL;
	m->ids_busy = NULL;
	m->n_free = 0;
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

int maps_read_all(int fd, size_t key_size, size_t value_size, void **keys,
		  void **vals, __u32 *n)
{
	enum { CHUNK = 4096 };
	unsigned char *k = NULL, *v = NULL, *grown;
	__u32 batch, cap = 0, count, got = 0;
	bool first = true, end = false;
	int ret = 0;

	while (!ret && !end) {
		if (cap - got < CHUNK) {
			cap = cap ? 2 * cap : 4 * CHUNK;
			grown = realloc(k, (size_t)cap * key_size);
			if (grown)
				k = grown;
			grown = grown ? realloc(v, (size_t)cap * value_size)
				      : NULL;
			if (grown)
				v = grown;
			if (!grown) {
				ret = -ENOMEM;
				break;
			}
		}
		count = CHUNK;
		if (bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch,
					 k + (size_t)got * key_size,
					 v + (size_t)got * value_size, &count,
					 NULL)) {
			end = errno == ENOENT; /* @count entries, the last */
			if (!end)
				ret = -errno;
		}
		first = false;
		if (!ret)
			got += count;
	}
	if (ret) {
		free(k);
		free(v);
		return ret;
	}
	*keys = k;
	if (vals)
		*vals = v;
	else
		free(v);
	*n = got;
	return 0;
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
