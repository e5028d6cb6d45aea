/* SPDX-License-Identifier: MIT */
/*
 * mptable.h - the Intel MP 1.4 tables of a Linux boot (boot/mptable.c): how many
 * CPUs, the I/O APIC and the ISA IRQs' pins, written into a buffer (pure code).
 */
#ifndef VMMI_BOOT_MPTABLE_H
#define VMMI_BOOT_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "vmm_internal.h"

/* What the tables describe. */
struct vmmi_mptable_spec {
	unsigned ncpus;		/* 1..VMM_GUEST_MAX_VCPUS; APIC ids 0..ncpus-1, 0 is the BSP */
	uint32_t cpu_signature; /* CPUID.1:EAX */
	uint32_t cpu_features;	/* CPUID.1:EDX */
	uint8_t ioapic_id;	/* at least ncpus (no local APIC's id), not 0xff */
	uint32_t ioapic_base;	/* VMM_GUEST_IOAPIC_BASE: page-aligned, not 0 */
	unsigned ioapic_pins;	/* VMM_GUEST_IOAPIC_PINS: 16 (the ISA IRQs) to 24 */
};

/*
 * Bytes vmmi_mptable_build() writes for spec (floating pointer + config
 * table): its formula alone, spec is not checked (build() does that first).
 */
size_t vmmi_mptable_size(const struct vmmi_mptable_spec *spec);

/*
 * Write the MP floating pointer structure and the MP configuration table into
 * buf[0, len), which the guest sees at gpa (16-byte aligned; the table follows
 * the pointer and ends below 4 GiB, the pointer's reach). Linux looks for the
 * pointer in the first KiB of the EBDA, the last KiB of base memory and
 * [0xf0000, 0x100000): gpa should be in one of them. Returns 0, -EINVAL for a
 * bad spec or gpa (checked first), or -ENOSPC if len is less than
 * vmmi_mptable_size(); the detail says which (vmm_last_error()). On failure
 * buf is untouched. Pure: no VM, any thread.
 */
int vmmi_mptable_build(void *buf, size_t len, uint64_t gpa,
		       const struct vmmi_mptable_spec *spec) VMMI_WARN_UNUSED;

#endif /* VMMI_BOOT_MPTABLE_H */
