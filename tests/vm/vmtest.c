/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * vmtest: steer's BPF programs on the kernel the guest boots (Debian's
 * 6.1 LTS under qemu; tests/vm/run.sh). Built static: the guest has
 * busybox and nothing else.
 *
 *   host_kernel_features     every probe of agent/kfeatures.c agrees with
 *                            the kernel's version
 *   host_load_every_program  every program of every OBJDIR/ *.bpf.o loads;
 *                            the verifier's processed-instruction count
 *                            per program stays under a quarter of its 1M
 *                            limit; the verifier's stack depth per
 *                            subprogram is printed next to it
 *   guest_attach_every_program  each program attached where its type
 *                            goes: cgroup types to a test cgroup, sched_cls
 *                            to the clsact hook of a veth, others by
 *                            their section (bpf_program__attach)
 *   guest_steer_connect      steerd --once with a route file, then real
 *                            connect()s from processes in test cgroups
 *                            reach the right backend, see the frontend in
 *                            getpeername(), and a denied one gets EPERM
 *   guest_steer_udp          the same cases with unconnected UDP: sendto()
 *                            twice reaches the right backend both times,
 *                            recvfrom() shows the frontend, a denied
 *                            sendto() gets EPERM
 *
 * Objects are found at run time, so a new one in build/ is covered
 * without a change here.
 *
 * Usage: vmtest [--load-only] [--steerd PATH] [-t NAME] OBJDIR
 * --load-only runs the host_ tests alone: they load programs and attach
 * nothing, which is safe on any machine (run.sh records the host's
 * verifier counts with it). The guest_ tests attach programs and create
 * cgroups and interfaces: they refuse to run unless the kernel command
 * line carries "steer_vmtest", which only run.sh's guest has, and even
 * there they work in a network namespace of their own.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kfeatures.h"
#include "log.h"
#include "test.h"
#include "vmnet.h"

/* A quarter of the verifier's BPF_COMPLEXITY_LIMIT_INSNS. */
#define VERIFIER_BUDGET (1000000 / 4)
#define MAX_OBJS	16
#define CG_ROOT		"/sys/fs/cgroup"
#define CG_ATTACH	CG_ROOT "/vmtest-attach"
#define CG_STEER	CG_ROOT "/vmtest"
#define BPFFS		"/sys/fs/bpf/vmtest"
#define ROUTES_DIR	"/tmp/vmtest-routes"
#define VETH		"vmt0"
#define VETH_PEER	"vmt1"
/* A bound on waiting for an accept, never a timing assertion. */
#define ACCEPT_WAIT_MS 30000

static const char *objdir;
static const char *steerd = "/usr/sbin/steerd";
static char objs[MAX_OBJS][NAME_MAX + 1];
static int nobjs;

/* ---- helpers ----------------------------------------------------------- */

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && !getenv("STEER_TEST_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The *.bpf.o files of objdir, sorted. */
static int find_objects(void)
{
	struct dirent *de;
	DIR *d = opendir(objdir);

	if (!d)
		return -errno;
	while ((de = readdir(d)) && nobjs < MAX_OBJS) {
		size_t n = strlen(de->d_name);

		if (n > 6 && !strcmp(de->d_name + n - 6, ".bpf.o"))
			snprintf(objs[nobjs++], sizeof(objs[0]), "%s",
				 de->d_name);
	}
	closedir(d);
	qsort(objs, (size_t)nobjs, sizeof(objs[0]), cmp_names);
	return 0;
}

/*
 * An object that needs a kernel feature steer treats as optional: it loads
 * where the kernel has it, and steerd goes on without it where not
 * (udp_destroy.bpf.o: bpf_sock_destroy, Linux 6.5). True (and said) when
 * @name is such an object and this kernel lacks its feature.
 */
static bool optional_absent(const char *name)
{
	kfeatures_probe();
	if (strcmp(name, "udp_destroy.bpf.o") ||
	    kfeatures_have(FEAT_SOCK_DESTROY))
		return false;
	printf("  skipped:  %s (needs bpf_sock_destroy, Linux 6.5+; steerd "
	       "goes on without it)\n",
	       name);
	return true;
}

/*
 * Room for each program's verifier statistics (BPF_LOG_STATS: a few lines,
 * among them "stack depth" per subprogram). Only the statistics are asked
 * for: a full log could overrun the buffer, which 6.1 fails the load for.
 */
#define MAX_PROGS     16
#define STATS_LOG_LEN 8192
#define BPF_LOG_STATS 4
static char stats_log[MAX_PROGS][STATS_LOG_LEN];

static struct bpf_object *open_and_load(const char *name)
{
	char path[PATH_MAX];
	struct bpf_object *obj;
	struct bpf_program *prog;
	int i = 0;

	snprintf(path, sizeof(path), "%s/%s", objdir, name);
	obj = bpf_object__open_file(path, NULL);
	if (!obj) {
		FAIL_AT("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	bpf_object__for_each_program(prog, obj)
	{
		if (i == MAX_PROGS)
			break;
		stats_log[i][0] = '\0';
		bpf_program__set_log_level(prog, BPF_LOG_STATS);
		bpf_program__set_log_buf(prog, stats_log[i++], STATS_LOG_LEN);
	}
	if (bpf_object__load(obj)) {
		FAIL_AT("%s: does not load on this kernel: %s (the verifier "
			"log is above)",
			name, strerror(errno));
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

/* "6.1.0-56-amd64" -> 601; "5.18" -> 518. */
static int version_code(const char *s)
{
	unsigned int major = 0, minor = 0;

	if (sscanf(s, "%u.%u", &major, &minor) != 2)
		return -1;
	return (int)(major * 100 + minor);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* ---- host_: load only ---------------------------------------------------- */

TEST(host_kernel_features)
{
	struct utsname u;
	int kernel;

	ASSERT_EQ(uname(&u), 0);
	kernel = version_code(u.release);
	ASSERT_TRUE(kernel > 0);
	kfeatures_probe();
	for (int i = 0; i < FEAT_COUNT; i++) {
		const struct feature_info *fi = kfeatures_info(i);
		enum feature_state want = kernel >= version_code(fi->since)
						  ? FEATURE_PRESENT
						  : FEATURE_ABSENT;

		printf("  feature: %-13s %-8s (Linux %s+)\n", fi->name,
		       kfeatures_have(i) ? "present" : "absent", fi->since);
		if (kfeatures_state(i) != want)
			FAIL_AT("%s: probed %s on %s, Linux %s+ has it",
				fi->name,
				kfeatures_state(i) == FEATURE_UNKNOWN
					? "unknown"
				: kfeatures_have(i) ? "present"
						    : "absent",
				u.release, fi->since);
	}
}

static int verified_insns(const struct bpf_program *prog, __u32 *n)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return -errno;
	*n = info.verified_insns;
	return 0;
}

/*
 * The verifier's stack depth of each subprogram of @prog ("stack depth
 * 280+8+80+32": the entry first), from its statistics log: 6.1 holds a
 * call chain's frames to 512 bytes together.
 */
static void print_stack_depth(const char *obj, const struct bpf_program *prog)
{
	size_t len = 0;
	const char *log = bpf_program__log_buf(prog, &len);
	const char *at = log ? strstr(log, "stack depth ") : NULL;
	int n = 0;

	if (!at)
		return;
	at += strlen("stack depth ");
	while (at[n] && at[n] != '\n')
		n++;
	printf("  stack: %-14s %-28s %.*s\n", obj, bpf_program__name(prog), n,
	       at);
}

TEST(host_load_every_program)
{
	struct bpf_program *prog;
	int nprogs = 0;

	ASSERT_TRUE(nobjs > 0);
	for (int i = 0; i < nobjs; i++) {
		struct bpf_object *obj;

		if (optional_absent(objs[i]))
			continue;
		obj = open_and_load(objs[i]);

		if (!obj)
			continue;
		bpf_object__for_each_program(prog, obj)
		{
			__u32 n = 0;
			int ret = verified_insns(prog, &n);

			if (ret) {
				FAIL_AT("%s: no prog info: %s",
					bpf_program__name(prog),
					strerror(-ret));
				continue;
			}
			/* run.sh collects these lines into its table */
			printf("  insns: %-14s %-28s %7u processed\n", objs[i],
			       bpf_program__name(prog), n);
			print_stack_depth(objs[i], prog);
			nprogs++;
			if (n == 0 || n >= VERIFIER_BUDGET)
				FAIL_AT("%s: %u insns processed, budget %d "
					"(a quarter of the 1M limit)",
					bpf_program__name(prog), n,
					VERIFIER_BUDGET);
		}
		bpf_object__close(obj);
	}
	ASSERT_TRUE(nprogs > 0);
}

/* ---- guest_: attach and run ---------------------------------------------- */

static bool in_guest(void)
{
	char line[1024] = "";
	FILE *f = fopen("/proc/cmdline", "re");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	return strstr(line, "steer_vmtest") != NULL;
}

/* A network namespace of our own with lo up and a veth pair. */
static int guest_netns(void)
{
	int ret;

	if (unshare(CLONE_NEWNET))
		return -errno;
	ret = vmnet_veth_add(VETH, VETH_PEER);
	if (ret) {
		fprintf(stderr, "veth %s: %s\n", VETH, strerror(-ret));
		return ret;
	}
	ret = vmnet_link_up("lo");
	if (!ret)
		ret = vmnet_link_up(VETH);
	if (!ret)
		ret = vmnet_link_up(VETH_PEER);
	return ret;
}

static bool is_cgroup_type(enum bpf_prog_type t)
{
	switch (t) {
	case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
	case BPF_PROG_TYPE_CGROUP_SOCK:
	case BPF_PROG_TYPE_SOCK_OPS:
	case BPF_PROG_TYPE_CGROUP_SKB:
	case BPF_PROG_TYPE_CGROUP_SOCKOPT:
	case BPF_PROG_TYPE_CGROUP_SYSCTL:
	case BPF_PROG_TYPE_CGROUP_DEVICE:
		return true;
	default:
		return false;
	}
}

/*
 * Attach a sched_cls program to the clsact hook of VETH (ingress unless
 * its name says egress), check the filter is there with it, detach.
 */
static void tc_attach_check(struct bpf_program *prog)
{
	const char *name = bpf_program__name(prog);
	bool egress = strstr(name, "egress") != NULL;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)if_nametoindex(VETH),
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(prog));
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int ret;

	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST) {
		FAIL_AT("clsact on %s: %s", VETH, strerror(-ret));
		return;
	}
	ret = bpf_tc_attach(&hook, &opts);
	if (ret) {
		FAIL_AT("%s: tc attach to %s %s: %s", name, VETH,
			egress ? "egress" : "ingress", strerror(-ret));
		return;
	}
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = opts.handle,
		    .priority = opts.priority);
	ret = bpf_tc_query(&hook, &q);
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		FAIL_AT("%s: no prog info: %s", name, strerror(errno));
	else if (ret || q.prog_id != info.id)
		FAIL_AT("%s: tc query on %s: %s, prog id %u, want %u", name,
			VETH, strerror(-ret), q.prog_id, info.id);
	else
		printf("  attached: %-28s tc %s %s\n", name, VETH,
		       egress ? "egress" : "ingress");
	opts.prog_fd = 0;
	opts.prog_id = 0;
	opts.flags = 0;
	bpf_tc_detach(&hook, &opts);
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	bpf_tc_hook_destroy(&hook);
}

/*
 * A syscall program is never attached: steerctl runs it with
 * BPF_PROG_TEST_RUN (health_restore.bpf.c). Run it once with one
 * argument: on these fresh maps it finds nothing (returns 0).
 */
static void run_check(struct bpf_program *prog)
{
	__u64 arg = 0;
	struct bpf_test_run_opts opts = { .sz = sizeof(opts),
					  .ctx_in = &arg,
					  .ctx_size_in = sizeof(arg) };

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)) {
		FAIL_AT("%s (syscall): BPF_PROG_TEST_RUN: %s",
			bpf_program__name(prog), strerror(errno));
		return;
	}
	ASSERT_EQ(opts.retval, 0);
	printf("  ran:      %-28s BPF_PROG_TEST_RUN\n",
	       bpf_program__name(prog));
}

TEST(guest_attach_every_program)
{
	struct bpf_program *prog;
	int cg_fd;

	if (mkdir(CG_ATTACH, 0755) && errno != EEXIST) {
		FAIL_AT("mkdir %s: %s", CG_ATTACH, strerror(errno));
		return;
	}
	cg_fd = open(CG_ATTACH, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_TRUE(cg_fd >= 0);
	for (int i = 0; i < nobjs; i++) {
		struct bpf_object *obj;

		if (optional_absent(objs[i]))
			continue;
		obj = open_and_load(objs[i]);

		if (!obj)
			continue;
		bpf_object__for_each_program(prog, obj)
		{
			enum bpf_prog_type t = bpf_program__type(prog);
			const char *name = bpf_program__name(prog);
			struct bpf_link *link;

			if (t == BPF_PROG_TYPE_SCHED_CLS) {
				tc_attach_check(prog);
				continue;
			}
			if (t == BPF_PROG_TYPE_SYSCALL) {
				run_check(prog);
				continue;
			}
			link = is_cgroup_type(t)
				       ? bpf_program__attach_cgroup(prog, cg_fd)
				       : bpf_program__attach(prog);
			if (!link) {
				FAIL_AT("%s (%s): attach: %s", name,
					bpf_program__section_name(prog),
					strerror(errno));
				continue;
			}
			printf("  attached: %-28s %s\n", name,
			       is_cgroup_type(t)
				       ? CG_ATTACH
				       : bpf_program__section_name(prog));
			bpf_link__destroy(link);
		}
		bpf_object__close(obj);
	}
	close(cg_fd);
	rmdir(CG_ATTACH);
}

/* ---- guest_steer_connect ------------------------------------------------- */

static const char ROUTE[] =
	"kind: Route\n"
	"name: vmtest\n"
	"frontends: [10.96.0.20:9080, \"[fd00:96::20]:9080\",\n"
	"            10.96.0.20:9053/udp, \"[fd00:96::20]:9053/udp\"]\n"
	"versions:\n"
	"  v1:\n"
	"    backends: [127.0.0.2:8001, \"[::1]:8001\"]\n"
	"  v2:\n"
	"    backends: [127.0.0.3:8002, \"[::1]:8002\"]\n"
	"rules:\n"
	"  - name: testers\n"
	"    match: {cgroups: [/vmtest/tester]}\n"
	"    split: {v2: 100}\n"
	"  - name: default\n"
	"    split: {v1: 100}\n"
	"policy:\n"
	"  default: allow\n"
	"  deny: [{cgroups: [/vmtest/denied]}]\n";

static const char *const cgroups[] = { "plain", "tester", "denied" };

/* The routes directory with ROUTE in it, and the client cgroups. */
static int write_route_and_cgroups(void)
{
	char path[PATH_MAX];

	mkdir(ROUTES_DIR, 0755);
	mkdir(CG_STEER, 0755);
	for (size_t i = 0; i < sizeof(cgroups) / sizeof(cgroups[0]); i++) {
		snprintf(path, sizeof(path), CG_STEER "/%s", cgroups[i]);
		mkdir(path, 0755);
	}
	return write_file(ROUTES_DIR "/vmtest.yaml", ROUTE);
}

/* The backends' listeners, in the order the cases name them. */
static const struct {
	int family;
	const char *addr;
	int port;
} backends[] = {
	{ AF_INET, "127.0.0.2", 8001 }, /* v1 */
	{ AF_INET, "127.0.0.3", 8002 }, /* v2 */
	{ AF_INET6, "::1", 8001 },	/* v1 */
	{ AF_INET6, "::1", 8002 },	/* v2 */
};
#define NBACKENDS (int)(sizeof(backends) / sizeof(backends[0]))

static const struct steer_case {
	const char *cgroup;
	int family;	  /* of the client's socket */
	const char *dial; /* frontend */
	int backend;	  /* index into backends[], or -1 */
	int err;	  /* connect()'s errno when backend is -1 */
} cases[] = {
	{ "plain", AF_INET, "10.96.0.20", 0, 0 },
	{ "tester", AF_INET, "10.96.0.20", 1, 0 },
	{ "plain", AF_INET6, "fd00:96::20", 2, 0 },
	{ "tester", AF_INET6, "fd00:96::20", 3, 0 },
	{ "plain", AF_INET6, "::ffff:10.96.0.20", 0, 0 },
	{ "denied", AF_INET, "10.96.0.20", -1, EPERM },
	{ "denied", AF_INET6, "fd00:96::20", -1, EPERM },
};

/* What a client process saw, sent back over a pipe. */
struct client_result {
	int err;		       /* connect()'s errno, 0 on success */
	int peer_is_frontend;	       /* getpeername() shows the dial */
	struct sockaddr_storage local; /* getsockname() */
	struct sockaddr_storage peer;  /* getpeername() */
};

/* In a child: join the case's cgroup, connect, report, exit. */
static void client(const struct steer_case *c, int out)
{
	struct client_result r = { 0 };
	struct sockaddr_storage dial;
	socklen_t len = vmnet_sockaddr(c->family, c->dial, 9080, &dial);
	socklen_t sl = sizeof(r.local), pl = sizeof(r.peer);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), CG_STEER "/%s/cgroup.procs", c->cgroup);
	if (write_file(path, "0"))
		r.err = -1;
	fd = socket(c->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!r.err && connect(fd, (struct sockaddr *)&dial, len))
		r.err = errno;
	if (!r.err) {
		getsockname(fd, (struct sockaddr *)&r.local, &sl);
		getpeername(fd, (struct sockaddr *)&r.peer, &pl);
		r.peer_is_frontend = vmnet_same_addr(&r.peer, &dial);
	}
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

static int run_client(const struct steer_case *c, struct client_result *r)
{
	int p[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		client(c, p[1]);
	}
	close(p[1]);
	n = pid > 0 ? read(p[0], r, sizeof(*r)) : -1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return n == (ssize_t)sizeof(*r) ? 0 : -EIO;
}

/* Accept the case's connection; the index of the listener it reached. */
static int accept_one(const int *lfd, const struct client_result *r)
{
	struct pollfd pfd[NBACKENDS];
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	for (int i = 0; i < NBACKENDS; i++)
		pfd[i] = (struct pollfd){ .fd = lfd[i], .events = POLLIN };
	if (poll(pfd, NBACKENDS, ACCEPT_WAIT_MS) <= 0)
		return -1;
	for (int i = 0; i < NBACKENDS; i++) {
		int fd;

		if (!(pfd[i].revents & POLLIN))
			continue;
		fd = accept4(lfd[i], (struct sockaddr *)&peer, &len,
			     SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		close(fd);
		/* a connection that is not this client's is a failure */
		return vmnet_same_addr(&peer, &r->local) ? i : -2;
	}
	return -1;
}

/* Run steerd with @args, print its output, return its exit status. */
static int run_steerd(const char *const *args, char *out, size_t outlen)
{
	const char *argv[16] = { steerd };
	size_t used = 0;
	int p[2], status = -1, i;
	pid_t pid;
	ssize_t n;

	for (i = 0; i < 14 && args[i]; i++)
		argv[i + 1] = args[i];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(steerd, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (pid > 0 && (n = read(p[0], out + used, outlen - used - 1)) > 0)
		used += (size_t)n;
	out[used] = '\0';
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	fputs(out, stdout);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void steer_cleanup(const int *lfd)
{
	const char *const args[] = { "--cleanup", "--bpffs", BPFFS, NULL };
	char out[4096], path[PATH_MAX];

	for (int i = 0; i < NBACKENDS; i++)
		if (lfd[i] >= 0)
			close(lfd[i]);
	run_steerd(args, out, sizeof(out));
	for (size_t i = 0; i < sizeof(cgroups) / sizeof(cgroups[0]); i++) {
		snprintf(path, sizeof(path), CG_STEER "/%s", cgroups[i]);
		rmdir(path);
	}
	rmdir(CG_STEER);
	unlink(ROUTES_DIR "/vmtest.yaml");
	rmdir(ROUTES_DIR);
}

TEST(guest_steer_connect)
{
	const char *const args[] = { "--once",	 "--routes", ROUTES_DIR,
				     "--cgroup", CG_STEER,   "--bpffs",
				     BPFFS,	 NULL };
	char out[8192];
	int lfd[NBACKENDS], ret;

	for (int i = 0; i < NBACKENDS; i++)
		lfd[i] = -1;
	ret = write_route_and_cgroups();
	if (ret) {
		FAIL_AT("route file: %s", strerror(-ret));
		goto out;
	}
	for (int i = 0; i < NBACKENDS; i++) {
		lfd[i] = vmnet_listen(backends[i].family, backends[i].addr,
				      backends[i].port);
		if (lfd[i] < 0) {
			FAIL_AT("listen on %s:%d: %s", backends[i].addr,
				backends[i].port, strerror(-lfd[i]));
			goto out;
		}
	}

	ret = run_steerd(args, out, sizeof(out));
	if (ret) {
		FAIL_AT("steerd --once exited with %d", ret);
		goto out;
	}
	/* One line for every optional feature this kernel lacks. */
	kfeatures_probe();
	for (int i = 0; i < FEAT_COUNT; i++) {
		char line[128];

		if (kfeatures_have(i) || kfeatures_info(i)->required)
			continue;
		snprintf(line, sizeof(line), "kernel feature %s inactive",
			 kfeatures_info(i)->name);
		if (!strstr(out, line)) {
			FAIL_AT("steerd did not log \"%s\"", line);
			goto out;
		}
	}

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct steer_case *c = &cases[i];
		struct client_result r;
		int got;

		if (run_client(c, &r)) {
			FAIL_AT("case %zu: client did not report", i);
			break;
		}
		if (c->backend < 0) {
			if (r.err != c->err) {
				FAIL_AT("case %zu (%s dials %s): connect: "
					"%s, want %s",
					i, c->cgroup, c->dial, strerror(r.err),
					strerror(c->err));
				break;
			}
			printf("  steer: %-6s -> %-17s refused: %s\n",
			       c->cgroup, c->dial, strerror(r.err));
			continue;
		}
		if (r.err || !r.peer_is_frontend) {
			FAIL_AT("case %zu (%s dials %s): connect: %s, "
				"getpeername shows the frontend: %s",
				i, c->cgroup, c->dial,
				r.err ? strerror(r.err) : "ok",
				r.peer_is_frontend ? "yes" : "no");
			break;
		}
		got = accept_one(lfd, &r);
		if (got != c->backend) {
			FAIL_AT("case %zu (%s dials %s): reached backend "
				"%d, want %d (%s:%d)",
				i, c->cgroup, c->dial, got, c->backend,
				backends[c->backend].addr,
				backends[c->backend].port);
			break;
		}
		printf("  steer: %-6s -> %-17s reached %s:%d\n", c->cgroup,
		       c->dial, backends[got].addr, backends[got].port);
	}
out:
	steer_cleanup(lfd);
}

/* ---- guest_steer_udp ---------------------------------------------------- */

#define UDP_PORT   9053 /* the route's UDP frontends */
#define UDP_WAIT_S 30	/* a bound on waiting for an answer, not a timing */
#define UDP_SENDS  2

/* What a UDP client saw: the backend index each answer named. */
struct udp_result {
	int err;	    /* sendto()'s or recvfrom()'s errno, 0 if none */
	int from_frontend;  /* every recvfrom() showed the frontend */
	int got[UDP_SENDS]; /* backend index in each answer */
};

/* In a child: join the case's cgroup, sendto() twice, report, exit. */
static void udp_client(const struct steer_case *c, int out)
{
	struct timeval tv = { .tv_sec = UDP_WAIT_S };
	struct udp_result r = { .from_frontend = 1 };
	struct sockaddr_storage dial, from;
	socklen_t len = vmnet_sockaddr(c->family, c->dial, UDP_PORT, &dial);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), CG_STEER "/%s/cgroup.procs", c->cgroup);
	if (write_file(path, "0"))
		r.err = -1;
	fd = socket(c->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int k = 0; k < UDP_SENDS && !r.err; k++) {
		socklen_t fl = sizeof(from);
		unsigned char b;

		if (sendto(fd, "x", 1, 0, (struct sockaddr *)&dial, len) != 1 ||
		    recvfrom(fd, &b, 1, 0, (struct sockaddr *)&from, &fl) !=
			    1) {
			r.err = errno;
			break;
		}
		r.got[k] = b;
		r.from_frontend &= vmnet_same_addr(&from, &dial);
	}
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

/* In a child: answer every datagram with its backend's index, until
 * killed (or a bound of time). */
static void udp_server(const int *ufd)
{
	struct pollfd pfd[NBACKENDS];

	for (int i = 0; i < NBACKENDS; i++)
		pfd[i] = (struct pollfd){ .fd = ufd[i], .events = POLLIN };
	for (int round = 0; round < 1000; round++) {
		if (poll(pfd, NBACKENDS, ACCEPT_WAIT_MS) <= 0)
			_exit(0);
		for (int i = 0; i < NBACKENDS; i++) {
			struct sockaddr_storage peer;
			socklen_t pl = sizeof(peer);
			unsigned char b = (unsigned char)i;
			char buf[16];

			if (!(pfd[i].revents & POLLIN))
				continue;
			if (recvfrom(ufd[i], buf, sizeof(buf), 0,
				     (struct sockaddr *)&peer, &pl) >= 0)
				sendto(ufd[i], &b, 1, 0,
				       (struct sockaddr *)&peer, pl);
		}
	}
	_exit(0);
}

static int run_udp_client(const struct steer_case *c, struct udp_result *r)
{
	int p[2], status;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		udp_client(c, p[1]);
	}
	close(p[1]);
	n = pid > 0 ? read(p[0], r, sizeof(*r)) : -1;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return n == (ssize_t)sizeof(*r) ? 0 : -EIO;
}

static void udp_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct steer_case *c = &cases[i];
		struct udp_result r = { 0 };

		if (run_udp_client(c, &r)) {
			FAIL_AT("case %zu: UDP client did not report", i);
			return;
		}
		if (c->backend < 0) {
			if (r.err != c->err) {
				FAIL_AT("case %zu (%s sends to %s): %s, want "
					"%s",
					i, c->cgroup, c->dial, strerror(r.err),
					strerror(c->err));
				return;
			}
			printf("  udp:   %-6s -> %-17s refused: %s\n",
			       c->cgroup, c->dial, strerror(r.err));
			continue;
		}
		if (r.err || !r.from_frontend || r.got[0] != c->backend ||
		    r.got[1] != c->backend) {
			FAIL_AT("case %zu (%s sends to %s): %s, answers from "
				"backends %d and %d (want %d), recvfrom shows "
				"the frontend: %s",
				i, c->cgroup, c->dial,
				r.err ? strerror(r.err) : "ok", r.got[0],
				r.got[1], c->backend,
				r.from_frontend ? "yes" : "no");
			return;
		}
		printf("  udp:   %-6s -> %-17s reached %s:%d twice\n",
		       c->cgroup, c->dial, backends[c->backend].addr,
		       backends[c->backend].port);
	}
}

TEST(guest_steer_udp)
{
	const char *const args[] = { "--once",	 "--routes", ROUTES_DIR,
				     "--cgroup", CG_STEER,   "--bpffs",
				     BPFFS,	 NULL };
	int lfd[NBACKENDS], ufd[NBACKENDS], ret, status;
	char out[8192];
	pid_t server = -1;

	for (int i = 0; i < NBACKENDS; i++)
		lfd[i] = ufd[i] = -1;
	ret = write_route_and_cgroups();
	if (ret) {
		FAIL_AT("route file: %s", strerror(-ret));
		goto out;
	}
	for (int i = 0; i < NBACKENDS; i++) {
		ufd[i] = vmnet_udp_bind(backends[i].family, backends[i].addr,
					backends[i].port);
		if (ufd[i] < 0) {
			FAIL_AT("bind UDP %s:%d: %s", backends[i].addr,
				backends[i].port, strerror(-ufd[i]));
			goto out;
		}
	}
	ret = run_steerd(args, out, sizeof(out));
	if (ret) {
		FAIL_AT("steerd --once exited with %d", ret);
		goto out;
	}
	server = fork();
	if (server == 0)
		udp_server(ufd);
	if (server < 0) {
		FAIL_AT("fork: %s", strerror(errno));
		goto out;
	}
	udp_cases();
out:
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	for (int i = 0; i < NBACKENDS; i++)
		if (ufd[i] >= 0)
			close(ufd[i]);
	steer_cleanup(lfd);
}

/* ---- main ---------------------------------------------------------------- */

static int usage(void)
{
	fputs("Usage: vmtest [--load-only] [--steerd PATH] [-t NAME] "
	      "OBJDIR\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	char *targv[] = { argv[0], "-t", NULL, NULL };
	bool load_only = false;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--load-only"))
			load_only = true;
		else if (!strcmp(argv[i], "--steerd") && i + 1 < argc)
			steerd = argv[++i];
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			targv[2] = argv[++i];
		else
			return usage();
	}
	if (i != argc - 1)
		return usage();
	objdir = argv[i];
	if (load_only)
		targv[2] = "host_";

	log_init("vmtest", LOG_LEVEL_WARN, false);
	libbpf_set_print(libbpf_print);
	if (find_objects() || !nobjs) {
		fprintf(stderr, "vmtest: no *.bpf.o in %s\n", objdir);
		printf("0 passed, 1 failed\n");
		return 1;
	}
	if (!load_only) {
		if (!in_guest()) {
			fprintf(stderr, "vmtest: the guest_ tests attach "
					"programs: they run only in the vmtest "
					"guest (use --load-only here)\n");
			printf("0 passed, 1 failed\n");
			return 1;
		}
		if (guest_netns()) {
			fprintf(stderr, "vmtest: cannot set up the network "
					"namespace\n");
			printf("0 passed, 1 failed\n");
			return 1;
		}
	}
	return test_main(targv[2] ? 3 : 1, targv);
}
