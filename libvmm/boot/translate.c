/* SPDX-License-Identifier: MIT */
/*
 * translate.c - explain one GPA: the memslot and HVA behind it, the HPA
 * the host page tables give that HVA, or the device window that claims it.
 */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "vmm_internal.h"

/*
 * /proc/self/pagemap holds one 64-bit entry per virtual page of the process
 * (Documentation/admin-guide/mm/pagemap.rst): bit 63 page present, bit 62
 * page swapped, bits 0-54 the page frame number when present. Since Linux
 * 4.0 the PFN reads as 0 unless the reader has CAP_SYS_ADMIN, so that the
 * physical layout cannot be used to aim Rowhammer-style attacks.
 */
#define PAGEMAP_PRESENT	 (1ull << 63)
#define PAGEMAP_SWAPPED	 (1ull << 62)
#define PAGEMAP_PFN_MASK ((1ull << 55) - 1)

/* Slot names are kept in VMM_GUEST_NAME_MAX bytes: a translation must not cut them shorter. */
_Static_assert(VMM_XLATE_NAME_MAX >= VMM_GUEST_NAME_MAX, "slot names would be truncated");

/* Copy a name into a fixed field, truncating; the field ends NUL-terminated. */
static void copy_name(char *dst, size_t len, const char *src)
{
	size_t n = src ? strnlen(src, len - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/*
 * Fill hpa_status, hpa_error and hpa for the host page behind hva. The file
 * is opened per call: a long-lived descriptor would be VM state for a
 * debugging query, and a forked child would read its parent's page tables
 * through an inherited one.
 */
static void hva_to_hpa(const void *hva, struct vmm_translation *t)
{
	long psz = sysconf(_SC_PAGESIZE);
	uint64_t page_size = psz > 0 ? (uint64_t)psz : VMMI_PAGE_SIZE;
	uint64_t addr = (uint64_t)(uintptr_t)hva, entry, pfn;
	ssize_t n;
	int fd;

	t->hpa_status = VMM_HPA_UNAVAILABLE;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		t->hpa_error = errno;
		return;
	}
	n = pread(fd, &entry, sizeof(entry), (off_t)(addr / page_size * sizeof(entry)));
	if (n != (ssize_t)sizeof(entry))
		t->hpa_error = n < 0 ? errno : EIO;
	close(fd);
	if (n != (ssize_t)sizeof(entry))
		return;

	/* A swapped page has no frame even when the PFN bits hold the swap entry. */
	if (!(entry & PAGEMAP_PRESENT) || (entry & PAGEMAP_SWAPPED)) {
		t->hpa_status = VMM_HPA_NOT_PRESENT;
		return;
	}
	pfn = entry & PAGEMAP_PFN_MASK;
	/* Frame 0 is never given to a process: 0 means the kernel hid the PFN. */
	if (pfn == 0) {
		t->hpa_error = EPERM;
		return;
	}
	t->hpa_status = VMM_HPA_OK;
	t->hpa = pfn * page_size + addr % page_size;
}

/* The first version of struct vmm_translation ended before slot_flags: callers built then still
 * work. */
#define XLATE_MIN_SIZE offsetof(struct vmm_translation, slot_flags)

int vmm_translate(const struct vmm_vm *vm, uint64_t gpa, struct vmm_translation *out)
{
	struct vmm_translation t;
	const struct vmmi_slot *s;
	const struct vmmi_window *w;
	size_t n;
	int ret;

	if (!vm || !out)
		return vmmi_error(-EINVAL, "vmm_translate: NULL argument");
	if (out->size < XLATE_MIN_SIZE)
		return vmmi_error(-EINVAL,
				  "vmm_translate: out->size %zu is too small (at least %zu)",
				  out->size, (size_t)XLATE_MIN_SIZE);

	memset(&t, 0, sizeof(t));
	t.gpa = gpa;
	t.kind = VMM_XLATE_UNCLAIMED;

	/* The tables may change on another thread: hold them still (vmm_guest_read()'s lock). */
	ret = vmmi_mem_read_begin(vm, "vmm_translate");
	if (ret < 0)
		return ret;
	/* A window may overlap a read-only slot (it takes the writes), never a writable one:
	 * layout.c. */
	s = vmmi_slots_find(&vm->slots, gpa);
	w = vmmi_bus_find(&vm->bus[0], gpa);
	if (s) {
		t.kind = VMM_XLATE_RAM;
		copy_name(t.slot, sizeof(t.slot), s->name);
		t.slot_gpa = s->gpa;
		t.slot_size = s->size;
		t.slot_flags = s->flags;
		/* gpa - s->gpa < s->size, and insertion checked that the host range cannot wrap. */
		t.hva = s->hva + (gpa - s->gpa);
		hva_to_hpa(t.hva, &t);
	} else if (w) {
		t.kind = VMM_XLATE_DEVICE;
	}
	if (w) {
		copy_name(t.device, sizeof(t.device), w->dev->name);
		copy_name(t.model, sizeof(t.model), w->dev->desc->name);
		t.space = VMM_SPACE_MMIO;
		t.device_base = w->base;
		t.device_length = w->length;
	}
	ret = vmmi_mem_read_end(vm, "vmm_translate");
	if (ret < 0)
		return ret;

	/* Only what the caller's version of the struct has; a larger one reads zero past ours. */
	n = out->size;
	t.size = n;
	memcpy(out, &t, n < sizeof(t) ? n : sizeof(t));
	if (n > sizeof(t))
		memset((char *)out + sizeof(t), 0, n - sizeof(t));
	return 0;
}
