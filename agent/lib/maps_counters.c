// SPDX-License-Identifier: BSD-2-Clause
/*
 * The datapath's per-CPU counters (steer_stats_v2, steer_backend_stats_v2,
 * steer_rtt_v2): hash entries created by the programs on first use, keyed
 * by route and counter slot, summed over CPUs here. A missing entry reads
 * as zero; clearing one deletes it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maps.h"

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
static int percpu_sum(int fd, const void *key, __u64 *dst, size_t n_u64)
{
	int cpus = ncpus();
	__u64 *per;

	if (cpus <= 0)
		return cpus ? cpus : -EINVAL;
	per = calloc((size_t)cpus * n_u64, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (!bpf_map_lookup_elem(fd, key, per))
		for (int c = 0; c < cpus; c++)
			for (size_t f = 0; f < n_u64; f++)
				dst[f] += per[(size_t)c * n_u64 + f];
	free(per);
	return 0;
}

/* Delete @key from @fd; a missing key is no error. */
static int drop(int fd, const void *key)
{
	if (bpf_map_delete_elem(fd, key) && errno != ENOENT)
		return -errno;
	return 0;
}

static struct steer_backend_stats_key backend_key(__u32 id, __u32 vslot,
						  __u32 bslot, __u32 layer)
{
	struct steer_backend_stats_key k = {
		.route = id,
		.version = (__u8)vslot,
		.layer = (__u8)layer,
		.backend = (__u16)bslot,
	};

	return k;
}

int maps_backend_stats_read(const struct steer_maps *m, __u32 id, __u32 vslot,
			    __u32 bslot, enum steer_layer layer,
			    struct steer_backend_stats *out)
{
	struct steer_backend_stats_key k = backend_key(id, vslot, bslot, layer);

	memset(out, 0, sizeof(*out));
	if (vslot >= STEER_MAX_VERSIONS || bslot >= STEER_MAX_BACKENDS ||
	    layer >= STEER_LAYER_COUNT)
		return -EINVAL;
	return percpu_sum(m->backend_stats, &k, (__u64 *)out,
			  sizeof(*out) / sizeof(__u64));
}

int maps_backend_stats_clear(const struct steer_maps *m, __u32 id, __u32 vslot,
			     __u32 bslot)
{
	int ret = 0;

	for (__u32 l = 0; l < STEER_LAYER_COUNT && !ret; l++) {
		struct steer_backend_stats_key k =
			backend_key(id, vslot, bslot, l);

		ret = drop(m->backend_stats, &k);
	}
	return ret;
}

static struct steer_health_key health_key(__u32 id, __u32 vslot, __u32 bslot)
{
	struct steer_health_key k = {
		.route = id,
		.version = (__u8)vslot,
		.backend = (__u16)bslot,
	};

	return k;
}

int maps_health_read(const struct steer_maps *m, __u32 id, __u32 vslot,
		     __u32 bslot, struct steer_health *out)
{
	struct steer_health_key k = health_key(id, vslot, bslot);

	memset(out, 0, sizeof(*out));
	if (m->health < 0)
		return -ENOENT;
	return bpf_map_lookup_elem(m->health, &k, out) ? -errno : 0;
}

int maps_health_clear(const struct steer_maps *m, __u32 id, __u32 vslot,
		      __u32 bslot)
{
	struct steer_health_key k = health_key(id, vslot, bslot);
	struct steer_health zero = { 0 };

	if (m->health < 0)
		return 0;
	/* Only an entry that exists is reset: seeding is the publisher's. */
	if (bpf_map_update_elem(m->health, &k, &zero, BPF_EXIST) &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

__u64 maps_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

int maps_rtt_read(const struct steer_maps *m, __u32 id, __u32 vslot,
		  struct steer_rtt *out)
{
	struct steer_rtt_key k = { .route = id, .version = vslot };

	memset(out, 0, sizeof(*out));
	if (vslot >= STEER_MAX_VERSIONS)
		return -EINVAL;
	return percpu_sum(m->rtt, &k, (__u64 *)out,
			  sizeof(*out) / sizeof(__u64));
}

int maps_rtt_clear(const struct steer_maps *m, __u32 id, __u32 vslot)
{
	struct steer_rtt_key k = { .route = id, .version = vslot };

	if (vslot >= STEER_MAX_VERSIONS)
		return -EINVAL;
	return drop(m->rtt, &k);
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
		for (__u32 v = 0; v <= STEER_MAX_VERSIONS && !ret; v++) {
			struct steer_stats_key k = { .route = id,
						     .rule = (__u8)r,
						     .version = (__u8)v };

			ret = percpu_sum(m->stats, &k, (__u64 *)&st[r][v],
					 sizeof(st[r][v]) / sizeof(__u64));
		}
	return ret;
}

int maps_stats_clear_slot(const struct steer_maps *m, __u32 id, __u32 rule,
			  __u32 version)
{
	struct steer_stats_key k = { .route = id,
				     .rule = (__u8)rule,
				     .version = (__u8)version };

	return drop(m->stats, &k);
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/*
 * Delete the entries of @fd (keys of @key_size bytes that start with the
 * route id) whose route is one of the sorted @ids: one walk of the map,
 * then the deletes (deleting mid-walk would restart it).
 */
static int drop_routes(int fd, size_t key_size, const __u32 *ids, int n)
{
	unsigned char key[16], next[16], *found = NULL, *grown;
	size_t n_found = 0, cap = 0;
	void *prev = NULL;
	int ret = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (!bsearch(next, ids, n, sizeof(*ids), cmp_u32))
			continue;
		if (n_found == cap) {
			cap = cap ? 2 * cap : 64;
			grown = realloc(found, cap * key_size);
			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			found = grown;
		}
		memcpy(found + n_found++ * key_size, next, key_size);
	}
	for (size_t i = 0; i < n_found && !ret; i++)
		ret = drop(fd, found + i * key_size);
	free(found);
	return ret;
}

int maps_stats_clear_many(const struct steer_maps *m, const __u32 *in, int n)
{
	__u32 *ids;
	int ret;

	if (n <= 0)
		return 0;
	ids = malloc((size_t)n * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	memcpy(ids, in, (size_t)n * sizeof(*ids));
	qsort(ids, n, sizeof(*ids), cmp_u32);
	ret = drop_routes(m->stats, sizeof(struct steer_stats_key), ids, n);
	if (!ret)
		ret = drop_routes(m->backend_stats,
				  sizeof(struct steer_backend_stats_key), ids,
				  n);
	if (!ret)
		ret = drop_routes(m->rtt, sizeof(struct steer_rtt_key), ids, n);
	if (!ret && m->health >= 0)
		ret = drop_routes(m->health, sizeof(struct steer_health_key),
				  ids, n);
	if (!ret && m->health_slots >= 0)
		ret = drop_routes(m->health_slots,
				  sizeof(struct steer_health_key), ids, n);
	free(ids);
	return ret;
}

int maps_stats_clear(const struct steer_maps *m, __u32 id)
{
	return maps_stats_clear_many(m, &id, 1);
}
