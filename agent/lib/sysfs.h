/* SPDX-License-Identifier: BSD-2-Clause */
/* Finding and preparing the kernel filesystems steer uses: cgroup2, bpffs. */
#ifndef STEER_SYSFS_H
#define STEER_SYSFS_H

#include <stddef.h>
#include <linux/types.h>

/* Mount point of the cgroup v2 hierarchy, from /proc/mounts. */
int sysfs_cgroup2_root(char *buf, size_t len);

/* Cgroup id (the directory's inode) of @path; 0 and -errno on error. */
int sysfs_cgroup_id(const char *path, __u64 *id);

/*
 * Make sure @dir lies on a bpffs, mounting one at /sys/fs/bpf when none is
 * mounted, and create @dir with its maps/ and links/ subdirectories.
 */
int sysfs_bpffs_prepare(const char *dir, char *err, size_t errlen);

/* mkdir -p */
int sysfs_mkdirs(const char *path, unsigned int mode);

#endif /* STEER_SYSFS_H */
