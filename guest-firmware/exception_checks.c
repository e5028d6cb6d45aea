/* SPDX-License-Identifier: MIT */
/* exception_checks.c - CPU exceptions through the IDT: #UD, #DE on an IST stack, #BP, #PF. */
#include "fw.h"

#define RFLAGS_IF (1ull << 9)
#define EFER_MSR  0xc0000080u
#define EFER_NXE  (1ull << 11)

#define PTE_P	    (1ull << 0)
#define PTE_RW	    (1ull << 1)
#define PTE_US	    (1ull << 2)
#define PTE_PWT	    (1ull << 3)
#define PTE_PCD	    (1ull << 4)
#define PTE_PS	    (1ull << 7)
#define PTE_ADDR    0x000ffffffffff000ull
#define PDE_2M_ADDR 0x000fffffffe00000ull
#define PF_ERR_P    (1ull << 0)
#define PF_ERR_W    (1ull << 1)
#define PF_ERR_I    (1ull << 4)
#define TSS_IST1    0x24u /* offset of IST1 in the 64-bit TSS */
#define IST_SIZE    4096u
#define PF_MAGIC_RD 0x5041474546415554ull
#define PF_MAGIC_WR 0x0123456789abcdefull
#define PF_MAGIC_RO 0xfedcba9876543210ull
#define PF_RET_OFF  64u /* where pf_page holds a `ret` for the fetch check */

/*
 * What the handler saw of the latest exception. A check clears it, sets
 * what it expects, and runs the faulting instruction in inline asm that
 * stores the RIP and RSP of the fault (labels, not guesses at instruction
 * lengths) and where to resume.
 */
static volatile struct {
	uint32_t count;
	uint64_t vector, error, rip, cs, rflags, rsp, ss, cr2;
	uint64_t frame;		 /* the frame's address: on the stack the CPU chose */
	uint64_t frame_end;	 /* one past the CPU's pushes: where its stack started */
	uint64_t handler_rflags; /* RFLAGS inside the handler: IF shows the gate type */
} seen;
static uint64_t want_rip, want_rsp, resume_rip, flags_after;

static uint8_t ist_stack[IST_SIZE] __attribute__((aligned(16)));

/* #PF: a page of our own .bss, mapped by a 4 KiB page table that replaces its 2 MiB page. */
static uint8_t pf_page[4096] __attribute__((aligned(4096)));
static uint64_t pf_pt[512] __attribute__((aligned(4096)));
static uint64_t *pf_pde, pf_pde_old;
static volatile uint64_t *pf_pte;
static volatile int pf_armed;

static uint64_t read_rflags(void)
{
	uint64_t v;

	__asm__ volatile("pushfq; popq %0" : "=r"(v));
	return v;
}

static uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static void on_exception(struct irq_frame *f)
{
	seen.count++;
	seen.vector = f->vector;
	seen.error = f->error;
	seen.rip = f->rip;
	seen.cs = f->cs;
	seen.rflags = f->rflags;
	seen.rsp = f->rsp;
	seen.ss = f->ss;
	seen.frame = (uint64_t)(uintptr_t)f;
	seen.frame_end = (uint64_t)(uintptr_t)(&f->ss + 1);
	seen.handler_rflags = read_rflags();
	if (f->vector == 14) {
		seen.cr2 = read_cr2();
		/* Map the page (present, writable) and retry; anything else would fault forever. */
		if (!pf_armed || seen.count > 1) {
			vmm_guest_printf(
			    "selftest error: unexpected #PF at rip 0x%llx, cr2 0x%llx\n",
			    (unsigned long long)f->rip, (unsigned long long)seen.cr2);
			vmm_guest_halt();
		}
		*pf_pte |= PTE_P | PTE_RW;
		invlpg((uint64_t)(uintptr_t)pf_page);
	}
	if (resume_rip)
		f->rip = resume_rip;
}

static void arm(void)
{
	memset((void *)&seen, 0, sizeof(seen));
	want_rip = want_rsp = resume_rip = flags_after = 0;
}

/* What every exception frame must hold: FRAME_N entries; the stack it lies on is the caller's. */
#define FRAME_N 8
static void frame_expect(struct expect *e, uint64_t vector, uint64_t error, int if_pushed)
{
	e[0] = (struct expect){"the handler ran once", seen.count, 1};
	e[1] = (struct expect){"vector", seen.vector, vector};
	e[2] = (struct expect){"error code", seen.error, error};
	e[3] = (struct expect){"pushed RIP", seen.rip, want_rip};
	e[4] = (struct expect){"pushed CS", seen.cs, VMM_GUEST_SEL_CODE};
	e[5] = (struct expect){"pushed SS", seen.ss, VMM_GUEST_SEL_DATA};
	e[6] = (struct expect){"pushed RSP", seen.rsp, want_rsp};
	e[7] =
	    (struct expect){"pushed RFLAGS.IF", seen.rflags & RFLAGS_IF, if_pushed ? RFLAGS_IF : 0};
}

static void check_ud(void)
{
	arm();
	/* IF on across the fault: the interrupt gate must clear it and iretq restore it. */
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, %[rip]\n\t"
			 "leaq 2f(%%rip), %%r11\n\t"
			 "movq %%r11, %[resume]\n\t"
			 "sti\n\t"
			 "movq %%rsp, %[rsp]\n"
			 "1:\tud2\n"
			 "2:\tpushfq\n\t"
			 "popq %[after]\n\t"
			 "cli"
			 : [rip] "=m"(want_rip), [resume] "=m"(resume_rip), [rsp] "=m"(want_rsp),
			   [after] "=m"(flags_after)
			 :
			 : "r11", "memory");

	struct expect frame[FRAME_N + 1];

	frame_expect(frame, 6, 0, 1);
	/* In 64-bit mode the CPU aligns RSP down to 16 bytes before its pushes. */
	frame[FRAME_N] = (struct expect){"frame on the interrupted stack, 16-byte aligned",
					 seen.frame_end, want_rsp & ~15ull};
	const struct expect gate[] = {
	    {"IF in the handler", seen.handler_rflags & RFLAGS_IF, 0},
	    {"IF after iretq", flags_after & RFLAGS_IF, RFLAGS_IF},
	};

	expect_all(frame, ARRAY_SIZE(frame),
		   "#UD: ud2 reaches vector 6 with the RIP, CS, SS, RFLAGS and RSP of the fault");
	expect_all(gate, ARRAY_SIZE(gate),
		   "#UD: the interrupt gate clears IF, iretq resumes after ud2 with IF set");
}

/* The TSS the boot GDT's TSS descriptor points at (shared by all vCPUs; only vCPU 0 uses IST 1). */
static uint64_t tss_base(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} gdtr;
	const uint8_t *d;
	uint32_t hi;

	__asm__ volatile("sgdt %0" : "=m"(gdtr));
	d = (const uint8_t *)(uintptr_t)(gdtr.base + VMM_GUEST_SEL_TSS);
	memcpy(&hi, d + 8, sizeof(hi));
	return (uint64_t)d[2] | (uint64_t)d[3] << 8 | (uint64_t)d[4] << 16 | (uint64_t)d[7] << 24 |
	       (uint64_t)hi << 32;
}

static void check_de(void)
{
	uint64_t top = (uint64_t)(uintptr_t)(ist_stack + IST_SIZE);

	memcpy((void *)(uintptr_t)(tss_base() + TSS_IST1), &top, sizeof(top));
	arm();
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, %[rip]\n\t"
			 "leaq 2f(%%rip), %%r11\n\t"
			 "movq %%r11, %[resume]\n\t"
			 "xorl %%edx, %%edx\n\t"
			 "movl $1, %%eax\n\t"
			 "xorl %%ecx, %%ecx\n\t"
			 "movq %%rsp, %[rsp]\n"
			 "1:\tdivl %%ecx\n"
			 "2:"
			 : [rip] "=m"(want_rip), [resume] "=m"(resume_rip), [rsp] "=m"(want_rsp)
			 :
			 : "rax", "rcx", "rdx", "r11", "memory");

	struct expect frame[FRAME_N];

	frame_expect(frame, 0, 0, 0);
	const struct expect ist[] = {
	    {"the CPU's pushes end at the IST 1 stack's top", seen.frame_end, top},
	    {"the handler's frame lies in the IST 1 stack",
	     seen.frame >= (uint64_t)(uintptr_t)ist_stack && seen.frame < top, 1},
	};

	expect_all(frame, ARRAY_SIZE(frame),
		   "#DE: div by zero reaches vector 0 at the div; the handler skips it, the guest "
		   "resumes");
	expect_all(ist, ARRAY_SIZE(ist),
		   "#DE: its gate's IST 1 stack holds the frame, which keeps the interrupted RSP");
}

static void check_bp(void)
{
	arm();
	/* A trap: the pushed RIP is past int3, and the trap gate leaves IF as it was (set). */
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, %[rip]\n\t"
			 "sti\n\t"
			 "movq %%rsp, %[rsp]\n\t"
			 "int3\n"
			 "1:\tpushfq\n\t"
			 "popq %[after]\n\t"
			 "cli"
			 : [rip] "=m"(want_rip), [rsp] "=m"(want_rsp), [after] "=m"(flags_after)
			 :
			 : "r11", "memory");

	struct expect e[FRAME_N + 2];

	frame_expect(e, 3, 0, 1);
	e[FRAME_N] = (struct expect){"IF in the trap gate's handler",
				     seen.handler_rflags & RFLAGS_IF, RFLAGS_IF};
	e[FRAME_N + 1] = (struct expect){"IF after iretq", flags_after & RFLAGS_IF, RFLAGS_IF};

	expect_all(e, ARRAY_SIZE(e),
		   "#BP: int3 traps to vector 3 with RIP after it; the trap gate keeps IF set");
}

/*
 * Replace the 2 MiB page that maps pf_page with a page table of 4 KiB pages
 * mapping the same frames with the same rights, so that one 4 KiB page can
 * be unmapped. The walk follows CR3 into the boot area; boot_checks() has
 * checked those tables before we get here.
 */
static int pf_setup(void)
{
	uint64_t va = (uint64_t)(uintptr_t)pf_page, e, base;
	const uint64_t *t = (const uint64_t *)(uintptr_t)(read_cr3() & PTE_ADDR);

	e = t[(va >> 39) & 511];
	if (!(e & PTE_P))
		return 0;
	t = (const uint64_t *)(uintptr_t)(e & PTE_ADDR);
	e = t[(va >> 30) & 511];
	if (!(e & PTE_P) || (e & PTE_PS))
		return 0;
	pf_pde = (uint64_t *)(uintptr_t)(e & PTE_ADDR) + ((va >> 21) & 511);
	pf_pde_old = *pf_pde;
	if ((pf_pde_old & (PTE_P | PTE_PS)) != (PTE_P | PTE_PS))
		return 0;
	base = pf_pde_old & PDE_2M_ADDR;
	for (unsigned i = 0; i < 512; i++)
		pf_pt[i] = (base + i * 4096ull) |
			   (pf_pde_old & (PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD));
	pf_pte = &pf_pt[(va >> 12) & 511];
	/* Same frames, same rights: only the page size changes, which a CR3 reload flushes. */
	*pf_pde = (uint64_t)(uintptr_t)pf_pt | PTE_P | PTE_RW | (pf_pde_old & PTE_US);
	write_cr3(read_cr3());
	return 1;
}

static void pf_teardown(void)
{
	*pf_pde = pf_pde_old;
	write_cr3(read_cr3());
}

/* Take away rights from pf_page's PTE (clear is PTE_P and/or PTE_RW) and forget the old ones. */
static void pf_revoke(uint64_t clear)
{
	*pf_pte &= ~clear;
	invlpg((uint64_t)(uintptr_t)pf_page);
	arm();
	pf_armed = 1;
}

static void pf_report(uint64_t addr, uint64_t err, uint64_t got, uint64_t want, const char *line)
{
	struct expect e[FRAME_N + 2];

	frame_expect(e, 14, err, 0);
	e[FRAME_N] = (struct expect){"CR2", seen.cr2, addr};
	e[FRAME_N + 1] = (struct expect){"the access completed once mapped", got, want};

	pf_armed = 0;
	expect_all(e, ARRAY_SIZE(e), line);
}

static int cpu_has_nx(void)
{
	uint32_t a = 0x80000000u, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	if (a < 0x80000001u)
		return 0;
	a = 0x80000001u;
	c = 0;
	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (d >> 20) & 1;
}

static void check_pf(void)
{
	uint64_t *q = (uint64_t *)pf_page;
	uint64_t p = (uint64_t)(uintptr_t)pf_page, v = 0;

	if (!pf_setup()) {
		for (int i = 0; i < 4; i++)
			skip("the boot page tables are not as guest.h says", "#PF check %d of 4",
			     i + 1);
		return;
	}

	/* A read of a page that is not present: error code 0 (not P, a read, supervisor). */
	q[0] = PF_MAGIC_RD;
	pf_revoke(PTE_P);
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, %[rip]\n\t"
			 "movq %%rsp, %[rsp]\n"
			 "1:\tmovq (%[p]), %[v]"
			 : [rip] "=m"(want_rip), [rsp] "=m"(want_rsp), [v] "=r"(v)
			 : [p] "r"(p)
			 : "r11", "memory");
	pf_report(p, 0, v, PF_MAGIC_RD,
		  "#PF: a read of an unmapped page gives CR2 and error code 0; mapped, it resumes");

	/* A write to a page that is not present: W. */
	pf_revoke(PTE_P);
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, %[rip]\n\t"
			 "movq %%rsp, %[rsp]\n"
			 "1:\tmovq %[v], 8(%[p])"
			 : [rip] "=m"(want_rip), [rsp] "=m"(want_rsp)
			 : [p] "r"(p), [v] "r"(PF_MAGIC_WR)
			 : "r11", "memory");
	pf_report(p + 8, PF_ERR_W, q[1], PF_MAGIC_WR,
		  "#PF: a write to an unmapped page gives error code W; mapped, it resumes");

	/* A write to a present read-only page (CR0.WP is set): P and W. */
	pf_revoke(PTE_RW);
	__asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
			 "movq %%r11, %[rip]\n\t"
			 "movq %%rsp, %[rsp]\n"
			 "1:\tmovq %[v], 16(%[p])"
			 : [rip] "=m"(want_rip), [rsp] "=m"(want_rsp)
			 : [p] "r"(p), [v] "r"(PF_MAGIC_RO)
			 : "r11", "memory");
	pf_report(
	    p + 16, PF_ERR_P | PF_ERR_W, q[2], PF_MAGIC_RO,
	    "#PF: a write to a read-only page gives error code P|W; made writable, it resumes");

	/*
	 * An instruction fetch from a page that is not present. The CPU sets I
	 * in the error code only with EFER.NXE (or SMEP) on (SDM 4.7), which
	 * needs CPUID's NX; without it a fetch reports 0, like a read. Either
	 * way the line is the same, so backends with and without NX agree. The
	 * call has pushed its return address when the fetch faults; once
	 * mapped, the `ret` there runs.
	 */
	{
		uint64_t efer = rdmsr(EFER_MSR), target = p + PF_RET_OFF, ret = 0;
		int nx = cpu_has_nx();

		pf_page[PF_RET_OFF] = 0xc3; /* ret */
		if (nx)
			wrmsr(EFER_MSR, efer | EFER_NXE);
		pf_revoke(PTE_P);
		__asm__ volatile("movq %[t], %[rip]\n\t"
				 "leaq -8(%%rsp), %%r11\n\t"
				 "movq %%r11, %[rsp]\n\t"
				 "call *%[t]\n\t"
				 "movl $1, %k[ret]"
				 : [rip] "=m"(want_rip), [rsp] "=m"(want_rsp), [ret] "+r"(ret)
				 : [t] "r"(target)
				 : "r11", "memory");
		if (nx)
			wrmsr(EFER_MSR, efer);
		pf_report(
		    target, nx ? PF_ERR_I : 0, ret, 1,
		    "#PF: a fetch from an unmapped page faults there (I if EFER.NXE); mapped, "
		    "it runs");
	}
	pf_teardown();
}

void exception_checks(const struct vmm_guest_boot_info *bi)
{
	(void)bi;
	idt_set(0, on_exception, 1); /* IST 1 */
	idt_set(3, on_exception, IDT_TRAP);
	idt_set(6, on_exception, 0);
	idt_set(14, on_exception, 0);
	idt_load();

	check_ud();
	check_de();
	check_bp();
	check_pf();

	/* From here on these vectors are unexpected again: their stubs report and park. */
	idt_set(0, NULL, 0);
	idt_set(3, NULL, 0);
	idt_set(6, NULL, 0);
	idt_set(14, NULL, 0);
}
