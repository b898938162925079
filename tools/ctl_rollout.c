// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl rollout: the release pipeline in one command (DESIGN.md §7).
 * Each step publishes the canary's share (the read-modify-publish cycle of
 * `set`, tools/ctl_edit.c), waits the interval while it reads the canary's
 * per-backend counters, and judges the failure rate over that step alone.
 * A breach, too little traffic to judge, or SIGINT/SIGTERM/SIGHUP rolls the
 * splits back to the route file at once and exits 1; after the last step
 * the canary is promoted and the exit status is 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
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

enum outcome { PASSED, BREACH, TOO_FEW, INTERRUPTED, CHANGED, FAILED };
/* publish() and read_counts(): someone else changed the splits. */
#define ROUTE_CHANGED 100
enum edit { EDIT_STEP, EDIT_PROMOTE, EDIT_ROLLBACK };

struct run {
	struct ctl *c;
	const struct rollout_args *a;
	struct steer_maps m; /* held for counter reads */
	struct steer_route_cfg *cfg; /* scratch: the live config */
	int id;
	bool stepped[STEER_MAX_RULES];
	/* Splits as we last published them: anything else is someone else's. */
	__u16 published[STEER_MAX_RULES][STEER_MAX_VERSIONS];
	bool have_published;
	unsigned long long generation;
	bool tty, line_open;
	double tick;
	/* the step being run */
	int step;
	__u64 base_conns[STEER_MAX_BACKENDS], base_failed[STEER_MAX_BACKENDS];
	bool base_ok[STEER_MAX_BACKENDS];
	__u64 conns, failed;
	double started, deadline;
	unsigned int intervals;
	int signal;
	char why[512]; /* the reason of a failed rollout, one line */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double rate_of(__u64 failed, __u64 conns)
{
	return conns ? (double)failed / (double)conns : 0.0;
}

/* ---- output ------------------------------------------------------------ */

/* A new JSON event {"event": @name, "time": ...}; add members, then emit(). */
static struct json_object *event(const char *name)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "time", json_object_new_double(wall()));
	return o;
}

static void emit(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(
			       o, JSON_C_TO_STRING_PLAIN |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
}

static void add_int(struct json_object *o, const char *k, long long v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_num(struct json_object *o, const char *k, double v)
{
	json_object_object_add(o, k, json_object_new_double(v));
}

/* One line of text progress (ends a status line redrawn in place first). */
static void say(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->line_open)
		printf("\r\033[K");
	r->line_open = false;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* "v1 90%, v2 10%" for @split of @cfg into @buf. */
static const char *split_text(char *buf, size_t len,
			      const struct steer_route_cfg *cfg,
			      const __u16 *split)
{
	size_t off = 0;
	char pct[16];

	buf[0] = '\0';
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS &&
			off < len;
	     v++)
		off += snprintf(buf + off, len - off, "%s%s %s%%",
				v ? ", " : "", cfg->versions[v].name,
				rollout_pct(pct, sizeof(pct), split[v]));
	return buf;
}

/* [{name, split: {version: percent}}] of every rule, as `set` prints. */
static struct json_object *rules_json(const struct steer_route_cfg *cfg)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < cfg->n_rules && i < STEER_MAX_RULES; i++) {
		struct json_object *ro = json_object_new_object();
		struct json_object *so = json_object_new_object();

		for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS;
		     v++)
			add_num(so, cfg->versions[v].name,
				cfg->rules[i].split[v] / 100.0);
		json_object_object_add(ro, "name",
				       json_object_new_string(
					       cfg->rules[i].name));
		json_object_object_add(ro, "split", so);
		json_object_array_add(a, ro);
	}
	return a;
}

/* The counters of the step so far, as the members of a JSON event. */
static void add_counts(const struct run *r, struct json_object *o)
{
	add_int(o, "step", r->step + 1);
	add_num(o, "share", r->a->steps[r->step] / 100.0);
	add_int(o, "connections", (long long)r->conns);
	add_int(o, "failed", (long long)r->failed);
	add_num(o, "failure_rate", rate_of(r->failed, r->conns));
}

static double total_left(const struct run *r, double t)
{
	double left = r->deadline - t;

	return (left > 0 ? left : 0) +
	       (r->a->n_steps - r->step - 1) * r->a->interval_s;
}

static void progress(struct run *r)
{
	double t = now(), left = r->deadline - t;
	char pct[16];

	if (left < 0)
		left = 0;
	if (r->c->json) {
		struct json_object *o = event("progress");

		add_counts(r, o);
		add_num(o, "elapsed_s", t - r->started);
		add_num(o, "left_s", left);
		add_num(o, "total_left_s", total_left(r, t));
		emit(o);
		return;
	}
	if (r->tty)
		printf("\r\033[K");
	printf("  step %d/%d %s%%: %llu connections, %llu failed (%.2f%%), "
	       "%.1fs left (%.1fs in all)",
	       r->step + 1, r->a->n_steps,
	       rollout_pct(pct, sizeof(pct), r->a->steps[r->step]),
	       (unsigned long long)r->conns, (unsigned long long)r->failed,
	       100 * rate_of(r->failed, r->conns), left, total_left(r, t));
	if (r->tty)
		r->line_open = true;
	else
		printf("\n");
	fflush(stdout);
}

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
	compile_apportion(w, n, STEER_SPLIT_SLOTS - share, got);
	for (int i = 0; i < n && i < STEER_MAX_VERSIONS; i++)
		out[i] = (__u16)(i == v ? share : got[i]);
	return 0;
}

static bool splits_ours(const struct run *r, const struct steer_route_cfg *cfg)
{
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
static int publish(struct run *r, enum edit what)
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
			split[v] = STEER_SPLIT_SLOTS;
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
	r->have_published = true;
	r->generation = e.cfg->generation;
	memcpy(r->cfg, e.cfg, sizeof(*r->cfg));
out:
	ctl_edit_end(&e);
	return ret;
}

/*
 * Read the live route and the canary's counters summed over its backends
 * and both layers, as deltas from the step's baseline (taken with @base).
 * CTL_OK, ROUTE_CHANGED, or CTL_ERR with r->why set.
 */
static int read_counts(struct run *r, bool base)
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
	for (int b = 0; b < ver->n_backends && b < STEER_MAX_BACKENDS; b++) {
		__u32 slot = ver->backends[b].stats_slot % STEER_MAX_BACKENDS;
		__u64 conns = 0, failed = 0;

		for (int l = 0; l < STEER_LAYER_COUNT; l++) {
			ret = maps_backend_stats_read(&r->m, (__u32)r->id,
						      ver->stats_slot, slot,
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
	return CTL_OK;
}

/* ---- a step -------------------------------------------------------------- */

static const char *sig_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
}

/* Wait up to @secs for SIGINT/SIGTERM/SIGHUP (blocked): the signal or 0. */
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
static int judge(struct run *r)
{
	const struct rollout_args *a = r->a;
	double rate = rate_of(r->failed, r->conns);
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
	if (rate_of(r->failed, a->min_conns) > a->max_rate) {
		snprintf(r->why, sizeof(r->why),
			 "%s failed %llu of %llu connections at step %d/%d "
			 "(%s%%): %.2f%% of --min-connections %lu, above "
			 "--max-failure-rate %.2f%%",
			 a->version, (unsigned long long)r->failed,
			 (unsigned long long)r->conns, r->step + 1, a->n_steps,
			 pct, 100 * rate_of(r->failed, a->min_conns),
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

static enum outcome run_step(struct run *r)
{
	const struct rollout_args *a = r->a;
	double next_tick;
	int ret, sig;

	r->started = now();
	r->deadline = r->started + a->interval_s;
	r->intervals = 1;
	next_tick = r->started + r->tick;
	memset(r->base_ok, 0, sizeof(r->base_ok));
	ret = read_counts(r, true);
	if (ret)
		return ret == ROUTE_CHANGED ? CHANGED : FAILED;
	/* Bounded: each pass sleeps to the next tick or deadline, and the
	 * deadline moves at most --extend times. */
	for (;;) {
		double t = now();
		int out;

		sig = wait_signal((next_tick < r->deadline ? next_tick
							   : r->deadline) -
				  t);
		if (sig) {
			r->signal = sig;
			return INTERRUPTED;
		}
		ret = read_counts(r, false);
		if (ret)
			return ret == ROUTE_CHANGED ? CHANGED : FAILED;
		t = now();
		if (t < r->deadline) {
			if (t >= next_tick) {
				progress(r);
				while (next_tick <= t)
					next_tick += r->tick;
			}
			continue;
		}
		out = judge(r);
		if (out >= 0)
			return (enum outcome)out;
		r->intervals++;
		r->deadline += a->interval_s;
		if (r->c->json) {
			struct json_object *o = event("extend");

			add_counts(r, o);
			add_int(o, "min_connections", (long long)a->min_conns);
			add_int(o, "extension", r->intervals - 1);
			add_int(o, "extend", a->extend);
			emit(o);
		} else {
			say(r,
			    "step %d/%d: %llu connections, fewer than "
			    "--min-connections %lu: one more interval (%u of "
			    "%u)",
			    r->step + 1, a->n_steps,
			    (unsigned long long)r->conns, a->min_conns,
			    r->intervals - 1, a->extend);
		}
	}
}

/* ---- the rollout --------------------------------------------------------- */

/*
 * Everything that can be checked before the first change: the route, the
 * canary, the rules to step and where each rule's remaining share goes.
 * CTL_OK or CTL_ERR (printed).
 */
static int check_route(struct run *r)
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

static void report_start(struct run *r)
{
	const struct rollout_args *a = r->a;
	char rules[256] = "", steps[512] = "", pct[16];
	size_t ro = 0, so = 0;
	struct json_object *o, *ra, *sa;

	ra = json_object_new_array();
	sa = json_object_new_array();
	for (int i = 0; i < r->cfg->n_rules && i < STEER_MAX_RULES; i++)
		if (r->stepped[i]) {
			json_object_array_add(ra, json_object_new_string(
							  r->cfg->rules[i].name));
			if (ro < sizeof(rules))
				ro += snprintf(rules + ro, sizeof(rules) - ro,
					       "%s%s", ro ? ", " : "",
					       r->cfg->rules[i].name);
		}
	for (int i = 0; i < a->n_steps; i++) {
		json_object_array_add(sa,
				      json_object_new_double(a->steps[i] / 100.0));
		if (so < sizeof(steps))
			so += snprintf(steps + so, sizeof(steps) - so, "%s%s%%",
				       i ? ", " : "",
				       rollout_pct(pct, sizeof(pct),
						   a->steps[i]));
	}
	if (!r->c->json) {
		json_object_put(ra);
		json_object_put(sa);
		say(r,
		    "rollout %s: %s at %s of rule %s, %gs each, then promote; "
		    "a step fails above %.2f%% failed connections (judged on "
		    "at least %lu, up to %u more interval%s)",
		    a->route, a->version, steps, rules, a->interval_s,
		    100 * a->max_rate, a->min_conns, a->extend,
		    a->extend == 1 ? "" : "s");
		return;
	}
	o = event("start");
	json_object_object_add(o, "route", json_object_new_string(a->route));
	json_object_object_add(o, "version",
			       json_object_new_string(a->version));
	json_object_object_add(o, "rules", ra);
	json_object_object_add(o, "steps", sa);
	add_num(o, "interval_s", a->interval_s);
	add_num(o, "max_failure_rate", a->max_rate);
	add_int(o, "min_connections", (long long)a->min_conns);
	add_int(o, "extend", a->extend);
	emit(o);
}

static void report_step(struct run *r)
{
	const struct rollout_args *a = r->a;
	char pct[16], split[256];
	struct json_object *o;

	if (r->c->json) {
		o = event("step");
		add_int(o, "step", r->step + 1);
		add_int(o, "steps", a->n_steps);
		add_num(o, "share", a->steps[r->step] / 100.0);
		add_int(o, "generation", (long long)r->generation);
		json_object_object_add(o, "rules", rules_json(r->cfg));
		emit(o);
		return;
	}
	say(r, "step %d/%d: %s at %s%% (generation %llu)", r->step + 1,
	    a->n_steps, a->version,
	    rollout_pct(pct, sizeof(pct), a->steps[r->step]), r->generation);
	for (int i = 0; i < r->cfg->n_rules && i < STEER_MAX_RULES; i++)
		if (r->stepped[i])
			say(r, "  rule %-14s %s", r->cfg->rules[i].name,
			    split_text(split, sizeof(split), r->cfg,
				       r->cfg->rules[i].split));
}

static void report_passed(struct run *r)
{
	struct json_object *o;

	if (r->c->json) {
		o = event("passed");
		add_counts(r, o);
		add_num(o, "duration_s", now() - r->started);
		emit(o);
		return;
	}
	say(r, "step %d/%d passed: %llu connections, %llu failed (%.2f%%, at "
	       "most %.2f%%)",
	    r->step + 1, r->a->n_steps, (unsigned long long)r->conns,
	    (unsigned long long)r->failed, 100 * rate_of(r->failed, r->conns),
	    100 * r->a->max_rate);
}

/* The event that ends a step early: breach, too_few, interrupted. */
static void report_stop(struct run *r, enum outcome out)
{
	static const char *const names[] = {
		[BREACH] = "breach",
		[TOO_FEW] = "too_few",
		[INTERRUPTED] = "interrupted",
		[CHANGED] = "changed",
		[FAILED] = "error",
	};
	struct json_object *o;

	if (!r->c->json) {
		say(r, "step %d/%d stopped: %s", r->step + 1, r->a->n_steps,
		    r->why);
		return;
	}
	o = event(names[out]);
	add_counts(r, o);
	add_num(o, "max_failure_rate", r->a->max_rate);
	add_int(o, "min_connections", (long long)r->a->min_conns);
	add_int(o, "intervals", r->intervals);
	if (out == INTERRUPTED)
		json_object_object_add(
			o, "signal",
			json_object_new_string(sig_name(r->signal)));
	json_object_object_add(o, "reason", json_object_new_string(r->why));
	emit(o);
}

/* After a publish: "promote" or "rollback" with every rule's split. */
static void report_edit(struct run *r, const char *name, const char *text)
{
	char split[256];
	struct json_object *o;

	if (r->c->json) {
		o = event(name);
		add_int(o, "generation", (long long)r->generation);
		json_object_object_add(o, "rules", rules_json(r->cfg));
		emit(o);
		return;
	}
	say(r, "%s (generation %llu)", text, r->generation);
	for (int i = 0; i < r->cfg->n_rules && i < STEER_MAX_RULES; i++)
		say(r, "  rule %-14s %s", r->cfg->rules[i].name,
		    split_text(split, sizeof(split), r->cfg,
			       r->cfg->rules[i].split));
}

/* The last event: {"event": "done", "result", "status", "message"}. */
static int finish(struct run *r, const char *result, int status)
{
	const char *msg = status ? r->why : "released";
	struct json_object *o;

	if (r->c->json) {
		o = event("done");
		json_object_object_add(o, "route",
				       json_object_new_string(r->a->route));
		json_object_object_add(o, "version",
				       json_object_new_string(r->a->version));
		json_object_object_add(o, "result",
				       json_object_new_string(result));
		add_int(o, "status", status);
		add_int(o, "generation", (long long)r->generation);
		json_object_object_add(o, "message",
				       json_object_new_string(msg));
		emit(o);
	} else if (status) {
		fprintf(stderr, "steerctl: rollout %s: %s\n", r->a->route, msg);
	} else {
		say(r, "rollout %s: %s released; make it permanent in the route "
		       "file",
		    r->a->route, r->a->version);
	}
	return status;
}

/* Stop the rollout early: roll back (unless someone else took over). */
static int stop(struct run *r, enum outcome out)
{
	char why[sizeof(r->why)];
	int ret;

	if (out == INTERRUPTED)
		snprintf(r->why, sizeof(r->why),
			 "interrupted by %s at step %d/%d",
			 sig_name(r->signal),
			 r->step + 1, r->a->n_steps);
	if (out == CHANGED)
		snprintf(r->why, sizeof(r->why),
			 "route %s was changed while the rollout ran (its "
			 "route file, or another steerctl): stopped, leaving "
			 "it as it is now ('steerctl status %s')",
			 r->a->route, r->a->route);
	report_stop(r, out);
	if (out == CHANGED)
		return finish(r, "stopped", CTL_ERR);
	ret = publish(r, EDIT_ROLLBACK);
	strcpy(why, r->why);
	if (ret) {
		snprintf(r->why, sizeof(r->why),
			 "%.300s; the ROLLBACK FAILED: run 'steerctl rollback "
			 "%s'",
			 why, r->a->route);
		return finish(r, "error", CTL_ERR);
	}
	report_edit(r, "rollback",
		    "rolled back: every rule's split is the route file's");
	snprintf(r->why, sizeof(r->why), "%.400s: rolled back to the route file",
		 why);
	return finish(r, "rolled_back", CTL_ERR);
}

static int rollout(struct run *r)
{
	enum outcome out;
	int ret;

	report_start(r);
	for (r->step = 0; r->step < r->a->n_steps; r->step++) {
		ret = publish(r, EDIT_STEP);
		if (ret == ROUTE_CHANGED)
			return stop(r, CHANGED);
		if (ret) {
			snprintf(r->why, sizeof(r->why),
				 "cannot publish step %d/%d", r->step + 1,
				 r->a->n_steps);
			return stop(r, FAILED);
		}
		report_step(r);
		out = run_step(r);
		if (out != PASSED)
			return stop(r, out);
		report_passed(r);
	}
	r->step = r->a->n_steps - 1;
	ret = publish(r, EDIT_PROMOTE);
	if (ret == ROUTE_CHANGED)
		return stop(r, CHANGED);
	if (ret) {
		snprintf(r->why, sizeof(r->why), "cannot promote %s",
			 r->a->version);
		return stop(r, FAILED);
	}
	report_edit(r, "promote", "promoted: every rule sends 100% to the canary");
	return finish(r, "promoted", CTL_OK);
}

static int run_rollout(struct ctl *c, int argc, char **argv)
{
	struct rollout_args a;
	struct run *r;
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
	r->cfg = malloc(sizeof(*r->cfg));
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
	free(r->cfg);
	free(r);
	return ret;
}

const struct ctl_cmd ctl_cmd_rollout = {
	.name = "rollout",
	.run = run_rollout,
	.summary = "release VERSION step by step; roll back on failures",
	.help = "Usage: steerctl rollout ROUTE --to VERSION [--steps PCT,...] "
		"[--interval DUR]\n"
		"         [--max-failure-rate PCT] [--min-connections N] "
		"[--extend N]\n"
		"         [--rule NAME]...\n"
		"Release VERSION (the canary) in steps: for each step, set its "
		"share,\n"
		"wait the interval, and compare its failure rate over that "
		"interval\n"
		"with the threshold. On a breach, roll back at once, say why "
		"and exit\n"
		"1. After the last step, promote VERSION (100 % of every rule) "
		"and\n"
		"exit 0. Each change is one atomic publish, as with 'set'.\n"
		"\n"
		"  --to VERSION             the canary (required)\n"
		"  --steps PCT,...          its shares, increasing, above 0 and "
		"at most\n"
		"                           100, 2 decimals (default "
		"1,5,25,50,100)\n"
		"  --interval DUR           time per step: 500ms, 30s, 2m, 1h "
		"(a bare\n"
		"                           number is seconds; default 30s; "
		"100ms-24h)\n"
		"  --max-failure-rate PCT   a step fails above it: 1%, 0.5% "
		"(default 1%)\n"
		"  --min-connections N      attempts a step needs to be judged "
		"(default 10)\n"
		"  --extend N               extra intervals a step with too "
		"few may\n"
		"                           wait (default 3)\n"
		"  --rule NAME              the rule to step; repeat for "
		"several (default:\n"
		"                           the rule 'set' changes: 'default', "
		"else the last)\n"
		"\n"
		"A step sets the canary's share on the stepped rules; the rest "
		"goes to\n"
		"the other versions in proportion to the rule's file split of "
		"them (all\n"
		"of it to the other version when there is one). Other rules "
		"keep their\n"
		"split until the promote.\n"
		"\n"
		"The failure rate is failed / attempted connections of the "
		"canary's\n"
		"backends, both layers, whichever rule sent them, counted from "
		"the\n"
		"step's publish (deltas): failed means refused, reset or timed "
		"out\n"
		"before established, counted when the kernel sees it. A rate "
		"equal to\n"
		"the threshold passes. A step with fewer than --min-connections "
		"attempts\n"
		"at the end of its interval is judged against N instead: if its "
		"failures\n"
		"are above the threshold even of N attempts it fails at once; "
		"else it\n"
		"waits one more interval (counting on), at most --extend times, "
		"then\n"
		"fails: too little traffic to judge.\n"
		"\n"
		"Rolling back returns every rule's split to the route file "
		"(backend\n"
		"ejections stay). SIGINT, SIGTERM or SIGHUP during the rollout "
		"roll\n"
		"back and exit 1 (SIGKILL cannot: then run 'steerctl "
		"rollback'). If\n"
		"the splits change under the rollout (the route file changed, "
		"or\n"
		"another steerctl), it stops, changes nothing more and exits "
		"1.\n"
		"\n"
		"Output: one line per step, its end and each change, and a "
		"status line\n"
		"(step, share, connections, failures, time left) every second "
		"on a\n"
		"terminal (redrawn in place) or every 5 s otherwise (no control "
		"codes);\n"
		"why a rollout failed goes to stderr too. -o json: one JSON "
		"object per\n"
		"line, \"event\" one of start, step, progress (every second), "
		"extend,\n"
		"passed, breach, too_few, interrupted, changed, error, "
		"rollback,\n"
		"promote, done (always last: result promoted, rolled_back, "
		"stopped or\n"
		"error; status; message). share is in percent, failure_rate "
		"a\n"
		"fraction, as in 'status' and 'stats'.\n"
		"\n"
		"Exit status: 0 released, 1 rolled back, stopped, or bad "
		"route, version\n"
		"or rule (nothing changed), 2 usage (nothing changed).\n"
		"\n"
		"EXAMPLES\n"
		"  steerctl rollout reviews --to v2\n"
		"  steerctl rollout reviews --to v2 --steps 5,25,50,100 "
		"--interval 2m \\\n"
		"      --max-failure-rate 0.5% --min-connections 200\n"
		"  steerctl -o json rollout reviews --to v2 --interval 10s | "
		"jq -c \\\n"
		"      'select(.event == \"passed\" or .event == \"done\")'\n",
};
