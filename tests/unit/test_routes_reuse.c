/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A reload takes the documents whose text is unchanged from the previous
 * load (routes_load_dir_from): what is taken, where its lines now are, and
 * that an error leaves the previous set as it was. Run from the repository
 * root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "routes.h"
#include "routes_internal.h"
#include "tmpdir.h"

/* @text as file @name of this test's directory. */
static int put(const char *name, const char *text)
{
	return write_file(tmpdir, name, text);
}

static const struct route *find(const struct route_set *set, const char *name)
{
	for (int i = 0; i < set->n; i++)
		if (!strcmp(set->routes[i].name, name))
			return &set->routes[i];
	return NULL;
}

#define ROUTE(name, vip, backend)                                              \
	"kind: Route\nname: " name "\nfrontends: [" vip "]\n"                  \
	"versions: {v1: {backends: [" backend "]}}\n"                          \
	"rules: [{name: r, split: {v1: 100}}]\n"

/* Three documents; each route spans 5 lines, the marker one more. */
static const char three[] =
	ROUTE("a", "10.96.0.1:80", "10.1.0.1") "---\n" ROUTE(
		"b", "10.96.0.2:80",
		"10.1.0.2") "---\n" ROUTE("c", "10.96.0.3:80", "10.1.0.3");

/* b changed and one line longer: c moves down by one line. */
static const char three_b_changed[] =
	ROUTE("a", "10.96.0.1:80",
	      "10.1.0.1") "---\n# b now goes to "
			  ".9\n" ROUTE("b", "10.96.0.2:80",
				       "10.1.0.9") "---"
						   "\n" ROUTE("c",
							      "10.96.0.3:80",
							      "10.1.0.3");

TEST(unchanged_documents_taken_changed_one_parsed)
{
	struct route_set prev = { 0 }, set = { 0 };
	char err[ROUTE_ERR_MAX];
	const struct route *a, *b, *c;
	int c_line;

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(put("r.yaml", three), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 3);
	/* A first load parses everything. */
	for (int i = 0; i < set.n; i++)
		ASSERT_EQ(set.routes[i].reused_from, 0);
	c_line = find(&set, "c")->pos.line;
	ASSERT_EQ(c_line, 12); /* 1-based: its marker, after two routes of 5 */
	/* steerd's record travels with a route that is taken. */
	set.routes[0].applied = (struct route_applied){ true, 7, 42 };
	prev = set;
	set = (struct route_set){ 0 };

	ASSERT_EQ(put("r.yaml", three_b_changed), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 3);
	a = find(&set, "a");
	b = find(&set, "b");
	c = find(&set, "c");
	ASSERT_TRUE(a && b && c);
	ASSERT_EQ(a->reused_from, 1);
	ASSERT_EQ(b->reused_from, 0);
	ASSERT_EQ(c->reused_from, 3);
	ASSERT_TRUE(a->applied.valid);
	ASSERT_EQ(a->applied.id, 7);
	ASSERT_EQ(a->applied.source_hash, 42);
	/* The parsed one has the new text's values... */
	ASSERT_EQ(b->versions[0].n_backends, 1);
	ASSERT_EQ(b->versions[0].backends[0].addr.addr[0], htonl(0x0a010009));
	/* ...and the taken one has its new place: errors name it there. */
	ASSERT_EQ(c->pos.line, c_line + 1);
	ASSERT_EQ(c->frontends[0].pos.line, c_line + 1 + 3);
	ASSERT_EQ(c->versions[0].backends[0].pos.line, c_line + 1 + 4);
	/* What is left in the previous set is what the new set no longer
	 * has in that form. */
	ASSERT_EQ(prev.n, 1);
	ASSERT_STREQ(prev.routes[0].name, "b");
	ASSERT_EQ(prev.routes[0].reused_by, 0);
	routes_free(&prev);
	routes_free(&set);
	rmtmp();
}

TEST(error_leaves_previous_set_as_it_was)
{
	struct route_set prev = { 0 }, set = { 0 };
	char err[ROUTE_ERR_MAX], want[ROUTE_ERR_MAX];

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(put("r.yaml", three), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &prev, err, sizeof(err)), 0);
	/* a and c unchanged, b broken. */
	ASSERT_EQ(put("r.yaml",
		      ROUTE("a", "10.96.0.1:80",
			    "10.1.0.1") "---\nkind: Route\nname: "
					"b\nfrontends: "
					"[10.96.0.2:80]\nversions: {v1: "
					"{backends: [10.1.0.300]}}\n"
					"rules: [{name: r, split: {v1: "
					"100}}]\n"
					"---\n" ROUTE("c", "10.96.0.3:80",
						      "10.1.0.3")),
		  0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/r.yaml:10:28: bad address \"10.1.0.300\"", tmpdir);
	ASSERT_STREQ(err, want);
	ASSERT_EQ(set.n, 0);
	ASSERT_EQ(prev.n, 3);
	ASSERT_STREQ(prev.routes[0].name, "a");
	ASSERT_STREQ(prev.routes[1].name, "b");
	ASSERT_STREQ(prev.routes[2].name, "c");
	for (int i = 0; i < prev.n; i++)
		ASSERT_EQ(prev.routes[i].reused_by, 0);

	/* A duplicate found only across files, after the taking: the taken
	 * routes go back too, and the message names both places. */
	ASSERT_EQ(put("r.yaml", three), 0);
	ASSERT_EQ(put("s.yaml", ROUTE("c", "10.96.0.4:80", "10.1.0.4")), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/s.yaml:1:1: duplicate route name \"c\" (also in "
		 "%s/r.yaml:12:1)",
		 tmpdir, tmpdir);
	ASSERT_STREQ(err, want);
	ASSERT_EQ(set.n, 0);
	ASSERT_EQ(prev.n, 3);
	ASSERT_STREQ(prev.routes[0].name, "a");
	ASSERT_STREQ(prev.routes[2].name, "c");
	ASSERT_EQ(prev.routes[2].pos.line, 12);
	for (int i = 0; i < prev.n; i++)
		ASSERT_EQ(prev.routes[i].reused_by, 0);

	/* And the next good load goes on from it. */
	ASSERT_EQ(unlink(strcat(strcpy(want, tmpdir), "/s.yaml")), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 3);
	for (int i = 0; i < set.n; i++)
		ASSERT_EQ(set.routes[i].reused_from, i + 1);
	routes_free(&prev);
	routes_free(&set);
	rmtmp();
}

/* A document is taken only from the same file: moved, it is parsed. */
TEST(document_moved_to_another_file_parsed)
{
	struct route_set prev = { 0 }, set = { 0 };
	char err[ROUTE_ERR_MAX], path[128];

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(put("a.yaml", ROUTE("a", "10.96.0.1:80", "10.1.0.1")), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &prev, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/a.yaml", tmpdir);
	ASSERT_EQ(unlink(path), 0);
	ASSERT_EQ(put("b.yaml", ROUTE("a", "10.96.0.1:80", "10.1.0.1")), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 1);
	ASSERT_EQ(set.routes[0].reused_from, 0);
	snprintf(path, sizeof(path), "%s/b.yaml", tmpdir);
	ASSERT_STREQ(set.routes[0].file, path);
	ASSERT_STREQ(prev.routes[0].name, "a"); /* gone from a.yaml */
	routes_free(&prev);
	routes_free(&set);
	rmtmp();
}

/*
 * A file with a directive or a document end marker is one span: a
 * change anywhere in it parses all of it again (and still parses).
 */
TEST(file_with_end_markers_not_split)
{
	struct route_set prev = { 0 }, set = { 0 };
	char err[ROUTE_ERR_MAX];

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(put("r.yaml",
		      ROUTE("a", "10.96.0.1:80",
			    "10.1.0.1") "...\n"
					"---\n" ROUTE("b", "10.96.0.2:80",
						      "10.1.0.2")),
		  0);
	ASSERT_EQ(routes_load_dir(tmpdir, &prev, err, sizeof(err)), 0);
	ASSERT_EQ(prev.n, 2);
	ASSERT_EQ(put("r.yaml",
		      ROUTE("a", "10.96.0.1:80",
			    "10.1.0.1") "...\n"
					"---\n" ROUTE("b", "10.96.0.2:80",
						      "10.1.0.7")),
		  0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 2);
	ASSERT_EQ(set.routes[0].reused_from, 0);
	ASSERT_EQ(set.routes[1].reused_from, 0);
	ASSERT_EQ(set.routes[1].pos.line, 7);
	routes_free(&prev);
	/* Unchanged, it is taken whole. */
	prev = set;
	set = (struct route_set){ 0 };
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_EQ(set.routes[0].reused_from, 1);
	ASSERT_EQ(set.routes[1].reused_from, 2);
	routes_free(&prev);
	routes_free(&set);
	rmtmp();
}

/* A new document that repeats the name of a taken one is refused, naming
 * both places (the taken one where it now is). */
TEST(duplicate_of_a_taken_route_refused)
{
	struct route_set prev = { 0 }, set = { 0 };
	char err[ROUTE_ERR_MAX], want[ROUTE_ERR_MAX];

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(put("r.yaml", three), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &prev, err, sizeof(err)), 0);
	ASSERT_EQ(put("r.yaml",
		      ROUTE("a", "10.96.0.1:80", "10.1.0.1") "---\n" ROUTE(
			      "a", "10.96.0.5:80", "10.1.0.1")),
		  0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/r.yaml:6:1: duplicate route name \"a\" (also in "
		 "%s/r.yaml:1:1)",
		 tmpdir, tmpdir);
	ASSERT_STREQ(err, want);
	ASSERT_EQ(prev.n, 3);
	ASSERT_STREQ(prev.routes[0].name, "a");
	routes_free(&prev);
	rmtmp();
}

/* three_b_changed with b renamed c (and a line longer). */
#define B_NOW_C_1 ROUTE("a", "10.96.0.1:80", "10.1.0.1") "---\n# two\n# more\n"
#define B_NOW_C_2 ROUTE("c", "10.96.0.9:80", "10.1.0.9") "---\n# b now...\n"
static const char b_now_c[] =
	B_NOW_C_1 B_NOW_C_2 ROUTE("c", "10.96.0.3:80", "10.1.0.3");

/* An edit in place: the changed route takes its place in the same array,
 * the one it replaces is what is left in the previous set; and a clash
 * with a taken route whose document moved names it where it now is. */
TEST(edit_in_place_and_clash_with_a_moved_route)
{
	struct route_set prev = { 0 }, set = { 0 };
	char err[ROUTE_ERR_MAX], want[ROUTE_ERR_MAX];
	const struct route *was;

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(put("r.yaml", three), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &prev, err, sizeof(err)), 0);
	was = prev.routes;
	ASSERT_EQ(put("r.yaml", three_b_changed), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_TRUE(set.routes == was); /* nothing copied */
	ASSERT_EQ(set.n, 3);
	ASSERT_STREQ(set.routes[1].name, "b");
	ASSERT_EQ(set.routes[1].reused_from, 0);
	ASSERT_EQ(prev.n, 1);
	ASSERT_STREQ(prev.routes[0].name, "b");
	routes_free(&prev);
	prev = set;
	set = (struct route_set){ 0 };

	/* b becomes a second c, one line longer: the taken c moves down. */
	ASSERT_EQ(put("r.yaml", b_now_c), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/r.yaml:14:1: duplicate route name \"c\" (also in "
		 "%s/r.yaml:6:1)",
		 tmpdir, tmpdir);
	ASSERT_STREQ(err, want);
	ASSERT_EQ(prev.n, 3);
	ASSERT_EQ(prev.routes[2].pos.line, 13);
	for (int i = 0; i < prev.n; i++)
		ASSERT_EQ(prev.routes[i].reused_by, 0);
	routes_free(&prev);
	rmtmp();
}

/* Route i of the texts below: 6 lines with its marker. */
static void doc(char *buf, size_t len, int i, int backend)
{
	snprintf(buf + strlen(buf), len - strlen(buf),
		 "---\n" ROUTE("r%d", "10.96.0.%d:80", "10.1.0.%d"), i, i + 1,
		 backend);
}

/* @n routes, route i going to backend i, except @edit going to @to. */
static void text_of(char *buf, size_t len, int first, int n, int edit, int to)
{
	buf[0] = 0;
	for (int i = first; i < first + n; i++)
		doc(buf, len, i, i == edit ? to : i);
}

/* @ins into @text after the first @after. */
static void insert_after(char *text, const char *after, const char *ins)
{
	char *p = strstr(text, after) + strlen(after);

	memmove(p + strlen(ins), p, strlen(p) + 1);
	memcpy(p, ins, strlen(ins));
}

/* The spans of @text as split going on from @old: read from a file (and
 * compared as read), or compared after, are those of a full split. */
static void assert_spans_as_full(const struct route_text *old, const char *text)
{
	struct route_read rd = { 0 };
	struct route_doc_span *a, *b;
	size_t len = strlen(text), p = 0, sfx = 0;
	int n = routes_split_docs((const unsigned char *)text, len, &a), m, fd;
	char path[128];

	while (p < len && p < old->len && text[p] == old->buf[p])
		p++;
	while (sfx < len - p && sfx < old->len - p &&
	       text[len - sfx - 1] == old->buf[old->len - sfx - 1])
		sfx++;
	ASSERT_EQ(put("t.yaml", text), 0);
	snprintf(path, sizeof(path), "%s/t.yaml", tmpdir);
	fd = open(path, O_RDONLY);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(routes_read_text(fd, old, NULL, &rd), 0);
	close(fd);
	ASSERT_EQ(rd.len, len);
	ASSERT_TRUE(rd.cmp);
	ASSERT_EQ(rd.pfx, p);
	ASSERT_EQ(rd.sfx, sfx);
	ASSERT_TRUE(n > 0);
	for (int k = 0; k < 2; k++) {
		rd.cmp = k; /* 0: compared by routes_split_docs_from */
		m = routes_split_docs_from(old, &rd, &b);
		ASSERT_EQ(m, n);
		for (int i = 0; i < n; i++) {
			ASSERT_EQ(b[i].off, a[i].off);
			ASSERT_EQ(b[i].len, a[i].len);
			ASSERT_EQ(b[i].line, a[i].line);
			ASSERT_EQ(b[i].hash, a[i].hash);
		}
		free(b);
	}
	free(rd.buf);
	free(a);
}

/* The spans kept from the previous text and the ones split again are
 * those a split of the whole new text gives, wherever the change is. */
TEST(split_from_previous_text_as_full_split)
{
	static char old[8192], text[8192];
	struct route_text t = { 0 };

	ASSERT_TRUE(mktmp());
	text_of(old, sizeof(old), 0, 8, -1, 0);
	t.buf = (unsigned char *)old;
	t.len = strlen(old);
	t.n = routes_split_docs(t.buf, t.len, &t.sp);
	ASSERT_EQ(t.n, 8);
	assert_spans_as_full(&t, old);		  /* unchanged */
	text_of(text, sizeof(text), 0, 8, 4, 99); /* the middle, longer */
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 0, 8, 4, 9); /* the same length */
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 0, 8, 0, 99); /* the first */
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 0, 8, 7, 99); /* the last */
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 0, 8, -1, 0); /* the start and the end */
	text[5] = 'K';
	text[strlen(text) - 2] = '9';
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 0, 7, -1, 0); /* shrinks at the end */
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 1, 7, -1, 0); /* shrinks at the start */
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 0, 9, -1, 0); /* grows */
	assert_spans_as_full(&t, text);
	strcpy(text, old); /* a route gone from the middle */
	memmove(strstr(text, "---\nkind: Route\nname: r3\n"),
		strstr(text, "---\nkind: Route\nname: r4\n"),
		strlen(strstr(text, "---\nkind: Route\nname: r4\n")) + 1);
	assert_spans_as_full(&t, text);
	strcpy(text, old); /* lines added: the documents after move */
	insert_after(text, "r5\n", "#\n#\n");
	assert_spans_as_full(&t, text);
	strcpy(text, old); /* a marker line that is no longer one */
	memcpy(strstr(text, "---\nkind: Route\nname: r3"), "--x", 3);
	assert_spans_as_full(&t, text);
	strcpy(text, old); /* an end marker: not split at all */
	memcpy(strstr(text, "---\nkind: Route\nname: r3"), "...\n---", 7);
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 0, 1, -1, 0); /* one route left */
	assert_spans_as_full(&t, text);
	free(t.sp);
	rmtmp();
}

/* The same with texts that take several reads (256 KB each). */
TEST(split_from_previous_text_read_in_pieces)
{
	static char old[1 << 20], text[1 << 20];
	struct route_text t = { 0 };

	ASSERT_TRUE(mktmp());
	text_of(old, sizeof(old), 0, 4000, -1, 0);
	ASSERT_TRUE(strlen(old) > 2 * (256 << 10));
	t.buf = (unsigned char *)old;
	t.len = strlen(old);
	t.n = routes_split_docs(t.buf, t.len, &t.sp);
	text_of(text, sizeof(text), 0, 4000, 2500, 9999); /* the middle */
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 0, 4000, 10, 9999); /* start and end */
	text[strlen(text) - 2] = '9';
	assert_spans_as_full(&t, text);
	strcpy(text, old); /* grows near the start: all after move */
	insert_after(text, "r3\n", "# one\n# two\n");
	assert_spans_as_full(&t, text);
	text_of(text, sizeof(text), 3, 3990, -1, 0); /* shrinks */
	assert_spans_as_full(&t, text);
	free(t.sp);
	rmtmp();
}

/* Every route of @a as in @b, a full load of the same files: lines too. */
static void assert_same_routes(const struct route_set *a,
			       const struct route_set *b)
{
	ASSERT_EQ(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		const struct route *x = &a->routes[i], *y = &b->routes[i];

		ASSERT_STREQ(x->name, y->name);
		ASSERT_STREQ(x->file, y->file);
		ASSERT_EQ(x->pos.line, y->pos.line);
		ASSERT_EQ(x->doc_line, y->doc_line);
		ASSERT_EQ(x->doc_hash, y->doc_hash);
		ASSERT_EQ(x->frontends[0].pos.line, y->frontends[0].pos.line);
		ASSERT_EQ(x->frontends[0].addr.addr[0],
			  y->frontends[0].addr.addr[0]);
		ASSERT_EQ(x->versions[0].backends[0].pos.line,
			  y->versions[0].backends[0].pos.line);
		ASSERT_EQ(x->versions[0].backends[0].addr.addr[0],
			  y->versions[0].backends[0].addr.addr[0]);
	}
}

/* Reloads, each going on from the last, give what a full load gives;
 * only the changed routes are parsed, the others keep `applied`. */
TEST(reloads_as_full_loads)
{
	static char text[8192];
	struct route_set prev = { 0 }, set = { 0 }, full = { 0 };
	char err[ROUTE_ERR_MAX];
	static const struct {
		int first, n, edit, to, parsed;
	} step[] = {
		{ 0, 8, -1, 0, 8 }, { 0, 8, 4, 99, 1 }, { 0, 8, 4, 4, 1 },
		{ 0, 8, 0, 99, 1 }, { 0, 8, 7, 99, 2 }, { 0, 6, -1, 0, 1 },
		{ 1, 5, -1, 0, 1 }, { 0, 9, -1, 0, 4 }, { 0, 9, -1, 0, 0 },
	};

	ASSERT_TRUE(mktmp());
	for (size_t s = 0; s < sizeof(step) / sizeof(step[0]); s++) {
		int parsed = 0;

		text_of(text, sizeof(text), step[s].first, step[s].n,
			step[s].edit, step[s].to);
		if (s == 5) /* lines added before the edit: all move */
			insert_after(text, "r1\n", "#\n#\n");
		ASSERT_EQ(put("r.yaml", text), 0);
		ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err,
					       sizeof(err)),
			  0);
		ASSERT_EQ(routes_load_dir(tmpdir, &full, err, sizeof(err)), 0);
		assert_same_routes(&set, &full);
		for (int i = 0; i < set.n; i++) {
			parsed += !set.routes[i].reused_from;
			if (set.routes[i].reused_from)
				ASSERT_TRUE(set.routes[i].applied.valid);
			set.routes[i].applied.valid = true;
		}
		ASSERT_EQ(parsed, step[s].parsed);
		routes_free(&prev);
		prev = set;
		set = (struct route_set){ 0 };
	}
	routes_free(&prev);
	routes_free(&full);
	rmtmp();
}

/*
 * The duplicate check goes on from the counts of the previous set: a key
 * freed by a route gone in the same reload may be taken, one still held
 * may not, and an error reload leaves the counts as they were.
 */
TEST(duplicates_against_the_counted_keys)
{
	struct route_set prev = { 0 }, set = { 0 };
	char err[ROUTE_ERR_MAX], want[ROUTE_ERR_MAX];

	ASSERT_TRUE(mktmp());
	ASSERT_EQ(put("r.yaml", three), 0);
	ASSERT_EQ(routes_load_dir(tmpdir, &prev, err, sizeof(err)), 0);
	/* a gone, its name and frontend taken by a new route in s.yaml. */
	ASSERT_EQ(
		put("r.yaml",
		    "---\n" ROUTE("b", "10.96.0.2:80",
				  "10.1.0.2") "---\n" ROUTE("c", "10.96.0.3:80",
							    "10.1.0.3")),
		0);
	ASSERT_EQ(put("s.yaml", ROUTE("a", "10.96.0.1:80", "10.1.0.7")), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 3);
	routes_free(&prev);
	prev = set;
	set = (struct route_set){ 0 };
	/* The frontend of c, taken in r.yaml, again in t.yaml: refused
	 * twice (an error changes no count), then accepted once c goes. */
	ASSERT_EQ(put("t.yaml", ROUTE("d", "10.96.0.3:80", "10.1.0.8")), 0);
	snprintf(want, sizeof(want),
		 "%s/t.yaml:3:13: duplicate frontend 10.96.0.3:80/tcp (also in "
		 "%s/r.yaml:10:13)",
		 tmpdir, tmpdir);
	for (int k = 0; k < 2; k++) {
		ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err,
					       sizeof(err)),
			  -EINVAL);
		ASSERT_STREQ(err, want);
		ASSERT_EQ(prev.n, 3);
	}
	ASSERT_EQ(put("r.yaml", "---\n" ROUTE("b", "10.96.0.2:80", "10.1.0.2")),
		  0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  0);
	ASSERT_EQ(set.n, 3);
	routes_free(&prev);
	prev = set;
	set = (struct route_set){ 0 };
	/* Names count as frontends do: b again, in u.yaml. */
	ASSERT_EQ(put("u.yaml", ROUTE("b", "10.96.0.5:80", "10.1.0.5")), 0);
	ASSERT_EQ(routes_load_dir_from(tmpdir, &prev, &set, err, sizeof(err)),
		  -EINVAL);
	snprintf(want, sizeof(want),
		 "%s/u.yaml:1:1: duplicate route name \"b\" (also in "
		 "%s/r.yaml:1:1)",
		 tmpdir, tmpdir);
	ASSERT_STREQ(err, want);
	routes_free(&prev);
	rmtmp();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
