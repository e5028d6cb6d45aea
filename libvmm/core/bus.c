/* bus.c - one device address space (MMIO or PIO): sorted, non-overlapping windows with O(log n) lookup. */
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

/*
 * Changes (insert, remove, free) must be serialised by the caller and happen
 * only while no vCPU runs; vmmi_bus_find() is then safe from any number of
 * vCPU threads at once, as it only reads.
 *
 * A window may end exactly at 2^64 (base 0xffffffffffffffff, length 1), so
 * base + length is never computed: comparisons use the last byte or offsets.
 */

/* Index of the first window with base > addr (n if none). */
static size_t upper_bound(const struct vmmi_bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bus->w[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline bool window_contains(const struct vmmi_window *w, uint64_t addr)
{
	return addr >= w->base && addr - w->base < w->length;
}

/* On the exit-dispatch hot path: no allocation, locking or formatting. */
const struct vmmi_window *vmmi_bus_find(const struct vmmi_bus *bus, uint64_t addr)
{
	size_t i = upper_bound(bus, addr);

	if (i == 0 || !window_contains(&bus->w[i - 1], addr))
		return NULL;
	return &bus->w[i - 1];
}

const struct vmmi_window *vmmi_bus_overlap(const struct vmmi_bus *bus, uint64_t base, uint64_t length)
{
	uint64_t last;
	size_t i;

	if (length == 0)
		return NULL;
	/* A wrapping range is clamped at 2^64. */
	last = base + (length - 1) < base ? UINT64_MAX : base + (length - 1);

	/* Windows do not overlap, so only the one before base can reach into the range from the left. */
	i = upper_bound(bus, base);
	if (i > 0 && window_contains(&bus->w[i - 1], base))
		return &bus->w[i - 1];
	if (i < bus->n && bus->w[i].base <= last)
		return &bus->w[i];
	return NULL;
}

static const char *dev_name(const struct vmm_device *dev)
{
	return dev && dev->name ? dev->name : "?";
}

int vmmi_bus_insert(struct vmmi_bus *bus, uint64_t base, uint64_t length, struct vmm_device *dev,
		    const struct vmmi_window **clash)
{
	const struct vmmi_window *other;
	size_t i;

	if (clash)
		*clash = NULL;
	if (length == 0)
		return vmmi_error(-EINVAL, "device '%s' window at 0x%llx has zero length", dev_name(dev),
				  (unsigned long long)base);
	if (length - 1 > UINT64_MAX - base)
		return vmmi_error(-EINVAL, "device '%s' window 0x%llx + 0x%llx wraps the address space",
				  dev_name(dev), (unsigned long long)base, (unsigned long long)length);

	other = vmmi_bus_overlap(bus, base, length);
	if (other) {
		if (clash)
			*clash = other;
		/* Inclusive bounds: an end of 2^64 does not fit in 64 bits. */
		return vmmi_error(-EEXIST,
				  "device '%s' window [0x%llx, 0x%llx] overlaps device '%s' window [0x%llx, 0x%llx]",
				  dev_name(dev), (unsigned long long)base,
				  (unsigned long long)(base + (length - 1)), dev_name(other->dev),
				  (unsigned long long)other->base,
				  (unsigned long long)(other->base + (other->length - 1)));
	}

	if (bus->n == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 8;
		struct vmmi_window *grown;

		if (cap > SIZE_MAX / sizeof(*grown))
			return vmmi_error(-ENOMEM, "device '%s': too many windows", dev_name(dev));
		grown = realloc(bus->w, cap * sizeof(*grown));
		if (!grown)
			return vmmi_error(-ENOMEM, "device '%s': out of memory", dev_name(dev));
		bus->w = grown;
		bus->cap = cap;
	}

	i = upper_bound(bus, base);
	memmove(&bus->w[i + 1], &bus->w[i], (bus->n - i) * sizeof(bus->w[0]));
	bus->w[i] = (struct vmmi_window){ .base = base, .length = length, .dev = dev };
	bus->n++;
	return 0;
}

int vmmi_bus_remove(struct vmmi_bus *bus, uint64_t base)
{
	size_t i = upper_bound(bus, base);

	if (i == 0 || bus->w[i - 1].base != base)
		return vmmi_error(-ENOENT, "no device window starts at 0x%llx", (unsigned long long)base);
	i--;
	memmove(&bus->w[i], &bus->w[i + 1], (bus->n - i - 1) * sizeof(bus->w[0]));
	bus->n--;
	return 0;
}

void vmmi_bus_free(struct vmmi_bus *bus)
{
	free(bus->w);
	memset(bus, 0, sizeof(*bus));
}
