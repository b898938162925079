#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""CI's smoke check of a benchmark run (make bench-smoke): not a speed test,
which a shared machine cannot hold, but that every system the report compares
really ran and really steered: every round moved connections with no error,
the 90/10 split was seen where the system splits, steer's TC program DNATed the
established-flow packet, and the split-accuracy runs met their shares.

Usage: smoke.py RESULTS_JSON   (ends with "bench-smoke: N passed, N failed")"""
import json
import sys

SPLIT_TOLERANCE = 2.0  # percentage points, over a round of thousands


def checks(r):
    """(name, ok, detail) for everything the report's figures rest on."""
    for s in r["systems"]:
        yield f"{s['name']} available", s["available"], s.get("note", "")
    for scale, sc in sorted(r["scales"].items(), key=lambda kv: int(kv[0])):
        yield f"N={scale} nothing skipped", not sc.get("skipped"), sc.get("skipped")
        for name, rounds in sc["rounds"].items():
            bad = [x for x in rounds if x["errors"] or x["conns"] <= 0]
            yield f"N={scale} {name}: {len(rounds)} rounds, no errors", rounds and not bad, bad[:1]
            replies = {}
            for x in rounds:
                for k, n in x.get("replies", {}).items():
                    replies[k] = replies.get(k, 0) + n
            total = sum(replies.values())
            if name != "direct" and total:
                share = 100.0 * max(replies.values()) / total
                yield (f"N={scale} {name}: 90/10 seen ({share:.1f} %)",
                       abs(share - 90) <= SPLIT_TOLERANCE, replies)
    tc = r["hook"].get("tc", {})
    yield "TC program DNATs the established flow", tc.get("ack_daddr_out") == "10.244.1.5", tc
    for sp in r["split"]:
        got = 100.0 * sp["got"][0] / sum(sp["got"])
        yield (f"split {sp['want'][0]}/{sp['want'][1]}: {got:.2f} %",
               not sp["errors"] and abs(got - sp["want"][0]) <= 0.5, sp)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        r = json.load(f)
    passed = failed = 0
    for name, ok, detail in checks(r):
        if ok:
            passed += 1
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name}: {detail}")
    print(f"bench-smoke: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
