/* SPDX-License-Identifier: MIT */
/* exit.c - stop the VM with an exit code through the testdev's EXIT register. */
#include "vmm/guestlib.h"
#include "testdev.h" /* installed as <vmm/testdev.h> */

void vmm_guest_exit(const struct vmm_guest_boot_info *bi, uint32_t code)
{
	const struct vmm_guest_device *td;

	if (vmm_guest_boot_info_valid(bi)) {
		td = vmm_guest_find_device(bi, "testdev");
		if (td && vmm_guest_device_mmio_ok(bi, td, TESTDEV_WINDOW_MIN))
			vmm_guest_mmio_write32(td->base + TESTDEV_REG_EXIT, code);
	}
	/* The write stops the VM; this only covers a VMM (or a config) that does not. */
	vmm_guest_halt();
}
