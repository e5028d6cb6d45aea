/* SPDX-License-Identifier: MIT */
/*
 * bus.c - one device address space (MMIO or PIO):
 * sorted, non-overlapping windows with O(log n) lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "core/range.h"
#include "vmm_internal.h"

/*
 * Changes (insert, remove, free) must be serialised by the caller and happen
 * only while no vCPU runs; vmmi_bus_find() is then safe from any number of
 * vCPU threads at once, as it only reads. The container is core/range.h.
 */
_Static_assert(offsetof(struct vmmi_window, base) == offsetof(struct vmmi_range, base) &&
		   offsetof(struct vmmi_window, length) == offsetof(struct vmmi_range, length),
	       "a window begins with a struct vmmi_range");

#define BUS_ARGS(bus) (bus)->w, (bus)->n, sizeof(struct vmmi_window)

/* On the exit-dispatch hot path: no allocation, locking or formatting. */
const struct vmmi_window *vmmi_bus_find(const struct vmmi_bus *bus, uint64_t addr)
{
	size_t i = vmmi_range_find(BUS_ARGS(bus), addr);

	return i < bus->n ? &bus->w[i] : NULL;
}

const struct vmmi_window *vmmi_bus_overlap(const struct vmmi_bus *bus, uint64_t base,
					   uint64_t length)
{
	size_t i = vmmi_range_overlap(BUS_ARGS(bus), base, length);

	return i < bus->n ? &bus->w[i] : NULL;
}

static const char *dev_name(const struct vmm_device *dev)
{
	return dev && dev->name ? dev->name : "?";
}

int vmmi_bus_insert(struct vmmi_bus *bus, uint64_t base, uint64_t length, struct vmm_device *dev,
		    const struct vmmi_window **clash)
{
	const struct vmmi_window *other;
	struct vmmi_window w = {.base = base, .length = length, .dev = dev};

	if (clash)
		*clash = NULL;
	if (length == 0)
		return vmmi_error(-EINVAL, "device '%s' window at 0x%llx has zero length",
				  dev_name(dev), (unsigned long long)base);
	if (length - 1 > UINT64_MAX - base)
		return vmmi_error(
		    -EINVAL, "device '%s' window 0x%llx + 0x%llx wraps the address space",
		    dev_name(dev), (unsigned long long)base, (unsigned long long)length);

	other = vmmi_bus_overlap(bus, base, length);
	if (other) {
		if (clash)
			*clash = other;
		/* The VM checked the layout (layout.c): this guards the bus's own order. */
		return vmmi_layout_window_clash(NULL, dev_name(dev), base, length, other);
	}
	if (vmmi_range_reserve((void **)&bus->w, bus->n, &bus->cap, sizeof(w),
			       SIZE_MAX / sizeof(w)))
		return vmmi_error(-ENOMEM, "device '%s': out of memory", dev_name(dev));
	vmmi_range_insert(bus->w, &bus->n, sizeof(w), &w);
	return 0;
}

int vmmi_bus_remove(struct vmmi_bus *bus, uint64_t base)
{
	size_t i = vmmi_range_starting(BUS_ARGS(bus), base);

	if (i == bus->n)
		return vmmi_error(-ENOENT, "no device window starts at 0x%llx",
				  (unsigned long long)base);
	vmmi_range_delete(bus->w, &bus->n, sizeof(bus->w[0]), i, NULL);
	return 0;
}

void vmmi_bus_free(struct vmmi_bus *bus)
{
	free(bus->w);
	memset(bus, 0, sizeof(*bus));
}
