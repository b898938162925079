// SPDX-License-Identifier: BSD-2-Clause
/*
 * bench_conn: the one client (and backend server) of `make bench`.
 *
 * Client: closed loop, one thread per --cpus entry (pinned there), each
 * doing  socket → connect → write 1 byte → read 1 byte → close (RST)  as
 * fast as it can, for --seconds or --count connections. It times every
 * connect() into a histogram and prints one JSON line: connections,
 * errors, wall time, rate, connect() p50/p99, and how many replies each
 * backend sent (the server answers with its one-byte identity, so the
 * split is counted from what really answered). The client runs in the
 * given network namespace and cgroup, which decide which system steers it.
 *
 * Server (--serve ADDR:PORT=C ...): listens on every address, answers each
 * connection's byte with C and closes; one accept thread per address and
 * --threads. Run inside the backend namespace; killed by PID.
 *
 * Switch probe (--switch-cmd): runs a command (steerctl set ...) at t0 while
 * the threads connect, and reports when replies from --switch-to began and
 * when the last other reply started: the time a split change takes to be
 * live for new connections.
 *
 * --stats-link PIN: the kernel's run-time statistics of the program behind
 * a pinned cgroup link (BPF_ENABLE_STATS is held while this runs), as
 * run_time_ns and run_cnt deltas over the run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "bench_util.h"

extern char **environ;

#define MAX_THREADS 64
#define MAX_SERVE   16
/* Histogram: 100 ns buckets up to 20 ms; slower connects in the last. */
#define HIST_NS	     100
#define HIST_BUCKETS 200001

struct opts {
	const char *netns, *cgroup, *stats_link, *switch_cmd;
	struct sockaddr_in dst;
	int cpus[MAX_THREADS], n_threads;
	double seconds;
	long count;
	int switch_to;
	double warmup;
};

struct worker {
	pthread_t tid;
	const struct opts *o;
	int cpu;
	long conns, errors, first_err;
	long replies[256];
	unsigned *hist;
	double last_other_start, first_to_start; /* switch probe, ns */
};

static atomic_long remaining; /* --count: connections left to start */
static atomic_bool stop_flag;
static atomic_bool measuring;
static atomic_int threads_done;
static _Atomic double t_switch; /* ns: the switch command started */

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---- server ------------------------------------------------------------ */

struct listener {
	int fd;
	char ident;
};

static void *serve_loop(void *arg)
{
	const struct listener *l = arg;

	for (;;) {
		char b;
		int c = accept(l->fd, NULL, NULL);

		if (c < 0)
			continue;
		if (read(c, &b, 1) == 1 && write(c, &l->ident, 1) != 1)
			b = 0;
		close(c);
	}
	return NULL;
}

static int serve(char **specs, int n, int threads)
{
	static struct listener ls[MAX_SERVE];
	pthread_t tid;

	if (n > MAX_SERVE)
		n = MAX_SERVE;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a;
		char *eq = strchr(specs[i], '=');
		int one = 1;

		if (!eq || !eq[1]) {
			fprintf(stderr, "bench_conn: --serve ADDR:PORT=C\n");
			return 2;
		}
		*eq = '\0';
		ls[i].ident = eq[1];
		ls[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (bench_parse_addr4(specs[i], &a) || ls[i].fd < 0 ||
		    setsockopt(ls[i].fd, SOL_SOCKET, SO_REUSEADDR, &one,
			       sizeof(one)) ||
		    bind(ls[i].fd, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(ls[i].fd, 4096)) {
			fprintf(stderr, "bench_conn: cannot listen on %s: %s\n",
				specs[i], strerror(errno));
			return 1;
		}
		for (int t = 0; t < threads; t++)
			if (pthread_create(&tid, NULL, serve_loop, &ls[i]))
				return 1;
	}
	printf("READY\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

/* ---- client ------------------------------------------------------------ */

static void *client_loop(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	const struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	const int one = 1;

	pin_cpu(w->cpu);
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		double t0, t1;
		char req = 'q', rep = 0;
		int s, ok;

		if (o->count && atomic_fetch_sub(&remaining, 1) <= 0)
			break;
		s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0) {
			w->errors++;
			continue;
		}
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		t0 = bench_now_ns();
		ok = !connect(s, (const struct sockaddr *)&o->dst,
			      sizeof(o->dst));
		t1 = bench_now_ns();
		if (ok)
			ok = write(s, &req, 1) == 1 && read(s, &rep, 1) == 1;
		setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(s);
		if (!atomic_load_explicit(&measuring, memory_order_relaxed))
			continue; /* warm-up */
		if (!ok) {
			if (!w->errors)
				w->first_err = errno;
			w->errors++;
			continue;
		}
		w->conns++;
		w->replies[(unsigned char)rep]++;
		{
			double d = (t1 - t0) / HIST_NS;
			long b = d < HIST_BUCKETS - 1 ? (long)d
						      : HIST_BUCKETS - 1;

			w->hist[b]++;
		}
		if (o->switch_cmd && t_switch > 0 && t0 >= t_switch) {
			if (rep == o->switch_to) {
				if (!w->first_to_start ||
				    t0 < w->first_to_start)
					w->first_to_start = t0;
			} else if (t0 > w->last_other_start) {
				w->last_other_start = t0;
			}
		}
	}
	atomic_fetch_add(&threads_done, 1);
	return NULL;
}

static double hist_pct(const unsigned *h, long total, double pct)
{
	long want = (long)(total * pct / 100.0), seen = 0;

	for (long b = 0; b < HIST_BUCKETS; b++) {
		seen += h[b];
		if (seen > want)
			return (b + 0.5) * HIST_NS / 1000.0; /* µs */
	}
	return -1;
}

static pid_t spawn_sh(const char *cmd)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	pid_t pid;

	return posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) ? -1
								       : pid;
}

/* The workers' counts added up. */
struct totals {
	long conns, errors, replies[256];
	unsigned *hist;
	int first_err;
	double first_to, last_other; /* switch probe, ns */
};

static void start_workers(struct opts *o, struct worker *w)
{
	atomic_store(&remaining, o->count);
	atomic_store(&measuring, o->warmup <= 0);
	for (int i = 0; i < o->n_threads; i++) {
		w[i].o = o;
		w[i].cpu = o->cpus[i];
		w[i].hist = calloc(HIST_BUCKETS, sizeof(*w[i].hist));
		if (!w[i].hist ||
		    pthread_create(&w[i].tid, NULL, client_loop, &w[i])) {
			fprintf(stderr, "bench_conn: cannot start threads\n");
			exit(1);
		}
	}
	if (o->warmup > 0) {
		usleep((useconds_t)(o->warmup * 1e6));
		atomic_store(&measuring, true);
	}
}

/* Join the workers and add their counts into @t. */
static void join_workers(const struct opts *o, struct worker *w,
			 struct totals *t)
{
	for (int i = 0; i < o->n_threads; i++)
		pthread_join(w[i].tid, NULL);
	for (int i = 0; i < o->n_threads; i++) {
		t->conns += w[i].conns;
		if (!t->first_err)
			t->first_err = (int)w[i].first_err;
		t->errors += w[i].errors;
		for (int c = 0; c < 256; c++)
			t->replies[c] += w[i].replies[c];
		for (long b = 0; b < HIST_BUCKETS; b++)
			t->hist[b] += w[i].hist[b];
		if (w[i].first_to_start &&
		    (!t->first_to || w[i].first_to_start < t->first_to))
			t->first_to = w[i].first_to_start;
		if (w[i].last_other_start > t->last_other)
			t->last_other = w[i].last_other_start;
		free(w[i].hist);
	}
}

/* The reply bytes seen, as a JSON object: "A": n, or "#code": n. */
static void print_replies(const long replies[256])
{
	printf(", \"replies\": {");
	for (int c = 0, first = 1; c < 256; c++) {
		if (!replies[c])
			continue;
		if (c > 32 && c < 127 && c != '"' && c != '\\')
			printf("%s\"%c\": %ld", first ? "" : ", ", c,
			       replies[c]);
		else
			printf("%s\"#%d\": %ld", first ? "" : ", ", c,
			       replies[c]);
		first = 0;
	}
	printf("}");
}

/* The switch command, run while the clients connect: its exit status,
 * or -1; *@done is when it finished (ns), 0 if it did not. */
static int run_switch(const struct opts *o, double *done)
{
	int status = 0;
	pid_t sw;

	/* Let the old split run a little before switching. */
	usleep(200000);
	t_switch = bench_now_ns();
	sw = spawn_sh(o->switch_cmd);
	*done = 0;
	if (sw > 0 && waitpid(sw, &status, 0) == sw)
		*done = bench_now_ns();
	return sw > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int run_client(struct opts *o)
{
	static struct worker w[MAX_THREADS];
	struct totals t = { .hist = calloc(HIST_BUCKETS, sizeof(*t.hist)) };
	__u64 ns0 = 0, cnt0 = 0, ns1 = 0, cnt1 = 0;
	double t0, t1, sw_done = 0;
	int stats_fd = -1, sw_status = -1;
	bool stats = false;

	if (!t.hist)
		return 1;
	if ((o->cgroup && bench_join_cgroup(o->cgroup)) ||
	    (o->netns && bench_enter_netns(o->netns))) {
		fprintf(stderr, "bench_conn: cannot enter %s / %s: %s\n",
			o->cgroup ? o->cgroup : "-", o->netns ? o->netns : "-",
			strerror(errno));
		free(t.hist);
		return 1;
	}
	if (o->stats_link) {
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
		stats = stats_fd >= 0 &&
			!bench_link_stats(o->stats_link, &ns0, &cnt0);
		if (!stats)
			fprintf(stderr, "bench_conn: no run-time stats of %s\n",
				o->stats_link);
	}
	start_workers(o, w);
	if (stats && bench_link_stats(o->stats_link, &ns0, &cnt0))
		stats = false;
	t0 = bench_now_ns();
	if (o->switch_cmd)
		sw_status = run_switch(o, &sw_done);
	if (o->seconds > 0) {
		while (bench_now_ns() - t0 < o->seconds * 1e9 &&
		       atomic_load(&threads_done) < o->n_threads)
			usleep(5000);
		atomic_store(&stop_flag, true);
	}
	join_workers(o, w, &t);
	t1 = bench_now_ns();
	if (stats && bench_link_stats(o->stats_link, &ns1, &cnt1))
		stats = false;
	printf("{\"conns\": %ld, \"errors\": %ld, \"first_errno\": %d, "
	       "\"secs\": %.6f, \"rate\": %.1f, \"p50_us\": %.2f, "
	       "\"p99_us\": %.2f, \"threads\": %d",
	       t.conns, t.errors, t.first_err, (t1 - t0) / 1e9,
	       t.conns / ((t1 - t0) / 1e9), hist_pct(t.hist, t.conns, 50),
	       hist_pct(t.hist, t.conns, 99), o->n_threads);
	print_replies(t.replies);
	if (stats)
		printf(", \"prog_run_ns\": %llu, \"prog_run_cnt\": %llu",
		       (unsigned long long)(ns1 - ns0),
		       (unsigned long long)(cnt1 - cnt0));
	if (o->switch_cmd)
		printf(", \"switch_status\": %d, \"switch_cmd_ms\": %.3f, "
		       "\"switch_first_new_ms\": %.3f, "
		       "\"switch_last_old_ms\": %.3f",
		       sw_status, sw_done ? (sw_done - t_switch) / 1e6 : -1,
		       t.first_to ? (t.first_to - t_switch) / 1e6 : -1,
		       t.last_other > t_switch ? (t.last_other - t_switch) / 1e6
					       : 0);
	printf("}\n");
	if (stats_fd >= 0)
		close(stats_fd);
	free(t.hist);
	return t.conns ? 0 : 1;
}

static int parse_cpus(const char *s, struct opts *o)
{
	char *dup = strdup(s), *save = NULL;

	o->n_threads = 0;
	for (char *t = strtok_r(dup, ",", &save);
	     t && o->n_threads < MAX_THREADS; t = strtok_r(NULL, ",", &save))
		o->cpus[o->n_threads++] = atoi(t);
	free(dup);
	return o->n_threads ? 0 : -1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: bench_conn --connect IP:PORT [--netns NS] "
		"[--cgroup DIR]\n"
		"                  [--cpus 0,1,...] [--seconds S | --count N] "
		"[--warmup S]\n"
		"                  [--stats-link PIN] [--switch-cmd CMD "
		"--switch-to C]\n"
		"       bench_conn --serve IP:PORT=C ... [--netns NS] "
		"[--threads N]\n"
		"Closed-loop connect -> 1-byte request -> reply -> close, "
		"one thread per\n"
		"CPU listed (pinned); prints one JSON line. --serve answers "
		"each request\n"
		"with the byte C.\n");
}

/* What main() runs: the client, the servers, or nothing (help). */
enum role { ROLE_CLIENT, ROLE_SERVER, ROLE_HELP };

/* Options into @o; 0, or 2 for a usage error. */
static int parse_opts(int argc, char **argv, struct opts *o, enum role *role,
		      bool *have_dst, int *threads)
{
	static const struct option lo[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "serve", no_argument, NULL, 'S' },
		{ "netns", required_argument, NULL, 'n' },
		{ "cgroup", required_argument, NULL, 'g' },
		{ "cpus", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'N' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "stats-link", required_argument, NULL, 'L' },
		{ "switch-cmd", required_argument, NULL, 'X' },
		{ "switch-to", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (bench_parse_addr4(optarg, &o->dst))
				return 2;
			*have_dst = true;
			break;
		case 'S':
			*role = ROLE_SERVER;
			break;
		case 'n':
			o->netns = optarg;
			break;
		case 'g':
			o->cgroup = optarg;
			break;
		case 'p':
			if (parse_cpus(optarg, o))
				return 2;
			break;
		case 't':
			*threads = atoi(optarg);
			break;
		case 's':
			o->seconds = atof(optarg);
			break;
		case 'N':
			o->count = atol(optarg);
			break;
		case 'w':
			o->warmup = atof(optarg);
			break;
		case 'L':
			o->stats_link = optarg;
			break;
		case 'X':
			o->switch_cmd = optarg;
			break;
		case 'T':
			o->switch_to = optarg[0];
			break;
		case 'h':
			*role = ROLE_HELP;
			return 0;
		default:
			return 2;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .n_threads = 1, .cpus = { -1 } };
	enum role role = ROLE_CLIENT;
	bool have_dst = false;
	int threads = 2;

	if (parse_opts(argc, argv, &o, &role, &have_dst, &threads)) {
		usage(stderr);
		return 2;
	}
	if (role == ROLE_HELP) {
		usage(stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (role == ROLE_SERVER) {
		if (optind >= argc || threads < 1 || threads > MAX_THREADS) {
			usage(stderr);
			return 2;
		}
		if (o.netns && bench_enter_netns(o.netns)) {
			perror("bench_conn: netns");
			return 1;
		}
		return serve(argv + optind, argc - optind, threads);
	}
	/* Bounded: a time limit, a count, or both; never neither. */
	if (!have_dst || (o.seconds <= 0 && o.count <= 0) || o.seconds > 600 ||
	    o.count > 100000000) {
		usage(stderr);
		return 2;
	}
	if (o.seconds <= 0)
		o.seconds = 600;
	return run_client(&o);
}
