/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Address, CIDR and port parsing for route files, on inet_pton. Pure
 * functions: no YAML, no messages; the caller turns codes into errors.
 */
#ifndef STEER_ADDR_H
#define STEER_ADDR_H

#include <stdbool.h>
#include "routes.h"

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

#endif /* STEER_ADDR_H */
