/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A large file's documents parsed on several threads (routes_parallel.c)
 * give what one thread gives: the same routes in file order with the same
 * lines, and on error the first error in the file, whichever thread met
 * it. Run from the repository root.
 */
#include <errno.h>
#include <stdlib.h>
#include "test.h"
#include "routes.h"
#include "routes_internal.h"
#include "tmpdir.h"

#define N_DOCS 5000

/* @n routes, 6 lines each with the marker; routes @bad and @bad2 (if
 * >= 0) with a backend port out of range. Malloc'ed. */
static char *text_of(int n, int bad, int bad2)
{
	size_t cap = (size_t)n * 200, len = 0;
	char *t = malloc(cap);

	for (int i = 0; t && i < n; i++)
		len += (size_t)snprintf(
			t + len, cap - len,
			"---\nkind: Route\nname: r%d\n"
			"frontends: [10.96.%d.%d:80]\n"
			"versions: {v1: {backends: [10.1.%d.%d:%d]}}\n"
			"rules: [{name: r, split: {v1: 100}}]\n",
			i, i / 250, i % 250, i / 250, i % 250,
			i == bad || i == bad2 ? 99999 : 8080);
	return t;
}

/* @text parsed on @threads threads into @pl; 0 or -errno, @err set. */
static int parse_on(const char *text, int threads, struct route_plan *pl,
		    char *err)
{
	struct route_doc_span *sp = NULL;
	int n = routes_split_docs((const unsigned char *)text, strlen(text),
				  &sp);
	int ret;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		sp[i].hash = (__u64)i + 1;
	ret = routes_parse_spans("t.yaml", (const unsigned char *)text, sp, n,
				 threads, pl, err, ROUTE_ERR_MAX);
	free(sp);
	return ret;
}

static const struct route *plan_route(const struct route_plan *pl, int i)
{
	int shift;
	bool taken;

	return routes_plan_route(pl, NULL, i, &shift, &taken);
}

TEST(threads_give_what_one_gives)
{
	char *text = text_of(N_DOCS, -1, -1), err[ROUTE_ERR_MAX];
	struct route_plan one = { 0 }, three = { 0 };

	ASSERT_TRUE(text);
	ASSERT_EQ(parse_on(text, 1, &one, err), 0);
	ASSERT_EQ(parse_on(text, 3, &three, err), 0);
	ASSERT_EQ(one.n, N_DOCS);
	ASSERT_EQ(three.n, N_DOCS);
	for (int i = 0; i < N_DOCS; i++) {
		const struct route *x = plan_route(&one, i),
				   *y = plan_route(&three, i);
		char name[16];

		snprintf(name, sizeof(name), "r%d", i);
		ASSERT_STREQ(y->name, name);
		ASSERT_STREQ(x->name, y->name);
		ASSERT_EQ(x->pos.line, y->pos.line);
		ASSERT_EQ(x->doc_line, y->doc_line);
		ASSERT_EQ(y->doc_line, 6 * i);
		ASSERT_EQ(one.line[i], three.line[i]);
		ASSERT_EQ(x->frontends[0].addr.addr[0],
			  y->frontends[0].addr.addr[0]);
		ASSERT_EQ(x->versions[0].backends[0].addr.addr[0],
			  y->versions[0].backends[0].addr.addr[0]);
		ASSERT_EQ(x->versions[0].backends[0].pos.line,
			  y->versions[0].backends[0].pos.line);
	}
	routes_plan_free(&one);
	routes_plan_free(&three);
	free(text);
}

/* Route @bad's error, as one thread reports it, from @threads. */
static void assert_first_error(int bad, int threads)
{
	char *text = text_of(N_DOCS, bad, -1);
	char err1[ROUTE_ERR_MAX], errn[ROUTE_ERR_MAX], where[32];
	struct route_plan one = { 0 }, many = { 0 };

	ASSERT_TRUE(text);
	ASSERT_EQ(parse_on(text, 1, &one, err1), -EINVAL);
	ASSERT_EQ(parse_on(text, threads, &many, errn), -EINVAL);
	ASSERT_STREQ(errn, err1);
	/* The backend is on the document's 5th line (1-based: 6 * bad + 5). */
	snprintf(where, sizeof(where), "t.yaml:%d:", 6 * bad + 5);
	ASSERT_TRUE(strstr(errn, where));
	routes_plan_free(&one);
	routes_plan_free(&many);
	free(text);
}

TEST(first_error_in_file_order)
{
	/* 3 threads: documents 0-1665, 1666-3332, 3333-4999. */
	assert_first_error(10, 3);   /* in the first thread's share */
	assert_first_error(2000, 3); /* a later thread's */
	assert_first_error(4999, 3); /* the last document */
}

/* Two bad documents in different threads' shares: the earlier one's. */
TEST(two_errors_earlier_wins)
{
	char *text = text_of(N_DOCS, 100, 4000), err[ROUTE_ERR_MAX];
	struct route_plan pl = { 0 };

	ASSERT_TRUE(text);
	ASSERT_EQ(parse_on(text, 3, &pl, err), -EINVAL);
	ASSERT_TRUE(strstr(err, "t.yaml:605:"));
	routes_plan_free(&pl);
	free(text);
}

/* The file API, on as many threads as this machine gives it. */
TEST(file_parse_same_on_any_machine)
{
	char *text = text_of(N_DOCS, -1, -1), err[ROUTE_ERR_MAX], path[300];
	struct route_set set = { 0 };
	struct route_plan one = { 0 };

	ASSERT_TRUE(text);
	ASSERT_TRUE(mktmp());
	ASSERT_EQ(write_file(tmpdir, "t.yaml", text), 0);
	snprintf(path, sizeof(path), "%s/t.yaml", tmpdir);
	ASSERT_EQ(routes_parse_file(path, &set, err, ROUTE_ERR_MAX), 0);
	ASSERT_EQ(parse_on(text, 1, &one, err), 0);
	ASSERT_EQ(set.n, N_DOCS);
	for (int i = 0; i < N_DOCS; i++) {
		ASSERT_STREQ(set.routes[i].name, plan_route(&one, i)->name);
		ASSERT_EQ(set.routes[i].pos.line,
			  plan_route(&one, i)->pos.line);
	}
	routes_free(&set);
	routes_plan_free(&one);
	rmtmp();
	free(text);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
