/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private to agent/lib/maps*.c: what maps_route.c (publishing) and
 * maps_backends.c (backend ids) lend each other.
 */
#ifndef STEER_MAPS_INTERNAL_H
#define STEER_MAPS_INTERNAL_H

#include "maps.h"

/* maps_route.c: every row of route @id (malloc'ed into *@rows); the
 * count or -errno. */
int maps_route_rows(const struct steer_maps *m, __u32 id, void **rows);

/*
 * maps_backends.c: the id of backend address @a for rows_encode (a
 * rows_backend_id_fn; @ctx is the struct steer_maps), allocated or
 * reclaimed when new; 0 or -errno (-ENOSPC: every id is in use). Call
 * maps_backend_ids_batch before encoding each batch of routes: the ids it
 * hands out stay busy until then.
 */
int maps_backend_id(void *ctx, const struct steer_backend_addr *a, __u32 *id);
void maps_backend_ids_batch(struct steer_maps *m);
/*
 * Write the backend addresses maps_backend_id handed out since the last
 * flush (steer_backends_v2 first, then steer_backend_ids_v2), one batch
 * each. Call before any route that refers to them goes live; 0 or -errno
 * (then the ids not recorded are given back).
 */
int maps_backend_ids_flush(struct steer_maps *m);
/* Free what maps_backend_id keeps between calls (maps_close). */
void maps_backend_ids_free(struct steer_maps *m);

#endif /* STEER_MAPS_INTERNAL_H */
