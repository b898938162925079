#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Usage: run-unit.sh LABEL TEST_BINARY...
# Run test binaries; each prints "N passed, N failed". Sum them up under
# LABEL and fail when any binary fails.
label=$1
shift
passed=0 failed=0 rc=0
for t in "$@"; do
	out=$("$t" 2>&1) || rc=1
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		echo "$t: no summary line" >&2
		rc=1
		continue
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	f=${f%% failed*}
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$label: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
