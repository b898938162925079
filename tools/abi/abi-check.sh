#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Usage: abi-check.sh [-t ABI_MANIFEST] [-m MANIFEST] [-r RELEASES]
#                     [-d RELEASE_MANIFESTS] [-b UPGRADE_BUILD] OBJ...
#
# The pinned-map ABI check behind `make abi-check` (docs/upgrade.md):
#  (a) the manifest of the built objects OBJ... (tools/abi/abi_manifest)
#      equals the committed MANIFEST, sizing column aside (the tool checks
#      that every map has a sizing rule and that it gives the object's
#      max_entries);
#  (b) no map of a release listed in RELEASES has another layout under the
#      same name now: same type, key and value size, flags and max_entries
#      at the default flags, same sizing rule. Maps a release has and the
#      build does not (renamed ones) are fine.
# A release's manifest is, in this order: `git show C:include/steer_abi.manifest`,
# RELEASE_MANIFESTS/C.manifest (for releases older than the manifest), or
# generated from UPGRADE_BUILD/C/*.bpf.o (make upgrade-test builds them).
#
# Defaults: -t build/abi_manifest -m include/steer_abi.manifest
# -r tests/upgrade/releases -d tests/upgrade/manifests -b build/upgrade.
# Exit status 0 ok, 1 a check failed, 2 usage.
set -u

tool=build/abi_manifest
manifest=include/steer_abi.manifest
releases=tests/upgrade/releases
rel_dir=tests/upgrade/manifests
up_build=build/upgrade
while getopts t:m:r:d:b: opt; do
	case $opt in
	t) tool=$OPTARG ;;
	m) manifest=$OPTARG ;;
	r) releases=$OPTARG ;;
	d) rel_dir=$OPTARG ;;
	b) up_build=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -eq 0 ]; then
	echo "usage: abi-check.sh [-t TOOL] [-m MANIFEST] [-r RELEASES]" \
		"[-d DIR] [-b DIR] OBJ..." >&2
	exit 2
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
rc=0

# Fields name .. max_entries, one map a line, sorted: what must match.
layout() {
	sed 's/#.*//' "$1" | awk 'NF { print $1, $2, $3, $4, $5, $6 }' | sort
}

# (a) the build against the committed manifest
if ! "$tool" --sizing "$manifest" "$@" >"$tmp/built"; then
	rc=1
fi
layout "$manifest" >"$tmp/want"
layout "$tmp/built" >"$tmp/got"
if ! diff -u --label "$manifest" --label "built objects" \
	"$tmp/want" "$tmp/got"; then
	echo "map layout changed: update $manifest, and rename the map" \
		"(_vN+1) if a released manifest has the same name with" \
		"another layout" >&2
	echo "(make abi-manifest writes the new manifest; the sizing" \
		"column stays yours)" >&2
	rc=1
fi

# (b) every release against the build
release_manifest() {
	r=$1
	if git show "$r:include/steer_abi.manifest" 2>/dev/null; then
		return 0
	fi
	if [ -f "$rel_dir/$r.manifest" ]; then
		cat "$rel_dir/$r.manifest"
		return 0
	fi
	set -- "$up_build/$r"/*.bpf.o
	if [ -f "$1" ]; then
		"$tool" "$@"
		return $?
	fi
	return 1
}

nrel=0
if [ -f "$releases" ]; then
	for c in $(sed 's/#.*//' "$releases" | awk 'NF { print $1 }'); do
		nrel=$((nrel + 1))
		if ! release_manifest "$c" >"$tmp/rel"; then
			echo "no manifest for release $c: not in git," \
				"no $rel_dir/$c.manifest, no objects in" \
				"$up_build/$c (make upgrade-test builds them)" >&2
			rc=1
			continue
		fi
		# Fields: 1 name 2 type 3 key 4 value 5 flags 6 entries 7 sizing
		sed 's/#.*//' "$tmp/rel" | awk -v rel="$c" -v now="$tmp/built" '
		BEGIN {
			while ((getline line < now) > 0) {
				sub(/#.*/, "", line)
				if (split(line, f) < 6)
					continue
				have[f[1]] = 1
				lay[f[1]] = f[2] " " f[3] " " f[4] " " f[5]
				ent[f[1]] = f[6]
				siz[f[1]] = f[7]
			}
			bad = 0
		}
		NF >= 6 && ($1 in have) {
			name = $1
			l = $2 " " $3 " " $4 " " $5
			s = NF >= 7 ? $7 : "-"
			if (l != lay[name]) {
				printf "%s changed layout without a new name " \
					"(release %s: %s, now: %s; type key " \
					"value flags)\n", name, rel, l, lay[name]
				bad = 1
			} else if ($6 != ent[name]) {
				if (s == "fixed" || siz[name] == "fixed")
					printf "%s changed layout without a " \
						"new name: fixed size %s in " \
						"release %s, %s now\n", name, \
						$6, rel, ent[name]
				else
					printf "%s changed layout without a " \
						"new name: %s entries at the " \
						"default flags in release %s " \
						"(%s), %s now (%s)\n", name, \
						$6, rel, s, ent[name], siz[name]
				bad = 1
			} else if (s != "-" && siz[name] != "-" &&
				   s != siz[name]) {
				printf "%s changed layout without a new name: " \
					"sizing %s in release %s, %s now\n", \
					name, s, rel, siz[name]
				bad = 1
			}
		}
		END { exit bad }' >&2 || rc=1
	done
fi

if [ $rc -eq 0 ]; then
	echo "abi-check: $(grep -c . "$tmp/got") maps as in $manifest;" \
		"$nrel release(s) in $releases keep their layouts"
fi
exit $rc
