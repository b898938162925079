/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A fresh temporary directory per test case, for tests that read route
 * files: mktmp() makes one (its path in tmpdir), rmtmp() removes it with
 * what it holds, write_file() puts a file in a directory.
 */
#ifndef STEER_TEST_TMPDIR_H
#define STEER_TEST_TMPDIR_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static char tmpdir[64];

static inline const char *mktmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/steer-routes-XXXXXX");
	return mkdtemp(tmpdir);
}

static inline void rmtmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "  cannot remove %s\n", tmpdir);
}

static inline int write_file(const char *dir, const char *name,
			     const char *text)
{
	char path[256];
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

#endif
