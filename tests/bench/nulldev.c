/* SPDX-License-Identifier: MIT */
/* nulldev.c - the benchmark's no-op device plugin: reads return 0, writes are dropped. */

/*
 * The device the exit rows measure: it costs as little as a device can, so
 * a row's figure is the VMM's exit path (the plugin call included) and not
 * the model. Any space, any window length; accesses of 1, 2 and 4 bytes,
 * which is what Unicorn's own MMIO regions (the emu baseline) serve. Built
 * with NULLDEV_WIDE (nulldev8.so) it takes 8-byte accesses too: on emu such
 * a device's window is watched by a memory hook to see their full width.
 */

#include <stdint.h>

#include "vmm/plugin.h"

static int nulldev_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	*state = NULL;
	return 0;
}

static int nulldev_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	*value = 0;
	return 0;
}

static int nulldev_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	return 0;
}

static const struct vmm_plugin_desc nulldev_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "nulldev",
    .description = "no-op device for benchmarks: reads 0, ignores writes",
    .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,
#ifdef NULLDEV_WIDE
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8,
#else
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4,
#endif
    .min_length = 1,
    .create = nulldev_create,
    .read = nulldev_read,
    .write = nulldev_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &nulldev_desc;
}
