/* SPDX-License-Identifier: MIT */
/* bzimage.c - read and check a Linux x86 bzImage's setup header (boot protocol 2.12 and later). */

/*
 * The image is untrusted: every field is read byte by byte from an offset
 * known to lie inside it, and every offset or size a field states is checked
 * against the file with arithmetic that cannot wrap before anything uses it.
 * The limits come from what the 64-bit entry needs (protocol 2.12: xloadflags
 * says the entry exists; init_size and pref_address arrived with 2.10).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm_internal.h"

/* Field offsets in the image (and in boot_params), from the boot protocol. */
#define OFF_SETUP_SECTS	     0x1f1
#define OFF_SYSSIZE	     0x1f4
#define OFF_BOOT_FLAG	     0x1fe
#define OFF_JUMP	     0x200
#define OFF_HEADER	     0x202
#define OFF_VERSION	     0x206
#define OFF_LOADFLAGS	     0x211
#define OFF_INITRD_ADDR_MAX  0x22c
#define OFF_KERNEL_ALIGNMENT 0x230
#define OFF_RELOCATABLE	     0x234
#define OFF_MIN_ALIGNMENT    0x235
#define OFF_XLOADFLAGS	     0x236
#define OFF_CMDLINE_SIZE     0x238
#define OFF_PAYLOAD_OFFSET   0x248
#define OFF_PAYLOAD_LENGTH   0x24c
#define OFF_PREF_ADDRESS     0x258
#define OFF_INIT_SIZE	     0x260
#define HDR_NEEDED_END	     0x264 /* the last field this parser reads, init_size, ends here */

#define BOOT_FLAG	 0xaa55
#define HDRS_MAGIC	 0x53726448 /* "HdrS", little-endian */
#define JMP_SHORT	 0xeb
#define VERSION_MIN	 0x020c
#define LOADED_HIGH	 0x01
#define SECTOR		 512u
#define SETUP_SECTS_ZERO 4 /* what a 0 in setup_sects has always meant */
#define INIT_SIZE_MAX	 (1u << 30)

static uint16_t rd16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t rd32(const uint8_t *p, size_t off)
{
	return rd16(p, off) | (uint32_t)rd16(p, off + 2) << 16;
}

static uint64_t rd64(const uint8_t *p, size_t off)
{
	return rd32(p, off) | (uint64_t)rd32(p, off + 4) << 32;
}

static int VMMI_FORMAT(4, 5) refuse(char *why, size_t why_len, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Where the protected-mode kernel lies in the file, and whether it has the 64-bit entry. */
static int check_kernel(const uint8_t *p, size_t len, struct vmmi_bzimage *bz, char *why, size_t n)
{
	uint32_t syssize = rd32(p, OFF_SYSSIZE);
	uint64_t bytes;

	bz->kernel_offset = (size_t)(bz->setup_sects + 1) * SECTOR;
	if (bz->kernel_offset >= len)
		return refuse(why, n, -EINVAL,
			      "setup_sects %u puts the kernel at 0x%zx, past the end of the file "
			      "(0x%zx bytes)",
			      bz->setup_sects, bz->kernel_offset, len);
	bz->kernel_size = len - bz->kernel_offset;
	if (!(bz->loadflags & LOADED_HIGH))
		return refuse(why, n, -EINVAL,
			      "loadflags 0x%02x at 0x211 lacks LOADED_HIGH: a kernel that loads at "
			      "0x10000 has no 64-bit entry",
			      bz->loadflags);
	if (!(bz->xloadflags & VMMI_BZ_XLF_KERNEL_64))
		return refuse(
		    why, n, -EINVAL,
		    "xloadflags 0x%04x at 0x236 lacks XLF_KERNEL_64: not a 64-bit kernel, "
		    "or one without the 64-bit entry",
		    bz->xloadflags);
	if (!syssize)
		return refuse(why, n, -EINVAL,
			      "syssize 0 at 0x1f4: the header states no protected-mode kernel");
	/* A signed kernel carries its signature past syssize's bytes: only more is wrong. */
	bytes = (uint64_t)syssize * 16;
	if (bytes > bz->kernel_size)
		return refuse(
		    why, n, -EINVAL,
		    "syssize 0x%x states a 0x%llx-byte kernel at 0x%zx, past the end of the "
		    "file (0x%zx bytes): truncated?",
		    syssize, (unsigned long long)bytes, bz->kernel_offset, len);
	bz->kernel_bytes = (size_t)bytes;
	return 0;
}

/* What the kernel asks of memory and of the loader, and the payload inside the kernel. */
static int check_memory(struct vmmi_bzimage *bz, char *why, size_t n)
{
	uint32_t a = bz->kernel_alignment;

	if (!a || (a & (a - 1)))
		return refuse(why, n, -EINVAL,
			      "kernel_alignment 0x%x at 0x230 is not a power of two", a);
	if (bz->min_alignment > 31 || (1u << bz->min_alignment) > a)
		return refuse(why, n, -EINVAL,
			      "min_alignment %u at 0x235 asks for more than kernel_alignment 0x%x",
			      bz->min_alignment, a);
	if (!bz->init_size)
		return refuse(why, n, -EINVAL,
			      "init_size 0 at 0x260: the kernel states no memory it needs");
	if (bz->init_size < bz->kernel_bytes)
		return refuse(
		    why, n, -EINVAL,
		    "init_size 0x%x at 0x260 is smaller than the 0x%zx-byte kernel it must "
		    "hold",
		    bz->init_size, bz->kernel_bytes);
	if (bz->init_size > INIT_SIZE_MAX)
		return refuse(why, n, -EINVAL,
			      "init_size 0x%x at 0x260 is over 1 GiB: no kernel needs that much to "
			      "start, the header is corrupt",
			      bz->init_size);
	if (bz->pref_address > UINT64_MAX - bz->init_size)
		return refuse(
		    why, n, -EINVAL,
		    "pref_address 0x%llx at 0x258 plus init_size 0x%x wraps past the top of "
		    "memory",
		    (unsigned long long)bz->pref_address, bz->init_size);
	if (!bz->cmdline_size)
		return refuse(why, n, -EINVAL,
			      "cmdline_size 0 at 0x238: the kernel would take no command line");
	if (bz->payload_length && (bz->payload_offset > bz->kernel_bytes ||
				   bz->payload_length > bz->kernel_bytes - bz->payload_offset))
		return refuse(why, n, -EINVAL,
			      "the payload (0x%x bytes at 0x%x, 0x248) lies outside the 0x%zx-byte "
			      "kernel",
			      bz->payload_length, bz->payload_offset, bz->kernel_bytes);
	return 0;
}

int vmmi_bzimage_parse(const void *img, size_t len, struct vmmi_bzimage *out, char *why,
		       size_t why_len)
{
	const uint8_t *p = img;
	struct vmmi_bzimage bz = {0};
	uint16_t flag;
	int err;

	if (why && why_len)
		why[0] = '\0';
	if (len < OFF_HEADER + 4)
		return refuse(
		    why, why_len, -ENOEXEC,
		    "not a bzImage: the file is 0x%zx bytes, too short for the 'HdrS' magic "
		    "at 0x202",
		    len);
	flag = rd16(p, OFF_BOOT_FLAG);
	if (flag != BOOT_FLAG)
		return refuse(why, why_len, -ENOEXEC,
			      "not a bzImage: boot_flag at 0x1fe is 0x%04x, not 0xaa55", flag);
	if (rd32(p, OFF_HEADER) != HDRS_MAGIC)
		return refuse(why, why_len, -ENOEXEC, "not a bzImage: no 'HdrS' magic at 0x202");
	/* Past the magic the header can be read as far as the file and the jump allow. */
	bz.version = rd16(p, OFF_VERSION);
	if (bz.version < VERSION_MIN)
		return refuse(why, why_len, -EINVAL,
			      "boot protocol %u.%02u is too old: 2.12 or later is needed for the "
			      "64-bit entry",
			      bz.version >> 8, bz.version & 0xff);
	if (p[OFF_JUMP] != JMP_SHORT)
		return refuse(
		    why, why_len, -EINVAL,
		    "no short jump (0xeb) at 0x200 but 0x%02x: where the setup header ends "
		    "is unknown",
		    p[OFF_JUMP]);
	bz.hdr_end = OFF_HEADER + (size_t)p[OFF_JUMP + 1];
	if (bz.hdr_end < HDR_NEEDED_END)
		return refuse(why, why_len, -EINVAL,
			      "the jump at 0x200 ends the setup header at 0x%zx, short of protocol "
			      "2.12's fields (to 0x%x)",
			      bz.hdr_end, HDR_NEEDED_END);
	if (len < bz.hdr_end)
		return refuse(why, why_len, -EINVAL,
			      "truncated: the file is 0x%zx bytes, the setup header ends at 0x%zx",
			      len, bz.hdr_end);

	bz.setup_sects = p[OFF_SETUP_SECTS] ? p[OFF_SETUP_SECTS] : SETUP_SECTS_ZERO;
	bz.loadflags = p[OFF_LOADFLAGS];
	bz.xloadflags = rd16(p, OFF_XLOADFLAGS);
	bz.above_4g = bz.xloadflags & VMMI_BZ_XLF_ABOVE_4G;
	bz.relocatable = p[OFF_RELOCATABLE] != 0;
	bz.min_alignment = p[OFF_MIN_ALIGNMENT];
	bz.kernel_alignment = rd32(p, OFF_KERNEL_ALIGNMENT);
	bz.pref_address = rd64(p, OFF_PREF_ADDRESS);
	bz.init_size = rd32(p, OFF_INIT_SIZE);
	bz.cmdline_size = rd32(p, OFF_CMDLINE_SIZE);
	bz.initrd_addr_max = rd32(p, OFF_INITRD_ADDR_MAX);
	bz.payload_offset = rd32(p, OFF_PAYLOAD_OFFSET);
	bz.payload_length = rd32(p, OFF_PAYLOAD_LENGTH);

	err = check_kernel(p, len, &bz, why, why_len);
	if (!err)
		err = check_memory(&bz, why, why_len);
	if (err)
		return err;
	*out = bz;
	return 0;
}

int vmmi_bzimage_copy_header(const struct vmmi_bzimage *bz, const void *img, size_t len, void *bp,
			     size_t bp_len)
{
	size_t end = bz->hdr_end < VMMI_BZ_HDR_LIMIT ? bz->hdr_end : VMMI_BZ_HDR_LIMIT;

	if (bp_len < VMMI_BZ_PARAMS_SIZE || end < VMMI_BZ_HDR_START || len < end)
		return -EINVAL;
	memcpy((uint8_t *)bp + VMMI_BZ_HDR_START, (const uint8_t *)img + VMMI_BZ_HDR_START,
	       end - VMMI_BZ_HDR_START);
	return 0;
}
