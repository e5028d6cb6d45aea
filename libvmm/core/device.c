/* device.c - device instances, the plugin loader, host services, and the exit dispatch path. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm_internal.h"

/* Unclaimed accesses logged before the log goes quiet (a guest can make millions). */
#define UNCLAIMED_LOG_LIMIT 16

static const char *space_name(uint32_t space)
{
	return space == VMM_SPACE_PIO ? "pio" : "mmio";
}

/* "file:line: " for messages, or "" when the caller gave no location. */
static void where(char *buf, size_t len, const char *file, unsigned line)
{
	if (file && line)
		snprintf(buf, len, "%s:%u: ", file, line);
	else if (file)
		snprintf(buf, len, "%s: ", file);
	else
		buf[0] = '\0';
}

/* ---- host services ---- */

/* DMA goes through the same checked translation as the embedding API: RAM slots only. */
static int host_mem_read(struct vmm_host *ctx, uint64_t gpa, void *buf, uint64_t len)
{
	return vmm_guest_read(ctx->dev->vm, gpa, buf, len);
}

static int host_mem_write(struct vmm_host *ctx, uint64_t gpa, const void *buf, uint64_t len)
{
	return vmm_guest_write(ctx->dev->vm, gpa, buf, len);
}

static void host_log(struct vmm_host *ctx, int level, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	if (!vmmi_log_enabled(ctx->dev->vm, level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vmmi_log(ctx->dev->vm, level, "%s: %s", ctx->dev->name, msg);
}

static void host_stop(struct vmm_host *ctx, int exit_code)
{
	vmmi_log(ctx->dev->vm, VMM_LOG_INFO, "%s: stop with exit code %d", ctx->dev->name,
		 exit_code);
	vmm_vm_stop(ctx->dev->vm, exit_code);
}

static const struct vmm_device_param *find_param(struct vmm_host *ctx, const char *key, size_t *idx)
{
	const struct vmm_device_config *cfg = ctx->cfg;

	if (!cfg || !key)
		return NULL;
	for (size_t i = 0; i < cfg->nparams; i++) {
		if (cfg->params[i].key && !strcmp(cfg->params[i].key, key)) {
			*idx = i;
			return &cfg->params[i];
		}
	}
	return NULL;
}

static const char *host_param(struct vmm_host *ctx, const char *key)
{
	const struct vmm_device_param *p;
	size_t i;

	p = find_param(ctx, key, &i);
	if (!p)
		return NULL;
	ctx->param_used[i] = true;
	return p->value ? p->value : "";
}

static void host_param_error(struct vmm_host *ctx, const char *key, const char *fmt, ...)
{
	const struct vmm_device_param *p;
	char loc[300], msg[300];
	va_list ap;
	size_t i;

	if (!ctx->cfg || ctx->param_err)
		return; /* only during create(); the first error is the one reported */
	p = find_param(ctx, key, &i);
	if (p) {
		ctx->param_used[i] = true;
		where(loc, sizeof(loc), p->file, p->line);
	} else {
		where(loc, sizeof(loc), ctx->cfg->file, ctx->cfg->line);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->param_err = vmmi_error(-EINVAL, "%sdevice '%s': %s: %s", loc, ctx->dev->name,
				    key ? key : "(null)", msg);
}

static const struct vmm_host_services host_services = {
	.size = sizeof(struct vmm_host_services),
	.abi_version = VMM_PLUGIN_ABI_VERSION,
	.mem_read = host_mem_read,
	.mem_write = host_mem_write,
	.log = host_log,
	.stop = host_stop,
	.param = host_param,
	.param_error = host_param_error,
};

/* ---- descriptors and instances ---- */

/* Check a descriptor before calling anything in it; never read past desc->size. */
static int check_desc(const struct vmm_plugin_desc *desc, const char *what)
{
	if (!desc)
		return vmmi_error(-EPROTO, "%s: no device descriptor", what);
	if (desc->abi_version != VMM_PLUGIN_ABI_VERSION)
		return vmmi_error(-EPROTO, "%s: plugin ABI version %u, but this host speaks version %u",
				  what, desc->abi_version, VMM_PLUGIN_ABI_VERSION);
	if (desc->size < VMM_PLUGIN_DESC_MIN_SIZE)
		return vmmi_error(-EPROTO,
				  "%s: descriptor is %u bytes, smaller than the %zu bytes of ABI version %u",
				  what, desc->size, (size_t)VMM_PLUGIN_DESC_MIN_SIZE,
				  VMM_PLUGIN_ABI_VERSION);
	if (!desc->name || !desc->name[0] || !desc->create || !desc->read || !desc->write)
		return vmmi_error(-EPROTO, "%s: descriptor lacks a name, create, read or write", what);
	if (!(desc->spaces & (VMM_SPACE_MMIO | VMM_SPACE_PIO)) ||
	    !(desc->access_sizes & (VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8)))
		return vmmi_error(-EPROTO, "%s: descriptor '%s' declares no address space or access size",
				  what, desc->name);
	return 0;
}

/*
 * The first writable slot overlapping [base, base + length), or NULL. A
 * window may lie over read-only slots: it receives their writes.
 */
static const struct vmmi_slot *writable_overlap(const struct vmm_vm *vm, uint64_t base,
						uint64_t length)
{
	const struct vmmi_slot *s = vmmi_slots_overlap(&vm->slots, base, length);
	uint64_t last = base + (length - 1);

	/* Slots are sorted and disjoint: walk those in the range, O(log n + k). */
	for (; s && s < vm->slots.slots + vm->slots.n && s->gpa <= last; s++)
		if (!(s->flags & VMM_MEMSLOT_READONLY))
			return s;
	return NULL;
}

static int check_window(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
			const struct vmm_device_config *cfg, const char *loc)
{
	const struct vmmi_window *w;
	const struct vmmi_slot *s;

	if (cfg->space != VMM_SPACE_MMIO && cfg->space != VMM_SPACE_PIO)
		return vmmi_error(-EINVAL, "%sdevice '%s': unknown address space %u", loc, cfg->name,
				  cfg->space);
	if (!(desc->spaces & cfg->space))
		return vmmi_error(-EINVAL, "%sdevice '%s': model '%s' cannot live in %s space", loc,
				  cfg->name, desc->name, space_name(cfg->space));
	if (!cfg->length || cfg->base + cfg->length - 1 < cfg->base)
		return vmmi_error(-EINVAL, "%sdevice '%s': window at 0x%llx of size 0x%llx is empty or wraps",
				  loc, cfg->name, (unsigned long long)cfg->base,
				  (unsigned long long)cfg->length);
	if (cfg->length < desc->min_length)
		return vmmi_error(-EINVAL, "%sdevice '%s': window size 0x%llx is smaller than the 0x%llx model '%s' needs",
				  loc, cfg->name, (unsigned long long)cfg->length,
				  (unsigned long long)desc->min_length, desc->name);
	if (cfg->space == VMM_SPACE_PIO && !vmmi_range_ok(cfg->base, cfg->length, 0x10000))
		return vmmi_error(-ERANGE, "%sdevice '%s': ports [0x%llx, 0x%llx) go past 0xffff", loc,
				  cfg->name, (unsigned long long)cfg->base,
				  (unsigned long long)(cfg->base + cfg->length));
	/* Not base + length > limit: a window ending at 2^64 makes that sum 0. */
	if (cfg->space == VMM_SPACE_MMIO && !vmmi_range_ok(cfg->base, cfg->length, VMMI_IDENTITY_MAX))
		return vmmi_error(-ERANGE, "%sdevice '%s': window ends past 0x%llx, the end of the boot identity map",
				  loc, cfg->name, (unsigned long long)VMMI_IDENTITY_MAX);
	w = vmmi_bus_overlap(&vm->bus[vmmi_space_index(cfg->space)], cfg->base, cfg->length);
	if (w)
		return vmmi_error(-EEXIST, "%sdevice '%s': %s window [0x%llx, 0x%llx) overlaps device '%s' [0x%llx, 0x%llx)",
				  loc, cfg->name, space_name(cfg->space),
				  (unsigned long long)cfg->base,
				  (unsigned long long)(cfg->base + cfg->length), w->dev->name,
				  (unsigned long long)w->base,
				  (unsigned long long)(w->base + w->length));
	if (cfg->space == VMM_SPACE_MMIO &&
	    (s = writable_overlap(vm, cfg->base, cfg->length)))
		return vmmi_error(-EEXIST, "%sdevice '%s': window [0x%llx, 0x%llx) overlaps memslot '%s' [0x%llx, 0x%llx)",
				  loc, cfg->name, (unsigned long long)cfg->base,
				  (unsigned long long)(cfg->base + cfg->length), s->name,
				  (unsigned long long)s->gpa, (unsigned long long)(s->gpa + s->size));
	return 0;
}

static void device_free(struct vmm_device *dev)
{
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
			return vmmi_error(-EEXIST, "%sdevice name '%s' is already used", loc, cfg->name);
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
	dev->desc = desc;
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
	};
	vmmi_clear_error();
	ret = desc->create(&host_services, &dev->host, &info, &dev->state);
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
			where(ploc, sizeof(ploc), p->file ? p->file : cfg->file,
			      p->file ? p->line : cfg->line);
			ret = vmmi_error(-EINVAL, "%sdevice '%s': unknown key '%s' for model '%s'", ploc,
					 cfg->name, p->key ? p->key : "(null)", desc->name);
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
		return ret;
	vm->devices[vm->ndevices++] = dev;
	if (handle)
		vm->dl_handles[vm->ndl++] = handle;
	return 0;
}

static int device_add(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
		      const struct vmm_device_config *cfg, void *handle, struct vmm_device **out)
{
	struct vmm_device *dev = NULL;
	char loc[300];
	int ret, ret2;

	if (!vm || !cfg)
		return vmmi_error(-EINVAL, "vmm_device_add: NULL argument");
	where(loc, sizeof(loc), cfg->file, cfg->line);
	if (cfg->size < sizeof(*cfg))
		return vmmi_error(-EINVAL, "%svmm_device_add: cfg->size %zu is too small", loc,
				  cfg->size);
	if (!cfg->name || !cfg->name[0])
		return vmmi_error(-EINVAL, "%sdevice has no name", loc);
	ret = check_desc(desc, cfg->name);
	if (ret < 0)
		return ret;
	/* Refuse a bad window before create() has side effects (files opened, say). */
	ret = vmmi_mem_read_begin(vm, "vmm_device_add");
	if (ret < 0)
		return ret;
	ret = check_new_device(vm, desc, cfg, loc);
	ret2 = vmmi_mem_read_end(vm, "vmm_device_add");
	if (ret < 0 || ret2 < 0)
		return ret < 0 ? ret : ret2;

	ret = device_create(vm, desc, cfg, loc, &dev);
	if (ret < 0)
		return ret;
	ret = vmmi_change_begin(vm, "vmm_device_add");
	if (ret == 0) {
		ret = device_insert_locked(vm, dev, cfg, handle, loc);
		vmmi_change_end(vm);
	}
	if (ret < 0) {
		/* In no table: no vCPU can reach it. */
		if (desc->destroy)
			desc->destroy(dev->state);
		device_free(dev);
		return ret;
	}
	vmmi_log(vm, VMM_LOG_INFO, "device %s: %s %s [0x%llx, 0x%llx)", dev->name, desc->name,
		 space_name(dev->space), (unsigned long long)dev->base,
		 (unsigned long long)(dev->base + dev->length));
	if (out)
		*out = dev;
	return 0;
}

int vmm_device_add(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
		   const struct vmm_device_config *cfg, struct vmm_device **out)
{
	return device_add(vm, desc, cfg, NULL, out);
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
	vmmi_log(vm, VMM_LOG_INFO, "device %s removed", dev->name);
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
		.size = sizeof(cfg), .name = dev->name, .space = dev->space,
		.base = new_base, .length = dev->length,
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
		vmmi_log(vm, VMM_LOG_INFO, "device %s moved from 0x%llx to 0x%llx", dev->name,
			 (unsigned long long)old_base, (unsigned long long)new_base);
	return ret;
}

int vmm_device_add_plugin(struct vmm_vm *vm, const char *path, const struct vmm_device_config *cfg,
			  struct vmm_device **out)
{
	const struct vmm_plugin_desc *desc;
	vmm_plugin_entry_fn entry;
	void *handle;
	const char *err;
	int ret;

	if (!vm || !path || !cfg)
		return vmmi_error(-EINVAL, "vmm_device_add_plugin: NULL argument");
	/* RTLD_LOCAL: two plugins may both define helpers with the same names. */
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		err = dlerror();
		return vmmi_error(access(path, F_OK) ? -ENOENT : -ENOEXEC, "%s",
				  err ? err : path);
	}
	dlerror();
	*(void **)&entry = dlsym(handle, VMM_PLUGIN_ENTRY_SYMBOL);
	if (!entry) {
		dlclose(handle);
		return vmmi_error(-ENOEXEC, "%s: no symbol %s: not a libvmm device plugin", path,
				  VMM_PLUGIN_ENTRY_SYMBOL);
	}
	desc = entry();
	if (!desc) {
		dlclose(handle);
		return vmmi_error(-ENOEXEC, "%s: %s() returned no descriptor", path,
				  VMM_PLUGIN_ENTRY_SYMBOL);
	}
	ret = check_desc(desc, path);
	if (ret == 0)
		ret = device_add(vm, desc, cfg, handle, out);
	if (ret < 0)
		dlclose(handle);
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
	for (size_t i = 0; i < vm->ndl; i++)
		dlclose(vm->dl_handles[i]);
	free(vm->dl_handles);
	vm->dl_handles = NULL;
	vm->ndl = 0;
}

int vmm_plugin_find(const char *name, const char *search_path, char *buf, size_t buflen)
{
	const char *p, *end;
	int n;

	if (!name || !name[0] || !buf || !buflen)
		return vmmi_error(-EINVAL, "vmm_plugin_find: empty name or buffer");
	if (strchr(name, '/')) {
		n = snprintf(buf, buflen, "%s", name);
		return n >= 0 && (size_t)n < buflen ? 0 :
						      vmmi_error(-ENAMETOOLONG, "%s: path too long", name);
	}
	for (p = search_path ? search_path : ""; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		if (end == p)
			continue;
		n = snprintf(buf, buflen, "%.*s/%s.so", (int)(end - p), p, name);
		if (n >= 0 && (size_t)n < buflen && access(buf, F_OK) == 0)
			return 0;
	}
	return vmmi_error(-ENOENT, "plugin '%s' not found (searched %s)", name,
			  search_path && search_path[0] ? search_path : "nothing: empty plugin path");
}

const char *vmm_device_name(const struct vmm_device *dev)
{
	return dev ? dev->name : NULL;
}

const char *vmm_device_model(const struct vmm_device *dev)
{
	return dev ? dev->desc->name : NULL;
}

int vmm_device_window(const struct vmm_device *dev, uint32_t *space, uint64_t *base, uint64_t *length)
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
	if (!dev || !stats)
		return vmmi_error(-EINVAL, "vmm_device_get_stats: NULL argument");
	stats->reads = atomic_load_explicit(&dev->reads, memory_order_relaxed);
	stats->writes = atomic_load_explicit(&dev->writes, memory_order_relaxed);
	return 0;
}

int vmm_device_count(const struct vmm_vm *vm)
{
	return vm ? (int)(vm->bus[0].n + vm->bus[1].n) : -EINVAL;
}

struct vmm_device *vmm_device_get(const struct vmm_vm *vm, int i)
{
	if (!vm || i < 0)
		return NULL;
	if ((size_t)i < vm->bus[0].n)
		return vm->bus[0].w[i].dev;
	i -= (int)vm->bus[0].n;
	return (size_t)i < vm->bus[1].n ? vm->bus[1].w[i].dev : NULL;
}

/* ---- exit dispatch: the hot path ---- */

static uint64_t size_mask(uint32_t size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static int unclaimed(struct vmm_vcpu *vcpu, uint32_t space, uint64_t addr, uint32_t size,
		     bool is_write, uint64_t *value, struct vmm_exit *exit, const char *why)
{
	struct vmm_vm *vm = vcpu->vm;

	vmmi_count(&vcpu->unclaimed);
	if (!is_write)
		*value = size_mask(size);
	if (vmmi_log_enabled(vm, VMM_LOG_TRACE))
		vmmi_log(vm, VMM_LOG_TRACE, "vcpu%u %s %s 0x%llx size %u value 0x%llx -> unclaimed (%s)",
			 vcpu->index, space_name(space), is_write ? "write" : "read",
			 (unsigned long long)addr, size, (unsigned long long)*value, why);
	if (vm->opts.unclaimed == VMM_UNCLAIMED_STOP) {
		exit->address = addr;
		vmmi_exit_set(exit, VMM_EXIT_UNCLAIMED, "%s %s of %u bytes at 0x%llx: %s",
			      space_name(space), is_write ? "write" : "read", size,
			      (unsigned long long)addr, why);
		return 1;
	}
	if (vmmi_log_enabled(vm, VMM_LOG_WARN)) {
		uint64_t n = atomic_fetch_add(&vm->unclaimed_logged, 1);

		if (n < UNCLAIMED_LOG_LIMIT)
			vmmi_log(vm, VMM_LOG_WARN,
				 "vcpu%u: unclaimed %s %s of %u bytes at 0x%llx (%s): %s", vcpu->index,
				 space_name(space), is_write ? "write" : "read", size,
				 (unsigned long long)addr, why,
				 is_write ? "dropped" : "reads all-ones");
		else if (n == UNCLAIMED_LOG_LIMIT)
			vmmi_log(vm, VMM_LOG_WARN, "further unclaimed accesses are not logged");
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
			 vcpu->index, space_name(space), is_write ? "write" : "read",
			 (unsigned long long)addr, size, (unsigned long long)v, dev->name,
			 (unsigned long long)off);
	return 0;
}
