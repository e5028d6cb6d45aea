# SPDX-License-Identifier: MIT
# summary.awk - read the nested guest's console log (tests/nested/init's markers) and judge the run.
#
# Variables from run.sh: me, qemu_rc, limit, wall, ready_host, kernel.
# The Linux boots' "@figure" lines make the figure: vmm-run against QEMU, time to /init.
# Prints one line per check (status, time, Criterion's Synthesis), every skip with its reason,
# every failure, and a last line "me: PASSED ..." or "me: FAILED: ..."; exits 1 on failure.

# Issue 12's figure: vmm-run against QEMU, same kernel, initramfs and nested kvm_amd.
function figure(    v, q) {
	if (!(("vmm-run", 1) in fig_init) && !(("qemu", 1) in fig_init))
		return
	print "  figure: seconds from the VMM's start to the guest's /init [the kernel's own uptime there]" \
	      " (to the end of the checks)"
	for (c = 1; c <= 2; c++)
		if (("vmm-run", c) in fig_init)
			printf "    vmm-run, %d vCPU: %s s [%s s] (%s s), its setup %s s\n", c,
			       fig_init["vmm-run", c], fig_up["vmm-run", c], fig_total["vmm-run", c],
			       fig_setup["vmm-run", c]
	if (("qemu", 1) in fig_init)
		printf "    QEMU,    1 vCPU: %s s [%s s] (%s s)\n", fig_init["qemu", 1], fig_up["qemu", 1],
		       fig_total["qemu", 1]
	v = fig_init["vmm-run", 1]
	q = fig_init["qemu", 1]
	if (v != "" && q + 0 > 0)
		printf "    vmm-run / QEMU, 1 vCPU: %.2f\n", v / q
}

function fail(why) {
	failures = failures (failures ? "; " : "") why
}

/^@nested booted / { booted = 1 }
/^@nested kvm-ready / { ready = $3 }
/^@nested kvm_amd / { sub(/^@nested kvm_amd /, ""); params = $0 }
/^@nested fatal / { sub(/^@nested fatal /, ""); fail("guest: " $0) }
/^@nested done/ { done = 1; step = "" }
/^@nested begin / {
	step = $3
	sub(/:$/, "", step)
	order[++nsteps] = step
	cmd = $0
	sub(/^@nested begin [^:]*: /, "", cmd)
	command[step] = cmd
	next
}
/^@nested end / {
	rc = $4; sub(/^rc=/, "", rc)
	t = $5; sub(/^time=/, "", t)
	status[$3] = rc
	secs[$3] = t
	step = ""
	next
}
step != "" && /^\[====\] Synthesis:/ {
	s = $0
	sub(/^\[====\] Synthesis: /, "", s)
	sub(/ +$/, "", s)
	synth[step] = s
}
step != "" && /^\[SKIP\] / { skips[++nskips] = step ": " substr($0, 8) }
step != "" && /^\[(FAIL|CRASH)\] / { fails[++nfails] = step ": " $0 }
# The Linux boots (tests/linux/boot.sh): a skip is a failure here, the verdict says why.
step ~ /^linux-/ && /^boot\.sh: (skipped|FAILED): / { fails[++nfails] = step ": " substr($0, 10) }
# "@figure TOOL cpus=N init=S total=S": seconds from the VMM's start to the guest's /init.
step ~ /^linux-/ && /^@figure / {
	c = $3; sub(/^cpus=/, "", c)
	i = $4; sub(/^init=/, "", i)
	t = $5; sub(/^total=/, "", t)
	u = $6; sub(/^uptime=/, "", u)
	v = $7; sub(/^setup=/, "", v)
	fig_setup[$2, c] = v
	fig_init[$2, c] = i
	fig_total[$2, c] = t
	fig_up[$2, c] = u
}
# The bench's table rows end with the row's status: ran, skipped or ERROR.
step == "bench" && /^\|.*\| (skipped|ERROR) \|$/ {
	n = split($0, col, /\|/)
	st = col[n - 1]; gsub(/ /, "", st)
	row = col[2]; gsub(/^ +| +$/, "", row)
	acc = col[3]; gsub(/ /, "", acc)
	if (st == "skipped")
		skips[++nskips] = "bench: " row " (" acc "): skipped"
	else
		fails[++nfails] = "bench: " row " (" acc "): ERROR"
}

END {
	print ""
	print me ": summary (kernel " kernel ", kvm_amd in QEMU TCG)"
	if (qemu_rc == 124 || qemu_rc == 137)
		fail("the time limit (" limit " s) ran out; QEMU was killed")
	else if (qemu_rc != 0)
		fail("QEMU exited with status " qemu_rc)
	if (!booted)
		fail("the guest never reached its init")
	else if (ready == "")
		fail("the guest never got /dev/kvm")
	if (ready != "")
		printf "  /dev/kvm ready %s s after QEMU started (guest uptime %s s)\n",
		       ready_host, ready
	if (params != "")
		print "  kvm_amd parameters: " params
	for (i = 1; i <= nsteps; i++) {
		s = order[i]
		if (!(s in status)) {
			printf "  %-10s never finished: %s\n", s, command[s]
			fail(s " never finished")
			continue
		}
		line = sprintf("  %-10s %s, %s s", s, status[s] == 0 ? "ok" : "FAILED (status " status[s] ")",
			       secs[s])
		if (s in synth)
			line = line "; Synthesis: " synth[s]
		else if (command[s] ~ /--filter/)
			line = line "; no Synthesis line"
		print line
		if (status[s] != 0)
			fail(s " exited with status " status[s])
		else if (command[s] ~ /--filter/ && !(s in synth))
			fail(s " printed no Synthesis line")
	}
	figure()
	if (booted && ready != "" && !done)
		fail("the guest did not finish its checks")
	for (i = 1; i <= nskips; i++)
		print "  skipped: " skips[i]
	for (i = 1; i <= nfails; i++)
		print "  failed:  " fails[i]
	if (failures != "") {
		printf "%s: FAILED: %s (%s s)\n", me, failures, wall
		exit 1
	}
	printf "%s: PASSED: %d checks on nested kvm_amd, %d skipped tests or rows listed above, %s s in all\n",
	       me, nsteps, nskips, wall
}
