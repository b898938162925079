// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include "sysfs.h"

int sysfs_cgroup2_root(char *buf, size_t len)
{
	struct mntent *ent;
	int ret = -ENOENT;
	FILE *f;

	f = setmntent("/proc/mounts", "r");
	if (!f)
		return -errno;
	while ((ent = getmntent(f))) {
		if (strcmp(ent->mnt_type, "cgroup2"))
			continue;
		if (snprintf(buf, len, "%s", ent->mnt_dir) >= (int)len)
			ret = -ENAMETOOLONG;
		else
			ret = 0;
		break;
	}
	endmntent(f);
	return ret;
}

int sysfs_cgroup_id(const char *path, __u64 *id)
{
	struct stat st;

	*id = 0;
	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* On cgroup v2 the cgroup id is the kernfs inode number. */
	*id = st.st_ino;
	return 0;
}

int sysfs_mkdirs(const char *path, unsigned int mode)
{
	char buf[512];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int is_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st))
		return -errno;
	return st.f_type == BPF_FS_MAGIC;
}

int sysfs_bpffs_prepare(const char *dir, char *err, size_t errlen)
{
	char sub[512];
	int ret;

	if (is_bpffs("/sys/fs/bpf") == 0 &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		ret = -errno;
		snprintf(err, errlen, "cannot mount bpffs at /sys/fs/bpf: %s",
			 strerror(errno));
		return ret;
	}
	ret = sysfs_mkdirs(dir, 0700);
	if (!ret && is_bpffs(dir) != 1)
		ret = -EXDEV;
	if (ret) {
		snprintf(err, errlen, "%s: %s", dir,
			 ret == -EXDEV ? "not on a bpf filesystem"
				       : strerror(-ret));
		return ret;
	}
	snprintf(sub, sizeof(sub), "%s/maps", dir);
	ret = sysfs_mkdirs(sub, 0700);
	if (!ret) {
		snprintf(sub, sizeof(sub), "%s/links", dir);
		ret = sysfs_mkdirs(sub, 0700);
	}
	if (ret)
		snprintf(err, errlen, "%s: %s", sub, strerror(-ret));
	return ret;
}
