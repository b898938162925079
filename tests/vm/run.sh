#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Usage: tests/vm/run.sh BUILD_DIR
#
# Boot Debian 12's own 6.1 LTS kernel under qemu with an initramfs of
# busybox, the static test binaries (BUILD/vm/tests/*), steerd and the BPF
# objects (BUILD/*.bpf.o), and run them there (tests/vm/init). Prints the
# guest's console, then the verifier's processed instructions per program
# on the guest's kernel and on this host's, and closes with
# "vmtest: N passed, N failed". Exits non-zero on a failed test, a guest
# that crashes (kernel panic) or one that does not finish in time.
#
# The kernel package is fetched with apt-get download into BUILD/vm/ and
# reused while it is the one linux-image-amd64 depends on. Environment:
#   VMTEST_KERNEL_PKG  kernel package (default: linux-image-amd64's dependency)
#   VMTEST_ACCEL       qemu -accel (default tcg,thread=multi; kvm does not
#                      boot a guest on the machines here)
#   VMTEST_TIMEOUT     seconds before the guest is killed (default 600)
set -eu
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
vm=$build/vm
root=$vm/root
accel=${VMTEST_ACCEL:-tcg,thread=multi}
limit=${VMTEST_TIMEOUT:-600}
mkdir -p "$vm"

say() { printf 'vmtest: %s\n' "$*"; }
die() {
	say "$*" >&2
	echo "vmtest: 0 passed, 1 failed"
	exit 1
}

# ---- the kernel: Debian's package, cached ------------------------------
kernel_pkg() {
	[ -n "${VMTEST_KERNEL_PKG:-}" ] && { echo "$VMTEST_KERNEL_PKG"; return; }
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
download() {
	(cd "$vm" && apt-get download -q "$1" 2>&1 | grep -v unsandboxed)
	ls "$vm/$1"_*.deb >/dev/null 2>&1
}
# The cached package while it is the current one, else a download; stale
# or missing package lists (apt-get download fails) are updated once.
fetch() {
	pkg=$(kernel_pkg)
	[ -n "$pkg" ] || return 1
	ls "$vm/$pkg"_*.deb >/dev/null 2>&1 && return 0
	rm -rf "$vm"/linux-image-*.deb "$vm/kernel"
	say "fetching $pkg"
	download "$pkg"
}
fetch || { apt-get update -qq && fetch; } ||
	die "cannot download the kernel package (apt-get download ${pkg:-linux-image-amd64's dependency})"
deb=$(ls "$vm/$pkg"_*.deb | head -n 1)
if [ ! -f "$vm/kernel/.from" ] || [ "$(cat "$vm/kernel/.from")" != "$deb" ]; then
	rm -rf "$vm/kernel"
	dpkg-deb -x "$deb" "$vm/kernel"
	echo "$deb" >"$vm/kernel/.from"
fi
vmlinuz=$(ls "$vm"/kernel/boot/vmlinuz-* | head -n 1)
kver=${vmlinuz##*/vmlinuz-}

# ---- the initramfs --------------------------------------------------------
ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is not static (install busybox-static)"
rm -rf "$root"
mkdir -p "$root/bin" "$root/tests" "$root/bpf" "$root/lib/modules" \
	"$root/usr/sbin" "$root/proc" "$root/sys" "$root/dev" "$root/tmp"
cp /bin/busybox "$root/bin/"
cp "$here/init" "$root/init"
cp "$here/../run-unit.sh" "$root/bin/run-unit.sh"
cp "$vm/vmtest" "$root/bin/vmtest"
cp "$here/vmtest-guest.sh" "$root/tests/vmtest"
cp "$vm"/tests/* "$root/tests/"
cp "$build"/*.bpf.o "$root/bpf/"
for m in veth sch_ingress cls_bpf; do
	f=$(find "$vm/kernel/lib/modules" -name "$m.ko" | head -n 1)
	[ -n "$f" ] || die "$m.ko is not in $pkg"
	cp "$f" "$root/lib/modules/"
done
# steerd as built (dynamic), with the libraries it links.
cp "$build/steerd" "$root/usr/sbin/steerd"
for lib in $(ldd "$build/steerd" | awk '$2 == "=>" { print $3 } $1 ~ /^\// { print $1 }'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$vm/initramfs.gz"

# ---- boot ---------------------------------------------------------------------
say "booting $kver ($accel), at most ${limit}s"
log=$vm/console.log
start=$(date +%s)
rc=0
timeout "$limit" qemu-system-x86_64 -accel "$accel" -cpu max -machine q35 \
	-smp 2 -m 1G -nographic -no-reboot -kernel "$vmlinuz" \
	-initrd "$vm/initramfs.gz" \
	-append "console=ttyS0 panic=-1 quiet steer_vmtest" \
	</dev/null >"$log" 2>&1 || rc=$?
tr -d '\r' <"$log" | sed -n '/vmtest: guest up/,$p'
say "guest ran $(($(date +%s) - start))s"
[ "$rc" -eq 124 ] && die "guest killed after ${limit}s (see $log)"
summary=$(tr -d '\r' <"$log" | grep -E '^vmtest: [0-9]+ passed, [0-9]+ failed' | tail -n 1)
if [ -z "$summary" ]; then
	tr -d '\r' <"$log" | tail -n 40
	die "no summary from the guest (kernel panic or crash; see $log)"
fi

# ---- verifier record: this guest's kernel and this host's ---------------------
failed=0
# A guest run that failed without counting it (a crashed binary).
case "$summary" in
*" 0 failed") tr -d '\r' <"$log" | grep -q '^vmtest: exit 0$' || failed=1 ;;
esac
tr -d '\r' <"$log" | awk '$1 == "insns:" { print $2, $3, $4 }' >"$vm/verifier-guest.txt"
: >"$vm/verifier-host.txt"
if [ "$(id -u)" -ne 0 ]; then
	say "not root: no verifier record of this host's kernel"
elif "$vm/vmtest" --load-only "$build" >"$vm/host-load.txt" 2>&1; then
	awk '$1 == "insns:" { print $2, $3, $4 }' "$vm/host-load.txt" >"$vm/verifier-host.txt"
else
	cat "$vm/host-load.txt"
	say "the programs do not load on this host's kernel"
	failed=1
fi
say "verifier: processed instructions per program (budget 250000, a quarter of the 1M limit)"
awk -v g="$kver" -v h="$(uname -r)" '
	NR == FNR { host[$1 " " $2] = $3; next }
	FNR == 1 { printf "  %-14s %-28s %16.16s %16.16s\n", "object", "program", g, h }
	{ printf "  %-14s %-28s %16s %16s\n", $1, $2, $3, ($1 " " $2) in host ? host[$1 " " $2] : "-" }
' "$vm/verifier-host.txt" "$vm/verifier-guest.txt"

# The guest's summary closes the output; its failures are ours.
p=${summary#vmtest: }
p=${p%% passed*}
f=${summary#*passed, }
f=${f%% failed*}
echo "vmtest: $p passed, $((f + failed)) failed"
[ "$((f + failed))" -eq 0 ]
