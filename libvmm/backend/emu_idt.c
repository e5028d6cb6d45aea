/* SPDX-License-Identifier: MIT */
/* emu_idt.c - the emu backend's CPU events: exceptions and interrupts through the guest's IDT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

/*
 * Unicorn 2.0.1 calls the UC_HOOK_INTR hook with the vector of every x86
 * exception and INT n, and then never delivers it: the hook's caller is
 * the only one who can. Delivery is therefore done here, in software, as a
 * long-mode CPU does it (Intel SDM vol. 3, 6.14), between two runs of the
 * engine, where the register state is exact.
 *
 * Two things delivery needs are hidden in QEMU's CPU state, which
 * uc_context_save() copies byte for byte: env->error_code (the exception's
 * error code; no register id reads it) and env->old_exception, the
 * exception QEMU believes is in flight. QEMU resets the latter when it
 * delivers an exception itself, which it never does here, so without a
 * reset the second #GP of a run would reach the hook as #DF and the third
 * as a triple fault (QEMU's own nesting rules). Their offsets in the
 * snapshot are found once per process by a calibration run on a scratch
 * engine with faults of known error codes (emu_calibrate()), and checked:
 * clearing old_exception there must make a second #GP come back as #GP.
 * If calibration fails, exceptions are not delivered (the run ends with a
 * guest fault, as before), and the log says why.
 */

#define EMU_RFLAGS_TF (1ull << 8)
#define EMU_RFLAGS_NT (1ull << 14)
#define EMU_RFLAGS_RF (1ull << 16)
#define EMU_RFLAGS_VM (1ull << 17)

#define EMU_CR0_WP (1ull << 16)
#define EMU_CR0_PG (1ull << 31)

#define EMU_PTE_P    (1ull << 0)
#define EMU_PTE_RW   (1ull << 1)
#define EMU_PTE_A    (1ull << 5)
#define EMU_PTE_D    (1ull << 6)
#define EMU_PTE_PS   (1ull << 7)
#define EMU_PTE_ADDR 0x000ffffffffff000ull

#define EMU_PF_P 1u
#define EMU_PF_W 2u

/* ---- calibration: where QEMU keeps error_code and old_exception in a context snapshot ---- */

static struct {
	pthread_once_t once;
	bool ok;
	size_t err_off; /* env->error_code; env->exception_is_int follows it */
	size_t old_off; /* env->old_exception */
	size_t size;	/* uc_context_size() */
	char why[160];
} emu_cal = {.once = PTHREAD_ONCE_INIT};

struct emu_cal_run {
	int vector;	/* the hook's */
	unsigned pages; /* code pages used so far: each run has one of its own */
};

static void emu_cal_intr(uc_engine *uc, uint32_t intno, void *opaque)
{
	struct emu_cal_run *r = opaque;

	r->vector = (int)intno;
	uc_emu_stop(uc);
}

#define EMU_CAL_CODE 0x1000ull
#define EMU_CAL_GDT  0xf000ull

/*
 * From the state start, load a data segment with selector sel (outside the
 * 3-entry GDT: #GP with error code sel & 0xfffc), or run INT3 when sel is
 * 0; the hook records the vector, and the state after it goes to out. Each
 * run's code has a page of its own: Unicorn would run the code it
 * translated before from a page uc_mem_write() changed.
 */
static bool emu_cal_fault(uc_engine *uc, struct emu_cal_run *run, uc_context *start, uint16_t sel,
			  uint8_t *out)
{
	uint64_t at = EMU_CAL_CODE + (uint64_t)run->pages * 0x1000;
	uint8_t code[] = {0x66, 0xb8, (uint8_t)sel, (uint8_t)(sel >> 8), 0x8e, 0xd8, 0xf4};
	static const uint8_t int3[] = {0x90, 0xcc, 0xf4};
	uc_context *ctx;

	if (at + 0x1000 > EMU_CAL_GDT || uc_context_restore(uc, start))
		return false;
	run->pages++;
	run->vector = -1;
	if (sel ? uc_mem_write(uc, at, code, sizeof(code))
		: uc_mem_write(uc, at, int3, sizeof(int3)))
		return false;
	if (uc_emu_start(uc, at, 0, 0, 0))
		return false;
	if (uc_context_alloc(uc, &ctx))
		return false;
	if (uc_context_save(uc, ctx)) {
		uc_context_free(ctx);
		return false;
	}
	memcpy(out, ctx, emu_cal.size);
	uc_context_free(ctx);
	return true;
}

static int32_t emu_cal_i32(const uint8_t *snap, size_t off)
{
	int32_t v;

	memcpy(&v, snap + off, sizeof(v));
	return v;
}

static void emu_calibrate_on(uc_engine *uc, struct emu_cal_run *run)
{
	static const uint16_t sels[] = {0x1233, 0x0458, 0x2ffe};
	enum { NS = sizeof(sels) / sizeof(sels[0]) };
	uc_x86_mmr gdt = {.base = EMU_CAL_GDT, .limit = 0x17};
	uint8_t *before = NULL, *snap[NS] = {NULL}, *soft = NULL;
	uc_context *start = NULL;
	size_t n = uc_context_size(uc), nerr = 0, nold = 0, err_off = 0, old_off = 0;
	int32_t none = -1;

	emu_cal.size = n;
	snprintf(emu_cal.why, sizeof(emu_cal.why), "out of memory");
	before = malloc(n);
	soft = malloc(n);
	for (unsigned i = 0; i < NS; i++)
		snap[i] = malloc(n);
	if (!before || !soft || !snap[0] || !snap[1] || !snap[2])
		goto out;
	snprintf(emu_cal.why, sizeof(emu_cal.why), "the scratch engine failed");
	if (uc_mem_map(uc, 0, 0x10000, UC_PROT_ALL) || uc_reg_write(uc, UC_X86_REG_GDTR, &gdt) ||
	    uc_context_alloc(uc, &start) || uc_context_save(uc, start))
		goto out;
	memcpy(before, start, n);
	for (unsigned i = 0; i < NS; i++) {
		if (!emu_cal_fault(uc, run, start, sels[i], snap[i]))
			goto out;
		if (run->vector != 13) {
			snprintf(emu_cal.why, sizeof(emu_cal.why),
				 "a bad selector raised vector %d, not #GP", run->vector);
			goto out;
		}
	}
	if (!emu_cal_fault(uc, run, start, 0, soft) || run->vector != 3) {
		snprintf(emu_cal.why, sizeof(emu_cal.why), "INT3 raised vector %d", run->vector);
		goto out;
	}
	for (size_t o = 0; o + 8 <= n; o += 4) {
		bool is_err = emu_cal_i32(before, o) != (sels[0] & 0xfffc);
		bool is_old = emu_cal_i32(before, o) == -1;

		for (unsigned i = 0; i < NS; i++) {
			is_err = is_err && emu_cal_i32(snap[i], o) == (sels[i] & 0xfffc);
			is_old = is_old && emu_cal_i32(snap[i], o) == 13;
		}
		/* exception_is_int follows error_code: 0 after the faults, 1 after INT3. */
		is_err =
		    is_err && emu_cal_i32(snap[0], o + 4) == 0 && emu_cal_i32(soft, o + 4) == 1;
		if (is_err) {
			nerr++;
			err_off = o;
		}
		if (is_old) {
			nold++;
			old_off = o;
		}
	}
	if (nerr != 1 || nold != 1) {
		snprintf(emu_cal.why, sizeof(emu_cal.why),
			 "%zu places fit the error code and %zu the exception in flight (1 each "
			 "expected)",
			 nerr, nold);
		goto out;
	}
	/* The check: with old_exception cleared, a second #GP is a #GP, not a #DF. */
	memcpy(snap[0] + old_off, &none, sizeof(none));
	memcpy(start, snap[0], n);
	if (!emu_cal_fault(uc, run, start, sels[1], snap[1]) || run->vector != 13 ||
	    emu_cal_i32(snap[1], err_off) != (sels[1] & 0xfffc)) {
		snprintf(emu_cal.why, sizeof(emu_cal.why),
			 "clearing the exception in flight did not stop a #DF (vector %d)",
			 run->vector);
		goto out;
	}
	emu_cal.err_off = err_off;
	emu_cal.old_off = old_off;
	emu_cal.ok = true;
	emu_cal.why[0] = '\0';
out:
	if (start)
		uc_context_free(start);
	free(before);
	free(soft);
	for (unsigned i = 0; i < NS; i++)
		free(snap[i]);
}

static void emu_calibrate(void)
{
	struct emu_cal_run run = {.vector = -1};
	uc_engine *uc;
	uc_hook h;

	if (vmmi_emu_open(&uc)) {
		snprintf(emu_cal.why, sizeof(emu_cal.why), "cannot open a scratch engine");
		return;
	}
	if (uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)emu_cal_intr, &run, 1, 0) == UC_ERR_OK)
		emu_calibrate_on(uc, &run);
	uc_close(uc);
}

bool vmmi_emu_events_ready(const char **why)
{
	pthread_once(&emu_cal.once, emu_calibrate);
	if (why)
		*why = emu_cal.why;
	return emu_cal.ok;
}

size_t vmmi_emu_context_size(void)
{
	return emu_cal.size;
}

/*
 * What the hook saw, completed from QEMU's state: the error code, and
 * whether it was INT n (a software interrupt: no error code, RIP already
 * past it). Clears the exception QEMU believes in flight.
 */
int vmmi_emu_event_fetch(struct emu_vcpu *ev, struct emu_event *e)
{
	uint8_t *snap = (uint8_t *)ev->ctx;
	int32_t none = -1, is_int;
	uint32_t code;
	uc_err err;

	err = uc_context_save(ev->uc, ev->ctx);
	if (err)
		return emu_error(err, "cannot save the CPU state");
	memcpy(&code, snap + emu_cal.err_off, sizeof(code));
	memcpy(&is_int, snap + emu_cal.err_off + 4, sizeof(is_int));
	memcpy(snap + emu_cal.old_off, &none, sizeof(none));
	err = uc_context_restore(ev->uc, ev->ctx);
	if (err)
		return emu_error(err, "cannot restore the CPU state");
	*e = (struct emu_event){.vector = (uint8_t)ev->vector};
	if (is_int) {
		e->kind = EMU_EVENT_SOFT;
	} else {
		e->kind = EMU_EVENT_FAULT;
		switch (ev->vector) {
		case 8:
		case 10:
		case 11:
		case 12:
		case 13:
		case 14:
		case 17:
		case 21:
			e->has_err = true;
			e->err = code;
			break;
		}
	}
	return 0;
}

/* ---- guest memory through the guest's page tables ---- */

/* The CPU state delivery reads and writes. */
struct emu_cpu {
	struct emu_vcpu *ev;
	uint64_t rip, rsp, rflags, cs, ss, cr0, cr3;
	uc_x86_mmr idt, gdt, tr;
};

/* A fault raised while delivering: vector and error code (all have one), and CR2 for #PF. */
struct emu_fault {
	uint8_t vector;
	uint32_t err;
	uint64_t cr2;
};

/* Delivery outcomes besides 0 (done). */
enum { EMU_FAULTED = 1, EMU_BROKEN = 2 };

static bool emu_canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) == la;
}

/*
 * The host address of the n bytes at guest-physical pa (in one page), or
 * NULL if they are not RAM (or are read-only RAM and this is a write).
 */
static uint8_t *emu_ram(struct emu_cpu *c, uint64_t pa, uint64_t n, bool write)
{
	struct vmmi_view_slot s;

	if (!vmmi_view_slot_at(c->ev->vcpu->vm, pa, &s) || !vmmi_range_ok(pa - s.gpa, n, s.size))
		return NULL;
	if (write && (s.flags & VMM_MEMSLOT_READONLY))
		return NULL;
	if (write && s.dirty)
		vmmi_dirty_mark(s.dirty, pa - s.gpa, n);
	return s.hva + (pa - s.gpa);
}

/* Set bits in a page table entry, as the CPU's walk does (Accessed, Dirty). */
static void emu_pte_set(struct emu_cpu *c, uint64_t pa, uint64_t bits)
{
	uint8_t *p = emu_ram(c, pa, 8, true);

	if (p)
		__atomic_fetch_or((uint64_t *)(void *)p, bits, __ATOMIC_RELAXED);
}

/*
 * Linear -> physical for a supervisor access: the 4-level walk of
 * CR3 (CR0.PG clear: identity). 0, EMU_FAULTED (*f: #PF with its error
 * code), or EMU_BROKEN (a table outside RAM: the detail says where).
 */
static int emu_walk(struct emu_cpu *c, uint64_t la, bool write, uint64_t *pa, struct emu_fault *f)
{
	uint64_t table = c->cr3 & EMU_PTE_ADDR, e = 0, epa = 0;
	bool rw = true;
	int level;

	if (!(c->cr0 & EMU_CR0_PG)) {
		*pa = la;
		return 0;
	}
	for (level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);
		uint8_t *p;

		epa = table + ((la >> shift) & 511) * 8;
		p = emu_ram(c, epa, 8, false);
		if (!p) {
			vmmi_error(-EFAULT, "page table entry at 0x%llx (for 0x%llx) is not in RAM",
				   (unsigned long long)epa, (unsigned long long)la);
			return EMU_BROKEN;
		}
		e = __atomic_load_n((uint64_t *)(void *)p, __ATOMIC_RELAXED);
		if (!(e & EMU_PTE_P)) {
			*f = (struct emu_fault){14, write ? EMU_PF_W : 0, la};
			return EMU_FAULTED;
		}
		rw = rw && (e & EMU_PTE_RW);
		if (!(e & EMU_PTE_A))
			emu_pte_set(c, epa, EMU_PTE_A);
		if (level == 1 || ((level == 2 || level == 3) && (e & EMU_PTE_PS))) {
			uint64_t mask = (1ull << shift) - 1;

			if (write && !rw && (c->cr0 & EMU_CR0_WP)) {
				*f = (struct emu_fault){14, EMU_PF_P | EMU_PF_W, la};
				return EMU_FAULTED;
			}
			if (write && !(e & EMU_PTE_D))
				emu_pte_set(c, epa, EMU_PTE_D);
			*pa = ((e & EMU_PTE_ADDR) & ~mask) | (la & mask);
			return 0;
		}
		table = e & EMU_PTE_ADDR;
	}
	return EMU_BROKEN; /* not reached */
}

/*
 * Copy n bytes (n <= 64) between buf and linear address la, page by page;
 * a write lands only once every page has been walked, as a CPU checks the
 * whole frame before it pushes. stack: a non-canonical address is #SS, not #GP.
 */
static int emu_lin(struct emu_cpu *c, uint64_t la, void *buf, size_t n, bool write, bool stack,
		   struct emu_fault *f)
{
	uint8_t *host[2] = {NULL, NULL};
	size_t len[2] = {n, 0};
	int ret;

	if (!emu_canonical(la) || !emu_canonical(la + n - 1)) {
		*f = (struct emu_fault){(uint8_t)(stack ? 12 : 13), 0, 0};
		return EMU_FAULTED;
	}
	if ((la & VMMI_PAGE_MASK) + n > VMMI_PAGE_SIZE) {
		len[0] = VMMI_PAGE_SIZE - (la & VMMI_PAGE_MASK);
		len[1] = n - len[0];
	}
	for (unsigned i = 0; i < 2 && len[i]; i++) {
		uint64_t a = i ? la + len[0] : la, pa;

		ret = emu_walk(c, a, write, &pa, f);
		if (ret)
			return ret;
		host[i] = emu_ram(c, pa, len[i], write);
		if (!host[i]) {
			vmmi_error(-EFAULT, "%s at 0x%llx (guest-physical 0x%llx) is not %sRAM",
				   write ? "interrupt frame" : "descriptor table",
				   (unsigned long long)a, (unsigned long long)pa,
				   write ? "writable " : "");
			return EMU_BROKEN;
		}
	}
	for (unsigned i = 0; i < 2 && len[i]; i++) {
		uint8_t *b = (uint8_t *)buf + (i ? len[0] : 0);

		if (write)
			memcpy(host[i], b, len[i]);
		else
			memcpy(b, host[i], len[i]);
	}
	return 0;
}

/* ---- delivery ---- */

static uc_err emu_cpu_read(struct emu_vcpu *ev, struct emu_cpu *c)
{
	int ids[] = {UC_X86_REG_RIP,  UC_X86_REG_RSP, UC_X86_REG_RFLAGS, UC_X86_REG_CS,
		     UC_X86_REG_SS,   UC_X86_REG_CR0, UC_X86_REG_CR3,	 UC_X86_REG_IDTR,
		     UC_X86_REG_GDTR, UC_X86_REG_TR};
	void *p[] = {&c->rip, &c->rsp, &c->rflags, &c->cs,  &c->ss,
		     &c->cr0, &c->cr3, &c->idt,	   &c->gdt, &c->tr};

	memset(c, 0, sizeof(*c));
	c->ev = ev;
	return uc_reg_read_batch(ev->uc, ids, p, sizeof(ids) / sizeof(ids[0]));
}

static int emu_fault_at(struct emu_fault *f, uint8_t vector, uint32_t err)
{
	*f = (struct emu_fault){vector, err, 0};
	return EMU_FAULTED;
}

/*
 * Fault-class exceptions (SDM vol. 3, table 6-1): RIP is the faulting
 * instruction. #DB counts as a trap: Unicorn raises it for single steps.
 */
static bool emu_is_fault(const struct emu_event *e)
{
	if (e->kind != EMU_EVENT_FAULT)
		return false;
	switch (e->vector) {
	case 0:
	case 5:
	case 6:
	case 7:
	case 10:
	case 11:
	case 12:
	case 13:
	case 14:
	case 16:
	case 17:
	case 19:
	case 20:
	case 21:
		return true;
	default:
		return false;
	}
}

/*
 * One attempt at delivering e through the IDT (SDM vol. 3, 6.14.1 and
 * 6.14.5): the gate, its code segment, the stack (IST or the current one,
 * aligned down to 16 bytes), the frame, the new RFLAGS and CS:RIP. 0 when
 * delivered, EMU_FAULTED with the fault it raised in *f, or EMU_BROKEN.
 */
static int emu_try_deliver(struct emu_vcpu *ev, const struct emu_event *e, struct emu_fault *f)
{
	struct emu_cpu c;
	uint8_t g[16];
	uint64_t frame[6], target, desc, rsp, rflags;
	uint32_t ext = e->kind != EMU_EVENT_SOFT, idt_err = (uint32_t)e->vector * 8 + 2 + ext;
	unsigned cpl, ist, type, n = 0;
	uint16_t sel;
	uint32_t sel_err;
	uc_err err;
	int ret;

	err = emu_cpu_read(ev, &c);
	if (err) {
		vmmi_error(-EINVAL, "cannot read registers: %s", uc_strerror(err));
		return EMU_BROKEN;
	}
	cpl = c.cs & 3;
	rflags = c.rflags;
	if ((uint64_t)e->vector * 16 + 15 > c.idt.limit)
		return emu_fault_at(f, 13, idt_err);
	ret = emu_lin(&c, c.idt.base + (uint64_t)e->vector * 16, g, sizeof(g), false, false, f);
	if (ret)
		return ret;
	type = g[5] & 0xf;
	if (type != 0xe && type != 0xf)
		return emu_fault_at(f, 13, idt_err);
	if (e->kind == EMU_EVENT_SOFT && ((unsigned)(g[5] >> 5) & 3) < cpl)
		return emu_fault_at(f, 13, idt_err - ext);
	if (!(g[5] & 0x80))
		return emu_fault_at(f, 11, idt_err);
	sel = (uint16_t)(g[2] | g[3] << 8);
	ist = g[4] & 7;
	target = (uint64_t)(g[0] | g[1] << 8) | (uint64_t)(g[6] | g[7] << 8) << 16 |
		 (uint64_t)(g[8] | g[9] << 8 | g[10] << 16 | (uint32_t)g[11] << 24) << 32;

	/* The gate's code segment: a present 64-bit code descriptor of the GDT. */
	sel_err = (sel & 0xfffcu) + ext;
	if (!(sel & ~3u))
		return emu_fault_at(f, 13, ext);
	if ((sel & 4) || (uint64_t)(sel | 7) > c.gdt.limit)
		return emu_fault_at(f, 13, sel_err); /* LDT selectors: see emu.c's differences */
	ret = emu_lin(&c, c.gdt.base + (sel & ~7u), &desc, sizeof(desc), false, false, f);
	if (ret)
		return ret;
	if (!(desc >> 44 & 1) || !(desc >> 43 & 1) || !(desc >> 53 & 1) || (desc >> 54 & 1) ||
	    (desc >> 45 & 3) > cpl)
		return emu_fault_at(f, 13, sel_err);
	if (!(desc >> 47 & 1))
		return emu_fault_at(f, 11, sel_err);
	if (!(desc >> 42 & 1) && (desc >> 45 & 3) != cpl) {
		vmmi_error(-ENOTSUP,
			   "vector %u at CPL %u needs a privilege change to CPL %u, which the "
			   "emulator cannot make",
			   e->vector, cpl, (unsigned)(desc >> 45 & 3));
		return EMU_BROKEN;
	}
	if (!emu_canonical(target))
		return emu_fault_at(f, 13, ext);

	/* The stack: the TSS's IST entry, or the current one (no privilege change). */
	rsp = c.rsp;
	if (ist) {
		uint64_t off = 0x24 + (uint64_t)(ist - 1) * 8;

		if (off + 7 > c.tr.limit)
			return emu_fault_at(f, 10, (c.tr.selector & 0xfffcu) + ext);
		ret = emu_lin(&c, c.tr.base + off, &rsp, sizeof(rsp), false, false, f);
		if (ret)
			return ret;
	}
	rsp &= ~15ull;
	if (e->has_err)
		frame[n++] = e->err;
	frame[n++] = c.rip;
	frame[n++] = c.cs;
	/* A fault's frame has RF set, so that IRET retries without an instruction breakpoint. */
	frame[n++] = rflags | (emu_is_fault(e) ? EMU_RFLAGS_RF : 0);
	frame[n++] = c.rsp;
	frame[n++] = c.ss;
	rsp -= n * 8;
	ret = emu_lin(&c, rsp, frame, n * 8, true, true, f);
	if (ret) {
		if (ret == EMU_FAULTED && f->vector == 12)
			f->err = ext; /* #SS(0) with EXT */
		return ret;
	}
	rflags &= ~(EMU_RFLAGS_TF | EMU_RFLAGS_NT | EMU_RFLAGS_RF | EMU_RFLAGS_VM);
	if (type == 0xe)
		rflags &= ~EMU_RFLAGS_IF;
	{
		uint64_t cs = sel;
		int ids[] = {UC_X86_REG_RSP, UC_X86_REG_RFLAGS, UC_X86_REG_RIP, UC_X86_REG_CS};
		void *p[] = {&rsp, &rflags, &target, &cs};

		/* In 64-bit mode Unicorn loads only the selector: the checks above hold the rest.
		 */
		err = uc_reg_write_batch(ev->uc, ids, p, c.cs == sel ? 3 : 4);
	}
	if (err) {
		vmmi_error(-EINVAL, "cannot write registers: %s", uc_strerror(err));
		return EMU_BROKEN;
	}
	return 0;
}

/* The SDM's classes (vol. 3, table 6-4): 1 contributory, 2 page fault, 0 benign. */
static int emu_class(uint8_t vector)
{
	if (vector == 0 || (vector >= 10 && vector <= 13))
		return 1;
	return vector == 14 ? 2 : 0;
}

int vmmi_emu_deliver(struct emu_vcpu *ev, const struct emu_event *first, struct vmm_exit *exit)
{
	struct emu_event e = *first;
	struct emu_fault f;

	for (;;) {
		int ret = emu_try_deliver(ev, &e, &f), from, to;

		if (ret == 0)
			return 0;
		if (ret == EMU_BROKEN) {
			vmmi_exit_set(exit, VMM_EXIT_GUEST_FAULT, "delivering vector %u: %s",
				      e.vector, vmm_last_error());
			return 1;
		}
		if (e.vector == 8 && e.kind == EMU_EVENT_FAULT) {
			vmmi_exit_set(exit, VMM_EXIT_SHUTDOWN,
				      "triple fault (an exception the guest could not handle)");
			return 1;
		}
		if (f.vector == 14) {
			uc_err err = uc_reg_write(ev->uc, UC_X86_REG_CR2, &f.cr2);

			if (err) {
				vmmi_exit_set(exit, VMM_EXIT_INTERNAL_ERROR,
					      "emu: cannot write CR2: %s", uc_strerror(err));
				return 1;
			}
		}
		from = e.kind == EMU_EVENT_FAULT ? emu_class(e.vector) : 0;
		to = emu_class(f.vector);
		if ((from == 1 && to == 1) || (from == 2 && to != 0))
			e = (struct emu_event){
			    .vector = 8, .kind = EMU_EVENT_FAULT, .has_err = true};
		else
			e = (struct emu_event){.vector = f.vector,
					       .kind = EMU_EVENT_FAULT,
					       .has_err = true,
					       .err = f.err};
	}
}
