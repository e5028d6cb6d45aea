/* setup.c - build a ready-to-run VM from a parsed configuration file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

/* Prefix the current detail with "file:line: " unless it already has a location. */
static int at_line(int err, const struct vmm_config *cfg, unsigned line, const char *what)
{
	char detail[512];
	size_t n = strlen(cfg->path);

	snprintf(detail, sizeof(detail), "%s", vmm_last_error());
	if (!strncmp(detail, cfg->path, n) && detail[n] == ':')
		return err;
	return vmmi_error(err, "%s:%u: %s%s", cfg->path, line, what, detail);
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
		ret = vmm_device_add_plugin(vm, path, &dc, NULL);
		if (ret < 0)
			return at_line(ret, cfg, d->line, what);
	}
	return 0;
}

int vmm_vm_create_from_config(const struct vmm_config *cfg, const struct vmm_vm_options *opts,
			      const char *plugin_path, struct vmm_vm **out)
{
	struct vmm_vm_options o;
	struct vmm_vm *vm;
	char what[128];
	uint64_t entry;
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

		snprintf(what, sizeof(what), "%s '%s': ",
			 r->flags & VMM_MEMSLOT_READONLY ? "rom" : "ram", r->name);
		ret = vmm_memslot_alloc_flags(vm, r->name, r->gpa, r->size, r->flags, NULL);
		if (ret < 0) {
			at_line(ret, cfg, r->line, what);
			goto err;
		}
	}
	ret = add_devices(vm, cfg, plugin_path);
	if (ret < 0)
		goto err;
	for (unsigned i = 0; i < (cfg->vcpus ? cfg->vcpus : 1); i++) {
		ret = vmm_vcpu_create(vm, i, NULL);
		if (ret < 0)
			goto err;
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
	*out = vm;
	return 0;
err:
	/* Keep the detail across destroy: plugins' destroy() may log, nothing resets it. */
	vmm_vm_destroy(vm);
	return ret;
}
