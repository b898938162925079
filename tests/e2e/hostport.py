# SPDX-License-Identifier: BSD-2-Clause
"""ADDR:PORT strings (IPv6 as [addr]:port) for tests/e2e/echo_server.py and
tests/e2e/steer_probe.py, which import it from their own directory."""
import socket


def parse_addr(s):
    """"10.0.0.1:80" or "[fd00::1]:80" -> (family, host, port)."""
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
        return socket.AF_INET6, host, int(port)
    host, _, port = s.rpartition(":")
    return socket.AF_INET, host, int(port)


def fmt_addr(fam, a):
    """A socket address tuple -> "10.0.0.1:80" or "[fd00::1]:80"."""
    return f"[{a[0]}]:{a[1]}" if fam == socket.AF_INET6 else f"{a[0]}:{a[1]}"
