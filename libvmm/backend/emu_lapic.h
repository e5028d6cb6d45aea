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
 * and the ICR (fixed, NMI, INIT; physical and flat-logical destinations;
 * shorthands). Power-on state as guest.h says, with vCPU 0's LINT0 ExtINT.
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
	 * model): deliver icr_lo's message to destination dest (ICR bits
	 * 63-56), applying the shorthand (bits 19-18) relative to the sender
	 * self_id. Self-IPIs with the self shorthand are delivered by the model
	 * itself and do not come here.
	 */
	void (*ipi)(void *opaque, uint32_t self_id, uint32_t icr_lo, uint8_t dest);
	/* The guest EOIed a vector whose TMR bit was set (a level-triggered interrupt). */
	void (*eoi)(void *opaque, uint8_t vector);
};

struct vmmi_lapic {
	uint32_t id;	   /* APIC ID (the register's bits 31-24 hold it) */
	uint32_t regs[64]; /* the page's registers by offset / 16, for those kept as is */
	uint32_t irr[8], isr[8], tmr[8];
	bool nmi_pending;  /* an NMI arrived: the CPU takes vector 2 and clears this */
	bool init_pending; /* an INIT IPI arrived: the CPU side decides what it does */
	/* The timer: armed while deadline_ns != 0. */
	uint64_t timer_start_ns, deadline_ns, period_ns;
	const struct vmmi_lapic_ops *ops;
	void *opaque;
};

/* Make a model: APIC ID id, bsp true for vCPU 0 (LINT0 ExtINT), then vmmi_lapic_reset(). */
void vmmi_lapic_init(struct vmmi_lapic *l, uint32_t id, bool bsp, const struct vmmi_lapic_ops *ops,
		     void *opaque);
/* Power-on state (guest.h); keeps id, ops and opaque. */
void vmmi_lapic_reset(struct vmmi_lapic *l);

/*
 * A guest access of size bytes at offset (0 .. 0xfff) of the APIC page.
 * Registers are 32-bit at 16-byte aligned offsets; a read elsewhere
 * returns 0 and a write elsewhere is ignored (as KVM). now_ns: the host's
 * CLOCK_MONOTONIC time in ns (the current count reads from it).
 */
uint32_t vmmi_lapic_read(struct vmmi_lapic *l, uint32_t offset, uint64_t now_ns);
void vmmi_lapic_write(struct vmmi_lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns);

/*
 * A message for this APIC (from an MSI, the I/O APIC, or another APIC's
 * ICR): delivery mode 0 fixed / 1 lowest priority (both set IRR bit vector,
 * and TMR bit vector if level), 4 NMI, 5 INIT. Ignored while the APIC is
 * software disabled, except NMI and INIT (SDM 11.4.7.2).
 */
void vmmi_lapic_accept(struct vmmi_lapic *l, uint8_t vector, unsigned delivery_mode, bool level);

/* Does destination dest (physical if !logical, else flat-model logical) name this APIC? */
bool vmmi_lapic_match(const struct vmmi_lapic *l, uint8_t dest, bool logical);

/*
 * Fire the timer if its deadline has passed by now_ns: its LVT vector goes
 * to IRR (unless the LVT is masked) and a periodic timer rearms from its
 * deadline (missed periods are counted once). Call before looking for an
 * interrupt.
 */
void vmmi_lapic_tick(struct vmmi_lapic *l, uint64_t now_ns);
/* When the timer next fires (CLOCK_MONOTONIC ns), or UINT64_MAX if it is not armed. */
uint64_t vmmi_lapic_next_deadline(const struct vmmi_lapic *l);

/*
 * The vector the CPU should take now (the highest IRR vector whose
 * priority class is above PPR's), or -1. Does not change the model.
 */
int vmmi_lapic_pending(const struct vmmi_lapic *l);
/*
 * The CPU took vector (the one vmmi_lapic_pending() returned): IRR -> ISR.
 * Returns the vector to deliver, which is the spurious vector if the
 * interrupt was lost meanwhile (SDM 11.9).
 */
uint8_t vmmi_lapic_ack(struct vmmi_lapic *l, uint8_t vector);

#endif /* EMU_LAPIC_H */
