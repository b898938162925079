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

/* routes_text.c: a file's text as documents (see there). */
struct route_doc_span {
	size_t off, len;
	int line;   /* 0-based line of its first byte */
	__u64 hash; /* of its text; never 0 */
};

/* The spans of @buf, in order, into a malloc'ed *@out: their count, or
 * -ENOMEM. At least one span, even for empty text. */
int routes_split_docs(const unsigned char *buf, size_t len,
		      struct route_doc_span **out);

/* The previous set's documents by hash. */
struct route_reuse {
	struct route_set *prev; /* NULL: nothing to take */
	int *slot;		/* route index, -1: empty */
	size_t mask;
};

int routes_reuse_init(struct route_reuse *ru, struct route_set *prev);
void routes_reuse_free(struct route_reuse *ru);
/* The unclaimed route of file @path whose document hashed to @hash, or -1. */
int routes_reuse_find(const struct route_reuse *ru, const char *path,
		      __u64 hash);
/* Move the routes @set's placeholders name from @prev into @set ... */
void routes_reuse_take(struct route_set *set, struct route_set *prev);
/* ... and back, for a load that failed after the move. */
void routes_reuse_give_back(struct route_set *set, struct route_set *prev);

#endif /* STEER_ROUTES_INTERNAL_H */
