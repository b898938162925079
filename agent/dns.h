/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * DNS discovery of backends (steerd only; c-ares on steerd's epoll loop).
 * Route files name backends as {dns: NAME, port: P} (A and AAAA: every
 * address a backend, weight 1) or {srv: _service._proto.NAME} (SRV:
 * targets, ports, weights of the lowest priority). Each name is resolved
 * when a route first names it, then again at its records' TTL clamped to
 * [min_ttl, max_ttl]. An empty answer (NXDOMAIN, no records) contributes no
 * backends; a failure (timeout, SERVFAIL, refused) keeps the last answer and
 * is counted. An answer that changes a name's addresses calls on_change,
 * and steerd applies the routes again: one atomic publish per route.
 */
#ifndef STEER_DNS_H
#define STEER_DNS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "routes.h"

#define DNS_DEFAULT_MIN_TTL 1	/* seconds */
#define DNS_DEFAULT_MAX_TTL 300 /* seconds */

struct dns_opts {
	unsigned int min_ttl, max_ttl; /* seconds, min_ttl >= 1 */
	const char *servers;	/* "ADDR[:PORT],..."; NULL: /etc/resolv.conf */
	const char *state_path; /* JSON for steerctl status; NULL: none */
	void (*on_change)(void *arg);
	void *arg;
};

struct dns;

/* Returns NULL with a message in @err (bad --dns-server, c-ares init). */
struct dns *dns_start(const struct dns_opts *o, char *err, size_t errlen);
/* Stop, close the sockets and remove the state file. NULL is a no-op. */
void dns_stop(struct dns *dns);

/* Watch the module's sockets and timer on @epfd from now on (steerd's loop
 * starts after the first apply, which waits for answers without it). */
int dns_attach_loop(struct dns *dns, int epfd);

/* Whether @fd (an epoll event's) is the DNS module's, and its handler. */
bool dns_owns_fd(const struct dns *dns, int fd);
void dns_on_event(struct dns *dns, int fd, uint32_t events);

/*
 * Add the current addresses of every dns/srv entry of @set to its
 * version's backends (after the addresses written in the file, without
 * duplicates, at most ROUTE_MAX_BACKENDS: what has no room is left out,
 * logged, and shown in steer_dns_left_out). Names @set names for the first
 * time are resolved first, waiting at most @wait_ms for their answers;
 * names no route names any more are forgotten.
 */
void dns_expand(struct dns *dns, struct route_set *set, int wait_ms);

/* steer_dns_* families in Prometheus text format. */
void dns_metrics_write(FILE *out, const struct dns *dns);

#endif /* STEER_DNS_H */
