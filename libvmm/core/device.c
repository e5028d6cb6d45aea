/* SPDX-License-Identifier: MIT */
/*
 * device.c - device instances: add, remove and move their
 * windows, destroy them, and what the API reads of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

/* What the model needs of its window; where the window may lie is layout.c's to say. */
static int check_window(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
			const struct vmm_device_config *cfg, const char *loc)
{
	const struct vmmi_origin at = {cfg->file, cfg->line};
	int ret = vmmi_irq_check_pins(cfg->file ? &at : NULL, cfg->name, cfg->irqs, cfg->nirqs);

	if (ret < 0)
		return ret;
	if (cfg->space != VMM_SPACE_MMIO && cfg->space != VMM_SPACE_PIO)
		return vmmi_error(-EINVAL, "%sdevice '%s': unknown address space %u", loc,
				  cfg->name, cfg->space);
	if (!(desc->spaces & cfg->space))
		return vmmi_error(-EINVAL, "%sdevice '%s': model '%s' cannot live in %s space", loc,
				  cfg->name, desc->name, vmmi_space_name(cfg->space));
	if (cfg->length && cfg->length < desc->min_length)
		return vmmi_error(
		    -EINVAL,
		    "%sdevice '%s': window size 0x%llx is smaller than the 0x%llx model '%s' needs",
		    loc, cfg->name, (unsigned long long)cfg->length,
		    (unsigned long long)desc->min_length, desc->name);
	return vmmi_layout_window(&vm->slots, &vm->bus[vmmi_space_index(cfg->space)],
				  cfg->file ? &at : NULL, cfg->name, cfg->space, cfg->base,
				  cfg->length);
}

static void device_free(struct vmm_device *dev)
{
	vmmi_irq_device_gone(dev);
	free(dev->irqs);
	VMMI_PT_LOG(dev->vm, pthread_mutex_destroy(&dev->lock), dev->name);
	free(dev->name);
	free(dev);
}

/*
 * The checks a new device must pass against the VM's devices and windows,
 * with the layout held still (by a change, or mem_lock for reading).
 */
static int check_new_device(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
			    const struct vmm_device_config *cfg, const char *loc)
{
	for (size_t i = 0; i < vm->ndevices; i++)
		if (!strcmp(vm->devices[i]->name, cfg->name))
			return vmmi_error(-EEXIST, "%sdevice name '%s' is already used", loc,
					  cfg->name);
	return check_window(vm, desc, cfg, loc);
}

/*
 * Make the instance: the model's create() and the check of its keys. Runs
 * with no lock of the VM held, so create() may use every host service
 * (DMA takes the readers' lock) and take its time while vCPUs run.
 */
static int device_create(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
			 const struct vmm_device_config *cfg, const char *loc,
			 struct vmm_device **out)
{
	struct vmm_device_info info;
	struct vmm_device *dev;
	char ploc[300];
	int ret;

	dev = calloc(1, sizeof(*dev));
	if (!dev || !(dev->name = strdup(cfg->name))) {
		free(dev);
		return vmmi_error(-ENOMEM, "%sdevice '%s': out of memory", loc, cfg->name);
	}
	dev->vm = vm;
	vmmi_plugin_desc_copy(&dev->model, desc);
	dev->desc = &dev->model;
	desc = dev->desc;
	dev->space = cfg->space;
	dev->base = cfg->base;
	dev->length = cfg->length;
	dev->host.dev = dev;
	ret = pthread_mutex_init(&dev->lock, NULL);
	if (ret) {
		free(dev->name);
		free(dev);
		return vmmi_error(-ret, "%sdevice '%s': cannot make its lock: %s", loc, cfg->name,
				  strerror(ret));
	}

	if (cfg->nirqs) {
		dev->irqs = malloc(cfg->nirqs * sizeof(*dev->irqs));
		if (!dev->irqs) {
			device_free(dev);
			return vmmi_error(-ENOMEM, "%sdevice '%s': out of memory", loc, cfg->name);
		}
		memcpy(dev->irqs, cfg->irqs, cfg->nirqs * sizeof(*dev->irqs));
		dev->nirqs = (uint32_t)cfg->nirqs;
	}
	dev->host.cfg = cfg;
	dev->host.param_used = calloc(cfg->nparams ? cfg->nparams : 1, sizeof(bool));
	if (!dev->host.param_used) {
		device_free(dev);
		return vmmi_error(-ENOMEM, "%sdevice '%s': out of memory", loc, cfg->name);
	}
	info = (struct vmm_device_info){
	    .size = sizeof(info),
	    .space = cfg->space,
	    .name = dev->name,
	    .base = cfg->base,
	    .length = cfg->length,
	    .irqs = dev->irqs,
	    .nirqs = dev->nirqs,
	};
	vmmi_clear_error();
	ret = desc->create(&vmmi_host_services, &dev->host, &info, &dev->state);
	if (ret == 0 && dev->host.param_err) {
		/* Reported a bad value but returned success: it was created, so destroy it. */
		if (desc->destroy)
			desc->destroy(dev->state);
		ret = dev->host.param_err;
	} else if (ret == 0) {
		for (size_t i = 0; i < cfg->nparams; i++) {
			const struct vmm_device_param *p = &cfg->params[i];

			if (dev->host.param_used[i])
				continue;
			vmmi_where(ploc, sizeof(ploc), p->file ? p->file : cfg->file,
				   p->file ? p->line : cfg->line);
			ret = vmmi_error(-EINVAL, "%sdevice '%s': unknown key '%s' for model '%s'",
					 ploc, cfg->name, p->key ? p->key : "(null)", desc->name);
			break;
		}
		if (ret < 0 && desc->destroy)
			desc->destroy(dev->state);
	} else if (!dev->host.param_err) {
		if (ret > 0)
			ret = -EINVAL;
		/* Keep the plugin's own words if it logged nothing better. */
		/* strerror, not vmm_strerror: the errno is the model's, not libvmm's. */
		vmmi_error(ret, "%sdevice '%s': model '%s' failed to create: %s", loc, cfg->name,
			   desc->name, strerror(-ret));
	}
	free(dev->host.param_used);
	dev->host.param_used = NULL;
	dev->host.cfg = NULL;
	if (ret < 0) {
		device_free(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

/*
 * Claim dev's window, under vmmi_change_begin(). The layout may have
 * changed since the checks before create(), so they are made again. handle
 * (may be NULL) is the plugin's shared object: kept open by the VM if the
 * device is added.
 */
int vmmi_device_failed(const struct vmm_device_config *cfg, int err)
{
	const struct vmmi_origin at = {cfg->file, cfg->line};
	char what[VMM_GUEST_NAME_MAX + 16];

	/* cfg may be the caller's, of any size: file and line are in its first version. */
	if (cfg->size < VMMI_SIZE_MIN(struct vmm_device_config, line) || !cfg->file)
		return err;
	snprintf(what, sizeof(what), "device '%s': ", cfg->name ? cfg->name : "");
	return vmmi_error_prefix(&at, err, what);
}

static int device_insert_locked(struct vmm_vm *vm, struct vmm_device *dev,
				const struct vmm_device_config *cfg, void *handle, const char *loc)
{
	struct vmmi_bus *bus = &vm->bus[vmmi_space_index(dev->space)];
	struct vmm_device **devs;
	void **handles;
	int ret;

	ret = check_new_device(vm, dev->desc, cfg, loc);
	if (ret < 0)
		return ret;
	devs = realloc(vm->devices, (vm->ndevices + 1) * sizeof(*devs));
	if (!devs)
		return vmmi_error(-ENOMEM, "%sdevice '%s': out of memory", loc, cfg->name);
	vm->devices = devs;
	if (handle) {
		handles = realloc(vm->dl_handles, (vm->ndl + 1) * sizeof(*handles));
		if (!handles)
			return vmmi_error(-ENOMEM, "%sdevice '%s': out of memory", loc, cfg->name);
		vm->dl_handles = handles;
	}
	ret = vmmi_bus_insert(bus, dev->base, dev->length, dev, NULL);
	if (ret == 0 && vm->ops->windows_changed) {
		ret = vm->ops->windows_changed(vm);
		if (ret < 0)
			vmmi_bus_remove(bus, dev->base);
	}
	if (ret < 0)
		return vmmi_device_failed(cfg, ret);
	vm->devices[vm->ndevices++] = dev;
	if (handle)
		vm->dl_handles[vm->ndl++] = handle;
	return 0;
}

/*
 * The first version of struct vmm_device_config ended with line: a caller
 * built against it passes that size, however the struct grows later.
 */
#define DEVICE_CONFIG_MIN_SIZE VMMI_SIZE_MIN(struct vmm_device_config, line)

int vmmi_device_add(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
		    const struct vmm_device_config *cfg, void *handle, struct vmm_device **out)
{
	struct vmm_device_config c = {.size = sizeof(c)};
	struct vmm_device *dev = NULL;
	char loc[300];
	int ret, ret2;

	if (!vm || !cfg)
		return vmmi_error(-EINVAL, "vmm_device_add: NULL argument");
	/* Read only what the caller's version of the struct has; later fields keep their zeros. */
	if (cfg->size < DEVICE_CONFIG_MIN_SIZE)
		return vmmi_error(-EINVAL,
				  "vmm_device_add: cfg->size %zu is too small (at least %zu)",
				  cfg->size, (size_t)DEVICE_CONFIG_MIN_SIZE);
	memcpy(&c, cfg, cfg->size < sizeof(c) ? cfg->size : sizeof(c));
	c.size = sizeof(c);
	cfg = &c;
	vmmi_where(loc, sizeof(loc), cfg->file, cfg->line);
	if (!cfg->name || !cfg->name[0])
		return vmmi_error(-EINVAL, "%sdevice has no name", loc);
	ret = vmmi_plugin_check_desc(desc, cfg->name);
	if (ret < 0)
		return vmmi_device_failed(cfg, ret);
	/* Refuse a bad window before create() has side effects (files opened, say). */
	ret = vmmi_mem_read_begin(vm, "vmm_device_add");
	if (ret < 0)
		return vmmi_device_failed(cfg, ret);
	ret = check_new_device(vm, desc, cfg, loc);
	ret2 = vmmi_mem_read_end(vm, "vmm_device_add");
	if (ret < 0 || ret2 < 0)
		return ret < 0 ? ret : vmmi_device_failed(cfg, ret2);

	ret = device_create(vm, desc, cfg, loc, &dev);
	if (ret < 0)
		return ret;
	ret = vmmi_change_begin(vm, "vmm_device_add");
	if (ret < 0) {
		ret = vmmi_device_failed(cfg, ret);
	} else {
		ret = device_insert_locked(vm, dev, cfg, handle, loc);
		vmmi_change_end(vm);
	}
	if (ret < 0) {
		/* In no table: no vCPU can reach it. */
		if (dev->desc->destroy)
			dev->desc->destroy(dev->state);
		device_free(dev);
		return ret;
	}
	vmmi_log(vm, VMM_LOG_INFO, "device '%s': model '%s', %s [0x%llx, 0x%llx)", dev->name,
		 desc->name, vmmi_space_name(dev->space), (unsigned long long)dev->base,
		 (unsigned long long)(dev->base + dev->length));
	if (out)
		*out = dev;
	return 0;
}

int vmm_device_add(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
		   const struct vmm_device_config *cfg, struct vmm_device **out)
{
	return vmmi_device_add(vm, desc, cfg, NULL, out);
}

/* Index of dev in vm->devices, or -1 (a pointer this VM did not create). */
static ssize_t device_index(const struct vmm_vm *vm, const struct vmm_device *dev)
{
	for (size_t i = 0; i < vm->ndevices; i++)
		if (vm->devices[i] == dev)
			return (ssize_t)i;
	return -1;
}

int vmm_device_remove(struct vmm_device *dev)
{
	struct vmm_vm *vm;
	ssize_t i;
	int ret;

	if (!dev)
		return vmmi_error(-EINVAL, "vmm_device_remove: dev is NULL");
	vm = dev->vm;
	ret = vmmi_change_begin(vm, "vmm_device_remove");
	if (ret < 0)
		return ret;
	i = device_index(vm, dev);
	if (i < 0) {
		vmmi_change_end(vm);
		return vmmi_error(-ENOENT, "vmm_device_remove: no such device");
	}
	vmmi_bus_remove(&vm->bus[vmmi_space_index(dev->space)], dev->base);
	if (vm->ops->windows_changed && (ret = vm->ops->windows_changed(vm)) < 0) {
		/* The backend kept the old layout: put the window back. */
		if (vmmi_bus_insert(&vm->bus[vmmi_space_index(dev->space)], dev->base, dev->length,
				    dev, NULL) == 0)
			vm->ops->windows_changed(vm);
		vmmi_change_end(vm);
		return ret;
	}
	memmove(&vm->devices[i], &vm->devices[i + 1],
		(vm->ndevices - (size_t)i - 1) * sizeof(vm->devices[0]));
	vm->ndevices--;
	vmmi_change_end(vm);
	/*
	 * No vCPU was inside the model during the change, and none can reach
	 * it now: destroy() runs with no lock held, like create().
	 */
	vmmi_log(vm, VMM_LOG_INFO, "device '%s' removed", dev->name);
	if (dev->desc->destroy)
		dev->desc->destroy(dev->state);
	device_free(dev);
	return 0;
}

int vmm_device_move(struct vmm_device *dev, uint64_t new_base)
{
	struct vmm_device_config cfg;
	struct vmmi_bus *bus;
	struct vmm_vm *vm;
	uint64_t old_base;
	int ret;

	if (!dev)
		return vmmi_error(-EINVAL, "vmm_device_move: dev is NULL");
	vm = dev->vm;
	ret = vmmi_change_begin(vm, "vmm_device_move");
	if (ret < 0)
		return ret;
	old_base = dev->base;
	if (new_base == dev->base)
		goto out;
	bus = &vm->bus[vmmi_space_index(dev->space)];
	cfg = (struct vmm_device_config){
	    .size = sizeof(cfg),
	    .name = dev->name,
	    .space = dev->space,
	    .base = new_base,
	    .length = dev->length,
	};
	/* Checked with the window out of the bus, so that it may overlap its own old place. */
	vmmi_bus_remove(bus, dev->base);
	ret = check_window(vm, dev->desc, &cfg, "");
	if (ret == 0)
		ret = vmmi_bus_insert(bus, new_base, dev->length, dev, NULL);
	if (ret == 0 && vm->ops->windows_changed && (ret = vm->ops->windows_changed(vm)) < 0)
		vmmi_bus_remove(bus, new_base);
	if (ret < 0) {
		/* Its old place is free: it was just there. */
		if (vmmi_bus_insert(bus, dev->base, dev->length, dev, NULL) == 0 &&
		    vm->ops->windows_changed)
			vm->ops->windows_changed(vm);
		goto out;
	}
	old_base = dev->base;
	dev->base = new_base;
out:
	vmmi_change_end(vm);
	if (ret == 0 && old_base != new_base)
		vmmi_log(vm, VMM_LOG_INFO, "device '%s' moved from 0x%llx to 0x%llx", dev->name,
			 (unsigned long long)old_base, (unsigned long long)new_base);
	return ret;
}

void vmmi_devices_destroy(struct vmm_vm *vm)
{
	for (size_t i = vm->ndevices; i-- > 0;) {
		struct vmm_device *dev = vm->devices[i];

		if (dev->desc->destroy)
			dev->desc->destroy(dev->state);
		device_free(dev);
	}
	free(vm->devices);
	vm->devices = NULL;
	vm->ndevices = 0;
	/* Only after every destroy(): their code lives in these objects. */
	vmmi_plugins_close(vm);
}

const char *vmm_device_name(const struct vmm_device *dev)
{
	return dev ? dev->name : NULL;
}

const char *vmm_device_model(const struct vmm_device *dev)
{
	return dev ? dev->desc->name : NULL;
}

int vmm_device_window(const struct vmm_device *dev, uint32_t *space, uint64_t *base,
		      uint64_t *length)
{
	if (!dev)
		return vmmi_error(-EINVAL, "vmm_device_window: dev is NULL");
	if (space)
		*space = dev->space;
	if (base)
		*base = dev->base;
	if (length)
		*length = dev->length;
	return 0;
}

int vmm_device_get_stats(const struct vmm_device *dev, struct vmm_device_stats *stats)
{
	struct vmm_device_stats st = {.size = sizeof(st)};
	int ret;

	if (!dev || !stats)
		return vmmi_error(-EINVAL, "vmm_device_get_stats: NULL argument");
	ret = vmmi_size_check(stats->size, VMMI_SIZE_MIN(struct vmm_device_stats, reads),
			      "vmm_device_get_stats: stats", "vmm_device_stats");
	if (ret < 0)
		return ret;
	st.reads = atomic_load_explicit(&dev->reads, memory_order_relaxed);
	st.writes = atomic_load_explicit(&dev->writes, memory_order_relaxed);
	vmmi_size_copy_out(stats, stats->size, &st, sizeof(st));
	return 0;
}

int vmm_device_count(const struct vmm_vm *vm)
{
	int n = 0;

	if (!vm)
		return -EINVAL;
	for (unsigned sp = 0; sp < 2; sp++)
		for (size_t i = 0; i < vm->bus[sp].n; i++)
			n += !vm->bus[sp].w[i].dev->builtin;
	return n;
}

/* The machine's own devices (the I/O APIC) are not listed: the embedder did not add them. */
struct vmm_device *vmm_device_get(const struct vmm_vm *vm, int i)
{
	if (!vm || i < 0)
		return NULL;
	for (unsigned sp = 0; sp < 2; sp++)
		for (size_t j = 0; j < vm->bus[sp].n; j++)
			if (!vm->bus[sp].w[j].dev->builtin && i-- == 0)
				return vm->bus[sp].w[j].dev;
	return NULL;
}
