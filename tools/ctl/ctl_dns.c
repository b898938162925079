// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl status: the DNS names of dns/srv backends, as steerd resolved
 * them. steerd keeps them in /run/steer/<pin dir name>/dns.json while it
 * runs (agent/dns_report.c); without a running steerd there is none and
 * status shows the routes' backends alone.
 */
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "ctl.h"
#include "routes.h"

json_object *ctl_dns_names(const char *bpffs)
{
	char path[PATH_MAX];
	json_object *doc, *names = NULL;

	if (routes_dns_state_path(bpffs, path, sizeof(path), NULL, 0))
		return NULL;
	doc = json_object_from_file(path);
	if (!doc)
		return NULL;
	if (json_object_object_get_ex(doc, "names", &names) &&
	    json_object_is_type(names, json_type_array))
		json_object_get(names);
	else
		names = NULL;
	json_object_put(doc);
	return names;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
						     : "";
}

static long long num(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v)
		       ? (long long)json_object_get_int64(v)
		       : 0;
}

void ctl_dns_print(json_object *names)
{
	size_t n = names ? json_object_array_length(names) : 0;

	if (!n)
		return;
	printf("dns names (resolved by steerd)\n");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(names, i), *as;
		size_t na = 0;
		json_object *ls;
		double last = json_object_object_get_ex(e, "last_success", &ls)
				      ? json_object_get_double(ls)
				      : 0;
		char when[32] = "never";

		if (json_object_object_get_ex(e, "addresses", &as))
			na = json_object_array_length(as);
		if (last > 0) {
			time_t t = (time_t)last;
			struct tm tm;

			strftime(when, sizeof(when), "%H:%M:%S",
				 localtime_r(&t, &tm));
		}
		printf("  %-3s %s", str(e, "type"), str(e, "name"));
		if (!strcmp(str(e, "type"), "dns"))
			printf(" port %lld", num(e, "port"));
		printf("  ttl %llds, answered %s, %lld queries, %lld failed\n",
		       num(e, "ttl"), when, num(e, "queries"),
		       num(e, "failures"));
		printf("      %zu addresses:", na);
		for (size_t k = 0; k < na; k++) {
			json_object *a = json_object_array_get_idx(as, k);

			printf(" %s w%lld", str(a, "address"),
			       num(a, "weight"));
		}
		printf("\n");
		/* steerd keeps at most ROUTE_MAX_BACKENDS per version */
		if (num(e, "left_out"))
			printf("      %lld more left out: at most %d backends "
			       "per version (%lld answers cut)\n",
			       num(e, "left_out"), ROUTE_MAX_BACKENDS,
			       num(e, "truncated"));
	}
}
