// SPDX-License-Identifier: BSD-2-Clause
/*
 * DNS discovery of backends with c-ares, on steerd's epoll loop: c-ares
 * tells which sockets to watch (sock_state_cb), the loop calls
 * ares_process_fd(); one timerfd wakes the module for c-ares's own
 * timeouts and for the next refresh of a name. No threads.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "dns.h"
#include "dns_priv.h"
#include "log.h"

/* ---- clocks ----------------------------------------------------------- */

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- sockets and the timer -------------------------------------------- */

static void arm(struct dns *dns);

static void sock_state_cb(void *data, ares_socket_t fd, int readable,
			  int writable)
{
	struct dns *dns = data;
	struct epoll_event ev = { .data.fd = fd };
	int i, slot = -1;

	for (i = 0; i < DNS_MAX_SOCKS; i++) {
		if (dns->socks[i] == fd)
			break;
		if (slot < 0 && dns->socks[i] < 0)
			slot = i;
	}
	if (!readable && !writable) {
		if (i < DNS_MAX_SOCKS) {
			dns->socks[i] = -1;
			if (dns->epfd >= 0)
				epoll_ctl(dns->epfd, EPOLL_CTL_DEL, fd, NULL);
		}
		return;
	}
	ev.events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
	if (i < DNS_MAX_SOCKS) {
		dns->sock_events[i] = ev.events;
		if (dns->epfd >= 0)
			epoll_ctl(dns->epfd, EPOLL_CTL_MOD, fd, &ev);
		return;
	}
	if (slot < 0) {
		pr_warn("dns: more than %d sockets; ignoring one",
			DNS_MAX_SOCKS);
		return;
	}
	dns->socks[slot] = fd;
	dns->sock_events[slot] = ev.events;
	if (dns->epfd >= 0)
		epoll_ctl(dns->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int dns_attach_loop(struct dns *dns, int epfd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = dns->timerfd };

	dns->epfd = epfd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, dns->timerfd, &ev))
		return -errno;
	for (int i = 0; i < DNS_MAX_SOCKS; i++) {
		if (dns->socks[i] < 0)
			continue;
		ev = (struct epoll_event){ .events = dns->sock_events[i],
					   .data.fd = dns->socks[i] };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, dns->socks[i], &ev))
			return -errno;
	}
	arm(dns);
	return 0;
}

/* Arm the timer for c-ares's next timeout or the next refresh. */
static void arm(struct dns *dns)
{
	struct itimerspec its = { 0 };
	struct timeval tv, *tvp;
	double now = mono_now(), next = 0;

	for (struct dns_entry *e = dns->entries; e; e = e->next)
		if (!e->pending && (!next || e->refresh_at < next))
			next = e->refresh_at;
	tvp = ares_timeout(dns->ch, NULL, &tv);
	if (tvp) {
		double t = now + tvp->tv_sec + tvp->tv_usec / 1e6;

		if (!next || t < next)
			next = t;
	}
	if (next) {
		double in = next - now;

		if (in < 0.001)
			in = 0.001;
		its.it_value.tv_sec = (time_t)in;
		its.it_value.tv_nsec = (long)((in - (time_t)in) * 1e9);
	}
	timerfd_settime(dns->timerfd, 0, &its, NULL);
}

/* ---- answers ----------------------------------------------------------- */

static unsigned int clamp_ttl(const struct dns *dns, long ttl)
{
	if (ttl < (long)dns->min_ttl)
		return dns->min_ttl;
	if (ttl > (long)dns->max_ttl)
		return dns->max_ttl;
	return (unsigned int)ttl;
}

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct dns_addr));
}

static const char *kind_text(const struct dns_entry *e)
{
	return e->kind == ROUTE_DNS_SRV ? "srv" : "dns";
}

static void fail(struct dns_entry *e, int status)
{
	e->failed = true;
	e->status = status;
}

/* Every query of a refresh has answered: take the answer or keep the last. */
static void finish(struct dns *dns, struct dns_entry *e)
{
	double now = mono_now();
	int cut, keep;
	bool changed;

	if (e->failed) {
		e->failures++;
		e->refresh_at = now + dns->min_ttl;
		pr_warn("dns: %s %s: %s; keeping the last answer (%d "
			"addresses)",
			kind_text(e), e->name, ares_strerror(e->status), e->n);
		dns_write_state(dns);
		return;
	}
	/* Sorted, so that a cut keeps the same addresses whatever order the
	 * server answered in (dns_priv.h, DNS_MAX_ANSWER). */
	if (e->nn)
		qsort(e->nxt, (size_t)e->nn, sizeof(e->nxt[0]), addr_cmp);
	cut = e->nn > ROUTE_MAX_BACKENDS ? e->nn - ROUTE_MAX_BACKENDS : 0;
	keep = e->nn - cut;
	changed = !e->resolved || keep != e->n ||
		  (keep &&
		   memcmp(e->nxt, e->addrs, (size_t)keep * sizeof(e->nxt[0])));
	if (keep > e->addrs_cap) {
		struct dns_addr *p =
			realloc(e->addrs, (size_t)keep * sizeof(*p));

		if (!p) {
			e->failures++;
			e->refresh_at = now + dns->min_ttl;
			pr_warn("dns: %s %s: out of memory; keeping the last "
				"answer (%d addresses)",
				kind_text(e), e->name, e->n);
			dns_write_state(dns);
			return;
		}
		e->addrs = p;
		e->addrs_cap = keep;
	}
	if (keep)
		memcpy(e->addrs, e->nxt, (size_t)keep * sizeof(e->nxt[0]));
	e->n = keep;
	if (cut) {
		e->truncated++;
		if (cut != e->cut)
			pr_warn("dns: %s %s: %d addresses, more than a version "
				"holds (%d): the lowest %d kept, %d left out",
				kind_text(e), e->name, e->nn,
				ROUTE_MAX_BACKENDS, keep, cut);
	} else if (e->cut) {
		pr_info("dns: %s %s: %d addresses, none left out any more",
			kind_text(e), e->name, e->nn);
	}
	e->cut = cut;
	e->ttl = clamp_ttl(dns, e->nn ? e->ttl_seen : 0);
	e->refresh_at = now + e->ttl;
	e->last_success = wall_now();
	if (changed && e->resolved) {
		e->changes++;
		pr_info("dns: %s now has %d addresses (ttl %us)", e->name, e->n,
			e->ttl);
	}
	e->resolved = true;
	dns_write_state(dns);
	if (changed && dns->on_change && !dns->blocking)
		dns->on_change(dns->arg);
}

/* NXDOMAIN and "no records" are answers: no backends. */
static bool empty_answer(int status)
{
	return status == ARES_ENOTFOUND || status == ARES_ENODATA;
}

static void add_addr(struct dns_entry *e, const struct sockaddr *sa, __u16 port,
		     __u16 weight, int ttl)
{
	struct dns_addr a = { .port = port, .weight = weight };

	if (sa->sa_family == AF_INET) {
		a.family = STEER_FAM_INET;
		memcpy(a.addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		a.family = STEER_FAM_INET6;
		memcpy(a.addr, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		       16);
	} else {
		return;
	}
	for (int i = 0; i < e->nn; i++)
		if (!addr_cmp(&e->nxt[i], &a))
			return;
	if (e->nn == DNS_MAX_ANSWER)
		return;
	if (e->nn == e->nxt_cap) {
		int cap = e->nxt_cap ? 2 * e->nxt_cap : ROUTE_MAX_BACKENDS;
		struct dns_addr *p = realloc(e->nxt, (size_t)cap * sizeof(*p));

		if (!p) {
			fail(e, ARES_ENOMEM);
			return;
		}
		e->nxt = p;
		e->nxt_cap = cap;
	}
	e->nxt[e->nn++] = a;
	if (ttl >= 0 && (unsigned int)ttl < e->ttl_seen)
		e->ttl_seen = (unsigned int)ttl;
}

struct addr_query {
	struct dns *dns;
	struct dns_entry *e;
	__u16 port, weight;
};

static void addrinfo_cb(void *arg, int status, int timeouts,
			struct ares_addrinfo *res)
{
	struct addr_query *q = arg;
	struct dns_entry *e = q->e;

	(void)timeouts;
	if (status == ARES_SUCCESS) {
		for (struct ares_addrinfo_node *n = res->nodes; n;
		     n = n->ai_next)
			add_addr(e, n->ai_addr, q->port, q->weight, n->ai_ttl);
	} else if (!empty_answer(status) && status != ARES_EDESTRUCTION) {
		fail(e, status);
	}
	if (res)
		ares_freeaddrinfo(res);
	if (--e->pending == 0 && status != ARES_EDESTRUCTION)
		finish(q->dns, e);
	free(q);
}

static void resolve_addrs(struct dns *dns, struct dns_entry *e,
			  const char *name, __u16 port, __u16 weight)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC,
					     .ai_flags = ARES_AI_NOSORT };
	struct addr_query *q = calloc(1, sizeof(*q));

	if (!q) {
		fail(e, ARES_ENOMEM);
		return;
	}
	*q = (struct addr_query){ dns, e, port, weight };
	e->pending++;
	ares_getaddrinfo(dns->ch, name, NULL, &hints, addrinfo_cb, q);
}

/* The smallest TTL of the answer section's SRV records (c-ares 1.18's
 * ares_parse_srv_reply does not give it). */
static unsigned int srv_ttl(const unsigned char *abuf, int alen)
{
	unsigned int ttl = UINT32_MAX;
	const unsigned char *p = abuf + NS_HFIXEDSZ;
	int qd, an;
	char *name;
	long len;

	if (alen < NS_HFIXEDSZ)
		return ttl;
	qd = abuf[4] << 8 | abuf[5];
	an = abuf[6] << 8 | abuf[7];
	for (int i = 0; i < qd + an; i++) {
		if (ares_expand_name(p, abuf, alen, &name, &len) !=
		    ARES_SUCCESS)
			return ttl;
		ares_free_string(name);
		p += len;
		if (i < qd) {
			p += NS_QFIXEDSZ;
			continue;
		}
		if (p + NS_RRFIXEDSZ > abuf + alen)
			return ttl;
		if ((p[0] << 8 | p[1]) == ns_t_srv) {
			unsigned int t = (unsigned int)p[4] << 24 |
					 (unsigned int)p[5] << 16 |
					 (unsigned int)p[6] << 8 | p[7];

			if (t < ttl)
				ttl = t;
		}
		p += NS_RRFIXEDSZ + (p[8] << 8 | p[9]);
	}
	return ttl;
}

static void srv_cb(void *arg, int status, int timeouts, unsigned char *abuf,
		   int alen)
{
	struct addr_query *q = arg;
	struct dns_entry *e = q->e;
	struct ares_srv_reply *srv = NULL;
	int prio = 65536;

	(void)timeouts;
	if (status == ARES_SUCCESS)
		status = ares_parse_srv_reply(abuf, alen, &srv);
	if (status == ARES_SUCCESS) {
		unsigned int t = srv_ttl(abuf, alen);

		if (t < e->ttl_seen)
			e->ttl_seen = t;
		/* RFC 2782: the lowest priority holds the targets to use;
		 * weight 0 ("very small chance") becomes steer's weight 1. */
		for (struct ares_srv_reply *s = srv; s; s = s->next)
			if (s->priority < prio)
				prio = s->priority;
		for (struct ares_srv_reply *s = srv; s; s = s->next)
			if (s->priority == prio && strcmp(s->host, "."))
				resolve_addrs(q->dns, e, s->host, s->port,
					      s->weight ? s->weight : 1);
		ares_free_data(srv);
	} else if (!empty_answer(status) && status != ARES_EDESTRUCTION) {
		fail(e, status);
	}
	if (--e->pending == 0 && status != ARES_EDESTRUCTION)
		finish(q->dns, e);
	free(q);
}

/* Start a refresh of @e: an SRV query, or A and AAAA. */
static void refresh(struct dns *dns, struct dns_entry *e)
{
	e->failed = false;
	e->status = ARES_SUCCESS;
	e->nn = 0;
	e->ttl_seen = UINT32_MAX;
	e->queries++;
	if (e->kind == ROUTE_DNS_SRV) {
		struct addr_query *q = calloc(1, sizeof(*q));

		if (!q) {
			e->failures++;
			e->refresh_at = mono_now() + dns->min_ttl;
			return;
		}
		*q = (struct addr_query){ dns, e, 0, 0 };
		e->pending++;
		ares_query(dns->ch, e->name, ns_c_in, ns_t_srv, srv_cb, q);
	} else {
		resolve_addrs(dns, e, e->name, e->port, 1);
	}
}

/* Refresh every name that is due; then re-arm. */
static void run_due(struct dns *dns)
{
	double now = mono_now();

	for (struct dns_entry *e = dns->entries; e; e = e->next)
		if (!e->pending && e->refresh_at <= now)
			refresh(dns, e);
	arm(dns);
}

bool dns_owns_fd(const struct dns *dns, int fd)
{
	if (!dns)
		return false;
	if (fd == dns->timerfd)
		return true;
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		if (dns->socks[i] == fd)
			return true;
	return false;
}

void dns_on_event(struct dns *dns, int fd, uint32_t events)
{
	if (fd == dns->timerfd) {
		__u64 n;

		if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			return;
		ares_process_fd(dns->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		run_due(dns);
		return;
	}
	ares_process_fd(
		dns->ch,
		events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
		events & EPOLLOUT ? fd : ARES_SOCKET_BAD);
	arm(dns);
}

/* ---- the names the routes use ----------------------------------------- */

static struct dns_entry *entry_get(struct dns *dns, const struct route_dns *d)
{
	struct dns_entry *e;

	for (e = dns->entries; e; e = e->next)
		if (e->kind == d->kind && e->port == d->port &&
		    !strcasecmp(e->name, d->name))
			return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->kind = d->kind;
	e->port = d->port;
	snprintf(e->name, sizeof(e->name), "%s", d->name);
	e->next = dns->entries;
	dns->entries = e;
	return e;
}

/* Wait for the first answers of new names, at most @wait_ms. */
static void wait_pending(struct dns *dns, int wait_ms)
{
	double deadline = mono_now() + wait_ms / 1000.0;

	dns->blocking = true;
	for (;;) {
		struct pollfd pfd[DNS_MAX_SOCKS];
		struct timeval tv, *tvp;
		int n = 0, ms;
		bool pending = false;
		double left = deadline - mono_now();

		for (struct dns_entry *e = dns->entries; e; e = e->next)
			pending |= e->pending && !e->resolved;
		if (!pending || left <= 0)
			break;
		for (int i = 0; i < DNS_MAX_SOCKS; i++) {
			if (dns->socks[i] < 0)
				continue;
			pfd[n].fd = dns->socks[i];
			pfd[n].events =
				(short)((dns->sock_events[i] & EPOLLIN ? POLLIN
								       : 0) |
					(dns->sock_events[i] & EPOLLOUT
						 ? POLLOUT
						 : 0));
			n++;
		}
		ms = (int)(left * 1000) + 1;
		tvp = ares_timeout(dns->ch, NULL, &tv);
		if (tvp && tvp->tv_sec * 1000 + tvp->tv_usec / 1000 < ms)
			ms = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000) +
			     1;
		if (poll(pfd, (nfds_t)n, ms) < 0 && errno != EINTR)
			break;
		if (!n || !tvp)
			ares_process_fd(dns->ch, ARES_SOCKET_BAD,
					ARES_SOCKET_BAD);
		for (int i = 0; i < n; i++)
			ares_process_fd(
				dns->ch,
				pfd[i].revents & (POLLIN | POLLERR | POLLHUP)
					? pfd[i].fd
					: ARES_SOCKET_BAD,
				pfd[i].revents & POLLOUT ? pfd[i].fd
							 : ARES_SOCKET_BAD);
		if (n)
			ares_process_fd(dns->ch, ARES_SOCKET_BAD,
					ARES_SOCKET_BAD);
	}
	dns->blocking = false;
}

static bool has_backend(const struct route_version *v,
			const struct route_addr *a)
{
	for (int i = 0; i < v->n_backends; i++) {
		const struct route_addr *b = &v->backends[i].addr;

		if (b->family == a->family && b->has_port == a->has_port &&
		    b->port == a->port && !memcmp(b->addr, a->addr, 16))
			return true;
	}
	return false;
}

static void expand_version(struct dns *dns, const struct route *r,
			   struct route_version *v)
{
	for (int k = 0; k < v->n_dns; k++) {
		struct dns_entry *e = entry_get(dns, &v->dns[k]);
		struct route_backend *nb;
		int left = 0;

		for (int i = 0; e && i < e->n; i++) {
			struct route_backend b = {
				.addr = { .family = e->addrs[i].family,
					  .has_port = true,
					  .port = e->addrs[i].port },
				.weight = e->addrs[i].weight,
				.pos = v->dns[k].pos,
			};

			memcpy(b.addr.addr, e->addrs[i].addr, 16);
			if (has_backend(v, &b.addr))
				continue;
			if (v->n_backends == ROUTE_MAX_BACKENDS) {
				left++;
				continue;
			}
			nb = route_backend_add(v);
			if (!nb) {
				left++;
				continue;
			}
			*nb = b;
			v->n_dns_backends++;
		}
		if (left) {
			e->left_out += left;
			pr_warn("dns: route %s version %s: no room for %d of "
				"%s's %d addresses (at most %d backends per "
				"version)",
				r->name, v->name, left, e->name, e->n,
				ROUTE_MAX_BACKENDS);
		}
	}
}

void dns_expand(struct dns *dns, struct route_set *set, int wait_ms)
{
	struct dns_entry **pe;
	bool fresh = false, look;

	if (!dns)
		return;
	for (struct dns_entry *e = dns->entries; e; e = e->next)
		e->used = false;
	/* has_dns: the versions of routes without dns/srv entries (most)
	 * are not even looked at, nor any route when the set counted none. */
	look = !set->dns_known || set->n_dns > 0;
	for (int i = 0; look && i < set->n; i++) {
		struct route *r = &set->routes[i];

		for (int v = 0; r->has_dns && v < r->n_versions; v++) {
			for (int k = 0; k < r->versions[v].n_dns; k++) {
				struct dns_entry *e =
					entry_get(dns, &r->versions[v].dns[k]);

				if (!e)
					continue;
				e->used = true;
				if (!e->resolved && !e->pending) {
					refresh(dns, e);
					fresh = true;
				}
			}
		}
	}
	if (fresh)
		wait_pending(dns, wait_ms);
	/* Forget names no route uses (once their queries are over). */
	for (pe = &dns->entries; *pe;) {
		struct dns_entry *e = *pe;

		if (!e->used && !e->pending) {
			*pe = e->next;
			free(e->nxt);
			free(e->addrs);
			free(e);
		} else {
			e->left_out = e->cut;
			pe = &e->next;
		}
	}
	for (int i = 0; look && i < set->n; i++)
		for (int v = 0;
		     set->routes[i].has_dns && v < set->routes[i].n_versions;
		     v++)
			expand_version(dns, &set->routes[i],
				       &set->routes[i].versions[v]);
	dns_write_state(dns);
	arm(dns);
}

/* ---- init/fini --------------------------------------------------------- */

struct dns *dns_start(const struct dns_opts *o, char *err, size_t errlen)
{
	struct ares_options ao = {
		.timeout = 1000, /* ms per try */
		.tries = 2,
		.lookups = (char *)"b", /* DNS only, not /etc/hosts */
		.sock_state_cb = sock_state_cb,
	};
	struct dns *dns = calloc(1, sizeof(*dns));
	int ret;

	if (!dns) {
		snprintf(err, errlen, "dns: %s", strerror(ENOMEM));
		return NULL;
	}
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		dns->socks[i] = -1;
	dns->epfd = -1;
	dns->min_ttl = o->min_ttl ? o->min_ttl : DNS_DEFAULT_MIN_TTL;
	dns->max_ttl = o->max_ttl ? o->max_ttl : DNS_DEFAULT_MAX_TTL;
	dns->on_change = o->on_change;
	dns->arg = o->arg;
	dns->state_path = o->state_path;
	dns->timerfd =
		timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (dns->timerfd < 0) {
		snprintf(err, errlen, "dns: timerfd: %s", strerror(errno));
		goto fail;
	}
	ao.sock_state_cb_data = dns;
	ares_library_init(ARES_LIB_INIT_ALL);
	ret = ares_init_options(&dns->ch, &ao,
				ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
					ARES_OPT_LOOKUPS |
					ARES_OPT_SOCK_STATE_CB);
	if (ret != ARES_SUCCESS) {
		snprintf(err, errlen, "dns: cannot start c-ares: %s",
			 ares_strerror(ret));
		goto fail;
	}
	if (o->servers) {
		ret = ares_set_servers_ports_csv(dns->ch, o->servers);
		if (ret != ARES_SUCCESS) {
			snprintf(err, errlen,
				 "--dns-server: '%s' is not a list of "
				 "ADDR[:PORT]: %s",
				 o->servers, ares_strerror(ret));
			goto fail;
		}
	}
	return dns;
fail:
	dns_stop(dns);
	return NULL;
}

void dns_stop(struct dns *dns)
{
	if (!dns)
		return;
	if (dns->ch) {
		ares_destroy(dns->ch); /* callbacks run with EDESTRUCTION */
		ares_library_cleanup();
	}
	if (dns->timerfd >= 0)
		close(dns->timerfd);
	while (dns->entries) {
		struct dns_entry *e = dns->entries;

		dns->entries = e->next;
		free(e->nxt);
		free(e->addrs);
		free(e);
	}
	if (dns->state_path)
		unlink(dns->state_path);
	free(dns->state_written);
	free(dns);
}
