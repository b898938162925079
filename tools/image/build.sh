#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# make image: an OCI image of steerd and steerctl built from Debian packages
# only. mmdebstrap extracts bookworm's runtime libraries (and what they depend
# on; no shell, no package manager: the image holds only what the two
# programs load), umoci turns the tree into an OCI image layout, the binaries
# go in as a second layer, and the layout is packed as an OCI archive:
#
#   build/image/oci/                 OCI image layout, tag VERSION
#   build/image/steerd-VERSION.tar   the same as one archive
#
# Push with e.g. `skopeo copy oci-archive:build/image/steerd-VERSION.tar:VERSION
# docker://REGISTRY/steer/steerd:VERSION`. Needs root (mmdebstrap --mode=root),
# mmdebstrap, umoci and Debian's mirror (the one in /etc/apt/sources* unless
# MIRROR is set). Usage: tools/image/build.sh BUILD_DIR VERSION
set -eu
build=$1
version=$2
mirror=${MIRROR:-$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}
suite=${SUITE:-bookworm}
# steerd's and steerctl's shared libraries (ldd build/steerd), by package.
libs="libc6,libbpf1,libelf1,zlib1g,libyaml-0-2,libjson-c5,libnl-3-200,libnl-route-3-200,libmicrohttpd12,libc-ares2"

out=$build/image
work=$out/work
rm -rf "$out"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

echo "  MMDEBSTRAP $suite ($libs)"
# extract: the packages and their dependencies, unpacked, with no maintainer
# scripts run (there is nothing to configure in a tree of libraries).
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)} \
	mmdebstrap --quiet --variant=extract --mode=root --include="$libs" \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	"$suite" "$work/rootfs" "$mirror"
rm -rf "$work/rootfs/var/cache/apt" "$work/rootfs/var/lib/apt/lists" \
	"$work/rootfs/usr/share/doc" "$work/rootfs/usr/share/man"
mkdir -p "$work/rootfs/etc/steer/routes" "$work/rootfs/run" "$work/rootfs/sys/fs/bpf" \
	"$work/rootfs/proc" "$work/rootfs/tmp"
chmod 1777 "$work/rootfs/tmp"

mkdir -p "$work/bin/usr/sbin" "$work/bin/usr/bin"
install -m 0755 "$build/steerd" "$work/bin/usr/sbin/steerd"
install -m 0755 "$build/steerctl" "$work/bin/usr/bin/steerctl"

echo "  UMOCI    $out/oci:$version"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$version"
umoci insert --image "$out/oci:$version" --history.comment "Debian $suite runtime libraries" \
	"$work/rootfs" /
umoci insert --image "$out/oci:$version" --history.comment "steerd, steerctl $version" \
	"$work/bin" /
umoci config --image "$out/oci:$version" \
	--config.entrypoint /usr/sbin/steerd \
	--config.cmd --routes=/etc/steer/routes --config.cmd --log-format=json \
	--config.env PATH=/usr/sbin:/usr/bin \
	--config.workingdir / \
	--config.label org.opencontainers.image.title=steerd \
	--config.label org.opencontainers.image.version="$version" \
	--config.label org.opencontainers.image.licenses=BSD-2-Clause \
	--config.label org.opencontainers.image.description="steer: canary releases in the kernel (eBPF)"
umoci gc --layout "$out/oci"
tar -C "$out/oci" -cf "$out/steerd-$version.tar" .
echo "  IMAGE    $out/steerd-$version.tar ($(du -h "$out/steerd-$version.tar" | cut -f1)), tag $version"
