/* SPDX-License-Identifier: MIT */
/*
 * test_emu_lapic.c - specification of the emu backend's local APIC model
 * (backend/emu_lapic.c), alone, against Intel's SDM vol. 3 chapter 11,
 * with a fake clock and fake ops that record what leaves the model.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "backend/emu_lapic.h"

/* The xAPIC register page, written out here rather than taken from the model. */
#define ID	 0x020
#define VER	 0x030
#define TPR	 0x080
#define APR	 0x090
#define PPR	 0x0a0
#define EOI	 0x0b0
#define LDR	 0x0d0
#define DFR	 0x0e0
#define SVR	 0x0f0
#define ISR	 0x100
#define TMR	 0x180
#define IRR	 0x200
#define ESR	 0x280
#define ICR_LO	 0x300
#define ICR_HI	 0x310
#define LVT_T	 0x320
#define LVT_TH	 0x330
#define LVT_PC	 0x340
#define LVT_0	 0x350
#define LVT_1	 0x360
#define LVT_ERR	 0x370
#define TMICT	 0x380
#define TMCCT	 0x390
#define TDCR	 0x3e0
#define MASKED	 0x10000u
#define PERIODIC 0x20000u
#define ENABLE	 0x100u

#define DM_FIXED  (0u << 8)
#define DM_LOWEST (1u << 8)
#define DM_NMI	  (4u << 8)
#define DM_INIT	  (5u << 8)
#define LOGICAL	  (1u << 11)
#define ASSERT	  (1u << 14)
#define LEVEL	  (1u << 15)
#define SH_SELF	  (1u << 18)
#define SH_ALL	  (2u << 18)
#define SH_OTHERS (3u << 18)

#define T0 1000000000ull /* the fake clock's start: 1 s */

struct sent {
	unsigned n;
	void *opaque;
	uint32_t self_id, icr;
	uint8_t dest;
};

static struct vmmi_lapic apic;
static struct sent ipis;
static unsigned eois;
static uint8_t eoi_vector;
static int token;

static void fake_ipi(void *opaque, uint32_t self_id, uint32_t icr_lo, uint8_t dest)
{
	ipis.n++;
	ipis.opaque = opaque;
	ipis.self_id = self_id;
	ipis.icr = icr_lo;
	ipis.dest = dest;
}

static void fake_eoi(void *opaque, uint8_t vector)
{
	cr_assert_eq(opaque, &token);
	eois++;
	eoi_vector = vector;
}

static const struct vmmi_lapic_ops ops = {.ipi = fake_ipi, .eoi = fake_eoi};

static uint32_t rd(uint32_t off)
{
	return vmmi_lapic_read(&apic, off, T0);
}

static void wr(uint32_t off, uint32_t v)
{
	vmmi_lapic_write(&apic, off, v, T0);
}

static bool in(uint32_t base, uint8_t v)
{
	return rd(base + (v >> 5) * 0x10) >> (v & 31) & 1;
}

/* APIC 3 (not the BSP), software enabled with spurious vector 0xff. */
static void setup(void)
{
	ipis = (struct sent){0};
	eois = 0;
	eoi_vector = 0;
	vmmi_lapic_init(&apic, 3, false, &ops, &token);
	wr(SVR, ENABLE | 0xff);
}

TestSuite(emu_lapic, .init = setup);

/* Take the pending interrupt as the CPU would: the vector delivered. */
static int take(void)
{
	int v = vmmi_lapic_pending(&apic);

	return v < 0 ? -1 : vmmi_lapic_ack(&apic, (uint8_t)v);
}

/* ---- power-on state (guest.h) ---- */

Test(emu_lapic, powers_on_software_disabled_with_every_lvt_masked)
{
	vmmi_lapic_init(&apic, 3, false, &ops, &token);
	cr_assert_eq(rd(ID), 3u << 24);
	cr_assert_eq(rd(VER), 0x00050014u);
	cr_assert_eq(rd(SVR), 0xffu);
	cr_assert_eq(rd(TPR), 0);
	cr_assert_eq(rd(PPR), 0);
	cr_assert_eq(rd(LDR), 0);
	cr_assert_eq(rd(DFR), 0xffffffffu);
	for (uint32_t off = LVT_T; off <= LVT_ERR; off += 0x10)
		cr_assert_eq(rd(off), MASKED, "LVT at 0x%x", off);
	cr_assert_eq(rd(TMICT), 0);
	cr_assert_eq(rd(TMCCT), 0);
	cr_assert_eq(rd(TDCR), 0);
	cr_assert_eq(rd(ICR_LO), 0);
	cr_assert_eq(rd(ICR_HI), 0);
	cr_assert_eq(rd(ESR), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(rd(IRR + i * 0x10) | rd(ISR + i * 0x10) | rd(TMR + i * 0x10), 0);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), UINT64_MAX);
}

Test(emu_lapic, bsp_lint0_powers_on_as_extint)
{
	vmmi_lapic_init(&apic, 0, true, &ops, &token);
	cr_assert_eq(rd(LVT_0), 0x700u);
	cr_assert_eq(rd(LVT_1), MASKED);
}

Test(emu_lapic, reset_restores_the_power_on_id_and_state)
{
	wr(ID, 9u << 24);
	wr(TPR, 0x40);
	wr(TMICT, 1000);
	vmmi_lapic_accept(&apic, 0x40, 0, false);
	vmmi_lapic_accept(&apic, 0, 4, false);
	vmmi_lapic_reset(&apic);
	cr_assert_eq(rd(ID), 3u << 24);
	cr_assert_eq(rd(TPR), 0);
	cr_assert_eq(rd(SVR), 0xffu);
	cr_assert_not(in(IRR, 0x40));
	cr_assert_not(apic.nmi_pending);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), UINT64_MAX);
	cr_assert_eq(apic.ops, &ops);
	cr_assert_eq(apic.opaque, &token);
}

/* ---- the register page ---- */

Test(emu_lapic, apr_eoi_and_reserved_registers_read_zero)
{
	wr(APR, 0xff);
	cr_assert_eq(rd(APR), 0);
	cr_assert_eq(rd(EOI), 0);
	cr_assert_eq(rd(0x000), 0);
	cr_assert_eq(rd(0x3f0), 0);
	cr_assert_eq(rd(0x400), 0);
	cr_assert_eq(rd(0xff0), 0);
	cr_assert_eq(rd(0x1000), 0);
	cr_assert_eq(rd(0xffffffffu), 0);
}

Test(emu_lapic, read_only_registers_ignore_writes)
{
	wr(VER, 0);
	wr(PPR, 0xff);
	wr(IRR + 0x10, ~0u);
	wr(ISR + 0x10, ~0u);
	wr(TMR + 0x10, ~0u);
	wr(TMCCT, 5);
	cr_assert_eq(rd(VER), 0x00050014u);
	cr_assert_eq(rd(PPR), 0);
	cr_assert_eq(rd(IRR + 0x10) | rd(ISR + 0x10) | rd(TMR + 0x10), 0);
	cr_assert_eq(rd(TMCCT), 0);
}

Test(emu_lapic, byte_reads_inside_a_register_see_its_bytes)
{
	wr(TPR, 0x5a);
	cr_assert_eq(rd(ID + 3) & 0xff, 3);
	cr_assert_eq(rd(TPR + 0) & 0xff, 0x5a);
	cr_assert_eq(rd(TPR + 1), 0);
	cr_assert_eq(rd(VER + 2) & 0xff, 0x05);
	cr_assert_eq(rd(VER + 4), 0, "bytes 4-15 of a register's 16 are reserved");
}

Test(emu_lapic, writes_off_a_register_boundary_are_ignored)
{
	wr(TPR + 1, 0x70);
	wr(TPR + 4, 0x70);
	cr_assert_eq(rd(TPR), 0);
	wr(TPR, 0x70);
	cr_assert_eq(rd(TPR), 0x70);
}

Test(emu_lapic, register_writes_keep_only_their_defined_bits)
{
	wr(TPR, 0xffffffffu);
	cr_assert_eq(rd(TPR), 0xff);
	wr(LDR, 0xffffffffu);
	cr_assert_eq(rd(LDR), 0xff000000u);
	wr(DFR, 0);
	cr_assert_eq(rd(DFR), 0x0fffffffu);
	wr(ICR_HI, 0xffffffffu);
	cr_assert_eq(rd(ICR_HI), 0xff000000u);
	wr(TDCR, 0xffffffffu);
	cr_assert_eq(rd(TDCR), 0xb);
	wr(SVR, 0xffffffffu);
	cr_assert_eq(rd(SVR), 0x3ff);
	wr(LVT_T, 0xffffffffu);
	cr_assert_eq(rd(LVT_T), 0x310ff, "no TSC-deadline mode (bit 18)");
	wr(LVT_ERR, 0xffffffffu);
	cr_assert_eq(rd(LVT_ERR), 0x110ff);
	wr(LVT_PC, 0xffffffffu);
	cr_assert_eq(rd(LVT_PC), 0x117ff);
	wr(LVT_1, 0xffffffffu);
	cr_assert_eq(rd(LVT_1), 0x1f7ff);
}

Test(emu_lapic, the_id_register_is_writable_and_names_the_apic)
{
	cr_assert(vmmi_lapic_match(&apic, 3, false));
	wr(ID, 0x07123456u);
	cr_assert_eq(rd(ID), 0x07000000u);
	cr_assert(vmmi_lapic_match(&apic, 7, false));
	cr_assert_not(vmmi_lapic_match(&apic, 3, false));
}

/* ---- software enable (SDM 11.4.7.2) ---- */

Test(emu_lapic, software_disable_masks_every_lvt)
{
	wr(LVT_T, 0x30);
	wr(LVT_ERR, 0x31);
	wr(LVT_0, 0x700);
	cr_assert_eq(rd(LVT_T), 0x30);
	wr(SVR, 0xff);
	cr_assert_eq(rd(LVT_T), MASKED | 0x30);
	cr_assert_eq(rd(LVT_ERR), MASKED | 0x31);
	cr_assert_eq(rd(LVT_0), MASKED | 0x700);
}

Test(emu_lapic, lvt_writes_while_disabled_stay_masked)
{
	wr(SVR, 0xff);
	wr(LVT_T, 0x30);
	cr_assert_eq(rd(LVT_T), MASKED | 0x30);
	wr(SVR, ENABLE | 0xff);
	cr_assert_eq(rd(LVT_T), MASKED | 0x30, "enabling unmasks nothing");
	wr(LVT_T, 0x30);
	cr_assert_eq(rd(LVT_T), 0x30);
}

Test(emu_lapic, disabled_apic_ignores_fixed_interrupts)
{
	wr(SVR, 0xff);
	vmmi_lapic_accept(&apic, 0x40, 0, false);
	vmmi_lapic_accept(&apic, 0x41, 1, true);
	cr_assert_not(in(IRR, 0x40));
	cr_assert_not(in(IRR, 0x41));
	cr_assert_eq(vmmi_lapic_pending(&apic), -1);
}

Test(emu_lapic, disabled_apic_accepts_nmi_and_init)
{
	wr(SVR, 0xff);
	vmmi_lapic_accept(&apic, 0, 4, false);
	cr_assert(apic.nmi_pending);
	vmmi_lapic_accept(&apic, 0, 5, false);
	cr_assert(apic.init_pending);
}

/* ---- priorities (SDM 11.8.3) ---- */

Test(emu_lapic, tpr_masks_its_class_and_below)
{
	wr(TPR, 0x45);
	vmmi_lapic_accept(&apic, 0x4f, 0, false);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1, "class 4 = TPR's class: held");
	cr_assert(in(IRR, 0x4f), "held, not lost");
	vmmi_lapic_accept(&apic, 0x50, 0, false);
	cr_assert_eq(vmmi_lapic_pending(&apic), 0x50);
	wr(TPR, 0x30);
	cr_assert_eq(vmmi_lapic_pending(&apic), 0x50, "the highest first");
}

Test(emu_lapic, in_service_class_masks_its_class_and_below)
{
	vmmi_lapic_accept(&apic, 0x55, 0, false);
	cr_assert_eq(take(), 0x55);
	cr_assert_eq(rd(PPR), 0x50);
	vmmi_lapic_accept(&apic, 0x5a, 0, false);
	vmmi_lapic_accept(&apic, 0x31, 0, false);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1, "same class as in service");
	vmmi_lapic_accept(&apic, 0x61, 0, false);
	cr_assert_eq(vmmi_lapic_pending(&apic), 0x61, "a higher class nests");
}

Test(emu_lapic, ppr_is_tpr_or_the_in_service_class_whichever_is_higher)
{
	wr(TPR, 0x23);
	cr_assert_eq(rd(PPR), 0x23);
	vmmi_lapic_accept(&apic, 0x87, 0, false);
	cr_assert_eq(take(), 0x87);
	cr_assert_eq(rd(PPR), 0x80);
	wr(TPR, 0x9c);
	cr_assert_eq(rd(PPR), 0x9c);
	wr(TPR, 0x8c);
	cr_assert_eq(rd(PPR), 0x8c, "TPR's class equal to ISR's: PPR = TPR");
}

Test(emu_lapic, ack_moves_the_vector_from_irr_to_isr)
{
	vmmi_lapic_accept(&apic, 0x40, 0, false);
	cr_assert(in(IRR, 0x40));
	cr_assert_eq(vmmi_lapic_ack(&apic, 0x40), 0x40);
	cr_assert_not(in(IRR, 0x40));
	cr_assert(in(ISR, 0x40));
}

Test(emu_lapic, an_interrupt_pending_twice_is_taken_once)
{
	vmmi_lapic_accept(&apic, 0x40, 0, false);
	vmmi_lapic_accept(&apic, 0x40, 0, false);
	cr_assert_eq(take(), 0x40);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1);
}

Test(emu_lapic, ack_after_the_irr_bit_is_masked_gives_the_spurious_vector)
{
	wr(SVR, ENABLE | 0xef);
	vmmi_lapic_accept(&apic, 0x40, 0, false);
	cr_assert_eq(vmmi_lapic_pending(&apic), 0x40);
	wr(TPR, 0x50); /* raised between the CPU seeing it and acknowledging it */
	cr_assert_eq(vmmi_lapic_ack(&apic, 0x40), 0xef);
	cr_assert_not(in(ISR, 0x40), "a spurious interrupt sets no ISR bit");
	cr_assert(in(IRR, 0x40), "the interrupt is held for later");
	cr_assert_eq(rd(PPR), 0x50);
}

/* ---- EOI (SDM 11.8.5) ---- */

Test(emu_lapic, eoi_clears_the_highest_in_service_vector_first)
{
	vmmi_lapic_accept(&apic, 0x40, 0, false);
	cr_assert_eq(take(), 0x40);
	vmmi_lapic_accept(&apic, 0x90, 0, false);
	cr_assert_eq(take(), 0x90);
	wr(EOI, 0);
	cr_assert_not(in(ISR, 0x90));
	cr_assert(in(ISR, 0x40));
	cr_assert_eq(rd(PPR), 0x40);
	wr(EOI, 0);
	cr_assert_not(in(ISR, 0x40));
	cr_assert_eq(rd(PPR), 0);
}

Test(emu_lapic, eoi_lets_a_held_interrupt_through)
{
	vmmi_lapic_accept(&apic, 0x45, 0, false);
	cr_assert_eq(take(), 0x45);
	vmmi_lapic_accept(&apic, 0x44, 0, false);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1);
	wr(EOI, 0);
	cr_assert_eq(vmmi_lapic_pending(&apic), 0x44);
}

Test(emu_lapic, eoi_of_a_level_interrupt_tells_the_io_apic)
{
	vmmi_lapic_accept(&apic, 0x60, 0, true);
	cr_assert(in(TMR, 0x60));
	cr_assert_eq(take(), 0x60);
	cr_assert_eq(eois, 0);
	wr(EOI, 0);
	cr_assert_eq(eois, 1);
	cr_assert_eq(eoi_vector, 0x60);
}

Test(emu_lapic, eoi_of_an_edge_interrupt_tells_nobody)
{
	vmmi_lapic_accept(&apic, 0x60, 0, true);
	cr_assert_eq(take(), 0x60);
	wr(EOI, 0);
	vmmi_lapic_accept(&apic, 0x60, 0, false);
	cr_assert_not(in(TMR, 0x60), "an edge acceptance clears the TMR bit");
	cr_assert_eq(take(), 0x60);
	wr(EOI, 0);
	cr_assert_eq(eois, 1);
}

Test(emu_lapic, eoi_with_nothing_in_service_does_nothing)
{
	vmmi_lapic_accept(&apic, 0x60, 0, true);
	wr(EOI, 0);
	cr_assert_eq(eois, 0);
	cr_assert(in(IRR, 0x60), "EOI does not touch IRR");
}

/* ---- ESR (SDM 11.5.3) ---- */

Test(emu_lapic, esr_shows_errors_only_after_a_write)
{
	vmmi_lapic_accept(&apic, 0x0e, 0, false);
	cr_assert_not(in(IRR, 0x0e), "vectors 0-15 are illegal");
	cr_assert_eq(rd(ESR), 0, "errors are latched until ESR is written");
	wr(ESR, 0);
	cr_assert_eq(rd(ESR), 0x40, "receive illegal vector");
	wr(ESR, 0);
	cr_assert_eq(rd(ESR), 0, "a write with no new error clears it");
}

Test(emu_lapic, sending_an_illegal_vector_is_an_error_and_sends_nothing)
{
	wr(ICR_LO, SH_OTHERS | 0x05);
	cr_assert_eq(ipis.n, 0);
	wr(ESR, 0);
	cr_assert_eq(rd(ESR), 0x20, "send illegal vector");
}

Test(emu_lapic, the_error_lvt_fires_on_the_first_error_after_an_esr_write)
{
	wr(LVT_ERR, 0xfe);
	vmmi_lapic_accept(&apic, 0x01, 0, false);
	cr_assert_eq(take(), 0xfe);
	wr(EOI, 0);
	vmmi_lapic_accept(&apic, 0x02, 0, false);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1, "not rearmed until ESR is written");
	wr(ESR, 0);
	vmmi_lapic_accept(&apic, 0x03, 0, false);
	cr_assert_eq(take(), 0xfe);
}

Test(emu_lapic, a_masked_error_lvt_only_records)
{
	wr(LVT_ERR, MASKED | 0xfe);
	vmmi_lapic_accept(&apic, 0x01, 0, false);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1);
	wr(ESR, 0);
	cr_assert_eq(rd(ESR), 0x40);
}

/* ---- the timer (SDM 11.5.4) ---- */

/* Arm the timer at T0: LVT value lvt, divide configuration dcr, initial count. */
static void arm(uint32_t lvt, uint32_t dcr, uint32_t count)
{
	wr(LVT_T, lvt);
	wr(TDCR, dcr);
	wr(TMICT, count);
}

Test(emu_lapic, one_shot_fires_once_at_its_deadline)
{
	arm(0x30, 0xb /* divide by 1 */, 1000);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 1000);
	vmmi_lapic_tick(&apic, T0 + 999);
	cr_assert_not(in(IRR, 0x30), "1 ns early");
	vmmi_lapic_tick(&apic, T0 + 1000);
	cr_assert(in(IRR, 0x30));
	cr_assert_eq(take(), 0x30);
	wr(EOI, 0);
	vmmi_lapic_tick(&apic, T0 + 5000);
	vmmi_lapic_tick(&apic, T0 + 1000000);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1, "a one-shot timer fires once");
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), UINT64_MAX);
	cr_assert_eq(rd(TMICT), 1000, "the initial count stays");
}

Test(emu_lapic, current_count_runs_down_from_the_initial_count)
{
	arm(0x30, 0xb, 1000);
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0), 1000);
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 250), 750);
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 999), 1);
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 1000), 0);
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 10000), 0, "a one-shot stays at 0");
}

Test(emu_lapic, the_divider_slows_the_count)
{
	/* SDM figure 11-10: bits 3, 1, 0 of the divide configuration register. */
	static const struct {
		uint32_t dcr, div;
	} codes[] = {{0x0, 2},	{0x1, 4},  {0x2, 8},   {0x3, 16},
		     {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		setup();
		arm(0x30, codes[i].dcr, 100);
		cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 100ull * codes[i].div,
			     "divide configuration 0x%x", codes[i].dcr);
		cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + codes[i].div * 10ull), 90);
	}
}

Test(emu_lapic, changing_the_divider_mid_count_changes_the_rate_of_what_is_left)
{
	arm(0x30, 0xb, 1000);
	vmmi_lapic_write(&apic, TDCR, 0x0 /* divide by 2 */, T0 + 400);
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 400), 600);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 400 + 1200);
	cr_assert_eq(apic.timer_start_ns, T0 + 1600 - 2000, "as if begun at the new rate");
}

Test(emu_lapic, the_largest_count_and_divider_do_not_overflow)
{
	arm(PERIODIC | 0x30, 0xa /* 128 */, 0xffffffffu);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 0xffffffffull * 128);
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 128), 0xfffffffeu);
}

Test(emu_lapic, periodic_rearms_every_period)
{
	arm(PERIODIC | 0x31, 0xb, 1000000); /* 1 ms */
	for (uint64_t k = 1; k <= 3; k++) {
		vmmi_lapic_tick(&apic, T0 + k * 1000000 - 1);
		cr_assert_eq(vmmi_lapic_pending(&apic), -1, "period %llu early",
			     (unsigned long long)k);
		vmmi_lapic_tick(&apic, T0 + k * 1000000);
		cr_assert_eq(take(), 0x31, "period %llu", (unsigned long long)k);
		wr(EOI, 0);
		cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + (k + 1) * 1000000);
		cr_assert_eq(apic.timer_start_ns, T0 + k * 1000000,
			     "the period began at the deadline");
	}
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 3250000), 750000);
}

Test(emu_lapic, periodic_counts_missed_periods_once_and_keeps_its_grid)
{
	arm(PERIODIC | 0x31, 0xb, 1000000);
	vmmi_lapic_tick(&apic, T0 + 3500000);
	cr_assert_eq(take(), 0x31);
	wr(EOI, 0);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 4000000);
}

Test(emu_lapic, current_count_of_a_periodic_timer_wraps_without_a_tick)
{
	arm(PERIODIC | 0x31, 0xb, 1000000);
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 2250000), 750000);
}

Test(emu_lapic, a_periodic_period_is_at_least_200_us_as_on_kvm)
{
	arm(PERIODIC | 0x31, 0xb, 10);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 200000);
	cr_assert_leq(vmmi_lapic_read(&apic, TMCCT, T0), 10, "never above the initial count");
}

Test(emu_lapic, a_masked_timer_counts_but_sets_no_irr_bit)
{
	arm(MASKED | PERIODIC | 0x31, 0xb, 1000000);
	vmmi_lapic_tick(&apic, T0 + 1000000);
	cr_assert_not(in(IRR, 0x31));
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 2000000, "still counting");
	wr(LVT_T, PERIODIC | 0x31);
	vmmi_lapic_tick(&apic, T0 + 2000000);
	cr_assert(in(IRR, 0x31));
}

Test(emu_lapic, writing_initial_count_zero_stops_the_timer)
{
	arm(PERIODIC | 0x31, 0xb, 1000000);
	vmmi_lapic_write(&apic, TMICT, 0, T0 + 10);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), UINT64_MAX);
	vmmi_lapic_tick(&apic, T0 + 5000000);
	cr_assert_not(in(IRR, 0x31));
	cr_assert_eq(vmmi_lapic_read(&apic, TMCCT, T0 + 20), 0);
}

Test(emu_lapic, writing_initial_count_restarts_the_count)
{
	arm(0x30, 0xb, 1000);
	vmmi_lapic_write(&apic, TMICT, 1000, T0 + 800);
	vmmi_lapic_tick(&apic, T0 + 1000);
	cr_assert_not(in(IRR, 0x30));
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 1800);
}

Test(emu_lapic, a_mode_change_takes_effect_when_the_count_ends)
{
	arm(0x30, 0xb, 1000000);
	wr(LVT_T, PERIODIC | 0x30);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 1000000, "the count goes on");
	vmmi_lapic_tick(&apic, T0 + 1000000);
	cr_assert(in(IRR, 0x30));
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), T0 + 2000000, "now periodic");
	wr(LVT_T, 0x30);
	vmmi_lapic_tick(&apic, T0 + 2000000);
	cr_assert_eq(vmmi_lapic_next_deadline(&apic), UINT64_MAX, "one-shot again: ends");
}

Test(emu_lapic, a_timer_with_an_illegal_vector_records_an_error)
{
	arm(0x0f, 0xb, 10);
	vmmi_lapic_tick(&apic, T0 + 10);
	cr_assert_not(in(IRR, 0x0f));
	wr(ESR, 0);
	cr_assert_eq(rd(ESR), 0x40);
}

/* ---- ICR (SDM 11.6) ---- */

Test(emu_lapic, a_self_ipi_is_delivered_here_and_nowhere_else)
{
	wr(ICR_LO, SH_SELF | DM_FIXED | 0x70);
	cr_assert(in(IRR, 0x70));
	cr_assert_not(in(TMR, 0x70));
	cr_assert_eq(ipis.n, 0);
}

Test(emu_lapic, the_icr_reads_back_idle)
{
	wr(ICR_HI, 0x05000000u);
	wr(ICR_LO, 0x1000 | DM_FIXED | 0x70); /* the delivery status bit set */
	cr_assert_eq(rd(ICR_LO), 0x70, "delivery is immediate: status idle");
	cr_assert_eq(rd(ICR_HI), 0x05000000u);
}

Test(emu_lapic, all_including_self_is_delivered_here_and_to_the_others)
{
	wr(ICR_LO, SH_ALL | DM_FIXED | 0x71);
	cr_assert(in(IRR, 0x71));
	cr_assert_eq(ipis.n, 1);
	cr_assert_eq(ipis.icr, SH_ALL | DM_FIXED | 0x71);
	cr_assert_eq(ipis.self_id, 3);
	cr_assert_eq(ipis.opaque, &token);
}

Test(emu_lapic, all_excluding_self_goes_to_the_others_only)
{
	wr(ICR_LO, SH_OTHERS | DM_FIXED | 0x72);
	cr_assert_not(in(IRR, 0x72));
	cr_assert_eq(ipis.n, 1);
	cr_assert_eq(ipis.icr >> 18 & 3, 3);
}

Test(emu_lapic, an_ipi_to_another_apic_id_goes_through_ops)
{
	wr(ICR_HI, 5u << 24);
	wr(ICR_LO, DM_FIXED | ASSERT | 0x73);
	cr_assert_not(in(IRR, 0x73));
	cr_assert_eq(ipis.n, 1);
	cr_assert_eq(ipis.dest, 5);
	cr_assert_eq(ipis.icr & 0xff, 0x73);
}

Test(emu_lapic, an_ipi_naming_this_apic_is_delivered_here_too)
{
	wr(ICR_HI, 3u << 24);
	wr(ICR_LO, DM_FIXED | ASSERT | 0x74);
	cr_assert(in(IRR, 0x74));
	cr_assert_eq(ipis.n, 1, "another APIC may share the ID");
}

Test(emu_lapic, a_lowest_priority_ipi_naming_this_apic_stays_here)
{
	wr(ICR_HI, 0xffu << 24);
	wr(ICR_LO, DM_LOWEST | 0x75);
	cr_assert(in(IRR, 0x75));
	cr_assert_eq(ipis.n, 0, "lowest priority: one receiver");
}

Test(emu_lapic, ipis_are_edge_triggered)
{
	wr(ICR_LO, SH_SELF | DM_FIXED | LEVEL | ASSERT | 0x76);
	cr_assert(in(IRR, 0x76));
	cr_assert_not(in(TMR, 0x76));
}

Test(emu_lapic, an_nmi_ipi_to_self_sets_nmi_pending)
{
	wr(ICR_LO, SH_SELF | DM_NMI);
	cr_assert(apic.nmi_pending);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1, "an NMI does not use IRR");
}

Test(emu_lapic, init_and_nmi_ipis_go_to_others_through_ops)
{
	wr(ICR_HI, 1u << 24);
	wr(ICR_LO, DM_INIT | ASSERT);
	cr_assert_eq(ipis.n, 1);
	cr_assert_eq(ipis.icr & 0x700, DM_INIT);
	wr(ICR_LO, SH_OTHERS | DM_NMI);
	cr_assert_eq(ipis.n, 2);
	cr_assert_not(apic.init_pending);
	cr_assert_not(apic.nmi_pending);
}

Test(emu_lapic, init_level_deassert_is_ignored)
{
	wr(ICR_LO, SH_ALL | DM_INIT | LEVEL);
	cr_assert_not(apic.init_pending);
	cr_assert_eq(ipis.n, 0);
}

Test(emu_lapic, unmodelled_delivery_modes_send_nothing)
{
	wr(ICR_LO, SH_ALL | (2u << 8) /* SMI */);
	wr(ICR_LO, SH_ALL | (6u << 8) /* start-up */ | 0x10);
	wr(ICR_LO, SH_ALL | (7u << 8) /* reserved */ | 0x40);
	cr_assert_eq(ipis.n, 0);
	cr_assert_eq(vmmi_lapic_pending(&apic), -1);
}

Test(emu_lapic, a_disabled_apic_still_sends_ipis)
{
	wr(SVR, 0xff);
	wr(ICR_LO, SH_OTHERS | DM_FIXED | 0x77);
	cr_assert_eq(ipis.n, 1);
}

/* ---- destinations (SDM 11.6.2) ---- */

Test(emu_lapic, physical_destination_is_the_apic_id_or_broadcast)
{
	cr_assert(vmmi_lapic_match(&apic, 3, false));
	cr_assert_not(vmmi_lapic_match(&apic, 4, false));
	cr_assert(vmmi_lapic_match(&apic, 0xff, false));
}

Test(emu_lapic, flat_logical_destination_is_a_bit_of_ldr)
{
	cr_assert_not(vmmi_lapic_match(&apic, 0x04, true), "LDR 0 matches no bit");
	wr(LDR, 0x04000000u);
	cr_assert(vmmi_lapic_match(&apic, 0x04, true));
	cr_assert(vmmi_lapic_match(&apic, 0x0c, true));
	cr_assert_not(vmmi_lapic_match(&apic, 0x03, true));
	cr_assert(vmmi_lapic_match(&apic, 0xff, true));
}

Test(emu_lapic, cluster_logical_destination_is_cluster_and_member)
{
	wr(DFR, 0x0fffffffu);
	wr(LDR, 0x32000000u); /* cluster 3, member bit 1 */
	cr_assert(vmmi_lapic_match(&apic, 0x32, true));
	cr_assert(vmmi_lapic_match(&apic, 0x3f, true));
	cr_assert_not(vmmi_lapic_match(&apic, 0x31, true), "another member");
	cr_assert_not(vmmi_lapic_match(&apic, 0x22, true), "another cluster");
	cr_assert(vmmi_lapic_match(&apic, 0xff, true));
}

Test(emu_lapic, a_logical_ipi_naming_this_apic_is_delivered_here)
{
	wr(LDR, 0x02000000u);
	wr(ICR_HI, 0x03u << 24);
	wr(ICR_LO, LOGICAL | DM_FIXED | 0x78);
	cr_assert(in(IRR, 0x78));
	cr_assert_eq(ipis.n, 1);
	cr_assert(ipis.icr & LOGICAL);
	wr(ICR_HI, 0x01u << 24);
	wr(ICR_LO, LOGICAL | DM_FIXED | 0x79);
	cr_assert_not(in(IRR, 0x79));
	cr_assert_eq(ipis.n, 2);
}
