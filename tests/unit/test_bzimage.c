/* SPDX-License-Identifier: MIT */
/*
 * test_bzimage.c - specification of the bzImage setup header parser (boot/bzimage.c): a
 * minimal image built here is accepted with its fields read back, and each defect is refused
 * with the reason a user would need.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bzimage_build.h"
#include "vmm_internal.h"

/* The minimal image: one setup sector after the boot sector, then a 0x100-byte kernel. */
#define SETUP_SECTS 1
#define KERNEL_OFF  0x400
#define KERNEL_LEN  0x100
#define IMAGE_LEN   (KERNEL_OFF + KERNEL_LEN)
#define HDR_END	    BZB_HDR_END_2_15

static uint8_t img[0x2000];
static char why[256];

static void put16(size_t off, uint16_t v)
{
	bzb_put16(img, off, v);
}

static void put32(size_t off, uint32_t v)
{
	bzb_put32(img, off, v);
}

static void put64(size_t off, uint64_t v)
{
	bzb_put64(img, off, v);
}

/* bzimage_build.h's defaults, with a payload stated and init_size set, around KERNEL_LEN nops. */
static void build(void)
{
	uint8_t kernel[KERNEL_LEN];
	struct bzimage_spec s;

	bzimage_spec_init(&s);
	s.payload_offset = 0x20;
	s.payload_length = 0x80;
	s.init_size = 0x10000;
	memset(kernel, 0x90, sizeof(kernel));
	memset(img, 0, sizeof(img));
	cr_assert_eq(bzimage_build(img, sizeof(img), &s, kernel, sizeof(kernel)), IMAGE_LEN);
}

static int parse_len(size_t len, struct vmmi_bzimage *bz)
{
	return vmmi_bzimage_parse(img, len, bz, why, sizeof(why));
}

/* Parse the image at its length and expect err with exactly the reason text. */
static void refused(size_t len, int err, const char *text)
{
	struct vmmi_bzimage bz;

	cr_assert_eq(parse_len(len, &bz), err, "want %d (%s)", err, why);
	cr_assert_str_eq(why, text);
}

TestSuite(bzimage, .init = build);

Test(bzimage, a_minimal_image_is_accepted_with_every_field_read)
{
	struct vmmi_bzimage bz;

	cr_assert_eq(parse_len(IMAGE_LEN, &bz), 0, "%s", why);
	cr_assert_str_eq(why, "");
	cr_assert_eq(bz.version, 0x020f);
	cr_assert_eq(bz.setup_sects, 1);
	cr_assert_eq(bz.kernel_offset, KERNEL_OFF);
	cr_assert_eq(bz.kernel_size, KERNEL_LEN);
	cr_assert_eq(bz.kernel_bytes, KERNEL_LEN);
	cr_assert_eq(bz.hdr_end, HDR_END);
	cr_assert_eq(bz.loadflags, 0x01);
	cr_assert_eq(bz.xloadflags, 0x0003);
	cr_assert(bz.above_4g);
	cr_assert(bz.relocatable);
	cr_assert_eq(bz.min_alignment, 21);
	cr_assert_eq(bz.kernel_alignment, 0x200000);
	cr_assert_eq(bz.pref_address, 0x1000000);
	cr_assert_eq(bz.init_size, 0x10000);
	cr_assert_eq(bz.cmdline_size, 0x7ff);
	cr_assert_eq(bz.initrd_addr_max, 0x7fffffff);
	cr_assert_eq(bz.payload_offset, 0x20);
	cr_assert_eq(bz.payload_length, 0x80);
}

Test(bzimage, setup_sects_zero_means_four)
{
	struct vmmi_bzimage bz;

	img[0x1f1] = 0;
	memmove(img + 0xa00, img + KERNEL_OFF, KERNEL_LEN);
	cr_assert_eq(parse_len(0xa00 + KERNEL_LEN, &bz), 0, "%s", why);
	cr_assert_eq(bz.setup_sects, 4);
	cr_assert_eq(bz.kernel_offset, 0xa00);
}

Test(bzimage, bytes_past_syssize_such_as_a_signature_are_kept_in_the_kernel_size)
{
	struct vmmi_bzimage bz;

	cr_assert_eq(parse_len(IMAGE_LEN + 0x5c0, &bz), 0, "%s", why);
	cr_assert_eq(bz.kernel_size, KERNEL_LEN + 0x5c0);
	cr_assert_eq(bz.kernel_bytes, KERNEL_LEN);
}

Test(bzimage, xloadflags_without_above_4g_is_accepted_and_reported)
{
	struct vmmi_bzimage bz;

	put16(0x236, 0x0001);
	cr_assert_eq(parse_len(IMAGE_LEN, &bz), 0, "%s", why);
	cr_assert_not(bz.above_4g);
}

Test(bzimage, an_empty_file_is_not_a_bzimage)
{
	refused(0, -ENOEXEC,
		"not a bzImage: the file is 0x0 bytes, too short for the 'HdrS' magic at 0x202");
}

Test(bzimage, a_file_cut_before_the_magic_is_not_a_bzimage)
{
	refused(0x100, -ENOEXEC,
		"not a bzImage: the file is 0x100 bytes, too short for the 'HdrS' magic at 0x202");
	refused(0x205, -ENOEXEC,
		"not a bzImage: the file is 0x205 bytes, too short for the 'HdrS' magic at 0x202");
}

Test(bzimage, a_file_cut_inside_the_setup_header_is_truncated)
{
	refused(0x206, -EINVAL,
		"truncated: the file is 0x206 bytes, the setup header ends at 0x26c");
	refused(0x26b, -EINVAL,
		"truncated: the file is 0x26b bytes, the setup header ends at 0x26c");
}

Test(bzimage, a_file_cut_before_the_kernel_is_refused_naming_setup_sects)
{
	refused(0x26c, -EINVAL,
		"setup_sects 1 puts the kernel at 0x400, past the end of the file (0x26c bytes)");
	refused(KERNEL_OFF, -EINVAL,
		"setup_sects 1 puts the kernel at 0x400, past the end of the file (0x400 bytes)");
}

Test(bzimage, a_file_cut_inside_the_kernel_is_refused_naming_syssize)
{
	refused(IMAGE_LEN - 1, -EINVAL,
		"syssize 0x10 states a 0x100-byte kernel at 0x400, past the end of the file "
		"(0x4ff bytes): truncated?");
}

Test(bzimage, setup_sects_past_the_file_is_refused)
{
	img[0x1f1] = 200;
	refused(
	    IMAGE_LEN, -EINVAL,
	    "setup_sects 200 puts the kernel at 0x19200, past the end of the file (0x500 bytes)");
}

Test(bzimage, a_wrong_boot_flag_is_not_a_bzimage)
{
	put16(0x1fe, 0x1234);
	refused(IMAGE_LEN, -ENOEXEC, "not a bzImage: boot_flag at 0x1fe is 0x1234, not 0xaa55");
}

Test(bzimage, a_wrong_magic_is_not_a_bzimage)
{
	memcpy(img + 0x202, "HdrT", 4);
	refused(IMAGE_LEN, -ENOEXEC, "not a bzImage: no 'HdrS' magic at 0x202");
}

Test(bzimage, protocol_2_11_is_too_old)
{
	put16(0x206, 0x020b);
	refused(IMAGE_LEN, -EINVAL,
		"boot protocol 2.11 is too old: 2.12 or later is needed for the 64-bit entry");
}

Test(bzimage, protocol_2_12_is_enough)
{
	struct vmmi_bzimage bz;

	put16(0x206, 0x020c);
	img[0x201] = 0x268 - 0x202;
	cr_assert_eq(parse_len(IMAGE_LEN, &bz), 0, "%s", why);
	cr_assert_eq(bz.hdr_end, 0x268);
}

Test(bzimage, no_short_jump_at_0x200_is_refused)
{
	img[0x200] = 0xe9;
	refused(IMAGE_LEN, -EINVAL,
		"no short jump (0xeb) at 0x200 but 0xe9: where the setup header ends is unknown");
}

Test(bzimage, a_header_ending_before_init_size_is_refused)
{
	img[0x201] = 0x30;
	refused(IMAGE_LEN, -EINVAL,
		"the jump at 0x200 ends the setup header at 0x232, short of protocol 2.12's fields "
		"(to 0x264)");
}

Test(bzimage, no_loaded_high_is_refused)
{
	img[0x211] = 0x80;
	refused(IMAGE_LEN, -EINVAL,
		"loadflags 0x80 at 0x211 lacks LOADED_HIGH: a kernel that loads at 0x10000 has no "
		"64-bit entry");
}

Test(bzimage, no_xlf_kernel_64_is_refused)
{
	put16(0x236, 0x0002);
	refused(IMAGE_LEN, -EINVAL,
		"xloadflags 0x0002 at 0x236 lacks XLF_KERNEL_64: not a 64-bit kernel, or one "
		"without the 64-bit entry");
}

Test(bzimage, syssize_zero_is_refused)
{
	put32(0x1f4, 0);
	refused(IMAGE_LEN, -EINVAL,
		"syssize 0 at 0x1f4: the header states no protected-mode kernel");
}

Test(bzimage, syssize_past_the_file_is_refused)
{
	put32(0x1f4, 0x11);
	refused(IMAGE_LEN, -EINVAL,
		"syssize 0x11 states a 0x110-byte kernel at 0x400, past the end of the file (0x500 "
		"bytes): truncated?");
}

Test(bzimage, the_largest_syssize_cannot_wrap)
{
	put32(0x1f4, 0xffffffff);
	refused(IMAGE_LEN, -EINVAL,
		"syssize 0xffffffff states a 0xffffffff0-byte kernel at 0x400, past the end of the "
		"file (0x500 bytes): truncated?");
}

Test(bzimage, kernel_alignment_not_a_power_of_two_is_refused)
{
	put32(0x230, 0x300000);
	refused(IMAGE_LEN, -EINVAL, "kernel_alignment 0x300000 at 0x230 is not a power of two");
}

Test(bzimage, kernel_alignment_zero_is_refused)
{
	put32(0x230, 0);
	refused(IMAGE_LEN, -EINVAL, "kernel_alignment 0x0 at 0x230 is not a power of two");
}

Test(bzimage, min_alignment_above_kernel_alignment_is_refused)
{
	img[0x235] = 22;
	refused(IMAGE_LEN, -EINVAL,
		"min_alignment 22 at 0x235 asks for more than kernel_alignment 0x200000");
	img[0x235] = 200;
	refused(IMAGE_LEN, -EINVAL,
		"min_alignment 200 at 0x235 asks for more than kernel_alignment 0x200000");
}

Test(bzimage, init_size_zero_is_refused)
{
	put32(0x260, 0);
	refused(IMAGE_LEN, -EINVAL, "init_size 0 at 0x260: the kernel states no memory it needs");
}

Test(bzimage, init_size_smaller_than_the_kernel_is_refused)
{
	put32(0x260, 0xff);
	refused(IMAGE_LEN, -EINVAL,
		"init_size 0xff at 0x260 is smaller than the 0x100-byte kernel it must hold");
}

Test(bzimage, an_absurd_init_size_is_refused)
{
	put32(0x260, 0xfffff000);
	refused(IMAGE_LEN, -EINVAL,
		"init_size 0xfffff000 at 0x260 is over 1 GiB: no kernel needs that much to start, "
		"the header is corrupt");
}

Test(bzimage, pref_address_plus_init_size_wrapping_is_refused)
{
	put64(0x258, 0xffffffffffff0000ull);
	refused(
	    IMAGE_LEN, -EINVAL,
	    "pref_address 0xffffffffffff0000 at 0x258 plus init_size 0x10000 wraps past the top "
	    "of memory");
}

Test(bzimage, cmdline_size_zero_is_refused)
{
	put32(0x238, 0);
	refused(IMAGE_LEN, -EINVAL,
		"cmdline_size 0 at 0x238: the kernel would take no command line");
}

Test(bzimage, a_payload_outside_the_kernel_is_refused)
{
	put32(0x24c, 0xe1);
	refused(IMAGE_LEN, -EINVAL,
		"the payload (0xe1 bytes at 0x20, 0x248) lies outside the 0x100-byte kernel");
	put32(0x248, 0xffffffff);
	put32(0x24c, 2);
	refused(IMAGE_LEN, -EINVAL,
		"the payload (0x2 bytes at 0xffffffff, 0x248) lies outside the 0x100-byte kernel");
}

Test(bzimage, no_payload_stated_is_accepted)
{
	struct vmmi_bzimage bz;

	put32(0x248, 0x12345);
	put32(0x24c, 0);
	cr_assert_eq(parse_len(IMAGE_LEN, &bz), 0, "%s", why);
}

Test(bzimage, a_null_or_empty_reason_buffer_is_allowed)
{
	struct vmmi_bzimage bz;

	why[0] = 'x';
	cr_assert_eq(vmmi_bzimage_parse(img, 0x10, &bz, NULL, 0), -ENOEXEC);
	cr_assert_eq(vmmi_bzimage_parse(img, 0x10, &bz, why, 0), -ENOEXEC);
	cr_assert_eq(why[0], 'x');
}

Test(bzimage, a_short_reason_buffer_is_cut_and_terminated)
{
	struct vmmi_bzimage bz;
	char small[8];

	cr_assert_eq(vmmi_bzimage_parse(img, 0x10, &bz, small, sizeof(small)), -ENOEXEC);
	cr_assert_str_eq(small, "not a b");
}

Test(bzimage, the_setup_header_is_copied_into_boot_params_at_its_offset)
{
	static uint8_t bp[VMMI_BZ_PARAMS_SIZE];
	struct vmmi_bzimage bz;

	cr_assert_eq(parse_len(IMAGE_LEN, &bz), 0, "%s", why);
	memset(bp, 0xcc, sizeof(bp));
	cr_assert_eq(vmmi_bzimage_copy_header(&bz, img, IMAGE_LEN, bp, sizeof(bp)), 0);
	cr_assert_eq(bp[0x1f0], 0xcc);
	cr_assert_arr_eq(bp + 0x1f1, img + 0x1f1, HDR_END - 0x1f1);
	cr_assert_eq(bp[HDR_END], 0xcc);
}

Test(bzimage, a_header_stated_past_boot_params_next_field_is_copied_only_to_it)
{
	static uint8_t bp[VMMI_BZ_PARAMS_SIZE];
	struct vmmi_bzimage bz;

	img[0x201] = 0xff; /* ends at 0x301 */
	cr_assert_eq(parse_len(IMAGE_LEN, &bz), 0, "%s", why);
	cr_assert_eq(bz.hdr_end, 0x301);
	memset(bp, 0xcc, sizeof(bp));
	memset(img + 0x26c, 0x11, 0x301 - 0x26c);
	cr_assert_eq(vmmi_bzimage_copy_header(&bz, img, IMAGE_LEN, bp, sizeof(bp)), 0);
	cr_assert_eq(bp[0x28f], 0x11);
	cr_assert_eq(bp[0x290], 0xcc);
}

Test(bzimage, copying_into_less_than_a_page_is_refused)
{
	static uint8_t bp[VMMI_BZ_PARAMS_SIZE];
	struct vmmi_bzimage bz;

	cr_assert_eq(parse_len(IMAGE_LEN, &bz), 0, "%s", why);
	cr_assert_eq(vmmi_bzimage_copy_header(&bz, img, IMAGE_LEN, bp, sizeof(bp) - 1), -EINVAL);
	cr_assert_eq(vmmi_bzimage_copy_header(&bz, img, HDR_END - 1, bp, sizeof(bp)), -EINVAL);
}

/* The machine's own kernel, or the one VMM_TEST_BZIMAGE names: a real header must parse. */
static char *real_kernel(size_t *len, char *path, size_t path_len)
{
	const char *env = getenv("VMM_TEST_BZIMAGE");
	glob_t g;
	FILE *f = NULL;
	char *buf = NULL;
	long size;

	path[0] = '\0';
	if (env && env[0]) {
		snprintf(path, path_len, "%s", env);
		f = fopen(path, "rb");
	} else if (!glob("/boot/vmlinuz-*", 0, NULL, &g)) {
		for (size_t i = 0; i < g.gl_pathc && !f; i++) {
			snprintf(path, path_len, "%s", g.gl_pathv[i]);
			f = fopen(path, "rb");
		}
		globfree(&g);
	}
	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (size = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
	    (buf = malloc((size_t)size)) && fread(buf, 1, (size_t)size, f) == (size_t)size)
		*len = (size_t)size;
	else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

Test(bzimage, the_machines_own_kernel_parses_with_sane_fields)
{
	struct vmmi_bzimage bz;
	char path[512];
	size_t len = 0;
	char *k = real_kernel(&len, path, sizeof(path));

	if (!k)
		cr_skip_test("no readable kernel: %s (set VMM_TEST_BZIMAGE=path to name one)",
			     path[0] ? path : "no /boot/vmlinuz-*");
	cr_assert_eq(vmmi_bzimage_parse(k, len, &bz, why, sizeof(why)), 0, "%s: %s", path, why);
	cr_assert_geq(bz.version, 0x020c);
	cr_assert(bz.xloadflags & VMMI_BZ_XLF_KERNEL_64);
	cr_assert_geq(bz.kernel_offset, 5 * 512);
	cr_assert_geq(bz.kernel_bytes, 1u << 20, "a real kernel is over 1 MiB: %zu",
		      bz.kernel_bytes);
	cr_assert_geq(bz.init_size, bz.kernel_bytes);
	cr_assert_geq(bz.cmdline_size, 255);
	cr_assert_geq(bz.kernel_alignment, 0x1000);
	cr_assert_eq(bz.pref_address % bz.kernel_alignment, 0);
	free(k);
}
