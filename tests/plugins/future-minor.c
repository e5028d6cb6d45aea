/* SPDX-License-Identifier: MIT */
/*
 * future-minor.c - fixture: a plugin built for a later minor of the host's
 * major (1.7), with descriptor fields the host does not know, and a host
 * service it looks for the documented way and does without.
 */
#include <stddef.h>
#include <stdlib.h>

#include "fixture.h"

#define FUTURE_MINOR 7u

/* What a 1.7 plugin.h might append to the host services: absent from this host's table. */
struct future_host_services {
	struct vmm_host_services base;
	int (*raise_irq)(struct vmm_host *ctx, unsigned line);
};

/* A host that called a field it does not know would end the test here. */
static void future_suspend(void *state)
{
	abort();
}

static int future_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			 const struct vmm_device_info *info, void **state)
{
	const struct future_host_services *fh = (const void *)host;

	*state = NULL;
	/* Members of 1.0 are in every table of major 1; later ones are checked by size. */
	if (!VMM_HOST_HAS(host, log))
		return -ENOTSUP;
	if (host->size >= offsetof(struct future_host_services, raise_irq) + sizeof(fh->raise_irq))
		return fh->raise_irq(ctx, 0);
	host->log(ctx, VMM_LOG_INFO,
		  "host ABI %u.%u has no raise_irq (services table %u bytes): polling instead",
		  VMM_PLUGIN_ABI_MAJOR(host->abi_version), VMM_PLUGIN_ABI_MINOR(host->abi_version),
		  host->size);
	return 0;
}

/* A 1.7 descriptor: 1.0's fields, then two this host has never heard of. */
static const struct {
	struct vmm_plugin_desc base;
	void (*suspend)(void *state);
	uint64_t irq_lines;
} desc = {
    .base =
	{
	    .abi_version = VMM_PLUGIN_ABI(VMM_PLUGIN_ABI_VERSION_MAJOR, FUTURE_MINOR),
	    .size = sizeof(desc),
	    .name = "future-minor",
	    .description = "a plugin built for ABI 1.7",
	    .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,
	    .access_sizes = 1 | 2 | 4 | 8,
	    .min_length = 1,
	    .create = future_create,
	    .read = fixture_read,
	    .write = fixture_write,
	},
    .suspend = future_suspend,
    .irq_lines = 0xffffffffffffffffull,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc.base;
}
