/* SPDX-License-Identifier: MIT */
/*
 * backend.c - walks the backend table: accelerator
 * names, probes, and the choice vmm_vm_create() makes.
 */
#include <stdio.h>
#include <string.h>

#include "vmm_internal.h"

static const struct vmmi_backend *backend_find(enum vmm_accel accel)
{
	for (const struct vmmi_backend *const *b = vmmi_backends; *b; b++) {
		if ((*b)->accel == accel)
			return *b;
	}
	return NULL;
}

const char *vmm_accel_name(enum vmm_accel accel)
{
	const struct vmmi_backend *b;

	if (accel == VMM_ACCEL_AUTO)
		return "auto";
	b = backend_find(accel);
	return b ? b->name : NULL;
}

void vmmi_accel_names(char *buf, size_t len)
{
	size_t n = 0;

	snprintf(buf, len, "auto");
	for (const struct vmmi_backend *const *b = vmmi_backends; *b; b++) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "%s%s", b[1] ? ", " : " or ", (*b)->name);
	}
}

int vmm_accel_parse(const char *name, enum vmm_accel *out)
{
	char names[128];

	if (name && !strcmp(name, "auto")) {
		*out = VMM_ACCEL_AUTO;
		return 0;
	}
	for (const struct vmmi_backend *const *b = vmmi_backends; name && *b; b++) {
		if (!strcmp(name, (*b)->name)) {
			*out = (*b)->accel;
			return 0;
		}
	}
	vmmi_accel_names(names, sizeof(names));
	return vmmi_error(-EINVAL, "unknown accelerator '%s' (expected %s)", name ? name : "(null)",
			  names);
}

/* One backend's probe, or why it is not there: -ENOTSUP if configure left it out. */
static int backend_probe(const struct vmmi_backend *b, char *why, size_t len)
{
	if (!b->ops) {
		snprintf(why, len, "backend %s is not built in (./configure --disable-%s)", b->name,
			 b->name);
		return -ENOTSUP;
	}
	why[0] = '\0';
	return b->probe(why, len);
}

/* Append "; " and what to text (a buffer of len bytes), or just what if text is empty. */
static void append(char *text, size_t len, const char *what)
{
	size_t n = strlen(text);

	snprintf(text + n, len - n, "%s%s", n ? "; " : "", what);
}

/*
 * auto: the first built-in backend whose probe succeeds. reason gets
 * "auto: WHY" when it is the first, else "auto: WHY_NOT; ..., using NAME".
 * Backends left out of the build are not tried; only the failure names them.
 */
static int backend_auto(const struct vmmi_backend **out, char *reason, size_t len)
{
	char why[192], tried[384] = "", left_out[384] = "";

	for (const struct vmmi_backend *const *b = vmmi_backends; *b; b++) {
		if (!(*b)->ops) {
			backend_probe(*b, why, sizeof(why));
			append(left_out, sizeof(left_out), why);
		} else if (backend_probe(*b, why, sizeof(why)) == 0) {
			*out = *b;
			if (tried[0])
				snprintf(reason, len, "auto: %s, using %s", tried, (*b)->name);
			else
				snprintf(reason, len, "auto: %s", why);
			return 0;
		} else {
			append(tried, sizeof(tried), why);
		}
	}
	if (left_out[0])
		append(tried, sizeof(tried), left_out);
	snprintf(reason, len, "auto: %s", tried);
	return vmmi_error(-ENODEV, "no backend is usable: %s", tried);
}

int vmmi_backend_choose(enum vmm_accel accel, const struct vmmi_backend **out, char *reason,
			size_t len)
{
	const struct vmmi_backend *b;
	char why[192], alt[192];
	int ret;

	if (accel == VMM_ACCEL_AUTO)
		return backend_auto(out, reason, len);
	b = backend_find(accel);
	if (!b)
		return vmmi_error(-EINVAL, "vmm_vm_create: unknown accelerator %d", accel);
	ret = backend_probe(b, why, sizeof(why));
	if (ret == -ENOTSUP)
		return vmmi_error(-ENODEV, "%s", why);
	if (ret < 0) {
		/* What to try instead: the first other backend this host can run. */
		snprintf(alt, sizeof(alt), "no other backend is usable here");
		for (const struct vmmi_backend *const *o = vmmi_backends; *o; o++) {
			char w[192];

			if (*o != b && backend_probe(*o, w, sizeof(w)) == 0) {
				snprintf(alt, sizeof(alt), "try accel = %s", (*o)->name);
				break;
			}
		}
		return vmmi_error(-ENODEV, "backend %s is not usable: %s (%s)", b->name, why, alt);
	}
	*out = b;
	snprintf(reason, len, "asked for: %s", why);
	return 0;
}

int vmm_accel_probe(enum vmm_accel accel, char *why, size_t len)
{
	const struct vmmi_backend *b;
	char buf[256];

	if (!why || !len) {
		why = buf;
		len = sizeof(buf);
	}
	if (accel == VMM_ACCEL_AUTO) {
		return backend_auto(&b, why, len);
	}
	b = backend_find(accel);
	if (!b) {
		snprintf(why, len, "unknown accelerator %d", accel);
		return -EINVAL;
	}
	return backend_probe(b, why, len);
}

const char *vmm_vm_accel_reason(const struct vmm_vm *vm)
{
	return vm->accel_reason;
}

enum vmm_accel vmm_vm_accel(const struct vmm_vm *vm)
{
	return vm->backend->accel;
}
