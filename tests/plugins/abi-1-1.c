/* SPDX-License-Identifier: MIT */
/*
 * abi-1-1.c - fixture: a plugin as built against plugin.h 1.1, before the
 * typed key services: it reads its key raw with param() and raises its
 * line with irq_set(). A host of 1.2 must load it and serve it as before.
 */
#include <stddef.h>

#include "fixture.h"

/* The services table of 1.1 ended with msi_send. */
#define HOST_1_1_SIZE (offsetof(struct vmm_host_services, msi_send) + sizeof(void *))

static int old_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		      const struct vmm_device_info *info, void **state)
{
	const char *depth;
	int raised;

	*state = NULL;
	if (host->size < HOST_1_1_SIZE)
		return -ENOTSUP;
	depth = host->param(ctx, "depth");
	raised = host->irq_set(ctx, 0, 1);
	host->log(ctx, VMM_LOG_INFO, "1.1 plugin on a host of %u.%u: depth '%s', line 0 %s",
		  VMM_PLUGIN_ABI_MAJOR(host->abi_version), VMM_PLUGIN_ABI_MINOR(host->abi_version),
		  depth ? depth : "(none)", raised == 0 ? "raised" : "refused");
	return 0;
}

static const struct vmm_plugin_desc desc = {
    .abi_version = VMM_PLUGIN_ABI(1, 1),
    .size = VMM_PLUGIN_DESC_MIN_SIZE, /* 1.1 appended nothing to the descriptor */
    .name = "abi-1-1",
    .description = "built against plugin.h 1.1",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 4,
    .create = old_create,
    .read = fixture_read,
    .write = fixture_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
