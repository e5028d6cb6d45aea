/* SPDX-License-Identifier: MIT */
/* bootinfo.c - read the VMM's boot info block without trusting its counts. */
#include "vmm/guestlib.h"

int vmm_guest_boot_info_valid(const struct vmm_guest_boot_info *bi)
{
	return bi->magic == VMM_GUEST_BOOT_MAGIC && bi->abi_version == VMM_GUEST_ABI_VERSION;
}

/* Clamped to the array sizes, so that a broken VMM gives wrong answers, not reads past the block.
 */
uint32_t vmm_guest_ram_count(const struct vmm_guest_boot_info *bi)
{
	return bi->ram_count < VMM_GUEST_MAX_RAM ? bi->ram_count : VMM_GUEST_MAX_RAM;
}

uint32_t vmm_guest_device_count(const struct vmm_guest_boot_info *bi)
{
	return bi->device_count < VMM_GUEST_MAX_DEVICES ? bi->device_count : VMM_GUEST_MAX_DEVICES;
}

uint64_t vmm_guest_ram_size(const struct vmm_guest_boot_info *bi)
{
	uint64_t sum = 0;

	for (uint32_t i = 0; i < vmm_guest_ram_count(bi); i++) {
		if (bi->ram[i].size > UINT64_MAX - sum)
			return UINT64_MAX;
		sum += bi->ram[i].size;
	}
	return sum;
}

uint64_t vmm_guest_ram_end(const struct vmm_guest_boot_info *bi)
{
	uint64_t end = 0;

	for (uint32_t i = 0; i < vmm_guest_ram_count(bi); i++) {
		uint64_t e = bi->ram[i].gpa + bi->ram[i].size;

		if (e < bi->ram[i].gpa)
			return UINT64_MAX;
		if (e > end)
			end = e;
	}
	return end;
}

/* Names are compared within VMM_GUEST_NAME_MAX bytes: a name the VMM left unterminated stays
 * inside. */
const struct vmm_guest_device *vmm_guest_find_device(const struct vmm_guest_boot_info *bi,
						     const char *plugin)
{
	for (uint32_t i = 0; i < vmm_guest_device_count(bi); i++)
		if (!strncmp(bi->devices[i].plugin, plugin, VMM_GUEST_NAME_MAX))
			return &bi->devices[i];
	return NULL;
}

const struct vmm_guest_device *vmm_guest_find_device_named(const struct vmm_guest_boot_info *bi,
							   const char *name)
{
	for (uint32_t i = 0; i < vmm_guest_device_count(bi); i++)
		if (!strncmp(bi->devices[i].name, name, VMM_GUEST_NAME_MAX))
			return &bi->devices[i];
	return NULL;
}

int vmm_guest_device_mmio_ok(const struct vmm_guest_boot_info *bi,
			     const struct vmm_guest_device *dev, uint64_t min_size)
{
	/* Written so that no sum can wrap. */
	return dev->kind == VMM_GUEST_DEV_MMIO && dev->size >= min_size &&
	       dev->base <= bi->identity_limit && bi->identity_limit - dev->base >= min_size;
}
