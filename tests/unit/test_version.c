/* SPDX-License-Identifier: MIT */
/* test_version.c - specification of vmm_version() against vmm.h's VMM_VERSION_* macros. */
#include <criterion/criterion.h>

#include <stdio.h>

#include "vmm/vmm.h"

Test(version, the_library_reports_the_version_of_the_header_it_was_built_with)
{
	cr_assert_str_eq(vmm_version(), VMM_VERSION_STRING);
}

Test(version, the_string_macro_spells_the_major_minor_and_patch_macros)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", VMM_VERSION_MAJOR, VMM_VERSION_MINOR,
		 VMM_VERSION_PATCH);
	cr_assert_str_eq(VMM_VERSION_STRING, want);
}
