/* SPDX-License-Identifier: MIT */
/* elf.c - load an ELF64 x86-64 executable's PT_LOAD segments into guest RAM. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

/* Firmware larger than this is surely a mistake (the file is read whole). */
#define ELF_MAX_FILE (256ull << 20)

static int check_header(const char *path, const uint8_t *data, size_t len, const Elf64_Ehdr **out)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;

	if (len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return vmmi_error(-ENOEXEC, "%s: not an ELF file", path);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return vmmi_error(-ENOEXEC, "%s: not a 64-bit little-endian ELF file", path);
	if (eh->e_machine != EM_X86_64)
		return vmmi_error(-ENOEXEC, "%s: ELF machine %u is not x86-64", path,
				  eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return vmmi_error(-ENOEXEC, "%s: ELF type %u is not an executable (ET_EXEC)", path,
				  eh->e_type);
	if (!eh->e_phnum)
		return vmmi_error(-ENOEXEC, "%s: no program headers", path);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return vmmi_error(-ENOEXEC, "%s: program header size %u, expected %zu", path,
				  eh->e_phentsize, sizeof(Elf64_Phdr));
	if (!vmmi_range_ok(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), len))
		return vmmi_error(-ENOEXEC, "%s: program headers lie outside the file", path);
	if (eh->e_phoff % _Alignof(Elf64_Phdr))
		return vmmi_error(-ENOEXEC, "%s: misaligned program headers", path);
	*out = eh;
	return 0;
}

/* Keep what a segment wrote, so that vmm_vm_reset() can write it again. */
static int record_loaded(struct vmm_vm *vm, uint64_t gpa, uint64_t size, const uint8_t *bytes,
			 uint64_t filesz)
{
	struct vmmi_loaded *l = realloc(vm->loaded, (vm->nloaded + 1) * sizeof(*l));
	uint8_t *copy = NULL;

	if (!l)
		return vmmi_error(-ENOMEM, "out of memory");
	vm->loaded = l;
	if (filesz && !(copy = malloc(filesz)))
		return vmmi_error(-ENOMEM, "out of memory");
	if (filesz)
		memcpy(copy, bytes, filesz);
	l[vm->nloaded++] = (struct vmmi_loaded){gpa, size, copy, filesz};
	return 0;
}

int vmm_load_elf(struct vmm_vm *vm, const char *path, uint64_t *entry)
{
	const Elf64_Ehdr *eh = NULL;
	bool entry_ok = false;
	unsigned nload = 0;
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	if (!vm || !path || !entry)
		return vmmi_error(-EINVAL, "vmm_load_elf: NULL argument");
	if (vmmi_vm_running(vm))
		return vmmi_error(-EBUSY, "vmm_load_elf: the VM is running");
	ret = vmmi_read_file(path, ELF_MAX_FILE, &data, &len);
	if (ret < 0)
		return ret;
	ret = check_header(path, data, len, &eh);
	if (ret < 0)
		goto out;

	/* Check every segment before copying any, so a bad file leaves RAM untouched. */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < eh->e_phnum; i++) {
			const Elf64_Phdr *ph = (const Elf64_Phdr *)(data + eh->e_phoff) + i;
			void *hva;

			if (ph->p_type != PT_LOAD || !ph->p_memsz)
				continue;
			if (pass == 0) {
				if (ph->p_filesz > ph->p_memsz ||
				    !vmmi_range_ok(ph->p_offset, ph->p_filesz, len)) {
					ret = vmmi_error(-ENOEXEC,
							 "%s: segment %u has bad file offsets",
							 path, i);
					goto out;
				}
				if (vmmi_slots_translate(&vm->slots, ph->p_paddr, ph->p_memsz,
							 &hva) < 0) {
					ret = vmmi_error(-EFAULT,
							 "%s: segment %u at 0x%llx (0x%llx bytes) "
							 "is not inside one RAM slot",
							 path, i, (unsigned long long)ph->p_paddr,
							 (unsigned long long)ph->p_memsz);
					goto out;
				}
				/*
				 * The guest starts on an identity map, so its first
				 * instruction is fetched at the physical address e_entry:
				 * where the bytes land (p_paddr), not where they were linked.
				 */
				if ((ph->p_flags & PF_X) && eh->e_entry >= ph->p_paddr &&
				    eh->e_entry - ph->p_paddr < ph->p_memsz)
					entry_ok = true;
				nload++;
				continue;
			}
			vmmi_slots_translate(&vm->slots, ph->p_paddr, ph->p_memsz, &hva);
			memcpy(hva, data + ph->p_offset, ph->p_filesz);
			memset((uint8_t *)hva + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
			ret = record_loaded(vm, ph->p_paddr, ph->p_memsz, data + ph->p_offset,
					    ph->p_filesz);
			if (ret < 0)
				goto out;
		}
		if (pass == 0 && !nload) {
			ret = vmmi_error(-ENOEXEC, "%s: no PT_LOAD segment", path);
			goto out;
		}
		if (pass == 0 && !entry_ok) {
			ret = vmmi_error(
			    -ENOEXEC,
			    "%s: entry point 0x%llx is not in an executable segment's "
			    "physical range (p_paddr): the guest starts on an identity map",
			    path, (unsigned long long)eh->e_entry);
			goto out;
		}
	}
	*entry = eh->e_entry;
	ret = 0;
out:
	free(data);
	return ret;
}
