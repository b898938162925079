/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A reload takes the documents whose text is unchanged from the previous
 * load (routes_load_dir_from): what is taken, where its lines now are, and
 * that an error leaves the previous set as it was. Run from the repository
 * root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "test.h"
#include "routes.h"
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

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
