/* SPDX-License-Identifier: MIT */
/* guest.c - the benchmark guests (raw x86-64 code) and the boot state the baselines give them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "vmm/guest.h"

static size_t put(uint8_t *code, size_t at, const uint8_t *bytes, size_t n)
{
	memcpy(code + at, bytes, n);
	return at + n;
}

static size_t put32(uint8_t *code, size_t at, uint32_t v)
{
	memcpy(code + at, &v, 4); /* x86 is little endian, like the host */
	return at + 4;
}

/* mov r32, imm32 (b8+r): eax 0, ecx 1, edx 2, edi 7. */
static size_t mov_imm32(uint8_t *code, size_t at, unsigned reg, uint32_t v)
{
	code[at++] = (uint8_t)(0xb8 + reg);
	return put32(code, at, v);
}

/* dec ecx; jnz loop; hlt. */
static size_t loop_end(uint8_t *code, size_t at, size_t loop)
{
	static const uint8_t dec_ecx[] = {0xff, 0xc9};

	at = put(code, at, dec_ecx, sizeof(dec_ecx));
	code[at++] = 0x75; /* jnz rel8 */
	code[at] = (uint8_t)(int8_t)((long)loop - (long)(at + 1));
	at++;
	code[at++] = 0xf4; /* hlt */
	return at;
}

size_t bench_code_mmio(uint8_t *code, uint64_t addr, uint32_t n)
{
	static const uint8_t store[] = {0x89, 0x08}; /* mov [rax], ecx */
	size_t at = 0, loop;

	at = mov_imm32(code, at, 0, (uint32_t)addr); /* mov eax, addr (zero-extends into rax) */
	at = mov_imm32(code, at, 1, n);		     /* mov ecx, n */
	loop = at;
	at = put(code, at, store, sizeof(store));
	return loop_end(code, at, loop);
}

size_t bench_code_pio(uint8_t *code, uint16_t port, uint32_t n)
{
	size_t at = 0, loop;

	at = mov_imm32(code, at, 2, port); /* mov edx, port */
	at = mov_imm32(code, at, 1, n);	   /* mov ecx, n */
	loop = at;
	code[at++] = 0xef; /* out dx, eax */
	return loop_end(code, at, loop);
}

size_t bench_code_compute(uint8_t *code, uint32_t n)
{
	/* One xorshift64 round into rax, then add rax into the buffer at a pseudo-random slot. */
	static const uint8_t round[] = {
	    0x48, 0x89, 0xc2,			/* mov rdx, rax */
	    0x48, 0xc1, 0xe2, 0x0d,		/* shl rdx, 13 */
	    0x48, 0x31, 0xd0,			/* xor rax, rdx */
	    0x48, 0x89, 0xc2,			/* mov rdx, rax */
	    0x48, 0xc1, 0xea, 0x07,		/* shr rdx, 7 */
	    0x48, 0x31, 0xd0,			/* xor rax, rdx */
	    0x48, 0x89, 0xc2,			/* mov rdx, rax */
	    0x48, 0xc1, 0xe2, 0x11,		/* shl rdx, 17 */
	    0x48, 0x31, 0xd0,			/* xor rax, rdx */
	    0x89, 0xc3,				/* mov ebx, eax */
	    0x81, 0xe3, 0xf8, 0xff, 0x00, 0x00, /* and ebx, 0xfff8 */
	    0x48, 0x01, 0x04, 0x1f,		/* add [rdi+rbx], rax */
	};
	static const uint8_t seed[] = {0x48, 0xb8, 0x15, 0x7c, 0x4a, 0x7f,
				       0xb9, 0x79, 0x37, 0x9e}; /* movabs rax, 0x9e3779b97f4a7c15 */
	size_t at = 0, loop;

	at = mov_imm32(code, at, 1, n);			  /* mov ecx, n */
	at = mov_imm32(code, at, 7, (uint32_t)BENCH_BUF); /* mov edi, BENCH_BUF */
	at = put(code, at, seed, sizeof(seed));
	loop = at;
	at = put(code, at, round, sizeof(round));
	return loop_end(code, at, loop);
}

size_t bench_code_hlt(uint8_t *code)
{
	code[0] = 0xf4;
	return 1;
}

/* ---- the boot state, as boot_x86.c builds it for one vCPU and a 4 GiB identity map ---- */

#define GIB	   (1ull << 30)
#define PAGE	   4096ull
#define NPD	   4 /* one page directory per GiB of the identity map */
#define GDT_BYTES  0x28
#define TSS_OFFSET 0x80
#define TSS_LIMIT  0x67
#define AREA_PAGES (3 + NPD + VMM_GUEST_BOOT_INFO_PAGES) /* GDT, PML4, PDPT, PDs, boot info */
#define AREA_SIZE  (AREA_PAGES * PAGE + VMM_GUEST_STACK_SIZE)

static struct vmm_segment flat(uint16_t selector, uint8_t type, bool code)
{
	return (struct vmm_segment){
	    .limit = 0xffffffff,
	    .selector = selector,
	    .type = type,
	    .present = 1,
	    .s = 1,
	    .l = code,
	    .db = !code,
	    .g = 1,
	};
}

void bench_boot_write(uint8_t *ram, uint64_t ram_size, uint64_t entry, struct vmm_sregs *sr,
		      struct vmm_regs *r)
{
	uint64_t base = ram_size - AREA_SIZE;
	uint64_t gdt_gpa = base, pml4_gpa = base + PAGE, pdpt_gpa = base + 2 * PAGE;
	uint64_t pd_gpa = base + 3 * PAGE, info_gpa = pd_gpa + NPD * PAGE;
	uint64_t stack_gpa = info_gpa + VMM_GUEST_BOOT_INFO_PAGES * PAGE;
	uint64_t tss = gdt_gpa + TSS_OFFSET;
	uint64_t *gdt = (uint64_t *)(ram + gdt_gpa), *pml4 = (uint64_t *)(ram + pml4_gpa);
	uint64_t *pdpt = (uint64_t *)(ram + pdpt_gpa), *pd = (uint64_t *)(ram + pd_gpa);
	uint16_t iomap = TSS_LIMIT + 1;

	memset(ram + base, 0, 3 * PAGE);
	gdt[VMM_GUEST_SEL_CODE / 8] = 0x00af9b000000ffffull;
	gdt[VMM_GUEST_SEL_DATA / 8] = 0x00cf93000000ffffull;
	gdt[VMM_GUEST_SEL_TSS / 8] =
	    TSS_LIMIT | ((tss & 0xffffff) << 16) | (0x89ull << 40) | (((tss >> 24) & 0xff) << 56);
	gdt[VMM_GUEST_SEL_TSS / 8 + 1] = tss >> 32;
	memcpy(ram + tss + 0x66, &iomap, sizeof(iomap));
	pml4[0] = pdpt_gpa | 3;
	for (unsigned g = 0; g < NPD; g++) {
		pdpt[g] = (pd_gpa + g * PAGE) | 3;
		for (unsigned j = 0; j < 512; j++)
			pd[g * 512 + j] = (g * GIB + ((uint64_t)j << 21)) | 0x83; /* P, RW, PS */
	}

	memset(sr, 0, sizeof(*sr));
	sr->cs = flat(VMM_GUEST_SEL_CODE, 0xb, true);
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = flat(VMM_GUEST_SEL_DATA, 0x3, false);
	sr->tr = (struct vmm_segment){.base = tss,
				      .limit = TSS_LIMIT,
				      .selector = VMM_GUEST_SEL_TSS,
				      .type = 0xb,
				      .present = 1};
	sr->ldt = (struct vmm_segment){.type = 0x2};
	sr->gdt = (struct vmm_dtable){.base = gdt_gpa, .limit = GDT_BYTES - 1};
	sr->cr0 = 0x80010033; /* PE MP ET NE WP PG */
	sr->cr3 = pml4_gpa;
	sr->cr4 = 0x620;  /* PAE OSFXSR OSXMMEXCPT */
	sr->efer = 0x500; /* LME LMA */

	memset(r, 0, sizeof(*r));
	r->rip = entry;
	r->rsp = stack_gpa + VMM_GUEST_STACK_SIZE;
	r->rdi = info_gpa;
	r->rflags = 0x2;
}

static bool seg_eq(const struct vmm_segment *a, const struct vmm_segment *b)
{
	return a->base == b->base && a->limit == b->limit && a->selector == b->selector &&
	       a->type == b->type && a->present == b->present && a->dpl == b->dpl &&
	       a->db == b->db && a->s == b->s && a->l == b->l && a->g == b->g;
}

/* Page tables, but for the accessed and dirty bits: emu's CPU sets them loading the selectors. */
static bool tables_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t x, y;

		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if ((x ^ y) & ~0x60ull)
			return false;
	}
	return true;
}

int bench_boot_check(char *msg, size_t len)
{
	struct vmm_vm_options opts;
	struct vmm_sregs want_s, got_s;
	struct vmm_regs want_r, got_r;
	struct vmm_vm *vm = NULL;
	struct vmm_vcpu *vcpu;
	uint8_t *ram = NULL, *mine;
	uint64_t base = BENCH_RAM_SIZE - AREA_SIZE;
	int ret = -1;

	mine =
	    mmap(NULL, BENCH_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mine == MAP_FAILED) {
		snprintf(msg, len, "mmap failed");
		return -1;
	}
	bench_boot_write(mine, BENCH_RAM_SIZE, BENCH_ENTRY, &want_s, &want_r);
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	if (vmm_vm_create(&opts, &vm) ||
	    vmm_memslot_alloc(vm, "ram", 0, BENCH_RAM_SIZE, (void **)&ram) ||
	    bench_add_nulldev(vm, "dev", VMM_SPACE_MMIO, BENCH_DEV_BASE, BENCH_DEV_LEN, false) ||
	    vmm_vcpu_create(vm, 0, &vcpu) || vmm_boot_setup(vm, BENCH_ENTRY) ||
	    vmm_vcpu_get_sregs(vcpu, &got_s) || vmm_vcpu_get_regs(vcpu, &got_r)) {
		snprintf(msg, len, "libvmm: %s", vmm_last_error());
		goto out;
	}
	/* emu reports hidden segment parts from the selectors; TR and the tables it keeps. */
	if (!seg_eq(&got_s.cs, &want_s.cs) || !seg_eq(&got_s.ss, &want_s.ss) ||
	    !seg_eq(&got_s.tr, &want_s.tr) || got_s.gdt.base != want_s.gdt.base ||
	    got_s.gdt.limit != want_s.gdt.limit || got_s.cr0 != want_s.cr0 ||
	    got_s.cr3 != want_s.cr3 || got_s.cr4 != want_s.cr4 || got_s.efer != want_s.efer)
		snprintf(msg, len, "system registers (cr0 %#llx cr3 %#llx cr4 %#llx efer %#llx)",
			 (unsigned long long)got_s.cr0, (unsigned long long)got_s.cr3,
			 (unsigned long long)got_s.cr4, (unsigned long long)got_s.efer);
	else if (got_r.rip != want_r.rip || got_r.rsp != want_r.rsp || got_r.rdi != want_r.rdi ||
		 got_r.rflags != want_r.rflags)
		snprintf(msg, len, "registers (rsp %#llx rdi %#llx)", (unsigned long long)got_r.rsp,
			 (unsigned long long)got_r.rdi);
	else if (memcmp(ram + base, mine + base, PAGE))
		snprintf(msg, len, "GDT or TSS");
	else if (!tables_equal(ram + base + PAGE, mine + base + PAGE, (2 + NPD) * PAGE))
		snprintf(msg, len, "page tables");
	else {
		snprintf(msg, len,
			 "bench_boot_write() gives what vmm_boot_setup() gives"
			 " (registers, GDT, TSS, page tables)");
		ret = 0;
	}
out:
	vmm_vm_destroy(vm);
	munmap(mine, BENCH_RAM_SIZE);
	return ret;
}
