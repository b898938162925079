/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Link events from the kernel (rtnetlink RTNLGRP_LINK, through
 * libnl-route-3): steerd learns of interfaces that appear or are renamed
 * after it started, from its one event loop (the socket is non-blocking).
 */
#ifndef STEER_NETLINK_H
#define STEER_NETLINK_H

#include <stddef.h>

struct link_watch;

/* Called for every new or changed link with its index and name. */
typedef void (*link_watch_fn)(void *arg, int ifindex, const char *name);

/* Subscribe to link events; NULL with a reason in @err on failure. */
struct link_watch *link_watch_open(link_watch_fn fn, void *arg, char *err,
				   size_t errlen);
/* The socket to poll for input. */
int link_watch_fd(const struct link_watch *w);
/*
 * Read what is pending and call fn for each link message. Returns 1 when
 * events were lost (the socket's buffer overflowed: the caller rescans
 * every link), else 0.
 */
int link_watch_read(struct link_watch *w);
void link_watch_close(struct link_watch *w);

#endif /* STEER_NETLINK_H */
