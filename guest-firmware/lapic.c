/* SPDX-License-Identifier: MIT */
/* lapic.c - the local APIC's registers and the testdev's clock, for the interrupt checks. */
#include "fw.h"
#include "testdev.h"

/* Written by every vCPU that uses its APIC, always with the same value (guest.h's base). */
static uint64_t lapic_base = VMM_GUEST_LAPIC_BASE;
static uint64_t clock_reg; /* GPA of TESTDEV_REG_CLOCK_NS, 0 before fw_clock_init() */

void fw_lapic_init(const struct vmm_guest_boot_info *bi)
{
	lapic_base = bi->lapic_base;
}

/* The xAPIC page takes 32-bit accesses at 16-byte aligned offsets: each is one movl. */
uint32_t fw_lapic_read(uint32_t reg)
{
	return vmm_guest_mmio_read32(lapic_base + reg);
}

void fw_lapic_write(uint32_t reg, uint32_t v)
{
	vmm_guest_mmio_write32(lapic_base + reg, v);
}

void fw_lapic_eoi(void)
{
	fw_lapic_write(LAPIC_EOI, 0);
}

/* Is this vector's bit set in the 256-bit register at reg (ISR, IRR, TMR)? */
int fw_lapic_bit(uint32_t reg, uint8_t vector)
{
	return (fw_lapic_read(reg + (vector / 32u) * 0x10u) >> (vector % 32u)) & 1u;
}

void fw_clock_init(uint64_t testdev_base)
{
	clock_reg = testdev_base + TESTDEV_REG_CLOCK_NS;
}

uint64_t fw_clock_ns(void)
{
	return clock_reg ? vmm_guest_mmio_read64(clock_reg) : 0;
}

/*
 * Does the clock run? Two reads a little apart must differ. A testdev
 * without the clock register reads 0 there; the timing checks then skip
 * instead of waiting on a clock that never moves.
 */
int fw_clock_works(void)
{
	uint64_t a = fw_clock_ns(), b = a;

	for (int i = 0; i < 1000 && b == a; i++) {
		__asm__ volatile("pause");
		b = fw_clock_ns();
	}
	return a && b > a;
}

/*
 * Spin, interrupts as the caller left them, until *count reaches want or
 * timeout_ns have passed on the clock. Callers check fw_clock_works()
 * first; should the clock stop anyway, the wait ends after that many reads
 * in a row return the same time. Returns whether want was reached.
 */
int fw_wait_count(const volatile uint32_t *count, uint32_t want, uint64_t timeout_ns)
{
	uint64_t start = fw_clock_ns(), last = start, now;
	uint32_t stuck = 0;

	while (*count < want) {
		now = fw_clock_ns();
		stuck = now == last ? stuck + 1 : 0;
		last = now;
		if (now - start >= timeout_ns || stuck >= 100000)
			return *count >= want;
		__asm__ volatile("pause" : : : "memory");
	}
	return 1;
}

/* Spin for ns on the clock (bounded as above). */
void fw_delay_ns(uint64_t ns)
{
	static const volatile uint32_t never;

	fw_wait_count(&never, 1, ns);
}
