#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""TCP identity server for the steer e2e tests and the demo (stdlib only).

usage: echo_server.py ADDR:PORT=IDENT ...     (IPv6 as [addr]:port=IDENT)
       e.g. echo_server.py 10.244.1.5:9080=v1-a 10.244.1.6:9080=v1-b "[fd00::7]:9080=v2"

Run it inside the test network namespace.  Listens on every given address (one
process, one thread; several addresses may share an IDENT, e.g. a version label);
for each accepted connection writes one line
  "IDENT PEER_ADDR PEER_PORT LOCAL\\n"
(PEER_* is the client address the server saw, LOCAL the ADDR:PORT that accepted it:
the backend the connection reached) and closes.  Prints "READY" on stdout once
every socket listens.  Exits on SIGTERM/SIGINT.
"""
import selectors
import signal
import socket
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ behind
from hostport import fmt_addr, parse_addr  # noqa: E402 (tests/e2e/hostport.py)


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
        sel.register(s, selectors.EVENT_READ, (ident, fam, fmt_addr(fam, s.getsockname())))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("READY", flush=True)
    while True:
        for key, _ in sel.select():
            ident, fam, local = key.data
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
                    c.sendall(f"{ident} {peer[0]} {peer[1]} {local}\n".encode())
                except OSError:
                    pass
                finally:
                    c.close()


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
