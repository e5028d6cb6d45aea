/* SPDX-License-Identifier: MIT */
/*
 * fixture.h - shared pieces of the fixture plugins: a
 * do-nothing device model to build bad descriptors from.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <errno.h>
#include <stdint.h>

#include "vmm/plugin.h"

static int fixture_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	*state = NULL;
	return 0;
}

static int fixture_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	*value = 0;
	return 0;
}

static int fixture_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	return 0;
}

#define FIXTURE_DESC(abi, sz)                                                                      \
	{                                                                                          \
		.abi_version = (abi), .size = (sz), .name = "fixture",                             \
		.description = "a test fixture", .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,         \
		.access_sizes = 1 | 2 | 4 | 8, .min_length = 1, .create = fixture_create,          \
		.read = fixture_read, .write = fixture_write,                                      \
	}

#endif
