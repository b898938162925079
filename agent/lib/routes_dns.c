// SPDX-License-Identifier: BSD-2-Clause
/*
 * Backend entries that name DNS records: {dns: NAME, port: P} and
 * {srv: _service._proto.NAME}. Parsed and checked here, offline; steerd's
 * agent/dns.c resolves them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "routes_internal.h"

const char *routes_dns_name_error(const char *name, bool srv)
{
	size_t len = strlen(name), lab = 0;
	int labels = 0;

	if (!len)
		return "empty";
	if (len > 253 + (name[len - 1] == '.'))
		return "longer than 253 characters";
	for (size_t i = 0; i <= len; i++) {
		char ch = name[i];

		if (ch == '.' || !ch) {
			if (!ch && i && name[i - 1] == '.')
				break; /* the root: a final dot */
			if (!lab)
				return "empty label";
			if (name[i - 1] == '-')
				return "a label ends with '-'";
			labels++;
			lab = 0;
			continue;
		}
		if (++lab > 63)
			return "a label is longer than 63 characters";
		if (ch == '_' && lab == 1 && srv && labels < 2)
			continue; /* _service._proto */
		if (ch == '-' && lab == 1)
			return "a label starts with '-'";
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return "only letters, digits, '-' and '.' are allowed";
	}
	if (srv) {
		const char *p = strchr(name, '.');

		if (name[0] != '_' || !p || p[1] != '_' ||
		    (strncasecmp(p + 1, "_tcp.", 5) &&
		     strncasecmp(p + 1, "_udp.", 5)))
			return "an SRV name starts with _service._tcp. or "
			       "_service._udp.";
		if (labels < 3)
			return "an SRV name needs a domain after "
			       "_service._proto";
	}
	return NULL;
}

/* {dns: NAME, port: P} or {srv: _service._proto.NAME} */
int routes_parse_dns_backend(struct ry_ctx *c, yaml_node_t *n,
			     struct route_version *v)
{
	static const char *const dns_fields[] = { "dns", "port", NULL };
	static const char *const srv_fields[] = { "srv", NULL };
	struct route_dns *d;
	yaml_node_t *dn = ry_map_get(c, n, "dns"),
		    *sn = ry_map_get(c, n, "srv");
	yaml_node_t *pn, *nn = dn ? dn : sn;
	unsigned long long port;
	const char *name, *why;
	int err;

	if (dn && sn)
		return ry_error(c, n, "backend has both \"dns\" and \"srv\"");
	err = ry_map_check(c, n, dn ? "dns backend" : "srv backend",
			   dn ? dns_fields : srv_fields);
	if (err)
		return err;
	if (v->n_dns == ROUTE_MAX_DNS)
		return ry_error(c, n,
				"too many dns/srv backends in version \"%s\": "
				"at most %d",
				v->name, ROUTE_MAX_DNS);
	err = ry_str(c, nn, dn ? "dns" : "srv", &name);
	if (err)
		return err;
	why = routes_dns_name_error(name, !dn);
	if (why)
		return ry_error(c, nn, "bad DNS name \"%.60s\": %s", name, why);
	if (route_array_grow((void **)&v->dns, v->n_dns, sizeof(*v->dns)))
		return ry_error(c, n, "out of memory");
	d = &v->dns[v->n_dns];
	memset(d, 0, sizeof(*d));
	d->kind = dn ? ROUTE_DNS_ADDR : ROUTE_DNS_SRV;
	snprintf(d->name, sizeof(d->name), "%s", name);
	if (dn) {
		pn = ry_map_get(c, n, "port");
		if (!pn)
			return ry_error(c, n, "dns backend needs a \"port\"");
		err = ry_uint(c, pn, 1, 65535,
			      "port must be an integer from 1 to 65535", &port);
		if (err)
			return err;
		d->port = (__u16)port;
	}
	for (int i = 0; i < v->n_dns; i++) {
		if (v->dns[i].kind == d->kind && v->dns[i].port == d->port &&
		    !strcasecmp(v->dns[i].name, d->name))
			return ry_error(c, n,
					"duplicate %s backend %s in version "
					"\"%s\"",
					dn ? "dns" : "srv", d->name, v->name);
	}
	d->pos = (struct route_pos){ (int)n->start_mark.line + 1,
				     (int)n->start_mark.column + 1 };
	v->n_dns++;
	return 0;
}

bool routes_is_dns_backend(struct ry_ctx *c, yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE &&
	       (ry_map_get(c, n, "dns") || ry_map_get(c, n, "srv"));
}

int routes_dns_state_path(const char *bpffs, char *buf, size_t len, char *dir,
			  size_t dirlen)
{
	size_t n = strlen(bpffs), b;

	while (n > 1 && bpffs[n - 1] == '/')
		n--;
	for (b = n; b > 0 && bpffs[b - 1] != '/'; b--)
		;
	if ((size_t)snprintf(buf, len, "%s/%.*s/dns.json", ROUTE_RUN_DIR,
			     (int)(n - b), bpffs + b) >= len)
		return -ENAMETOOLONG;
	if (dir && (size_t)snprintf(dir, dirlen, "%s/%.*s", ROUTE_RUN_DIR,
				    (int)(n - b), bpffs + b) >= dirlen)
		return -ENAMETOOLONG;
	return 0;
}
