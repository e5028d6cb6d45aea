/* SPDX-License-Identifier: MIT */
/*
 * bad-abi.c - fixture: a descriptor of another major ABI
 * version (2.0): the host must refuse it, naming both majors.
 */
#include "fixture.h"

static const struct vmm_plugin_desc desc = FIXTURE_DESC(
    VMM_PLUGIN_ABI(VMM_PLUGIN_ABI_VERSION_MAJOR + 1, 0), sizeof(struct vmm_plugin_desc));

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
