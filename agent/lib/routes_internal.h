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
	int line;     /* 0-based line of its first byte */
	int n_routes; /* it holds; -1: not known yet (split anew) */
	__u64 hash;   /* of its text; never 0 */
};

/* The spans of @buf, in order, into a malloc'ed *@out: their count, or
 * -ENOMEM. At least one span, even for empty text. */
int routes_split_docs(const unsigned char *buf, size_t len,
		      struct route_doc_span **out);

/* Whether @buf is taken as one span for a directive or an end marker. */
bool routes_split_docs_whole(const unsigned char *buf, size_t len);

/* routes_memo.c: what a reload goes on from (see there). */
struct route_plan;

/* routes.c: span @sp of @buf parsed into @pl, the routes it holds
 * marked with it (file and document hash, line). 0 or -errno, @err set. */
int routes_parse_span(const char *path, const unsigned char *buf,
		      const struct route_doc_span *sp, struct route_plan *pl,
		      char *err, size_t errlen);
/* routes_parallel.c: how many threads to parse @n_spans documents on (1:
 * not worth more), and @n spans @sp of @buf parsed on @threads threads
 * into @pl as routes_parse_span one after the other would (their
 * n_routes set). 0, or the first error in file order. */
int routes_parse_threads(int n_spans);
int routes_parse_spans(const char *path, const unsigned char *buf,
		       struct route_doc_span *sp, int n, int threads,
		       struct route_plan *pl, char *err, size_t errlen);

struct route_text { /* a file as the previous load read it */
	char *path;
	unsigned char *buf;
	size_t len, cap;
	struct route_doc_span *sp; /* its routes_split_docs */
	int n;
};

/* A text's room, kept for the next read (see routes_read_text). */
struct route_buf {
	unsigned char *buf; /* NULL: none */
	size_t cap;
};

/* A file's text as routes_read_text read it. */
struct route_read {
	unsigned char *buf; /* malloc'ed, cap bytes */
	size_t len, cap;
	bool cmp;	 /* compared with the previous text as read: */
	size_t pfx, sfx; /* their common prefix and suffix (disjoint) */
};

struct route_key {
	__u64 key; /* a name's or a frontend's hash; 0: empty slot */
	int count;
};

/* Keys counted: open addressing, a key at 0 keeps its slot. */
struct route_keys {
	struct route_key *e; /* mask + 1 slots; NULL: none yet */
	size_t mask, used, live;
};

struct route_memo {
	struct route_text *files;
	int n_files;
	bool have_keys; /* keys counts every key of the set */
	struct route_keys keys;
	/* The room of a text the set no longer has: a 19 MB malloc is a
	 * fresh mmap, and faulting its pages in cost more than reading. */
	struct route_buf spare;
};

void routes_memo_free(struct route_memo *m);
/* @path's text in @m, or NULL. */
const struct route_text *routes_memo_text(const struct route_memo *m,
					  const char *path);
/* Keep @rd's text and @sp (taken over on success) as @path's text. */
int routes_memo_add_text(struct route_memo *m, const char *path,
			 const struct route_read *rd, struct route_doc_span *sp,
			 int n);
/* Keep the largest room of @from's texts in @to's spare. */
void routes_memo_keep_room(struct route_memo *to, struct route_memo *from);
/* All of @fd into @rd, in @spare's room when it is large enough (then
 * taken); compared with @old (may be NULL) as it is read. 0 or -errno. */
int routes_read_text(int fd, const struct route_text *old,
		     struct route_buf *spare, struct route_read *rd);
/* routes_split_docs of @rd's text, with the spans of @old (the file's
 * previous text, may be NULL) that lie in their common prefix and suffix
 * kept (moved) and only the rest split and hashed. */
int routes_split_docs_from(const struct route_text *old,
			   const struct route_read *rd,
			   struct route_doc_span **out);
/* Count every key of @set into @t. 0 or -ENOMEM. */
int routes_keys_build(struct route_keys *t, const struct route_set *set);
/* Into @delta: -1 per key of @prev's routes that @pl does not take, +1
 * per key of its routes parsed anew. 1 when a key parsed anew may be
 * held twice in the new set (with @t, the counts of @prev before the
 * load), 0 when none is, -ENOMEM. */
int routes_keys_delta(const struct route_keys *t, const struct route_plan *pl,
		      const struct route_set *prev, struct route_keys *delta);
/* Add @delta's counts to @t. 0, or -ENOMEM with @t partly changed. */
int routes_keys_apply(struct route_keys *t, const struct route_keys *delta);

/* The previous set's documents by hash. */
struct route_reuse {
	struct route_set *prev; /* NULL: nothing to take */
	int *slot;		/* route index, -1: empty; NULL: not built */
	size_t mask;
	int next; /* the route after the last one taken: the likely next */
};

/* Nothing is indexed yet: most documents are found where the last one
 * taken was, and the index is built at the first that is not. */
void routes_reuse_init(struct route_reuse *ru, struct route_set *prev);
void routes_reuse_free(struct route_reuse *ru);
/* The unclaimed route of the file whose path hashed to @file_hash
 * (routes_path_hash) and whose document hashed to @hash, -1 when there is
 * none, or -ENOMEM. */
int routes_reuse_find(struct route_reuse *ru, __u64 file_hash, __u64 hash);
/* The same, looking only after the last route taken (where a document
 * that was not changed would be), not in the index: -1 when not there. */
int routes_reuse_near(struct route_reuse *ru, __u64 file_hash, __u64 hash);
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
