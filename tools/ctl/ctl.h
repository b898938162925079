/* SPDX-License-Identifier: BSD-2-Clause */
/* steerctl's shared pieces: context, command table entries, output. */
#ifndef STEER_CTL_H
#define STEER_CTL_H

#include <stdbool.h>
#include <json-c/json.h>
#include "maps.h"

/* Exit statuses (docs/DESIGN.md §5). */
enum { CTL_OK = 0, CTL_ERR = 1, CTL_USAGE = 2 };

struct ctl {
	const char *bpffs;
	bool json;
	bool json_lines; /* -o json as one compact object per line (rollout) */
};

struct ctl_cmd {
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
	const char *summary; /* one line for the command list */
	const char *help; /* full text for `steerctl help CMD` / CMD --help */
};

/*
 * One-line error: "steerctl: ..." on stderr, or {"error": ...} with -o json
 * (on one line, with "event": "error", when json_lines is set).
 */
int ctl_error(const struct ctl *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print @doc (consumed) as the command's one JSON document. */
void ctl_print_json(struct json_object *doc);

/*
 * Open the pinned maps in @which (enum maps_set) or report why not (one
 * line); CTL_OK or CTL_ERR.
 */
int ctl_open_maps(const struct ctl *c, struct steer_maps *m,
		  unsigned int which);

/* "95.00" for 9500 units into @buf. */
const char *ctl_pct(char *buf, size_t len, unsigned int units);

/* True when @argv holds -h/--help: the command prints its help. */
bool ctl_wants_help(int argc, char **argv);

/*
 * Editing one route's live config (tools/ctl/ctl_edit.c). begin() opens the
 * maps and reads route @route into both @live and @cfg; the command
 * changes @cfg; commit() sets or clears STEER_ROUTE_OVERRIDE (set exactly
 * when @cfg differs from the route file), rebuilds the tables stably
 * against @live, bumps the generation and publishes @cfg in one swap.
 * begin() and commit() return CTL_OK or an exit status whose error they
 * printed; end() is always called.
 */
struct ctl_edit {
	struct steer_maps m;
	int lock; /* maps_lock() fd held from begin to end, or -1 */
	int id;	  /* route id, or -errno */
	struct steer_route_cfg *live, *cfg;
};

int ctl_edit_begin(const struct ctl *c, const char *route, struct ctl_edit *e);
int ctl_edit_commit(const struct ctl *c, struct ctl_edit *e);
void ctl_edit_end(struct ctl_edit *e);

/*
 * Print the published result: every rule's split (text), or one JSON
 * document {route, action, generation, override, rules[]}; @key (may be
 * NULL) adds one command-specific member @val (consumed either way).
 */
void ctl_edit_report(const struct ctl *c, const struct ctl_edit *e,
		     const char *action, const char *key,
		     struct json_object *val);

/*
 * Ending passive ejections (tools/ctl/ctl_health.c): open() loads the
 * restore program on @m's health maps (0, with nothing to run when the
 * pins have none; -errno); restore() ends backend @bslot of version @vslot
 * of route @id's ejection in the kernel: a steer_health_restore_result or
 * -errno; close() unloads it.
 */
struct steer_health_restore;
struct ctl_health {
	struct steer_health_restore *skel;
};
int ctl_health_open(const struct steer_maps *m, struct ctl_health *h);
int ctl_health_restore(const struct ctl_health *h, __u32 id, __u8 vslot,
		       __u16 bslot);
void ctl_health_close(struct ctl_health *h);

/* eject (@eject true) or restore ROUTE BACKEND: argv as the command's. */
int ctl_eject_run(struct ctl *c, int argc, char **argv, bool eject);

extern const struct ctl_cmd ctl_cmd_status;
extern const struct ctl_cmd ctl_cmd_validate;
extern const struct ctl_cmd ctl_cmd_set;
extern const struct ctl_cmd ctl_cmd_promote;
extern const struct ctl_cmd ctl_cmd_rollback;
extern const struct ctl_cmd ctl_cmd_eject;
extern const struct ctl_cmd ctl_cmd_restore;
extern const struct ctl_cmd ctl_cmd_stats;
extern const struct ctl_cmd ctl_cmd_trace;
extern const struct ctl_cmd ctl_cmd_rollout;

/* ctl_dns.c: the DNS names steerd resolves (its state file), or NULL;
 * and their text form for status. */
json_object *ctl_dns_names(const char *bpffs);
void ctl_dns_print(json_object *names);

#endif /* STEER_CTL_H */
