/* SPDX-License-Identifier: MIT */
/* tx.h - the uart16550's transmit line: where THR bytes go on the host, without ever blocking the
 * vCPU. */
#ifndef UART16550_TX_H
#define UART16550_TX_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vmm/plugin.h"

/*
 * Bytes the line holds while the output cannot take them (a full pipe, a
 * FIFO nobody reads yet, a stopped terminal). THRE reads 1 only while a
 * whole TX FIFO's worth of room is left, so a driver that waits for THRE
 * before each burst never loses a byte here.
 */
#define UART_TX_BUF 4096

enum uart_tx_state {
	UART_TX_NONE,	 /* output = none: bytes vanish, by request */
	UART_TX_OPEN,	 /* writing to fd */
	UART_TX_WAITING, /* a FIFO with no reader yet: try to open it again later */
	UART_TX_CLOSED,	 /* the reader went away or the output failed: bytes are dropped */
};

struct uart_tx {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;

	enum uart_tx_state state;
	int fd;
	bool owned;	      /* fd is ours to close */
	bool guarded;	      /* a shared blocking fd: poll() before each write, small chunks */
	unsigned guard_chunk; /* when guarded: the most one write() may take */
	bool is_sock;	      /* a socket we did not open: send() with MSG_DONTWAIT */
	char *path;	      /* the FIFO to retry while WAITING */
	char name[80];	      /* "stdout" or the path, for messages */
	uint64_t flush_ms;
	struct timespec next_try; /* while WAITING: the next open() attempt */

	uint8_t buf[UART_TX_BUF];
	unsigned head, count;

	uint64_t sent;	      /* bytes the output took */
	uint64_t drop_full;   /* THR writes while the buffer was full (the guest ignored THRE) */
	uint64_t drop_closed; /* bytes for an output that had gone away */
	uint64_t drop_exit;   /* still buffered when the flush at the end gave up */
	bool full_logged;
};

/*
 * Open output (NULL: stdout) for tx. Never blocks: a FIFO without a reader
 * is kept WAITING. Returns 0, or -EINVAL after param_error("output", ...).
 */
int uart_tx_open(struct uart_tx *tx, const struct vmm_host_services *host, struct vmm_host *ctx,
		 const char *output, uint64_t flush_ms);
/* Send one byte, or buffer it, or count it as dropped; never waits. */
void uart_tx_put(struct uart_tx *tx, uint8_t byte);
/* Move buffered bytes out as far as the output takes them now; never waits. */
void uart_tx_poll(struct uart_tx *tx);
/* Is there room for n more bytes (THRE)? Is everything accepted out (TEMT)? */
bool uart_tx_room(const struct uart_tx *tx, unsigned n);
bool uart_tx_empty(const struct uart_tx *tx);
/* Flush for at most flush_ms, log what was delivered and dropped, close. */
void uart_tx_close(struct uart_tx *tx);

#endif
