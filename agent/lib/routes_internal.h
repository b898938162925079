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
	int *slot;		/* route index, -1: empty; NULL: not built */
	size_t mask;
	int next; /* the route after the last one taken: the likely next */
};

/* Nothing is indexed yet: most documents are found where the last one
 * taken was, and the index is built at the first that is not. */
int routes_reuse_init(struct route_reuse *ru, struct route_set *prev);
void routes_reuse_free(struct route_reuse *ru);
/* The unclaimed route of the file whose path hashed to @file_hash
 * (routes_path_hash) and whose document hashed to @hash, -1 when there is
 * none, or -ENOMEM. */
int routes_reuse_find(struct route_reuse *ru, __u64 file_hash, __u64 hash);
__u64 routes_path_hash(const char *path);

/*
 * A load before its set is put together: per route of the new set, in
 * order, where it comes from. A route taken from the previous set stays
 * there, claimed (reused_by), until routes_plan_build moves it: a load
 * that fails leaves the previous set as it was at no cost.
 */
struct route_plan {
	struct route_set parsed; /* the routes parsed anew, in file order */
	int n;
	int *src;  /* >= 0: index in the previous set; < 0: ~index in parsed */
	int *line; /* 0-based first line of its document now */
};

/* Append a route from @src (see above) whose document starts at @line. */
int routes_plan_add(struct route_plan *pl, int src, int line);
/* Free @pl and the routes parsed anew it still holds. */
void routes_plan_free(struct route_plan *pl);
/* Route @i of @pl; *@shift: what to add to its line numbers (a taken
 * route's document may have moved); *@taken: whether it is in @prev. */
const struct route *routes_plan_route(const struct route_plan *pl,
				      const struct route_set *prev, int i,
				      int *shift, bool *taken);
/* routes_check.c: duplicate names and frontends among @pl's routes (only
 * those involving a route parsed anew when some are taken). */
int routes_check_plan(const struct route_plan *pl, const struct route_set *prev,
		      char *err, size_t errlen);
/*
 * Put @pl's set together into @set: the routes parsed anew and the taken
 * ones moved out of @prev, which keeps only the routes not taken (the
 * ones the new set no longer has in that form). When every taken route
 * keeps its index, as a change in place leaves them, @set takes over
 * @prev's array and only the changed places are written. 0, or -ENOMEM
 * with nothing moved.
 */
int routes_plan_build(struct route_plan *pl, struct route_set *prev,
		      struct route_set *set);
/* A load that failed: the claims on @prev's routes are dropped. */
void routes_plan_unclaim(const struct route_plan *pl, struct route_set *prev);

#endif /* STEER_ROUTES_INTERNAL_H */
