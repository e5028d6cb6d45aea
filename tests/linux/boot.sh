#!/bin/sh
# SPDX-License-Identifier: MIT
# boot.sh - boot a stock Linux with tests/linux's initramfs under vmm-run (or QEMU) and judge it.
#
# Usage: tests/linux/boot.sh [--vmm-run PATH] [--cpus N] [--qemu] [--timeout SECS] KERNEL INITRAMFS
# vmm-run [build/vmm-run] runs examples/linux.ini's layout (256 MiB at 0, the 16550 at 0x3f8 on
# IRQ 4, the testdev at 0xfebf0000) on kvm with N vCPUs [1], from an ini written to the output
# folder; --qemu runs qemu-system-x86_64 -enable-kvm instead, for the figure. The guest's stdin
# is a FIFO: when the guest prints "@linux ready-for-input" one line goes in. Prints the guest's
# output as it comes, then "@figure TOOL cpus=N init=S total=S uptime=S [setup=S]": seconds from
# the start to the "@linux init" marker and to the end, the guest's uptime at that marker, and
# (vmm-run) to the end of vmm-run's setup, when the guest starts. Passes when the tool exits 0 and the guest says
# "@linux pass", echoed the line and saw N CPUs.
# Exit status: 0 passed; 77 skipped ("skipped: reason": no /dev/kvm, no kernel, this host's
# KVM cannot emulate what the kernel does (its emulation failure is quoted), or it is kvm_pvm
# and the kernel did not reach /init in time); 1 failed; 2 usage. Environment: LINUX_OUT output folder [build/linux], LINUX_TIMEOUT [--timeout, 300],
# LINUX_PVM_TIMEOUT the limit on a kvm_pvm host [60], where running out of it is a skip.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
me=boot.sh
vmm_run=$root/build/vmm-run
cpus=1
tool=vmm-run
accel=kvm
limit=${LINUX_TIMEOUT:-300}
out=${LINUX_OUT:-$root/build/linux}

usage() {
	sed -n '5,20s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--vmm-run) [ $# -ge 2 ] || usage; vmm_run=$2; shift ;;
	--vmm-run=*) vmm_run=${1#*=} ;;
	--cpus) [ $# -ge 2 ] || usage; cpus=$2; shift ;;
	--cpus=*) cpus=${1#*=} ;;
	--timeout) [ $# -ge 2 ] || usage; limit=$2; shift ;;
	--timeout=*) limit=${1#*=} ;;
	--qemu) tool=qemu ;;
	# Not in the usage: QEMU without KVM, to try the guest's init on a host without a usable
	# /dev/kvm. Its figure is labelled qemu-tcg, never to be mistaken for the real one.
	--tcg) accel=tcg ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 2 ] || usage
kernel=$1
initrd=$2
case $cpus in
'' | *[!0-9]* | 0*) echo "$me: --cpus '$cpus': not a count of vCPUs" >&2; exit 2 ;;
esac
case $limit in '' | *[!0-9]* | 0*) echo "$me: --timeout '$limit': not seconds" >&2; exit 2 ;; esac
[ "$tool" = qemu ] || [ "$accel" = kvm ] || { echo "$me: --tcg goes with --qemu" >&2; exit 2; }

skip() {
	echo "$me: skipped: $*"
	exit 77
}
die() {
	echo "$me: FAILED: $*"
	exit 1
}
abs() {
	case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac
}

[ -e "$kernel" ] || skip "no kernel '$kernel' (tests/nested/kernel.sh fetches Debian's)"
[ -r "$initrd" ] || die "no initramfs '$initrd' (tests/linux/initramfs.sh makes it)"
kernel=$(abs "$kernel")
initrd=$(abs "$initrd")
if [ "$accel" = kvm ]; then
	[ -e /dev/kvm ] || skip "no /dev/kvm on this host"
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		skip "/dev/kvm is not readable and writable for $(id -un)"
	fi
fi
# kvm_pvm (this project's dev hosts) runs a stock kernel so slowly that it would eat the whole
# time limit: seen there, the bzImage's decompressor alone took 4 minutes, and the kernel then
# stopped on KVM's "emulation failure" after 8. A shorter limit, and a skip when it runs out.
pvm_limit=${LINUX_PVM_TIMEOUT:-60}
pvm=no
if [ "$tool" = vmm-run ] && [ -d /sys/module/kvm_pvm ]; then
	pvm=yes
	[ "$limit" -le "$pvm_limit" ] || limit=$pvm_limit
fi
case $tool in
vmm-run) [ -x "$vmm_run" ] || die "no vmm-run at '$vmm_run' (make, or --vmm-run PATH)" ;;
qemu) command -v qemu-system-x86_64 >/dev/null 2>&1 || skip "no qemu-system-x86_64 on this host" ;;
esac
for need in mkfifo timeout awk; do
	command -v $need >/dev/null 2>&1 || die "no $need on this host"
done

mkdir -p "$out" || die "cannot make '$out'"
label=$tool
[ "$accel" = tcg ] && label=qemu-tcg
tag=$out/$label-$cpus
log=$tag.log
cmdline="console=ttyS0 panic=-1 quiet vmmtest.mode=${tool%-run} vmmtest.cpus=$cpus"
# vmm-run's own time limit ends it cleanly (status 124); timeout(1) is the safety net.
if [ "$tool" = vmm-run ]; then
	ini=$tag.ini
	cat >"$ini" <<EOF || die "cannot write '$ini'"
; Written by tests/linux/boot.sh for one run: examples/linux.ini's layout with this run's paths.
[vm]
accel = kvm
vcpus = $cpus
timeout = ${limit}s
kernel = $kernel
initrd = $initrd
cmdline = $cmdline
; Linux probes ports and addresses nothing here claims (the PIT, PCI): they read as absent.
unhandled = ignore
[ram "low"]
gpa = 0
size = 256M
[device "uart0"]
plugin = uart16550
pio = 0x3f8
size = 8
irq = 4
output = stdout
input = stdin
[device "test0"]
plugin = testdev
mmio = 0xfebf0000
size = 0x1000
EOF
	# -v: its last line before the run ("vmm-run: N vcpus") times vmm-run's own setup.
	set -- "$vmm_run" -v "$ini"
	grace=10
else
	if [ "$accel" = kvm ]; then
		set -- -enable-kvm -cpu host
	else
		set -- -accel tcg -cpu max
	fi
	set -- qemu-system-x86_64 "$@" -m 256M -smp "$cpus" -nodefaults -nographic -monitor none \
		-serial stdio -no-reboot -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
	grace=0
fi

# The line the guest must echo: one that no other line of the output could be mistaken for.
testline="vmmtest-echo-$$-cpus-$cpus"
uptime_s() { cut -d' ' -f1 /proc/uptime; }
fifo=$tag.fifo
rm -f "$fifo" "$tag.rc" "$tag.start" "$tag.init" "$tag.setup"
mkfifo "$fifo" || die "cannot make the FIFO '$fifo'"
# Held open read-write (which never blocks on Linux) for the whole run: the guest's input then
# never ends, and the line goes in through this descriptor.
exec 3<>"$fifo"
: >"$log"
cr=$(printf '\r')
echo "$me: $*"
{
	st=0
	uptime_s >"$tag.start"
	timeout -k 5 $((limit + grace)) "$@" <"$fifo" 3>&- 2>&1 || st=$?
	echo "$st" >"$tag.rc"
} | {
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%"$cr"}
		# The firmware's terminal resets (QEMU's SeaBIOS) can precede a marker on its line.
		case $line in ?*"@linux "*) line="@linux ${line#*@linux }" ;; esac
		printf '%s\n' "$line"
		printf '%s\n' "$line" >>"$log"
		case $line in
		"@linux init "*) [ -e "$tag.init" ] || uptime_s >"$tag.init" ;;
		"vmm-run: "[0-9]*" vcpu" | "vmm-run: "[0-9]*" vcpus") uptime_s >"$tag.setup" ;;
		"@linux ready-for-input") printf '%s\n' "$testline" >&3 ;;
		esac
	done
}
end=$(uptime_s)
exec 3>&-
rm -f "$fifo"
rc=$(cat "$tag.rc" 2>/dev/null || echo lost)
start=$(cat "$tag.start" 2>/dev/null || echo "$end")
init=
[ -s "$tag.init" ] && init=$(cat "$tag.init")
setup=
[ -s "$tag.setup" ] && setup=$(cat "$tag.setup")
rm -f "$tag.rc" "$tag.start" "$tag.init" "$tag.setup"

# This machine's PVM /dev/kvm: KVM's instruction emulator stops a stock kernel early. That is
# the host's limit, not the test's: a skip that quotes vmm-run's detail, never a pass.
if [ "$tool" = vmm-run ] && [ "$rc" = 126 ]; then
	fault=$(grep -m 1 '^vmm-run: guest fault .*internal-error: .*emulation fail' "$log")
	[ -n "$fault" ] && skip "KVM on this host cannot emulate what the kernel does: $fault"
fi

if [ "$pvm" = yes ] && [ "$rc" = 124 ] && [ -z "$init" ]; then
	skip "this host's /dev/kvm is kvm_pvm, where the kernel did not reach /init in $limit s" \
		"(a stock kernel needs minutes there, then KVM's emulator stops it)"
fi

failures=
fail() { failures="$failures${failures:+; }$*"; }
timed_out=$(awk -v s="$start" -v e="$end" -v l="$limit" \
	'BEGIN { print (e - s >= l ? "yes" : "no") }')
case $rc in
0) ;;
# vmm-run's own limit (124), else timeout(1)'s: coreutils' 124 or 137, busybox's SIGTERM (143).
124 | 137 | 143)
	if [ "$timed_out" = yes ]; then
		fail "the time limit ($limit s) ran out"
	else
		fail "$tool exited with status $rc"
	fi
	;;
*) fail "$tool exited with status $rc" ;;
esac
if [ -z "$init" ]; then
	fail "the guest never reached /init"
else
	# The guest's last verdict, which lists every check that failed.
	l=$(grep '^@linux FAIL: ' "$log" | tail -n 1)
	[ -z "$l" ] || fail "the guest says: ${l#@linux FAIL: }"
	grep -q '^@linux pass$' "$log" || [ -n "$l" ] || fail "the guest never said '@linux pass'"
	grep -qxF "@linux echo: $testline" "$log" ||
		fail "the guest did not echo the line '$testline'"
	seen=$(awk '$1 == "@linux" && $2 == "cpus" { print $3; exit }' "$log")
	[ "$seen" = "$cpus" ] || fail "the guest saw '${seen:-no}' CPUs, expected $cpus"
fi
[ -z "$failures" ] || die "$failures (output in $log)"

# The guest's own uptime at /init splits the time: before the kernel's clock started (the VMM's
# setup, the firmware if any, the decompressor) and the kernel's boot.
uptime=$(awk '$1 == "@linux" && $2 == "init" { print $3; exit }' "$log")
figure=$(awk -v s="$start" -v i="$init" -v e="$end" -v u="$uptime" -v v="$setup" \
	'BEGIN { printf "init=%.2f total=%.2f uptime=%.2f", i - s, e - s, u
		 if (v != "") printf " setup=%.2f", v - s }')
echo "@figure $label cpus=$cpus $figure"
echo "$me: PASSED: $label, $cpus vCPU(s): /init reached, ttyS0 interrupts, echo, exit status 0"
