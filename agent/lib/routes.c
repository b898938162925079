/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Route files: read with libyaml's document API, one route per document,
 * parsed by routes_doc.c; whole files and directories are all or nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "routes_internal.h"

int route_array_grow(void **arr, int n, size_t size)
{
	size_t room = n ? 2 * (size_t)n : 1;
	void *p;

	if (n && (n & (n - 1)))
		return 0; /* room up to the next power of two */
	p = realloc(*arr, room * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

struct route_backend *route_backend_add(struct route_version *v)
{
	if (route_array_grow((void **)&v->backends, v->n_backends,
			     sizeof(*v->backends)))
		return NULL;
	memset(&v->backends[v->n_backends], 0, sizeof(*v->backends));
	return &v->backends[v->n_backends++];
}

struct route_match *route_matches_new(int n)
{
	return calloc(n ? (size_t)n : 1, sizeof(struct route_match));
}

static void match_free(struct route_match *m)
{
	for (int i = 0; i < STEER_MAX_MATCH_ITEMS; i++)
		free(m->cgroups[i]);
}

struct route_version *route_versions_new(int n)
{
	return calloc(n, sizeof(struct route_version));
}

void route_free(struct route *r)
{
	for (int v = 0; r->versions && v < r->n_versions; v++) {
		free(r->versions[v].backends);
		free(r->versions[v].dns);
	}
	free(r->versions);
	free(r->frontends);
	free(r->file);
	for (int i = 0; r->rules && i < r->n_rules; i++)
		match_free(&r->rules[i].match);
	for (int i = 0; r->allow && i < r->n_allow; i++)
		match_free(&r->allow[i]);
	for (int i = 0; r->deny && i < r->n_deny; i++)
		match_free(&r->deny[i]);
	free(r->rules);
	free(r->allow);
	free(r->deny);
	memset(r, 0, sizeof(*r));
}

void routes_free(struct route_set *set)
{
	for (int i = 0; set->routes && i < set->n; i++)
		route_free(&set->routes[i]);
	free(set->routes);
	set->routes = NULL;
	set->n = 0;
	routes_memo_free(set->memo);
	set->memo = NULL;
}

/* Move @add's routes to the end of @set; @add is emptied. */
static int set_append(struct route_set *set, struct route_set *add)
{
	struct route *rs;

	if (!add->n)
		return 0;
	if (!set->n) { /* the usual first file: a move, not a copy */
		free(set->routes);
		set->routes = add->routes;
		set->n = add->n;
		add->routes = NULL;
		add->n = 0;
		return 0;
	}
	rs = realloc(set->routes, (size_t)(set->n + add->n) * sizeof(*rs));
	if (!rs)
		return -ENOMEM;
	memcpy(rs + set->n, add->routes, (size_t)add->n * sizeof(*rs));
	set->routes = rs;
	set->n += add->n;
	free(add->routes); /* the routes moved: only the array goes */
	add->routes = NULL;
	add->n = 0;
	return 0;
}

/*
 * libyaml counts lines from its parser's mark, which nothing resets: a
 * document parsed alone reports the lines it has in its whole file.
 */
static void parser_start(yaml_parser_t *p, const unsigned char *buf, size_t len,
			 int line)
{
	yaml_parser_set_input_string(p, buf, len);
	p->mark.line = (size_t)line;
}

static int yaml_error(const char *path, yaml_parser_t *p, char *err,
		      size_t errlen)
{
	if (p->error == YAML_MEMORY_ERROR) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	snprintf(err, errlen, "%s:%zu:%zu: yaml: %s", path,
		 p->problem_mark.line + 1, p->problem_mark.column + 1,
		 p->problem ? p->problem : "syntax error");
	return -EINVAL;
}

/*
 * Deepest nesting of mappings and sequences a route file may use; real
 * files need 5 (route, versions, version, backends, backend). libyaml
 * 0.2.5 has no limit of its own, and its scanner takes time quadratic in
 * the depth of flow collections: 40 KB of '[' keep it busy ~20 s.
 */
#define ROUTE_MAX_DEPTH 32

/*
 * Stream the events of @buf and refuse nesting deeper than ROUTE_MAX_DEPTH
 * before any document is loaded: libyaml hands out events as it scans, so
 * this stops after ROUTE_MAX_DEPTH levels however deep the input goes.
 * Syntax errors are left to the load, which reports them. Run first only
 * on text with enough flow indicators to nest that deep (may_nest_flows),
 * and to say where when the loaded tree is too deep.
 */
static int check_depth(const char *path, const unsigned char *buf, size_t len,
		       int line, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0, ret = 0;
	bool done = false;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	parser_start(&parser, buf, len, line);
	while (!done && yaml_parser_parse(&parser, &ev)) {
		if (ev.type == YAML_SEQUENCE_START_EVENT ||
		    ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT ||
			 ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		done = ev.type == YAML_STREAM_END_EVENT;
		if (depth > ROUTE_MAX_DEPTH) {
			snprintf(err, errlen,
				 "%s:%zu:%zu: nested deeper than %d levels",
				 path, ev.start_mark.line + 1,
				 ev.start_mark.column + 1, ROUTE_MAX_DEPTH);
			ret = -EINVAL;
			done = true;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return ret;
}

/*
 * Whether @buf may nest flow collections deeper than ROUTE_MAX_DEPTH: it
 * holds more '[' and '{' than that. A route file's document holds a
 * handful, so check_depth's second pass over the text (a quarter of the
 * parse at 100,000 routes) runs only where libyaml's quadratic scanner
 * could be made to: block nesting is found in the loaded tree instead
 * (tree_too_deep).
 */
static bool may_nest_flows(const unsigned char *buf, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += buf[i] == '[' || buf[i] == '{';
	return n > ROUTE_MAX_DEPTH;
}

/*
 * Whether @doc nests collections deeper than ROUTE_MAX_DEPTH, counted as
 * check_depth counts them. libyaml adds a collection's node before those
 * of its items, so one pass in node order sees every parent first; an
 * alias names an earlier node and adds no depth.
 */
static bool tree_too_deep(yaml_document_t *doc)
{
	int n = (int)(doc->nodes.top - doc->nodes.start);
	unsigned char *depth = calloc((size_t)n ? (size_t)n : 1, 1);
	bool deep = false;

	if (!depth)
		return true; /* check_depth decides, without the tree */
	for (int i = 0; i < n && !deep; i++) {
		yaml_node_t *nd = doc->nodes.start + i;
		int d = depth[i] + 1; /* this collection's own level */
		yaml_node_item_t *it;
		yaml_node_pair_t *pr;

		if (nd->type == YAML_SEQUENCE_NODE) {
			deep = d > ROUTE_MAX_DEPTH;
			for (it = nd->data.sequence.items.start;
			     it < nd->data.sequence.items.top; it++)
				if (*it - 1 > i && *it - 1 < n)
					depth[*it - 1] = (unsigned char)d;
		} else if (nd->type == YAML_MAPPING_NODE) {
			deep = d > ROUTE_MAX_DEPTH;
			for (pr = nd->data.mapping.pairs.start;
			     pr < nd->data.mapping.pairs.top; pr++) {
				if (pr->key - 1 > i && pr->key - 1 < n)
					depth[pr->key - 1] = (unsigned char)d;
				if (pr->value - 1 > i && pr->value - 1 < n)
					depth[pr->value - 1] = (unsigned char)d;
			}
		}
	}
	free(depth);
	return deep;
}

/*
 * An empty or whitespace-only file is an error, not "no routes": it is what
 * a truncating write (open O_TRUNC, then write) shows a reader in between,
 * and applying it would remove the file's routes under live traffic. A
 * route file is removed by deleting it. (A file of comments or "---" only
 * is written on purpose and holds no route.)
 */
static int check_empty(const char *path, const unsigned char *buf, size_t len,
		       char *err, size_t errlen)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", buf[i]) || !buf[i])
			return 0;
	snprintf(err, errlen,
		 "%s:1:1: empty route file (%s): refusing to remove its "
		 "routes; delete the file to remove them",
		 path, len ? "whitespace only" : "0 bytes");
	return -EINVAL;
}

/* Parse every document of @buf, which starts at 0-based @line of its
 * file, into @out. */
static int parse_stream(const char *path, const unsigned char *buf, size_t len,
			int line, struct route_set *out, char *err,
			size_t errlen)
{
	struct ry_ctx c = { .file = path, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct route *rs;
	int ret = 0;

	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	parser_start(&parser, buf, len, line);
	for (;;) {
		if (!yaml_parser_load(&parser, &doc)) {
			ret = yaml_error(path, &parser, err, errlen);
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) { /* end of stream */
			yaml_document_delete(&doc);
			break;
		}
		/* Too deep: check_depth says where, as it would have first. */
		if (tree_too_deep(&doc)) {
			yaml_document_delete(&doc);
			ret = check_depth(path, buf, len, line, err, errlen);
			if (!ret) { /* cannot be: the two count alike */
				snprintf(err, errlen,
					 "%s: nested deeper than %d levels",
					 path, ROUTE_MAX_DEPTH);
				ret = -EINVAL;
			}
			break;
		}
		/* An empty document ("---" and comments only) holds no route.
		 */
		if (ry_is_null(root)) {
			yaml_document_delete(&doc);
			continue;
		}
		/* Room doubles: one copy per route would be quadratic. */
		rs = out->routes;
		if (!(out->n & (out->n - 1)))
			rs = realloc(out->routes,
				     (size_t)(out->n ? 2 * out->n : 1) *
					     sizeof(*rs));
		if (!rs) {
			yaml_document_delete(&doc);
			snprintf(err, errlen, "%s: out of memory", path);
			ret = -ENOMEM;
			break;
		}
		out->routes = rs;
		c.doc = &doc;
		ret = routes_parse_doc(&c, root, &out->routes[out->n]);
		yaml_document_delete(&doc);
		if (ret) {
			route_free(&out->routes[out->n]);
			break;
		}
		out->n++;
	}
	yaml_parser_delete(&parser);
	return ret;
}

/*
 * Take every route of the previous set's document that starts at route
 * @k: a file that is not split (see routes_text.c) is one document of many
 * routes, consecutive in the previous set since they were parsed
 * together. No two documents of one file that hold routes have the same
 * text (their names would clash), so the run is this one's.
 */
static int take_doc(struct route_plan *pl, const struct route_doc_span *sp,
		    struct route_reuse *ru, int k)
{
	struct route_set *prev = ru->prev;
	__u64 file_hash = prev->routes[k].file_hash;
	int ret = 0, i;

	for (i = k; !ret && i < prev->n; i++) {
		struct route *r = &prev->routes[i];

		if (i > k && (r->doc_hash != sp->hash || r->reused_by ||
			      r->file_hash != file_hash))
			break;
		ret = routes_plan_add(pl, i, sp->line);
		if (!ret)
			r->reused_by = pl->n;
	}
	ru->next = i;
	return ret;
}

int routes_parse_span(const char *path, const unsigned char *buf,
		      const struct route_doc_span *sp, struct route_plan *pl,
		      char *err, size_t errlen)
{
	struct route_set *out = &pl->parsed;
	int first = out->n;
	int ret = 0;

	if (may_nest_flows(buf + sp->off, sp->len))
		ret = check_depth(path, buf + sp->off, sp->len, sp->line, err,
				  errlen);

	if (!ret)
		ret = parse_stream(path, buf + sp->off, sp->len, sp->line, out,
				   err, errlen);
	for (int i = first; !ret && i < out->n; i++) {
		out->routes[i].doc_hash = sp->hash;
		out->routes[i].file_hash = routes_path_hash(path);
		out->routes[i].doc_line = sp->line;
		ret = routes_plan_add(pl, ~i, sp->line);
		if (ret)
			snprintf(err, errlen, "%s: out of memory", path);
	}
	return ret;
}

/* Documents split anew past which a load indexes the previous set's
 * (routes_text.c) to find those among them that only moved. */
#define REUSE_INDEX_MIN 64

/* Each of the @n spans @sp of @rd's text into @pl: parsed, or taken
 * from @ru's previous set when its text is unchanged there. @n_new of
 * them were split anew. */
static int parse_or_take(const char *path, const struct route_read *rd,
			 struct route_reuse *ru, struct route_plan *pl,
			 struct route_doc_span *sp, int n, int n_new, char *err,
			 size_t errlen)
{
	__u64 file_hash = routes_path_hash(path);
	int ret = 0;

	for (int i = 0; i < n && !ret; i++) {
		int k = -1, first = pl->n;

		/* Kept from the previous text: as many routes as then (none
		 * to look for in an empty document). Split anew and few: an
		 * edit, most likely, and one not worth indexing @ru for (a
		 * document moved from afar is parsed again). */
		if (!ru || !sp[i].n_routes)
			k = -1;
		else if (sp[i].n_routes < 0 && n_new <= REUSE_INDEX_MIN)
			k = routes_reuse_near(ru, file_hash, sp[i].hash);
		else
			k = routes_reuse_find(ru, file_hash, sp[i].hash);
		if (k >= 0)
			ret = take_doc(pl, &sp[i], ru, k);
		else if (k == -1)
			ret = routes_parse_span(path, rd->buf, &sp[i], pl, err,
						errlen);
		else
			ret = k;
		if (ret == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", path);
		sp[i].n_routes = pl->n - first;
	}
	return ret;
}

/* The text of one file into @pl (see parse_or_take). @old: the file's
 * text at the previous load (or NULL); *@spans gets the spans of @buf. */
static int parse_text(const char *path, const struct route_read *rd,
		      const struct route_text *old, struct route_reuse *ru,
		      struct route_plan *pl, struct route_doc_span **spans,
		      int *n_spans, char *err, size_t errlen)
{
	struct route_doc_span *sp;
	int n = routes_split_docs_from(old, rd, &sp), ret, n_new = 0;
	int threads = 1;

	if (n < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		return n;
	}
	for (int i = 0; i < n; i++)
		n_new += sp[i].n_routes < 0;
	/* Nothing to take (a first load): every document is parsed, a
	 * large file's on every CPU (routes_parallel.c). */
	if ((!ru || !ru->prev || !ru->prev->n) && n_new == n)
		threads = routes_parse_threads(n);
	if (threads > 1)
		ret = routes_parse_spans(path, rd->buf, sp, n, threads, pl, err,
					 errlen);
	else
		ret = parse_or_take(path, rd, ru, pl, sp, n, n_new, err,
				    errlen);
	*spans = sp;
	*n_spans = n;
	return ret;
}

/* Read @path and parse it into @pl (see parse_text); with @next, its text
 * is kept there for the next load, which goes on from @prev's. */
static int load_file(const char *path, struct route_reuse *ru,
		     struct route_plan *pl, struct route_memo *prev,
		     struct route_memo *next, char *err, size_t errlen)
{
	const struct route_text *old = routes_memo_text(prev, path);
	struct route_doc_span *sp = NULL;
	struct route_read rd = { 0 };
	int fd, ret, n = 0;

	if (strlen(path) >= ROUTE_PATH_MAX) {
		snprintf(err, errlen, "%.64s...: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	/* In memory: it is read twice, and may be a pipe. */
	ret = routes_read_text(fd, old, prev ? &prev->spare : NULL, &rd);
	close(fd);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = check_empty(path, rd.buf, rd.len, err, errlen);
	if (!ret)
		ret = parse_text(path, &rd, old, ru, pl, &sp, &n, err, errlen);
	if (!ret && next) {
		ret = routes_memo_add_text(next, path, &rd, sp, n);
		if (!ret)
			return 0;
		snprintf(err, errlen, "%s: out of memory", path);
	}
	free(sp);
	free(rd.buf);
	return ret;
}

int routes_parse_file(const char *path, struct route_set *set, char *err,
		      size_t errlen)
{
	struct route_plan pl = { 0 };
	int ret = load_file(path, NULL, &pl, NULL, NULL, err, errlen);

	/* Duplicates inside the file are errors of this file. */
	if (!ret)
		ret = routes_check_set(&pl.parsed, err, errlen);
	if (!ret) {
		ret = set_append(set, &pl.parsed);
		if (ret)
			snprintf(err, errlen, "%s: out of memory", path);
	}
	routes_plan_free(&pl);
	return ret;
}

static bool route_file_name(const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return false;
	return (n > 5 && !strcmp(name + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(name + n - 4, ".yml"));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the route files in @dir (regular files, links followed). */
static int list_dir(const char *dir, char ***names, int *count, char *err,
		    size_t errlen)
{
	char **list = NULL, **tmp;
	struct dirent *de;
	struct stat st;
	int n = 0, ret = 0;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return ret;
	}
	while ((de = readdir(d))) {
		if (!route_file_name(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) ||
		    !S_ISREG(st.st_mode))
			continue;
		tmp = realloc(list, (size_t)(n + 1) * sizeof(*list));
		if (!tmp || !(tmp[n] = strdup(de->d_name))) {
			list = tmp ? tmp : list;
			snprintf(err, errlen, "%s: out of memory", dir);
			ret = -ENOMEM;
			break;
		}
		list = tmp;
		n++;
	}
	closedir(d);
	if (list)
		qsort(list, (size_t)n, sizeof(*list), cmp_names);
	*names = list;
	*count = n;
	return ret;
}

/* Milliseconds since *@t, which becomes now: a phase's time. */
static double ms_since(struct timespec *t)
{
	struct timespec now;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = log_ms_between(t, &now);
	*t = now;
	return ms;
}

/*
 * Duplicates in the set @pl plans. With the keys of @prev counted, only
 * the keys of the routes gone and parsed anew are looked at (*@delta gets
 * their counts); the exact check runs when one may be held twice, or when
 * nothing is counted.
 */
static int check_plan(const struct route_plan *pl, const struct route_set *prev,
		      struct route_keys *delta, char *err, size_t errlen)
{
	const struct route_memo *m = prev ? prev->memo : NULL;
	int ret;

	if (!m || !m->have_keys)
		return routes_check_plan(pl, prev, err, errlen);
	ret = routes_keys_delta(&m->keys, pl, prev, delta);
	if (ret == 1)
		ret = routes_check_plan(pl, prev, err, errlen);
	else if (ret)
		snprintf(err, errlen, "out of memory");
	return ret;
}

/* @next, the texts read, with the keys of @set counted (taken over from
 * @prev's memo and brought up to date with @delta) for the next load. */
static void memo_settle(struct route_memo *next, struct route_set *prev,
			const struct route_keys *delta,
			const struct route_set *set)
{
	struct route_memo *m = prev ? prev->memo : NULL;

	if (m && m->have_keys) {
		next->keys = m->keys;
		m->keys = (struct route_keys){ 0 };
		next->have_keys = !routes_keys_apply(&next->keys, delta);
	} else {
		next->have_keys = !routes_keys_build(&next->keys, set);
	}
	if (!next->have_keys) { /* the next load checks every route */
		free(next->keys.e);
		next->keys = (struct route_keys){ 0 };
	}
	if (prev) { /* what is left of @prev is gone from the files */
		routes_memo_keep_room(next, m);
		routes_memo_free(m);
		prev->memo = NULL;
	}
}

int routes_load_dir_from(const char *dir, struct route_set *prev,
			 struct route_set *set, char *err, size_t errlen)
{
	struct route_set built = { 0 };
	struct route_plan pl = { 0 };
	struct route_keys delta = { 0 };
	struct route_memo *next = calloc(1, sizeof(*next));
	char path[ROUTE_PATH_MAX], **names = NULL;
	size_t dlen = strlen(dir);
	const char *sep = dlen && dir[dlen - 1] == '/' ? "" : "/";
	double ms_files, ms_check, ms_build;
	struct route_reuse ru;
	struct timespec t;
	int i, n = 0, ret;

	clock_gettime(CLOCK_MONOTONIC, &t);
	routes_reuse_init(&ru, prev);
	if (!next) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", dir);
	} else {
		ret = list_dir(dir, &names, &n, err, errlen);
	}
	for (i = 0; !ret && i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s%s%s", dir, sep,
				     names[i]) >= sizeof(path)) {
			snprintf(err, errlen, "%s%s%.64s: path too long", dir,
				 sep, names[i]);
			ret = -ENAMETOOLONG;
			break;
		}
		ret = load_file(path, &ru, &pl, prev ? prev->memo : NULL, next,
				err, errlen);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	routes_reuse_free(&ru);
	ms_files = ms_since(&t);
	/* Nothing has moved yet: a bad set leaves @prev as it was. */
	if (!ret)
		ret = check_plan(&pl, prev, &delta, err, errlen);
	ms_check = ms_since(&t);
	if (!ret) {
		ret = routes_plan_build(&pl, prev, &built);
		if (ret)
			snprintf(err, errlen, "%s: out of memory", dir);
	}
	if (ret) {
		routes_plan_unclaim(&pl, prev);
	} else {
		memo_settle(next, prev, &delta, &built);
		built.memo = next;
		next = NULL;
	}
	routes_plan_free(&pl);
	routes_memo_free(next);
	free(delta.e);
	ms_build = ms_since(&t);
	routes_free(set);
	*set = built;
	pr_debug("load phases: files %.1f ms, check %.1f ms, build %.1f ms, "
		 "free %.1f ms",
		 ms_files, ms_check, ms_build, ms_since(&t));
	return ret;
}

int routes_load_dir(const char *dir, struct route_set *set, char *err,
		    size_t errlen)
{
	return routes_load_dir_from(dir, NULL, set, err, errlen);
}
