/* SPDX-License-Identifier: MIT */
/* ioapic.c - the 82093AA I/O APIC model both backends share: registers, pins, messages. */
#include "vmm_internal.h"

/*
 * Pure code: no locks, no VM. The caller (core/irq.c) holds its lock around
 * every call, and send() delivers what an entry says. The datasheet's
 * behaviour, as KVM's and QEMU's models have it:
 *   - edge entries send once per rising level of their (polarity-corrected)
 *     pin; a rise while masked is lost;
 *   - level entries send while the pin is asserted and remote IRR is clear,
 *     and set remote IRR; an EOI of the vector clears it and, if the pin is
 *     still asserted, sends again; unmasking an asserted level entry sends;
 *   - delivery status (bit 12) always reads 0: a message is handed to the
 *     local APICs at once.
 */

#define RTE_VECTOR     0xffull
#define RTE_DELMODE    (7ull << 8)
#define RTE_DESTMODE   (1ull << 11)
#define RTE_DELIVS     (1ull << 12)
#define RTE_POLARITY   (1ull << 13)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_TRIGGER    (1ull << 15)
#define RTE_MASK       (1ull << 16)
#define RTE_DEST_SHIFT 56
/* Bits the guest can write: everything but delivery status and remote IRR (and 55-17). */
#define RTE_WRITABLE (0xff00000000000000ull | (0x1ffffull & ~(RTE_DELIVS | RTE_REMOTE_IRR)))

#define REG_ID	    0x00
#define REG_VERSION 0x01
#define REG_ARB	    0x02
#define REG_TABLE   0x10

void vmmi_ioapic_route(const struct vmmi_ioapic *io, unsigned pin, uint64_t *addr, uint32_t *data,
		       bool *masked)
{
	uint64_t e = io->rte[pin];

	*addr = VMMI_MSI_BASE | ((e >> RTE_DEST_SHIFT) & 0xff) << 12 |
		((e & RTE_DESTMODE) ? 1u << 2 : 0);
	*data = (uint32_t)(e & (RTE_VECTOR | RTE_DELMODE)) | (e & RTE_TRIGGER ? 1u << 15 : 0) |
		1u << 14;
	*masked = e & RTE_MASK;
}

/* The pin as the entry sees it: the wire, inverted by an active-low polarity. */
static bool asserted(const struct vmmi_ioapic *io, unsigned pin)
{
	bool wire = io->level >> pin & 1;

	return io->rte[pin] & RTE_POLARITY ? !wire : wire;
}

static void send(struct vmmi_ioapic *io, unsigned pin)
{
	uint64_t addr;
	uint32_t data;
	bool masked;

	vmmi_ioapic_route(io, pin, &addr, &data, &masked);
	if (masked)
		return;
	if (io->rte[pin] & RTE_TRIGGER)
		io->rte[pin] |= RTE_REMOTE_IRR;
	io->send(io->opaque, addr, data);
}

/* A level entry whose pin is asserted and which is not waiting for an EOI sends. */
static void service_level(struct vmmi_ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];

	if ((e & RTE_TRIGGER) && !(e & (RTE_MASK | RTE_REMOTE_IRR)) && asserted(io, pin))
		send(io, pin);
}

void vmmi_ioapic_reset(struct vmmi_ioapic *io)
{
	io->id = 0;
	io->regsel = 0;
	for (unsigned i = 0; i < VMMI_IOAPIC_PINS; i++)
		io->rte[i] = RTE_MASK;
	if (io->routes_changed)
		io->routes_changed(io->opaque);
}

uint32_t vmmi_ioapic_read(struct vmmi_ioapic *io, uint64_t offset)
{
	uint32_t r = io->regsel & 0xff;

	if (offset == 0x00)
		return io->regsel;
	if (offset != 0x10)
		return 0;
	switch (r) {
	case REG_ID:
		return io->id;
	case REG_VERSION:
		return VMMI_IOAPIC_VERSION;
	case REG_ARB:
		return io->id; /* arbitration ID: the APIC ID after reset */
	default:
		if (r >= REG_TABLE && r < REG_TABLE + 2 * VMMI_IOAPIC_PINS) {
			uint64_t e = io->rte[(r - REG_TABLE) / 2];

			return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
		}
		return 0; /* reserved registers read as 0 */
	}
}

void vmmi_ioapic_write(struct vmmi_ioapic *io, uint64_t offset, uint32_t value)
{
	uint32_t r = io->regsel & 0xff;
	unsigned pin;
	uint64_t e, old;

	if (offset == 0x00) {
		io->regsel = value & 0xff;
		return;
	}
	if (offset != 0x10)
		return;
	if (r == REG_ID) {
		io->id = value & 0x0f000000u;
		return;
	}
	if (r < REG_TABLE || r >= REG_TABLE + 2 * VMMI_IOAPIC_PINS)
		return; /* version, arbitration and reserved registers are read-only */
	pin = (r - REG_TABLE) / 2;
	old = io->rte[pin];
	e = (r & 1) ? (old & 0xffffffffull) | (uint64_t)value << 32
		    : (old & ~0xffffffffull) | value;
	e = (e & RTE_WRITABLE) | (old & (RTE_DELIVS | RTE_REMOTE_IRR));
	/* An entry made edge-triggered has no EOI to wait for. */
	if (!(e & RTE_TRIGGER))
		e &= ~RTE_REMOTE_IRR;
	io->rte[pin] = e;
	if (io->routes_changed)
		io->routes_changed(io->opaque);
	service_level(io, pin);
}

void vmmi_ioapic_set_pin(struct vmmi_ioapic *io, unsigned pin, bool level)
{
	bool before, after;

	if (pin >= VMMI_IOAPIC_PINS)
		return;
	before = asserted(io, pin);
	io->level = level ? io->level | 1u << pin : io->level & ~(1u << pin);
	after = asserted(io, pin);
	if (io->rte[pin] & RTE_TRIGGER)
		service_level(io, pin);
	else if (after && !before)
		send(io, pin);
}

void vmmi_ioapic_eoi(struct vmmi_ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < VMMI_IOAPIC_PINS; pin++) {
		uint64_t e = io->rte[pin];

		if ((e & RTE_VECTOR) != vector || !(e & RTE_TRIGGER) || !(e & RTE_REMOTE_IRR))
			continue;
		io->rte[pin] = e & ~RTE_REMOTE_IRR;
		service_level(io, pin);
	}
}
