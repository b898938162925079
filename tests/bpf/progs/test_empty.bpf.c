// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * An empty sched_cls program: the baseline that tests/bpf/test_tc.c's
 * benchmark subtracts, so the figures are the TC program's own cost.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int test_empty(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}
