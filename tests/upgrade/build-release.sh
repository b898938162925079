#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Usage: build-release.sh COMMIT OUT_DIR
# Build an earlier release's steerd and steerctl (their BPF objects are
# embedded through the skeletons) from git into OUT_DIR/COMMIT/: steerd,
# steerctl, sock.bpf.o, tc.bpf.o (the objects also give the release's
# manifest to make abi-check). The sources come from `git archive`, so no
# worktree is registered and nothing outside OUT_DIR/COMMIT is written; they
# are removed after the build. A finished build is kept (OUT_DIR/COMMIT/
# .built holds the full commit id) and reused.
set -eu
commit=$1
out=$2/$commit

full=$(git rev-parse --verify --quiet "$commit^{commit}") || {
	echo "build-release.sh: $commit is not a commit of this repository" >&2
	exit 1
}
if [ -f "$out/.built" ] && [ "$(cat "$out/.built")" = "$full" ]; then
	echo "  UPGRADE  $out (cached)"
	exit 0
fi

rm -rf "$out"
mkdir -p "$out/src"
trap 'rm -rf "$out/src"' EXIT INT TERM
echo "  UPGRADE  building $commit into $out"
git archive --format=tar "$full" | tar -x -C "$out/src"
# VERSION: the sources have no .git of their own; git describe would
# describe the tree that holds build/.
make -C "$out/src" -j2 --no-print-directory VERSION="release-$commit" \
	build/steerd build/steerctl build/sock.bpf.o build/tc.bpf.o \
	>"$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "build-release.sh: building $commit failed (log: $out/build.log)" >&2
	exit 1
}
for f in steerd steerctl sock.bpf.o tc.bpf.o; do
	cp "$out/src/build/$f" "$out/$f"
done
echo "$full" >"$out/.built"
