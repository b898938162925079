/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * steerctl rollout (docs/DESIGN.md §7): the arguments as parsed and checked
 * before anything changes (ctl_rollout_args.c), and the run
 * (ctl_rollout.c).
 */
#ifndef STEER_CTL_ROLLOUT_H
#define STEER_CTL_ROLLOUT_H

#include <stdbool.h>
#include "addr.h"
#include "ctl.h"

#define ROLLOUT_MAX_STEPS 64

struct rollout_args {
	const char *route;
	const char *version;		       /* --to */
	unsigned int steps[ROLLOUT_MAX_STEPS]; /* 0.01 % units, increasing */
	int n_steps;
	double interval_s;		    /* --interval */
	double max_rate;		    /* --max-failure-rate, 0..1 */
	unsigned long min_conns;	    /* --min-connections */
	unsigned int extend;		    /* --extend: extra intervals */
	const char *rules[STEER_MAX_RULES]; /* --rule, in order given */
	int n_rules;
};

/*
 * Parse ROUTE and the options of `rollout` into @a (defaults filled in).
 * CTL_OK, or CTL_USAGE after printing why: nothing has been read or
 * changed yet.
 */
int rollout_parse_args(const struct ctl *c, int argc, char **argv,
		       struct rollout_args *a);

/* "30s", "2m", "500ms", "1.5h", a bare number of seconds: seconds, or -1. */
double rollout_parse_duration(const char *s);

/* "1%", "0.5%", "0.05", "100%": a fraction 0..1, or -1. */
double rollout_parse_rate(const char *s);

/* "5", "12.5%", "0.01": 0.01 % units (1..10000), or -1. */
long rollout_parse_share(const char *s);

/* "1", "12.5", "0.25" for 0.01 % units: the shortest exact form. */
const char *rollout_pct(char *buf, size_t len, unsigned int units);

/* How a step ends. */
enum rollout_outcome { PASSED, BREACH, TOO_FEW, INTERRUPTED, CHANGED, FAILED };

/* One rollout: ctl_rollout.c runs it, ctl_rollout_report.c prints it. */
struct rollout_run {
	struct ctl *c;
	const struct rollout_args *a;
	struct steer_maps m;	     /* held for counter reads */
	struct steer_route_cfg *cfg; /* scratch: the live config */
	int id;
	bool stepped[STEER_MAX_RULES];
	/* Splits as we last published them: anything else is someone else's. */
	__u16 published[STEER_MAX_RULES][STEER_MAX_VERSIONS];
	int n_published; /* rules */
	bool have_published;
	unsigned long long generation;
	bool tty, line_open;
	double tick;
	/* the step being run */
	int step;
	__u64 base_conns[ROUTE_MAX_BACKENDS], base_failed[ROUTE_MAX_BACKENDS];
	bool base_ok[ROUTE_MAX_BACKENDS];
	__u64 conns, failed;
	double started, deadline;
	unsigned int intervals;
	int signal;
	char why[512]; /* the reason of a failed rollout, one line */
	/* The canary's backends at the last read, and those of them that
	 * passive health ejected (ctl_rollout_health.c). */
	int n_canary, n_ejected;
	char ejected[ROUTE_MAX_BACKENDS][ADDR_STR_MAX];
	__u64 ejected_ms[ROUTE_MAX_BACKENDS]; /* time left */
};

double rollout_now(void);			/* CLOCK_MONOTONIC seconds */
double rollout_rate(__u64 failed, __u64 conns); /* 0 for 0 conns */
const char *rollout_sig_name(int sig);

/*
 * Passive health of the canary (ctl_rollout_health.c). read: note which
 * backends of version @ver are ejected now (health entry's
 * ejected_until_ns ahead of CLOCK_MONOTONIC). judge: true, with r->why
 * set, when any is: an ejected canary fails its step at once.
 */
void rollout_read_ejected(struct rollout_run *r,
			  const struct steer_version *ver);
bool rollout_judge_ejected(struct rollout_run *r);

/*
 * Output (ctl_rollout_report.c): text lines on stdout, or one JSON event
 * per line with -o json. say() prints one line of text (after ending a
 * status line that a terminal shows redrawn in place).
 */
void rollout_say(struct rollout_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rollout_progress(struct rollout_run *r);
void rollout_report_start(struct rollout_run *r);
void rollout_report_step(struct rollout_run *r);
void rollout_report_extend(struct rollout_run *r);
void rollout_report_passed(struct rollout_run *r);
void rollout_report_stop(struct rollout_run *r, enum rollout_outcome out);
void rollout_report_edit(struct rollout_run *r, const char *name,
			 const char *text);
/* The last event ("done"; in text, why it failed on stderr): @status. */
int rollout_finish(struct rollout_run *r, const char *result, int status);

/* `steerctl help rollout` */
extern const char rollout_help[];

#endif /* STEER_CTL_ROLLOUT_H */
