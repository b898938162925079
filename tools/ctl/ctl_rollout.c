// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl rollout: the release pipeline in one command (docs/DESIGN.md §7).
 * Each step publishes the canary's share (the read-modify-publish cycle of
 * `set`, tools/ctl/ctl_edit.c), waits the interval while it reads the canary's
 * per-backend counters, and judges the failure rate over that step alone.
 * A breach (the rate, or a canary backend ejected by passive health), too
 * little traffic to judge, or SIGINT/SIGTERM/SIGHUP rolls the
 * splits back to the route file at once and exits 1; after the last step
 * the canary is promoted and the exit status is 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "compile.h"
#include "ctl_rollout.h"

/* Status lines while a step runs: every second on a tty (redrawn in place)
 * and in JSON, every 5 s in a log; at least one in the middle of a short
 * interval. */
#define TICK_TTY_S  1.0
#define TICK_LOG_S  5.0
#define TICK_JSON_S 1.0
/* A route with passive health is also read this often for an ejected
 * canary, which fails the step at once (ctl_rollout_health.c). */
#define HEALTH_POLL_S 0.2

/* publish() and read_counts(): someone else changed the splits. */
#define ROUTE_CHANGED 100

enum edit { EDIT_STEP, EDIT_PROMOTE, EDIT_ROLLBACK };

/* ---- the route ----------------------------------------------------------- */

/* The rule `set` changes without --rule: "default", else the last one. */
static int default_rule(const struct steer_route_cfg *cfg)
{
	for (int i = 0; i < cfg->n_rules && i < STEER_MAX_RULES; i++)
		if (!strcmp(cfg->rules[i].name, "default"))
			return i;
	return cfg->n_rules - 1;
}

/*
 * The split of rule @rule with the canary @v at @share: the rest goes to
 * the other versions in proportion to the rule's file split of them, or
 * all to the other version when there is only one. -1 when the file split
 * gives the others nothing and there are several (no proportion to keep).
 */
static int step_split(const struct steer_route_cfg *cfg, int rule, int v,
		      unsigned int share, __u16 *out)
{
	__u32 w[STEER_MAX_VERSIONS] = { 0 }, got[STEER_MAX_VERSIONS];
	int n = cfg->n_versions, others = 0, last = -1;
	__u64 sum = 0;

	for (int i = 0; i < n && i < STEER_MAX_VERSIONS; i++) {
		if (i == v)
			continue;
		w[i] = cfg->rules[rule].file_split[i];
		sum += w[i];
		others++;
		last = i;
	}
	if (!sum) {
		if (others != 1)
			return -1;
		w[last] = 1;
	}
	compile_apportion(w, n, STEER_SPLIT_POINTS - share, got);
	for (int i = 0; i < n && i < STEER_MAX_VERSIONS; i++)
		out[i] = (__u16)(i == v ? share : got[i]);
	return 0;
}

static bool splits_ours(const struct rollout_run *r,
			const struct steer_route_cfg *cfg)
{
	if (cfg->n_rules != r->n_published)
		return false;
	for (int i = 0; i < cfg->n_rules && i < STEER_MAX_RULES; i++)
		if (memcmp(cfg->rules[i].split, r->published[i],
			   sizeof(r->published[i])))
			return false;
	return true;
}

/*
 * One read-modify-publish cycle (ctl_edit.c, as `set` and `promote`): the
 * step's split on the stepped rules, 100 % to the canary on every rule, or
 * every rule back to its file split (backend ejections are left alone).
 * Returns CTL_OK, ROUTE_CHANGED when someone else changed the splits since our
 * last publish (nothing is published then), or CTL_ERR (printed).
 */
static int publish(struct rollout_run *r, enum edit what)
{
	struct ctl_edit e;
	int v, ret;

	ret = ctl_edit_begin(r->c, r->a->route, &e);
	if (ret)
		goto out;
	v = compile_version_index(e.cfg, r->a->version);
	if (what != EDIT_ROLLBACK && r->have_published &&
	    !splits_ours(r, e.live)) {
		ret = ROUTE_CHANGED;
		goto out;
	}
	if (v < 0 && what != EDIT_ROLLBACK) {
		ret = ctl_error(r->c, CTL_ERR, "route %s has no version '%s'",
				r->a->route, r->a->version);
		goto out;
	}
	for (int i = 0; i < e.cfg->n_rules && i < STEER_MAX_RULES; i++) {
		__u16 *split = e.cfg->rules[i].split;

		if (what == EDIT_ROLLBACK) {
			memcpy(split, e.cfg->rules[i].file_split,
			       sizeof(e.cfg->rules[i].split));
		} else if (what == EDIT_PROMOTE) {
			memset(split, 0, sizeof(e.cfg->rules[i].split));
			split[v] = STEER_SPLIT_POINTS;
		} else if (r->stepped[i] &&
			   step_split(e.cfg, i, v, r->a->steps[r->step],
				      split)) {
			ret = ctl_error(r->c, CTL_ERR,
					"rule %s: the file split gives the "
					"versions other than %s nothing",
					e.cfg->rules[i].name, r->a->version);
			goto out;
		}
	}
	ret = ctl_edit_commit(r->c, &e);
	if (ret)
		goto out;
	for (int i = 0; i < e.cfg->n_rules && i < STEER_MAX_RULES; i++)
		memcpy(r->published[i], e.cfg->rules[i].split,
		       sizeof(r->published[i]));
	r->n_published = e.cfg->n_rules;
	r->have_published = true;
	r->generation = e.cfg->generation;
	if (route_cfg_copy(r->cfg, e.cfg))
		ret = ctl_error(r->c, CTL_ERR, "out of memory");
out:
	ctl_edit_end(&e);
	return ret;
}

/*
 * Read the live route and the canary's counters summed over its backends
 * and both layers, as deltas from the step's baseline (taken with @base).
 * CTL_OK, ROUTE_CHANGED, or CTL_ERR with r->why set.
 */
static int read_counts(struct rollout_run *r, bool base)
{
	struct steer_backend_stats st;
	const struct steer_version *ver;
	int ret, v;

	ret = maps_route_get(&r->m, (__u32)r->id, r->cfg);
	if (ret || strcmp(r->cfg->name, r->a->route)) {
		snprintf(r->why, sizeof(r->why),
			 "route %s is gone or unreadable: %s", r->a->route,
			 strerror(ret ? -ret : ENOENT));
		return CTL_ERR;
	}
	v = compile_version_index(r->cfg, r->a->version);
	if (v < 0 || !splits_ours(r, r->cfg))
		return ROUTE_CHANGED;
	ver = &r->cfg->versions[v];
	r->conns = r->failed = 0;
	for (int b = 0; b < ver->n_backends && b < ROUTE_MAX_BACKENDS; b++) {
		__u32 slot = ver->backends[b].counter_slot % ROUTE_MAX_BACKENDS;
		__u64 conns = 0, failed = 0;

		for (int l = 0; l < STEER_LAYER_COUNT; l++) {
			ret = maps_backend_stats_read(&r->m, (__u32)r->id,
						      ver->counter_slot, slot,
						      l, &st);
			if (ret) {
				snprintf(r->why, sizeof(r->why),
					 "cannot read the counters of %s: %s",
					 r->a->route, strerror(-ret));
				return CTL_ERR;
			}
			conns += st.connections;
			failed += st.failed;
		}
		/* A backend new since the baseline counts from now on. */
		if (base || !r->base_ok[slot] || conns < r->base_conns[slot] ||
		    failed < r->base_failed[slot]) {
			r->base_conns[slot] = conns;
			r->base_failed[slot] = failed;
			r->base_ok[slot] = true;
		}
		r->conns += conns - r->base_conns[slot];
		r->failed += failed - r->base_failed[slot];
	}
	rollout_read_ejected(r, ver);
	return CTL_OK;
}

/* ---- a step -------------------------------------------------------------- */
static int wait_signal(double secs)
{
	sigset_t set;
	struct timespec ts;
	int sig;

	if (secs < 0)
		secs = 0;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sig = sigtimedwait(&set, NULL, &ts);
	return sig > 0 ? sig : 0;
}

/* The step's outcome at the end of an interval, or -1: extend it. */
static int judge(struct rollout_run *r)
{
	const struct rollout_args *a = r->a;
	double rate = rollout_rate(r->failed, r->conns);
	char pct[16];

	rollout_pct(pct, sizeof(pct), a->steps[r->step]);
	if (r->conns >= a->min_conns) {
		if (rate <= a->max_rate)
			return PASSED;
		snprintf(r->why, sizeof(r->why),
			 "%s failed %llu of %llu connections (%.2f%%) at step "
			 "%d/%d (%s%%), above --max-failure-rate %.2f%%",
			 a->version, (unsigned long long)r->failed,
			 (unsigned long long)r->conns, 100 * rate, r->step + 1,
			 a->n_steps, pct, 100 * a->max_rate);
		return BREACH;
	}
	/* Too few to judge, unless the failures are too many even if every
	 * attempt still missing to --min-connections succeeded. */
	if (rollout_rate(r->failed, a->min_conns) > a->max_rate) {
		snprintf(r->why, sizeof(r->why),
			 "%s failed %llu of %llu connections at step %d/%d "
			 "(%s%%): %.2f%% of --min-connections %lu, above "
			 "--max-failure-rate %.2f%%",
			 a->version, (unsigned long long)r->failed,
			 (unsigned long long)r->conns, r->step + 1, a->n_steps,
			 pct, 100 * rollout_rate(r->failed, a->min_conns),
			 a->min_conns, 100 * a->max_rate);
		return BREACH;
	}
	if (r->intervals > a->extend) {
		snprintf(r->why, sizeof(r->why),
			 "only %llu connections reached %s at step %d/%d "
			 "(%s%%) in %u interval%s of %gs, fewer than "
			 "--min-connections %lu: too little traffic to judge",
			 (unsigned long long)r->conns, a->version, r->step + 1,
			 a->n_steps, pct, r->intervals,
			 r->intervals == 1 ? "" : "s", a->interval_s,
			 a->min_conns);
		return TOO_FEW;
	}
	return -1; /* extend */
}

static enum rollout_outcome run_step(struct rollout_run *r)
{
	const struct rollout_args *a = r->a;
	double next_tick;
	int ret, sig;

	r->started = rollout_now();
	r->deadline = r->started + a->interval_s;
	r->intervals = 1;
	next_tick = r->started + r->tick;
	memset(r->base_ok, 0, sizeof(r->base_ok));
	ret = read_counts(r, true);
	if (ret)
		return ret == ROUTE_CHANGED ? CHANGED : FAILED;
	if (rollout_judge_ejected(r))
		return BREACH;
	/* Bounded: each pass sleeps to the next tick or deadline, and the
	 * deadline moves at most --extend times. */
	for (;;) {
		double t = rollout_now();
		double wake = next_tick < r->deadline ? next_tick : r->deadline;
		int out;

		if (r->cfg->health_failures && wake > t + HEALTH_POLL_S)
			wake = t + HEALTH_POLL_S;
		sig = wait_signal(wake - t);
		if (sig) {
			r->signal = sig;
			return INTERRUPTED;
		}
		ret = read_counts(r, false);
		if (ret)
			return ret == ROUTE_CHANGED ? CHANGED : FAILED;
		if (rollout_judge_ejected(r))
			return BREACH;
		t = rollout_now();
		if (t < r->deadline) {
			if (t >= next_tick) {
				rollout_progress(r);
				while (next_tick <= t)
					next_tick += r->tick;
			}
			continue;
		}
		out = judge(r);
		if (out >= 0)
			return (enum rollout_outcome)out;
		r->intervals++;
		r->deadline += a->interval_s;
		next_tick = t + r->tick;
		rollout_report_extend(r);
	}
}

/* ---- the rollout --------------------------------------------------------- */

/*
 * Everything that can be checked before the first change: the route, the
 * canary, the rules to step and where each rule's remaining share goes.
 * CTL_OK or CTL_ERR (printed).
 */
static int check_route(struct rollout_run *r)
{
	const struct rollout_args *a = r->a;
	struct steer_route_cfg *cfg = r->cfg;
	__u16 split[STEER_MAX_VERSIONS];
	char err[512];
	int v;

	if (maps_open(r->c->bpffs, &r->m, err, sizeof(err)))
		return ctl_error(r->c, CTL_ERR, "%s", err);
	r->id = maps_route_find(&r->m, a->route, cfg);
	if (r->id == -ENOENT)
		return ctl_error(r->c, CTL_ERR, "no route named '%s'",
				 a->route);
	if (r->id < 0)
		return ctl_error(r->c, CTL_ERR, "cannot read routes: %s",
				 strerror(-r->id));
	v = compile_version_index(cfg, a->version);
	if (v < 0)
		return ctl_error(r->c, CTL_ERR, "route %s has no version '%s'",
				 a->route, a->version);
	if (cfg->n_versions < 2)
		return ctl_error(r->c, CTL_ERR,
				 "route %s has no version but %s: nothing to "
				 "release it next to",
				 a->route, a->version);
	if (cfg->n_rules < 1)
		return ctl_error(r->c, CTL_ERR, "route %s has no rules",
				 a->route);
	for (int i = 0; i < a->n_rules; i++) {
		int rule = compile_rule_index(cfg, a->rules[i]);

		if (rule < 0)
			return ctl_error(r->c, CTL_ERR,
					 "route %s has no rule named '%s'",
					 a->route, a->rules[i]);
		r->stepped[rule] = true;
	}
	if (!a->n_rules)
		r->stepped[default_rule(cfg)] = true;
	for (int i = 0; i < cfg->n_rules && i < STEER_MAX_RULES; i++)
		if (r->stepped[i] && step_split(cfg, i, v, a->steps[0], split))
			return ctl_error(r->c, CTL_ERR,
					 "rule %s: its file split gives the "
					 "versions other than %s nothing, so "
					 "the rest of each step has nowhere to "
					 "go; give it a share in the route "
					 "file or choose another --rule",
					 cfg->rules[i].name, a->version);
	return CTL_OK;
}
/* Stop the rollout early: roll back (unless someone else took over). */
static int stop(struct rollout_run *r, enum rollout_outcome out)
{
	char why[sizeof(r->why)];
	int ret;

	if (out == INTERRUPTED)
		snprintf(r->why, sizeof(r->why),
			 "interrupted by %s at step %d/%d",
			 rollout_sig_name(r->signal), r->step + 1,
			 r->a->n_steps);
	if (out == CHANGED)
		snprintf(r->why, sizeof(r->why),
			 "route %s was changed while the rollout ran (its "
			 "route file, or another steerctl): stopped, leaving "
			 "it as it is now ('steerctl status %s')",
			 r->a->route, r->a->route);
	rollout_report_stop(r, out);
	if (out == CHANGED)
		return rollout_finish(r, "stopped", CTL_ERR);
	ret = publish(r, EDIT_ROLLBACK);
	strcpy(why, r->why);
	if (ret) {
		snprintf(r->why, sizeof(r->why),
			 "%.300s; the ROLLBACK FAILED: run 'steerctl rollback "
			 "%s'",
			 why, r->a->route);
		return rollout_finish(r, "error", CTL_ERR);
	}
	rollout_report_edit(
		r, "rollback",
		"rolled back: every rule's split is the route file's");
	snprintf(r->why, sizeof(r->why),
		 "%.400s: rolled back to the route file", why);
	return rollout_finish(r, "rolled_back", CTL_ERR);
}

static int rollout(struct rollout_run *r)
{
	enum rollout_outcome out;
	int ret;

	rollout_report_start(r);
	for (r->step = 0; r->step < r->a->n_steps; r->step++) {
		r->signal = wait_signal(0);
		if (r->signal)
			return stop(r, INTERRUPTED);
		ret = publish(r, EDIT_STEP);
		if (ret == ROUTE_CHANGED)
			return stop(r, CHANGED);
		if (ret) {
			snprintf(r->why, sizeof(r->why),
				 "cannot publish step %d/%d", r->step + 1,
				 r->a->n_steps);
			return stop(r, FAILED);
		}
		rollout_report_step(r);
		out = run_step(r);
		if (out != PASSED)
			return stop(r, out);
		rollout_report_passed(r);
	}
	r->step = r->a->n_steps - 1;
	/* A signal that came while the last step was judged stops the
	 * promote too. */
	r->signal = wait_signal(0);
	if (r->signal)
		return stop(r, INTERRUPTED);
	ret = publish(r, EDIT_PROMOTE);
	if (ret == ROUTE_CHANGED)
		return stop(r, CHANGED);
	if (ret) {
		snprintf(r->why, sizeof(r->why), "cannot promote %s",
			 r->a->version);
		return stop(r, FAILED);
	}
	rollout_report_edit(r, "promote",
			    "promoted: every rule sends 100% to the canary");
	return rollout_finish(r, "promoted", CTL_OK);
}

static int run_rollout(struct ctl *c, int argc, char **argv)
{
	struct rollout_args a;
	struct rollout_run *r;
	sigset_t set;
	int ret;

	c->json_lines = c->json; /* one event per line, errors too */
	ret = rollout_parse_args(c, argc, argv, &a);
	if (ret)
		return ret;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ctl_error(c, CTL_ERR, "out of memory");
	r->c = c;
	r->a = &a;
	memset(&r->m, 0xff, sizeof(r->m)); /* every fd -1 until opened */
	r->cfg = calloc(1, sizeof(*r->cfg));
	r->tty = !c->json && isatty(STDOUT_FILENO);
	r->tick = c->json ? TICK_JSON_S : r->tty ? TICK_TTY_S : TICK_LOG_S;
	if (r->tick > a.interval_s / 2)
		r->tick = a.interval_s / 2;
	if (!r->cfg) {
		ret = ctl_error(c, CTL_ERR, "out of memory");
		goto out;
	}
	ret = check_route(r);
	if (ret)
		goto out;
	/*
	 * From the first change on, SIGINT, SIGTERM and SIGHUP are taken by
	 * sigtimedwait() in the step's wait: they roll back, never kill us
	 * half-way. A closed stdout must not kill us either (EPIPE instead).
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	ret = rollout(r);
out:
	maps_close(&r->m);
	route_cfg_destroy(r->cfg, 1);
	free(r);
	return ret;
}

const struct ctl_cmd ctl_cmd_rollout = {
	.name = "rollout",
	.run = run_rollout,
	.summary = "release VERSION step by step; roll back on failures",
	.help = rollout_help,
};
