// SPDX-License-Identifier: BSD-2-Clause
#include <arpa/inet.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "bench_util.h"

double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int bench_parse_addr4(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 && a->sin_port ? 0
									  : -1;
}

int bench_enter_netns(const char *name)
{
	char path[256];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

int bench_join_cgroup(const char *dir)
{
	char path[512];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ret = fprintf(f, "%d\n", getpid()) < 0;
	return fclose(f) || ret ? -1 : 0;
}

int bench_prog_stats(int fd, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info pi = { 0 };
	__u32 len = sizeof(pi);

	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		return -1;
	*ns = pi.run_time_ns;
	*cnt = pi.run_cnt;
	return 0;
}

int bench_link_stats(const char *pin, __u64 *ns, __u64 *cnt)
{
	struct bpf_link_info li = { 0 };
	__u32 len = sizeof(li);
	int lfd, pfd, ret = -1;

	lfd = bpf_obj_get(pin);
	if (lfd < 0)
		return -1;
	if (!bpf_obj_get_info_by_fd(lfd, &li, &len)) {
		pfd = bpf_prog_get_fd_by_id(li.prog_id);
		if (pfd >= 0) {
			ret = bench_prog_stats(pfd, ns, cnt);
			close(pfd);
		}
	}
	close(lfd);
	return ret;
}
