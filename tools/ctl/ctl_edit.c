// SPDX-License-Identifier: BSD-2-Clause
/*
 * The read-modify-publish cycle that set, promote, rollback, eject and
 * restore share: read a route's live config, let the command change a copy,
 * rebuild the selection tables stably against the live config, and publish
 * the copy as a whole in one swap (steer_abi.h). A command that finds bad
 * input returns before ctl_edit_commit(), so nothing changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "compile.h"
#include "ctl.h"

int ctl_edit_begin(const struct ctl *c, const char *route, struct ctl_edit *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	maps_init(&e->m);
	e->lock = -1;
	/* Zero, so that only what the route uses is written (its pages). */
	e->live = calloc(1, sizeof(*e->live));
	e->cfg = calloc(1, sizeof(*e->cfg));
	if (!e->live || !e->cfg)
		return ctl_error(c, CTL_ERR, "out of memory");
	ret = ctl_open_maps(c, &e->m, MAPS_EDIT);
	if (ret)
		return ret;
	/* No steerd apply may publish between our read and our publish. */
	e->lock = maps_lock(c->bpffs);
	if (e->lock < 0)
		return ctl_error(c, CTL_ERR, "cannot lock %s: %s", c->bpffs,
				 strerror(-e->lock));
	e->id = maps_route_find_zeroed(&e->m, route, e->live);
	if (e->id == -ENOENT)
		return ctl_error(c, CTL_ERR, "no route named '%s'", route);
	if (e->id < 0)
		return ctl_error(c, CTL_ERR, "cannot read routes: %s",
				 strerror(-e->id));
	if (route_cfg_copy(e->cfg, e->live))
		return ctl_error(c, CTL_ERR, "out of memory");
	return CTL_OK;
}

void ctl_edit_end(struct ctl_edit *e)
{
	maps_unlock(e->lock);
	e->lock = -1;
	maps_close(&e->m);
	route_cfg_destroy(e->live, 1);
	route_cfg_destroy(e->cfg, 1);
	e->live = e->cfg = NULL;
}

int ctl_edit_commit(const struct ctl *c, struct ctl_edit *e)
{
	struct steer_route_cfg *cfg = e->cfg;
	struct timespec now;
	int ret;

	/*
	 * OVERRIDE tells steerd to keep this config while the route's file
	 * is unchanged. It is set exactly when the config differs from what
	 * the file gives, so a change that returns to the file (rollback,
	 * set to the file's split, restoring the last ejected backend) hands
	 * the route back to the file.
	 */
	if (compile_overridden(cfg))
		cfg->flags |= STEER_ROUTE_OVERRIDE;
	else
		cfg->flags &= ~(__u32)STEER_ROUTE_OVERRIDE;
	compile_tables(cfg, e->live);
	clock_gettime(CLOCK_REALTIME, &now);
	cfg->generation = maps_generation_max(&e->m) + 1;
	cfg->applied_ns = (__u64)now.tv_sec * 1000000000ull + now.tv_nsec;
	ret = maps_route_publish(&e->m, (__u32)e->id, cfg);
	if (ret)
		return ctl_error(c, CTL_ERR, "cannot publish route %s: %s",
				 cfg->name, strerror(-ret));
	return CTL_OK;
}

static void split_text(const struct steer_route_cfg *cfg, const __u16 *split)
{
	char pct[16];

	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++)
		printf(" %s %s%%", cfg->versions[v].name,
		       ctl_pct(pct, sizeof(pct), split[v]));
}

static struct json_object *split_json(const struct steer_route_cfg *cfg,
				      const __u16 *split)
{
	struct json_object *o = json_object_new_object();

	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++)
		json_object_object_add(
			o, cfg->versions[v].name,
			json_object_new_double(split[v] / 100.0));
	return o;
}

void ctl_edit_report(const struct ctl *c, const struct ctl_edit *e,
		     const char *action, const char *key,
		     struct json_object *val)
{
	const struct steer_route_cfg *cfg = e->cfg;
	bool override = cfg->flags & STEER_ROUTE_OVERRIDE;

	if (c->json) {
		struct json_object *o = json_object_new_object();
		struct json_object *rules = json_object_new_array();

		json_object_object_add(o, "route",
				       json_object_new_string(cfg->name));
		json_object_object_add(o, "action",
				       json_object_new_string(action));
		json_object_object_add(o, "generation",
				       json_object_new_uint64(cfg->generation));
		json_object_object_add(o, "override",
				       json_object_new_boolean(override));
		for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
			const struct steer_rule *rule = &cfg->rules[r];
			struct json_object *ro = json_object_new_object();

			json_object_object_add(
				ro, "name", json_object_new_string(rule->name));
			json_object_object_add(ro, "split",
					       split_json(cfg, rule->split));
			json_object_object_add(
				ro, "file_split",
				split_json(cfg, rule->file_split));
			json_object_array_add(rules, ro);
		}
		json_object_object_add(o, "rules", rules);
		if (key)
			json_object_object_add(o, key, val);
		else
			json_object_put(val);
		ctl_print_json(o);
		return;
	}
	json_object_put(val);
	printf("route %s: %s (generation %llu%s)\n", cfg->name, action,
	       (unsigned long long)cfg->generation,
	       override ? ", OVERRIDE until the route file changes"
			: ", as the route file gives");
	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		printf("  rule %-14s", cfg->rules[r].name);
		split_text(cfg, cfg->rules[r].split);
		printf("\n");
	}
}
