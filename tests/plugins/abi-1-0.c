/* SPDX-License-Identifier: MIT */
/*
 * abi-1-0.c - fixture: a plugin as built against plugin.h 1.0, before the
 * interrupt services: abi_version 1 and a descriptor of 1.0's size. A host
 * of 1.1 must load it and serve it as before.
 */
#include <stddef.h>

#include "fixture.h"

static uint32_t reg;

static int old_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		      const struct vmm_device_info *info, void **state)
{
	/* Only what 1.0 had: the window, the name, log(). */
	host->log(ctx, VMM_LOG_INFO, "1.0 plugin on a host of %u.%u, window of 0x%llx bytes",
		  VMM_PLUGIN_ABI_MAJOR(host->abi_version), VMM_PLUGIN_ABI_MINOR(host->abi_version),
		  (unsigned long long)info->length);
	*state = &reg;
	return 0;
}

static int old_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	*value = *(uint32_t *)state;
	return 0;
}

static int old_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	*(uint32_t *)state = (uint32_t)value;
	return 0;
}

static const struct vmm_plugin_desc desc = {
    .abi_version = 1, /* what every 1.0 plugin stored */
    .size = VMM_PLUGIN_DESC_MIN_SIZE,
    .name = "abi-1-0",
    .description = "built against plugin.h 1.0",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 4,
    .create = old_create,
    .read = old_read,
    .write = old_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
