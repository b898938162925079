#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Usage: test_abi_check.sh BUILD_DIR
# Holds tools/abi/abi-check.sh and abi_manifest to failing when they must:
# each case feeds a manifest (committed or released) that differs from the
# built objects in one way and expects the exit status and the message.
# No root needed. Ends with "N passed, N failed".
set -u
build=${1:-build}
tool=$build/abi_manifest
objs="$build/sock.bpf.o $build/tc.bpf.o"
check=tools/abi/abi-check.sh
manifest=include/steer_abi.manifest

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0 failed=0

# expect NAME STATUS MESSAGE -- COMMAND...: COMMAND exits STATUS and its
# output holds MESSAGE (a fixed string; "" for any).
expect() {
	name=$1 want=$2 msg=$3
	shift 4
	out=$("$@" 2>&1)
	got=$?
	if [ "$got" -eq "$want" ] &&
		{ [ -z "$msg" ] || printf '%s\n' "$out" | grep -qF -- "$msg"; }; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name: exit $got (want $want), output:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}

# edit FILE MAP FIELD VALUE: set column FIELD of MAP's line (1 = name).
edit() {
	awk -v m="$2" -v f="$3" -v v="$4" \
		'$1 == m { $f = v } { print }' "$manifest" >"$1"
}

releases() { # releases FILE NAME...: a releases file of made-up commits
	out=$1
	shift
	: >"$out"
	for r in "$@"; do echo "$r  # test" >>"$out"; done
}

run_check() { # run_check MANIFEST RELEASES: abi-check.sh on the build
	"$check" -t "$tool" -m "$1" -r "$2" -d "$tmp/rel" -b "$tmp/none" $objs
}

mkdir -p "$tmp/rel"
releases "$tmp/none.releases"

expect "the committed manifest and the releases pass" 0 "maps as in" -- \
	"$check" -t "$tool" -m "$manifest" -r tests/upgrade/releases \
	-d tests/upgrade/manifests -b "$tmp/none" $objs

edit "$tmp/value.manifest" steer_stats_v2 4 72
expect "a changed value size fails (a)" 1 \
	"map layout changed: update $tmp/value.manifest, and rename the map (_vN+1) if a released manifest has the same name with another layout" -- \
	run_check "$tmp/value.manifest" "$tmp/none.releases"

edit "$tmp/inner.manifest" steer_routes_v2.inner 4 1000
expect "a changed inner map value size fails (a)" 1 \
	"-steer_routes_v2.inner array 4 1000" -- \
	run_check "$tmp/inner.manifest" "$tmp/none.releases"

grep -v '^steer_seq_v1 ' "$manifest" >"$tmp/missing.manifest"
expect "a map missing from the manifest fails" 1 \
	"steer_seq_v1 has no line in" -- \
	run_check "$tmp/missing.manifest" "$tmp/none.releases"

awk '$1 == "steer_ct_v1" { NF = 6 } { print }' "$manifest" >"$tmp/nosizing.manifest"
expect "a line without a sizing rule fails" 1 \
	"steer_ct_v1 has no sizing rule" -- \
	run_check "$tmp/nosizing.manifest" "$tmp/none.releases"

edit "$tmp/rule.manifest" steer_frontends_v2 7 max-routes*8
expect "a sizing rule that does not give max_entries fails" 1 \
	"steer_frontends_v2: sizing rule max-routes*8 gives 2048 entries" -- \
	run_check "$tmp/rule.manifest" "$tmp/none.releases"

edit "$tmp/rel/value-rel.manifest" steer_frontends_v2 4 12
releases "$tmp/value.releases" value-rel
expect "a release with another value size under the same name fails (b)" 1 \
	"steer_frontends_v2 changed layout without a new name (release value-rel: hash 20 12 0x1" -- \
	run_check "$manifest" "$tmp/value.releases"

edit "$tmp/rel/flags-rel.manifest" steer_sk_udp_v1 5 0x0
releases "$tmp/flags.releases" flags-rel
expect "a release with other flags under the same name fails (b)" 1 \
	"steer_sk_udp_v1 changed layout without a new name" -- \
	run_check "$manifest" "$tmp/flags.releases"

edit "$tmp/rel/fixed-rel.manifest" steer_reasons_v2 6 11
releases "$tmp/fixed.releases" fixed-rel
expect "a fixed-size map that grew without a new name fails (b)" 1 \
	"steer_reasons_v2 changed layout without a new name: fixed size 11 in release fixed-rel, 64 now" -- \
	run_check "$manifest" "$tmp/fixed.releases"

edit "$tmp/rel/rule-rel.manifest" steer_rtt_v2 7 max-routes*4
releases "$tmp/rule.releases" rule-rel
expect "a release with another sizing rule fails (b)" 1 \
	"steer_rtt_v2 changed layout without a new name: sizing max-routes*4" -- \
	run_check "$manifest" "$tmp/rule.releases"

edit "$tmp/renamed.tmp" steer_stats_v2 4 72
sed 's/^steer_stats_v2 /steer_stats_v1 /' "$tmp/renamed.tmp" \
	>"$tmp/rel/renamed-rel.manifest"
releases "$tmp/renamed.releases" renamed-rel
expect "a release map of another layout under an old name passes (b)" 0 "" -- \
	run_check "$manifest" "$tmp/renamed.releases"

releases "$tmp/unknown.releases" no-such-release
expect "a release without a manifest fails" 1 \
	"no manifest for release no-such-release" -- \
	run_check "$manifest" "$tmp/unknown.releases"

# Two objects that disagree on a map of the same name.
for v in 8 16; do
	cat >"$tmp/m$v.bpf.c" <<EOF
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(key_size, 4);
	__uint(value_size, $v);
} steer_test_v1 SEC(".maps");
char LICENSE[] SEC("license") = "GPL";
EOF
	clang -g -O2 -target bpf -Ivmlinux -c "$tmp/m$v.bpf.c" -o "$tmp/m$v.bpf.o" || exit 1
done
expect "objects that disagree on a map fail" 1 \
	"steer_test_v1 differs between m8.bpf.o (hash 4 8 0x0 16) and m16.bpf.o (hash 4 16 0x0 16)" -- \
	"$tool" "$tmp/m8.bpf.o" "$tmp/m16.bpf.o"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
