#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Stand-in for build/steerd used only by the harness self-test: it speaks the
assumed command line and log format (json lines with "msg"), touches no kernel
state beyond creating/removing the pin directory."""
import argparse
import json
import os
import signal
import sys
import time


def log(level, msg):
    print(json.dumps({"level": level, "prog": "steerd", "msg": msg}), flush=True)


ap = argparse.ArgumentParser()
ap.add_argument("--routes")
ap.add_argument("--bpffs")
ap.add_argument("--cgroup")
ap.add_argument("--metrics")
ap.add_argument("--log-format")
ap.add_argument("--cleanup", action="store_true")
a = ap.parse_args()
if a.cleanup:
    if os.path.isdir(a.bpffs):
        os.rmdir(a.bpffs)
    sys.exit(0)
os.makedirs(a.bpffs, exist_ok=True)
signal.signal(signal.SIGHUP, lambda *x: log("info", "reload"))
signal.signal(signal.SIGTERM, lambda *x: sys.exit(0))
for f in sorted(os.listdir(a.routes)):
    if f.endswith(".yaml") and "v2: 90" in open(os.path.join(a.routes, f)).read():
        log("error", f"{f}:9:12: split sums to 90")
log("info", "ready: 1 route")
for _ in range(600):
    time.sleep(0.1)
