/* SPDX-License-Identifier: BSD-2-Clause */
/* The DNS module's state, shared by dns.c (resolving) and dns_report.c
 * (the state file for steerctl status, and /metrics). */
#ifndef STEER_DNS_PRIV_H
#define STEER_DNS_PRIV_H

#include <ares.h>
#include <stdbool.h>
#include "dns.h"

#define DNS_MAX_SOCKS 16

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
	int n;	    /* the answer in force */
	struct dns_addr addrs[STEER_MAX_BACKENDS];
	bool resolved;	     /* answered at least once */
	bool used;	     /* named by the routes of the last expand */
	unsigned int ttl;    /* seconds until the next refresh, clamped */
	double refresh_at;   /* CLOCK_MONOTONIC seconds */
	double last_success; /* unix time of the last answer */
	__u64 queries, failures, changes;
	/* the refresh in flight */
	int pending;
	bool failed;
	int status; /* c-ares status of the failure */
	int nn;
	struct dns_addr nxt[STEER_MAX_BACKENDS];
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
};

/* dns_report.c: rewrite the state file (atomically: a rename). */
void dns_write_state(const struct dns *dns);

#endif /* STEER_DNS_PRIV_H */
