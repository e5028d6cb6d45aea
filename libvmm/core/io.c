/* SPDX-License-Identifier: MIT */
/*
 * io.c - the exit dispatch path (the hot path): one
 * guest access to its device, or the unclaimed policy.
 */
#include <stdio.h>
#include <string.h>

#include "vmm_internal.h"

/* Unclaimed accesses logged before the log goes quiet (a guest can make millions). */
#define UNCLAIMED_LOG_LIMIT 16

static uint64_t size_mask(uint32_t size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static int unclaimed(struct vmm_vcpu *vcpu, uint32_t space, uint64_t addr, uint32_t size,
		     bool is_write, uint64_t *value, struct vmm_exit *exit, const char *why)
{
	struct vmm_vm *vm = vcpu->vm;
	int level;

	vmmi_count(&vcpu->unclaimed);
	if (!is_write)
		*value = size_mask(size);
	if (vmmi_log_enabled(vm, VMM_LOG_TRACE))
		vmmi_log(vm, VMM_LOG_TRACE,
			 "vcpu%u %s %s 0x%llx size %u value 0x%llx -> unclaimed (%s)", vcpu->index,
			 vmmi_space_name(space), is_write ? "write" : "read",
			 (unsigned long long)addr, size, (unsigned long long)*value, why);
	if (vm->opts.unclaimed == VMM_UNCLAIMED_STOP) {
		exit->address = addr;
		vmmi_exit_set(exit, VMM_EXIT_UNCLAIMED, "%s %s of %u bytes at 0x%llx: %s",
			      vmmi_space_name(space), is_write ? "write" : "read", size,
			      (unsigned long long)addr, why);
		return 1;
	}
	/* Linux probes legacy ports and PCI on purpose: for its guests that is news only at -v. */
	level = vm->linux_boot ? VMM_LOG_INFO : VMM_LOG_WARN;
	if (vmmi_log_enabled(vm, level)) {
		uint64_t n = atomic_fetch_add(&vm->unclaimed_logged, 1);

		if (n < UNCLAIMED_LOG_LIMIT)
			vmmi_log(
			    vm, level, "vcpu%u: unclaimed %s %s of %u bytes at 0x%llx (%s): %s",
			    vcpu->index, vmmi_space_name(space), is_write ? "write" : "read", size,
			    (unsigned long long)addr, why, is_write ? "dropped" : "reads all-ones");
		else if (n == UNCLAIMED_LOG_LIMIT)
			vmmi_log(vm, level, "further unclaimed accesses are not logged");
	}
	return 0;
}

int vmmi_dispatch(struct vmm_vcpu *vcpu, uint32_t space, uint64_t addr, uint32_t size,
		  bool is_write, uint64_t *value, struct vmm_exit *exit)
{
	struct vmm_vm *vm = vcpu->vm;
	const struct vmmi_window *w;
	struct vmm_device *dev;
	uint64_t off, v;
	bool serial;
	int ret;

	vmmi_count(&vcpu->exits);
	vmmi_count(space == VMM_SPACE_PIO ? &vcpu->pio_exits : &vcpu->mmio_exits);

	/* The access contract: a device only ever sees accesses it declared, inside its window. */
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return unclaimed(vcpu, space, addr, size, is_write, value, exit,
				 "access size is not 1, 2, 4 or 8");
	/* Most exits go to the device the last one went to. */
	if (vcpu->wc_gen == vm->layout_gen && vcpu->wc_space == space &&
	    addr - vcpu->wc.base < vcpu->wc.length) {
		w = &vcpu->wc;
	} else {
		w = vmmi_bus_find(&vm->bus[vmmi_space_index(space)], addr);
		if (!w)
			return unclaimed(vcpu, space, addr, size, is_write, value, exit,
					 "no device");
		vcpu->wc = *w;
		vcpu->wc_space = space;
		vcpu->wc_gen = vm->layout_gen;
	}
	dev = w->dev;
	off = addr - w->base;
	if (!vmmi_range_ok(off, size, w->length))
		return unclaimed(vcpu, space, addr, size, is_write, value, exit,
				 "access crosses the end of a device window");
	if (!(dev->desc->access_sizes & size))
		return unclaimed(vcpu, space, addr, size, is_write, value, exit,
				 "the device does not accept this access size");

	/*
	 * Models are called one access at a time. With one vCPU only its thread
	 * ever calls them (changes pause it first), so the lock can go: on emu
	 * it is a measurable part of an exit.
	 */
	serial = vm->nvcpus > 1;
	if (serial && (ret = pthread_mutex_lock(&dev->lock))) {
		vmmi_exit_set(exit, VMM_EXIT_ERROR, "device '%s': pthread_mutex_lock failed: %s",
			      dev->name, strerror(ret));
		return 1;
	}
	if (is_write) {
		v = *value & size_mask(size);
		ret = dev->desc->write(dev->state, off, size, v);
		if (ret == 0)
			vmmi_count(&dev->writes);
	} else {
		v = 0;
		ret = dev->desc->read(dev->state, off, size, &v);
		if (ret == 0)
			vmmi_count(&dev->reads);
	}
	if (serial)
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&dev->lock), dev->name);
	if (ret < 0)
		return unclaimed(vcpu, space, addr, size, is_write, value, exit,
				 "the device refused it");
	if (!is_write) {
		v &= size_mask(size);
		*value = v;
	}
	if (vmmi_log_enabled(vm, VMM_LOG_TRACE))
		vmmi_log(vm, VMM_LOG_TRACE, "vcpu%u %s %s 0x%llx size %u value 0x%llx -> %s+0x%llx",
			 vcpu->index, vmmi_space_name(space), is_write ? "write" : "read",
			 (unsigned long long)addr, size, (unsigned long long)v, dev->name,
			 (unsigned long long)off);
	return 0;
}
