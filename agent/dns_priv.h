/* SPDX-License-Identifier: BSD-2-Clause */
/* The DNS module's state, shared by dns.c (resolving) and dns_report.c
 * (the state file for steerctl status, and /metrics). */
#ifndef STEER_DNS_PRIV_H
#define STEER_DNS_PRIV_H

#include <ares.h>
#include <stdbool.h>
#include "dns.h"

#define DNS_MAX_SOCKS 16
/*
 * A version holds at most ROUTE_MAX_BACKENDS (4,096) backends, so a name
 * keeps at most that many addresses: an answer with more is cut to the
 * lowest ROUTE_MAX_BACKENDS in address order (the same ones whatever order
 * the server lists them in, so a round-robin server does not make every
 * answer look like a change), logged and counted
 * (steer_dns_truncated_total). DNS_MAX_ANSWER bounds what one answer may
 * make steerd hold before the cut: a 64 KiB answer over TCP has room for
 * about 4,000 A records, an SRV name's targets together for more.
 */
#define DNS_MAX_ANSWER (2 * ROUTE_MAX_BACKENDS)

/* One resolved backend address. Compared with memcmp: no padding. */
struct dns_addr {
	__u32 addr[4]; /* network order; IPv4 in addr[0] */
	__u16 port;    /* host order */
	__u16 weight;
	__u8 family; /* enum steer_family */
	__u8 pad[3];
};

/* A name some route uses, with its last answer. */
struct dns_entry {
	struct dns_entry *next;
	char name[ROUTE_DNS_NAME_MAX];
	__u8 kind;  /* enum route_dns_kind */
	__u16 port; /* ROUTE_DNS_ADDR */
	int n;	    /* the answer in force, cut to ROUTE_MAX_BACKENDS */
	int addrs_cap;
	struct dns_addr *addrs; /* n of addrs_cap; heap */
	int cut;		/* addresses of that answer beyond the cut */
	int left_out;		/* ... and those no version had room for */
	bool resolved;		/* answered at least once */
	bool used;		/* named by the routes of the last expand */
	unsigned int ttl;	/* seconds until the next refresh, clamped */
	double refresh_at;	/* CLOCK_MONOTONIC seconds */
	double last_success;	/* unix time of the last answer */
	__u64 queries, failures, changes, truncated;
	/* the refresh in flight */
	int pending;
	bool failed;
	int status; /* c-ares status of the failure */
	int nn, nxt_cap;
	struct dns_addr *nxt; /* every distinct address, up to DNS_MAX_ANSWER */
	unsigned int ttl_seen;
};

struct dns {
	ares_channel ch;
	int epfd, timerfd;
	int socks[DNS_MAX_SOCKS];
	unsigned int sock_events[DNS_MAX_SOCKS];
	unsigned int min_ttl, max_ttl;
	bool blocking; /* in dns_expand's wait: no on_change */
	const char *state_path;
	void (*on_change)(void *arg);
	void *arg;
	struct dns_entry *entries;
	char *state_written; /* what the state file holds; NULL: unknown */
};

/* dns_report.c: rewrite the state file (atomically: a rename) when what
 * it would hold differs from what it holds. */
void dns_write_state(struct dns *dns);

#endif /* STEER_DNS_PRIV_H */
