/* SPDX-License-Identifier: MIT */
/* rx.c - the uart16550's line worker: input into the RX FIFO, the timeout, the output's drain. */

/*
 * One thread per UART that has an input or an interrupt line does what
 * must happen while the guest does not touch the UART (it may be halted,
 * waiting for the very interrupt this raises):
 *
 * - Input. The worker reads the input without blocking and moves the bytes
 *   into the RX FIFO as it has room, so host input never overruns it. It
 *   holds at most a FIFO's worth of bytes itself; the rest stays in the
 *   kernel (a pipe's writer then waits, a file is read when there is room),
 *   so a guest that stops reading costs the host nothing and never blocks
 *   it. A byte moved in raises the received-data interrupt through
 *   irq_set(), from this thread.
 * - End of input (a file's end, stdin closed) ends the input, logged once
 *   at info level; a read error ends it too, logged once as an error. A
 *   FIFO named by path is opened read-write, so it never ends: writers may
 *   come and go.
 * - The character timeout: with data below the trigger level and nobody
 *   reading, the worker wakes when it comes due and raises the line.
 * - The output: bytes a stalled output left in the transmit buffer leave
 *   as soon as it takes them, and the THR-empty interrupt follows, without
 *   waiting for the guest's next UART access.
 *
 * The worker sleeps in poll() on the input, the output and an eventfd that
 * the device's read() and write() (and destroy()) write to when they
 * change what it waits for: room in the FIFO, an earlier timeout, bytes
 * for the output. It takes the device lock only to look at and change the
 * state, never across poll() or read().
 *
 * stdin is shared with the shell: instead of setting O_NONBLOCK on it, the
 * worker reads its own description opened through /proc/self/fd/0, as
 * tx.c does for stdout; where that fails it reads only after poll() says
 * there is data ("guarded"; a process that steals the data between the two
 * could block the worker's read, and destroy() with it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uart.h"

/* How often a FIFO output with no reader yet is opened again (tx.c waits as long). */
#define RX_TX_RETRY_NS (10ull * 1000000ull)

static int rx_open_stdin(struct uart *u)
{
	struct stat st;
	int fd;

	snprintf(u->in_name, sizeof(u->in_name), "stdin");
	u->in_fd = STDIN_FILENO;
	if (fstat(STDIN_FILENO, &st) < 0) {
		u->host->param_error(u->ctx, "input", "stdin: %s", strerror(errno));
		return -EINVAL;
	}
	/* A file or a device that is never empty reads without waiting anyway. */
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return 0;
	fd = open("/proc/self/fd/0", O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0) {
		u->in_fd = fd;
		u->in_owned = true;
		return 0;
	}
	u->host->log(u->ctx, VMM_LOG_DEBUG, "input 'stdin': cannot reopen it non-blocking (%s)",
		     strerror(errno));
	u->in_guarded = true;
	return 0;
}

int uart_input_open(struct uart *u, const char *s)
{
	struct stat st;
	int flags = O_RDONLY;

	u->in_fd = -1;
	if (!s || !strcmp(s, "none"))
		return 0;
	if (!strcmp(s, "stdin"))
		return rx_open_stdin(u);
	if (!*s) {
		u->host->param_error(u->ctx, "input", "is empty (none, stdin or a file path)");
		return -EINVAL;
	}
	snprintf(u->in_name, sizeof(u->in_name), "%s", s);
	/*
	 * A FIFO read-write: opening it never waits for a writer, and its end
	 * never comes, so writers may come and go (Linux defines this; POSIX
	 * leaves it open). O_NONBLOCK throughout: the worker polls.
	 */
	if (stat(s, &st) == 0 && S_ISFIFO(st.st_mode))
		flags = O_RDWR;
	u->in_fd = open(s, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (u->in_fd < 0) {
		u->host->param_error(u->ctx, "input", "cannot open '%s': %s", s, strerror(errno));
		return -EINVAL;
	}
	u->in_owned = true;
	return 0;
}

void uart_worker_kick(struct uart *u)
{
	uint64_t one = 1;

	/* The counter saturating (EAGAIN) still leaves the worker woken. */
	if (u->wake_fd >= 0 && write(u->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		u->host->log(u->ctx, VMM_LOG_ERROR, "cannot wake the line worker: %s",
			     strerror(errno));
}

/* What the worker holds between a read and room in the FIFO; the worker's alone. */
struct rx_worker {
	uint8_t pend[UART_FIFO_SIZE];
	unsigned pend_head, pend_count;
	bool in_done;
	uint64_t in_bytes;
};

/* Move held bytes into the FIFO while it has room. Called with u->lock held. */
static void rx_feed(struct uart *u, struct rx_worker *w)
{
	if (!uart_rx_from_input(u))
		return;
	while (w->pend_count && uart_rx_room(u)) {
		uart_rx_push(u, w->pend[w->pend_head++]);
		w->pend_count--;
	}
	if (!w->pend_count)
		w->pend_head = 0;
}

/* Read what the input has now, at most max bytes; log the end of it once. */
static void rx_read(struct uart *u, struct rx_worker *w, unsigned max)
{
	ssize_t n;

	if (u->in_guarded) {
		struct pollfd p = {.fd = u->in_fd, .events = POLLIN};

		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR)))
			return;
	}
	do
		n = read(u->in_fd, w->pend, max);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		w->pend_head = 0;
		w->pend_count = (unsigned)n;
		w->in_bytes += (uint64_t)n;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	w->in_done = true;
	if (n == 0)
		u->host->log(u->ctx, VMM_LOG_INFO, "input '%s': end of input after %llu bytes",
			     u->in_name, (unsigned long long)w->in_bytes);
	else
		u->host->log(u->ctx, VMM_LOG_ERROR,
			     "input '%s': %s after %llu bytes; the input ends here", u->in_name,
			     strerror(errno), (unsigned long long)w->in_bytes);
}

static void *rx_worker_main(void *arg)
{
	struct uart *u = arg;
	struct rx_worker w = {.in_done = u->in_fd < 0};

	pthread_mutex_lock(&u->lock);
	while (!u->stopping) {
		struct pollfd p[3];
		unsigned np = 0, room = 0;
		int in_i = -1;
		uint64_t deadline, now;
		struct timespec ts, *tsp = NULL;

		rx_feed(u, &w);
		uart_tx_progress(u);
		uart_update_irq(u);

		/* What to wait for. */
		if (!w.in_done && !w.pend_count && uart_rx_from_input(u))
			room = uart_rx_room(u);
		if (room) {
			in_i = (int)np;
			p[np++] = (struct pollfd){.fd = u->in_fd, .events = POLLIN};
		}
		u->worker_waits_room = w.pend_count || (!w.in_done && !room);
		u->worker_watches_tx = false;
		deadline = u->has_irq ? uart_cti_deadline(u) : 0;
		if (!uart_tx_empty(&u->tx)) {
			if (u->tx.state == UART_TX_OPEN) {
				p[np++] = (struct pollfd){.fd = u->tx.fd, .events = POLLOUT};
				u->worker_watches_tx = true;
			} else if (u->tx.state == UART_TX_WAITING) {
				uint64_t retry = uart_now_ns() + RX_TX_RETRY_NS;

				if (!deadline || retry < deadline)
					deadline = retry;
				u->worker_watches_tx = true;
			}
		}
		u->worker_deadline = deadline;
		p[np++] = (struct pollfd){.fd = u->wake_fd, .events = POLLIN};
		pthread_mutex_unlock(&u->lock);

		if (deadline) {
			now = uart_now_ns();
			deadline = deadline > now ? deadline - now : 0;
			ts.tv_sec = (time_t)(deadline / 1000000000ull);
			ts.tv_nsec = (long)(deadline % 1000000000ull);
			tsp = &ts;
		}
		if (ppoll(p, np, tsp, NULL) > 0) {
			if (p[np - 1].revents & POLLIN) {
				uint64_t count;

				if (read(u->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
					u->host->log(u->ctx, VMM_LOG_ERROR,
						     "line worker: cannot read its eventfd: %s",
						     strerror(errno));
			}
			if (in_i >= 0 && p[in_i].revents)
				rx_read(u, &w, room);
		}
		pthread_mutex_lock(&u->lock);
	}
	u->worker_waits_room = false;
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

int uart_worker_start(struct uart *u)
{
	int err;

	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->wake_fd < 0) {
		err = errno;
		u->host->log(u->ctx, VMM_LOG_ERROR, "cannot create the line worker's eventfd: %s",
			     strerror(err));
		return -err;
	}
	err = pthread_create(&u->worker, NULL, rx_worker_main, u);
	if (err) {
		u->host->log(u->ctx, VMM_LOG_ERROR, "cannot start the line worker: %s",
			     strerror(err));
		return -err;
	}
	u->worker_started = true;
	return 0;
}

void uart_worker_stop(struct uart *u)
{
	if (u->worker_started) {
		pthread_mutex_lock(&u->lock);
		u->stopping = true;
		pthread_mutex_unlock(&u->lock);
		uart_worker_kick(u);
		pthread_join(u->worker, NULL);
		u->worker_started = false;
	}
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	u->wake_fd = -1;
	if (u->in_owned)
		close(u->in_fd);
	u->in_fd = -1;
	u->in_owned = false;
}
