/* SPDX-License-Identifier: BSD-2-Clause */
/* Address, CIDR and port parsing; the one address formatter. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "addr.h"

int addr_parse_uint(const char *s, unsigned long long min,
		    unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t i;

	/* 20 digits overflow 64 bits; every limit here is far below. */
	if (!s[0] || strlen(s) > 19)
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	if (v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Bare IPv4 or IPv6 address (no brackets) into @a. */
static int parse_ip(const char *s, size_t len, struct route_addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(a->addr, 0, sizeof(a->addr));
	if (inet_pton(AF_INET, buf, a->addr) == 1) {
		a->family = STEER_FAM_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a->addr) == 1) {
		a->family = STEER_FAM_INET6;
		return 0;
	}
	return -EINVAL;
}

static int parse_port(const char *s, struct route_addr *a)
{
	unsigned long long v;

	if (addr_parse_uint(s, 1, 65535, &v))
		return -ERANGE;
	a->has_port = true;
	a->port = (__u16)v;
	return 0;
}

int addr_parse(const char *s, struct route_addr *a)
{
	const char *colon, *end;
	int err;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			return -EINVAL;
		err = parse_ip(s + 1, (size_t)(end - s - 1), a);
		if (err || a->family != STEER_FAM_INET6)
			return -EINVAL;
		if (!end[1])
			return 0;
		if (end[1] != ':')
			return -EINVAL;
		return parse_port(end + 2, a);
	}
	colon = strchr(s, ':');
	/* Two colons or more: a bare IPv6 address, which has no port. */
	if (!colon || strchr(colon + 1, ':')) {
		err = parse_ip(s, strlen(s), a);
		return err;
	}
	err = parse_ip(s, (size_t)(colon - s), a);
	if (err || a->family != STEER_FAM_INET)
		return -EINVAL;
	return parse_port(colon + 1, a);
}

int addr_parse_cidr(const char *s, struct steer_cidr *c)
{
	struct route_addr a;
	unsigned long long len;
	const char *slash = strchr(s, '/');
	unsigned int max, i;
	__u8 *bytes;
	int err;

	memset(c, 0, sizeof(*c));
	err = parse_ip(s, slash ? (size_t)(slash - s) : strlen(s), &a);
	if (err)
		return -EINVAL;
	max = a.family == STEER_FAM_INET ? 32 : 128;
	if (!slash)
		len = max;
	else if (addr_parse_uint(slash + 1, 0, max, &len))
		return -EINVAL;
	bytes = (__u8 *)a.addr;
	for (i = (unsigned int)len; i < max; i++) {
		if (bytes[i / 8] & (0x80 >> (i % 8)))
			return -EDOM;
	}
	memcpy(c->addr, a.addr, sizeof(c->addr));
	c->family = a.family;
	c->prefixlen = (__u8)len;
	return 0;
}

bool addr_equal(const struct route_addr *a, const struct route_addr *b)
{
	return a->family == b->family && a->has_port == b->has_port &&
	       (!a->has_port || a->port == b->port) &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

const char *addr_format(char *buf, size_t len, __u8 family, const __u32 addr[4],
			__u16 port)
{
	char ip[INET6_ADDRSTRLEN];
	int af = family == STEER_FAM_INET6 ? AF_INET6 : AF_INET;

	if (!inet_ntop(af, addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	if (!port)
		snprintf(buf, len, "%s", ip);
	else if (af == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}
