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
tag=steer-inst-$$
cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)/$tag
pins=/sys/fs/bpf/$tag
dir=$(mktemp -d)
cleanup() {
	"$steerd" --cleanup --bpffs "$pins" >/dev/null 2>&1 || true
	rmdir "$cg" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
grep -q "^bpf /sys/fs/bpf " /proc/mounts ||
	mount -t bpf bpf /sys/fs/bpf
mkdir -p "$cg" "$dir/routes"

/usr/bin/python3 - "$n" "$dir/routes/routes.yaml" <<'PY'
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
  v2: {{backends: [10.3.{a % 250}.{b + 1}:80]}}
rules:
  - name: default
    split: {{v1: 90, v2: 10}}
""")
PY

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
