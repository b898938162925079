#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# What `steerctl set ROUTE v1=P v2=Q` costs with N routes live (issue 11:
# <= 5 ms at 100k). Installs N routes (1 frontend, versions v1 and v2 of
# one backend each, one rule "default") with steerd --once into a cgroup and pin
# directory of its own, then times K runs of the whole command, every one
# a publish (the split alternates), and prints min, median and p90 in ms.
# Everything it made goes on every exit path.
#
# Usage: sudo tools/bench/ctl_set.sh [-n N] [-k K] [STEERCTL...]
#   -n N      routes (default 100000)
#   -k K      timed runs of each steerctl (default 50)
#   STEERCTL  steerctl binaries to time, runs interleaved so that they
#             see the same machine (default build/steerctl); the ratio
#             printed is the first one's median over each other's
set -euo pipefail
cd "$(dirname "$0")/../.."

n=100000
k=50
while getopts n:k: opt; do
	case $opt in
	n) n=$OPTARG ;;
	k) k=$OPTARG ;;
	*) sed -n '/^# Usage/,/^$/p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
ctls=("$@")
[ ${#ctls[@]} -gt 0 ] || ctls=(build/steerctl)

[ -x build/steerd ] && [ -x build/steerctl ] || make -s
for c in "${ctls[@]}"; do
	[ -x "$c" ] || { echo "ctl_set: $c: not executable" >&2; exit 1; }
done

tag=steer-bench-ctlset
steerd=build/steerd
. tools/bench/sandbox.sh
dir=$tmp
/usr/bin/python3 tools/bench/gen_routes.py "$n" "$dir/routes.yaml"

start=$EPOCHREALTIME
build/steerd --once --routes "$dir" --bpffs "$pins" --cgroup "$cg" \
	--max-routes 131072 --metrics off >"$dir/steerd.log" 2>&1 || {
	cat "$dir/steerd.log" >&2
	exit 1
}
end=$EPOCHREALTIME
route=r$((n / 2))
echo "kernel $(uname -r), $(nproc) CPUs; $n routes installed in" \
	"$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }') s;" \
	"$k runs of 'steerctl set $route v1=P v2=Q' per binary"

# One timed run of steerctl $1 (split $2): milliseconds on stdout.
one() {
	local s e
	s=$EPOCHREALTIME
	"$1" --bpffs "$pins" set "$route" $2 >/dev/null || {
		echo "ctl_set: $1 set $route $2 failed" >&2
		return 1
	}
	e=$EPOCHREALTIME
	awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }'
}

for c in "${ctls[@]}"; do one "$c" "v1=100 v2=0" >/dev/null; done # warm up
for ((i = 0; i < k; i++)); do
	if ((i % 2)); then split="v1=50 v2=50"; else split="v1=60 v2=40"; fi
	for j in "${!ctls[@]}"; do
		one "${ctls[$j]}" "$split" >>"$dir/times.$j"
	done
	# The floor: starting and ending a steerctl that opens no map.
	s=$EPOCHREALTIME
	"${ctls[-1]}" help set >/dev/null
	e=$EPOCHREALTIME
	awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", (e - s) * 1000 }' \
		>>"$dir/times.floor"
done

ref=""
for j in "${!ctls[@]}" floor; do
	if [ "$j" = floor ]; then
		name="floor: ${ctls[-1]} help set"
	else
		name=${ctls[$j]}
	fi
	sort -g "$dir/times.$j" | awk -v name="$name" -v ref="$ref" '
		{ t[NR] = $1 }
		END {
			med = t[int((NR + 1) / 2)]
			p90 = t[int(NR * 0.9 + 0.999)]
			printf "%-36s min %7.2f ms  median %7.2f ms  p90 %7.2f ms",
			       name, t[1], med, p90
			if (ref != "")
				printf "  (first/this median: %.2fx)", ref / med
			printf "\n"
			print med > "/dev/stderr"
		}' 2>"$dir/median.$j"
	[ -n "$ref" ] || ref=$(cat "$dir/median.$j")
done
