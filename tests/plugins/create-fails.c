/* SPDX-License-Identifier: MIT */
/* create-fails.c - fixture: create() logs why and fails. */
#include "fixture.h"

static int failing_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	host->log(ctx, VMM_LOG_ERROR, "the fixture always refuses to start");
	return -ENODEV;
}

static const struct vmm_plugin_desc desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "create-fails",
    .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,
    .access_sizes = 1,
    .min_length = 1,
    .create = failing_create,
    .read = fixture_read,
    .write = fixture_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
