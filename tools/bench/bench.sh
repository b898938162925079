#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# What steer's connect() hook costs: runs build/bench/bench_connect in a sandbox of
# its own (network namespace, two cgroups, pin dir; docs/DESIGN.md §8) and
# removes it on every exit path; with the sockops program attached and
# detached, round by round. Usage: sudo tools/bench/bench.sh [--count N] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/../.."

[ "$(id -u)" -eq 0 ] || { echo "bench: needs root" >&2; exit 1; }
[ -x build/bench/bench_connect ] && [ -x build/steerd ] || make -s

id=$$
ns=steer-bench-$id
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
cg=$cg2/steer-bench-$id
pins=/sys/fs/bpf/steer-bench-$id
routes=$(mktemp -d /tmp/steer-bench-XXXXXX)

cleanup() {
	set +e
	build/steerd --cleanup --bpffs "$pins" >/dev/null 2>&1
	ip netns del "$ns" 2>/dev/null
	rmdir "$cg/steer" "$cg/plain" "$cg" 2>/dev/null
	rm -rf "$routes"
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" addr add 10.244.1.5/32 dev lo
ip -n "$ns" route add unreachable 10.96.0.0/16
mkdir -p "$cg/steer" "$cg/plain"
cat > "$routes/bench.yaml" <<'YAML'
kind: Route
name: bench
frontends: [10.96.0.20:9080]
versions:
  v1: {backends: [10.244.1.5:9080]}
  v2: {backends: [10.244.1.5:9080]}
rules:
  - name: testers
    match: {uids: [4242]}
    split: {v2: 100}
  - name: default
    split: {v1: 90, v2: 10}
policy:
  default: allow
  deny: [{sources: [10.244.66.0/24]}]
YAML
build/steerd --once --routes "$routes" --bpffs "$pins" --cgroup "$cg/steer" \
	--metrics off >/dev/null 2>&1
echo "kernel $(uname -r), $(nproc) CPUs; route: 2 rules, 1 deny entry, 90/10 split"
build/bench/bench_connect --netns "$ns" --cgroup-plain "$cg/plain" \
	--cgroup-steer "$cg/steer" --backend 10.244.1.5:9080 \
	--frontend 10.96.0.20:9080 --bpffs "$pins" --sockops "$@"
