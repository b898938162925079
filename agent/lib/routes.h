/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Route files: YAML parsed with libyaml into plain structs, validated.
 * Nothing here touches the kernel; steerd, steerctl and the tests share it.
 */
#ifndef STEER_ROUTES_H
#define STEER_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include "addr.h"
#include "route_cfg.h"

#define ROUTE_PATH_MAX 256 /* cgroup paths, file names */
#define ROUTE_ERR_MAX  512

/* Where a value came from, for error messages: 1-based line and column. */
struct route_pos {
	int line;
	int col;
};

struct route_frontend {
	struct route_addr addr; /* always has a port */
	__u8 proto;		/* enum steer_proto; TCP unless "/udp" */
	__u16 target_port;	/* host order; 0 = the dialled port */
	struct route_pos pos;
};

struct route_backend {
	struct route_addr addr;
	__u16 weight; /* 1.. ; default 1 */
	struct route_pos pos;
};

/*
 * A backend entry that names DNS records instead of addresses:
 * {dns: NAME, port: P} (A and AAAA: every address a backend, weight 1) or
 * {srv: _service._proto.NAME} (SRV: targets, ports, weights). steerd
 * resolves them (agent/dns.c) and adds the addresses to the version's
 * backends before compiling; steerctl validate only checks the syntax.
 */
#define ROUTE_DNS_NAME_MAX 254 /* 253 characters and the NUL */
#define ROUTE_MAX_DNS	   4   /* dns/srv entries per version */

enum route_dns_kind {
	ROUTE_DNS_ADDR = 1, /* {dns: NAME, port: P} */
	ROUTE_DNS_SRV = 2,  /* {srv: NAME} */
};

struct route_dns {
	__u8 kind;  /* enum route_dns_kind */
	__u16 port; /* host order; ROUTE_DNS_ADDR only */
	char name[ROUTE_DNS_NAME_MAX];
	struct route_pos pos;
};

/*
 * The variable parts of a route (backends, dns entries, rules, policy
 * entries, cgroup paths) are heap arrays the route owns, sized to what the
 * file gives: a route costs what it holds, so 100,000 of them fit in
 * memory. route_free() releases them; a struct route is moved, never
 * copied.
 */
struct route_version {
	char name[STEER_SHORT_NAME_LEN];
	int n_backends;
	struct route_backend *backends; /* n_backends */
	struct route_pos pos;
	int n_dns;	       /* the dns/srv entries, apart from backends[] */
	struct route_dns *dns; /* n_dns */
	int n_dns_backends;    /* the last of backends[]: from DNS answers */
};

/* Match block as written; cgroups stay paths until compiled. */
struct route_match {
	int n_sources;
	struct steer_cidr sources[STEER_MAX_MATCH_ITEMS];
	int n_cgroups;
	char *cgroups[STEER_MAX_MATCH_ITEMS]; /* owned; < ROUTE_PATH_MAX */
	int n_uids;
	__u32 uids[STEER_MAX_MATCH_ITEMS];
	int n_ports;
	__u16 ports[STEER_MAX_MATCH_ITEMS];
};

struct route_rule {
	char name[STEER_SHORT_NAME_LEN];
	struct route_match match; /* all-empty when the rule has no match */
	/* 0.01 % units per version, indexed like route.versions; sums to 10000
	 */
	__u16 split[STEER_MAX_VERSIONS];
	struct route_pos pos;
};

enum route_affinity {
	ROUTE_AFFINITY_NONE = 0,
	ROUTE_AFFINITY_CLIENT = 1,
};

struct route {
	char name[STEER_NAME_LEN];
	char *file;	      /* owned */
	struct route_pos pos; /* of the document */
	int n_frontends;
	struct route_frontend *frontends; /* n_frontends */
	int n_versions; /* in file order: the order matters for affinity */
	/* n_versions, and room for as many as the file names (at most
	 * STEER_MAX_VERSIONS): 100k routes of 2 versions kept 48 MB of room
	 * for 6 more each. */
	struct route_version *versions;
	int n_rules;
	struct route_rule *rules; /* n_rules */
	enum route_affinity affinity;
	bool policy_default_deny;
	int n_allow;
	struct route_match *allow; /* n_allow */
	int n_deny;
	struct route_match *deny; /* n_deny */
	__u32 health_failures;	  /* 0: health section absent */
	__u32 health_eject_ms;
	__u32 health_max_eject_ms;
	__u32 health_max_ejected; /* % */
	__u32 max_connections;	  /* connection-pool; 0: none */

	/* Its document, for a reload that takes the documents whose text is
	 * unchanged from the previous set (routes_load_dir_from). */
	__u64 doc_hash;	 /* of the document's text; never 0 once parsed */
	__u64 file_hash; /* of its file's path */
	int doc_line;	 /* 0-based line of the document's first byte */
	int reused_from; /* 1 + its index in the previous set; 0: parsed */
	int reused_by;	 /* during a load: claimed by that index + 1 */
	bool has_dns;	 /* a version has dns/srv entries */
	/* It compiles the same whenever its text is the same: no dns/srv
	 * entries, no cgroup paths (they resolve to ids). */
	bool text_only;
	/* steerd's record of it once applied (agent/apply.c), carried with
	 * the route while its document is unchanged. */
	struct route_applied {
		bool valid;
		__u32 id;	   /* in steer_routes_v2 */
		__u64 source_hash; /* compile_route_check's */
	} applied;
};

struct route_set {
	int n;
	struct route *routes; /* malloc'ed array of n */
	/* Routes with dns/srv backends (has_dns), when dns_known: a reload
	 * with none skips looking at every route for names to resolve. */
	bool dns_known;
	int n_dns;
	/* What the next routes_load_dir_from goes on from besides the
	 * routes (routes_memo.c); NULL: nothing. Owned, freed with the set. */
	struct route_memo *memo;
};

/*
 * Parse one file (one or more YAML documents) and append its routes to
 * @set. On error returns -EINVAL (or -errno for I/O) and writes
 * "file:line:col: what is wrong" into @err; @set is left as it was.
 */
int routes_parse_file(const char *path, struct route_set *set, char *err,
		      size_t errlen);

/*
 * Parse every *.yaml / *.yml in @dir (sorted by name) into @set, then check
 * what spans files: duplicate route names and duplicate frontends. @set
 * (initialised, e.g. zeroed) is replaced: its old routes are freed. Hidden
 * files and other names are ignored; an empty directory gives zero routes.
 * On any error @set is emptied and the first error is in @err.
 */
int routes_load_dir(const char *dir, struct route_set *set, char *err,
		    size_t errlen);

/*
 * routes_load_dir, taking from @prev (the set of the previous load, may be
 * empty) every route whose document's text is unchanged in the same file,
 * instead of parsing it again: a one-route change to a file of 100,000
 * routes parses one document. The routes taken keep their `applied` record
 * and have reused_from set; they leave @prev, which keeps only what the new
 * set no longer has in that form. A change that leaves every taken route
 * at its index (an edit in place) copies no route: @set takes over @prev's
 * array. On error @prev is as it was and @set is emptied.
 */
int routes_load_dir_from(const char *dir, struct route_set *prev,
			 struct route_set *set, char *err, size_t errlen);

/* Cross-route checks on a complete set (duplicates); used by load_dir. */
int routes_check_set(const struct route_set *set, char *err, size_t errlen);

/*
 * A percentage with up to 2 decimals, from the text itself (never through a
 * double, which would round 33.33 to 3332 or 3333 by luck), in 0.01 %
 * units: "12.5" -> 1250. Returns the units (0..10000), -EDOM for more than
 * 2 decimals, -EINVAL otherwise. Route files and steerctl set share it.
 */
long routes_parse_percent(const char *s);

/*
 * Check a DNS name as a backend entry may name it: labels of letters,
 * digits and '-' (not at either end), at most 63 characters each, 253 in
 * all, an optional final dot; an SRV name (@srv) starts with two labels
 * "_service._tcp" or "_service._udp". Returns NULL or what is wrong.
 */
const char *routes_dns_name_error(const char *name, bool srv);

/*
 * Where steerd keeps the DNS state of the pin directory @bpffs and steerctl
 * status reads it: /run/steer/<last component of bpffs>/dns.json. Returns
 * 0, or -ENAMETOOLONG. @dir (optional) gets the directory.
 */
#define ROUTE_RUN_DIR "/run/steer"
int routes_dns_state_path(const char *bpffs, char *buf, size_t len, char *dir,
			  size_t dirlen);

/* Index of version @name in @r, or -1. */
int routes_version_index(const struct route *r, const char *name);

/* Free what @r owns and zero it; routes_free() does it for a whole set. */
void route_free(struct route *r);
void routes_free(struct route_set *set);

/*
 * Room for @n + 1 elements of @size in the heap array *@arr holding @n,
 * for appending. Every such array has room for the power of two at or
 * above its count, so it doubles when @n is 0 or a power of two. The new
 * room is not zeroed: the caller writes each element it appends (zeroing
 * 100,000 routes' room on every reload was a third of a reload).
 * 0 or -ENOMEM.
 */
int route_array_grow(void **arr, int n, size_t size);
/* One more backend in @v, zeroed: NULL when out of memory. */
struct route_backend *route_backend_add(struct route_version *v);
/* @n zeroed match blocks for a list, or NULL. */
struct route_match *route_matches_new(int n);
/* Zeroed room for @n versions of a route (n >= 1), or NULL. */
struct route_version *route_versions_new(int n);

#endif /* STEER_ROUTES_H */
