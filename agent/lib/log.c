// SPDX-License-Identifier: BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "log.h"

static const char *log_prog = "steer";
static enum log_level log_level = LOG_LEVEL_INFO;
static bool log_json;

static const char *const level_names[] = { "warn", "info", "debug" };

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t len;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';

	if (log_json) {
		struct json_object *o = json_object_new_object();
		struct timespec ts;
		char when[64];

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(when, sizeof(when), "%lld.%03ld", (long long)ts.tv_sec,
			 ts.tv_nsec / 1000000);
		json_object_object_add(o, "ts", json_object_new_string(when));
		json_object_object_add(
			o, "level", json_object_new_string(level_names[level]));
		json_object_object_add(o, "prog",
				       json_object_new_string(log_prog));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		fprintf(stderr, "%s\n",
			json_object_to_json_string_ext(o,
						       JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else if (level == LOG_LEVEL_WARN) {
		fprintf(stderr, "%s: %s\n", log_prog, msg);
	} else {
		fprintf(stderr, "%s\n", msg);
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf's messages, warnings included, are detail: -v shows them. */
	(void)level;
	if (log_level < LOG_LEVEL_DEBUG)
		return 0;
	log_vmsg(LOG_LEVEL_DEBUG, fmt, ap);
	return 0;
}

void log_init(const char *prog, enum log_level level, bool json)
{
	log_prog = prog;
	log_level = level;
	log_json = json;
	libbpf_set_print(libbpf_print);
}
