/* SPDX-License-Identifier: MIT */
/* irq.c - the VM's interrupt layer: I/O APIC pins and their sources, MSIs, EOIs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

/*
 * Every path takes vm->irq.lock and nothing else of the VM: devices call in
 * from any thread (their callbacks, their own workers), with or without
 * their device lock, and a layout change in progress never blocks them.
 * The backend's msi() runs under the lock and only takes its own local
 * APIC locks (innermost), which it never holds while calling back here.
 */

static int irq_lock(struct vmm_vm *vm)
{
	return VMMI_PT_LOG(vm, pthread_mutex_lock(&vm->irq.lock), "interrupts");
}

static void irq_unlock(struct vmm_vm *vm)
{
	VMMI_PT_LOG(vm, pthread_mutex_unlock(&vm->irq.lock), "interrupts");
}

/* The I/O APIC's messages, under the lock. */
static void ioapic_send(void *opaque, uint64_t addr, uint32_t data)
{
	struct vmm_vm *vm = opaque;
	int ret;

	atomic_fetch_add_explicit(&vm->irq.msis, 1, memory_order_relaxed);
	ret = vm->ops->msi ? vm->ops->msi(vm, addr, data) : -ENOSYS;
	if (ret < 0)
		vmmi_log(vm, VMM_LOG_ERROR, "ioapic: message 0x%x to 0x%llx not delivered: %s",
			 data, (unsigned long long)addr, vmm_strerror(ret));
}

static void ioapic_routes_changed(void *opaque)
{
	struct vmm_vm *vm = opaque;

	if (vm->ops->irq_routes)
		vm->ops->irq_routes(vm);
}

/* ---- the I/O APIC's window: a built-in device model ---- */

static int ioapic_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			 const struct vmm_device_info *info, void **state)
{
	(void)host;
	(void)info;
	*state = ctx->dev->vm;
	return 0;
}

static int ioapic_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	struct vmm_vm *vm = state;

	(void)size;
	if (irq_lock(vm) < 0)
		return -EIO;
	*value = vmmi_ioapic_read(&vm->irq.io, offset);
	irq_unlock(vm);
	return 0;
}

static int ioapic_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	struct vmm_vm *vm = state;

	(void)size;
	if (irq_lock(vm) < 0)
		return -EIO;
	vmmi_ioapic_write(&vm->irq.io, offset, (uint32_t)value);
	irq_unlock(vm);
	return 0;
}

static const struct vmm_plugin_desc ioapic_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "ioapic",
    .description = "82093AA I/O APIC (built in)",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = VMMI_IOAPIC_WINDOW,
    .create = ioapic_create,
    .read = ioapic_read,
    .write = ioapic_write,
};

int vmmi_irq_init(struct vmm_vm *vm)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "ioapic",
	    .space = VMM_SPACE_MMIO,
	    .base = VMM_GUEST_IOAPIC_BASE,
	    .length = VMMI_IOAPIC_WINDOW,
	};
	int ret = VMMI_PT(pthread_mutex_init(&vm->irq.lock, NULL), "interrupts");

	if (ret < 0)
		return ret;
	vm->irq.lock_ok = true;
	vm->irq.io.send = ioapic_send;
	vm->irq.io.routes_changed = ioapic_routes_changed;
	vm->irq.io.opaque = vm;
	vmmi_ioapic_reset(&vm->irq.io);
	ret = vmm_device_add(vm, &ioapic_desc, &cfg, &vm->irq.dev);
	if (ret == 0)
		vm->irq.dev->builtin = true;
	return ret;
}

void vmmi_irq_fini(struct vmm_vm *vm)
{
	if (vm->irq.lock_ok)
		VMMI_PT_LOG(vm, pthread_mutex_destroy(&vm->irq.lock), "interrupts");
	vm->irq.lock_ok = false;
}

void vmmi_irq_reset(struct vmm_vm *vm)
{
	if (irq_lock(vm) < 0)
		return;
	vmmi_ioapic_reset(&vm->irq.io);
	vm->irq.io.id = vm->irq.id0;
	irq_unlock(vm);
}

void vmmi_ioapic_set_id(struct vmm_vm *vm, uint8_t id)
{
	if (irq_lock(vm) < 0)
		return;
	vm->irq.id0 = (uint32_t)id << 24;
	vm->irq.io.id = vm->irq.id0;
	irq_unlock(vm);
}

static void source_locked(struct vmm_vm *vm, unsigned pin, bool level)
{
	uint16_t *n = &vm->irq.sources[pin];

	if (level) {
		if ((*n)++ == 0) {
			atomic_fetch_add_explicit(&vm->irq.irqs, 1, memory_order_relaxed);
			vmmi_ioapic_set_pin(&vm->irq.io, pin, true);
		}
	} else if (*n && --*n == 0) {
		vmmi_ioapic_set_pin(&vm->irq.io, pin, false);
	}
}

void vmmi_irq_source(struct vmm_vm *vm, unsigned pin, bool level)
{
	if (pin >= VMMI_IOAPIC_PINS || irq_lock(vm) < 0)
		return;
	source_locked(vm, pin, level);
	irq_unlock(vm);
}

void vmmi_irq_eoi(struct vmm_vm *vm, uint8_t vector)
{
	if (irq_lock(vm) < 0)
		return;
	vmmi_ioapic_eoi(&vm->irq.io, vector);
	irq_unlock(vm);
}

/* Why an MSI is refused, or NULL. */
static const char *msi_invalid(uint64_t addr, uint32_t data)
{
	if (addr < VMMI_MSI_BASE || addr >= VMMI_MSI_END)
		return "its address is outside [0xfee00000, 0xfef00000)";
	if (addr & 3)
		return "its address is not 4-byte aligned";
	if (data & 0x8000)
		return "it is level-triggered (bit 15): an MSI is an edge";
	switch ((data >> 8) & 7) {
	case 0: /* fixed */
	case 1: /* lowest priority */
		if ((data & 0xff) < 16)
			return "its vector is below 16";
		return NULL;
	case 4: /* NMI */
		return NULL;
	default:
		return "its delivery mode is not fixed, lowest priority or NMI";
	}
}

int vmmi_irq_msi(struct vmm_vm *vm, uint64_t addr, uint32_t data)
{
	const char *why = msi_invalid(addr, data);
	int ret;

	if (why)
		return vmmi_error(-EINVAL, "MSI 0x%x to 0x%llx refused: %s", data,
				  (unsigned long long)addr, why);
	ret = irq_lock(vm);
	if (ret < 0)
		return ret;
	atomic_fetch_add_explicit(&vm->irq.msis, 1, memory_order_relaxed);
	ret = vm->ops->msi
		  ? vm->ops->msi(vm, addr, data)
		  : vmmi_error(-ENOSYS, "the %s backend delivers no MSIs", vm->backend->name);
	irq_unlock(vm);
	return ret;
}

int vmmi_irq_check_pins(const struct vmmi_origin *at, const char *name, const uint32_t *irqs,
			size_t n)
{
	if (n > VMMI_DEVICE_MAX_IRQS)
		return vmmi_error_at(at, -EINVAL, "device '%s': %zu interrupt lines (at most %u)",
				     name, n, VMMI_DEVICE_MAX_IRQS);
	if (n && !irqs)
		return vmmi_error_at(at, -EINVAL, "device '%s': nirqs is %zu but irqs is NULL",
				     name, n);
	for (size_t i = 0; i < n; i++) {
		if (irqs[i] >= VMMI_IOAPIC_PINS)
			return vmmi_error_at(at, -EINVAL,
					     "device '%s': irq %u is not an I/O APIC pin (0 to %u)",
					     name, irqs[i], VMMI_IOAPIC_PINS - 1);
		for (size_t j = 0; j < i; j++)
			if (irqs[j] == irqs[i])
				return vmmi_error_at(at, -EINVAL,
						     "device '%s': irq %u is listed twice", name,
						     irqs[i]);
	}
	return 0;
}

/* ---- a device's lines (plugin host services) ---- */

/* One source's level: bit of *mask, driving pin; only a change reaches the pin. */
static void source_set_locked(struct vmm_vm *vm, uint32_t *mask, unsigned bit, unsigned pin,
			      bool high)
{
	if ((bool)(*mask >> bit & 1) == high)
		return;
	*mask ^= 1u << bit;
	source_locked(vm, pin, high);
}

#define LINE_PULSE 2 /* device_line(): raise and lower at once */

/* Set a device's line low (0), high (1), or pulse it (LINE_PULSE: an edge, if it is low). */
static int device_line(struct vmm_device *dev, uint32_t line, int op)
{
	struct vmm_vm *vm = dev->vm;
	int ret;

	if (line >= dev->nirqs)
		return -ENOENT;
	ret = irq_lock(vm);
	if (ret < 0)
		return ret;
	if (op != LINE_PULSE) {
		source_set_locked(vm, &dev->irq_high, line, dev->irqs[line], op);
	} else if (!(dev->irq_high >> line & 1)) { /* a line held high has no edge to give */
		source_locked(vm, dev->irqs[line], true);
		source_locked(vm, dev->irqs[line], false);
	}
	irq_unlock(vm);
	return 0;
}

int vmmi_irq_device_set(struct vmm_device *dev, uint32_t line, int level)
{
	return device_line(dev, line, level != 0);
}

int vmmi_irq_device_pulse(struct vmm_device *dev, uint32_t line)
{
	return device_line(dev, line, LINE_PULSE);
}

void vmmi_irq_device_gone(struct vmm_device *dev)
{
	struct vmm_vm *vm = dev->vm;

	if (!dev->irq_high || !vm->irq.lock_ok || irq_lock(vm) < 0)
		return;
	for (uint32_t i = 0; i < dev->nirqs; i++)
		if (dev->irq_high >> i & 1)
			source_locked(vm, dev->irqs[i], false);
	dev->irq_high = 0;
	irq_unlock(vm);
}

/* ---- the embedding API ---- */

int vmm_irq_set(struct vmm_vm *vm, uint32_t gsi, int level)
{
	if (!vm)
		return vmmi_error(-EINVAL, "vmm_irq_set: vm is NULL");
	if (gsi >= VMMI_IOAPIC_PINS)
		return vmmi_error(-EINVAL, "vmm_irq_set: %u is not an I/O APIC pin (0 to %u)", gsi,
				  VMMI_IOAPIC_PINS - 1);
	if (irq_lock(vm) < 0)
		return -EIO;
	source_set_locked(vm, &vm->irq.api_high, gsi, gsi, level != 0);
	irq_unlock(vm);
	return 0;
}

int vmm_msi_send(struct vmm_vm *vm, uint64_t addr, uint32_t data)
{
	if (!vm)
		return vmmi_error(-EINVAL, "vmm_msi_send: vm is NULL");
	return vmmi_irq_msi(vm, addr, data);
}
