/* SPDX-License-Identifier: MIT */
/* hello.c - the smallest useful guest: greet through the UART, say what it got, exit with 0. */
#include <vmm/guestlib.h>

/*
 * The guest kit's _start calls this on every vCPU with its own boot info.
 * Only vCPU 0 talks; the others return at once, which halts them.
 * Returning on vCPU 0 stops the VM with that exit code through the test
 * device, and vmm-run exits with it.
 */
int vmm_guest_main(const struct vmm_guest_boot_info *bi)
{
	if (!vmm_guest_boot_info_valid(bi))
		return 1; /* nothing can be trusted: with no testdev to find, this halts */
	if (bi->vcpu_index != 0)
		return 0;

	vmm_guest_console_init(bi);
	vmm_guest_printf("hello from the guest\n");
	vmm_guest_printf("vcpus: %u\n", (unsigned)bi->vcpu_count);
	vmm_guest_printf("ram: %llu MiB\n", (unsigned long long)(vmm_guest_ram_size(bi) >> 20));
	for (uint32_t i = 0; i < vmm_guest_device_count(bi); i++) {
		const struct vmm_guest_device *d = &bi->devices[i];

		/* %.*s: names are NUL terminated, but the bound costs nothing. */
		vmm_guest_printf("device: %.*s (%.*s) at %s 0x%llx\n", (int)VMM_GUEST_NAME_MAX,
				 d->name, (int)VMM_GUEST_NAME_MAX, d->plugin,
				 d->kind == VMM_GUEST_DEV_PIO ? "port" : "address",
				 (unsigned long long)d->base);
	}
	return 0;
}
