/* SPDX-License-Identifier: MIT */
/*
 * plugin.c - device plugins: loading one with dlopen(),
 * checking its descriptor, and the host services it calls.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm_internal.h"

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
	vmmi_log(ctx->dev->vm, level, "device '%s': %s", ctx->dev->name, msg);
}

static void host_stop(struct vmm_host *ctx, int exit_code)
{
	vmmi_log(ctx->dev->vm, VMM_LOG_INFO, "device '%s': stop with exit code %d", ctx->dev->name,
		 exit_code);
	vmm_vm_stop(ctx->dev->vm, exit_code);
}

static int host_irq_set(struct vmm_host *ctx, uint32_t line, int level)
{
	return vmmi_irq_device_set(ctx->dev, line, level);
}

static int host_irq_pulse(struct vmm_host *ctx, uint32_t line)
{
	return vmmi_irq_device_pulse(ctx->dev, line);
}

/* A bad message is the plugin's bug: logged once per device, then only refused. */
static int host_msi_send(struct vmm_host *ctx, uint64_t addr, uint32_t data)
{
	int ret = vmmi_irq_msi(ctx->dev->vm, addr, data);

	if (ret == -EINVAL && !atomic_exchange(&ctx->dev->msi_logged, true))
		vmmi_log(ctx->dev->vm, VMM_LOG_ERROR, "device '%s': %s", ctx->dev->name,
			 vmm_last_error());
	return ret;
}

const struct vmm_host_services vmmi_host_services = {
    .size = sizeof(struct vmm_host_services),
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .mem_read = host_mem_read,
    .mem_write = host_mem_write,
    .log = host_log,
    .stop = host_stop,
    .param = vmmi_host_param,
    .param_error = vmmi_host_param_error,
    .irq_set = host_irq_set,
    .irq_pulse = host_irq_pulse,
    .msi_send = host_msi_send,
    .param_u64 = vmmi_host_param_u64,
    .param_ms = vmmi_host_param_ms,
    .param_bool = vmmi_host_param_bool,
    .param_enum = vmmi_host_param_enum,
    .param_path = vmmi_host_param_path,
};

/* Check a descriptor before calling anything in it; never read past desc->size. */
int vmmi_plugin_check_desc(const struct vmm_plugin_desc *desc, const char *what)
{
	uint32_t major, minor;

	if (!desc)
		return vmmi_error(-EPROTO, "%s: no device descriptor", what);
	major = VMM_PLUGIN_ABI_MAJOR(desc->abi_version);
	minor = VMM_PLUGIN_ABI_MINOR(desc->abi_version);
	/* Another major may have moved or retyped anything after abi_version and size. */
	if (major != VMM_PLUGIN_ABI_VERSION_MAJOR)
		return vmmi_error(
		    -EPROTO,
		    "%s: plugin ABI major version %u (%u.%u), but this host speaks major version "
		    "%u (ABI %u.%u): rebuild the plugin against this libvmm's plugin.h",
		    what, major, major, minor, VMM_PLUGIN_ABI_VERSION_MAJOR,
		    VMM_PLUGIN_ABI_VERSION_MAJOR, VMM_PLUGIN_ABI_VERSION_MINOR);
	if (desc->size < VMM_PLUGIN_DESC_MIN_SIZE)
		return vmmi_error(
		    -EPROTO,
		    "%s: descriptor is %u bytes, smaller than the %zu bytes of ABI version %u.0",
		    what, desc->size, (size_t)VMM_PLUGIN_DESC_MIN_SIZE,
		    VMM_PLUGIN_ABI_VERSION_MAJOR);
	if (!desc->name || !desc->name[0] || !desc->create || !desc->read || !desc->write)
		return vmmi_error(-EPROTO, "%s: descriptor lacks a name, create, read or write",
				  what);
	if (!(desc->spaces & (VMM_SPACE_MMIO | VMM_SPACE_PIO)) ||
	    !(desc->access_sizes & (VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8)))
		return vmmi_error(-EPROTO,
				  "%s: descriptor '%s' declares no address space or access size",
				  what, desc->name);
	return 0;
}

/*
 * The host's copy of a checked descriptor: the fields its size covers, and
 * the defaults (zero, NULL) for the later ones this host knows. The host
 * reads only the copy from then on, so no field past size is ever read, and
 * fields of a later minor than the host's are ignored.
 */
void vmmi_plugin_desc_copy(struct vmm_plugin_desc *dst, const struct vmm_plugin_desc *src)
{
	size_t n = src->size < sizeof(*dst) ? src->size : sizeof(*dst);

	memset(dst, 0, sizeof(*dst));
	memcpy(dst, src, n);
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
		return vmmi_device_failed(cfg, vmmi_error(access(path, F_OK) ? -ENOENT : -ENOEXEC,
							  "%s", err ? err : path));
	}
	dlerror();
	*(void **)&entry = dlsym(handle, VMM_PLUGIN_ENTRY_SYMBOL);
	if (!entry) {
		dlclose(handle);
		return vmmi_device_failed(
		    cfg, vmmi_error(-ENOEXEC, "%s: no symbol '%s': not a libvmm device plugin",
				    path, VMM_PLUGIN_ENTRY_SYMBOL));
	}
	desc = entry();
	if (!desc) {
		dlclose(handle);
		return vmmi_device_failed(cfg,
					  vmmi_error(-ENOEXEC, "%s: %s() returned no descriptor",
						     path, VMM_PLUGIN_ENTRY_SYMBOL));
	}
	ret = vmmi_plugin_check_desc(desc, path);
	if (ret < 0)
		ret = vmmi_device_failed(cfg, ret);
	else
		ret = vmmi_device_add(vm, desc, cfg, handle, out);
	if (ret < 0)
		dlclose(handle);
	return ret;
}

int vmm_plugin_find(const char *name, const char *search_path, char *buf, size_t buflen)
{
	const char *p, *end;
	int n;

	if (!name || !name[0] || !buf || !buflen)
		return vmmi_error(-EINVAL, "vmm_plugin_find: empty name or buffer");
	if (strchr(name, '/')) {
		n = snprintf(buf, buflen, "%s", name);
		return n >= 0 && (size_t)n < buflen
			   ? 0
			   : vmmi_error(-ENAMETOOLONG, "%s: path too long", name);
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
			  search_path && search_path[0] ? search_path
							: "nothing: empty plugin path");
}

void vmmi_plugins_close(struct vmm_vm *vm)
{
	for (size_t i = 0; i < vm->ndl; i++)
		dlclose(vm->dl_handles[i]);
	free(vm->dl_handles);
	vm->dl_handles = NULL;
	vm->ndl = 0;
}
