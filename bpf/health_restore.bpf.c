// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * steerctl restore's end of a passive ejection (README "Passive health").
 * Never attached: steerctl loads this object on the pinned health maps and
 * runs steer_health_restore once per backend with BPF_PROG_TEST_RUN.
 *
 * Why in the kernel: a health entry is shared by every CPU and changed in
 * place with atomics (lib/health.h). A userspace write replaces the whole
 * value, so a concurrent connect's active + 1 or close's active - 1 between
 * its read and its write would be lost for good (a place leaked or given
 * twice). Here only the fields restore means are changed, in place:
 * ejected_until_ns by compare-and-swap, then the version's ejection slot
 * that this ejection claimed (its expiry is the same instant), then
 * failures and streak by plain 8-byte stores, as health_succeeded() does.
 *
 * syscall: the program type made to be run from userspace with
 * BPF_PROG_TEST_RUN on a buffer of arguments (Linux 5.14+); loading it
 * needs CAP_BPF only, which steerctl has anyway (a tracing type would
 * also need CAP_PERFMON).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "health_maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define READ_ONCE_U64(x) (*(volatile __u64 *)&(x))

/* One search for the slot an ejection holds (bpf_loop's context). */
struct slot_free {
	struct steer_health_key k; /* the version's (backend: the page) */
	__u64 until;
};

/* bpf_loop callback: free the slot of page @p that holds c->until; 1
 * stops (found, or no page @p: pages are made in order). */
static long free_in_page(__u32 p, void *ctx)
{
	struct slot_free *c = ctx;
	struct steer_health_slots *s;

	c->k.backend = steer_health_slots_page(p);
	s = bpf_map_lookup_elem(&steer_health_slots_v1, &c->k);
	if (!s)
		return 1;
	for (int i = 0; i < STEER_HEALTH_EJECT_SLOTS; i++)
		if (__sync_val_compare_and_swap(&s->until_ns[i], c->until, 0) ==
		    c->until)
			return 1;
	return 0;
}

/* Free the ejection slot of version @k that an ejection ending at @until
 * holds (claim_slot() wrote @until there), in whichever page it is. */
static __always_inline void free_slot(struct steer_health_key k, __u64 until)
{
	struct slot_free c = { .k = k, .until = until };

	bpf_loop(STEER_HEALTH_SLOT_PAGES, free_in_page, &c, 0);
}

/* ctx: steer_health_restore_arg(route, version slot, backend slot). */
SEC("syscall")
int steer_health_restore(__u64 *ctx)
{
	__u64 arg = *ctx, until, now;
	struct steer_health_key k = {
		.route = (__u32)(arg >> 32),
		.version = (__u8)(arg >> 16),
		.backend = (__u16)arg,
	};
	struct steer_health *h;
	int ret = STEER_RESTORE_NOT_EJECTED;

	h = bpf_map_lookup_elem(&steer_health_v1, &k);
	if (!h)
		return STEER_RESTORE_NO_ENTRY;
	now = bpf_ktime_get_ns();
	until = READ_ONCE_U64(h->ejected_until_ns);
	/* A failure that ejects at this moment either came first (ended
	 * here) or wins the compare-and-swap after us (a new ejection: the
	 * backend failed again after the restore). */
	if (until && __sync_val_compare_and_swap(&h->ejected_until_ns, until,
						 0) == until) {
		if (until > now)
			ret = STEER_RESTORE_ENDED;
		free_slot(k, until);
	}
	/* Trusted again: the next ejection needs `failures` failures and
	 * lasts `eject` (no backoff). */
	h->failures = 0;
	h->streak = 0;
	return ret;
}
