/* SPDX-License-Identifier: MIT */
/* small-desc.c - fixture: a descriptor whose size is too small to hold ABI v1's fields. */
#include <stddef.h>

#include "fixture.h"

static const struct vmm_plugin_desc desc =
    FIXTURE_DESC(VMM_PLUGIN_ABI_VERSION, offsetof(struct vmm_plugin_desc, create));

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
