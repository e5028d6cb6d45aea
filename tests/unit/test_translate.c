/* SPDX-License-Identifier: MIT */
/*
 * test_translate.c - specification of vmm_translate(): GPA
 * -> memslot and HVA -> HPA, device windows, unclaimed GPAs.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagemap.h"
#include "unit.h"

#include "vmm/vmm.h"

#define LOW_GPA	  0x0ull
#define LOW_SIZE  (1ull << 20)
#define HIGH_GPA  0x400000ull
#define HIGH_SIZE 0x10000ull
#define DEV_BASE  0xfe000000ull
#define DEV_LEN	  0x1000ull
#define NOWHERE	  0x50000000ull /* neither RAM nor a device window */

static struct vmm_vm *vm;
static uint8_t *low, *high;

/* An emu VM (no /dev/kvm needed) with two RAM slots and one MMIO device. */
static void setup(void)
{
	struct vmm_vm_options opts;
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "test0",
	    .space = VMM_SPACE_MMIO,
	    .base = DEV_BASE,
	    .length = DEV_LEN,
	};

	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", LOW_GPA, LOW_SIZE, (void **)&low));
	OK(vmm_memslot_alloc(vm, "high", HIGH_GPA, HIGH_SIZE, (void **)&high));
	OK(vmm_device_add(vm, &test_null_desc, &cfg, NULL));
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(translate, .init = setup, .fini = teardown);

static struct vmm_translation xlate(uint64_t gpa)
{
	struct vmm_translation t;

	memset(&t, 0xa5, sizeof(t)); /* junk: every field must be written */
	t.size = sizeof(t);
	OK(vmm_translate(vm, gpa, &t));
	cr_assert_eq(t.size, sizeof(t));
	cr_assert_eq(t.gpa, gpa);
	return t;
}

static bool pagemap_readable(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* ---- RAM: GPA -> slot and HVA ---- */

Test(translate, ram_gpa_gives_its_slot_and_the_hva_of_the_allocation)
{
	struct vmm_translation t = xlate(HIGH_GPA + 0x1234);

	cr_assert_eq(t.kind, VMM_XLATE_RAM);
	cr_assert_str_eq(t.slot, "high");
	cr_assert_eq(t.slot_gpa, HIGH_GPA);
	cr_assert_eq(t.slot_size, HIGH_SIZE);
	cr_assert_eq(t.hva, high + 0x1234);
	cr_assert_str_empty(t.device);
	cr_assert_str_empty(t.model);
	cr_assert_eq(t.device_base, 0);
	cr_assert_eq(t.device_length, 0);
}

Test(translate, hva_agrees_with_vmm_gpa_to_hva)
{
	struct vmm_translation t = xlate(LOW_GPA + 0xabcd);
	void *hva;

	OK(vmm_gpa_to_hva(vm, LOW_GPA + 0xabcd, 1, &hva));
	cr_assert_eq(t.hva, hva);
}

Test(translate, last_byte_of_a_slot_is_ram_and_the_byte_after_it_is_not)
{
	struct vmm_translation last = xlate(HIGH_GPA + HIGH_SIZE - 1);
	struct vmm_translation after = xlate(HIGH_GPA + HIGH_SIZE);

	cr_assert_eq(last.kind, VMM_XLATE_RAM);
	cr_assert_str_eq(last.slot, "high");
	cr_assert_eq(last.hva, high + HIGH_SIZE - 1);
	cr_assert_eq(after.kind, VMM_XLATE_UNCLAIMED);
	cr_assert_null(after.hva);
}

Test(translate, first_byte_of_a_slot_is_ram_and_the_byte_before_it_is_not)
{
	struct vmm_translation first = xlate(HIGH_GPA);
	struct vmm_translation before = xlate(HIGH_GPA - 1);

	cr_assert_eq(first.kind, VMM_XLATE_RAM);
	cr_assert_eq(first.hva, high);
	cr_assert_eq(before.kind, VMM_XLATE_UNCLAIMED);
}

Test(translate, removed_slot_no_longer_translates)
{
	OK(vmm_memslot_remove(vm, HIGH_GPA));
	cr_assert_eq(xlate(HIGH_GPA).kind, VMM_XLATE_UNCLAIMED);
}

/* ---- RAM: HVA -> HPA through the host page tables ---- */

Test(translate, untouched_page_has_no_hpa)
{
	/* vmm_memslot_alloc() reserves lazily: nothing has written this page. */
	struct vmm_translation t = xlate(LOW_GPA + 0x80000);

	if (pagemap_readable())
		cr_assert_eq(t.hpa_status, VMM_HPA_NOT_PRESENT, "hpa_status %d", t.hpa_status);
	else
		cr_assert_eq(t.hpa_status, VMM_HPA_UNAVAILABLE, "hpa_status %d", t.hpa_status);
	cr_assert_eq(t.hpa, 0);
}

Test(translate, touched_page_has_an_hpa_where_pfns_are_visible)
{
	struct vmm_translation t;

	low[0x3000] = 1; /* fault the page in through the HVA */
	t = xlate(LOW_GPA + 0x3000);
	if (test_pfns_visible()) {
		cr_assert_eq(t.hpa_status, VMM_HPA_OK, "hpa_status %d, hpa_error %d", t.hpa_status,
			     t.hpa_error);
		cr_assert_neq(t.hpa, 0);
		cr_assert_eq(t.hpa % 4096, 0, "a page start must map to a page start: 0x%llx",
			     (unsigned long long)t.hpa);
		cr_assert_eq(t.hpa_error, 0);
	} else {
		cr_assert_eq(t.hpa_status, VMM_HPA_UNAVAILABLE, "hpa_status %d", t.hpa_status);
		cr_assert_neq(t.hpa_error, 0);
		cr_assert_eq(t.hpa, 0);
	}
}

Test(translate, two_gpas_in_one_page_have_hpas_as_far_apart_as_their_offsets)
{
	struct vmm_translation a, b;

	if (!test_pfns_visible())
		cr_skip_test("PFNs are hidden here (needs root with CAP_SYS_ADMIN)");
	low[0x5000] = 1;
	a = xlate(LOW_GPA + 0x5010);
	b = xlate(LOW_GPA + 0x5ff8);
	cr_assert_eq(a.hpa_status, VMM_HPA_OK);
	cr_assert_eq(b.hpa_status, VMM_HPA_OK);
	cr_assert_eq(b.hpa - a.hpa, 0x5ff8 - 0x5010, "0x%llx and 0x%llx", (unsigned long long)a.hpa,
		     (unsigned long long)b.hpa);
}

Test(translate, two_slots_on_the_same_host_page_share_its_hpa)
{
	struct vmm_translation a, b;

	if (!test_pfns_visible())
		cr_skip_test("PFNs are hidden here (needs root with CAP_SYS_ADMIN)");
	/* The memslot is the only indirection: another GPA for the same host page is the same
	 * frame. */
	OK(vmm_memslot_add(vm, "alias", 0x800000, 0x1000, low + 0x7000));
	low[0x7000] = 1;
	a = xlate(LOW_GPA + 0x7008);
	b = xlate(0x800008);
	cr_assert_eq(b.kind, VMM_XLATE_RAM);
	cr_assert_str_eq(b.slot, "alias");
	cr_assert_eq(a.hva, b.hva);
	cr_assert_eq(a.hpa_status, VMM_HPA_OK);
	cr_assert_eq(b.hpa_status, VMM_HPA_OK);
	cr_assert_eq(a.hpa, b.hpa);
}

/* ---- not memory ---- */

Test(translate, gpa_in_a_device_window_names_the_device)
{
	struct vmm_translation t = xlate(DEV_BASE + 0x10);

	cr_assert_eq(t.kind, VMM_XLATE_DEVICE);
	cr_assert_str_eq(t.device, "test0");
	cr_assert_str_eq(t.model, "null");
	cr_assert_eq(t.space, VMM_SPACE_MMIO);
	cr_assert_eq(t.device_base, DEV_BASE);
	cr_assert_eq(t.device_length, DEV_LEN);
	cr_assert_null(t.hva);
	cr_assert_eq(t.hpa_status, VMM_HPA_NONE);
	cr_assert_str_empty(t.slot);
}

Test(translate, last_byte_of_a_device_window_is_the_device_and_the_next_is_not)
{
	cr_assert_eq(xlate(DEV_BASE + DEV_LEN - 1).kind, VMM_XLATE_DEVICE);
	cr_assert_eq(xlate(DEV_BASE + DEV_LEN).kind, VMM_XLATE_UNCLAIMED);
}

Test(translate, gpa_nothing_claims_is_unclaimed_with_every_other_field_zero)
{
	struct vmm_translation t = xlate(NOWHERE), zero;

	cr_assert_eq(t.kind, VMM_XLATE_UNCLAIMED);
	memset(&zero, 0, sizeof(zero));
	zero.size = sizeof(zero);
	zero.gpa = NOWHERE;
	cr_assert(memcmp(&t, &zero, sizeof(t)) == 0, "an unclaimed GPA left junk in the result");
}

Test(translate, gpa_above_every_limit_is_unclaimed)
{
	cr_assert_eq(xlate(UINT64_MAX).kind, VMM_XLATE_UNCLAIMED);
}

/* ---- the size tag and arguments ---- */

Test(translate, too_small_size_is_refused_and_leaves_out_untouched)
{
	struct vmm_translation t, before;

	memset(&t, 0x5a, sizeof(t));
	/* Smaller than the first version of the struct, which ended before slot_flags. */
	t.size = offsetof(struct vmm_translation, slot_flags) - 1;
	before = t;
	cr_assert_eq(vmm_translate(vm, HIGH_GPA, &t), -EINVAL);
	cr_assert_neq(vmm_last_error()[0], '\0');
	cr_assert(memcmp(&t, &before, sizeof(t)) == 0);
}

Test(translate, first_version_size_is_served_without_writing_past_it)
{
	/* A caller built before slot_flags existed: its struct ends there. */
	size_t v1 = offsetof(struct vmm_translation, slot_flags);
	struct vmm_translation t;

	memset(&t, 0x5a, sizeof(t));
	t.size = v1;
	OK(vmm_translate(vm, HIGH_GPA, &t));
	cr_assert_eq(t.kind, VMM_XLATE_RAM);
	cr_assert_eq(t.size, v1);
	for (size_t i = v1; i < sizeof(t); i++)
		cr_assert_eq(((unsigned char *)&t)[i], 0x5a,
			     "byte %zu past the caller's struct was written", i);
}

Test(translate, larger_size_zeroes_what_this_version_does_not_know)
{
	/* A caller built against a later header with one more field. */
	struct {
		struct vmm_translation t;
		uint64_t later_field;
	} big;

	memset(&big, 0xa5, sizeof(big));
	big.t.size = sizeof(big);
	OK(vmm_translate(vm, HIGH_GPA, &big.t));
	cr_assert_eq(big.t.size, sizeof(big));
	cr_assert_eq(big.t.kind, VMM_XLATE_RAM);
	cr_assert_eq(big.later_field, 0);
}

Test(translate, null_arguments_are_refused)
{
	struct vmm_translation t = {.size = sizeof(t)};

	cr_assert_eq(vmm_translate(NULL, 0, &t), -EINVAL);
	cr_assert_eq(vmm_translate(vm, 0, NULL), -EINVAL);
}
