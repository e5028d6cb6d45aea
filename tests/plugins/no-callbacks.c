/* SPDX-License-Identifier: MIT */
/* no-callbacks.c - fixture: a descriptor of the right version and size but without read/write. */
#include "fixture.h"

static const struct vmm_plugin_desc desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "no-callbacks",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = 4,
    .min_length = 1,
    .create = fixture_create,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
