// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerd's HTTP endpoint with libmicrohttpd, driven from steerd's own epoll
 * loop (MHD_USE_EPOLL without an internal thread): no threads in steerd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include "metrics.h"

struct metrics_http {
	struct MHD_Daemon *d;
	const struct metrics_state *s;
	struct sockaddr_storage addr;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     const char *type, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct metrics_http *h = cls;
	static char ok[] = "ok\n", not_ready[] = "not ready\n",
		    not_found[] =
			    "not found: try /metrics, /healthz, /readyz\n",
		    bad_method[] = "method not allowed\n";
	char *body = NULL;
	size_t len = 0;
	FILE *out;

	(void)version, (void)upload_data, (void)upload_data_size, (void)con_cls;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     bad_method, strlen(bad_method),
			     MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/healthz"))
		return reply(conn, MHD_HTTP_OK, "text/plain", ok, strlen(ok),
			     MHD_RESPMEM_PERSISTENT);
	if (!strcmp(url, "/readyz")) {
		if (h->s->ready)
			return reply(conn, MHD_HTTP_OK, "text/plain", ok,
				     strlen(ok), MHD_RESPMEM_PERSISTENT);
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			     not_ready, strlen(not_ready),
			     MHD_RESPMEM_PERSISTENT);
	}
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", not_found,
			     strlen(not_found), MHD_RESPMEM_PERSISTENT);

	out = open_memstream(&body, &len);
	if (!out)
		return MHD_NO;
	metrics_write(out, h->s);
	if (fclose(out)) {
		free(body);
		return MHD_NO;
	}
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", body, len,
		     MHD_RESPMEM_MUST_FREE);
}

/* "127.0.0.1:9469" or "[::1]:9469" into @ss. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;
	size_t hlen;

	if (!colon || colon == s)
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return -EINVAL;
	hlen = (size_t)(colon - s);
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

		host[hlen - 1] = '\0';
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((__u16)port);
		return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1
			       ? 0
			       : -EINVAL;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;

	a4->sin_family = AF_INET;
	a4->sin_port = htons((__u16)port);
	return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -EINVAL;
}

struct metrics_http *metrics_http_start(const char *listen,
					const struct metrics_state *s,
					char *err, size_t errlen)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->s = s;
	if (parse_listen(listen, &h->addr)) {
		snprintf(err, errlen,
			 "--metrics: '%s' is not ADDR:PORT (127.0.0.1:9469, "
			 "[::1]:9469) or off",
			 listen);
		free(h);
		return NULL;
	}
	if (h->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &h->addr,
		MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT,
		64u, MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot serve metrics on %s: %s", listen,
			 strerror(errno ? errno : EADDRINUSE));
		free(h);
		return NULL;
	}
	return h;
}

int metrics_http_fd(const struct metrics_http *h)
{
	const union MHD_DaemonInfo *i =
		MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

int metrics_http_timeout_ms(const struct metrics_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->d, &ms) != MHD_YES)
		return -1;
	return ms > 60000 ? 60000 : (int)ms;
}

void metrics_http_run(struct metrics_http *h)
{
	MHD_run(h->d);
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
