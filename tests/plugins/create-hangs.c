/* SPDX-License-Identifier: MIT */
/* create-hangs.c - fixture: create() does not return for a minute, like a device stuck opening its
 * backend. */
#include <time.h>

#include "fixture.h"

static int hanging_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	struct timespec left = {60, 0};

	while (nanosleep(&left, &left) != 0)
		;
	return -ETIMEDOUT;
}

static const struct vmm_plugin_desc desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "create-hangs",
    .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,
    .access_sizes = 1,
    .min_length = 1,
    .create = hanging_create,
    .read = fixture_read,
    .write = fixture_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
