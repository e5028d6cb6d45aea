#!/bin/sh
# SPDX-License-Identifier: MIT
# initramfs.sh - pack busybox-static and tests/linux/init into the Linux test guest's initramfs.
#
# Usage: tests/linux/initramfs.sh [OUT.cpio]   [build/linux/initramfs.cpio]
# A newc cpio, uncompressed (the cloud kernel would unpack gzip too, but this costs nothing).
# BUSYBOX names the static busybox to use [/bin/busybox]. Exit status 0, 3 when this host
# has no static busybox (the caller may call that a skip), 1 anything else.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build/linux/initramfs.cpio}
busybox=${BUSYBOX:-/bin/busybox}
me=initramfs.sh

if [ ! -x "$busybox" ]; then
	echo "$me: no $busybox (Debian: busybox-static)" >&2
	exit 3
fi
if ldd "$busybox" >/dev/null 2>&1; then
	echo "$me: $busybox is dynamically linked: the guest needs busybox-static" >&2
	exit 3
fi
command -v cpio >/dev/null 2>&1 || { echo "$me: no cpio (Debian: cpio)" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "$(dirname "$out")/root.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/sbin" "$stage/usr/bin" "$stage/usr/sbin" "$stage/proc" \
	"$stage/sys" "$stage/dev" "$stage/tmp" "$stage/root"
cp "$busybox" "$stage/bin/busybox"
# The applets' links are made here, not by `busybox --install` at boot: /init starts sooner.
for applet in $("$busybox" --list); do
	[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done
cp "$root/tests/linux/init" "$stage/init"
chmod 755 "$stage/init"
# No device nodes (mknod needs root): /init mounts devtmpfs and opens /dev/console itself.

(cd "$stage" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
echo "$me: $out, $(du -k "$out" | cut -f1) KiB" >&2
