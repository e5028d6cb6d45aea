/* SPDX-License-Identifier: MIT */
/*
 * left_out.c - on a build without a backend (./configure
 * --disable-emu), a test that asks for it is skipped, saying why.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "left_out.h"

/*
 * The unit tests link with -Wl,--wrap=vmm_vm_create, so every VM a test
 * creates, directly or through vmm_vm_create_from_config(), comes here.
 */
int __wrap_vmm_vm_create(const struct vmm_vm_options *opts, struct vmm_vm **out)
{
	int ret = __real_vmm_vm_create(opts, out);

	if (ret == -ENODEV && strstr(vmm_last_error(), LEFT_OUT_TEXT))
		cr_skip_test("%s", vmm_last_error());
	return ret;
}
