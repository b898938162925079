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
 * Load the socket-layer programs and pin their maps: existing pinned maps
 * of the same name and layout are reused with their contents; maps new to
 * this layout are created empty. Nothing is attached yet, so the caller
 * fills new maps (the first apply) while the old programs, if any, keep
 * running on the old ones.
 */
int loader_load(const struct loader_opts *o, char *err, size_t errlen);

/*
 * Attach what loader_load() loaded (or take the datapath over): existing
 * pinned links are switched to the new programs in one atomic step
 * (BPF_LINK_UPDATE), so connections never pass through an unhooked
 * moment. Then the pins of maps that no program of this layout uses (an
 * older release's, after an upgrade) are removed: the old programs that
 * held them are gone from the hooks.
 */
int loader_attach(const struct loader_opts *o, char *err, size_t errlen);

/* Drop what loader_load() loaded without attaching it. */
void loader_abort(void);

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
