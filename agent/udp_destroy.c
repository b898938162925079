// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerd's side of bpf/udp_destroy.bpf.c: load the UDP socket iterator
 * next to the socket layer (its own object: the main one must load where
 * bpf_sock_destroy is missing), and run it by reading an iterator fd to
 * its end: once after each apply, and every second while a backend is
 * passively ejected (an ejection starts in the datapath, with no apply).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"
#include "loader.h"
#include "log.h"
#include "udp_destroy.h"
#include "udp_destroy.skel.h"

static struct steer_udp_destroy *skel;
static struct bpf_link *iter_link;

/* The maps the iterator reads; the other maps of maps.h are not created
 * for it (no second sizing of a map it never touches, e.g. steer_ct_v1). */
static bool used_map(const char *name)
{
	static const char *const used[] = { "steer_routes_v2",
					    "steer_backends_v2",
					    "steer_health_v1",
					    "steer_sk_orig_v2" };

	for (size_t i = 0; i < sizeof(used) / sizeof(*used); i++)
		if (!strcmp(name, used[i]))
			return true;
	return false;
}

static void not_closed(const char *why)
{
	pr_info("connected UDP sockets of removed or ejected backends are "
		"not closed (needs Linux 6.5+)%s%s",
		why ? ": " : "", why ? why : "");
}

int udp_destroy_init(const char *bpffs, __u32 max_routes)
{
	struct bpf_map *map;
	int ret;

	if (!kfeatures_have(FEAT_SOCK_DESTROY)) {
		not_closed(NULL);
		return 0;
	}
	skel = steer_udp_destroy__open();
	if (!skel) {
		ret = -errno;
		goto fail;
	}
	ret = loader_prepare_obj(skel->obj, bpffs, max_routes);
	bpf_object__for_each_map(map, skel->obj)
	{
		if (ret)
			break;
		if (bpf_map__is_internal(map)) /* .bss: ours, not pinned */
			ret = bpf_map__set_pin_path(map, NULL);
		else if (!used_map(bpf_map__name(map)))
			ret = bpf_map__set_autocreate(map, false);
	}
	if (!ret)
		ret = steer_udp_destroy__load(skel);
	if (ret)
		goto fail;
	iter_link =
		bpf_program__attach_iter(skel->progs.steer_udp_destroy, NULL);
	if (!iter_link) {
		ret = -errno;
		goto fail;
	}
	return 0;
fail:
	not_closed(strerror(-ret));
	udp_destroy_fini();
	return 0;
}

bool udp_destroy_ready(void)
{
	return iter_link != NULL;
}

bool udp_destroy_ejected(const struct steer_maps *m)
{
	struct steer_health_key k, *prev = NULL;
	struct steer_health h;
	__u64 now = maps_now_ns();

	if (m->health < 0)
		return false;
	while (!bpf_map_get_next_key(m->health, prev, &k)) {
		if (!bpf_map_lookup_elem(m->health, &k, &h) &&
		    h.ejected_until_ns > now)
			return true;
		prev = &k;
	}
	return false;
}

int udp_destroy_run(void)
{
	__u64 before;
	char buf[64];
	ssize_t n;
	int fd;

	if (!iter_link)
		return 0;
	before = skel->bss->destroyed;
	fd = bpf_iter_create(bpf_link__fd(iter_link));
	if (fd < 0) {
		pr_warn("cannot walk the UDP sockets: %s", strerror(errno));
		return -errno;
	}
	/* The program prints nothing: a read to the end is one walk. */
	do
		n = read(fd, buf, sizeof(buf));
	while (n > 0 || (n < 0 && errno == EINTR));
	close(fd);
	if (n < 0) {
		pr_warn("cannot walk the UDP sockets: %s", strerror(errno));
		return -errno;
	}
	n = (ssize_t)(skel->bss->destroyed - before);
	if (n > 0)
		pr_info("closed %zd connected UDP socket%s of removed or "
			"ejected backends",
			n, n == 1 ? "" : "s");
	return (int)n;
}

void udp_destroy_fini(void)
{
	bpf_link__destroy(iter_link);
	iter_link = NULL;
	steer_udp_destroy__destroy(skel);
	skel = NULL;
}
