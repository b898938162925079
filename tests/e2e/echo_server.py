#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""TCP identity server for the steer e2e tests.

usage: echo_server.py ADDR:PORT=IDENT ...     (IPv6 as [addr]:port=IDENT)

Listens on every given address; for each accepted connection writes one line
"IDENT PEER_ADDR PEER_PORT\\n" (the client address the server saw) and closes.
Prints "READY" on stdout once every socket listens.  Exits on SIGTERM/SIGINT.
"""
import selectors
import signal
import socket
import sys


def parse_addr(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
        return socket.AF_INET6, host, int(port)
    host, _, port = s.rpartition(":")
    return socket.AF_INET, host, int(port)


def main(argv):
    sel = selectors.DefaultSelector()
    for spec in argv:
        addr, _, ident = spec.partition("=")
        fam, host, port = parse_addr(addr)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, port))
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, ident)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("READY", flush=True)
    while True:
        for key, _ in sel.select():
            while True:
                try:
                    c, peer = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                try:
                    c.setblocking(True)
                    c.settimeout(1.0)
                    c.sendall(f"{key.data} {peer[0]} {peer[1]}\n".encode())
                except OSError:
                    pass
                finally:
                    c.close()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
