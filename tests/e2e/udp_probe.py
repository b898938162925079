#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""UDP probe client for the socket-layer e2e tests (stdlib only).  Run it inside the
test netns against `tc_peer.py serve-udp` backends (they answer each datagram with
"IDENT PEER_ADDR PEER_PORT LOCAL"):

  nsenter --net=/run/netns/NS /usr/bin/python3 tests/e2e/udp_probe.py --cgroup CG
      [--uid U] [--sockets S] [--count N] [--connected [--sendto]] [--v6-socket]
      [--timeout-s T] TARGET [TARGET...]
  udp_probe.py --cgroup CG --hold [--connected] TARGET


It moves itself into CG before it opens a socket (steer's socket-layer programs only
see processes in their cgroup), then drops to --uid.  It opens S UDP sockets, one after
the other; each sends N rounds, one datagram to every TARGET per round, with sendto()
(or, with --connected, connect()s to the one TARGET and uses send(), or sendto(TARGET)
with --sendto), and reads each
answer with recvfrom() (--timeout-s, default 1 s).  --v6-socket uses an AF_INET6
socket for IPv4 targets, dialled as ::ffff:ADDR.  Prints one JSON document:
  {"sockets": [[[TARGET_INDEX, IDENT, LOCAL, FROM, ERR], ...], ...], "uid": U}
one list per socket, one row per datagram: the identity and backend address (LOCAL)
that answered, FROM the address recvfrom() returned (as ADDR:PORT or [ADDR]:PORT),
and ERR the errno name when sendto() or recvfrom() failed (IDENT, LOCAL and FROM are
then null).  --hold keeps one socket (unconnected; --connected: connect()ed, send(), and when
that fails the error a recv() returns, if any, as ERR: a destroyed socket's
ECONNABORTED): it sends a datagram to TARGET, prints
its row as one JSON line, and does it again for each line read on stdin (at most
1000 times, until EOF).  Every loop is bounded: S <= 2000, N <= 1000.
"""
import argparse
import errno
import json
import os
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostport import fmt_addr, parse_addr  # noqa: E402


def errname(e):
    if isinstance(e, socket.timeout):
        return "ETIMEDOUT"
    return errno.errorcode.get(e.errno, str(e.errno))


def one_socket(targets, count, connected, v6_socket, timeout, sendto=False):
    fam = socket.AF_INET6 if v6_socket else targets[0][0]
    s = socket.socket(fam, socket.SOCK_DGRAM)
    rows = []
    try:
        s.settimeout(timeout)
        dests = []
        for tfam, host, port in targets:
            if v6_socket and tfam == socket.AF_INET:
                host = "::ffff:" + host
            dests.append((host, port))
        if connected:
            try:
                s.connect(dests[0])
            except OSError as e:
                return [[0, None, None, None, errname(e)]]
        for _ in range(count):
            for i, dest in enumerate(dests):
                try:
                    if connected and not sendto:
                        s.send(b"hello\n")
                    else:
                        s.sendto(b"hello\n", dest)
                    data, peer = s.recvfrom(2048)
                except OSError as e:
                    rows.append([i, None, None, None, errname(e)])
                    continue
                parts = data.decode(errors="replace").split()
                rows.append([i, parts[0] if parts else None,
                             parts[3] if len(parts) > 3 else None,
                             fmt_addr(fam, peer), None])
    finally:
        s.close()
    return rows


def pending_error(s):
    """The error a reader of @s would get now, without waiting: a closed (destroyed)
    socket fails send() with EDESTADDRREQ, and the reason, ECONNABORTED, waits for
    a recv().  Non-blocking for this one call: recv(MSG_DONTWAIT) on a socket with a
    timeout still polls for the whole timeout first, and its timeout error would
    hide the real one."""
    timeout = s.gettimeout()
    s.setblocking(False)
    try:
        s.recv(2048)
    except BlockingIOError:
        return None
    except OSError as e:
        return errname(e)
    finally:
        s.settimeout(timeout)
    return None


def hold(target, timeout, connected=False):
    fam, host, port = target
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    if connected:
        s.connect((host, port))
    for _ in range(1000):
        sent = False
        try:
            if connected:
                s.send(b"hello\n")
            else:
                s.sendto(b"hello\n", (host, port))
            sent = True
            data, peer = s.recvfrom(2048)
            parts = data.decode(errors="replace").split()
            row = [0, parts[0] if parts else None, parts[3] if len(parts) > 3 else None,
                   fmt_addr(fam, peer), None]
        except OSError as e:
            row = [0, None, None, None, errname(e)]
            if connected and not sent:
                row[4] = pending_error(s) or row[4]
        print(json.dumps(row), flush=True)
        if not sys.stdin.readline():
            break
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cgroup", required=True)
    ap.add_argument("--uid", type=int)
    ap.add_argument("--sockets", type=int, default=1)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--connected", action="store_true")
    ap.add_argument("--v6-socket", action="store_true")
    ap.add_argument("--hold", action="store_true")
    ap.add_argument("--sendto", action="store_true",
                    help="with --connected: send with sendto(TARGET), not send()")
    ap.add_argument("--timeout-s", type=float, default=1.0)
    ap.add_argument("targets", nargs="+")
    a = ap.parse_args()
    if not (0 < a.sockets <= 2000 and 0 < a.count <= 1000):
        ap.error("--sockets/--count out of bounds")
    if a.connected and len(a.targets) != 1:
        ap.error("--connected takes one target")

    with open(os.path.join(a.cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))  # before any socket is opened
    if a.uid is not None:
        os.setgroups([])
        os.setgid(a.uid)
        os.setuid(a.uid)
    targets = [parse_addr(t) for t in a.targets]
    if a.hold:
        hold(targets[0], a.timeout_s, a.connected)
        return
    out = {"sockets": [one_socket(targets, a.count, a.connected, a.v6_socket,
                                  a.timeout_s, a.sendto) for _ in range(a.sockets)],
           "uid": os.getuid()}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
