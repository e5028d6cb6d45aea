/* bad-abi.c - fixture: a descriptor from a future ABI version the host does not speak. */
#include "fixture.h"

static const struct vmm_plugin_desc desc = FIXTURE_DESC(VMM_PLUGIN_ABI_VERSION + 1,
							sizeof(struct vmm_plugin_desc));

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &desc;
}
