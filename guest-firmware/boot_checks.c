/* SPDX-License-Identifier: MIT */
/* boot_checks.c - check the boot state guest.h promises: boot info, CPU mode, GDT, identity map. */
#include "fw.h"

#define CR0_PE	       (1ull << 0)
#define CR0_MP	       (1ull << 1)
#define CR0_ET	       (1ull << 4)
#define CR0_NE	       (1ull << 5)
#define CR0_WP	       (1ull << 16)
#define CR0_PG	       (1ull << 31)
#define CR4_PAE	       (1ull << 5)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_MSR       0xc0000080u
#define EFER_LME       (1ull << 8)
#define EFER_LMA       (1ull << 10)
#define RFLAGS_IF      (1ull << 9)

#define PTE_P	 (1ull << 0)
#define PTE_RW	 (1ull << 1)
#define PTE_PS	 (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull

struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
};

static uint64_t read_cr0(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static uint64_t read_cr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t read_rflags(void)
{
	uint64_t v;

	__asm__ volatile("pushfq; popq %0" : "=r"(v));
	return v;
}

/* Selectors; index 0..5 = CS, DS, ES, FS, GS, SS. */
static uint16_t read_sel(int which)
{
	uint16_t v = 0;

	switch (which) {
	case 0:
		__asm__ volatile("mov %%cs, %0" : "=r"(v));
		break;
	case 1:
		__asm__ volatile("mov %%ds, %0" : "=r"(v));
		break;
	case 2:
		__asm__ volatile("mov %%es, %0" : "=r"(v));
		break;
	case 3:
		__asm__ volatile("mov %%fs, %0" : "=r"(v));
		break;
	case 4:
		__asm__ volatile("mov %%gs, %0" : "=r"(v));
		break;
	case 5:
		__asm__ volatile("mov %%ss, %0" : "=r"(v));
		break;
	}
	return v;
}

static uint16_t read_tr(void)
{
	uint16_t v;

	__asm__ volatile("str %0" : "=r"(v));
	return v;
}

/* Does [a, a + alen) lie inside [b, b + blen)? Written so that nothing wraps. */
static int inside(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a >= b && alen <= blen && a - b <= blen - alen;
}

/* The boot info block itself: sizes, counts, sortedness, the identity limit. */
static void check_boot_info(const struct vmm_guest_boot_info *bi)
{
	uint32_t nram = vmm_guest_ram_count(bi), ndev = vmm_guest_device_count(bi);
	uint32_t bad;

	report(bi->size >= sizeof(*bi), bi->size, sizeof(*bi),
	       "boot info: size covers the ABI %u block", VMM_GUEST_ABI_VERSION);
	report(bi->vcpu_count >= 1 && bi->vcpu_count <= VMM_GUEST_MAX_VCPUS, bi->vcpu_count,
	       VMM_GUEST_MAX_VCPUS, "boot info: vcpu_count is 1..%u", VMM_GUEST_MAX_VCPUS);
	report(bi->ram_count >= 1 && bi->ram_count <= VMM_GUEST_MAX_RAM, bi->ram_count,
	       VMM_GUEST_MAX_RAM, "boot info: ram_count is 1..%u", VMM_GUEST_MAX_RAM);
	report(bi->device_count <= VMM_GUEST_MAX_DEVICES, bi->device_count, VMM_GUEST_MAX_DEVICES,
	       "boot info: device_count is at most %u", VMM_GUEST_MAX_DEVICES);
	report(bi->identity_limit % GIB == 0 && bi->identity_limit >= 4 * GIB, bi->identity_limit,
	       4 * GIB, "boot info: identity_limit is a multiple of 1 GiB, at least 4 GiB");

	/* For the table checks, "got" is the index of the first bad entry, "want" the count. */
	for (bad = 0; bad < nram; bad++) {
		const struct vmm_guest_ram *r = &bi->ram[bad];

		if (!r->size || !inside(r->gpa, r->size, 0, bi->identity_limit))
			break;
		if (bad && bi->ram[bad - 1].gpa + bi->ram[bad - 1].size > r->gpa)
			break;
	}
	check(bad, nram, "boot info: RAM ranges are non-empty, sorted, disjoint, identity mapped");

	for (bad = 0; bad < ndev; bad++) {
		const struct vmm_guest_device *d = &bi->devices[bad], *p = d - 1;

		if (strnlen(d->name, VMM_GUEST_NAME_MAX) == VMM_GUEST_NAME_MAX ||
		    strnlen(d->plugin, VMM_GUEST_NAME_MAX) == VMM_GUEST_NAME_MAX || !d->size)
			break;
		if (d->kind == VMM_GUEST_DEV_MMIO) {
			if (!inside(d->base, d->size, 0, bi->identity_limit))
				break;
		} else if (d->kind == VMM_GUEST_DEV_PIO) {
			if (!inside(d->base, d->size, 0, 0x10000))
				break;
		} else {
			break;
		}
		if (bad &&
		    (p->kind > d->kind || (p->kind == d->kind && p->base + p->size > d->base)))
			break;
	}
	check(bad, ndev,
	      "boot info: devices are named, sorted by kind then base, disjoint, addressable");

	/* ABI 2: the interrupt controllers, and each device's line. */
	check(bi->apic_id, bi->vcpu_index, "boot info: apic_id is the vCPU's index");
	check(bi->lapic_base, VMM_GUEST_LAPIC_BASE, "boot info: lapic_base is 0x%llx",
	      (unsigned long long)VMM_GUEST_LAPIC_BASE);
	check(bi->ioapic_base, VMM_GUEST_IOAPIC_BASE, "boot info: ioapic_base is 0x%llx",
	      (unsigned long long)VMM_GUEST_IOAPIC_BASE);
	check(bi->lapic_timer_hz, VMM_GUEST_LAPIC_TIMER_HZ, "boot info: lapic_timer_hz is %u",
	      VMM_GUEST_LAPIC_TIMER_HZ);
	check(bi->ioapic_pins, VMM_GUEST_IOAPIC_PINS, "boot info: ioapic_pins is %u",
	      VMM_GUEST_IOAPIC_PINS);
	for (bad = 0; bad < ndev; bad++)
		if (bi->devices[bad].irq != VMM_GUEST_IRQ_NONE &&
		    bi->devices[bad].irq >= bi->ioapic_pins)
			break;
	check(bad, ndev, "boot info: each device's irq is an I/O APIC pin or none");
}

/* Where the VMM put things: boot area, boot info, stack, and our own image. */
/* The RAM range the boot area lies in: ram[] is sorted by GPA, so the first one not read-only. */
static const struct vmm_guest_ram *lowest_writable(const struct vmm_guest_boot_info *bi)
{
	uint32_t nram = vmm_guest_ram_count(bi);

	for (uint32_t i = 0; i < nram; i++)
		if (!((bi->ram_readonly >> i) & 1))
			return &bi->ram[i];
	return NULL;
}

static void check_layout(const struct vmm_guest_boot_info *bi, uint64_t entry_rsp)
{
	uint64_t area = bi->boot_area_gpa, area_size = bi->boot_area_size;
	uint64_t image = (uintptr_t)__image_start, image_size = __image_end - __image_start;
	const struct vmm_guest_ram *w = lowest_writable(bi);
	const uint64_t w_gpa = w ? w->gpa : 0, w_size = w ? w->size : 0;

	report(w && area % VMM_GUEST_PAGE_SIZE == 0 && inside(area, area_size, w_gpa, w_size) &&
		   area + area_size == w_gpa + w_size,
	       area + area_size, w_gpa + w_size,
	       "boot area is page aligned at the top of the lowest writable RAM range");
	report(inside((uintptr_t)bi, sizeof(*bi), area, area_size), (uintptr_t)bi, area,
	       "boot info lies inside the boot area");
	report(entry_rsp > area && entry_rsp - area <= area_size, entry_rsp, area,
	       "entry RSP lies inside the boot area");
	check(entry_rsp % 16, 0, "entry RSP is 16-byte aligned");
	report(image + image_size <= area || image >= area + area_size, image + image_size, area,
	       "firmware image does not overlap the boot area");
}

/* The CPU state of guest.h: modes, selectors, descriptor tables. */
static void check_cpu(const struct vmm_guest_boot_info *bi)
{
	const uint64_t cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	const uint64_t cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	struct desc_ptr gdtr, idtr;
	uint16_t sel = VMM_GUEST_SEL_DATA;

	check(read_cr0() & cr0, cr0, "CR0 has PE, MP, ET, NE, WP and PG set");
	check(read_cr4() & cr4, cr4, "CR4 has PAE, OSFXSR and OSXMMEXCPT set");
	check(rdmsr(EFER_MSR) & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA,
	      "EFER has LME and LMA set");
	check(read_rflags() & RFLAGS_IF, 0, "interrupts are off (RFLAGS.IF clear)");
	check(read_sel(0), VMM_GUEST_SEL_CODE, "CS is the code selector");
	for (int i = 1; i < 6 && sel == VMM_GUEST_SEL_DATA; i++)
		sel = read_sel(i);
	check(sel, VMM_GUEST_SEL_DATA, "DS, ES, FS, GS and SS are the data selector");
	check(read_tr(), VMM_GUEST_SEL_TSS, "TR is the TSS selector");

	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	__asm__ volatile("sidt %0" : "=m"(idtr));
	check(gdtr.base, bi->boot_area_gpa, "GDT is at the start of the boot area");
	report(gdtr.limit >= VMM_GUEST_SEL_TSS + 15, gdtr.limit, VMM_GUEST_SEL_TSS + 15,
	       "GDT limit covers the TSS descriptor");
	check(idtr.limit, 0, "no IDT (IDTR limit 0)");
	check(read_cr3() & PTE_ADDR, bi->boot_area_gpa + VMM_GUEST_PAGE_SIZE,
	      "CR3 points at the PML4 in the boot area's second page");
}

/*
 * Walk the page tables CR3 points at and check that every 2 MiB of
 * [0, identity_limit) maps to itself, present and writable. The tables live
 * in the boot area, in RAM, so the walk reads them through the map it is
 * checking. "got" is the first GPA that is wrong.
 */
static int table_ok(const struct vmm_guest_boot_info *bi, uint64_t table)
{
	/* Only follow pointers into the boot area (checked to be RAM): a stray one would fault. */
	const struct vmm_guest_ram *w = lowest_writable(bi);

	return w && table % VMM_GUEST_PAGE_SIZE == 0 &&
	       inside(table, VMM_GUEST_PAGE_SIZE, bi->boot_area_gpa, bi->boot_area_size) &&
	       inside(bi->boot_area_gpa, bi->boot_area_size, w->gpa, w->size);
}

static void check_identity_map(const struct vmm_guest_boot_info *bi)
{
	uint64_t pml4 = read_cr3() & PTE_ADDR;
	uint64_t gpa;

	for (gpa = 0; gpa < bi->identity_limit && table_ok(bi, pml4); gpa += 2 * MIB) {
		uint64_t e = ((const uint64_t *)(uintptr_t)pml4)[(gpa >> 39) & 511];
		const uint64_t *pdpt, *pd;

		if ((e & (PTE_P | PTE_RW)) != (PTE_P | PTE_RW) || !table_ok(bi, e & PTE_ADDR))
			break;
		pdpt = (const uint64_t *)(uintptr_t)(e & PTE_ADDR);
		e = pdpt[(gpa >> 30) & 511];
		if ((e & (PTE_P | PTE_RW | PTE_PS)) != (PTE_P | PTE_RW) ||
		    !table_ok(bi, e & PTE_ADDR))
			break;
		pd = (const uint64_t *)(uintptr_t)(e & PTE_ADDR);
		e = pd[(gpa >> 21) & 511];
		if ((e & (PTE_P | PTE_RW | PTE_PS)) != (PTE_P | PTE_RW | PTE_PS) ||
		    (e & PTE_ADDR & ~(2 * MIB - 1)) != gpa)
			break;
	}
	check(gpa, bi->identity_limit,
	      "page tables map [0, identity_limit) to itself with writable 2 MiB pages");
}

void boot_checks(const struct vmm_guest_boot_info *bi, uint64_t entry_rsp)
{
	check_boot_info(bi);
	check_layout(bi, entry_rsp);
	check_cpu(bi);
	check_identity_map(bi);
}
