/* SPDX-License-Identifier: MIT */
/* test_layout.c - the address-layout rules (core/layout.c), each from a config file (its message
 * names file:line) and from the API (no location), with one wording for both. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "vmm/vmm.h"

#define FIXTURES      SRC_DIR "/tests/fixtures/config"
#define FIXTURE(name) FIXTURES "/" name ".ini"
#define FLASH	      FIXTURES "/rom/flash.bin" /* 5000 bytes */
#define PLUGINS	      BUILD_DIR "/plugins"
#define TESTDEV	      PLUGINS "/testdev.so"
#define UART	      PLUGINS "/uart16550.so"

#define RAM "[ram \"low\"]\ngpa = 0\nsize = 4K\n"

#define UNDER	  "only a read-only memslot may lie under a device window"
#define IDENTITY  "ends past the boot identity map, which ends at 0x8000000000 (512 GiB)"
#define GPA_LIMIT "ends past the guest-physical limit 0x400000000000"

static struct vmm_config *cfg;
static struct vmm_vm *vm;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
	vmm_config_free(cfg);
	cfg = NULL;
}

TestSuite(layout_config, .fini = teardown, .timeout = 60);
TestSuite(layout_api, .fini = teardown, .timeout = 60);

/* The parse succeeds (layout is not syntax); building the VM fails with err and "where". */
static void expect_build_error(int err, const char *where)
{
	struct vmm_vm_options o;
	char want[1024];
	int ret;

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	ret = vmm_vm_create_from_config(cfg, &o, PLUGINS, &vm);
	snprintf(want, sizeof(want), "%s:%s", cfg->path, where);
	cr_assert_eq(ret, err, "ret %d, want %d (%s)", ret, err, vmm_last_error());
	cr_assert_null(vm);
	cr_assert_str_eq(vmm_last_error(), want);
}

static void load_error(const char *path, int err, const char *where)
{
	OK(vmm_config_load(path, &cfg));
	expect_build_error(err, where);
}

static void text_error(const char *text, int err, const char *where)
{
	OK(vmm_config_parse_string(text, "t.ini", &cfg));
	expect_build_error(err, where);
}

static void text_ok(const char *text)
{
	struct vmm_vm_options o;

	OK(vmm_config_parse_string(text, "t.ini", &cfg));
	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create_from_config(cfg, &o, PLUGINS, &vm));
}

/* An emu VM with no memory, for the API tests. */
static void api_vm(void)
{
	struct vmm_vm_options o;

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create(&o, &vm));
}

static struct vmm_device_config window(const char *name, uint32_t space, uint64_t base,
				       uint64_t len)
{
	return (struct vmm_device_config){
	    .size = sizeof(struct vmm_device_config),
	    .name = name,
	    .space = space,
	    .base = base,
	    .length = len,
	};
}

static void api_error(int ret, int err, const char *want)
{
	cr_assert_eq(ret, err, "ret %d, want %d (%s)", ret, err, vmm_last_error());
	cr_assert_str_eq(vmm_last_error(), want);
}

/* ---- memory below the guest-physical limit ---- */

Test(layout_config, ram_past_the_guest_physical_limit)
{
	load_error(FIXTURE("ram-limit"), -ERANGE,
		   "2: memslot 'huge' at 0x3ffffff00000, size 0x200000, " GPA_LIMIT);
}

Test(layout_config, ram_that_wraps_around)
{
	text_error("[ram \"a\"]\ngpa = 0xfffffffffffff000\nsize = 8K\n", -ERANGE,
		   "1: memslot 'a' at 0xfffffffffffff000, size 0x2000, " GPA_LIMIT);
}

Test(layout_config, rom_past_the_guest_physical_limit)
{
	text_error(RAM "[rom \"r\"]\ngpa = 0x3ffffffff000\nsize = 8K\n", -ERANGE,
		   "4: memslot 'r' at 0x3ffffffff000, size 0x2000, " GPA_LIMIT);
}

Test(layout_config, rom_size_from_its_file_is_checked_against_the_limit)
{
	text_error(RAM "[rom \"r\"]\ngpa = 0x3ffffffff000\nfile = " FLASH "\n", -ERANGE,
		   "4: memslot 'r' at 0x3ffffffff000, size 0x2000, " GPA_LIMIT);
}

Test(layout_api, ram_past_the_guest_physical_limit)
{
	api_vm();
	api_error(vmm_memslot_alloc(vm, "huge", 0x3ffffff00000, 0x200000, NULL), -ERANGE,
		  "memslot 'huge' at 0x3ffffff00000, size 0x200000, " GPA_LIMIT);
}

Test(layout_api, ram_moved_past_the_guest_physical_limit)
{
	api_vm();
	OK(vmm_memslot_alloc(vm, "a", 0, 0x2000, NULL));
	api_error(vmm_memslot_move(vm, 0, 0x3ffffffff000), -ERANGE,
		  "memslot 'a' at 0x3ffffffff000, size 0x2000, " GPA_LIMIT);
}

/* ---- memory over no other memory ---- */

Test(layout_config, overlapping_ram)
{
	load_error(FIXTURE("overlap-ram"), -EEXIST,
		   "6: memslot 'high' [0x100000, 0x200000) overlaps memslot 'low' [0x0, 0x200000)");
}

Test(layout_config, rom_overlapping_ram)
{
	load_error(
	    FIXTURE("overlap-rom"), -EEXIST,
	    "6: memslot 'boot' [0xff0000, 0x1000000) overlaps memslot 'low' [0x0, 0x1000000)");
}

Test(layout_config, ram_overlapping_a_rom_sized_by_its_file)
{
	text_error(RAM "[rom \"r\"]\ngpa = 1M\nfile = " FLASH
		       "\n[ram \"b\"]\ngpa = 0x101000\nsize = 4K\n",
		   -EEXIST,
		   "7: memslot 'b' [0x101000, 0x102000) overlaps memslot 'r' [0x100000, 0x102000)");
}

Test(layout_api, overlapping_ram)
{
	api_vm();
	OK(vmm_memslot_alloc(vm, "low", 0, 0x200000, NULL));
	api_error(vmm_memslot_alloc(vm, "high", 0x100000, 0x100000, NULL), -EEXIST,
		  "memslot 'high' [0x100000, 0x200000) overlaps memslot 'low' [0x0, 0x200000)");
}

Test(layout_api, ram_moved_over_other_ram)
{
	api_vm();
	OK(vmm_memslot_alloc(vm, "a", 0, 0x2000, NULL));
	OK(vmm_memslot_alloc(vm, "b", 0x10000, 0x2000, NULL));
	api_error(vmm_memslot_move(vm, 0, 0xf000), -EEXIST,
		  "memslot 'a' [0xf000, 0x11000) overlaps memslot 'b' [0x10000, 0x12000)");
}

Test(layout_api, ram_moved_over_its_own_old_place_is_accepted)
{
	api_vm();
	OK(vmm_memslot_alloc(vm, "a", 0, 0x2000, NULL));
	OK(vmm_memslot_move(vm, 0, 0x1000));
}

/* ---- a window over read-only memory only ---- */

Test(layout_config, mmio_window_inside_ram)
{
	load_error(
	    FIXTURE("overlap-device-ram"), -EEXIST,
	    "6: device 'test0' [0x1000, 0x2000) overlaps memslot 'low' [0x0, 0x4000000): " UNDER);
}

Test(layout_config, window_over_writable_ram_is_refused_even_when_readonly_is_off)
{
	load_error(FIXTURE("overlap-device-writable"), -EEXIST,
		   "11: device 'test0' [0x100ff000, 0x10101000) overlaps memslot 'high' "
		   "[0x10000000, 0x10100000): " UNDER);
}

Test(layout_config, window_over_read_only_and_writable_ram_is_refused)
{
	text_error(RAM "[ram \"flash\"]\ngpa = 4K\nsize = 4K\nreadonly = 1\n"
		       "[device \"d\"]\nplugin = testdev\nmmio = 0x800\nsize = 4K\n",
		   -EEXIST,
		   "8: device 'd' [0x800, 0x1800) overlaps memslot 'low' [0x0, 0x1000): " UNDER);
}

Test(layout_config, window_declared_before_the_ram_under_it_is_refused)
{
	text_error("[device \"d\"]\nplugin = testdev\nmmio = 0\nsize = 4K\n" RAM, -EEXIST,
		   "1: device 'd' [0x0, 0x1000) overlaps memslot 'low' [0x0, 0x1000): " UNDER);
}

Test(layout_config, window_over_read_only_ram_is_accepted)
{
	text_ok(RAM "[rom \"flash\"]\ngpa = 1M\nsize = 8K\n"
		    "[device \"ctl\"]\nplugin = testdev\nmmio = 0x101000\nsize = 4K\n");
}

Test(layout_api, window_over_writable_ram)
{
	struct vmm_device_config c = window("t", VMM_SPACE_MMIO, 0x1000, 0x1000);

	api_vm();
	OK(vmm_memslot_alloc(vm, "low", 0, 0x10000, NULL));
	api_error(vmm_device_add_plugin(vm, TESTDEV, &c, NULL), -EEXIST,
		  "device 't' [0x1000, 0x2000) overlaps memslot 'low' [0x0, 0x10000): " UNDER);
}

Test(layout_api, writable_ram_under_a_window)
{
	struct vmm_device_config c = window("t", VMM_SPACE_MMIO, 0x1000, 0x1000);

	api_vm();
	OK(vmm_device_add_plugin(vm, TESTDEV, &c, NULL));
	api_error(vmm_memslot_alloc(vm, "low", 0, 0x10000, NULL), -EEXIST,
		  "memslot 'low' [0x0, 0x10000) overlaps device 't' [0x1000, 0x2000): " UNDER);
}

Test(layout_api, writable_ram_moved_under_a_window)
{
	struct vmm_device_config c = window("t", VMM_SPACE_MMIO, 0x20000, 0x1000);

	api_vm();
	OK(vmm_device_add_plugin(vm, TESTDEV, &c, NULL));
	OK(vmm_memslot_alloc(vm, "low", 0, 0x10000, NULL));
	api_error(
	    vmm_memslot_move(vm, 0, 0x18000), -EEXIST,
	    "memslot 'low' [0x18000, 0x28000) overlaps device 't' [0x20000, 0x21000): " UNDER);
}

Test(layout_api, window_over_read_only_ram_is_accepted)
{
	struct vmm_device_config c = window("t", VMM_SPACE_MMIO, 0x1000, 0x1000);

	api_vm();
	OK(vmm_memslot_alloc_flags(vm, "rom", 0, 0x10000, VMM_MEMSLOT_READONLY, NULL));
	OK(vmm_device_add_plugin(vm, TESTDEV, &c, NULL));
}

/* ---- ports below 0x10000 ---- */

Test(layout_config, pio_window_past_port_0xffff)
{
	load_error(FIXTURE("pio-range"), -ERANGE,
		   "6: device 'uart0' ports at 0xfffc, size 0x8, end past port 0xffff");
}

Test(layout_config, port_above_0xffff)
{
	text_error(RAM "[device \"d\"]\nplugin = uart16550\npio = 0x10000\nsize = 8\n", -ERANGE,
		   "4: device 'd' ports at 0x10000, size 0x8, end past port 0xffff");
}

Test(layout_api, pio_window_past_port_0xffff)
{
	struct vmm_device_config c = window("uart0", VMM_SPACE_PIO, 0xfffc, 8);

	api_vm();
	api_error(vmm_device_add_plugin(vm, UART, &c, NULL), -ERANGE,
		  "device 'uart0' ports at 0xfffc, size 0x8, end past port 0xffff");
}

/* ---- MMIO windows inside the boot identity map ---- */

Test(layout_config, mmio_window_past_the_guest_physical_limit)
{
	text_error(RAM "[device \"d\"]\nplugin = testdev\nmmio = 0x3ffffffff000\nsize = 8K\n",
		   -ERANGE, "4: device 'd' window at 0x3ffffffff000, size 0x2000, " IDENTITY);
}

/* Below the guest-physical limit, past the identity map: the parser and the API agree. */
Test(layout_config, mmio_window_past_the_identity_map)
{
	text_error(RAM "[device \"d\"]\nplugin = testdev\nmmio = 600G\nsize = 4K\n", -ERANGE,
		   "4: device 'd' window at 0x9600000000, size 0x1000, " IDENTITY);
}

Test(layout_config, mmio_window_ending_at_the_identity_map_end_is_accepted)
{
	text_ok(RAM "[device \"d\"]\nplugin = testdev\nmmio = 0x7ffffff000\nsize = 4K\n");
}

Test(layout_api, mmio_window_past_the_identity_map)
{
	struct vmm_device_config c = window("d", VMM_SPACE_MMIO, 600ull << 30, 0x1000);

	api_vm();
	api_error(vmm_device_add_plugin(vm, TESTDEV, &c, NULL), -ERANGE,
		  "device 'd' window at 0x9600000000, size 0x1000, " IDENTITY);
}

Test(layout_api, mmio_window_moved_past_the_identity_map)
{
	struct vmm_device_config c = window("d", VMM_SPACE_MMIO, 0x1000, 0x1000);
	struct vmm_device *dev;

	api_vm();
	OK(vmm_device_add_plugin(vm, TESTDEV, &c, &dev));
	api_error(vmm_device_move(dev, 600ull << 30), -ERANGE,
		  "device 'd' window at 0x9600000000, size 0x1000, " IDENTITY);
}

/* ---- windows of one space over no other ---- */

Test(layout_config, overlapping_mmio_windows)
{
	load_error(FIXTURE("overlap-device"), -EEXIST,
		   "11: device 'b' [0xfebf0800, 0xfebf1800) overlaps device 'a' [0xfebf0000, "
		   "0xfebf1000)");
}

Test(layout_config, overlapping_pio_windows)
{
	load_error(FIXTURE("overlap-pio"), -EEXIST,
		   "11: device 'com1b' [0x3fc, 0x404) overlaps device 'com1' [0x3f8, 0x400)");
}

Test(layout_api, overlapping_pio_windows)
{
	struct vmm_device_config a = window("com1", VMM_SPACE_PIO, 0x3f8, 8);
	struct vmm_device_config b = window("com1b", VMM_SPACE_PIO, 0x3fc, 8);

	api_vm();
	OK(vmm_device_add_plugin(vm, UART, &a, NULL));
	api_error(vmm_device_add_plugin(vm, UART, &b, NULL), -EEXIST,
		  "device 'com1b' [0x3fc, 0x404) overlaps device 'com1' [0x3f8, 0x400)");
}

Test(layout_api, window_moved_over_another)
{
	struct vmm_device_config a = window("a", VMM_SPACE_MMIO, 0x1000, 0x1000);
	struct vmm_device_config b = window("b", VMM_SPACE_MMIO, 0x4000, 0x1000);
	struct vmm_device *dev;

	api_vm();
	OK(vmm_device_add_plugin(vm, TESTDEV, &a, NULL));
	OK(vmm_device_add_plugin(vm, TESTDEV, &b, &dev));
	api_error(vmm_device_move(dev, 0x1800), -EEXIST,
		  "device 'b' [0x1800, 0x2800) overlaps device 'a' [0x1000, 0x2000)");
}

/* An MMIO and a PIO window may share numbers: the spaces are apart. */
Test(layout_api, mmio_and_pio_windows_may_share_addresses)
{
	struct vmm_device_config a = window("m", VMM_SPACE_MMIO, 0x3f8, 8);
	struct vmm_device_config b = window("p", VMM_SPACE_PIO, 0x3f8, 8);

	api_vm();
	OK(vmm_device_add_plugin(vm, UART, &a, NULL));
	OK(vmm_device_add_plugin(vm, UART, &b, NULL));
}
