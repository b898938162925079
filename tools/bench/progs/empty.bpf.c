// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The baselines that `make bench` subtracts: programs that do nothing,
 * attached and run exactly as steer's are, so that what is left of steer's
 * figure is steer's own work, not the hook's or the test run's overhead.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int bench_empty_connect4(struct bpf_sock_addr *ctx)
{
	return 1; /* proceed */
}

SEC("tc")
int bench_empty_tc(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}
