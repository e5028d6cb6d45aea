/* SPDX-License-Identifier: MIT */
/*
 * bytes.h - little-endian writers and the byte checksum for the tables the
 * Linux loader builds (boot/acpi.c, boot/mptable.c, boot/linux.c).
 */
#ifndef VMMI_BOOT_BYTES_H
#define VMMI_BOOT_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Each writes v at p, least significant byte first, and returns the byte after it. */
static inline uint8_t *vmmi_put8(uint8_t *p, uint8_t v)
{
	*p = v;
	return p + 1;
}

static inline uint8_t *vmmi_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static inline uint8_t *vmmi_put32(uint8_t *p, uint32_t v)
{
	p = vmmi_put16(p, (uint16_t)v);
	return vmmi_put16(p, (uint16_t)(v >> 16));
}

static inline uint8_t *vmmi_put64(uint8_t *p, uint64_t v)
{
	p = vmmi_put32(p, (uint32_t)v);
	return vmmi_put32(p, (uint32_t)(v >> 32));
}

static inline uint8_t *vmmi_put_text(uint8_t *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* The checksum byte of p[0, n), whose checksum field holds 0 still: all n bytes then sum to 0. */
static inline uint8_t vmmi_checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

#endif /* VMMI_BOOT_BYTES_H */
