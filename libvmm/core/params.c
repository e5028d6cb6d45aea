/* SPDX-License-Identifier: MIT */
/* params.c - a device's config keys as its plugin asks for them during create(). */
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

void vmmi_host_param_error(struct vmm_host *ctx, const char *key, const char *fmt, ...)
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
		vmmi_where(loc, sizeof(loc), p->file, p->line);
	} else {
		vmmi_where(loc, sizeof(loc), ctx->cfg->file, ctx->cfg->line);
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->param_err = vmmi_error(-EINVAL, "%sdevice '%s': %s: %s", loc, ctx->dev->name,
				    key ? key : "(null)", msg);
}
