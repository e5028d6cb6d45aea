/* SPDX-License-Identifier: MIT */
/* fuzz_bzimage.c - vmmi_bzimage_parse() on any file: what it accepts lies inside the file. */

/*
 * The input is the file. Whatever it holds, the parser reads nothing outside
 * it (ASan watches: the input is exactly its bytes), returns 0, -ENOEXEC or
 * -EINVAL, and on failure gives a one-line reason and leaves *out untouched.
 * On success the harness reads the header again with its own bounds checks
 * and holds the result to what vmm_internal.h promises: the kernel lies
 * inside the file, syssize's bytes inside the kernel, the payload inside
 * those, and the header copy lands at its offset in boot_params and nowhere
 * else. The same input cut one byte short must be refused or agree.
 */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "vmm_internal.h"

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_refusal(int ret, const struct vmmi_bzimage *bz, const char *why)
{
	static const struct vmmi_bzimage zero;

	FUZZ_CHECK(ret == -ENOEXEC || ret == -EINVAL, "vmmi_bzimage_parse: %d (%s)", ret, why);
	FUZZ_CHECK(why[0], "a refusal (%d) without a reason", ret);
	FUZZ_CHECK(!strchr(why, '\n'), "a reason of more than one line: %s", why);
	FUZZ_CHECK(!memcmp(bz, &zero, sizeof(zero)), "a refusal changed *out: %s", why);
}

static void check_accepted(const uint8_t *data, size_t size, const struct vmmi_bzimage *bz)
{
	static uint8_t bp[VMMI_BZ_PARAMS_SIZE];
	unsigned sects = data[0x1f1] ? data[0x1f1] : 4;
	size_t end;

	/* Accepted: the fixed fields the parser checked are there, in the file. */
	FUZZ_CHECK(size >= 0x264 && data[0x1fe] == 0x55 && data[0x1ff] == 0xaa &&
		       !memcmp(data + 0x202, "HdrS", 4),
		   "accepted a file without the boot flag or the magic");
	FUZZ_CHECK(bz->version >= 0x020c, "accepted protocol 0x%x", bz->version);
	FUZZ_CHECK(bz->hdr_end == 0x202u + data[0x201] && bz->hdr_end <= size,
		   "header end 0x%zx outside the file (0x%zx bytes)", bz->hdr_end, size);
	FUZZ_CHECK(bz->setup_sects == sects && bz->kernel_offset == (sects + 1) * 512u,
		   "kernel offset 0x%zx, setup_sects says 0x%x", bz->kernel_offset,
		   (sects + 1) * 512u);
	FUZZ_CHECK(bz->kernel_offset < size && bz->kernel_size == size - bz->kernel_offset,
		   "kernel 0x%zx + 0x%zx is not the rest of a 0x%zx-byte file", bz->kernel_offset,
		   bz->kernel_size, size);
	FUZZ_CHECK(bz->kernel_bytes == (uint64_t)le32(data + 0x1f4) * 16 && bz->kernel_bytes &&
		       bz->kernel_bytes <= bz->kernel_size,
		   "syssize's 0x%zx bytes outside the 0x%zx-byte kernel", bz->kernel_bytes,
		   bz->kernel_size);
	FUZZ_CHECK(
	    !bz->payload_length || (bz->payload_offset <= bz->kernel_bytes &&
				    bz->payload_length <= bz->kernel_bytes - bz->payload_offset),
	    "payload 0x%x + 0x%x outside the kernel", bz->payload_offset, bz->payload_length);
	FUZZ_CHECK((bz->loadflags & 1) && (bz->xloadflags & VMMI_BZ_XLF_KERNEL_64),
		   "accepted without LOADED_HIGH or XLF_KERNEL_64");
	FUZZ_CHECK(bz->kernel_alignment && !(bz->kernel_alignment & (bz->kernel_alignment - 1)),
		   "kernel_alignment 0x%x", bz->kernel_alignment);
	FUZZ_CHECK(bz->init_size >= bz->kernel_bytes && bz->cmdline_size &&
		       bz->pref_address <= UINT64_MAX - bz->init_size,
		   "init_size 0x%x, cmdline_size 0x%x, pref_address 0x%llx", bz->init_size,
		   bz->cmdline_size, (unsigned long long)bz->pref_address);

	/* The header copy: its bytes at their offset, up to boot_params' next field. */
	end = bz->hdr_end < VMMI_BZ_HDR_LIMIT ? bz->hdr_end : VMMI_BZ_HDR_LIMIT;
	memset(bp, 0xcc, sizeof(bp));
	FUZZ_CHECK(!vmmi_bzimage_copy_header(bz, data, size, bp, sizeof(bp)), "copy refused");
	FUZZ_CHECK(
	    !memcmp(bp + VMMI_BZ_HDR_START, data + VMMI_BZ_HDR_START, end - VMMI_BZ_HDR_START),
	    "the copy differs from the header");
	for (size_t i = 0; i < sizeof(bp); i++)
		if (i < VMMI_BZ_HDR_START || i >= end)
			FUZZ_CHECK(bp[i] == 0xcc, "the copy wrote 0x%zx, outside the header", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmmi_bzimage bz, cut;
	char why[256], small[12];
	int ret, ret_cut;

	memset(&bz, 0, sizeof(bz));
	memset(why, 'x', sizeof(why));
	ret = vmmi_bzimage_parse(data, size, &bz, why, sizeof(why));
	if (ret)
		check_refusal(ret, &bz, why);
	else {
		FUZZ_CHECK(!why[0], "accepted with a reason: %s", why);
		check_accepted(data, size, &bz);
	}

	/* A small reason buffer is cut and terminated, and the answer does not change. */
	memset(&cut, 0, sizeof(cut));
	memset(small, 'x', sizeof(small));
	FUZZ_CHECK(vmmi_bzimage_parse(data, size, &cut, small, sizeof(small)) == ret,
		   "the answer depends on the reason buffer");
	FUZZ_CHECK(memchr(small, '\0', sizeof(small)), "an unterminated reason");

	/* The same bytes one shorter: refused, or read the same but for the kernel's end. */
	if (size) {
		memset(&cut, 0, sizeof(cut));
		ret_cut = vmmi_bzimage_parse(data, size - 1, &cut, why, sizeof(why));
		if (ret_cut)
			check_refusal(ret_cut, &cut, why);
		else
			check_accepted(data, size - 1, &cut);
	}
	return 0;
}
