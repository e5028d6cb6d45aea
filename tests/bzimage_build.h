/* SPDX-License-Identifier: MIT */
/*
 * bzimage_build.h - build Linux x86 bzImages in tests: a setup header (boot protocol 2.15's
 * fields, as boot.rst lays them out) and a protected-mode kernel, with every field settable.
 */
#ifndef TESTS_BZIMAGE_BUILD_H
#define TESTS_BZIMAGE_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BZB_SECTOR 512u
/* Protocol 2.15's setup header ends at 0x26c: the jump at 0x200 says 0x6a. */
#define BZB_HDR_END_2_15  0x26c
#define BZB_LOADED_HIGH	  0x01
#define BZB_XLF_KERNEL_64 0x0001
#define BZB_XLF_ABOVE_4G  0x0002
#define BZB_INIT_SIZE_PAD 0x10000u /* what a default init_size adds to the kernel's size */

/* What the header states; bzimage_spec_init() gives a valid, relocatable 64-bit kernel's. */
struct bzimage_spec {
	uint8_t setup_sects;	   /* 0x1f1: setup sectors after the boot sector (0 means 4) */
	uint32_t syssize;	   /* 0x1f4: the kernel in 16-byte units; 0 here: computed */
	uint16_t boot_flag;	   /* 0x1fe: 0xaa55 */
	uint8_t hdr_jump;	   /* 0x201: the header ends at 0x202 plus this */
	char magic[4];		   /* 0x202: "HdrS" */
	uint16_t version;	   /* 0x206: 0x020f = 2.15 */
	uint8_t loadflags;	   /* 0x211: BZB_LOADED_HIGH */
	uint32_t initrd_addr_max;  /* 0x22c */
	uint32_t kernel_alignment; /* 0x230 */
	uint8_t relocatable;	   /* 0x234 */
	uint8_t min_alignment;	   /* 0x235: log2 */
	uint16_t xloadflags;	   /* 0x236: BZB_XLF_* */
	uint32_t cmdline_size;	   /* 0x238 */
	uint32_t payload_offset;   /* 0x248 */
	uint32_t payload_length;   /* 0x24c */
	uint64_t pref_address;	   /* 0x258 */
	uint32_t init_size; /* 0x260; 0 here: the kernel's size rounded to a page, plus pad */
};

static inline void bzimage_spec_init(struct bzimage_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->setup_sects = 1;
	s->boot_flag = 0xaa55;
	s->hdr_jump = BZB_HDR_END_2_15 - 0x202;
	memcpy(s->magic, "HdrS", 4);
	s->version = 0x020f;
	s->loadflags = BZB_LOADED_HIGH;
	s->initrd_addr_max = 0x7fffffff;
	s->kernel_alignment = 0x200000;
	s->relocatable = 1;
	s->min_alignment = 21;
	s->xloadflags = BZB_XLF_KERNEL_64 | BZB_XLF_ABOVE_4G;
	s->cmdline_size = 0x7ff;
	s->pref_address = 0x1000000;
}

static inline void bzb_put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static inline void bzb_put32(uint8_t *p, size_t off, uint32_t v)
{
	bzb_put16(p, off, (uint16_t)v);
	bzb_put16(p, off + 2, (uint16_t)(v >> 16));
}

static inline void bzb_put64(uint8_t *p, size_t off, uint64_t v)
{
	bzb_put32(p, off, (uint32_t)v);
	bzb_put32(p, off + 4, (uint32_t)(v >> 32));
}

/* Where the kernel starts in the file: after the boot sector and the setup sectors. */
static inline size_t bzimage_kernel_offset(const struct bzimage_spec *s)
{
	return ((size_t)(s->setup_sects ? s->setup_sects : 4) + 1) * BZB_SECTOR;
}

/* The file's size for a kernel of kernel_len bytes (padded to 16, as syssize counts). */
static inline size_t bzimage_size(const struct bzimage_spec *s, size_t kernel_len)
{
	return bzimage_kernel_offset(s) + ((kernel_len + 15) & ~(size_t)15);
}

/*
 * Write the bzImage of spec s around kernel[0, kernel_len) into out[0, cap): zeros but for the
 * header and the kernel. Returns its size (bzimage_size()), or 0 if cap is too small.
 */
static inline size_t bzimage_build(uint8_t *out, size_t cap, const struct bzimage_spec *s,
				   const void *kernel, size_t kernel_len)
{
	size_t len = bzimage_size(s, kernel_len), koff = bzimage_kernel_offset(s);
	size_t padded = len - koff;
	uint32_t init_size = s->init_size;

	if (cap < len)
		return 0;
	if (!init_size)
		init_size = (uint32_t)(((padded + 0xfff) & ~(size_t)0xfff) + BZB_INIT_SIZE_PAD);
	memset(out, 0, len);
	out[0x1f1] = s->setup_sects;
	bzb_put32(out, 0x1f4, s->syssize ? s->syssize : (uint32_t)(padded / 16));
	bzb_put16(out, 0x1fe, s->boot_flag);
	out[0x200] = 0xeb; /* jmp short, over the header */
	out[0x201] = s->hdr_jump;
	memcpy(out + 0x202, s->magic, 4);
	bzb_put16(out, 0x206, s->version);
	out[0x211] = s->loadflags;
	bzb_put32(out, 0x22c, s->initrd_addr_max);
	bzb_put32(out, 0x230, s->kernel_alignment);
	out[0x234] = s->relocatable;
	out[0x235] = s->min_alignment;
	bzb_put16(out, 0x236, s->xloadflags);
	bzb_put32(out, 0x238, s->cmdline_size);
	bzb_put32(out, 0x248, s->payload_offset);
	bzb_put32(out, 0x24c, s->payload_length);
	bzb_put64(out, 0x258, s->pref_address);
	bzb_put32(out, 0x260, init_size);
	memcpy(out + koff, kernel, kernel_len);
	return len;
}

#endif /* TESTS_BZIMAGE_BUILD_H */
