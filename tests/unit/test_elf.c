/* SPDX-License-Identifier: MIT */
/*
 * test_elf.c - specification of vmm_load_elf(): each refusal
 * names the file and the problem and leaves RAM untouched.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "elf_builder.h"
#include "vmm/vmm.h"

#define RAM_SIZE  0x200000ull /* "low": [0, 2 MiB) */
#define HIGH_GPA  RAM_SIZE    /* "high": [2 MiB, 4 MiB), only where a test adds it */
#define HIGH_SIZE 0x200000ull
#define RAM_FILL  0xaa

#define CODE_GPA    0x100000ull
#define ENTRY	    (CODE_GPA + 4)
#define DATA_GPA    0x180000ull
#define DATA_FILESZ 0x20ull
#define DATA_MEMSZ  0x1000ull /* the rest is bss */

static const uint8_t code[16] = {
    0x90, 0x90, 0x90, 0x90, 0xfa, 0xf4, 0xeb, 0xfc, /* nops; cli; hlt; jmp back */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
};

static struct vmm_vm *vm;
static uint8_t *ram, *high;
static struct elfb elf;

static void setup(void)
{
	struct vmm_vm_options o;

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	cr_assert_eq(vmm_vm_create(&o, &vm), 0, "%s", vmm_last_error());
	cr_assert_eq(vmm_memslot_alloc(vm, "low", 0, RAM_SIZE, (void **)&ram), 0, "%s",
		     vmm_last_error());
	memset(ram, RAM_FILL, RAM_SIZE);
	high = NULL;
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
	elfb_cleanup(&elf);
}

TestSuite(elf, .init = setup, .fini = teardown);

static void add_high_slot(void)
{
	cr_assert_eq(vmm_memslot_alloc(vm, "high", HIGH_GPA, HIGH_SIZE, (void **)&high), 0, "%s",
		     vmm_last_error());
	memset(high, RAM_FILL, HIGH_SIZE);
}

/* A valid executable: code at CODE_GPA (entry inside), data plus bss at DATA_GPA. */
static void good_image(void)
{
	uint8_t data[DATA_FILESZ];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0x40 + i);
	elfb_init(&elf, ENTRY);
	elfb_add(&elf, PT_LOAD, PF_R | PF_X, CODE_GPA, code, sizeof(code), sizeof(code));
	elfb_add(&elf, PT_LOAD, PF_R | PF_W, DATA_GPA, data, DATA_FILESZ, DATA_MEMSZ);
}

/* The first byte of [p, p + len) that is not the fill pattern, or -1. */
static long first_changed(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != RAM_FILL)
			return (long)i;
	return -1;
}

static void expect_ram_untouched(void)
{
	long at = first_changed(ram, RAM_SIZE);

	cr_assert_eq(at, -1, "guest RAM was written at 0x%lx", at);
	if (high) {
		at = first_changed(high, HIGH_SIZE);
		cr_assert_eq(at, -1, "guest RAM was written at 0x%llx",
			     (unsigned long long)HIGH_GPA + (unsigned long long)at);
	}
}

/* Loading path fails with err, the detail names the file and says problem, and RAM is untouched. */
static void expect_refused(const char *path, int err, const char *problem)
{
	uint64_t entry = 0;
	int ret = vmm_load_elf(vm, path, &entry);

	cr_assert_eq(ret, err, "returned %d (%s), want %d (%s): %s", ret, vmm_strerror(ret), err,
		     vmm_strerror(err), vmm_last_error());
	cr_assert(strstr(vmm_last_error(), path), "detail does not name the file: %s",
		  vmm_last_error());
	cr_assert(strstr(vmm_last_error(), problem), "detail does not say '%s': %s", problem,
		  vmm_last_error());
	expect_ram_untouched();
}

/* ---- the file itself ---- */

Test(elf, missing_file_is_enoent)
{
	expect_refused(elfb_path(&elf, "no-such.elf"), -ENOENT, "No such file");
}

Test(elf, directory_is_not_a_regular_file)
{
	elfb_path(&elf, "x");
	expect_refused(elf.dir, -ENOEXEC, "not a regular file");
}

Test(elf, empty_file_is_not_an_elf_file)
{
	good_image();
	elf.len = 0;
	expect_refused(elfb_write(&elf, "empty.elf"), -ENOEXEC, "not an ELF file");
}

Test(elf, file_shorter_than_the_elf_header_is_not_an_elf_file)
{
	good_image();
	elf.len = sizeof(Elf64_Ehdr) - 1;
	expect_refused(elfb_write(&elf, "short.elf"), -ENOEXEC, "not an ELF file");
}

Test(elf, bad_magic_is_not_an_elf_file)
{
	good_image();
	elf.eh.e_ident[EI_MAG1] = 'X';
	expect_refused(elfb_write(&elf, "magic.elf"), -ENOEXEC, "not an ELF file");
}

/* ---- the ELF header ---- */

Test(elf, elf32_is_refused)
{
	good_image();
	elf.eh.e_ident[EI_CLASS] = ELFCLASS32;
	expect_refused(elfb_write(&elf, "elf32.elf"), -ENOEXEC, "not a 64-bit little-endian ELF");
}

Test(elf, big_endian_is_refused)
{
	good_image();
	elf.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	expect_refused(elfb_write(&elf, "be.elf"), -ENOEXEC, "not a 64-bit little-endian ELF");
}

Test(elf, aarch64_machine_is_refused)
{
	good_image();
	elf.eh.e_machine = EM_AARCH64;
	expect_refused(elfb_write(&elf, "arm.elf"), -ENOEXEC, "ELF machine 183 is not x86-64");
}

Test(elf, shared_object_et_dyn_is_refused)
{
	good_image();
	elf.eh.e_type = ET_DYN;
	expect_refused(elfb_write(&elf, "dyn.elf"), -ENOEXEC, "not an executable (ET_EXEC)");
}

/* ---- the program header table ---- */

Test(elf, zero_program_headers_are_refused)
{
	good_image();
	elf.eh.e_phnum = 0;
	expect_refused(elfb_write(&elf, "nophdr.elf"), -ENOEXEC, "no program headers");
}

Test(elf, program_header_size_other_than_elf64_phdr_is_refused)
{
	good_image();
	elf.eh.e_phentsize = sizeof(Elf64_Phdr) - 8;
	expect_refused(elfb_write(&elf, "phentsize.elf"), -ENOEXEC, "program header size");
}

Test(elf, program_headers_past_the_end_of_the_file_are_refused)
{
	good_image();
	/* The table starts inside the file but its second entry runs off the end. */
	elf.eh.e_phoff = (elf.len - sizeof(Elf64_Phdr) - 8) & ~7ull;
	expect_refused(elfb_write(&elf, "phpast.elf"), -ENOEXEC,
		       "program headers lie outside the file");
}

Test(elf, program_header_offset_wrapping_past_2_64_is_refused)
{
	good_image();
	/* phoff + 2 * 56 wraps to 0x68: inside the file for a check that overflows. */
	elf.eh.e_phoff = 0ull - 8;
	expect_refused(elfb_write(&elf, "phwrap.elf"), -ENOEXEC,
		       "program headers lie outside the file");
}

Test(elf, misaligned_program_headers_are_refused)
{
	good_image();
	elf.eh.e_phoff = sizeof(Elf64_Ehdr) + 4;
	expect_refused(elfb_write(&elf, "phalign.elf"), -ENOEXEC, "misaligned program headers");
}

/* ---- segments ---- */

Test(elf, segment_bytes_past_the_end_of_the_file_are_refused)
{
	good_image();
	elf.ph[1].p_filesz = elf.len - elf.ph[1].p_offset + 1;
	elf.ph[1].p_memsz = DATA_MEMSZ;
	expect_refused(elfb_write(&elf, "segpast.elf"), -ENOEXEC, "segment 1 has bad file offsets");
}

Test(elf, segment_file_offset_wrapping_past_2_64_is_refused)
{
	good_image();
	/* p_offset + p_filesz wraps to 0x10: inside the file for a check that overflows. */
	elf.ph[1].p_offset = 0ull - 0x10;
	elf.ph[1].p_filesz = 0x20;
	expect_refused(elfb_write(&elf, "segwrap.elf"), -ENOEXEC, "segment 1 has bad file offsets");
}

Test(elf, segment_filesz_larger_than_memsz_is_refused)
{
	good_image();
	elf.ph[1].p_memsz = DATA_FILESZ - 1;
	expect_refused(elfb_write(&elf, "filesz.elf"), -ENOEXEC, "segment 1 has bad file offsets");
}

Test(elf, segment_outside_ram_is_efault)
{
	good_image();
	elf.ph[1].p_paddr = elf.ph[1].p_vaddr = 0x10000000;
	expect_refused(elfb_write(&elf, "noram.elf"), -EFAULT,
		       "segment 1 at 0x10000000 (0x1000 bytes) is not inside one RAM slot");
}

Test(elf, segment_whose_bss_runs_past_the_end_of_ram_is_efault)
{
	good_image();
	/* The file bytes fit; the zeroed tail does not. */
	elf.ph[1].p_paddr = elf.ph[1].p_vaddr = RAM_SIZE - DATA_FILESZ;
	expect_refused(elfb_write(&elf, "bsspast.elf"), -EFAULT,
		       "segment 1 at 0x1fffe0 (0x1000 bytes) is not inside one RAM slot");
}

Test(elf, segment_spanning_two_adjacent_slots_is_efault)
{
	add_high_slot();
	good_image();
	elf.ph[1].p_paddr = elf.ph[1].p_vaddr = HIGH_GPA - DATA_MEMSZ / 2;
	expect_refused(elfb_write(&elf, "span.elf"), -EFAULT,
		       "segment 1 at 0x1ff800 (0x1000 bytes) is not inside one RAM slot");
}

Test(elf, segment_wrapping_past_2_64_is_efault)
{
	good_image();
	elf.ph[1].p_paddr = elf.ph[1].p_vaddr = 0ull - 0x800;
	expect_refused(elfb_write(&elf, "gpawrap.elf"), -EFAULT,
		       "segment 1 at 0xfffffffffffff800 (0x1000 bytes) ");
	cr_assert(strstr(vmm_last_error(), "is not inside one RAM slot"), "%s", vmm_last_error());
}

Test(elf, file_without_pt_load_is_refused)
{
	elfb_init(&elf, ENTRY);
	elfb_add(&elf, PT_NOTE, PF_R, CODE_GPA, code, sizeof(code), sizeof(code));
	elfb_add(&elf, PT_GNU_STACK, PF_R | PF_W, 0, NULL, 0, 0);
	expect_refused(elfb_write(&elf, "noload.elf"), -ENOEXEC, "no PT_LOAD segment");
}

Test(elf, pt_load_with_zero_memsz_does_not_count_as_a_segment)
{
	elfb_init(&elf, ENTRY);
	elfb_add(&elf, PT_LOAD, PF_R | PF_X, CODE_GPA, NULL, 0, 0);
	expect_refused(elfb_write(&elf, "empty-load.elf"), -ENOEXEC, "no PT_LOAD segment");
}

/* ---- the entry point ---- */

Test(elf, entry_in_a_non_executable_segment_is_refused)
{
	good_image();
	elf.eh.e_entry = DATA_GPA;
	expect_refused(elfb_write(&elf, "entry-data.elf"), -ENOEXEC,
		       "entry point 0x180000 is not in an executable segment");
}

Test(elf, entry_just_past_the_code_segment_is_refused)
{
	good_image();
	elf.eh.e_entry = CODE_GPA + sizeof(code);
	expect_refused(elfb_write(&elf, "entry-past.elf"), -ENOEXEC,
		       "entry point 0x100010 is not in an executable segment");
}

Test(elf, entry_outside_every_segment_is_refused)
{
	good_image();
	elf.eh.e_entry = 0x1000;
	expect_refused(elfb_write(&elf, "entry-none.elf"), -ENOEXEC,
		       "entry point 0x1000 is not in an executable segment");
}

/*
 * The guest starts with an identity map, so the entry is run at the physical
 * address it names: it must lie where an executable segment's bytes land
 * (p_paddr), whatever the segment's p_vaddr says.
 */
Test(elf, entry_inside_the_code_s_virtual_range_but_not_its_physical_one_is_refused)
{
	good_image();
	elf.ph[0].p_vaddr = 0xffffffff80000000ull; /* linked high, loaded at CODE_GPA */
	elf.eh.e_entry = 0xffffffff80000000ull + 2;
	expect_refused(elfb_write(&elf, "entry-vaddr.elf"), -ENOEXEC,
		       "entry point 0xffffffff80000002 is not in an executable segment");
	cr_assert(strstr(vmm_last_error(), "physical"), "detail does not say why: %s",
		  vmm_last_error());
}

Test(elf, entry_at_the_physical_load_address_of_code_linked_elsewhere_is_taken)
{
	uint64_t entry = 0;

	good_image();
	elf.ph[0].p_vaddr = 0xffffffff80000000ull;
	elf.eh.e_entry = CODE_GPA + 2;
	cr_assert_eq(vmm_load_elf(vm, elfb_write(&elf, "entry-paddr.elf"), &entry), 0, "%s",
		     vmm_last_error());
	cr_assert_eq(entry, CODE_GPA + 2);
	cr_assert_arr_eq(ram + CODE_GPA, code, sizeof(code));
}

/* ---- a good file ---- */

static uint64_t load_good_image(void)
{
	uint64_t entry = 0;

	good_image();
	cr_assert_eq(vmm_load_elf(vm, elfb_write(&elf, "good.elf"), &entry), 0, "%s",
		     vmm_last_error());
	return entry;
}

Test(elf, good_file_returns_its_entry_point)
{
	cr_assert_eq(load_good_image(), ENTRY);
}

Test(elf, good_file_segments_are_copied_byte_for_byte)
{
	load_good_image();
	cr_assert_arr_eq(ram + CODE_GPA, code, sizeof(code));
	for (uint64_t i = 0; i < DATA_FILESZ; i++)
		cr_assert_eq(ram[DATA_GPA + i], 0x40 + i, "data byte %llu is 0x%02x",
			     (unsigned long long)i, ram[DATA_GPA + i]);
}

Test(elf, bss_between_filesz_and_memsz_is_zeroed)
{
	load_good_image();
	for (uint64_t i = DATA_FILESZ; i < DATA_MEMSZ; i++)
		cr_assert_eq(ram[DATA_GPA + i], 0, "bss byte 0x%llx is 0x%02x",
			     (unsigned long long)i, ram[DATA_GPA + i]);
}

Test(elf, bytes_outside_the_segments_are_untouched)
{
	long at;

	load_good_image();
	at = first_changed(ram, CODE_GPA);
	cr_assert_eq(at, -1, "written below the code at 0x%lx", at);
	at = first_changed(ram + CODE_GPA + sizeof(code), DATA_GPA - CODE_GPA - sizeof(code));
	cr_assert_eq(at, -1, "written between the segments at 0x%llx",
		     (unsigned long long)(CODE_GPA + sizeof(code)) + (unsigned long long)at);
	at = first_changed(ram + DATA_GPA + DATA_MEMSZ, RAM_SIZE - DATA_GPA - DATA_MEMSZ);
	cr_assert_eq(at, -1, "written above the bss at 0x%llx",
		     (unsigned long long)(DATA_GPA + DATA_MEMSZ) + (unsigned long long)at);
}

Test(elf, non_load_segments_are_not_copied)
{
	good_image();
	elfb_add(&elf, PT_NOTE, PF_R, 0x1000, code, sizeof(code), sizeof(code));
	cr_assert_eq(vmm_load_elf(vm, elfb_write(&elf, "note.elf"), &(uint64_t){0}), 0, "%s",
		     vmm_last_error());
	cr_assert_eq(first_changed(ram + 0x1000, sizeof(code)), -1);
}
