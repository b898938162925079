// SPDX-License-Identifier: BSD-2-Clause
/* steerctl set: change one rule's split now, in one atomic publish. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "compile.h"
#include "ctl.h"
#include "routes.h"

/* "95", "33.33", optionally with a trailing '%', in 0.01 % units. */
static int parse_pct(const char *s, unsigned int *units)
{
	char buf[16];
	size_t len = strlen(s);
	long v;

	if (len && s[len - 1] == '%')
		len--;
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = routes_parse_percent(buf);
	if (v < 0)
		return -1;
	*units = (unsigned int)v;
	return 0;
}

/* The rule `set` changes without --rule: "default", else the last one. */
static int default_rule(const struct steer_route_cfg *cfg)
{
	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++)
		if (!strcmp(cfg->rules[r].name, "default"))
			return r;
	return cfg->n_rules - 1;
}

/* The rule to change: --rule @name, else default_rule(). Index or -1. */
static int pick_rule(const struct ctl *c, const struct steer_route_cfg *cfg,
		     const char *route, const char *name)
{
	int rule;

	if (name) {
		rule = compile_rule_index(cfg, name);
		if (rule < 0)
			ctl_error(c, CTL_ERR, "route %s has no rule named '%s'",
				  route, name);
		return rule;
	}
	rule = default_rule(cfg);
	if (rule < 0)
		ctl_error(c, CTL_ERR, "route %s has no rules", route);
	return rule;
}

/*
 * VERSION=PERCENT arguments @args (@n of them, each with an '=') into
 * @split by @cfg's version indexes; they must sum to 100 %. CTL_OK or
 * CTL_ERR, reported.
 */
static int parse_split(const struct ctl *c, const struct steer_route_cfg *cfg,
		       const char *route, char **args, int n,
		       __u16 split[STEER_MAX_VERSIONS])
{
	bool named[STEER_MAX_VERSIONS] = { false };
	unsigned int units, sum = 0;
	char pct[16];

	for (int i = 0; i < n; i++) {
		char *eq = strchr(args[i], '=');
		int v;

		*eq = '\0';
		v = compile_version_index(cfg, args[i]);
		*eq = '=';
		if (v < 0)
			return ctl_error(c, CTL_ERR,
					 "route %s has no version '%.*s'",
					 route, (int)(eq - args[i]), args[i]);
		if (named[v])
			return ctl_error(c, CTL_ERR, "version %s given twice",
					 cfg->versions[v].name);
		if (parse_pct(eq + 1, &units))
			return ctl_error(c, CTL_ERR,
					 "%s: '%s' is not a percentage from 0 "
					 "to 100 with at most 2 decimals",
					 cfg->versions[v].name, eq + 1);
		named[v] = true;
		split[v] = (__u16)units;
		sum += units;
	}
	if (sum != STEER_SPLIT_POINTS)
		return ctl_error(c, CTL_ERR,
				 "the split sums to %s%%, not 100%% (versions "
				 "not named get 0)",
				 ctl_pct(pct, sizeof(pct), sum));
	return CTL_OK;
}

static int run_set(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rule", required_argument, NULL, 'r' },
		{ 0 },
	};
	__u16 split[STEER_MAX_VERSIONS] = { 0 };
	const char *rule_name = NULL, *route;
	struct ctl_edit e;
	int opt, rule, first, ret;
	char what[64];

	optind = 0; /* reset GNU getopt: main() used it */
	while ((opt = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		if (opt != 'r')
			return ctl_error(c, CTL_USAGE,
					 "set: see 'steerctl help set'");
		rule_name = optarg;
	}
	if (optind >= argc)
		return ctl_error(c, CTL_USAGE, "set: no ROUTE given");
	route = argv[optind];
	first = optind + 1;
	if (first >= argc)
		return ctl_error(c, CTL_USAGE,
				 "set: no VERSION=PERCENT given, e.g. "
				 "'steerctl set %s v1=95 v2=5'",
				 route);
	for (int i = first; i < argc; i++)
		if (!strchr(argv[i], '=') || argv[i][0] == '=')
			return ctl_error(c, CTL_USAGE,
					 "set: '%s' is not VERSION=PERCENT",
					 argv[i]);

	ret = ctl_edit_begin(c, route, &e);
	if (ret)
		goto out;
	rule = pick_rule(c, e.cfg, route, rule_name);
	if (rule < 0) {
		ret = CTL_ERR;
		goto out;
	}
	ret = parse_split(c, e.cfg, route, argv + first, argc - first, split);
	if (ret)
		goto out;
	memcpy(e.cfg->rules[rule].split, split, sizeof(split));
	ret = ctl_edit_commit(c, &e);
	if (!ret) {
		snprintf(what, sizeof(what), "set rule %s",
			 e.cfg->rules[rule].name);
		ctl_edit_report(c, &e, what, NULL, NULL);
	}
out:
	ctl_edit_end(&e);
	return ret;
}

const struct ctl_cmd ctl_cmd_set = {
	.name = "set",
	.run = run_set,
	.summary = "change a split now, atomically",
	.help = "Usage: steerctl set ROUTE [--rule NAME] VERSION=PERCENT...\n"
		"Change one rule's split in the kernel now. The route's whole\n"
		"configuration is republished in one step, so no connection "
		"sees\n"
		"half of the change. PERCENT has at most 2 decimals (0.01 %\n"
		"steps); versions not named get 0; the split must sum to "
		"exactly\n"
		"100. Without --rule the rule named 'default' is changed, or "
		"the\n"
		"route's last rule when none has that name.\n"
		"\n"
		"The change is an override: it survives steerd restarts and "
		"is\n"
		"shown as OVERRIDE in 'steerctl status' until the route's "
		"file\n"
		"changes (then the file wins) or 'steerctl rollback' returns "
		"to it.\n"
		"A bad argument changes nothing.\n"
		"\n"
		"Exit status: 0 set, 1 bad route, rule, version or "
		"percentage,\n"
		"2 usage.\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl set reviews v1=95 v2=5\n"
		"  steerctl set reviews v1=66.67 v2=33.33\n"
		"  steerctl set reviews --rule testers v2=100\n"
		"  steerctl -o json set reviews v2=100\n",
};
