#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# make image-smoke: unpack the image that make image built (umoci unpack, as a
# container runtime would) and run its programs inside its own root file
# system (chroot, in a private mount namespace with /sys and /proc):
#   - every shared library of steerd and steerctl resolves inside the image
#     (the image's own ld.so --list);
#   - steerd --version and steerctl --help run;
#   - the image's steerd loads, attaches and applies examples/reviews.yaml to a
#     cgroup and pin directory of its own (--once), steerctl in the image reads
#     the route back, and steerd --cleanup removes it again.
# Nothing outside the test cgroup is attached; the bundle, the cgroup and the
# pins are removed on every exit path. Usage: tools/image/smoke.sh BUILD VERSION
set -eu
build=$1
version=$2
out=$build/image
bundle=$(mktemp -d /tmp/steer-image-XXXXXX)
name=$(basename "$bundle")
cg_root=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
cg=$cg_root/$name
pins=/sys/fs/bpf/$name
R=$bundle/bundle/rootfs

cleanup() {
	rc=$?
	if [ -d "$pins" ] && [ -x "$R/usr/sbin/steerd" ]; then
		in_image /usr/sbin/steerd --bpffs "$pins" --cgroup "$cg" --cleanup >/dev/null 2>&1 || true
	fi
	rm -rf "$pins"
	[ -d "$cg" ] && rmdir "$cg"
	rm -rf "$bundle"
	exit $rc
}
trap cleanup EXIT INT TERM

# Run a program of the image in its root, with the host's /sys (BTF, bpffs,
# cgroup2) and a /proc, in a mount namespace that dies with it.
in_image() {
	unshare --mount --propagation private sh -c '
		R=$1; shift
		mount --rbind /sys "$R/sys" && mount -t proc proc "$R/proc" &&
		exec chroot "$R" "$@"' sh "$R" "$@"
}

fail() { echo "image-smoke: $*" >&2; exit 1; }

umoci unpack --image "$out/oci:$version" "$bundle/bundle" >/dev/null
for bin in /usr/sbin/steerd /usr/bin/steerctl; do
	libs=$(chroot "$R" /lib64/ld-linux-x86-64.so.2 --list "$bin") ||
		fail "$bin: ld.so --list failed"
	echo "$libs" | grep -q 'not found' && fail "$bin: missing in the image: $libs"
	echo "  LIBS     $bin: $(echo "$libs" | wc -l) libraries resolve in the image"
done
grep -q '"/usr/sbin/steerd"' "$bundle/bundle/config.json" || fail "entrypoint is not steerd"

in_image /usr/sbin/steerd --version | sed -n '1p;/required/p' | sed 's/^/  /'
in_image /usr/bin/steerctl --help >/dev/null || fail "steerctl --help failed"

mkdir "$cg"
mkdir -p "$R/etc/steer/routes"
cp examples/reviews.yaml "$R/etc/steer/routes/"
in_image /usr/sbin/steerd --once --routes /etc/steer/routes --bpffs "$pins" \
	--cgroup "$cg" --metrics off >"$bundle/steerd.log" 2>&1 ||
	{ cat "$bundle/steerd.log" >&2; fail "steerd --once in the image failed"; }
in_image /usr/bin/steerctl --bpffs "$pins" -o json status reviews | grep -q '"reviews"' ||
	fail "steerctl in the image does not see the route steerd applied"
in_image /usr/sbin/steerd --bpffs "$pins" --cgroup "$cg" --cleanup >/dev/null 2>&1 ||
	fail "steerd --cleanup in the image failed"
[ ! -e "$pins" ] || fail "pins left behind by --cleanup"
echo "  SMOKE    steer/steerd:$version: steerd --once applied examples/reviews.yaml from the image; steerctl read it back"
