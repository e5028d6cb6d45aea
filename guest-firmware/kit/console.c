/* SPDX-License-Identifier: MIT */
/* console.c - polled output on the bundled 16550 UART, reached through port I/O or MMIO. */
#include "vmm/guestlib.h"

/* 16550 registers, as offsets from the base (one byte apart on both buses). */
#define UART_THR 0 /* transmit holding (write) */
#define UART_DLL 0 /* divisor latch low (DLAB = 1) */
#define UART_IER 1 /* interrupt enable */
#define UART_DLM 1 /* divisor latch high (DLAB = 1) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */

#define UART_LCR_8N1	  0x03
#define UART_LCR_DLAB	  0x80
#define UART_FCR_ENABLE	  0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_MCR_DTR	  0x01
#define UART_MCR_RTS	  0x02
#define UART_LSR_THRE	  0x20

/*
 * How long putc waits for room in the transmitter. A device model that never
 * sets THRE must not hang the guest: after the bound the byte is written
 * anyway, which an emulated UART accepts and a real one would drop.
 */
#define UART_SPIN_MAX 100000

static uint32_t uart_kind; /* 0 while there is no console */
static uint64_t uart_base;

static uint8_t uart_read(unsigned reg)
{
	if (uart_kind == VMM_GUEST_DEV_PIO)
		return vmm_guest_inb((uint16_t)(uart_base + reg));
	return vmm_guest_mmio_read8(uart_base + reg);
}

static void uart_write(unsigned reg, uint8_t v)
{
	if (uart_kind == VMM_GUEST_DEV_PIO)
		vmm_guest_outb((uint16_t)(uart_base + reg), v);
	else
		vmm_guest_mmio_write8(uart_base + reg, v);
}

/*
 * Find the first "uart16550" device and program it: no interrupts, 8N1,
 * divisor 1 (the fastest rate; an emulated line has no real baud rate),
 * FIFOs on and empty. Returns 0, or -1 if there is no usable UART, in which
 * case output is silently dropped.
 */
int vmm_guest_console_init(const struct vmm_guest_boot_info *bi)
{
	const struct vmm_guest_device *dev = vmm_guest_find_device(bi, "uart16550");

	uart_kind = 0;
	if (!dev || dev->size < 8)
		return -1;
	if (dev->kind == VMM_GUEST_DEV_PIO) {
		if (dev->base > 0x10000 - 8)
			return -1;
	} else if (!vmm_guest_device_mmio_ok(bi, dev, 8)) {
		return -1;
	}
	uart_base = dev->base;
	uart_kind = dev->kind;

	uart_write(UART_IER, 0);
	uart_write(UART_LCR, UART_LCR_DLAB);
	uart_write(UART_DLL, 1);
	uart_write(UART_DLM, 0);
	uart_write(UART_LCR, UART_LCR_8N1);
	uart_write(UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX | UART_FCR_CLEAR_TX);
	uart_write(UART_MCR, UART_MCR_DTR | UART_MCR_RTS);
	return 0;
}

/*
 * Send one byte. '\n' goes out as is, not as "\r\n": the host side writes the
 * bytes to a file or pipe that tests compare line by line.
 */
void vmm_guest_putc(char c)
{
	if (!uart_kind)
		return;
	for (int i = 0; i < UART_SPIN_MAX; i++)
		if (uart_read(UART_LSR) & UART_LSR_THRE)
			break;
	uart_write(UART_THR, (uint8_t)c);
}

void vmm_guest_puts(const char *s)
{
	while (*s)
		vmm_guest_putc(*s++);
}
