/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Closing connected UDP sockets of removed or ejected backends
 * (bpf/udp_destroy.bpf.c, Linux 6.5+: bpf_sock_destroy). init() loads the
 * iterator on the pinned maps, or logs once that the kernel cannot; run()
 * walks the UDP sockets of steerd's network namespace once; fini() drops
 * it. Without the kfunc every call is a no-op.
 */
#ifndef STEER_UDP_DESTROY_H
#define STEER_UDP_DESTROY_H

#include <stdbool.h>
#include <linux/types.h>
#include "maps.h"

/* Load the iterator; 0 (absent or unloadable: logged once, not an error). */
int udp_destroy_init(const char *bpffs, __u32 max_routes);
/* Is the iterator loaded (the kernel has what it needs)? */
bool udp_destroy_ready(void);
/* Is any backend of @m passively ejected now (worth a run every second)? */
bool udp_destroy_ejected(const struct steer_maps *m);
/* Abort the steered connected UDP sockets whose backend is gone or
 * ejected. Returns how many, or -errno (logged). */
int udp_destroy_run(void);
void udp_destroy_fini(void);

#endif /* STEER_UDP_DESTROY_H */
