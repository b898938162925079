// SPDX-License-Identifier: BSD-2-Clause
/*
 * steerd: loads steer's BPF programs, pins their maps and links, and keeps
 * the maps equal to the route files. One epoll loop over signalfd,
 * inotify and a debounce timerfd; no threads.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include "apply.h"
#include "caps.h"
#include "dns.h"
#include "kfeatures.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "metrics.h"
#include "routes.h"
#include "sysfs.h"
#include "tc.h"
#include "udp_destroy.h"

#ifndef STEER_VERSION
#define STEER_VERSION "unknown"
#endif
#define DEFAULT_ROUTES	"/etc/steer/routes"
#define DEFAULT_METRICS "127.0.0.1:9469"
/* Editors write files in several steps: wait this long after the last
 * event, then apply once. Well inside the 1 s the contract promises. */
#define DEBOUNCE_MS 100
/* How often to look for a routes directory that is missing. */
#define RETRY_MS 1000
/* How long an apply waits for the first answers of names new to it: two
 * tries of a second each, and a little. */
#define DNS_WAIT_MS 2500
/* steerd's runtime files (the DNS state steerctl status shows). */
#define RUN_DIR "/run/steer"

static const char usage_text[] =
	"Usage: steerd [OPTION]...\n"
	"Load steer's BPF programs, pin their maps and links, and keep the\n"
	"maps equal to the route files in the routes directory.\n"
	"\n"
	"  -r, --routes DIR        route files (*.yaml, *.yml); default\n"
	"                          " DEFAULT_ROUTES "\n"
	"  -b, --bpffs DIR         pin directory on a bpf filesystem; default\n"
	"                          " STEER_DEFAULT_BPFFS
	" (bpffs is mounted if needed)\n"
	"  -c, --cgroup PATH       cgroup v2 directory whose processes are\n"
	"                          steered (subtree included); default: the\n"
	"                          cgroup v2 root found in /proc/mounts\n"
	"      --max-routes N      routes the maps hold (default 256); fixed\n"
	"                          for the life of the pinned maps\n"
	"  -t, --tc-iface GLOB,... also steer at TC: clsact ingress of the\n"
	"                          interfaces matching a glob, now and as\n"
	"                          they appear (client- and backend-facing\n"
	"                          interfaces must both match)\n"
	"      --ct-max N          TC flows tracked (default 65536); fixed\n"
	"                          for the life of the pinned maps\n"
	"      --dns-server ADDR[:PORT],...\n"
	"                          name servers for dns/srv backends;\n"
	"                          default: those of /etc/resolv.conf\n"
	"      --dns-min-ttl S     resolve a name again after its records'\n"
	"      --dns-max-ttl S     TTL, at least S (default 1) and at most S\n"
	"                          (default 300) seconds\n"
	"  -m, --metrics ADDR:PORT serve /metrics (Prometheus), /healthz and\n"
	"                          /readyz there, or 'off'; default\n"
	"                          " DEFAULT_METRICS "\n"
	"      --log-format FMT    text (default) or json\n"
	"      --once              apply the route files once and exit\n"
	"      --cleanup           detach the programs, remove the pins, exit\n"
	"  -v, --verbose           debug messages, libbpf's included\n"
	"  -h, --help              show this help and exit\n"
	"      --version           show the version and which kernel\n"
	"                          features are active here, and exit\n"
	"\n"
	"Signals: SIGHUP re-reads the route files; SIGTERM and SIGINT exit "
	"and\n"
	"leave the datapath working from its pins (see --cleanup).\n"
	"A route file that fails to parse or validate changes nothing: the\n"
	"last good configuration stays in force and the error is logged.\n"
	"\n"
	"EXAMPLES\n"
	"  steerd --routes /etc/steer/routes\n"
	"  steerd --once --routes ./examples --cgroup /sys/fs/cgroup/app\n"
	"  steerd --tc-iface 'eth1,veth*' --routes /etc/steer/routes\n"
	"  steerd --cleanup --bpffs /sys/fs/bpf/steer\n";

struct steerd {
	const char *routes_dir;
	const char *bpffs;
	char cgroup[PATH_MAX];
	char cgroup_root[PATH_MAX];
	const char *metrics;
	__u32 max_routes;
	const char *tc_ifaces; /* NULL: no TC layer */
	__u32 ct_max;
	bool once, cleanup, json;
	enum log_level level;

	struct steer_maps maps;
	struct metrics_state ms; /* generation, errors, readiness */
	struct metrics_http *http;
	int epfd, sigfd, inofd, timerfd;
	struct tc_state *tc;
	int gcfd;  /* conntrack sweep timer (TC layer) */
	int udpfd; /* 1 s timer: UDP sockets of ejected backends */
	int wd;	   /* inotify watch on routes_dir; -1 while it is missing */
	struct dns *dns; /* dns/srv backends (agent/dns.c) */
	const char *dns_servers;
	__u32 dns_min_ttl, dns_max_ttl;
	char dns_state[PATH_MAX];
	/* The last set loaded, for the next reload to take unchanged
	 * documents from, and what the last apply left to go on from. */
	struct route_set last;
	struct apply_memo memo;
};

/* Read the routes directory and apply it; on error keep what is live. */
static int reload(struct steerd *d, const char *why)
{
	struct route_set set = { 0 };
	struct steer_agent_state agent;
	struct timespec t0, t_load, t_dns, t1, t_end;
	struct apply_stats st;
	char err[ROUTE_ERR_MAX];
	bool loaded;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = routes_load_dir_from(d->routes_dir, &d->last, &set, err,
				   sizeof(err));
	loaded = !ret;
	clock_gettime(CLOCK_MONOTONIC, &t_load);
	if (!ret)
		dns_expand(d->dns, &set, DNS_WAIT_MS);
	clock_gettime(CLOCK_MONOTONIC, &t_dns);
	if (!ret) {
		int lock = maps_lock(d->bpffs);

		if (lock < 0) {
			ret = lock;
			snprintf(err, sizeof(err), "cannot lock %s: %s",
				 d->bpffs, strerror(-lock));
		} else {
			ret = apply_routes(&d->maps, &set, &d->last,
					   d->cgroup_root, &d->memo, &st, err,
					   sizeof(err));
			maps_unlock(lock);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* What is left of the last set is gone from the files. Whether it is
	 * gone from the maps too only a full apply can tell after an error. */
	if (ret)
		d->memo.valid = false;
	if (loaded) {
		routes_free(&d->last);
		d->last = set;
		set = (struct route_set){ 0 };
	}
	/* steerd's own counters live in a pinned map: a restart goes on
	 * from them instead of starting over at 0. */
	maps_agent_get(&d->maps, &agent);
	if (ret) {
		agent.apply_errors++;
		maps_agent_put(&d->maps, &agent);
		d->ms.apply_errors = agent.apply_errors;
		pr_warn("%s; configuration unchanged (generation %llu)", err,
			(unsigned long long)d->ms.generation);
	} else {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		agent.applies++;
		agent.last_apply_ns =
			(__u64)now.tv_sec * 1000000000ull + (__u64)now.tv_nsec;
		maps_agent_put(&d->maps, &agent);
		d->ms.last_apply_s = now.tv_sec + now.tv_nsec / 1e9;
		d->ms.ready = true;
		d->ms.generation = st.generation;
		udp_destroy_run(); /* sockets of backends this apply removed */
		pr_info("applied %d routes from %s (%s): %d published, "
			"%d unchanged, %d overridden by steerctl, %d removed; "
			"generation %llu; %.1f ms",
			d->last.n, d->routes_dir, why, st.published,
			st.unchanged, st.kept, st.removed,
			(unsigned long long)d->ms.generation,
			log_ms_between(&t0, &t1));
	}
	routes_free(&set);
	/* Where the time went (-v; tools/bench/reload_one.sh sums it up). */
	clock_gettime(CLOCK_MONOTONIC, &t_end);
	pr_debug("reload phases: load %.1f ms, dns %.1f ms, apply %.1f ms; "
		 "after the apply %.1f ms",
		 log_ms_between(&t0, &t_load), log_ms_between(&t_load, &t_dns),
		 log_ms_between(&t_dns, &t1), log_ms_between(&t1, &t_end));
	return ret;
}

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* One-shot timer: debounce or retry. */
static void arm_timer(struct steerd *d, long ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000L },
	};

	timerfd_settime(d->timerfd, 0, &its, NULL);
}

/*
 * Watch the routes directory itself too (DELETE_SELF, MOVE_SELF): a tool
 * that replaces the whole directory leaves the old watch on a dead inode,
 * so steerd drops it and watches the path again once it is back.
 */
static int watch_routes(struct steerd *d)
{
	d->wd = inotify_add_watch(d->inofd, d->routes_dir,
				  IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
					  IN_DELETE | IN_CREATE | IN_ATTRIB |
					  IN_DELETE_SELF | IN_MOVE_SELF);
	return d->wd < 0 ? -errno : 0;
}

/* Drain inotify; true when the routes directory itself went away. */
static bool routes_dir_gone(struct steerd *d)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool gone = false;
	ssize_t len;

	while ((len = read(d->inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const void *)p;

			/* IN_IGNORED also follows our own rm_watch of an
			 * older watch: only the current watch counts. */
			if (ev->wd == d->wd &&
			    (ev->mask &
			     (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)))
				gone = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return gone;
}

/* Link events and a periodic conntrack sweep, for the TC layer. */
static int tc_loop_init(struct steerd *d)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = STEER_TC_GC_INTERVAL },
		.it_interval = { .tv_sec = STEER_TC_GC_INTERVAL },
	};

	d->gcfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d->gcfd < 0 || timerfd_settime(d->gcfd, 0, &its, NULL))
		return -errno;
	if (epoll_add(d->epfd, d->gcfd) ||
	    epoll_add(d->epfd, tc_event_fd(d->tc)))
		return -errno;
	return 0;
}

/* The signals the event loop takes from its signalfd. */
static void loop_signals(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
}

static int loop_init(struct steerd *d)
{
	sigset_t mask;

	loop_signals(&mask);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	d->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->inofd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	d->timerfd =
		timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sigfd < 0 || d->inofd < 0 || d->timerfd < 0 || d->epfd < 0)
		return -errno;
	if (watch_routes(d)) {
		pr_warn("cannot watch %s: %s; retrying every second",
			d->routes_dir, strerror(errno));
		arm_timer(d, RETRY_MS);
	}
	if (epoll_add(d->epfd, d->sigfd) || epoll_add(d->epfd, d->inofd) ||
	    epoll_add(d->epfd, d->timerfd))
		return -errno;
	if (d->http && epoll_add(d->epfd, metrics_http_fd(d->http)))
		return -errno;
	if (udp_destroy_ready()) {
		struct itimerspec its = { .it_value = { .tv_sec = 1 },
					  .it_interval = { .tv_sec = 1 } };

		d->udpfd = timerfd_create(CLOCK_MONOTONIC,
					  TFD_CLOEXEC | TFD_NONBLOCK);
		if (d->udpfd < 0 || timerfd_settime(d->udpfd, 0, &its, NULL) ||
		    epoll_add(d->epfd, d->udpfd))
			return -errno;
	}
	if (d->dns && dns_attach_loop(d->dns, d->epfd))
		return -errno;
	return d->tc ? tc_loop_init(d) : 0;
}

static void loop_fini(struct steerd *d)
{
	int *fds[] = { &d->epfd,    &d->sigfd, &d->inofd,
		       &d->timerfd, &d->gcfd,  &d->udpfd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
}

/*
 * Apply DEBOUNCE_MS after the first change of a burst, not after the last:
 * re-arming on every event would starve a directory that keeps changing.
 * Changes that arrive meanwhile are picked up by that same apply or, if
 * they come after its read, by the next event's timer.
 */
static void arm_debounce(struct steerd *d)
{
	struct itimerspec cur;

	if (!timerfd_gettime(d->timerfd, &cur) &&
	    (cur.it_value.tv_sec || cur.it_value.tv_nsec))
		return; /* already armed */
	arm_timer(d, DEBOUNCE_MS);
}

/* The timer fired: apply a debounced change, or look for the directory. */
static void on_timer(struct steerd *d)
{
	if (d->wd >= 0) {
		reload(d, "routes directory changed");
		return;
	}
	if (watch_routes(d)) {
		arm_timer(d, RETRY_MS);
		return;
	}
	pr_info("watching %s again", d->routes_dir);
	reload(d, "routes directory is back");
}

static int run_loop(struct steerd *d)
{
	struct epoll_event ev[4];

	for (;;) {
		int timeout = d->http ? metrics_http_timeout_ms(d->http) : -1;
		int n = epoll_wait(d->epfd, ev, 4, timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_warn("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		if (d->http)
			metrics_http_run(d->http); /* I/O and idle timeouts */
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == d->sigfd) {
				struct signalfd_siginfo si;

				if (read(fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reload(d, "SIGHUP");
					continue;
				}
				pr_info("exiting on %s; the datapath stays "
					"pinned under %s",
					strsignal((int)si.ssi_signo), d->bpffs);
				return 0;
			} else if (fd == d->inofd) {
				if (!routes_dir_gone(d) || d->wd < 0) {
					arm_debounce(d);
					continue;
				}
				inotify_rm_watch(d->inofd, d->wd);
				d->wd = -1;
				pr_warn("routes directory %s went away; "
					"configuration unchanged, waiting for "
					"it to return",
					d->routes_dir);
				arm_timer(d, RETRY_MS);
			} else if (dns_owns_fd(d->dns, fd)) {
				dns_on_event(d->dns, fd, ev[i].events);
			} else if (d->tc && fd == tc_event_fd(d->tc)) {
				tc_on_event(d->tc);
			} else if (fd == d->gcfd) {
				__u64 expirations;

				if (read(fd, &expirations,
					 sizeof(expirations)) > 0)
					tc_ct_gc(d->tc);
			} else if (fd == d->udpfd) {
				__u64 expirations;

				/* An ejection starts in the datapath: no
				 * apply tells us. */
				if (read(fd, &expirations,
					 sizeof(expirations)) > 0 &&
				    udp_destroy_ejected(&d->maps))
					udp_destroy_run();
			} else if (fd == d->timerfd) {
				__u64 expirations;

				if (read(fd, &expirations,
					 sizeof(expirations)) > 0)
					on_timer(d);
			}
		}
	}
}

static void dns_changed(void *arg)
{
	arm_debounce(arg); /* re-apply: one publish per changed route */
}

/* The DNS module, and its state file for steerctl status. */
static int start_dns(struct steerd *d)
{
	char dir[PATH_MAX] = ROUTE_RUN_DIR, err[ROUTE_ERR_MAX];
	struct dns_opts o = { .min_ttl = d->dns_min_ttl,
			      .max_ttl = d->dns_max_ttl,
			      .servers = d->dns_servers,
			      .on_change = dns_changed,
			      .arg = d };

	if (!routes_dns_state_path(d->bpffs, d->dns_state, sizeof(d->dns_state),
				   dir, sizeof(dir)) &&
	    (!mkdir(ROUTE_RUN_DIR, 0755) || errno == EEXIST) &&
	    (!mkdir(dir, 0755) || errno == EEXIST))
		o.state_path = d->dns_state;
	else
		pr_warn("cannot create %s: %s; steerctl status will not show "
			"DNS names",
			dir, strerror(errno));
	d->dns = dns_start(&o, err, sizeof(err));
	if (!d->dns) {
		pr_warn("%s", err);
		return -EINVAL;
	}
	d->ms.dns = d->dns;
	return 0;
}

/* The DNS state goes with the daemon (and with --cleanup). */
static void remove_run_dir(const struct steerd *d)
{
	char dir[PATH_MAX], state[PATH_MAX];

	if (routes_dns_state_path(d->bpffs, state, sizeof(state), dir,
				  sizeof(dir)))
		return;
	unlink(state);
	rmdir(dir);
}

/* Every exit path after start_dns: the module, then its state directory. */
static void stop_dns(struct steerd *d)
{
	dns_stop(d->dns);
	d->dns = NULL;
	d->ms.dns = NULL;
	remove_run_dir(d);
}

/* steerd --version: the build, the kernel, and what of it steer uses. */
static void print_version(void)
{
	struct utsname u;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	/* The probes log through libbpf only at debug level: keep quiet. */
	log_init("steerd", LOG_LEVEL_WARN, false);
	kfeatures_probe();
	printf("steerd %s\nkernel %s, features:\n", STEER_VERSION, u.release);
	kfeatures_print(stdout);
}

enum {
	OPT_LOG_FORMAT = 256,
	OPT_ONCE,
	OPT_CLEANUP,
	OPT_MAX_ROUTES,
	OPT_CT_MAX,
	OPT_VERSION,
	OPT_DNS_SERVER,
	OPT_DNS_MIN_TTL,
	OPT_DNS_MAX_TTL
};

/* --@name's @arg as a number from @min to @max into @out; 2 (usage) if not. */
static int parse_count(const char *name, const char *arg, long min, long max,
		       __u32 *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || v < min || v > max) {
		fprintf(stderr,
			"steerd: --%s: '%s' is not a number from %ld to %ld\n",
			name, arg, min, max);
		return 2;
	}
	*out = (__u32)v;
	return 0;
}

/* One option @c with argument @arg into @d: 0, or 2 for a usage error. */
static int parse_opt(struct steerd *d, int c, char *arg)
{
	switch (c) {
	case 'r':
		d->routes_dir = arg;
		return 0;
	case 'b':
		d->bpffs = arg;
		return 0;
	case 'c':
		if (snprintf(d->cgroup, sizeof(d->cgroup), "%s", arg) >=
		    (int)sizeof(d->cgroup)) {
			fprintf(stderr, "steerd: --cgroup: path too long\n");
			return 2;
		}
		return 0;
	case 'm':
		d->metrics = arg;
		return 0;
	case OPT_MAX_ROUTES:
		return parse_count("max-routes", arg, 1, 1048576,
				   &d->max_routes);
	case 't':
		if (!*arg || strspn(arg, ",") == strlen(arg)) {
			fprintf(stderr, "steerd: --tc-iface: no interface glob "
					"given\n");
			return 2;
		}
		d->tc_ifaces = arg;
		return 0;
	case OPT_CT_MAX:
		return parse_count("ct-max", arg, 16, 1 << 24, &d->ct_max);
	case OPT_DNS_SERVER:
		d->dns_servers = arg;
		return 0;
	case OPT_DNS_MIN_TTL:
		return parse_count("dns-min-ttl", arg, 1, 86400,
				   &d->dns_min_ttl);
	case OPT_DNS_MAX_TTL:
		return parse_count("dns-max-ttl", arg, 1, 86400,
				   &d->dns_max_ttl);
	case OPT_LOG_FORMAT:
		if (!strcmp(arg, "json")) {
			d->json = true;
		} else if (strcmp(arg, "text")) {
			fprintf(stderr,
				"steerd: --log-format: '%s' is neither text "
				"nor json\n",
				arg);
			return 2;
		}
		return 0;
	case OPT_ONCE:
		d->once = true;
		return 0;
	case OPT_CLEANUP:
		d->cleanup = true;
		return 0;
	case 'v':
		d->level = LOG_LEVEL_DEBUG;
		return 0;
	case 'h':
		fputs(usage_text, stdout);
		exit(0);
	case OPT_VERSION:
		print_version();
		exit(0);
	default:
		fputs("Try 'steerd --help' for more information.\n", stderr);
		return 2;
	}
}

static int parse_args(struct steerd *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "routes", required_argument, NULL, 'r' },
		{ "bpffs", required_argument, NULL, 'b' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "max-routes", required_argument, NULL, OPT_MAX_ROUTES },
		{ "tc-iface", required_argument, NULL, 't' },
		{ "ct-max", required_argument, NULL, OPT_CT_MAX },
		{ "dns-server", required_argument, NULL, OPT_DNS_SERVER },
		{ "dns-min-ttl", required_argument, NULL, OPT_DNS_MIN_TTL },
		{ "dns-max-ttl", required_argument, NULL, OPT_DNS_MAX_TTL },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "cleanup", no_argument, NULL, OPT_CLEANUP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	int c, ret;

	while ((c = getopt_long(argc, argv, "r:b:c:m:t:vh", opts, NULL)) !=
	       -1) {
		ret = parse_opt(d, c, optarg);
		if (ret)
			return ret;
	}
	if (d->dns_min_ttl > d->dns_max_ttl) {
		fprintf(stderr,
			"steerd: --dns-min-ttl %u is above "
			"--dns-max-ttl %u\n",
			d->dns_min_ttl, d->dns_max_ttl);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr,
			"steerd: unexpected argument '%s'\n"
			"Try 'steerd --help' for more information.\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

/* steerd --cleanup: detach and unpin. Returns the exit status. */
static int cleanup(const struct steerd *d)
{
	char err[ROUTE_ERR_MAX];
	int ret;

	/* TC filters first: their program pins nothing itself. */
	ret = tc_cleanup(d->bpffs, err, sizeof(err));
	if (!ret)
		ret = loader_cleanup(d->bpffs, err, sizeof(err));
	if (ret) {
		pr_warn("cleanup: %s", err);
		return 1;
	}
	pr_info("detached and removed %s", d->bpffs);
	remove_run_dir(d);
	return 0;
}

/*
 * What must hold before the datapath is touched: the kernel is new
 * enough, there is a cgroup v2 hierarchy, and the metrics address can be
 * bound (a bad address or a busy port fails here and changes nothing;
 * requests are served only from the loop). Returns 0 or -1, logged.
 */
static int preflight(struct steerd *d)
{
	char err[ROUTE_ERR_MAX];
	int ret;

	/* Newer kernel features are used where present, skipped (one line
	 * each, once the datapath is up) where not; only a kernel below
	 * steer's minimum stops here. */
	kfeatures_probe();
	ret = kfeatures_check_required(err, sizeof(err));
	if (ret) {
		pr_warn("%s", err);
		return -1;
	}
	ret = sysfs_cgroup2_root(d->cgroup_root, sizeof(d->cgroup_root));
	if (ret) {
		pr_warn("no cgroup v2 hierarchy in /proc/mounts: %s",
			strerror(-ret));
		return -1;
	}
	if (!d->cgroup[0])
		snprintf(d->cgroup, sizeof(d->cgroup), "%s", d->cgroup_root);
	d->ms.maps = &d->maps;
	if (!d->once && strcmp(d->metrics, "off")) {
		d->http = metrics_http_start(d->metrics, &d->ms, err,
					     sizeof(err));
		if (!d->http) {
			pr_warn("%s", err);
			return -1;
		}
	}
	return 0;
}

/*
 * Load (or take over) the pinned programs and maps, without attaching
 * them, and pick up the counters steerd keeps in the pins. Returns 0 or
 * -1, logged, with nothing left loaded.
 */
static int datapath_load(struct steerd *d, const struct loader_opts *lo)
{
	struct steer_agent_state agent;
	char err[ROUTE_ERR_MAX];
	int ret;

	ret = loader_load(lo, err, sizeof(err));
	if (!ret)
		ret = maps_open(d->bpffs, &d->maps, err, sizeof(err));
	if (ret) {
		pr_warn("%s", err);
		loader_abort();
		return -1;
	}
	kfeatures_log();
	d->ms.generation = maps_generation_max(&d->maps);
	if (!maps_agent_get(&d->maps, &agent)) {
		d->ms.apply_errors = agent.apply_errors;
		d->ms.last_apply_s = agent.last_apply_ns / 1e9;
	}
	return 0;
}

/* Attach the socket layer, then the TC layer when asked. 0 or -1, logged. */
static int datapath_attach(struct steerd *d, const struct loader_opts *lo)
{
	char err[ROUTE_ERR_MAX];

	if (loader_attach(lo, err, sizeof(err))) {
		pr_warn("%s", err);
		return -1;
	}
	if (d->tc_ifaces) {
		struct tc_opts to = { .bpffs = d->bpffs,
				      .ifaces = d->tc_ifaces,
				      .max_routes = d->max_routes,
				      .ct_max = d->ct_max,
				      .watch = !d->once };

		d->tc = tc_start(&to, err, sizeof(err));
		if (!d->tc) {
			pr_warn("%s", err);
			return -1;
		}
	}
	return 0;
}

/*
 * Everything before the loop: checks, the DNS module, load, the first
 * apply, attach. 0, or 1 when the first apply failed (steerd goes on with
 * what is pinned); -1 when there is nothing to run (all undone).
 */
static int start(struct steerd *d)
{
	struct loader_opts lo = { .bpffs = d->bpffs,
				  .cgroup = d->cgroup,
				  .max_routes = d->max_routes };
	int ret;

	if (preflight(d))
		return -1;
	/* A bad --dns-server fails here too, before the datapath is touched;
	 * no query goes out before the first reload names something. */
	if (start_dns(d)) {
		metrics_http_stop(d->http);
		return -1;
	}
	/*
	 * Load, apply, then attach: maps new to this layout (an upgrade)
	 * are filled before any program that reads them is in a hook.
	 */
	if (datapath_load(d, &lo)) {
		stop_dns(d);
		metrics_http_stop(d->http);
		return -1;
	}
	ret = reload(d, "start");
	if (datapath_attach(d, &lo)) {
		stop_dns(d);
		maps_close(&d->maps);
		metrics_http_stop(d->http);
		return -1;
	}
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct steerd d = {
		.routes_dir = DEFAULT_ROUTES,
		.bpffs = STEER_DEFAULT_BPFFS,
		.metrics = DEFAULT_METRICS,
		.max_routes = STEER_DEFAULT_MAX_ROUTES,
		.ct_max = STEER_DEFAULT_CT_MAX,
		.level = LOG_LEVEL_INFO,
		.gcfd = -1,
		.udpfd = -1,
		.epfd = -1,
		.sigfd = -1,
		.inofd = -1,
		.wd = -1,
		.timerfd = -1,
		.dns_min_ttl = DNS_DEFAULT_MIN_TTL,
		.dns_max_ttl = DNS_DEFAULT_MAX_TTL,
	};
	char err[ROUTE_ERR_MAX];
	int ret;

	ret = parse_args(&d, argc, argv);
	if (ret)
		return ret;
	log_init("steerd", d.level, d.json);

	/* Before any filesystem is touched: without the privileges a mkdir
	 * under a 0700 /sys/fs/bpf would fail first and hide the reason. */
	ret = caps_check_steerd(err, sizeof(err));
	if (ret) {
		pr_warn("%s", err);
		return 1;
	}
	if (d.cleanup)
		return cleanup(&d);
	/*
	 * A daemon holds its signals from here on, for the loop to take: a
	 * SIGHUP or SIGTERM sent once the first apply is logged, while the
	 * programs are still being attached, is handled then instead of
	 * killing steerd half-started. --once keeps the defaults (^C stops it).
	 */
	if (!d.once) {
		sigset_t mask;

		loop_signals(&mask);
		sigprocmask(SIG_BLOCK, &mask, NULL);
	}
	ret = start(&d);
	if (ret < 0)
		return 1;
	pr_info("datapath attached to %s, pinned under %s", d.cgroup, d.bpffs);
	if (!d.once) {
		udp_destroy_init(d.bpffs, d.max_routes);
		udp_destroy_run();
	}
	if (d.http)
		pr_info("metrics on http://%s/metrics", d.metrics);

	if (d.once) {
		stop_dns(&d);
		tc_stop(d.tc);
		maps_close(&d.maps);
		routes_free(&d.last);
		apply_memo_free(&d.memo);
		return ret ? 1 : 0;
	}
	/* A bad file at start leaves the pinned state; keep watching. */
	ret = loop_init(&d);
	if (ret) {
		pr_warn("cannot start the event loop: %s", strerror(-ret));
		ret = 1;
		goto out;
	}
	pr_info("ready: watching %s", d.routes_dir);
	ret = run_loop(&d) ? 1 : 0;
out:
	stop_dns(&d);
	loop_fini(&d);
	udp_destroy_fini();
	tc_stop(d.tc);
	metrics_http_stop(d.http);
	maps_close(&d.maps);
	routes_free(&d.last);
	apply_memo_free(&d.memo);
	return ret;
}
