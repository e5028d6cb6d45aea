#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/install/run.sh - install into a temporary DESTDIR, build examples/ with pkg-config alone.
#
# `make install-check` (part of `make check`) runs it from the top of the tree: it installs
# with DESTDIR=<temporary> prefix=/usr, points pkg-config at that tree (PKG_CONFIG_SYSROOT_DIR,
# PKG_CONFIG_PATH), copies examples/ out of the source tree and builds it there with pkg-config
# only, runs the embedder with and without the example plugin and vmm-run with the installed
# plugins, then uninstalls and checks that nothing of libvmm is left. One line per step;
# the first failure stops it with what failed and the end of its log.
#
# Environment: MAKE (make), MAKEFILE (the tree's makefile, Makefile), INSTALL_TEST_B (the build
# folder of the install, build/install-test: a tree of its own, so that prefix=/usr never changes
# what ./configure's build compiled in), BACKENDS (the backends built), PKG_CONFIG (pkg-config).
set -u
cd "$(dirname "$0")/../.." || exit 1
src=$(pwd)
MAKE=${MAKE:-make}
MAKEFILE=${MAKEFILE:-Makefile}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
B=${INSTALL_TEST_B:-build/install-test}
case "$B" in /*) out=$B ;; *) out=$src/$B ;; esac
BACKENDS=${BACKENDS:-kvm emu}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/libvmm-install-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
stage=$tmp/stage
work=$tmp/examples
log=$tmp/log
: > "$log"

step() { printf 'install test: %s: ' "$1"; }
pass() { echo "${1:-ok}"; }
fail() {
	echo FAILED
	echo "install test: FAILED: $1" >&2
	if [ -s "$log" ]; then
		echo "install test: the end of its log:" >&2
		tail -n 30 "$log" | sed 's/^/  | /' >&2
	fi
	exit 1
}
# run CMD...: the command's output goes to the log (kept for fail); returns its status.
run() { "$@" > "$log" 2>&1; }

# Whether this build and host can run a backend (kvm needs /dev/kvm to open read-write);
# if not, why_not says why.
can_run() {
	case " $BACKENDS " in
	*" $1 "*) ;;
	*) why_not="backend $1 is not built in (./configure --disable-$1)" && return 1 ;;
	esac
	[ "$1" = kvm ] || return 0
	# Test -c first: as root, opening a missing /dev/kvm read-write would create a plain file.
	why_not="/dev/kvm is not a character device here"
	[ -c /dev/kvm ] || return 1
	why_not="/dev/kvm does not open read-write here"
	( : <> /dev/kvm ) 2>/dev/null
}

step "make install DESTDIR=<tmp> prefix=/usr"
run $MAKE -f "$MAKEFILE" --no-print-directory B="$B" install DESTDIR="$stage" prefix=/usr ||
	fail "make install into $stage failed"
for f in usr/bin/vmm-run usr/lib/libvmm.a usr/lib/pkgconfig/libvmm.pc usr/include/vmm/vmm.h \
	usr/include/vmm/plugin.h usr/include/vmm/guest.h usr/share/man/man3/libvmm.3 \
	usr/share/man/man1/vmm-run.1; do
	[ -f "$stage/$f" ] || fail "make install did not install /$f"
done
pass "$(find "$stage" -type f | wc -l) files under /usr"

# pkg-config finds the staged tree and still finds inih and Unicorn where the system has them.
PKG_CONFIG_SYSROOT_DIR=$stage
PKG_CONFIG_PATH=$stage/usr/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH PKG_CONFIG

step "pkg-config libvmm"
version=$(sed -n 's/^#define VMM_VERSION_STRING *"\([^"]*\)".*/\1/p' libvmm/include/vmm/vmm.h)
got=$($PKG_CONFIG --modversion libvmm 2> "$log") || fail "pkg-config does not find libvmm"
[ "$got" = "$version" ] || fail "pkg-config says version '$got', vmm.h says '$version'"
flags=$($PKG_CONFIG --static --cflags --libs libvmm 2> "$log") || fail "pkg-config --static --libs libvmm failed"
case "$flags" in *"$src"*) fail "pkg-config's flags name the source tree: $flags" ;; esac
case "$flags" in *"-I$stage/usr/include"*"-L$stage/usr/lib"*"-lvmm"*) ;;
*) fail "pkg-config's flags lack -I and -L into the staged tree, or -lvmm: $flags" ;; esac
# A library without the emu backend must not drag Unicorn (GPL-2.0) into a program.
case " $BACKENDS :$flags " in
*" emu "*) ;;
*-lunicorn*) fail "a build without the emu backend links Unicorn: $flags" ;;
esac
pass "$version: $flags"

# pkgconf puts the sysroot in front of variables too; the original pkg-config does not.
step "pkg-config --variable=plugindir libvmm"
plugindir=$($PKG_CONFIG --variable=plugindir libvmm)
case "$plugindir" in "$stage"/*) plugindir=${plugindir#"$stage"} ;; esac
[ "$plugindir" = /usr/lib/libvmm/plugins ] || fail "plugindir is '$plugindir', not /usr/lib/libvmm/plugins"
for p in uart16550 testdev; do
	[ -f "$stage$plugindir/$p.so" ] || fail "$plugindir has no $p.so"
done
# The folder compiled into the installed library is the same one: vmm-run names it in --help.
"$stage/usr/bin/vmm-run" --help > "$log" 2>&1
grep -q -F "$plugindir" "$log" || fail "the installed vmm-run does not search $plugindir (its --help)"
pass "$plugindir holds uart16550.so and testdev.so, and vmm-run searches it"

step "build examples/ from a copy, with pkg-config alone"
cp -R examples "$work" || fail "cannot copy examples/ to $work"
rm -f "$work/embed" "$work/plugin/counter.so"
# Nothing of the calling make reaches it (MAKEFLAGS would carry its variables).
MAKEFLAGS= MFLAGS= run $MAKE -C "$work" || fail "make -C <copy of examples> failed"
grep -q -F "$src" "$log" && fail "the examples' build reached into the source tree $src"
for f in embed plugin/counter.so; do
	[ -f "$work/$f" ] || fail "examples/Makefile did not build $f"
done
exports=$(nm -D --defined-only -P "$work/plugin/counter.so" | awk '{ print $1 }' | tr '\n' ' ')
[ "$exports" = "vmm_plugin_entry " ] || fail "plugin/counter.so exports '$exports', not only vmm_plugin_entry"
pass "embed and plugin/counter.so (exports only vmm_plugin_entry)"

ran=0
for accel in emu kvm; do
	step "embed $accel"
	if ! can_run $accel; then
		pass "skipped: $why_not"
		continue
	fi
	ran=$((ran + 1))
	(cd "$work" && ./embed $accel) > "$log" 2>&1 || fail "embed $accel exited $?"
	grep -q '^embed: exit stopped, code 42$' "$log" || fail "embed $accel did not stop with 42"
	pass "the guest rang the doorbell with 42"

	step "embed $accel plugin/counter.so"
	(cd "$work" && ./embed $accel plugin/counter.so) > "$log" 2>&1 ||
		fail "embed $accel plugin/counter.so exited $?"
	grep -q '^embed: exit stopped, code 42$' "$log" || fail "the guest did not read 42 back from the counter"
	grep -q "^embed: counter 'counter0': 1 read(s), 2 write(s)$" "$log" ||
		fail "the counter plugin did not see the guest's 2 writes and 1 read"
	pass "the guest added 30 and 12 in the plugin and read back 42"

	step "embed $accel counter (by name, VMM_PLUGIN_PATH)"
	(cd "$work" && VMM_PLUGIN_PATH=$work/plugin ./embed $accel counter) > "$log" 2>&1 ||
		fail "embed $accel counter exited $?"
	grep -q "^embed: plugin $work/plugin/counter.so$" "$log" || fail "embed did not find counter.so by name"
	pass "found $work/plugin/counter.so"

	# The demo's config, run by the installed vmm-run with the installed plugins.
	step "installed vmm-run --accel=$accel demo.ini"
	sed "s|^firmware = .*|firmware = $out/guest-firmware/selftest.elf|" examples/demo.ini > "$tmp/demo.ini"
	VMM_PLUGIN_PATH=$stage$plugindir run "$stage/usr/bin/vmm-run" --accel=$accel "$tmp/demo.ini" ||
		fail "vmm-run --accel=$accel demo.ini exited $?"
	line=$(grep '^selftest: [0-9]* passed, 0 failed' "$log") || fail "the selftest did not pass"
	pass "$line"
done
[ $ran -gt 0 ] || echo "install test: no backend runs here: nothing was run, only built"

# The guest kit: examples/hello-guest/, built from its copy with the installed kit's flags
# (pkg-config --variable=guest_cflags / guest_libs) and run by the installed vmm-run.
guest_kit() {
	for f in usr/include/vmm/guestlib.h usr/share/libvmm/guest/vmm-guest.ld \
		usr/share/libvmm/guest/libvmm-guest.a usr/share/man/man7/vmm-guest.7; do
		[ -f "$stage/$f" ] || fail "make install did not install /$f"
	done
	step "build examples/hello-guest/ from a copy, with the installed kit"
	rm -f "$work/hello-guest/hello.elf"
	MAKEFLAGS= MFLAGS= run $MAKE -C "$work/hello-guest" || fail "make -C <copy of examples/hello-guest> failed"
	grep -q -F "$src" "$log" && fail "the guest's build reached into the source tree $src"
	grep -q -F -e "-T $stage/usr/share/libvmm/guest/vmm-guest.ld" "$log" ||
		fail "the guest was not linked with the installed kit's linker script"
	[ -f "$work/hello-guest/hello.elf" ] || fail "examples/hello-guest/Makefile did not build hello.elf"
	entry=$(LC_ALL=C readelf -h "$work/hello-guest/hello.elf" | sed -n 's/^ *Entry point address: *//p')
	case "$entry" in 0x1*) ;; *) fail "hello.elf's entry point is '$entry', not at 1 MiB or above" ;; esac
	pass "hello.elf, entry $entry"

	for accel in emu kvm; do
		step "installed vmm-run --accel=$accel hello.ini"
		if ! can_run $accel; then
			pass "skipped: $why_not"
			continue
		fi
		(cd "$work/hello-guest" && VMM_PLUGIN_PATH=$stage$plugindir \
			"$stage/usr/bin/vmm-run" --accel=$accel hello.ini) > "$log" 2>&1 ||
			fail "vmm-run --accel=$accel hello.ini exited $? (want 0)"
		grep -q '^hello from the guest$' "$log" || fail "the guest's greeting did not reach the UART"
		grep -q '^vcpus: 1$' "$log" || fail "the guest did not print its vCPU count, 1"
		pass "the guest printed through the UART and exited 0"
	done
}
guest_kit

step "make uninstall DESTDIR=<tmp> prefix=/usr"
run $MAKE -f "$MAKEFILE" --no-print-directory B="$B" uninstall DESTDIR="$stage" prefix=/usr || fail "make uninstall failed"
left=$(find "$stage" ! -type d | sed "s|^$stage||")
[ -z "$left" ] || { echo "$left" > "$log"; fail "make uninstall left files behind"; }
ours=$(find "$stage" -type d \( -name libvmm -o -path "$stage/usr/include/vmm" \))
[ -z "$ours" ] || { echo "$ours" > "$log"; fail "make uninstall left libvmm's folders behind"; }
pass "no file left; $(find "$stage" -mindepth 1 -type d | wc -l) empty standard folders (usr/bin, usr/share/man/man1, ...)"
echo "install test: passed"
