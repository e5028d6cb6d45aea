#!/bin/sh
# SPDX-License-Identifier: MIT
# check.sh - `make check-linux`: boot Debian's cloud kernel under vmm-run on 1 and 2 vCPUs.
#
# Usage: tests/linux/check.sh [--vmm-run PATH] [--out DIR]   [build/vmm-run, build]
# The kernel is $VMM_TEST_BZIMAGE, else the one tests/nested/kernel.sh fetches into
# DIR/nested/kernel; the initramfs is tests/linux/initramfs.sh's, in DIR/linux. Each boot is
# tests/linux/boot.sh's. A host that cannot run it (no /dev/kvm, no kernel package, no
# busybox-static, a KVM whose emulator stops the kernel) prints "skipped: reason" and passes:
# the nested route (make check-kvm-nested) is where it must really run.
# Exit status: 0 passed or skipped, 1 failed, 2 usage.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
me=check-linux
vmm_run=$root/build/vmm-run
dir=$root/build
while [ $# -gt 0 ]; do
	case $1 in
	--vmm-run) [ $# -ge 2 ] || exit 2; vmm_run=$2; shift ;;
	--out) [ $# -ge 2 ] || exit 2; dir=$2; shift ;;
	*)
		sed -n '5,12s/^# \{0,1\}//p' "$0" >&2
		exit 2
		;;
	esac
	shift
done

skip() {
	echo "$me: skipped: $*"
	exit 0
}

kernel=${VMM_TEST_BZIMAGE:-}
if [ -z "$kernel" ]; then
	[ -e /dev/kvm ] || skip "no /dev/kvm on this host (the kernel was not fetched)"
	st=0
	sh "$root/tests/nested/kernel.sh" "$dir/nested/kernel" || st=$?
	case $st in
	0) ;;
	3) skip "the kernel package linux-image-cloud-amd64 cannot be had here" ;;
	*) echo "$me: FAILED: preparing the kernel"; exit 1 ;;
	esac
	kernel=$dir/nested/kernel/vmlinuz
fi
initrd=$dir/linux/initramfs.cpio
st=0
sh "$root/tests/linux/initramfs.sh" "$initrd" || st=$?
case $st in
0) ;;
3) skip "no static busybox for the guest (Debian: busybox-static)" ;;
*) echo "$me: FAILED: packing the initramfs"; exit 1 ;;
esac

figures=
for cpus in 1 2; do
	o=$dir/linux/check-$cpus.out
	{
		st=0
		LINUX_OUT=$dir/linux sh "$root/tests/linux/boot.sh" --vmm-run "$vmm_run" \
			--cpus "$cpus" "$kernel" "$initrd" 2>&1 || st=$?
		echo "$st" >"$o.rc"
	} | tee "$o"
	st=$(cat "$o.rc")
	rm -f "$o.rc"
	case $st in
	0) figures="$figures $(grep '^@figure ' "$o")" ;;
	77) skip "$(sed -n 's/^boot.sh: skipped: //p' "$o")" ;;
	*) echo "$me: FAILED: the boot on $cpus vCPU(s) (status $st)"; exit 1 ;;
	esac
done
echo "$me: PASSED: $(basename "$kernel") booted to the test init on 1 and 2 vCPUs;$figures"
