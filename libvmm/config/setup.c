/* SPDX-License-Identifier: MIT */
/* setup.c - build a ready-to-run VM from a parsed configuration file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm_internal.h"

/*
 * Put "file:line: what" in front of the detail of a call that takes no
 * origin (vmm_plugin_find(), the firmware's loading). The core's calls that
 * take one (memslots, devices) name it themselves.
 */
static int at_line(int err, const struct vmm_config *cfg, unsigned line, const char *what)
{
	const struct vmmi_origin at = {cfg->path, line};

	return vmmi_error_prefix(&at, err, what);
}

/* read() that retries when a signal interrupts it. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * Fill ROM r's memory (at hva, zeroed, r->size bytes) with its file. The
 * parse checked that the file fits, but it may have changed since: read at
 * most r->size bytes, and fail if more remain, so a file that grew cannot
 * make this read without end. The memory past the file stays zero.
 */
static int load_rom(const struct vmm_config *cfg, const struct vmm_config_ram *r, uint8_t *hva)
{
	uint64_t done = 0;
	struct stat st;
	uint8_t extra;
	ssize_t n;
	int fd, e;

	/* O_NONBLOCK: if the file became a FIFO, fail rather than wait for a writer. */
	fd = open(r->file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st))
		goto err_errno;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return vmmi_error(-EINVAL, "%s:%u: rom '%s': file '%s' is not a regular file",
				  cfg->path, r->line, r->name, r->file);
	}
	while (done < r->size) {
		uint64_t left = r->size - done;

		n = read_full(fd, hva + done, left < (1u << 30) ? (size_t)left : 1u << 30);
		if (n < 0)
			goto err_errno;
		if (!n)
			break;
		done += (uint64_t)n;
	}
	n = done == r->size ? read_full(fd, &extra, 1) : 0;
	if (n < 0)
		goto err_errno;
	close(fd);
	if (n)
		return vmmi_error(-EFBIG,
				  "%s:%u: rom '%s': file '%s' is larger than the rom's size 0x%llx "
				  "(it changed since the configuration was read)",
				  cfg->path, r->line, r->name, r->file,
				  (unsigned long long)r->size);
	return 0;

err_errno:
	e = errno;
	if (fd >= 0)
		close(fd);
	return vmmi_error(-e, "%s:%u: rom '%s': file '%s': %s", cfg->path, r->line, r->name,
			  r->file, strerror(e));
}

static int add_devices(struct vmm_vm *vm, const struct vmm_config *cfg, const char *plugin_path)
{
	char path[4096], rel[4096], what[128];
	int ret;

	for (size_t i = 0; i < cfg->ndevices; i++) {
		const struct vmm_config_device *d = &cfg->devices[i];
		struct vmm_device_config dc = {
		    .size = sizeof(dc),
		    .name = d->name,
		    .space = d->space,
		    .base = d->base,
		    .length = d->length,
		    .params = d->params,
		    .nparams = d->nparams,
		    .file = cfg->path,
		    .line = d->line,
		    .irqs = d->irqs,
		    .nirqs = d->nirqs,
		};

		snprintf(what, sizeof(what), "device '%s': ", d->name);
		if (d->plugin[0] != '/' && strchr(d->plugin, '/') && strrchr(cfg->path, '/')) {
			/* A relative path is relative to the config file, like firmware. */
			int dirlen = (int)(strrchr(cfg->path, '/') - cfg->path);

			snprintf(rel, sizeof(rel), "%.*s/%s", dirlen, cfg->path, d->plugin);
			ret = vmm_plugin_find(rel, NULL, path, sizeof(path));
		} else {
			ret = vmm_plugin_find(d->plugin, plugin_path, path, sizeof(path));
		}
		if (ret < 0)
			return at_line(ret, cfg, d->line, what);
		/* dc names the origin: every error of the device's says it. */
		ret = vmm_device_add_plugin(vm, path, &dc, NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int vmm_vm_create_from_config(const struct vmm_config *cfg, const struct vmm_vm_options *opts,
			      const char *plugin_path, struct vmm_vm **out)
{
	struct vmm_vm_options o;
	struct vmm_vm *vm;
	uint64_t entry;
	char what[32];
	int ret;

	if (!cfg || !out)
		return vmmi_error(-EINVAL, "vmm_vm_create_from_config: NULL argument");
	*out = NULL;
	vmm_vm_options_init(&o);
	if (opts)
		memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	o.size = sizeof(o);
	if (o.accel == VMM_ACCEL_AUTO)
		o.accel = cfg->accel;
	o.unclaimed = cfg->unclaimed;

	ret = vmm_vm_create(&o, &vm);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < cfg->nram; i++) {
		const struct vmm_config_ram *r = &cfg->ram[i];
		const struct vmmi_origin at = {cfg->path, r->line};
		void *hva;

		/* Where it may lie is the core's to say (layout.c), naming this section's line. */
		ret = vmmi_memslot_alloc(vm, &at, r->name, r->gpa, r->size, r->flags, &hva);
		if (ret < 0)
			goto err;
		/* Nothing runs yet, and the host may write a ROM's memory. */
		if (r->file) {
			ret = load_rom(cfg, r, hva);
			if (ret < 0)
				goto err;
		}
	}
	ret = add_devices(vm, cfg, plugin_path);
	if (ret < 0)
		goto err;
	for (unsigned i = 0; i < (cfg->vcpus ? cfg->vcpus : 1); i++) {
		ret = vmm_vcpu_create(vm, i, NULL);
		if (ret < 0) {
			/* [vm] sets vcpus; without [vm] the default 1 is blamed on line 1. */
			snprintf(what, sizeof(what), "vcpu %u: ", i);
			at_line(ret, cfg, cfg->vm_line ? cfg->vm_line : 1, what);
			goto err;
		}
	}
	if (cfg->firmware) {
		ret = vmm_load_elf(vm, cfg->firmware, &entry);
		if (ret == 0)
			ret = vmm_boot_setup(vm, entry);
		if (ret < 0) {
			at_line(ret, cfg, cfg->firmware_line, "firmware: ");
			goto err;
		}
	}
	if (cfg->kernel) {
		ret = vmm_load_linux(vm, cfg->kernel, cfg->initrd, cfg->cmdline);
		if (ret < 0) {
			/* The loader's words name the key: point at its line. */
			const char *why = vmm_last_error();
			unsigned line = cfg->kernel_line;

			if (!strncmp(why, "initrd ", 7) && cfg->initrd_line)
				line = cfg->initrd_line;
			else if (!strncmp(why, "cmdline", 7) && cfg->cmdline_line)
				line = cfg->cmdline_line;
			at_line(ret, cfg, line ? line : cfg->vm_line, "");
			goto err;
		}
	}
	*out = vm;
	return 0;
err:
	/* Keep the detail across destroy: plugins' destroy() may log, nothing resets it. */
	vmm_vm_destroy(vm);
	return ret;
}
