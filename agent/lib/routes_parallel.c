// SPDX-License-Identifier: BSD-2-Clause
/*
 * The documents of a large file parsed on every CPU steerd may use. A
 * start with nothing to take over (steerd's first load, steerctl
 * validate) parses every document, and at 100,000 routes that is most of
 * an install: the documents are independent (routes_text.c splits them),
 * so contiguous runs of them go to threads, and their routes are put
 * together in file order. The outcome is the sequential one's: the same
 * routes in the same order, and on error the first error in the file.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "routes_internal.h"

/* Documents a thread gets at least: fewer are not worth a thread. */
#define SPANS_PER_THREAD_MIN 2048
#define PARSE_THREADS_MAX    8

struct parse_chunk {
	const char *path;
	const unsigned char *buf;
	struct route_doc_span *sp;
	int from, to;	      /* its spans */
	int done;	      /* spans parsed without error */
	int ret;	      /* of the first error, 0: none */
	struct route_plan pl; /* its routes, indexed from 0 */
	char err[ROUTE_ERR_MAX];
	pthread_t thread;
	bool started;
};

static void *parse_chunk(void *arg)
{
	struct parse_chunk *c = arg;
	int i;

	for (i = c->from; i < c->to; i++) {
		int first = c->pl.n;

		c->ret = routes_parse_span(c->path, c->buf, &c->sp[i], &c->pl,
					   c->err, sizeof(c->err));
		if (c->ret)
			break;
		c->sp[i].n_routes = c->pl.n - first;
	}
	c->done = i;
	return NULL;
}

/* The CPUs this process may run on (a container's cpuset, say). */
static int usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	return CPU_COUNT(&set);
}

int routes_parse_threads(int n_spans)
{
	int t = usable_cpus();

	if (t > PARSE_THREADS_MAX)
		t = PARSE_THREADS_MAX;
	if (t > n_spans / SPANS_PER_THREAD_MIN)
		t = n_spans / SPANS_PER_THREAD_MIN;
	return t > 1 ? t : 1;
}

/* Move @c's routes to the end of @pl, their plan entries renumbered. */
static int merge_chunk(struct parse_chunk *c, struct route_plan *pl)
{
	struct route_set *to = &pl->parsed, *from = &c->pl.parsed;

	for (int j = 0; j < c->pl.n; j++) {
		if (route_array_grow((void **)&to->routes, to->n,
				     sizeof(*to->routes)))
			return -ENOMEM;
		if (routes_plan_add(pl, ~to->n, c->pl.line[j]))
			return -ENOMEM;
		to->routes[to->n++] = from->routes[~c->pl.src[j]];
		/* moved: the chunk no longer frees it */
		memset(&from->routes[~c->pl.src[j]], 0, sizeof(*from->routes));
	}
	return 0;
}

int routes_parse_spans(const char *path, const unsigned char *buf,
		       struct route_doc_span *sp, int n, int threads,
		       struct route_plan *pl, char *err, size_t errlen)
{
	struct parse_chunk *c = calloc((size_t)threads, sizeof(*c));
	int ret = 0, t;

	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	for (t = 0; t < threads; t++) {
		c[t].path = path;
		c[t].buf = buf;
		c[t].sp = sp;
		c[t].from = (int)((long long)n * t / threads);
		c[t].to = (int)((long long)n * (t + 1) / threads);
	}
	/* The first run here; one whose thread did not start, here too. */
	for (t = 1; t < threads; t++)
		c[t].started =
			!pthread_create(&c[t].thread, NULL, parse_chunk, &c[t]);
	parse_chunk(&c[0]);
	for (t = 1; t < threads; t++) {
		if (c[t].started)
			pthread_join(c[t].thread, NULL);
		else
			parse_chunk(&c[t]);
	}
	for (t = 0; t < threads && !ret; t++) {
		ret = merge_chunk(&c[t], pl);
		if (ret) {
			snprintf(err, errlen, "%s: out of memory", path);
		} else if (c[t].ret) {
			ret = c[t].ret;
			snprintf(err, errlen, "%s", c[t].err);
		}
	}
	for (t = 0; t < threads; t++)
		routes_plan_free(&c[t].pl);
	free(c);
	return ret;
}
