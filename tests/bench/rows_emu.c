/* SPDX-License-Identifier: MIT */
/* rows_emu.c - emu rows: libvmm's emu backend against a bare Unicorn engine, same guest bytes. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <unicorn/unicorn.h>

#include "bench.h"

/*
 * The baseline is what a program using Unicorn directly would write: one
 * engine, guest RAM mapped with uc_mem_map_ptr(), the device page with
 * uc_mmio_map() (or an OUT instruction hook for ports), and a callback that
 * handles the access inline. It boots the guest in the state of guest.h
 * (long mode, paging on, the same page tables), so it pays for the same
 * address translation as the libvmm guest.
 */
struct bare {
	uc_engine *uc;
	uint8_t *ram;
	uint64_t ram_size;
	struct vmm_regs regs0;
	uc_hook hook;
	uint64_t sink;	     /* what the guest stored: the callbacks must do something */
	unsigned long calls; /* device callbacks */
	unsigned long ops;   /* what one run does */
};

/* ---- state: what backend/emu_x86_64.c's set_sregs/set_regs do, in the same order ---- */

static uc_x86_mmr mmr_from_seg(const struct vmm_segment *s)
{
	return (uc_x86_mmr){
	    .selector = s->selector,
	    .base = s->base,
	    .limit = s->limit,
	    .flags = ((uint32_t)(s->type & 0xf) << 8) | (s->s ? 1u << 12 : 0) |
		     ((uint32_t)(s->dpl & 3) << 13) | (s->present ? 1u << 15 : 0) |
		     (s->avl ? 1u << 20 : 0) | (s->l ? 1u << 21 : 0) | (s->db ? 1u << 22 : 0) |
		     (s->g ? 1u << 23 : 0),
	};
}

static uc_err bare_set_sregs(uc_engine *uc, const struct vmm_sregs *s)
{
	const struct {
		int id;
		uint16_t sel;
	} segs[] = {
	    {UC_X86_REG_CS, s->cs.selector}, {UC_X86_REG_SS, s->ss.selector},
	    {UC_X86_REG_DS, s->ds.selector}, {UC_X86_REG_ES, s->es.selector},
	    {UC_X86_REG_FS, s->fs.selector}, {UC_X86_REG_GS, s->gs.selector},
	};
	uc_x86_msr efer = {.rid = 0xc0000080u, .value = s->efer};
	uc_x86_mmr mmr;
	uc_err err;

	err = uc_reg_write(uc, UC_X86_REG_CR4, &s->cr4);
	if (!err)
		err = uc_reg_write(uc, UC_X86_REG_MSR, &efer);
	if (!err)
		err = uc_reg_write(uc, UC_X86_REG_CR3, &s->cr3);
	if (!err)
		err = uc_reg_write(uc, UC_X86_REG_CR0, &s->cr0);
	if (!err) {
		mmr = (uc_x86_mmr){.base = s->gdt.base, .limit = s->gdt.limit};
		err = uc_reg_write(uc, UC_X86_REG_GDTR, &mmr);
	}
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]) && !err; i++) {
		uint64_t sel = segs[i].sel;

		err = uc_reg_write(uc, segs[i].id, &sel);
	}
	if (!err) {
		mmr = mmr_from_seg(&s->tr);
		err = uc_reg_write(uc, UC_X86_REG_TR, &mmr);
	}
	return err;
}

static uc_err bare_set_regs(uc_engine *uc, const struct vmm_regs *r)
{
	int ids[] = {
	    UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX,    UC_X86_REG_RDX, UC_X86_REG_RSI,
	    UC_X86_REG_RDI, UC_X86_REG_RSP, UC_X86_REG_RBP,    UC_X86_REG_R8,  UC_X86_REG_R9,
	    UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12,    UC_X86_REG_R13, UC_X86_REG_R14,
	    UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS,
	};
	struct vmm_regs copy = *r;
	uint64_t *f[] = {
	    &copy.rax, &copy.rbx, &copy.rcx, &copy.rdx, &copy.rsi, &copy.rdi,
	    &copy.rsp, &copy.rbp, &copy.r8,  &copy.r9,	&copy.r10, &copy.r11,
	    &copy.r12, &copy.r13, &copy.r14, &copy.r15, &copy.rip, &copy.rflags,
	};

	return uc_reg_write_batch(uc, ids, (void *const *)f, 18);
}

/* ---- the no-op device, inline ---- */

static uint64_t bare_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *opaque)
{
	struct bare *b = opaque;

	b->calls++;
	return 0;
}

static void bare_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value,
			    void *opaque)
{
	struct bare *b = opaque;

	b->calls++;
	b->sink += value;
}

static void bare_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *opaque)
{
	struct bare *b = opaque;

	b->calls++;
	b->sink += value;
}

/* ---- one bare engine ---- */

static void bare_close(struct bare *b)
{
	if (b->uc)
		uc_close(b->uc);
	if (b->ram && b->ram != MAP_FAILED)
		munmap(b->ram, b->ram_size);
	memset(b, 0, sizeof(*b));
}

/* RAM at 0 with the boot state and code, and the no-op device at devs' windows. */
static int bare_open(struct bare *b, uint64_t ram_size, unsigned devs, const uint8_t *code,
		     size_t len, unsigned long ops, char *why, size_t whylen)
{
	struct vmm_sregs sr;
	uc_err err;

	memset(b, 0, sizeof(*b));
	b->ops = ops;
	b->ram_size = ram_size;
	b->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->ram == MAP_FAILED) {
		snprintf(why, whylen, "bare Unicorn: cannot allocate RAM: %s", strerror(errno));
		b->ram = NULL;
		return -ENOMEM;
	}
	bench_boot_write(b->ram, ram_size, BENCH_ENTRY, &sr, &b->regs0);
	memcpy(b->ram + BENCH_ENTRY, code, len);
	err = uc_open(UC_ARCH_X86, UC_MODE_64, &b->uc);
	if (!err)
		err = uc_mem_map_ptr(b->uc, 0, ram_size, UC_PROT_ALL, b->ram);
	if (!err && (devs & BENCH_DEV_MMIO))
		err = uc_mmio_map(b->uc, BENCH_DEV_BASE, BENCH_DEV_LEN, bare_mmio_read, b,
				  bare_mmio_write, b);
	if (!err && (devs & BENCH_DEV_PIO))
		err = uc_hook_add(b->uc, &b->hook, UC_HOOK_INSN, (void *)bare_out, b, 1, 0,
				  UC_X86_INS_OUT);
	if (!err)
		err = bare_set_sregs(b->uc, &sr);
	if (!err)
		err = bare_set_regs(b->uc, &b->regs0);
	if (err) {
		snprintf(why, whylen, "bare Unicorn: %s", uc_strerror(err));
		bare_close(b);
		return -EINVAL;
	}
	return 0;
}

/* A sample: reset the registers, run to the guest's hlt. */
static long bare_sample(void *ctx)
{
	struct bare *b = ctx;
	uc_err err;

	err = bare_set_regs(b->uc, &b->regs0);
	if (!err)
		err = uc_emu_start(b->uc, b->regs0.rip, 0, 0, 0);
	if (err)
		return bench_sample_error(-EIO, "bare Unicorn: %s", uc_strerror(err));
	return (long)b->ops;
}

/* ---- rows ---- */

/* After the samples: did each side make every exit it was timed for? */
static void check_exits(struct bench_row *row, const struct bench_vm *v, const struct bare *b,
			bool pio)
{
	unsigned long want = (row->samples + 1) * row->ops;
	struct vmm_vm_stats st = VMM_VM_STATS_INIT;

	if (row->status != BENCH_RAN)
		return;
	if (vmm_vm_get_stats(v->vm, &st) == 0 && (pio ? st.pio_exits : st.mmio_exits) != want)
		bench_fail(row, "libvmm made %llu exits, not %lu",
			   (unsigned long long)(pio ? st.pio_exits : st.mmio_exits), want);
	else if (b->calls != want)
		bench_fail(row, "bare Unicorn made %lu device calls, not %lu", b->calls, want);
}

static void exit_row(struct bench_row *row, bool pio, bool wide)
{
	/* Many exits per run: a run itself costs about 100 us (README), kept out of the figure. */
	unsigned long n = bench_opts.quick ? 100 : 100000;
	uint8_t code[BENCH_CODE_MAX];
	size_t len = pio ? bench_code_pio(code, BENCH_PORT, (uint32_t)n)
			 : bench_code_mmio(code, BENCH_DEV_BASE, (uint32_t)n);
	unsigned devs = pio ? BENCH_DEV_PIO : wide ? BENCH_DEV_MMIO8 : BENCH_DEV_MMIO;
	struct bench_vm v;
	struct bare b;
	char why[160];
	int ret;

	ret = bench_vm_open(&v, VMM_ACCEL_EMU, devs, code, len, n);
	if (ret < 0) {
		bench_fail(row, "libvmm: %s", vmm_last_error());
		return;
	}
	if (bare_open(&b, BENCH_RAM_SIZE, pio ? BENCH_DEV_PIO : BENCH_DEV_MMIO, code, len, n, why,
		      sizeof(why)) < 0) {
		bench_fail(row, "%s", why);
		bench_vm_close(&v);
		return;
	}
	if (bench_compare(row, bench_samples(31), bench_vm_sample, &v, bare_sample, &b) == 0)
		check_exits(row, &v, &b, pio);
	bench_note(row, "%s%lu exits per sample; no-op device: the plugin (dlopen%s) vs %s.",
		   pio ? "guest `out dx, eax` loop, " : "guest `mov [rax], ecx` loop, ", n,
		   wide ? ", taking 8-byte accesses: its window is under a memory hook" : "",
		   pio ? "a UC_HOOK_INSN OUT callback" : "a uc_mmio_map() callback");
	bare_close(&b);
	bench_vm_close(&v);
}

void bench_row_mmio_emu(struct bench_row *row)
{
	exit_row(row, false, false);
}

void bench_row_mmio8_emu(struct bench_row *row)
{
	exit_row(row, false, true);
}

void bench_row_pio_emu(struct bench_row *row)
{
	exit_row(row, true, false);
}

/* ---- lifecycle: build, boot, run to hlt, tear down ---- */

static long bare_lifecycle(void *ctx)
{
	uint8_t code[BENCH_CODE_MAX];
	size_t len = bench_code_hlt(code);
	char why[160];
	struct bare b;
	long ret;

	if (bare_open(&b, BENCH_VM_RAM_SIZE, 0, code, len, 1, why, sizeof(why)) < 0)
		return bench_sample_error(-EIO, "%s", why);
	ret = bare_sample(&b);
	bare_close(&b);
	return ret;
}

void bench_row_lifecycle_emu(struct bench_row *row)
{
	enum vmm_accel accel = VMM_ACCEL_EMU;

	bench_compare(row, bench_samples(21), bench_vmm_lifecycle, &accel, bare_lifecycle, NULL);
	bench_note(row, "64 MiB slot, 1 vCPU, guest.h boot state, run to the first hlt, destroy;"
			" baseline: uc_open, uc_mem_map_ptr, the same page tables and registers,"
			" uc_emu_start, uc_close.");
}

/* ---- compute: a guest that never exits ---- */

static void compute_row(struct bench_row *row, unsigned devs)
{
	unsigned long n = bench_opts.quick ? 1000 : 2000000;
	uint8_t code[BENCH_CODE_MAX];
	size_t len = bench_code_compute(code, (uint32_t)n);
	struct bench_vm v;
	struct bare b;
	char why[160];

	if (bench_vm_open(&v, VMM_ACCEL_EMU, devs, code, len, n) < 0) {
		bench_fail(row, "libvmm: %s", vmm_last_error());
		return;
	}
	if (bare_open(&b, BENCH_RAM_SIZE, 0, code, len, n, why, sizeof(why)) < 0) {
		bench_fail(row, "%s", why);
		bench_vm_close(&v);
		return;
	}
	bench_compare(row, bench_samples(21), bench_vm_sample, &v, bare_sample, &b);
	if (row->status == BENCH_RAN && memcmp(v.ram + BENCH_BUF, b.ram + BENCH_BUF, 0x10000) != 0)
		bench_fail(row, "the two guests computed different buffers");
	bench_note(row,
		   "%lu rounds per sample of xorshift64 and a read-modify-write of a"
		   " 64 KiB buffer (14 instructions); the libvmm VM has %s, the bare engine"
		   " no device.",
		   n,
		   devs & BENCH_DEV_MMIO8 ? "the MMIO window of a device taking 8-byte accesses"
					    " (a memory hook on emu)"
					  : "the no-op device's MMIO window");
	bare_close(&b);
	bench_vm_close(&v);
}

/* A VM as VMs are: with a device (a 4-byte one costs guest memory accesses nothing on emu). */
void bench_row_compute_emu(struct bench_row *row)
{
	compute_row(row, BENCH_DEV_MMIO);
}

/* With a device that takes 8-byte accesses: its memory hook slows every guest load and store. */
void bench_row_compute8_emu(struct bench_row *row)
{
	compute_row(row, BENCH_DEV_MMIO8);
}

/* ---- layout change: a window added and removed while a vCPU exists ---- */

struct layout_ctx {
	struct bench_vm v;
	uint64_t base, len;
};

static long vmm_layout_sample(void *ctx)
{
	struct layout_ctx *l = ctx;
	struct vmm_device *dev;
	int ret;
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "null-layout",
	    .space = VMM_SPACE_MMIO,
	    .base = l->base,
	    .length = l->len,
	};

	ret = vmm_device_add_plugin(l->v.vm, bench_opts.plugin8, &cfg, &dev);
	if (ret < 0)
		return bench_sample_error(ret, "vmm_device_add: %s", vmm_last_error());
	ret = vmm_device_remove(dev);
	if (ret < 0)
		return bench_sample_error(ret, "vmm_device_remove: %s", vmm_last_error());
	return 1;
}

/* What the change needs in a bare engine that has run: the page mapped and hooked, then gone. */
static long bare_layout_sample(void *ctx)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct bare *b = ctx;
	uc_hook h;
	uc_err err;

	err = uc_mem_map_ptr(b->uc, 4ull << 30, sizeof(page), UC_PROT_READ | UC_PROT_WRITE, page);
	if (!err)
		err = uc_hook_add(b->uc, &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
				  (void *)bare_mmio_write, b, 4ull << 30,
				  (4ull << 30) + sizeof(page) - 1);
	if (!err)
		err = uc_hook_del(b->uc, h);
	if (!err)
		err = uc_mem_unmap(b->uc, 4ull << 30, sizeof(page));
	if (err)
		return bench_sample_error(-EIO, "bare Unicorn: %s", uc_strerror(err));
	return 1;
}

void bench_row_layout_emu(struct bench_row *row)
{
	static const struct {
		uint64_t base, len;
		const char *what;
	} more[] = {
	    {0xfebf0000ull, 0x1000, "4 KiB at 0xfebf0000"},
	    {60ull << 30, 0x1000, "4 KiB at 60 GiB"},
	    {4ull << 30, 64ull << 30, "64 GiB at 4 GiB"},
	};
	uint8_t code[BENCH_CODE_MAX];
	size_t len = bench_code_hlt(code);
	struct layout_ctx l;
	struct bare b;
	char why[160];

	if (bench_vm_open(&l.v, VMM_ACCEL_EMU, 0, code, len, 1) < 0 || bench_vm_sample(&l.v) < 0) {
		bench_fail(row, "libvmm: %s", vmm_last_error());
		bench_vm_close(&l.v);
		return;
	}
	if (bare_open(&b, BENCH_RAM_SIZE, 0, code, len, 1, why, sizeof(why)) < 0 ||
	    bare_sample(&b) < 0) {
		bench_fail(row, "%s", why);
		bench_vm_close(&l.v);
		return;
	}
	l.base = 4ull << 30;
	l.len = 0x1000;
	bench_compare(row, bench_samples(11), vmm_layout_sample, &l, bare_layout_sample, &b);
	bench_note(row, "a 4 KiB window of a device taking 8-byte accesses added at 4 GiB and"
			" removed again, one vCPU that has run; baseline: uc_mem_map_ptr and a"
			" ranged memory hook of the page in a bare engine that has run, then"
			" uc_hook_del and uc_mem_unmap.");
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]) && row->status == BENCH_RAN; i++) {
		struct bench_row r = *row;

		/* Removing a 64 GiB window costs seconds on emu (its pages' TLB flush): not in
		 * --quick. */
		if (bench_opts.quick && more[i].len > (1ull << 30))
			continue;

		l.base = more[i].base;
		l.len = more[i].len;
		if (bench_compare(&r, bench_samples(5), vmm_layout_sample, &l, bare_layout_sample,
				  &b) < 0) {
			bench_fail(row, "%s: %s", more[i].what, r.reason);
			break;
		}
		bench_note(row, "%s: %.3g ms (%.3gx).", more[i].what, r.a_ns.median / 1e6, r.ratio);
	}
	bare_close(&b);
	bench_vm_close(&l.v);
}

/* ---- interrupts: an MSI to the guest's handler, LAPIC timer interrupts ---- */

/*
 * The guest idles in `sti; hlt` and counts interrupts in its handler: the
 * MSI handler (vector 0x40) EOIs, the timer's (0x41) EOIs and arms the
 * one-shot timer again with a count of 1 (1 ns). The baseline is what a
 * program on a bare engine writes for the same job: a vCPU thread that
 * runs the engine to its hlt, waits on a condition variable until the
 * host asks for an interrupt (MSI) or a deadline passes (timer), then runs
 * the handler's counting code and goes on. No IDT, no APIC: the row shows
 * what libvmm's delivery costs on top of the least a program must do.
 */
#define IRQ_IDT	  0x180000ull
#define IRQ_COUNT 0x300000ull

extern const uint8_t g_bench_irq[], g_bench_irq_end[], g_bench_irq_msi[], g_bench_irq_timer[],
    g_bench_irq_count[], g_bench_irq_count_end[], g_bench_irq_idle[];
__asm__(
    ".pushsection .rodata\n"
    ".globl g_bench_irq\ng_bench_irq:\n"
    "	mov $0xfee00000, %esi\n	movl $0x1ff, 0xf0(%rsi)\n"
    "	test %ebx, %ebx\n	jz 1f\n"
    "	movl $0xb, 0x3e0(%rsi)\n	movl $0x41, 0x320(%rsi)\n	movl $1, 0x380(%rsi)\n"
    "1:	movq $1, 0x300008\n" /* ready: the APIC takes messages */
    ".globl g_bench_irq_idle\ng_bench_irq_idle:\n	sti\n2:	hlt\n	jmp 2b\n"
    ".globl g_bench_irq_msi\ng_bench_irq_msi:\n"
    "	incq 0x300000\n	movl $0, 0xb0(%rsi)\n	iretq\n"
    ".globl g_bench_irq_timer\ng_bench_irq_timer:\n"
    "	incq 0x300000\n	movl $0, 0xb0(%rsi)\n	movl $1, 0x380(%rsi)\n	iretq\n"
    /* the baseline's handler: the count alone */
    ".globl g_bench_irq_count\ng_bench_irq_count:\n"
    "	incq 0x300000\n"
    ".globl g_bench_irq_count_end\ng_bench_irq_count_end:\n	hlt\n"
    ".globl g_bench_irq_end\ng_bench_irq_end:\n"
    ".popsection\n");

static volatile uint64_t *irq_count(uint8_t *ram)
{
	return (volatile uint64_t *)(void *)(ram + IRQ_COUNT);
}

/* Wait (spinning: the figure is latency) until the guest's count reaches want. */
static int irq_wait(uint8_t *ram, uint64_t want)
{
	for (unsigned long spins = 0; __atomic_load_n(irq_count(ram), __ATOMIC_ACQUIRE) < want;
	     spins++)
		if (spins > 4000000000ul)
			return -ETIMEDOUT;
	return 0;
}

struct irq_vmm {
	struct bench_vm v;
	pthread_t t;
	bool running;
	_Atomic bool run_failed;
	unsigned long n;
};

static void *irq_vmm_main(void *arg)
{
	struct irq_vmm *x = arg;
	struct vmm_exit ex = VMM_EXIT_INIT;

	if (vmm_vm_run(x->v.vm, &ex) < 0)
		x->run_failed = true;
	return NULL;
}

static int irq_vmm_open(struct irq_vmm *x, bool timer, unsigned long n)
{
	uint8_t code[BENCH_CODE_MAX];
	size_t len = bench_code_hlt(code);
	uint64_t h =
	    BENCH_ENTRY + (uint64_t)((timer ? g_bench_irq_timer : g_bench_irq_msi) - g_bench_irq);
	struct vmm_sregs sr;
	uint8_t *g;
	int ret;

	memset(x, 0, sizeof(*x));
	x->n = n;
	ret = bench_vm_open(&x->v, VMM_ACCEL_EMU, 0, code, len, n);
	if (ret < 0)
		return ret;
	memcpy(x->v.ram + BENCH_ENTRY, g_bench_irq, (size_t)(g_bench_irq_end - g_bench_irq));
	g = x->v.ram + IRQ_IDT + (timer ? 0x41 : 0x40) * 16;
	memset(g, 0, 16);
	g[0] = (uint8_t)h;
	g[1] = (uint8_t)(h >> 8);
	g[2] = 0x08;
	g[5] = 0x8e;
	g[6] = (uint8_t)(h >> 16);
	g[7] = (uint8_t)(h >> 24);
	ret = vmm_vcpu_get_sregs(x->v.vcpu, &sr);
	if (ret == 0) {
		sr.idt.base = IRQ_IDT;
		sr.idt.limit = 0xfff;
		ret = vmm_vcpu_set_sregs(x->v.vcpu, &sr);
	}
	x->v.regs0.rbx = timer;
	if (ret == 0)
		ret = vmm_vcpu_set_regs(x->v.vcpu, &x->v.regs0);
	if (ret == 0)
		ret = -pthread_create(&x->t, NULL, irq_vmm_main, x);
	x->running = ret == 0;
	/* Messages sent before the guest enables its APIC would be lost: wait for it. */
	if (ret == 0 && irq_wait(x->v.ram + 8, 1) < 0)
		ret = -ETIMEDOUT;
	return ret;
}

static void irq_vmm_close(struct irq_vmm *x)
{
	if (x->running) {
		vmm_vm_stop(x->v.vm, 0);
		pthread_join(x->t, NULL);
	}
	bench_vm_close(&x->v);
}

static long irq_vmm_msi_sample(void *ctx)
{
	struct irq_vmm *x = ctx;
	uint64_t c = *irq_count(x->v.ram);

	for (unsigned long i = 1; i <= x->n; i++) {
		int ret = vmm_msi_send(x->v.vm, 0xfee00000ull, 0x40);

		if (ret < 0)
			return bench_sample_error(ret, "vmm_msi_send: %s", vmm_last_error());
		if (irq_wait(x->v.ram, c + i) < 0)
			return bench_sample_error(-ETIMEDOUT, "the guest took no MSI");
	}
	return (long)x->n;
}

static long irq_vmm_timer_sample(void *ctx)
{
	struct irq_vmm *x = ctx;

	if (irq_wait(x->v.ram, *irq_count(x->v.ram) + x->n) < 0)
		return bench_sample_error(-ETIMEDOUT, "the guest took no timer interrupt");
	return (long)x->n;
}

/* The bare engine's vCPU thread: run to hlt, wait for an interrupt, run the counting code. */
struct irq_bare {
	struct bare b;
	pthread_t t;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, quit, timer;
	unsigned long pending;
	unsigned long n;
};

static uint64_t irq_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *irq_bare_main(void *arg)
{
	struct irq_bare *x = arg;
	uint64_t count = BENCH_ENTRY + (uint64_t)(g_bench_irq_count - g_bench_irq);
	uint64_t count_end = BENCH_ENTRY + (uint64_t)(g_bench_irq_count_end - g_bench_irq);
	/* The guest's idle loop (no APIC to set up): sti, hlt, jmp back to the hlt. */
	uint64_t rip = BENCH_ENTRY + (uint64_t)(g_bench_irq_idle - g_bench_irq);

	for (;;) {
		uint64_t deadline;

		if (uc_emu_start(x->b.uc, rip, 0, 0, 0))
			break;
		uc_reg_read(x->b.uc, UC_X86_REG_RIP, &rip);
		deadline = irq_now() + 1;
		pthread_mutex_lock(&x->lock);
		while (!x->quit && !x->timer && !x->pending)
			pthread_cond_wait(&x->cond, &x->lock);
		if (x->pending)
			x->pending--;
		pthread_mutex_unlock(&x->lock);
		if (x->quit)
			break;
		while (x->timer && irq_now() < deadline)
			;
		if (uc_emu_start(x->b.uc, count, count_end, 0, 0))
			break;
	}
	return NULL;
}

static int irq_bare_open(struct irq_bare *x, bool timer, unsigned long n, char *why, size_t len)
{
	int ret;

	memset(x, 0, sizeof(*x));
	x->n = n;
	x->timer = timer;
	ret = bare_open(&x->b, BENCH_RAM_SIZE, 0, g_bench_irq,
			(size_t)(g_bench_irq_end - g_bench_irq), n, why, len);
	if (ret < 0)
		return ret;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->cond, NULL);
	ret = -pthread_create(&x->t, NULL, irq_bare_main, x);
	x->running = ret == 0;
	return ret;
}

static void irq_bare_close(struct irq_bare *x)
{
	if (x->running) {
		pthread_mutex_lock(&x->lock);
		x->quit = true;
		x->timer = false;
		pthread_cond_signal(&x->cond);
		pthread_mutex_unlock(&x->lock);
		pthread_join(x->t, NULL);
	}
	pthread_mutex_destroy(&x->lock);
	pthread_cond_destroy(&x->cond);
	bare_close(&x->b);
}

static long irq_bare_msi_sample(void *ctx)
{
	struct irq_bare *x = ctx;
	uint64_t c = *irq_count(x->b.ram);

	for (unsigned long i = 1; i <= x->n; i++) {
		pthread_mutex_lock(&x->lock);
		x->pending++;
		pthread_cond_signal(&x->cond);
		pthread_mutex_unlock(&x->lock);
		if (irq_wait(x->b.ram, c + i) < 0)
			return bench_sample_error(-ETIMEDOUT, "bare Unicorn: no interrupt taken");
	}
	return (long)x->n;
}

static long irq_bare_timer_sample(void *ctx)
{
	struct irq_bare *x = ctx;

	if (irq_wait(x->b.ram, *irq_count(x->b.ram) + x->n) < 0)
		return bench_sample_error(-ETIMEDOUT, "bare Unicorn: no timer interrupt");
	return (long)x->n;
}

static void irq_row(struct bench_row *row, bool timer)
{
	unsigned long n = bench_opts.quick ? 20 : timer ? 20000 : 2000;
	struct irq_vmm v;
	struct irq_bare b;
	char why[160];

	if (irq_vmm_open(&v, timer, n) < 0) {
		bench_fail(row, "libvmm: %s", vmm_last_error());
		irq_vmm_close(&v);
		return;
	}
	if (irq_bare_open(&b, timer, n, why, sizeof(why)) < 0) {
		bench_fail(row, "%s", why);
		irq_vmm_close(&v);
		return;
	}
	bench_compare(row, bench_samples(15), timer ? irq_vmm_timer_sample : irq_vmm_msi_sample, &v,
		      timer ? irq_bare_timer_sample : irq_bare_msi_sample, &b);
	if (timer)
		bench_note(row,
			   "%lu interrupts per sample: the guest's handler EOIs and arms the"
			   " one-shot LAPIC timer again with a count of 1 (1 ns), the guest idles"
			   " in hlt; baseline: a bare engine's thread that runs to hlt, waits"
			   " for a 1 ns deadline on CLOCK_MONOTONIC and runs the counting code.",
			   n);
	else
		bench_note(row,
			   "%lu round trips per sample: vmm_msi_send() on the host thread until"
			   " the guest's IDT handler has counted it (the guest idles in hlt, the"
			   " handler EOIs); baseline: a bare engine's thread that runs to hlt,"
			   " waits on a condition variable the host signals, and runs the"
			   " counting code.",
			   n);
	irq_bare_close(&b);
	irq_vmm_close(&v);
}

void bench_row_msi_emu(struct bench_row *row)
{
	irq_row(row, false);
}

void bench_row_timer_emu(struct bench_row *row)
{
	irq_row(row, true);
}
