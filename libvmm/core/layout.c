/* SPDX-License-Identifier: MIT */
/*
 * layout.c - the address-layout rules: where memslots
 * and device windows may lie, each with its one message.
 */
#include <stdarg.h>
#include <stdio.h>

#include "vmm_internal.h"

/*
 * Every rule on where memory and windows may lie is here, and nowhere
 * else: the memslot table and the bus keep their ranges disjoint by
 * calling these, the VM calls them with the request's origin, and the
 * configuration parser checks syntax only. A message names the origin
 * ("vm.ini:12: ...") when the request came from a configuration file.
 */

#define PIO_END 0x10000ull
#define GIB	(1ull << 30)

#define UNDER_WINDOW "only a read-only memslot may lie under a device window"

/* Every vCPU's local APIC answers on this page, whatever else lies there (guest.h). */
static int lapic_clash(const struct vmmi_origin *at, const char *what, const char *name,
		       uint64_t base, uint64_t length)
{
	if (!length || base >= VMM_GUEST_LAPIC_BASE + VMMI_LAPIC_PAGE_SIZE ||
	    base + length <= VMM_GUEST_LAPIC_BASE)
		return 0;
	return vmmi_error_at(
	    at, -EEXIST, "%s '%s' [0x%llx, 0x%llx) overlaps the local APIC page [0x%llx, 0x%llx)",
	    what, name, (unsigned long long)base, (unsigned long long)(base + length),
	    VMM_GUEST_LAPIC_BASE, VMM_GUEST_LAPIC_BASE + VMMI_LAPIC_PAGE_SIZE);
}

int vmmi_layout_slot_clash(const struct vmmi_origin *at, const char *name, uint64_t gpa,
			   uint64_t size, const struct vmmi_slot *other)
{
	return vmmi_error_at(
	    at, -EEXIST, "memslot '%s' [0x%llx, 0x%llx) overlaps memslot '%s' [0x%llx, 0x%llx)",
	    name, (unsigned long long)gpa, (unsigned long long)(gpa + size), other->name,
	    (unsigned long long)other->gpa, (unsigned long long)(other->gpa + other->size));
}

int vmmi_layout_window_clash(const struct vmmi_origin *at, const char *name, uint64_t base,
			     uint64_t length, const struct vmmi_window *other)
{
	const char *oname = other->dev && other->dev->name ? other->dev->name : "?";

	return vmmi_error_at(
	    at, -EEXIST, "device '%s' [0x%llx, 0x%llx) overlaps device '%s' [0x%llx, 0x%llx)", name,
	    (unsigned long long)base, (unsigned long long)(base + length), oname,
	    (unsigned long long)other->base, (unsigned long long)(other->base + other->length));
}

int vmmi_layout_slot(const struct vmmi_slot_table *slots, const struct vmmi_bus *mmio,
		     const struct vmmi_origin *at, const char *name, uint64_t gpa, uint64_t size,
		     uint32_t flags, const struct vmmi_slot *self)
{
	const struct vmmi_slot *s;
	const struct vmmi_window *w;

	if (!name)
		name = "";
	if (!vmmi_range_ok(gpa, size, VMMI_GPA_LIMIT))
		return vmmi_error_at(at, -ERANGE,
				     "memslot '%s' at 0x%llx, size 0x%llx, ends past the "
				     "guest-physical limit 0x%llx",
				     name, (unsigned long long)gpa, (unsigned long long)size,
				     VMMI_GPA_LIMIT);
	if (lapic_clash(at, "memslot", name, gpa, size))
		return -EEXIST;
	if (!size || !slots)
		return 0; /* nothing to overlap (the table refuses an empty slot), or no table */
	/* Sorted and disjoint: walk the slots in the range, skipping the one that moves. */
	s = vmmi_slots_overlap(slots, gpa, size);
	for (; s && s < slots->slots + slots->n && s->gpa < gpa + size; s++)
		if (s != self)
			return vmmi_layout_slot_clash(at, name, gpa, size, s);
	/* A window over read-only memory takes its writes; over writable memory it would take
	 * nothing. */
	w = mmio && !(flags & VMM_MEMSLOT_READONLY) ? vmmi_bus_overlap(mmio, gpa, size) : NULL;
	if (w)
		return vmmi_error_at(at, -EEXIST,
				     "memslot '%s' [0x%llx, 0x%llx) overlaps device '%s' [0x%llx, "
				     "0x%llx): " UNDER_WINDOW,
				     name, (unsigned long long)gpa,
				     (unsigned long long)(gpa + size), w->dev ? w->dev->name : "?",
				     (unsigned long long)w->base,
				     (unsigned long long)(w->base + w->length));
	return 0;
}

int vmmi_layout_window(const struct vmmi_slot_table *slots, const struct vmmi_bus *bus,
		       const struct vmmi_origin *at, const char *name, uint32_t space,
		       uint64_t base, uint64_t length)
{
	const struct vmmi_window *w;
	const struct vmmi_slot *s;

	if (!length || base + length - 1 < base)
		return vmmi_error_at(at, -EINVAL,
				     "device '%s' window at 0x%llx, size 0x%llx, is empty or wraps",
				     name, (unsigned long long)base, (unsigned long long)length);
	if (space == VMM_SPACE_PIO && !vmmi_range_ok(base, length, PIO_END))
		return vmmi_error_at(
		    at, -ERANGE, "device '%s' ports at 0x%llx, size 0x%llx, end past port 0xffff",
		    name, (unsigned long long)base, (unsigned long long)length);
	/* The guest-physical limit is higher: a window must also be reachable through the boot page
	 * tables. */
	if (space == VMM_SPACE_MMIO && !vmmi_range_ok(base, length, VMMI_IDENTITY_MAX))
		return vmmi_error_at(at, -ERANGE,
				     "device '%s' window at 0x%llx, size 0x%llx, ends past the "
				     "boot identity map, which ends at 0x%llx (%llu GiB)",
				     name, (unsigned long long)base, (unsigned long long)length,
				     VMMI_IDENTITY_MAX, VMMI_IDENTITY_MAX / GIB);
	if (space == VMM_SPACE_MMIO && lapic_clash(at, "device", name, base, length))
		return -EEXIST;
	w = vmmi_bus_overlap(bus, base, length);
	if (w)
		return vmmi_layout_window_clash(at, name, base, length, w);
	if (space != VMM_SPACE_MMIO || !slots)
		return 0;
	s = vmmi_slots_overlap(slots, base, length);
	for (; s && s < slots->slots + slots->n && s->gpa < base + length; s++)
		if (!(s->flags & VMM_MEMSLOT_READONLY))
			return vmmi_error_at(at, -EEXIST,
					     "device '%s' [0x%llx, 0x%llx) overlaps memslot '%s' "
					     "[0x%llx, 0x%llx): " UNDER_WINDOW,
					     name, (unsigned long long)base,
					     (unsigned long long)(base + length), s->name,
					     (unsigned long long)s->gpa,
					     (unsigned long long)(s->gpa + s->size));
	return 0;
}

int vmmi_layout_identity_top(const struct vmmi_slot_table *slots, const struct vmmi_bus *mmio,
			     uint64_t *top)
{
	uint64_t t = 4 * GIB;

	for (size_t i = 0; i < slots->n; i++) {
		const struct vmmi_slot *s = &slots->slots[i];

		if (!vmmi_range_ok(s->gpa, s->size, VMMI_IDENTITY_MAX))
			return vmmi_error(
			    -ERANGE,
			    "memslot '%s' [0x%llx, 0x%llx) ends past the boot identity "
			    "map, which ends at 0x%llx (%llu GiB)",
			    s->name, (unsigned long long)s->gpa,
			    (unsigned long long)(s->gpa + s->size), VMMI_IDENTITY_MAX,
			    VMMI_IDENTITY_MAX / GIB);
		if (s->gpa + s->size > t)
			t = s->gpa + s->size;
	}
	/* vmmi_layout_window() kept every MMIO window inside the map. */
	for (size_t i = 0; i < mmio->n; i++)
		if (mmio->w[i].base + mmio->w[i].length > t)
			t = mmio->w[i].base + mmio->w[i].length;
	*top = t;
	return 0;
}
