/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Minimal test harness in the spirit of the kernel selftests: TEST(name)
 * defines a case, ASSERT_* print what differed and fail the case, and
 * test_main() runs every case (or those named by -t NAME) and ends with
 * "N passed, N failed". BENCH(name) defines a benchmark, run only by -t.
 */
#ifndef STEER_TEST_H
#define STEER_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
	int bench; /* BENCH(): only when -t names it */
};

#define TEST_MAX 256
static struct test_case test_cases[TEST_MAX];
static int test_count;
static int test_failed_now;

/*
 * Registration runs before main(): a case past TEST_MAX aborts the binary
 * (no summary line, so run-unit.sh fails it) instead of being dropped
 * without a word.
 */
static inline void test_register(const char *name, void (*fn)(void), int bench)
{
	if (test_count >= TEST_MAX) {
		fprintf(stderr,
			"test.h: more than %d tests (at \"%s\"): raise "
			"TEST_MAX\n",
			TEST_MAX, name);
		abort();
	}
	test_cases[test_count++] = (struct test_case){ name, fn, bench };
}

#define TEST_DEFINE(n, bench)                                                  \
	static void test_##n(void);                                            \
	__attribute__((constructor)) static void register_##n(void)            \
	{                                                                      \
		test_register(#n, test_##n, bench);                            \
	}                                                                      \
	static void test_##n(void)

/* A test case: runs in every run of the binary (or with -t NAME). */
#define TEST(n) TEST_DEFINE(n, 0)

/*
 * A benchmark: prints figures and checks only that it could measure, so
 * it is never part of a test run; it runs only when -t names it (make
 * bench-tc).
 */
#define BENCH(n) TEST_DEFINE(n, 1)

#define FAIL_AT(...)                                                           \
	do {                                                                   \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);              \
		fprintf(stderr, __VA_ARGS__);                                  \
		fputc('\n', stderr);                                           \
		test_failed_now = 1;                                           \
	} while (0)

#define ASSERT_TRUE(c)                                                         \
	do {                                                                   \
		if (!(c)) {                                                    \
			FAIL_AT("expected true: %s", #c);                      \
			return;                                                \
		}                                                              \
	} while (0)

#define ASSERT_EQ(a, b)                                                        \
	do {                                                                   \
		long long _a = (long long)(a), _b = (long long)(b);            \
		if (_a != _b) {                                                \
			FAIL_AT("%s == %s: got %lld, want %lld", #a, #b, _a,   \
				_b);                                           \
			return;                                                \
		}                                                              \
	} while (0)

#define ASSERT_STREQ(a, b)                                                     \
	do {                                                                   \
		const char *_a = (a), *_b = (b);                               \
		if (!_a || !_b || strcmp(_a, _b)) {                            \
			FAIL_AT("%s:\n    got  \"%s\"\n    want \"%s\"", #a,   \
				_a ? _a : "(null)", _b ? _b : "(null)");       \
			return;                                                \
		}                                                              \
	} while (0)

static inline int test_main(int argc, char **argv)
{
	const char *only = NULL;
	int passed = 0, failed = 0;

	if (argc == 3 && !strcmp(argv[1], "-t"))
		only = argv[2];
	for (int i = 0; i < test_count; i++) {
		if (only && !strstr(test_cases[i].name, only))
			continue;
		if (test_cases[i].bench && !only)
			continue;
		test_failed_now = 0;
		test_cases[i].fn();
		printf("%-4s %s\n", test_failed_now ? "FAIL" : "ok",
		       test_cases[i].name);
		if (test_failed_now)
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	/* Nothing run is a failure too: a -t that names no test (a typo in
	 * a make target) must not pass. */
	if (!passed && !failed) {
		fprintf(stderr, "no test %s%s\n", only ? "matches " : "to run",
			only ? only : "");
		return 1;
	}
	return failed ? 1 : 0;
}

#endif /* STEER_TEST_H */
