/* SPDX-License-Identifier: MIT */
/* fuzz_layout.c - memslot and device window changes checked against a model of the documented
 * rules. */

/*
 * Each input is a program of layout calls on an emu VM without vCPUs (so a
 * change costs its planning, not Unicorn's remapping). A list-based model
 * written from vmm.h (vmm_memslot_add/remove/move, vmm_device_add/remove/
 * move) says whether each call must succeed and, if not, which errnos the
 * broken rules allow; after every call the VM's slots and windows must be
 * the model's. Any disagreement aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "vmm/vmm.h"

#define PAGE	     4096ull
#define GPA_LIMIT    (1ull << 46)   /* vmm.h: "the guest-physical address width" (libvmm(3)) */
#define IDENTITY_END (512ull << 30) /* MMIO windows end at or below the 512 GiB identity map */
#define PORT_END     0x10000ull	    /* PIO windows lie inside ports 0 .. 0xffff */
#define MAX_OPS	     48
#define MAX_OBJ	     (MAX_OPS + 1)

struct mslot {
	uint64_t gpa, size;
	uint32_t flags;
};

struct mwin {
	uint32_t space;
	uint64_t base, len;
	struct vmm_device *dev;
};

static struct mslot slots[MAX_OBJ];
static struct mwin wins[MAX_OBJ];
static size_t nslots, nwins;
static void *hva; /* one reservation every slot points at: no vCPU ever touches it */
static uint64_t reserved;

static int null_create(const struct vmm_host_services *h, struct vmm_host *c,
		       const struct vmm_device_info *i, void **state)
{
	*state = NULL;
	return 0;
}

static int null_read(void *s, uint64_t off, uint32_t size, uint64_t *v)
{
	*v = 0;
	return 0;
}

static int null_write(void *s, uint64_t off, uint32_t size, uint64_t v)
{
	return 0;
}

/* An MMIO model with 8-byte registers (emu hooks its pages), one for both spaces, one with a
 * minimum. */
static const struct vmm_plugin_desc descs[] = {
    {VMM_PLUGIN_ABI_VERSION, sizeof(struct vmm_plugin_desc), "wide", "", VMM_SPACE_MMIO,
     VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8, 1, null_create, NULL, NULL,
     null_read, null_write},
    {VMM_PLUGIN_ABI_VERSION, sizeof(struct vmm_plugin_desc), "narrow", "",
     VMM_SPACE_MMIO | VMM_SPACE_PIO, VMM_ACCESS_1 | VMM_ACCESS_4, 1, null_create, NULL, NULL,
     null_read, null_write},
    {VMM_PLUGIN_ABI_VERSION, sizeof(struct vmm_plugin_desc), "big", "", VMM_SPACE_PIO, VMM_ACCESS_1,
     0x10, null_create, NULL, NULL, null_read, null_write},
};

/* Overlap of two ranges, comparing last bytes; a range that wraps is clamped at 2^64. */
static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	uint64_t al, bl;

	if (!alen || !blen)
		return false;
	al = a + (alen - 1) < a ? UINT64_MAX : a + (alen - 1);
	bl = b + (blen - 1) < b ? UINT64_MAX : b + (blen - 1);
	return a <= bl && b <= al;
}

static bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return len <= size && off <= size - len;
}

/* Errnos a call may return: a bit per errno the broken rules allow; none set: must succeed. */
struct verdict {
	bool einval, erange, eexist, enoent;
};

static bool allowed(const struct verdict *v, int ret)
{
	if (!v->einval && !v->erange && !v->eexist && !v->enoent)
		return ret == 0;
	return (ret == -EINVAL && v->einval) || (ret == -ERANGE && v->erange) ||
	       (ret == -EEXIST && v->eexist) || (ret == -ENOENT && v->enoent);
}

static bool slot_hits_slot(uint64_t gpa, uint64_t size, const struct mslot *skip)
{
	for (size_t i = 0; i < nslots; i++)
		if (&slots[i] != skip && overlap(gpa, size, slots[i].gpa, slots[i].size))
			return true;
	return false;
}

/* The machine's own addresses: the local APIC page (reserved) and the I/O APIC's window. */
#define LAPIC	  0xfee00000ull
#define IOAPIC	  0xfec00000ull
#define CTRL_SIZE 0x1000ull

static struct verdict slot_rules(uint64_t gpa, uint64_t size, uint32_t flags,
				 const struct mslot *self)
{
	struct verdict v = {0};

	if (overlap(gpa, size, LAPIC, CTRL_SIZE) ||
	    (!(flags & VMM_MEMSLOT_READONLY) && overlap(gpa, size, IOAPIC, CTRL_SIZE)))
		v.eexist = true;

	if (!size || ((gpa | size) & (PAGE - 1)) ||
	    (flags & ~(uint32_t)(VMM_MEMSLOT_READONLY | VMM_MEMSLOT_LOG_DIRTY)))
		v.einval = true;
	if (!range_ok(gpa, size, GPA_LIMIT))
		v.erange = true;
	if (slot_hits_slot(gpa, size, self))
		v.eexist = true;
	/* Windows overlapping the slot: only a writable slot refuses them. */
	for (size_t i = 0; i < nwins; i++)
		if (wins[i].space == VMM_SPACE_MMIO && !(flags & VMM_MEMSLOT_READONLY) &&
		    overlap(gpa, size, wins[i].base, wins[i].len))
			v.eexist = true;
	return v;
}

static struct verdict window_rules(const struct vmm_plugin_desc *d, uint32_t space, uint64_t base,
				   uint64_t len, const struct mwin *self)
{
	struct verdict v = {0};

	if ((space != VMM_SPACE_MMIO && space != VMM_SPACE_PIO) || !(d->spaces & space) || !len ||
	    base + (len - 1) < base || len < d->min_length)
		v.einval = true;
	if (space == VMM_SPACE_PIO && !range_ok(base, len, PORT_END))
		v.erange = true;
	if (space == VMM_SPACE_MMIO && !range_ok(base, len, IDENTITY_END))
		v.erange = true;
	if (space == VMM_SPACE_MMIO &&
	    (overlap(base, len, LAPIC, CTRL_SIZE) || overlap(base, len, IOAPIC, CTRL_SIZE)))
		v.eexist = true;
	for (size_t i = 0; i < nwins; i++)
		if (&wins[i] != self && wins[i].space == space &&
		    overlap(base, len, wins[i].base, wins[i].len))
			v.eexist = true;
	for (size_t i = 0; space == VMM_SPACE_MMIO && i < nslots; i++)
		if (!(slots[i].flags & VMM_MEMSLOT_READONLY) &&
		    overlap(base, len, slots[i].gpa, slots[i].size))
			v.eexist = true;
	return v;
}

/* Addresses near the edges the rules talk about, or anywhere. */
static const uint64_t edges[] = {
    0,	       PAGE,	 0xa0000, 1ull << 20, 0xfee00000, 4ull << 30, IDENTITY_END,
    GPA_LIMIT, PORT_END, 0x3f8,	  0, /* 2^64: the last entry wraps to 0 on purpose */
};

static uint64_t pick_addr(struct fuzz_in *in)
{
	uint8_t mode = fuzz_u8(in);
	uint64_t e;

	switch (mode % 5) {
	case 0: /* low, page aligned */
		return (uint64_t)fuzz_u16(in) << 12;
	case 1: /* a page or so around an edge */
		e = edges[fuzz_u8(in) % (sizeof(edges) / sizeof(edges[0]))];
		return (mode & 0x80) ? e - ((uint64_t)fuzz_u8(in) << 12)
				     : e + ((uint64_t)fuzz_u8(in) << 12);
	case 2: /* near an object of the model */
		if (nslots && (mode & 0x40))
			e = slots[fuzz_u8(in) % nslots].gpa;
		else if (nwins)
			e = wins[fuzz_u8(in) % nwins].base;
		else
			e = 0;
		return (mode & 0x80) ? e - fuzz_u16(in) : e + fuzz_u16(in);
	case 3:
		return fuzz_u16(in);
	default:
		return fuzz_u64(in);
	}
}

static uint64_t pick_size(struct fuzz_in *in, uint64_t base)
{
	uint8_t mode = fuzz_u8(in);

	switch (mode % 4) {
	case 0:
		return ((uint64_t)fuzz_u8(in) + 1) << 12;
	case 1: /* ending exactly at an edge (or a little off) */
		return edges[fuzz_u8(in) % (sizeof(edges) / sizeof(edges[0]))] - base +
		       (uint64_t)(int8_t)fuzz_u8(in) * ((mode & 0x80) ? PAGE : 1);
	case 2:
		return fuzz_u16(in);
	default:
		return fuzz_u64(in);
	}
}

static void check_state(struct vmm_vm *vm, const char *after)
{
	struct mslot sorted[MAX_OBJ];
	int n = vmm_memslot_count(vm);

	FUZZ_CHECK(n == (int)nslots, "after %s: %d slots, the model has %zu", after, n, nslots);
	memcpy(sorted, slots, nslots * sizeof(slots[0]));
	for (size_t i = 1; i < nslots; i++)
		for (size_t j = i; j > 0 && sorted[j - 1].gpa > sorted[j].gpa; j--) {
			struct mslot t = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		struct vmm_memslot_info info = VMM_MEMSLOT_INFO_INIT;

		FUZZ_CHECK(vmm_memslot_get(vm, i, &info) == 0, "memslot_get %d", i);
		FUZZ_CHECK(info.gpa == sorted[i].gpa && info.size == sorted[i].size &&
			       info.flags == sorted[i].flags,
			   "after %s: slot %d is [0x%llx +0x%llx] flags %u, the model says [0x%llx "
			   "+0x%llx] flags %u",
			   after, i, (unsigned long long)info.gpa, (unsigned long long)info.size,
			   info.flags, (unsigned long long)sorted[i].gpa,
			   (unsigned long long)sorted[i].size, sorted[i].flags);
	}
	n = vmm_device_count(vm);
	FUZZ_CHECK(n == (int)nwins, "after %s: %d devices, the model has %zu", after, n, nwins);
	for (size_t i = 0; i < nwins; i++) {
		uint64_t base, len;
		uint32_t space;
		bool found = false;

		FUZZ_CHECK(vmm_device_window(wins[i].dev, &space, &base, &len) == 0, "window");
		FUZZ_CHECK(
		    space == wins[i].space && base == wins[i].base && len == wins[i].len,
		    "after %s: device %s is at 0x%llx +0x%llx, the model says 0x%llx +0x%llx",
		    after, vmm_device_name(wins[i].dev), (unsigned long long)base,
		    (unsigned long long)len, (unsigned long long)wins[i].base,
		    (unsigned long long)wins[i].len);
		for (int j = 0; j < n && !found; j++)
			found = vmm_device_get(vm, j) == wins[i].dev;
		FUZZ_CHECK(found, "after %s: device %s is not listed", after,
			   vmm_device_name(wins[i].dev));
	}
}

/* What vmm_translate() says of gpa must follow from the model too. */
static void check_translate(struct vmm_vm *vm, uint64_t gpa)
{
	struct vmm_translation t = {.size = sizeof(t)};
	int want = overlap(gpa, 1, IOAPIC, CTRL_SIZE) ? VMM_XLATE_DEVICE : VMM_XLATE_UNCLAIMED;

	for (size_t i = 0; i < nwins; i++)
		if (wins[i].space == VMM_SPACE_MMIO && overlap(gpa, 1, wins[i].base, wins[i].len))
			want = VMM_XLATE_DEVICE;
	for (size_t i = 0; i < nslots; i++)
		if (overlap(gpa, 1, slots[i].gpa, slots[i].size))
			want = VMM_XLATE_RAM;
	FUZZ_CHECK(vmm_translate(vm, gpa, &t) == 0, "translate");
	FUZZ_CHECK(t.kind == want, "translate 0x%llx: kind %d, the model says %d",
		   (unsigned long long)gpa, t.kind, want);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Never touched (no vCPU runs): it only has to be mapped, aligned and not wrap. */
	for (reserved = GPA_LIMIT; reserved >= (1ull << 32); reserved >>= 2) {
		hva = mmap(NULL, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			   -1, 0);
		if (hva != MAP_FAILED)
			return 0;
	}
	FUZZ_FAIL("cannot reserve address space");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct vmm_vm_options o;
	struct vmm_vm *vm;
	unsigned names = 0;
	char what[64], name[16];

	if (!reserved)
		LLVMFuzzerInitialize(NULL, NULL);
	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	if (vmm_vm_create(&o, &vm))
		FUZZ_FAIL("vmm_vm_create: %s", vmm_last_error());
	nslots = nwins = 0;

	for (int op = 0; op < MAX_OPS && fuzz_left(&in); op++) {
		uint8_t kind = fuzz_u8(&in);
		struct verdict v = {0};
		uint64_t a, b, len;
		int ret = 0;

		switch (kind % 6) {
		case 0: {				   /* vmm_memslot_add_flags */
			uint32_t flags = fuzz_u8(&in) % 5; /* 4: an unknown flag */

			a = pick_addr(&in);
			len = pick_size(&in, a);
			/* The dirty bitmap is one bit a page: keep it small for the fuzzer's malloc
			 * limit. */
			if ((flags & VMM_MEMSLOT_LOG_DIRTY) && len > (1ull << 32))
				len &= (1ull << 32) - 1;
			if (len > reserved && range_ok(a, len, GPA_LIMIT))
				continue; /* beyond the reservation: skip rather than lie about hva
					   */
			v = slot_rules(a, len, flags, NULL);
			ret = vmm_memslot_add_flags(vm, "s", a, len, hva, flags);
			snprintf(what, sizeof(what), "memslot_add(0x%llx, 0x%llx, %u)",
				 (unsigned long long)a, (unsigned long long)len, flags);
			if (ret == 0 && allowed(&v, ret))
				slots[nslots++] = (struct mslot){a, len, flags};
			break;
		}
		case 1: { /* vmm_memslot_remove */
			a = nslots && (kind & 0x80) ? slots[fuzz_u8(&in) % nslots].gpa
						    : pick_addr(&in);
			v.enoent = true;
			for (size_t i = 0; i < nslots; i++)
				if (slots[i].gpa == a)
					v.enoent = false;
			ret = vmm_memslot_remove(vm, a);
			snprintf(what, sizeof(what), "memslot_remove(0x%llx)",
				 (unsigned long long)a);
			if (ret == 0 && allowed(&v, ret))
				for (size_t i = 0; i < nslots; i++)
					if (slots[i].gpa == a) {
						slots[i] = slots[--nslots];
						break;
					}
			break;
		}
		case 2: { /* vmm_memslot_move */
			struct mslot *s = NULL;

			a = nslots && (kind & 0x80) ? slots[fuzz_u8(&in) % nslots].gpa
						    : pick_addr(&in);
			b = pick_addr(&in);
			for (size_t i = 0; i < nslots; i++)
				if (slots[i].gpa == a)
					s = &slots[i];
			if (!s) {
				v.enoent = true;
			} else if (b != a) {
				v = slot_rules(b, s->size, s->flags, s);
				if (b & (PAGE - 1))
					v.einval = true;
			}
			ret = vmm_memslot_move(vm, a, b);
			snprintf(what, sizeof(what), "memslot_move(0x%llx, 0x%llx)",
				 (unsigned long long)a, (unsigned long long)b);
			if (ret == 0 && allowed(&v, ret))
				s->gpa = b;
			break;
		}
		case 3: { /* vmm_device_add */
			const struct vmm_plugin_desc *d = &descs[fuzz_u8(&in) % 3];
			uint32_t space = (kind & 0x80) ? VMM_SPACE_PIO : VMM_SPACE_MMIO;
			struct vmm_device_config cfg = {.size = sizeof(cfg), .name = name};
			struct vmm_device *dev = NULL;

			if (kind & 0x40)
				space = fuzz_u8(&in) % 4; /* 0 and 3 are no space */
			a = (space == VMM_SPACE_PIO && (kind & 0x20)) ? fuzz_u16(&in)
								      : pick_addr(&in);
			len = pick_size(&in, a);
			snprintf(name, sizeof(name), "d%u", names++);
			cfg.space = space;
			cfg.base = a;
			cfg.length = len;
			v = window_rules(d, space, a, len, NULL);
			ret = vmm_device_add(vm, d, &cfg, &dev);
			snprintf(what, sizeof(what), "device_add(%s, %u, 0x%llx, 0x%llx)", d->name,
				 space, (unsigned long long)a, (unsigned long long)len);
			if (ret == 0 && allowed(&v, ret))
				wins[nwins++] = (struct mwin){space, a, len, dev};
			break;
		}
		case 4: /* vmm_device_remove */
			if (!nwins)
				continue;
			b = fuzz_u8(&in) % nwins;
			ret = vmm_device_remove(wins[b].dev);
			snprintf(what, sizeof(what), "device_remove(%s)", "?");
			if (ret == 0)
				wins[b] = wins[--nwins];
			break;
		case 5: { /* vmm_device_move */
			struct mwin *w;
			const struct vmm_plugin_desc *d;

			if (!nwins)
				continue;
			w = &wins[fuzz_u8(&in) % nwins];
			b = (w->space == VMM_SPACE_PIO && (kind & 0x20)) ? fuzz_u16(&in)
									 : pick_addr(&in);
			d = &descs[0];
			for (size_t i = 0; i < 3; i++)
				if (!strcmp(descs[i].name, vmm_device_model(w->dev)))
					d = &descs[i];
			if (b != w->base)
				v = window_rules(d, w->space, b, w->len, w);
			ret = vmm_device_move(w->dev, b);
			snprintf(what, sizeof(what), "device_move(0x%llx -> 0x%llx, 0x%llx)",
				 (unsigned long long)w->base, (unsigned long long)b,
				 (unsigned long long)w->len);
			if (ret == 0 && allowed(&v, ret))
				w->base = b;
			break;
		}
		}
		FUZZ_CHECK(allowed(&v, ret),
			   "%s returned %d (%s: %s); the model allows einval %d erange %d eexist "
			   "%d enoent %d",
			   what, ret, vmm_strerror(ret), vmm_last_error(), v.einval, v.erange,
			   v.eexist, v.enoent);
		check_state(vm, what);
		check_translate(vm, pick_addr(&in));
	}
	vmm_vm_destroy(vm);
	return 0;
}
