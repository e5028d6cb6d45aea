/* SPDX-License-Identifier: MIT */
/*
 * uart_race.c - the uart16550's line worker against its own read(), write()
 * and reset(): input pushed and interrupts raised from the worker while a
 * "vCPU" thread drives the registers, a UART created and destroyed again
 * and again. Built with the plugin's sources, under ThreadSanitizer where
 * configure found it (make race-check).
 *
 * Checks: between resets the guest side reads every byte in the order
 * written (the writer sends 0, 1, 2, ...; a reset empties the FIFO, so the
 * count starts again after one); the line is low after reset(); destroy()
 * returns within a second with input still pending; the interrupt line
 * rose at least once. Exit 0, or 1 with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/plugin.h"

#define ROUNDS	 20
#define ACCESSES 20000

static pthread_mutex_t line_lock = PTHREAD_MUTEX_INITIALIZER;
static int line_level;
static unsigned line_rises;
static atomic_int stop_writer;
static int write_fd;

static int host_irq_set(struct vmm_host *ctx, uint32_t line, int level)
{
	if (line != 0) {
		fprintf(stderr, "uart-race: irq_set on line %u: the device has one\n", line);
		exit(1);
	}
	pthread_mutex_lock(&line_lock);
	if (level && !line_level)
		line_rises++;
	line_level = level != 0;
	pthread_mutex_unlock(&line_lock);
	return 0;
}

static void host_log(struct vmm_host *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > VMM_LOG_WARN)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "uart-race: device says: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

static const char *host_param(struct vmm_host *ctx, const char *key)
{
	if (!strcmp(key, "input"))
		return "stdin";
	if (!strcmp(key, "output"))
		return "none";
	return NULL;
}

static void host_param_error(struct vmm_host *ctx, const char *key, const char *fmt, ...)
{
	fprintf(stderr, "uart-race: the device refused key %s\n", key);
	exit(1);
}

/* Writes 0, 1, 2, ... into the UART's stdin until told to stop. */
static void *writer(void *arg)
{
	uint8_t buf[64];
	uint8_t next = 0;

	while (!atomic_load(&stop_writer)) {
		struct timespec nap = {0, 100000};
		ssize_t n;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(next + i);
		n = write(write_fd, buf, sizeof(buf));
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			next = (uint8_t)(next + n);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rd(const struct vmm_plugin_desc *d, void *s, uint64_t reg)
{
	uint64_t v = 0;

	d->read(s, reg, 1, &v);
	return v;
}

int main(void)
{
	const struct vmm_plugin_desc *d = VMM_PLUGIN_ENTRY();
	struct vmm_host_services host = {
	    .size = sizeof(host),
	    .abi_version = VMM_PLUGIN_ABI_VERSION,
	    .log = host_log,
	    .param = host_param,
	    .param_error = host_param_error,
	    .irq_set = host_irq_set,
	};
	static const uint32_t pin = 4;
	struct vmm_device_info info = {
	    .size = sizeof(info),
	    .space = VMM_SPACE_PIO,
	    .name = "uart-race",
	    .base = 0x3f8,
	    .length = 8,
	    .irqs = &pin,
	    .nirqs = 1,
	};
	unsigned long got = 0, out_of_order = 0;
	pthread_t w;
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	if (pipe(p) < 0 || dup2(p[0], STDIN_FILENO) < 0) {
		perror("uart-race: pipe");
		return 1;
	}
	close(p[0]);
	write_fd = p[1];
	fcntl(write_fd, F_SETFL, O_NONBLOCK);
	pthread_create(&w, NULL, writer, NULL);
	for (int round = 0; round < ROUNDS; round++) {
		void *s;
		int have_last = 0;
		uint8_t last = 0;
		uint64_t t0;

		if (d->create(&host, (struct vmm_host *)&host, &info, &s)) {
			fprintf(stderr, "uart-race: create failed\n");
			return 1;
		}
		d->write(s, 4, 1, 0x08); /* OUT2 */
		d->write(s, 2, 1, 0x41); /* FIFOs, trigger 4 */
		d->write(s, 1, 1, 0x0f); /* every source */
		for (int i = 0; i < ACCESSES; i++) {
			if (rd(d, s, 5) & 1) {
				uint8_t b = (uint8_t)rd(d, s, 0);

				/* Between resets nothing may be lost: the worker waits for room. */
				if (have_last && b != (uint8_t)(last + 1))
					out_of_order++;
				last = b;
				have_last = 1;
				got++;
			}
			rd(d, s, 2);
			if (i % 100 == 0)
				d->write(s, 0, 1, 'x');
			if (i % 5000 == 4999) {
				d->reset(s);
				pthread_mutex_lock(&line_lock);
				if (line_level) {
					fprintf(stderr,
						"uart-race: the line is high after reset\n");
					return 1;
				}
				pthread_mutex_unlock(&line_lock);
				have_last = 0;
				d->write(s, 4, 1, 0x08);
				d->write(s, 1, 1, 0x0f);
			}
		}
		t0 = now_ms();
		d->destroy(s);
		if (now_ms() - t0 > 1000) {
			fprintf(stderr, "uart-race: destroy took %llu ms\n",
				(unsigned long long)(now_ms() - t0));
			return 1;
		}
	}
	atomic_store(&stop_writer, 1);
	pthread_join(w, NULL);
	close(write_fd);
	printf("uart-race: %d rounds, %lu bytes received, %u rises of the line\n", ROUNDS, got,
	       line_rises);
	if (out_of_order || !got || !line_rises) {
		fprintf(stderr, "uart-race: %lu bytes out of order, %lu received, %u rises\n",
			out_of_order, got, line_rises);
		return 1;
	}
	printf("uart-race: ok\n");
	return 0;
}
