/* SPDX-License-Identifier: MIT */
/* test_guest_kit.c - the guest kit's printf and boot-info lookups, compiled for the host. */

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmm/guestlib.h"

/*
 * printf.c and bootinfo.c are plain C, so the unit tests link them as they
 * are; console.c is not (port I/O), and vmm_guest_putc() here captures
 * what printf sends instead.
 */
static char out[512];
static size_t out_len;

void vmm_guest_putc(char c)
{
	if (out_len < sizeof(out) - 1)
		out[out_len++] = c;
	out[out_len] = '\0';
}

static const char *fmt_out(int *count, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *fmt_out(int *count, const char *fmt, ...)
{
	va_list ap;

	out_len = 0;
	out[0] = '\0';
	va_start(ap, fmt);
	*count = vmm_guest_vprintf(fmt, ap);
	va_end(ap);
	return out;
}

/* The same without the format check, for formats the check rightly refuses. */
static const char *raw_out(int *count, const char *fmt, ...)
{
	va_list ap;

	out_len = 0;
	out[0] = '\0';
	va_start(ap, fmt);
	*count = vmm_guest_vprintf(fmt, ap);
	va_end(ap);
	return out;
}

/* The kit's output and return value against the host's snprintf for the same call. */
#define SAME_AS_LIBC(fmt, ...)                                                                     \
	do {                                                                                       \
		char want_[256];                                                                   \
		int n_, want_n_ = snprintf(want_, sizeof(want_), fmt, __VA_ARGS__);                \
		const char *got_ = fmt_out(&n_, fmt, __VA_ARGS__);                                 \
		cr_expect_str_eq(got_, want_, "format \"%s\"", fmt);                               \
		cr_expect_eq(n_, want_n_, "format \"%s\": returned %d, want %d", fmt, n_,          \
			     want_n_);                                                             \
	} while (0)

TestSuite(guest_kit_printf);

Test(guest_kit_printf, integers_match_libc_in_every_base_width_and_flag)
{
	SAME_AS_LIBC("%d|%i|%u|%x", -42, 7, 4000000000u, 0xbeefu);
	SAME_AS_LIBC("[%5d][%-5d][%05d][%05d]", 42, 42, 42, -42);
	SAME_AS_LIBC("[%*d][%-*u]", 6, -3, 4, 9u);
	SAME_AS_LIBC("%lld %llu %llx", (long long)INT64_MIN, (unsigned long long)UINT64_MAX,
		     0x123456789abcdefull);
	SAME_AS_LIBC("%ld %lu %lx", -1l, 1ul << 40, 1ul << 63);
	SAME_AS_LIBC("%d %u %x", 0, 0u, 0u);
}

Test(guest_kit_printf, strings_and_characters_match_libc)
{
	char unterminated[4] = {'a', 'b', 'c', 'd'};

	SAME_AS_LIBC("[%s][%8s][%-8s]", "hi", "right", "left");
	SAME_AS_LIBC("[%.*s][%.2s]", 4, unterminated, "xyz");
	SAME_AS_LIBC("[%c][%3c][%-3c]", 'a', 'b', 'c');
	SAME_AS_LIBC("100%% %s", "done");
}

Test(guest_kit_printf, pointers_print_as_0x_and_hex)
{
	int n;

	cr_assert_str_eq(fmt_out(&n, "%p", (void *)0x100000), "0x100000");
	cr_assert_eq(n, 8);
}

Test(guest_kit_printf, null_string_unknown_conversion_and_a_trailing_percent_are_visible)
{
	int n;

	cr_assert_str_eq(raw_out(&n, "%s", (char *)NULL), "(null)");
	cr_assert_str_eq(raw_out(&n, "a%qb"), "a%qb", "an unknown conversion is shown");
	cr_assert_str_eq(raw_out(&n, "end%"), "end", "a lone '%%' stops the output");
	cr_assert_eq(n, 3);
}

/* ---- boot-info lookups ---- */

static struct vmm_guest_boot_info bi;

static void boot_info_setup(void)
{
	memset(&bi, 0, sizeof(bi));
	bi.magic = VMM_GUEST_BOOT_MAGIC;
	bi.abi_version = VMM_GUEST_ABI_VERSION;
	bi.identity_limit = 4ull << 30;
}

static void add_device(const char *name, const char *plugin, uint32_t kind, uint64_t base,
		       uint64_t size)
{
	struct vmm_guest_device *d = &bi.devices[bi.device_count++];

	strncpy(d->name, name, sizeof(d->name) - 1);
	strncpy(d->plugin, plugin, sizeof(d->plugin) - 1);
	d->kind = kind;
	d->base = base;
	d->size = size;
	d->irq = VMM_GUEST_IRQ_NONE;
}

TestSuite(guest_kit_boot_info, .init = boot_info_setup);

Test(guest_kit_boot_info, valid_needs_the_magic_and_this_abi_version)
{
	cr_assert_eq(vmm_guest_boot_info_valid(&bi), 1);
	bi.abi_version = VMM_GUEST_ABI_VERSION + 1;
	cr_assert_eq(vmm_guest_boot_info_valid(&bi), 0);
	bi.abi_version = VMM_GUEST_ABI_VERSION;
	bi.magic ^= 1;
	cr_assert_eq(vmm_guest_boot_info_valid(&bi), 0);
}

Test(guest_kit_boot_info, counts_are_clamped_to_the_arrays)
{
	bi.ram_count = 1000;
	bi.device_count = UINT32_MAX;
	cr_assert_eq(vmm_guest_ram_count(&bi), VMM_GUEST_MAX_RAM);
	cr_assert_eq(vmm_guest_device_count(&bi), VMM_GUEST_MAX_DEVICES);
	bi.ram_count = 3;
	bi.device_count = 2;
	cr_assert_eq(vmm_guest_ram_count(&bi), 3);
	cr_assert_eq(vmm_guest_device_count(&bi), 2);
}

Test(guest_kit_boot_info, a_device_past_the_count_is_not_found)
{
	add_device("uart0", "uart16550", VMM_GUEST_DEV_PIO, 0x3f8, 8);
	add_device("test0", "testdev", VMM_GUEST_DEV_MMIO, 0xfebf0000, 0x1000);
	bi.device_count = 1;
	cr_assert_eq(vmm_guest_find_device(&bi, "uart16550"), &bi.devices[0]);
	cr_assert_null(vmm_guest_find_device(&bi, "testdev"));
	cr_assert_null(vmm_guest_find_device_named(&bi, "test0"));
}

Test(guest_kit_boot_info, devices_are_found_by_plugin_or_by_name_first_match_first)
{
	add_device("uart0", "uart16550", VMM_GUEST_DEV_PIO, 0x3f8, 8);
	add_device("uart1", "uart16550", VMM_GUEST_DEV_PIO, 0x2f8, 8);
	add_device("test0", "testdev", VMM_GUEST_DEV_MMIO, 0xfebf0000, 0x1000);
	cr_assert_eq(vmm_guest_find_device(&bi, "uart16550"), &bi.devices[0]);
	cr_assert_eq(vmm_guest_find_device_named(&bi, "uart1"), &bi.devices[1]);
	cr_assert_null(vmm_guest_find_device(&bi, "uart1"), "a name is not a plugin");
	cr_assert_null(vmm_guest_find_device_named(&bi, "testdev"), "a plugin is not a name");
	cr_assert_null(vmm_guest_find_device(&bi, "uart"), "no prefix matches");
}

Test(guest_kit_boot_info, an_unterminated_name_is_compared_within_its_field)
{
	char full[VMM_GUEST_NAME_MAX + 1];

	add_device("x", "x", VMM_GUEST_DEV_PIO, 0x3f8, 8);
	memset(bi.devices[0].name, 'n', VMM_GUEST_NAME_MAX); /* no NUL in the field */
	memset(full, 'n', VMM_GUEST_NAME_MAX);
	full[VMM_GUEST_NAME_MAX] = '\0';
	cr_assert_eq(vmm_guest_find_device_named(&bi, full), &bi.devices[0]);
}

Test(guest_kit_boot_info, ram_size_and_end_saturate_instead_of_wrapping)
{
	bi.ram_count = 2;
	bi.ram[0] = (struct vmm_guest_ram){.gpa = 0, .size = 64 << 20};
	bi.ram[1] = (struct vmm_guest_ram){.gpa = 1ull << 32, .size = 16 << 20};
	cr_assert_eq(vmm_guest_ram_size(&bi), 80 << 20);
	cr_assert_eq(vmm_guest_ram_end(&bi), (1ull << 32) + (16 << 20));
	bi.ram[1] = (struct vmm_guest_ram){.gpa = UINT64_MAX - 10, .size = UINT64_MAX - 10};
	cr_assert_eq(vmm_guest_ram_size(&bi), UINT64_MAX);
	cr_assert_eq(vmm_guest_ram_end(&bi), UINT64_MAX);
	bi.ram_count = 0;
	cr_assert_eq(vmm_guest_ram_size(&bi), 0);
	cr_assert_eq(vmm_guest_ram_end(&bi), 0);
}

Test(guest_kit_boot_info, mmio_ok_needs_an_mmio_window_the_identity_map_covers)
{
	const uint64_t lim = bi.identity_limit;

	add_device("a", "testdev", VMM_GUEST_DEV_MMIO, lim - 0x100, 0x100);
	add_device("b", "testdev", VMM_GUEST_DEV_MMIO, lim - 0xff, 0x100);
	add_device("c", "testdev", VMM_GUEST_DEV_PIO, 0x100, 0x100);
	add_device("d", "testdev", VMM_GUEST_DEV_MMIO, 0x1000, 0x80);
	add_device("e", "testdev", VMM_GUEST_DEV_MMIO, UINT64_MAX - 0x10, 0x100);
	cr_assert_eq(vmm_guest_device_mmio_ok(&bi, &bi.devices[0], 0x100), 1, "ends at the limit");
	cr_assert_eq(vmm_guest_device_mmio_ok(&bi, &bi.devices[1], 0x100), 0, "crosses the limit");
	cr_assert_eq(vmm_guest_device_mmio_ok(&bi, &bi.devices[2], 0x100), 0, "port I/O");
	cr_assert_eq(vmm_guest_device_mmio_ok(&bi, &bi.devices[3], 0x100), 0, "too small");
	cr_assert_eq(vmm_guest_device_mmio_ok(&bi, &bi.devices[4], 0x100), 0, "would wrap");
}
