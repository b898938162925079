#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Install the Debian 12 packages steer needs to build, test and run its demo;
# qemu-system-x86, busybox-static and cpio are for make vmtest (tests/vm).
# prometheus (its promtool checks deploy/prometheus; the e2e runs it against
# a real steerd), dnsmasq-base (the e2e's DNS server), libc-ares-dev (steerd's
# DNS discovery), mmdebstrap and umoci (make image).
# Installs only what is missing; needs root. Used by .ci/run and tools/demo.sh.
set -eu
PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libyaml-dev
libjson-c-dev libnl-3-dev libnl-route-3-dev libmicrohttpd-dev pkg-config
iproute2 util-linux procps python3 python3-pytest clang-format clang-tools
cppcheck libclang-rt-14-dev qemu-system-x86 busybox-static cpio
python3-prometheus-client python3-yaml prometheus dnsmasq-base libc-ares-dev
mmdebstrap umoci"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Packages such as prometheus start their service on install: keep any service
# from starting while we install (a policy-rc.d of our own only if none exists).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
