/* SPDX-License-Identifier: MIT */
/* no-entry.c - fixture: a shared object that exports no vmm_plugin_entry symbol. */
#include "vmm/plugin.h"

__attribute__((visibility("default"))) int not_a_plugin(void);

int not_a_plugin(void)
{
	return 42;
}
