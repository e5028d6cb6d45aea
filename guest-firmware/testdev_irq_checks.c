/* SPDX-License-Identifier: MIT */
/* testdev_irq_checks.c - the testdev's interrupt registers, its DMA-done interrupt, MSIs, clock. */
#include "fw.h"
#include "testdev.h"

#define WAIT_NS	 (200ull * 1000 * 1000)
#define QUIET_NS (10ull * 1000 * 1000)

#define RTE_LEVEL  (1u << 15)
#define RTE_MASKED (1u << 16)

static uint64_t td;
static uint8_t dma_buf[256] __attribute__((aligned(64)));

static uint32_t rd32(uint32_t reg)
{
	return vmm_guest_mmio_read32(td + reg);
}

static void wr32(uint32_t reg, uint32_t v)
{
	vmm_guest_mmio_write32(td + reg, v);
}

static void wr64(uint32_t reg, uint64_t v)
{
	vmm_guest_mmio_write64(td + reg, v);
}

static void fill(uint8_t value)
{
	wr64(TESTDEV_REG_DMA_DST, (uint64_t)(uintptr_t)dma_buf);
	wr64(TESTDEV_REG_DMA_LEN, sizeof(dma_buf));
	wr64(TESTDEV_REG_DMA_VALUE, value);
	wr32(TESTDEV_REG_DMA_CMD, TESTDEV_CMD_FILL);
}

/* Registers alone, interrupts disabled: what any host gives, with or without a line. */
static void check_registers(void)
{
	uint64_t t0, t1;

	wr32(TESTDEV_REG_IRQ_CTRL, 0);
	wr32(TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	check(rd32(TESTDEV_REG_IRQ_STATUS), 0, "testdev irq: ACK of every bit empties STATUS");
	wr32(TESTDEV_REG_IRQ_RAISE, 0x5);
	wr32(TESTDEV_REG_IRQ_RAISE, 0x2);
	check(rd32(TESTDEV_REG_IRQ_STATUS), 0x7,
	      "testdev irq: RAISE sets bits and keeps the others");
	wr32(TESTDEV_REG_IRQ_ACK, 0x5);
	check(rd32(TESTDEV_REG_IRQ_STATUS), 0x2, "testdev irq: ACK clears only its bits");
	check(rd32(TESTDEV_REG_IRQ_RAISE) | rd32(TESTDEV_REG_IRQ_ACK), 0,
	      "testdev irq: RAISE and ACK read 0");
	wr32(TESTDEV_REG_IRQ_ACK, 0x2);
	wr32(TESTDEV_REG_IRQ_CTRL, 0xffffffffu);
	check(rd32(TESTDEV_REG_IRQ_CTRL), TESTDEV_IRQ_CTRL_MASK,
	      "testdev irq: CTRL keeps only its defined bits");
	wr32(TESTDEV_REG_IRQ_CTRL, TESTDEV_IRQ_CTRL_DMA_DONE);
	fill(0x11);
	check(rd32(TESTDEV_REG_IRQ_STATUS), TESTDEV_IRQ_DMA_DONE,
	      "testdev irq: a DMA command sets DMA_DONE when CTRL asks (interrupts off)");
	wr32(TESTDEV_REG_IRQ_ACK, TESTDEV_IRQ_DMA_DONE);
	wr32(TESTDEV_REG_IRQ_CTRL, 0);

	t0 = vmm_guest_mmio_read64(td + TESTDEV_REG_CLOCK_NS);
	t1 = vmm_guest_mmio_read64(td + TESTDEV_REG_CLOCK_NS);
	report(t0 != 0 && t1 > t0, t1, t0, "testdev: CLOCK_NS is non-zero and advances");
}

/* Line mode: the DMA-done interrupt through the I/O APIC, ACKed by the handler. */
static void check_dma_done_line(uint8_t apic_id, uint32_t pin)
{
	devirq_reset(1);
	wr32(TESTDEV_REG_IRQ_CTRL, TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_DMA_DONE);
	fw_ioapic_route(pin, RTE_LEVEL | DEVIRQ_VEC_LINE, apic_id);
	fill(0x22);
	check(rd32(TESTDEV_REG_DMA_STATUS), TESTDEV_STATUS_DONE, "testdev irq: DMA fill done");
	devirq_wait(DEVIRQ_VEC_LINE, 1, WAIT_NS);
	check(devirq_dev_hits(DEVIRQ_VEC_LINE), 1,
	      "testdev irq: DMA-done interrupt arrives through the I/O APIC");
	devirq_wait(DEVIRQ_VEC_LINE, 2, QUIET_NS);
	check(devirq_dev_hits(DEVIRQ_VEC_LINE), 1,
	      "testdev irq: after the ACK no interrupt finds STATUS set");
	check(rd32(TESTDEV_REG_IRQ_STATUS), 0, "testdev irq: the handler's ACK emptied STATUS");
	fw_ioapic_route(pin, RTE_MASKED, 0);
	wr32(TESTDEV_REG_IRQ_CTRL, 0);
}

static void check_msi(uint8_t apic_id, uint32_t pin)
{
	uint64_t addr = VMM_GUEST_LAPIC_BASE | (uint64_t)apic_id << 12;
	uint32_t sent;

	/* The line routed (edge: a wrong level cannot storm) shows if MSI mode raised it too. */
	if (pin != VMM_GUEST_IRQ_NONE)
		fw_ioapic_route(pin, DEVIRQ_VEC_LINE, apic_id);
	devirq_reset(0);
	wr32(TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	wr64(TESTDEV_REG_MSI_ADDR, addr);
	wr32(TESTDEV_REG_MSI_DATA, DEVIRQ_VEC_MSI);
	wr32(TESTDEV_REG_IRQ_CTRL,
	     TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_MSI | TESTDEV_IRQ_CTRL_DMA_DONE);
	sent = rd32(TESTDEV_REG_MSI_COUNT);

	wr32(TESTDEV_REG_IRQ_RAISE, 1);
	check(rd32(TESTDEV_REG_IRQ_ERROR), TESTDEV_IRQ_ERR_NONE,
	      "testdev msi: the host accepts the message to this vCPU's LAPIC");
	check(devirq_wait(DEVIRQ_VEC_MSI, 1, WAIT_NS), 1,
	      "testdev msi: RAISE of a new bit delivers MSI_DATA's vector");
	wr32(TESTDEV_REG_IRQ_RAISE, 1);
	devirq_wait(DEVIRQ_VEC_MSI, 2, QUIET_NS);
	check(devirq_hits(DEVIRQ_VEC_MSI), 1, "testdev msi: RAISE of a pending bit sends nothing");
	check(devirq_hits(DEVIRQ_VEC_LINE), 0, "testdev msi: the line stays low in MSI mode");

	wr32(TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	fill(0x33);
	check(devirq_wait(DEVIRQ_VEC_MSI, 2, WAIT_NS), 2,
	      "testdev msi: a finished DMA command sends one");
	fill(0x44);
	check(devirq_wait(DEVIRQ_VEC_MSI, 3, WAIT_NS), 3,
	      "testdev msi: each DMA command sends one, DMA_DONE pending or not");
	check(rd32(TESTDEV_REG_MSI_COUNT) - sent, 3, "testdev msi: MSI_COUNT counts the three");

	/* Messages the host must refuse: a vector below 16, an address off the LAPIC's range. */
	vmm_guest_printf("# the VMM logs the first refused MSI as an error: expected here\n");
	wr32(TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	wr32(TESTDEV_REG_MSI_DATA, 0x05);
	wr32(TESTDEV_REG_IRQ_RAISE, 1);
	check(rd32(TESTDEV_REG_IRQ_ERROR), TESTDEV_IRQ_ERR_REFUSED,
	      "testdev msi: vector 5 is refused, IRQ_ERROR says so");
	wr32(TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	wr32(TESTDEV_REG_MSI_DATA, DEVIRQ_VEC_MSI);
	wr64(TESTDEV_REG_MSI_ADDR, VMM_GUEST_IOAPIC_BASE);
	wr32(TESTDEV_REG_IRQ_RAISE, 1);
	check(rd32(TESTDEV_REG_IRQ_ERROR), TESTDEV_IRQ_ERR_REFUSED,
	      "testdev msi: an address outside 0xfee00000-0xfeefffff is refused");
	devirq_wait(DEVIRQ_VEC_MSI, 4, QUIET_NS);
	check(rd32(TESTDEV_REG_MSI_COUNT) - sent, 3,
	      "testdev msi: refused messages are not counted");
	check(devirq_hits(DEVIRQ_VEC_MSI), 3, "testdev msi: refused messages deliver nothing");

	wr32(TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	wr64(TESTDEV_REG_MSI_ADDR, addr);
	wr32(TESTDEV_REG_IRQ_RAISE, 1);
	check(rd32(TESTDEV_REG_IRQ_ERROR), TESTDEV_IRQ_ERR_NONE,
	      "testdev msi: a good message again clears IRQ_ERROR");
	check(devirq_wait(DEVIRQ_VEC_MSI, 4, WAIT_NS), 4, "testdev msi: and is delivered");

	wr32(TESTDEV_REG_IRQ_CTRL, 0);
	wr32(TESTDEV_REG_IRQ_ACK, 0xffffffffu);
	if (pin != VMM_GUEST_IRQ_NONE)
		fw_ioapic_route(pin, RTE_MASKED, 0);
}

void testdev_irq_checks(const struct vmm_guest_boot_info *bi, uint64_t td_base)
{
	uint8_t apic_id = (uint8_t)bi->apic_id;
	uint32_t pin;

	td = td_base;
	check_registers();
	if (devirq_init(bi, td_base) < 0) {
		skip("no LAPIC/I/O APIC at guest.h's addresses, or no testdev clock",
		     "testdev interrupts");
		return;
	}
	pin = devirq_pin();
	if (pin == VMM_GUEST_IRQ_NONE)
		skip("the testdev has no irq line (config: irq = N)",
		     "testdev DMA-done on its line");
	else
		check_dma_done_line(apic_id, pin);
	check_msi(apic_id, pin);
}
