#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Install the Debian 12 packages steer needs; only what is missing, so a
# second run costs a few dpkg-query calls. Needs root when something is
# missing.
#
#   tools/install-deps.sh [GROUP...]     default: all
#
#   build   compile steer (make); libc-ares-dev: steerd's DNS discovery
#   demo    build, and run steerd and tools/demo.sh's sandbox
#   test    demo, and make test: pytest, prometheus_client, clang's sanitizer
#           and libFuzzer runtimes; dnsmasq-base (test_dns's DNS server),
#           prometheus and python3-yaml (test_prometheus, test_deploy_files)
#   check   build, and make check: clang-format, cppcheck, clang --analyze;
#           promtool (prometheus), pytest and python3-yaml for deploy-check
#   vm      build, and make vmtest: qemu, busybox, cpio
#   image   build, and make image / image-smoke: mmdebstrap, umoci
#   all     every group (.ci/run)
#
# Used by make test, check, vmtest, image and image-smoke (first, before
# anything is built), tools/demo.sh and .ci/run.
set -eu
BUILD="make gcc clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libyaml-dev libxxhash-dev
libjson-c-dev libnl-3-dev libnl-route-3-dev libmicrohttpd-dev pkg-config
libc-ares-dev"
RUN="iproute2 util-linux procps python3"
DEPLOY="prometheus python3-pytest python3-yaml"
TEST="python3-pytest python3-prometheus-client libclang-rt-14-dev
dnsmasq-base $DEPLOY"
CHECK="clang-format clang-tools cppcheck $DEPLOY"
VM="qemu-system-x86 busybox-static cpio"
IMAGE="mmdebstrap umoci"

[ $# -gt 0 ] || set -- all
PKGS="$BUILD"
for g in "$@"; do
	case $g in
	build) ;;
	demo) PKGS="$PKGS $RUN" ;;
	test) PKGS="$PKGS $RUN $TEST" ;;
	check) PKGS="$PKGS $CHECK" ;;
	vm) PKGS="$PKGS $VM" ;;
	image) PKGS="$PKGS $RUN $IMAGE" ;;
	all) PKGS="$PKGS $RUN $TEST $CHECK $VM $IMAGE" ;;
	*)
		echo "install-deps: unknown group '$g' (build, demo, test," \
			"check, vm, image, all)" >&2
		exit 2
		;;
	esac
done

missing=""
for p in $PKGS; do
	case " $missing " in *" $p "*) continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing;" \
		"run as root to install them" >&2
	exit 1
fi
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
