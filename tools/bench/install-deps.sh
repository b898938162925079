#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The Debian 12 packages `make bench` needs on top of tools/install-deps.sh:
# the systems steer is compared with and gnuplot for the plots. Installs
# only what is missing; needs root. Kept apart so CI's base install stays
# small. Servers are never started by the packages here (no init system
# runs them in the sandbox); bench.py starts its own, in its namespaces.
set -eu
PKGS="iptables nftables haproxy nginx libnginx-mod-stream gnuplot-nox
util-linux iproute2 procps bpftool"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Do not let a package's maintainer scripts start nginx or haproxy on the
# host: policy-rc.d answers "no" to every service start while we install.
prc=/usr/sbin/policy-rc.d
made=""
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod 755 "$prc" && made=1
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
[ -n "$made" ] && rm -f "$prc"
exit "${rc:-0}"
