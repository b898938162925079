// SPDX-License-Identifier: BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "caps.h"

bool caps_have(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (cap < 0 || CAP_TO_INDEX(cap) >= _LINUX_CAPABILITY_U32S_3 ||
	    syscall(SYS_capget, &h, d))
		return false;
	return d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap);
}

int caps_check_steerd(char *err, size_t errlen)
{
	static const struct {
		int cap;
		const char *name;
	} want[] = {
		{ CAP_BPF, "CAP_BPF" },
		{ CAP_PERFMON, "CAP_PERFMON" },
		{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
		{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
	};
	char missing[128] = "";
	size_t len = 0;

	/* CAP_SYS_ADMIN stands in for CAP_BPF (bpf_capable()). */
	if ((caps_have(CAP_BPF) || caps_have(CAP_SYS_ADMIN)) &&
	    caps_have(CAP_NET_ADMIN))
		return 0;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int n;

		if (caps_have(want[i].cap))
			continue;
		n = snprintf(missing + len, sizeof(missing) - len, "%s%s",
			     len ? ", " : "", want[i].name);
		if (n > 0 && (size_t)n < sizeof(missing) - len)
			len += (size_t)n;
	}
	snprintf(err, errlen,
		 "not enough privileges: needs root, or CAP_BPF, CAP_PERFMON, "
		 "CAP_NET_ADMIN and CAP_SYS_ADMIN; missing: %s",
		 missing);
	return -EPERM;
}
