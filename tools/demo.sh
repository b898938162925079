#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# The release walk-through of "Microservices Patterns" ch. 12 with steer,
# against real TCP servers, in a sandbox of its own (docs/DESIGN.md §8):
#
#   1. v1 serves 100 %            4. release: 5 %, 25 %, 50 %, 100 %
#   2. v2 deployed at 0 %         5. roll back in one step
#   3. test users reach v2        6. promote and retire v1
#
# Usage: sudo tools/demo.sh          (one command on a fresh Debian 12)
#   DEMO_CONNS=N   connections per measurement (default 200)
#
# Installs the Debian packages that are missing, runs make, then builds the
# sandbox: a network namespace whose lo carries the backend addresses (the
# service VIP range is "unreachable" there, so an untranslated connection
# fails inside), a cgroup v2 directory for the clients, a pin directory
# /sys/fs/bpf/steer-demo-PID and a temp routes directory. A trap removes all
# of it on every exit path; only processes started here are stopped, by PID.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
CONNS=${DEMO_CONNS:-200}
VIP=10.96.0.20:9080
PY=/usr/bin/python3

bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
[ -t 1 ] || bold='' dim='' off=''
say()  { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
die()  { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it creates a netns, a cgroup and BPF pins)"

# ---- dependencies and build -------------------------------------------
tools/install-deps.sh demo || die "cannot install the packages it needs"
make -s >/dev/null || die "make failed (run 'make' to see why)"
STEERD=$REPO/build/steerd
STEERCTL=$REPO/build/steerctl

# ---- sandbox --------------------------------------------------------------
ID=steer-demo-$$
NS=$ID
PIN=/sys/fs/bpf/$ID
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CGROOT" ] || die "no cgroup2 mount in /proc/mounts"
CG=$CGROOT/$ID
TMP=$(mktemp -d "/tmp/$ID.XXXXXX")
ROUTES=$TMP/routes
# Every process started here runs in the background, by PID: nsenter execs
# its command, so $! is the server, steerd or client itself (never a
# subshell whose child would outlive a kill), and a signal's trap runs at
# once instead of after a foreground client.
STEERD_PID='' SERVER_PID='' PROBE_PID='' NS_MADE='' CG_MADE=''

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	# jobs -p too: a signal between a client's "&" and "PROBE_PID=$!"
	# runs this trap before the assignment.
	for pid in $PROBE_PID $STEERD_PID $SERVER_PID $(jobs -p); do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	[ -d "$PIN" ] && "$STEERD" --cleanup --bpffs "$PIN" >/dev/null 2>&1
	[ -d "$PIN" ] && rm -rf "$PIN"
	[ -n "$NS_MADE" ] && ip netns del "$NS" 2>/dev/null
	if [ -n "$CG_MADE" ]; then
		for d in "$CG"/users "$CG"/testers "$CG"; do
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				[ -d "$d" ] || break
				rmdir "$d" 2>/dev/null && break
				sleep 0.1
			done
		done
	fi
	rm -rf "$TMP"
	[ $rc = 0 ] && echo "demo: sandbox removed" ||
		{ echo "demo: failed (exit $rc); sandbox removed" >&2; }
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$NS" && NS_MADE=1
ip -n "$NS" link set lo up
for a in 10.244.1.5 10.244.1.6 10.244.2.7 10.244.2.8; do
	ip -n "$NS" addr add "$a/32" dev lo
done
ip -n "$NS" route add unreachable 10.96.0.0/16
mkdir "$CG" "$CG/users" "$CG/testers" && CG_MADE=1
mkdir -p "$ROUTES"

IN_NS=(nsenter "--net=/run/netns/$NS")

# The e2e tests' servers and probe client: ADDR:PORT=LABEL, one label per version.
"${IN_NS[@]}" "$PY" "$REPO/tests/e2e/echo_server.py" \
	10.244.1.5:9080=v1 10.244.1.6:9080=v1 \
	10.244.2.7:9080=v2 10.244.2.8:9080=v2 >"$TMP/server.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q READY "$TMP/server.out" && break; sleep 0.1; done
grep -q READY "$TMP/server.out" || die "servers did not start: $(cat "$TMP/server.out")"

ctl() { "$STEERCTL" --bpffs "$PIN" "$@"; }
# steerctl as an operator types it (the sandbox's --bpffs left out of the echo).
sctl() { printf '%s$ steerctl %s%s\n' "$dim" "$*" "$off"; ctl "$@"; }
generation() {
	ctl -o json status reviews 2>/dev/null |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin)["routes"][0]["generation"])' 2>/dev/null ||
		echo none
}
# Install route file $1 as reviews.yaml (atomic rename) and wait for steerd.
route_file() {
	local before; before=$(generation)
	printf '%s$ cp %s %s%s\n' "$dim" "${1#"$REPO"/}" "routes/reviews.yaml" "$off"
	cp "$1" "$ROUTES/.reviews.tmp" && mv "$ROUTES/.reviews.tmp" "$ROUTES/reviews.yaml"
	for _ in $(seq 50); do
		[ "$(generation)" != "$before" ] && return 0
		sleep 0.1
	done
	die "steerd did not apply $1: $(tail -3 "$TMP/steerd.log")"
}
# $1: users|testers, $2: label. CONNS real connections to the VIP.
traffic() {
	local who=$1 uid=()
	[ "$who" = testers ] && uid=(--uid 1001)
	printf '  %s connections from %s%s:\n' "$CONNS" "$who" \
		"$([ "$who" = testers ] && echo ' (uid 1001)')"
	"${IN_NS[@]}" "$PY" "$REPO/tests/e2e/steer_probe.py" --cgroup "$CG/$who" \
		"${uid[@]}" --count "$CONNS" --duration-s 30 --bars --order v1,v2 \
		"$VIP" &
	PROBE_PID=$!
	wait "$PROBE_PID"
	PROBE_PID=''
}
# The route as the kernel has it now (counters left out: traffic() shows them).
status() {
	ctl status reviews | grep -E '^route|rule|version' |
		sed -e 's/ ([0-9]* conns)//g' -e 's/, applied [^)]*//' -e 's/^/  /'
}

# ---- 1. v1 only ---------------------------------------------------------
say "1. v1 is live and serves every user"
cp examples/release/steps/1-v1-only.yaml "$ROUTES/reviews.yaml"
"$STEERD" --routes "$ROUTES" --cgroup "$CG" --bpffs "$PIN" --metrics off \
	>"$TMP/steerd.log" 2>&1 &
STEERD_PID=$!
for _ in $(seq 100); do
	[ "$(generation)" != none ] && break
	kill -0 "$STEERD_PID" 2>/dev/null || die "steerd exited: $(cat "$TMP/steerd.log")"
	sleep 0.1
done
[ "$(generation)" != none ] || die "steerd did not come up: $(cat "$TMP/steerd.log")"
echo "  steerd $STEERD_PID: routes $ROUTES, cgroup $CG, pins $PIN"
status
traffic users

# ---- 2. deploy v2, release nothing --------------------------------------
say "2. v2 is deployed next to v1 with 0 %: deployed, not released"
route_file examples/release/steps/2-v2-deployed.yaml
status
traffic users

# ---- 3. test in production ----------------------------------------------
say "3. test users (uid 1001) reach v2 through the 'testers' rule"
route_file examples/release/reviews.yaml
status
traffic testers
traffic users

# ---- 4. the release -----------------------------------------------------
say "4. release v2 step by step with steerctl set"
for pct in 5 25 50 100; do
	echo
	sctl set reviews v1=$((100 - pct)) v2=$pct |
		grep -E "steerctl|rule default"
	traffic users
done

# ---- 5. roll back in one step -------------------------------------------
say "5. v2 misbehaves: roll back in one step"
sctl rollback reviews
traffic users

# ---- 6. promote and retire v1 -------------------------------------------
say "6. promote v2 again, then retire v1 in the route file"
sctl promote reviews v2
traffic users
route_file examples/release/steps/6-v1-retired.yaml
status
traffic users

say "done: deployed, tested in production, released, rolled back, promoted, retired"
