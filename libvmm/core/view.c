/* SPDX-License-Identifier: MIT */
/* view.c - what backends see of the layout: slots and device windows, without the core's tables. */
#include "vmm_internal.h"

struct vmmi_view_slot vmmi_view_slot(const struct vmmi_slot *s)
{
	return (struct vmmi_view_slot){
	    .gpa = s->gpa,
	    .size = s->size,
	    .hva = s->hva,
	    .id = s->id,
	    .flags = s->flags,
	    .dirty = s->dirty,
	    .name = s->name,
	};
}

size_t vmmi_view_nslots(const struct vmm_vm *vm)
{
	return vm->slots.n;
}

struct vmmi_view_slot vmmi_view_slot_nth(const struct vmm_vm *vm, size_t i)
{
	return vmmi_view_slot(&vm->slots.slots[i]);
}

bool vmmi_view_slot_at(const struct vmm_vm *vm, uint64_t gpa, struct vmmi_view_slot *out)
{
	const struct vmmi_slot *s = vmmi_slots_find(&vm->slots, gpa);

	if (!s)
		return false;
	*out = vmmi_view_slot(s);
	return true;
}

size_t vmmi_view_nwindows(const struct vmm_vm *vm, uint32_t space)
{
	return vm->bus[vmmi_space_index(space)].n;
}

struct vmmi_view_window vmmi_view_window_nth(const struct vmm_vm *vm, uint32_t space, size_t i)
{
	const struct vmmi_window *w = &vm->bus[vmmi_space_index(space)].w[i];

	return (struct vmmi_view_window){
	    .space = space,
	    .widths = w->dev->desc->access_sizes,
	    .base = w->base,
	    .length = w->length,
	};
}
