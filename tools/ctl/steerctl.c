// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl: read and edit steer's pinned maps. Commands dispatch through a
 * {name, run} table with prefix matching, each with its own help (bpftool).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/capability.h>
#include "caps.h"
#include "ctl.h"
#include "log.h"

#ifndef STEER_VERSION
#define STEER_VERSION "unknown"
#endif

static const struct ctl_cmd *const commands[] = {
	&ctl_cmd_status,   &ctl_cmd_stats,    &ctl_cmd_set,   &ctl_cmd_promote,
	&ctl_cmd_rollback, &ctl_cmd_rollout,  &ctl_cmd_eject, &ctl_cmd_restore,
	&ctl_cmd_trace,	   &ctl_cmd_validate,
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: steerctl [--bpffs DIR] [-o text|json] COMMAND [ARGS]\n"
		"Read and change steer's live routing state (the pinned "
		"maps);\n"
		"no daemon is needed.\n"
		"\n"
		"Options:\n"
		"  -b, --bpffs DIR    pin directory (default %s)\n"
		"  -o, --output FMT   text (default) or json: one JSON "
		"document,\n"
		"                     errors included\n"
		"  -v, --verbose      libbpf's messages too\n"
		"  -h, --help         this help; 'steerctl help COMMAND' for "
		"one\n"
		"      --version      the build (as steerd --version names "
		"it)\n"
		"\n"
		"Commands (a unique prefix is enough):\n",
		STEER_DEFAULT_BPFFS);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name,
			commands[i]->summary);
	fprintf(out, "\nExit status: 0 ok, 1 error, 2 usage error.\n");
}

int ctl_error(const struct ctl *c, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c && c->json) {
		struct json_object *o = json_object_new_object();

		if (c->json_lines)
			json_object_object_add(o, "event",
					       json_object_new_string("error"));
		json_object_object_add(o, "error", json_object_new_string(msg));
		json_object_object_add(o, "status",
				       json_object_new_int(status));
		if (c->json_lines) {
			printf("%s\n",
			       json_object_to_json_string_ext(
				       o,
				       JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
			fflush(stdout);
			json_object_put(o);
		} else {
			ctl_print_json(o);
		}
	} else {
		fprintf(stderr, "steerctl: %s\n", msg);
	}
	return status;
}

void ctl_print_json(struct json_object *doc)
{
	printf("%s\n", json_object_to_json_string_ext(
			       doc, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

int ctl_open_maps(const struct ctl *c, struct steer_maps *m, unsigned int which)
{
	char err[512];
	int ret = maps_open_some(c->bpffs, m, which, err, sizeof(err));

	if (!ret)
		return CTL_OK;
	/* EPERM and EACCES say so themselves; a pin not found by a
	 * process that could not open it anyway says so too. */
	if (ret != -EPERM && ret != -EACCES && !caps_have(CAP_BPF) &&
	    !caps_have(CAP_SYS_ADMIN))
		return ctl_error(c, CTL_ERR,
				 "%s; and steerctl runs without the privileges "
				 "to open them (root or CAP_BPF and "
				 "CAP_NET_ADMIN)",
				 err);
	return ctl_error(c, CTL_ERR, "%s", err);
}

const char *ctl_pct(char *buf, size_t len, unsigned int units)
{
	snprintf(buf, len, "%u.%02u", units / 100, units % 100);
	return buf;
}

bool ctl_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

/*
 * Exact name first, then a unique prefix. A prefix of several commands
 * ("stat": status, stats) is no command: NULL, with their names in
 * @candidates (", "-separated) so the usage error can list them.
 */
static const struct ctl_cmd *find_command(const char *name, char *candidates,
					  size_t len)
{
	const struct ctl_cmd *hit = NULL;
	size_t n = strlen(name), used = 0;
	int hits = 0;

	candidates[0] = '\0';
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(commands[i]->name, name))
			return commands[i];
	for (size_t i = 0; n && i < N_COMMANDS; i++) {
		int w;

		if (strncmp(commands[i]->name, name, n))
			continue;
		w = snprintf(candidates + used, len - used, "%s%s",
			     hits ? ", " : "", commands[i]->name);
		if (w > 0 && (size_t)w < len - used)
			used += (size_t)w;
		hit = commands[i];
		hits++;
	}
	if (hits > 1)
		return NULL;
	candidates[0] = '\0';
	return hit;
}

/* The usage error for a @name that names no one command. */
static int unknown_command(const struct ctl *c, const char *name,
			   const char *candidates)
{
	if (candidates[0])
		return ctl_error(c, CTL_USAGE,
				 "'%s' is ambiguous: %s; see 'steerctl help'",
				 name, candidates);
	return ctl_error(c, CTL_USAGE,
			 "unknown command '%s'; see 'steerctl help'", name);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bpffs", required_argument, NULL, 'b' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct ctl c = { .bpffs = STEER_DEFAULT_BPFFS };
	enum log_level level = LOG_LEVEL_WARN;
	const struct ctl_cmd *cmd;
	char candidates[256];
	bool version = false;
	int opt;

	/* '+': stop at the command; its own options follow it. */
	while ((opt = getopt_long(argc, argv, "+b:o:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			c.bpffs = optarg;
			break;
		case 'o':
			if (!strcmp(optarg, "json")) {
				c.json = true;
			} else if (strcmp(optarg, "text")) {
				return ctl_error(&c, CTL_USAGE,
						 "-o: '%s' is neither text nor "
						 "json",
						 optarg);
			}
			break;
		case 'v':
			level = LOG_LEVEL_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		case 'V':
			version = true;
			break;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	log_init("steerctl", level, false);
	if (version) {
		/* After the loop, so that -o json before it is honoured. */
		if (c.json)
			printf("{\"steerctl\":\"%s\"}\n", STEER_VERSION);
		else
			printf("steerctl %s\n", STEER_VERSION);
		return CTL_OK;
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	if (!strcmp(argv[optind], "help")) {
		if (optind + 1 >= argc) {
			usage(stdout);
			return CTL_OK;
		}
		cmd = find_command(argv[optind + 1], candidates,
				   sizeof(candidates));
		if (!cmd)
			return unknown_command(&c, argv[optind + 1],
					       candidates);
		fputs(cmd->help, stdout);
		return CTL_OK;
	}
	cmd = find_command(argv[optind], candidates, sizeof(candidates));
	if (!cmd)
		return unknown_command(&c, argv[optind], candidates);
	if (ctl_wants_help(argc - optind, argv + optind)) {
		fputs(cmd->help, stdout);
		return CTL_OK;
	}
	return cmd->run(&c, argc - optind, argv + optind);
}
