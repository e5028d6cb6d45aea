/* SPDX-License-Identifier: MIT */
/*
 * elf_builder.h - hand-built ELF64 x86-64 executables,
 * written to a temp dir, with every field open to corruption.
 */
#ifndef TESTS_ELF_BUILDER_H
#define TESTS_ELF_BUILDER_H

/*
 * Everything here is static inline: each unit test file that builds ELF
 * files includes this header. Use:
 *
 *	elfb_init(&b, entry);		   a valid header, no segments yet
 *	elfb_add(&b, PT_LOAD, PF_R | PF_X, paddr, bytes, filesz, memsz);
 *	b.eh.e_machine = EM_AARCH64;	   corrupt whatever the test is about
 *	path = elfb_write(&b, "name");	   <dir>/name, removed by elfb_cleanup()
 *
 * The file is the Elf64_Ehdr, then ELFB_MAX_SEGS program header slots (only
 * e_phnum of them in use), then each segment's bytes, 16-byte aligned.
 * b.len is the file's length and may be lowered to truncate it; b.eh and
 * b.ph[] are copied into the image only by elfb_write().
 */

#include <criterion/criterion.h>
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ELFB_MAX_SEGS	4
#define ELFB_MAX_FILE	0x4000
#define ELFB_DATA_START (sizeof(Elf64_Ehdr) + ELFB_MAX_SEGS * sizeof(Elf64_Phdr))

struct elfb {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[ELFB_MAX_SEGS];
	uint8_t image[ELFB_MAX_FILE];
	size_t len;
	char dir[64];	/* the temp dir, "" until the first write */
	char path[128]; /* the latest file written */
};

static inline void elfb_init(struct elfb *b, uint64_t entry)
{
	memset(b, 0, sizeof(*b));
	memcpy(b->eh.e_ident, ELFMAG, SELFMAG);
	b->eh.e_ident[EI_CLASS] = ELFCLASS64;
	b->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	b->eh.e_ident[EI_VERSION] = EV_CURRENT;
	b->eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
	b->eh.e_type = ET_EXEC;
	b->eh.e_machine = EM_X86_64;
	b->eh.e_version = EV_CURRENT;
	b->eh.e_entry = entry;
	b->eh.e_phoff = sizeof(Elf64_Ehdr);
	b->eh.e_ehsize = sizeof(Elf64_Ehdr);
	b->eh.e_phentsize = sizeof(Elf64_Phdr);
	b->eh.e_phnum = 0;
	b->len = ELFB_DATA_START;
}

/*
 * Append a program header whose file bytes are data[0 .. filesz) (NULL: zeroes)
 * and whose memory image is memsz bytes at paddr (vaddr too). Returns its index.
 */
static inline unsigned elfb_add(struct elfb *b, uint32_t type, uint32_t flags, uint64_t paddr,
				const void *data, uint64_t filesz, uint64_t memsz)
{
	unsigned i = b->eh.e_phnum;
	size_t off = (b->len + 15) & ~(size_t)15;

	cr_assert_lt(i, ELFB_MAX_SEGS, "elf builder: too many segments");
	cr_assert_leq(filesz, ELFB_MAX_FILE - off, "elf builder: segment too large");
	if (data)
		memcpy(b->image + off, data, filesz);
	b->ph[i] = (Elf64_Phdr){
	    .p_type = type,
	    .p_flags = flags,
	    .p_offset = off,
	    .p_vaddr = paddr,
	    .p_paddr = paddr,
	    .p_filesz = filesz,
	    .p_memsz = memsz,
	    .p_align = 16,
	};
	b->eh.e_phnum++;
	b->len = off + filesz;
	return i;
}

/* The path of name in the builder's temp dir (created on first use); the file need not exist. */
static inline const char *elfb_path(struct elfb *b, const char *name)
{
	if (!b->dir[0]) {
		strcpy(b->dir, "/tmp/libvmm-elf-XXXXXX");
		cr_assert(mkdtemp(b->dir), "elf builder: mkdtemp failed");
	}
	snprintf(b->path, sizeof(b->path), "%s/%s", b->dir, name);
	return b->path;
}

/* Write the first b->len bytes of the image, headers included, to <dir>/name. Returns the path. */
static inline const char *elfb_write(struct elfb *b, const char *name)
{
	const char *path = elfb_path(b, name);
	FILE *f;

	cr_assert_leq(b->len, ELFB_MAX_FILE);
	memcpy(b->image, &b->eh, sizeof(b->eh));
	memcpy(b->image + sizeof(b->eh), b->ph, sizeof(b->ph));
	f = fopen(path, "wb");
	cr_assert(f, "elf builder: cannot create %s", path);
	cr_assert_eq(fwrite(b->image, 1, b->len, f), b->len);
	cr_assert_eq(fclose(f), 0);
	return path;
}

/* Remove every file written and the temp dir. */
static inline void elfb_cleanup(struct elfb *b)
{
	struct dirent *de;
	DIR *d;

	if (!b->dir[0])
		return;
	d = opendir(b->dir);
	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
	rmdir(b->dir);
	b->dir[0] = '\0';
}

#endif /* TESTS_ELF_BUILDER_H */
