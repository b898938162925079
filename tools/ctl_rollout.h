/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * steerctl rollout (DESIGN.md §7): the arguments as parsed and checked
 * before anything changes (ctl_rollout_args.c), and the run
 * (ctl_rollout.c).
 */
#ifndef STEER_CTL_ROLLOUT_H
#define STEER_CTL_ROLLOUT_H

#include <stdbool.h>
#include "ctl.h"

#define ROLLOUT_MAX_STEPS 64

struct rollout_args {
	const char *route;
	const char *version;			 /* --to */
	unsigned int steps[ROLLOUT_MAX_STEPS];	 /* 0.01 % units, increasing */
	int n_steps;
	double interval_s;			 /* --interval */
	double max_rate;			 /* --max-failure-rate, 0..1 */
	unsigned long min_conns;		 /* --min-connections */
	unsigned int extend;			 /* --extend: extra intervals */
	const char *rules[STEER_MAX_RULES];	 /* --rule, in order given */
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

#endif /* STEER_CTL_ROLLOUT_H */
