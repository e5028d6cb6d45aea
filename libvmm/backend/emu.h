/* SPDX-License-Identifier: MIT */
/* emu.h - private to the emu backend's files: the engine state of a vCPU and what they share. */
#ifndef VMM_BACKEND_EMU_H
#define VMM_BACKEND_EMU_H

#include <unicorn/unicorn.h>

#include "emu_lapic.h"
#include "emu_layout.h"
#include "vmm_internal.h"

#define EMU_RFLAGS_IF (1ull << 9)

/* Memslots per VM: each is a region of every engine (see EMU_MAX_REGIONS). */
#define EMU_MAX_SLOTS 1024

struct emu_vcpu;

/*
 * A mapped non-RAM range of one vCPU. Allocated one by one: its address is
 * the user data of its Unicorn callbacks and must not move while mapped.
 */
struct emu_region {
	struct emu_vcpu *ev;
	uint64_t base, size;
	uint8_t *scratch; /* device clusters: this vCPU's backing; NULL for a gap */
	uc_hook hook;
};

/* Slots an engine remembers running code from before it forgets which (and drops all). */
#define EMU_CODE_SLOTS 8

/* Why a hook ended the emulation. */
enum emu_stop {
	EMU_STOP_NONE,
	EMU_STOP_EXIT,	 /* vmmi_dispatch() filled the exit */
	EMU_STOP_VM,	 /* vm->stop_requested was set */
	EMU_STOP_VECTOR, /* a CPU exception or software interrupt */
	EMU_STOP_BLOCK, /* the block hook saw a stop or pause request: at an instruction boundary */
	EMU_STOP_IRQ,	/* the block hook saw an interrupt the vCPU can take: at a boundary too */
};

/* Messages one model call may queue (it makes at most one IPI and one EOI). */
#define EMU_APIC_QUEUE 4

struct emu_ipi {
	uint32_t icr; /* ICR low */
	uint8_t dest; /* ICR bits 63-56 */
};

/* A vCPU's local APIC and what waits on it (emu_irq.c). */
struct emu_apic {
	pthread_mutex_t lock; /* the model, the queues; innermost, one at a time */
	pthread_cond_t cond;  /* CLOCK_MONOTONIC: a halted vCPU waits here */
	bool ok;
	struct vmmi_lapic lapic;
	struct emu_ipi ipi[EMU_APIC_QUEUE]; /* queued by the model's ops, sent after unlock */
	unsigned nipi;
	uint8_t eoi[EMU_APIC_QUEUE];
	unsigned neoi;
	/* The timer's next deadline (CLOCK_MONOTONIC ns, UINT64_MAX: none), for the timer thread.
	 */
	_Atomic uint64_t deadline;
	bool halted; /* in HLT with interrupts on: run() waits before it starts the engine */
};

struct emu_vcpu {
	struct vmm_vcpu *vcpu;
	uc_engine *uc;
	/*
	 * Serialises calls into the engine made outside run(): a layout change
	 * (any thread, while no vCPU runs) against register access (the
	 * caller's thread, or the vCPU's after its run), which loads segment
	 * descriptors from guest memory through the engine's TLB. run() does
	 * not take it: the pause protocol keeps layout changes out of runs.
	 */
	pthread_mutex_t lock;
	struct emu_region **regions; /* mapped: device clusters and gap pieces, sorted by base */
	size_t nregions, cap;
	struct emu_span *gaps; /* the planned gaps, sorted: mapped piece by piece when touched */
	size_t ngaps;
	size_t nlazy; /* gap pieces mapped */
	uint64_t hint_base,
	    hint_size; /* the gap the last store went to: most stores go there again */
	bool ran;      /* uc_emu_start() was called: translated code may exist */
	bool paused;   /* the last run() returned for a pause: the next one resumes it */
	/* A kick no return of run() has answered yet (see emu_kick()): set from any thread. */
	_Atomic bool kicked;
	/*
	 * The slots this engine ran code from since its code was last dropped
	 * (the block hook records them; a block is hooked every time it runs,
	 * the first time included): run() drops only their code. Too many:
	 * code_all, and run() drops every slot's.
	 */
	struct emu_range {
		uint64_t lo, hi;
	} code[EMU_CODE_SLOTS];
	unsigned ncode;
	bool code_all;
	uint64_t code_lo, code_hi; /* the last recorded range: the common case is one check */
	uc_hook h_in, h_out, h_intr, h_bad, h_prot, h_block, h_ud;
	uc_context *ctx; /* scratch for vmmi_emu_event_fetch(): QEMU's state, byte for byte */
	struct emu_apic apic;
	/* An interrupt may be pending (any thread sets it; the block hook stops for it). */
	_Atomic bool irq_ready;
	_Atomic bool nmi_ready;		/* an NMI was accepted: taken whatever RFLAGS.IF says */
	uint64_t prev_block, prev_size; /* the block before the current one: the STI shadow */
	uc_hook h_cpuid;

	/* Valid during run() only: written and read on the vCPU thread. */
	struct vmm_exit *exit;
	enum emu_stop stop;
	uint32_t vector;
	unsigned split_left; /* halves of a page-crossing device load still to come */
	uint64_t split_next;
	uint32_t split_size;
	/*
	 * A gap access already dispatched whole (see emu_gap_access()), that
	 * Unicorn now performs as the pieces it splits it into: MMIO callbacks
	 * from next to end, in order, and for an unaligned one a protection
	 * hook before each piece of `piece` bytes. Reads return buf, the
	 * bytes of [lo, lo + 16) with the device's answer in place.
	 */
	struct emu_pending {
		bool on, write, unaligned;
		uint32_t piece;
		uint64_t next, end, lo;
		uint8_t buf[16];
	} pend;
	bool skip_on; /* a device-cluster load that is the second half of a gap load */
	uint64_t skip_at;
	uint32_t skip_size;
	bool bad_seen;
	uint64_t bad_addr;
};

/*
 * The vCPUs whose engines exist, kept here rather than read from vm->vcpus:
 * a layout change must reach exactly the live engines, whatever order the
 * core creates and tears things down in.
 */
struct emu_vm {
	/* Written under lock (emu_irq.c), which messages and the timer thread hold to walk it. */
	struct emu_vcpu *vcpus[VMM_GUEST_MAX_VCPUS];
	pthread_mutex_t lock;
	pthread_cond_t timer_cond; /* the timer thread sleeps here until the earliest deadline */
	pthread_t timer;
	bool timer_on, timer_quit;
};

static inline struct emu_vcpu *emu_vcpu(struct vmm_vcpu *vcpu)
{
	return vcpu->be;
}

static inline int emu_error(uc_err err, const char *what)
{
	return vmmi_error(err == UC_ERR_NOMEM ? -ENOMEM : -EINVAL, "emu: %s: %s", what,
			  uc_strerror(err));
}

/* ---- CPU events: exceptions and interrupts through the guest's IDT (emu_idt.c) ---- */

/* What raised an event: a fault or trap, INT n / INT3 (RIP past it), an interrupt or NMI. */
enum emu_event_kind { EMU_EVENT_FAULT, EMU_EVENT_SOFT, EMU_EVENT_EXT };

struct emu_event {
	uint8_t vector;
	enum emu_event_kind kind;
	bool has_err; /* push err */
	uint32_t err;
};

/*
 * Can this Unicorn's exceptions be delivered? Calibrates once per process
 * (see emu_idt.c); false with *why (if not NULL) saying why not.
 */
bool vmmi_emu_events_ready(const char **why);
/* uc_context_size() of an x86-64 engine (after vmmi_emu_events_ready()). */
size_t vmmi_emu_context_size(void);
/* The exception the INTR hook saw (ev->vector) with its error code; clears QEMU's nesting state. */
int vmmi_emu_event_fetch(struct emu_vcpu *ev, struct emu_event *e);
/*
 * Deliver e through the guest's IDT, as a long-mode CPU does, faults while
 * delivering included (#DF, triple fault). 0: delivered, the registers
 * point at the handler; 1: exit filled (VMM_EXIT_SHUTDOWN for a triple
 * fault, VMM_EXIT_GUEST_FAULT where the emulator cannot go on).
 * On the vCPU thread, inside run(), the engine stopped.
 */
int vmmi_emu_deliver(struct emu_vcpu *ev, const struct emu_event *e, struct vmm_exit *exit);

/* ---- interrupts: local APICs, MSIs, IPIs, HLT, the LAPIC timer (emu_irq.c) ---- */

/* CLOCK_MONOTONIC in ns. */
uint64_t vmmi_emu_now(void);
int vmmi_emu_irq_vm_init(struct emu_vm *evm);
void vmmi_emu_irq_vm_fini(struct vmm_vm *vm);
int vmmi_emu_irq_vcpu_init(struct emu_vcpu *ev);
void vmmi_emu_irq_vcpu_fini(struct emu_vcpu *ev);
/* Publish (ev) or withdraw (NULL) vCPU index for messages and the timer thread. */
void vmmi_emu_irq_set_vcpu(struct vmm_vm *vm, unsigned index, struct emu_vcpu *ev);
/* The backend ops msi and irq_reset. */
int vmmi_emu_msi(struct vmm_vm *vm, uint64_t addr, uint32_t data);
int vmmi_emu_irq_reset(struct vmm_vcpu *vcpu);
/* An access to the vCPU's own APIC page: true if addr is in it (done), false otherwise. */
bool vmmi_emu_lapic_access(struct emu_vcpu *ev, uint64_t addr, uint32_t size, bool is_write,
			   uint64_t *value);
/*
 * Take the interrupt the model has for the CPU, if RFLAGS.IF allows (an
 * NMI always): 0 delivered, 1 exit filled, 2 none to take. Engine stopped.
 */
int vmmi_emu_take_irq(struct emu_vcpu *ev, struct vmm_exit *exit);
/*
 * HLT with interrupts on: wait until the model has an interrupt to take
 * (0), or a stop, pause or kick needs the core (1: still halted).
 */
int vmmi_emu_halt(struct emu_vcpu *ev);
/* Wake a halted vCPU for a kick. Any thread. */
void vmmi_emu_irq_kick(struct emu_vcpu *ev);

/* ---- x86-64: registers, segments and exits (emu_x86_64.c) ---- */

/* Is this Unicorn built with x86? Open an x86-64 engine. */
bool vmmi_emu_arch_supported(void);
uc_err vmmi_emu_open(uc_engine **uc);
/* The instruction pointer, where uc_emu_start() goes on. */
uc_err vmmi_emu_pc(uc_engine *uc, uint64_t *pc);
/* Send the port accesses of IN and OUT (INS, OUTS too) to in and out, with ev as their opaque. */
uc_err vmmi_emu_hook_ports(struct emu_vcpu *ev, uc_cb_insn_in_t in, uc_cb_insn_out_t out);
int vmmi_emu_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *regs);
int vmmi_emu_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *regs);
int vmmi_emu_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *sregs);
int vmmi_emu_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *sregs);
/* Answer CPUID as guest.h says: the vCPU's APIC ID, no x2APIC or TSC-deadline, an APIC. */
uc_err vmmi_emu_hook_cpuid(struct emu_vcpu *ev);
/* Turn uc_emu_start()'s result and what the hooks saw (ev->stop, vector, bad_addr) into an exit. */
void vmmi_emu_exit_from(struct emu_vcpu *ev, uc_err err, struct vmm_exit *exit);

#endif /* VMM_BACKEND_EMU_H */
