/* SPDX-License-Identifier: MIT */
/* range.h - the sorted-range container the memslot table and the device buses share. */
#ifndef VMMI_RANGE_H
#define VMMI_RANGE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * An array of n items of elem bytes each, sorted by base, whose ranges
 * [base, base + length) do not overlap. Each item type begins with the two
 * members of struct vmmi_range (checked where the type is declared).
 *
 * A range may end exactly at 2^64, so base + length is never computed:
 * comparisons use offsets or the last byte.
 *
 * Changes must be serialised by the caller and happen while nobody looks
 * up; lookups only read, so any number may run at once. The functions are
 * inline so that elem is a constant at each call: lookups are on the
 * exit-dispatch hot path.
 */
struct vmmi_range {
	uint64_t base;
	uint64_t length;
};

static inline const struct vmmi_range *vmmi_range_at(const void *items, size_t elem, size_t i)
{
	return (const struct vmmi_range *)((const char *)items + i * elem);
}

/* Index of the first item with base > addr (n if none). */
static inline size_t vmmi_range_upper(const void *items, size_t n, size_t elem, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vmmi_range_at(items, elem, mid)->base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the item containing addr, or n. O(log n). */
static inline size_t vmmi_range_find(const void *items, size_t n, size_t elem, uint64_t addr)
{
	size_t i = vmmi_range_upper(items, n, elem, addr);
	const struct vmmi_range *r;

	if (i == 0)
		return n;
	r = vmmi_range_at(items, elem, i - 1);
	/* r->base <= addr, so the subtraction cannot wrap. */
	return addr - r->base < r->length ? i - 1 : n;
}

/*
 * Index of the first item overlapping [base, base + length), or n. A range
 * that wraps is clamped at 2^64; an empty one overlaps nothing.
 */
static inline size_t vmmi_range_overlap(const void *items, size_t n, size_t elem, uint64_t base,
					uint64_t length)
{
	uint64_t last;
	size_t i;

	if (length == 0)
		return n;
	last = base + (length - 1) < base ? UINT64_MAX : base + (length - 1);
	/* Items do not overlap: only the one before base can reach into the range from the left. */
	i = vmmi_range_upper(items, n, elem, base);
	if (i > 0) {
		const struct vmmi_range *r = vmmi_range_at(items, elem, i - 1);

		if (base - r->base < r->length)
			return i - 1;
	}
	if (i < n && vmmi_range_at(items, elem, i)->base <= last)
		return i;
	return n;
}

/* Index of the item that starts exactly at base, or n. */
static inline size_t vmmi_range_starting(const void *items, size_t n, size_t elem, uint64_t base)
{
	size_t i = vmmi_range_upper(items, n, elem, base);

	return i > 0 && vmmi_range_at(items, elem, i - 1)->base == base ? i - 1 : n;
}

/*
 * Room for one more item: doubles *cap (from 8), at most max items.
 * 0, or -ENOMEM (allocation failed, or max reached: the caller checks its
 * own limit first to say which).
 */
static inline int vmmi_range_reserve(void **items, size_t n, size_t *cap, size_t elem, size_t max)
{
	size_t want;
	void *grown;

	if (n < *cap)
		return 0;
	want = *cap ? *cap * 2 : 8;
	if (want > max)
		want = max;
	if (want <= n || want > SIZE_MAX / elem)
		return -ENOMEM;
	grown = realloc(*items, want * elem);
	if (!grown)
		return -ENOMEM;
	*items = grown;
	*cap = want;
	return 0;
}

/*
 * Insert item (elem bytes) in order and return its index; the caller has
 * reserved room and checked that it overlaps nothing.
 */
static inline size_t vmmi_range_insert(void *items, size_t *n, size_t elem, const void *item)
{
	size_t i = vmmi_range_upper(items, *n, elem, ((const struct vmmi_range *)item)->base);
	char *p = (char *)items + i * elem;

	memmove(p + elem, p, (*n - i) * elem);
	memcpy(p, item, elem);
	(*n)++;
	return i;
}

/* Delete the item at index i (< *n), copying it to out if not NULL. */
static inline void vmmi_range_delete(void *items, size_t *n, size_t elem, size_t i, void *out)
{
	char *p = (char *)items + i * elem;

	if (out)
		memcpy(out, p, elem);
	memmove(p, p + elem, (*n - i - 1) * elem);
	(*n)--;
}

#endif /* VMMI_RANGE_H */
