// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "caps.h"
#include "kfeatures.h"
#include "log.h"

static const struct feature_info info[FEAT_COUNT] = {
	[FEAT_BTF] = { "btf", "5.4", true, true,
		       "CO-RE relocation of the BPF objects",
		       "steer cannot load" },
	[FEAT_SK_STORAGE] = { "sk_storage", "5.2", true, true,
			      "per-socket dialled frontend for getpeername",
			      "steer cannot load" },
	[FEAT_SET_RETVAL] = { "set_retval", "5.18", true, true,
			      "ECONNREFUSED/EPERM from the connect hooks",
			      "steer cannot load" },
	[FEAT_RINGBUF] = { "ringbuf", "5.8", true, true,
			   "ring buffer of connection events (tracing)",
			   "steer cannot load" },
	[FEAT_SOCK_DESTROY] = { "sock_destroy", "6.5", false, true,
				"closing connected UDP sockets whose backend "
				"was removed or ejected (udp_destroy.bpf.c)",
				"such sockets stay connected to the old "
				"backend" },
	/* Probed and shown, not used yet: never "active" (its issue). */
	[FEAT_TCX] = { "tcx", "6.6", false, false,
		       "tcx links for the TC programs",
		       "TC programs attach through clsact filters" },
};

static enum feature_state state[FEAT_COUNT];
static bool probed;

const struct feature_info *kfeatures_info(enum feature_id id)
{
	return id < FEAT_COUNT ? &info[id] : NULL;
}

enum feature_state kfeatures_state(enum feature_id id)
{
	return id < FEAT_COUNT ? state[id] : FEATURE_UNKNOWN;
}

bool kfeatures_have(enum feature_id id)
{
	return kfeatures_state(id) == FEATURE_PRESENT;
}

bool kfeatures_active(enum feature_id id)
{
	return kfeatures_have(id) && info[id].used;
}

/* libbpf_probe_*() answer 1, 0 or a negative errno (e.g. -EPERM). */
static enum feature_state from_probe(int ret)
{
	if (ret < 0)
		return FEATURE_UNKNOWN;
	return ret ? FEATURE_PRESENT : FEATURE_ABSENT;
}

/*
 * The probes that load a program or create a map need CAP_BPF (or
 * CAP_SYS_ADMIN). Without it the kernel refuses them, and libbpf's helper
 * probe then answers "present" (an empty verifier log): do not ask.
 */
static bool may_probe(void)
{
	return caps_have(CAP_SYS_ADMIN) || caps_have(CAP_BPF);
}

/* True when enum @type of @btf has a member named @member. */
static bool btf_enum_has(const struct btf *btf, const char *type,
			 const char *member)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	int id;

	id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	if (id < 0)
		return false;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++, e++)
		if (!strcmp(btf__name_by_offset(btf, e->name_off), member))
			return true;
	return false;
}

int kfeatures_probe(void)
{
	struct btf *vmlinux;

	if (probed)
		return 0;
	probed = true;

	vmlinux = btf__load_vmlinux_btf();
	state[FEAT_BTF] = vmlinux ? FEATURE_PRESENT : FEATURE_ABSENT;
	if (vmlinux) {
		/* Both arrived as BTF-described kernel objects: a kfunc,
		 * and the attach types of the tcx link. */
		state[FEAT_SOCK_DESTROY] =
			btf__find_by_name_kind(vmlinux, "bpf_sock_destroy",
					       BTF_KIND_FUNC) > 0
				? FEATURE_PRESENT
				: FEATURE_ABSENT;
		state[FEAT_TCX] = btf_enum_has(vmlinux, "bpf_attach_type",
					       "BPF_TCX_INGRESS")
					  ? FEATURE_PRESENT
					  : FEATURE_ABSENT;
		btf__free(vmlinux);
	}
	if (!may_probe())
		return 0; /* the others stay FEATURE_UNKNOWN */
	state[FEAT_SK_STORAGE] = from_probe(
		libbpf_probe_bpf_map_type(BPF_MAP_TYPE_SK_STORAGE, NULL));
	state[FEAT_RINGBUF] = from_probe(
		libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL));
	/* In the program type of steer's connect hooks. */
	state[FEAT_SET_RETVAL] = from_probe(libbpf_probe_bpf_helper(
		BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_set_retval, NULL));
	return 0;
}

int kfeatures_check_required(char *err, size_t errlen)
{
	for (int i = 0; i < FEAT_COUNT; i++) {
		if (!info[i].required || state[i] != FEATURE_ABSENT)
			continue;
		snprintf(err, errlen,
			 "this kernel lacks %s (Linux %s+), needed for %s; "
			 "steer needs Linux 6.1 or newer with BTF",
			 info[i].name, info[i].since, info[i].use);
		return -ENOTSUP;
	}
	return 0;
}

static const char *state_name(int i)
{
	switch (state[i]) {
	case FEATURE_PRESENT:
		return info[i].used ? "active" : "available";
	case FEATURE_ABSENT:
		return "inactive";
	default:
		return "unknown";
	}
}

/* Append " NAME" to the list in @buf (@len used so far). */
static void list_add(char *buf, size_t size, size_t *len, const char *name)
{
	int n = snprintf(buf + *len, size - *len, "%s%s", *len ? " " : "",
			 name);

	if (n > 0 && (size_t)n < size - *len)
		*len += (size_t)n;
}

void kfeatures_log(void)
{
	char active[256] = "", unused[256] = "";
	size_t alen = 0, ulen = 0;

	for (int i = 0; i < FEAT_COUNT; i++) {
		if (kfeatures_active(i))
			list_add(active, sizeof(active), &alen, info[i].name);
		else if (state[i] == FEATURE_PRESENT)
			list_add(unused, sizeof(unused), &ulen, info[i].name);
		else if (!info[i].required)
			pr_info("kernel feature %s %s (Linux %s+): %s",
				info[i].name, state_name(i), info[i].since,
				info[i].absent);
	}
	pr_info("kernel features active: %s", alen ? active : "none");
	if (ulen)
		pr_info("kernel features available, not used by this build "
			"yet: %s",
			unused);
}

void kfeatures_print(FILE *f)
{
	bool unknown = false;

	for (int i = 0; i < FEAT_COUNT; i++) {
		fprintf(f, "  %-13s %-9s Linux %-5s %s%s\n", info[i].name,
			state_name(i), info[i].since, info[i].use,
			info[i].required ? " (required)"
			: info[i].used	 ? ""
					 : " (not used by this build yet)");
		unknown |= state[i] == FEATURE_UNKNOWN;
	}
	if (unknown)
		fputs("  (unknown: probing needs root or CAP_BPF)\n", f);
}
