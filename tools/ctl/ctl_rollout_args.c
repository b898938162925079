// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl rollout's arguments: durations, percentages and the step list,
 * each checked in full before the rollout reads or changes anything, so a
 * bad argument exits 2 with the maps untouched.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl_rollout.h"
#include "routes.h"

/* Defaults (README, `steerctl help rollout`). */
static const unsigned int default_steps[] = { 100, 500, 2500, 5000, 10000 };
#define DEFAULT_INTERVAL_S 30.0
#define DEFAULT_MAX_RATE   0.01
#define DEFAULT_MIN_CONNS  10
#define DEFAULT_EXTEND	   3
#define MIN_INTERVAL_S	   0.1
#define MAX_INTERVAL_S	   86400.0
#define MAX_MIN_CONNS	   1000000000UL
#define MAX_EXTEND	   1000

/*
 * Length of the decimal number at @s ("12", "0.5"; no sign, no exponent,
 * no hex: strtod alone would take "1e2", "0x10", "inf"), or 0.
 */
static size_t number_len(const char *s)
{
	size_t i = 0, digits = 0;

	while (s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (!digits)
		return 0;
	if (s[i] == '.') {
		size_t frac = 0;

		for (i++; s[i] >= '0' && s[i] <= '9'; i++)
			frac++;
		if (!frac)
			return 0;
	}
	return i;
}

double rollout_parse_duration(const char *s)
{
	static const struct {
		const char *unit;
		double secs;
	} units[] = { { "", 1 },
		      { "ms", 0.001 },
		      { "s", 1 },
		      { "m", 60 },
		      { "h", 3600 } };
	size_t n = number_len(s);

	if (!n || n > 16)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(s + n, units[i].unit))
			return strtod(s, NULL) * units[i].secs;
	return -1;
}

double rollout_parse_rate(const char *s)
{
	size_t n = number_len(s);
	double v;

	if (!n || n > 16 || (s[n] && strcmp(s + n, "%")))
		return -1;
	v = strtod(s, NULL);
	return v <= 100 ? v / 100 : -1;
}

long rollout_parse_share(const char *s)
{
	char buf[16];
	size_t len = strlen(s);
	long v;

	if (len && s[len - 1] == '%')
		len--;
	if (!len || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = routes_parse_percent(buf);
	return v > 0 ? v : -1;
}

const char *rollout_pct(char *buf, size_t len, unsigned int units)
{
	if (units % 100 == 0)
		snprintf(buf, len, "%u", units / 100);
	else if (units % 10 == 0)
		snprintf(buf, len, "%u.%u", units / 100, units % 100 / 10);
	else
		snprintf(buf, len, "%u.%02u", units / 100, units % 100);
	return buf;
}

static int parse_steps(const struct ctl *c, const char *arg,
		       struct rollout_args *a)
{
	char buf[1024], *save = NULL, *tok;

	if (strlen(arg) >= sizeof(buf))
		return ctl_error(c, CTL_USAGE, "rollout: --steps is too long");
	strcpy(buf, arg);
	a->n_steps = 0;
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		long v = rollout_parse_share(tok);

		if (v < 0)
			return ctl_error(c, CTL_USAGE,
					 "rollout: --steps: '%s' is not a "
					 "percentage above 0 and at most 100 "
					 "with at most 2 decimals",
					 tok);
		if (a->n_steps == ROLLOUT_MAX_STEPS)
			return ctl_error(c, CTL_USAGE,
					 "rollout: --steps: more than %d steps",
					 ROLLOUT_MAX_STEPS);
		if (a->n_steps && (unsigned long)v <= a->steps[a->n_steps - 1])
			return ctl_error(c, CTL_USAGE,
					 "rollout: --steps must increase: "
					 "'%s' follows %.2f",
					 tok, a->steps[a->n_steps - 1] / 100.0);
		a->steps[a->n_steps++] = (unsigned int)v;
	}
	if (!a->n_steps)
		return ctl_error(c, CTL_USAGE,
				 "rollout: --steps: no step given, e.g. "
				 "--steps 1,5,25,50,100");
	return CTL_OK;
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!(s[0] >= '0' && s[0] <= '9'))
		return -1;
	*out = strtoul(s, &end, 10);
	return *end || *out > max ? -1 : 0;
}

/* --rule @name once more, at most STEER_MAX_RULES times. */
static int add_rule(const struct ctl *c, char *name, struct rollout_args *a)
{
	for (int i = 0; i < a->n_rules; i++)
		if (!strcmp(a->rules[i], name))
			return ctl_error(c, CTL_USAGE,
					 "rollout: --rule %s given twice",
					 name);
	if (a->n_rules == STEER_MAX_RULES)
		return ctl_error(c, CTL_USAGE, "rollout: more than %d --rule",
				 STEER_MAX_RULES);
	a->rules[a->n_rules++] = name;
	return CTL_OK;
}

/* Option @opt (@given as written) with value @arg into @a. */
static int parse_opt(const struct ctl *c, int opt, char *arg, const char *given,
		     struct rollout_args *a)
{
	unsigned long n;

	switch (opt) {
	case 't':
		a->version = arg;
		return CTL_OK;
	case 's':
		return parse_steps(c, arg, a);
	case 'i':
		a->interval_s = rollout_parse_duration(arg);
		if (!(a->interval_s >= MIN_INTERVAL_S &&
		      a->interval_s <= MAX_INTERVAL_S))
			return ctl_error(c, CTL_USAGE,
					 "rollout: --interval: '%s' is not a "
					 "duration from 100ms to 24h (e.g. "
					 "30s, 2m, 500ms)",
					 arg);
		return CTL_OK;
	case 'f':
		a->max_rate = rollout_parse_rate(arg);
		if (a->max_rate < 0)
			return ctl_error(c, CTL_USAGE,
					 "rollout: --max-failure-rate: '%s' is "
					 "not a percentage from 0 to 100 (e.g. "
					 "1%%, 0.5%%)",
					 arg);
		return CTL_OK;
	case 'n':
		if (parse_count(arg, MAX_MIN_CONNS, &n) || !n)
			return ctl_error(c, CTL_USAGE,
					 "rollout: --min-connections: '%s' is "
					 "not a number from 1 to %lu",
					 arg, MAX_MIN_CONNS);
		a->min_conns = n;
		return CTL_OK;
	case 'e':
		if (parse_count(arg, MAX_EXTEND, &n))
			return ctl_error(c, CTL_USAGE,
					 "rollout: --extend: '%s' is not a "
					 "number from 0 to %d",
					 arg, MAX_EXTEND);
		a->extend = (unsigned int)n;
		return CTL_OK;
	case 'r':
		return add_rule(c, arg, a);
	case ':':
		return ctl_error(c, CTL_USAGE, "rollout: %s needs a value",
				 given);
	default:
		return ctl_error(c, CTL_USAGE,
				 "rollout: unknown option '%s'; see "
				 "'steerctl help rollout'",
				 given);
	}
}

int rollout_parse_args(const struct ctl *c, int argc, char **argv,
		       struct rollout_args *a)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "steps", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "max-failure-rate", required_argument, NULL, 'f' },
		{ "min-connections", required_argument, NULL, 'n' },
		{ "extend", required_argument, NULL, 'e' },
		{ "rule", required_argument, NULL, 'r' },
		{ 0 },
	};
	int opt, ret;

	memset(a, 0, sizeof(*a));
	memcpy(a->steps, default_steps, sizeof(default_steps));
	a->n_steps = sizeof(default_steps) / sizeof(default_steps[0]);
	a->interval_s = DEFAULT_INTERVAL_S;
	a->max_rate = DEFAULT_MAX_RATE;
	a->min_conns = DEFAULT_MIN_CONNS;
	a->extend = DEFAULT_EXTEND;
	optind = 0; /* reset GNU getopt: main() used it */
	opterr = 0; /* our own one-line message instead of getopt's */
	while ((opt = getopt_long(argc, argv, ":t:s:i:f:n:e:r:", opts, NULL)) !=
	       -1) {
		ret = parse_opt(c, opt, optarg, argv[optind - 1], a);
		if (ret)
			return ret;
	}
	if (optind >= argc)
		return ctl_error(c, CTL_USAGE,
				 "rollout: no ROUTE given, e.g. 'steerctl "
				 "rollout reviews --to v2'");
	a->route = argv[optind++];
	if (optind < argc)
		return ctl_error(c, CTL_USAGE,
				 "rollout: unexpected argument '%s'",
				 argv[optind]);
	if (!a->version)
		return ctl_error(c, CTL_USAGE,
				 "rollout: --to VERSION is required (the "
				 "canary to release)");
	return CTL_OK;
}

const char rollout_help[] =
	"Usage: steerctl rollout ROUTE --to VERSION [--steps PCT,...] "
	"[--interval DUR]\n"
	"         [--max-failure-rate PCT] [--min-connections N] "
	"[--extend N]\n"
	"         [--rule NAME]...\n"
	"Release VERSION (the canary) in steps: for each step, set its "
	"share,\n"
	"wait the interval, and compare its failure rate over that "
	"interval\n"
	"with the threshold. On a breach, roll back at once, say why "
	"and exit\n"
	"1. After the last step, promote VERSION (100 % of every rule) "
	"and\n"
	"exit 0. Each change is one atomic publish, as with 'set'.\n"
	"\n"
	"  --to VERSION             the canary (required)\n"
	"  --steps PCT,...          its shares, increasing, above 0 and "
	"at most\n"
	"                           100, 2 decimals (default "
	"1,5,25,50,100)\n"
	"  --interval DUR           time per step: 500ms, 30s, 2m, 1h "
	"(a bare\n"
	"                           number is seconds; default 30s; "
	"100ms-24h)\n"
	"  --max-failure-rate PCT   a step fails above it: 1%, 0.5% "
	"(default 1%)\n"
	"  --min-connections N      attempts a step needs to be judged "
	"(default 10)\n"
	"  --extend N               extra intervals a step with too "
	"few may\n"
	"                           wait (default 3)\n"
	"  --rule NAME              the rule to step; repeat for "
	"several (default:\n"
	"                           the rule 'set' changes: 'default', "
	"else the last)\n"
	"\n"
	"A step sets the canary's share on the stepped rules; the rest "
	"goes to\n"
	"the other versions in proportion to the rule's file split of "
	"them (all\n"
	"of it to the other version when there is one). Other rules "
	"keep their\n"
	"split until the promote.\n"
	"\n"
	"The failure rate is failed / attempted connections of the "
	"canary's\n"
	"backends, both layers, whichever rule sent them, counted from "
	"the\n"
	"step's publish (deltas): failed means refused, reset or timed "
	"out\n"
	"before established, counted when the kernel sees it. A rate "
	"equal to\n"
	"the threshold passes. A step with fewer than --min-connections "
	"attempts\n"
	"at the end of its interval is judged against N instead: if its "
	"failures\n"
	"are above the threshold even of N attempts it fails at once; "
	"else it\n"
	"waits one more interval (counting on), at most --extend times, "
	"then\n"
	"fails: too little traffic to judge.\n"
	"\n"
	"With a 'health' section in the route, a canary backend that "
	"passive\n"
	"health ejects fails the step at once, whatever the rate (the "
	"ejection\n"
	"hides its failures from the rate); the breach names it. A "
	"backend\n"
	"ejected by 'steerctl eject' does not count.\n"
	"\n"
	"Rolling back returns every rule's split to the route file "
	"(backend\n"
	"ejections stay). SIGINT, SIGTERM or SIGHUP during the rollout "
	"roll\n"
	"back and exit 1 (SIGKILL cannot: then run 'steerctl "
	"rollback'). If\n"
	"the splits change under the rollout (the route file changed, "
	"or\n"
	"another steerctl), it stops, changes nothing more and exits "
	"1.\n"
	"\n"
	"Output: one line per step, its end and each change, and a "
	"status line\n"
	"(step, share, connections, failures, time left) every second "
	"on a\n"
	"terminal (redrawn in place) or every 5 s otherwise (no control "
	"codes);\n"
	"why a rollout failed goes to stderr too. -o json: one JSON "
	"object per\n"
	"line, \"event\" one of start, step, progress (every second), "
	"extend,\n"
	"passed, breach, too_few, interrupted, changed, error, "
	"rollback,\n"
	"promote, done (always last: result promoted, rolled_back, "
	"stopped or\n"
	"error; status; message). share is in percent, failure_rate "
	"a\n"
	"fraction, as in 'status' and 'stats'.\n"
	"\n"
	"Exit status: 0 released, 1 rolled back, stopped, or bad "
	"route, version\n"
	"or rule (nothing changed), 2 usage (nothing changed).\n"
	"\n"
	"EXAMPLES\n"
	"  steerctl rollout reviews --to v2\n"
	"  steerctl rollout reviews --to v2 --steps 5,25,50,100 "
	"--interval 2m \\\n"
	"      --max-failure-rate 0.5% --min-connections 200\n"
	"  steerctl -o json rollout reviews --to v2 --interval 10s | "
	"jq -c \\\n"
	"      'select(.event == \"passed\" or .event == \"done\")'\n";
