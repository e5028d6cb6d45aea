/* SPDX-License-Identifier: MIT */
/* plugindir.c - the plugin folder this build installs into, compiled in from the Makefile. */
#include "vmm/vmm.h"

/*
 * The Makefile passes PLUGINDIR as configured, or as moved by a prefix given to make; this
 * file alone is rebuilt when it changes (build/gen/dirs).
 */
#ifndef VMM_PLUGINDIR
#error "VMM_PLUGINDIR must be defined (the Makefile passes it)"
#endif

const char *vmm_plugin_dir(void)
{
	return VMM_PLUGINDIR;
}
