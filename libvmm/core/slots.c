/* slots.c - the memslot table: sorted, non-overlapping GPA ranges backed by host memory, and checked GPA -> HVA translation. */
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

/*
 * Changes (insert, remove, free) must be serialised by the caller; the VM
 * only changes slots while no vCPU runs. Lookups only read, so any number of
 * them may run concurrently with each other.
 */

/* Slots end below VMMI_GPA_LIMIT, so gpa + size never wraps. */
static inline unsigned long long slot_end(const struct vmmi_slot *s)
{
	return s->gpa + s->size;
}

/* Index of the first slot with gpa > addr (n if none). */
static size_t upper_bound(const struct vmmi_slot_table *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->slots[mid].gpa <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct vmmi_slot *vmmi_slots_find(const struct vmmi_slot_table *t, uint64_t gpa)
{
	size_t i = upper_bound(t, gpa);
	const struct vmmi_slot *s;

	if (i == 0)
		return NULL;
	s = &t->slots[i - 1];
	/* s->gpa <= gpa, so the subtraction cannot wrap. */
	return gpa - s->gpa < s->size ? s : NULL;
}

const struct vmmi_slot *vmmi_slots_overlap(const struct vmmi_slot_table *t, uint64_t gpa, uint64_t len)
{
	uint64_t last;
	size_t i;

	if (len == 0)
		return NULL;
	/* Compare last bytes, not ends: a range may touch 2^64. A wrapping one is clamped there. */
	last = gpa + (len - 1) < gpa ? UINT64_MAX : gpa + (len - 1);

	/* Slots do not overlap, so only the one before gpa can reach into the range from the left. */
	i = upper_bound(t, gpa);
	if (i > 0 && gpa - t->slots[i - 1].gpa < t->slots[i - 1].size)
		return &t->slots[i - 1];
	if (i < t->n && t->slots[i].gpa <= last)
		return &t->slots[i];
	return NULL;
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
		return vmmi_error(-EFAULT, "guest range [0x%llx, 0x%llx) is not inside one RAM slot",
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
	const struct vmmi_slot *clash;
	struct vmmi_slot *s;
	size_t i, len, max = slots_max(t);

	if (!name)
		name = "";
	if (size == 0)
		return vmmi_error(-EINVAL, "memslot '%s' at 0x%llx has zero size", name,
				  (unsigned long long)gpa);
	if ((gpa | size | (uintptr_t)hva) & VMMI_PAGE_MASK)
		return vmmi_error(-EINVAL,
				  "memslot '%s': gpa 0x%llx, size 0x%llx and hva %p must be 4 KiB aligned",
				  name, (unsigned long long)gpa, (unsigned long long)size, hva);
	if (!hva)
		return vmmi_error(-EINVAL, "memslot '%s' has no host memory", name);
	if (!vmmi_range_ok(gpa, size, VMMI_GPA_LIMIT))
		return vmmi_error(-ERANGE, "memslot '%s' 0x%llx + 0x%llx exceeds the guest-physical limit 0x%llx",
				  name, (unsigned long long)gpa, (unsigned long long)size,
				  (unsigned long long)VMMI_GPA_LIMIT);
	/* Translation adds offsets up to size to hva: that must not wrap either. */
	if ((uintptr_t)hva + (size - 1) < (uintptr_t)hva)
		return vmmi_error(-EINVAL, "memslot '%s': host range %p + 0x%llx wraps", name, hva,
				  (unsigned long long)size);

	clash = vmmi_slots_overlap(t, gpa, size);
	if (clash)
		return vmmi_error(-EEXIST, "memslot '%s' [0x%llx, 0x%llx) overlaps memslot '%s' [0x%llx, 0x%llx)",
				  name, (unsigned long long)gpa, (unsigned long long)(gpa + size),
				  clash->name, (unsigned long long)clash->gpa, slot_end(clash));
	if (flags & ~(uint32_t)(VMM_MEMSLOT_READONLY | VMM_MEMSLOT_LOG_DIRTY))
		return vmmi_error(-EINVAL, "memslot '%s': unknown flags 0x%x", name,
				  flags & ~(uint32_t)(VMM_MEMSLOT_READONLY | VMM_MEMSLOT_LOG_DIRTY));
	if (t->n >= max)
		return vmmi_error(-ENOSPC, "memslot '%s': all %zu memslots are in use", name, max);

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct vmmi_slot *grown;

		if (cap > max)
			cap = max;
		grown = realloc(t->slots, cap * sizeof(*grown));
		if (!grown)
			return vmmi_error(-ENOMEM, "memslot '%s': out of memory", name);
		t->slots = grown;
		t->cap = cap;
	}

	i = upper_bound(t, gpa);
	memmove(&t->slots[i + 1], &t->slots[i], (t->n - i) * sizeof(*s));
	t->n++;

	s = &t->slots[i];
	memset(s, 0, sizeof(*s));
	s->gpa = gpa;
	s->size = size;
	s->hva = hva;
	len = strnlen(name, sizeof(s->name) - 1);
	memcpy(s->name, name, len); /* the memset left the terminating NUL */
	s->id = alloc_id(t);
	s->flags = flags;
	s->owned = false;
	if (out)
		*out = s;
	return 0;
}

int vmmi_slots_remove(struct vmmi_slot_table *t, uint64_t gpa, struct vmmi_slot *removed)
{
	size_t i = upper_bound(t, gpa);

	if (i == 0 || t->slots[i - 1].gpa != gpa)
		return vmmi_error(-ENOENT, "no memslot starts at 0x%llx", (unsigned long long)gpa);
	i--;
	if (removed)
		*removed = t->slots[i];
	free_id(t, t->slots[i].id);
	memmove(&t->slots[i], &t->slots[i + 1], (t->n - i - 1) * sizeof(t->slots[0]));
	t->n--;
	return 0;
}

int vmmi_slots_move(struct vmmi_slot_table *t, uint64_t gpa, uint64_t new_gpa, struct vmmi_slot **out)
{
	const struct vmmi_slot *clash;
	struct vmmi_slot s;
	size_t i = upper_bound(t, gpa);
	int ret = 0;

	if (i == 0 || t->slots[i - 1].gpa != gpa)
		return vmmi_error(-ENOENT, "no memslot starts at 0x%llx", (unsigned long long)gpa);
	s = t->slots[--i];
	if (new_gpa & VMMI_PAGE_MASK)
		return vmmi_error(-EINVAL, "memslot '%s': new gpa 0x%llx must be 4 KiB aligned",
				  s.name, (unsigned long long)new_gpa);
	if (!vmmi_range_ok(new_gpa, s.size, VMMI_GPA_LIMIT))
		return vmmi_error(-ERANGE, "memslot '%s' 0x%llx + 0x%llx exceeds the guest-physical limit 0x%llx",
				  s.name, (unsigned long long)new_gpa, (unsigned long long)s.size,
				  (unsigned long long)VMMI_GPA_LIMIT);

	/*
	 * Take the slot out while checking, so that it cannot clash with itself:
	 * a move may overlap its own old range. The array keeps its capacity, so
	 * putting it back (where it was, on a clash) cannot fail.
	 */
	memmove(&t->slots[i], &t->slots[i + 1], (t->n - i - 1) * sizeof(s));
	t->n--;
	clash = vmmi_slots_overlap(t, new_gpa, s.size);
	if (clash)
		ret = vmmi_error(-EEXIST, "memslot '%s' moved to [0x%llx, 0x%llx) would overlap memslot '%s' [0x%llx, 0x%llx)",
				 s.name, (unsigned long long)new_gpa,
				 (unsigned long long)(new_gpa + s.size), clash->name,
				 (unsigned long long)clash->gpa, slot_end(clash));
	else
		s.gpa = new_gpa;
	i = upper_bound(t, s.gpa);
	memmove(&t->slots[i + 1], &t->slots[i], (t->n - i) * sizeof(s));
	t->slots[i] = s;
	t->n++;
	if (out && ret == 0)
		*out = &t->slots[i];
	return ret;
}

/* Frees the table only: unmapping owned memory is the VM's job, before this. */
void vmmi_slots_free(struct vmmi_slot_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
