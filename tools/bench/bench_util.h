/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What both benchmark clients (tools/bench/bench_connect.c,
 * tools/bench/bench_conn.c) do to step into a sandbox, to read
 * addresses and time, and to read a BPF program's run-time statistics.
 */
#ifndef STEER_BENCH_UTIL_H
#define STEER_BENCH_UTIL_H

#include <netinet/in.h>
#include <linux/types.h>

/* CLOCK_MONOTONIC in ns. */
double bench_now_ns(void);
/* "A.B.C.D:PORT" into @a; -1 unless both parts are valid (port 1..65535). */
int bench_parse_addr4(const char *s, struct sockaddr_in *a);
/* Move this process into network namespace /run/netns/@name. */
int bench_enter_netns(const char *name);
/* Move this process into cgroup v2 directory @dir. */
int bench_join_cgroup(const char *dir);

/* The kernel's run-time statistics (BPF_ENABLE_STATS) of program @fd:
 * total ns and number of runs. 0 or -1. */
int bench_prog_stats(int fd, __u64 *ns, __u64 *cnt);

/* The same for the program behind the link pinned at @pin. */
int bench_link_stats(const char *pin, __u64 *ns, __u64 *cnt);

#endif /* STEER_BENCH_UTIL_H */
