/* SPDX-License-Identifier: MIT */
/*
 * test_loader.c - the plugin loader and device registration:
 * each refusal has its own error naming the file.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/vmm.h"

#define FIXTURE(name) BUILD_DIR "/tests/plugins/" name ".so"

static struct vmm_vm *vm;

static void setup(void)
{
	struct vmm_vm_options o;

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	cr_assert_eq(vmm_vm_create(&o, &vm), 0, "%s", vmm_last_error());
	cr_assert_eq(vmm_memslot_alloc(vm, "low", 0, 0x200000, NULL), 0, "%s", vmm_last_error());
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
}

static struct vmm_device_config mmio_cfg(const char *name, uint64_t base, uint64_t len)
{
	return (struct vmm_device_config){
	    .size = sizeof(struct vmm_device_config),
	    .name = name,
	    .space = VMM_SPACE_MMIO,
	    .base = base,
	    .length = len,
	};
}

TestSuite(loader, .init = setup, .fini = teardown);

Test(loader, missing_file_is_enoent_naming_the_file)
{
	struct vmm_device_config c = mmio_cfg("d", 0xfe000000, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, FIXTURE("does-not-exist"), &c, NULL), -ENOENT);
	cr_assert(strstr(vmm_last_error(), "does-not-exist.so"), "%s", vmm_last_error());
}

Test(loader, file_that_is_not_a_shared_object_is_enoexec)
{
	struct vmm_device_config c = mmio_cfg("d", 0xfe000000, 0x1000);
	char path[] = "/tmp/libvmm-notelf-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hello\n", 6), 6);
	close(fd);
	cr_assert_eq(vmm_device_add_plugin(vm, path, &c, NULL), -ENOEXEC);
	cr_assert(strstr(vmm_last_error(), path), "%s", vmm_last_error());
	unlink(path);
}

Test(loader, object_without_entry_symbol_is_enoexec)
{
	struct vmm_device_config c = mmio_cfg("d", 0xfe000000, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, FIXTURE("no-entry"), &c, NULL), -ENOEXEC);
	cr_assert(strstr(vmm_last_error(), "no-entry.so: no symbol 'vmm_plugin_entry'"), "%s",
		  vmm_last_error());
}

Test(loader, entry_returning_null_is_enoexec)
{
	struct vmm_device_config c = mmio_cfg("d", 0xfe000000, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, FIXTURE("null-desc"), &c, NULL), -ENOEXEC);
	cr_assert(strstr(vmm_last_error(), "null-desc.so"), "%s", vmm_last_error());
	cr_assert(strstr(vmm_last_error(), "no descriptor"), "%s", vmm_last_error());
}

Test(loader, descriptor_without_callbacks_is_eproto)
{
	struct vmm_device_config c = mmio_cfg("d", 0xfe000000, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, FIXTURE("no-callbacks"), &c, NULL), -EPROTO);
	cr_assert(strstr(vmm_last_error(), "no-callbacks.so"), "%s", vmm_last_error());
}

Test(loader, failing_create_returns_its_errno_and_names_the_device)
{
	struct vmm_device_config c = mmio_cfg("broken0", 0xfe000000, 0x1000);

	c.file = "vm.ini";
	c.line = 7;
	cr_assert_eq(vmm_device_add_plugin(vm, FIXTURE("create-fails"), &c, NULL), -ENODEV);
	cr_assert(strstr(vmm_last_error(), "vm.ini:7: device 'broken0'"), "%s", vmm_last_error());
	cr_assert_eq(vmm_device_count(vm), 0);
}

Test(loader, good_plugin_is_added_and_listed)
{
	struct vmm_device_config c = mmio_cfg("t0", 0xfe000000, 0x1000);
	struct vmm_device *dev = NULL;
	uint64_t base, len;
	uint32_t space;

	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &c, &dev), 0, "%s",
		     vmm_last_error());
	cr_assert_str_eq(vmm_device_name(dev), "t0");
	cr_assert_str_eq(vmm_device_model(dev), "testdev");
	cr_assert_eq(vmm_device_window(dev, &space, &base, &len), 0);
	cr_assert_eq(space, VMM_SPACE_MMIO);
	cr_assert_eq(base, 0xfe000000);
	cr_assert_eq(len, 0x1000);
	cr_assert_eq(vmm_device_count(vm), 1);
	cr_assert_eq(vmm_device_get(vm, 0), dev);
}

Test(loader, unknown_key_is_refused_with_its_line)
{
	struct vmm_device_param p[] = {{"colour", "blue", "vm.ini", 12}};
	struct vmm_device_config c = mmio_cfg("t0", 0xfe000000, 0x1000);

	c.params = p;
	c.nparams = 1;
	c.file = "vm.ini";
	c.line = 10;
	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &c, NULL), -EINVAL);
	cr_assert_str_eq(vmm_last_error(),
			 "vm.ini:12: device 't0': unknown key 'colour' for model 'testdev'");
}

Test(loader, param_error_is_reported_at_the_key_and_the_instance_destroyed)
{
	struct vmm_device_param p[] = {{"mode", "warp", "vm.ini", 4}};
	struct vmm_device_config c = mmio_cfg("pc", 0xfe000000, 0x1000);
	void *h;
	int *live;

	/* Keep the fixture loaded across the VM's dlclose so its counter can be read. */
	h = dlopen(FIXTURE("param-check"), RTLD_NOW | RTLD_LOCAL);
	cr_assert(h, "%s", dlerror());
	live = dlsym(h, "param_check_live");
	cr_assert(live);
	c.params = p;
	c.nparams = 1;
	cr_assert_eq(vmm_device_add_plugin(vm, FIXTURE("param-check"), &c, NULL), -EINVAL);
	cr_assert_str_eq(vmm_last_error(),
			 "vm.ini:4: device 'pc': mode: 'warp' is not fast or slow");
	cr_assert_eq(*live, 0, "create() ran %d more times than destroy()", *live);
	dlclose(h);
}

Test(loader, window_overlapping_ram_is_eexist)
{
	struct vmm_device_config c = mmio_cfg("t0", 0x100000, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &c, NULL), -EEXIST);
	cr_assert(strstr(vmm_last_error(), "overlaps memslot 'low'"), "%s", vmm_last_error());
}

Test(loader, overlapping_windows_are_eexist)
{
	struct vmm_device_config a = mmio_cfg("a", 0xfe000000, 0x1000);
	struct vmm_device_config b = mmio_cfg("b", 0xfe000800, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &a, NULL), 0);
	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &b, NULL), -EEXIST);
	cr_assert(strstr(vmm_last_error(), "overlaps device 'a'"), "%s", vmm_last_error());
}

Test(loader, duplicate_device_name_is_eexist)
{
	struct vmm_device_config a = mmio_cfg("same", 0xfe000000, 0x1000);
	struct vmm_device_config b = mmio_cfg("same", 0xfe001000, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &a, NULL), 0);
	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &b, NULL), -EEXIST);
}

Test(loader, pio_window_past_0xffff_is_erange)
{
	struct vmm_device_config c = mmio_cfg("u", 0xfffc, 8);

	c.space = VMM_SPACE_PIO;
	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/uart16550.so", &c, NULL),
		     -ERANGE);
}

Test(loader, pio_window_ending_at_port_0xffff_is_accepted)
{
	struct vmm_device_config c = mmio_cfg("u", 0xfff8, 8);

	c.space = VMM_SPACE_PIO;
	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/uart16550.so", &c, NULL), 0,
		     "%s", vmm_last_error());
}

/* The identity map ends at 512 GiB: a window may end there, not one byte later. */
Test(loader, mmio_window_ending_at_the_identity_map_end_is_accepted)
{
	struct vmm_device_config c = mmio_cfg("t", (512ull << 30) - 0x1000, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &c, NULL), 0, "%s",
		     vmm_last_error());
}

/* base + length is 2^64 there, which wraps to 0: found by fuzzing the layout API. */
Test(loader, mmio_window_ending_exactly_at_2_64_is_erange)
{
	struct vmm_device_config c = mmio_cfg("t", 0ull - 0x1000, 0x1000);

	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &c, NULL), -ERANGE);
	cr_assert(strstr(vmm_last_error(), "identity map"), "%s", vmm_last_error());
	cr_assert_eq(vmm_device_count(vm), 0);
}

Test(loader, mmio_window_of_the_last_byte_is_erange)
{
	struct vmm_device_config c = mmio_cfg("t", UINT64_MAX, 1);

	cr_assert_eq(vmm_device_add(vm, &test_null_desc, &c, NULL), -ERANGE);
}

Test(loader, mmio_window_moved_to_end_at_2_64_is_erange_and_stays)
{
	struct vmm_device_config c = mmio_cfg("t", 0xfe000000, 0x1000);
	struct vmm_device *dev;
	uint64_t base, len;
	uint32_t space;

	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &c, &dev), 0, "%s",
		     vmm_last_error());
	cr_assert_eq(vmm_device_move(dev, 0ull - 0x1000), -ERANGE);
	cr_assert_eq(vmm_device_window(dev, &space, &base, &len), 0);
	cr_assert_eq(base, 0xfe000000);
}

Test(loader, window_smaller_than_the_model_needs_is_einval)
{
	struct vmm_device_config c = mmio_cfg("t0", 0xfe000000, 0x10);

	cr_assert_eq(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &c, NULL), -EINVAL);
	cr_assert(strstr(vmm_last_error(), "smaller than"), "%s", vmm_last_error());
}

Test(loader, plugin_find_searches_each_directory_for_name_so)
{
	char buf[4096];

	cr_assert_eq(
	    vmm_plugin_find("testdev", "/nonexistent:" BUILD_DIR "/plugins", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, BUILD_DIR "/plugins/testdev.so");
	cr_assert_eq(vmm_plugin_find("nosuch", BUILD_DIR "/plugins", buf, sizeof(buf)), -ENOENT);
	cr_assert(strstr(vmm_last_error(), "plugin 'nosuch' not found"), "%s", vmm_last_error());
	cr_assert_eq(vmm_plugin_find("./x/y.so", "", buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "./x/y.so");
}
