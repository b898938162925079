#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Tiny TCP servers for the steer demo and e2e tests (stdlib only).

    demo_server.py LABEL=ADDR:PORT ...   e.g. v1=10.244.1.5:9080 "v2=[fd00::7]:9080"

Listens on every address (one process, one thread) and answers each
connection with "LABEL ADDR:PORT\\n", then closes it. Prints "ready" once
every socket is listening. Run it inside the test network namespace.
"""
import selectors
import socket
import sys


def parse(spec):
    label, _, addr = spec.partition("=")
    host, _, port = addr.rpartition(":")
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return label, fam, host, int(port), addr


def main(argv):
    sel = selectors.DefaultSelector()
    for spec in argv:
        label, fam, host, port, addr = parse(spec)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(512)
        sel.register(s, selectors.EVENT_READ, f"{label} {addr}\n".encode())
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            try:
                conn, _ = key.fileobj.accept()
            except OSError:
                continue
            with conn:
                try:
                    conn.sendall(key.data)
                except OSError:
                    pass


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
