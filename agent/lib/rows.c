/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Encoding a compiled route into rows and decoding it back. Row order:
 * header, name, two rows per rule, one per version, each version's
 * backend refs (IPv4 then IPv6, four to a row), then an affinity route's
 * tables. Backends of a version are IPv4 first in the compiled route too
 * (compile.c), so a ref's index is its backend's index less the IPv4
 * count for IPv6.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "rows.h"

#define ROW(rows, i) ((unsigned char *)(rows) + (size_t)(i)*STEER_ROW_SIZE)
#define DIV_UP(a, b) (((a) + (b)-1) / (b))
/* Both families' version tables back to back, 64 entries a row. */
#define RULE_TABLE_ROWS                                                        \
	DIV_UP(STEER_FAM_COUNT *STEER_SPLIT_POINTS, STEER_TABLE_PER_ROW)
#define BACKEND_TABLE_ROWS                                                     \
	DIV_UP(STEER_BACKEND_TABLE_UNIT, STEER_BTABLE_PER_ROW)

/* IPv4 backends of @v (they come first), and the usable weight of @b. */
static int n_inet(const struct steer_version *v)
{
	int n = 0;

	for (int i = 0; i < v->n_backends; i++)
		n += v->backends[i].family == STEER_FAM_INET;
	return n;
}

static __u32 usable_weight(const struct steer_backend *b)
{
	return (b->flags & STEER_BACKEND_EJECTED) ? 0 : b->weight;
}

static bool version_usable(const struct steer_version *v, int f)
{
	for (int i = 0; i < v->n_backends; i++)
		if (v->backends[i].family == f &&
		    usable_weight(&v->backends[i]))
			return true;
	return false;
}

/* Rows a route needs: see the layout at the top. */
static __u32 rows_needed(const struct steer_route_cfg *cfg)
{
	bool aff = cfg->flags & STEER_ROUTE_AFFINITY_CLIENT;
	__u32 n = 2 + 2 * cfg->n_rules + cfg->n_versions;

	for (int v = 0; v < cfg->n_versions; v++) {
		int n4 = n_inet(&cfg->versions[v]);
		int n6 = cfg->versions[v].n_backends - n4;

		n += DIV_UP(n4, STEER_REFS_PER_ROW) +
		     DIV_UP(n6, STEER_REFS_PER_ROW);
		for (int f = 0; f < STEER_FAM_COUNT; f++)
			if (compile_needs_table(cfg, &cfg->versions[v], f))
				n += BACKEND_TABLE_ROWS;
	}
	if (aff)
		n += cfg->n_rules * RULE_TABLE_ROWS;
	return n;
}

static void encode_rule(const struct steer_route_cfg *cfg, int r,
			struct steer_rule_row *row,
			struct steer_rule_meta *meta)
{
	const struct steer_rule *rule = &cfg->rules[r];

	for (int f = 0; f < STEER_FAM_COUNT; f++) {
		__u32 w[STEER_MAX_VERSIONS] = { 0 }, want[STEER_MAX_VERSIONS];
		__u32 cum = 0;

		/* A version with no usable backend of the family hands its
		 * share to the others, in proportion to theirs. */
		for (int v = 0; v < cfg->n_versions; v++)
			w[v] = version_usable(&cfg->versions[v], f)
				       ? rule->split[v]
				       : 0;
		compile_apportion(w, cfg->n_versions, STEER_SPLIT_POINTS, want);
		for (int v = 0; v < cfg->n_versions; v++) {
			cum += want[v];
			row->cum[f][v] = (__u16)cum;
		}
	}
	row->counter_slot = rule->counter_slot;
	memcpy(meta->name, rule->name, sizeof(meta->name));
	memcpy(meta->file_split, rule->file_split, sizeof(meta->file_split));
	memcpy(meta->split, rule->split, sizeof(meta->split));
}

static bool rule_has_match(const struct steer_match *m)
{
	return m->n_sources || m->n_cgroups || m->n_uids || m->n_ports;
}

static __u32 gcd(__u32 a, __u32 b)
{
	while (b) {
		__u32 t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * The health-aware choice's step through @n refs (bpf/lib/decide.h): about
 * 0.618 n, so that its probes spread over the list and leave a run of
 * ejected backends (a node's, listed together) in a step or two; coprime
 * with n, so that n steps visit every ref once.
 */
__u16 rows_probe_stride(__u32 n)
{
	__u32 s = (__u32)(((__u64)n * 0x9e3779b9u) >> 32);

	if (n <= 2)
		return 1;
	for (; s < n; s++)
		if (s && gcd(s, n) == 1)
			return (__u16)s;
	return 1;
}

/* The refs of family @f of version @v from row @at; returns rows used. */
static int encode_refs(__u32 cfg_flags, const struct steer_version *v, int f,
		       void *rows, __u32 at, rows_backend_id_fn backend_id,
		       void *ctx, struct steer_version_row *vr)
{
	struct steer_backend_ref *refs =
		(struct steer_backend_ref *)ROW(rows, at);
	__u32 cum = 0, n = 0, w0 = 0;
	bool equal = true;
	int ret;

	for (int i = 0; i < v->n_backends; i++) {
		const struct steer_backend *b = &v->backends[i];
		struct steer_backend_addr a = { .port = b->port,
						.family = b->family };
		struct steer_backend_ref *ref = &refs[n];

		if (b->family != f)
			continue;
		memcpy(a.addr, b->addr, sizeof(a.addr));
		ret = backend_id(ctx, &a, &ref->id);
		if (ret)
			return ret;
		cum += usable_weight(b);
		ref->cum = cum;
		ref->counter_slot = b->counter_slot;
		ref->weight = b->weight;
		ref->flags = b->flags;
		if (!usable_weight(b) || (n && b->weight != w0))
			equal = false;
		w0 = b->weight;
		n++;
	}
	vr->refs_row[f] = n ? (__u16)at : 0;
	vr->n_refs[f] = (__u16)n;
	vr->probe_stride[f] = rows_probe_stride(n);
	vr->total_weight[f] = cum;
	if (n && equal && !(cfg_flags & STEER_ROUTE_AFFINITY_CLIENT))
		vr->flags |= STEER_VERSION_EQUAL_INET << f;
	return (int)DIV_UP(n, STEER_REFS_PER_ROW);
}

/*
 * Version @v's backend table of family @f from row @at (@v needs one);
 * rows used, or -ENOMEM when compiling could not allocate the table.
 */
static int encode_backend_table(const struct steer_version *v, int f,
				void *rows, __u32 at,
				struct steer_version_row *vr)
{
	const __u16 *table = route_cfg_table(v, f);
	__u16 *t = (__u16 *)ROW(rows, at);
	int base = f == STEER_FAM_INET6 ? n_inet(v) : 0;

	if (!table)
		return -ENOMEM;
	for (int s = 0; s < STEER_BACKEND_TABLE_UNIT; s++) {
		__u16 b = table[s];

		t[s] = b >= v->n_backends || b < base ? STEER_BACKEND_NONE
						      : (__u16)(b - base);
	}
	vr->table_row[f] = (__u16)at;
	vr->table_len[f] = STEER_BACKEND_TABLE_UNIT;
	return BACKEND_TABLE_ROWS;
}

static void encode_header(const struct steer_route_cfg *cfg, __u32 bank,
			  __u32 n_rows, void *rows)
{
	struct steer_route_hdr *h = (struct steer_route_hdr *)ROW(rows, 0);

	h->flags = cfg->flags;
	h->seed = cfg->seed;
	h->n_rules = cfg->n_rules;
	h->n_versions = cfg->n_versions;
	h->n_allow = cfg->n_allow;
	h->n_deny = cfg->n_deny;
	h->n_frontends = cfg->n_frontends;
	h->match_bank = (__u8)(bank & 1);
	h->n_rows = (__u16)n_rows;
	h->rule_row = 2;
	h->version_row = (__u16)(2 + 2 * cfg->n_rules);
	h->health_failures = cfg->health_failures;
	h->health_eject_ms = cfg->health_eject_ms;
	h->health_max_eject_ms = cfg->health_max_eject_ms;
	h->health_max_ejected = cfg->health_max_ejected;
	h->max_connections = cfg->max_connections;
	h->generation = cfg->generation;
	h->source_hash = cfg->source_hash;
	h->file_hash = cfg->file_hash;
	h->applied_ns = cfg->applied_ns;
	memcpy(ROW(rows, 1), cfg->name, STEER_NAME_LEN);
}

static void add_match(struct route_rows *out, __u32 pos,
		      const struct steer_match *m)
{
	out->matches[out->n_matches].pos = pos;
	out->matches[out->n_matches].match = *m;
	out->n_matches++;
}

int rows_encode(const struct steer_route_cfg *cfg, __u32 bank,
		rows_backend_id_fn backend_id, void *ctx,
		struct route_rows *out)
{
	bool aff = cfg->flags & STEER_ROUTE_AFFINITY_CLIENT;
	__u32 n_rows, at;
	int r, v, f, ret;

	memset(out, 0, sizeof(*out));
	if (cfg->n_rules > STEER_MAX_RULES ||
	    cfg->n_versions > STEER_MAX_VERSIONS ||
	    cfg->n_allow > STEER_MAX_POLICY || cfg->n_deny > STEER_MAX_POLICY)
		return -E2BIG;
	n_rows = rows_needed(cfg);
	if (n_rows > STEER_MAX_ROWS)
		return -E2BIG;
	out->rows = calloc(n_rows, STEER_ROW_SIZE);
	if (!out->rows)
		return -ENOMEM;
	out->n_rows = n_rows;
	encode_header(cfg, bank, n_rows, out->rows);

	for (r = 0; r < cfg->n_rules; r++) {
		struct steer_rule_row *row =
			(struct steer_rule_row *)ROW(out->rows, 2 + 2 * r);

		encode_rule(
			cfg, r, row,
			(struct steer_rule_meta *)ROW(out->rows, 3 + 2 * r));
		if (rule_has_match(&cfg->rules[r].match)) {
			row->match_id = steer_match_id(0, bank, r);
			add_match(out, r, &cfg->rules[r].match);
		}
	}
	for (int i = 0; i < cfg->n_allow; i++)
		add_match(out, STEER_MATCH_ALLOW_BASE + i, &cfg->allow[i]);
	for (int i = 0; i < cfg->n_deny; i++)
		add_match(out, STEER_MATCH_DENY_BASE + i, &cfg->deny[i]);

	at = 2 + 2 * cfg->n_rules + cfg->n_versions;
	for (v = 0; v < cfg->n_versions; v++) {
		const struct steer_version *ver = &cfg->versions[v];
		struct steer_version_row *vr = (struct steer_version_row *)ROW(
			out->rows, 2 + 2 * cfg->n_rules + v);

		memcpy(vr->name, ver->name, sizeof(vr->name));
		vr->counter_slot = ver->counter_slot;
		for (f = 0; f < STEER_FAM_COUNT; f++) {
			ret = encode_refs(cfg->flags, ver, f, out->rows, at,
					  backend_id, ctx, vr);
			if (ret < 0)
				goto fail;
			at += (__u32)ret;
		}
		for (f = 0; f < STEER_FAM_COUNT; f++) {
			if (!compile_needs_table(cfg, ver, f))
				continue;
			ret = encode_backend_table(ver, f, out->rows, at, vr);
			if (ret < 0)
				goto fail;
			at += (__u32)ret;
		}
	}
	for (r = 0; aff && r < cfg->n_rules; r++) {
		struct steer_rule_row *row =
			(struct steer_rule_row *)ROW(out->rows, 2 + 2 * r);

		memcpy(ROW(out->rows, at), cfg->rules[r].table,
		       sizeof(cfg->rules[r].table));
		row->table_row = (__u16)at;
		at += RULE_TABLE_ROWS;
	}
	return 0;
fail:
	rows_free(out);
	return ret;
}

void rows_free(struct route_rows *r)
{
	free(r->rows);
	r->rows = NULL;
	r->n_rows = 0;
}

/* ---- decoding ---------------------------------------------------------- */

static const void *row_at(const void *rows, __u32 n_rows, __u32 i)
{
	return i < n_rows ? ROW(rows, i) : NULL;
}

static int decode_refs(const void *rows, __u32 n_rows,
		       const struct steer_version_row *vr, int f,
		       rows_backend_addr_fn backend_addr, void *ctx,
		       struct steer_version *v)
{
	for (__u32 i = 0; i < vr->n_refs[f]; i++) {
		const struct steer_backend_ref *refs = row_at(
			rows, n_rows, vr->refs_row[f] + i / STEER_REFS_PER_ROW);
		const struct steer_backend_ref *ref;
		struct steer_backend_addr a;
		struct steer_backend *b;
		int ret;

		if (!refs || v->n_backends >= ROUTE_MAX_BACKENDS)
			return -EUCLEAN;
		if (route_cfg_reserve(v, v->n_backends + 1))
			return -ENOMEM;
		ref = &refs[i % STEER_REFS_PER_ROW];
		ret = backend_addr(ctx, ref->id, &a);
		if (ret)
			return ret;
		b = &v->backends[v->n_backends++];
		memset(b, 0, sizeof(*b));
		memcpy(b->addr, a.addr, sizeof(b->addr));
		b->port = a.port;
		b->family = a.family;
		b->flags = ref->flags;
		b->weight = ref->weight;
		b->counter_slot = ref->counter_slot;
	}
	return 0;
}

static int decode_backend_table(const void *rows, __u32 n_rows,
				const struct steer_version_row *vr, int f,
				int base, struct steer_version *v)
{
	const __u16 *t;
	__u16 *table;

	if (!vr->table_row[f] || vr->table_len[f] != STEER_BACKEND_TABLE_UNIT)
		return 0;
	table = route_cfg_table_new(v, f);
	if (!table)
		return -ENOMEM;
	for (int s = 0; s < STEER_BACKEND_TABLE_UNIT; s++) {
		__u16 e;

		t = row_at(rows, n_rows,
			   vr->table_row[f] + s / STEER_BTABLE_PER_ROW);
		if (!t)
			return -EUCLEAN;
		e = t[s % STEER_BTABLE_PER_ROW];
		table[s] = e >= vr->n_refs[f] ? STEER_BACKEND_NONE
					      : (__u16)(e + base);
	}
	return 0;
}

static int decode_version(const void *rows, __u32 n_rows, __u32 i,
			  rows_backend_addr_fn backend_addr, void *ctx,
			  struct steer_version *v)
{
	const struct steer_version_row *vr = row_at(rows, n_rows, i);
	int ret, n4;

	if (!vr)
		return -EUCLEAN;
	memcpy(v->name, vr->name, sizeof(v->name));
	v->counter_slot = vr->counter_slot;
	for (int f = 0; f < STEER_FAM_COUNT; f++) {
		ret = decode_refs(rows, n_rows, vr, f, backend_addr, ctx, v);
		if (ret)
			return ret;
	}
	n4 = vr->n_refs[STEER_FAM_INET];
	for (int f = 0; f < STEER_FAM_COUNT; f++) {
		ret = decode_backend_table(rows, n_rows, vr, f,
					   f == STEER_FAM_INET6 ? n4 : 0, v);
		if (ret)
			return ret;
	}
	return 0;
}

static int decode_rule(const void *rows, __u32 n_rows, __u32 route,
		       const struct steer_route_hdr *h, int r,
		       rows_match_fn match, void *ctx, struct steer_rule *rule)
{
	const struct steer_rule_row *row =
		row_at(rows, n_rows, h->rule_row + 2 * r);
	const struct steer_rule_meta *meta =
		row_at(rows, n_rows, h->rule_row + 2 * r + 1);
	int ret;

	if (!row || !meta)
		return -EUCLEAN;
	memcpy(rule->name, meta->name, sizeof(rule->name));
	memcpy(rule->file_split, meta->file_split, sizeof(rule->file_split));
	memcpy(rule->split, meta->split, sizeof(rule->split));
	rule->counter_slot = row->counter_slot;
	if (row->match_id) {
		ret = match(ctx, steer_match_id(route, h->match_bank, r),
			    &rule->match);
		if (ret)
			return ret;
	}
	if (row->table_row) {
		for (__u32 s = 0; s < STEER_FAM_COUNT * STEER_SPLIT_POINTS;
		     s++) {
			const __u8 *t = row_at(rows, n_rows,
					       row->table_row +
						       s / STEER_TABLE_PER_ROW);

			if (!t)
				return -EUCLEAN;
			rule->table[s / STEER_SPLIT_POINTS]
				   [s % STEER_SPLIT_POINTS] =
				t[s % STEER_TABLE_PER_ROW];
		}
	}
	return 0;
}

int rows_decode_zeroed(const void *rows, __u32 n_rows, __u32 route,
		       rows_backend_addr_fn backend_addr, rows_match_fn match,
		       void *ctx, struct steer_route_cfg *out)
{
	const struct steer_route_hdr *h = rows;
	int ret, i;

	if (n_rows < 2 || h->n_rows != n_rows || h->n_rules > STEER_MAX_RULES ||
	    h->n_versions > STEER_MAX_VERSIONS ||
	    h->n_allow > STEER_MAX_POLICY || h->n_deny > STEER_MAX_POLICY)
		return -EUCLEAN;
	memcpy(out->name, ROW(rows, 1), STEER_NAME_LEN);
	out->name[STEER_NAME_LEN - 1] = '\0';
	out->generation = h->generation;
	out->source_hash = h->source_hash;
	out->file_hash = h->file_hash;
	out->applied_ns = h->applied_ns;
	out->flags = h->flags;
	out->seed = h->seed;
	out->health_failures = h->health_failures;
	out->health_eject_ms = h->health_eject_ms;
	out->health_max_eject_ms = h->health_max_eject_ms;
	out->health_max_ejected = h->health_max_ejected;
	out->max_connections = h->max_connections;
	out->n_versions = h->n_versions;
	out->n_rules = h->n_rules;
	out->n_allow = h->n_allow;
	out->n_deny = h->n_deny;
	out->n_frontends = h->n_frontends;
	for (i = 0; i < h->n_allow; i++) {
		ret = match(ctx,
			    steer_match_id(route, h->match_bank,
					   STEER_MATCH_ALLOW_BASE + i),
			    &out->allow[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < h->n_deny; i++) {
		ret = match(ctx,
			    steer_match_id(route, h->match_bank,
					   STEER_MATCH_DENY_BASE + i),
			    &out->deny[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < h->n_versions; i++) {
		ret = decode_version(rows, n_rows, h->version_row + i,
				     backend_addr, ctx, &out->versions[i]);
		if (ret)
			return ret;
	}
	for (i = 0; i < h->n_rules; i++) {
		ret = decode_rule(rows, n_rows, route, h, i, match, ctx,
				  &out->rules[i]);
		if (ret)
			return ret;
	}
	/* Tables a route does not store: rebuild them, so that a caller
	 * that edits and republishes (or shows them) has them. */
	if (!(h->flags & STEER_ROUTE_AFFINITY_CLIENT))
		compile_tables(out, NULL);
	return 0;
}

int rows_decode(const void *rows, __u32 n_rows, __u32 route,
		rows_backend_addr_fn backend_addr, rows_match_fn match,
		void *ctx, struct steer_route_cfg *out)
{
	route_cfg_reset(out);
	return rows_decode_zeroed(rows, n_rows, route, backend_addr, match, ctx,
				  out);
}
