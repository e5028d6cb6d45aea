/* SPDX-License-Identifier: MIT */
/*
 * guest.h - the guest boot ABI: what a vCPU finds when it starts (C99, shared by host and guest).
 */
#ifndef VMM_GUEST_H
#define VMM_GUEST_H

/*
 * This header is plain C99 with no host dependencies, so freestanding guest
 * code can include it.
 *
 * Boot state of every vCPU (x86-64), identical on the kvm and emu backends:
 *   - 64-bit long mode, paging on: CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE|OSFXSR|
 *     OSXMMEXCPT, EFER = LME|LMA. CS = VMM_GUEST_SEL_CODE (64-bit code),
 *     DS/ES/SS/FS/GS = VMM_GUEST_SEL_DATA (flat data), TR = VMM_GUEST_SEL_TSS.
 *   - RFLAGS = 0x2: interrupts off. No IDT (limit 0): until the guest loads
 *     one, any exception is fatal (a triple fault on kvm, a guest fault on
 *     emu).
 *   - CR3 points at an identity map of [0, identity_limit) built from 2 MiB
 *     pages. identity_limit is a multiple of 1 GiB, at least 4 GiB, and covers
 *     every RAM slot and every MMIO device window.
 *   - RIP = the firmware's ELF entry point; RSP = the top of this vCPU's
 *     private stack (VMM_GUEST_STACK_SIZE bytes, 16-byte aligned);
 *     RDI = the GPA of this vCPU's struct vmm_guest_boot_info. Other general
 *     registers are zero.
 *
 * The boot area (the GDT and TSS, the page tables, each vCPU's boot information and stack) lies
 * at the top of the lowest writable memslot, the writable memslot with the lowest GPA (never in
 * a read-only one, a ROM): [boot_area_gpa, boot_area_gpa + boot_area_size). The VMM refuses to boot
 * firmware whose PT_LOAD segments overlap it. Its layout inside, in this order, page aligned: one
 * page: GDT (null, code, data, 16-byte TSS descriptor) and the TSS; one page: PML4; one page: PDPT;
 * identity_limit / 1 GiB pages: PDs; per vCPU: VMM_GUEST_BOOT_INFO_PAGES pages of boot info; per
 * vCPU: VMM_GUEST_STACK_SIZE bytes of stack. The guest may reuse the boot area once it no longer
 * needs what is in it.
 *
 * Interrupt controllers (ABI version 2), identical on kvm and emu:
 *   - A local APIC per vCPU, xAPIC mode, at VMM_GUEST_LAPIC_BASE (one 4 KiB
 *     page, each vCPU sees its own). APIC ID = vcpu_index (also in
 *     boot_info.apic_id and CPUID.1:EBX[31:24]); version register
 *     0x00050014 (version 0x14, 6 LVT entries). At boot it is software
 *     disabled (SVR = 0xff), every LVT is masked, TPR = 0, except LVT LINT0
 *     of vCPU 0, which reads ExtINT (0x700) as on KVM. The timer counts at
 *     boot_info.lapic_timer_hz (1 GHz) divided by the divide configuration
 *     register; one-shot and periodic modes (no TSC-deadline: CPUID.1:ECX
 *     bit 24 and x2APIC, bit 21, are clear). ICR: fixed, NMI and INIT
 *     deliveries, physical or flat logical destinations, and the self,
 *     all and all-but-self shorthands.
 *   - One I/O APIC (82093AA) at VMM_GUEST_IOAPIC_BASE with
 *     VMM_GUEST_IOAPIC_PINS pins, ID 0, version 0x00170011. Redirection
 *     entries start masked. A device's pin is in devices[].irq; the I/O APIC
 *     itself is not in devices[].
 *   - No 8259 PIC: ports 0x20-0x21 and 0xa0-0xa1 are unclaimed (reads see
 *     all-ones, which a driver reads as a PIC with every line masked).
 *   - HLT with interrupts on waits for the next interrupt. A vCPU that
 *     halts with interrupts off has ended (the run's exit is
 *     VMM_EXIT_HLT); on kvm the VMM notices within about 50 ms.
 *   - MSIs: a write of data to address 0xfee00000 | dest << 12 (bit 2:
 *     logical), as PCI devices send them; devices send them through the
 *     host, never through guest memory.
 */

#include <stdint.h>

#define VMM_GUEST_ABI_VERSION 2u /* 2: apic_id, lapic_base ... ioapic_pins, devices[].irq */
#define VMM_GUEST_BOOT_MAGIC  0x31544f4f424d4d56ull /* "VMMBOOT1", little endian */

#define VMM_GUEST_SEL_CODE 0x08
#define VMM_GUEST_SEL_DATA 0x10
#define VMM_GUEST_SEL_TSS  0x18

#define VMM_GUEST_PAGE_SIZE	  4096u
#define VMM_GUEST_STACK_SIZE	  0x10000u
#define VMM_GUEST_BOOT_INFO_PAGES 2u
#define VMM_GUEST_MAX_RAM	  16u
#define VMM_GUEST_MAX_DEVICES	  48u
#define VMM_GUEST_MAX_VCPUS	  64u
#define VMM_GUEST_NAME_MAX	  32u /* bytes, including the terminating NUL */

#define VMM_GUEST_LAPIC_BASE	 0xfee00000ull
#define VMM_GUEST_IOAPIC_BASE	 0xfec00000ull
#define VMM_GUEST_IOAPIC_PINS	 24u
#define VMM_GUEST_LAPIC_TIMER_HZ 1000000000u
#define VMM_GUEST_IRQ_NONE	 0xffffffffu /* devices[].irq of a device with no line */

/* enum vmm_guest_device_kind: the address space of a device window. */
#define VMM_GUEST_DEV_MMIO 1u /* base/size are guest-physical addresses */
#define VMM_GUEST_DEV_PIO  2u /* base/size are x86 I/O ports */

struct vmm_guest_ram {
	uint64_t gpa;
	uint64_t size;
};

struct vmm_guest_device {
	char name[VMM_GUEST_NAME_MAX];	 /* the config's section name, NUL terminated */
	char plugin[VMM_GUEST_NAME_MAX]; /* the device model's descriptor name */
	uint32_t kind;			 /* VMM_GUEST_DEV_MMIO or VMM_GUEST_DEV_PIO */
	uint32_t irq; /* v2: its first I/O APIC pin, or VMM_GUEST_IRQ_NONE (v1: 0) */
	uint64_t base;
	uint64_t size;
};

struct vmm_guest_boot_info {
	uint64_t magic;	      /* VMM_GUEST_BOOT_MAGIC */
	uint32_t abi_version; /* VMM_GUEST_ABI_VERSION */
	uint32_t size;	      /* sizeof(struct vmm_guest_boot_info) the VMM wrote */
	uint32_t vcpu_index;  /* this vCPU, 0 .. vcpu_count - 1 */
	uint32_t vcpu_count;
	uint32_t ram_count;    /* valid entries in ram[], sorted by gpa */
	uint32_t device_count; /* valid entries in devices[], sorted by kind then base */
	uint64_t boot_area_gpa;
	uint64_t boot_area_size;
	uint64_t identity_limit; /* [0, identity_limit) is identity mapped */
	uint32_t ram_readonly; /* bit i set: ram[i] is read-only (ROM: writes leave it unchanged) */
	/* Version 2 (zero in version 1): */
	uint32_t apic_id;	 /* this vCPU's local APIC ID */
	uint64_t lapic_base;	 /* VMM_GUEST_LAPIC_BASE */
	uint64_t ioapic_base;	 /* VMM_GUEST_IOAPIC_BASE */
	uint32_t lapic_timer_hz; /* the LAPIC timer's clock before its divider */
	uint32_t ioapic_pins;	 /* VMM_GUEST_IOAPIC_PINS */
	struct vmm_guest_ram ram[VMM_GUEST_MAX_RAM];
	struct vmm_guest_device devices[VMM_GUEST_MAX_DEVICES];
};

#endif /* VMM_GUEST_H */
