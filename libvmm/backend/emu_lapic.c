/* SPDX-License-Identifier: MIT */
/* emu_lapic.c - the emu backend's local APIC model (xAPIC): registers, priorities, timer, ICR. */
#include <stddef.h>

#include "backend/emu_lapic.h"
#include "vmm/guest.h"

/*
 * Intel SDM vol. 3 chapter 11 is the specification; where KVM's in-kernel
 * model (what the kvm backend's guests see) picks among what the SDM
 * leaves open, this model picks the same, so a guest sees one APIC on both
 * backends. The places where the two differ are marked "SDM, not KVM".
 */

/* Register offsets in the APIC page. */
#define R_ID	      0x020
#define R_VER	      0x030
#define R_TPR	      0x080
#define R_APR	      0x090
#define R_PPR	      0x0a0
#define R_EOI	      0x0b0
#define R_LDR	      0x0d0
#define R_DFR	      0x0e0
#define R_SVR	      0x0f0
#define R_ISR	      0x100
#define R_TMR	      0x180
#define R_IRR	      0x200
#define R_ESR	      0x280
#define R_ICR_LO      0x300
#define R_ICR_HI      0x310
#define R_LVT_TIMER   0x320
#define R_LVT_THERMAL 0x330
#define R_LVT_PERF    0x340
#define R_LVT_LINT0   0x350
#define R_LVT_LINT1   0x360
#define R_LVT_ERROR   0x370
#define R_TIMER_ICR   0x380
#define R_TIMER_CCR   0x390
#define R_TIMER_DCR   0x3e0
#define R_LAST	      0x3f0

#define REG(l, off) ((l)->regs[(off) >> 4])

#define APIC_VERSION 0x00050014u /* version 0x14, 6 LVT entries (5 in bits 23-16) */

#define SVR_ENABLE   (1u << 8)
#define SVR_WRITABLE 0x3ffu /* vector, software enable, focus processor checking */

/* LVT and ICR fields. */
#define LVT_VECTOR	    0xffu
#define LVT_DELMODE	    (7u << 8)
#define LVT_PENDING	    (1u << 12) /* delivery status */
#define LVT_POLARITY	    (1u << 13)
#define LVT_REMOTE	    (1u << 14)
#define LVT_LEVEL	    (1u << 15)
#define LVT_MASKED	    (1u << 16)
#define LVT_PERIODIC	    (1u << 17)
#define ICR_LOGICAL	    (1u << 11)
#define ICR_BUSY	    (1u << 12)
#define ICR_ASSERT	    (1u << 14)
#define ICR_LEVEL	    (1u << 15)
#define ICR_SHORTHAND_SHIFT 18

/*
 * What a guest write keeps of each LVT: as KVM, delivery status (and on the
 * LINT entries remote IRR) are kept as written rather than read-only (SDM),
 * so that both backends read back the same; no TSC-deadline mode.
 */
#define LVT_BASIC   (LVT_MASKED | LVT_PENDING | LVT_VECTOR)
#define LVT_W_TIMER (LVT_BASIC | LVT_PERIODIC)
#define LVT_W_LOCAL (LVT_BASIC | LVT_DELMODE)
#define LVT_W_LINT  (LVT_BASIC | LVT_DELMODE | LVT_POLARITY | LVT_REMOTE | LVT_LEVEL)
#define LVT_W_ERROR LVT_BASIC

enum { DM_FIXED = 0, DM_LOWEST = 1, DM_NMI = 4, DM_INIT = 5, DM_EXTINT = 7 };
enum { SH_NONE = 0, SH_SELF = 1, SH_ALL = 2, SH_OTHERS = 3 };

/* ESR bits (SDM 11.5.3). */
#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)

/* A bus cycle of the timer in ns: the timer runs at VMM_GUEST_LAPIC_TIMER_HZ. */
_Static_assert(1000000000u % VMM_GUEST_LAPIC_TIMER_HZ == 0, "whole ns per timer cycle");
#define CYCLE_NS (1000000000u / VMM_GUEST_LAPIC_TIMER_HZ)
/*
 * KVM raises a periodic timer's period to at least this (its
 * min_timer_period_us default): a guest cannot make the host fire a
 * timer more often than 5000 times a second, and both backends agree.
 */
#define MIN_PERIOD_NS 200000ull

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static bool test_vec(const uint32_t *bits, uint8_t v)
{
	return bits[v >> 5] >> (v & 31) & 1;
}

static void set_vec(uint32_t *bits, uint8_t v)
{
	bits[v >> 5] |= 1u << (v & 31);
}

static void clear_vec(uint32_t *bits, uint8_t v)
{
	bits[v >> 5] &= ~(1u << (v & 31));
}

/* The highest vector set in 256 bits, or -1. */
static int highest(const uint32_t *bits)
{
	for (int i = 7; i >= 0; i--)
		if (bits[i])
			return i * 32 + 31 - __builtin_clz(bits[i]);
	return -1;
}

static bool sw_enabled(const struct vmmi_lapic *l)
{
	return REG(l, R_SVR) & SVR_ENABLE;
}

/* The current APIC ID (the ID register's bits 31-24). */
static uint8_t cur_id(const struct vmmi_lapic *l)
{
	return (uint8_t)(REG(l, R_ID) >> 24);
}

/* PPR (SDM 11.8.3.1): TPR if its class is at least the highest in service, else that class. */
static uint32_t ppr(const struct vmmi_lapic *l)
{
	uint32_t tpr = REG(l, R_TPR) & 0xff;
	int isrv = highest(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (tpr & 0xf0) >= isr_class ? tpr : isr_class;
}

/* ---- the timer ---- */

/* The divide configuration register's divisor: 2, 4, ... 128, 1 (SDM figure 11-10). */
static uint32_t divisor(const struct vmmi_lapic *l)
{
	uint32_t dcr = REG(l, R_TIMER_DCR);
	uint32_t code = (dcr & 3) | (dcr >> 1 & 4);

	return 1u << ((code + 1) & 7);
}

static bool periodic(const struct vmmi_lapic *l)
{
	return REG(l, R_LVT_TIMER) & LVT_PERIODIC;
}

/* One count-down in ns: at most 2^32 * 128 ns, no overflow. */
static uint64_t count_ns(const struct vmmi_lapic *l)
{
	uint64_t ns = (uint64_t)REG(l, R_TIMER_ICR) * divisor(l) * CYCLE_NS;

	if (periodic(l) && ns && ns < MIN_PERIOD_NS)
		ns = MIN_PERIOD_NS;
	return ns;
}

static void timer_stop(struct vmmi_lapic *l)
{
	l->deadline_ns = 0;
	l->period_ns = 0;
}

/* Writing the initial count starts a count-down from it now; 0 stops the timer. */
static void timer_start(struct vmmi_lapic *l, uint64_t now_ns)
{
	l->period_ns = count_ns(l);
	if (!l->period_ns) {
		timer_stop(l);
		return;
	}
	l->timer_start_ns = now_ns;
	/* deadline_ns 0 means stopped; a clock at 0 cannot make it so. */
	l->deadline_ns = add_sat(now_ns, l->period_ns) ?: 1;
}

/*
 * A new divisor: the count left goes on at the new rate (as KVM: the time
 * left scales by new / old), and later periods take the new length.
 */
static void timer_rescale(struct vmmi_lapic *l, uint32_t old_div, uint64_t now_ns)
{
	uint32_t new_div = divisor(l);

	if (!l->deadline_ns || new_div == old_div)
		return;
	l->period_ns = count_ns(l);
	if (now_ns < l->deadline_ns) {
		/* At most 2^39 ns are left unless the deadline saturated: keep that one. */
		uint64_t left = l->deadline_ns - now_ns;

		if (left <= UINT64_MAX / new_div)
			l->deadline_ns = add_sat(now_ns, left * new_div / old_div) ?: 1;
	}
	/* Where a count-down at the new rate, ending there, would have begun. */
	l->timer_start_ns = l->deadline_ns > l->period_ns ? l->deadline_ns - l->period_ns : 0;
}

/* The current count: what is left of this count-down, in timer cycles. */
static uint32_t timer_current(const struct vmmi_lapic *l, uint64_t now_ns)
{
	uint64_t left, cycle = (uint64_t)divisor(l) * CYCLE_NS, count;
	uint32_t initial = REG(l, R_TIMER_ICR);

	if (!l->deadline_ns || !initial || !l->period_ns)
		return 0;
	if (now_ns < l->deadline_ns)
		left = l->deadline_ns - now_ns;
	else if (periodic(l))
		left = l->period_ns - (now_ns - l->deadline_ns) % l->period_ns;
	else
		return 0; /* a one-shot count-down that has ended */
	count = left / cycle;
	/* A period raised to MIN_PERIOD_NS still counts from the initial count. */
	return count > initial ? initial : (uint32_t)count;
}

/* ---- errors and local interrupts ---- */

static void deliver_lvt(struct vmmi_lapic *l, uint32_t reg);

/*
 * An error (SDM 11.5.3): latched until the next ESR write moves it to ESR.
 * The error LVT fires on the first error after that write (the write
 * "rearms" the error interrupt). SDM, not KVM: KVM records no errors.
 */
static void record_error(struct vmmi_lapic *l, uint32_t bit)
{
	bool armed = l->esr_errors == 0;

	l->esr_errors |= bit;
	if (armed)
		deliver_lvt(l, R_LVT_ERROR);
}

/* A fixed interrupt for this APIC: IRR, and TMR as the trigger says. */
static void accept_fixed(struct vmmi_lapic *l, uint8_t vector, bool level)
{
	if (!sw_enabled(l))
		return; /* SDM 11.4.7.2 */
	if (vector < 16) {
		record_error(l, ESR_RECV_ILLEGAL); /* SDM, not KVM: KVM accepts vectors 0-15 */
		return;
	}
	set_vec(l->irr, vector);
	if (level)
		set_vec(l->tmr, vector);
	else
		clear_vec(l->tmr, vector);
}

/* An LVT entry's interrupt: the timer's and the error's (nothing drives the others). */
static void deliver_lvt(struct vmmi_lapic *l, uint32_t reg)
{
	uint32_t lvt = REG(l, reg);

	if (lvt & LVT_MASKED)
		return;
	/* The timer and error entries have no delivery mode: fixed, edge. */
	accept_fixed(l, (uint8_t)(lvt & LVT_VECTOR), false);
}

/* ---- the public interface ---- */

void vmmi_lapic_init(struct vmmi_lapic *l, uint32_t id, bool bsp, const struct vmmi_lapic_ops *ops,
		     void *opaque)
{
	*l = (struct vmmi_lapic){.id = id, .bsp = bsp, .ops = ops, .opaque = opaque};
	vmmi_lapic_reset(l);
}

void vmmi_lapic_reset(struct vmmi_lapic *l)
{
	static const uint32_t lvts[] = {R_LVT_TIMER, R_LVT_THERMAL, R_LVT_PERF,
					R_LVT_LINT0, R_LVT_LINT1,   R_LVT_ERROR};

	for (size_t i = 0; i < sizeof(l->regs) / sizeof(l->regs[0]); i++)
		l->regs[i] = 0;
	for (size_t i = 0; i < 8; i++)
		l->irr[i] = l->isr[i] = l->tmr[i] = 0;
	REG(l, R_ID) = l->id << 24;
	REG(l, R_VER) = APIC_VERSION;
	REG(l, R_DFR) = 0xffffffffu;
	REG(l, R_SVR) = 0xff;
	for (size_t i = 0; i < sizeof(lvts) / sizeof(lvts[0]); i++)
		REG(l, lvts[i]) = LVT_MASKED;
	/* vCPU 0's LINT0 is ExtINT, unmasked, as KVM sets it (its LINT0_REENABLED quirk). */
	if (l->bsp)
		REG(l, R_LVT_LINT0) = DM_EXTINT << 8;
	l->esr_errors = 0;
	l->nmi_pending = false;
	l->init_pending = false;
	l->timer_start_ns = 0;
	timer_stop(l);
}

uint32_t vmmi_lapic_read(struct vmmi_lapic *l, uint32_t offset, uint64_t now_ns)
{
	uint32_t reg = offset & ~0xfu, shift = (offset & 0xf) * 8, v;

	if (offset > 0xfff || reg > R_LAST || (offset & 0xf) > 3)
		return 0;
	switch (reg) {
	case R_APR: /* reserved on the xAPIC: reads 0 */
	case R_EOI: /* write-only */
		v = 0;
		break;
	case R_PPR:
		v = ppr(l);
		break;
	case R_TIMER_CCR:
		v = timer_current(l, now_ns);
		break;
	case R_ESR:
	case R_ID:
	case R_VER:
	case R_TPR:
	case R_LDR:
	case R_DFR:
	case R_SVR:
	case R_ICR_LO:
	case R_ICR_HI:
	case R_LVT_TIMER:
	case R_LVT_THERMAL:
	case R_LVT_PERF:
	case R_LVT_LINT0:
	case R_LVT_LINT1:
	case R_LVT_ERROR:
	case R_TIMER_ICR:
	case R_TIMER_DCR:
		v = REG(l, reg);
		break;
	default:
		if (reg >= R_ISR && reg < R_ISR + 0x80)
			v = l->isr[(reg - R_ISR) >> 4];
		else if (reg >= R_TMR && reg < R_TMR + 0x80)
			v = l->tmr[(reg - R_TMR) >> 4];
		else if (reg >= R_IRR && reg < R_IRR + 0x80)
			v = l->irr[(reg - R_IRR) >> 4];
		else
			v = 0; /* reserved */
		break;
	}
	return v >> shift;
}

/* EOI (SDM 11.8.5): the highest in-service vector is done; a level one tells the I/O APIC. */
static void eoi(struct vmmi_lapic *l)
{
	int v = highest(l->isr);

	if (v < 0)
		return; /* an EOI with nothing in service does nothing (as KVM) */
	clear_vec(l->isr, (uint8_t)v);
	if (test_vec(l->tmr, (uint8_t)v) && l->ops && l->ops->eoi)
		l->ops->eoi(l->opaque, (uint8_t)v);
}

/*
 * The guest wrote ICR low (SDM 11.6.1): deliver to this APIC where the
 * message names it, and hand what may name others to ops->ipi.
 */
static void send_ipi(struct vmmi_lapic *l, uint32_t icr)
{
	uint8_t vector = (uint8_t)(icr & 0xff), dest = (uint8_t)(REG(l, R_ICR_HI) >> 24);
	unsigned mode = icr >> 8 & 7, shorthand = icr >> ICR_SHORTHAND_SHIFT & 3;
	bool deassert = (icr & ICR_LEVEL) && !(icr & ICR_ASSERT);
	bool self;

	switch (mode) {
	case DM_FIXED:
	case DM_LOWEST:
		if (deassert)
			return; /* a level de-assert carries no interrupt (as KVM) */
		if (vector < 16) {
			record_error(l, ESR_SEND_ILLEGAL); /* SDM, not KVM: not sent */
			return;
		}
		break;
	case DM_NMI:
		break;
	case DM_INIT:
		if (deassert)
			return; /* INIT level de-assert: ignored by current CPUs (and KVM) */
		break;
	default:
		return; /* SMI, start-up and the reserved modes: not modelled (guest.h) */
	}
	switch (shorthand) {
	case SH_SELF:
	case SH_ALL:
		self = true;
		break;
	case SH_OTHERS:
		self = false;
		break;
	default:
		self = vmmi_lapic_match(l, dest, icr & ICR_LOGICAL);
		break;
	}
	/* IPIs are edge-triggered: the SDM has the ICR's trigger bit ignored but for INIT. */
	if (self)
		vmmi_lapic_accept(l, vector, mode, false);
	if (shorthand == SH_SELF || (self && mode == DM_LOWEST))
		return;
	if (l->ops && l->ops->ipi)
		l->ops->ipi(l->opaque, cur_id(l), icr, dest);
}

static void write_lvt(struct vmmi_lapic *l, uint32_t reg, uint32_t value, uint32_t writable)
{
	/* A software-disabled APIC keeps every LVT masked (SDM 11.4.7.2). */
	if (!sw_enabled(l))
		value |= LVT_MASKED;
	REG(l, reg) = value & writable;
}

void vmmi_lapic_write(struct vmmi_lapic *l, uint32_t offset, uint32_t value, uint64_t now_ns)
{
	static const uint32_t lvts[] = {R_LVT_TIMER, R_LVT_THERMAL, R_LVT_PERF,
					R_LVT_LINT0, R_LVT_LINT1,   R_LVT_ERROR};
	uint32_t old_div;

	if (offset > R_LAST || (offset & 0xf))
		return;
	switch (offset) {
	case R_ID:
		REG(l, R_ID) = value & 0xff000000u; /* writable in xAPIC mode, as KVM */
		break;
	case R_TPR:
		REG(l, R_TPR) = value & 0xff;
		break;
	case R_EOI:
		eoi(l);
		break;
	case R_LDR:
		REG(l, R_LDR) = value & 0xff000000u;
		break;
	case R_DFR:
		REG(l, R_DFR) = value | 0x0fffffffu; /* only the model, bits 31-28 */
		break;
	case R_SVR:
		REG(l, R_SVR) = value & SVR_WRITABLE;
		if (!(value & SVR_ENABLE))
			for (size_t i = 0; i < sizeof(lvts) / sizeof(lvts[0]); i++)
				REG(l, lvts[i]) |= LVT_MASKED;
		break;
	case R_ESR:
		/* The value written does not matter (SDM 11.5.3). */
		REG(l, R_ESR) = l->esr_errors;
		l->esr_errors = 0;
		break;
	case R_ICR_LO:
		/* Delivery is immediate: the delivery status always reads idle. */
		REG(l, R_ICR_LO) = value & ~ICR_BUSY;
		send_ipi(l, REG(l, R_ICR_LO));
		break;
	case R_ICR_HI:
		REG(l, R_ICR_HI) = value & 0xff000000u;
		break;
	case R_LVT_TIMER:
		write_lvt(l, offset, value, LVT_W_TIMER);
		/* A new mode takes effect at the end of the current count-down. */
		if (l->deadline_ns)
			l->period_ns = count_ns(l);
		break;
	case R_LVT_THERMAL:
	case R_LVT_PERF:
		write_lvt(l, offset, value, LVT_W_LOCAL);
		break;
	case R_LVT_LINT0:
	case R_LVT_LINT1:
		write_lvt(l, offset, value, LVT_W_LINT);
		break;
	case R_LVT_ERROR:
		write_lvt(l, offset, value, LVT_W_ERROR);
		break;
	case R_TIMER_ICR:
		REG(l, R_TIMER_ICR) = value;
		timer_start(l, now_ns);
		break;
	case R_TIMER_DCR:
		old_div = divisor(l);
		REG(l, R_TIMER_DCR) = value & 0xb;
		timer_rescale(l, old_div, now_ns);
		break;
	default:
		break; /* read-only or reserved */
	}
}

void vmmi_lapic_accept(struct vmmi_lapic *l, uint8_t vector, unsigned delivery_mode, bool level)
{
	switch (delivery_mode) {
	case DM_FIXED:
	case DM_LOWEST:
		accept_fixed(l, vector, level);
		break;
	case DM_NMI:
		l->nmi_pending = true;
		break;
	case DM_INIT:
		l->init_pending = true;
		break;
	default:
		break; /* SMI, start-up, ExtINT and the reserved modes: not modelled */
	}
}

bool vmmi_lapic_match(const struct vmmi_lapic *l, uint8_t dest, bool logical)
{
	uint8_t ldr = (uint8_t)(REG(l, R_LDR) >> 24);

	if (dest == 0xff)
		return true; /* broadcast, physical and logical */
	if (!logical)
		return dest == cur_id(l);
	switch (REG(l, R_DFR) >> 28) {
	case 0xf: /* flat: LDR is a bit mask of up to 8 APICs */
		return (ldr & dest) != 0;
	case 0x0: /* cluster: bits 7-4 name the cluster, bits 3-0 its members */
		return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xf) != 0;
	default:
		return false; /* no such model (as KVM) */
	}
}

void vmmi_lapic_tick(struct vmmi_lapic *l, uint64_t now_ns)
{
	uint64_t late, periods;

	if (!l->deadline_ns || now_ns < l->deadline_ns)
		return;
	/* A masked timer counts all the same; it only sets no IRR bit (SDM 11.5.4). */
	deliver_lvt(l, R_LVT_TIMER);
	if (!periodic(l) || !l->period_ns) {
		timer_stop(l);
		return;
	}
	/* The next deadline after now on the period's grid: missed periods fire once. */
	late = now_ns - l->deadline_ns;
	periods = late / l->period_ns + 1;
	if (periods > UINT64_MAX / l->period_ns)
		l->deadline_ns = UINT64_MAX;
	else
		l->deadline_ns = add_sat(l->deadline_ns, periods * l->period_ns);
	l->timer_start_ns = l->deadline_ns - l->period_ns;
}

uint64_t vmmi_lapic_next_deadline(const struct vmmi_lapic *l)
{
	return l->deadline_ns ? l->deadline_ns : UINT64_MAX;
}

int vmmi_lapic_pending(const struct vmmi_lapic *l)
{
	int v = highest(l->irr);

	/* SDM 11.8.3.1: only a class above the processor priority's class gets through. */
	if (v < 0 || ((uint32_t)v & 0xf0) <= (ppr(l) & 0xf0))
		return -1;
	return v;
}

uint8_t vmmi_lapic_ack(struct vmmi_lapic *l, uint8_t vector)
{
	int v = vmmi_lapic_pending(l);

	(void)vector;
	if (v < 0)
		return (uint8_t)(REG(l, R_SVR) & 0xff); /* SDM 11.9: spurious, no ISR bit */
	clear_vec(l->irr, (uint8_t)v);
	set_vec(l->isr, (uint8_t)v);
	return (uint8_t)v;
}
