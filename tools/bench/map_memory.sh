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
tag=steer-mem
. "$(dirname "$0")/sandbox.sh"
dir=$tmp

routes() { # N FILE: N routes of 2 versions, 2 backends each
	/usr/bin/python3 "$(dirname "$0")/gen_routes.py" "$1" "$2" \
		--backends 2,2 --split 90,10
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
	# An empty file is an error (a truncated write): no file for 0 routes.
	[ "$1" -eq 0 ] || routes "$1" "$dir/r$1/routes.yaml"
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
