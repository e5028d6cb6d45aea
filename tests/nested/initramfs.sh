#!/bin/sh
# SPDX-License-Identifier: MIT
# initramfs.sh - pack busybox, the kvm modules, the built tree and its libraries into the nested guest's initramfs.
#
# Usage: tests/nested/initramfs.sh KERNELDIR OUT.cpio (from the source root, after make tests)
# The tree goes in at the same absolute path as here: the tests have BUILD_DIR and SRC_DIR
# compiled in (Makefile.in, TEST_DEFS). The step options come from the environment:
# NESTED_UNIT_FILTER, NESTED_E2E_FILTER, NESTED_STRESS_CHANGES (run.sh sets them).
# For the Linux boots (tests/linux) /linux holds the same kernel and the L2 guest's initramfs,
# and QEMU (QEMU_L2 [qemu-system-x86_64]) goes in with its libraries and the firmware files a
# -kernel boot reads, for the figure against vmm-run.
set -eu
kdir=$1
cpio_out=$2
src=$(pwd)
stage=$(dirname "$cpio_out")/root
busybox=${BUSYBOX:-/bin/busybox}

rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" "$stage/lib/modules" \
	"$stage/proc" "$stage/sys" "$stage/dev" "$stage/tmp" "$stage/etc" "$stage$src"

cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp tests/nested/init "$stage/init"
chmod 755 "$stage/init"
cp "$kdir"/modules/*.ko "$stage/lib/modules/"

# The Linux boots' kernel and the L2 initramfs (busybox and tests/linux/init).
mkdir -p "$stage/linux"
cp "$kdir/vmlinuz" "$stage/linux/vmlinuz"
BUSYBOX=$busybox sh tests/linux/initramfs.sh "$stage/linux/initramfs.cpio"

# QEMU as L1's second VMM, found by the guest at the same path, so that its data folder
# (/usr/bin/../share/qemu, Debian's ../share/seabios) is the same as here. The files it reads
# for a -kernel boot under KVM (strace): SeaBIOS, the linuxboot option ROM, the vAPIC ROM.
qemu_l2=$(command -v "${QEMU_L2:-qemu-system-x86_64}")
qemu_dir=$(dirname "$qemu_l2")
mkdir -p "$stage$qemu_dir"
cp -L "$qemu_l2" "$stage$qemu_dir/"
for f in share/seabios/bios-256k.bin share/qemu/bios-256k.bin share/qemu/linuxboot_dma.bin \
	share/qemu/linuxboot.bin share/qemu/kvmvapic.bin; do
	fw=$(cd "$qemu_dir/.." && pwd)/$f
	[ -e "$fw" ] || continue
	mkdir -p "$stage$(dirname "$fw")"
	cp -L "$fw" "$stage$fw"
done

# The source tree (configs, fixtures) and the built tree, less what the guest never runs:
# objects, static libraries, sanitizer builds, this route's own files and the install test's tree.
tar -C "$src" -cf - --exclude=./.git --exclude=./build --exclude=./kvm-carry . |
	tar -C "$stage$src" -xf -
tar -C "$src" -cf - --exclude=build/nested --exclude=build/linux --exclude=build/install-test \
	--exclude=build/obj --exclude=build/asan \
	--exclude=build/tsan --exclude='*.a' --exclude='*-asan' --exclude='*-tsan' \
	--exclude='*.json' build | tar -C "$stage$src" -xf -

# Shared libraries, glibc and its loader included, at their paths here: those of the kvm
# programs (tests/kvm-programs.list) and of every plugin they dlopen from the build tree.
# libgcc_s is dlopen()ed by glibc itself (thread cancellation, backtraces), so ldd misses it.
{
	grep -v '^#' tests/kvm-programs.list
	find build -path build/nested -prune -o -name '*.so' -print
	echo "$qemu_l2"
} | while read -r f; do
	ldd "$f" 2>/dev/null || true
done | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' >"$stage/libs"
gcc_s=$(${CC:-cc} -print-file-name=libgcc_s.so.1 2>/dev/null || true)
case $gcc_s in /*) [ -e "$gcc_s" ] && realpath -s "$gcc_s" >>"$stage/libs" ;; esac
sort -u "$stage/libs" | while read -r lib; do
	mkdir -p "$stage$(dirname "$lib")"
	cp -L "$lib" "$stage$lib"
done
libpath=$(sort -u "$stage/libs" | while read -r lib; do dirname "$lib"; done | sort -u |
	tr '\n' ':' | sed 's/:$//')
rm "$stage/libs"

cat >"$stage/nested.env" <<EOF
SRC='$src'
LD_LIBRARY_PATH='$libpath'
UNIT_FILTER='${NESTED_UNIT_FILTER:-*kvm*}'
E2E_FILTER='${NESTED_E2E_FILTER:-@(*kvm*|demo/accel_auto*)}'
STRESS_CHANGES='${NESTED_STRESS_CHANGES:-2000}'
EOF

(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$cpio_out"
rm -rf "$stage"
echo "initramfs.sh: $cpio_out, $(du -k "$cpio_out" | cut -f1) KiB" >&2
