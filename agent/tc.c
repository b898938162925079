// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <fnmatch.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "netlink.h"
#include "tc.h"
#include "tc.skel.h"

#define GC_BATCH 1024

struct tc_state {
	struct steer_tc *skel;
	struct link_watch *watch;
	char *globs; /* --tc-iface, NUL-separated copy */
	int prog_fd, ct_fd;
	__u32 prog_id;
};

static bool iface_matches(const struct tc_state *t, const char *name)
{
	for (const char *g = t->globs; *g; g += strlen(g) + 1)
		if (!fnmatch(g, name, 0))
			return true;
	return false;
}

static void hook_of(struct bpf_tc_hook *h, int ifindex)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = BPF_TC_INGRESS;
}

/* Id of the program in steer's filter slot of @ifindex; 0 when none. */
static __u32 filter_prog_id(int ifindex)
{
	struct bpf_tc_opts q = { .sz = sizeof(q),
				 .handle = STEER_TC_HANDLE,
				 .priority = STEER_TC_PRIORITY };
	struct bpf_tc_hook h;

	hook_of(&h, ifindex);
	return bpf_tc_query(&h, &q) ? 0 : q.prog_id;
}

/*
 * Put our program into steer's filter slot on @ifindex: create clsact if
 * it is missing, then attach, replacing what an earlier steerd left there
 * in one step. Nothing is ever removed first.
 */
static int attach_iface(struct tc_state *t, int ifindex, const char *name)
{
	struct bpf_tc_opts o = { .sz = sizeof(o),
				 .handle = STEER_TC_HANDLE,
				 .priority = STEER_TC_PRIORITY,
				 .flags = BPF_TC_F_REPLACE,
				 .prog_fd = t->prog_fd };
	struct bpf_tc_hook h;
	__u32 old = filter_prog_id(ifindex);
	int ret;

	if (old == t->prog_id)
		return 0; /* already ours: a link event of no interest */
	hook_of(&h, ifindex);
	ret = bpf_tc_hook_create(&h);
	if (ret && ret != -EEXIST) {
		pr_warn("failed to add clsact to %s: %s", name, strerror(-ret));
		return ret;
	}
	ret = bpf_tc_attach(&h, &o);
	if (ret) {
		pr_warn("failed to attach tc ingress to %s: %s", name,
			strerror(-ret));
		return ret;
	}
	pr_info("tc ingress on %s (ifindex %d): %s", name, ifindex,
		old ? "program replaced" : "attached");
	return 0;
}

static void on_link(void *arg, int ifindex, const char *name)
{
	struct tc_state *t = arg;

	if (iface_matches(t, name))
		attach_iface(t, ifindex, name);
}

/* Every interface of this network namespace, through on_link(). */
static int scan_links(struct tc_state *t)
{
	struct if_nameindex *ifs = if_nameindex();

	if (!ifs)
		return -errno;
	for (struct if_nameindex *i = ifs; i->if_index; i++)
		on_link(t, (int)i->if_index, i->if_name);
	if_freenameindex(ifs);
	return 0;
}

static __u32 prog_id_of(int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static int load(struct tc_state *t, const struct tc_opts *o, char *err,
		size_t errlen)
{
	int ret;

	t->skel = steer_tc__open();
	if (!t->skel) {
		snprintf(err, errlen, "failed to open tc.bpf.o: %s",
			 strerror(errno));
		return -errno;
	}
	ret = loader_prepare_obj(t->skel->obj, o->bpffs, o->max_routes);
	if (!ret)
		ret = bpf_map__set_max_entries(t->skel->maps.steer_ct_v1,
					       2 * o->ct_max);
	if (ret) {
		snprintf(err, errlen, "failed to configure tc maps: %s",
			 strerror(-ret));
		return ret;
	}
	ret = steer_tc__load(t->skel);
	if (ret) {
		snprintf(err, errlen,
			 "failed to load tc.bpf.o: %s (pinned maps of another "
			 "layout, --max-routes or --ct-max under %s? run "
			 "steerd --cleanup, or -v for the verifier log)",
			 strerror(-ret), o->bpffs);
		return ret;
	}
	t->prog_fd = bpf_program__fd(t->skel->progs.steer_tc_ingress);
	t->ct_fd = bpf_map__fd(t->skel->maps.steer_ct_v1);
	t->prog_id = prog_id_of(t->prog_fd);
	return 0;
}

struct tc_state *tc_start(const struct tc_opts *o, char *err, size_t errlen)
{
	struct tc_state *t = calloc(1, sizeof(*t));
	size_t n;

	if (!t || !(t->globs = calloc(1, (n = strlen(o->ifaces)) + 2))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(t->globs, o->ifaces, n);
	for (char *c = t->globs; *c; c++)
		if (*c == ',')
			*c = '\0';
	if (load(t, o, err, errlen))
		goto fail;
	/* Watch first, then scan: a link that appears in between is seen. */
	if (o->watch) {
		t->watch = link_watch_open(on_link, t, err, errlen);
		if (!t->watch)
			goto fail;
	}
	if (scan_links(t)) {
		snprintf(err, errlen, "cannot list interfaces: %s",
			 strerror(errno));
		goto fail;
	}
	return t;
fail:
	tc_stop(t);
	return NULL;
}

int tc_event_fd(const struct tc_state *t)
{
	return t && t->watch ? link_watch_fd(t->watch) : -1;
}

void tc_on_event(struct tc_state *t)
{
	if (link_watch_read(t->watch) > 0) {
		pr_warn("link events were lost; rescanning interfaces");
		scan_links(t);
	}
}

static bool ct_expired(const struct steer_ct_key *k,
		       const struct steer_ct_entry *e, __u64 now)
{
	return now > e->last_seen_ns &&
	       now - e->last_seen_ns > steer_ct_timeout_ns(k->proto, e->state);
}

/*
 * A flow goes when both its entries are idle past their timeout: a UDP
 * flow that only the client talks on keeps its reply entry. Each entry is
 * read again just before it is deleted, so a packet that refreshed it
 * since the batch was read keeps it.
 */
static int ct_sweep(int fd, const struct steer_ct_key *keys,
		    const struct steer_ct_entry *vals, __u32 n, __u64 now)
{
	struct steer_ct_entry e, pe;
	struct steer_ct_key peer;
	int removed = 0;

	for (__u32 i = 0; i < n; i++) {
		if (!ct_expired(&keys[i], &vals[i], now) ||
		    vals[i].dir != STEER_CT_FORWARD)
			continue;
		steer_ct_peer_key(&keys[i], &vals[i], &peer);
		if (!bpf_map_lookup_elem(fd, &peer, &pe) &&
		    !ct_expired(&peer, &pe, now))
			continue;
		if (bpf_map_lookup_elem(fd, &keys[i], &e) ||
		    !ct_expired(&keys[i], &e, now))
			continue;
		bpf_map_delete_elem(fd, &keys[i]);
		bpf_map_delete_elem(fd, &peer);
		removed++;
	}
	return removed;
}

int tc_ct_sweep(int ct_fd, __u64 now)
{
	static struct steer_ct_key keys[GC_BATCH];
	static struct steer_ct_entry vals[GC_BATCH];
	__u32 token = 0, count;
	int removed = 0, ret;
	bool first = true;

	do {
		count = GC_BATCH;
		ret = bpf_map_lookup_batch(ct_fd, first ? NULL : &token, &token,
					   keys, vals, &count, NULL);
		if (ret && errno != ENOENT) {
			pr_warn("conntrack sweep: %s", strerror(errno));
			return -errno;
		}
		first = false;
		removed += ct_sweep(ct_fd, keys, vals, count, now);
	} while (!ret);
	return removed;
}

int tc_ct_gc(struct tc_state *t)
{
	struct timespec ts;
	int removed;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	removed = tc_ct_sweep(t->ct_fd, (__u64)ts.tv_sec * 1000000000ULL +
						(__u64)ts.tv_nsec);
	if (removed > 0)
		pr_debug("conntrack: %d idle or closed flows removed", removed);
	return removed;
}

void tc_stop(struct tc_state *t)
{
	if (!t)
		return;
	link_watch_close(t->watch);
	steer_tc__destroy(t->skel);
	free(t->globs);
	free(t);
}

/* Does program @id use the map with id @map_id? */
static bool prog_uses_map(__u32 id, __u32 map_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64] = { 0 };
	int fd = bpf_prog_get_fd_by_id(id);
	bool uses = false;

	if (fd < 0)
		return false;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (__u32 i = 0; i < info.nr_map_ids && i < 64; i++)
			uses |= ids[i] == map_id;
	close(fd);
	return uses;
}

int tc_cleanup(const char *bpffs, char *err, size_t errlen)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct if_nameindex *ifs;
	char path[512];
	int fd, ret = 0;

	if (maps_pin_path(path, sizeof(path), bpffs, STEER_MAP_CT))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* the TC layer never ran here */
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    !(ifs = if_nameindex())) {
		ret = -errno;
		snprintf(err, errlen, "cannot list tc filters: %s",
			 strerror(errno));
		close(fd);
		return ret;
	}
	for (struct if_nameindex *i = ifs; i->if_index; i++) {
		struct bpf_tc_opts o = { .sz = sizeof(o),
					 .handle = STEER_TC_HANDLE,
					 .priority = STEER_TC_PRIORITY };
		__u32 id = filter_prog_id((int)i->if_index);
		struct bpf_tc_hook h;

		if (!id || !prog_uses_map(id, info.id))
			continue;
		hook_of(&h, (int)i->if_index);
		if (bpf_tc_detach(&h, &o) && !ret) {
			ret = -errno;
			snprintf(err, errlen,
				 "failed to detach tc ingress from %s: %s",
				 i->if_name, strerror(errno));
		} else {
			pr_debug("detached tc ingress from %s", i->if_name);
		}
	}
	if_freenameindex(ifs);
	close(fd);
	return ret;
}
