/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging for steerd and steerctl: pr_warn/pr_info/pr_debug, text or JSON
 * lines on stderr. libbpf's own messages are routed here and shown only
 * with -v (xdp-tools' habit).
 */
#ifndef STEER_LOG_H
#define STEER_LOG_H

#include <stdbool.h>
#include <time.h>

enum log_level { LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

void log_init(const char *prog, enum log_level level, bool json);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define pr_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define pr_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Milliseconds from @a to @b (CLOCK_MONOTONIC readings), for the log lines
 * that say how long something took. */
static inline double log_ms_between(const struct timespec *a,
				    const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

#endif /* STEER_LOG_H */
