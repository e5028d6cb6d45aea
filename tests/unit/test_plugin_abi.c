/* SPDX-License-Identifier: MIT */
/*
 * test_plugin_abi.c - the plugin ABI's versioning rules: which descriptors
 * a host of 1.0 loads and which it refuses, and what it reads of them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/vmm.h"

#define FIXTURE(name) BUILD_DIR "/tests/plugins/" name ".so"

static struct vmm_vm *vm;
static char logbuf[4096];

static void log_to_buf(void *opaque, int level, const char *msg)
{
	size_t n = strlen(logbuf);

	snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static void setup(void)
{
	struct vmm_vm_options o;

	logbuf[0] = '\0';
	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	o.log = log_to_buf;
	o.log_level = VMM_LOG_INFO;
	OK(vmm_vm_create(&o, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, 0x200000, NULL));
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
}

static struct vmm_device_config cfg(const char *name)
{
	return (struct vmm_device_config){
	    .size = sizeof(struct vmm_device_config),
	    .name = name,
	    .space = VMM_SPACE_MMIO,
	    .base = 0xfe000000,
	    .length = 0x1000,
	};
}

TestSuite(plugin_abi, .init = setup, .fini = teardown);

/* Every plugin built before versions had two halves stored 1: it must read as 1.0. */
Test(plugin_abi, the_1_stored_by_every_existing_plugin_is_version_1_0)
{
	cr_assert_eq(VMM_PLUGIN_ABI_MAJOR(VMM_PLUGIN_ABI_VERSION), 1u);
	cr_assert_eq(VMM_PLUGIN_ABI_MINOR(VMM_PLUGIN_ABI_VERSION), 2u,
		     "1.2: the typed key services");
	cr_assert_eq(VMM_PLUGIN_ABI(1u, 0u), 1u);
	cr_assert_eq(VMM_PLUGIN_ABI_MAJOR(1u), 1u);
	cr_assert_eq(VMM_PLUGIN_ABI_MINOR(1u), 0u);
	cr_assert_eq(VMM_PLUGIN_ABI_MAJOR(VMM_PLUGIN_ABI(3u, 9u)), 3u);
	cr_assert_eq(VMM_PLUGIN_ABI_MINOR(VMM_PLUGIN_ABI(3u, 9u)), 9u);
}

Test(plugin_abi, the_bundled_plugins_built_for_1_0_load)
{
	struct vmm_device_config c = cfg("t0");

	OK(vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &c, NULL));
}

Test(plugin_abi, another_major_is_refused_naming_the_plugins_major_and_the_hosts)
{
	struct vmm_device_config c = cfg("d");

	cr_assert_eq(vmm_device_add_plugin(vm, FIXTURE("bad-abi"), &c, NULL), -EPROTO);
	cr_assert(strstr(vmm_last_error(),
			 "bad-abi.so: plugin ABI major version 2 (2.0), but this host speaks major "
			 "version 1 (ABI 1.2)"),
		  "%s", vmm_last_error());
	cr_assert_eq(vmm_device_count(vm), 0);
}

Test(plugin_abi, major_0_is_another_major)
{
	struct vmm_plugin_desc d = test_null_desc;
	struct vmm_device_config c = cfg("d");

	d.abi_version = VMM_PLUGIN_ABI(0u, 1u);
	cr_assert_eq(vmm_device_add(vm, &d, &c, NULL), -EPROTO);
	cr_assert(strstr(vmm_last_error(), "d: plugin ABI major version 0 (0.1), but this host"),
		  "%s", vmm_last_error());
}

Test(plugin_abi, descriptor_too_small_for_1_0_is_refused)
{
	struct vmm_device_config c = cfg("d");

	cr_assert_eq(vmm_device_add_plugin(vm, FIXTURE("small-desc"), &c, NULL), -EPROTO);
	cr_assert(strstr(vmm_last_error(), "small-desc.so: descriptor is"), "%s", vmm_last_error());
	cr_assert(strstr(vmm_last_error(), "of ABI version 1.0"), "%s", vmm_last_error());
}

/* A later minor only appends: its descriptor still needs every field of 1.0. */
Test(plugin_abi, future_minor_too_small_for_1_0_is_refused)
{
	struct vmm_plugin_desc d = test_null_desc;
	struct vmm_device_config c = cfg("d");

	d.abi_version = VMM_PLUGIN_ABI(VMM_PLUGIN_ABI_VERSION_MAJOR, 9u);
	d.size = VMM_PLUGIN_DESC_MIN_SIZE - sizeof(void *);
	cr_assert_eq(vmm_device_add(vm, &d, &c, NULL), -EPROTO);
	cr_assert(strstr(vmm_last_error(), "descriptor is"), "%s", vmm_last_error());
}

Test(plugin_abi, same_major_with_a_larger_descriptor_is_accepted)
{
	struct vmm_device_config c = cfg("big0");
	struct vmm_device *dev = NULL;

	OK(vmm_device_add_plugin(vm, FIXTURE("larger-desc"), &c, &dev));
	cr_assert_str_eq(vmm_device_model(dev), "fixture");
}

Test(plugin_abi, future_minor_is_accepted_its_unknown_fields_ignored)
{
	struct vmm_device_config c = cfg("fut0");
	struct vmm_device *dev = NULL;

	/* Its unknown descriptor field aborts if called: the host must not. */
	OK(vmm_device_add_plugin(vm, FIXTURE("future-minor"), &c, &dev));
	cr_assert_str_eq(vmm_device_model(dev), "future-minor");
	OK(vmm_device_remove(dev));
}

/* The documented check for a service of a later minor: this host's table ends before it. */
Test(plugin_abi, a_plugin_finds_a_service_of_a_later_minor_missing_by_the_tables_size)
{
	struct vmm_device_config c = cfg("fut0");

	OK(vmm_device_add_plugin(vm, FIXTURE("future-minor"), &c, NULL));
	cr_assert(strstr(logbuf, "device 'fut0': host ABI 1.2 has no raise_irq (services table "),
		  "log:\n%s", logbuf);
	cr_assert(strstr(logbuf, "polling instead"), "log:\n%s", logbuf);
}

/*
 * A descriptor of exactly 1.0's size that ends where the process's memory
 * does: a host reading one byte past size would fault.
 */
Test(plugin_abi, host_reads_nothing_past_the_descriptors_size)
{
	long page = sysconf(_SC_PAGESIZE);
	struct vmm_device_config c = cfg("edge0");
	struct vmm_plugin_desc *d;
	uint8_t *mem;

	mem = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(mem != MAP_FAILED);
	cr_assert_eq(mprotect(mem + page, page, PROT_NONE), 0);
	d = (struct vmm_plugin_desc *)(mem + page - VMM_PLUGIN_DESC_MIN_SIZE);
	memcpy(d, &test_null_desc, VMM_PLUGIN_DESC_MIN_SIZE);
	d->size = VMM_PLUGIN_DESC_MIN_SIZE;
	OK(vmm_device_add(vm, d, &c, NULL));
	cr_assert_str_eq(vmm_device_model(vmm_device_get(vm, 0)), "null");
	vmm_vm_destroy(vm);
	vm = NULL;
	munmap(mem, 2 * page);
}

/* A plugin built before the interrupt services (1.0) loads on 1.2, given a line or not. */
Test(plugin_abi, a_plugin_of_1_0_loads_and_is_served_as_before)
{
	static const uint32_t pin[] = {5};
	struct vmm_device_config c = cfg("old0");
	struct vmm_device *dev = NULL;

	OK(vmm_device_add_plugin(vm, FIXTURE("abi-1-0"), &c, &dev));
	cr_assert_str_eq(vmm_device_model(dev), "abi-1-0");
	cr_assert(
	    strstr(logbuf, "device 'old0': 1.0 plugin on a host of 1.2, window of 0x1000 bytes"),
	    "log:\n%s", logbuf);
	OK(vmm_device_remove(dev));
	c.irqs = pin;
	c.nirqs = 1;
	OK(vmm_device_add_plugin(vm, FIXTURE("abi-1-0"), &c, &dev));
	OK(vmm_device_remove(dev));
}

/*
 * A plugin built against 1.1, before the typed keys: its raw param() and
 * the interrupt services sit where they were, and its size and version
 * load on 1.2 as they did on 1.1.
 */
Test(plugin_abi, a_plugin_of_1_1_loads_and_reads_its_keys_raw_as_before)
{
	static const uint32_t pin[] = {5};
	const struct vmm_device_param prm = {"depth", "0x10", "vm.ini", 4};
	struct vmm_device_config c = cfg("old1");
	struct vmm_device *dev = NULL;

	c.params = &prm;
	c.nparams = 1;
	c.irqs = pin;
	c.nirqs = 1;
	OK(vmm_device_add_plugin(vm, FIXTURE("abi-1-1"), &c, &dev));
	cr_assert_str_eq(vmm_device_model(dev), "abi-1-1");
	cr_assert(strstr(logbuf,
			 "device 'old1': 1.1 plugin on a host of 1.2: depth '0x10', line 0 raised"),
		  "log:\n%s", logbuf);
	OK(vmm_device_remove(dev));
}
