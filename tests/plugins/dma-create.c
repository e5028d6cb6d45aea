/* SPDX-License-Identifier: MIT */
/* dma-create.c - fixture: a model whose create() uses DMA, which plugin.h allows. */
#include <stdlib.h>

#include "fixture.h"

struct dc_state {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;
	uint64_t gpa;
};

/* Reads 8 bytes at "gpa" (default 0x1000) and writes them back plus one. */
static int dc_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		     const struct vmm_device_info *info, void **state)
{
	const char *at = host->param(ctx, "gpa");
	struct dc_state *s;
	uint64_t v;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->ctx = ctx;
	s->gpa = at ? strtoull(at, NULL, 0) : 0x1000;
	ret = host->mem_read(ctx, s->gpa, &v, sizeof(v));
	if (ret == 0) {
		v++;
		ret = host->mem_write(ctx, s->gpa, &v, sizeof(v));
	}
	if (ret < 0) {
		free(s);
		return ret;
	}
	*state = s;
	return 0;
}

static void dc_destroy(void *state)
{
	free(state);
}

static const struct vmm_plugin_desc desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "dma-create",
    .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,
    .access_sizes = 1 | 2 | 4 | 8,
    .min_length = 1,
    .create = dc_create,
    .destroy = dc_destroy,
    .read = fixture_read,
    .write = fixture_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
