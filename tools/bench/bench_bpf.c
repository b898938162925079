// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_bpf: the BPF side of `make bench` that is not steerd.
 *
 *   bench_bpf attach OBJ PROG CGROUP LINK_PIN
 *       load OBJ, attach its cgroup program PROG to CGROUP with a bpf_link
 *       and pin the link at LINK_PIN (removing the pin detaches it). The
 *       empty connect4 baseline is attached this way, as steerd attaches
 *       steer's.
 *   bench_bpf testrun OBJ PROG CALLS [MAPS_DIR]
 *       run the TC program PROG with BPF_PROG_TEST_RUN: once on a TCP SYN
 *       from 10.1.0.250:1 to 10.96.0.20:9080 (a new flow), then CALLS
 *       times on an ACK of the same flow (an established-flow packet), one
 *       packet per call, and print the median and minimum ns per packet.
 *       One packet per call because the kernel reuses one skb for all the
 *       repeats of a call, and a DNAT program rewrites it: the second
 *       repeat would no longer be a packet of the flow. With MAPS_DIR,
 *       maps of OBJ that have a pin of the same name there are reused, so
 *       the program runs against a live steerd's routes and conntrack.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static int attach(const char *obj_path, const char *prog_name,
		  const char *cgroup, const char *pin)
{
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	struct bpf_program *prog;
	struct bpf_link *link = NULL;
	int cg = -1, ret = 1;

	if (!obj) {
		fprintf(stderr, "bench_bpf: cannot open %s: %s\n", obj_path,
			strerror(errno));
		return 1;
	}
	/* Load only the program asked for. */
	for (prog = bpf_object__next_program(obj, NULL); prog;
	     prog = bpf_object__next_program(obj, prog))
		bpf_program__set_autoload(
			prog, !strcmp(bpf_program__name(prog), prog_name));
	prog = bpf_object__find_program_by_name(obj, prog_name);
	if (!prog || bpf_object__load(obj)) {
		fprintf(stderr, "bench_bpf: cannot load %s from %s\n",
			prog_name, obj_path);
		goto out;
	}
	cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		fprintf(stderr, "bench_bpf: cannot open %s: %s\n", cgroup,
			strerror(errno));
		goto out;
	}
	link = bpf_program__attach_cgroup(prog, cg);
	if (!link) {
		fprintf(stderr, "bench_bpf: failed to attach %s to %s: %s\n",
			prog_name, cgroup, strerror(errno));
		goto out;
	}
	if (bpf_link__pin(link, pin)) {
		fprintf(stderr, "bench_bpf: cannot pin %s: %s\n", pin,
			strerror(errno));
		goto out;
	}
	ret = 0;
out:
	bpf_link__destroy(link); /* the pin keeps it attached */
	if (cg >= 0)
		close(cg);
	bpf_object__close(obj);
	return ret;
}

/* Ethernet + IPv4 + TCP from 10.1.0.250:1 to 10.96.0.20:9080. */
static size_t tcp_packet(unsigned char *buf, size_t len, bool syn)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct tcphdr *tcp = (struct tcphdr *)(ip + 1);
	size_t n = sizeof(*eth) + sizeof(*ip) + sizeof(*tcp);

	if (len < n)
		return 0;
	memset(buf, 0, n);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*tcp));
	ip->saddr = htonl(0x0a0100fa);
	ip->daddr = htonl(0x0a600014);
	tcp->source = htons(1);
	tcp->dest = htons(9080);
	tcp->doff = 5;
	tcp->syn = syn;
	tcp->ack = !syn;
	return n;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return x < y ? -1 : x > y;
}

/* One packet through @prog_fd; its run time in ns, or -1. @daddr: the
 * destination of the packet the program left (a DNAT rewrites it). */
static long run_once(int prog_fd, bool syn, __u32 *retval, __u32 *daddr)
{
	unsigned char pkt[128], out[256];
	struct bpf_test_run_opts opts = {
		.sz = sizeof(opts),
		.data_in = pkt,
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = 1,
	};

	opts.data_size_in = (__u32)tcp_packet(pkt, sizeof(pkt), syn);
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -1;
	*retval = opts.retval;
	*daddr = 0;
	if (opts.data_size_out >= sizeof(struct ethhdr) + sizeof(struct iphdr))
		*daddr = ((const struct iphdr *)(out + sizeof(struct ethhdr)))
				 ->daddr;
	return opts.duration;
}

static int testrun(const char *obj_path, const char *prog_name, int calls,
		   const char *pin_dir)
{
	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	struct bpf_program *prog;
	struct bpf_map *map;
	int ret = 1;

	if (!obj) {
		fprintf(stderr, "bench_bpf: cannot open %s: %s\n", obj_path,
			strerror(errno));
		return 1;
	}
	for (prog = bpf_object__next_program(obj, NULL); prog;
	     prog = bpf_object__next_program(obj, prog))
		bpf_program__set_autoload(
			prog, !strcmp(bpf_program__name(prog), prog_name));
	for (map = bpf_object__next_map(obj, NULL); map;
	     map = bpf_object__next_map(obj, map)) {
		char path[512];
		int fd;

		if (!pin_dir)
			break;
		snprintf(path, sizeof(path), "%s/%s", pin_dir,
			 bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			bpf_map__reuse_fd(map, fd);
			close(fd);
		}
	}
	prog = bpf_object__find_program_by_name(obj, prog_name);
	if (!prog || bpf_object__load(obj)) {
		fprintf(stderr, "bench_bpf: cannot load %s from %s\n",
			prog_name, obj_path);
		goto out;
	}
	{
		__u32 *ns = calloc(calls, sizeof(*ns)), daddr = 0, syn_ret = 0,
		      ack_ret = 0;
		int fd = bpf_program__fd(prog);
		char dst[INET_ADDRSTRLEN];

		if (!ns || run_once(fd, true, &syn_ret, &daddr) < 0) {
			fprintf(stderr, "bench_bpf: test run of %s: %s\n",
				prog_name, strerror(errno));
			free(ns);
			goto out;
		}
		for (int i = 0; i < calls; i++) {
			long d = run_once(fd, false, &ack_ret, &daddr);

			if (d < 0) {
				fprintf(stderr, "bench_bpf: test run: %s\n",
					strerror(errno));
				free(ns);
				goto out;
			}
			ns[i] = (__u32)d;
		}
		qsort(ns, calls, sizeof(*ns), cmp_u32);
		inet_ntop(AF_INET, &daddr, dst, sizeof(dst));
		printf("{\"ns_median\": %u, \"ns_min\": %u, \"calls\": %d, "
		       "\"syn_retval\": %u, \"ack_retval\": %u, "
		       "\"ack_daddr_out\": \"%s\"}\n",
		       ns[calls / 2], ns[0], calls, syn_ret, ack_ret, dst);
		free(ns);
	}
	ret = 0;
out:
	bpf_object__close(obj);
	return ret;
}

int main(int argc, char **argv)
{
	libbpf_set_print(quiet);
	if (argc == 6 && !strcmp(argv[1], "attach"))
		return attach(argv[2], argv[3], argv[4], argv[5]);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "testrun")) {
		int calls = atoi(argv[4]);

		if (calls < 1 || calls > 10000000)
			return 2;
		return testrun(argv[2], argv[3], calls,
			       argc == 6 ? argv[5] : NULL);
	}
	fprintf(stderr, "Usage: bench_bpf attach OBJ PROG CGROUP LINK_PIN\n"
			"       bench_bpf testrun OBJ PROG CALLS [MAPS_DIR]\n");
	return 2;
}
