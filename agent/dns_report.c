// SPDX-License-Identifier: BSD-2-Clause
/*
 * What the DNS module knows, for people: a JSON state file that steerctl
 * status reads (names, addresses, TTL; written on every answer, removed when
 * steerd exits) and the steer_dns_* metric families.
 */
#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dns_priv.h"
#include "log.h"

static const char *kind_name(const struct dns_entry *e)
{
	return e->kind == ROUTE_DNS_SRV ? "srv" : "dns";
}

static void addr_text(const struct dns_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->family == STEER_FAM_INET6) {
		inet_ntop(AF_INET6, a->addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	} else {
		inet_ntop(AF_INET, a->addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, a->port);
	}
}

void dns_write_state(struct dns *dns)
{
	json_object *root, *names;
	char tmp[4200], buf[80];
	const char *text;
	FILE *f;

	if (!dns->state_path)
		return;
	root = json_object_new_object();
	names = json_object_new_array();
	for (const struct dns_entry *e = dns->entries; e; e = e->next) {
		json_object *o = json_object_new_object(),
			    *as = json_object_new_array();

		json_object_object_add(o, "name",
				       json_object_new_string(e->name));
		json_object_object_add(o, "type",
				       json_object_new_string(kind_name(e)));
		if (e->kind == ROUTE_DNS_ADDR)
			json_object_object_add(o, "port",
					       json_object_new_int(e->port));
		for (int i = 0; i < e->n; i++) {
			json_object *a = json_object_new_object();

			addr_text(&e->addrs[i], buf, sizeof(buf));
			json_object_object_add(a, "address",
					       json_object_new_string(buf));
			json_object_object_add(
				a, "weight",
				json_object_new_int(e->addrs[i].weight));
			json_object_array_add(as, a);
		}
		json_object_object_add(o, "addresses", as);
		json_object_object_add(o, "resolved",
				       json_object_new_boolean(e->resolved));
		json_object_object_add(o, "ttl", json_object_new_int64(e->ttl));
		json_object_object_add(o, "last_success",
				       json_object_new_double(e->last_success));
		json_object_object_add(
			o, "queries",
			json_object_new_int64((int64_t)e->queries));
		json_object_object_add(
			o, "failures",
			json_object_new_int64((int64_t)e->failures));
		json_object_object_add(
			o, "truncated",
			json_object_new_int64((int64_t)e->truncated));
		json_object_object_add(o, "left_out",
				       json_object_new_int(e->left_out));
		json_object_array_add(names, o);
	}
	json_object_object_add(root, "names", names);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	/* Every reload asks: a file write each time cost a reload of one
	 * route at 100,000 routes a tenth of its time. */
	if (dns->state_written && !strcmp(dns->state_written, text)) {
		json_object_put(root);
		return;
	}
	free(dns->state_written);
	dns->state_written = NULL;
	snprintf(tmp, sizeof(tmp), "%s.tmp", dns->state_path);
	f = fopen(tmp, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) ||
	    rename(tmp, dns->state_path)) {
		pr_debug("dns: cannot write %s: %m", dns->state_path);
		if (f)
			unlink(tmp);
	} else {
		dns->state_written = strdup(text); /* NULL: written next time */
	}
	json_object_put(root);
}

static void header(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* DNS names are letters, digits, '-', '_' and '.': no label escaping.
 * A dns entry's port tells apart two entries of one name. */
static void series(FILE *out, const char *name, const struct dns_entry *e,
		   double v)
{
	if (e->kind == ROUTE_DNS_SRV)
		fprintf(out, "%s{name=\"%s\",type=\"srv\"} %.17g\n", name,
			e->name, v);
	else
		fprintf(out, "%s{name=\"%s\",type=\"dns\",port=\"%u\"} %.17g\n",
			name, e->name, e->port, v);
}

#define STR_(x)	 #x
#define STR(x)	 STR_(x)
#define MAX_TEXT STR(ROUTE_MAX_BACKENDS)

void dns_metrics_write(FILE *out, const struct dns *dns)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{ "steer_dns_queries_total", "counter",
		  "Resolutions of a backend DNS name (A+AAAA, or SRV and its "
		  "targets) steerd started." },
		{ "steer_dns_failures_total", "counter",
		  "Resolutions that failed (timeout, SERVFAIL, refused): the "
		  "last answer was kept." },
		{ "steer_dns_changes_total", "counter",
		  "Answers that changed the name's backends." },
		{ "steer_dns_backends", "gauge",
		  "Backends the name contributes now (0: NXDOMAIN or no "
		  "records)." },
		{ "steer_dns_ttl_seconds", "gauge",
		  "Seconds between resolutions: the records' TTL clamped to "
		  "--dns-min-ttl and --dns-max-ttl." },
		{ "steer_dns_last_success_timestamp_seconds", "gauge",
		  "Unix time of the name's last answer." },
		{ "steer_dns_truncated_total", "counter",
		  "Answers with more addresses than a version holds "
		  "(" MAX_TEXT "): the lowest " MAX_TEXT " in address order "
		  "were kept." },
		{ "steer_dns_left_out", "gauge",
		  "The name's addresses that are no backend now: cut from "
		  "the last answer, or with no room left in a version that "
		  "names it." },
	};

	if (!dns)
		return;
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		header(out, fams[f].name, fams[f].type, fams[f].help);
		for (const struct dns_entry *e = dns->entries; e; e = e->next) {
			double v[] = { (double)e->queries,
				       (double)e->failures,
				       (double)e->changes,
				       e->n,
				       e->ttl,
				       e->last_success,
				       (double)e->truncated,
				       e->left_out };

			series(out, fams[f].name, e, v[f]);
		}
	}
}
