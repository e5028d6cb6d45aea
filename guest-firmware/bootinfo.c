/* SPDX-License-Identifier: MIT */
/* bootinfo.c - the self-test's uses of the boot info: free GPAs and the memory map's report. */
#include "fw.h"

/*
 * If [gpa, gpa + len) overlaps a RAM range or an MMIO window, return 1 and
 * set *end to one past that range (saturated at 2^64 - 1).
 */
static int claimed(const struct vmm_guest_boot_info *bi, uint64_t gpa, uint64_t len, uint64_t *end)
{
	for (uint32_t i = 0; i < vmm_guest_ram_count(bi) + vmm_guest_device_count(bi); i++) {
		uint64_t base, size;

		if (i < vmm_guest_ram_count(bi)) {
			base = bi->ram[i].gpa;
			size = bi->ram[i].size;
		} else {
			const struct vmm_guest_device *d =
			    &bi->devices[i - vmm_guest_ram_count(bi)];

			if (d->kind != VMM_GUEST_DEV_MMIO)
				continue;
			base = d->base;
			size = d->size;
		}
		/* Overlap test written so that no sum can wrap. */
		if (gpa >= base ? gpa - base >= size : base - gpa >= len)
			continue;
		*end = base + size < base ? UINT64_MAX : base + size;
		return 1;
	}
	return 0;
}

/* First free page at or above from, below limit; 0 if there is none. */
static int free_page_from(const struct vmm_guest_boot_info *bi, uint64_t from, uint64_t limit,
			  uint64_t *gpa)
{
	const uint64_t page = VMM_GUEST_PAGE_SIZE;
	uint64_t end;

	while (from < limit && limit - from >= page) {
		if (!claimed(bi, from, page, &end)) {
			*gpa = from;
			return 1;
		}
		/* Skip past what claimed it; each step passes a whole region, so this ends. */
		if (end > UINT64_MAX - (page - 1))
			return 0;
		from = (end + page - 1) & ~(page - 1);
	}
	return 0;
}

/*
 * Find a page of guest-physical space that nothing claims but the identity
 * map still covers, for the unclaimed-access checks. Prefer the first 2 MiB
 * boundary past the end of RAM: it is the same GPA on every backend for a
 * given config, and the least likely to be special. Fall back to any hole.
 * Returns 1 and sets *gpa, or 0 if every page is claimed.
 */
int bootinfo_find_unclaimed(const struct vmm_guest_boot_info *bi, uint64_t *gpa)
{
	uint64_t start = vmm_guest_ram_end(bi);

	if (start <= UINT64_MAX - (2 * MIB - 1)) {
		start = (start + 2 * MIB - 1) & ~(2 * MIB - 1);
		if (free_page_from(bi, start, bi->identity_limit, gpa))
			return 1;
	}
	return free_page_from(bi, 0, bi->identity_limit, gpa);
}

static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case VMM_GUEST_DEV_MMIO:
		return "mmio";
	case VMM_GUEST_DEV_PIO:
		return "pio";
	default:
		return "?";
	}
}

/*
 * The memory map and device table, one line each. Everything here comes from
 * the config, so the lines are the same on every backend.
 */
void bootinfo_print(const struct vmm_guest_boot_info *bi)
{
	for (uint32_t i = 0; i < vmm_guest_ram_count(bi); i++)
		vmm_guest_printf("ram %u: gpa 0x%llx size 0x%llx%s\n", i,
				 (unsigned long long)bi->ram[i].gpa,
				 (unsigned long long)bi->ram[i].size,
				 bi->ram_readonly & (1u << i) ? " read-only" : "");
	for (uint32_t i = 0; i < vmm_guest_device_count(bi); i++) {
		const struct vmm_guest_device *d = &bi->devices[i];

		vmm_guest_printf("device %u: %.*s plugin %.*s %s base 0x%llx size 0x%llx\n", i,
				 (int)VMM_GUEST_NAME_MAX, d->name, (int)VMM_GUEST_NAME_MAX,
				 d->plugin, kind_name(d->kind), (unsigned long long)d->base,
				 (unsigned long long)d->size);
	}
}
