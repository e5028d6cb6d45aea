/* SPDX-License-Identifier: MIT */
/*
 * memory.c - guest memory seen from the host: checked
 * GPA -> HVA translation and copies in and out.
 */
#include <string.h>

#include "vmm_internal.h"

int vmm_gpa_to_hva(const struct vmm_vm *vm, uint64_t gpa, uint64_t len, void **hva)
{
	if (!vm || !hva)
		return vmmi_error(-EINVAL, "vmm_gpa_to_hva: NULL argument");
	return vmmi_slots_translate(&vm->slots, gpa, len, hva);
}

int vmm_guest_read(const struct vmm_vm *vm, uint64_t gpa, void *buf, uint64_t len)
{
	void *p;
	int ret;

	if (!vm || (!buf && len))
		return vmmi_error(-EINVAL, "vmm_guest_read: NULL argument");
	if (!len)
		return 0;
	ret = vmmi_mem_read_begin(vm, "vmm_guest_read");
	if (ret < 0)
		return ret;
	ret = vmmi_slots_translate(&vm->slots, gpa, len, &p);
	if (ret == 0)
		memcpy(buf, p, len);
	return vmmi_mem_read_end(vm, "vmm_guest_read") ?: ret;
}

int vmm_guest_write(struct vmm_vm *vm, uint64_t gpa, const void *buf, uint64_t len)
{
	const struct vmmi_slot *s;
	void *p;
	int ret;

	if (!vm || (!buf && len))
		return vmmi_error(-EINVAL, "vmm_guest_write: NULL argument");
	if (!len)
		return 0;
	ret = vmmi_mem_read_begin(vm, "vmm_guest_write");
	if (ret < 0)
		return ret;
	ret = vmmi_slots_translate(&vm->slots, gpa, len, &p);
	if (ret == 0) {
		memcpy(p, buf, len);
		s = vmmi_slots_find(&vm->slots, gpa);
		if (s->dirty)
			vmmi_dirty_mark(s->dirty, gpa - s->gpa, len);
	}
	return vmmi_mem_read_end(vm, "vmm_guest_write") ?: ret;
}
