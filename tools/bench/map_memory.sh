#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Usage: map_memory.sh N [STEERD]
# Map memory (bpftool memlock, inner maps included) of N routes with 1
# rule, 2 versions and 2 backends each, installed by steerd --once into a
# cgroup and pin directory of its own (removed on exit), with
# --max-routes N. Prints the total, the total with 0 routes, and the
# difference per route. Needs root.
set -eu
n=$1
steerd=${2:-build/steerd}
tag=steer-mem-$$
cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/$tag
pins=/sys/fs/bpf/$tag
dir=$(mktemp -d)
cleanup() {
	"$steerd" --cleanup --bpffs "$pins" >/dev/null 2>&1 || true
	rmdir "$cg" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
mkdir -p "$cg"

routes() { # N FILE: N small routes (addresses in 10.x documentation-free test ranges)
	/usr/bin/python3 - "$1" "$2" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        a, b = divmod(i, 250)
        f.write(f"""---
kind: Route
name: r{i}
frontends: [10.96.{a % 250}.{b + 1}:{80 + a // 250}]
versions:
  v1: {{backends: [10.1.{a % 250}.{b + 1}:80, 10.2.{a % 250}.{b + 1}:80]}}
  v2: {{backends: [10.3.{a % 250}.{b + 1}:80, 10.4.{a % 250}.{b + 1}:80]}}
rules:
  - name: default
    split: {{v1: 90, v2: 10}}
""")
PY
}

memlock() { # total memlock of the maps pinned under $pins and their inner maps
	/usr/bin/python3 - "$pins" <<'PY'
import json, os, subprocess, sys
pins = os.path.join(sys.argv[1], "maps")
def bt(*a):
    return json.loads(subprocess.run(["bpftool", "-j"] + list(a), check=True,
                                     capture_output=True, text=True).stdout)
total = 0
for name in os.listdir(pins):
    p = os.path.join(pins, name)
    total += int(bt("map", "show", "pinned", p).get("bytes_memlock", 0))
    if name.startswith("steer_routes_"):
        for e in bt("map", "dump", "pinned", p):
            iid = e.get("inner_map_id")
            if iid is None:
                iid = int.from_bytes(bytes(int(x, 16) for x in e["value"]), "little")
            total += int(bt("map", "show", "id", str(iid)).get("bytes_memlock", 0))
print(total)
PY
}

install() { # N: install N routes, print the memory, clean up
	mkdir -p "$dir/r$1"
	routes "$1" "$dir/r$1/routes.yaml"
	start=$(date +%s%N)
	"$steerd" --once --metrics off --routes "$dir/r$1" --bpffs "$pins" \
		--cgroup "$cg" --max-routes "$n" >/dev/null
	end=$(date +%s%N)
	echo "$(memlock) $(( (end - start) / 1000000 ))"
	"$steerd" --cleanup --bpffs "$pins" >/dev/null
}

set -- $(install 0)
empty=$1
set -- $(install "$n")
full=$1 ms=$2
echo "routes=$n max_routes=$n memlock_empty=$empty memlock_full=$full" \
     "per_route=$(( (full - empty) / n )) per_route_incl_sizing=$(( full / n ))" \
     "install_ms=$ms"
