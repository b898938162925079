# SPDX-License-Identifier: BSD-2-Clause
# Sourced by the control-plane benchmarks (sh or bash): a cgroup, a pin
# directory and a temporary directory of their own, all removed on every
# exit path, with steerd's pins cleaned up first.
#   in:  $tag     a name for what is made (the shell's PID is added)
#        $steerd  the steerd whose --cleanup unpins (build/steerd if unset)
#   out: $cg, $pins, $tmp; bench_on_exit "CMD" runs CMD first on exit
#        (e.g. to stop a steerd the script started)
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root" >&2; exit 1; }
cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$cgroot" ] || { echo "$0: no cgroup2 mount in /proc/mounts" >&2; exit 1; }
steerd=${steerd:-build/steerd}
cg=$cgroot/$tag-$$
pins=/sys/fs/bpf/$tag-$$
tmp=$(mktemp -d "/tmp/$tag-$$-XXXXXX")
bench_exit_cmds=:

bench_on_exit() {
	bench_exit_cmds="$1; $bench_exit_cmds"
}

bench_cleanup() {
	set +e
	eval "$bench_exit_cmds"
	"$steerd" --cleanup --bpffs "$pins" >/dev/null 2>&1
	rm -rf "$pins" "$tmp"
	rmdir "$cg" 2>/dev/null
}
trap bench_cleanup EXIT
trap 'exit 130' INT HUP
trap 'exit 143' TERM

grep -qs ' /sys/fs/bpf bpf ' /proc/mounts || mount -t bpf bpf /sys/fs/bpf
mkdir "$cg"
