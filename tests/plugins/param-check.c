/* SPDX-License-Identifier: MIT */
/*
 * param-check.c - fixture: a model with one key, "mode"
 * (fast|slow), that counts creates and destroys.
 */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

/* Visible to the test through dlsym: proves destroy() runs exactly once per create(). */
VMM_PLUGIN_EXPORT int param_check_live;
extern int param_check_live;

static int pc_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		     const struct vmm_device_info *info, void **state)
{
	const char *mode = host->param(ctx, "mode");

	param_check_live++;
	*state = &param_check_live;
	if (mode && strcmp(mode, "fast") && strcmp(mode, "slow"))
		host->param_error(ctx, "mode", "'%s' is not fast or slow", mode);
	/* Returns 0 even after param_error(): the host must still refuse and destroy. */
	return 0;
}

static void pc_destroy(void *state)
{
	(*(int *)state)--;
}

static const struct vmm_plugin_desc desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "param-check",
    .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,
    .access_sizes = 1 | 2 | 4 | 8,
    .min_length = 1,
    .create = pc_create,
    .destroy = pc_destroy,
    .read = fixture_read,
    .write = fixture_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
