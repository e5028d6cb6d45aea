/* SPDX-License-Identifier: MIT */
/*
 * reset.c - vmm_vm_reset(): the VM back to how it was built: RAM
 * and firmware, the vCPUs' boot state, the devices' power-on state.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm_internal.h"

void vmmi_loaded_forget(struct vmm_vm *vm, size_t i)
{
	free(vm->loaded[i].data);
	vm->loaded[i] = vm->loaded[--vm->nloaded];
}

void vmmi_loaded_free(struct vmm_vm *vm)
{
	for (size_t i = 0; i < vm->nloaded; i++)
		free(vm->loaded[i].data);
	free(vm->loaded);
	vm->loaded = NULL;
	vm->nloaded = 0;
}

/*
 * RAM as the VM was built: the writable memory the VM allocated zeroed, as
 * vmm_memslot_alloc() made it, and every firmware segment written again.
 * Memory the caller gave stays the caller's: only the segments loaded into
 * it are rewritten. Read-only slots (ROM, flash) are left alone: the guest
 * cannot have changed them. Called with no vCPU running, inside a change.
 */
static void ram_reset(struct vmm_vm *vm)
{
	for (size_t i = 0; i < vm->slots.n; i++) {
		struct vmmi_slot *s = &vm->slots.slots[i];

		if (!s->owned || (s->flags & VMM_MEMSLOT_READONLY))
			continue;
		/*
		 * Private anonymous memory reads as zero pages after this, and
		 * gives its pages back to the host. KVM hears of it through the
		 * MMU notifiers; emu reads through the same host addresses.
		 */
		if (madvise(s->hva, s->size, MADV_DONTNEED) < 0)
			memset(s->hva, 0, s->size);
		if (s->dirty)
			vmmi_dirty_mark(s->dirty, 0, s->size);
	}
	for (size_t i = 0; i < vm->nloaded; i++) {
		const struct vmmi_loaded *l = &vm->loaded[i];
		const struct vmmi_slot *s;
		uint8_t *p;

		/* Records follow their slots (core/memslot.c): this cannot fail. */
		if (vmmi_slots_translate(&vm->slots, l->gpa, l->size, (void **)&p) < 0)
			continue;
		if (l->filesz)
			memcpy(p, l->data, l->filesz);
		memset(p + l->filesz, 0, l->size - l->filesz);
		s = vmmi_slots_find(&vm->slots, l->gpa);
		if (s->dirty)
			vmmi_dirty_mark(s->dirty, l->gpa - s->gpa, l->size);
	}
}

/* RAM and the vCPUs, with the layout held still and no vCPU able to enter the guest. */
static int reset_locked(struct vmm_vm *vm)
{
	if (vmmi_vm_running(vm))
		return vmmi_error(-EBUSY, "vmm_vm_reset: a vCPU is running");
	ram_reset(vm);
	/* The interrupt controllers: the I/O APIC here, each local APIC in its backend. */
	vmmi_irq_reset(vm);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		int ret = vm->vcpus[i] && vm->ops->irq_reset ? vm->ops->irq_reset(vm->vcpus[i]) : 0;

		if (ret < 0)
			return ret;
	}
	/* A Linux guest boots again from its files; else guest.h's boot state. */
	if (vm->linux_boot && vm->lx.kernel)
		return vmmi_linux_boot(vm);
	return vmm_boot_setup(vm, vm->boot_entry);
}

/* Each device back to power-on, in creation order, serialised with its other calls. */
static void devices_reset(struct vmm_vm *vm)
{
	for (size_t i = 0; i < vm->ndevices; i++) {
		struct vmm_device *dev = vm->devices[i];
		bool locked;

		if (!dev->desc->reset)
			continue;
		locked = VMMI_PT_LOG(vm, pthread_mutex_lock(&dev->lock), "vmm_vm_reset") == 0;
		dev->desc->reset(dev->state);
		if (locked)
			VMMI_PT_LOG(vm, pthread_mutex_unlock(&dev->lock), "vmm_vm_reset");
	}
}

int vmm_vm_reset(struct vmm_vm *vm)
{
	int ret;

	if (!vm)
		return vmmi_error(-EINVAL, "vmm_vm_reset: vm is NULL");
	if (!vm->booted)
		return vmmi_error(
		    -EINVAL,
		    "vmm_vm_reset: no boot state to return to: vmm_boot_setup() never succeeded");
	/* Checked before the change too, so that a running VM is not paused for nothing. */
	if (vmmi_vm_running(vm))
		return vmmi_error(-EBUSY, "vmm_vm_reset: a vCPU is running");
	ret = vmmi_change_begin(vm, "vmm_vm_reset");
	if (ret < 0)
		return ret;
	ret = reset_locked(vm);
	vmmi_change_end(vm);
	if (ret < 0)
		return ret;

	/* The VM may run again: a reset() that stops it (odd, but allowed) wins below. */
	ret = VMMI_PT(pthread_mutex_lock(&vm->stop_lock), "vmm_vm_reset");
	if (ret < 0)
		return ret;
	atomic_store(&vm->stop_requested, 0);
	vm->exit_code = 0;
	vm->reset_requested = false;
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->stop_lock), "vmm_vm_reset");

	/*
	 * With no lock of the VM held, as create(): reset() may use every host
	 * service, DMA included. RAM is already as built, so what a device
	 * writes to it at power-on stays.
	 */
	devices_reset(vm);
	vmmi_log(vm, VMM_LOG_INFO, "reset: RAM, firmware, %u vCPU(s) and %zu device(s)", vm->nvcpus,
		 vm->ndevices);
	return 0;
}
