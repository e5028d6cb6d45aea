/* SPDX-License-Identifier: MIT */
/*
 * test_ioapic.c - specification of the I/O APIC model both backends share
 * (core/ioapic.c), alone, against the 82093AA datasheet: its registers
 * through IOREGSEL and IOWIN, edge and level pins, remote IRR and EOI, and
 * the messages it sends in the MSI format.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "vmm_internal.h"

/* The datasheet's register map, written out here rather than taken from the model. */
#define IOREGSEL      0x00
#define IOWIN	      0x10
#define IOAPICID      0x00
#define IOAPICVER     0x01
#define IOAPICARB     0x02
#define IOREDTBL(pin) (0x10 + 2 * (pin))

#define RTE_DM_LOWEST  (1u << 8)
#define RTE_DM_NMI     (4u << 8)
#define RTE_LOGICAL    (1u << 11)
#define RTE_DELIVS     (1u << 12)
#define RTE_ACTIVE_LOW (1u << 13)
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_LEVEL      (1u << 15)
#define RTE_MASKED     (1u << 16)

#define MAX_MSGS 16

static struct vmmi_ioapic io;
static struct {
	unsigned n;
	uint64_t addr[MAX_MSGS];
	uint32_t data[MAX_MSGS];
} sent;
static unsigned routes_changed;
static int token;

static void fake_send(void *opaque, uint64_t addr, uint32_t data)
{
	cr_assert_eq(opaque, &token);
	cr_assert_lt(sent.n, MAX_MSGS, "more messages than any test expects");
	sent.addr[sent.n] = addr;
	sent.data[sent.n] = data;
	sent.n++;
}

static void fake_routes_changed(void *opaque)
{
	cr_assert_eq(opaque, &token);
	routes_changed++;
}

static void setup(void)
{
	io = (struct vmmi_ioapic){
	    .send = fake_send, .routes_changed = fake_routes_changed, .opaque = &token};
	vmmi_ioapic_reset(&io);
	sent.n = 0;
	routes_changed = 0;
}

TestSuite(ioapic, .init = setup);

static uint32_t reg_read(uint32_t reg)
{
	vmmi_ioapic_write(&io, IOREGSEL, reg);
	return vmmi_ioapic_read(&io, IOWIN);
}

static void reg_write(uint32_t reg, uint32_t value)
{
	vmmi_ioapic_write(&io, IOREGSEL, reg);
	vmmi_ioapic_write(&io, IOWIN, value);
}

/* Program pin's entry: low half lo, destination dest (bits 63-56). */
static void program(unsigned pin, uint32_t lo, uint8_t dest)
{
	reg_write(IOREDTBL(pin) + 1, (uint32_t)dest << 24);
	reg_write(IOREDTBL(pin), lo);
}

static uint32_t rte_lo(unsigned pin)
{
	return reg_read(IOREDTBL(pin));
}

/* ---- registers ---- */

Test(ioapic, ioregsel_selects_and_reads_back)
{
	vmmi_ioapic_write(&io, IOREGSEL, 0x12);
	cr_assert_eq(vmmi_ioapic_read(&io, IOREGSEL), 0x12);
	vmmi_ioapic_write(&io, IOREGSEL, 0xffffff01u);
	cr_assert_eq(vmmi_ioapic_read(&io, IOREGSEL), 0x01, "bits 31-8 are reserved");
	cr_assert_eq(vmmi_ioapic_read(&io, IOWIN), 0x00170011u);
}

Test(ioapic, version_is_0x11_with_24_entries)
{
	cr_assert_eq(reg_read(IOAPICVER), 0x00170011u);
	cr_assert_eq(reg_read(IOAPICVER) >> 16 & 0xff, 23, "the highest entry's index");
	reg_write(IOAPICVER, 0);
	cr_assert_eq(reg_read(IOAPICVER), 0x00170011u, "read-only");
}

Test(ioapic, id_keeps_bits_27_to_24)
{
	cr_assert_eq(reg_read(IOAPICID), 0, "ID 0 at power-on (guest.h)");
	reg_write(IOAPICID, 0xffffffffu);
	cr_assert_eq(reg_read(IOAPICID), 0x0f000000u);
	reg_write(IOAPICID, 0x05000000u);
	cr_assert_eq(reg_read(IOAPICID), 0x05000000u);
}

Test(ioapic, arbitration_id_follows_the_id_and_is_read_only)
{
	reg_write(IOAPICID, 0x07000000u);
	cr_assert_eq(reg_read(IOAPICARB), 0x07000000u);
	reg_write(IOAPICARB, 0x02000000u);
	cr_assert_eq(reg_read(IOAPICARB), 0x07000000u);
}

Test(ioapic, unimplemented_registers_and_offsets_read_zero)
{
	cr_assert_eq(reg_read(0x03), 0);
	cr_assert_eq(reg_read(0x0f), 0);
	cr_assert_eq(reg_read(IOREDTBL(24)), 0, "past the last entry");
	cr_assert_eq(reg_read(0xff), 0);
	reg_write(0x03, 0x1234);
	cr_assert_eq(reg_read(0x03), 0);
	cr_assert_eq(vmmi_ioapic_read(&io, 0x04), 0);
	cr_assert_eq(vmmi_ioapic_read(&io, 0x20), 0);
	cr_assert_eq(vmmi_ioapic_read(&io, 0x40), 0, "no EOI register in version 0x11");
	cr_assert_eq(vmmi_ioapic_read(&io, 0xffc), 0);
}

Test(ioapic, every_entry_powers_on_masked)
{
	for (unsigned pin = 0; pin < 24; pin++) {
		cr_assert_eq(rte_lo(pin), RTE_MASKED, "pin %u", pin);
		cr_assert_eq(reg_read(IOREDTBL(pin) + 1), 0, "pin %u", pin);
	}
}

Test(ioapic, the_24_entries_are_separate_registers)
{
	for (unsigned pin = 0; pin < 24; pin++)
		program(pin, RTE_MASKED | (0x20 + pin), (uint8_t)pin);
	for (unsigned pin = 0; pin < 24; pin++) {
		cr_assert_eq(rte_lo(pin), RTE_MASKED | (0x20 + pin), "pin %u", pin);
		cr_assert_eq(reg_read(IOREDTBL(pin) + 1), pin << 24, "pin %u", pin);
	}
}

Test(ioapic, delivery_status_and_remote_irr_are_read_only)
{
	reg_write(IOREDTBL(3), RTE_MASKED | RTE_LEVEL | RTE_DELIVS | RTE_REMOTE_IRR | 0x40);
	cr_assert_eq(rte_lo(3), RTE_MASKED | RTE_LEVEL | 0x40);
}

Test(ioapic, reserved_entry_bits_read_zero)
{
	reg_write(IOREDTBL(3) + 1, 0xffffffffu);
	cr_assert_eq(reg_read(IOREDTBL(3) + 1), 0xff000000u, "bits 55-32 reserved");
	reg_write(IOREDTBL(3), 0xffffffffu & ~RTE_LEVEL);
	cr_assert_eq(rte_lo(3), 0x1ffffu & ~(RTE_DELIVS | RTE_REMOTE_IRR | RTE_LEVEL),
		     "bits 31-17 reserved");
}

Test(ioapic, an_entry_write_tells_the_backend_its_route_changed)
{
	program(1, RTE_MASKED | 0x30, 0);
	cr_assert_eq(routes_changed, 2);
	reg_write(IOAPICID, 0x01000000u);
	cr_assert_eq(routes_changed, 2, "the ID is not a route");
}

Test(ioapic, reset_masks_every_entry_and_keeps_the_wires)
{
	program(2, RTE_LEVEL | 0x40, 1);
	reg_write(IOAPICID, 0x03000000u);
	vmmi_ioapic_set_pin(&io, 2, true);
	cr_assert_eq(sent.n, 1);
	vmmi_ioapic_reset(&io);
	cr_assert_eq(rte_lo(2), RTE_MASKED, "remote IRR cleared too");
	cr_assert_eq(reg_read(IOAPICID), 0);
	cr_assert_eq(io.level, 1u << 2, "the device still holds its line high");
}

/* ---- edge-triggered pins ---- */

Test(ioapic, an_edge_pin_sends_once_per_rising_edge)
{
	program(4, 0x41, 0);
	vmmi_ioapic_set_pin(&io, 4, true);
	cr_assert_eq(sent.n, 1);
	vmmi_ioapic_set_pin(&io, 4, true);
	cr_assert_eq(sent.n, 1, "a held level is no new edge");
	vmmi_ioapic_set_pin(&io, 4, false);
	cr_assert_eq(sent.n, 1, "a falling edge sends nothing");
	vmmi_ioapic_set_pin(&io, 4, true);
	cr_assert_eq(sent.n, 2);
	cr_assert_eq(rte_lo(4) & RTE_REMOTE_IRR, 0, "edge entries have no remote IRR");
}

Test(ioapic, an_edge_while_masked_is_lost)
{
	program(4, RTE_MASKED | 0x41, 0);
	vmmi_ioapic_set_pin(&io, 4, true);
	cr_assert_eq(sent.n, 0);
	program(4, 0x41, 0);
	cr_assert_eq(sent.n, 0, "not held pending (82093AA: mask bit)");
	vmmi_ioapic_set_pin(&io, 4, false);
	vmmi_ioapic_set_pin(&io, 4, true);
	cr_assert_eq(sent.n, 1);
}

Test(ioapic, an_edge_pin_needs_no_eoi)
{
	program(4, 0x41, 0);
	vmmi_ioapic_set_pin(&io, 4, true);
	vmmi_ioapic_set_pin(&io, 4, false);
	vmmi_ioapic_set_pin(&io, 4, true);
	cr_assert_eq(sent.n, 2);
	vmmi_ioapic_eoi(&io, 0x41);
	cr_assert_eq(sent.n, 2, "an EOI resends nothing on an edge pin");
}

/* ---- level-triggered pins ---- */

Test(ioapic, a_level_pin_sends_once_and_sets_remote_irr)
{
	program(5, RTE_LEVEL | 0x50, 0);
	vmmi_ioapic_set_pin(&io, 5, true);
	cr_assert_eq(sent.n, 1);
	cr_assert(rte_lo(5) & RTE_REMOTE_IRR);
	vmmi_ioapic_set_pin(&io, 5, true);
	vmmi_ioapic_set_pin(&io, 5, false);
	vmmi_ioapic_set_pin(&io, 5, true);
	cr_assert_eq(sent.n, 1, "nothing more until the EOI");
}

Test(ioapic, eoi_of_its_vector_clears_remote_irr)
{
	program(5, RTE_LEVEL | 0x50, 0);
	vmmi_ioapic_set_pin(&io, 5, true);
	vmmi_ioapic_eoi(&io, 0x51);
	cr_assert(rte_lo(5) & RTE_REMOTE_IRR, "another vector's EOI");
	vmmi_ioapic_set_pin(&io, 5, false);
	vmmi_ioapic_eoi(&io, 0x50);
	cr_assert_eq(rte_lo(5) & RTE_REMOTE_IRR, 0);
}

Test(ioapic, a_level_still_asserted_at_eoi_is_sent_again)
{
	program(5, RTE_LEVEL | 0x50, 0);
	vmmi_ioapic_set_pin(&io, 5, true);
	vmmi_ioapic_eoi(&io, 0x50);
	cr_assert_eq(sent.n, 2);
	cr_assert(rte_lo(5) & RTE_REMOTE_IRR, "set again by the new message");
}

Test(ioapic, a_level_dropped_before_eoi_is_not_sent_again)
{
	program(5, RTE_LEVEL | 0x50, 0);
	vmmi_ioapic_set_pin(&io, 5, true);
	vmmi_ioapic_set_pin(&io, 5, false);
	vmmi_ioapic_eoi(&io, 0x50);
	cr_assert_eq(sent.n, 1);
	cr_assert_eq(rte_lo(5) & RTE_REMOTE_IRR, 0);
}

Test(ioapic, eoi_serves_every_level_entry_of_its_vector)
{
	program(6, RTE_LEVEL | 0x60, 0);
	program(7, RTE_LEVEL | 0x60, 1);
	vmmi_ioapic_set_pin(&io, 6, true);
	vmmi_ioapic_set_pin(&io, 7, true);
	cr_assert_eq(sent.n, 2);
	vmmi_ioapic_set_pin(&io, 7, false);
	vmmi_ioapic_eoi(&io, 0x60);
	cr_assert_eq(rte_lo(6) & RTE_REMOTE_IRR, RTE_REMOTE_IRR, "6 still asserted: sent again");
	cr_assert_eq(rte_lo(7) & RTE_REMOTE_IRR, 0);
	cr_assert_eq(sent.n, 3);
}

Test(ioapic, a_masked_level_pin_sends_nothing)
{
	program(5, RTE_MASKED | RTE_LEVEL | 0x50, 0);
	vmmi_ioapic_set_pin(&io, 5, true);
	cr_assert_eq(sent.n, 0);
	cr_assert_eq(rte_lo(5) & RTE_REMOTE_IRR, 0);
}

Test(ioapic, unmasking_an_asserted_level_entry_sends)
{
	program(5, RTE_MASKED | RTE_LEVEL | 0x50, 0);
	vmmi_ioapic_set_pin(&io, 5, true);
	program(5, RTE_LEVEL | 0x50, 0);
	cr_assert_eq(sent.n, 1);
	cr_assert(rte_lo(5) & RTE_REMOTE_IRR);
}

Test(ioapic, unmasking_a_level_entry_waiting_for_eoi_sends_nothing)
{
	program(5, RTE_LEVEL | 0x50, 0);
	vmmi_ioapic_set_pin(&io, 5, true);
	program(5, RTE_MASKED | RTE_LEVEL | 0x50, 0);
	cr_assert(rte_lo(5) & RTE_REMOTE_IRR, "masking keeps remote IRR");
	program(5, RTE_LEVEL | 0x50, 0);
	cr_assert_eq(sent.n, 1);
}

Test(ioapic, a_level_entry_made_edge_drops_remote_irr)
{
	program(5, RTE_LEVEL | 0x50, 0);
	vmmi_ioapic_set_pin(&io, 5, true);
	program(5, 0x50, 0);
	cr_assert_eq(rte_lo(5) & RTE_REMOTE_IRR, 0);
	cr_assert_eq(sent.n, 1, "and sends nothing: no edge");
}

/* ---- polarity ---- */

Test(ioapic, active_low_inverts_an_edge_pin)
{
	vmmi_ioapic_set_pin(&io, 8, true); /* idle high */
	program(8, RTE_ACTIVE_LOW | 0x80, 0);
	cr_assert_eq(sent.n, 0);
	vmmi_ioapic_set_pin(&io, 8, false);
	cr_assert_eq(sent.n, 1, "the falling wire is the rising edge");
	vmmi_ioapic_set_pin(&io, 8, true);
	cr_assert_eq(sent.n, 1);
}

Test(ioapic, active_low_inverts_a_level_pin)
{
	vmmi_ioapic_set_pin(&io, 9, true); /* idle high */
	program(9, RTE_ACTIVE_LOW | RTE_LEVEL | 0x90, 0);
	cr_assert_eq(sent.n, 0, "a high wire is deasserted");
	vmmi_ioapic_set_pin(&io, 9, false);
	cr_assert_eq(sent.n, 1);
	vmmi_ioapic_set_pin(&io, 9, true);
	vmmi_ioapic_eoi(&io, 0x90);
	cr_assert_eq(sent.n, 1, "deasserted at the EOI");
}

Test(ioapic, pins_past_the_last_are_ignored)
{
	vmmi_ioapic_set_pin(&io, 24, true);
	vmmi_ioapic_set_pin(&io, 31, true);
	vmmi_ioapic_set_pin(&io, 1000, true);
	cr_assert_eq(io.level, 0);
	cr_assert_eq(sent.n, 0);
}

/* ---- the message (82093AA redirection entry -> MSI address and data) ---- */

Test(ioapic, a_fixed_edge_physical_message)
{
	program(10, 0x31, 0x02);
	vmmi_ioapic_set_pin(&io, 10, true);
	cr_assert_eq(sent.n, 1);
	cr_assert_eq(sent.addr[0], 0xfee02000ull, "dest in address bits 19-12, physical");
	cr_assert_eq(sent.data[0], 0x4031u, "vector, fixed, edge, assert (bit 14)");
}

Test(ioapic, a_lowest_priority_level_logical_message)
{
	program(11, RTE_LEVEL | RTE_LOGICAL | RTE_DM_LOWEST | 0xa7, 0x0c);
	vmmi_ioapic_set_pin(&io, 11, true);
	cr_assert_eq(sent.n, 1);
	cr_assert_eq(sent.addr[0], 0xfee0c004ull, "logical: address bit 2");
	cr_assert_eq(sent.data[0], 0xc1a7u, "level (bit 15), assert, lowest priority (bits 10-8)");
}

Test(ioapic, an_nmi_message_carries_its_delivery_mode)
{
	program(12, RTE_DM_NMI, 0xff);
	vmmi_ioapic_set_pin(&io, 12, true);
	cr_assert_eq(sent.addr[0], 0xfeeff000ull);
	cr_assert_eq(sent.data[0] & 0x700, RTE_DM_NMI);
}

Test(ioapic, route_reports_the_message_and_the_mask)
{
	uint64_t addr;
	uint32_t data;
	bool masked;

	program(13, RTE_MASKED | RTE_LEVEL | 0x66, 0x01);
	vmmi_ioapic_route(&io, 13, &addr, &data, &masked);
	cr_assert_eq(addr, 0xfee01000ull);
	cr_assert_eq(data, 0xc066u);
	cr_assert(masked);
	program(13, 0x66, 0x01);
	vmmi_ioapic_route(&io, 13, &addr, &data, &masked);
	cr_assert_eq(data, 0x4066u);
	cr_assert_not(masked);
}
