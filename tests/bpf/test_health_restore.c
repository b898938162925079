/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * BPF-level tests of steerctl restore's program (bpf/health_restore.bpf.c):
 * it ends a passive ejection in place, frees the ejection slot that the
 * ejection held and only that, resets failures and backoff, and leaves
 * every other field (active places, counters) as it was.
 *
 * Safety (docs/DESIGN.md §8): nothing is attached or pinned; the maps are
 * the object's own and live as long as this process.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "steer_abi.h"
#include "test.h"
#include "health_restore.skel.h"

static struct steer_health_restore *skel;

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

static int run(__u32 route, __u8 vslot, __u16 bslot)
{
	__u64 arg = steer_health_restore_arg(route, vslot, bslot);
	struct bpf_test_run_opts opts = { .sz = sizeof(opts),
					  .ctx_in = &arg,
					  .ctx_size_in = sizeof(arg) };

	if (bpf_prog_test_run_opts(
		    bpf_program__fd(skel->progs.steer_health_restore), &opts))
		return -errno;
	return (int)opts.retval;
}

static int seed(__u32 route, __u8 vslot, __u16 bslot,
		const struct steer_health *h)
{
	struct steer_health_key k = { .route = route,
				      .version = vslot,
				      .backend = bslot };

	return bpf_map_update_elem(bpf_map__fd(skel->maps.steer_health_v1), &k,
				   h, BPF_ANY);
}

static int read_back(__u32 route, __u8 vslot, __u16 bslot,
		     struct steer_health *h)
{
	struct steer_health_key k = { .route = route,
				      .version = vslot,
				      .backend = bslot };

	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.steer_health_v1), &k,
				   h);
}

static int slots(__u32 route, __u8 vslot, struct steer_health_slots *s,
		 bool write)
{
	struct steer_health_key k = { .route = route,
				      .version = vslot,
				      .backend = STEER_HEALTH_VERSION };
	int fd = bpf_map__fd(skel->maps.steer_health_slots_v1);

	return write ? bpf_map_update_elem(fd, &k, s, BPF_ANY)
		     : bpf_map_lookup_elem(fd, &k, s);
}

TEST(ends_an_ejection_in_place)
{
	__u64 until = now_ns() + 30000000000ULL, other = until + 12345;
	struct steer_health h = { .ejected_until_ns = until,
				  .failures = 2,
				  .streak = 3,
				  .ejections = 4,
				  .active = 7,
				  .overflow = 5,
				  .capped = 6 };
	struct steer_health_slots s = { 0 };

	/* slot 1: another backend's ejection; slot 2: this one's */
	s.until_ns[1] = other;
	s.until_ns[2] = until;
	ASSERT_EQ(seed(1, 2, 3, &h), 0);
	ASSERT_EQ(slots(1, 2, &s, true), 0);
	ASSERT_EQ(run(1, 2, 3), STEER_RESTORE_ENDED);
	ASSERT_EQ(read_back(1, 2, 3, &h), 0);
	ASSERT_EQ(h.ejected_until_ns, 0);
	ASSERT_EQ(h.failures, 0);
	ASSERT_EQ(h.streak, 0);
	ASSERT_EQ(h.ejections, 4);
	ASSERT_EQ(h.active, 7);
	ASSERT_EQ(h.overflow, 5);
	ASSERT_EQ(h.capped, 6);
	ASSERT_EQ(slots(1, 2, &s, false), 0);
	ASSERT_EQ(s.until_ns[1], other);
	ASSERT_EQ(s.until_ns[2], 0);
	/* again: nothing left to end */
	ASSERT_EQ(run(1, 2, 3), STEER_RESTORE_NOT_EJECTED);
}

TEST(not_ejected_resets_failures_only)
{
	struct steer_health h = { .failures = 1, .active = 2, .ejections = 1 };

	ASSERT_EQ(seed(9, 0, 0, &h), 0);
	ASSERT_EQ(run(9, 0, 0), STEER_RESTORE_NOT_EJECTED);
	ASSERT_EQ(read_back(9, 0, 0, &h), 0);
	ASSERT_EQ(h.failures, 0);
	ASSERT_EQ(h.active, 2);
	ASSERT_EQ(h.ejections, 1);
}

TEST(expired_ejection_is_not_ended_but_cleared)
{
	struct steer_health h = { .ejected_until_ns = 1, .streak = 1 };

	ASSERT_EQ(seed(9, 1, 0, &h), 0);
	ASSERT_EQ(run(9, 1, 0), STEER_RESTORE_NOT_EJECTED);
	ASSERT_EQ(read_back(9, 1, 0, &h), 0);
	ASSERT_EQ(h.ejected_until_ns, 0);
	ASSERT_EQ(h.streak, 0);
}

TEST(no_entry_creates_none)
{
	struct steer_health h;

	ASSERT_EQ(run(77, 1, 1), STEER_RESTORE_NO_ENTRY);
	ASSERT_EQ(read_back(77, 1, 1, &h), -ENOENT);
}

static int quiet(enum libbpf_print_level l, const char *f, va_list ap)
{
	(void)l;
	(void)f;
	(void)ap;
	return 0;
}

int main(int argc, char **argv)
{
	int ret;

	libbpf_set_print(quiet);
	skel = steer_health_restore__open_and_load();
	if (!skel) {
		fprintf(stderr, "failed to load health_restore.bpf.o: %s\n",
			strerror(errno));
		printf("0 passed, 1 failed\n");
		return 1;
	}
	ret = test_main(argc, argv);
	steer_health_restore__destroy(skel);
	return ret;
}
