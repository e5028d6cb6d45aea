/* SPDX-License-Identifier: MIT */
/*
 * test_uart16550_irq.c - the uart16550's interrupts through a fake host:
 * IIR priorities, the THR-empty rules, trigger levels, the character
 * timeout, OUT2, and the line level the host sees.
 */

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fake_host.h"

/* The 16550A register map, written out here rather than taken from the model. */
#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6

#define IER_RDA	 0x01
#define IER_THRE 0x02
#define IER_RLS	 0x04
#define IER_MS	 0x08
#define LSR_DR	 0x01
#define LSR_OE	 0x02
#define LSR_THRE 0x20
#define LCR_DLAB 0x80
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define IIR_NONE 0x01
#define IIR_MS	 0x00
#define IIR_THRE 0x02
#define IIR_RDA	 0x04
#define IIR_RLS	 0x06
#define IIR_CTI	 0x0c

#define PIN 4 /* COM1's pin, as vmm.ini(5) suggests */

static struct fake_host *fh;
static char out_path[64], in_path[64], fifo_path[80];

static void setup(void)
{
	int fd;

	snprintf(out_path, sizeof(out_path), "/tmp/uart16550-irq-XXXXXX");
	fd = mkstemp(out_path);
	cr_assert_geq(fd, 0);
	close(fd);
	fh = fake_host_new("uart16550");
}

static void teardown(void)
{
	fake_host_free(fh);
	fh = NULL;
	unlink(out_path);
	if (in_path[0])
		unlink(in_path);
	if (fifo_path[0])
		unlink(fifo_path);
}

TestSuite(uart16550_irq, .init = setup, .fini = teardown, .timeout = 30);

static uint8_t rd(uint64_t reg)
{
	return (uint8_t)fake_rd(fh, reg, 1);
}

static void wr(uint64_t reg, uint8_t v)
{
	fake_wr(fh, reg, 1, v);
}

static int level(void)
{
	return fake_irq_level(fh, 0);
}

static unsigned rises(void)
{
	return fake_irq_rises(fh, 0);
}

/* A UART on pin PIN whose output goes to out_path. */
static void create_with_line(void)
{
	fake_add_irq(fh, PIN);
	fake_set_param(fh, "output", out_path);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
}

/* The same, receiving text from a file. */
static void create_with_line_and_input(const char *text)
{
	FILE *f;
	int fd;

	snprintf(in_path, sizeof(in_path), "/tmp/uart16550-irq-in-XXXXXX");
	fd = mkstemp(in_path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	cr_assert_geq(fputs(text, f), 0);
	fclose(f);
	fake_set_param(fh, "input", in_path);
	create_with_line();
}

/* stdin becomes a pipe the device reads; returns its write end. */
static int stdin_pipe(void)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	fake_set_param(fh, "input", "stdin");
	return p[1];
}

/* 100 baud at 8N1: 4 characters take 400 ms, far more than any two accesses in a row. */
static void slow_divisor(void)
{
	wr(LCR, LCR_DLAB | 0x03);
	wr(DLL, 1152 & 0xff);
	wr(DLM, 1152 >> 8);
	wr(LCR, 0x03);
}

/* ---- the line and OUT2 ---- */

Test(uart16550_irq, line_stays_low_while_no_source_is_enabled)
{
	create_with_line();
	wr(MCR, MCR_OUT2);
	cr_assert_eq(rd(IIR), IIR_NONE);
	cr_assert_eq(level(), 0);
	cr_assert_eq(rises(), 0);
}

Test(uart16550_irq, thr_empty_raises_the_line_once_enabled_with_out2)
{
	create_with_line();
	wr(MCR, MCR_OUT2);
	wr(IER, IER_THRE);
	cr_assert_eq(level(), 1);
	cr_assert_eq(rises(), 1);
	cr_assert_eq(rd(IIR), IIR_THRE);
}

Test(uart16550_irq, out2_gates_the_line_but_not_iir)
{
	create_with_line();
	wr(IER, IER_THRE);
	cr_assert_eq(level(), 0, "OUT2 clear: the PC's IRQ driver is off");
	wr(MCR, MCR_OUT2);
	cr_assert_eq(level(), 1);
	wr(MCR, 0);
	cr_assert_eq(level(), 0);
	cr_assert_eq(rd(IIR), IIR_THRE, "the source is still pending");
}

Test(uart16550_irq, loopback_forces_out2_inactive_and_the_line_low)
{
	create_with_line();
	wr(IER, IER_THRE);
	wr(MCR, MCR_OUT2 | MCR_LOOP);
	cr_assert_eq(level(), 0);
	wr(MCR, MCR_OUT2);
	cr_assert_eq(level(), 1);
}

Test(uart16550_irq, disabling_the_source_in_ier_lowers_the_line)
{
	create_with_line();
	wr(MCR, MCR_OUT2);
	wr(IER, IER_THRE);
	cr_assert_eq(level(), 1);
	wr(IER, 0);
	cr_assert_eq(level(), 0);
}

/* ---- THR empty ---- */

Test(uart16550_irq, reading_iir_that_reports_thr_empty_clears_it)
{
	create_with_line();
	wr(MCR, MCR_OUT2);
	wr(IER, IER_THRE);
	cr_assert_eq(rd(IIR), IIR_THRE);
	cr_assert_eq(level(), 0);
	cr_assert_eq(rd(IIR), IIR_NONE);
}

Test(uart16550_irq, reading_iir_that_reports_another_source_keeps_thr_empty)
{
	create_with_line();
	wr(MCR, MCR_OUT2 | MCR_LOOP);
	wr(THR, 'a');
	wr(IER, IER_RDA | IER_THRE);
	cr_assert_eq(rd(IIR), IIR_RDA);
	rd(RBR);
	cr_assert_eq(rd(IIR), IIR_THRE, "still pending under the received data");
}

Test(uart16550_irq, thr_write_clears_thr_empty_and_the_empty_thr_raises_it_again)
{
	create_with_line();
	wr(MCR, MCR_OUT2);
	wr(IER, IER_THRE);
	cr_assert_eq(rises(), 1);
	rd(IIR); /* acknowledged: low */
	cr_assert_eq(level(), 0);
	wr(THR, 'a');
	cr_assert_eq(level(), 1, "the byte left: THR is empty again");
	cr_assert_eq(rises(), 2);
	/* Written while still pending: the line drops and rises, a new edge. */
	wr(THR, 'b');
	cr_assert_eq(level(), 1);
	cr_assert_eq(rises(), 3);
}

Test(uart16550_irq, enabling_thr_empty_while_thr_is_empty_raises_it_at_once)
{
	create_with_line();
	wr(MCR, MCR_OUT2);
	wr(IER, IER_THRE);
	rd(IIR);
	cr_assert_eq(level(), 0);
	wr(IER, IER_THRE); /* already enabled: nothing new */
	cr_assert_eq(level(), 0);
	wr(IER, 0);
	wr(IER, IER_THRE);
	cr_assert_eq(level(), 1);
	cr_assert_eq(rd(IIR), IIR_THRE);
}

/* ---- received data and trigger levels ---- */

static void check_trigger(uint8_t fcr, unsigned trigger)
{
	create_with_line();
	slow_divisor();
	wr(FCR, fcr);
	wr(MCR, MCR_LOOP);
	wr(IER, IER_RDA);
	for (unsigned i = 0; i + 1 < trigger; i++) {
		uint64_t t0 = now_ms();

		wr(THR, 'a');
		if (now_ms() - t0 < 300)
			cr_assert_eq(rd(IIR), 0xc0 | IIR_NONE, "%u bytes, trigger %u", i + 1,
				     trigger);
	}
	wr(THR, 'a');
	cr_assert_eq(rd(IIR), 0xc0 | IIR_RDA, "trigger %u reached", trigger);
	rd(RBR);
	if (trigger > 1)
		cr_assert_neq(rd(IIR), 0xc0 | IIR_RDA, "below trigger %u again", trigger);
}

Test(uart16550_irq, received_data_at_trigger_level_1)
{
	check_trigger(0x01, 1);
}

Test(uart16550_irq, received_data_at_trigger_level_4)
{
	check_trigger(0x41, 4);
}

Test(uart16550_irq, received_data_at_trigger_level_8)
{
	check_trigger(0x81, 8);
}

Test(uart16550_irq, received_data_at_trigger_level_14)
{
	check_trigger(0xc1, 14);
}

Test(uart16550_irq, without_fifos_one_byte_is_received_data)
{
	create_with_line();
	slow_divisor();
	wr(MCR, MCR_LOOP);
	wr(IER, IER_RDA);
	wr(THR, 'a');
	cr_assert_eq(rd(IIR), IIR_RDA);
}

Test(uart16550_irq, input_raises_the_received_data_line_from_the_worker)
{
	create_with_line_and_input("z");
	wr(MCR, MCR_OUT2);
	wr(IER, IER_RDA);
	cr_assert(fake_irq_wait(fh, 0, 1, 5000), "no interrupt for the input");
	cr_assert_eq(rd(IIR), IIR_RDA);
	cr_assert_eq(rd(RBR), 'z');
	cr_assert_eq(level(), 0, "the read emptied the receiver");
	cr_assert_eq(fh->irq_bad_lines, 0);
}

/* ---- the character timeout ---- */

Test(uart16550_irq, timeout_below_the_trigger_raises_the_line_after_4_characters)
{
	uint64_t t0;
	int w = stdin_pipe();

	create_with_line();
	slow_divisor();
	wr(FCR, 0x81); /* trigger 8: two bytes stay below it */
	wr(MCR, MCR_OUT2);
	wr(IER, IER_RDA);
	t0 = now_ms();
	cr_assert_eq(write(w, "ab", 2), 2);
	cr_assert(fake_irq_wait(fh, 0, 1, 5000), "no timeout interrupt");
	cr_assert_geq(now_ms() - t0, 400, "a timeout before 4 character times");
	cr_assert_eq(rd(IIR), 0xc0 | IIR_CTI);
	cr_assert_eq(rd(RBR), 'a');
	cr_assert_eq(level(), 0, "a read restarts the timeout");
	cr_assert(fake_irq_wait(fh, 0, 1, 5000), "no second timeout");
	cr_assert_eq(rd(RBR), 'b');
	cr_assert_eq(rd(IIR), 0xc0 | IIR_NONE);
	cr_assert_eq(level(), 0);
	close(w);
}

Test(uart16550_irq, timeout_follows_the_divisor)
{
	uint64_t t0;

	create_with_line();
	wr(LCR, LCR_DLAB | 0x03);
	wr(DLL, 1); /* 115200 baud: 4 characters in 0.35 ms */
	wr(DLM, 0);
	wr(LCR, 0x03);
	wr(FCR, 0x41);
	wr(MCR, MCR_LOOP);
	wr(IER, IER_RDA);
	t0 = now_ms();
	wr(THR, 'a');
	while (rd(IIR) != (0xc0 | IIR_CTI))
		cr_assert_lt(now_ms() - t0, 2000, "no timeout at 115200 baud");
}

/* ---- line status, modem status, priorities ---- */

Test(uart16550_irq, iir_priorities_line_status_data_thr_empty_modem_status)
{
	create_with_line();
	wr(MCR, MCR_LOOP); /* CTS, DSR, DCD drop: modem status pending */
	wr(THR, 'a');
	wr(THR, 'b'); /* overrun without FIFOs */
	wr(IER, IER_RDA | IER_THRE | IER_RLS | IER_MS);
	cr_assert_eq(rd(IIR), IIR_RLS);
	cr_assert_eq(rd(LSR) & (LSR_OE | LSR_DR), LSR_OE | LSR_DR, "reading LSR clears OE");
	cr_assert_eq(rd(IIR), IIR_RDA);
	cr_assert_eq(rd(RBR), 'b');
	cr_assert_eq(rd(IIR), IIR_THRE);
	cr_assert_eq(rd(IIR), IIR_MS, "THR empty was acknowledged by the read before");
	rd(MSR);
	cr_assert_eq(rd(IIR), IIR_NONE);
}

Test(uart16550_irq, overrun_raises_the_line_status_line)
{
	create_with_line();
	wr(FCR, 0x01);
	wr(IER, IER_RLS);
	wr(MCR, MCR_LOOP);
	for (int i = 0; i < 17; i++)
		wr(THR, 'a');
	cr_assert_eq(level(), 0, "loopback: no line");
	wr(MCR, MCR_OUT2);
	cr_assert_eq(level(), 1);
	cr_assert_eq(rd(IIR), 0xc0 | IIR_RLS);
	rd(LSR);
	cr_assert_eq(level(), 0);
}

Test(uart16550_irq, modem_status_change_raises_the_line_until_msr_is_read)
{
	create_with_line();
	wr(MCR, MCR_OUT2);
	wr(IER, IER_MS);
	cr_assert_eq(level(), 0);
	wr(MCR, MCR_OUT2 | MCR_LOOP); /* inputs follow the outputs now: a change */
	wr(MCR, MCR_OUT2);	      /* back, the delta bits stay */
	cr_assert_eq(level(), 1);
	cr_assert_eq(rd(IIR), IIR_MS);
	cr_assert_neq(rd(MSR) & 0x0f, 0);
	cr_assert_eq(level(), 0);
}

/* ---- reset, older hosts, no line ---- */

Test(uart16550_irq, reset_lowers_the_line)
{
	create_with_line();
	wr(MCR, MCR_OUT2);
	wr(IER, IER_THRE);
	cr_assert_eq(level(), 1);
	fh->desc->reset(fh->state);
	cr_assert_eq(level(), 0);
	cr_assert_eq(rd(IER), 0);
}

Test(uart16550_irq, device_without_a_line_never_calls_irq_set)
{
	fake_set_param(fh, "output", out_path);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	wr(MCR, MCR_OUT2);
	wr(IER, IER_THRE);
	cr_assert_eq(rd(IIR), IIR_THRE, "polled: IIR still reports");
	cr_assert_eq(fh->irq_bad_lines, 0);
}

Test(uart16550_irq, host_of_abi_1_0_gets_a_polled_uart)
{
	fake_use_abi_1_0(fh);
	fake_add_irq(fh, PIN); /* not passed: a 1.0 info has no lines */
	fake_set_param(fh, "output", out_path);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	wr(MCR, MCR_OUT2);
	wr(IER, IER_THRE);
	cr_assert_eq(rd(IIR), IIR_THRE);
	wr(THR, 'x');
	cr_assert_eq(rd(LSR) & LSR_THRE, LSR_THRE);
	cr_assert_eq(rises(), 0);
}

/* ---- the worker: never blocks, stops cleanly ---- */

Test(uart16550_irq, destroy_stops_a_worker_waiting_for_input)
{
	int w = stdin_pipe();
	uint64_t t0;

	create_with_line();
	nap_ms(20);
	t0 = now_ms();
	fh->desc->destroy(fh->state);
	fh->state = NULL;
	cr_assert_lt(now_ms() - t0, 1000);
	close(w);
}

Test(uart16550_irq, guest_that_never_reads_holds_only_a_fifo_of_input)
{
	static char big[65536];
	int w = stdin_pipe();
	ssize_t n;
	uint64_t t0;

	fcntl(w, F_SETFL, O_NONBLOCK);
	memset(big, 'i', sizeof(big));
	n = write(w, big, sizeof(big));
	cr_assert_gt(n, 64);
	create_with_line();
	wr(FCR, 0x01);
	nap_ms(100);
	/* The rest is still in the pipe: the worker took a FIFO and its own FIFO's worth. */
	cr_assert_eq(write(w, big, sizeof(big)), -1, "the pipe is still full");
	cr_assert_eq(errno, EAGAIN);
	t0 = now_ms();
	fh->desc->destroy(fh->state);
	fh->state = NULL;
	cr_assert_lt(now_ms() - t0, 1000, "destroy does not wait for the guest");
	close(w);
}

Test(uart16550_irq, stalled_output_draining_raises_thr_empty_without_an_access)
{
	char buf[4096];
	int rfd;
	unsigned n = 0;

	snprintf(fifo_path, sizeof(fifo_path), "%s.fifo", out_path);
	cr_assert_eq(mkfifo(fifo_path, 0600), 0, "mkfifo: %s", strerror(errno));
	rfd = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(rfd, 0);
	cr_assert_geq(fcntl(rfd, F_SETPIPE_SZ, 4096), 0);
	fake_add_irq(fh, PIN);
	fake_set_param(fh, "output", fifo_path);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	wr(MCR, MCR_OUT2);
	while (n < 20000 && (rd(LSR) & LSR_THRE)) {
		wr(THR, 'x');
		n++;
	}
	cr_assert_lt(n, 20000, "the output never stalled");
	wr(IER, IER_THRE); /* THR is not empty: nothing yet */
	cr_assert_eq(level(), 0);
	while (read(rfd, buf, sizeof(buf)) > 0)
		;
	cr_assert(fake_irq_wait(fh, 0, 1, 5000), "THR empty never came");
	cr_assert_eq(rd(IIR), IIR_THRE);
	close(rfd);
}
