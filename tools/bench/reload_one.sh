#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Usage: reload_one.sh [N [K [STEERD]]]
# What a one-route change costs steerd with N routes live (default
# 100000): N routes in one file, one document each, applied by a steerd
# of its own (own cgroup, own pin directory, --metrics off); then K times
# (default 20) one route's split is edited the way editors and kubelet
# do it (a new file renamed over the old one), and the time steerd logs
# for that reload ("...; generation N; 12.3 ms") is collected. Prints
# the last reloads' log lines, then min, median and p90. Needs root;
# removes what it made on every exit path. STEERD defaults to
# build/steerd. PERF=FILE records the reloads with perf record -g there.
# steerd runs with -v: the medians of the phases its debug lines time
# ("reload phases: ...", "load phases: ...") are printed too.
set -eu
n=${1:-100000}
k=${2:-20}
steerd=${3:-build/steerd}
pid=
perf=
tag=steer-bench-reload
. "$(dirname "$0")/sandbox.sh"
stop_children() {
	if [ -n "$perf" ]; then
		kill -INT "$perf" 2>/dev/null || true
		wait "$perf" 2>/dev/null || true
	fi
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
}
bench_on_exit stop_children
mkdir "$tmp/routes"

# N routes, 9 lines each: route i's rule is on line 9 * i + 9.
/usr/bin/python3 "$(dirname "$0")/gen_routes.py" "$n" "$tmp/routes/routes.yaml"

applied() { grep -c 'applied [0-9]* routes' "$tmp/log" || true; }

# Until steerd has logged its @1th "applied" line (or gave up).
wait_applied() {
	while [ "$(applied)" -lt "$1" ]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "steerd exited:" >&2
			tail -5 "$tmp/log" >&2
			exit 1
		fi
		if grep -q 'configuration unchanged' "$tmp/log"; then
			grep 'configuration unchanged' "$tmp/log" >&2
			exit 1
		fi
		sleep 0.02
	done
}

"$steerd" --routes "$tmp/routes" --bpffs "$pins" --cgroup "$cg" \
	--max-routes 131072 --metrics off -v >"$tmp/log" 2>&1 &
pid=$!
wait_applied 1
# The watch is set up after the first apply: edit only once it is.
until grep -q '^ready: watching' "$tmp/log"; do sleep 0.02; done
grep 'applied [0-9]* routes' "$tmp/log" | tail -1 | sed 's/^/start: /'
if [ -n "${PERF:-}" ]; then
	perf record -q -g -p "$pid" -o "$PERF" 2>"$tmp/perf.log" &
	perf=$!
	sleep 1
fi

for i in $(seq 1 "$k"); do
	r=$(( (i * 7919) % n ))
	line=$(( 9 * r + 9 ))
	# Never the 100/0 it had: every edit is a change.
	v1=$(( 50 + i % 50 ))
	split="v1: $v1, v2: $(( 100 - v1 ))"
	sed "${line}s/.*/  - {name: default, split: {$split}}/" "$tmp/routes/routes.yaml" >"$tmp/new.yaml"
	mv "$tmp/new.yaml" "$tmp/routes/routes.yaml"
	wait_applied $((i + 1))
done

if [ -n "$perf" ]; then
	kill -INT "$perf"
	wait "$perf" || true
	perf=
fi
grep 'applied [0-9]* routes' "$tmp/log" | tail -n +2 >"$tmp/applied"
sed 's/^/reload: /' "$tmp/applied" | tail -3
sed 's/.*; \([0-9.]*\) ms$/\1/' "$tmp/applied" | sort -n >"$tmp/ms"
awk -v n="$n" '{ v[NR] = $1 }
END {
	if (!NR) exit 1
	p90 = int(NR * 0.9 + 0.999); if (p90 > NR) p90 = NR
	printf "%d routes, %d one-route reloads: min %.1f ms, median %.1f ms, p90 %.1f ms\n",
	       n, NR, v[1], v[int((NR + 1) / 2)], v[p90]
}' "$tmp/ms"
# The medians of each phase steerd timed, over the reloads (not the start).
for what in 'load phases' 'reload phases'; do
	grep "^$what: " "$tmp/log" | tail -n +2 | sed "s/^$what: //; s/[;,]//g" |
	awk -v what="$what" '{
		for (f = 1; f + 2 <= NF; f++)
			if ($(f + 2) == "ms") {
				name = $f; if ($(f - 1) == "the") name = "after-apply"
				if (!(name in seen)) { seen[name] = ++nk; key[nk] = name }
				v[name, ++n[name]] = $(f + 1)
			}
	}
	END {
		if (!nk) exit
		line = what " (median ms):"
		for (i = 1; i <= nk; i++) {
			k = key[i]; m = n[k]
			for (a = 1; a <= m; a++) s[a] = v[k, a] + 0
			for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
				if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
			line = line sprintf(" %s %.1f", k, s[int((m + 1) / 2)])
		}
		print line
	}'
done
