/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the running kernel offers steer. steer supports Linux >= 6.1 with
 * BTF; a few things it can use arrived later (bpf_sock_destroy in 6.5, tcx
 * links in 6.6). Each is probed once at start, the way bpftool's "feature
 * probe" does it (a tiny program or map is loaded, or vmlinux BTF is
 * searched), never decided by the version string: distributions backport.
 * A missing required feature stops steerd with the reason; a missing
 * optional one costs one log line and the work that needs it is skipped.
 */
#ifndef STEER_KFEATURES_H
#define STEER_KFEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum feature_id {
	FEAT_BTF,	   /* vmlinux BTF, for CO-RE relocations */
	FEAT_SK_STORAGE,   /* BPF_MAP_TYPE_SK_STORAGE */
	FEAT_SET_RETVAL,   /* bpf_set_retval() in cgroup sock_addr hooks */
	FEAT_RINGBUF,	   /* BPF_MAP_TYPE_RINGBUF */
	FEAT_SOCK_DESTROY, /* bpf_sock_destroy() kfunc */
	FEAT_TCX,	   /* tcx links (BPF_TCX_INGRESS/EGRESS) */
	FEAT_COUNT
};

enum feature_state {
	FEATURE_UNKNOWN, /* not probed, or the probe itself failed */
	FEATURE_ABSENT,
	FEATURE_PRESENT,
};

struct feature_info {
	const char *name;   /* short name in logs and --version */
	const char *since;  /* first mainline kernel with it, "5.18" */
	bool required;	    /* steer cannot work without it */
	bool used;	    /* this build uses it where present */
	const char *use;    /* what steer does (or will do) with it */
	const char *absent; /* what steer does instead without it */
};

/* Name, version and purpose of feature @id. */
const struct feature_info *kfeatures_info(enum feature_id id);

/*
 * Probe every feature of the running kernel (needs CAP_BPF or root; a
 * probe that is refused leaves its feature FEATURE_UNKNOWN). Results are
 * cached; a second call returns them. Returns 0.
 */
int kfeatures_probe(void);

/* The probed state of @id (FEATURE_UNKNOWN before kfeatures_probe()). */
enum feature_state kfeatures_state(enum feature_id id);

/* True when @id was probed and is present. */
bool kfeatures_have(enum feature_id id);

/*
 * True when @id is present and this build uses it: "active". A feature
 * present but not used yet is "available", never "active".
 */
bool kfeatures_active(enum feature_id id);

/*
 * Check the required features: 0 when all are present or unknown; else
 * -ENOTSUP with a message naming the first missing one in @err.
 */
int kfeatures_check_required(char *err, size_t errlen);

/*
 * Log what is active in one line (info), what the kernel has that this
 * build does not use yet in another, and one line for each optional
 * feature that is absent, saying what steer does without it.
 */
void kfeatures_log(void);

/*
 * One line per feature: name, state (active, available: present but not
 * used by this build, inactive: absent, unknown), kernel it needs, what it
 * is for.
 */
void kfeatures_print(FILE *f);

#endif /* STEER_KFEATURES_H */
