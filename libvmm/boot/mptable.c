/* SPDX-License-Identifier: MIT */
/*
 * mptable.c - the Intel MultiProcessor Specification 1.4 tables of a Linux boot: the floating
 * pointer and the configuration table, which tell Linux its CPUs, its I/O APIC and ISA IRQs.
 */
#include <string.h>

#include "boot/bytes.h"
#include "boot/mptable.h"

/* Sizes the spec gives each structure (MP spec 1.4, chapter 4). */
#define MPF_SIZE       16 /* the floating pointer: its length field says 1 (paragraph) */
#define MPC_HDR_SIZE   44 /* the configuration table's header */
#define MPC_CPU_SIZE   20 /* a processor entry */
#define MPC_ENTRY_SIZE 8  /* bus, I/O APIC, I/O and local interrupt entries */

#define MP_SPEC_REV 4 /* 1.4 */

/* Entry types, in the order the spec wants them in the table. */
#define MP_PROCESSOR 0
#define MP_BUS	     1
#define MP_IOAPIC    2
#define MP_INTSRC    3
#define MP_LINTSRC   4

/* Interrupt types of the I/O and local interrupt entries. */
#define MP_INT	  0
#define MP_NMI	  1
#define MP_EXTINT 3

#define CPU_ENABLED    0x01
#define CPU_BSP	       0x02
#define IOAPIC_ENABLED 0x01

/* The local APIC version register both backends show (KVM's, and backend/emu_lapic.c). */
#define LAPIC_VERSION  0x14
#define IOAPIC_VERSION (VMMI_IOAPIC_VERSION & 0xff)

#define ISA_BUS	    0 /* the one bus's id */
#define ISA_IRQS    16
#define ISA_CASCADE 2 /* the slave 8259's input on a PC: no device has it */
#define ISA_TIMER   0 /* IRQ 0, the PIT, which a PC wires to I/O APIC pin 2 */
#define TIMER_PIN   2
#define ALL_LAPICS  0xff /* a local interrupt entry's destination: every local APIC */

/* ISA IRQs with an I/O interrupt entry: all but the cascade. */
#define INTSRC_ENTRIES (ISA_IRQS - 1)
/* Entries after the processors: the bus, the I/O APIC, the ISA IRQs, LINT0 and LINT1. */
#define OTHER_ENTRIES (1 + 1 + INTSRC_ENTRIES + 2)

size_t vmmi_mptable_size(const struct vmmi_mptable_spec *spec)
{
	return MPF_SIZE + MPC_HDR_SIZE + (size_t)spec->ncpus * MPC_CPU_SIZE +
	       OTHER_ENTRIES * MPC_ENTRY_SIZE;
}

static int check(const struct vmmi_mptable_spec *spec, uint64_t gpa)
{
	if (spec->ncpus < 1 || spec->ncpus > VMM_GUEST_MAX_VCPUS)
		return vmmi_error(-EINVAL, "MP table: %u vCPUs: there must be 1 to %u", spec->ncpus,
				  VMM_GUEST_MAX_VCPUS);
	if (spec->ioapic_pins < ISA_IRQS || spec->ioapic_pins > VMM_GUEST_IOAPIC_PINS)
		return vmmi_error(-EINVAL,
				  "MP table: an I/O APIC of %u pins: the ISA IRQs need %u, and "
				  "it has at most %u",
				  spec->ioapic_pins, ISA_IRQS, VMM_GUEST_IOAPIC_PINS);
	if (spec->ioapic_id < spec->ncpus || spec->ioapic_id == ALL_LAPICS)
		return vmmi_error(-EINVAL,
				  "MP table: I/O APIC id %u: ids 0 to %u are the vCPUs' local "
				  "APICs and 0xff means all of them",
				  spec->ioapic_id, spec->ncpus - 1);
	if (spec->ioapic_base == 0 || (spec->ioapic_base & VMMI_PAGE_MASK))
		return vmmi_error(-EINVAL, "MP table: I/O APIC at 0x%x: not a page above 0",
				  spec->ioapic_base);
	if (gpa % 16)
		return vmmi_error(-EINVAL, "MP table at 0x%llx: not 16-byte aligned",
				  (unsigned long long)gpa);
	if (!vmmi_range_ok(gpa, vmmi_mptable_size(spec), 1ull << 32))
		return vmmi_error(-EINVAL,
				  "MP table at 0x%llx: its %zu bytes end past 4 GiB, which the "
				  "floating pointer's 32-bit address cannot reach",
				  (unsigned long long)gpa, vmmi_mptable_size(spec));
	return 0;
}

/* A processor entry: the BSP is APIC id 0, the vCPU Linux enters. */
static uint8_t *put_cpu(uint8_t *p, const struct vmmi_mptable_spec *spec, unsigned apic_id)
{
	p = vmmi_put8(p, MP_PROCESSOR);
	p = vmmi_put8(p, (uint8_t)apic_id);
	p = vmmi_put8(p, LAPIC_VERSION);
	p = vmmi_put8(p, CPU_ENABLED | (apic_id == 0 ? CPU_BSP : 0));
	p = vmmi_put32(p, spec->cpu_signature);
	p = vmmi_put32(p, spec->cpu_features);
	return p + 8; /* reserved */
}

/* An interrupt entry (I/O or local: the same layout); flags 0: the bus's polarity and trigger. */
static uint8_t *put_irq(uint8_t *p, uint8_t type, uint8_t irq_type, uint8_t src_irq, uint8_t dst_id,
			uint8_t dst_pin)
{
	p = vmmi_put8(p, type);
	p = vmmi_put8(p, irq_type);
	p = vmmi_put16(p, 0);
	p = vmmi_put8(p, ISA_BUS);
	p = vmmi_put8(p, src_irq);
	p = vmmi_put8(p, dst_id);
	return vmmi_put8(p, dst_pin);
}

int vmmi_mptable_build(void *buf, size_t len, uint64_t gpa, const struct vmmi_mptable_spec *spec)
{
	size_t size, table_len;
	uint8_t *mpf = buf, *mpc = mpf + MPF_SIZE, *p;
	int ret;

	if (!buf || !spec)
		return vmmi_error(-EINVAL, "MP table: %s is NULL", buf ? "spec" : "buf");
	ret = check(spec, gpa);
	if (ret < 0)
		return ret;
	size = vmmi_mptable_size(spec);
	if (len < size)
		return vmmi_error(-ENOSPC, "MP table: %zu bytes for %u vCPUs, in a buffer of %zu",
				  size, spec->ncpus, len);
	table_len = size - MPF_SIZE; /* <= 65535 with at most VMM_GUEST_MAX_VCPUS */
	memset(buf, 0, size);

	/* The floating pointer: where the table is; feature bytes 0 (a table, no IMCR). */
	p = vmmi_put_text(mpf, "_MP_", 4);
	p = vmmi_put32(p, (uint32_t)(gpa + MPF_SIZE));
	p = vmmi_put8(p, MPF_SIZE / 16);
	vmmi_put8(p, MP_SPEC_REV);
	mpf[10] = vmmi_checksum(mpf, MPF_SIZE);

	/* The configuration table's header; no OEM table, no extended entries. */
	p = vmmi_put_text(mpc, "PCMP", 4);
	p = vmmi_put16(p, (uint16_t)table_len);
	p = vmmi_put8(p, MP_SPEC_REV);
	p = vmmi_put8(p, 0); /* checksum, below */
	p = vmmi_put_text(p, "LIBVMM  ", 8);
	p = vmmi_put_text(p, "LIBVMM PC   ", 12);
	p = vmmi_put32(p, 0); /* OEM table pointer */
	p = vmmi_put16(p, 0); /* OEM table size */
	p = vmmi_put16(p, (uint16_t)(spec->ncpus + OTHER_ENTRIES));
	p = vmmi_put32(p, (uint32_t)VMM_GUEST_LAPIC_BASE);
	p += 4; /* extended table length and checksum, reserved */

	for (unsigned i = 0; i < spec->ncpus; i++)
		p = put_cpu(p, spec, i);

	p = vmmi_put8(p, MP_BUS);
	p = vmmi_put8(p, ISA_BUS);
	p = vmmi_put_text(p, "ISA   ", 6);

	p = vmmi_put8(p, MP_IOAPIC);
	p = vmmi_put8(p, spec->ioapic_id);
	p = vmmi_put8(p, IOAPIC_VERSION);
	p = vmmi_put8(p, IOAPIC_ENABLED);
	p = vmmi_put32(p, spec->ioapic_base);

	/* ISA IRQ n on pin n, as on a PC: but the timer on pin 2, and the cascade on none. */
	for (unsigned irq = 0; irq < ISA_IRQS; irq++)
		if (irq != ISA_CASCADE)
			p = put_irq(p, MP_INTSRC, MP_INT, (uint8_t)irq, spec->ioapic_id,
				    (uint8_t)(irq == ISA_TIMER ? TIMER_PIN : irq));

	/* Every local APIC: LINT0 takes the 8259's ExtINT (virtual wire), LINT1 the NMI. */
	p = put_irq(p, MP_LINTSRC, MP_EXTINT, 0, ALL_LAPICS, 0);
	put_irq(p, MP_LINTSRC, MP_NMI, 0, ALL_LAPICS, 1);

	mpc[7] = vmmi_checksum(mpc, table_len);
	return 0;
}
