#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Usage: install_time.sh N [STEERD]
# Time steerd --once installing N routes (1 rule, 2 versions, 2 and 1
# backends); a second --once over the same pins, which checks every route
# against the live one (compile each, publish none); and a third after
# every route's split changed (decode each live route, compile against it,
# publish all). Own
# cgroup (under the cgroup2 mount of /proc/mounts) and pin directory,
# removed on every exit. Prints wall seconds and steerd's own apply times.
# Needs root.
set -eu
n=$1
steerd=${2:-build/steerd}
tag=steer-inst
. "$(dirname "$0")/sandbox.sh"
dir=$tmp
mkdir "$dir/routes"
/usr/bin/python3 "$(dirname "$0")/gen_routes.py" "$n" "$dir/routes/routes.yaml" \
	--backends 2,1 --split 90,10

timev=
[ -x /usr/bin/time ] && timev="/usr/bin/time -f maxrss=%MkB_cpu=%U+%Ss"
run() { # LABEL
	t0=$(date +%s.%N)
	$timev "$steerd" --once --routes "$dir/routes" --bpffs "$pins" --cgroup "$cg" \
		--max-routes 131072 --metrics off >"$dir/log" 2>&1 ||
		{ cat "$dir/log"; exit 1; }
	t1=$(date +%s.%N)
	printf '%s: %d routes: %.2f s wall; apply: %s\n' "$1" "$n" \
		"$(echo "$t1 - $t0" | bc)" \
		"$(grep -o '[0-9.]* m\?s$' "$dir/log" | tail -1) $(grep -o 'maxrss=.*' "$dir/log" || true)"
}
run install
run compare
sed -i 's/v1: 90, v2: 10/v1: 80, v2: 20/' "$dir/routes/routes.yaml"
run republish
