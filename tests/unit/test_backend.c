/* SPDX-License-Identifier: MIT */
/*
 * test_backend.c - specification of the backend table: names,
 * probes, auto's choice and its reason, left-out backends.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "left_out.h"
#include "unit.h"
#include "vmm/vmm.h"

static bool built_in(enum vmm_accel accel)
{
	char why[256];

	return vmm_accel_probe(accel, why, sizeof(why)) != -ENOTSUP;
}

Test(backend, every_name_parses_back_to_its_accel)
{
	static const enum vmm_accel all[] = {VMM_ACCEL_AUTO, VMM_ACCEL_KVM, VMM_ACCEL_EMU};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		enum vmm_accel got = (enum vmm_accel) - 1;

		cr_assert_not_null(vmm_accel_name(all[i]));
		OK(vmm_accel_parse(vmm_accel_name(all[i]), &got));
		cr_assert_eq(got, all[i]);
	}
	cr_assert_null(vmm_accel_name((enum vmm_accel)42));
}

Test(backend, an_unknown_name_lists_the_known_ones)
{
	enum vmm_accel got = VMM_ACCEL_KVM;

	cr_assert_eq(vmm_accel_parse("hvf", &got), -EINVAL);
	cr_assert_eq(got, VMM_ACCEL_KVM, "the output changed on failure");
	cr_assert_str_eq(vmm_last_error(), "unknown accelerator 'hvf' (expected auto, kvm or emu)");
}

Test(backend, an_unknown_accel_is_refused_by_create)
{
	struct vmm_vm_options opts;
	struct vmm_vm *vm = NULL;

	vmm_vm_options_init(&opts);
	opts.accel = (enum vmm_accel)42;
	cr_assert_eq(vmm_vm_create(&opts, &vm), -EINVAL);
	cr_assert_null(vm);
	cr_assert_eq(vmm_accel_probe((enum vmm_accel)42, NULL, 0), -EINVAL);
}

Test(backend, auto_says_which_backend_it_took_and_why)
{
	struct vmm_vm_options opts;
	struct vmm_vm *vm;
	char why[256], kvm_why[256];
	int kvm = vmm_accel_probe(VMM_ACCEL_KVM, kvm_why, sizeof(kvm_why));

	vmm_vm_options_init(&opts);
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_accel_probe(VMM_ACCEL_AUTO, why, sizeof(why)));
	cr_assert_str_eq(vmm_vm_accel_reason(vm), why, "the probe and the VM disagree");
	if (kvm == 0) {
		cr_assert_eq(vmm_vm_accel(vm), VMM_ACCEL_KVM);
		cr_assert_str_eq(vmm_vm_accel_reason(vm), "auto: /dev/kvm is usable");
	} else if (kvm == -ENOTSUP) {
		cr_assert_eq(vmm_vm_accel(vm), VMM_ACCEL_EMU);
		cr_assert(!strncmp(vmm_vm_accel_reason(vm), "auto: Unicorn ", 14), "%s",
			  vmm_vm_accel_reason(vm));
	} else {
		cr_assert_eq(vmm_vm_accel(vm), VMM_ACCEL_EMU);
		cr_assert_str_eq(vmm_vm_accel_reason(vm),
				 strcat(strcat(strcpy(why, "auto: "), kvm_why), ", using emu"));
	}
	vmm_vm_destroy(vm);
}

Test(backend, a_backend_asked_for_says_so)
{
	enum vmm_accel accel = built_in(VMM_ACCEL_EMU) ? VMM_ACCEL_EMU : VMM_ACCEL_KVM;
	struct vmm_vm_options opts;
	struct vmm_vm *vm;
	char why[256];

	if (vmm_accel_probe(accel, why, sizeof(why)) < 0)
		cr_skip_test("%s: %s", vmm_accel_name(accel), why);
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	cr_assert_eq(vmm_vm_accel(vm), accel);
	cr_assert(!strncmp(vmm_vm_accel_reason(vm), "asked for: ", 11), "%s",
		  vmm_vm_accel_reason(vm));
	cr_assert_str_eq(vmm_vm_accel_reason(vm) + 11, why);
	vmm_vm_destroy(vm);
}

Test(backend, kvm_where_it_is_unusable_fails_saying_why_and_what_to_try)
{
	struct vmm_vm_options opts;
	struct vmm_vm *vm = NULL;
	char why[256];
	int ret = vmm_accel_probe(VMM_ACCEL_KVM, why, sizeof(why));

	if (ret == 0 || ret == -ENOTSUP)
		cr_skip_test("kvm is usable here, or not built in: %s", why);
	cr_assert(!strncmp(why, "/dev/kvm", 8), "%s", why);
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_KVM;
	cr_assert_eq(vmm_vm_create(&opts, &vm), -ENODEV);
	cr_assert_null(vm);
	cr_assert(strstr(vmm_last_error(), why), "%s", vmm_last_error());
	cr_assert(strstr(vmm_last_error(), built_in(VMM_ACCEL_EMU)
					       ? "(try accel = emu)"
					       : "(no other backend is usable here)"),
		  "%s", vmm_last_error());
}

/* Only a build that left one out runs these (./configure --disable-emu or --disable-kvm). */
static void check_left_out(enum vmm_accel accel)
{
	const char *name = vmm_accel_name(accel);
	char why[256], want[128];
	struct vmm_vm_options opts;
	struct vmm_vm *vm = NULL;
	enum vmm_accel got;

	if (built_in(accel))
		cr_skip_test("%s is built in: this build left out nothing to check", name);
	snprintf(want, sizeof(want), "backend %s is not built in (./configure --disable-%s)", name,
		 name);
	cr_assert_eq(vmm_accel_probe(accel, why, sizeof(why)), -ENOTSUP);
	cr_assert_str_eq(why, want);
	OK(vmm_accel_parse(name, &got)); /* a config naming it still parses */
	cr_assert_eq(got, accel);
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	cr_assert_eq(__real_vmm_vm_create(&opts, &vm), -ENODEV);
	cr_assert_null(vm);
	cr_assert_str_eq(vmm_last_error(), want);
}

Test(backend, emu_left_out_by_configure_says_so)
{
	check_left_out(VMM_ACCEL_EMU);
}

Test(backend, kvm_left_out_by_configure_says_so)
{
	check_left_out(VMM_ACCEL_KVM);
}
