/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TC layer's life in steerd: load bpf/tc.bpf.c on the pinned maps,
 * attach it to clsact ingress of the interfaces matching --tc-iface (at
 * start and as they appear, from link events), expire idle conntrack
 * entries, and detach it on --cleanup only.
 *
 * cls_bpf filters are not bpf_links: steer's filter sits at a fixed
 * handle and priority, and a new steerd swaps its program in with
 * BPF_TC_F_REPLACE, one atomic step. A normal stop leaves the filters and
 * the qdisc in place (stripping filters on restart opened Cilium's
 * CVE-2023-27595 window); the pinned conntrack map keeps every flow.
 */
#ifndef STEER_TC_H
#define STEER_TC_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define STEER_TC_HANDLE	     0x57ee /* cls_bpf handle of steer's filter */
#define STEER_TC_PRIORITY    1	    /* and its priority: runs first */
#define STEER_TC_GC_INTERVAL 5	    /* seconds between conntrack sweeps */

struct tc_opts {
	const char *bpffs;
	const char *ifaces; /* comma-separated fnmatch(3) globs */
	__u32 max_routes;
	__u32 ct_max; /* flows tracked; the map holds two entries each */
	bool watch;   /* follow link events (not with --once) */
};

struct tc_state;

/*
 * Load the TC program on the pinned maps and attach it to every matching
 * interface present now (taking over filters an earlier steerd left).
 * NULL with a reason in @err on failure.
 */
struct tc_state *tc_start(const struct tc_opts *o, char *err, size_t errlen);
/* The link-event socket to poll, or -1 without a watch. */
int tc_event_fd(const struct tc_state *t);
/* Link events are readable: attach to matching interfaces that appeared. */
void tc_on_event(struct tc_state *t);
/*
 * Remove conntrack entries idle past their state's timeout (steer_abi.h),
 * a flow's two entries together. Returns the number of flows removed.
 */
int tc_ct_gc(struct tc_state *t);
/* The sweep itself, on conntrack map @ct_fd at CLOCK_MONOTONIC @now (ns);
 * the number of flows removed or -errno. */
int tc_ct_sweep(int ct_fd, __u64 now);
/* Release steerd's handles; filters and pins stay, the datapath runs on. */
void tc_stop(struct tc_state *t);

/*
 * Detach steer's filter from every interface of this network namespace
 * whose filter at steer's handle runs a program on @bpffs's conntrack map
 * (so another instance's filters are left alone). Before the maps are
 * unpinned. 0 when there is nothing to detach.
 */
int tc_cleanup(const char *bpffs, char *err, size_t errlen);

#endif /* STEER_TC_H */
