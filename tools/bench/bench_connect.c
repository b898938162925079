// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_connect: what steer's connect() hook costs, measured side by side.
 *
 * Three modes, interleaved round by round so that a noisy, shared machine
 * affects them alike; the figures that matter are the ratios:
 *   plain  a client outside the steered cgroup dials the backend directly
 *   miss   a client in the steered cgroup dials a non-frontend address
 *          (the hook runs, finds no frontend, changes nothing)
 *   steer  a client in the steered cgroup dials the frontend (policy,
 *          rules, split and backend tables, rewrite, socket storage)
 *   noop   (with --sockops) steer with a sockops program that only
 *          returns: what any sockops program costs (the kernel calls it
 *          for several always-on callbacks of every connection)
 *   sockops  (with --sockops) steer with steer's sockops program attached:
 *          connection outcomes, bytes and the RTT histogram counted too.
 *          The other modes run with it detached, so steer/sockops is the
 *          cost of the counters on the connect path.
 * Each connect is a full TCP handshake over the namespace's loopback with
 * a local accept loop; sockets close with RST (SO_LINGER 0) so TIME_WAIT
 * never runs out of ports. Run by tools/bench/bench.sh, which builds the
 * sandbox.
 *
 * With --bpffs, the kernel's own run-time statistics of the connect4
 * program (BPF_ENABLE_STATS, held only while this process runs) give the
 * hook's cost per call exactly, free of the handshake's noise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "bench_util.h"

#define MAX_ROUNDS 64

enum mode {
	MODE_PLAIN,
	MODE_MISS,
	MODE_STEER,
	MODE_NOOP,
	MODE_SOCKOPS,
	MODE_COUNT
};
static const char *const mode_names[] = { "plain", "miss", "steer", "noop",
					  "sockops" };

struct opts {
	const char *netns, *cg_plain, *cg_steer, *bpffs;
	struct sockaddr_in backend, frontend;
	int count, rounds;
	bool sockops;
};

/* Accept and drop connections until killed. */
static void serve(const struct opts *o)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 ||
	    bind(ls, (const struct sockaddr *)&o->backend,
		 sizeof(o->backend)) ||
	    listen(ls, 4096)) {
		perror("bench_connect: server");
		_exit(1);
	}
	for (;;) {
		int c = accept(ls, NULL, NULL);

		if (c >= 0)
			close(c);
	}
}

static double cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

/*
 * In a child: join the mode's cgroup, connect @count times, report the
 * wall-clock ns per connect and, in *@cpu, the CPU time per connect that
 * the client was charged (its own syscalls plus the softirq work of the
 * handshake that runs in its context): time spent descheduled by other
 * load on the machine is not in it.
 */
static double run_mode(const struct opts *o, enum mode m, double *cpu)
{
	const struct sockaddr_in *dst =
		m >= MODE_STEER ? &o->frontend : &o->backend;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int pfd[2], status;
	double result[2] = { -1, -1 };
	pid_t pid;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		double t0, c0, ns[2];
		int failed = 0;

		close(pfd[0]);
		if (bench_join_cgroup(m == MODE_PLAIN ? o->cg_plain
						      : o->cg_steer) ||
		    bench_enter_netns(o->netns))
			_exit(2);
		t0 = bench_now_ns();
		c0 = cpu_ns();
		for (int i = 0; i < o->count; i++) {
			int s = socket(AF_INET, SOCK_STREAM, 0);

			if (s < 0 || connect(s, (const struct sockaddr *)dst,
					     sizeof(*dst)))
				failed++;
			setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(s);
		}
		ns[0] = failed ? -1 : (bench_now_ns() - t0) / o->count;
		ns[1] = (cpu_ns() - c0) / o->count;
		if (write(pfd[1], ns, sizeof(ns)) != sizeof(ns))
			_exit(3);
		_exit(failed ? 4 : 0);
	}
	close(pfd[1]);
	if (pid > 0) {
		if (read(pfd[0], result, sizeof(result)) != sizeof(result))
			result[0] = -1;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			result[0] = -1;
	}
	close(pfd[0]);
	*cpu = result[1];
	return result[0];
}

/*
 * Take the sockops program out of the pinned link (detached: the steered
 * cgroup runs no sockops) and return an fd of it, to attach with a link of
 * our own around each sockops round. steerd --cleanup removes the pin.
 */
static int sockops_take(const char *bpffs)
{
	struct bpf_link_info li = {};
	__u32 len = sizeof(li);
	char path[512];
	int lfd, pfd = -1;

	snprintf(path, sizeof(path), "%s/links/sockops", bpffs);
	lfd = bpf_obj_get(path);
	if (lfd < 0)
		return -1;
	if (!bpf_obj_get_info_by_fd(lfd, &li, &len))
		pfd = bpf_prog_get_fd_by_id(li.prog_id);
	if (pfd >= 0 && bpf_link_detach(lfd)) {
		close(pfd);
		pfd = -1;
	}
	close(lfd);
	return pfd;
}

/* A sockops program that returns 1 and does nothing else. */
static int noop_sockops(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K,
		  .dst_reg = BPF_REG_0,
		  .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_SOCK_OPS, "steer_noop", "GPL", insns,
			     2, NULL);
}

/* Run time and count of the program behind the pinned connect4 link. */
static int hook_stats(const char *bpffs, __u64 *ns, __u64 *cnt)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/links/connect4", bpffs);
	return bench_link_stats(path, ns, cnt);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: bench_connect --netns NS --cgroup-plain DIR "
		"--cgroup-steer DIR\n"
		"                     --backend IP:PORT --frontend IP:PORT "
		"[--count N] [--rounds R]\n"
		"                     [--bpffs PIN_DIR [--sockops]]\n"
		"Time TCP connect() through steer's hook against a baseline;\n"
		"prints the median ns per connect of each mode and the "
		"ratios.\n"
		"--sockops adds a mode with the sockops program attached "
		"(the\n"
		"others run with it detached) and its cost per call.\n"
		"Normally run by tools/bench/bench.sh, which builds the "
		"sandbox.\n");
}

/* What the rounds measured: per mode and round, and the kernel's own
 * run-time statistics of the stats round. */
struct results {
	int n_modes;
	double ns[MODE_COUNT][MAX_ROUNDS], med[MODE_COUNT];   /* wall */
	double cpu[MODE_COUNT][MAX_ROUNDS], cmed[MODE_COUNT]; /* charged */
	__u64 run_ns[MODE_COUNT], run_cnt[MODE_COUNT]; /* connect4 hook */
	__u64 so_ns, so_cnt;			       /* sockops program */
};

/* The programs and fds the rounds use; -1 where unused. */
struct progs {
	int stats_fd;	/* BPF_ENABLE_STATS, held in the stats round */
	int sockops_fd; /* steer's sockops program, taken from its link */
	int noop_fd;	/* a sockops program that does nothing */
	int cg_fd;	/* the steered cgroup, to attach those two */
};

/* Options into @o: 0 to run, else the exit status (help: 0 printed). */
static int parse_opts(int argc, char **argv, struct opts *o, bool *help)
{
	static const struct option lo[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "cgroup-plain", required_argument, NULL, 'p' },
		{ "cgroup-steer", required_argument, NULL, 's' },
		{ "backend", required_argument, NULL, 'b' },
		{ "frontend", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "bpffs", required_argument, NULL, 'B' },
		{ "sockops", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->netns = optarg;
			break;
		case 'p':
			o->cg_plain = optarg;
			break;
		case 's':
			o->cg_steer = optarg;
			break;
		case 'b':
			bad |= bench_parse_addr4(optarg, &o->backend);
			break;
		case 'f':
			bad |= bench_parse_addr4(optarg, &o->frontend);
			break;
		case 'c':
			o->count = atoi(optarg);
			break;
		case 'r':
			o->rounds = atoi(optarg);
			break;
		case 'B':
			o->bpffs = optarg;
			break;
		case 'S':
			o->sockops = true;
			break;
		case 'h':
			*help = true;
			return 0;
		default:
			return 2;
		}
	}
	if (bad || !o->netns || !o->cg_plain || !o->cg_steer || o->count < 1 ||
	    o->rounds < 1 || o->rounds > MAX_ROUNDS || !o->backend.sin_port ||
	    !o->frontend.sin_port || (o->sockops && !o->bpffs))
		return 2;
	return 0;
}

/*
 * Mode @m of round @r: attach the mode's sockops program if it has one,
 * time it, detach. Times go into @res unless it is the stats round, the
 * kernel's run-time statistics only in it. Returns the wall ns per
 * connect, or -1 when the mode failed.
 */
static double one_mode(const struct opts *o, const struct progs *p, enum mode m,
		       int r, struct results *res)
{
	__u64 t0 = 0, c0 = 0, t1 = 0, c1 = 0, s0 = 0, n0 = 0;
	bool stats_round = r == o->rounds;
	bool stats = p->stats_fd >= 0 && !hook_stats(o->bpffs, &t0, &c0);
	double t, ct = -1;
	int link = -1;

	if (m == MODE_SOCKOPS || m == MODE_NOOP) {
		link = bpf_link_create(m == MODE_SOCKOPS ? p->sockops_fd
							 : p->noop_fd,
				       p->cg_fd, BPF_CGROUP_SOCK_OPS, NULL);
		if (link < 0)
			fprintf(stderr,
				"bench_connect: cannot attach sockops: %s\n",
				strerror(errno));
		bench_prog_stats(p->sockops_fd, &s0, &n0);
	}
	t = m >= MODE_NOOP && link < 0 ? -1 : run_mode(o, m, &ct);
	if (!stats_round) {
		res->ns[m][r] = t;
		res->cpu[m][r] = ct;
	}
	if (stats && !hook_stats(o->bpffs, &t1, &c1)) {
		res->run_ns[m] += t1 - t0;
		res->run_cnt[m] += c1 - c0;
	}
	if (link >= 0) {
		if (m == MODE_SOCKOPS && p->stats_fd >= 0 &&
		    !bench_prog_stats(p->sockops_fd, &t1, &c1)) {
			res->so_ns += t1 - s0;
			res->so_cnt += c1 - n0;
		}
		close(link); /* detaches: the next modes run without */
	}
	return t;
}

/*
 * Every mode in every round, interleaved. The timed rounds run without
 * BPF run-time stats: they add clock reads to every program call, which
 * would weigh on the modes with more calls. One more round with them
 * (--bpffs) gives the per-call costs; its times are not used.
 */
static int run_rounds(const struct opts *o, struct progs *p,
		      struct results *res)
{
	for (int r = 0; r < o->rounds + (o->bpffs ? 1 : 0); r++) {
		if (r == o->rounds) {
			p->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
			if (p->stats_fd < 0)
				fprintf(stderr,
					"bench_connect: no BPF run-time "
					"stats: %s\n",
					strerror(errno));
		}
		for (int m = 0; m < res->n_modes; m++) {
			if (one_mode(o, p, (enum mode)m, r, res) < 0) {
				fprintf(stderr,
					"bench_connect: mode %s failed in "
					"round %d\n",
					mode_names[m], r);
				return -1;
			}
		}
	}
	return 0;
}

/* Sort each mode's rounds and print "NAME median (min, max)" lines. */
static void print_medians(const struct opts *o, int n_modes,
			  double v[MODE_COUNT][MAX_ROUNDS],
			  double med[MODE_COUNT])
{
	for (int m = 0; m < n_modes; m++) {
		qsort(v[m], o->rounds, sizeof(double), cmp_double);
		med[m] = v[m][o->rounds / 2];
		printf("  %-7s %9.0f ns  (min %.0f, max %.0f)\n", mode_names[m],
		       med[m], v[m][0], v[m][o->rounds - 1]);
	}
}

/* The sockops modes against steer without them. */
static void report_sockops(const struct opts *o, const struct results *res)
{
	const double *med = res->med, *cmed = res->cmed;

	printf("connection rate: steer %.0f/s, steer+sockops %.0f/s "
	       "(medians)\n",
	       1e9 / med[MODE_STEER], 1e9 / med[MODE_SOCKOPS]);
	printf("ratio sockops/steer %.3f (medians)  %.3f (minimums): "
	       "%+.1f%% per connect\n",
	       med[MODE_SOCKOPS] / med[MODE_STEER],
	       res->ns[MODE_SOCKOPS][0] / res->ns[MODE_STEER][0],
	       100.0 * (med[MODE_SOCKOPS] / med[MODE_STEER] - 1));
	printf("CPU ratio sockops/steer %.3f (medians)  %.3f "
	       "(minimums): %+.1f%% CPU per connect\n",
	       cmed[MODE_SOCKOPS] / cmed[MODE_STEER],
	       res->cpu[MODE_SOCKOPS][0] / res->cpu[MODE_STEER][0],
	       100.0 * (cmed[MODE_SOCKOPS] / cmed[MODE_STEER] - 1));
	printf("CPU ratio noop/steer    %.3f (medians)  %.3f "
	       "(minimums): any sockops program\n",
	       cmed[MODE_NOOP] / cmed[MODE_STEER],
	       res->cpu[MODE_NOOP][0] / res->cpu[MODE_STEER][0]);
	printf("CPU ratio sockops/noop  %.3f (medians)  %.3f "
	       "(minimums): steer's counting itself\n",
	       cmed[MODE_SOCKOPS] / cmed[MODE_NOOP],
	       res->cpu[MODE_SOCKOPS][0] / res->cpu[MODE_NOOP][0]);
	if (res->so_cnt)
		printf("sockops program %6.0f ns per call, %.1f calls "
		       "per connection (kernel run-time stats)\n",
		       (double)res->so_ns / res->so_cnt,
		       (double)res->so_cnt / o->count);
}

static void report(const struct opts *o, const struct progs *p,
		   struct results *res)
{
	printf("%d rounds x %d connects per mode, interleaved; median ns per "
	       "connect()+close():\n",
	       o->rounds, o->count);
	print_medians(o, res->n_modes, res->ns, res->med);
	printf("median CPU ns per connect()+close() charged to the client:\n");
	print_medians(o, res->n_modes, res->cpu, res->cmed);
	/* The minimum is the run least disturbed by other load. */
	printf("ratio miss/plain  %.3f (medians)  %.3f (minimums)\n",
	       res->med[MODE_MISS] / res->med[MODE_PLAIN],
	       res->ns[MODE_MISS][0] / res->ns[MODE_PLAIN][0]);
	printf("ratio steer/plain %.3f (medians)  %.3f (minimums)\n",
	       res->med[MODE_STEER] / res->med[MODE_PLAIN],
	       res->ns[MODE_STEER][0] / res->ns[MODE_PLAIN][0]);
	if (o->sockops)
		report_sockops(o, res);
	for (int m = MODE_MISS; m < res->n_modes && p->stats_fd >= 0; m++)
		if (res->run_cnt[m])
			printf("connect4 hook, mode %-5s %6.0f ns per call "
			       "(kernel run-time stats, %llu calls)\n",
			       mode_names[m],
			       (double)res->run_ns[m] / res->run_cnt[m],
			       (unsigned long long)res->run_cnt[m]);
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	static struct results res;
	struct opts o = { .count = 2000, .rounds = 9 };
	struct progs p = { -1, -1, -1, -1 };
	bool help = false;
	int ret;
	pid_t server;

	ret = parse_opts(argc, argv, &o, &help);
	if (ret || help) {
		usage(ret ? stderr : stdout);
		return ret;
	}
	res.n_modes = o.sockops ? MODE_COUNT : MODE_SOCKOPS;
	if (o.sockops) {
		p.sockops_fd = sockops_take(o.bpffs);
		p.noop_fd = noop_sockops();
		p.cg_fd = open(o.cg_steer, O_RDONLY | O_DIRECTORY);
		if (p.sockops_fd < 0 || p.noop_fd < 0 || p.cg_fd < 0) {
			fprintf(stderr,
				"bench_connect: no sockops program to take "
				"from %s/links/sockops: %s\n",
				o.bpffs, strerror(errno));
			return 1;
		}
	}

	server = fork();
	if (server == 0) {
		if (bench_enter_netns(o.netns))
			_exit(1);
		serve(&o);
	}
	usleep(200000); /* let the server listen */
	ret = run_rounds(&o, &p, &res);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	if (!ret)
		report(&o, &p, &res);
	close_fd(p.stats_fd);
	close_fd(p.sockops_fd);
	close_fd(p.noop_fd);
	close_fd(p.cg_fd);
	return ret ? 1 : 0;
}
