/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private to agent/lib/routes*.c: the parsers of one route document. Calls
 * go one way: routes.c (files, directories, cross-route checks) ->
 * routes_doc.c (one document: names, frontends, versions, rules) ->
 * routes_policy.c (match blocks, policy, health) and routes_dns.c (dns/srv
 * backend entries); all of them on ryaml.c and addr.c. Nothing outside the
 * route parser includes this header.
 */
#ifndef STEER_ROUTES_INTERNAL_H
#define STEER_ROUTES_INTERNAL_H

#include "routes.h"
#include "ryaml.h"

/* routes_doc.c: one YAML document (root node @root) into @r. */
int routes_parse_doc(struct ry_ctx *c, yaml_node_t *root, struct route *r);

/* routes_policy.c: a match block (@what names it; @m zeroed), policy,
 * health, connection-pool. */
int routes_parse_match(struct ry_ctx *c, yaml_node_t *n, const char *what,
		       struct route_match *m);
int routes_parse_policy(struct ry_ctx *c, yaml_node_t *n, struct route *r);
int routes_parse_health(struct ry_ctx *c, yaml_node_t *n, struct route *r);
int routes_parse_pool(struct ry_ctx *c, yaml_node_t *n, struct route *r);

/* routes_dns.c: a backend item that is a mapping with "dns" or "srv", and
 * its parser (appends to @v->dns). */
bool routes_is_dns_backend(struct ry_ctx *c, yaml_node_t *n);
int routes_parse_dns_backend(struct ry_ctx *c, yaml_node_t *n,
			     struct route_version *v);

#endif /* STEER_ROUTES_INTERNAL_H */
