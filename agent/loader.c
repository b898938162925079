// SPDX-License-Identifier: BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "loader.h"
#include "maps.h"
#include "sock.skel.h"
#include "sysfs.h"

/* Program -> name of its pinned link under <bpffs>/links/. */
struct hook {
	const char *link_name;
	struct bpf_program *prog;
};

/*
 * Size the maps of @obj for @max_routes, as every layer's object must
 * (libbpf reuses a pinned map only when its definition matches). The
 * rules are include/steer_abi.manifest's sizing column. Maps without
 * preallocation take memory only for the entries in use: their size is a
 * cap. A map the object does not have is skipped.
 */
static int size_maps(struct bpf_object *obj, __u32 max_routes)
{
	const struct {
		const char *name;
		__u32 per_route;
	} sizes[] = {
		{ STEER_MAP_ROUTES, 1 },
		{ STEER_MAP_FRONTENDS, STEER_MAX_FRONTENDS },
		{ STEER_MAP_BACKENDS, STEER_BACKENDS_PER_ROUTE },
		{ STEER_MAP_BACKEND_IDS, STEER_BACKENDS_PER_ROUTE },
		{ STEER_MAP_MATCHES, 2 * STEER_MAX_RULES },
		{ STEER_MAP_STATS, 2 * STEER_MAX_RULES },
		{ STEER_MAP_BACKEND_STATS,
		  STEER_LAYER_COUNT * STEER_BACKENDS_PER_ROUTE },
		{ STEER_MAP_SEQ, 1 },
		{ STEER_MAP_RTT, STEER_MAX_VERSIONS },
		{ STEER_MAP_HEALTH, 2 * STEER_BACKENDS_PER_ROUTE },
		{ STEER_MAP_HEALTH_SLOTS, STEER_MAX_VERSIONS },
		{ STEER_MAP_ROUTE_INDEX, 2 }, /* and the newest generation */
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct bpf_map *map =
			bpf_object__find_map_by_name(obj, sizes[i].name);
		int ret;

		if (!map)
			continue;
		ret = bpf_map__set_max_entries(map,
					       max_routes * sizes[i].per_route);
		if (ret)
			return ret;
	}
	return 0;
}

static int set_pin_paths(struct bpf_object *obj, const char *bpffs)
{
	struct bpf_map *map;
	char path[512];
	int ret;

	bpf_object__for_each_map(map, obj)
	{
		ret = maps_pin_path(path, sizeof(path), bpffs,
				    bpf_map__name(map));
		if (!ret)
			ret = bpf_map__set_pin_path(map, path);
		if (ret)
			return ret;
	}
	return 0;
}

int loader_prepare_obj(struct bpf_object *obj, const char *bpffs,
		       __u32 max_routes)
{
	int ret = size_maps(obj, max_routes);

	return ret ? ret : set_pin_paths(obj, bpffs);
}

/* The cgroup a pinned cgroup link is attached to; 0 when it is defunct. */
static __u64 link_cgroup_id(struct bpf_link *link)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len))
		return 0;
	if (info.type != BPF_LINK_TYPE_CGROUP)
		return 0;
	return info.cgroup.cgroup_id;
}

/*
 * Attach @h to the cgroup open as @cg_fd (id @cg_id), reusing a pinned link
 * when it is on the same cgroup. A pinned link on another cgroup (steerd
 * restarted with a different --cgroup) or a defunct one is replaced: the
 * new link is attached first and the old one detached after, so the old
 * cgroup loses its hook only once the new one has it.
 */
static int attach_hook(const struct hook *h, const char *bpffs, int cg_fd,
		       __u64 cg_id, const char *cgroup, char *err,
		       size_t errlen)
{
	struct bpf_link *old, *link;
	char path[512];
	int ret;

	snprintf(path, sizeof(path), "%s/links/%s", bpffs, h->link_name);
	old = bpf_link__open(path);
	if (old && link_cgroup_id(old) == cg_id) {
		ret = bpf_link__update_program(old, h->prog);
		if (ret)
			snprintf(err, errlen,
				 "failed to update pinned link %s: %s", path,
				 strerror(-ret));
		else
			pr_debug("took over %s", path);
		bpf_link__disconnect(old);
		bpf_link__destroy(old);
		return ret;
	}

	link = bpf_program__attach_cgroup(h->prog, cg_fd);
	if (!link) {
		ret = -errno;
		snprintf(err, errlen, "failed to attach %s to %s: %s",
			 h->link_name, cgroup, strerror(errno));
		goto out_old;
	}
	if (old) {
		bpf_link__unpin(old);
		bpf_link__detach(old);
	}
	ret = bpf_link__pin(link, path);
	if (ret)
		snprintf(err, errlen, "failed to pin %s: %s", path,
			 strerror(-ret));
	bpf_link__disconnect(link);
	bpf_link__destroy(link);
	pr_debug("attached %s to %s", h->link_name, cgroup);
out_old:
	if (old) {
		bpf_link__disconnect(old);
		bpf_link__destroy(old);
	}
	return ret;
}

/* Undo sysfs_bpffs_prepare() after a failed start; rmdir keeps any pin. */
static void remove_empty_pin_dirs(const char *bpffs)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/links", bpffs);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/maps", bpffs);
	rmdir(path);
	rmdir(bpffs);
}

/* What loader_load() loaded, until loader_attach() or loader_abort(). */
static struct steer_sock *loaded;
static int loaded_cg_fd = -1;
static __u64 loaded_cg_id;

void loader_abort(void)
{
	steer_sock__destroy(loaded);
	loaded = NULL;
	if (loaded_cg_fd >= 0)
		close(loaded_cg_fd);
	loaded_cg_fd = -1;
}

int loader_load(const struct loader_opts *o, char *err, size_t errlen)
{
	struct steer_sock *skel;
	int ret;

	loader_abort();
	ret = sysfs_cgroup_id(o->cgroup, &loaded_cg_id);
	if (!ret) {
		loaded_cg_fd = open(o->cgroup, O_RDONLY | O_DIRECTORY);
		if (loaded_cg_fd < 0)
			ret = -errno;
	}
	if (ret) {
		snprintf(err, errlen, "cgroup %s: %s", o->cgroup,
			 strerror(-ret));
		return ret;
	}
	ret = sysfs_bpffs_prepare(o->bpffs, err, errlen);
	if (ret) {
		loader_abort();
		return ret;
	}

	skel = steer_sock__open();
	if (!skel) {
		ret = -errno;
		snprintf(err, errlen, "failed to open BPF object: %s",
			 strerror(errno));
		goto out;
	}
	ret = loader_prepare_obj(skel->obj, o->bpffs, o->max_routes);
	if (ret) {
		snprintf(err, errlen, "failed to configure maps: %s",
			 strerror(-ret));
		goto out;
	}
	ret = steer_sock__load(skel);
	if (ret == -EPERM || ret == -EACCES) {
		snprintf(err, errlen,
			 "failed to load BPF programs: %s (steerd needs root, "
			 "or CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and "
			 "CAP_SYS_ADMIN)",
			 strerror(-ret));
		goto out;
	} else if (ret) {
		snprintf(err, errlen,
			 "failed to load BPF programs: %s (pinned maps of "
			 "another layout or --max-routes under %s? run "
			 "steerd --cleanup, or -v for the verifier log)",
			 strerror(-ret), o->bpffs);
		goto out;
	}
out:
	if (ret) {
		steer_sock__destroy(skel);
		loader_abort();
		remove_empty_pin_dirs(o->bpffs);
		return ret;
	}
	loaded = skel;
	return 0;
}

/* Unpin <bpffs>/maps/ entries that @obj has no map of (an older layout's). */
static void unpin_stale_maps(struct bpf_object *obj, const char *bpffs)
{
	char dir[512], path[1024];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/maps", bpffs);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    bpf_object__find_map_by_name(obj, de->d_name) ||
		    !strcmp(de->d_name, STEER_MAP_CT))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!unlink(path))
			pr_info("removed %s: a map of an older layout", path);
	}
	closedir(d);
}

int loader_attach(const struct loader_opts *o, char *err, size_t errlen)
{
	int ret = 0;

	if (!loaded) {
		snprintf(err, errlen, "nothing loaded to attach");
		return -EINVAL;
	}
	const struct hook hooks[] = {
		{ "connect4", loaded->progs.steer_sock4_connect },
		{ "connect6", loaded->progs.steer_sock6_connect },
		{ "getpeername4", loaded->progs.steer_sock4_getpeername },
		{ "getpeername6", loaded->progs.steer_sock6_getpeername },
		{ "sendmsg4", loaded->progs.steer_sock4_sendmsg },
		{ "sendmsg6", loaded->progs.steer_sock6_sendmsg },
		{ "recvmsg4", loaded->progs.steer_sock4_recvmsg },
		{ "recvmsg6", loaded->progs.steer_sock6_recvmsg },
		{ "sockops", loaded->progs.steer_sockops },
	};
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		ret = attach_hook(&hooks[i], o->bpffs, loaded_cg_fd,
				  loaded_cg_id, o->cgroup, err, errlen);
		if (ret)
			break;
	}
	if (!ret)
		unpin_stale_maps(loaded->obj, o->bpffs);
	loader_abort();
	if (ret)
		remove_empty_pin_dirs(o->bpffs);
	return ret;
}

/*
 * Apply @fn to every entry of <bpffs>/<sub>/ (our own pin directory: every
 * pin in it is steer's, whatever layer or release pinned it). Returns the
 * first error, with its reason in @err.
 */
static int for_each_pin(const char *bpffs, const char *sub,
			int (*fn)(const char *path), char *err, size_t errlen)
{
	char dir[512], path[1024];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", bpffs, sub);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (fn(path) && !ret) {
			ret = -errno;
			snprintf(err, errlen, "cannot remove %s: %s", path,
				 strerror(errno));
		}
	}
	closedir(d);
	return ret;
}

/* Detach a pinned link from its hook, then remove the pin. */
static int detach_link(const char *path)
{
	struct bpf_link *link = bpf_link__open(path);

	if (link) {
		bpf_link__detach(link);
		bpf_link__destroy(link);
	}
	return unlink(path) && errno != ENOENT ? -1 : 0;
}

static int unpin(const char *path)
{
	return unlink(path) && errno != ENOENT ? -1 : 0;
}

int loader_cleanup(const char *bpffs, char *err, size_t errlen)
{
	int ret;

	ret = for_each_pin(bpffs, "links", detach_link, err, errlen);
	if (!ret)
		ret = for_each_pin(bpffs, "maps", unpin, err, errlen);
	remove_empty_pin_dirs(bpffs);
	if (access(bpffs, F_OK) == 0 && !ret) {
		errno = ENOTEMPTY;
		ret = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", bpffs,
			 strerror(errno));
	}
	return ret;
}
