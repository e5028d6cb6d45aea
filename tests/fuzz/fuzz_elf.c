/* SPDX-License-Identifier: MIT */
/* fuzz_elf.c - vmm_load_elf() on any file: it loads what the program headers say, or nothing. */

/*
 * The input is the file. The VM (emu, no vCPU) has RAM at 0 and at 4 GiB, a
 * read-only slot and a device window. If the load succeeds, every PT_LOAD
 * segment's bytes are in RAM at p_paddr (later segments win where they
 * overlap) with the rest of p_memsz zeroed; if it fails, RAM is untouched
 * (vmm.h: "check every segment before copying any"). The harness reads the
 * program headers itself, with its own bounds checks, to know what to expect.
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "vmm/vmm.h"

struct slot {
	uint64_t gpa, size;
	uint32_t flags;
	uint8_t *hva, *shadow; /* the expected contents */
};

static struct slot slots[] = {
    {0, 128 << 10, 0, NULL, NULL},
    {1ull << 20, 16 << 10, VMM_MEMSLOT_READONLY, NULL, NULL},
    {4ull << 30, 16 << 10, 0, NULL, NULL},
};
#define NSLOTS (sizeof(slots) / sizeof(slots[0]))

static int fd = -1;
static char path[64];

static int null_create(const struct vmm_host_services *h, struct vmm_host *c,
		       const struct vmm_device_info *i, void **state)
{
	*state = NULL;
	return 0;
}

static int null_rw(void *s, uint64_t off, uint32_t size, uint64_t *v)
{
	return -EIO;
}

static int null_write(void *s, uint64_t off, uint32_t size, uint64_t v)
{
	return -EIO;
}

static const struct vmm_plugin_desc null_desc = {
    VMM_PLUGIN_ABI_VERSION,
    sizeof(struct vmm_plugin_desc),
    "null",
    "",
    VMM_SPACE_MMIO,
    VMM_ACCESS_4,
    1,
    null_create,
    NULL,
    NULL,
    null_rw,
    null_write,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
	if (fd < 0)
		FUZZ_FAIL("memfd_create");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	for (size_t i = 0; i < NSLOTS; i++) {
		slots[i].shadow = malloc(slots[i].size);
		if (!slots[i].shadow)
			FUZZ_FAIL("out of memory");
	}
	return 0;
}

/* The slot that holds all of [gpa, gpa + len), or NULL. */
static struct slot *slot_of(uint64_t gpa, uint64_t len)
{
	for (size_t i = 0; i < NSLOTS; i++)
		if (gpa >= slots[i].gpa && len <= slots[i].size &&
		    gpa - slots[i].gpa <= slots[i].size - len)
			return &slots[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	struct vmm_vm_options o;
	struct vmm_device_config dc = {
	    .size = sizeof(dc),
	    .name = "dev",
	    .space = VMM_SPACE_MMIO,
	    .base = 0xfe000000,
	    .length = 0x1000,
	};
	struct vmm_vm *vm;
	uint64_t entry = 0;
	bool headers;
	int ret;

	if (fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		FUZZ_FAIL("cannot write the memfd");

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	if (vmm_vm_create(&o, &vm))
		FUZZ_FAIL("vmm_vm_create: %s", vmm_last_error());
	for (size_t i = 0; i < NSLOTS; i++) {
		void *hva;

		if (vmm_memslot_alloc_flags(vm, "s", slots[i].gpa, slots[i].size, slots[i].flags,
					    &hva))
			FUZZ_FAIL("memslot: %s", vmm_last_error());
		slots[i].hva = hva;
		memset(slots[i].shadow, 0, slots[i].size);
	}
	if (vmm_device_add(vm, &null_desc, &dc, NULL))
		FUZZ_FAIL("device: %s", vmm_last_error());

	ret = vmm_load_elf(vm, path, &entry);
	FUZZ_CHECK(ret == 0 || ret == -ENOEXEC || ret == -EFAULT || ret == -ENOMEM,
		   "vmm_load_elf: %d (%s): %s", ret, vmm_strerror(ret), vmm_last_error());
	FUZZ_CHECK(ret == 0 || vmm_last_error()[0], "failure without a detail");

	/* The harness's own reading of the program headers. */
	headers = size >= sizeof(*eh) && eh->e_phentsize == sizeof(Elf64_Phdr) &&
		  eh->e_phoff <= size &&
		  (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) <= size - eh->e_phoff;
	FUZZ_CHECK(ret != 0 || headers, "loaded a file whose program headers lie outside it");
	if (ret == 0) {
		FUZZ_CHECK(entry == eh->e_entry, "entry 0x%llx, the header says 0x%llx",
			   (unsigned long long)entry, (unsigned long long)eh->e_entry);
		for (unsigned i = 0; i < eh->e_phnum; i++) {
			Elf64_Phdr ph;
			struct slot *s;

			memcpy(&ph, data + eh->e_phoff + i * sizeof(ph), sizeof(ph));
			if (ph.p_type != PT_LOAD || !ph.p_memsz)
				continue;
			s = slot_of(ph.p_paddr, ph.p_memsz);
			FUZZ_CHECK(s, "segment %u at 0x%llx + 0x%llx loaded outside RAM", i,
				   (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
			FUZZ_CHECK(ph.p_filesz <= ph.p_memsz && ph.p_offset <= size &&
				       ph.p_filesz <= size - ph.p_offset,
				   "segment %u: file range outside the file, loaded", i);
			memcpy(s->shadow + (ph.p_paddr - s->gpa), data + ph.p_offset, ph.p_filesz);
			memset(s->shadow + (ph.p_paddr - s->gpa) + ph.p_filesz, 0,
			       ph.p_memsz - ph.p_filesz);
		}
	}
	/* Loaded or not, RAM must now be the shadow: the segments, or still all zero. */
	for (size_t i = 0; i < NSLOTS; i++)
		FUZZ_CHECK(!memcmp(slots[i].hva, slots[i].shadow, slots[i].size),
			   "slot at 0x%llx differs from what the program headers say (load %d)",
			   (unsigned long long)slots[i].gpa, ret);
	vmm_vm_destroy(vm);
	return 0;
}
