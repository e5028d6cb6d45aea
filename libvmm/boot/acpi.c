/* SPDX-License-Identifier: MIT */
/*
 * acpi.c - the minimal ACPI tables of a Linux boot: what a kernel built without MP table support
 * needs to find its vCPUs, its I/O APIC and its serial ports, on a machine without legacy PC parts.
 */
#include <string.h>

#include "boot/bytes.h"
#include "boot/acpi.h"

/*
 * Layout in buf, each part 16-byte aligned: RSDP, XSDT, FADT, DSDT, MADT.
 * Sizes are the ACPI 6.3 specification's (chapter 5.2).
 */
#define RSDP_SIZE	    36
#define HDR_SIZE	    36		       /* every table's header */
#define XSDT_SIZE	    (HDR_SIZE + 2 * 8) /* the FADT and the MADT */
#define FADT_SIZE	    276
#define MADT_HDR_SIZE	    (HDR_SIZE + 8) /* + local APIC address and flags */
#define MADT_LAPIC_SIZE	    8
#define MADT_IOAPIC_SIZE    12
#define MADT_OVERRIDE_SIZE  10
#define MADT_LAPIC_NMI_SIZE 6

#define RSDP_OFF 0
#define XSDT_OFF align16(RSDP_OFF + RSDP_SIZE)
#define FADT_OFF align16(XSDT_OFF + XSDT_SIZE)
#define DSDT_OFF align16(FADT_OFF + FADT_SIZE)

#define RSDP_CHECKSUM_LEN 20 /* the ACPI 1.0 part the first checksum covers */

#define XSDT_REVISION 1
#define FADT_REVISION 6
#define FADT_MINOR    3 /* ACPI 6.3 */
#define DSDT_REVISION 2 /* 64-bit AML integers */
#define MADT_REVISION 5 /* ACPI 6.3 */

/* FADT fields this file sets (offsets in the table). */
#define FADT_DSDT	    40
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS	    112
#define FADT_MINOR_VERSION  131
#define FADT_X_DSDT	    140

/*
 * IAPC_BOOT_ARCH (ACPI 6.3 table 5-35; Linux's ACPI_FADT_*): bit 0 (legacy
 * devices) and bit 1 (an 8042) stay clear, so Linux probes neither; bit 3
 * (MSI not supported) stays clear.
 */
#define IAPC_NO_VGA	 (1u << 2)
#define IAPC_NO_CMOS_RTC (1u << 5)
/* FADT flags (table 5-34): no SCI, no PM timer, no PM1 or GPE blocks, no FACS needed. */
#define FADT_HW_REDUCED_ACPI (1u << 20)

/* MADT structure types (table 5-45). */
#define MADT_LAPIC     0
#define MADT_IOAPIC    1
#define MADT_OVERRIDE  2
#define MADT_LAPIC_NMI 4

#define LAPIC_ENABLED  1u
#define ALL_PROCESSORS 0xff /* a Local APIC NMI structure's processor uid: every one */
#define NMI_LINT       1    /* the NMI arrives on LINT1, as on a PC */
#define ISA_BUS	       0
#define ISA_TIMER      0 /* IRQ 0, the PIT's, which a PC wires to GSI 2 */
#define TIMER_GSI      2
#define ISA_CASCADE    2

/* AML (chapter 20): the opcodes the DSDT's serial port devices use. */
#define AML_NAME      0x08
#define AML_BYTE      0x0a
#define AML_DWORD     0x0c
#define AML_BUFFER    0x11
#define AML_EXT	      0x5b
#define AML_DEVICE    0x82 /* after AML_EXT */
#define AML_ROOT      0x5c /* '\' */
#define AML_DUAL_NAME 0x2e
#define EISA_PNP0501  0x0105d041u /* EisaId("PNP0501"), a 16550A-compatible port */
#define UART_PORTS    8
/* _CRS's resource template (chapter 6.4): IO (Decode16), IRQNoFlags, End Tag. */
#define RES_IO		0x47
#define RES_IO_DECODE16 0x01
#define RES_IRQ_NOFLAGS 0x22
#define RES_END		0x79
#define CRS_SIZE	(8 + 3 + 2)
/*
 * A device's bytes: DeviceOp (2), PkgLength (1), \_SB_.COMn (10), Name(_HID)
 * (10), Name(_UID) (7), Name(_CRS) with its buffer (9 + CRS_SIZE).
 */
#define DEVICE_BODY (10 + 10 + 7 + 9 + CRS_SIZE)
#define DEVICE_SIZE (2 + 1 + DEVICE_BODY)

static size_t align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

static unsigned nuarts(const struct vmmi_acpi_spec *spec)
{
	return spec->nuarts < VMMI_ACPI_MAX_UARTS ? spec->nuarts : VMMI_ACPI_MAX_UARTS;
}

static size_t dsdt_size(const struct vmmi_acpi_spec *spec)
{
	return HDR_SIZE + (size_t)nuarts(spec) * DEVICE_SIZE;
}

static size_t madt_off(const struct vmmi_acpi_spec *spec)
{
	return align16(DSDT_OFF + dsdt_size(spec));
}

static size_t madt_size(const struct vmmi_acpi_spec *spec)
{
	return MADT_HDR_SIZE + (size_t)spec->ncpus * MADT_LAPIC_SIZE + MADT_IOAPIC_SIZE +
	       MADT_OVERRIDE_SIZE + MADT_LAPIC_NMI_SIZE;
}

size_t vmmi_acpi_size(const struct vmmi_acpi_spec *spec)
{
	return madt_off(spec) + madt_size(spec);
}

static int check_base(uint32_t base, const char *what)
{
	if (base == 0 || (base & VMMI_PAGE_MASK))
		return vmmi_error(-EINVAL, "ACPI: %s at 0x%x: not a page above 0", what, base);
	return 0;
}

static int check_uarts(const struct vmmi_acpi_spec *spec)
{
	if (spec->nuarts > VMMI_ACPI_MAX_UARTS)
		return vmmi_error(-EINVAL, "ACPI: %u serial ports: there can be at most %u",
				  spec->nuarts, VMMI_ACPI_MAX_UARTS);
	for (unsigned i = 0; i < spec->nuarts; i++) {
		const struct vmmi_acpi_uart *u = &spec->uarts[i];

		if (u->port == 0 || u->port > 0x10000 - UART_PORTS)
			return vmmi_error(-EINVAL,
					  "ACPI: serial port %u at port 0x%x: its %u ports must "
					  "lie in (0, 0x10000)",
					  i, u->port, UART_PORTS);
		if (u->irq == ISA_TIMER || u->irq == ISA_CASCADE || u->irq >= 16)
			return vmmi_error(-EINVAL,
					  "ACPI: serial port %u on IRQ %u: an ISA IRQ from 1 to "
					  "15 but 2 (IRQ 0 is the timer's, 2 the cascade's)",
					  i, u->irq);
	}
	return 0;
}

static int check(const struct vmmi_acpi_spec *spec, uint64_t gpa)
{
	int ret;

	if (spec->ncpus < 1 || spec->ncpus > VMM_GUEST_MAX_VCPUS)
		return vmmi_error(-EINVAL, "ACPI: %u vCPUs: there must be 1 to %u", spec->ncpus,
				  VMM_GUEST_MAX_VCPUS);
	if (spec->ioapic_id < spec->ncpus || spec->ioapic_id == ALL_PROCESSORS)
		return vmmi_error(-EINVAL,
				  "ACPI: I/O APIC id %u: ids 0 to %u are the vCPUs' local "
				  "APICs and 0xff means all of them",
				  spec->ioapic_id, spec->ncpus - 1);
	ret = check_base(spec->ioapic_base, "I/O APIC");
	if (ret < 0)
		return ret;
	ret = check_base(spec->lapic_base, "local APIC");
	if (ret < 0)
		return ret;
	ret = check_uarts(spec);
	if (ret < 0)
		return ret;
	if (gpa % 16)
		return vmmi_error(-EINVAL, "ACPI tables at 0x%llx: not 16-byte aligned",
				  (unsigned long long)gpa);
	if (!vmmi_range_ok(gpa, vmmi_acpi_size(spec), 1ull << 32))
		return vmmi_error(-EINVAL,
				  "ACPI tables at 0x%llx: their %zu bytes end past 4 GiB, which "
				  "the FADT's 32-bit DSDT address cannot reach",
				  (unsigned long long)gpa, vmmi_acpi_size(spec));
	return 0;
}

/* A table's header, checksum 0 until the table is complete (see finish()). */
static uint8_t *put_header(uint8_t *p, const char *sig, size_t len, uint8_t revision)
{
	p = vmmi_put_text(p, sig, 4);
	p = vmmi_put32(p, (uint32_t)len);
	p = vmmi_put8(p, revision);
	p = vmmi_put8(p, 0);
	p = vmmi_put_text(p, "LIBVMM", 6);
	p = vmmi_put_text(p, "LIBVMMPC", 8);
	p = vmmi_put32(p, 1); /* OEM revision */
	p = vmmi_put_text(p, "LVMM", 4);
	return vmmi_put32(p, 1); /* creator revision */
}

static void finish(uint8_t *table, size_t len)
{
	table[9] = vmmi_checksum(table, len);
}

static void put_rsdp(uint8_t *p, uint64_t xsdt_gpa)
{
	uint8_t *rsdp = p;

	p = vmmi_put_text(p, "RSD PTR ", 8);
	p = vmmi_put8(p, 0); /* checksum, below */
	p = vmmi_put_text(p, "LIBVMM", 6);
	p = vmmi_put8(p, 2);  /* revision: ACPI 2.0 or later, an XSDT */
	p = vmmi_put32(p, 0); /* no RSDT: Linux takes the XSDT of a revision 2 RSDP */
	p = vmmi_put32(p, RSDP_SIZE);
	vmmi_put64(p, xsdt_gpa);
	rsdp[8] = vmmi_checksum(rsdp, RSDP_CHECKSUM_LEN);
	rsdp[32] = vmmi_checksum(rsdp, RSDP_SIZE); /* extended checksum, after the first */
}

static void put_xsdt(uint8_t *p, uint64_t fadt_gpa, uint64_t madt_gpa)
{
	uint8_t *q = put_header(p, "XSDT", XSDT_SIZE, XSDT_REVISION);

	q = vmmi_put64(q, fadt_gpa);
	vmmi_put64(q, madt_gpa);
	finish(p, XSDT_SIZE);
}

/*
 * The FADT: all zero but the DSDT's address (both fields: the 64-bit one
 * wins, and ACPICA warns if they differ), the boot flags and the
 * hardware-reduced flag, which makes Linux skip the 8259, the PIT and the
 * SCI (acpi_generic_reduced_hw_init()).
 */
static void put_fadt(uint8_t *p, uint64_t dsdt_gpa)
{
	put_header(p, "FACP", FADT_SIZE, FADT_REVISION);
	vmmi_put32(p + FADT_DSDT, (uint32_t)dsdt_gpa);
	vmmi_put16(p + FADT_IAPC_BOOT_ARCH, IAPC_NO_VGA | IAPC_NO_CMOS_RTC);
	vmmi_put32(p + FADT_FLAGS, FADT_HW_REDUCED_ACPI);
	vmmi_put8(p + FADT_MINOR_VERSION, FADT_MINOR);
	vmmi_put64(p + FADT_X_DSDT, dsdt_gpa);
	finish(p, FADT_SIZE);
}

/*
 * Device (\_SB_.COMn) { Name (_HID, EisaId ("PNP0501")) Name (_UID, n)
 * Name (_CRS, ResourceTemplate () { IO (Decode16, port, port, 1, 8)
 * IRQNoFlags () { irq } }) }, as iasl compiles it: Linux's 8250_pnp then
 * claims the port and pnpacpi maps the IRQ (edge, active high).
 */
static uint8_t *put_uart(uint8_t *p, unsigned n, const struct vmmi_acpi_uart *u)
{
	p = vmmi_put8(p, AML_EXT);
	p = vmmi_put8(p, AML_DEVICE);
	p = vmmi_put8(p, 1 + DEVICE_BODY); /* PkgLength < 64: one byte, which counts itself */
	p = vmmi_put8(p, AML_ROOT);
	p = vmmi_put8(p, AML_DUAL_NAME);
	p = vmmi_put_text(p, "_SB_COM", 7);
	p = vmmi_put8(p, (uint8_t)('1' + n));

	p = vmmi_put8(p, AML_NAME);
	p = vmmi_put_text(p, "_HID", 4);
	p = vmmi_put8(p, AML_DWORD);
	p = vmmi_put32(p, EISA_PNP0501);

	p = vmmi_put8(p, AML_NAME);
	p = vmmi_put_text(p, "_UID", 4);
	p = vmmi_put8(p, AML_BYTE);
	p = vmmi_put8(p, (uint8_t)(n + 1));

	p = vmmi_put8(p, AML_NAME);
	p = vmmi_put_text(p, "_CRS", 4);
	p = vmmi_put8(p, AML_BUFFER);
	p = vmmi_put8(p, 1 + 2 + CRS_SIZE); /* PkgLength: itself, the size's ByteConst, the bytes */
	p = vmmi_put8(p, AML_BYTE);
	p = vmmi_put8(p, CRS_SIZE);
	p = vmmi_put8(p, RES_IO);
	p = vmmi_put8(p, RES_IO_DECODE16);
	p = vmmi_put16(p, u->port); /* minimum */
	p = vmmi_put16(p, u->port); /* maximum */
	p = vmmi_put8(p, 1);	    /* alignment */
	p = vmmi_put8(p, UART_PORTS);
	p = vmmi_put8(p, RES_IRQ_NOFLAGS);
	p = vmmi_put16(p, (uint16_t)(1u << u->irq));
	p = vmmi_put8(p, RES_END);
	return vmmi_put8(p, 0); /* the end tag's checksum: 0 means none */
}

static void put_dsdt(uint8_t *p, const struct vmmi_acpi_spec *spec)
{
	uint8_t *q = put_header(p, "DSDT", dsdt_size(spec), DSDT_REVISION);

	for (unsigned i = 0; i < nuarts(spec); i++)
		q = put_uart(q, i, &spec->uarts[i]);
	finish(p, dsdt_size(spec));
}

/*
 * The MADT: flags 0 (no 8259 to mask: PCAT_COMPAT clear), a local APIC per
 * vCPU, the I/O APIC from GSI 0, ISA IRQ 0 on GSI 2 as on a PC (and QEMU),
 * and every local APIC's LINT1 as the NMI input.
 */
static void put_madt(uint8_t *p, const struct vmmi_acpi_spec *spec)
{
	uint8_t *q = put_header(p, "APIC", madt_size(spec), MADT_REVISION);

	q = vmmi_put32(q, spec->lapic_base);
	q = vmmi_put32(q, 0);
	for (unsigned i = 0; i < spec->ncpus; i++) {
		q = vmmi_put8(q, MADT_LAPIC);
		q = vmmi_put8(q, MADT_LAPIC_SIZE);
		q = vmmi_put8(q, (uint8_t)i); /* ACPI processor uid */
		q = vmmi_put8(q, (uint8_t)i); /* APIC id */
		q = vmmi_put32(q, LAPIC_ENABLED);
	}

	q = vmmi_put8(q, MADT_IOAPIC);
	q = vmmi_put8(q, MADT_IOAPIC_SIZE);
	q = vmmi_put8(q, spec->ioapic_id);
	q = vmmi_put8(q, 0);
	q = vmmi_put32(q, spec->ioapic_base);
	q = vmmi_put32(q, 0); /* GSI base */

	q = vmmi_put8(q, MADT_OVERRIDE);
	q = vmmi_put8(q, MADT_OVERRIDE_SIZE);
	q = vmmi_put8(q, ISA_BUS);
	q = vmmi_put8(q, ISA_TIMER);
	q = vmmi_put32(q, TIMER_GSI);
	q = vmmi_put16(q, 0); /* the bus's polarity and trigger: high, edge */

	q = vmmi_put8(q, MADT_LAPIC_NMI);
	q = vmmi_put8(q, MADT_LAPIC_NMI_SIZE);
	q = vmmi_put8(q, ALL_PROCESSORS);
	q = vmmi_put16(q, 0);
	vmmi_put8(q, NMI_LINT);
	finish(p, madt_size(spec));
}

int vmmi_acpi_build(void *buf, size_t len, uint64_t gpa, const struct vmmi_acpi_spec *spec)
{
	uint8_t *b = buf;
	size_t size;
	int ret;

	if (!buf || !spec)
		return vmmi_error(-EINVAL, "ACPI: %s is NULL", buf ? "spec" : "buf");
	ret = check(spec, gpa);
	if (ret < 0)
		return ret;
	size = vmmi_acpi_size(spec);
	if (len < size)
		return vmmi_error(-ENOSPC,
				  "ACPI: %zu bytes of tables for %u vCPUs, in a buffer of %zu",
				  size, spec->ncpus, len);
	memset(buf, 0, size);
	put_rsdp(b + RSDP_OFF, gpa + XSDT_OFF);
	put_xsdt(b + XSDT_OFF, gpa + FADT_OFF, gpa + madt_off(spec));
	put_fadt(b + FADT_OFF, gpa + DSDT_OFF);
	put_dsdt(b + DSDT_OFF, spec);
	put_madt(b + madt_off(spec), spec);
	return 0;
}
