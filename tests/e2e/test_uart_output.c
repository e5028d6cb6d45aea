/* SPDX-License-Identifier: MIT */
/*
 * test_uart_output.c - end-to-end tests of vmm-run with a stalled
 * uart16550 output: FIFOs, full pipes, readers that leave.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "e2e.h"

#define UART_SO BUILD_DIR "/plugins/uart16550.so"

/*
 * A run that should end by its timeout must end within this much more:
 * the flush the tests allow (0.5 s) plus slack for a loaded machine. A
 * stalled output used to hold vmm-run until it was killed.
 */
#define SLACK_S 3.0
/* Kill a run that hangs long before E2E_LIMIT_S: the hang is the failure. */
#define HANG_LIMIT_S 20

/* Guests that flood COM1 (port 0x3f8) with 'x' forever. */
/* clang-format off */
static const uint8_t blind_flood[] = {
	0x66, 0xba, 0xf8, 0x03,   /* mov $0x3f8, %dx */
	0xb0, 0x78,               /* mov $'x', %al */
	0xee,                     /* 1: out %al, (%dx): never looks at LSR */
	0xeb, 0xfd,               /* jmp 1b */
};
static const uint8_t polled_flood[] = {
	0x66, 0xba, 0xfd, 0x03,   /* mov $0x3fd, %dx: LSR */
	0xec,                     /* 1: in (%dx), %al */
	0xa8, 0x20,               /* test $0x20, %al: THRE */
	0x74, 0xfb,               /* jz 1b */
	0xb2, 0xf8,               /* mov $0xf8, %dl: THR */
	0xb0, 0x78,               /* mov $'x', %al */
	0xee,                     /* out %al, (%dx) */
	0xb2, 0xfd,               /* mov $0xfd, %dl */
	0xeb, 0xf2,               /* jmp 1b */
};
/* clang-format on */

TestSuite(uart, .fini = e2e_cleanup);

/* A config running code with COM1's output going to output (a path or stdout). */
static const char *flood_config_flush(const char *accel, const uint8_t *code, size_t len,
				      const char *timeout, const char *output, const char *flush)
{
	const char *fw = e2e_write_elf("flood.elf", code, len);

	return e2e_guest_config("uart.ini", fw, accel, timeout,
				e2e_strf("\n[device \"uart0\"]\n"
					 "plugin = " UART_SO "\n"
					 "pio = 0x3f8\n"
					 "size = 8\n"
					 "output = %s\n"
					 "flush-timeout = %s\n",
					 output, flush));
}

static const char *flood_config(const char *accel, const uint8_t *code, size_t len,
				const char *timeout, const char *output)
{
	return flood_config_flush(accel, code, len, timeout, output, "500ms");
}

static const char *make_fifo(void)
{
	const char *path = e2e_strf("%s/console.fifo", e2e_tmpdir());

	cr_assert(mkfifo(path, 0600) == 0, "mkfifo: %s", strerror(errno));
	return path;
}

/* Run vmm-run on ini, optionally signalling it, with a short wall-clock limit. */
static void run(struct e2e_result *r, const char *ini, int sig, unsigned sig_ms, int out_fd)
{
	const char *argv[] = {E2E_VMM_RUN, ini, NULL};
	struct e2e_spawn spec = {
	    .argv = argv,
	    .signal = sig,
	    .signal_after_ms = sig_ms,
	    .limit_s = HANG_LIMIT_S,
	    .stdout_fd = out_fd,
	};

	e2e_spawn(&spec, r);
}

/* The counts of the device's end-of-run line; false if there is none. */
static bool delivered_dropped(const struct e2e_result *r, uint64_t *delivered, uint64_t *dropped)
{
	const char *p = strstr(r->err, "bytes delivered");
	unsigned long long d = 0, x = 0;

	if (!p)
		return false;
	while (p > r->err && p[-1] != ':')
		p--;
	if (sscanf(p, " %llu bytes delivered, %llu dropped", &d, &x) < 1)
		return false;
	*delivered = d;
	*dropped = x;
	return true;
}

/* Read everything a FIFO's buffer holds now, through a non-blocking read end. */
static uint64_t drain(int fd)
{
	char buf[4096];
	uint64_t total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], 'x', "byte %" PRIu64 " is 0x%02x", total + (uint64_t)i,
				     (unsigned char)buf[i]);
		total += (uint64_t)n;
	}
	return total;
}

/* ---- a FIFO nobody opens ---- */

static void check_unread_fifo_times_out(const char *accel)
{
	const char *fifo = make_fifo();
	struct e2e_result r;
	uint64_t delivered = 1, dropped = 0;

	run(&r, flood_config(accel, polled_flood, sizeof(polled_flood), "2s", fifo), 0, 0, -1);
	assert_exit(&r, 124);
	cr_assert_lt(r.seconds, 2 + SLACK_S, "%s", e2e_describe(&r));
	cr_assert(delivered_dropped(&r, &delivered, &dropped), "%s", e2e_describe(&r));
	cr_assert_eq(delivered, 0, "%s", e2e_describe(&r));
	cr_assert_gt(dropped, 0, "the buffered bytes are counted: %s", e2e_describe(&r));
	assert_contains(r.err, "no process ever read the FIFO", &r);
}

Test(uart, fifo_nobody_reads_does_not_hold_the_timeout_on_emu)
{
	check_unread_fifo_times_out("emu");
}

Test(uart, fifo_nobody_reads_does_not_hold_the_timeout_on_kvm)
{
	e2e_require_kvm();
	check_unread_fifo_times_out("kvm");
}

Test(uart, fifo_nobody_reads_does_not_hold_off_sigterm)
{
	const char *fifo = make_fifo();
	struct e2e_result r;

	run(&r, flood_config("emu", polled_flood, sizeof(polled_flood), "0", fifo), SIGTERM, 1000,
	    -1);
	assert_exit(&r, 143);
	cr_assert_lt(r.seconds, 1 + SLACK_S, "%s", e2e_describe(&r));
	assert_contains(r.err, "stopped by SIGTERM", &r);
}

Test(uart, fifo_reader_that_comes_late_gets_the_output)
{
	const char *fifo = make_fifo();
	const char *ini = flood_config("emu", polled_flood, sizeof(polled_flood), "2s", fifo);
	const char *argv[] = {E2E_VMM_RUN, "-v", ini, NULL};
	struct e2e_spawn spec = {.argv = argv, .limit_s = HANG_LIMIT_S};
	struct e2e_result r;
	uint64_t delivered = 0, dropped = 0, got = 0;
	int status, res[2];
	pid_t reader;

	/* The reader opens the FIFO only after vmm-run has created the device. */
	cr_assert(pipe(res) == 0);
	reader = fork();
	cr_assert_geq(reader, 0);
	if (reader == 0) {
		struct timespec late = {0, 500 * 1000 * 1000}, tick = {0, 10 * 1000 * 1000};
		int fd, waits = 0;

		nanosleep(&late, NULL);
		fd = open(fifo, O_RDONLY | O_NONBLOCK);
		/* Read until EOF; before the writer has come, EOF only means "not yet". */
		for (;;) {
			char buf[4096];
			ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf));

			if (n > 0)
				got += (uint64_t)n;
			else if ((n == 0 && got) || (n == 0 && ++waits > 1000) ||
				 (n < 0 && errno != EAGAIN))
				break;
			else
				nanosleep(&tick, NULL);
		}
		_exit(write(res[1], &got, sizeof(got)) == sizeof(got) ? 0 : 1);
	}
	close(res[1]);
	e2e_spawn(&spec, &r);
	cr_assert_eq(read(res[0], &got, sizeof(got)), (ssize_t)sizeof(got));
	waitpid(reader, &status, 0);
	assert_exit(&r, 124);
	cr_assert(delivered_dropped(&r, &delivered, &dropped), "%s", e2e_describe(&r));
	cr_assert_eq(dropped, 0, "%s", e2e_describe(&r));
	cr_assert_gt(delivered, 0, "%s", e2e_describe(&r));
	cr_assert_eq(got, delivered, "the reader got %" PRIu64 " bytes: %s", got, e2e_describe(&r));
}

/* ---- a reader that does not read ---- */

/* A FIFO's read end held open, never read while vmm-run runs, with a 4 KiB pipe buffer. */
static int stalled_reader(const char *fifo)
{
	int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	cr_assert_geq(fd, 0, "%s: %s", fifo, strerror(errno));
	cr_assert_geq(fcntl(fd, F_SETPIPE_SZ, 4096), 0, "F_SETPIPE_SZ: %s", strerror(errno));
	return fd;
}

static void check_stalled_reader_times_out(const char *accel)
{
	const char *fifo = make_fifo();
	int fd = stalled_reader(fifo);
	uint64_t delivered = 0, dropped = 0;
	struct e2e_result r;

	run(&r, flood_config(accel, blind_flood, sizeof(blind_flood), "2s", fifo), 0, 0, -1);
	assert_exit(&r, 124);
	cr_assert_lt(r.seconds, 2 + SLACK_S, "%s", e2e_describe(&r));
	/* Every byte the device counts as delivered is in the pipe; the rest are counted as
	 * dropped. */
	cr_assert(delivered_dropped(&r, &delivered, &dropped), "%s", e2e_describe(&r));
	cr_assert_gt(dropped, 0, "%s", e2e_describe(&r));
	cr_assert_eq(drain(fd), delivered, "%s", e2e_describe(&r));
	close(fd);
}

Test(uart, stalled_reader_does_not_hold_the_timeout_on_emu)
{
	check_stalled_reader_times_out("emu");
}

Test(uart, stalled_reader_does_not_hold_the_timeout_on_kvm)
{
	e2e_require_kvm();
	check_stalled_reader_times_out("kvm");
}

Test(uart, stalled_reader_does_not_hold_off_sigint)
{
	const char *fifo = make_fifo();
	int fd = stalled_reader(fifo);
	struct e2e_result r;

	run(&r, flood_config("emu", polled_flood, sizeof(polled_flood), "0", fifo), SIGINT, 1000,
	    -1);
	assert_exit(&r, 130);
	cr_assert_lt(r.seconds, 1 + SLACK_S, "%s", e2e_describe(&r));
	close(fd);
}

Test(uart, stalled_stdout_pipe_does_not_hold_the_timeout)
{
	uint64_t delivered = 0, dropped = 0;
	struct e2e_result r;
	int p[2];

	/* output = stdout, and vmm-run's stdout is a pipe nobody reads. */
	cr_assert(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	cr_assert_geq(fcntl(p[0], F_SETPIPE_SZ, 4096), 0);
	run(&r, flood_config("emu", blind_flood, sizeof(blind_flood), "2s", "stdout"), 0, 0, p[1]);
	close(p[1]);
	assert_exit(&r, 124);
	cr_assert_lt(r.seconds, 2 + SLACK_S, "%s", e2e_describe(&r));
	cr_assert(delivered_dropped(&r, &delivered, &dropped), "%s", e2e_describe(&r));
	cr_assert_gt(dropped, 0, "%s", e2e_describe(&r));
	cr_assert_eq(drain(p[0]), delivered, "%s", e2e_describe(&r));
	close(p[0]);
}

Test(uart, slow_reader_gets_every_byte_the_guest_wrote)
{
	/* A guest that waits for THRE loses nothing: what waited is flushed when the reader is
	 * back. */
	const char *fifo = make_fifo();
	int fd = stalled_reader(fifo);
	const char *ini =
	    flood_config_flush("emu", polled_flood, sizeof(polled_flood), "1s", fifo, "30s");
	const char *argv[] = {E2E_VMM_RUN, "-v", ini, NULL};
	struct e2e_spawn spec = {.argv = argv, .limit_s = HANG_LIMIT_S};
	uint64_t delivered = 0, dropped = 0, got = 0;
	struct e2e_result r;
	int status, res[2];
	pid_t reader;

	cr_assert(pipe(res) == 0);
	reader = fork();
	cr_assert_geq(reader, 0);
	if (reader == 0) {
		/* Past the timeout: the VM has stopped and vmm-run is flushing. */
		struct timespec late = {2, 500 * 1000 * 1000};
		char buf[4096];
		ssize_t n;

		nanosleep(&late, NULL);
		fcntl(fd, F_SETFL, 0);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			got += (uint64_t)n;
		_exit(write(res[1], &got, sizeof(got)) == sizeof(got) ? 0 : 1);
	}
	close(res[1]);
	close(fd);
	e2e_spawn(&spec, &r);
	cr_assert_eq(read(res[0], &got, sizeof(got)), (ssize_t)sizeof(got));
	waitpid(reader, &status, 0);
	assert_exit(&r, 124);
	cr_assert(delivered_dropped(&r, &delivered, &dropped), "%s", e2e_describe(&r));
	cr_assert_eq(dropped, 0, "%s", e2e_describe(&r));
	/* More than the pipe holds: the device's buffer reached the reader too. */
	cr_assert_gt(delivered, 4096, "%s", e2e_describe(&r));
	cr_assert_eq(got, delivered, "the reader got %" PRIu64 " bytes: %s", got, e2e_describe(&r));
	cr_assert_geq(r.seconds, 2.0, "vmm-run waited for the reader: %s", e2e_describe(&r));
}

/* ---- a reader that leaves ---- */

Test(uart, reader_that_closes_early_is_reported_and_the_run_goes_on)
{
	const char *fifo = make_fifo();
	int fd = stalled_reader(fifo);
	uint64_t delivered = 0, dropped = 0;
	struct e2e_result r;
	pid_t reader;
	int status;

	reader = fork();
	cr_assert_geq(reader, 0);
	if (reader == 0) {
		struct timespec tick = {0, 10 * 1000 * 1000};
		char buf[100];

		/* Wait for the first bytes (EOF only says no writer yet), take a few, and go. */
		for (int i = 0; i < 1000; i++) {
			if (read(fd, buf, sizeof(buf)) > 0)
				_exit(0);
			nanosleep(&tick, NULL);
		}
		_exit(1);
	}
	close(fd);
	run(&r, flood_config("emu", blind_flood, sizeof(blind_flood), "2s", fifo), 0, 0, -1);
	waitpid(reader, &status, 0);
	assert_exit(&r, 124);
	cr_assert_lt(r.seconds, 2 + SLACK_S, "%s", e2e_describe(&r));
	assert_contains(r.err, "the reader closed it", &r);
	cr_assert_eq(e2e_count_lines(r.err, "vmm-run: warning: device 'uart0': output"), 2,
		     "one line when it closed, one at the end: %s", e2e_describe(&r));
	cr_assert(delivered_dropped(&r, &delivered, &dropped), "%s", e2e_describe(&r));
	cr_assert_gt(dropped, 0, "%s", e2e_describe(&r));
}

/* ---- interrupts: the selftest firmware's UART checks ---- */

TestSuite(uart_irq, .fini = e2e_cleanup, .timeout = 120);

/* The lines of the firmware's "uart: " checks, in order; the returned text is the test's. */
static const char *uart_check_lines(const char *out)
{
	char *lines = calloc(1, strlen(out) + 1);
	const char *p = out;

	cr_assert_not_null(lines);
	while (p && *p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) + 1 : strlen(p);

		if (memmem(p, len, " - uart: ", 9))
			strncat(lines, p, len);
		p = end ? end + 1 : NULL;
	}
	return lines;
}

/* The selftest with uart0 on pin 4 receiving tests/fixtures/uart-input.txt; its UART lines. */
static const char *run_uart_irq_selftest(const char *accel)
{
	const char *ini =
	    e2e_write_file("uart-irq.ini",
			   "[vm]\naccel = %s\nfirmware = %s/guest-firmware/selftest.elf\n"
			   "vcpus = 1\ntimeout = 60s\nunhandled = ignore\n"
			   "[ram \"low\"]\ngpa = 0\nsize = 64M\n"
			   "[device \"uart0\"]\nplugin = " UART_SO "\n"
			   "pio = 0x3f8\nsize = 8\nirq = 4\n"
			   "input = %s/tests/fixtures/uart-input.txt\n"
			   "[device \"test0\"]\nplugin = testdev\n"
			   "mmio = 0xfebf0000\nsize = 0x1000\n",
			   accel, BUILD_DIR, SRC_DIR);
	struct e2e_result r;
	const char *lines;

	e2e_vmm_run(&r, ini, NULL);
	lines = uart_check_lines(r.out);
	cr_assert_eq(e2e_count_lines(lines, "ok "), 8, "8 passing uart checks: %s",
		     e2e_describe(&r));
	cr_assert(!strstr(lines, "not ok"), "%s", e2e_describe(&r));
	cr_assert(!strstr(lines, "# SKIP"), "%s", e2e_describe(&r));
	return lines;
}

Test(uart_irq, selftest_takes_the_uarts_interrupts_on_emu)
{
	run_uart_irq_selftest("emu");
}

Test(uart_irq, selftest_takes_the_uarts_interrupts_on_kvm)
{
	e2e_require_kvm();
	run_uart_irq_selftest("kvm");
}

Test(uart_irq, selftest_uart_lines_are_the_same_on_kvm_and_emu)
{
	const char *emu, *kvm;

	e2e_require_kvm();
	emu = run_uart_irq_selftest("emu");
	kvm = run_uart_irq_selftest("kvm");
	cr_assert_str_eq(kvm, emu);
}

Test(uart_irq, selftest_skips_the_uart_checks_without_an_irq_key)
{
	struct e2e_result r;
	const char *lines;

	e2e_vmm_run(&r, "--accel=emu", E2E_DEMO_INI, NULL);
	lines = uart_check_lines(r.out);
	assert_contains(lines, "ok ", &r);
	assert_contains(lines, "# SKIP the UART has no irq line in the config", &r);
	cr_assert(!strstr(lines, "not ok"), "%s", e2e_describe(&r));
}

/* ---- signals before the guest runs ---- */

TestSuite(setup, .fini = e2e_cleanup);

static void check_signal_during_create(int sig, int status)
{
	static const uint8_t spin[] = {0xeb, 0xfe}; /* jmp . */
	const char *fw = e2e_write_elf("spin.elf", spin, sizeof(spin));
	const char *ini = e2e_guest_config("hang.ini", fw, "emu", "1s",
					   "\n[device \"stuck0\"]\n"
					   "plugin = " BUILD_DIR "/tests/plugins/create-hangs.so\n"
					   "mmio = 0xfe000000\n"
					   "size = 0x1000\n");
	struct e2e_result r;

	/* The timeout counts from the guest's start: only a signal ends a stuck setup. */
	run(&r, ini, sig, 500, -1);
	assert_exit(&r, status);
	cr_assert_lt(r.seconds, 0.5 + SLACK_S, "%s", e2e_describe(&r));
	assert_contains(r.err, "while building the VM", &r);
}

Test(setup, sigterm_while_a_device_is_created_exits_143)
{
	check_signal_during_create(SIGTERM, 143);
}

Test(setup, sigint_while_a_device_is_created_exits_130)
{
	check_signal_during_create(SIGINT, 130);
}

/* ---- where a relative output goes ---- */

/* Writes "hi" to COM1, then spins until the timeout. */
/* clang-format off */
static const uint8_t say_hi[] = {
	0x66, 0xba, 0xf8, 0x03,   /* mov $0x3f8, %dx */
	0xb0, 0x68,               /* mov $'h', %al */
	0xee,                     /* out %al, (%dx) */
	0xb0, 0x69,               /* mov $'i', %al */
	0xee,                     /* out %al, (%dx) */
	0xeb, 0xfe,               /* 1: jmp 1b */
};
/* clang-format on */

Test(uart, a_relative_output_is_written_next_to_the_config_file)
{
	static const char name[] = "uart-output-next-to-its-config.txt";
	const char *ini = flood_config("emu", say_hi, sizeof(say_hi), "300ms", name);
	const char *next_to = e2e_strf("%s/%s", e2e_tmpdir(), name);
	char buf[16] = "", cwd[4096];
	struct e2e_result r;
	FILE *f;

	/* vmm-run inherits the working directory, which must not be the config's folder. */
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_str_neq(cwd, e2e_tmpdir());
	run(&r, ini, 0, 0, -1);
	assert_exit(&r, 124);
	f = fopen(next_to, "r");
	cr_assert_not_null(f, "no %s: %s", next_to, e2e_describe(&r));
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, "hi");
	cr_assert_neq(access(name, F_OK), 0, "written relative to the working directory too");
}
