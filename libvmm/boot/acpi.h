/* SPDX-License-Identifier: MIT */
/*
 * acpi.h - the minimal ACPI tables of a Linux boot (boot/acpi.c): RSDP, XSDT, a hardware-reduced
 * FADT, a DSDT naming the ISA serial ports, and the MADT's CPUs and I/O APIC (pure code).
 */
#ifndef VMMI_BOOT_ACPI_H
#define VMMI_BOOT_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "vmm_internal.h"

#define VMMI_ACPI_MAX_UARTS 4 /* COM1 to COM4 */

/* An ISA 16550 the DSDT names (a PNP0501 device), so that Linux maps its IRQ. */
struct vmmi_acpi_uart {
	uint16_t port; /* its 8 ports: not 0, below 0x10000 */
	uint8_t irq;   /* ISA IRQ 1 or 3 to 15 (0 is the timer's, 2 the cascade's) */
};

/* What the tables describe. */
struct vmmi_acpi_spec {
	unsigned ncpus;	   /* 1..VMM_GUEST_MAX_VCPUS; APIC ids and ACPI processor ids 0..ncpus-1 */
	uint8_t ioapic_id; /* at least ncpus (no local APIC's id), not 0xff */
	uint32_t ioapic_base; /* VMM_GUEST_IOAPIC_BASE: page-aligned, not 0 */
	uint32_t lapic_base;  /* VMM_GUEST_LAPIC_BASE: page-aligned, not 0 */
	/*
	 * The ISA serial ports, 0..VMMI_ACPI_MAX_UARTS. A hardware-reduced ACPI
	 * machine has no 8259, so Linux maps no ISA IRQ by default: the 8250
	 * driver gets a port's interrupt only from a device in the DSDT.
	 */
	unsigned nuarts;
	struct vmmi_acpi_uart uarts[VMMI_ACPI_MAX_UARTS];
};

/*
 * Bytes vmmi_acpi_build() writes for spec: its formula alone, spec is not
 * checked (build() does that first); nuarts is clamped to the maximum.
 */
size_t vmmi_acpi_size(const struct vmmi_acpi_spec *spec);

/*
 * Write the RSDP (revision 2, first, at gpa), the XSDT, the FADT (ACPI 6.3,
 * HW_REDUCED_ACPI: no SCI, PM timer or PM1 registers; no 8042, VGA or CMOS
 * RTC), the DSDT and the MADT into buf[0, len), which the guest sees at gpa
 * (16-byte aligned; all of it below 4 GiB, the FADT's 32-bit DSDT field's
 * reach). Linux finds the RSDP through boot_params.acpi_rsdp_addr or by
 * scanning [0xe0000, 0x100000) and the EBDA's first KiB on 16-byte
 * boundaries. Returns 0, -EINVAL for a bad buf, spec or gpa (checked first),
 * or -ENOSPC if len is less than vmmi_acpi_size(); the detail says which
 * (vmm_last_error()). On failure buf is untouched. Pure: no VM, any thread.
 */
int vmmi_acpi_build(void *buf, size_t len, uint64_t gpa,
		    const struct vmmi_acpi_spec *spec) VMMI_WARN_UNUSED;

#endif /* VMMI_BOOT_ACPI_H */
