/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prometheus text exposition of steer's counters (docs/DESIGN.md §6), read from
 * the maps at scrape time, and the small HTTP server steerd serves it on.
 */
#ifndef STEER_METRICS_H
#define STEER_METRICS_H

#include <stdbool.h>
#include <stdio.h>
#include "maps.h"

struct dns;

/* steerd's own state that the metrics and probes report. */
struct metrics_state {
	const struct steer_maps *maps;
	__u64 generation;
	__u64 apply_errors;
	double last_apply_s;   /* unix time of the last successful apply */
	bool ready;	       /* datapath attached and routes applied once */
	const struct dns *dns; /* steer_dns_*; NULL: none */
};

/* Write the exposition to @out. Returns 0 or -errno. */
int metrics_write(FILE *out, const struct metrics_state *s);

struct metrics_http;

/*
 * Serve /metrics, /healthz and /readyz on @listen ("127.0.0.1:9469",
 * "[::1]:9469"). The server runs in the caller's event loop: add
 * metrics_http_fd() to epoll and call metrics_http_run() when it is
 * readable. Returns NULL with a message in @err.
 */
struct metrics_http *metrics_http_start(const char *listen,
					const struct metrics_state *s,
					char *err, size_t errlen);
int metrics_http_fd(const struct metrics_http *h);
void metrics_http_run(struct metrics_http *h);
/* How long the loop may sleep before metrics_http_run() must run (idle
 * connections time out); -1: no limit. */
int metrics_http_timeout_ms(const struct metrics_http *h);
void metrics_http_stop(struct metrics_http *h);

#endif /* STEER_METRICS_H */
