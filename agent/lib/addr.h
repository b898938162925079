/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Addresses: parsing for route files and steerctl (on inet_pton) and the
 * one formatter every part of steer prints an address with (on
 * inet_ntop). Pure functions: no YAML, no messages; the caller turns
 * codes into errors.
 */
#ifndef STEER_ADDR_H
#define STEER_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include "steer_abi.h"

/* An address as written: family + address, optional port. */
struct route_addr {
	__u8 family; /* enum steer_family */
	bool has_port;
	__u16 port;    /* host order; valid when has_port */
	__u32 addr[4]; /* network order; IPv4 in addr[0] */
};

/* Room for the longest addr_format() result: "[v6 address]:65535". */
#define ADDR_STR_MAX 56

/*
 * Parse "10.0.0.1", "10.0.0.1:80", "fd00::1", "[fd00::1]" or "[fd00::1]:80"
 * into @a. Returns 0, -EINVAL for a bad address or -ERANGE for a bad port
 * (not an integer from 1 to 65535).
 */
int addr_parse(const char *s, struct route_addr *a);

/*
 * Parse "10.0.0.0/8", "fd00::/64" or a bare address (/32, /128) into @c.
 * Returns 0, -EINVAL when malformed or -EDOM when host bits are set.
 */
int addr_parse_cidr(const char *s, struct steer_cidr *c);

/*
 * Parse a decimal integer from @min to @max: digits only, no sign, no
 * spaces. Returns 0 or -EINVAL.
 */
int addr_parse_uint(const char *s, unsigned long long min,
		    unsigned long long max, unsigned long long *out);

/* Same family, address, port presence and port. */
bool addr_equal(const struct route_addr *a, const struct route_addr *b);

/*
 * "10.0.0.1:80", "[fd00::1]:80", or the bare address when @port is 0, into
 * @buf; returns @buf. @family is an enum steer_family, @addr in network
 * order (IPv4 in addr[0]), @port in host order: callers holding a __be16
 * pass ntohs(port), a struct route_addr passes has_port ? port : 0.
 */
const char *addr_format(char *buf, size_t len, __u8 family, const __u32 addr[4],
			__u16 port);

#endif /* STEER_ADDR_H */
