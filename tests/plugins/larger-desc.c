/* SPDX-License-Identifier: MIT */
/*
 * larger-desc.c - fixture: a descriptor of the host's major,
 * larger than the host's struct: accepted, the extra bytes unread.
 */
#include "fixture.h"

/* The host's descriptor and more: bytes a host of this version never looks at. */
static const struct {
	struct vmm_plugin_desc base;
	uint64_t extra[8];
} desc = {
    .base = FIXTURE_DESC(VMM_PLUGIN_ABI_VERSION, sizeof(desc)),
    .extra = {0xdeadbeefdeadbeefull, 1, 2, 3, 4, 5, 6, 7},
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc.base;
}
