/* SPDX-License-Identifier: MIT */
/*
 * test_rom.c - end-to-end tests of [rom "NAME"] sections:
 * vmm-run fills a ROM from its file, and the guest sees it.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "e2e.h"

TestSuite(rom, .fini = e2e_cleanup);

/*
 * mov eax, 0x1000000; mov byte [rax], 1   (a write to the ROM: to the device over it)
 * movzx ebx, byte [rax]                   (the ROM's first byte, from memory)
 * mov eax, 0x10000f0; mov [rax], ebx      (testdev's exit register: vmm-run exits with it)
 * hlt
 */
static const uint8_t rom_code[] = {
    0xb8, 0x00, 0x00, 0x00, 0x01, 0xc6, 0x00, 0x01, 0x0f, 0xb6,
    0x18, 0xb8, 0xf0, 0x00, 0x00, 0x01, 0x89, 0x18, 0xf4,
};

/* A guest config with a [rom] at 16M filled from file (relative to the config), testdev over it. */
static const char *rom_config(const char *accel, const char *file)
{
	const char *fw = e2e_write_elf("rom.elf", rom_code, sizeof(rom_code));

	return e2e_guest_config("rom.ini", fw, accel, "20s",
				e2e_strf("\n[rom \"flash\"]\n"
					 "gpa  = 0x1000000\n"
					 "file = %s\n"
					 "\n"
					 "[device \"flashctl\"]\n"
					 "plugin = testdev\n"
					 "mmio   = 0x1000000\n"
					 "size   = 0x1000\n",
					 file));
}

/*
 * Exit 42 ('*', the file's first byte) means: the file was loaded, the
 * guest's read came from memory even under the device's window (testdev
 * would answer 'V'), and its write did not change the ROM (it would read 1).
 */
static void check_guest_reads_the_rom(const char *accel)
{
	const char *ini;
	struct e2e_result r;

	e2e_write_file("rom.bin", "*ROM image for the rom tests\n");
	ini = rom_config(accel, "rom.bin");
	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 42);
}

Test(rom, guest_reads_the_rom_file_and_writes_go_to_the_device_on_emu)
{
	check_guest_reads_the_rom("emu");
}

Test(rom, guest_reads_the_rom_file_and_writes_go_to_the_device_on_kvm)
{
	e2e_require_kvm();
	check_guest_reads_the_rom("kvm");
}

Test(rom, missing_rom_file_exits_2_naming_its_line)
{
	const char *ini = rom_config("emu", "no-such.bin");
	struct e2e_result r;

	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err,
			e2e_strf("rom.ini:%u: rom 'flash': file '%s/no-such.bin': No such file or "
				 "directory",
				 e2e_line_of(ini, "file = "), e2e_tmpdir()),
			&r);
	cr_assert_str_empty(r.out, "nothing should run: %s", e2e_describe(&r));
}

/* --translate says a ROM is read-only and which device takes its writes. */
static void check_translate_names_the_rom(const char *accel)
{
	const char *ini;
	struct e2e_result r;

	e2e_write_file("rom.bin", "*ROM image for the rom tests\n");
	ini = rom_config(accel, "rom.bin");
	e2e_vmm_run(&r, "--translate=0x1000010", ini, NULL);
	assert_exit(&r, 42);
	assert_contains(r.out,
			"memslot flash [0x1000000, 0x1001000), read-only: writes go to device "
			"flashctl (testdev)",
			&r);
}

Test(rom, translate_says_the_rom_is_read_only_and_names_the_device_on_emu)
{
	check_translate_names_the_rom("emu");
}

Test(rom, translate_says_the_rom_is_read_only_and_names_the_device_on_kvm)
{
	e2e_require_kvm();
	check_translate_names_the_rom("kvm");
}
