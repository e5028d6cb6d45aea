/* SPDX-License-Identifier: MIT */
/*
 * test_irq_layer.c - the core's interrupt layer: pins and their sources,
 * device lines, MSI checks, the layout rules of the controllers, config.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "vmm_internal.h"

#define RAM_SIZE (1ull << 20)
#define DEV	 0x10000000ull
#define VEC	 0x40u

static struct vmm_vm *vm;
static struct vmmi_backend_ops ops; /* the backend's, with msi() recording instead */

static struct {
	unsigned n;
	uint64_t addr[16];
	uint32_t data[16];
} sent;

static int record_msi(struct vmm_vm *v, uint64_t addr, uint32_t data)
{
	if (sent.n < 16) {
		sent.addr[sent.n] = addr;
		sent.data[sent.n] = data;
	}
	sent.n++;
	return 0;
}

static void setup(void)
{
	struct vmm_vm_options o;

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_AUTO;
	OK(vmm_vm_create(&o, &vm));
	ops = *vm->ops;
	ops.msi = record_msi;
	vm->ops = &ops;
	memset(&sent, 0, sizeof(sent));
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(irq_layer, .init = setup, .fini = teardown);

/* Program pin's redirection entry as the guest would, through IOREGSEL/IOWIN. */
static void rte(unsigned pin, uint64_t entry)
{
	pthread_mutex_lock(&vm->irq.lock);
	vmmi_ioapic_write(&vm->irq.io, 0x00, 0x10 + 2 * pin);
	vmmi_ioapic_write(&vm->irq.io, 0x10, (uint32_t)entry);
	vmmi_ioapic_write(&vm->irq.io, 0x00, 0x11 + 2 * pin);
	vmmi_ioapic_write(&vm->irq.io, 0x10, (uint32_t)(entry >> 32));
	pthread_mutex_unlock(&vm->irq.lock);
}

#define LEVEL (1ull << 15)

Test(irq_layer, vmm_irq_set_refuses_a_pin_past_the_last)
{
	cr_assert_eq(vmm_irq_set(vm, VMM_GUEST_IOAPIC_PINS, 1), -EINVAL);
	cr_assert(strstr(vmm_last_error(), "24 is not an I/O APIC pin (0 to 23)"), "%s",
		  vmm_last_error());
	OK(vmm_irq_set(vm, VMM_GUEST_IOAPIC_PINS - 1, 1));
}

Test(irq_layer, an_edge_entry_sends_once_per_rise_of_its_pin)
{
	rte(5, VEC | 3ull << 56);
	OK(vmm_irq_set(vm, 5, 1));
	OK(vmm_irq_set(vm, 5, 1)); /* already high: no edge */
	cr_assert_eq(sent.n, 1);
	cr_expect_eq(sent.addr[0], 0xfee00000ull | 3u << 12);
	cr_expect_eq(sent.data[0], VEC | 1u << 14);
	OK(vmm_irq_set(vm, 5, 0));
	OK(vmm_irq_set(vm, 5, 1));
	cr_assert_eq(sent.n, 2);
}

Test(irq_layer, a_masked_entry_sends_nothing)
{
	OK(vmm_irq_set(vm, 6, 1)); /* entries start masked */
	cr_assert_eq(sent.n, 0);
}

/* Two devices on one pin: its level is the OR of theirs (a wired-OR). */
static struct vmm_host *hosts[2];
static const struct vmm_host_services *services;

static int line_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		       const struct vmm_device_info *info, void **state)
{
	static unsigned n;

	services = host;
	hosts[n++ % 2] = ctx;
	*state = ctx;
	cr_expect_eq(info->nirqs, 1u);
	cr_expect_eq(info->irqs[0], 7u);
	return 0;
}

static const struct vmm_plugin_desc line_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "line",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 1,
    .create = line_create,
    .read = test_null_read,
    .write = test_null_write,
};

static struct vmm_device *add_line_device(const char *name, uint64_t base)
{
	static const uint32_t pin7[] = {7};
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = name,
	    .space = VMM_SPACE_MMIO,
	    .base = base,
	    .length = 0x1000,
	    .irqs = pin7,
	    .nirqs = 1,
	};
	struct vmm_device *dev = NULL;

	OK(vmm_device_add(vm, &line_desc, &c, &dev));
	return dev;
}

Test(irq_layer, a_shared_level_pin_is_high_while_any_device_holds_it)
{
	struct vmm_device *a = add_line_device("a", DEV);
	struct vmm_host *ha = hosts[0];
	struct vmm_host *hb;

	add_line_device("b", DEV + 0x1000);
	hb = hosts[1];
	cr_assert(VMM_HOST_HAS(services, msi_send));
	rte(7, VEC | LEVEL);
	OK(services->irq_set(ha, 0, 1));
	cr_assert_eq(sent.n, 1);
	cr_expect_eq(sent.data[0], VEC | 1u << 14 | 1u << 15);
	OK(services->irq_set(hb, 0, 1)); /* the pin was high already, remote IRR is set */
	OK(services->irq_set(ha, 0, 0)); /* b still holds it */
	cr_assert_eq(sent.n, 1);
	vmmi_irq_eoi(vm, VEC); /* still asserted: sent again */
	cr_assert_eq(sent.n, 2);
	OK(services->irq_set(hb, 0, 0));
	vmmi_irq_eoi(vm, VEC);
	cr_assert_eq(sent.n, 2, "the pin is low: nothing after the EOI");
	cr_assert_eq(services->irq_set(ha, 1, 1), -ENOENT, "the device has one line");
	(void)a;
}

Test(irq_layer, a_removed_device_lowers_its_line)
{
	struct vmm_device *a = add_line_device("a", DEV);

	OK(services->irq_set(hosts[0], 0, 1));
	cr_assert(vm->irq.io.level & 1u << 7);
	OK(vmm_device_remove(a));
	cr_assert_not(vm->irq.io.level & 1u << 7);
}

Test(irq_layer, a_pulse_is_one_edge)
{
	add_line_device("a", DEV);
	rte(7, VEC);
	OK(services->irq_pulse(hosts[0], 0));
	OK(services->irq_pulse(hosts[0], 0));
	cr_assert_eq(sent.n, 2);
	cr_assert_not(vm->irq.io.level & 1u << 7, "the line is low again");
}

Test(irq_layer, msis_are_checked_before_they_are_sent)
{
	static const struct {
		uint64_t addr;
		uint32_t data;
		const char *why;
	} bad[] = {
	    {0xfed00000, VEC, "outside [0xfee00000, 0xfef00000)"},
	    {0xfee00002, VEC, "not 4-byte aligned"},
	    {0xfee00000, 0x0f, "vector is below 16"},
	    {0xfee00000, VEC | 1u << 15, "level-triggered"},
	    {0xfee00000, VEC | 7u << 8, "delivery mode"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(vmm_msi_send(vm, bad[i].addr, bad[i].data), -EINVAL, "case %zu", i);
		cr_assert(strstr(vmm_last_error(), bad[i].why), "case %zu: %s", i,
			  vmm_last_error());
	}
	cr_assert_eq(sent.n, 0);
	OK(vmm_msi_send(vm, 0xfee01000, VEC));
	OK(vmm_msi_send(vm, 0xfee00000, 4u << 8)); /* NMI: the vector does not matter */
	cr_assert_eq(sent.n, 2);
	cr_expect_eq(sent.addr[0], 0xfee01000ull);
}

Test(irq_layer, device_pins_are_checked_with_the_devices_name)
{
	static const uint32_t past[] = {24}, twice[] = {3, 3};
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = "d",
	    .space = VMM_SPACE_MMIO,
	    .base = DEV,
	    .length = 0x1000,
	    .irqs = past,
	    .nirqs = 1,
	};

	cr_assert_eq(vmm_device_add(vm, &test_null_desc, &c, NULL), -EINVAL);
	cr_assert(strstr(vmm_last_error(), "device 'd': irq 24 is not an I/O APIC pin (0 to 23)"),
		  "%s", vmm_last_error());
	c.irqs = twice;
	c.nirqs = 2;
	cr_assert_eq(vmm_device_add(vm, &test_null_desc, &c, NULL), -EINVAL);
	cr_assert(strstr(vmm_last_error(), "irq 3 is listed twice"), "%s", vmm_last_error());
	c.nirqs = VMMI_DEVICE_MAX_IRQS + 1;
	cr_assert_eq(vmm_device_add(vm, &test_null_desc, &c, NULL), -EINVAL);
	cr_assert_eq(vmm_device_count(vm), 0);
}

Test(irq_layer, the_controllers_addresses_are_taken)
{
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = "d",
	    .space = VMM_SPACE_MMIO,
	    .base = VMM_GUEST_IOAPIC_BASE,
	    .length = 0x100,
	};

	cr_assert_eq(vmm_device_add(vm, &test_null_desc, &c, NULL), -EEXIST);
	cr_assert(strstr(vmm_last_error(), "overlaps device 'ioapic'"), "%s", vmm_last_error());
	c.base = VMM_GUEST_LAPIC_BASE + 0xf00;
	cr_assert_eq(vmm_device_add(vm, &test_null_desc, &c, NULL), -EEXIST);
	cr_assert(strstr(vmm_last_error(), "overlaps the local APIC page [0xfee00000, 0xfee01000)"),
		  "%s", vmm_last_error());
	cr_assert_eq(vmm_memslot_alloc(vm, "high", 0xfe000000, 0x2000000, NULL), -EEXIST);
	cr_assert(strstr(vmm_last_error(), "memslot 'high'"), "%s", vmm_last_error());
	cr_assert(strstr(vmm_last_error(), "local APIC page"), "%s", vmm_last_error());
	cr_assert_eq(vmm_device_count(vm), 0, "the I/O APIC is the machine's, not listed");
}

/* ---- the config's irq key ---- */

static int parse(const char *text, struct vmm_config **out)
{
	return vmm_config_parse_string(text, "t.ini", out);
}

#define HEAD "[vm]\nfirmware = /dev/null\n[ram \"r\"]\ngpa = 0\nsize = 1M\n"

Test(irq_layer, the_irq_key_takes_a_list_of_pins)
{
	struct vmm_config *cfg = NULL;

	OK(parse(HEAD "[device \"u\"]\nplugin = x\nmmio = 0x10000000\nsize = 4K\nirq = 4, 9\n",
		 &cfg));
	cr_assert_eq(cfg->devices[0].nirqs, 2u);
	cr_expect_eq(cfg->devices[0].irqs[0], 4u);
	cr_expect_eq(cfg->devices[0].irqs[1], 9u);
	vmm_config_free(cfg);
	cr_assert_eq(parse(HEAD "[device \"u\"]\nplugin = x\nmmio = 0x10000000\nsize = 4K\n"
				"irq = 4 x\n",
			   &cfg),
		     -EINVAL);
	cr_assert(strstr(vmm_last_error(), "t.ini:10: irq = '4 x' is not a list of numbers"), "%s",
		  vmm_last_error());
	cr_assert_eq(
	    parse(HEAD "[device \"u\"]\nplugin = x\nmmio = 0x10000000\nsize = 4K\nirq =\n", &cfg),
	    -EINVAL);
}
