// SPDX-License-Identifier: BSD-2-Clause
/* steerctl promote: every rule of a route sends 100 % to one version. */
#include <stdio.h>
#include <string.h>
#include "compile.h"
#include "ctl.h"

static int run_promote(struct ctl *c, int argc, char **argv)
{
	struct ctl_edit e;
	char what[64];
	int v, ret;

	if (argc != 3)
		return ctl_error(c, CTL_USAGE,
				 "promote: expected ROUTE VERSION");
	ret = ctl_edit_begin(c, argv[1], &e);
	if (ret)
		goto out;
	v = compile_version_index(e.cfg, argv[2]);
	if (v < 0) {
		ret = ctl_error(c, CTL_ERR, "route %s has no version '%s'",
				argv[1], argv[2]);
		goto out;
	}
	for (int r = 0; r < e.cfg->n_rules && r < STEER_MAX_RULES; r++) {
		memset(e.cfg->rules[r].split, 0, sizeof(e.cfg->rules[r].split));
		e.cfg->rules[r].split[v] = STEER_SPLIT_POINTS;
	}
	ret = ctl_edit_commit(c, &e);
	if (!ret) {
		snprintf(what, sizeof(what), "promoted %s",
			 e.cfg->versions[v].name);
		ctl_edit_report(c, &e, what, NULL, NULL);
	}
out:
	ctl_edit_end(&e);
	return ret;
}

const struct ctl_cmd ctl_cmd_promote = {
	.name = "promote",
	.run = run_promote,
	.summary = "send 100% of every rule's traffic to VERSION",
	.help = "Usage: steerctl promote ROUTE VERSION\n"
		"Set every rule of ROUTE to send 100 % of its new connections "
		"to\n"
		"VERSION, in one atomic publish. Existing connections stay "
		"where\n"
		"they are. Like 'set', this is an override until the route's "
		"file\n"
		"changes; make it permanent by editing the file.\n"
		"\n"
		"Exit status: 0 promoted, 1 unknown route or version, 2 "
		"usage.\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl promote reviews v2\n"
		"  steerctl -o json promote reviews v2\n",
};
