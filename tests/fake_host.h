/* SPDX-License-Identifier: MIT */
/*
 * fake_host.h - a fake host-services table that loads a device plugin and drives it without a VM.
 */
#ifndef TESTS_FAKE_HOST_H
#define TESTS_FAKE_HOST_H

/*
 * Everything here is static inline: the unit test binary is built from the
 * .c files of tests/unit only, and each test file that needs a fake host
 * includes this header. Criterion runs every test in its own process, so a test may
 * freely dup2() over stdin/stdout or lower its resource limits.
 *
 * The fake guest RAM is one slot, [FAKE_RAM_BASE, FAKE_RAM_BASE +
 * FAKE_RAM_SIZE); mem_read()/mem_write() refuse any range not wholly inside
 * it, copying nothing, as the real host does.
 */

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <time.h>

#include "vmm/plugin.h"
#include "vmm_internal.h" /* vmmi_parse_*(): the typed keys parse as the real host's */

#define FAKE_RAM_BASE	0x100000ull
#define FAKE_RAM_SIZE	0x10000ull
#define FAKE_MAX_PARAMS 8
#define FAKE_MAX_IRQS	4

struct fake_host {
	struct vmm_host_services svc; /* first: a struct vmm_host * ctx points here too */

	uint8_t ram[FAKE_RAM_SIZE];
	unsigned mem_reads, mem_writes; /* calls, accepted or not */
	unsigned mem_refused;

	unsigned stops;
	int stop_code; /* of the first stop */

	const char *keys[FAKE_MAX_PARAMS];
	const char *values[FAKE_MAX_PARAMS];
	bool asked[FAKE_MAX_PARAMS];
	size_t nparams;

	unsigned param_errors;
	char param_error_key[64]; /* of the latest param_error() or typed key refused */
	char param_error_msg[256];
	const char *param_dir; /* 1.2 param_path(): the config's folder ("dir/"), NULL for none */

	unsigned logs;
	char log_msg[256]; /* the latest log() */

	/*
	 * 1.1 interrupts: the device's pins (fake_add_irq()), each line's level
	 * and rising edges as irq_set()/irq_pulse() left them, the last MSI.
	 * Guarded by irq_lock: devices call these from their own threads too.
	 */
	uint32_t irq_pins[FAKE_MAX_IRQS];
	uint32_t nirqs;
	bool abi_1_0; /* fake_create() passes 1.0-sized services and info */
	pthread_mutex_t irq_lock;
	pthread_cond_t irq_cond;
	int irq_level[FAKE_MAX_IRQS];
	unsigned irq_rises[FAKE_MAX_IRQS];
	unsigned irq_bad_lines; /* calls naming a line the device does not have */
	unsigned msis;
	uint64_t msi_addr;
	uint32_t msi_data;

	void *dl;
	const struct vmm_plugin_desc *desc;
	struct vmm_device_info info;
	void *state; /* the instance, after fake_create() succeeded */
};

static inline struct fake_host *fake_of(struct vmm_host *ctx)
{
	return (struct fake_host *)ctx;
}

static inline struct vmm_host *fake_ctx(struct fake_host *fh)
{
	return (struct vmm_host *)fh;
}

/* Is [gpa, gpa + len) inside the fake RAM? Overflow-safe; len 0 counts as 1 like the real host. */
static inline bool fake_ram_range(uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	return gpa >= FAKE_RAM_BASE && len <= FAKE_RAM_SIZE &&
	       gpa - FAKE_RAM_BASE <= FAKE_RAM_SIZE - len;
}

static inline int fake_mem_read(struct vmm_host *ctx, uint64_t gpa, void *buf, uint64_t len)
{
	struct fake_host *fh = fake_of(ctx);

	fh->mem_reads++;
	if (!fake_ram_range(gpa, len)) {
		fh->mem_refused++;
		return -EFAULT;
	}
	memcpy(buf, fh->ram + (gpa - FAKE_RAM_BASE), len);
	return 0;
}

static inline int fake_mem_write(struct vmm_host *ctx, uint64_t gpa, const void *buf, uint64_t len)
{
	struct fake_host *fh = fake_of(ctx);

	fh->mem_writes++;
	if (!fake_ram_range(gpa, len)) {
		fh->mem_refused++;
		return -EFAULT;
	}
	memcpy(fh->ram + (gpa - FAKE_RAM_BASE), buf, len);
	return 0;
}

__attribute__((format(printf, 3, 4))) static inline void fake_log(struct vmm_host *ctx, int level,
								  const char *fmt, ...)
{
	struct fake_host *fh = fake_of(ctx);
	va_list ap;

	fh->logs++;
	va_start(ap, fmt);
	vsnprintf(fh->log_msg, sizeof(fh->log_msg), fmt, ap);
	va_end(ap);
}

static inline void fake_stop(struct vmm_host *ctx, int exit_code)
{
	struct fake_host *fh = fake_of(ctx);

	if (fh->stops++ == 0)
		fh->stop_code = exit_code;
}

static inline const char *fake_param(struct vmm_host *ctx, const char *key)
{
	struct fake_host *fh = fake_of(ctx);

	for (size_t i = 0; i < fh->nparams; i++) {
		if (!strcmp(fh->keys[i], key)) {
			fh->asked[i] = true;
			return fh->values[i];
		}
	}
	return NULL;
}

__attribute__((format(printf, 3, 4))) static inline void
fake_param_error(struct vmm_host *ctx, const char *key, const char *fmt, ...)
{
	struct fake_host *fh = fake_of(ctx);
	va_list ap;

	fh->param_errors++;
	snprintf(fh->param_error_key, sizeof(fh->param_error_key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(fh->param_error_msg, sizeof(fh->param_error_msg), fmt, ap);
	va_end(ap);
}

/* The entry of key, marked asked, or -1. */
static inline int fake_find(struct fake_host *fh, const char *key)
{
	for (size_t i = 0; i < fh->nparams; i++) {
		if (!strcmp(fh->keys[i], key)) {
			fh->asked[i] = true;
			return (int)i;
		}
	}
	return -1;
}

/* A typed key refused: recorded like a param_error(), with the host's message shape. */
__attribute__((format(printf, 3, 4))) static inline int
fake_refuse(struct fake_host *fh, const char *key, const char *fmt, ...)
{
	va_list ap;

	fh->param_errors++;
	snprintf(fh->param_error_key, sizeof(fh->param_error_key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(fh->param_error_msg, sizeof(fh->param_error_msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A number key read with the core's parser, as the host's param_u64() and param_ms() do. */
static inline int fake_param_number(struct vmm_host *ctx, const char *key, uint64_t min,
				    uint64_t max, uint64_t *out,
				    int (*parse)(const char *s, uint64_t *v))
{
	struct fake_host *fh = fake_of(ctx);
	int i = fake_find(fh, key);
	uint64_t v;

	if (i < 0)
		return -ENOENT;
	if (parse(fh->values[i], &v) == -EINVAL)
		return fake_refuse(fh, key, "%s = '%s' is not a number", key, fh->values[i]);
	if (parse(fh->values[i], &v) || v < min || v > max)
		return fake_refuse(fh, key, "%s = '%s' is out of range", key, fh->values[i]);
	*out = v;
	return 0;
}

static inline int fake_param_u64(struct vmm_host *ctx, const char *key, uint64_t min, uint64_t max,
				 uint64_t *out)
{
	return fake_param_number(ctx, key, min, max, out, vmmi_parse_size);
}

static inline int fake_param_ms(struct vmm_host *ctx, const char *key, uint64_t min, uint64_t max,
				uint64_t *ms)
{
	return fake_param_number(ctx, key, min, max, ms, vmmi_parse_duration_ms);
}

static inline int fake_param_bool(struct vmm_host *ctx, const char *key, bool *out)
{
	struct fake_host *fh = fake_of(ctx);
	int i = fake_find(fh, key);

	if (i < 0)
		return -ENOENT;
	if (vmmi_parse_bool(fh->values[i], out))
		return fake_refuse(fh, key, "%s = '%s' is not a boolean", key, fh->values[i]);
	return 0;
}

static inline int fake_param_enum(struct vmm_host *ctx, const char *key, const char *const *words,
				  unsigned *index)
{
	struct fake_host *fh = fake_of(ctx);
	int i = fake_find(fh, key);

	if (i < 0)
		return -ENOENT;
	for (unsigned w = 0; words[w]; w++) {
		if (!strcmp(words[w], fh->values[i])) {
			*index = w;
			return 0;
		}
	}
	return fake_refuse(fh, key, "%s = '%s' is not allowed", key, fh->values[i]);
}

/* Relative values hang off param_dir, as the real host hangs them off the config's folder. */
static inline int fake_param_path(struct vmm_host *ctx, const char *key, char *buf, size_t len)
{
	struct fake_host *fh = fake_of(ctx);
	int i = fake_find(fh, key), n;
	const char *v;

	if (i < 0)
		return -ENOENT;
	v = fh->values[i];
	if (!*v)
		return fake_refuse(fh, key, "%s is empty: expected a path", key);
	n = snprintf(buf, len, "%s%s", v[0] != '/' && fh->param_dir ? fh->param_dir : "", v);
	if (n < 0 || (size_t)n >= len)
		return fake_refuse(fh, key, "%s = '%s' is too long a path", key, v);
	return 0;
}

/* A line's new level, under irq_lock; a rise counts and wakes fake_irq_wait(). */
static inline int fake_irq_set(struct vmm_host *ctx, uint32_t line, int level)
{
	struct fake_host *fh = fake_of(ctx);

	pthread_mutex_lock(&fh->irq_lock);
	if (line >= fh->nirqs) {
		fh->irq_bad_lines++;
		pthread_mutex_unlock(&fh->irq_lock);
		return -ENOENT;
	}
	if (level && !fh->irq_level[line])
		fh->irq_rises[line]++;
	fh->irq_level[line] = level != 0;
	pthread_cond_broadcast(&fh->irq_cond);
	pthread_mutex_unlock(&fh->irq_lock);
	return 0;
}

/* An edge: a rise of a low line, which stays low. */
static inline int fake_irq_pulse(struct vmm_host *ctx, uint32_t line)
{
	struct fake_host *fh = fake_of(ctx);

	pthread_mutex_lock(&fh->irq_lock);
	if (line >= fh->nirqs) {
		fh->irq_bad_lines++;
		pthread_mutex_unlock(&fh->irq_lock);
		return -ENOENT;
	}
	if (!fh->irq_level[line])
		fh->irq_rises[line]++;
	pthread_cond_broadcast(&fh->irq_cond);
	pthread_mutex_unlock(&fh->irq_lock);
	return 0;
}

static inline int fake_msi_send(struct vmm_host *ctx, uint64_t addr, uint32_t data)
{
	struct fake_host *fh = fake_of(ctx);

	pthread_mutex_lock(&fh->irq_lock);
	fh->msis++;
	fh->msi_addr = addr;
	fh->msi_data = data;
	pthread_cond_broadcast(&fh->irq_cond);
	pthread_mutex_unlock(&fh->irq_lock);
	return 0;
}

/* A fresh fake host (zeroed RAM, no params) with BUILD_DIR/plugins/NAME.so loaded. */
static inline struct fake_host *fake_host_new(const char *plugin)
{
	struct fake_host *fh = calloc(1, sizeof(*fh));
	char path[4096];
	vmm_plugin_entry_fn entry;

	cr_assert_not_null(fh);
	fh->svc.size = sizeof(fh->svc);
	fh->svc.abi_version = VMM_PLUGIN_ABI_VERSION;
	fh->svc.mem_read = fake_mem_read;
	fh->svc.mem_write = fake_mem_write;
	fh->svc.log = fake_log;
	fh->svc.stop = fake_stop;
	fh->svc.param = fake_param;
	fh->svc.param_error = fake_param_error;
	fh->svc.irq_set = fake_irq_set;
	fh->svc.irq_pulse = fake_irq_pulse;
	fh->svc.msi_send = fake_msi_send;
	fh->svc.param_u64 = fake_param_u64;
	fh->svc.param_ms = fake_param_ms;
	fh->svc.param_bool = fake_param_bool;
	fh->svc.param_enum = fake_param_enum;
	fh->svc.param_path = fake_param_path;
	cr_assert_eq(pthread_mutex_init(&fh->irq_lock, NULL), 0);
	cr_assert_eq(pthread_cond_init(&fh->irq_cond, NULL), 0);

	snprintf(path, sizeof(path), "%s/plugins/%s.so", BUILD_DIR, plugin);
	fh->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(fh->dl, "dlopen %s: %s", path, dlerror());
	*(void **)&entry = dlsym(fh->dl, VMM_PLUGIN_ENTRY_SYMBOL);
	cr_assert_not_null(entry, "%s exports no " VMM_PLUGIN_ENTRY_SYMBOL, path);
	fh->desc = entry();
	cr_assert_not_null(fh->desc);
	return fh;
}

/* Add key = value for the next fake_create(); both strings are borrowed. */
static inline void fake_set_param(struct fake_host *fh, const char *key, const char *value)
{
	cr_assert_lt(fh->nparams, FAKE_MAX_PARAMS);
	fh->keys[fh->nparams] = key;
	fh->values[fh->nparams] = value;
	fh->nparams++;
}

/* Give the next fake_create()'s device one more interrupt line, at I/O APIC pin. */
static inline void fake_add_irq(struct fake_host *fh, uint32_t pin)
{
	cr_assert_lt(fh->nirqs, FAKE_MAX_IRQS);
	fh->irq_pins[fh->nirqs++] = pin;
}

/* Make the next fake_create() look like a host of ABI 1.1: no typed key services. */
static inline void fake_use_abi_1_1(struct fake_host *fh)
{
	fh->svc.size = offsetof(struct vmm_host_services, param_u64);
	fh->svc.abi_version = VMM_PLUGIN_ABI(1, 1);
	/* What an older host's table would hold past its size: anything; NULL here. */
	fh->svc.param_u64 = NULL;
	fh->svc.param_ms = NULL;
	fh->svc.param_bool = NULL;
	fh->svc.param_enum = NULL;
	fh->svc.param_path = NULL;
}

/* Make the next fake_create() look like a host of ABI 1.0: no interrupt services, no lines. */
static inline void fake_use_abi_1_0(struct fake_host *fh)
{
	fake_use_abi_1_1(fh);
	fh->abi_1_0 = true;
	fh->svc.size = offsetof(struct vmm_host_services, irq_set);
	fh->svc.abi_version = VMM_PLUGIN_ABI(1, 0);
	fh->svc.irq_set = NULL;
	fh->svc.irq_pulse = NULL;
	fh->svc.msi_send = NULL;
}

/* Line line's level now. */
static inline int fake_irq_level(struct fake_host *fh, uint32_t line)
{
	int v;

	pthread_mutex_lock(&fh->irq_lock);
	v = fh->irq_level[line];
	pthread_mutex_unlock(&fh->irq_lock);
	return v;
}

/* How often line line has gone from low to high. */
static inline unsigned fake_irq_rises(struct fake_host *fh, uint32_t line)
{
	unsigned v;

	pthread_mutex_lock(&fh->irq_lock);
	v = fh->irq_rises[line];
	pthread_mutex_unlock(&fh->irq_lock);
	return v;
}

/* Wait up to ms milliseconds for line line to reach level; returns whether it did. */
static inline bool fake_irq_wait(struct fake_host *fh, uint32_t line, int level, unsigned ms)
{
	struct timespec dl;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fh->irq_lock);
	while (fh->irq_level[line] != level)
		if (pthread_cond_timedwait(&fh->irq_cond, &fh->irq_lock, &dl) == ETIMEDOUT)
			break;
	ok = fh->irq_level[line] == level;
	pthread_mutex_unlock(&fh->irq_lock);
	return ok;
}

/* Create an instance with a window of length bytes in space; returns what create() returned. */
static inline int fake_create(struct fake_host *fh, uint32_t space, uint64_t length)
{
	fh->info.size = fh->abi_1_0 ? offsetof(struct vmm_device_info, irqs) : sizeof(fh->info);
	fh->info.irqs = fh->abi_1_0 ? NULL : fh->irq_pins;
	fh->info.nirqs = fh->abi_1_0 ? 0 : fh->nirqs;
	fh->info.space = space;
	fh->info.name = "dev0";
	fh->info.base = space == VMM_SPACE_PIO ? 0x3f8 : 0xfe000000;
	fh->info.length = length;
	fh->state = NULL;
	return fh->desc->create(&fh->svc, fake_ctx(fh), &fh->info, &fh->state);
}

/* Create an instance that must succeed. */
static inline void fake_create_ok(struct fake_host *fh, uint32_t space, uint64_t length)
{
	int err = fake_create(fh, space, length);

	cr_assert_eq(err, 0, "create failed: %d (%s: %s)", err, fh->param_error_key,
		     fh->param_error_msg);
	cr_assert_eq(fh->param_errors, 0);
}

/* A guest read of size bytes at offset; the device must claim it. */
static inline uint64_t fake_rd(struct fake_host *fh, uint64_t offset, uint32_t size)
{
	uint64_t v = 0xdeadbeefdeadbeefull;
	int err = fh->desc->read(fh->state, offset, size, &v);

	cr_assert_eq(err, 0, "read of %u bytes at 0x%llx failed: %d", size,
		     (unsigned long long)offset, err);
	if (size < 8)
		cr_assert_eq(v >> (8 * size), 0,
			     "read of %u bytes at 0x%llx not zero-extended: 0x%llx", size,
			     (unsigned long long)offset, (unsigned long long)v);
	return v;
}

/* A guest write of size bytes at offset; the device must claim it. */
static inline void fake_wr(struct fake_host *fh, uint64_t offset, uint32_t size, uint64_t value)
{
	int err = fh->desc->write(fh->state, offset, size, value);

	cr_assert_eq(err, 0, "write of %u bytes at 0x%llx failed: %d", size,
		     (unsigned long long)offset, err);
}

/* Destroy the instance (if any), unload the plugin and free the fake host. Accepts NULL. */
static inline void fake_host_free(struct fake_host *fh)
{
	if (!fh)
		return;
	if (fh->state && fh->desc->destroy)
		fh->desc->destroy(fh->state);
	if (fh->dl)
		dlclose(fh->dl);
	pthread_cond_destroy(&fh->irq_cond);
	pthread_mutex_destroy(&fh->irq_lock);
	free(fh);
}

/* Did create() ask for the key? */
static inline bool fake_param_asked(const struct fake_host *fh, const char *key)
{
	for (size_t i = 0; i < fh->nparams; i++)
		if (!strcmp(fh->keys[i], key))
			return fh->asked[i];
	return false;
}

/* Sleep ms milliseconds, and the monotonic clock in ms: the tests that wait for a worker. */
static inline void nap_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L}, NULL);
}

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif /* TESTS_FAKE_HOST_H */
