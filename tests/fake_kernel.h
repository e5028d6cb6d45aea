/* SPDX-License-Identifier: MIT */
/*
 * fake_kernel.h - the fake Linux kernel as tests use it: tell it what it must find (command
 * line, initrd, vCPUs), wrap it in a bzImage and write that file; name its checks' numbers.
 */
#ifndef TESTS_FAKE_KERNEL_H
#define TESTS_FAKE_KERNEL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bzimage_build.h"
#include "linux/fake/fake.h"

#ifndef BUILD_DIR
#error "the Makefile passes -DBUILD_DIR=\"/abs/build\""
#endif

/* The flat binary make builds from tests/linux/fake/fake.S. */
#define FAKE_KERNEL_BIN BUILD_DIR "/tests/linux/fake/fake.bin"

/* What the fake kernel must find; the command line at most FAKE_CMDLINE_MAX bytes. */
struct fake_expect {
	unsigned ncpus;
	const char *cmdline;   /* NULL: the empty line */
	const void *initrd;    /* its first bytes; NULL with initrd_len 0: no initrd */
	size_t initrd_len;     /* the initrd's whole size */
	uint32_t cmdline_size; /* 0: the header's default, FAKE_HDR_CMDLINE_SIZE */
	uint32_t flags;	       /* FAKE_FLAG_* */
};

/* The text of check n (fake.h), or NULL if n names none. */
static inline const char *fake_check_text(int n)
{
#define FAKE_TEXT_(num, name, text) [num] = #name ": " text,
	static const char *const texts[FAKE_CHECK_LAST + 1] = {FAKE_CHECKS(FAKE_TEXT_)};
#undef FAKE_TEXT_
	return n > 0 && n <= FAKE_CHECK_LAST ? texts[n] : NULL;
}

static inline int fake_read_all(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	ssize_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || !(*buf = malloc((size_t)st.st_size))) {
		close(fd);
		return -EIO;
	}
	for (*len = 0; *len < (size_t)st.st_size; *len += (size_t)got) {
		got = read(fd, *buf + *len, (size_t)st.st_size - *len);
		if (got <= 0)
			break;
	}
	close(fd);
	if (*len != (size_t)st.st_size) {
		free(*buf);
		*buf = NULL;
		return -EIO;
	}
	return 0;
}

static inline int fake_write_all(const char *path, const uint8_t *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n <= 0) {
			close(fd);
			return -EIO;
		}
		done += (size_t)n;
	}
	return close(fd) ? -errno : 0;
}

/*
 * Write the fake kernel, told to expect e, as a bzImage of spec s (NULL: bzimage_spec_init()'s,
 * with e's cmdline_size) cut to cut bytes (0: whole) at path. 0, -ENOENT (no fake.bin: make
 * tests builds it), -EPROTO (fake.bin is not the fake this header describes), -EINVAL (e
 * does not fit the block), -errno.
 */
static inline int fake_kernel_write(const char *path, const struct fake_expect *e,
				    const struct bzimage_spec *s, size_t cut)
{
	struct bzimage_spec def;
	uint8_t *k, *img, *x;
	size_t klen = 0, ilen, clen = e->cmdline ? strlen(e->cmdline) : 0;
	uint32_t v;
	int ret = fake_read_all(FAKE_KERNEL_BIN, &k, &klen);

	if (ret)
		return ret;
	if (klen < FAKE_ENTRY_64 + 16) {
		free(k);
		return -EPROTO;
	}
	x = k + FAKE_EXPECT_OFF;
	memcpy(&v, x + FAKE_EXPECT_MAGIC, 4);
	if (v != FAKE_EXPECT_MAGIC_VALUE || clen > FAKE_CMDLINE_MAX || e->ncpus == 0) {
		free(k);
		return v != FAKE_EXPECT_MAGIC_VALUE ? -EPROTO : -EINVAL;
	}
	if (!s) {
		bzimage_spec_init(&def);
		if (e->cmdline_size)
			def.cmdline_size = e->cmdline_size;
		s = &def;
	}
	bzb_put32(x, FAKE_EXPECT_NCPUS, e->ncpus);
	bzb_put32(x, FAKE_EXPECT_INITRD_LEN, (uint32_t)e->initrd_len);
	bzb_put32(x, FAKE_EXPECT_CMDLINE_SIZE, s->cmdline_size);
	bzb_put32(x, FAKE_EXPECT_FLAGS, e->flags);
	memset(x + FAKE_EXPECT_INITRD_HEAD, 0, 16);
	if (e->initrd)
		memcpy(x + FAKE_EXPECT_INITRD_HEAD, e->initrd,
		       e->initrd_len < 16 ? e->initrd_len : 16);
	memset(x + FAKE_EXPECT_CMDLINE, 0, FAKE_EXPECT_END - FAKE_EXPECT_CMDLINE);
	if (clen)
		memcpy(x + FAKE_EXPECT_CMDLINE, e->cmdline, clen);

	ilen = bzimage_size(s, klen);
	img = malloc(ilen);
	if (!img || bzimage_build(img, ilen, s, k, klen) != ilen) {
		free(img);
		free(k);
		return -ENOMEM;
	}
	ret = fake_write_all(path, img, cut && cut < ilen ? cut : ilen);
	free(img);
	free(k);
	return ret;
}

#endif /* TESTS_FAKE_KERNEL_H */
