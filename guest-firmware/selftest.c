/* SPDX-License-Identifier: MIT */
/* selftest.c - vmm_guest_main: print the banner, run every check, exit with the result. */
#include "fw.h"
#include "testdev.h"

static unsigned checks_run, checks_failed;

/*
 * One TAP-like line per check: "ok N - what" or
 * "not ok N - what (got 0x.., want 0x..)". Returns ok, so callers can skip
 * follow-up checks that would only repeat the failure.
 */
static int vreport(int ok, uint64_t got, uint64_t want, const char *fmt, va_list ap)
{
	checks_run++;
	if (!ok)
		checks_failed++;
	vmm_guest_printf("%sok %u - ", ok ? "" : "not ", checks_run);
	vmm_guest_vprintf(fmt, ap);
	if (!ok)
		vmm_guest_printf(" (got 0x%llx, want 0x%llx)", (unsigned long long)got,
				 (unsigned long long)want);
	vmm_guest_printf("\n");
	return ok;
}

int report(int ok, uint64_t got, uint64_t want, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ok = vreport(ok, got, want, fmt, ap);
	va_end(ap);
	return ok;
}

int check(uint64_t got, uint64_t want, const char *fmt, ...)
{
	va_list ap;
	int ok;

	va_start(ap, fmt);
	ok = vreport(got == want, got, want, fmt, ap);
	va_end(ap);
	return ok;
}

/* Many expectations, one line: the first that fails names itself on a "# " line first. */
int expect_all(const struct expect *e, size_t n, const char *line)
{
	size_t i = 0;

	while (i < n && e[i].got == e[i].want)
		i++;
	if (i == n)
		return report(1, 0, 0, "%s", line);
	vmm_guest_printf("# %s\n", e[i].what);
	return report(0, e[i].got, e[i].want, "%s", line);
}

/* A check the configuration makes impossible: TAP's SKIP, counted as passed. */
void skip(const char *why, const char *fmt, ...)
{
	va_list ap;

	checks_run++;
	vmm_guest_printf("ok %u - ", checks_run);
	va_start(ap, fmt);
	vmm_guest_vprintf(fmt, ap);
	va_end(ap);
	vmm_guest_printf(" # SKIP %s\n", why);
}

int vmm_guest_main(const struct vmm_guest_boot_info *bi)
{
	const struct vmm_guest_device *td;

	/* Without a valid block there is no way to find a UART or the testdev. */
	if (!vmm_guest_boot_info_valid(bi))
		vmm_guest_halt();
	/* vCPU 0 does all the talking; vCPU 1 answers IPIs, the others park. */
	if (bi->vcpu_index != 0)
		secondary_main(bi);

	/*
	 * Only vCPU 0 gets here, and only once, so clearing .bss cannot race a
	 * sibling (vCPU 1 waits for secondary_release()). The loader should
	 * have zeroed it already; doing it again costs nothing and makes the
	 * firmware independent of that.
	 */
	memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));

	vmm_guest_console_init(bi);
	vmm_guest_printf("libvmm selftest firmware (guest ABI %u), vcpu %u of %u\n",
			 (unsigned)bi->abi_version, (unsigned)bi->vcpu_index,
			 (unsigned)bi->vcpu_count);
	bootinfo_print(bi);

	/* Errors say "selftest error:": tests take "selftest: " for the summary. */
	td = vmm_guest_find_device(bi, "testdev");
	if (!td) {
		vmm_guest_printf("selftest error: no testdev device, cannot run\n");
		vmm_guest_halt();
	}
	if (td->kind != VMM_GUEST_DEV_MMIO || td->size < TESTDEV_WINDOW_MIN ||
	    td->base > bi->identity_limit || bi->identity_limit - td->base < td->size) {
		vmm_guest_printf(
		    "selftest error: testdev needs an MMIO window of 0x%x bytes or more\n",
		    TESTDEV_WINDOW_MIN);
		vmm_guest_halt();
	}

	/* Only now: a VM that cannot run ends with every vCPU halted, as before vCPU 1 had work. */
	secondary_release();
	boot_checks(bi, vmm_guest_entry_rsp(bi));
	testdev_checks(bi, td->base);
	fw_clock_init(td->base);
	exception_checks(bi);
	lapic_checks(bi);
	ipi_checks(bi);

	/* After any LAPIC check that wants its boot state: these software-enable it. */
	ioapic_checks(bi, td->base);
	testdev_irq_checks(bi, td->base);

	/* After the LAPIC checks: it leaves the LAPIC enabled and the UART's pin routed, masked. */
	uart_irq_checks(bi);

	vmm_guest_printf("1..%u\n", checks_run);
	vmm_guest_printf("selftest: %u passed, %u failed\n", checks_run - checks_failed,
			 checks_failed);

	/* The kit's _start hands this to vmm_guest_exit(): the testdev's EXIT register. */
	return checks_failed ? 1 : 0;
}
