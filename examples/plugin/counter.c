/* SPDX-License-Identifier: MIT */
/* counter.c - an example device plugin: an accumulator the guest adds to and reads back. */
/*
 * What it models: a memory-mapped accumulator of four 64-bit registers, the
 * smallest device that has state the guest can change and observe.
 *
 *   offset  name   access      what
 *   0x00    ID     read        COUNTER_ID ("CNT1")
 *   0x08    VALUE  read/write  the sum; a write sets it
 *   0x10    ADD    write       adds the value written to VALUE (reads 0)
 *   0x18    COUNT  read        how many writes ADD has had
 *
 * Accesses are 4 or 8 bytes wide at a register's offset: a 4-byte read
 * returns the low half, a 4-byte write is zero-extended. Anything else (an
 * offset inside a register, past 0x20 in a larger window) reads 0 and
 * ignores writes, and is logged once per device. Power-on and reset: VALUE
 * and COUNT are 0. The device takes no config keys and raises no interrupt.
 *
 * It links against nothing of libvmm: only <vmm/plugin.h> (from
 * `pkg-config --cflags libvmm`), built -fPIC -shared -fvisibility=hidden so
 * that vmm_plugin_entry is its one exported symbol; see examples/Makefile
 * and vmm-plugin(7). examples/embed.c loads it: `embed emu plugin/counter.so`.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <vmm/plugin.h>

#define COUNTER_ID     0x31544e43u /* "CNT1" in little-endian bytes */
#define COUNTER_ID_REG 0x00u
#define COUNTER_VALUE  0x08u
#define COUNTER_ADD    0x10u
#define COUNTER_COUNT  0x18u
#define COUNTER_WINDOW 0x20u

struct counter {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;
	uint64_t value, count;
	int warned; /* an access outside the registers was logged */
};

/* Accesses run on vCPU threads; the host serialises them per device (vmm-plugin(7)). */
static void counter_odd_access(struct counter *c, const char *what, uint64_t offset, uint32_t size)
{
	if (c->warned)
		return;
	c->warned = 1;
	c->host->log(c->ctx, VMM_LOG_WARN,
		     "%s of %u bytes at offset 0x%llx is no register (logged once)", what, size,
		     (unsigned long long)offset);
}

static void counter_reset(void *state)
{
	struct counter *c = state;

	c->value = 0;
	c->count = 0;
}

static int counter_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	struct counter *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->host = host;
	c->ctx = ctx;
	host->log(ctx, VMM_LOG_INFO, "counter at 0x%llx, %llu bytes",
		  (unsigned long long)info->base, (unsigned long long)info->length);
	*state = c;
	return 0;
}

static void counter_destroy(void *state)
{
	free(state);
}

static int counter_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	struct counter *c = state;
	uint64_t v = 0;

	switch (offset) {
	case COUNTER_ID_REG:
		v = COUNTER_ID;
		break;
	case COUNTER_VALUE:
		v = c->value;
		break;
	case COUNTER_ADD:
		break;
	case COUNTER_COUNT:
		v = c->count;
		break;
	default:
		counter_odd_access(c, "read", offset, size);
		break;
	}
	*value = size == 4 ? (uint32_t)v : v;
	return 0;
}

static int counter_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	struct counter *c = state;

	switch (offset) {
	case COUNTER_VALUE:
		c->value = value;
		break;
	case COUNTER_ADD:
		c->value += value;
		c->count++;
		break;
	case COUNTER_ID_REG:
	case COUNTER_COUNT:
		break; /* read-only */
	default:
		counter_odd_access(c, "write", offset, size);
		break;
	}
	return 0;
}

static const struct vmm_plugin_desc counter_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "counter",
    .description = "accumulator: the guest adds to VALUE through ADD and reads it back",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4 | VMM_ACCESS_8,
    .min_length = COUNTER_WINDOW,
    .create = counter_create,
    .destroy = counter_destroy,
    .reset = counter_reset,
    .read = counter_read,
    .write = counter_write,
};

/* The plugin's one export: the host calls it after dlopen() and checks the descriptor. */
VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &counter_desc;
}
