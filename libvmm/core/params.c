/* SPDX-License-Identifier: MIT */
/* params.c - a device's config keys as its plugin asks for them during create(), raw or typed. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm_internal.h"

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

const char *vmmi_host_param(struct vmm_host *ctx, const char *key)
{
	const struct vmm_device_param *p;
	size_t i;

	p = find_param(ctx, key, &i);
	if (!p)
		return NULL;
	ctx->param_used[i] = true;
	return p->value ? p->value : "";
}

/*
 * Where a key was written: its own file:line, else its device's (an embedder
 * may give only the device's), else nothing.
 */
static const char *param_file(const struct vmm_host *ctx, const struct vmm_device_param *p)
{
	return p && p->file ? p->file : ctx->cfg->file;
}

static void param_where(const struct vmm_host *ctx, const struct vmm_device_param *p, char *buf,
			size_t len)
{
	if (p && p->file)
		vmmi_where(buf, len, p->file, p->line);
	else
		vmmi_where(buf, len, ctx->cfg->file, ctx->cfg->line);
}

static void report(struct vmm_host *ctx, const struct vmm_device_param *p, const char *fmt, ...)
    VMMI_FORMAT(3, 4);

/* "FILE:LINE: device 'NAME': MSG", the first time only: later errors are usually its echoes. */
static void report(struct vmm_host *ctx, const struct vmm_device_param *p, const char *fmt, ...)
{
	char loc[300], msg[400];
	va_list ap;

	if (ctx->param_err)
		return;
	param_where(ctx, p, loc, sizeof(loc));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->param_err = vmmi_error(-EINVAL, "%sdevice '%s': %s", loc, ctx->dev->name, msg);
}

void vmmi_host_param_error(struct vmm_host *ctx, const char *key, const char *fmt, ...)
{
	const struct vmm_device_param *p;
	char msg[300];
	va_list ap;
	size_t i;

	if (!ctx->cfg || ctx->param_err)
		return; /* only during create(); the first error is the one reported */
	p = find_param(ctx, key, &i);
	if (p)
		ctx->param_used[i] = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(ctx, p, "%s: %s", key ? key : "(null)", msg);
}

/* ---- typed keys (1.2) ---- */

/* The key's entry, marked used, or NULL (not set, or not inside create()). */
static const struct vmm_device_param *use_param(struct vmm_host *ctx, const char *key)
{
	const struct vmm_device_param *p;
	size_t i;

	p = find_param(ctx, key, &i);
	if (p)
		ctx->param_used[i] = true;
	return p;
}

static const char *value_of(const struct vmm_device_param *p)
{
	return p->value ? p->value : "";
}

/*
 * A parsed number against [min, max], with the core's words for what went
 * wrong; unit follows the bounds in the message ("" or "ms").
 */
static int check_number(struct vmm_host *ctx, const struct vmm_device_param *p, int ret, uint64_t v,
			uint64_t min, uint64_t max, const char *syntax, const char *unit)
{
	if (ret == -EINVAL) {
		report(ctx, p, "%s = '%s' is not a number: expected %s", p->key, value_of(p),
		       syntax);
		return -EINVAL;
	}
	if (ret == -ERANGE && min == 0 && max == UINT64_MAX) {
		report(ctx, p, "%s = '%s' is too large", p->key, value_of(p));
		return -EINVAL;
	}
	if (ret || v < min || v > max) {
		report(ctx, p, "%s = '%s' is out of range: expected %" PRIu64 "%s to %" PRIu64 "%s",
		       p->key, value_of(p), min, unit, max, unit);
		return -EINVAL;
	}
	return 0;
}

/* What param_u64() and param_ms() share: the key's value through parse, then the range. */
static int read_number(struct vmm_host *ctx, const char *key, uint64_t min, uint64_t max,
		       uint64_t *out, int (*parse)(const char *s, uint64_t *v), const char *syntax,
		       const char *unit)
{
	const struct vmm_device_param *p = use_param(ctx, key);
	uint64_t v = 0;
	int ret;

	if (!p)
		return -ENOENT;
	if (!out)
		return -EINVAL;
	ret = parse(value_of(p), &v);
	ret = check_number(ctx, p, ret, v, min, max, syntax, unit);
	if (!ret)
		*out = v;
	return ret;
}

int vmmi_host_param_u64(struct vmm_host *ctx, const char *key, uint64_t min, uint64_t max,
			uint64_t *out)
{
	return read_number(ctx, key, min, max, out, vmmi_parse_size, VMMI_SIZE_SYNTAX, "");
}

int vmmi_host_param_ms(struct vmm_host *ctx, const char *key, uint64_t min_ms, uint64_t max_ms,
		       uint64_t *ms)
{
	return read_number(ctx, key, min_ms, max_ms, ms, vmmi_parse_duration_ms,
			   VMMI_DURATION_SYNTAX, "ms");
}

int vmmi_host_param_bool(struct vmm_host *ctx, const char *key, bool *out)
{
	const struct vmm_device_param *p = use_param(ctx, key);
	bool v;

	if (!p)
		return -ENOENT;
	if (!out)
		return -EINVAL;
	if (vmmi_parse_bool(value_of(p), &v)) {
		report(ctx, p, "%s = '%s' is not a boolean: expected " VMMI_BOOL_SYNTAX, p->key,
		       value_of(p));
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* "a, b or c" into buf, cut short with "..." if it does not fit. */
static void list_words(const char *const *words, char *buf, size_t len)
{
	size_t n = 0, used = 0;
	int w;

	while (words[n])
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		w = snprintf(buf + used, len - used, "%s%s",
			     i == 0	 ? ""
			     : i + 1 < n ? ", "
					 : " or ",
			     words[i]);
		if (w < 0 || (size_t)w >= len - used) {
			if (len > 4)
				snprintf(buf + len - 4, 4, "...");
			return;
		}
		used += (size_t)w;
	}
}

int vmmi_host_param_enum(struct vmm_host *ctx, const char *key, const char *const *words,
			 unsigned *index)
{
	const struct vmm_device_param *p = use_param(ctx, key);
	char list[256];

	if (!p)
		return -ENOENT;
	if (!words || !index)
		return -EINVAL;
	for (unsigned i = 0; words[i]; i++) {
		if (!strcmp(value_of(p), words[i])) {
			*index = i;
			return 0;
		}
	}
	list_words(words, list, sizeof(list));
	report(ctx, p, "%s = '%s' is not allowed: expected %s", p->key, value_of(p),
	       words[0] ? list : "nothing (the model lists no word)");
	return -EINVAL;
}

int vmmi_host_param_path(struct vmm_host *ctx, const char *key, char *buf, size_t len)
{
	const struct vmm_device_param *p = use_param(ctx, key);
	const char *value, *file, *slash;
	size_t dirlen = 0, vlen;

	if (!p)
		return -ENOENT;
	if (!buf || !len)
		return -EINVAL;
	value = value_of(p);
	if (!*value) {
		report(ctx, p, "%s is empty: expected a path", p->key);
		return -EINVAL;
	}
	/* As vmm.ini(5) resolves firmware: everything up to the config file's last '/'. */
	file = param_file(ctx, p);
	slash = file && value[0] != '/' ? strrchr(file, '/') : NULL;
	if (slash)
		dirlen = (size_t)(slash - file) + 1;
	vlen = strlen(value);
	if (dirlen + vlen >= len) {
		report(ctx, p,
		       "%s = '%s' is too long a path (%zu bytes at most, with the folder '%.*s')",
		       p->key, value, len - 1, (int)dirlen, file);
		return -EINVAL;
	}
	if (dirlen) /* file may be NULL then, and memcpy() wants a pointer even for 0 bytes */
		memcpy(buf, file, dirlen);
	memcpy(buf + dirlen, value, vlen + 1);
	return 0;
}
