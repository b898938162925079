/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Loading the BPF objects, pinning their maps and links, and taking over
 * a datapath that an earlier steerd left pinned. The lifecycle is fixed:
 * open, size maps, load (reusing pinned maps), attach or update the pinned
 * links, and destroy the skeleton on every path; the pins keep the
 * datapath alive after steerd exits.
 */
#ifndef STEER_LOADER_H
#define STEER_LOADER_H

#include <stddef.h>
#include <linux/types.h>

struct loader_opts {
	const char *bpffs;  /* pin directory */
	const char *cgroup; /* cgroup v2 directory to attach to */
	__u32 max_routes;
};

/*
 * Load and attach (or take over) the socket-layer programs. Existing pinned
 * maps are reused with their contents; existing pinned links are switched
 * to the new programs in one atomic step (BPF_LINK_UPDATE), so connections
 * never pass through an unhooked moment.
 */
int loader_start(const struct loader_opts *o, char *err, size_t errlen);

struct bpf_object;
/*
 * Before load: size @obj's route-indexed maps for @max_routes and pin every
 * map of it under <@bpffs>/maps/ by name, so that each layer's object
 * shares the pinned maps (libbpf reuses a pin whose definition matches).
 */
int loader_prepare_obj(struct bpf_object *obj, const char *bpffs,
		       __u32 max_routes);

/* Detach the pinned links and remove every pin under @bpffs. */
int loader_cleanup(const char *bpffs, char *err, size_t errlen);

#endif /* STEER_LOADER_H */
