/* SPDX-License-Identifier: MIT */
/* null-desc.c - fixture: the entry point returns no descriptor. */
#include "vmm/plugin.h"

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return 0;
}
