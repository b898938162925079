/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Route match blocks, policy and health (docs/DESIGN.md §2): the parts of a
 * route document that say who a rule or the policy applies to, and how
 * backends are ejected.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "addr.h"
#include "routes_internal.h"

#define EJECT_MAX_MS (24ULL * 3600 * 1000)
/* When a health section leaves a field out. */
#define HEALTH_DEFAULT_FAILURES 5
#define HEALTH_DEFAULT_EJECT_MS 30000

/* "500ms", "30s", "5m", "1h" into milliseconds; 0 when malformed. */
static unsigned long long parse_duration(const char *s)
{
	static const struct {
		const char *unit;
		unsigned long long ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }
	};
	unsigned long long v = 0;
	size_t i = 0, u;

	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (unsigned long long)(s[i] - '0');
		if (v > EJECT_MAX_MS)
			return 0;
	}
	if (!i)
		return 0;
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (!strcmp(s + i, units[u].unit))
			return v * units[u].ms;
	}
	return 0;
}

/* One match field: a list of at most STEER_MAX_MATCH_ITEMS items. */
static int match_list(struct ry_ctx *c, yaml_node_t *n, const char *what,
		      int *count)
{
	int err = ry_seq(c, n, what);
	long len;

	if (err)
		return err;
	len = n->data.sequence.items.top - n->data.sequence.items.start;
	if (!len)
		return ry_error(c, n, "%s must not be empty", what);
	if (len > STEER_MAX_MATCH_ITEMS)
		return ry_error(
			c,
			ry_node(c, n->data.sequence.items
					   .start[STEER_MAX_MATCH_ITEMS]),
			"too many %s: at most %d", what, STEER_MAX_MATCH_ITEMS);
	*count = (int)len;
	return 0;
}

#define ITEM(n, i) ry_node(c, (n)->data.sequence.items.start[i])

int routes_parse_match(struct ry_ctx *c, yaml_node_t *n, const char *what,
		       struct route_match *m)
{
	static const char *const fields[] = { "sources", "cgroups", "uids",
					      "ports", NULL };
	unsigned long long v;
	yaml_node_t *f;
	const char *s;
	int err, i;

	err = ry_map_check(c, n, what, fields);
	if (err)
		return err;
	f = ry_map_get(c, n, "sources");
	if (f && (err = match_list(c, f, "sources", &m->n_sources)))
		return err;
	for (i = 0; f && i < m->n_sources; i++) {
		err = ry_str(c, ITEM(f, i), "source", &s);
		if (err)
			return err;
		err = addr_parse_cidr(s, &m->sources[i]);
		if (err == -EDOM)
			return ry_error(c, ITEM(f, i),
					"CIDR \"%s\" has host bits set", s);
		if (err)
			return ry_error(c, ITEM(f, i), "bad CIDR \"%s\"", s);
	}
	f = ry_map_get(c, n, "cgroups");
	if (f && (err = match_list(c, f, "cgroups", &m->n_cgroups)))
		return err;
	for (i = 0; f && i < m->n_cgroups; i++) {
		err = ry_str(c, ITEM(f, i), "cgroup", &s);
		if (err)
			return err;
		if (s[0] != '/')
			return ry_error(
				c, ITEM(f, i),
				"cgroup path \"%s\" must start with '/'", s);
		if (strlen(s) >= ROUTE_PATH_MAX)
			return ry_error(
				c, ITEM(f, i),
				"cgroup path is longer than %d characters",
				ROUTE_PATH_MAX - 1);
		m->cgroups[i] = strdup(s);
		if (!m->cgroups[i])
			return ry_error(c, ITEM(f, i), "out of memory");
	}
	f = ry_map_get(c, n, "uids");
	if (f && (err = match_list(c, f, "uids", &m->n_uids)))
		return err;
	for (i = 0; f && i < m->n_uids; i++) {
		err = ry_uint(c, ITEM(f, i), 0, 4294967294ULL,
			      "uid must be an integer from 0 to 4294967294",
			      &v);
		if (err)
			return err;
		m->uids[i] = (__u32)v;
	}
	f = ry_map_get(c, n, "ports");
	if (f && (err = match_list(c, f, "ports", &m->n_ports)))
		return err;
	for (i = 0; f && i < m->n_ports; i++) {
		err = ry_uint(c, ITEM(f, i), 1, 65535,
			      "port must be an integer from 1 to 65535", &v);
		if (err)
			return err;
		m->ports[i] = (__u16)v;
	}
	return 0;
}

static int parse_policy_list(struct ry_ctx *c, yaml_node_t *n, const char *what,
			     struct route_match **list, int *count)
{
	yaml_node_item_t *it;
	int err;

	err = ry_seq(c, n, what);
	if (err)
		return err;
	if (*list)
		return ry_error(c, n, "duplicate %s list", what);
	*list = route_matches_new((int)ry_seq_room(n, STEER_MAX_POLICY));
	if (!*list)
		return ry_error(c, n, "out of memory");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		if (*count == STEER_MAX_POLICY)
			return ry_error(c, ry_node(c, *it),
					"too many %s entries: at most %d", what,
					STEER_MAX_POLICY);
		/* Counted before it is parsed: route_free() frees what a
		 * half-parsed entry holds. */
		(*count)++;
		err = routes_parse_match(c, ry_node(c, *it), "policy entry",
					 &(*list)[*count - 1]);
		if (err)
			return err;
	}
	return 0;
}

int routes_parse_policy(struct ry_ctx *c, yaml_node_t *n, struct route *r)
{
	static const char *const fields[] = { "default", "allow", "deny",
					      NULL };
	yaml_node_t *f;
	const char *s;
	int err;

	err = ry_map_check(c, n, "policy", fields);
	if (err)
		return err;
	f = ry_map_get(c, n, "default");
	if (f) {
		s = ry_text(f);
		if (s && !strcmp(s, "deny"))
			r->policy_default_deny = true;
		else if (!s || strcmp(s, "allow"))
			return ry_error(
				c, f,
				"policy default must be \"allow\" or \"deny\"");
	}
	f = ry_map_get(c, n, "allow");
	if (f &&
	    (err = parse_policy_list(c, f, "allow", &r->allow, &r->n_allow)))
		return err;
	f = ry_map_get(c, n, "deny");
	if (f && (err = parse_policy_list(c, f, "deny", &r->deny, &r->n_deny)))
		return err;
	return 0;
}

/* Duration field @key of @n into *@ms (1ms .. 24h), else @what's error. */
static int health_duration(struct ry_ctx *c, yaml_node_t *n, const char *key,
			   const char *what, __u32 *ms)
{
	yaml_node_t *f = ry_map_get(c, n, key);
	unsigned long long v;

	if (!f)
		return 0;
	v = ry_text(f) && !ry_is_null(f) ? parse_duration(ry_text(f)) : 0;
	if (!v || v > EJECT_MAX_MS)
		return ry_error(c, f,
				"health %s must be a duration like 500ms, "
				"30s, 5m or 1h, above 0 and at most 24h",
				what);
	*ms = (__u32)v;
	return 0;
}

int routes_parse_pool(struct ry_ctx *c, yaml_node_t *n, struct route *r)
{
	static const char *const fields[] = { "max-connections", NULL };
	unsigned long long v;
	yaml_node_t *f;
	int err;

	err = ry_map_check(c, n, "connection-pool", fields);
	if (err)
		return err;
	f = ry_map_get(c, n, "max-connections");
	if (f) {
		err = ry_uint(c, f, 1, 65535,
			      "connection-pool max-connections must be an "
			      "integer from 1 to 65535",
			      &v);
		if (err)
			return err;
		r->max_connections = (__u32)v;
	}
	return 0;
}

int routes_parse_health(struct ry_ctx *c, yaml_node_t *n, struct route *r)
{
	static const char *const fields[] = { "failures", "eject", "max-eject",
					      "max-ejected", NULL };
	unsigned long long v;
	yaml_node_t *f;
	long pct;
	int err;

	err = ry_map_check(c, n, "health", fields);
	if (err)
		return err;
	r->health_failures = HEALTH_DEFAULT_FAILURES;
	r->health_eject_ms = HEALTH_DEFAULT_EJECT_MS;
	r->health_max_eject_ms = STEER_HEALTH_DEFAULT_MAX_EJECT_MS;
	r->health_max_ejected = STEER_HEALTH_DEFAULT_MAX_EJECTED;
	f = ry_map_get(c, n, "failures");
	if (f) {
		err = ry_uint(
			c, f, 1, 1000,
			"health failures must be an integer from 1 to 1000",
			&v);
		if (err)
			return err;
		r->health_failures = (__u32)v;
	}
	if ((err = health_duration(c, n, "eject", "eject",
				   &r->health_eject_ms)) ||
	    (err = health_duration(c, n, "max-eject", "max-eject",
				   &r->health_max_eject_ms)))
		return err;
	f = ry_map_get(c, n, "max-eject");
	if (r->health_max_eject_ms < r->health_eject_ms) {
		if (f)
			return ry_error(c, f,
					"health max-eject must be at least "
					"eject");
		r->health_max_eject_ms = r->health_eject_ms;
	}
	f = ry_map_get(c, n, "max-ejected");
	if (f) {
		const char *s = ry_text(f);
		char num[16];
		size_t len = s ? strlen(s) : 0;

		/* "30%" or 30: whole percent, 1 to 100 */
		pct = -1;
		if (len && len < sizeof(num) && !ry_is_null(f)) {
			memcpy(num, s, len + 1);
			if (num[len - 1] == '%')
				num[len - 1] = '\0';
			pct = routes_parse_percent(num);
		}
		if (pct < 100 || pct > 10000 || pct % 100)
			return ry_error(c, f,
					"health max-ejected must be a whole "
					"percentage from 1%% to 100%%");
		r->health_max_ejected = (__u32)(pct / 100);
	}
	return 0;
}
