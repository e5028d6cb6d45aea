/* SPDX-License-Identifier: MIT */
/*
 * emu_lapic.h - the emu backend's local APIC model (xAPIC): pure code, one per vCPU.
 */
#ifndef EMU_LAPIC_H
#define EMU_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The local APIC of guest.h ("Interrupt controllers"), as Intel's SDM vol. 3
 * chapter 11 describes it and KVM's in-kernel model behaves: registers of
 * the xAPIC page (32-bit accesses at 16-byte aligned offsets), IRR, ISR and
 * TMR, TPR/PPR priorities, EOI, spurious vector and software enable, LVT
 * timer (one-shot, periodic; the timer counts at VMM_GUEST_LAPIC_TIMER_HZ
 * divided by the divide configuration), LINT0, LINT1, error LVT and ESR,
 * and the ICR (fixed, NMI, INIT; physical, flat and cluster logical
 * destinations; shorthands). Power-on state as guest.h says, with vCPU 0's LINT0 ExtINT.
 *
 * Pure code: no locks, no threads, no clock of its own. The caller passes
 * the host's monotonic time in nanoseconds to every call that may need it
 * and serialises all calls on one model (emu.c holds the vCPU's APIC lock).
 * What leaves the model goes through ops, called from inside the model
 * call, with the caller's lock held, so ops must not call back into this
 * model (emu.c queues IPIs to other vCPUs' models and sends level EOIs to
 * the I/O APIC after it has dropped the lock; see each op).
 */

struct vmmi_lapic;

struct vmmi_lapic_ops {
	/*
	 * The guest wrote the ICR (low half; the high half is already in the
	 * model) and the message may name other APICs: deliver icr_lo's
	 * message to every APIC other than this one (the opaque's) that
	 * destination dest (ICR bits 63-56) names, applying the shorthand
	 * (bits 19-18: 0 none, 2 all including self, 3 all excluding self)
	 * relative to the sender self_id (its current APIC ID). The model has
	 * already delivered the message to itself wherever it names it (the
	 * self shorthand never comes here). Only deliverable messages come
	 * here: delivery mode fixed or lowest priority with a legal vector
	 * (16-255), NMI, or INIT (not its level de-assert). A lowest-priority
	 * message goes to one APIC only, so it comes here only if this APIC
	 * is not among those it names. IPIs are edge-triggered: each receiver
	 * takes vmmi_lapic_accept(vector bits 7-0, delivery mode bits 10-8,
	 * level false).
	 */
	void (*ipi)(void *opaque, uint32_t self_id, uint32_t icr_lo, uint8_t dest);
	/* The guest EOIed a vector whose TMR bit was set (a level-triggered interrupt). */
	void (*eoi)(void *opaque, uint8_t vector);
};

struct vmmi_lapic {
	uint32_t id;	     /* power-on APIC ID (the guest may change the ID register) */
	bool bsp;	     /* vCPU 0: LINT0 powers on as ExtINT */
	uint32_t regs[64];   /* the page's registers by offset / 16, for those kept as is */
	uint32_t esr_errors; /* errors seen since the last ESR write (it moves them to ESR) */
	uint32_t irr[8], isr[8], tmr[8];
	bool nmi_pending;  /* an NMI arrived: the CPU takes vector 2 and clears this */
	bool init_pending; /* an INIT IPI arrived: the CPU side decides what it does */
	/*
	 * The timer: armed while deadline_ns != 0; the current count-down began
	 * at timer_start_ns, and a count-down lasts period_ns.
	 */
	uint64_t timer_start_ns, deadline_ns, period_ns;
	const struct vmmi_lapic_ops *ops;
	void *opaque;
};

/* Make a model: APIC ID id, bsp true for vCPU 0 (LINT0 ExtINT), then vmmi_lapic_reset(). */
void vmmi_lapic_init(struct vmmi_lapic *l, uint32_t id, bool bsp, const struct vmmi_lapic_ops *ops,
		     void *opaque);
/* Power-on state (guest.h), the ID register back to id; keeps id, bsp, ops and opaque. */
void vmmi_lapic_reset(struct vmmi_lapic *l);

/*
 * A guest access at offset (0 .. 0xfff) of the APIC page. Registers are
 * 32-bit at 16-byte aligned offsets. A read at a register's offset + 1 .. 3
 * returns its value shifted right by 8 bits per byte of that, so the
 * caller can answer 1- and 2-byte reads (as KVM does) by truncating; the
 * caller answers 0 to a read that crosses the register's 4 bytes, and
 * passes only 4-byte writes (KVM ignores the others). Any other read
 * returns 0 and any other write is ignored (as KVM). now_ns: the host's
 * CLOCK_MONOTONIC time in ns (the current count reads from it).
 */
uint32_t vmmi_lapic_read(struct vmmi_lapic *l, uint32_t offset, uint64_t now_ns);
void vmmi_lapic_write(struct vmmi_lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns);

/*
 * A message for this APIC (from an MSI, the I/O APIC, or another APIC's
 * ICR): delivery mode 0 fixed / 1 lowest priority (both set IRR bit vector,
 * and set TMR bit vector if level, clear it if edge), 4 NMI, 5 INIT; other
 * modes are ignored. Fixed and lowest priority are ignored while the APIC
 * is software disabled, NMI and INIT are not (SDM 11.4.7.2); vectors 0-15
 * are illegal for them: not accepted, an ESR error instead (SDM 11.5.3).
 */
void vmmi_lapic_accept(struct vmmi_lapic *l, uint8_t vector, unsigned delivery_mode, bool level);

/*
 * Does destination dest name this APIC? Physical (!logical): its APIC ID,
 * or 0xff (broadcast). Logical: LDR and DFR's model, flat (a bit of dest
 * in LDR bits 31-24) or cluster (cluster in bits 7-4 equal, a member bit
 * of bits 3-0 in common), or 0xff (broadcast).
 */
bool vmmi_lapic_match(const struct vmmi_lapic *l, uint8_t dest, bool logical);

/*
 * Fire the timer if its deadline has passed by now_ns: its LVT vector goes
 * to IRR (unless the LVT is masked) and a periodic timer rearms from its
 * deadline (missed periods are counted once). Call before looking for an
 * interrupt. A periodic timer's period is at least 200 us, as on KVM.
 */
void vmmi_lapic_tick(struct vmmi_lapic *l, uint64_t now_ns);
/*
 * When the timer next fires (CLOCK_MONOTONIC ns), or UINT64_MAX if it is
 * not armed. A masked timer is armed too (its count runs), though firing
 * sets no IRR bit.
 */
uint64_t vmmi_lapic_next_deadline(const struct vmmi_lapic *l);

/*
 * The vector the CPU should take now (the highest IRR vector whose
 * priority class is above PPR's), or -1. Does not change the model.
 */
int vmmi_lapic_pending(const struct vmmi_lapic *l);
/*
 * The CPU took vector (the one vmmi_lapic_pending() returned): the highest
 * pending vector moves from IRR to ISR. Returns the vector to deliver: that
 * one (normally vector), or the spurious vector (SVR bits 7-0, ISR left
 * alone) if none is pending any more (SDM 11.9: masked by TPR meanwhile).
 */
uint8_t vmmi_lapic_ack(struct vmmi_lapic *l, uint8_t vector);

#endif /* EMU_LAPIC_H */
