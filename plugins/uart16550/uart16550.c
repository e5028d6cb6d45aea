/* SPDX-License-Identifier: MIT */
/* uart16550.c - a 16550A UART device model (serial console), built as a device plugin. */

/*
 * Model choices, as the guest sees them:
 *
 * - Registers sit 1 << reg-shift bytes apart. An access of any width at a
 *   register's offset addresses that one register: a write uses the low byte
 *   of the value, a read returns the register zero-extended (the way a UART
 *   on a 32-bit bus behaves). Offsets between spaced registers, and offsets
 *   past the eighth register when the window is larger, read 0 and ignore
 *   writes: 0 rather than all-ones so that a probe of the padding cannot be
 *   mistaken for a live LSR.
 * - The transmitter is as fast as the output: a THR write goes straight to
 *   the output with a non-blocking write(2) when it takes it, and LSR THRE
 *   and TEMT read 1. When the output stalls (a full pipe, a FIFO nobody
 *   reads yet, a stopped terminal), bytes wait in a 4 KiB transmit buffer:
 *   THRE reads 0 while it lacks room for 16 bytes and TEMT until it is
 *   empty, so a driver that waits for THRE waits, in LSR reads the host can
 *   stop at any time, instead of the vCPU blocking in write(2) where no
 *   timeout or signal reaches it. A THR write with no room is dropped and
 *   counted, like a byte written to a full 16550. The buffer drains at each
 *   UART access, in the line worker when there is one (rx.c), and for at
 *   most flush-timeout when the device is destroyed; the counts of bytes
 *   delivered and dropped are logged then.
 *   tx.c holds this policy and its reasons.
 * - Input arrives on its own: a worker thread (rx.c) reads the input and
 *   moves bytes into the RX FIFO as it has room (so host input never
 *   overruns), whether or not the guest is running. Loopback overruns do: a
 *   full FIFO drops the new byte and sets LSR OE; without FIFOs the new
 *   byte replaces the held one and sets OE, as on the chip.
 * - Interrupts (plugin ABI 1.1, a device with an `irq` key): the INTR
 *   output is the first line, info->irqs[0], held high while an enabled
 *   source is pending and OUT2 is set (as on a PC, where OUT2 enables the
 *   IRQ driver; loopback forces OUT2 inactive, so no line then), low
 *   otherwise. IIR reports the sources by the 16550A's priorities: line
 *   status (OE), then received data (at the FIFO trigger level, or below it
 *   after the character timeout), then THR empty, then modem status. THR
 *   empty is raised when THR empties or when IER enables it while THR is
 *   empty, and cleared by an IIR read that reports it or by a THR write.
 *   A byte leaves THR as soon as it is written, so a THR write lowers the
 *   line and raises it again: an edge-triggered guest gets its next
 *   interrupt. The character timeout comes 4 character times after the
 *   last byte went into or out of the FIFO, timed by the host's monotonic
 *   clock at the rate the divisor latch and LCR describe (divisor 1 =
 *   115200 baud; the reset divisor 12 makes it about 4.2 ms at 8N1).
 *   Without an `irq` key, or on an older host, the model works polled and
 *   IIR still reports the sources.
 * - Outside loopback the modem inputs read as a connected terminal: CTS, DSR
 *   and DCD asserted, RI not. Break (LCR bit 6), parity and framing are
 *   stored but have no effect; the divisor latch sets no speed, only the
 *   character timeout.
 * - Reset returns the registers to power-on state (divisor 12, i.e. 9600
 *   baud from the PC's 1.8432 MHz clock) and empties the RX FIFO; the
 *   output and input files stay open where they are.
 *
 * Parameters, read with the host's typed key services (plugin ABI 1.2), so
 * with the syntax of the core's keys (vmm.ini(5)):
 *   output    = stdout (default) | stderr | none | PATH
 *               PATH is created or truncated (mode 0666 less umask), so each
 *               run starts with a clean log; write ./stdout for a file of
 *               that name. A relative PATH is relative to the folder of the
 *               config file (of the working directory for a device added
 *               without one). A FIFO with no reader yet is
 *               opened when one comes; meanwhile output waits (THRE 0).
 *   flush-timeout = a duration as [vm] timeout: N, Ns, Nms or Nm, at most a
 *               day (default 1s): how long destroying the device waits for a
 *               stalled output to take what is buffered. 0: not at all.
 *   input     = none (default) | stdin | PATH: what the receiver gets,
 *               read by the line worker until its end. PATH as for output.
 *               A FIFO is opened read-write so that writers may come and
 *               go. The terminal is not put in raw mode.
 *   reg-shift = a number 0 to 3: register spacing 1 << reg-shift bytes; the
 *               window must be at least 8 << reg-shift bytes.
 * A host before 1.2 runs the model with output and input relative to the
 * working directory, and refuses reg-shift and flush-timeout (-ENOTSUP).
 */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uart.h"

/* The keys as create() reads them; input and output may point into the path buffers. */
struct uart_keys {
	const char *output, *input; /* NULL: not set */
	uint64_t shift, flush_ms;
	char out_path[PATH_MAX], in_path[PATH_MAX];
};

#define UART_NREGS	      8
#define UART_RESET_DIVISOR    12
#define UART_FLUSH_MS_DEFAULT 1000
#define UART_FLUSH_MS_MAX     86400000u /* a day: beyond any use, and small deadline arithmetic */
#define UART_SHIFT_MAX	      3
#define UART_CLOCK_HZ	      115200u /* the PC's 1.8432 MHz crystal over 16: divisor 1 */

/* Register indices: the offset is index << reg_shift. */
#define UART_RBR 0 /* read, DLAB = 0 */
#define UART_THR 0 /* write, DLAB = 0 */
#define UART_DLL 0 /* DLAB = 1 */
#define UART_IER 1 /* DLAB = 0 */
#define UART_DLM 1 /* DLAB = 1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* THR empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK  0x0f

#define IIR_NONE 0x01
#define IIR_MSI	 0x00
#define IIR_THRI 0x02
#define IIR_RDI	 0x04
#define IIR_RLSI 0x06
#define IIR_CTI	 0x0c
#define IIR_ID	 0x0f
#define IIR_FIFO 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_DMA	     0x08
#define FCR_TRIGGER  0xc0

#define LCR_WLEN   0x03
#define LCR_STOP   0x04
#define LCR_PARITY 0x08
#define LCR_DLAB   0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	   0x01
#define LSR_OE	   0x02
#define LSR_PE	   0x04
#define LSR_FE	   0x08
#define LSR_BI	   0x10
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80

uint64_t uart_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- output and input ---- */

/* THRE: room for a TX FIFO's worth of bytes on the line. */
static bool uart_thre(const struct uart *u)
{
	return uart_tx_room(&u->tx, UART_FIFO_SIZE);
}

void uart_tx_progress(struct uart *u)
{
	bool was = uart_thre(u);

	uart_tx_poll(&u->tx);
	if (!was && uart_thre(u))
		u->thri = true;
}

static unsigned uart_rx_capacity(const struct uart *u)
{
	return (u->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

unsigned uart_rx_room(const struct uart *u)
{
	unsigned cap = uart_rx_capacity(u);

	return u->rx_count < cap ? cap - u->rx_count : 0;
}

bool uart_rx_from_input(const struct uart *u)
{
	return !(u->mcr & MCR_LOOP);
}

static void uart_rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
	if (u->worker_waits_room)
		uart_worker_kick(u);
}

void uart_rx_push(struct uart *u, uint8_t byte)
{
	u->rx_stamp = uart_now_ns();
	if (u->rx_count >= uart_rx_capacity(u)) {
		/* Without FIFOs the holding register is overwritten; with them the FIFO keeps its
		 * bytes. */
		if (!(u->fcr & FCR_ENABLE))
			u->rx[u->rx_head] = byte;
		u->lsr_err |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
}

static uint8_t uart_rx_pop(struct uart *u)
{
	if (u->rx_count) {
		u->rbr = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
		u->rx_count--;
		u->rx_stamp = uart_now_ns();
		if (u->worker_waits_room)
			uart_worker_kick(u);
	}
	return u->rbr;
}

/* ---- interrupts ---- */

static unsigned uart_rx_trigger(const struct uart *u)
{
	static const uint8_t trigger[4] = {1, 4, 8, 14};

	return (u->fcr & FCR_ENABLE) ? trigger[u->fcr >> 6] : 1;
}

/*
 * Four character times at the rate the divisor latch sets from the PC's
 * 1.8432 MHz clock, with the frame LCR describes (start bit, 5 to 8 data
 * bits, parity, 1 or 2 stop bits; 1.5 counts as 2). A divisor of 0 counts
 * as 1. At most 4 * 12 * 65535 / 115200 s, about 27 s.
 */
static uint64_t uart_timeout_ns(const struct uart *u)
{
	uint64_t div = (uint64_t)u->dlm << 8 | u->dll;
	uint64_t bits = 1 + 5 + (u->lcr & LCR_WLEN) + ((u->lcr & LCR_PARITY) ? 1 : 0) +
			((u->lcr & LCR_STOP) ? 2 : 1);

	if (!div)
		div = 1;
	return 4 * bits * div * 1000000000ull / UART_CLOCK_HZ;
}

/* A FIFO holds bytes below its trigger level: the only case the timeout serves. */
static bool uart_cti_armed(const struct uart *u)
{
	return (u->fcr & FCR_ENABLE) && u->rx_count && u->rx_count < uart_rx_trigger(u);
}

uint64_t uart_cti_deadline(const struct uart *u)
{
	uint64_t d;

	if (!(u->ier & IER_ERBFI) || !uart_cti_armed(u))
		return 0;
	d = u->rx_stamp + uart_timeout_ns(u);
	return d > uart_now_ns() ? d : 0;
}

/* The source IIR reports, by the 16550A's priorities; IIR_NONE if none is pending. */
static uint8_t uart_source(const struct uart *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr_err & LSR_ERRORS))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		if (u->rx_count >= uart_rx_trigger(u))
			return IIR_RDI;
		if (uart_now_ns() - u->rx_stamp >= uart_timeout_ns(u))
			return IIR_CTI;
	}
	if ((u->ier & IER_ETBEI) && u->thri)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NONE;
}

static uint8_t uart_iir(const struct uart *u)
{
	return uart_source(u) | ((u->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
}

/*
 * The INTR pin reaches the I/O APIC through a driver that OUT2 enables, as
 * on a PC; loopback forces OUT2 inactive, so a UART in loopback raises no
 * line (IIR still reports its sources).
 */
static bool uart_line(const struct uart *u)
{
	return (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2 && uart_source(u) != IIR_NONE;
}

static void uart_set_irq(struct uart *u, bool level)
{
	u->irq_level = level;
	u->host->irq_set(u->ctx, 0, level);
}

void uart_update_irq(struct uart *u)
{
	bool level;

	if (!u->has_irq)
		return;
	level = uart_line(u);
	if (level != u->irq_level)
		uart_set_irq(u, level);
}

/*
 * After a guest access: the line's level, and whether the worker must look
 * again (a character timeout now due sooner than it sleeps, bytes waiting
 * for an output it does not watch).
 */
static void uart_after_access(struct uart *u)
{
	uint64_t d;
	bool kick = false;

	uart_update_irq(u);
	if (!u->worker_started)
		return;
	d = u->has_irq ? uart_cti_deadline(u) : 0;
	if (d && (!u->worker_deadline || d < u->worker_deadline)) {
		u->worker_deadline = d;
		kick = true;
	}
	if (!uart_tx_empty(&u->tx) && !u->worker_watches_tx) {
		u->worker_watches_tx = true;
		kick = true;
	}
	if (kick)
		uart_worker_kick(u);
}

/* ---- registers ---- */

/* Modem inputs follow the outputs in loopback and a connected terminal otherwise. */
static void uart_update_msr(struct uart *u)
{
	uint8_t old = u->msr & ~MSR_DELTAS, in = 0, deltas = u->msr & MSR_DELTAS;

	if (u->mcr & MCR_LOOP) {
		if (u->mcr & MCR_RTS)
			in |= MSR_CTS;
		if (u->mcr & MCR_DTR)
			in |= MSR_DSR;
		if (u->mcr & MCR_OUT1)
			in |= MSR_RI;
		if (u->mcr & MCR_OUT2)
			in |= MSR_DCD;
	} else {
		in = MSR_CTS | MSR_DSR | MSR_DCD;
	}
	if ((old ^ in) & MSR_CTS)
		deltas |= MSR_DCTS;
	if ((old ^ in) & MSR_DSR)
		deltas |= MSR_DDSR;
	if ((old ^ in) & MSR_DCD)
		deltas |= MSR_DDCD;
	if ((old & MSR_RI) && !(in & MSR_RI)) /* trailing edge only */
		deltas |= MSR_TERI;
	u->msr = in | deltas;
}

static void uart_write_fcr(struct uart *u, uint8_t v)
{
	bool was_enabled = u->fcr & FCR_ENABLE;

	/* Toggling FIFO mode empties the FIFOs; the other bits only count with FCR_ENABLE set. */
	if (!(v & FCR_ENABLE)) {
		if (was_enabled)
			uart_rx_clear(u);
		u->fcr = 0;
		return;
	}
	if (!was_enabled || (v & FCR_CLEAR_RX))
		uart_rx_clear(u);
	/*
	 * FCR_CLEAR_TX keeps the transmit buffer: its bytes stand for the line
	 * to the host, already past the TX FIFO.
	 */
	u->fcr = v & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
	if (u->worker_waits_room)
		uart_worker_kick(u); /* the FIFO may hold more now */
}

static uint8_t uart_reg_read(struct uart *u, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		return uart_rx_pop(u);
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		v = uart_iir(u);
		/* Reading IIR acknowledges a THR-empty interrupt it reports. */
		if ((v & IIR_ID) == IIR_THRI)
			u->thri = false;
		return v;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = u->lsr_err | (uart_thre(u) ? LSR_THRE : 0) |
		    (uart_tx_empty(&u->tx) ? LSR_TEMT : 0) | (u->rx_count ? LSR_DR : 0);
		u->lsr_err = 0;
		return v;
	case UART_MSR:
		v = u->msr;
		u->msr &= ~MSR_DELTAS;
		return v;
	default:
		return u->scr;
	}
}

static void uart_reg_write(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
			return;
		}
		/*
		 * The write clears the THR-empty interrupt; the byte then leaves
		 * at once and THR is empty again. Telling the host both steps
		 * gives an edge-triggered guest its next interrupt.
		 */
		u->thri = false;
		uart_update_irq(u);
		if (u->mcr & MCR_LOOP)
			uart_rx_push(u, v);
		else
			uart_tx_put(&u->tx, v);
		u->thri = uart_thre(u); /* the byte left, or the line still has room */
		return;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			return;
		}
		/* Enabling the THR-empty interrupt while THR is empty raises it at once. */
		if (!(u->ier & IER_ETBEI) && (v & IER_ETBEI) && uart_thre(u))
			u->thri = true;
		u->ier = v & IER_MASK;
		return;
	case UART_FCR:
		uart_write_fcr(u, v);
		return;
	case UART_LCR:
		u->lcr = v;
		return;
	case UART_MCR:
		u->mcr = v & MCR_MASK;
		uart_update_msr(u);
		if (u->worker_waits_room)
			uart_worker_kick(u); /* loopback off: the input may flow again */
		return;
	case UART_LSR: /* factory test on real chips: ignored */
	case UART_MSR:
		return;
	default:
		u->scr = v;
		return;
	}
}

/* The register an access at offset addresses, or -1 for padding and offsets past the registers. */
static int uart_reg_index(const struct uart *u, uint64_t offset)
{
	uint64_t stride_mask = (1u << u->reg_shift) - 1;

	if (offset & stride_mask)
		return -1;
	offset >>= u->reg_shift;
	return offset < UART_NREGS ? (int)offset : -1;
}

static int uart_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	struct uart *u = state;
	int reg = uart_reg_index(u, offset);

	pthread_mutex_lock(&u->lock);
	uart_tx_progress(u);
	*value = reg < 0 ? 0 : uart_reg_read(u, (unsigned)reg);
	uart_after_access(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static int uart_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	struct uart *u = state;
	int reg = uart_reg_index(u, offset);

	pthread_mutex_lock(&u->lock);
	uart_tx_progress(u);
	if (reg >= 0)
		uart_reg_write(u, (unsigned)reg, (uint8_t)value);
	uart_after_access(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

static void uart_reset(void *state)
{
	struct uart *u = state;

	pthread_mutex_lock(&u->lock);
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->fcr = 0;
	u->dll = UART_RESET_DIVISOR & 0xff;
	u->dlm = UART_RESET_DIVISOR >> 8;
	u->lsr_err = 0;
	u->rbr = 0;
	u->thri = false;
	uart_rx_clear(u);
	/* Power-on line states, with no change recorded. */
	u->msr = 0;
	uart_update_msr(u);
	u->msr &= ~MSR_DELTAS;
	/* Low, whatever we believed: the host may have reset its side too. */
	if (u->has_irq)
		uart_set_irq(u, false);
	pthread_mutex_unlock(&u->lock);
}

/* ---- lifecycle ---- */

/* The key's value names a file, not one of words: the host resolves it against the config. */
static bool uart_is_path(const char *value, const char *const *words)
{
	if (!value || !*value) /* absent, or empty: the opener reports the empty one */
		return false;
	for (; *words; words++)
		if (!strcmp(value, *words))
			return false;
	return true;
}

/*
 * Read the keys with the host's 1.2 services, the core's syntax: reg-shift
 * as a number (0x2 and 2 alike), flush-timeout as a duration (as [vm]
 * timeout), and a file path for input or output relative to the config
 * file, into the caller's buffers. Absent keys keep the caller's defaults.
 */
static int uart_read_keys(const struct vmm_host_services *host, struct vmm_host *ctx,
			  struct uart_keys *k)
{
	static const char *const out_words[] = {"stdout", "stderr", "none", NULL};
	static const char *const in_words[] = {"stdin", "none", NULL};
	int err;

	err = host->param_u64(ctx, "reg-shift", 0, UART_SHIFT_MAX, &k->shift);
	if (err && err != -ENOENT)
		return err;
	err = host->param_ms(ctx, "flush-timeout", 0, UART_FLUSH_MS_MAX, &k->flush_ms);
	if (err && err != -ENOENT)
		return err;
	if (uart_is_path(k->output, out_words)) {
		err = host->param_path(ctx, "output", k->out_path, sizeof(k->out_path));
		if (err)
			return err;
		k->output = k->out_path;
	}
	if (uart_is_path(k->input, in_words)) {
		err = host->param_path(ctx, "input", k->in_path, sizeof(k->in_path));
		if (err)
			return err;
		k->input = k->in_path;
	}
	return 0;
}

/*
 * A host before 1.2 cannot read numbers with the core's syntax: the model
 * takes no number of its own in their place (two syntaxes for one key would
 * be worse), so it runs with the defaults or refuses. Paths stay relative to
 * the working directory, as such a host's users knew them.
 */
static int uart_old_host_keys(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	static const char *const numeric[] = {"reg-shift", "flush-timeout"};

	for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
		if (host->param(ctx, numeric[i])) {
			host->log(
			    ctx, VMM_LOG_ERROR,
			    "key '%s' needs a host of plugin ABI 1.2 or later; this one is %u.%u",
			    numeric[i], VMM_PLUGIN_ABI_MAJOR(host->abi_version),
			    VMM_PLUGIN_ABI_MINOR(host->abi_version));
			return -ENOTSUP;
		}
	}
	return 0;
}

static void uart_destroy(void *state)
{
	struct uart *u = state;

	if (!u)
		return;
	uart_worker_stop(u);
	uart_tx_close(&u->tx);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

/* Every member of 1.0, the least this model needs of the services and of the device info. */
#define UART_HOST_MIN_SIZE                                                                         \
	(offsetof(struct vmm_host_services, param_error) +                                         \
	 sizeof(((struct vmm_host_services *)0)->param_error))
#define UART_INFO_MIN_SIZE (offsetof(struct vmm_device_info, length) + sizeof(uint64_t))

/*
 * The interrupt line: the first `irq` pin, if the host has irq_set() (1.1)
 * and the device has one. Otherwise the UART works polled, as before 1.1.
 */
static bool uart_wants_irq(const struct vmm_host_services *host, const struct vmm_device_info *info)
{
	if (!VMM_HOST_HAS(host, irq_set) || !host->irq_set)
		return false;
	if (info->size < offsetof(struct vmm_device_info, nirqs) + sizeof(info->nirqs))
		return false;
	return info->nirqs > 0;
}

/* The typed key services of 1.2, all of them, or none is used. */
static bool uart_host_has_typed_keys(const struct vmm_host_services *host)
{
	return VMM_HOST_HAS(host, param_path) && host->param_u64 && host->param_ms &&
	       host->param_path;
}

static int uart_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		       const struct vmm_device_info *info, void **state)
{
	struct uart_keys *k;
	struct uart *u;
	unsigned shift;
	int err;

	if (host->size < UART_HOST_MIN_SIZE || info->size < UART_INFO_MIN_SIZE)
		return -EPROTO;
	/* Two paths of PATH_MAX: too much for a stack that may be small. */
	k = calloc(1, sizeof(*k));
	if (!k) {
		host->log(ctx, VMM_LOG_ERROR, "out of memory");
		return -ENOMEM;
	}
	k->flush_ms = UART_FLUSH_MS_DEFAULT;
	k->output = host->param(ctx, "output");
	k->input = host->param(ctx, "input");
	if (uart_host_has_typed_keys(host))
		err = uart_read_keys(host, ctx, k);
	else
		err = uart_old_host_keys(host, ctx);
	if (err) {
		free(k);
		return err;
	}
	shift = (unsigned)k->shift;
	if (info->length < (8u << shift)) {
		free(k);
		host->param_error(ctx, "reg-shift",
				  "%u needs a window of at least %u bytes, not %llu", shift,
				  8u << shift, (unsigned long long)info->length);
		return -EINVAL;
	}

	u = calloc(1, sizeof(*u));
	if (!u) {
		free(k);
		host->log(ctx, VMM_LOG_ERROR, "out of memory");
		return -ENOMEM;
	}
	u->host = host;
	u->ctx = ctx;
	u->reg_shift = shift;
	u->in_fd = -1;
	u->wake_fd = -1;
	u->has_irq = uart_wants_irq(host, info);
	err = pthread_mutex_init(&u->lock, NULL);
	if (err) {
		host->log(ctx, VMM_LOG_ERROR, "cannot create the device lock: %s", strerror(err));
		free(u);
		free(k);
		return -err;
	}

	/* Input first: a refused input must not leave a truncated output file behind. */
	err = uart_input_open(u, k->input);
	if (err)
		goto err_free;
	err = uart_tx_open(&u->tx, host, ctx, k->output, k->flush_ms);
	if (err)
		goto err_free;
	free(k);
	k = NULL;
	uart_reset(u);
	/* A thread only where something must happen without the guest: input, or a line. */
	if (u->in_fd >= 0 || u->has_irq) {
		err = uart_worker_start(u);
		if (err)
			goto err_free;
	}
	*state = u;
	return 0;

err_free:
	free(k);
	uart_destroy(u);
	return err;
}

static const struct vmm_plugin_desc uart_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "uart16550",
    .description = "16550A UART with 16-byte FIFOs (serial console)",
    .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4,
    .min_length = UART_NREGS, /* for reg-shift 0; create() checks larger shifts */
    .create = uart_create,
    .destroy = uart_destroy,
    .reset = uart_reset,
    .read = uart_read,
    .write = uart_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &uart_desc;
}
