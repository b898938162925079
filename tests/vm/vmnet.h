/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Network helpers of the vmtest guest (tests/vm/vmtest.c): links and a
 * veth pair over rtnetlink (the guest has no iproute2), and socket
 * addresses for the steering check. Functions return 0 (or an fd) or a
 * negative errno.
 */
#ifndef STEER_VMNET_H
#define STEER_VMNET_H

#include <stdbool.h>
#include <sys/socket.h>

/* Set @ifname up (SIOCSIFFLAGS). */
int vmnet_link_up(const char *ifname);

/* "ip link add @name type veth peer name @peer", in this netns. */
int vmnet_veth_add(const char *name, const char *peer);

/* Fill @ss with @addr (text) and @port of @family; returns its length. */
socklen_t vmnet_sockaddr(int family, const char *addr, int port,
			 struct sockaddr_storage *ss);

/* Same address and port; a v4-mapped IPv6 address equals its IPv4 one. */
bool vmnet_same_addr(const struct sockaddr_storage *a,
		     const struct sockaddr_storage *b);

/* A non-blocking TCP listener on @addr:@port (IPv6: v6only). */
int vmnet_listen(int family, const char *addr, int port);

#endif /* STEER_VMNET_H */
