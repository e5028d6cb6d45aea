/* SPDX-License-Identifier: MIT */
/*
 * linux.c - vmm_load_linux(): a bzImage, its initrd and command line, the
 * zero page, e820, MP tables and the 64-bit entry of Linux's boot protocol.
 *
 * Guest memory (RAM must start at 0 and reach past 1 MiB):
 *   0x00000  real-mode IVT and BIOS data area, zeroed but for the EBDA
 *            segment (0x40e) and the base memory size (0x413)
 *   0x01000  GDT: 0x10 64-bit code, 0x18 data (__BOOT_CS, __BOOT_DS), 0x20 TSS
 *   0x07000  the zero page (struct boot_params)
 *   0x09000  page tables: PML4, PDPT, 4 PDs: identity map [0, 4 GiB), 2 MiB pages
 *   0x20000  the command line
 *   0x9fc00  EBDA, 0xe0000 ACPI (RSDP first), 0xf0000 MP tables: [0x9fc00, 1 MiB) reserved
 *   pref_address (16 MiB) or the first kernel_alignment multiple that fits: the kernel
 *   the top of RAM below 4 GiB and initrd_addr_max: the initrd
 * Every size and offset the image states was checked by vmmi_bzimage_parse().
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/bytes.h"
#include "boot/mptable.h"
#include "boot/x86.h"
#include "vmm_internal.h"

#define KIB (1ull << 10)
#define MIB (1ull << 20)
#define GIB (1ull << 30)

#define LX_BDA_EBDA_SEG 0x40eull
#define LX_BDA_BASE_KB	0x413ull
#define LX_GDT		0x1000ull
#define LX_TSS		(LX_GDT + 0x80)
#define LX_TSS_LIMIT	0x67u
#define LX_ZERO_PAGE	0x7000ull
#define LX_STACK_TOP	0x8ff0ull
#define LX_PML4		0x9000ull
#define LX_PDPT		0xa000ull
#define LX_PD		0xb000ull /* 4 pages */
#define LX_CMDLINE	0x20000ull
#define LX_CMDLINE_MAX	(LX_EBDA - LX_CMDLINE - 1)
#define LX_EBDA		0x9fc00ull
#define LX_ACPI		0xe0000ull
#define LX_MPTABLE	0xf0000ull
#define LX_LEGACY_END	0x100000ull
#define LX_KERNEL_MIN	LX_LEGACY_END  /* no kernel or initrd below 1 MiB */
#define LX_KERNEL_MAX	(256ull << 20) /* a bzImage file larger than this is a mistake */
#define LX_INITRD_MAX	(4ull << 30)

#define LX_SEL_CODE 0x10
#define LX_SEL_DATA 0x18
#define LX_SEL_TSS  0x20

/* boot_params offsets (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES	     0x1e8
#define BP_VID_MODE	     0x1fa
#define BP_TYPE_OF_LOADER    0x210
#define BP_CODE32_START	     0x214
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE	     0x21c
#define BP_CMD_LINE_PTR	     0x228
#define BP_E820_TABLE	     0x2d0
#define BP_E820_MAX	     128

#define E820_RAM      1
#define E820_RESERVED 2

struct e820 {
	uint64_t addr, size;
	uint32_t type;
};

struct plan {
	struct vmmi_bzimage bz;
	uint64_t kernel_gpa;
	uint64_t initrd_gpa, initrd_size;
	size_t cmdline_len;
	struct e820 map[BP_E820_MAX];
	unsigned nmap;
};

/* The writable slot that holds all of [gpa, gpa + len), or NULL. */
static const struct vmmi_slot *ram_at(const struct vmm_vm *vm, uint64_t gpa, uint64_t len)
{
	const struct vmmi_slot *s = vmmi_slots_find(&vm->slots, gpa);

	if (!s || (s->flags & VMM_MEMSLOT_READONLY) || len > s->gpa + s->size - gpa)
		return NULL;
	return s;
}

/*
 * Copy into guest RAM the loader has checked is there (ram_at()), marking
 * the pages dirty for a slot that logs them: without the VM's locks, which
 * is right both at configuration time and inside vmm_vm_reset()'s change.
 */
static void poke(struct vmm_vm *vm, uint64_t gpa, const void *src, uint64_t len)
{
	const struct vmmi_slot *s = vmmi_slots_find(&vm->slots, gpa);

	memcpy(s->hva + (gpa - s->gpa), src, len);
	if (s->dirty)
		vmmi_dirty_mark(s->dirty, gpa - s->gpa, len);
}

static void fill(struct vmm_vm *vm, uint64_t gpa, int byte, uint64_t len)
{
	const struct vmmi_slot *s = vmmi_slots_find(&vm->slots, gpa);

	memset(s->hva + (gpa - s->gpa), byte, len);
	if (s->dirty)
		vmmi_dirty_mark(s->dirty, gpa - s->gpa, len);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Do [a, a + alen) and [b, b + blen) share a byte? */
static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Where the protected-mode kernel goes: at pref_address if RAM holds
 * [pref_address, + init_size); a relocatable kernel else at the lowest
 * kernel_alignment multiple from 1 MiB that RAM holds.
 */
static int place_kernel(const struct vmm_vm *vm, struct plan *p, const char *path)
{
	const struct vmmi_bzimage *bz = &p->bz;

	if (bz->pref_address >= LX_KERNEL_MIN && ram_at(vm, bz->pref_address, bz->init_size)) {
		p->kernel_gpa = bz->pref_address;
		return 0;
	}
	if (bz->relocatable) {
		for (size_t i = 0; i < vm->slots.n; i++) {
			const struct vmmi_slot *s = &vm->slots.slots[i];
			uint64_t at = align_up(s->gpa > LX_KERNEL_MIN ? s->gpa : LX_KERNEL_MIN,
					       bz->kernel_alignment);

			if (s->flags & VMM_MEMSLOT_READONLY || at < s->gpa)
				continue;
			if (at < s->gpa + s->size && ram_at(vm, at, bz->init_size)) {
				p->kernel_gpa = at;
				return 0;
			}
		}
	}
	return vmmi_error(-ENOSPC,
			  "kernel '%s': no writable RAM holds its 0x%x bytes (init_size) at 0x%llx "
			  "(pref_address)%s",
			  path, bz->init_size, (unsigned long long)bz->pref_address,
			  bz->relocatable
			      ? " or at any multiple of its kernel_alignment above 1 MiB"
			      : "; it is not relocatable");
}

/*
 * The initrd: as high as it goes in writable RAM below 4 GiB, with its last
 * byte at most initrd_addr_max, page-aligned, clear of the kernel and of
 * everything below 1 MiB.
 */
static int place_initrd(const struct vmm_vm *vm, struct plan *p, const char *path)
{
	uint64_t limit = (uint64_t)p->bz.initrd_addr_max + 1, best = 0;

	if (limit > LX_INITRD_MAX)
		limit = LX_INITRD_MAX;
	for (size_t i = 0; i < vm->slots.n; i++) {
		const struct vmmi_slot *s = &vm->slots.slots[i];
		uint64_t lo = s->gpa > LX_KERNEL_MIN ? s->gpa : LX_KERNEL_MIN;
		uint64_t hi = s->gpa + s->size < limit ? s->gpa + s->size : limit, at;

		if (s->flags & VMM_MEMSLOT_READONLY || hi <= lo || hi - lo < p->initrd_size)
			continue;
		at = (hi - p->initrd_size) & ~(VMMI_PAGE_SIZE - 1);
		/* Below the kernel if it would overlap it. */
		if (overlap(at, p->initrd_size, p->kernel_gpa, p->bz.init_size)) {
			if (p->kernel_gpa < lo + p->initrd_size)
				continue;
			at = (p->kernel_gpa - p->initrd_size) & ~(VMMI_PAGE_SIZE - 1);
		}
		if (at >= lo && at > best)
			best = at;
	}
	if (!best)
		return vmmi_error(-ENOSPC,
				  "initrd '%s': no writable RAM holds its %llu bytes between 1 MiB "
				  "and 0x%llx (below 4 GiB and initrd_addr_max) beside the kernel",
				  path, (unsigned long long)p->initrd_size,
				  (unsigned long long)limit);
	p->initrd_gpa = best;
	return 0;
}

static int e820_add(struct plan *p, uint64_t addr, uint64_t size, uint32_t type)
{
	if (!size)
		return 0;
	if (p->nmap == BP_E820_MAX)
		return vmmi_error(-E2BIG, "linux: more than %u memory ranges for the e820 map",
				  BP_E820_MAX);
	p->map[p->nmap++] = (struct e820){addr, size, type};
	return 0;
}

static int e820_cmp(const void *a, const void *b)
{
	const struct e820 *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * The e820 map: writable slots are RAM, read-only ones reserved, and so are
 * the legacy area [0x9fc00, 1 MiB) (EBDA, MP tables, where a PC's ROMs
 * are), every MMIO window and the local APICs' page. Ranges never overlap:
 * the layout rules keep slots and windows apart.
 */
static int build_e820(const struct vmm_vm *vm, struct plan *p)
{
	int ret = 0;

	p->nmap = 0;
	for (size_t i = 0; i < vm->slots.n && !ret; i++) {
		const struct vmmi_slot *s = &vm->slots.slots[i];
		uint64_t a = s->gpa, end = s->gpa + s->size;

		if (s->flags & VMM_MEMSLOT_READONLY) {
			ret = e820_add(p, a, s->size, E820_RESERVED);
			continue;
		}
		if (a < LX_EBDA && end > LX_EBDA) {
			ret = e820_add(p, a, LX_EBDA - a, E820_RAM);
			a = LX_EBDA;
		}
		if (!ret && a < LX_LEGACY_END) {
			uint64_t stop = end < LX_LEGACY_END ? end : LX_LEGACY_END;

			ret = e820_add(p, a, stop - a, a >= LX_EBDA ? E820_RESERVED : E820_RAM);
			a = stop;
		}
		if (!ret && a < end)
			ret = e820_add(p, a, end - a, E820_RAM);
	}
	for (size_t i = 0; i < vm->bus[0].n && !ret; i++)
		ret = e820_add(p, vm->bus[0].w[i].base, vm->bus[0].w[i].length, E820_RESERVED);
	if (!ret && !vmmi_bus_find(&vm->bus[0], VMM_GUEST_LAPIC_BASE))
		ret = e820_add(p, VMM_GUEST_LAPIC_BASE, VMMI_LAPIC_PAGE_SIZE, E820_RESERVED);
	if (!ret)
		qsort(p->map, p->nmap, sizeof(p->map[0]), e820_cmp);
	return ret;
}

/* The zero page: the image's setup header, then what the loader tells the kernel. */
static int write_zero_page(struct vmm_vm *vm, const struct plan *p, const uint8_t *img, size_t len)
{
	uint8_t bp[VMMI_BZ_PARAMS_SIZE];
	int ret;

	memset(bp, 0, sizeof(bp));
	ret = vmmi_bzimage_copy_header(&p->bz, img, len, bp, sizeof(bp));
	if (ret < 0)
		return vmmi_error(ret, "linux: the setup header does not fit the zero page");
	vmmi_put16(bp + BP_VID_MODE, 0xffff); /* "normal": no video mode change */
	bp[BP_TYPE_OF_LOADER] = 0xff;	      /* a loader with no assigned id */
	vmmi_put32(bp + BP_CODE32_START, (uint32_t)p->kernel_gpa);
	vmmi_put32(bp + BP_CMD_LINE_PTR, (uint32_t)LX_CMDLINE);
	vmmi_put64(bp + BP_ACPI_RSDP_ADDR, LX_ACPI); /* protocol 2.14; older kernels scan for it */
	vmmi_put32(bp + BP_EXT_CMD_LINE_PTR, 0);
	vmmi_put32(bp + BP_RAMDISK_IMAGE, (uint32_t)p->initrd_gpa);
	vmmi_put32(bp + BP_RAMDISK_SIZE, (uint32_t)p->initrd_size);
	vmmi_put32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(p->initrd_gpa >> 32));
	vmmi_put32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(p->initrd_size >> 32));
	bp[BP_E820_ENTRIES] = (uint8_t)p->nmap;
	for (unsigned i = 0; i < p->nmap; i++) {
		uint8_t *e = bp + BP_E820_TABLE + 20 * i;

		vmmi_put64(e, p->map[i].addr);
		vmmi_put64(e + 8, p->map[i].size);
		vmmi_put32(e + 16, p->map[i].type);
	}
	poke(vm, LX_ZERO_PAGE, bp, sizeof(bp));
	return 0;
}

/* GDT and TSS, the identity map of [0, 4 GiB), the BIOS data area's two words. */
static void write_tables(struct vmm_vm *vm)
{
	uint64_t gdt[8] = {0}, pt[512];
	uint8_t bda[0x20];

	gdt[LX_SEL_CODE / 8] = 0x00af9b000000ffffull; /* 64-bit code, DPL 0 */
	gdt[LX_SEL_DATA / 8] = 0x00cf93000000ffffull; /* flat data, DPL 0 */
	gdt[LX_SEL_TSS / 8] = LX_TSS_LIMIT | ((LX_TSS & 0xffffff) << 16) | (0x89ull << 40);
	fill(vm, LX_GDT, 0, VMMI_PAGE_SIZE);
	poke(vm, LX_GDT, gdt, sizeof(gdt));
	vmmi_put16((uint8_t *)pt, LX_TSS_LIMIT + 1); /* the TSS's I/O map base: past its limit */
	poke(vm, LX_TSS + 0x66, pt, 2);

	memset(pt, 0, sizeof(pt));
	pt[0] = LX_PDPT | PTE_P | PTE_RW;
	poke(vm, LX_PML4, pt, sizeof(pt));
	memset(pt, 0, sizeof(pt));
	for (unsigned g = 0; g < 4; g++)
		pt[g] = (LX_PD + g * VMMI_PAGE_SIZE) | PTE_P | PTE_RW;
	poke(vm, LX_PDPT, pt, sizeof(pt));
	for (unsigned g = 0; g < 4; g++) {
		for (unsigned j = 0; j < 512; j++)
			pt[j] = ((uint64_t)g * GIB + ((uint64_t)j << 21)) | PTE_P | PTE_RW | PTE_PS;
		poke(vm, LX_PD + g * VMMI_PAGE_SIZE, pt, sizeof(pt));
	}

	fill(vm, 0, 0, VMMI_PAGE_SIZE);
	memset(bda, 0, sizeof(bda));
	vmmi_put16(bda + (LX_BDA_EBDA_SEG - 0x400), (uint16_t)(LX_EBDA >> 4));
	vmmi_put16(bda + (LX_BDA_BASE_KB - 0x400), (uint16_t)(LX_EBDA / KIB));
	poke(vm, 0x400, bda, sizeof(bda));
	fill(vm, LX_EBDA, 0, LX_LEGACY_END - LX_EBDA);
}

static int write_mptable(struct vmm_vm *vm)
{
	struct vmmi_mptable_spec spec = {
	    .ncpus = vm->nvcpus,
	    .cpu_signature = 0x00000f00, /* family 15: what MP-table-era CPUs said */
	    .cpu_features = 0x00000201,	 /* FPU, APIC */
	    .ioapic_id = (uint8_t)vm->nvcpus,
	    .ioapic_base = (uint32_t)VMM_GUEST_IOAPIC_BASE,
	    .ioapic_pins = VMM_GUEST_IOAPIC_PINS,
	};
	size_t size = vmmi_mptable_size(&spec);
	uint8_t *buf;
	int ret;

	if (size > LX_LEGACY_END - LX_MPTABLE)
		return vmmi_error(-E2BIG, "linux: the MP tables need 0x%zx bytes", size);
	buf = calloc(1, size);
	if (!buf)
		return vmmi_error(-ENOMEM, "linux: out of memory");
	ret = vmmi_mptable_build(buf, size, LX_MPTABLE, &spec);
	if (ret == 0)
		poke(vm, LX_MPTABLE, buf, size);
	free(buf);
	return ret;
}

/*
 * The ACPI tables Linux finds its CPUs and I/O APIC in: RSDP, XSDT, a
 * hardware-reduced FADT (no SCI, PM timer, i8042, VGA or RTC), a DSDT that
 * names the uart16550s on ISA interrupts and the MADT. Kernels built without CONFIG_X86_MPPARSE,
 * Debian's among them, read only these; the MP tables serve the others.
 */
static int write_acpi(struct vmm_vm *vm)
{
	struct vmmi_acpi_spec spec = {
	    .ncpus = vm->nvcpus,
	    .ioapic_id = (uint8_t)vm->nvcpus,
	    .ioapic_base = (uint32_t)VMM_GUEST_IOAPIC_BASE,
	    .lapic_base = (uint32_t)VMM_GUEST_LAPIC_BASE,
	};
	size_t size;
	uint8_t *buf;
	int ret;

	/* Each uart16550 with an ISA interrupt, which Linux maps only through the DSDT. */
	for (size_t i = 0; i < vm->bus[1].n && spec.nuarts < VMMI_ACPI_MAX_UARTS; i++) {
		const struct vmmi_window *w = &vm->bus[1].w[i];
		unsigned irq = w->dev->nirqs ? w->dev->irqs[0] : 0;

		if (strcmp(w->dev->desc->name, "uart16550") || irq == 0 || irq == 2 || irq > 15)
			continue;
		spec.uarts[spec.nuarts].port = (uint16_t)w->base;
		spec.uarts[spec.nuarts].irq = (uint8_t)irq;
		spec.nuarts++;
	}
	size = vmmi_acpi_size(&spec);
	if (size > LX_MPTABLE - LX_ACPI)
		return vmmi_error(-E2BIG, "linux: the ACPI tables need 0x%zx bytes", size);
	buf = calloc(1, size);
	if (!buf)
		return vmmi_error(-ENOMEM, "linux: out of memory");
	ret = vmmi_acpi_build(buf, size, LX_ACPI, &spec);
	if (ret == 0)
		poke(vm, LX_ACPI, buf, size);
	free(buf);
	return ret;
}

/* Read the initrd straight into guest RAM, where place_initrd() put it. */
static int load_initrd(struct vmm_vm *vm, const struct plan *p, const char *path)
{
	const struct vmmi_slot *s = vmmi_slots_find(&vm->slots, p->initrd_gpa);
	uint8_t *dst = s->hva + (p->initrd_gpa - s->gpa);
	uint64_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return vmmi_error(-errno, "initrd '%s': %s", path, strerror(errno));
	while (done < p->initrd_size) {
		uint64_t want = p->initrd_size - done;
		ssize_t n = read(fd, dst + done, want > (1u << 30) ? (1u << 30) : want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			close(fd);
			return vmmi_error(-err, "initrd '%s': %s after %llu of %llu bytes", path,
					  n < 0 ? strerror(err) : "the file shrank",
					  (unsigned long long)done,
					  (unsigned long long)p->initrd_size);
		}
		done += (uint64_t)n;
	}
	close(fd);
	if (s->dirty)
		vmmi_dirty_mark(s->dirty, p->initrd_gpa - s->gpa, p->initrd_size);
	return 0;
}

static int initrd_size(const char *path, uint64_t *size)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return vmmi_error(-errno, "initrd '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return vmmi_error(-EINVAL, "initrd '%s': not a regular file", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

/* vCPU 0 at the 64-bit entry, the boot protocol's state: long mode, flat, RSI = zero page. */
static int enter(struct vmm_vm *vm, uint64_t entry)
{
	struct vmm_sregs sr;
	struct vmm_regs r;
	int ret;

	memset(&sr, 0, sizeof(sr));
	sr.cs = vmmi_flat_segment(LX_SEL_CODE, 0xb, true);
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss = vmmi_flat_segment(LX_SEL_DATA, 0x3, false);
	sr.tr = (struct vmm_segment){.base = LX_TSS,
				     .limit = LX_TSS_LIMIT,
				     .selector = LX_SEL_TSS,
				     .type = 0xb,
				     .present = 1};
	sr.ldt = (struct vmm_segment){.type = 0x2};
	sr.gdt = (struct vmm_dtable){.base = LX_GDT, .limit = 0x2f};
	sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
	sr.cr3 = LX_PML4;
	sr.cr4 = CR4_PAE;
	sr.efer = EFER_LME | EFER_LMA;
	ret = vm->ops->set_sregs(vm->vcpus[0], &sr);
	if (ret < 0)
		return ret;
	memset(&r, 0, sizeof(r));
	r.rip = entry;
	r.rsi = LX_ZERO_PAGE;
	r.rsp = r.rbp = LX_STACK_TOP;
	r.rflags = 0x2;
	return vm->ops->set_regs(vm->vcpus[0], &r);
}

/* What every boot needs before the image is read: a PC to boot it on. */
static int check_vm(const struct vmm_vm *vm)
{
	const struct vmmi_slot *low = vmmi_slots_find(&vm->slots, 0);

	if (!vm->ops->linux_vcpu)
		return vmmi_error(
		    -ENOTSUP,
		    "the %s backend cannot boot Linux: it has no PC platform for it "
		    "(timers without a PIT, exceptions with exact error codes, an MMU "
		    "the guest controls); use accel = kvm",
		    vm->backend->name);
	if (!vm->nvcpus)
		return vmmi_error(-EINVAL, "linux: the VM has no vCPUs");
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (!vm->vcpus[i])
			return vmmi_error(-EINVAL,
					  "linux: vCPUs must be numbered 0..%u without gaps; %u is "
					  "missing",
					  vm->nvcpus - 1, i);
	if (!low || (low->flags & VMM_MEMSLOT_READONLY) || low->size < LX_LEGACY_END)
		return vmmi_error(
		    -ENOSPC,
		    "linux: writable RAM must start at GPA 0 and reach 1 MiB (the zero "
		    "page, page tables, command line and MP tables live there)%s",
		    !low				  ? ": nothing is at 0"
		    : (low->flags & VMM_MEMSLOT_READONLY) ? ": the slot at 0 is read-only"
							  : ": the slot at 0 is smaller");
	return 0;
}

int vmmi_linux_boot(struct vmm_vm *vm)
{
	struct vmmi_linux *lx = &vm->lx;
	struct plan *p;
	uint8_t *img = NULL;
	size_t len = 0;
	char why[200];
	int ret;

	ret = check_vm(vm);
	if (ret < 0)
		return ret;
	p = calloc(1, sizeof(*p));
	if (!p)
		return vmmi_error(-ENOMEM, "linux: out of memory");
	ret = vmmi_read_file(lx->kernel, LX_KERNEL_MAX, &img, &len);
	if (ret < 0)
		goto out;
	ret = vmmi_bzimage_parse(img, len, &p->bz, why, sizeof(why));
	if (ret < 0) {
		ret = vmmi_error(-ENOEXEC, "kernel '%s': %s", lx->kernel, why);
		goto out;
	}
	p->cmdline_len = lx->cmdline ? strlen(lx->cmdline) : 0;
	if (p->cmdline_len > p->bz.cmdline_size || p->cmdline_len > LX_CMDLINE_MAX) {
		ret = vmmi_error(-E2BIG,
				 "cmdline: %zu bytes is longer than the %u the kernel takes "
				 "(cmdline_size)",
				 p->cmdline_len,
				 p->bz.cmdline_size < LX_CMDLINE_MAX ? p->bz.cmdline_size
								     : (unsigned)LX_CMDLINE_MAX);
		goto out;
	}
	ret = place_kernel(vm, p, lx->kernel);
	if (ret == 0 && lx->initrd) {
		ret = initrd_size(lx->initrd, &p->initrd_size);
		if (ret == 0 && p->initrd_size)
			ret = place_initrd(vm, p, lx->initrd);
	}
	if (ret == 0)
		ret = build_e820(vm, p);
	if (ret < 0)
		goto out;

	/* Everything is checked: write the guest's memory, then the vCPUs. */
	write_tables(vm);
	ret = write_mptable(vm);
	if (ret == 0)
		ret = write_acpi(vm);
	if (ret == 0)
		ret = write_zero_page(vm, p, img, len);
	if (ret < 0)
		goto out;
	fill(vm, LX_CMDLINE, 0, p->cmdline_len + 1);
	if (p->cmdline_len)
		poke(vm, LX_CMDLINE, lx->cmdline, p->cmdline_len);
	poke(vm, p->kernel_gpa, img + p->bz.kernel_offset, p->bz.kernel_bytes);
	if (p->initrd_size) {
		ret = load_initrd(vm, p, lx->initrd);
		if (ret < 0)
			goto out;
	}
	vmmi_ioapic_set_id(vm, (uint8_t)vm->nvcpus);
	vm->linux_boot = true;
	for (unsigned i = 0; i < vm->nvcpus && ret == 0; i++)
		ret = vm->ops->linux_vcpu(vm->vcpus[i]);
	if (ret == 0)
		ret = enter(vm, p->kernel_gpa + 0x200);
	if (ret < 0)
		goto out;
	vmmi_log(vm, VMM_LOG_INFO,
		 "linux: boot protocol %u.%02u, kernel at 0x%llx (0x%x bytes with init_size), "
		 "initrd %llu bytes at 0x%llx, command line %zu bytes, %u e820 ranges, %u vCPU(s)",
		 p->bz.version >> 8, p->bz.version & 0xff, (unsigned long long)p->kernel_gpa,
		 p->bz.init_size, (unsigned long long)p->initrd_size,
		 (unsigned long long)p->initrd_gpa, p->cmdline_len, p->nmap, vm->nvcpus);
out:
	free(img);
	free(p);
	return ret;
}

/* ---- the keyboard controller's reset line: how Linux reboots a PC without ACPI ---- */

#define KBC_PORT  0x64
#define KBC_RESET 0xfe

static int kbc_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		      const struct vmm_device_info *info, void **state)
{
	(void)host;
	(void)info;
	*state = ctx->dev->vm;
	return 0;
}

/*
 * Status 0: input buffer empty, so Linux's reboot writes its 0xfe at once
 * (all-ones, an empty port, would make it poll 65536 times first). With
 * the FADT saying there is no 8042, Linux never probes the controller; a
 * kernel without ACPI finds none after its self-test times out (0.5 s).
 */
static int kbc_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	(void)state;
	(void)offset;
	(void)size;
	*value = 0;
	return 0;
}

static int kbc_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	(void)offset;
	(void)size;
	if ((value & 0xff) == KBC_RESET)
		vmmi_vm_reset_request(state);
	return 0;
}

static const struct vmm_plugin_desc kbc_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "kbc-reset",
    .description = "the keyboard controller's reset line (built in, Linux guests)",
    .spaces = VMM_SPACE_PIO,
    .access_sizes = VMM_ACCESS_1,
    .min_length = 1,
    .create = kbc_create,
    .read = kbc_read,
    .write = kbc_write,
};

void vmmi_reset_port_enable(struct vmm_vm *vm)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "kbc-reset",
	    .space = VMM_SPACE_PIO,
	    .base = KBC_PORT,
	    .length = 1,
	};
	const struct vmmi_window *w = vmmi_bus_find(&vm->bus[1], KBC_PORT);
	struct vmm_device *dev;

	if (w) {
		vmmi_log(vm, VMM_LOG_INFO,
			 "linux: port 0x64 is device '%s''s: a reboot through the keyboard "
			 "controller will not end the run",
			 w->dev->name);
		return;
	}
	if (vmm_device_add(vm, &kbc_desc, &cfg, &dev) < 0) {
		vmmi_log(vm, VMM_LOG_ERROR, "linux: no reset line on port 0x64: %s",
			 vmm_last_error());
		return;
	}
	dev->builtin = true;
}

static char *dup_or_null(const char *s, int *err)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

int vmm_load_linux(struct vmm_vm *vm, const char *kernel, const char *initrd, const char *cmdline)
{
	struct vmmi_linux lx = {0};
	int err = 0, ret;

	if (!vm || !kernel)
		return vmmi_error(-EINVAL, "vmm_load_linux: %s is NULL", vm ? "kernel" : "vm");
	if (vmmi_vm_running(vm))
		return vmmi_error(-EBUSY, "vmm_load_linux: the VM is running");
	if (vm->booted)
		return vmmi_error(-EBUSY, "vmm_load_linux: the VM has a boot state already "
					  "(vmm_boot_setup() or vmm_load_linux() succeeded)");
	lx.kernel = dup_or_null(kernel, &err);
	lx.initrd = dup_or_null(initrd, &err);
	lx.cmdline = dup_or_null(cmdline, &err);
	if (err) {
		vmmi_linux_free(&lx);
		return vmmi_error(err, "vmm_load_linux: out of memory");
	}
	vm->lx = lx;
	/*
	 * Huge pages for the RAM the VM allocated, before anything is written:
	 * Linux touches all of it early, and each 4 KiB fault is an exit to the
	 * host's KVM (several, nested). A hint: where the host has none,
	 * nothing changes.
	 */
	for (size_t i = 0; i < vm->slots.n; i++) {
		const struct vmmi_slot *s = &vm->slots.slots[i];

		if (s->owned && !(s->flags & VMM_MEMSLOT_READONLY))
			madvise(s->hva, s->size, MADV_HUGEPAGE);
	}
	ret = vmmi_linux_boot(vm);
	if (ret < 0) {
		vmmi_linux_free(&vm->lx);
		vm->linux_boot = false;
		return ret;
	}
	vm->booted = true;
	vmmi_reset_port_enable(vm);
	return 0;
}

void vmmi_linux_free(struct vmmi_linux *lx)
{
	free(lx->kernel);
	free(lx->initrd);
	free(lx->cmdline);
	memset(lx, 0, sizeof(*lx));
}
