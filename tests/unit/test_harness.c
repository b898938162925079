/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The harness itself (test.h): a case past TEST_MAX aborts instead of being
 * dropped, a benchmark runs only when -t names it, and a run that runs
 * nothing fails. Each check runs test.h in a child process.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static int in_child;
static int bench_ran;

static void noop(void)
{
}

BENCH(harness_sample_bench)
{
	bench_ran = 1;
	printf("sample bench ran\n");
}

/*
 * Run @fn in a child with its stdout and stderr into @out; returns the
 * wait status.
 */
static int in_child_process(int (*fn)(void), char *out, size_t len)
{
	int fds[2], status = -1;
	size_t n = 0;
	ssize_t got;
	pid_t pid;

	if (pipe(fds))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		in_child = 1;
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		status = fn();
		fflush(NULL);
		_exit(status);
	}
	close(fds[1]);
	while (n + 1 < len && (got = read(fds[0], out + n, len - 1 - n)) > 0)
		n += (size_t)got;
	out[n] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	return status;
}

static int register_too_many(void)
{
	/* Fill the table, then one more: that one must abort. */
	while (test_count < TEST_MAX)
		test_register("filler", noop, 0);
	test_register("test_257", noop, 0);
	return 0;
}

TEST(register_past_max_aborts)
{
	char out[512];
	int st;

	if (in_child)
		return;
	st = in_child_process(register_too_many, out, sizeof(out));
	ASSERT_TRUE(WIFSIGNALED(st));
	ASSERT_EQ(WTERMSIG(st), SIGABRT);
	ASSERT_TRUE(strstr(out, "more than 256 tests (at \"test_257\")"));
}

static int run_all(void)
{
	char *argv[] = { "test_harness", NULL };
	int ret = test_main(1, argv);

	return ret ? ret : bench_ran ? 3 : 0;
}

static int run_bench(void)
{
	char *argv[] = { "test_harness", "-t", "harness_sample_bench", NULL };
	int ret = test_main(3, argv);

	return ret ? ret : bench_ran ? 0 : 3;
}

static int run_none(void)
{
	char *argv[] = { "test_harness", "-t", "no_such_test", NULL };

	return test_main(3, argv);
}

TEST(bench_runs_only_when_named)
{
	char out[2048];
	int st;

	if (in_child)
		return;
	st = in_child_process(run_all, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_TRUE(!strstr(out, "sample bench ran"));
	st = in_child_process(run_bench, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_TRUE(strstr(out, "sample bench ran"));
	ASSERT_TRUE(strstr(out, "1 passed, 0 failed"));
}

TEST(nothing_run_fails)
{
	char out[512];
	int st;

	if (in_child)
		return;
	st = in_child_process(run_none, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 1);
	ASSERT_TRUE(strstr(out, "0 passed, 0 failed"));
	ASSERT_TRUE(strstr(out, "no test matches no_such_test"));
}

int main(int argc, char **argv)
{
	return test_main(argc, argv);
}
