/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Compile a parsed route (struct route) into a struct steer_route_cfg,
 * with its selection tables, which rows.c encodes into the route's rows.
 *
 * The datapath never loops over weights (docs/architecture.md):
 * it finds a version among cumulative shares, or in a table, and a backend
 * by index or in a table. So all of the arithmetic lives here: splits
 * become STEER_SPLIT_POINTS version table entries per rule and family,
 * backend weights STEER_BACKEND_TABLE_UNIT backend table entries per
 * version and family. Tables are filled stably against the live config
 * (@prev) so that affinity survives a change of split or backends
 * (docs/DESIGN.md §2).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "compile.h"

#define FNV32_OFFSET	    0x811c9dc5u
#define FNV32_PRIME	    0x01000193u
#define COUNTER_SLOT_NONE   0xffff /* a backend without a counter slot yet */
#define COUNTER_SLOT_UNSET8 0xff   /* a rule or version without one yet */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Bounded copy that always leaves a NUL; the arrays are zeroed already. */
static void copy_name(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen);

	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- apportionment and stable tables --------------------------------- */

void compile_apportion(const __u32 *weights, int n, __u32 total, __u32 *out)
{
	__u64 sum = 0, given = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += weights[i];
	for (i = 0; i < n; i++) {
		/* 64-bit: weight * total fits for any __u32 inputs. */
		out[i] = sum ? (__u32)((__u64)weights[i] * total / sum) : 0;
		given += out[i];
	}
	/*
	 * Hamilton: the entries left over go one each to the largest
	 * remainders; ties go to the lower index (strict '>' below), so the
	 * result is deterministic. Fewer than n entries are left over and each
	 * pick needs a positive remainder, so a zero weight never gets one.
	 * An owner already picked has out[i] above its quota floor.
	 */
	while (sum && given < total) {
		__u64 best_rem = 0;
		int best = -1;

		for (i = 0; i < n; i++) {
			__u64 q = (__u64)weights[i] * total;

			if (out[i] != q / sum)
				continue;
			if (q % sum > best_rem) {
				best_rem = q % sum;
				best = i;
			}
		}
		if (best < 0)
			break;
		out[best]++;
		given++;
	}
}

/*
 * Stable apportionment of a table, in the two widths steer's tables have
 * (split tables: __u8 owners, STEER_TABLE_NONE for none; backend tables:
 * __u16 owners, STEER_BACKEND_NONE), from one body. @have is scratch of @n.
 *
 * Pass 1: every entry keeps its old owner while that owner still wants
 * more. Scanning in entry order, an owner that shrinks keeps its first
 * entries and gives up exactly (old - new); an owner that grows keeps all
 * of its entries. That is the affinity guarantee.
 * Pass 2: free entries go to owners still short, in entry order and owner
 * order; without @old this gives contiguous runs by index. When the wants
 * sum to less than @n_entries, the rest stay none.
 */
#define DEFINE_FILL_TABLE(name, T, NONE)                                       \
	static void name(T *table, size_t n_entries, const __u32 *want, int n, \
			 const T *old, __u32 *have)                            \
	{                                                                      \
		size_t s;                                                      \
		int k = 0;                                                     \
                                                                               \
		memset(have, 0, (size_t)n * sizeof(*have));                    \
		for (s = 0; s < n_entries; s++) {                              \
			T o = old ? old[s] : (T)(NONE);                        \
                                                                               \
			if (o < n && have[o] < want[o]) {                      \
				table[s] = o;                                  \
				have[o]++;                                     \
			} else {                                               \
				table[s] = (NONE);                             \
			}                                                      \
		}                                                              \
		for (s = 0; s < n_entries; s++) {                              \
			if (table[s] != (T)(NONE))                             \
				continue;                                      \
			while (k < n && have[k] >= want[k])                    \
				k++;                                           \
			if (k == n)                                            \
				break;                                         \
			table[s] = (T)k;                                       \
			have[k]++;                                             \
		}                                                              \
	}

DEFINE_FILL_TABLE(fill_table8, __u8, STEER_TABLE_NONE)
DEFINE_FILL_TABLE(fill_table16, __u16, STEER_BACKEND_NONE)

void compile_fill_table(__u8 *table, size_t n_entries, const __u32 *want, int n,
			const __u8 *old)
{
	__u32 have[STEER_TABLE_NONE];

	if (n > STEER_TABLE_NONE)
		n = STEER_TABLE_NONE; /* index 0xff means "none" */
	fill_table8(table, n_entries, want, n, old, have);
}

/* ---- translating the live tables to the new indices ------------------- */

int compile_version_index(const struct steer_route_cfg *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_versions && i < STEER_MAX_VERSIONS; i++)
		if (!strncmp(cfg->versions[i].name, name, STEER_SHORT_NAME_LEN))
			return i;
	return -1;
}

int compile_rule_index(const struct steer_route_cfg *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_rules && i < STEER_MAX_RULES; i++)
		if (!strncmp(cfg->rules[i].name, name, STEER_SHORT_NAME_LEN))
			return i;
	return -1;
}

/* Rules are matched by name; unnamed rules only by position. */
static int find_rule(const struct steer_route_cfg *prev,
		     const struct steer_route_cfg *cfg, int r)
{
	const char *name = cfg->rules[r].name;

	if (!name[0])
		return r < prev->n_rules && !prev->rules[r].name[0] ? r : -1;
	return compile_rule_index(prev, name);
}

static bool same_backend(const struct steer_backend *a,
			 const struct steer_backend *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

int compile_backend_index(const struct steer_version *v,
			  const struct steer_backend *b)
{
	for (int i = 0; i < v->n_backends && i < ROUTE_MAX_BACKENDS; i++)
		if (same_backend(&v->backends[i], b))
			return i;
	return -1;
}

/*
 * The backends of a version by address, for the lookups that compare two
 * versions backend by backend: a linear search for a few backends, an
 * open-addressed hash (indices + 1, 0 empty) beyond, so that comparing
 * versions of 4,096 backends is not 16 million comparisons.
 */
#define INDEX_LINEAR 32

struct backend_index {
	const struct steer_version *v;
	__u16 *slot; /* NULL: linear */
	__u32 mask;
};

static __u32 backend_hash(const struct steer_backend *b)
{
	__u32 h = FNV32_OFFSET;
	const unsigned char *p = (const unsigned char *)b->addr;

	for (size_t i = 0; i < sizeof(b->addr); i++)
		h = (h ^ p[i]) * FNV32_PRIME;
	h = (h ^ b->port) * FNV32_PRIME;
	return (h ^ b->family) * FNV32_PRIME;
}

static void index_init(struct backend_index *x, const struct steer_version *v)
{
	__u32 size = 2 * INDEX_LINEAR;

	x->v = v;
	x->slot = NULL;
	if (!v || v->n_backends <= INDEX_LINEAR)
		return;
	while (size < 2u * v->n_backends)
		size *= 2;
	x->slot = calloc(size, sizeof(*x->slot));
	if (!x->slot)
		return; /* out of memory: linear, slower but right */
	x->mask = size - 1;
	for (int i = 0; i < v->n_backends; i++) {
		__u32 h = backend_hash(&v->backends[i]) & x->mask;

		while (x->slot[h])
			h = (h + 1) & x->mask;
		x->slot[h] = (__u16)(i + 1);
	}
}

static int index_find(const struct backend_index *x,
		      const struct steer_backend *b)
{
	__u32 h;

	if (!x->v)
		return -1;
	if (!x->slot)
		return compile_backend_index(x->v, b);
	for (h = backend_hash(b) & x->mask; x->slot[h]; h = (h + 1) & x->mask)
		if (same_backend(&x->v->backends[x->slot[h] - 1], b))
			return x->slot[h] - 1;
	return -1;
}

static void index_free(struct backend_index *x)
{
	free(x->slot);
	x->slot = NULL;
}

/* Rewrite @n entries of @src through @map (index -> new index or NONE). */
static void translate(__u8 *dst, const __u8 *src, size_t n, const __u8 *map,
		      int map_len)
{
	for (size_t s = 0; s < n; s++)
		dst[s] = src[s] < map_len ? map[src[s]] : STEER_TABLE_NONE;
}

/* ---- the tables ------------------------------------------------------- */

/* Weight of backend @b in family @f's table: 0 when it must get no entry. */
static __u32 backend_weight(const struct steer_backend *b, int f)
{
	if (b->family != f || (b->flags & STEER_BACKEND_EJECTED))
		return 0;
	return b->weight;
}

/*
 * Family @f's backend table of @v, stable against @pv's (may be NULL). A
 * table of STEER_BACKEND_TABLE_UNIT entries names at most that many
 * backends: with more usable ones of a family, apportioning leaves some
 * with none (the parser refuses such a version when its file alone needs
 * a table, routes_doc.c; DNS answers and ejections can still get here).
 * Out of memory, the table is left out and rows_encode fails.
 */
static void version_tables(struct steer_version *v,
			   const struct steer_version *pv, int f)
{
	__u32 small[4 * INDEX_LINEAR], *w, *want, *have;
	__u16 old[STEER_BACKEND_TABLE_UNIT], *map = NULL, *table;
	const __u16 *pt = pv ? route_cfg_table(pv, f) : NULL;
	int n = v->n_backends, pn = pt ? pv->n_backends : 0, i;
	size_t need = 3 * (size_t)n + (size_t)(pn + 1) / 2;
	struct backend_index x;

	table = route_cfg_table_new(v, f);
	w = need <= sizeof(small) / sizeof(small[0]) ? small : malloc(need * 4);
	if (!w || !table) {
		v->tables &= ~(1u << f);
		if (w != small)
			free(w);
		return;
	}
	want = w + n;
	have = want + n;
	map = (__u16 *)(have + n);
	for (i = 0; i < n; i++)
		w[i] = backend_weight(&v->backends[i], f);
	compile_apportion(w, n, STEER_BACKEND_TABLE_UNIT, want);
	if (pt) {
		index_init(&x, v);
		for (i = 0; i < pn; i++) {
			int j = index_find(&x, &pv->backends[i]);

			map[i] = j < 0 ? STEER_BACKEND_NONE : (__u16)j;
		}
		index_free(&x);
		for (size_t s = 0; s < STEER_BACKEND_TABLE_UNIT; s++)
			old[s] = pt[s] < pn ? map[pt[s]] : STEER_BACKEND_NONE;
	}
	fill_table16(table, STEER_BACKEND_TABLE_UNIT, want, n, pt ? old : NULL,
		     have);
	if (w != small)
		free(w);
}

static void rule_tables(struct steer_route_cfg *cfg, int r,
			const struct steer_route_cfg *prev, const __u8 *vmap,
			int n_vmap, const bool usable[][STEER_FAM_COUNT], int f)
{
	struct steer_rule *rule = &cfg->rules[r];
	__u32 w[STEER_MAX_VERSIONS] = { 0 }, want[STEER_MAX_VERSIONS] = { 0 };
	__u8 old[STEER_SPLIT_POINTS];
	int pr = prev ? find_rule(prev, cfg, r) : -1;

	/*
	 * A version without a usable backend of this family gets nothing;
	 * apportioning the splits of the others to the full 10000 hands its
	 * units to them in proportion to their splits. Split-0 versions stay
	 * at 0, and all-zero weights leave every entry NONE (refused).
	 */
	for (int v = 0; v < cfg->n_versions; v++)
		w[v] = usable[v][f] ? rule->split[v] : 0;
	compile_apportion(w, cfg->n_versions, STEER_SPLIT_POINTS, want);
	if (pr >= 0)
		translate(old, prev->rules[pr].table[f], STEER_SPLIT_POINTS,
			  vmap, n_vmap);
	compile_fill_table(rule->table[f], STEER_SPLIT_POINTS, want,
			   cfg->n_versions, pr >= 0 ? old : NULL);
}

bool compile_needs_table(const struct steer_route_cfg *cfg,
			 const struct steer_version *v, int f)
{
	__u32 w0 = 0;
	bool any = false;

	for (int i = 0; i < v->n_backends && i < ROUTE_MAX_BACKENDS; i++) {
		const struct steer_backend *b = &v->backends[i];

		if (b->family != f)
			continue;
		if (cfg->flags & STEER_ROUTE_AFFINITY_CLIENT)
			return true;
		if (!backend_weight(b, f) || (any && b->weight != w0))
			return true;
		any = true;
		w0 = b->weight;
	}
	return false;
}

/*
 * Each table is translated from @prev into a local buffer before it is
 * written, and a table only reads its own counterpart, so @prev may be
 * @cfg itself (rebuild in place after an eject). @all: every table, else
 * only those the route's rows store (most routes store none, and a rule
 * table is 20,000 entries to fill).
 */
static void tables(struct steer_route_cfg *cfg,
		   const struct steer_route_cfg *prev, bool all)
{
	bool usable[STEER_MAX_VERSIONS][STEER_FAM_COUNT] = { { false } };
	__u8 vmap[STEER_MAX_VERSIONS];
	int v, r, f, i, n_vmap;

	if (cfg->n_versions > STEER_MAX_VERSIONS)
		cfg->n_versions = STEER_MAX_VERSIONS;
	if (cfg->n_rules > STEER_MAX_RULES)
		cfg->n_rules = STEER_MAX_RULES;
	for (i = 0; prev && i < prev->n_versions && i < STEER_MAX_VERSIONS;
	     i++) {
		int j = compile_version_index(cfg, prev->versions[i].name);

		vmap[i] = j < 0 ? STEER_TABLE_NONE : (__u8)j;
	}
	n_vmap = i;

	for (v = 0; v < cfg->n_versions; v++) {
		struct steer_version *ver = &cfg->versions[v];
		int pv = prev ? compile_version_index(prev, ver->name) : -1;

		if (ver->n_backends > ROUTE_MAX_BACKENDS)
			ver->n_backends = ROUTE_MAX_BACKENDS;
		for (f = 0; f < STEER_FAM_COUNT; f++) {
			for (i = 0; i < ver->n_backends; i++)
				if (backend_weight(&ver->backends[i], f))
					usable[v][f] = true;
			if (all || compile_needs_table(cfg, ver, f))
				version_tables(
					ver,
					pv < 0 ? NULL : &prev->versions[pv], f);
		}
	}
	if (!all && !(cfg->flags & STEER_ROUTE_AFFINITY_CLIENT))
		return;
	for (r = 0; r < cfg->n_rules; r++)
		for (f = 0; f < STEER_FAM_COUNT; f++)
			rule_tables(cfg, r, prev, vmap, n_vmap, usable, f);
}

void compile_tables(struct steer_route_cfg *cfg,
		    const struct steer_route_cfg *prev)
{
	tables(cfg, prev, true);
}

void compile_stored_tables(struct steer_route_cfg *cfg,
			   const struct steer_route_cfg *prev)
{
	tables(cfg, prev, false);
}

/* ---- hashing ---------------------------------------------------------- */

/* Per-route hash seed: stable across restarts, so affinity survives them. */
static __u32 name_seed(const char *name)
{
	__u32 h = FNV32_OFFSET;

	for (size_t i = 0; i < STEER_NAME_LEN && name[i]; i++) {
		h ^= (unsigned char)name[i];
		h *= FNV32_PRIME;
	}
	return h;
}

/* ---- compile_route ---------------------------------------------------- */

/* Depth below the cgroup2 root: "/" is 0, "/a/b" and "a//b/" are 2. */
static __u32 cgroup_level(const char *path)
{
	__u32 level = 0;

	for (const char *p = path; *p; p++)
		if (*p != '/' && (p == path || p[-1] == '/'))
			level++;
	return level;
}

/*
 * On cgroup v2 the cgroup id the kernel reports (bpf_get_current_cgroup_id
 * and ancestors) is the inode number of the cgroup's directory.
 */
static int resolve_cgroup(const char *root, const char *path, __u64 *id,
			  __u32 *level, char *err, size_t errlen)
{
	char full[2 * ROUTE_PATH_MAX];
	struct stat st;
	int n;

	*level = cgroup_level(path);
	*id = 0;
	if (!root) {
		seterr(err, errlen, "cgroup %s: no cgroup root given", path);
		return -EINVAL;
	}
	n = snprintf(full, sizeof(full), "%s/%s", root, path);
	if (n < 0 || (size_t)n >= sizeof(full)) {
		seterr(err, errlen, "cgroup %s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (stat(full, &st)) {
		int e = errno;

		/* A cgroup that is not there (yet) never matches. */
		if (e == ENOENT || e == ENOTDIR)
			return 0;
		seterr(err, errlen, "failed to stat cgroup %s: %s", full,
		       strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode))
		*id = st.st_ino;
	return 0;
}

static int compile_match(const struct route_match *m, const char *cgroup_root,
			 struct steer_match *out, char *err, size_t errlen)
{
	int i, ret;

	if (m->n_sources < 0 || m->n_sources > STEER_MAX_MATCH_ITEMS ||
	    m->n_cgroups < 0 || m->n_cgroups > STEER_MAX_MATCH_ITEMS ||
	    m->n_uids < 0 || m->n_uids > STEER_MAX_MATCH_ITEMS ||
	    m->n_ports < 0 || m->n_ports > STEER_MAX_MATCH_ITEMS) {
		seterr(err, errlen, "more than %d items in a match field",
		       STEER_MAX_MATCH_ITEMS);
		return -E2BIG;
	}
	out->n_sources = m->n_sources;
	out->n_cgroups = m->n_cgroups;
	out->n_uids = m->n_uids;
	out->n_ports = m->n_ports;
	memcpy(out->sources, m->sources, m->n_sources * sizeof(m->sources[0]));
	for (i = 0; i < m->n_cgroups; i++) {
		char path[ROUTE_PATH_MAX];

		copy_name(path, sizeof(path), m->cgroups[i], ROUTE_PATH_MAX);
		ret = resolve_cgroup(cgroup_root, path, &out->cgroup_ids[i],
				     &out->cgroup_levels[i], err, errlen);
		if (ret)
			return ret;
	}
	memcpy(out->uids, m->uids, m->n_uids * sizeof(m->uids[0]));
	memcpy(out->ports, m->ports, m->n_ports * sizeof(m->ports[0]));
	return 0;
}

static int check_limits(const struct route *r, char *err, size_t errlen)
{
	const char *what = NULL;
	int max = 0;

	if (r->n_versions < 0 || r->n_versions > STEER_MAX_VERSIONS)
		what = "versions", max = STEER_MAX_VERSIONS;
	else if (r->n_rules < 0 || r->n_rules > STEER_MAX_RULES)
		what = "rules", max = STEER_MAX_RULES;
	else if (r->n_allow < 0 || r->n_allow > STEER_MAX_POLICY)
		what = "allow entries", max = STEER_MAX_POLICY;
	else if (r->n_deny < 0 || r->n_deny > STEER_MAX_POLICY)
		what = "deny entries", max = STEER_MAX_POLICY;
	else if (r->n_frontends < 0 || r->n_frontends > STEER_MAX_FRONTENDS)
		what = "frontends", max = STEER_MAX_FRONTENDS;
	for (int v = 0; !what && v < r->n_versions; v++)
		if (r->versions[v].n_backends < 0 ||
		    r->versions[v].n_backends > ROUTE_MAX_BACKENDS)
			what = "backends in a version",
			max = ROUTE_MAX_BACKENDS;
	if (!what)
		return 0;
	seterr(err, errlen, "route %.*s: more than %d %s", STEER_NAME_LEN,
	       r->name, max, what);
	return -E2BIG;
}

/*
 * The backends of a version, IPv4 first and IPv6 after, each family in
 * file order: the rows keep one list per family (rows.c), and the same
 * order here makes a backend's index the same on both sides.
 */
static int compile_version(const struct route_version *rv,
			   struct steer_version *v, char *err, size_t errlen)
{
	int n = 0;

	copy_name(v->name, sizeof(v->name), rv->name, sizeof(rv->name));
	v->n_backends = 0;
	v->tables = 0;
	if (route_cfg_reserve(v, rv->n_backends)) {
		seterr(err, errlen, "version %s: out of memory", v->name);
		return -ENOMEM;
	}
	for (int i = 0; i < rv->n_backends; i++)
		if (rv->backends[i].addr.family >= STEER_FAM_COUNT) {
			seterr(err, errlen,
			       "version %s: backend %d: bad family %u", v->name,
			       i, rv->backends[i].addr.family);
			return -EINVAL;
		}
	for (int f = 0; f < STEER_FAM_COUNT; f++) {
		for (int i = 0; i < rv->n_backends; i++) {
			const struct route_backend *rb = &rv->backends[i];
			struct steer_backend *b = &v->backends[n];

			if (rb->addr.family != f)
				continue;
			memset(b, 0, sizeof(*b));
			memcpy(b->addr, rb->addr.addr, sizeof(b->addr));
			b->port = rb->addr.has_port ? htons(rb->addr.port) : 0;
			b->family = rb->addr.family;
			b->weight = rb->weight;
			n++;
		}
	}
	v->n_backends = (__u16)n;
	return 0;
}

/*
 * Counter slots follow names: a rule or version keeps the slot it had in
 * @prev under the same name; a new name takes the lowest slot no name of
 * @prev or @cfg holds (so no program can be counting into it), or failing
 * that the lowest slot free in @cfg.
 */
static void assign_slots(__u8 *slot_of, const char *names, size_t stride, int n,
			 const char *prev_names, const __u8 *prev_slots,
			 size_t prev_stride, int prev_n, int n_counter_slots)
{
	bool used_new[STEER_MAX_RULES + STEER_MAX_VERSIONS] = { false };
	bool used_prev[STEER_MAX_RULES + STEER_MAX_VERSIONS] = { false };

	for (int j = 0; j < prev_n; j++)
		used_prev[prev_slots[j * prev_stride] % n_counter_slots] = true;
	for (int i = 0; i < n; i++) {
		slot_of[i * stride] = COUNTER_SLOT_UNSET8;
		for (int j = 0; j < prev_n; j++) {
			if (strncmp(names + i * stride,
				    prev_names + j * prev_stride,
				    STEER_SHORT_NAME_LEN))
				continue;
			slot_of[i * stride] = prev_slots[j * prev_stride];
			used_new[slot_of[i * stride] % n_counter_slots] = true;
		}
	}
	for (int i = 0; i < n; i++) {
		int pick = -1;

		if (slot_of[i * stride] != COUNTER_SLOT_UNSET8)
			continue;
		for (int k = 0; k < n_counter_slots && pick < 0; k++)
			if (!used_new[k] && !used_prev[k])
				pick = k;
		for (int k = 0; k < n_counter_slots && pick < 0; k++)
			if (!used_new[k])
				pick = k;
		slot_of[i * stride] = (__u8)pick;
		used_new[pick] = true;
	}
}

/*
 * Backend counter slots follow addresses within a version, as rule and
 * version slots follow names: a backend keeps the slot it had in @pv (the
 * same-named version of the previous config, or NULL); a new address takes
 * the lowest slot @pv did not use, or failing that the lowest free one.
 */
static void assign_backend_slots(struct steer_version *v,
				 const struct steer_version *pv)
{
	/* Slots picked anew are below lim: n + the slots @pv held leave one
	 * free there; so only those need marks. */
	bool small[2 * (2 * INDEX_LINEAR + 1)], *used_new, *used_prev;
	int n = v->n_backends < ROUTE_MAX_BACKENDS ? v->n_backends
						   : ROUTE_MAX_BACKENDS;
	int pn = pv ? pv->n_backends : 0;
	int lim = n + pn + 1 < ROUTE_MAX_BACKENDS ? n + pn + 1
						  : ROUTE_MAX_BACKENDS;
	struct backend_index x;

	used_new = 2 * (size_t)lim <= sizeof(small)
			   ? small
			   : calloc(2 * (size_t)lim, 1);
	if (!used_new)
		lim = 0; /* out of memory: slots by position below */
	else
		memset(used_new, 0, 2 * (size_t)lim);
	used_prev = used_new + lim;
	for (int j = 0; j < pn; j++)
		if (pv->backends[j].counter_slot < lim)
			used_prev[pv->backends[j].counter_slot] = true;
	index_init(&x, pv);
	for (int i = 0; i < n; i++) {
		int j = index_find(&x, &v->backends[i]);

		v->backends[i].counter_slot = COUNTER_SLOT_NONE;
		if (j < 0)
			continue;
		v->backends[i].counter_slot = pv->backends[j].counter_slot;
		if (v->backends[i].counter_slot < lim)
			used_new[v->backends[i].counter_slot] = true;
	}
	index_free(&x);
	for (int i = 0; i < n; i++) {
		int pick = -1;

		if (v->backends[i].counter_slot != COUNTER_SLOT_NONE)
			continue;
		for (int k = 0; k < lim && pick < 0; k++)
			if (!used_new[k] && !used_prev[k])
				pick = k;
		for (int k = 0; k < lim && pick < 0; k++)
			if (!used_new[k])
				pick = k;
		if (pick < 0)
			pick = i; /* out of memory only */
		v->backends[i].counter_slot = (__u16)pick;
		if (pick < lim)
			used_new[pick] = true;
	}
	if (used_new != small)
		free(used_new);
}

void compile_counter_slots(struct steer_route_cfg *cfg,
			   const struct steer_route_cfg *prev)
{
	const struct steer_rule *pr = prev ? prev->rules : NULL;
	const struct steer_version *pv = prev ? prev->versions : NULL;

	assign_slots(&cfg->rules[0].counter_slot, cfg->rules[0].name,
		     sizeof(cfg->rules[0]), cfg->n_rules,
		     pr ? pr[0].name : NULL, pr ? &pr[0].counter_slot : NULL,
		     sizeof(cfg->rules[0]), prev ? prev->n_rules : 0,
		     STEER_MAX_RULES);
	assign_slots(&cfg->versions[0].counter_slot, cfg->versions[0].name,
		     sizeof(cfg->versions[0]), cfg->n_versions,
		     pv ? pv[0].name : NULL, pv ? &pv[0].counter_slot : NULL,
		     sizeof(cfg->versions[0]), prev ? prev->n_versions : 0,
		     STEER_MAX_VERSIONS);
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		int pvi = prev ? compile_version_index(prev,
						       cfg->versions[v].name)
			       : -1;

		assign_backend_slots(&cfg->versions[v],
				     pvi >= 0 ? &prev->versions[pvi] : NULL);
	}
}

/*
 * Zero what compiling @r fills: the header and policy, and the rules and
 * versions @r has, without their tables (kilobytes each), which
 * compile_tables() writes whole. What lies past n_rules / n_versions is
 * never read.
 */
static void clear_cfg(struct steer_route_cfg *out, const struct route *r)
{
	memset(out, 0, offsetof(struct steer_route_cfg, versions));
	for (int v = 0; v < r->n_versions && v < STEER_MAX_VERSIONS; v++) {
		memset(&out->versions[v], 0,
		       offsetof(struct steer_version, cap));
		out->versions[v].counter_slot = 0;
		out->versions[v].tables = 0;
	}
	for (int i = 0; i < r->n_rules && i < STEER_MAX_RULES; i++)
		memset(&out->rules[i], 0, offsetof(struct steer_rule, table));
}

/* Everything but the tables and counter slots; see compile_route_check. */
static int compile_body(const struct route *r, const char *cgroup_root,
			struct steer_route_cfg *out, char *err, size_t errlen)
{
	int i, ret;

	ret = check_limits(r, err, errlen);
	if (ret)
		return ret;
	clear_cfg(out, r);

	copy_name(out->name, sizeof(out->name), r->name, sizeof(r->name));
	if (r->affinity == ROUTE_AFFINITY_CLIENT)
		out->flags |= STEER_ROUTE_AFFINITY_CLIENT;
	if (r->policy_default_deny)
		out->flags |= STEER_ROUTE_DEFAULT_DENY;
	out->seed = name_seed(out->name);
	out->health_failures = r->health_failures;
	out->health_eject_ms = r->health_eject_ms;
	out->health_max_eject_ms = r->health_max_eject_ms;
	out->health_max_ejected = (__u8)r->health_max_ejected;
	out->max_connections = (__u16)r->max_connections;
	out->n_versions = r->n_versions;
	out->n_rules = r->n_rules;
	out->n_allow = r->n_allow;
	out->n_deny = r->n_deny;
	out->n_frontends = r->n_frontends;

	for (i = 0; i < r->n_allow; i++) {
		ret = compile_match(&r->allow[i], cgroup_root, &out->allow[i],
				    err, errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < r->n_deny; i++) {
		ret = compile_match(&r->deny[i], cgroup_root, &out->deny[i],
				    err, errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < r->n_versions; i++) {
		ret = compile_version(&r->versions[i], &out->versions[i], err,
				      errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < r->n_rules; i++) {
		const struct route_rule *rr = &r->rules[i];
		struct steer_rule *rule = &out->rules[i];

		copy_name(rule->name, sizeof(rule->name), rr->name,
			  sizeof(rr->name));
		ret = compile_match(&rr->match, cgroup_root, &rule->match, err,
				    errlen);
		if (ret)
			return ret;
		/* Splits of versions past n_versions are meaningless: drop. */
		for (int v = 0; v < r->n_versions; v++)
			rule->file_split[v] = rule->split[v] = rr->split[v];
	}

	out->source_hash = compile_source_hash(out);
	out->file_hash = compile_file_hash(r, out);
	return 0;
}

int compile_route_check(const struct route *r, const char *cgroup_root,
			struct steer_route_cfg *scratch, char *err,
			size_t errlen)
{
	return compile_body(r, cgroup_root, scratch, err, errlen);
}

int compile_route(const struct route *r, const char *cgroup_root,
		  const struct steer_route_cfg *prev,
		  struct steer_route_cfg *out, char *err, size_t errlen)
{
	int ret = compile_body(r, cgroup_root, out, err, errlen);

	if (ret)
		return ret;
	compile_stored_tables(out, prev);
	compile_counter_slots(out, prev);
	return 0;
}
