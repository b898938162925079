/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Private to agent/apply*.c: the steps the full apply (apply.c) and the
 * apply of what changed (apply_delta.c) share.
 */
#ifndef STEER_APPLY_INTERNAL_H
#define STEER_APPLY_INTERNAL_H

#include "apply.h"
#include "compile.h"

/* What an apply decided: per route of the set, its id and whether it is
 * new; the routes to publish; the ids to remove. */
struct plan {
	__u32 *ids;
	bool *fresh;
	bool *keep; /* publish keeping its steerctl override (DNS answers) */
	int *changed, n_changed;
	__u32 *gone;
	int n_gone;
	__u32 next_id;
};

/* Room for @n routes and @n_gone + @n ids to remove. 0 or -ENOMEM. */
int apply_plan_alloc(struct plan *p, int n, int n_gone);
void apply_plan_free(struct plan *p);

/*
 * Route @i of the set (@r), compiled into @scratch, against its index
 * entry @e (NULL: none): counted unchanged or kept by steerctl, or listed
 * in @p to publish. Notes its source hash in r->applied.
 */
void apply_classify(const struct steer_maps *m, struct route *r, int i,
		    const struct maps_index_entry *e,
		    const struct steer_route_cfg *scratch, struct plan *p,
		    struct apply_stats *st);

/* Publish the @n routes of @set listed in @which, compiled against what is
 * live (@keep: with its steerctl override). */
int apply_publish_changed(struct steer_maps *m, const struct route_set *set,
			  const int *which, int n, const __u32 *ids,
			  const bool *fresh, const bool *keep,
			  const char *cgroup_root, __u64 generation,
			  __u64 now_ns, char *err, size_t errlen);

/* Write the frontends of the @n_which routes of @set listed in @which
 * (NULL: all), pointing at their @ids (indexed like @set). */
int apply_write_frontends(const struct steer_maps *m,
			  const struct route_set *set, const int *which,
			  int n_which, const __u32 *ids, char *err,
			  size_t errlen);

void apply_frontend_entry(const struct route_frontend *f, __u32 id, int idx,
			  struct steer_frontend_key *k,
			  struct steer_frontend *v);

/* apply_delta.c: see apply_routes; -EAGAIN when only a full apply can
 * tell (then nothing was written). */
int apply_delta(struct steer_maps *m, struct route_set *set,
		struct route_set *prev, const char *cgroup_root,
		struct apply_memo *memo, struct apply_stats *st, char *err,
		size_t errlen);

#endif /* STEER_APPLY_INTERNAL_H */
