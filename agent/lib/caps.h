/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The capabilities steerd needs, checked before it touches a filesystem:
 * whatever the mode of /sys/fs/bpf (systemd and steerd mount it 0700),
 * an unprivileged start fails with the missing privilege named, not with
 * the EACCES of a mkdir on the way.
 */
#ifndef STEER_CAPS_H
#define STEER_CAPS_H

#include <stdbool.h>
#include <stddef.h>

/* True when capability @cap (CAP_*) is in this process's effective set. */
bool caps_have(int cap);

/*
 * 0 when steerd's privileges suffice to load and attach: CAP_BPF (or
 * CAP_SYS_ADMIN) and CAP_NET_ADMIN in the effective set. Else -EPERM with
 * one line in @err naming what is missing ("not enough privileges: needs
 * root, or CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN;
 * missing: CAP_BPF, CAP_NET_ADMIN"). Capabilities in a user namespace pass
 * here and are refused by the kernel at load, whose error says the same.
 */
int caps_check_steerd(char *err, size_t errlen);

#endif /* STEER_CAPS_H */
