/* SPDX-License-Identifier: MIT */
/*
 * error.c - error reporting: vmm_strerror(), the per-
 * thread detail of vmm_last_error(), exit descriptions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm_internal.h"

static _Thread_local char last_error[VMMI_ERROR_MAX];

int vmmi_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return err;
}

int vmmi_pthread_failed(const struct vmm_vm *vm, int err, const char *call, const char *what)
{
	vmmi_error(-err, "%s: %s failed: %s", what, call, strerror(err));
	if (vm)
		vmmi_log(vm, VMM_LOG_ERROR, "%s", last_error);
	return -err;
}

void vmmi_clear_error(void)
{
	last_error[0] = '\0';
}

const char *vmm_last_error(void)
{
	return last_error;
}

const char *vmm_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument";
	case -ERANGE:
		return "address range out of bounds";
	case -EEXIST:
		return "range overlaps an existing one, or name already used";
	case -ENOSPC:
		return "no free slot";
	case -ENOENT:
		return "not found";
	case -EFAULT:
		return "guest address range not backed by one RAM slot";
	case -ENOEXEC:
		return "not a valid executable or plugin";
	case -EPROTO:
		return "plugin ABI mismatch";
	case -ENODEV:
		return "accelerator not available";
	case -ENOMEM:
		return "out of memory";
	case -EBUSY:
		return "VM is running";
	case -ENOTSUP:
		return "operation not supported by this backend";
	default:
		return err < 0 ? strerror(-err) : "unknown error";
	}
}

const char *vmm_exit_reason_name(enum vmm_exit_reason reason)
{
	static const char *const names[] = {
	    [VMM_EXIT_NONE] = "none",
	    [VMM_EXIT_STOPPED] = "stopped",
	    [VMM_EXIT_HLT] = "hlt",
	    [VMM_EXIT_SHUTDOWN] = "shutdown",
	    [VMM_EXIT_GUEST_FAULT] = "guest-fault",
	    [VMM_EXIT_INTERNAL_ERROR] = "internal-error",
	    [VMM_EXIT_FAIL_ENTRY] = "fail-entry",
	    [VMM_EXIT_UNCLAIMED] = "unclaimed-access",
	    [VMM_EXIT_ERROR] = "vmm-error",
	    [VMM_EXIT_RESET] = "reset",
	};

	if ((unsigned)reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "unknown";
}

void vmmi_exit_set(struct vmm_exit *exit, enum vmm_exit_reason reason, const char *fmt, ...)
{
	va_list ap;

	exit->reason = reason;
	va_start(ap, fmt);
	vsnprintf(exit->detail, sizeof(exit->detail), fmt, ap);
	va_end(ap);
}

/* "file:line: " for messages, or "" when the caller gave no location. */
void vmmi_where(char *buf, size_t len, const char *file, unsigned line)
{
	if (file && line)
		snprintf(buf, len, "%s:%u: ", file, line);
	else if (file)
		snprintf(buf, len, "%s: ", file);
	else
		buf[0] = '\0';
}

/* "FILE:LINE: " for an origin, in buf. */
static const char *origin_text(char *buf, size_t len, const struct vmmi_origin *at)
{
	vmmi_where(buf, len, at->file ? at->file : "?", at->line);
	return buf;
}

int vmmi_error_at(const struct vmmi_origin *at, int err, const char *fmt, ...)
{
	char msg[sizeof(last_error)], loc[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (at)
		return vmmi_error(err, "%s%s", origin_text(loc, sizeof(loc), at), msg);
	return vmmi_error(err, "%s", msg);
}

int vmmi_error_prefix(const struct vmmi_origin *at, int err, const char *what)
{
	char msg[sizeof(last_error)], loc[300];

	if (!at)
		return err;
	memcpy(msg, last_error, sizeof(msg));
	return vmmi_error(err, "%s%s%s", origin_text(loc, sizeof(loc), at), what ? what : "", msg);
}
