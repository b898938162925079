#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Servers and clients for the TC-layer e2e tests (stdlib only).  Run inside a test
network namespace; the TCP identity backends are echo_server.py.

  tc_peer.py serve-udp ADDR:PORT=IDENT ...    answer each datagram with
                                              "IDENT PEER_ADDR PEER_PORT LOCAL"
  tc_peer.py serve-echo ADDR:PORT=IDENT ...   TCP; keep each connection, answer each
                                              line with "IDENT line"
  tc_peer.py connect [--udp] [--count N] [--bind ADDR] [--sport-base P] TARGET
        N connects (TCP) or request/answer exchanges (UDP, 1 s timeout), each from
        source port P+i when --sport-base is given (else the kernel's choice); prints
        {"counts": {IDENT: n}, "errors": {ERR: n}, "sources": [...], "total": N}
  tc_peer.py hold [--bind ADDR] [--seconds S] [--interval-ms M] TARGET
        one long-lived TCP connection; a line every M ms for S s, each answer timed;
        prints {"idents": [...], "answers": n, "errors": [...], "max_gap_ms": x}

Every loop is bounded in count and time.
"""
import argparse
import json
import os
import selectors
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostport import fmt_addr, parse_addr  # noqa: E402


def _listen(spec, kind):
    addr, _, ident = spec.partition("=")
    fam, host, port = parse_addr(addr)
    s = socket.socket(fam, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    if kind == socket.SOCK_STREAM:
        s.listen(1024)
    s.setblocking(False)
    return s, ident, fam, fmt_addr(fam, s.getsockname())


def serve(specs, udp):
    sel = selectors.DefaultSelector()
    for spec in specs:
        s, ident, fam, local = _listen(spec, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        sel.register(s, selectors.EVENT_READ, ("listen", ident, fam, local))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("READY", flush=True)
    while True:
        for key, _ in sel.select():
            kind, ident, fam, local = key.data
            sock = key.fileobj
            try:
                if udp:
                    data, peer = sock.recvfrom(2048)
                    sock.sendto(f"{ident} {peer[0]} {peer[1]} {local}\n".encode(), peer)
                elif kind == "listen":
                    c, _ = sock.accept()
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, ("conn", ident, fam, local))
                else:
                    data = sock.recv(4096)
                    if not data:
                        sel.unregister(sock)
                        sock.close()
                        continue
                    for line in data.decode(errors="replace").splitlines():
                        sock.sendall(f"{ident} {line}\n".encode())
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                if kind == "conn":
                    sel.unregister(sock)
                    sock.close()


def _errname(e):
    import errno
    if isinstance(e, socket.timeout):
        return "ETIMEDOUT"
    return errno.errorcode.get(e.errno, str(e.errno))


def connect(a):
    fam, host, port = parse_addr(a.target)
    counts, errors, sources = {}, {}, set()
    deadline = time.monotonic() + a.duration_s
    total = 0
    for i in range(a.count):
        if time.monotonic() > deadline:
            break
        total += 1
        s = socket.socket(fam, socket.SOCK_DGRAM if a.udp else socket.SOCK_STREAM)
        try:
            s.settimeout(a.timeout or (1.0 if a.udp else 2.0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if a.bind or a.sport_base:
                s.bind((a.bind or ("::" if fam == socket.AF_INET6 else "0.0.0.0"),
                        a.sport_base + i if a.sport_base else 0))
            s.connect((host, port))
            if a.udp:
                s.send(b"hello\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                buf += chunk
            parts = buf.decode(errors="replace").split()
            if not parts:
                errors["EMPTY"] = errors.get("EMPTY", 0) + 1
                continue
            counts[parts[0]] = counts.get(parts[0], 0) + 1
            if len(parts) > 1:
                sources.add(parts[1])
        except OSError as e:
            n = _errname(e)
            errors[n] = errors.get(n, 0) + 1
        finally:
            s.close()
    json.dump({"counts": counts, "errors": errors, "sources": sorted(sources),
               "total": total}, sys.stdout)
    sys.stdout.write("\n")


def hold(a):
    fam, host, port = parse_addr(a.target)
    idents, errors, answers, max_gap = set(), [], 0, 0.0
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        if a.bind:
            s.bind((a.bind, 0))
        s.connect((host, port))
        print("CONNECTED", flush=True)
        end = time.monotonic() + a.seconds
        n = 0
        while time.monotonic() < end and n < 100000:
            n += 1
            t0 = time.monotonic()
            s.sendall(f"ping {n}\n".encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    raise ConnectionResetError(0, "closed by peer")
                buf += chunk
            max_gap = max(max_gap, (time.monotonic() - t0) * 1000)
            for line in buf.decode().splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1:] == ["ping", str(n)]:
                    idents.add(parts[0])
                    answers += 1
                else:
                    errors.append(f"bad answer {line!r}")
            time.sleep(a.interval_ms / 1000.0)
    except OSError as e:
        errors.append(f"{_errname(e)}: {e}")
    finally:
        s.close()
    json.dump({"idents": sorted(idents), "answers": answers, "errors": errors,
               "max_gap_ms": round(max_gap, 1)}, sys.stdout)
    sys.stdout.write("\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("serve-udp", "serve-echo"):
        p = sub.add_parser(name)
        p.add_argument("specs", nargs="+")
    p = sub.add_parser("connect")
    p.add_argument("--udp", action="store_true")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--bind")
    p.add_argument("--sport-base", type=int, default=0)
    p.add_argument("--duration-s", type=float, default=60)
    # seconds a connect or answer may take (default 2 s TCP, 1 s UDP); under
    # the 1 s initial RTO no SYN is sent twice
    p.add_argument("--timeout", type=float, default=0)
    p.add_argument("target")
    p = sub.add_parser("hold")
    p.add_argument("--bind")
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--interval-ms", type=float, default=50)
    p.add_argument("target")
    a = ap.parse_args()
    if a.cmd == "connect":
        if not 0 < a.count <= 10000:
            ap.error("--count out of bounds")
        connect(a)
    elif a.cmd == "hold":
        if not 0 < a.seconds <= 120:
            ap.error("--seconds out of bounds")
        hold(a)
    else:
        serve(a.specs, a.cmd == "serve-udp")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
