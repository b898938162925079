// SPDX-License-Identifier: BSD-2-Clause
/* steerctl restore: undo 'steerctl eject' for a backend, and end a
 * passive ejection (ctl_health.c). */
#include "ctl.h"

static int run_restore(struct ctl *c, int argc, char **argv)
{
	return ctl_eject_run(c, argc, argv, false);
}

const struct ctl_cmd ctl_cmd_restore = {
	.name = "restore",
	.run = run_restore,
	.summary = "give an ejected backend new connections again",
	.help = "Usage: steerctl restore ROUTE BACKEND\n"
		"Put BACKEND back into rotation for ROUTE's new connections, "
		"in\n"
		"one atomic publish. BACKEND is written as for 'eject'. When "
		"no\n"
		"other steerctl change is left, the route follows its file "
		"again\n"
		"(no longer an override).\n"
		"\n"
		"It also ends a passive ejection (the route's 'health' "
		"section):\n"
		"the backend gets new connections at once and its failures "
		"and\n"
		"backoff start from zero (the next ejection lasts 'eject'). "
		"The\n"
		"kernel changes only those fields of the shared health entry, "
		"in\n"
		"place, so no concurrent connection count is lost.\n"
		"\n"
		"Exit status: 0 restored, 1 unknown route or backend, 2 "
		"usage.\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl restore reviews 10.244.2.7:9080\n"
		"  steerctl -o json restore reviews 10.244.2.9\n",
};
