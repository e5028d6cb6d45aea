/* SPDX-License-Identifier: MIT */
/* memslot.c - the memslot API: add, allocate, remove, move, remap slots; dirty logging; listing. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm_internal.h"

void vmmi_slot_release(struct vmmi_slot *s)
{
	if (s->owned)
		munmap(s->hva, s->size);
	free((void *)s->dirty);
	s->dirty = NULL;
}

int vmm_memslot_max(const struct vmm_vm *vm)
{
	return vm ? (int)vm->slots.max : -EINVAL;
}

/* Start a dirty record for s: all clear. */
static int dirty_alloc(struct vmmi_slot *s)
{
	s->dirty = calloc(vmmi_dirty_words(s->size), sizeof(uint64_t));
	if (!s->dirty)
		return vmmi_error(-ENOMEM, "memslot '%s': out of memory for the dirty bitmap",
				  s->name);
	return 0;
}

/*
 * Add a slot, under vmmi_change_begin(); owned: the VM allocated hva. Every
 * error names at, the request's origin (NULL: the API).
 */
static int slot_add_locked(struct vmm_vm *vm, const struct vmmi_origin *at, const char *name,
			   uint64_t gpa, uint64_t size, void *hva, uint32_t flags, bool owned)
{
	struct vmmi_slot *slot;
	int ret;

	/* A slot of a bad shape gets the table's errno first; where it may lie is layout.c's. */
	if (size && !((gpa | size) & VMMI_PAGE_MASK)) {
		ret = vmmi_layout_slot(&vm->slots, &vm->bus[0], at, name, gpa, size, flags, NULL);
		if (ret < 0)
			return ret;
	}
	ret = vmmi_slots_insert(&vm->slots, name, gpa, size, hva, flags, &slot);
	if (ret < 0)
		return vmmi_error_prefix(at, ret, NULL);
	slot->owned = owned;
	if (flags & VMM_MEMSLOT_LOG_DIRTY)
		ret = dirty_alloc(slot);
	if (ret == 0)
		ret = vm->ops->slot_add(vm, slot);
	if (ret < 0) {
		struct vmmi_slot gone;

		vmmi_slots_remove(&vm->slots, gpa, &gone);
		gone.owned = false; /* the caller frees what it allocated */
		vmmi_slot_release(&gone);
		return vmmi_error_prefix(at, ret, NULL);
	}
	return 0;
}

static int slot_add(struct vmm_vm *vm, const struct vmmi_origin *at, const char *name, uint64_t gpa,
		    uint64_t size, void *hva, uint32_t flags, bool owned)
{
	int ret = vmmi_change_begin(vm, "vmm_memslot_add");

	if (ret < 0)
		return vmmi_error_prefix(at, ret, NULL);
	ret = slot_add_locked(vm, at, name, gpa, size, hva, flags, owned);
	vmmi_change_end(vm);
	return ret;
}

int vmm_memslot_add_flags(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
			  void *hva, uint32_t flags)
{
	if (!vm)
		return vmmi_error(-EINVAL, "vmm_memslot_add: vm is NULL");
	return slot_add(vm, NULL, name, gpa, size, hva, flags, false);
}

int vmm_memslot_add(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size, void *hva)
{
	return vmm_memslot_add_flags(vm, name, gpa, size, hva, 0);
}

#define HUGE_2M (2ull << 20)

/*
 * Anonymous memory for a slot, 2 MiB-aligned when it is that large: a
 * huge page backs guest memory only where host and guest addresses agree
 * modulo 2 MiB, and a 2 MiB mapping in the guest's page tables costs one
 * fault instead of 512 (vmm_load_linux() asks for huge pages). The
 * mapping is exactly size bytes long, so munmap(mem, size) frees it.
 */
static void *map_ram(uint64_t size)
{
	const int prot = PROT_READ | PROT_WRITE;
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	uint8_t *mem, *aligned;
	uint64_t head;

	if (size < HUGE_2M || size > UINT64_MAX - HUGE_2M)
		return mmap(NULL, size, prot, flags, -1, 0);
	mem = mmap(NULL, size + HUGE_2M, prot, flags, -1, 0);
	if (mem == MAP_FAILED)
		return mem;
	aligned = (uint8_t *)(((uintptr_t)mem + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1));
	head = (uint64_t)(aligned - mem);
	if (head)
		munmap(mem, head);
	if (HUGE_2M - head)
		munmap(aligned + size, HUGE_2M - head);
	return aligned;
}

int vmmi_memslot_alloc(struct vmm_vm *vm, const struct vmmi_origin *at, const char *name,
		       uint64_t gpa, uint64_t size, uint32_t flags, void **hva)
{
	void *mem;
	int ret;

	if (!vm || !size || (size & VMMI_PAGE_MASK))
		return vmmi_error_at(
		    at, -EINVAL,
		    "vmm_memslot_alloc: size 0x%llx must be a non-zero multiple of "
		    "4 KiB",
		    (unsigned long long)size);
	/* Before allocating: the rules that need no table (the limit). */
	ret = vmmi_layout_slot(NULL, NULL, at, name, gpa, size, flags, NULL);
	if (ret < 0)
		return ret;
	/* NORESERVE: a 64 GiB guest with 10 MiB touched costs 10 MiB. */
	mem = map_ram(size);
	if (mem == MAP_FAILED)
		return vmmi_error_at(at, -errno, "memslot '%s': cannot allocate 0x%llx bytes: %s",
				     name ? name : "", (unsigned long long)size, strerror(errno));
	ret = slot_add(vm, at, name, gpa, size, mem, flags, true);
	if (ret < 0) {
		munmap(mem, size);
		return ret;
	}
	if (hva)
		*hva = mem;
	return 0;
}

int vmm_memslot_alloc_flags(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
			    uint32_t flags, void **hva)
{
	return vmmi_memslot_alloc(vm, NULL, name, gpa, size, flags, hva);
}

int vmm_memslot_alloc(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size, void **hva)
{
	return vmm_memslot_alloc_flags(vm, name, gpa, size, 0, hva);
}

/*
 * Keep vmm_load_elf()'s record in step with slot s's memory: with new_gpa,
 * the ranges inside s moved there with it; without, they are gone.
 */
static void loaded_follow(struct vmm_vm *vm, const struct vmmi_slot *s, const uint64_t *new_gpa)
{
	for (size_t i = vm->nloaded; i-- > 0;) {
		struct vmmi_loaded *l = &vm->loaded[i];

		if (l->gpa < s->gpa || l->gpa - s->gpa >= s->size)
			continue;
		if (new_gpa)
			l->gpa = *new_gpa + (l->gpa - s->gpa);
		else
			vmmi_loaded_forget(vm, i);
	}
}

/* The slot that starts at gpa, for a change: NULL and an error if none does. */
static struct vmmi_slot *slot_at(struct vmm_vm *vm, uint64_t gpa)
{
	/* The table is the VM's own; find() returns const only for readers. */
	struct vmmi_slot *s = (struct vmmi_slot *)vmmi_slots_find(&vm->slots, gpa);

	if (!s || s->gpa != gpa) {
		vmmi_error(-ENOENT, "no memslot starts at 0x%llx", (unsigned long long)gpa);
		return NULL;
	}
	return s;
}

static int slot_remove_locked(struct vmm_vm *vm, uint64_t gpa)
{
	const struct vmmi_slot *s = slot_at(vm, gpa);
	struct vmmi_slot removed;
	int ret;

	if (!s)
		return -ENOENT;
	ret = vm->ops->slot_remove(vm, s);
	if (ret < 0)
		return ret;
	ret = vmmi_slots_remove(&vm->slots, gpa, &removed);
	if (ret < 0)
		return ret;
	/* No vCPU runs and no reader holds mem_lock: nothing can touch the memory now. */
	vmmi_slot_release(&removed);
	/* What vmm_load_elf() put there is gone with the slot: forget it. */
	loaded_follow(vm, &removed, NULL);
	return 0;
}

/*
 * The backend dropped a slot and could not take it back: forget it as well,
 * so that the table keeps saying what the guest sees.
 */
static void slot_lost(struct vmm_vm *vm, uint64_t gpa)
{
	struct vmmi_slot gone;

	if (vmmi_slots_remove(&vm->slots, gpa, &gone) < 0)
		return;
	vmmi_log(vm, VMM_LOG_ERROR,
		 "memslot '%s' [0x%llx, 0x%llx) could not be restored and is gone", gone.name,
		 (unsigned long long)gone.gpa, (unsigned long long)(gone.gpa + gone.size));
	vmmi_slot_release(&gone);
	loaded_follow(vm, &gone, NULL);
}

static int slot_move_locked(struct vmm_vm *vm, uint64_t gpa, uint64_t new_gpa)
{
	struct vmmi_slot *slot, old;
	const struct vmmi_slot *s = slot_at(vm, gpa);
	int ret, undo;

	if (!s)
		return -ENOENT;
	if (new_gpa == gpa)
		return 0; /* nothing changes: no backend round trip */
	old = *s;
	/* A misaligned GPA gets the table's errno first; where the slot may lie is layout.c's. */
	if (!(new_gpa & VMMI_PAGE_MASK)) {
		ret = vmmi_layout_slot(&vm->slots, &vm->bus[0], NULL, old.name, new_gpa, old.size,
				       old.flags, s);
		if (ret < 0)
			return ret;
	}
	ret = vmmi_slots_move(&vm->slots, gpa, new_gpa, &slot);
	if (ret < 0)
		return ret;
	/*
	 * Out at the old place, in at the new one, under the same id. KVM
	 * deleting the slot zaps every GPA->HPA translation made through it, so
	 * nothing of the old range survives; emu unmaps it and drops the code
	 * translated from it. The table already says new_gpa: both backends
	 * take what they unmap from old, not from the table.
	 */
	ret = vm->ops->slot_remove(vm, &old);
	if (ret < 0)
		goto err_table;
	ret = vm->ops->slot_add(vm, slot);
	if (ret < 0)
		goto err_backend;
	loaded_follow(vm, &old, &new_gpa);
	return 0;

err_backend:
	undo = vmmi_slots_move(&vm->slots, new_gpa, gpa, &slot);
	if (undo == 0 && vm->ops->slot_add(vm, slot) < 0)
		slot_lost(vm, gpa);
	return ret;
err_table:
	/* The old range is free again (the slot left it), so moving back cannot fail. */
	undo = vmmi_slots_move(&vm->slots, new_gpa, gpa, NULL);
	(void)undo;
	return ret;
}

static int slot_remap_locked(struct vmm_vm *vm, uint64_t gpa, void *new_hva)
{
	struct vmmi_slot *s = slot_at(vm, gpa), old;
	int ret;

	if (!s)
		return -ENOENT;
	if (!new_hva || ((uintptr_t)new_hva & VMMI_PAGE_MASK) ||
	    (uintptr_t)new_hva + (s->size - 1) < (uintptr_t)new_hva)
		return vmmi_error(
		    -EINVAL,
		    "memslot '%s': new host memory %p must be non-NULL, 4 KiB aligned and not wrap",
		    s->name, new_hva);
	if ((uint8_t *)new_hva == s->hva)
		return 0;
	old = *s;
	/*
	 * KVM cannot change a slot's host address in place (it refuses
	 * anything but a flags change or a move), so delete and add again;
	 * deleting zaps the GPA->HPA translations of the old memory. Emu
	 * remaps the range and drops the code translated from it. The table
	 * does not change shape, so s stays valid.
	 */
	ret = vm->ops->slot_remove(vm, s);
	if (ret < 0)
		return ret;
	s->hva = new_hva;
	s->owned = false;
	ret = vm->ops->slot_add(vm, s);
	if (ret < 0) {
		*s = old;
		if (vm->ops->slot_add(vm, s) < 0)
			slot_lost(vm, gpa);
		return ret;
	}
	if (old.owned)
		munmap(old.hva, old.size);
	/* What vmm_load_elf() wrote is in the old memory, not in the guest any more. */
	loaded_follow(vm, &old, NULL);
	return 0;
}

static int dirty_log_locked(struct vmm_vm *vm, uint64_t gpa, bool enable)
{
	struct vmmi_slot *s = slot_at(vm, gpa);
	uint32_t old;
	int ret;

	if (!s)
		return -ENOENT;
	old = s->flags;
	if (!!(old & VMM_MEMSLOT_LOG_DIRTY) == enable)
		return 0;
	if (enable) {
		ret = dirty_alloc(s);
		if (ret < 0)
			return ret;
		s->flags |= VMM_MEMSLOT_LOG_DIRTY;
	} else {
		s->flags &= ~(uint32_t)VMM_MEMSLOT_LOG_DIRTY;
	}
	ret = vm->ops->slot_flags(vm, s, old);
	if (ret < 0)
		s->flags = old;
	/* Paused, and readers locked out: nobody marks the record while it goes. */
	if (!(s->flags & VMM_MEMSLOT_LOG_DIRTY)) {
		free((void *)s->dirty);
		s->dirty = NULL;
	}
	return ret;
}

/* One change of an existing slot; the public calls below only say which. */
enum slot_op { SLOT_REMOVE, SLOT_MOVE, SLOT_REMAP, SLOT_DIRTY_LOG };

static int slot_change(struct vmm_vm *vm, const char *what, enum slot_op op, uint64_t gpa,
		       uint64_t new_gpa, void *new_hva)
{
	int ret;

	if (!vm)
		return vmmi_error(-EINVAL, "%s: vm is NULL", what);
	ret = vmmi_change_begin(vm, what);
	if (ret < 0)
		return ret;
	switch (op) {
	case SLOT_REMOVE:
		ret = slot_remove_locked(vm, gpa);
		break;
	case SLOT_MOVE:
		ret = slot_move_locked(vm, gpa, new_gpa);
		break;
	case SLOT_REMAP:
		ret = slot_remap_locked(vm, gpa, new_hva);
		break;
	case SLOT_DIRTY_LOG:
		ret = dirty_log_locked(vm, gpa, new_gpa != 0);
		break;
	}
	vmmi_change_end(vm);
	return ret;
}

int vmm_memslot_remove(struct vmm_vm *vm, uint64_t gpa)
{
	return slot_change(vm, "vmm_memslot_remove", SLOT_REMOVE, gpa, 0, NULL);
}

int vmm_memslot_move(struct vmm_vm *vm, uint64_t gpa, uint64_t new_gpa)
{
	return slot_change(vm, "vmm_memslot_move", SLOT_MOVE, gpa, new_gpa, NULL);
}

int vmm_memslot_remap(struct vmm_vm *vm, uint64_t gpa, void *new_hva)
{
	return slot_change(vm, "vmm_memslot_remap", SLOT_REMAP, gpa, 0, new_hva);
}

int vmm_memslot_set_dirty_log(struct vmm_vm *vm, uint64_t gpa, int enable)
{
	return slot_change(vm, "vmm_memslot_set_dirty_log", SLOT_DIRTY_LOG, gpa, enable != 0, NULL);
}

int vmm_memslot_get_dirty(struct vmm_vm *vm, uint64_t gpa, uint64_t *bitmap, size_t words)
{
	const struct vmmi_slot *s;
	size_t need;
	int ret = 0;

	if (!vm || !bitmap)
		return vmmi_error(-EINVAL, "vmm_memslot_get_dirty: NULL argument");
	/* Readers' side: the slot cannot go while we read, and vCPUs keep running. */
	ret = vmmi_mem_read_begin(vm, "vmm_memslot_get_dirty");
	if (ret < 0)
		return ret;
	s = vmmi_slots_find(&vm->slots, gpa);
	if (!s || s->gpa != gpa) {
		ret = vmmi_error(-ENOENT, "no memslot starts at 0x%llx", (unsigned long long)gpa);
		goto out;
	}
	need = vmmi_dirty_words(s->size);
	if (!s->dirty) {
		ret = vmmi_error(-EINVAL, "memslot '%s': dirty logging is off", s->name);
		goto out;
	}
	if (words < need) {
		ret = vmmi_error(-EINVAL, "memslot '%s': the bitmap needs %zu words, not %zu",
				 s->name, need, words);
		goto out;
	}
	memset(bitmap, 0, words * sizeof(*bitmap));
	if (vm->ops->dirty_fetch) {
		ret = vm->ops->dirty_fetch(vm, s, bitmap, need);
		if (ret < 0)
			goto out;
	}
	/* Fetch-and-clear word by word: a bit set meanwhile lands here or next time. */
	for (size_t i = 0; i < need; i++)
		bitmap[i] |= atomic_exchange_explicit(&s->dirty[i], 0, memory_order_relaxed);
out:
	return vmmi_mem_read_end(vm, "vmm_memslot_get_dirty") ?: ret;
}

int vmm_memslot_count(const struct vmm_vm *vm)
{
	return vm ? (int)vm->slots.n : -EINVAL;
}

int vmm_memslot_get(const struct vmm_vm *vm, int i, struct vmm_memslot_info *info)
{
	struct vmm_memslot_info mi = {.struct_size = sizeof(mi)};
	const struct vmmi_slot *s;
	int ret;

	if (!vm || !info)
		return vmmi_error(-EINVAL, "vmm_memslot_get: NULL argument");
	ret = vmmi_size_check(info->struct_size, VMMI_SIZE_MIN(struct vmm_memslot_info, gpa),
			      "vmm_memslot_get: info", "vmm_memslot_info");
	if (ret < 0)
		return ret;
	if (i < 0 || (size_t)i >= vm->slots.n)
		return vmmi_error(-ENOENT, "no memslot %d (there are %zu)", i, vm->slots.n);
	s = &vm->slots.slots[i];
	mi.gpa = s->gpa;
	mi.size = s->size;
	mi.hva = s->hva;
	mi.name = s->name;
	mi.flags = s->flags;
	vmmi_size_copy_out(info, info->struct_size, &mi, sizeof(mi));
	return 0;
}
