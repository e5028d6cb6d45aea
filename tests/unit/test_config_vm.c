/* SPDX-License-Identifier: MIT */
/*
 * test_config_vm.c - VMs built by vmm_vm_create_from_config(): [rom]
 * contents and slot flags, and a guest reading a ROM, on both backends.
 */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testdev.h"
#include "vmm/vmm.h"

#define FIXTURES      SRC_DIR "/tests/fixtures/config"
#define FIXTURE(name) FIXTURES "/" name ".ini"
#define PLUGINS	      BUILD_DIR "/plugins"

/* tests/fixtures/config/rom.ini */
#define FLASH_GPA  0xfff00000ull /* rom "flash": rom/flash.bin, 5000 bytes, in 8K */
#define FLASH_SIZE 0x2000u
#define FLASH_FILE FIXTURES "/rom/flash.bin"
#define FLASH_LEN  5000u
#define CTL_GPA	   0xfff01000ull /* device "flashctl" (testdev) over flash's second page */
#define NVRAM_GPA  0xffe00000ull /* rom "nvram": 64K, no file */
#define BOOT_GPA   0xffd00000ull /* rom "boot": 16K, rom/flash.bin */
#define ENTRY	   0x100000ull	 /* in ram "low" */

static struct vmm_config *cfg;
static struct vmm_vm *vm;
static uint8_t file[FLASH_LEN];

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
	vmm_config_free(cfg);
	cfg = NULL;
}

TestSuite(config_vm, .fini = teardown, .timeout = 60);
TestSuite(config_vm_emu, .fini = teardown, .timeout = 60);
TestSuite(config_vm_kvm, .fini = teardown, .timeout = 60);
#define BOTH(name) TWIN_TESTS(config_vm_emu, config_vm_kvm, name)

static void read_flash_file(void)
{
	FILE *f = fopen(FLASH_FILE, "rb");

	cr_assert_not_null(f, "%s", FLASH_FILE);
	cr_assert_eq(fread(file, 1, sizeof(file), f), sizeof(file));
	cr_assert_eq(fgetc(f), EOF, "%s is not %u bytes", FLASH_FILE, FLASH_LEN);
	fclose(f);
}

/* The VM of the parsed cfg, on accel. */
static int build(enum vmm_accel accel)
{
	struct vmm_vm_options opts;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	return vmm_vm_create_from_config(cfg, &opts, PLUGINS, &vm);
}

static void load_and_build(const char *ini, enum vmm_accel accel)
{
	OK(vmm_config_load(ini, &cfg));
	OK(build(accel));
}

/* The flags of the slot that starts at gpa. */
static uint32_t slot_flags(uint64_t gpa)
{
	struct vmm_memslot_info info = VMM_MEMSLOT_INFO_INIT;

	for (int i = 0; vmm_memslot_get(vm, i, &info) == 0; i++) {
		if (info.gpa == gpa)
			return info.flags;
	}
	cr_assert_fail("no slot at 0x%llx", (unsigned long long)gpa);
	return 0;
}

/* The len bytes at gpa are the file's bytes, then zero up to size. */
static void expect_rom(uint64_t gpa, uint32_t size, const uint8_t *bytes, uint32_t len)
{
	uint8_t *buf = malloc(size);

	cr_assert_not_null(buf);
	OK(vmm_guest_read(vm, gpa, buf, size));
	cr_expect(!len || !memcmp(buf, bytes, len), "the ROM at 0x%llx does not hold its file",
		  (unsigned long long)gpa);
	for (uint32_t i = len; i < size; i++) {
		if (buf[i]) {
			cr_expect_fail("byte 0x%x of the ROM at 0x%llx past its file is 0x%02x", i,
				       (unsigned long long)gpa, buf[i]);
			break;
		}
	}
	free(buf);
}

/* ---- what the VM holds, without running it ---- */

Test(config_vm, rom_holds_its_file_then_zeros)
{
	read_flash_file();
	load_and_build(FIXTURE("rom"), VMM_ACCEL_EMU);
	expect_rom(FLASH_GPA, FLASH_SIZE, file, FLASH_LEN);
	expect_rom(BOOT_GPA, 16 << 10, file, FLASH_LEN);
	expect_rom(NVRAM_GPA, 64 << 10, NULL, 0);
}

Test(config_vm, rom_slots_are_read_only_and_ram_is_not)
{
	load_and_build(FIXTURE("rom"), VMM_ACCEL_EMU);
	cr_assert_eq(vmm_memslot_count(vm), 4);
	cr_expect_eq(slot_flags(0), 0, "ram \"low\"");
	cr_expect_eq(slot_flags(FLASH_GPA), VMM_MEMSLOT_READONLY);
	cr_expect_eq(slot_flags(NVRAM_GPA), VMM_MEMSLOT_READONLY);
	cr_expect_eq(slot_flags(BOOT_GPA), VMM_MEMSLOT_READONLY);
	cr_expect_eq(vmm_device_count(vm), 1, "the window over the ROM");
}

Test(config_vm, readonly_ram_is_a_read_only_slot)
{
	load_and_build(FIXTURE("readonly"), VMM_ACCEL_EMU);
	cr_expect_eq(slot_flags(0), 0);
	cr_expect_eq(slot_flags(0xff000000), VMM_MEMSLOT_READONLY);
}

/* ---- the file is read again at setup: it may have changed since the parse ---- */

static char path[32];

/* Parse a config whose [rom "r"] (header at line 4) has a 4K size and a file of len 0xa5 bytes. */
static void parse_with_file(size_t len)
{
	char text[256], buf[8192];
	int fd;

	cr_assert_leq(len, sizeof(buf));
	memset(buf, 0xa5, len);
	strcpy(path, "/tmp/vmm-rom-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	snprintf(
	    text, sizeof(text),
	    "[ram \"low\"]\ngpa = 0\nsize = 16M\n[rom \"r\"]\ngpa = 1G\nsize = 4K\nfile = %s\n",
	    path);
	OK(vmm_config_parse_string(text, "t.ini", &cfg));
}

/* Replace the file's contents with len bytes of 0x5a. */
static void rewrite(size_t len)
{
	uint8_t buf[8192];
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	memset(buf, 0x5a, len);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

Test(config_vm, file_grown_past_the_size_fails_naming_it)
{
	char want[256];

	parse_with_file(4096);
	rewrite(4097);
	cr_assert_eq(build(VMM_ACCEL_EMU), -EFBIG);
	unlink(path);
	cr_assert_null(vm);
	snprintf(want, sizeof(want),
		 "t.ini:4: rom 'r': file '%s' is larger than the rom's size 0x1000 (it changed "
		 "since the configuration was read)",
		 path);
	cr_assert_str_eq(vmm_last_error(), want);
}

Test(config_vm, file_gone_fails_with_its_errno)
{
	char want[256];

	parse_with_file(100);
	unlink(path);
	cr_assert_eq(build(VMM_ACCEL_EMU), -ENOENT);
	cr_assert_null(vm);
	snprintf(want, sizeof(want), "t.ini:4: rom 'r': file '%s': No such file or directory",
		 path);
	cr_assert_str_eq(vmm_last_error(), want);
}

Test(config_vm, file_become_a_folder_is_refused)
{
	char want[256];

	parse_with_file(100);
	unlink(path);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(build(VMM_ACCEL_EMU), -EINVAL);
	rmdir(path);
	snprintf(want, sizeof(want), "t.ini:4: rom 'r': file '%s' is not a regular file", path);
	cr_assert_str_eq(vmm_last_error(), want);
}

Test(config_vm, file_shrunk_since_the_parse_leaves_zeros)
{
	uint8_t want[4] = {0x5a, 0x5a, 0, 0};

	parse_with_file(4096);
	rewrite(2);
	OK(build(VMM_ACCEL_EMU));
	unlink(path);
	expect_rom(1ull << 30, 4096, want, sizeof(want));
}

/* ---- a guest reads the ROM; its writes go to the device over it or nowhere ---- */

BOTH(guest_reads_the_rom_file_and_its_writes_leave_it_unchanged)
{
	struct prog p = {.n = 0};
	struct vmm_vm_stats st = VMM_VM_STATS_INIT;
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint64_t first, second;

	read_flash_file();
	memcpy(&first, file, 8);
	memcpy(&second, file + 4096, 8);
	load(&p, RBX, FLASH_GPA);		  /* the file's first bytes */
	load(&p, RCX, CTL_GPA);			  /* under the window: still memory */
	store(&p, FLASH_GPA, 0x55);		  /* no device there: unclaimed, dropped */
	store(&p, CTL_GPA + TESTDEV_REG_EXIT, 7); /* to testdev: stops the VM with 7 */
	hlt(&p);

	load_and_build(FIXTURE("rom"), accel);
	OK(vmm_guest_write(vm, ENTRY, p.b, p.n));
	OK(vmm_boot_setup(vm, ENTRY));
	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_STOPPED, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(ex.exit_code, 7, "the write did not reach the device over the ROM");
	cr_expect_eq(ex.regs.rbx, first, "rbx 0x%llx, not the file's first bytes",
		     (unsigned long long)ex.regs.rbx);
	cr_expect_eq(ex.regs.rcx, second,
		     "rcx 0x%llx: the read under the window did not come "
		     "from memory",
		     (unsigned long long)ex.regs.rcx);
	expect_rom(FLASH_GPA, FLASH_SIZE, file, FLASH_LEN);
	OK(vmm_vm_get_stats(vm, &st));
	cr_expect_eq(st.unclaimed, 1, "%llu unclaimed accesses", (unsigned long long)st.unclaimed);
}
