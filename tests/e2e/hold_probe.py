#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Hold TCP connections open (stdlib only), for the connection-limit tests.

usage: hold_probe.py --cgroup CG --count N ADDR:PORT

Run inside the test netns. Moves itself into CG, then makes N connects one after
the other and keeps every connected socket open; for each prints one JSON line
{"ident": IDENT} (the echo server's first word) or {"error": ERRNO_NAME}. Then it
reads commands from stdin, one a line: "close I" closes connection I (0-based),
"connect" makes one more connect and prints its line; EOF closes all and exits.
"""
import errno
import json
import os
import socket
import sys

sys.dont_write_bytecode = True
from hostport import parse_addr  # noqa: E402


def connect(fam, host, port):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect((host, port))
        line = s.recv(256).decode(errors="replace").split()
        return s, {"ident": line[0] if line else ""}
    except OSError as e:
        s.close()
        return None, {"error": errno.errorcode.get(e.errno, str(e.errno))}


def main():
    args = sys.argv[1:]
    cg = args[args.index("--cgroup") + 1]
    n = int(args[args.index("--count") + 1])
    fam, host, port = parse_addr(args[-1])
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    held = []
    for _ in range(n):
        s, out = connect(fam, host, port)
        held.append(s)
        print(json.dumps(out), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if cmd and cmd[0] == "close":
            i = int(cmd[1])
            if held[i]:
                held[i].close()
                held[i] = None
            print(json.dumps({"closed": i}), flush=True)
        elif cmd and cmd[0] == "connect":
            s, out = connect(fam, host, port)
            held.append(s)
            print(json.dumps(out), flush=True)
    for s in held:
        if s:
            s.close()


if __name__ == "__main__":
    main()
