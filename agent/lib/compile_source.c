// SPDX-License-Identifier: BSD-2-Clause
/*
 * What a route file says, apart from what steerctl changed in the map: the
 * source hash (file changed?), the file hash (the file itself changed, or
 * only what its dns/srv entries resolve to?), whether a config differs
 * from its file (STEER_ROUTE_OVERRIDE), and carrying steerctl's changes
 * over new DNS answers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "compile.h"

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME  0x00000100000001b3ull

static __u64 fnv64(__u64 h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

#define HASH(h, field) ((h) = fnv64((h), &(field), sizeof(field)))

/* The backends of @rv the file itself writes (those dns_expand added come
 * last, n_dns_backends of them), and its dns/srv entries. */
static __u64 hash_file_version(__u64 h, const struct route_version *rv)
{
	int n = rv->n_backends - rv->n_dns_backends;

	HASH(h, n);
	for (int j = 0; j < n && j < ROUTE_MAX_BACKENDS; j++) {
		const struct route_backend *b = &rv->backends[j];

		HASH(h, b->addr.family);
		HASH(h, b->addr.addr);
		HASH(h, b->addr.has_port);
		HASH(h, b->addr.port);
		HASH(h, b->weight);
	}
	HASH(h, rv->n_dns);
	for (int k = 0; k < rv->n_dns && k < ROUTE_MAX_DNS; k++) {
		HASH(h, rv->dns[k].kind);
		HASH(h, rv->dns[k].port);
		h = fnv64(h, rv->dns[k].name, strlen(rv->dns[k].name));
	}
	return h;
}

static bool has_dns(const struct route *r)
{
	for (int v = 0; v < r->n_versions && v < STEER_MAX_VERSIONS; v++)
		if (r->versions[v].n_dns)
			return true;
	return false;
}

/*
 * The source hash (@file NULL), or the file hash: the same fields, with
 * each version's backends as @file writes them (its dns/srv entries
 * instead of the addresses their answers gave).
 *
 * Field by field, so the hash covers exactly what the file says: steerctl
 * overrides (split, OVERRIDE flag), ejections and the tables are left out,
 * and steerd can tell "file changed" from "steerctl changed the map".
 * Every struct is zeroed before it is filled, so hashing whole small
 * structs (steer_match, names with their NUL tails) is deterministic.
 */
static __u64 hash_route(const struct steer_route_cfg *cfg,
			const struct route *file)
{
	__u64 h = FNV64_OFFSET;
	__u32 flags = cfg->flags & ~(__u32)STEER_ROUTE_OVERRIDE;
	int i, j;
	__u8 nb;

	HASH(h, cfg->name);
	HASH(h, flags);
	HASH(h, cfg->seed);
	HASH(h, cfg->health_failures);
	HASH(h, cfg->health_eject_ms);
	/* Hashed only when set: a route without them keeps its hash. */
	if (cfg->health_max_eject_ms || cfg->health_max_ejected)
		HASH(h, cfg->health_max_eject_ms),
			HASH(h, cfg->health_max_ejected);
	if (cfg->max_connections)
		HASH(h, cfg->max_connections);
	HASH(h, cfg->n_versions);
	HASH(h, cfg->n_rules);
	HASH(h, cfg->n_allow);
	HASH(h, cfg->n_deny);
	HASH(h, cfg->n_frontends);
	for (i = 0; i < cfg->n_allow && i < STEER_MAX_POLICY; i++)
		HASH(h, cfg->allow[i]);
	for (i = 0; i < cfg->n_deny && i < STEER_MAX_POLICY; i++)
		HASH(h, cfg->deny[i]);
	for (i = 0; i < cfg->n_versions && i < STEER_MAX_VERSIONS; i++) {
		const struct steer_version *v = &cfg->versions[i];

		HASH(h, v->name);
		if (file) {
			h = hash_file_version(h, &file->versions[i]);
			continue;
		}
		/* One byte, as when n_backends was a __u8: the hashes of
		 * routes published before stay what they were (the
		 * backends themselves are hashed next). */
		nb = (__u8)v->n_backends;
		HASH(h, nb);
		for (j = 0; j < v->n_backends && j < ROUTE_MAX_BACKENDS; j++) {
			const struct steer_backend *b = &v->backends[j];

			HASH(h, b->addr);
			HASH(h, b->port);
			HASH(h, b->family);
			HASH(h, b->weight);
		}
	}
	for (i = 0; i < cfg->n_rules && i < STEER_MAX_RULES; i++) {
		const struct steer_rule *r = &cfg->rules[i];

		HASH(h, r->name);
		HASH(h, r->match);
		HASH(h, r->file_split);
	}
	return h;
}

__u64 compile_source_hash(const struct steer_route_cfg *cfg)
{
	return hash_route(cfg, NULL);
}

__u32 compile_file_hash(const struct route *r,
			const struct steer_route_cfg *cfg)
{
	__u64 h;
	__u32 folded;

	if (!has_dns(r))
		return 0;
	/* 32 bits: what the route header has room for (steer_abi.h). */
	h = hash_route(cfg, r);
	folded = (__u32)(h ^ h >> 32);
	return folded ? folded : 1;
}

/* Manual ejections (steerctl) have no expiry; health ejections do. */
static bool manually_ejected(const struct steer_backend *b)
{
	return (b->flags & STEER_BACKEND_EJECTED) && !b->ejected_until_ns;
}

bool compile_overridden(const struct steer_route_cfg *cfg)
{
	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++)
		if (memcmp(cfg->rules[r].split, cfg->rules[r].file_split,
			   sizeof(cfg->rules[r].split)))
			return true;
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		const struct steer_version *sv = &cfg->versions[v];

		for (int b = 0; b < sv->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++)
			if (manually_ejected(&sv->backends[b]))
				return true;
	}
	return false;
}

void compile_keep_overrides(struct steer_route_cfg *cfg,
			    const struct steer_route_cfg *live)
{
	for (int r = 0; r < cfg->n_rules && r < STEER_MAX_RULES; r++) {
		int lr = compile_rule_index(live, cfg->rules[r].name);
		__u16 split[STEER_MAX_VERSIONS] = { 0 };
		__u32 sum = 0;

		if (lr < 0)
			continue;
		for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS;
		     v++) {
			int lv = compile_version_index(live,
						       cfg->versions[v].name);

			split[v] = lv < 0 ? 0 : live->rules[lr].split[lv];
			sum += split[v];
		}
		/* The same versions by name (the file is unchanged): */
		if (sum == STEER_SPLIT_POINTS)
			memcpy(cfg->rules[r].split, split, sizeof(split));
	}
	for (int v = 0; v < cfg->n_versions && v < STEER_MAX_VERSIONS; v++) {
		struct steer_version *sv = &cfg->versions[v];
		int lv = compile_version_index(live, sv->name);

		for (int b = 0;
		     lv >= 0 && b < sv->n_backends && b < ROUTE_MAX_BACKENDS;
		     b++) {
			int lb = compile_backend_index(&live->versions[lv],
						       &sv->backends[b]);

			if (lb < 0)
				continue;
			sv->backends[b].flags =
				live->versions[lv].backends[lb].flags;
			sv->backends[b].ejected_until_ns =
				live->versions[lv]
					.backends[lb]
					.ejected_until_ns;
		}
	}
	if (compile_overridden(cfg))
		cfg->flags |= STEER_ROUTE_OVERRIDE;
	else
		cfg->flags &= ~(__u32)STEER_ROUTE_OVERRIDE;
	compile_tables(cfg, live);
}
