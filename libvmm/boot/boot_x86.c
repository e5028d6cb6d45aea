/* SPDX-License-Identifier: MIT */
/*
 * boot_x86.c - the x86-64 boot state of guest.h: page
 * tables, GDT, TSS, boot info, stacks, registers.
 */
#include <string.h>

#include "boot/x86.h"
#include "vmm_internal.h"

#define GIB (1ull << 30)

/* Offsets inside the GDT page. */
#define GDT_BYTES  0x28 /* null, code, data, 16-byte TSS descriptor */
#define TSS_OFFSET 0x80
#define TSS_LIMIT  0x67

struct layout {
	uint64_t base, size;
	uint64_t gdt, pml4, pdpt, pd, info, stacks;
	uint64_t identity_limit;
	unsigned npd, nvcpus;
};

_Static_assert(VMM_GUEST_MAX_RAM <= 32, "ram_readonly has a bit per RAM range");

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/* The identity map covers every slot and MMIO window (layout.c says how far): whole GiBs. */
static int identity_limit(const struct vmm_vm *vm, uint64_t *limit)
{
	uint64_t top;
	int ret = vmmi_layout_identity_top(&vm->slots, &vm->bus[0], &top);

	if (ret < 0)
		return ret;
	*limit = round_up(top, GIB);
	return 0;
}

static int plan(const struct vmm_vm *vm, struct layout *l)
{
	const struct vmmi_slot *low;
	uint64_t pages;
	int ret;

	memset(l, 0, sizeof(*l));
	if (!vm->slots.n)
		return vmmi_error(-EINVAL, "boot setup: the VM has no RAM");
	l->nvcpus = vm->nvcpus;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (!vm->vcpus[i])
			return vmmi_error(
			    -EINVAL,
			    "boot setup: vCPUs must be numbered 0..%u without gaps; %u is missing",
			    vm->nvcpus - 1, i);
	if (!vm->nvcpus)
		return vmmi_error(-EINVAL, "boot setup: the VM has no vCPUs");
	ret = identity_limit(vm, &l->identity_limit);
	if (ret < 0)
		return ret;
	l->npd = l->identity_limit / GIB;
	pages = 3 + l->npd + (uint64_t)l->nvcpus * VMM_GUEST_BOOT_INFO_PAGES;
	l->size = pages * VMMI_PAGE_SIZE + (uint64_t)l->nvcpus * VMM_GUEST_STACK_SIZE;

	/* The CPU writes the GDT and the stacks: never a read-only slot. */
	low = NULL;
	for (size_t i = 0; i < vm->slots.n && !low; i++)
		if (!(vm->slots.slots[i].flags & VMM_MEMSLOT_READONLY))
			low = &vm->slots.slots[i];
	if (!low)
		return vmmi_error(
		    -ENOSPC, "boot setup: every memslot is read-only: the boot area needs RAM");
	if (low->size < l->size)
		return vmmi_error(-ENOSPC,
				  "boot setup: the lowest writable memslot '%s' (0x%llx bytes) "
				  "cannot hold the 0x%llx-byte boot area",
				  low->name, (unsigned long long)low->size,
				  (unsigned long long)l->size);
	l->base = low->gpa + low->size - l->size;
	l->gdt = l->base;
	l->pml4 = l->gdt + VMMI_PAGE_SIZE;
	l->pdpt = l->pml4 + VMMI_PAGE_SIZE;
	l->pd = l->pdpt + VMMI_PAGE_SIZE;
	l->info = l->pd + (uint64_t)l->npd * VMMI_PAGE_SIZE;
	l->stacks = l->info + (uint64_t)l->nvcpus * VMM_GUEST_BOOT_INFO_PAGES * VMMI_PAGE_SIZE;

	for (size_t i = 0; i < vm->nloaded; i++) {
		const struct vmmi_loaded *ld = &vm->loaded[i];

		if (ld->gpa < l->base + l->size && l->base < ld->gpa + ld->size)
			return vmmi_error(
			    -EEXIST,
			    "boot setup: firmware segment [0x%llx, 0x%llx) overlaps the boot area "
			    "[0x%llx, 0x%llx) at the top of memslot '%s'",
			    (unsigned long long)ld->gpa, (unsigned long long)(ld->gpa + ld->size),
			    (unsigned long long)l->base, (unsigned long long)(l->base + l->size),
			    low->name);
	}
	return 0;
}

static void *at(struct vmm_vm *vm, uint64_t gpa, uint64_t len)
{
	void *p = NULL;

	/* plan() placed everything inside the lowest writable slot, so this cannot fail. */
	vmmi_slots_translate(&vm->slots, gpa, len, &p);
	return p;
}

static void write_tables(struct vmm_vm *vm, const struct layout *l)
{
	uint64_t *gdt = at(vm, l->gdt, VMMI_PAGE_SIZE);
	uint64_t *pml4 = at(vm, l->pml4, VMMI_PAGE_SIZE);
	uint64_t *pdpt = at(vm, l->pdpt, VMMI_PAGE_SIZE);
	uint64_t *pd = at(vm, l->pd, (uint64_t)l->npd * VMMI_PAGE_SIZE);
	uint64_t tss = l->gdt + TSS_OFFSET;

	memset(gdt, 0, VMMI_PAGE_SIZE);
	gdt[VMM_GUEST_SEL_CODE / 8] = 0x00af9b000000ffffull; /* 64-bit code, DPL 0 */
	gdt[VMM_GUEST_SEL_DATA / 8] = 0x00cf93000000ffffull; /* flat data, DPL 0 */
	/* Available 64-bit TSS (type 9); a CPU marks it busy (11) on LTR. */
	gdt[VMM_GUEST_SEL_TSS / 8] =
	    TSS_LIMIT | ((tss & 0xffffff) << 16) | (0x89ull << 40) | (((tss >> 24) & 0xff) << 56);
	gdt[VMM_GUEST_SEL_TSS / 8 + 1] = tss >> 32;
	/* The TSS itself: zero but for the I/O map base, which points past its limit (no bitmap).
	 */
	*(uint16_t *)((uint8_t *)gdt + TSS_OFFSET + 0x66) = TSS_LIMIT + 1;

	memset(pml4, 0, VMMI_PAGE_SIZE);
	memset(pdpt, 0, VMMI_PAGE_SIZE);
	pml4[0] = l->pdpt | PTE_P | PTE_RW;
	for (unsigned g = 0; g < l->npd; g++) {
		pdpt[g] = (l->pd + (uint64_t)g * VMMI_PAGE_SIZE) | PTE_P | PTE_RW;
		for (unsigned j = 0; j < 512; j++)
			pd[(uint64_t)g * 512 + j] =
			    ((uint64_t)g * GIB + ((uint64_t)j << 21)) | PTE_P | PTE_RW | PTE_PS;
	}
}

static void write_boot_info(struct vmm_vm *vm, const struct layout *l, unsigned index)
{
	struct vmm_guest_boot_info *bi =
	    at(vm, l->info + (uint64_t)index * VMM_GUEST_BOOT_INFO_PAGES * VMMI_PAGE_SIZE,
	       sizeof(*bi));
	unsigned nd = 0;

	memset(bi, 0, sizeof(*bi));
	bi->magic = VMM_GUEST_BOOT_MAGIC;
	bi->abi_version = VMM_GUEST_ABI_VERSION;
	bi->size = sizeof(*bi);
	bi->vcpu_index = index;
	bi->vcpu_count = l->nvcpus;
	bi->boot_area_gpa = l->base;
	bi->boot_area_size = l->size;
	bi->identity_limit = l->identity_limit;
	bi->apic_id = index;
	bi->lapic_base = VMM_GUEST_LAPIC_BASE;
	bi->ioapic_base = VMM_GUEST_IOAPIC_BASE;
	bi->lapic_timer_hz = VMM_GUEST_LAPIC_TIMER_HZ;
	bi->ioapic_pins = VMM_GUEST_IOAPIC_PINS;
	for (size_t i = 0; i < vm->slots.n && i < VMM_GUEST_MAX_RAM; i++) {
		bi->ram[i].gpa = vm->slots.slots[i].gpa;
		bi->ram[i].size = vm->slots.slots[i].size;
		if (vm->slots.slots[i].flags & VMM_MEMSLOT_READONLY)
			bi->ram_readonly |= 1u << i;
		bi->ram_count++;
	}
	for (unsigned sp = 0; sp < 2; sp++) {
		for (size_t i = 0; i < vm->bus[sp].n && nd < VMM_GUEST_MAX_DEVICES; i++) {
			const struct vmmi_window *w = &vm->bus[sp].w[i];
			struct vmm_guest_device *d = &bi->devices[nd];

			if (w->dev->builtin)
				continue; /* the I/O APIC: boot info has its own field */
			nd++;

			strncpy(d->name, w->dev->name, sizeof(d->name) - 1);
			strncpy(d->plugin, w->dev->desc->name, sizeof(d->plugin) - 1);
			d->kind = sp ? VMM_GUEST_DEV_PIO : VMM_GUEST_DEV_MMIO;
			d->base = w->base;
			d->size = w->length;
			d->irq = w->dev->nirqs ? w->dev->irqs[0] : VMM_GUEST_IRQ_NONE;
		}
	}
	bi->device_count = nd;
}

struct vmm_segment vmmi_flat_segment(uint16_t selector, uint8_t type, bool code)
{
	return (struct vmm_segment){
	    .base = 0,
	    .limit = 0xffffffff,
	    .selector = selector,
	    .type = type,
	    .present = 1,
	    .s = 1,
	    .l = code,
	    .db = !code,
	    .g = 1,
	};
}

int vmm_boot_setup(struct vmm_vm *vm, uint64_t entry)
{
	struct layout l;
	int ret;

	if (!vm)
		return vmmi_error(-EINVAL, "vmm_boot_setup: vm is NULL");
	if (vmmi_vm_running(vm))
		return vmmi_error(-EBUSY, "vmm_boot_setup: the VM is running");
	if (vm->slots.n > VMM_GUEST_MAX_RAM || vm->bus[0].n + vm->bus[1].n > VMM_GUEST_MAX_DEVICES)
		return vmmi_error(
		    -E2BIG, "boot setup: boot info holds at most %u RAM ranges and %u devices",
		    VMM_GUEST_MAX_RAM, VMM_GUEST_MAX_DEVICES);
	ret = plan(vm, &l);
	if (ret < 0)
		return ret;
	write_tables(vm, &l);

	for (unsigned i = 0; i < l.nvcpus; i++) {
		struct vmm_vcpu *vcpu = vm->vcpus[i];
		struct vmm_sregs sr;
		struct vmm_regs r;

		write_boot_info(vm, &l, i);
		memset(&sr, 0, sizeof(sr));
		sr.cs = vmmi_flat_segment(VMM_GUEST_SEL_CODE, 0xb, true);
		sr.ds = sr.es = sr.fs = sr.gs = sr.ss =
		    vmmi_flat_segment(VMM_GUEST_SEL_DATA, 0x3, false);
		sr.tr = (struct vmm_segment){
		    .base = l.gdt + TSS_OFFSET,
		    .limit = TSS_LIMIT,
		    .selector = VMM_GUEST_SEL_TSS,
		    .type = 0xb, /* busy 64-bit TSS, as entry checks demand */
		    .present = 1,
		};
		sr.ldt = (struct vmm_segment){.type = 0x2}; /* not present: unusable */
		sr.gdt = (struct vmm_dtable){.base = l.gdt, .limit = GDT_BYTES - 1};
		sr.idt = (struct vmm_dtable){.base = 0, .limit = 0};
		sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
		sr.cr3 = l.pml4;
		sr.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
		sr.efer = EFER_LME | EFER_LMA;
		ret = vm->ops->set_sregs(vcpu, &sr);
		if (ret < 0)
			return ret;

		memset(&r, 0, sizeof(r));
		r.rip = entry;
		r.rsp = l.stacks + (uint64_t)(i + 1) * VMM_GUEST_STACK_SIZE;
		r.rdi = l.info + (uint64_t)i * VMM_GUEST_BOOT_INFO_PAGES * VMMI_PAGE_SIZE;
		r.rflags = 0x2;
		ret = vm->ops->set_regs(vcpu, &r);
		if (ret < 0)
			return ret;
	}
	vm->booted = true;
	vm->boot_entry = entry;
	vmmi_log(vm, VMM_LOG_INFO,
		 "boot area [0x%llx, 0x%llx), identity map [0, 0x%llx), entry 0x%llx",
		 (unsigned long long)l.base, (unsigned long long)(l.base + l.size),
		 (unsigned long long)l.identity_limit, (unsigned long long)entry);
	return 0;
}
