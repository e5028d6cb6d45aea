/* SPDX-License-Identifier: MIT */
/*
 * linux.c - vmm_load_linux(): a bzImage, its initrd and command line, the
 * zero page, e820, MP tables and the 64-bit entry of Linux's boot protocol.
 */
#include "vmm_internal.h"

int vmm_load_linux(struct vmm_vm *vm, const char *kernel, const char *initrd, const char *cmdline)
{
	(void)vm;
	(void)kernel;
	(void)initrd;
	(void)cmdline;
	return vmmi_error(-ENOSYS, "vmm_load_linux: not yet");
}
