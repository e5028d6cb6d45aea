#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh - `make check-kvm-nested`: libvmm's kvm checks on a real kvm_amd, inside QEMU's software SVM.
#
# Usage: tests/nested/run.sh [--optional]   (from anywhere; run `make tests` first)
# Boots Debian's cloud kernel under QEMU TCG with an SVM CPU, loads kvm_amd there and runs the
# demo, embed, the unit and e2e kvm twins, stress and the bench's kvm rows (tests/nested/init)
# on its /dev/kvm, then boots the same kernel under vmm-run on 1 and 2 vCPUs and under QEMU
# (tests/linux) for the figure: time to the guest's /init. The host needs no /dev/kvm. Prints
# the guest's console, then a summary; exits 1 if a check failed, the guest never got /dev/kvm,
# or the time ran out.
# Where the host cannot run it at all (no QEMU, busybox-static, cpio or kernel package) it
# prints "skipped: <reason>" and exits 0 with --optional (or NESTED_OPTIONAL=yes), else 1.
#
# Environment: NESTED_TIMEOUT seconds for the whole boot [1200], NESTED_CPU QEMU's -cpu
# [EPYC-v3,+svm,+npt], QEMU [qemu-system-x86_64], NESTED_KERNEL_DEB (see kernel.sh),
# NESTED_UNIT_FILTER, NESTED_E2E_FILTER, NESTED_STRESS_CHANGES (see initramfs.sh).
set -eu
optional=${NESTED_OPTIONAL:-no}
for arg; do
	case $arg in
	--optional) optional=yes ;;
	*)
		sed -n '3,17s/^# \{0,1\}//p' "$0" >&2
		exit 2
		;;
	esac
done
cd "$(dirname "$0")/../.."
out=build/nested
limit=${NESTED_TIMEOUT:-1200}
cpu=${NESTED_CPU:-EPYC-v3,+svm,+npt}
qemu=${QEMU:-qemu-system-x86_64}
me=check-kvm-nested

skip() {
	echo "$me: skipped: $*"
	if [ "$optional" = yes ]; then
		exit 0
	fi
	echo "$me: FAILED: it cannot run here, and it is not optional (--optional or NESTED_OPTIONAL=yes)"
	exit 1
}

for need in "$qemu:qemu-system-x86" cpio:cpio dpkg-deb:dpkg apt-get:apt timeout:coreutils \
	ldd:libc-bin awk:mawk; do
	command -v "${need%:*}" >/dev/null 2>&1 ||
		skip "no ${need%:*} on this host (Debian package ${need##*:})"
done
export BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || skip "no $BUSYBOX (Debian: busybox-static)"
if ldd "$BUSYBOX" >/dev/null 2>&1; then
	skip "$BUSYBOX is dynamically linked: the guest needs busybox-static"
fi
for f in $(grep -v '^#' tests/kvm-programs.list); do
	[ -x "$f" ] || { echo "$me: FAILED: no $f: run make tests first"; exit 1; }
done

mkdir -p "$out"
st=0
sh tests/nested/kernel.sh "$out/kernel" || st=$?
case $st in
0) ;;
3) skip "the kernel package linux-image-cloud-amd64 cannot be had here" ;;
*) echo "$me: FAILED: preparing the kernel"; exit 1 ;;
esac
sh tests/nested/initramfs.sh "$out/kernel" "$out/initramfs.cpio"

log=$out/console.log
: >"$log"
cr=$(printf '\r')
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
qemu_version=$("$qemu" --version | head -n 1)
echo "$me: $qemu_version, -cpu $cpu -smp 1 -m 2G, TCG; time limit $limit s"
start=$(now)
ready_host=
# -smp 1: with two vCPUs the nested guest froze in about 1 run in 10 (issue 8).
# nice: TCG takes a whole core for minutes, and CI machines are shared.
rm -f "$out/qemu.rc"
{
	st=0
	nice -n 10 timeout -k 10 "$limit" "$qemu" -accel tcg -cpu "$cpu" -smp 1 -m 2G \
		-nodefaults -nographic -monitor none -serial stdio -no-reboot \
		-kernel "$out/kernel/vmlinuz" -initrd "$out/initramfs.cpio" \
		-append "console=ttyS0 quiet panic=-1 rdinit=/init" </dev/null 2>&1 || st=$?
	echo $st >"$out/qemu.rc"
} | {
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%"$cr"}
		# The firmware's terminal resets can precede a marker on its line.
		case $line in ?*"@nested "*) line="@nested ${line#*@nested }" ;; esac
		printf '%s\n' "$line"
		printf '%s\n' "$line" >>"$log"
		case $line in
		"@nested kvm-ready "*) echo "$(since "$start")" >"$out/ready.host" ;;
		esac
	done
}
qemu_rc=$(cat "$out/qemu.rc" 2>/dev/null || echo lost)
wall=$(since "$start")
[ -s "$out/ready.host" ] && ready_host=$(cat "$out/ready.host")
rm -f "$out/ready.host"

awk -v me="$me" -v qemu_rc="$qemu_rc" -v limit="$limit" -v wall="$wall" \
	-v ready_host="$ready_host" -v kernel="$(cat "$out/kernel/release")" -f tests/nested/summary.awk "$log"
