/* SPDX-License-Identifier: MIT */
/* test_interrupts.c - the selftest firmware prints the same lines on kvm and emu, interrupts too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(same_on_both, .fini = e2e_cleanup);

/* What every selftest run must show: it ended with 0, and no check failed. */
static void assert_selftest_passed(const struct e2e_result *r, const char *accel)
{
	cr_assert(r->exited && r->status == 0, "%s: expected exit 0, got %s", accel,
		  e2e_describe(r));
	cr_assert(e2e_has_line(r->out, "selftest: "), "%s: no summary line: %s", accel,
		  e2e_describe(r));
	cr_assert(!strstr(r->out, "not ok"), "%s: a selftest failed: %s", accel, e2e_describe(r));
}

/* The 1-based number of the first line where a and b differ, or 0 if they are equal. */
static unsigned first_difference(const char *a, const char *b, const char **la, const char **lb)
{
	unsigned line = 1;

	for (;;) {
		size_t na = strcspn(a, "\n"), nb = strcspn(b, "\n");

		if (na != nb || memcmp(a, b, na) != 0 || !a[na] != !b[nb]) {
			*la = e2e_strf("%.*s", (int)na, a);
			*lb = e2e_strf("%.*s", (int)nb, b);
			return line;
		}
		if (!a[na])
			return 0;
		a += na + 1;
		b += nb + 1;
		line++;
	}
}

/* Run config on emu and on kvm; both pass, and their stdout (the guest's UART) is identical. */
static void run_on_both(const char *ini, struct e2e_result *emu, struct e2e_result *kvm)
{
	const char *le, *lk;
	unsigned diff;

	e2e_require_kvm();
	e2e_vmm_run(emu, "--accel=emu", ini, NULL);
	e2e_vmm_run(kvm, "--accel=kvm", ini, NULL);
	assert_selftest_passed(emu, "emu");
	assert_selftest_passed(kvm, "kvm");
	diff = first_difference(emu->out, kvm->out, &le, &lk);
	cr_assert(diff == 0,
		  "line %u differs:\n  emu: %s\n  kvm: %s\nemu printed:\n%s\nkvm printed:\n%s",
		  diff, le, lk, emu->out, kvm->out);
}

/* The demo config with vcpus = n and the firmware by absolute path, in the test's folder. */
static const char *demo_with_vcpus(unsigned n)
{
	FILE *f = fopen(E2E_DEMO_INI, "r");
	char line[512];
	const char *out = "";

	cr_assert_not_null(f, "cannot open %s", E2E_DEMO_INI);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "vcpus", 5))
			out = e2e_strf("%svcpus = %u\n", out, n);
		else if (!strncmp(line, "firmware", 8))
			out = e2e_strf("%sfirmware = %s/guest-firmware/selftest.elf\n", out,
				       BUILD_DIR);
		else
			out = e2e_strf("%s%s", out, line);
	}
	fclose(f);
	return e2e_write_file(e2e_strf("demo-%u.ini", n), "%s", out);
}

/* A check's line, wherever its number puts it: " - " then what it says. */
static void assert_ran(const struct e2e_result *r, const char *what)
{
	const char *at = strstr(r->out, e2e_strf(" - %s", what));
	size_t len;

	cr_assert_not_null(at, "no line \"%s\": %s", what, e2e_describe(r));
	len = strcspn(at, "\n");
	cr_assert(!memmem(at, len, "# SKIP", 6), "\"%s\" was skipped: %s", what, e2e_describe(r));
}

/* Exceptions, the LAPIC and its timer ran on both backends, not just printed SKIP. */
static void assert_interrupt_checks_ran(const struct e2e_result *r)
{
	assert_ran(r, "#UD: ud2 reaches vector 6");
	assert_ran(r, "#DE: its gate's IST 1 stack holds the frame");
	assert_ran(r, "#BP: int3 traps to vector 3");
	assert_ran(r, "#PF: a read of an unmapped page");
	assert_ran(r, "LAPIC: version register reads 0x00050014");
	assert_ran(r, "LAPIC timer: one-shot fires exactly once");
	assert_ran(r, "LAPIC timer: periodic fires at its period");
	assert_ran(r, "HLT with IF set sleeps until the timer's interrupt");
	assert_ran(r, "IPI: a self-IPI (shorthand self) is taken once");
}

/* The demo itself (one vCPU): test_vmm_run.c compares its lines; here, that they all ran. */
Test(same_on_both, the_demo_runs_every_interrupt_check_on_both)
{
	struct e2e_result emu, kvm;

	run_on_both(E2E_DEMO_INI, &emu, &kvm);
	assert_interrupt_checks_ran(&emu);
	assert_interrupt_checks_ran(&kvm);
}

Test(same_on_both, two_vcpus_print_the_same_lines_on_kvm_and_emu)
{
	struct e2e_result emu, kvm;

	run_on_both(demo_with_vcpus(2), &emu, &kvm);
	assert_interrupt_checks_ran(&kvm);
	assert_ran(&kvm, "IPI: a fixed IPI wakes vCPU 1 from HLT");
	assert_ran(&kvm, "IPI: an NMI to vCPU 1 runs its NMI handler");
}
