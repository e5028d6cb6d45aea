#!/bin/sh
# SPDX-License-Identifier: MIT
# kernel.sh - fetch Debian's cloud kernel package and unpack it (never install it) for the nested guest.
#
# Usage: tests/nestdev/kernel.sh OUTDIR
# Leaves OUTDIR/vmlinuz and OUTDIR/modules/{irqbypass,kvm,kvm-amd}.ko (uncompressed).
# NESTED_KERNEL_DEB=/path/to/linux-image-*.deb uses that package instead of downloading one.
# Exit status: 0 done, 3 the package cannot be had here (the caller may call that a skip),
# 1 anything else.
set -eu
out=$1
mkdir -p "$out"
cd "$out"

deb=${NESTED_KERNEL_DEB:-}
if [ -z "$deb" ]; then
	# linux-image-cloud-amd64 is a metapackage: the kernel is the package it depends on.
	name=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	if [ -z "$name" ]; then
		echo "kernel.sh: apt knows no linux-image-cloud-amd64 (run apt-get update?)" >&2
		exit 3
	fi
	deb=$(ls "$name"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		echo "kernel.sh: apt-get download $name" >&2
		# apt's _apt user may not write here; the download then runs as the caller, which is fine.
		if ! apt-get download -q "$name" 2>download.err >&2; then
			cat download.err >&2
			echo "kernel.sh: cannot download $name" >&2
			exit 3
		fi
		rm -f download.err
		deb=$(ls "$name"_*.deb | head -n 1)
	fi
fi
case $deb in /*) ;; *) deb=$(pwd)/$deb ;; esac

stamp=unpacked.$(basename "$deb")
if [ ! -e "$stamp" ]; then
	rm -rf root modules vmlinuz unpacked.*
	dpkg-deb -x "$deb" root
	cp root/boot/vmlinuz-* vmlinuz
	mkdir modules
	for m in irqbypass kvm kvm-amd; do
		f=$(find root/lib/modules -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \
			-o -name "$m.ko.gz" | head -n 1)
		if [ -z "$f" ]; then
			echo "kernel.sh: $deb has no $m.ko" >&2
			exit 1
		fi
		# busybox insmod takes only plain modules.
		case $f in
		*.xz) xz -dc "$f" >"modules/$m.ko" ;;
		*.zst) zstd -qdc "$f" >"modules/$m.ko" ;;
		*.gz) gzip -dc "$f" >"modules/$m.ko" ;;
		*) cp "$f" "modules/$m.ko" ;;
		esac
	done
	basename "$(ls -d root/lib/modules/*)" >release
	rm -rf root
	: >"$stamp"
fi
echo "kernel.sh: $(cat release) from $(basename "$deb")" >&2
