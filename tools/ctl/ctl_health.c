// SPDX-License-Identifier: BSD-2-Clause
/*
 * Ending a passive ejection from steerctl (restore): bpf/health_restore.bpf.c
 * on the pinned health maps, run once per backend with BPF_PROG_TEST_RUN.
 * The change happens in the kernel on the live entry, with the atomics the
 * datapath uses: no whole-value write that could lose a concurrent update
 * (see the object's comment).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctl.h"
#include "health_restore.skel.h"

/* libbpf's own lines would break the one-line error: the caller says why. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

int ctl_health_open(const struct steer_maps *m, struct ctl_health *h)
{
	libbpf_print_fn_t old;
	int ret = 0;

	h->skel = NULL;
	if (m->health < 0 || m->health_slots < 0)
		return 0; /* pins older than health: nothing to end */
	old = libbpf_set_print(quiet);
	h->skel = steer_health_restore__open();
	if (!h->skel) {
		ret = -errno;
		goto out;
	}
	if (bpf_map__reuse_fd(h->skel->maps.steer_health_v1, m->health) ||
	    bpf_map__reuse_fd(h->skel->maps.steer_health_slots_v1,
			      m->health_slots) ||
	    steer_health_restore__load(h->skel)) {
		ret = -errno;
		steer_health_restore__destroy(h->skel);
		h->skel = NULL;
	}
out:
	libbpf_set_print(old);
	return ret;
}

int ctl_health_restore(const struct ctl_health *h, __u32 id, __u8 vslot,
		       __u16 bslot)
{
	__u64 arg = steer_health_restore_arg(id, vslot, bslot);
	struct bpf_test_run_opts opts = { .sz = sizeof(opts),
					  .ctx_in = &arg,
					  .ctx_size_in = sizeof(arg) };
	int fd;

	if (!h->skel)
		return STEER_RESTORE_NO_ENTRY;
	fd = bpf_program__fd(h->skel->progs.steer_health_restore);
	if (bpf_prog_test_run_opts(fd, &opts))
		return -errno;
	return (int)opts.retval;
}

void ctl_health_close(struct ctl_health *h)
{
	steer_health_restore__destroy(h->skel);
	h->skel = NULL;
}
