/* SPDX-License-Identifier: MIT */
/* uart.h - what the uart16550's files share: the device state, its lock rule, the line worker. */
#ifndef UART16550_UART_H
#define UART16550_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tx.h"
#include "vmm/plugin.h"

#define UART_FIFO_SIZE 16

/*
 * Locking. The host serialises read(), write(), reset() and destroy(); the
 * line worker (rx.c) runs beside them, so everything below `lock` is
 * guarded by it. Under the lock the code makes only non-blocking system
 * calls and irq_set(), whose lock is innermost (the host never calls a
 * device while holding it). Nothing waits for anything while holding the
 * lock, and destroy() joins the worker without it.
 */
struct uart {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;
	unsigned reg_shift;
	bool has_irq; /* a line (info->irqs[0]) and a host of 1.1 or later */

	/* The input, owned by the worker once it runs. */
	int in_fd; /* -1: input = none */
	bool in_owned;
	bool in_guarded; /* a shared blocking descriptor: read only after poll() says so */
	char in_name[80];

	/* The worker (rx.c); wake_fd is an eventfd that kicks it out of poll(). */
	bool worker_started;
	pthread_t worker;
	int wake_fd;

	pthread_mutex_t lock;
	bool stopping;		  /* destroy() asks the worker to end */
	bool worker_waits_room;	  /* the worker holds bytes for a full RX FIFO */
	bool worker_watches_tx;	  /* the worker polls the output for buffered bytes */
	uint64_t worker_deadline; /* the worker's wake-up time (ns), 0: none */

	struct uart_tx tx; /* the transmit line: output, buffer, counts */

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;	 /* FCR_ENABLE | FCR_DMA | FCR_TRIGGER as last written */
	uint8_t lsr_err; /* LSR error bits, cleared when LSR is read */
	uint8_t msr;	 /* line states in bits 4-7, deltas in bits 0-3 */
	uint8_t rbr;	 /* last byte taken from RX: RBR repeats it when empty */
	bool thri;	 /* THR-empty interrupt pending */
	bool irq_level;	 /* what we last told the host */

	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	uint64_t rx_stamp; /* monotonic ns of the last byte in or out of the RX FIFO */
};

/* Monotonic time in nanoseconds. */
uint64_t uart_now_ns(void);

/* ---- uart16550.c, all called with u->lock held ---- */

/* Free room in the receiver: the FIFO's, or the holding register's without FIFOs. */
unsigned uart_rx_room(const struct uart *u);
/* The receiver listens to the input (not in loopback). */
bool uart_rx_from_input(const struct uart *u);
/* A byte arrives from the serial line. */
void uart_rx_push(struct uart *u, uint8_t byte);
/* Let the output move buffered bytes out; THR turning empty raises its interrupt. */
void uart_tx_progress(struct uart *u);
/* When a character timeout will come due (ns), or 0 if none is on its way. */
uint64_t uart_cti_deadline(const struct uart *u);
/* Tell the host the interrupt line's level if it changed. */
void uart_update_irq(struct uart *u);

/* ---- rx.c ---- */

/*
 * Open the input (NULL or "none": none). Returns 0, or -EINVAL after
 * param_error("input", ...).
 */
int uart_input_open(struct uart *u, const char *input);
/* Start the line worker. Returns 0 or a negative errno, after logging. */
int uart_worker_start(struct uart *u);
/* Wake the worker to look at the state again (with u->lock held or not). */
void uart_worker_kick(struct uart *u);
/* Stop and join the worker (without u->lock held); close the input. */
void uart_worker_stop(struct uart *u);

#endif
