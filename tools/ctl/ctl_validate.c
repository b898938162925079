// SPDX-License-Identifier: BSD-2-Clause
/* steerctl validate: check route files offline, as steerd would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl.h"
#include "routes.h"

/* One error: into the JSON list @errs, or a line on stderr. */
static void report(struct json_object *errs, const char *err)
{
	if (errs)
		json_object_array_add(errs, json_object_new_string(err));
	else
		fprintf(stderr, "%s\n", err);
}

static int run_validate(struct ctl *c, int argc, char **argv)
{
	struct route_set set = { 0 };
	struct json_object *doc = NULL, *errs = NULL;
	char err[ROUTE_ERR_MAX];
	int bad = 0;

	if (argc < 2)
		return ctl_error(c, CTL_USAGE, "validate: no FILE given");
	if (c->json) {
		doc = json_object_new_object();
		errs = json_object_new_array();
	}
	for (int i = 1; i < argc; i++) {
		if (routes_parse_file(argv[i], &set, err, sizeof(err)) == 0)
			continue;
		bad++;
		report(errs, err);
	}
	/* Names and frontends must be unique across the files given. */
	if (!bad && routes_check_set(&set, err, sizeof(err))) {
		bad++;
		report(errs, err);
	}
	if (doc) {
		json_object_object_add(doc, "valid",
				       json_object_new_boolean(!bad));
		json_object_object_add(doc, "routes",
				       json_object_new_int(set.n));
		json_object_object_add(doc, "errors", errs);
		ctl_print_json(doc);
	} else if (!bad) {
		printf("%d route%s in %d file%s: ok\n", set.n,
		       set.n == 1 ? "" : "s", argc - 1, argc == 2 ? "" : "s");
	}
	routes_free(&set);
	return bad ? CTL_ERR : CTL_OK;
}

const struct ctl_cmd ctl_cmd_validate = {
	.name = "validate",
	.run = run_validate,
	.summary = "check route files offline, errors as file:line:col",
	.help = "Usage: steerctl validate FILE...\n"
		"Parse and validate route files exactly as steerd does, "
		"without\n"
		"touching the kernel. Each error is printed as\n"
		"FILE:LINE:COL: what is wrong. Route names and frontends must "
		"be\n"
		"unique across all FILEs given.\n"
		"\n"
		"Exit status: 0 all valid, 1 an error was found, 2 usage.\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl validate /etc/steer/routes/*.yaml\n"
		"  steerctl -o json validate reviews.yaml\n",
};
