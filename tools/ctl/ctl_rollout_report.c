// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerctl rollout's output: text for people and CI logs (a status line
 * redrawn in place only on a terminal), or with -o json one event per line
 * (see `steerctl help rollout`).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "ctl_rollout.h"

double rollout_now(void)
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

double rollout_rate(__u64 failed, __u64 conns)
{
	return conns ? (double)failed / (double)conns : 0.0;
}

/* ---- output ------------------------------------------------------------ */

/* A new JSON event {"event": @name, "time": ...}; add members, then emit(). */
static struct json_object *event(const char *name)
{
	struct json_object *o = json_object_new_object();

	double w = wall();
	char t[32];

	snprintf(t, sizeof(t), "%.3f", w);
	json_object_object_add(o, "event", json_object_new_string(name));
	json_object_object_add(o, "time", json_object_new_double_s(w, t));
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

/* Numbers as people write them: 0.3, not 0.29999999999999999. */
static void add_num(struct json_object *o, const char *k, double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.6g", v);
	json_object_object_add(o, k, json_object_new_double_s(v, buf));
}

void rollout_say(struct rollout_run *r, const char *fmt, ...)
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
	for (int v = 0;
	     v < cfg->n_versions && v < STEER_MAX_VERSIONS && off < len; v++)
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
		json_object_object_add(
			ro, "name", json_object_new_string(cfg->rules[i].name));
		json_object_object_add(ro, "split", so);
		json_object_array_add(a, ro);
	}
	return a;
}

/* The counters of the step so far, as the members of a JSON event. */
static void add_counts(const struct rollout_run *r, struct json_object *o)
{
	add_int(o, "step", r->step + 1);
	add_num(o, "share", r->a->steps[r->step] / 100.0);
	add_int(o, "connections", (long long)r->conns);
	add_int(o, "failed", (long long)r->failed);
	add_num(o, "failure_rate", rollout_rate(r->failed, r->conns));
}

static double total_left(const struct rollout_run *r, double t)
{
	double left = r->deadline - t;

	return (left > 0 ? left : 0) +
	       (r->a->n_steps - r->step - 1) * r->a->interval_s;
}

void rollout_progress(struct rollout_run *r)
{
	double t = rollout_now(), left = r->deadline - t;
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
	       100 * rollout_rate(r->failed, r->conns), left, total_left(r, t));
	if (r->tty)
		r->line_open = true;
	else
		printf("\n");
	fflush(stdout);
}

const char *rollout_sig_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
}

/* Wait up to @secs for SIGINT/SIGTERM/SIGHUP (blocked): the signal or 0. */
void rollout_report_start(struct rollout_run *r)
{
	const struct rollout_args *a = r->a;
	char rules[256] = "", steps[512] = "", pct[16];
	size_t ro = 0, so = 0;
	struct json_object *o, *ra, *sa;

	ra = json_object_new_array();
	sa = json_object_new_array();
	for (int i = 0; i < r->cfg->n_rules && i < STEER_MAX_RULES; i++)
		if (r->stepped[i]) {
			json_object_array_add(
				ra,
				json_object_new_string(r->cfg->rules[i].name));
			if (ro < sizeof(rules))
				ro += snprintf(rules + ro, sizeof(rules) - ro,
					       "%s%s", ro ? ", " : "",
					       r->cfg->rules[i].name);
		}
	for (int i = 0; i < a->n_steps; i++) {
		snprintf(pct, sizeof(pct), "%g", a->steps[i] / 100.0);
		json_object_array_add(
			sa, json_object_new_double_s(a->steps[i] / 100.0, pct));
		if (so < sizeof(steps))
			so += snprintf(
				steps + so, sizeof(steps) - so, "%s%s%%",
				i ? ", " : "",
				rollout_pct(pct, sizeof(pct), a->steps[i]));
	}
	if (!r->c->json) {
		json_object_put(ra);
		json_object_put(sa);
		rollout_say(r,
			    "rollout %s: %s at %s of rule%s %s, %gs each, then "
			    "promote; a step fails above %.2f%% failed "
			    "connections (judged on at least %lu, up to %u "
			    "more interval%s)",
			    a->route, a->version, steps,
			    strchr(rules, ',') ? "s" : "", rules, a->interval_s,
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

void rollout_report_step(struct rollout_run *r)
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
	rollout_say(r, "step %d/%d: %s at %s%% (generation %llu)", r->step + 1,
		    a->n_steps, a->version,
		    rollout_pct(pct, sizeof(pct), a->steps[r->step]),
		    r->generation);
	for (int i = 0; i < r->cfg->n_rules && i < STEER_MAX_RULES; i++)
		if (r->stepped[i])
			rollout_say(r, "  rule %-14s %s", r->cfg->rules[i].name,
				    split_text(split, sizeof(split), r->cfg,
					       r->cfg->rules[i].split));
}

void rollout_report_passed(struct rollout_run *r)
{
	struct json_object *o;

	if (r->c->json) {
		o = event("passed");
		add_counts(r, o);
		add_num(o, "duration_s", rollout_now() - r->started);
		emit(o);
		return;
	}
	rollout_say(
		r,
		"step %d/%d passed: %llu connections, %llu failed (%.2f%%, at "
		"most %.2f%%)",
		r->step + 1, r->a->n_steps, (unsigned long long)r->conns,
		(unsigned long long)r->failed,
		100 * rollout_rate(r->failed, r->conns), 100 * r->a->max_rate);
}

/* The event that ends a step early: breach, too_few, interrupted. */
void rollout_report_stop(struct rollout_run *r, enum rollout_outcome out)
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
		rollout_say(r, "step %d/%d stopped: %s", r->step + 1,
			    r->a->n_steps, r->why);
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
			json_object_new_string(rollout_sig_name(r->signal)));
	if (out == BREACH && r->n_ejected) {
		struct json_object *list = json_object_new_array();

		for (int i = 0; i < r->n_ejected; i++) {
			struct json_object *b = json_object_new_object();

			json_object_object_add(
				b, "address",
				json_object_new_string(r->ejected[i]));
			add_int(b, "ejected_for_ms",
				(long long)r->ejected_ms[i]);
			json_object_array_add(list, b);
		}
		json_object_object_add(o, "ejected", list);
		json_object_object_add(
			o, "all_ejected",
			json_object_new_boolean(r->n_ejected == r->n_canary));
	}
	json_object_object_add(o, "reason", json_object_new_string(r->why));
	emit(o);
}

/* After a publish: "promote" or "rollback" with every rule's split. */
void rollout_report_edit(struct rollout_run *r, const char *name,
			 const char *text)
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
	rollout_say(r, "%s (generation %llu)", text, r->generation);
	for (int i = 0; i < r->cfg->n_rules && i < STEER_MAX_RULES; i++)
		rollout_say(r, "  rule %-14s %s", r->cfg->rules[i].name,
			    split_text(split, sizeof(split), r->cfg,
				       r->cfg->rules[i].split));
}

/* The last event: {"event": "done", "result", "status", "message"}. */
int rollout_finish(struct rollout_run *r, const char *result, int status)
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
		rollout_say(r,
			    "rollout %s: %s released; make it permanent in the "
			    "route "
			    "file",
			    r->a->route, r->a->version);
	}
	return status;
}

void rollout_report_extend(struct rollout_run *r)
{
	const struct rollout_args *a = r->a;

	if (r->c->json) {
		struct json_object *o = event("extend");

		add_counts(r, o);
		add_int(o, "min_connections", (long long)a->min_conns);
		add_int(o, "extension", r->intervals - 1);
		add_int(o, "extend", a->extend);
		emit(o);
	} else {
		rollout_say(r,
			    "step %d/%d: %llu connections, fewer than "
			    "--min-connections %lu: one more interval (%u of "
			    "%u)",
			    r->step + 1, a->n_steps,
			    (unsigned long long)r->conns, a->min_conns,
			    r->intervals - 1, a->extend);
	}
}
