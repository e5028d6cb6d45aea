/* SPDX-License-Identifier: MIT */
/* tx.c - the uart16550's transmit line: where THR bytes go on the host, without ever blocking the
 * vCPU. */

/*
 * The policy, in one place:
 *
 * - Every write is non-blocking. A stalled output (a pipe nobody drains, a
 *   FIFO with no reader, a terminal stopped with ^S) must never hold the
 *   vCPU inside a device call: there the VM cannot be stopped, so neither a
 *   timeout nor a signal would end it.
 * - What the output cannot take now waits in a buffer of UART_TX_BUF bytes
 *   and goes out at the guest's next UART access or at the end. The guest
 *   sees the backpressure honestly: THRE reads 0 while the buffer lacks room
 *   for a TX FIFO's worth, TEMT reads 0 until every byte is out. A driver
 *   that waits for THRE (all of them) loses nothing and spins on LSR, an
 *   exit the host can stop at any time.
 * - A THR write that finds no room is dropped and counted: the guest wrote
 *   without waiting for THRE, which loses the byte on a real 16550 too.
 * - A FIFO that no process reads yet is not an error: it is a line whose
 *   far end is not listening. Opening it never waits; the device tries
 *   again every UART_TX_RETRY_MS while the guest uses it, and output waits
 *   in the buffer meanwhile. (QEMU's pipe chardev opens the FIFO read-write
 *   to the same end; we keep it write-only so that a reader that leaves is
 *   seen, as EPIPE, rather than the kernel buffering into the void.)
 * - A reader that closes (EPIPE), or any other write error, ends the line:
 *   the first is logged once, and every byte from then on is counted as
 *   dropped. vmm-run ignores SIGPIPE; an embedder must too.
 * - At the end, the buffer is flushed for at most flush_ms; what is still
 *   there is counted as dropped, and the counts are logged (a warning when
 *   anything was dropped).
 *
 * stdout and stderr are shared with the process: setting O_NONBLOCK on
 * them would change the open file description that the shell and other
 * processes use. For a pipe, FIFO or terminal the device opens its own
 * description through /proc/self/fd instead; a socket is written with
 * MSG_DONTWAIT; a regular file, block device or /dev/null is written as is
 * (it never waits for a reader). If /proc cannot reopen it, each write is
 * preceded by a zero-timeout poll() and kept to a size the kernel takes
 * whole when poll() says so ("guarded").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tx.h"

/* How often a FIFO with no reader is opened again while the guest uses the UART. */
#define UART_TX_RETRY_MS 10

static void tx_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static void tx_add_ms(struct timespec *ts, uint64_t ms)
{
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Milliseconds from now until ts, rounded up; 0 if it has passed. */
static int64_t tx_ms_until(const struct timespec *ts)
{
	struct timespec now;
	int64_t ns;

	tx_now(&now);
	ns = (int64_t)(ts->tv_sec - now.tv_sec) * 1000000000LL + (ts->tv_nsec - now.tv_nsec);
	return ns <= 0 ? 0 : (ns + 999999) / 1000000;
}

/* The line is gone for good: say why once, and count what it still held. */
static void tx_fail(struct uart_tx *tx, int err)
{
	if (err == EPIPE || err == ENXIO)
		tx->host->log(tx->ctx, VMM_LOG_WARN,
			      "output '%s': the reader closed it; the rest of the output is "
			      "discarded and counted",
			      tx->name);
	else
		tx->host->log(tx->ctx, VMM_LOG_ERROR,
			      "output '%s': %s; the rest of the output is discarded and counted",
			      tx->name, strerror(err));
	tx->drop_closed += tx->count;
	tx->count = 0;
	tx->state = UART_TX_CLOSED;
}

/* Write what the output takes now. Returns the count, or -errno (-EAGAIN: nothing now). */
static ssize_t tx_write_some(struct uart_tx *tx, const uint8_t *buf, size_t len)
{
	ssize_t n;

	if (tx->guarded) {
		struct pollfd p = {.fd = tx->fd, .events = POLLOUT};

		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLOUT | POLLERR | POLLHUP)))
			return -EAGAIN;
		if (len > tx->guard_chunk)
			len = tx->guard_chunk;
	}
	do {
		if (tx->is_sock)
			n = send(tx->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			n = write(tx->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n ? n : -EAGAIN;
}

/* A FIFO with no reader yet: open it if one has come, at most every UART_TX_RETRY_MS. */
static void tx_try_connect(struct uart_tx *tx)
{
	int fd;

	if (tx_ms_until(&tx->next_try) > 0)
		return;
	tx_now(&tx->next_try);
	tx_add_ms(&tx->next_try, UART_TX_RETRY_MS);
	fd = open(tx->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno != ENXIO) /* the FIFO was removed, say */
			tx_fail(tx, errno);
		return;
	}
	tx->fd = fd;
	tx->owned = true;
	tx->state = UART_TX_OPEN;
	tx->host->log(tx->ctx, VMM_LOG_INFO, "output '%s': a reader opened the FIFO", tx->name);
}

void uart_tx_poll(struct uart_tx *tx)
{
	if (tx->state == UART_TX_WAITING)
		tx_try_connect(tx);
	while (tx->state == UART_TX_OPEN && tx->count) {
		unsigned chunk = UART_TX_BUF - tx->head;
		ssize_t n;

		if (chunk > tx->count)
			chunk = tx->count;
		n = tx_write_some(tx, tx->buf + tx->head, chunk);
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			tx_fail(tx, (int)-n);
			return;
		}
		tx->head = (tx->head + (unsigned)n) % UART_TX_BUF;
		tx->count -= (unsigned)n;
		tx->sent += (uint64_t)n;
	}
}

void uart_tx_put(struct uart_tx *tx, uint8_t byte)
{
	if (tx->state == UART_TX_NONE)
		return;
	uart_tx_poll(tx);
	/* Straight out when nothing waits before it: the common case costs one write(). */
	if (tx->state == UART_TX_OPEN && !tx->count) {
		ssize_t n = tx_write_some(tx, &byte, 1);

		if (n == 1) {
			tx->sent++;
			return;
		}
		if (n != -EAGAIN)
			tx_fail(tx, (int)-n);
	}
	if (tx->state == UART_TX_CLOSED) {
		tx->drop_closed++;
		return;
	}
	if (tx->count < UART_TX_BUF) {
		tx->buf[(tx->head + tx->count) % UART_TX_BUF] = byte;
		tx->count++;
		return;
	}
	tx->drop_full++;
	if (!tx->full_logged) {
		tx->full_logged = true;
		tx->host->log(tx->ctx, VMM_LOG_INFO,
			      "output '%s' is not taking bytes and the guest writes THR without "
			      "waiting for THRE: dropping bytes (counted)",
			      tx->name);
	}
}

bool uart_tx_room(const struct uart_tx *tx, unsigned n)
{
	return UART_TX_BUF - tx->count >= n;
}

bool uart_tx_empty(const struct uart_tx *tx)
{
	return tx->count == 0;
}

/*
 * Use a descriptor the process already has (stdout, stderr) without
 * changing its open file description.
 */
static void tx_adopt(struct uart_tx *tx, int fd, const char *name)
{
	char proc[32];
	struct stat st;
	int own;

	snprintf(tx->name, sizeof(tx->name), "%s", name);
	tx->state = UART_TX_OPEN;
	tx->fd = fd;
	if (fstat(fd, &st) < 0) {
		tx->host->log(tx->ctx, VMM_LOG_WARN, "output '%s': %s: output is discarded", name,
			      strerror(errno));
		tx->state = UART_TX_CLOSED;
		return;
	}
	/* A disk or /dev/null takes bytes without waiting for anyone. */
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || (S_ISCHR(st.st_mode) && !isatty(fd)))
		return;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	own = open(proc, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (own >= 0) {
		tx->fd = own;
		tx->owned = true;
		return;
	}
	if (S_ISFIFO(st.st_mode) && errno == ENXIO) {
		/* A pipe whose reader has already gone. */
		tx_fail(tx, EPIPE);
		return;
	}
	if (S_ISSOCK(st.st_mode)) {
		tx->is_sock = true;
		return;
	}
	tx->host->log(tx->ctx, VMM_LOG_DEBUG, "output '%s': cannot reopen it non-blocking (%s)",
		      name, strerror(errno));
	tx->guarded = true;
	/*
	 * A pipe with room (poll() says POLLOUT) takes PIPE_BUF bytes whole; a
	 * terminal may need two cells for one byte ("\n" -> "\r\n"), so one
	 * at a time.
	 */
	tx->guard_chunk = isatty(fd) ? 1 : PIPE_BUF;
}

int uart_tx_open(struct uart_tx *tx, const struct vmm_host_services *host, struct vmm_host *ctx,
		 const char *output, uint64_t flush_ms)
{
	struct stat st;
	int fd;

	tx->host = host;
	tx->ctx = ctx;
	tx->fd = -1;
	tx->flush_ms = flush_ms;
	if (!output || !strcmp(output, "stdout")) {
		tx_adopt(tx, STDOUT_FILENO, "stdout");
		return 0;
	}
	if (!strcmp(output, "stderr")) {
		tx_adopt(tx, STDERR_FILENO, "stderr");
		return 0;
	}
	if (!strcmp(output, "none")) {
		tx->state = UART_TX_NONE;
		return 0;
	}
	if (!*output) {
		host->param_error(ctx, "output", "is empty (stdout, stderr, none or a file path)");
		return -EINVAL;
	}
	snprintf(tx->name, sizeof(tx->name), "%s", output);
	/* O_NONBLOCK: opening a FIFO for writing would otherwise wait for a reader. */
	fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0666);
	if (fd >= 0) {
		tx->fd = fd;
		tx->owned = true;
		tx->state = UART_TX_OPEN;
		return 0;
	}
	if (errno == ENXIO && stat(output, &st) == 0 && S_ISFIFO(st.st_mode)) {
		tx->path = strdup(output);
		if (!tx->path) {
			host->log(ctx, VMM_LOG_ERROR, "out of memory");
			return -ENOMEM;
		}
		tx->state = UART_TX_WAITING;
		host->log(ctx, VMM_LOG_INFO,
			  "output '%s': no process reads this FIFO yet; output waits for one",
			  output);
		return 0;
	}
	host->param_error(ctx, "output", "cannot open '%s': %s", output, strerror(errno));
	return -EINVAL;
}

/* Give the output until the deadline to take what is buffered. */
static void tx_flush(struct uart_tx *tx)
{
	struct timespec deadline;

	tx_now(&deadline);
	tx_add_ms(&deadline, tx->flush_ms);
	for (;;) {
		int64_t left;

		uart_tx_poll(tx);
		if (!tx->count || (tx->state != UART_TX_OPEN && tx->state != UART_TX_WAITING))
			return;
		left = tx_ms_until(&deadline);
		if (!left)
			return;
		if (tx->state == UART_TX_OPEN) {
			struct pollfd p = {.fd = tx->fd, .events = POLLOUT};

			poll(&p, 1, left < 100 ? (int)left : 100);
		} else {
			struct timespec nap = {0, UART_TX_RETRY_MS * 1000000L};

			if (left < UART_TX_RETRY_MS)
				nap.tv_nsec = (long)left * 1000000L;
			nanosleep(&nap, NULL);
		}
	}
}

void uart_tx_close(struct uart_tx *tx)
{
	uint64_t dropped;

	if (tx->count)
		tx_flush(tx);
	tx->drop_exit = tx->count;
	tx->count = 0;
	dropped = tx->drop_full + tx->drop_closed + tx->drop_exit;
	if (dropped)
		tx->host->log(
		    tx->ctx, VMM_LOG_WARN,
		    "output '%s': %llu bytes delivered, %llu dropped (%llu written while "
		    "the buffer was full, %llu after the output went away, %llu still "
		    "buffered after the %llu ms flush%s)",
		    tx->name, (unsigned long long)tx->sent, (unsigned long long)dropped,
		    (unsigned long long)tx->drop_full, (unsigned long long)tx->drop_closed,
		    (unsigned long long)tx->drop_exit, (unsigned long long)tx->flush_ms,
		    tx->state == UART_TX_WAITING ? ": no process ever read the FIFO" : "");
	else if (tx->state != UART_TX_NONE)
		tx->host->log(tx->ctx, VMM_LOG_INFO, "output '%s': %llu bytes delivered", tx->name,
			      (unsigned long long)tx->sent);
	if (tx->owned)
		close(tx->fd);
	tx->fd = -1;
	tx->owned = false;
	free(tx->path);
	tx->path = NULL;
}
