/* SPDX-License-Identifier: MIT */
/*
 * slots.c - the memslot table: sorted, non-overlapping GPA ranges
 * backed by host memory, and checked GPA -> HVA translation.
 */
#include <stdlib.h>
#include <string.h>

#include "core/range.h"
#include "vmm_internal.h"

/*
 * Changes (insert, remove, free) must be serialised by the caller; the VM
 * only changes slots while no vCPU runs. Lookups only read, so any number of
 * them may run concurrently with each other. The container is core/range.h.
 */

_Static_assert(offsetof(struct vmmi_slot, gpa) == offsetof(struct vmmi_range, base) &&
		   offsetof(struct vmmi_slot, size) == offsetof(struct vmmi_range, length),
	       "a slot begins with a struct vmmi_range");

#define SLOT_ARGS(t) (t)->slots, (t)->n, sizeof(struct vmmi_slot)

const struct vmmi_slot *vmmi_slots_find(const struct vmmi_slot_table *t, uint64_t gpa)
{
	size_t i = vmmi_range_find(SLOT_ARGS(t), gpa);

	return i < t->n ? &t->slots[i] : NULL;
}

const struct vmmi_slot *vmmi_slots_overlap(const struct vmmi_slot_table *t, uint64_t gpa,
					   uint64_t len)
{
	size_t i = vmmi_range_overlap(SLOT_ARGS(t), gpa, len);

	return i < t->n ? &t->slots[i] : NULL;
}

int vmmi_slots_translate(const struct vmmi_slot_table *t, uint64_t gpa, uint64_t len, void **hva)
{
	const struct vmmi_slot *s;

	if (len == 0)
		len = 1;
	if (gpa + (len - 1) < gpa)
		return vmmi_error(-EFAULT, "guest range 0x%llx + 0x%llx wraps the address space",
				  (unsigned long long)gpa, (unsigned long long)len);

	s = vmmi_slots_find(t, gpa);
	if (!s || !vmmi_range_ok(gpa - s->gpa, len, s->size))
		return vmmi_error(-EFAULT,
				  "guest range [0x%llx, 0x%llx) is not inside one RAM slot",
				  (unsigned long long)gpa, (unsigned long long)(gpa + len));
	*hva = s->hva + (gpa - s->gpa);
	return 0;
}

/* The lowest id not in use; the caller has checked that the table is not full. */
static uint32_t alloc_id(struct vmmi_slot_table *t)
{
	size_t w;

	for (w = 0; w < sizeof(t->used_ids) / sizeof(t->used_ids[0]); w++) {
		if (~t->used_ids[w]) {
			uint32_t bit = (uint32_t)__builtin_ctzll(~t->used_ids[w]);

			t->used_ids[w] |= 1ull << bit;
			return (uint32_t)(w * 64 + bit);
		}
	}
	return UINT32_MAX; /* not reached: n < VMM_MEMSLOT_MAX leaves a free id */
}

static void free_id(struct vmmi_slot_table *t, uint32_t id)
{
	t->used_ids[id / 64] &= ~(1ull << (id % 64));
}

/* The table's capacity: what the backend set, or VMM_MEMSLOT_MAX for a bare table. */
static size_t slots_max(const struct vmmi_slot_table *t)
{
	return t->max && t->max < VMM_MEMSLOT_MAX ? t->max : VMM_MEMSLOT_MAX;
}

int vmmi_slots_insert(struct vmmi_slot_table *t, const char *name, uint64_t gpa, uint64_t size,
		      void *hva, uint32_t flags, struct vmmi_slot **out)
{
	struct vmmi_slot new, *s;
	size_t len, max = slots_max(t);
	int ret;

	if (!name)
		name = "";
	if (size == 0)
		return vmmi_error(-EINVAL, "memslot '%s' at 0x%llx has zero size", name,
				  (unsigned long long)gpa);
	if ((gpa | size | (uintptr_t)hva) & VMMI_PAGE_MASK)
		return vmmi_error(
		    -EINVAL,
		    "memslot '%s': gpa 0x%llx, size 0x%llx and hva %p must be 4 KiB aligned", name,
		    (unsigned long long)gpa, (unsigned long long)size, hva);
	if (!hva)
		return vmmi_error(-EINVAL, "memslot '%s' has no host memory", name);
	/* The layout rules that keep the table sorted and disjoint (the VM checked them all). */
	ret = vmmi_layout_slot(t, NULL, NULL, name, gpa, size, flags, NULL);
	if (ret < 0)
		return ret;
	/* Translation adds offsets up to size to hva: that must not wrap either. */
	if ((uintptr_t)hva + (size - 1) < (uintptr_t)hva)
		return vmmi_error(-EINVAL, "memslot '%s': host range %p + 0x%llx wraps", name, hva,
				  (unsigned long long)size);
	if (flags & ~(uint32_t)(VMM_MEMSLOT_READONLY | VMM_MEMSLOT_LOG_DIRTY))
		return vmmi_error(-EINVAL, "memslot '%s': unknown flags 0x%x", name,
				  flags &
				      ~(uint32_t)(VMM_MEMSLOT_READONLY | VMM_MEMSLOT_LOG_DIRTY));
	if (t->n >= max)
		return vmmi_error(-ENOSPC, "memslot '%s': all %zu memslots are in use", name, max);

	if (vmmi_range_reserve((void **)&t->slots, t->n, &t->cap, sizeof(*s), max))
		return vmmi_error(-ENOMEM, "memslot '%s': out of memory", name);
	memset(&new, 0, sizeof(new));
	new.gpa = gpa;
	new.size = size;
	new.hva = hva;
	len = strnlen(name, sizeof(new.name) - 1);
	memcpy(new.name, name, len); /* the memset left the terminating NUL */
	new.id = alloc_id(t);
	new.flags = flags;
	s = &t->slots[vmmi_range_insert(t->slots, &t->n, sizeof(new), &new)];
	if (out)
		*out = s;
	return 0;
}

int vmmi_slots_remove(struct vmmi_slot_table *t, uint64_t gpa, struct vmmi_slot *removed)
{
	size_t i = vmmi_range_starting(SLOT_ARGS(t), gpa);

	if (i == t->n)
		return vmmi_error(-ENOENT, "no memslot starts at 0x%llx", (unsigned long long)gpa);
	free_id(t, t->slots[i].id);
	vmmi_range_delete(t->slots, &t->n, sizeof(t->slots[0]), i, removed);
	return 0;
}

int vmmi_slots_move(struct vmmi_slot_table *t, uint64_t gpa, uint64_t new_gpa,
		    struct vmmi_slot **out)
{
	struct vmmi_slot s;
	size_t i = vmmi_range_starting(SLOT_ARGS(t), gpa);
	int ret;

	if (i == t->n)
		return vmmi_error(-ENOENT, "no memslot starts at 0x%llx", (unsigned long long)gpa);
	s = t->slots[i];
	if (new_gpa & VMMI_PAGE_MASK)
		return vmmi_error(-EINVAL, "memslot '%s': new gpa 0x%llx must be 4 KiB aligned",
				  s.name, (unsigned long long)new_gpa);
	/* A move may overlap its own old range: the slot itself is no obstacle. */
	ret = vmmi_layout_slot(t, NULL, NULL, s.name, new_gpa, s.size, s.flags, &t->slots[i]);
	if (ret < 0)
		return ret;
	/* The array keeps its capacity: taking the slot out and back in cannot fail. */
	vmmi_range_delete(t->slots, &t->n, sizeof(s), i, NULL);
	s.gpa = new_gpa;
	i = vmmi_range_insert(t->slots, &t->n, sizeof(s), &s);
	if (out)
		*out = &t->slots[i];
	return 0;
}

/* Frees the table only: unmapping owned memory is the VM's job, before this. */
void vmmi_slots_free(struct vmmi_slot_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
