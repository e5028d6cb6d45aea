/* SPDX-License-Identifier: MIT */
/*
 * unit.h - helpers shared by the unit tests: a call that
 * must succeed, a device that only claims a window.
 */
#ifndef TESTS_UNIT_H
#define TESTS_UNIT_H

#include <criterion/criterion.h>
#include <stdint.h>

#include "vmm/vmm.h"

/* Assert that a libvmm call returns 0, printing the errno and vmm_last_error() if not. */
#define OK(call)                                                                                   \
	do {                                                                                       \
		int ret_ = (call);                                                                 \
		cr_assert_eq(ret_, 0, "%s: %d (%s): %s", #call, ret_, vmm_strerror(ret_),          \
			     vmm_last_error());                                                    \
	} while (0)

static int test_null_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			    const struct vmm_device_info *info, void **state)
{
	*state = NULL;
	return 0;
}

static int test_null_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	*value = 0;
	return 0;
}

static int test_null_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	return 0;
}

/* A model that claims its MMIO window, reads zero and ignores writes. */
static const struct vmm_plugin_desc test_null_desc __attribute__((unused)) = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "null",
    .description = "claims a window, reads zero, ignores writes",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8,
    .min_length = 1,
    .create = test_null_create,
    .read = test_null_read,
    .write = test_null_write,
};

#endif
