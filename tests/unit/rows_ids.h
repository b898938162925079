/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Callbacks for rows_encode / rows_decode in unit tests, without maps:
 * backend ids from a test-owned array (the id of an address is its index
 * + 1, ids starting at 1 as STEER_BACKEND_ID_NONE requires; an address
 * seen again gets its id again, as maps_backend_id gives it), and match
 * blocks that match everything.
 */
#ifndef STEER_TEST_ROWS_IDS_H
#define STEER_TEST_ROWS_IDS_H

#include <errno.h>
#include <string.h>
#include "rows.h"

struct test_ids {
	__u32 n;
	struct steer_backend_addr a[2 * STEER_MAX_BACKENDS];
};

static inline int id_of(void *ctx, const struct steer_backend_addr *a,
			__u32 *id)
{
	struct test_ids *t = ctx;

	for (__u32 i = 0; i < t->n; i++)
		if (!memcmp(&t->a[i], a, sizeof(*a))) {
			*id = i + 1;
			return 0;
		}
	if (t->n == sizeof(t->a) / sizeof(t->a[0]))
		return -ENOSPC;
	t->a[t->n++] = *a;
	*id = t->n;
	return 0;
}

static inline int addr_of(void *ctx, __u32 id, struct steer_backend_addr *a)
{
	struct test_ids *t = ctx;

	if (!id || id > t->n)
		return -ENOENT;
	*a = t->a[id - 1];
	return 0;
}

static inline int no_match(void *ctx, __u32 id, struct steer_match *m)
{
	(void)ctx;
	(void)id;
	memset(m, 0, sizeof(*m));
	return 0;
}

#endif
