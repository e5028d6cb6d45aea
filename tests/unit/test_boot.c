/* SPDX-License-Identifier: MIT */
/*
 * test_boot.c - specification of vmm_boot_setup(): the guest.h
 * boot state, read back from guest memory and registers.
 */
#include <criterion/criterion.h>

#include "unit.h"
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "elf_builder.h"
#include "vmm/guest.h"
#include "vmm/vmm.h"

#define GIB	   (1ull << 30)
#define PAGE	   ((uint64_t)VMM_GUEST_PAGE_SIZE)
#define STACK	   ((uint64_t)VMM_GUEST_STACK_SIZE)
#define INFO_BYTES ((uint64_t)VMM_GUEST_BOOT_INFO_PAGES * PAGE)

/* The standard machine: "high" is added before "low", so "lowest" is not "first added". */
#define LOW_SIZE    0x200000ull
#define HIGH_GPA    0x40000000ull
#define HIGH_SIZE   0x400000ull /* larger than "low": the boot area must not pick the biggest */
#define ENTRY	    0x100000ull
#define UART_PORT   0x3f8ull
#define UART_PORTS  8ull
#define TESTDEV_A   0xfe000000ull
#define TESTDEV_B   0xfe001000ull
#define TESTDEV_LEN 0x1000ull

#define PTE_P	 0x1ull
#define PTE_RW	 0x2ull
#define PTE_PS	 0x80ull
#define PTE_ADDR 0x000ffffffffff000ull

#define CR0_PE	       0x1ull
#define CR0_MP	       0x2ull
#define CR0_ET	       0x10ull
#define CR0_NE	       0x20ull
#define CR0_WP	       0x10000ull
#define CR0_PG	       0x80000000ull
#define CR4_PAE	       0x20ull
#define CR4_OSFXSR     0x200ull
#define CR4_OSXMMEXCPT 0x400ull
#define EFER_LME       0x100ull
#define EFER_LMA       0x400ull

static struct vmm_vm *vm;
static struct elfb elf;

static void setup(void)
{
	struct vmm_vm_options o;

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	cr_assert_eq(vmm_vm_create(&o, &vm), 0, "%s", vmm_last_error());
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
	elfb_cleanup(&elf);
}

TestSuite(boot, .init = setup, .fini = teardown);

/* vmm_boot_setup() fails with err and vmm_last_error() says problem. */
static void expect_boot_refused(int err, const char *problem)
{
	int ret = vmm_boot_setup(vm, ENTRY);

	cr_assert_eq(ret, err, "returned %d (%s), want %d (%s): %s", ret, vmm_strerror(ret), err,
		     vmm_strerror(err), vmm_last_error());
	cr_assert(strstr(vmm_last_error(), problem), "detail does not say '%s': %s", problem,
		  vmm_last_error());
}

/* ---- building machines ---- */

static uint8_t *add_ram(const char *name, uint64_t gpa, uint64_t size)
{
	void *hva = NULL;

	OK(vmm_memslot_alloc(vm, name, gpa, size, &hva));
	return hva;
}

static void add_vcpus(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		OK(vmm_vcpu_create(vm, i, NULL));
}

static void add_plugin(const char *plugin, const char *name, uint32_t space, uint64_t base,
		       uint64_t len, const struct vmm_device_param *params, size_t nparams)
{
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = name,
	    .space = space,
	    .base = base,
	    .length = len,
	    .params = params,
	    .nparams = nparams,
	};

	OK(vmm_device_add_plugin(vm, plugin, &c, NULL));
}

static void add_testdev(const char *name, uint64_t base)
{
	add_plugin(BUILD_DIR "/plugins/testdev.so", name, VMM_SPACE_MMIO, base, TESTDEV_LEN, NULL,
		   0);
}

/* Two RAM slots, a PIO uart added before two MMIO testdevs (the higher one first), n vCPUs. */
static void standard_vm(unsigned nvcpus)
{
	static const struct vmm_device_param quiet[] = {{"output", "none", NULL, 0}};

	add_ram("high", HIGH_GPA, HIGH_SIZE);
	add_ram("low", 0, LOW_SIZE);
	add_plugin(BUILD_DIR "/plugins/uart16550.so", "com1", VMM_SPACE_PIO, UART_PORT, UART_PORTS,
		   quiet, 1);
	add_testdev("tdev-b", TESTDEV_B);
	add_testdev("tdev-a", TESTDEV_A);
	add_vcpus(nvcpus);
	OK(vmm_boot_setup(vm, ENTRY));
}

/* The size guest.h documents for the boot area. */
static uint64_t area_size(uint64_t identity_limit, unsigned nvcpus)
{
	return (3 + identity_limit / GIB + (uint64_t)nvcpus * VMM_GUEST_BOOT_INFO_PAGES) * PAGE +
	       (uint64_t)nvcpus * STACK;
}

/* ---- reading the state back ---- */

static struct vmm_regs regs_of(unsigned i)
{
	struct vmm_regs r;

	OK(vmm_vcpu_get_regs(vmm_vcpu_get(vm, i), &r));
	return r;
}

static struct vmm_sregs sregs_of(unsigned i)
{
	struct vmm_sregs s;

	OK(vmm_vcpu_get_sregs(vmm_vcpu_get(vm, i), &s));
	return s;
}

/* The boot info vCPU i's RDI points at. */
static struct vmm_guest_boot_info info_of(unsigned i)
{
	struct vmm_guest_boot_info bi;

	OK(vmm_guest_read(vm, regs_of(i).rdi, &bi, sizeof(bi)));
	return bi;
}

static uint64_t read_u64(uint64_t gpa)
{
	uint64_t v;

	OK(vmm_guest_read(vm, gpa, &v, sizeof(v)));
	return v;
}

/*
 * Walk vCPU 0's 4-level page tables for va. Returns true and sets *pa if va is
 * mapped present and writable at every level.
 */
static bool translate(uint64_t va, uint64_t *pa)
{
	uint64_t table = sregs_of(0).cr3 & PTE_ADDR;
	static const unsigned shifts[] = {39, 30, 21, 12};

	for (unsigned level = 0; level < 4; level++) {
		uint64_t e = read_u64(table + ((va >> shifts[level]) & 511) * 8);
		uint64_t span = 1ull << shifts[level];

		if (!(e & PTE_P) || !(e & PTE_RW))
			return false;
		if (level == 3 || (level > 0 && (e & PTE_PS))) {
			*pa = (e & PTE_ADDR & ~(span - 1)) | (va & (span - 1));
			return true;
		}
		table = e & PTE_ADDR;
	}
	return false;
}

static void expect_identity(uint64_t va)
{
	uint64_t pa = 0;

	cr_assert(translate(va, &pa), "0x%llx is not mapped writable", (unsigned long long)va);
	cr_assert_eq(pa, va, "0x%llx maps to 0x%llx", (unsigned long long)va,
		     (unsigned long long)pa);
}

/* ---- the boot area ---- */

Test(boot, boot_area_ends_at_the_top_of_the_lowest_slot)
{
	struct vmm_guest_boot_info bi;

	standard_vm(1);
	bi = info_of(0);
	cr_assert_eq(bi.boot_area_gpa + bi.boot_area_size, LOW_SIZE,
		     "boot area [0x%llx, +0x%llx) does not end at the top of 'low'",
		     (unsigned long long)bi.boot_area_gpa, (unsigned long long)bi.boot_area_size);
}

Test(boot, boot_area_size_is_tables_plus_info_pages_plus_stacks)
{
	standard_vm(1);
	cr_assert_eq(info_of(0).boot_area_size, area_size(4 * GIB, 1), "0x%llx",
		     (unsigned long long)info_of(0).boot_area_size);
}

Test(boot, boot_area_grows_by_info_pages_and_a_stack_per_vcpu)
{
	standard_vm(3);
	cr_assert_eq(info_of(0).boot_area_size, area_size(4 * GIB, 3), "0x%llx",
		     (unsigned long long)info_of(0).boot_area_size);
	cr_assert_eq(info_of(0).boot_area_gpa, LOW_SIZE - area_size(4 * GIB, 3));
}

Test(boot, boot_area_in_a_lowest_slot_that_does_not_start_at_zero)
{
	add_ram("high", HIGH_GPA, HIGH_SIZE);
	add_ram("low", 0x10000000, LOW_SIZE);
	add_vcpus(1);
	OK(vmm_boot_setup(vm, ENTRY));
	cr_assert_eq(info_of(0).boot_area_gpa, 0x10000000 + LOW_SIZE - area_size(4 * GIB, 1));
}

Test(boot, boot_area_skips_a_lower_read_only_slot_and_boot_info_flags_it)
{
	struct vmm_guest_boot_info bi;

	OK(vmm_memslot_alloc_flags(vm, "rom", 0, LOW_SIZE, VMM_MEMSLOT_READONLY, NULL));
	add_ram("ram", HIGH_GPA, HIGH_SIZE);
	add_vcpus(1);
	OK(vmm_boot_setup(vm, ENTRY));
	bi = info_of(0);
	cr_assert_eq(bi.boot_area_gpa, HIGH_GPA + HIGH_SIZE - area_size(4 * GIB, 1),
		     "boot area at 0x%llx, not at the top of the writable slot",
		     (unsigned long long)bi.boot_area_gpa);
	cr_assert_eq(bi.ram_count, 2);
	cr_assert_eq(bi.ram_readonly, 1u << 0, "ram_readonly 0x%x: only ram[0] is a ROM",
		     bi.ram_readonly);
}

Test(boot, read_only_slots_alone_cannot_hold_the_boot_area)
{
	OK(vmm_memslot_alloc_flags(vm, "rom", 0, LOW_SIZE, VMM_MEMSLOT_READONLY, NULL));
	add_vcpus(1);
	expect_boot_refused(-ENOSPC, "read-only");
}

Test(boot, lowest_slot_exactly_the_boot_area_size_is_enough)
{
	add_ram("low", 0, area_size(4 * GIB, 1));
	add_vcpus(1);
	OK(vmm_boot_setup(vm, ENTRY));
	cr_assert_eq(info_of(0).boot_area_gpa, 0);
}

/* ---- boot info ---- */

Test(boot, rdi_points_at_boot_info_with_magic_abi_version_and_size)
{
	struct vmm_guest_boot_info bi;

	standard_vm(1);
	bi = info_of(0);
	cr_assert_eq(bi.magic, VMM_GUEST_BOOT_MAGIC, "magic 0x%llx", (unsigned long long)bi.magic);
	cr_assert_eq(bi.abi_version, VMM_GUEST_ABI_VERSION);
	cr_assert_eq(bi.size, sizeof(struct vmm_guest_boot_info));
}

Test(boot, boot_info_follows_the_page_directories_in_the_boot_area)
{
	struct vmm_guest_boot_info bi;

	standard_vm(1);
	bi = info_of(0);
	cr_assert_eq(regs_of(0).rdi, bi.boot_area_gpa + (3 + 4) * PAGE, "rdi 0x%llx",
		     (unsigned long long)regs_of(0).rdi);
}

Test(boot, boot_info_gives_the_vcpu_index_and_count)
{
	standard_vm(1);
	cr_assert_eq(info_of(0).vcpu_index, 0);
	cr_assert_eq(info_of(0).vcpu_count, 1);
}

Test(boot, boot_info_lists_ram_sorted_by_gpa)
{
	struct vmm_guest_boot_info bi;

	standard_vm(1);
	bi = info_of(0);
	cr_assert_eq(bi.ram_count, 2);
	cr_assert_eq(bi.ram[0].gpa, 0);
	cr_assert_eq(bi.ram[0].size, LOW_SIZE);
	cr_assert_eq(bi.ram[1].gpa, HIGH_GPA);
	cr_assert_eq(bi.ram[1].size, HIGH_SIZE);
}

Test(boot, boot_info_lists_mmio_devices_by_base_then_pio_devices)
{
	struct vmm_guest_boot_info bi;
	static const struct {
		const char *name, *plugin;
		uint32_t kind;
		uint64_t base, size;
	} want[] = {
	    {"tdev-a", "testdev", VMM_GUEST_DEV_MMIO, TESTDEV_A, TESTDEV_LEN},
	    {"tdev-b", "testdev", VMM_GUEST_DEV_MMIO, TESTDEV_B, TESTDEV_LEN},
	    {"com1", "uart16550", VMM_GUEST_DEV_PIO, UART_PORT, UART_PORTS},
	};

	standard_vm(1);
	bi = info_of(0);
	cr_assert_eq(bi.device_count, 3);
	for (unsigned i = 0; i < 3; i++) {
		const struct vmm_guest_device *d = &bi.devices[i];

		cr_assert_eq(memchr(d->name, 0, sizeof(d->name)) != NULL, true,
			     "device %u: name not NUL terminated", i);
		cr_assert_str_eq(d->name, want[i].name, "device %u", i);
		cr_assert_str_eq(d->plugin, want[i].plugin, "device %u", i);
		cr_assert_eq(d->kind, want[i].kind, "device %u: kind %u", i, d->kind);
		cr_assert_eq(d->base, want[i].base, "device %u: base 0x%llx", i,
			     (unsigned long long)d->base);
		cr_assert_eq(d->size, want[i].size, "device %u: size 0x%llx", i,
			     (unsigned long long)d->size);
	}
}

Test(boot, boot_info_gives_the_boot_area_and_identity_limit)
{
	struct vmm_guest_boot_info bi;

	standard_vm(1);
	bi = info_of(0);
	cr_assert_eq(bi.boot_area_gpa, LOW_SIZE - area_size(4 * GIB, 1));
	cr_assert_eq(bi.boot_area_size, area_size(4 * GIB, 1));
	cr_assert_eq(bi.identity_limit, 4 * GIB);
}

/* ---- general registers ---- */

Test(boot, rip_is_the_entry_point)
{
	standard_vm(1);
	cr_assert_eq(regs_of(0).rip, ENTRY, "rip 0x%llx", (unsigned long long)regs_of(0).rip);
}

Test(boot, rsp_is_the_top_of_the_vcpus_stack_and_16_byte_aligned)
{
	struct vmm_guest_boot_info bi;
	uint64_t stacks;

	standard_vm(1);
	bi = info_of(0);
	/* Stacks are the last thing in the boot area, after one vCPU's info pages. */
	stacks = bi.boot_area_gpa + (3 + 4) * PAGE + INFO_BYTES;
	cr_assert_eq(regs_of(0).rsp, stacks + STACK, "rsp 0x%llx",
		     (unsigned long long)regs_of(0).rsp);
	cr_assert_eq(regs_of(0).rsp % 16, 0);
}

Test(boot, rflags_is_2_with_interrupts_off)
{
	standard_vm(1);
	cr_assert_eq(regs_of(0).rflags, 0x2, "rflags 0x%llx",
		     (unsigned long long)regs_of(0).rflags);
}

Test(boot, other_general_registers_are_zero)
{
	static const char *const names[14] = {"rax", "rbx", "rcx", "rdx", "rsi", "rbp", "r8",
					      "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
	struct vmm_regs junk, r;
	uint64_t others[14];

	add_ram("low", 0, LOW_SIZE);
	add_vcpus(1);
	memset(&junk, 0x5c, sizeof(junk));
	junk.rflags = 0x2;
	OK(vmm_vcpu_set_regs(vmm_vcpu_get(vm, 0), &junk));
	OK(vmm_boot_setup(vm, ENTRY));
	r = regs_of(0);
	memcpy(others,
	       (uint64_t[]){r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rbp, r.r8, r.r9, r.r10, r.r11,
			    r.r12, r.r13, r.r14, r.r15},
	       sizeof(others));
	for (size_t i = 0; i < 14; i++)
		cr_assert_eq(others[i], 0, "%s is 0x%llx", names[i], (unsigned long long)others[i]);
}

/* ---- system registers ---- */

Test(boot, cr0_cr4_and_efer_select_long_mode_with_paging)
{
	struct vmm_sregs s;

	standard_vm(1);
	s = sregs_of(0);
	cr_assert_eq(s.cr0, CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG, "cr0 0x%llx",
		     (unsigned long long)s.cr0);
	cr_assert_eq(s.cr4, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT, "cr4 0x%llx",
		     (unsigned long long)s.cr4);
	cr_assert_eq(s.efer, EFER_LME | EFER_LMA, "efer 0x%llx", (unsigned long long)s.efer);
}

Test(boot, cr3_is_the_pml4_page_after_the_gdt_page)
{
	standard_vm(1);
	cr_assert_eq(sregs_of(0).cr3, info_of(0).boot_area_gpa + PAGE, "cr3 0x%llx",
		     (unsigned long long)sregs_of(0).cr3);
}

Test(boot, segment_registers_hold_the_guest_h_selectors)
{
	struct vmm_sregs s;

	standard_vm(1);
	s = sregs_of(0);
	cr_assert_eq(s.cs.selector, VMM_GUEST_SEL_CODE);
	cr_assert_eq(s.ds.selector, VMM_GUEST_SEL_DATA);
	cr_assert_eq(s.es.selector, VMM_GUEST_SEL_DATA);
	cr_assert_eq(s.fs.selector, VMM_GUEST_SEL_DATA);
	cr_assert_eq(s.gs.selector, VMM_GUEST_SEL_DATA);
	cr_assert_eq(s.ss.selector, VMM_GUEST_SEL_DATA);
	cr_assert_eq(s.tr.selector, VMM_GUEST_SEL_TSS);
	cr_assert_eq(s.cs.l, 1, "cs is not 64-bit code");
}

Test(boot, gdtr_covers_null_code_data_and_tss_descriptors_in_the_first_page)
{
	struct vmm_sregs s;

	standard_vm(1);
	s = sregs_of(0);
	cr_assert_eq(s.gdt.base, info_of(0).boot_area_gpa, "gdt base 0x%llx",
		     (unsigned long long)s.gdt.base);
	/* Three 8-byte descriptors and a 16-byte TSS descriptor. */
	cr_assert_eq(s.gdt.limit, 5 * 8 - 1, "gdt limit 0x%x", s.gdt.limit);
}

Test(boot, no_idt_so_any_exception_is_fatal)
{
	standard_vm(1);
	cr_assert_eq(sregs_of(0).idt.limit, 0);
}

/* ---- the GDT in memory ---- */

/* Fields of a segment descriptor (Intel SDM vol. 3, 3.4.5). */
static unsigned desc_bits(uint64_t d, unsigned shift, unsigned width)
{
	return (unsigned)((d >> shift) & ((1u << width) - 1));
}

static uint32_t desc_limit(uint64_t d)
{
	return (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
}

static uint64_t desc_base(uint64_t d)
{
	return ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
}

#define desc_type(d) desc_bits(d, 40, 4)
#define desc_s(d)    desc_bits(d, 44, 1)
#define desc_dpl(d)  desc_bits(d, 45, 2)
#define desc_p(d)    desc_bits(d, 47, 1)
#define desc_l(d)    desc_bits(d, 53, 1)
#define desc_db(d)   desc_bits(d, 54, 1)
#define desc_g(d)    desc_bits(d, 55, 1)

Test(boot, gdt_null_descriptor_is_zero)
{
	standard_vm(1);
	cr_assert_eq(read_u64(sregs_of(0).gdt.base), 0);
}

Test(boot, gdt_code_descriptor_is_64_bit_ring_0_code)
{
	uint64_t d;

	standard_vm(1);
	d = read_u64(sregs_of(0).gdt.base + VMM_GUEST_SEL_CODE);
	cr_assert_eq(desc_p(d), 1, "0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_s(d), 1, "0x%016llx", (unsigned long long)d);
	cr_assert(desc_type(d) & 0x8, "not executable: 0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_l(d), 1, "0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_db(d), 0, "L and D both set: 0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_dpl(d), 0, "0x%016llx", (unsigned long long)d);
}

Test(boot, gdt_data_descriptor_is_flat_writable_ring_0_data)
{
	uint64_t d;

	standard_vm(1);
	d = read_u64(sregs_of(0).gdt.base + VMM_GUEST_SEL_DATA);
	cr_assert_eq(desc_p(d), 1, "0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_s(d), 1, "0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_type(d) & 0xa, 0x2, "not writable data: 0x%016llx",
		     (unsigned long long)d);
	cr_assert_eq(desc_dpl(d), 0, "0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_base(d), 0, "0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_limit(d), 0xfffff, "0x%016llx", (unsigned long long)d);
	cr_assert_eq(desc_g(d), 1, "0x%016llx", (unsigned long long)d);
}

Test(boot, gdt_tss_descriptor_points_at_the_tss_tr_names)
{
	struct vmm_sregs s;
	uint64_t lo, hi, base;

	standard_vm(1);
	s = sregs_of(0);
	lo = read_u64(s.gdt.base + VMM_GUEST_SEL_TSS);
	hi = read_u64(s.gdt.base + VMM_GUEST_SEL_TSS + 8);
	cr_assert_eq(desc_p(lo), 1, "0x%016llx", (unsigned long long)lo);
	cr_assert_eq(desc_s(lo), 0, "0x%016llx", (unsigned long long)lo);
	cr_assert_eq(desc_type(lo), 0x9, "not an available 64-bit TSS: 0x%016llx",
		     (unsigned long long)lo);
	base = desc_base(lo) | (hi << 32);
	cr_assert_eq(base, s.tr.base, "descriptor base 0x%llx, tr 0x%llx", (unsigned long long)base,
		     (unsigned long long)s.tr.base);
	cr_assert_geq(desc_limit(lo), 0x67, "limit 0x%x", desc_limit(lo));
	cr_assert_eq(s.tr.limit, desc_limit(lo));
	/* The TSS shares the GDT's page. */
	cr_assert_geq(s.tr.base, s.gdt.base + 5 * 8);
	cr_assert_leq(s.tr.base + s.tr.limit + 1, s.gdt.base + PAGE);
}

/* ---- page tables ---- */

Test(boot, page_tables_identity_map_ram_devices_and_the_last_byte_below_the_limit)
{
	struct vmm_guest_boot_info bi;

	standard_vm(1);
	bi = info_of(0);
	expect_identity(0);
	expect_identity(0x1234);
	expect_identity(ENTRY);
	expect_identity(bi.boot_area_gpa);
	expect_identity(regs_of(0).rsp - 8);
	expect_identity(HIGH_GPA + HIGH_SIZE - 1);
	expect_identity(TESTDEV_A + 0x10);
	expect_identity(bi.identity_limit - 1);
}

Test(boot, page_tables_lie_inside_the_boot_area)
{
	struct vmm_guest_boot_info bi;
	uint64_t pml4e, pdpte, top;

	standard_vm(1);
	bi = info_of(0);
	top = bi.boot_area_gpa + bi.boot_area_size;
	pml4e = read_u64(sregs_of(0).cr3);
	cr_assert_geq(pml4e & PTE_ADDR, bi.boot_area_gpa);
	cr_assert_lt(pml4e & PTE_ADDR, top);
	for (uint64_t g = 0; g < bi.identity_limit / GIB; g++) {
		pdpte = read_u64((pml4e & PTE_ADDR) + g * 8);
		cr_assert_geq(pdpte & PTE_ADDR, bi.boot_area_gpa, "PDPT entry %llu",
			      (unsigned long long)g);
		cr_assert_lt(pdpte & PTE_ADDR, top, "PDPT entry %llu", (unsigned long long)g);
	}
}

/* ---- the identity limit ---- */

Test(boot, identity_limit_is_4_gib_for_ram_below_4_gib)
{
	standard_vm(1);
	cr_assert_eq(info_of(0).identity_limit, 4 * GIB);
}

Test(boot, slot_ending_exactly_at_4_gib_keeps_the_limit_at_4_gib)
{
	add_ram("low", 0, LOW_SIZE);
	add_ram("top", 4 * GIB - PAGE, PAGE);
	add_vcpus(1);
	OK(vmm_boot_setup(vm, ENTRY));
	cr_assert_eq(info_of(0).identity_limit, 4 * GIB);
	expect_identity(4 * GIB - 1);
}

Test(boot, slot_above_4_gib_rounds_the_limit_up_to_the_next_gib)
{
	struct vmm_guest_boot_info bi;

	add_ram("low", 0, LOW_SIZE);
	add_ram("far", 8 * GIB, PAGE);
	add_vcpus(1);
	OK(vmm_boot_setup(vm, ENTRY));
	bi = info_of(0);
	cr_assert_eq(bi.identity_limit, 9 * GIB, "0x%llx", (unsigned long long)bi.identity_limit);
	cr_assert_eq(bi.boot_area_size, area_size(9 * GIB, 1));
	expect_identity(8 * GIB);
	expect_identity(9 * GIB - 1);
}

Test(boot, mmio_window_above_4_gib_rounds_the_limit_up_to_the_next_gib)
{
	struct vmm_guest_boot_info bi;

	add_ram("low", 0, LOW_SIZE);
	add_testdev("far", 5 * GIB + 0x1000);
	add_vcpus(1);
	OK(vmm_boot_setup(vm, ENTRY));
	bi = info_of(0);
	cr_assert_eq(bi.identity_limit, 6 * GIB, "0x%llx", (unsigned long long)bi.identity_limit);
	cr_assert_eq(bi.boot_area_size, area_size(6 * GIB, 1));
	expect_identity(5 * GIB + 0x1000);
	expect_identity(6 * GIB - 1);
}

Test(boot, ram_ending_exactly_at_512_gib_is_mapped_whole)
{
	add_ram("low", 0, 2 * LOW_SIZE); /* 512 page directories need more than 2 MiB */
	add_ram("edge", 512 * GIB - PAGE, PAGE);
	add_vcpus(1);
	OK(vmm_boot_setup(vm, ENTRY));
	cr_assert_eq(info_of(0).identity_limit, 512 * GIB);
	expect_identity(512 * GIB - 1);
}

/* ---- several vCPUs ---- */

Test(boot, each_vcpu_gets_its_own_boot_info_block)
{
	struct vmm_guest_boot_info b0, b1;

	standard_vm(2);
	b0 = info_of(0);
	b1 = info_of(1);
	cr_assert_eq(regs_of(1).rdi - regs_of(0).rdi, INFO_BYTES, "rdi 0x%llx and 0x%llx",
		     (unsigned long long)regs_of(0).rdi, (unsigned long long)regs_of(1).rdi);
	cr_assert_eq(b0.vcpu_index, 0);
	cr_assert_eq(b1.vcpu_index, 1);
	cr_assert_eq(b0.vcpu_count, 2);
	cr_assert_eq(b1.vcpu_count, 2);
	cr_assert_eq(b1.magic, VMM_GUEST_BOOT_MAGIC);
	cr_assert_eq(b1.device_count, b0.device_count);
	cr_assert_eq(b1.ram_count, b0.ram_count);
}

Test(boot, each_vcpu_gets_its_own_stack)
{
	struct vmm_guest_boot_info bi;
	uint64_t sp0, sp1;

	standard_vm(2);
	bi = info_of(0);
	sp0 = regs_of(0).rsp;
	sp1 = regs_of(1).rsp;
	cr_assert_eq(sp1 - sp0, STACK, "rsp 0x%llx and 0x%llx", (unsigned long long)sp0,
		     (unsigned long long)sp1);
	cr_assert_eq(sp0 % 16, 0);
	cr_assert_eq(sp1 % 16, 0);
	/* Both stacks lie above every boot info block and inside the boot area. */
	cr_assert_geq(sp0 - STACK, regs_of(1).rdi + INFO_BYTES);
	cr_assert_leq(sp1, bi.boot_area_gpa + bi.boot_area_size);
}

Test(boot, vcpus_share_page_tables_and_gdt)
{
	struct vmm_sregs s0, s1;

	standard_vm(2);
	s0 = sregs_of(0);
	s1 = sregs_of(1);
	cr_assert_eq(s1.cr3, s0.cr3);
	cr_assert_eq(s1.gdt.base, s0.gdt.base);
	cr_assert_eq(s1.tr.base, s0.tr.base);
	cr_assert_eq(regs_of(1).rip, ENTRY);
}

/* ---- refusals ---- */

Test(boot, vm_without_ram_is_einval)
{
	add_vcpus(1);
	expect_boot_refused(-EINVAL, "no RAM");
}

Test(boot, vm_without_vcpus_is_einval)
{
	add_ram("low", 0, LOW_SIZE);
	expect_boot_refused(-EINVAL, "no vCPUs");
}

Test(boot, gap_in_vcpu_numbering_is_einval)
{
	add_ram("low", 0, LOW_SIZE);
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_vcpu_create(vm, 2, NULL));
	expect_boot_refused(-EINVAL, "1 is missing");
}

Test(boot, lowest_slot_too_small_for_the_boot_area_is_enospc)
{
	add_ram("tiny", 0, area_size(4 * GIB, 1) - PAGE);
	add_ram("big", HIGH_GPA, HIGH_SIZE);
	add_vcpus(1);
	expect_boot_refused(-ENOSPC, "lowest writable memslot 'tiny'");
}

/* A one-segment ELF with its code in [gpa, gpa + len), loaded into the VM. */
static void load_elf_at(uint64_t gpa, uint64_t len)
{
	static const uint8_t code[] = {0xfa, 0xf4}; /* cli; hlt */
	uint64_t entry = 0;

	elfb_init(&elf, gpa);
	elfb_add(&elf, PT_LOAD, PF_R | PF_X, gpa, code, sizeof(code), len);
	OK(vmm_load_elf(vm, elfb_write(&elf, "fw.elf"), &entry));
	cr_assert_eq(entry, gpa);
}

Test(boot, elf_segment_overlapping_the_boot_area_is_eexist)
{
	add_ram("low", 0, LOW_SIZE);
	add_vcpus(1);
	/* The segment's last byte is the boot area's first. */
	load_elf_at(LOW_SIZE - area_size(4 * GIB, 1) - PAGE + 1, PAGE);
	expect_boot_refused(-EEXIST, "overlaps the boot area");
	cr_assert(strstr(vmm_last_error(), "'low'"), "%s", vmm_last_error());
}

Test(boot, elf_segment_ending_where_the_boot_area_begins_is_accepted)
{
	add_ram("low", 0, LOW_SIZE);
	add_vcpus(1);
	load_elf_at(LOW_SIZE - area_size(4 * GIB, 1) - PAGE, PAGE);
	OK(vmm_boot_setup(vm, ENTRY));
}

Test(boot, refused_boot_setup_writes_no_guest_memory)
{
	uint64_t top = LOW_SIZE - area_size(4 * GIB, 1);
	uint8_t *ram;

	ram = add_ram("low", 0, LOW_SIZE);
	memset(ram, 0xaa, LOW_SIZE);
	add_vcpus(1);
	load_elf_at(top, 2); /* cli; hlt at the boot area's first two bytes */
	expect_boot_refused(-EEXIST, "overlaps the boot area");
	cr_assert_eq(ram[top], 0xfa);
	cr_assert_eq(ram[top + 1], 0xf4);
	for (uint64_t i = 0; i < LOW_SIZE; i++)
		if (i != top && i != top + 1)
			cr_assert_eq(ram[i], 0xaa, "byte 0x%llx written", (unsigned long long)i);
}

Test(boot, ram_above_512_gib_is_erange)
{
	add_ram("low", 0, LOW_SIZE);
	add_ram("far", 512 * GIB, PAGE);
	add_vcpus(1);
	expect_boot_refused(-ERANGE, "512 GiB");
}

Test(boot, more_ram_slots_than_boot_info_holds_is_e2big)
{
	char name[16];

	add_ram("low", 0, LOW_SIZE);
	for (unsigned i = 1; i <= VMM_GUEST_MAX_RAM; i++) {
		snprintf(name, sizeof(name), "r%u", i);
		add_ram(name, HIGH_GPA + i * 2 * PAGE, PAGE);
	}
	add_vcpus(1);
	expect_boot_refused(-E2BIG, "at most 16 RAM ranges");
}

Test(boot, as_many_ram_slots_as_boot_info_holds_are_all_listed)
{
	struct vmm_guest_boot_info bi;
	char name[16];

	add_ram("low", 0, LOW_SIZE);
	for (unsigned i = 1; i < VMM_GUEST_MAX_RAM; i++) {
		snprintf(name, sizeof(name), "r%u", i);
		add_ram(name, HIGH_GPA + i * 2 * PAGE, PAGE);
	}
	add_vcpus(1);
	OK(vmm_boot_setup(vm, ENTRY));
	bi = info_of(0);
	cr_assert_eq(bi.ram_count, VMM_GUEST_MAX_RAM);
	cr_assert_eq(bi.ram[VMM_GUEST_MAX_RAM - 1].gpa,
		     HIGH_GPA + (VMM_GUEST_MAX_RAM - 1) * 2 * PAGE);
}

Test(boot, more_devices_than_boot_info_holds_is_e2big)
{
	char name[16];

	add_ram("low", 0, LOW_SIZE);
	for (unsigned i = 0; i <= VMM_GUEST_MAX_DEVICES; i++) {
		snprintf(name, sizeof(name), "t%u", i);
		add_testdev(name, TESTDEV_A + i * TESTDEV_LEN);
	}
	add_vcpus(1);
	expect_boot_refused(-E2BIG, "48 devices");
}
