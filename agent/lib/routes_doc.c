/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One route document (docs/DESIGN.md §2) into struct route, validated field by
 * field. Errors point at the offending node: the key for unknown or
 * duplicate fields, the value for bad values, the document start for a
 * missing required field.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "addr.h"
#include "routes_internal.h"

#define ADDR_TEXT_MAX 128

/* "lowercase letters, digits and @extra, starting and ending with ..." */
static bool valid_name(const char *s, size_t max, const char *extra)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			continue;
		if (i == 0 || i == n - 1 || !strchr(extra, ch))
			return false;
	}
	return true;
}

static int check_name(struct ry_ctx *c, yaml_node_t *n, const char *what,
		      const char *s, size_t max)
{
	if (!valid_name(s, max, "-"))
		return ry_error(
			c, n,
			"%s \"%s\" is not a valid name: lowercase letters, "
			"digits and '-', starting and ending with a letter or "
			"digit, at most %zu characters",
			what, s, max);
	return 0;
}

int routes_version_index(const struct route *r, const char *name)
{
	int i;

	for (i = 0; i < r->n_versions; i++) {
		if (!strcmp(r->versions[i].name, name))
			return i;
	}
	return -1;
}

long routes_parse_percent(const char *s)
{
	long v = 0, frac = 0;
	int i = 0, nfrac = 0;

	if (!(s[0] >= '0' && s[0] <= '9'))
		return -EINVAL;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (s[i] - '0');
		if (v > 100)
			return -EINVAL;
	}
	if (s[i] == '.') {
		for (i++; s[i] >= '0' && s[i] <= '9'; i++, nfrac++) {
			if (nfrac < 2)
				frac = frac * 10 + (s[i] - '0');
		}
		if (!nfrac || s[i])
			return -EINVAL;
		if (nfrac > 2)
			return -EDOM;
		if (nfrac == 1)
			frac *= 10;
	} else if (s[i]) {
		return -EINVAL;
	}
	v = v * 100 + frac;
	return v > 10000 ? -EINVAL : v;
}

/*
 * An address given as a string or as a mapping with "address" and
 * @fields; returns the address text in @buf and the mapping (or NULL).
 */
static int addr_node(struct ry_ctx *c, yaml_node_t *n, const char *what,
		     const char *const *fields, char *buf, yaml_node_t **map)
{
	yaml_node_t *an = n;
	const char *s;
	int err;

	*map = NULL;
	if (n->type == YAML_MAPPING_NODE) {
		err = ry_map_check(c, n, what, fields);
		if (err)
			return err;
		an = ry_map_get(c, n, "address");
		if (!an)
			return ry_error(c, n, "%s has no \"address\"", what);
		*map = n;
	} else if (n->type != YAML_SCALAR_NODE) {
		return ry_error(c, n, "%s must be an address or a mapping",
				what);
	}
	err = ry_str(c, an, "address", &s);
	if (err)
		return err;
	if (strlen(s) >= ADDR_TEXT_MAX)
		return ry_error(c, an, "bad address \"%.40s...\"", s);
	strcpy(buf, s);
	return 0;
}

static int parse_addr(struct ry_ctx *c, yaml_node_t *n, const char *s,
		      struct route_addr *a)
{
	int err = addr_parse(s, a);

	if (err == -ERANGE)
		return ry_error(c, n, "bad port in \"%s\"", s);
	if (err)
		return ry_error(c, n, "bad address \"%s\"", s);
	return 0;
}

static int parse_frontend(struct ry_ctx *c, yaml_node_t *n,
			  struct route_frontend *f)
{
	static const char *const fields[] = { "address", "targetPort", NULL };
	char buf[ADDR_TEXT_MAX], *slash;
	unsigned long long v;
	yaml_node_t *map, *an, *tp;
	int err;

	memset(f, 0, sizeof(*f));
	err = addr_node(c, n, "frontend", fields, buf, &map);
	if (err)
		return err;
	an = map ? ry_map_get(c, map, "address") : n;
	f->proto = STEER_PROTO_TCP;
	slash = strrchr(buf, '/');
	if (slash) {
		if (!strcmp(slash, "/udp"))
			f->proto = STEER_PROTO_UDP;
		else if (strcmp(slash, "/tcp"))
			return ry_error(c, an,
					"bad protocol in \"%s\": tcp or udp",
					ry_text(an));
		*slash = '\0';
	}
	err = parse_addr(c, an, buf, &f->addr);
	if (err)
		return err;
	if (!f->addr.has_port)
		return ry_error(c, an, "frontend needs a port");
	tp = map ? ry_map_get(c, map, "targetPort") : NULL;
	if (tp) {
		err = ry_uint(c, tp, 1, 65535,
			      "targetPort must be an integer from 1 to 65535",
			      &v);
		if (err)
			return err;
		f->target_port = (__u16)v;
	}
	f->pos = (struct route_pos){ (int)n->start_mark.line + 1,
				     (int)n->start_mark.column + 1 };
	return 0;
}

static int parse_frontends(struct ry_ctx *c, yaml_node_t *n, struct route *r)
{
	yaml_node_item_t *it;
	int err;

	err = ry_seq(c, n, "frontends");
	if (err)
		return err;
	r->frontends = calloc(ry_seq_room(n, STEER_MAX_FRONTENDS),
			      sizeof(*r->frontends));
	if (!r->frontends)
		return ry_error(c, n, "out of memory");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = ry_node(c, *it);

		if (r->n_frontends == STEER_MAX_FRONTENDS)
			return ry_error(c, item,
					"too many frontends: at most %d",
					STEER_MAX_FRONTENDS);
		err = parse_frontend(c, item, &r->frontends[r->n_frontends]);
		if (err)
			return err;
		r->n_frontends++;
	}
	if (!r->n_frontends)
		return ry_error(c, n, "route has no frontends");
	return 0;
}

static int parse_backend(struct ry_ctx *c, yaml_node_t *n,
			 struct route_version *v)
{
	static const char *const fields[] = { "address", "weight", NULL };
	char buf[ADDR_TEXT_MAX], str[ADDR_STR_MAX];
	struct route_backend *b = route_backend_add(v);
	unsigned long long w = 1;
	yaml_node_t *map, *wn;
	int err, i;

	if (!b)
		return ry_error(c, n, "out of memory");
	v->n_backends--; /* counted once it is valid */
	err = addr_node(c, n, "backend", fields, buf, &map);
	if (err)
		return err;
	err = parse_addr(c, map ? ry_map_get(c, map, "address") : n, buf,
			 &b->addr);
	if (err)
		return err;
	wn = map ? ry_map_get(c, map, "weight") : NULL;
	if (wn) {
		err = ry_uint(c, wn, 1, 65535,
			      "weight must be an integer from 1 to 65535", &w);
		if (err)
			return err;
	}
	b->weight = (__u16)w;
	for (i = 0; i < v->n_backends; i++) {
		if (addr_equal(&v->backends[i].addr, &b->addr))
			return ry_error(
				c, n, "duplicate backend %s in version \"%s\"",
				addr_format(str, sizeof(str), b->addr.family,
					    b->addr.addr,
					    b->addr.has_port ? b->addr.port
							     : 0),
				v->name);
	}
	b->pos = (struct route_pos){ (int)n->start_mark.line + 1,
				     (int)n->start_mark.column + 1 };
	v->n_backends++;
	return 0;
}

static int parse_version(struct ry_ctx *c, yaml_node_t *key, yaml_node_t *n,
			 struct route_version *v)
{
	static const char *const fields[] = { "backends", NULL };
	const char *name = ry_text(key);
	yaml_node_item_t *it;
	yaml_node_t *bn = NULL;
	int err;

	if (!valid_name(name, STEER_SHORT_NAME_LEN - 1, "-._"))
		return ry_error(
			c, key,
			"version \"%s\" is not a valid name: lowercase "
			"letters, digits, '-', '.' and '_', starting and "
			"ending with a letter or digit, at most %d characters",
			name, STEER_SHORT_NAME_LEN - 1);
	strcpy(v->name, name);
	v->pos = (struct route_pos){ (int)key->start_mark.line + 1,
				     (int)key->start_mark.column + 1 };
	if (!ry_is_null(n)) {
		err = ry_map_check(c, n, "version", fields);
		if (err)
			return err;
		bn = ry_map_get(c, n, "backends");
	}
	if (bn && !ry_is_null(bn)) {
		err = ry_seq(c, bn, "backends");
		if (err)
			return err;
		for (it = bn->data.sequence.items.start;
		     it < bn->data.sequence.items.top; it++) {
			if (routes_is_dns_backend(c, ry_node(c, *it))) {
				err = routes_parse_dns_backend(
					c, ry_node(c, *it), v);
				if (err)
					return err;
				continue;
			}
			if (v->n_backends == ROUTE_MAX_BACKENDS)
				return ry_error(c, ry_node(c, *it),
						"too many backends in version "
						"\"%s\": at most %d",
						name, ROUTE_MAX_BACKENDS);
			err = parse_backend(c, ry_node(c, *it), v);
			if (err)
				return err;
		}
	}
	if (!v->n_backends && !v->n_dns)
		return ry_error(c, key, "version \"%s\" has no backends", name);
	return 0;
}

static int parse_versions(struct ry_ctx *c, yaml_node_t *n, struct route *r)
{
	yaml_node_pair_t *p;
	struct route_version *v;
	long room;
	int err;

	err = ry_map_check(c, n, "versions", NULL);
	if (err)
		return err;
	room = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
	if (!room)
		return ry_error(c, n, "route has no versions");
	r->versions = route_versions_new(
		room < STEER_MAX_VERSIONS ? (int)room : STEER_MAX_VERSIONS);
	if (!r->versions)
		return ry_error(c, n, "out of memory");
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = ry_node(c, p->key);

		if (r->n_versions == STEER_MAX_VERSIONS)
			return ry_error(c, key, "too many versions: at most %d",
					STEER_MAX_VERSIONS);
		v = &r->versions[r->n_versions];
		err = parse_version(c, key, ry_node(c, p->value), v);
		if (err) {
			/* route_free() frees the n_versions parsed whole */
			free(v->backends);
			free(v->dns);
			return err;
		}
		r->n_versions++;
	}
	return 0;
}

static int parse_split(struct ry_ctx *c, yaml_node_t *n, const struct route *r,
		       struct route_rule *rule)
{
	yaml_node_pair_t *p;
	long sum = 0, units;
	int err, idx;

	err = ry_map_check(c, n, "split", NULL);
	if (err)
		return err;
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = ry_node(c, p->key),
			    *val = ry_node(c, p->value);
		const char *s = ry_text(val);

		idx = routes_version_index(r, ry_text(key));
		if (idx < 0)
			return ry_error(c, key,
					"unknown version \"%s\" in split",
					ry_text(key));
		units = s && !ry_is_null(val) ? routes_parse_percent(s)
					      : -EINVAL;
		if (units == -EDOM)
			return ry_error(c, val,
					"split \"%s\" has more than 2 decimals",
					s);
		if (units < 0)
			return ry_error(c, val,
					"split value must be a number between "
					"0 and 100");
		rule->split[idx] = (__u16)units;
		sum += units;
	}
	if (sum != STEER_SPLIT_POINTS)
		return ry_error(c, n, "split sums to %ld.%02ld, must be 100",
				sum / 100, sum % 100);
	return 0;
}

static int parse_rules(struct ry_ctx *c, yaml_node_t *n, struct route *r)
{
	static const char *const fields[] = { "name", "match", "split", NULL };
	yaml_node_item_t *it;
	yaml_node_t *f, *item;
	const char *name;
	int err, i;

	err = ry_seq(c, n, "rules");
	if (err)
		return err;
	r->rules = calloc(ry_seq_room(n, STEER_MAX_RULES), sizeof(*r->rules));
	if (!r->rules)
		return ry_error(c, n, "out of memory");
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		struct route_rule *rule = &r->rules[r->n_rules];

		item = ry_node(c, *it);
		if (r->n_rules == STEER_MAX_RULES)
			return ry_error(c, item, "too many rules: at most %d",
					STEER_MAX_RULES);
		err = ry_map_check(c, item, "rule", fields);
		if (err)
			return err;
		rule->pos =
			(struct route_pos){ (int)item->start_mark.line + 1,
					    (int)item->start_mark.column + 1 };
		f = ry_map_get(c, item, "name");
		if (!f)
			return ry_error(c, item, "rule has no \"name\"");
		err = ry_str(c, f, "rule name", &name);
		if (!err)
			err = check_name(c, f, "rule name", name,
					 STEER_SHORT_NAME_LEN - 1);
		if (err)
			return err;
		for (i = 0; i < r->n_rules; i++) {
			if (!strcmp(r->rules[i].name, name))
				return ry_error(c, f, "duplicate rule \"%s\"",
						name);
		}
		strcpy(rule->name, name);
		/* Counted before its match is parsed: route_free() frees what
		 * a half-parsed rule holds. */
		r->n_rules++;
		f = ry_map_get(c, item, "match");
		if (f &&
		    (err = routes_parse_match(c, f, "match", &rule->match)))
			return err;
		f = ry_map_get(c, item, "split");
		if (!f)
			return ry_error(c, item, "rule \"%s\" has no \"split\"",
					name);
		err = parse_split(c, f, r, rule);
		if (err)
			return err;
	}
	if (!r->n_rules)
		return ry_error(c, n, "route has no rules");
	return 0;
}

/* Required field @key of the route, or an error at the document start. */
static yaml_node_t *required(struct ry_ctx *c, yaml_node_t *root,
			     const char *key, int *err)
{
	yaml_node_t *n = ry_map_get(c, root, key);

	if (!n || ry_is_null(n)) {
		*err = ry_error_mark(c, c->doc->start_mark,
				     "route has no \"%s\"", key);
		return NULL;
	}
	return n;
}

/*
 * A version chosen from by a backend table (client affinity, or backends
 * of a family that weigh unequally) has STEER_BACKEND_TABLE_UNIT entries
 * per family to spread over its backends: more backends than that and
 * some would get none. Refused here rather than rounded; the backends of
 * dns/srv answers are not known yet (compile.c rounds those).
 */
static int check_table_room(struct ry_ctx *c, const struct route *r)
{
	for (int v = 0; v < r->n_versions; v++) {
		const struct route_version *rv = &r->versions[v];

		for (int f = 0; f < STEER_FAM_COUNT; f++) {
			bool unequal = false;
			int n = 0, w0 = 0;

			for (int i = 0; i < rv->n_backends; i++) {
				const struct route_backend *b =
					&rv->backends[i];

				if (b->addr.family != f)
					continue;
				unequal |= n && b->weight != w0;
				w0 = b->weight;
				n++;
			}
			if (n <= STEER_BACKEND_TABLE_UNIT ||
			    (!unequal && r->affinity != ROUTE_AFFINITY_CLIENT))
				continue;
			return ry_error_mark(
				c,
				(yaml_mark_t){ .line = rv->pos.line - 1,
					       .column = rv->pos.col - 1 },
				"too many backends in version \"%s\" for its "
				"selection table: %d %s backends, at most %d "
				"with %s",
				rv->name, n,
				f == STEER_FAM_INET ? "IPv4" : "IPv6",
				STEER_BACKEND_TABLE_UNIT,
				r->affinity == ROUTE_AFFINITY_CLIENT
					? "affinity: client"
					: "unequal weights");
		}
	}
	return 0;
}

/* See route.text_only: worked out once, read by every reload. */
static bool text_only(const struct route *r)
{
	if (r->has_dns)
		return false;
	for (int i = 0; i < r->n_rules; i++)
		if (r->rules[i].match.n_cgroups)
			return false;
	for (int i = 0; i < r->n_allow; i++)
		if (r->allow[i].n_cgroups)
			return false;
	for (int i = 0; i < r->n_deny; i++)
		if (r->deny[i].n_cgroups)
			return false;
	return true;
}

int routes_parse_doc(struct ry_ctx *c, yaml_node_t *root, struct route *r)
{
	static const char *const fields[] = {
		"kind",	    "name",   "frontends", "versions",	      "rules",
		"affinity", "policy", "health",	   "connection-pool", NULL
	};
	yaml_node_t *n;
	const char *s;
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->file = strdup(c->file);
	if (!r->file)
		return ry_error(c, root, "out of memory");
	r->pos = (struct route_pos){ (int)c->doc->start_mark.line + 1,
				     (int)c->doc->start_mark.column + 1 };
	if (root->type != YAML_MAPPING_NODE)
		return ry_error(c, root, "route must be a mapping");
	err = ry_map_check(c, root, "route", fields);
	if (err)
		return err;

	if (!(n = required(c, root, "kind", &err)))
		return err;
	s = ry_text(n);
	if (!s || strcmp(s, "Route"))
		return ry_error(c, n, "kind must be \"Route\"");

	if (!(n = required(c, root, "name", &err)))
		return err;
	if ((err = ry_str(c, n, "name", &s)) ||
	    (err = check_name(c, n, "name", s, STEER_NAME_LEN - 1)))
		return err;
	strcpy(r->name, s);

	if (!(n = required(c, root, "frontends", &err)) ||
	    (err = parse_frontends(c, n, r)))
		return err;
	if (!(n = required(c, root, "versions", &err)) ||
	    (err = parse_versions(c, n, r)))
		return err;
	for (int v = 0; v < r->n_versions; v++)
		r->has_dns |= r->versions[v].n_dns > 0;
	if (!(n = required(c, root, "rules", &err)) ||
	    (err = parse_rules(c, n, r)))
		return err;

	n = ry_map_get(c, root, "affinity");
	if (n) {
		s = ry_text(n);
		if (s && !strcmp(s, "client"))
			r->affinity = ROUTE_AFFINITY_CLIENT;
		else if (!s || strcmp(s, "none"))
			return ry_error(
				c, n,
				"affinity must be \"none\" or \"client\"");
	}
	err = check_table_room(c, r);
	if (err)
		return err;
	n = ry_map_get(c, root, "policy");
	if (n && (err = routes_parse_policy(c, n, r)))
		return err;
	n = ry_map_get(c, root, "health");
	if (n && (err = routes_parse_health(c, n, r)))
		return err;
	n = ry_map_get(c, root, "connection-pool");
	if (n && (err = routes_parse_pool(c, n, r)))
		return err;
	r->text_only = text_only(r);
	return 0;
}
