// SPDX-License-Identifier: BSD-2-Clause
/* steerctl rollback: return a route to exactly what its file gives. */
#include <stdio.h>
#include <string.h>
#include "ctl.h"

static int run_rollback(struct ctl *c, int argc, char **argv)
{
	struct ctl_edit e;
	int ret;

	if (argc != 2)
		return ctl_error(c, CTL_USAGE, "rollback: expected ROUTE");
	ret = ctl_edit_begin(c, argv[1], &e);
	if (ret)
		goto out;
	for (int r = 0; r < e.cfg->n_rules && r < STEER_MAX_RULES; r++)
		memcpy(e.cfg->rules[r].split, e.cfg->rules[r].file_split,
		       sizeof(e.cfg->rules[r].split));
	/* Manual ejections go too; health ejections (with expiry) stay. */
	for (int v = 0; v < e.cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		struct steer_version *sv = &e.cfg->versions[v];

		for (int b = 0; b < sv->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++)
			if (!sv->backends[b].ejected_until_ns)
				sv->backends[b].flags &=
					(__u8)~STEER_BACKEND_EJECTED;
	}
	ret = ctl_edit_commit(c, &e);
	if (!ret)
		ctl_edit_report(c, &e, "rolled back to the route file", NULL,
				NULL);
out:
	ctl_edit_end(&e);
	return ret;
}

const struct ctl_cmd ctl_cmd_rollback = {
	.name = "rollback",
	.run = run_rollback,
	.summary = "return to the split the route file gives",
	.help = "Usage: steerctl rollback ROUTE\n"
		"Undo every steerctl change to ROUTE in one atomic publish: "
		"each\n"
		"rule's split returns to the one its file gives and backends\n"
		"ejected with 'steerctl eject' are restored. The route is then "
		"no\n"
		"longer an override: steerd follows its file again.\n"
		"\n"
		"Exit status: 0 rolled back, 1 unknown route, 2 usage.\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl rollback reviews\n"
		"  steerctl -o json rollback reviews\n",
};
