/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A compiled route (struct steer_route_cfg) to the rows of its inner map
 * and back (layout in steer_abi.h). Pure functions: the map side lends
 * callbacks for what lives in shared maps (backend ids, match blocks).
 */
#ifndef STEER_ROWS_H
#define STEER_ROWS_H

#include "route_cfg.h"

/* Match positions: rules 0..7, allow 8..15, deny 16..23. */
#define ROWS_MAX_MATCHES (STEER_MATCH_DENY_BASE + STEER_MAX_POLICY)

struct rows_match {
	__u32 pos;
	struct steer_match match;
};

struct route_rows {
	void *rows; /* n_rows * STEER_ROW_SIZE bytes, malloc'ed */
	__u32 n_rows;
	int n_matches; /* match blocks to write under the route's bank */
	struct rows_match matches[ROWS_MAX_MATCHES];
};

/* The id of backend address @a, allocated when new; 0 or -errno. */
typedef int (*rows_backend_id_fn)(void *ctx, const struct steer_backend_addr *a,
				  __u32 *id);
/* The address of backend @id, and the match block of match id @id. */
typedef int (*rows_backend_addr_fn)(void *ctx, __u32 id,
				    struct steer_backend_addr *a);
typedef int (*rows_match_fn)(void *ctx, __u32 id, struct steer_match *m);

/*
 * Encode @cfg as route @route's rows, its match blocks to be written in
 * @bank. Returns 0 or -errno (-E2BIG: more rows than a route can have).
 */
int rows_encode(const struct steer_route_cfg *cfg, __u32 bank,
		rows_backend_id_fn backend_id, void *ctx,
		struct route_rows *out);
void rows_free(struct route_rows *r);

/* The health-aware choice's step through @n refs (steer_version_row). */
__u16 rows_probe_stride(__u32 n);

/*
 * Decode @n_rows rows of route @route into @out (tables included: read
 * for an affinity route, rebuilt for the others). Returns 0 or -errno
 * (-EUCLEAN: rows that do not hold together).
 */
int rows_decode(const void *rows, __u32 n_rows, __u32 route,
		rows_backend_addr_fn backend_addr, rows_match_fn match,
		void *ctx, struct steer_route_cfg *out);
/*
 * rows_decode into an @out that is all zero already (fresh from calloc):
 * the same result, but only what the route uses is written, so the pages
 * of the 212 KB struct that hold unused rules and versions are never
 * touched (40 page faults for a route of one rule).
 */
int rows_decode_zeroed(const void *rows, __u32 n_rows, __u32 route,
		       rows_backend_addr_fn backend_addr, rows_match_fn match,
		       void *ctx, struct steer_route_cfg *out);

/* The header of @rows (row 0). */
static inline const struct steer_route_hdr *rows_hdr(const void *rows)
{
	return (const struct steer_route_hdr *)rows;
}

#endif /* STEER_ROWS_H */
