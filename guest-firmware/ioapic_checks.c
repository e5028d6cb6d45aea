/* SPDX-License-Identifier: MIT */
/* ioapic_checks.c - the I/O APIC (82093AA) checks, and the interrupt plumbing device checks share.
 */
#include "fw.h"
#include "testdev.h"

/*
 * The testdev is the interrupt source the guest controls: RAISE puts its
 * line up and ACK takes it down (line mode), so every I/O APIC rule can be
 * driven from here. Its pin is the boot info's devices[].irq.
 *
 * Waiting: interrupts are enabled only inside devirq_wait(), which polls
 * the testdev's clock (lapic.c's fw_wait_count()), so a check either sees
 * its interrupts arrive within a deadline or proves none came during a
 * quiet window. Output never depends on timing: a check prints only the
 * count it wanted.
 */

#define RTE_DELIVS	   (1u << 12)
#define RTE_REMOTE_IRR	   (1u << 14)
#define RTE_LEVEL	   (1u << 15)
#define RTE_MASKED	   (1u << 16)
#define IOAPIC_REG_ID	   0x00u
#define IOAPIC_REG_VERSION 0x01u
#define IOAPIC_REG_TABLE   0x10u

/* How long a check waits for an interrupt that must come, and proves one that must not. */
#define WAIT_NS	 (200ull * 1000 * 1000)
#define QUIET_NS (10ull * 1000 * 1000)

static uint64_t ioapic, td;
static uint32_t pin = VMM_GUEST_IRQ_NONE; /* the testdev's */
static volatile unsigned hits[256];	  /* interrupts taken, by vector */
static volatile unsigned dev_hits[256];	  /* of those, the ones that found STATUS set */
static volatile unsigned ack_at;   /* ACK the testdev at this dev_hit of any vector (0: never) */
static volatile uint32_t rte_sent; /* the pin's entry once it sent, before the EOI */

uint32_t fw_ioapic_read(uint32_t reg)
{
	vmm_guest_mmio_write32(ioapic, reg);
	return vmm_guest_mmio_read32(ioapic + 0x10);
}

void fw_ioapic_write(uint32_t reg, uint32_t v)
{
	vmm_guest_mmio_write32(ioapic, reg);
	vmm_guest_mmio_write32(ioapic + 0x10, v);
}

/* A redirection entry: the destination in the high word first, so the low word unmasks last. */
void fw_ioapic_route(uint32_t p, uint32_t low, uint8_t dest)
{
	fw_ioapic_write(IOAPIC_REG_TABLE + 2 * p, RTE_MASKED);
	fw_ioapic_write(IOAPIC_REG_TABLE + 2 * p + 1, (uint32_t)dest << 24);
	fw_ioapic_write(IOAPIC_REG_TABLE + 2 * p, low);
}

static uint32_t rte_low(void)
{
	return fw_ioapic_read(IOAPIC_REG_TABLE + 2 * pin);
}

/*
 * As a driver of a level device does, the handler reads STATUS first and
 * counts the interrupt as the device's only if a bit is pending. The level
 * checks count those: on a kvm host whose local APIC reports a level
 * vector's EOI when it delivers the interrupt rather than when the guest
 * writes EOI (this machine's PVM: ISR reads 0 inside the handler), the
 * entry sends again at the handler's first exit while the line is still
 * high, and that second interrupt arrives after the ACK to find STATUS
 * empty. On hardware and on emu it never comes.
 */
static void on_interrupt(struct irq_frame *f)
{
	unsigned v = f->vector & 0xff;
	uint32_t status = vmm_guest_mmio_read32(td + TESTDEV_REG_IRQ_STATUS);

	hits[v]++;
	if (status) {
		unsigned n = ++dev_hits[v];

		if (ack_at && n >= ack_at)
			vmm_guest_mmio_write32(td + TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	}
	fw_lapic_eoi();
}

int devirq_init(const struct vmm_guest_boot_info *bi, uint64_t td_base)
{
	const struct vmm_guest_device *d = vmm_guest_find_device(bi, "testdev");

	td = td_base;
	ioapic = bi->ioapic_base;
	if (bi->lapic_base != VMM_GUEST_LAPIC_BASE || ioapic != VMM_GUEST_IOAPIC_BASE)
		return -1;
	fw_lapic_init(bi);
	fw_clock_init(td_base);
	if (!fw_clock_works())
		return -1;
	pin = d && d->irq < bi->ioapic_pins && d->irq < VMM_GUEST_IOAPIC_PINS ? d->irq
									      : VMM_GUEST_IRQ_NONE;
	idt_set(DEVIRQ_VEC_LINE, on_interrupt, 0);
	idt_set(DEVIRQ_VEC_LINE2, on_interrupt, 0);
	idt_set(DEVIRQ_VEC_MSI, on_interrupt, 0);
	idt_load();
	/* VEC_SPURIOUS's handler is lapic_checks.c's (a spurious vector takes no EOI). */
	fw_lapic_write(LAPIC_TPR, 0);
	fw_lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | VEC_SPURIOUS);
	return 0;
}

uint32_t devirq_pin(void)
{
	return pin;
}

unsigned devirq_hits(uint8_t vector)
{
	return hits[vector];
}

unsigned devirq_dev_hits(uint8_t vector)
{
	return dev_hits[vector];
}

void devirq_reset(unsigned ack_at_hit)
{
	for (unsigned v = 0; v < 256; v++)
		hits[v] = dev_hits[v] = 0;
	ack_at = ack_at_hit;
	rte_sent = 0;
}

unsigned devirq_wait(uint8_t vector, unsigned want, uint64_t ns)
{
	__asm__ volatile("sti" : : : "memory");
	fw_wait_count(&hits[vector], want, ns);
	__asm__ volatile("cli" : : : "memory");
	return hits[vector];
}

/* Every vector but the spurious one: what a quiet window must not see. */
static unsigned all_hits(void)
{
	unsigned n = 0;

	for (unsigned v = 0; v < VEC_SPURIOUS; v++)
		n += hits[v];
	return n;
}

static void td_wr(uint32_t reg, uint32_t v)
{
	vmm_guest_mmio_write32(td + reg, v);
}

/*
 * Quiet the testdev: line mode, disabled, nothing pending, and the pin
 * masked; then take, with interrupts on for a quiet window, whatever the
 * local APIC still holds (a resend that a kvm host reporting EOIs early
 * queued), so that it cannot count in the next check.
 */
static void quiesce(void)
{
	td_wr(TESTDEV_REG_IRQ_CTRL, 0);
	td_wr(TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	if (pin != VMM_GUEST_IRQ_NONE)
		fw_ioapic_route(pin, RTE_MASKED, 0);
	devirq_wait(DEVIRQ_VEC_LINE, ~0u, QUIET_NS);
}

static void check_registers(const struct vmm_guest_boot_info *bi)
{
	uint32_t ver = fw_ioapic_read(IOAPIC_REG_VERSION);

	check(fw_ioapic_read(IOAPIC_REG_ID), 0, "ioapic: ID register reads 0 at boot");
	check(ver, 0x00170011u, "ioapic: version register (version 0x11, 24 entries)");
	check(((ver >> 16) & 0xff) + 1, bi->ioapic_pins,
	      "ioapic: entry count agrees with boot info ioapic_pins");
	vmm_guest_mmio_write32(ioapic, IOAPIC_REG_VERSION);
	check(vmm_guest_mmio_read32(ioapic), IOAPIC_REG_VERSION, "ioapic: IOREGSEL reads back");

	fw_ioapic_write(IOAPIC_REG_ID, 0x0f000000u);
	check(fw_ioapic_read(IOAPIC_REG_ID), 0x0f000000u, "ioapic: ID bits 27-24 are writable");
	fw_ioapic_write(IOAPIC_REG_ID, 0);
	fw_ioapic_write(IOAPIC_REG_VERSION, 0);
	check(fw_ioapic_read(IOAPIC_REG_VERSION), 0x00170011u,
	      "ioapic: version register is read-only");
}

static void check_entry_bits(void)
{
	uint32_t lo = IOAPIC_REG_TABLE + 2 * pin;

	check(rte_low() & RTE_MASKED, RTE_MASKED, "ioapic: testdev pin's entry starts masked");
	/* Masked, so nothing is sent while the entry holds every bit the guest may set. */
	fw_ioapic_write(lo, 0xffffffffu);
	fw_ioapic_write(lo + 1, 0xffffffffu);
	check(fw_ioapic_read(lo), 0x1ffffu & ~(RTE_DELIVS | RTE_REMOTE_IRR),
	      "ioapic: entry low word keeps its writable bits, not delivery status or remote IRR");
	check(fw_ioapic_read(lo + 1), 0xff000000u,
	      "ioapic: entry high word keeps only the destination");
	fw_ioapic_route(pin, RTE_MASKED, 0);
}

/* Edge entry to vector, destination this vCPU; a RAISE gives one rising edge. */
static void check_routing(uint8_t apic_id)
{
	devirq_reset(0);
	td_wr(TESTDEV_REG_IRQ_CTRL, TESTDEV_IRQ_CTRL_ENABLE);
	fw_ioapic_route(pin, DEVIRQ_VEC_LINE, apic_id);
	td_wr(TESTDEV_REG_IRQ_RAISE, 1);
	check(devirq_wait(DEVIRQ_VEC_LINE, 1, WAIT_NS), 1,
	      "ioapic: edge entry delivers the testdev's raise at its vector");
	td_wr(TESTDEV_REG_IRQ_ACK, 1);

	fw_ioapic_route(pin, DEVIRQ_VEC_LINE2, apic_id);
	td_wr(TESTDEV_REG_IRQ_RAISE, 1);
	check(devirq_wait(DEVIRQ_VEC_LINE2, 1, WAIT_NS), 1,
	      "ioapic: the entry's new vector takes the next raise");
	check(devirq_hits(DEVIRQ_VEC_LINE), 1, "ioapic: the old vector takes nothing more");

	/* The line is still high: an edge entry sends nothing more, EOI or not. */
	devirq_wait(DEVIRQ_VEC_LINE2, 2, QUIET_NS);
	check(all_hits(), 2, "ioapic: edge entry sends once per rising edge");
	td_wr(TESTDEV_REG_IRQ_ACK, 1);
	td_wr(TESTDEV_REG_IRQ_RAISE, 1);
	check(devirq_wait(DEVIRQ_VEC_LINE2, 2, WAIT_NS), 2,
	      "ioapic: edge entry sends again after the line falls and rises");
	quiesce();
}

static void check_masking(uint8_t apic_id)
{
	/* Edge: a rise while masked is lost. */
	devirq_reset(0);
	td_wr(TESTDEV_REG_IRQ_CTRL, TESTDEV_IRQ_CTRL_ENABLE);
	fw_ioapic_route(pin, RTE_MASKED | DEVIRQ_VEC_LINE, apic_id);
	td_wr(TESTDEV_REG_IRQ_RAISE, 1);
	devirq_wait(DEVIRQ_VEC_LINE, 1, QUIET_NS);
	check(all_hits(), 0, "ioapic: masked edge entry delivers nothing");
	fw_ioapic_route(pin, DEVIRQ_VEC_LINE, apic_id);
	devirq_wait(DEVIRQ_VEC_LINE, 1, QUIET_NS);
	check(all_hits(), 0, "ioapic: an edge that came while masked is lost on unmask");
	quiesce();

	/* Level: the pin's state is what counts, so unmasking an asserted pin delivers. */
	devirq_reset(1);
	td_wr(TESTDEV_REG_IRQ_CTRL, TESTDEV_IRQ_CTRL_ENABLE);
	fw_ioapic_route(pin, RTE_MASKED | RTE_LEVEL | DEVIRQ_VEC_LINE, apic_id);
	td_wr(TESTDEV_REG_IRQ_RAISE, 1);
	devirq_wait(DEVIRQ_VEC_LINE, 1, QUIET_NS);
	check(all_hits(), 0, "ioapic: masked level entry delivers nothing");
	fw_ioapic_route(pin, RTE_LEVEL | DEVIRQ_VEC_LINE, apic_id);
	devirq_wait(DEVIRQ_VEC_LINE, 1, WAIT_NS);
	check(devirq_dev_hits(DEVIRQ_VEC_LINE), 1,
	      "ioapic: unmasking a level entry whose line is high delivers");
	quiesce();
}

/* ack_at: the handler ACKs the testdev at that interrupt, so the level line drops. */
static void level_round(uint8_t apic_id, unsigned acked_at)
{
	devirq_reset(acked_at);
	td_wr(TESTDEV_REG_IRQ_CTRL, TESTDEV_IRQ_CTRL_ENABLE);
	fw_ioapic_route(pin, RTE_LEVEL | DEVIRQ_VEC_LINE, apic_id);
	td_wr(TESTDEV_REG_IRQ_RAISE, 1);
	/* Sent and not yet taken (interrupts are off): the entry waits for its EOI. */
	rte_sent = rte_low();
	devirq_wait(DEVIRQ_VEC_LINE, acked_at, WAIT_NS);
	devirq_wait(DEVIRQ_VEC_LINE, acked_at + 1, QUIET_NS);
}

static void check_level(uint8_t apic_id)
{
	level_round(apic_id, 1);
	check(devirq_dev_hits(DEVIRQ_VEC_LINE), 1,
	      "ioapic: level entry, ACKed in the handler: one interrupt with STATUS set");
	check(rte_sent & (RTE_REMOTE_IRR | RTE_LEVEL), RTE_REMOTE_IRR | RTE_LEVEL,
	      "ioapic: a level entry that sent sets remote IRR until the EOI");
	check(rte_low() & RTE_REMOTE_IRR, 0, "ioapic: EOI clears remote IRR");
	quiesce();

	/* Not ACKed at the first: after that EOI the line is still high, so it comes again. */
	level_round(apic_id, 3);
	check(devirq_dev_hits(DEVIRQ_VEC_LINE), 3,
	      "ioapic: level entry redelivers after each EOI while STATUS is set, not after ACK");
	quiesce();
}

void ioapic_checks(const struct vmm_guest_boot_info *bi, uint64_t td_base)
{
	uint8_t apic_id = (uint8_t)bi->apic_id;

	if (devirq_init(bi, td_base) < 0) {
		skip("no LAPIC/I/O APIC at guest.h's addresses, or no testdev clock",
		     "ioapic checks");
		return;
	}
	check_registers(bi);
	if (pin == VMM_GUEST_IRQ_NONE) {
		skip("the testdev has no irq line (config: irq = N)",
		     "ioapic routing, masking, edge and level");
		return;
	}
	check_entry_bits();
	check_routing(apic_id);
	check_masking(apic_id);
	check_level(apic_id);
	quiesce();
}
