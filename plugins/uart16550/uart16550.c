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
 *   UART access and, for at most flush-timeout, when the device is
 *   destroyed; the counts of bytes delivered and dropped are logged then.
 *   tx.c holds this policy and its reasons.
 * - Input is polled, never waited for: when the guest reads RBR, LSR or IIR
 *   the model takes whatever the input has ready, up to the free room of
 *   the RX FIFO (so host input never overruns). Loopback overruns do: a
 *   full FIFO drops the new byte and sets LSR OE; without FIFOs the new
 *   byte replaces the held one and sets OE, as on the chip.
 * - There are no interrupt lines in plugin ABI v1: IER is stored and IIR is
 *   computed as a driver would expect (line status, then received data or
 *   FIFO timeout, then THR empty, then modem status), but nothing is raised.
 *   Received data below the FIFO trigger level reports a character timeout
 *   at once, since host input arrives in bursts and no time passes here.
 * - Outside loopback the modem inputs read as a connected terminal: CTS, DSR
 *   and DCD asserted, RI not. Break (LCR bit 6), parity and framing are
 *   stored but have no effect; the divisor latch is kept but sets no speed.
 * - Reset returns the registers to power-on state (divisor 12, i.e. 9600
 *   baud from the PC's 1.8432 MHz clock) and empties the RX FIFO; the
 *   output and input files stay open where they are.
 *
 * Parameters:
 *   output    = stdout (default) | stderr | none | PATH
 *               PATH is created or truncated (mode 0666 less umask), so each
 *               run starts with a clean log; write ./stdout for a file of
 *               that name. Relative paths are relative to the working
 *               directory of the process. A FIFO with no reader yet is
 *               opened when one comes; meanwhile output waits (THRE 0).
 *   flush-timeout = 0 | N | Ns | Nms (default 1s): how long destroying the
 *               device waits for a stalled output to take what is buffered.
 *   input     = none (default) | stdin | PATH (opened non-blocking; a FIFO
 *               works). The terminal is not put in raw mode.
 *   reg-shift = 0..3: register spacing 1 << reg-shift bytes; the window must
 *               be at least 8 << reg-shift bytes.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tx.h"
#include "vmm/plugin.h"

#define UART_NREGS	      8
#define UART_FIFO_SIZE	      16
#define UART_RESET_DIVISOR    12
#define UART_FLUSH_MS_DEFAULT 1000

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
#define IIR_FIFO 0xc0

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_DMA	     0x08
#define FCR_TRIGGER  0xc0

#define LCR_DLAB 0x80

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

struct uart {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;
	unsigned reg_shift;

	struct uart_tx tx; /* the transmit line: output, buffer, counts */
	int in_fd;	   /* -1: input = none */
	bool in_owned;
	bool in_regular; /* a regular file is always "ready": skip poll() */

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;	 /* FCR_ENABLE | FCR_DMA | FCR_TRIGGER as last written */
	uint8_t lsr_err; /* LSR error bits, cleared when LSR is read */
	uint8_t msr;	 /* line states in bits 4-7, deltas in bits 0-3 */
	uint8_t rbr;	 /* last byte taken from RX: RBR repeats it when empty */
	bool thri;	 /* THR-empty interrupt pending */

	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
};

/* ---- output and input ---- */

/* THRE: room for a TX FIFO's worth of bytes on the line. */
static bool uart_thre(const struct uart *u)
{
	return uart_tx_room(&u->tx, UART_FIFO_SIZE);
}

/* Let the line move buffered bytes out; THR turning empty raises its interrupt. */
static void uart_tx_progress(struct uart *u)
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

static void uart_rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

/* A byte arrives from the serial line (loopback or host input). */
static void uart_rx_push(struct uart *u, uint8_t byte)
{
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
	}
	return u->rbr;
}

/* Take what the input has ready, without ever waiting. */
static void uart_poll_input(struct uart *u)
{
	uint8_t buf[UART_FIFO_SIZE];
	unsigned room;
	ssize_t n;

	/* In loopback the receiver listens to the transmitter only. */
	if (u->in_fd < 0 || (u->mcr & MCR_LOOP))
		return;
	room = uart_rx_capacity(u) - u->rx_count;
	if (!room)
		return;
	if (!u->in_regular) {
		/*
		 * poll() rather than O_NONBLOCK on stdin: the flag would be set on
		 * the open file description that the shell shares with us.
		 */
		struct pollfd p = {.fd = u->in_fd, .events = POLLIN};

		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
			return;
	}
	do
		n = read(u->in_fd, buf, room);
	while (n < 0 && errno == EINTR);
	for (ssize_t i = 0; i < n; i++)
		uart_rx_push(u, buf[i]);
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

static uint8_t uart_iir(const struct uart *u)
{
	static const uint8_t trigger[4] = {1, 4, 8, 14};
	bool fifo = u->fcr & FCR_ENABLE;
	uint8_t id = IIR_NONE;

	if ((u->ier & IER_ELSI) && (u->lsr_err & LSR_ERRORS))
		id = IIR_RLSI;
	else if ((u->ier & IER_ERBFI) && u->rx_count)
		id = (!fifo || u->rx_count >= trigger[u->fcr >> 6]) ? IIR_RDI : IIR_CTI;
	else if ((u->ier & IER_ETBEI) && u->thri)
		id = IIR_THRI;
	else if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		id = IIR_MSI;
	return id | (fifo ? IIR_FIFO : 0);
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
}

static uint8_t uart_reg_read(struct uart *u, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		uart_poll_input(u);
		return uart_rx_pop(u);
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		uart_poll_input(u);
		v = uart_iir(u);
		/* Reading IIR acknowledges a THR-empty interrupt it reports. */
		if ((v & 0x0f) == IIR_THRI)
			u->thri = false;
		return v;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		uart_poll_input(u);
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

	uart_tx_progress(u);
	*value = reg < 0 ? 0 : uart_reg_read(u, (unsigned)reg);
	return 0;
}

static int uart_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	struct uart *u = state;
	int reg = uart_reg_index(u, offset);

	uart_tx_progress(u);
	if (reg >= 0)
		uart_reg_write(u, (unsigned)reg, (uint8_t)value);
	return 0;
}

static void uart_reset(void *state)
{
	struct uart *u = state;

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
}

/* ---- lifecycle ---- */

static int uart_parse_shift(const struct vmm_host_services *host, struct vmm_host *ctx,
			    const char *s, unsigned *shift)
{
	if (!s) {
		*shift = 0;
		return 0;
	}
	/* One digit, nothing else: "2", never " 2", "02" or "2k". */
	if (s[0] < '0' || s[0] > '3' || s[1] != '\0') {
		host->param_error(ctx, "reg-shift", "'%s' is not 0, 1, 2 or 3", s);
		return -EINVAL;
	}
	*shift = (unsigned)(s[0] - '0');
	return 0;
}

/* A duration as vmm.ini writes one, without minutes: "0", "N" or "Ns" (seconds), "Nms". */
static int uart_parse_flush(const struct vmm_host_services *host, struct vmm_host *ctx,
			    const char *s, uint64_t *ms)
{
	uint64_t n = 0, unit = 1000;
	const char *p = s;

	if (!s) {
		*ms = UART_FLUSH_MS_DEFAULT;
		return 0;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			goto bad;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (!strcmp(p, "ms"))
		unit = 1;
	else if (strcmp(p, "") && strcmp(p, "s"))
		goto bad;
	/* A day is far beyond any useful flush and keeps the deadline arithmetic small. */
	if (p == s || n > 86400000 / unit)
		goto bad;
	*ms = n * unit;
	return 0;
bad:
	host->param_error(ctx, "flush-timeout",
			  "'%s' is not a duration (0, N, Ns or Nms, at most a day)", s);
	return -EINVAL;
}

static int uart_open_input(struct uart *u, const char *s)
{
	struct stat st;

	if (!s || !strcmp(s, "none")) {
		u->in_fd = -1;
		return 0;
	}
	if (!strcmp(s, "stdin")) {
		u->in_fd = STDIN_FILENO;
	} else if (!*s) {
		u->host->param_error(u->ctx, "input", "is empty (none, stdin or a file path)");
		return -EINVAL;
	} else {
		/* O_NONBLOCK so that opening a FIFO does not wait for a writer, nor reading it for
		 * data. */
		u->in_fd = open(s, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (u->in_fd < 0) {
			u->host->param_error(u->ctx, "input", "cannot open '%s': %s", s,
					     strerror(errno));
			return -EINVAL;
		}
		u->in_owned = true;
	}
	u->in_regular = fstat(u->in_fd, &st) == 0 && S_ISREG(st.st_mode);
	return 0;
}

static void uart_destroy(void *state)
{
	struct uart *u = state;

	if (!u)
		return;
	uart_tx_close(&u->tx);
	if (u->in_owned)
		close(u->in_fd);
	free(u);
}

static int uart_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		       const struct vmm_device_info *info, void **state)
{
	const char *output, *input, *shift_s, *flush_s;
	struct uart *u;
	uint64_t flush_ms;
	unsigned shift;
	int err;

	if (host->size < sizeof(*host) || info->size < sizeof(*info))
		return -EPROTO;
	/* Ask for every key before failing on one, so that the host reports only real mistakes. */
	output = host->param(ctx, "output");
	input = host->param(ctx, "input");
	shift_s = host->param(ctx, "reg-shift");
	flush_s = host->param(ctx, "flush-timeout");

	err = uart_parse_shift(host, ctx, shift_s, &shift);
	if (!err)
		err = uart_parse_flush(host, ctx, flush_s, &flush_ms);
	if (err)
		return err;
	if (info->length < (8u << shift)) {
		host->param_error(ctx, "reg-shift",
				  "%u needs a window of at least %u bytes, not %llu", shift,
				  8u << shift, (unsigned long long)info->length);
		return -EINVAL;
	}

	u = calloc(1, sizeof(*u));
	if (!u) {
		host->log(ctx, VMM_LOG_ERROR, "out of memory");
		return -ENOMEM;
	}
	u->host = host;
	u->ctx = ctx;
	u->reg_shift = shift;
	u->in_fd = -1;

	/* Input first: a refused input must not leave a truncated output file behind. */
	err = uart_open_input(u, input);
	if (err)
		goto err_free;
	err = uart_tx_open(&u->tx, host, ctx, output, flush_ms);
	if (err)
		goto err_free;
	uart_reset(u);
	*state = u;
	return 0;

err_free:
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
