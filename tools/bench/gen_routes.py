#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Write N routes to FILE, one YAML document each, for the control-plane
benchmarks: route rI has one frontend and versions v1 and v2 with the given
numbers of backends, and one rule "default" with the given split. Every
frontend and backend is unique (up to 1,048,576 routes), in 10.0.0.0/8 test
ranges no test dials. Each route is 9 lines, its rule on line 9 * I + 9
(1-based), so that a script can edit one route in place.

Usage: gen_routes.py N FILE [--backends V1,V2] [--split V1,V2]"""
import argparse


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("file")
    ap.add_argument("--backends", default="1,1",
                    help="backends of v1 and v2 (default 1,1)")
    ap.add_argument("--split", default="100,0",
                    help="the rule's split, v1 and v2 (default 100,0)")
    a = ap.parse_args()
    if not 0 <= a.n <= 1 << 20:
        ap.error("N must be from 0 to 1048576")
    counts = [int(x) for x in a.backends.split(",")]
    split = a.split.split(",")
    with open(a.file, "w") as f:
        for i in range(a.n):
            hi, mid, lo = i >> 16, (i >> 8) & 255, i & 255
            vers = []
            for v, count in enumerate(counts):
                be = ", ".join(f"10.{200 + hi}.{mid}.{lo}:{8000 + 10 * v + k}"
                               for k in range(count))
                vers.append(f"  v{v + 1}: {{backends: [{be}]}}\n")
            f.write(f"---\nkind: Route\nname: r{i}\n"
                    f"frontends: [10.{100 + hi}.{mid}.{lo}:80]\n"
                    f"versions:\n{''.join(vers)}rules:\n"
                    f"  - {{name: default, split: {{v1: {split[0]}, "
                    f"v2: {split[1]}}}}}\n")


if __name__ == "__main__":
    main()
