/* SPDX-License-Identifier: MIT */
/*
 * test_uart16550.c - the uart16550 plugin, driven
 * through a fake host, against the 16550A's registers.
 */

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake_host.h"

/* The 16550A register map, written out here rather than taken from the model. */
#define RBR 0 /* DLAB 0, read */
#define THR 0 /* DLAB 0, write */
#define DLL 0 /* DLAB 1 */
#define IER 1 /* DLAB 0 */
#define DLM 1 /* DLAB 1 */
#define IIR 2 /* read */
#define FCR 2 /* write */
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define LSR_DR	 0x01
#define LSR_OE	 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10

static struct fake_host *fh;
static char out_path[64];
static char in_path[64]; /* input_file()'s, removed by teardown */

static void setup(void)
{
	int fd;

	snprintf(out_path, sizeof(out_path), "/tmp/uart16550-test-XXXXXX");
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
}

TestSuite(uart16550, .init = setup, .fini = teardown);

/* Create a UART in PIO space (8 ports) whose output goes to out_path. */
static void create_with_output_file(void)
{
	fake_set_param(fh, "output", out_path);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
}

/* What the output file holds now; the returned string is static. */
static const char *output_file_text(void)
{
	static char buf[256];
	FILE *f = fopen(out_path, "r");
	size_t n;

	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	fclose(f);
}

static uint8_t rd(uint64_t reg)
{
	return (uint8_t)fake_rd(fh, reg, 1);
}

static void wr(uint64_t reg, uint8_t v)
{
	fake_wr(fh, reg, 1, v);
}

static void set_divisor(unsigned div)
{
	uint8_t lcr = rd(LCR);

	wr(LCR, lcr | LCR_DLAB);
	wr(DLL, (uint8_t)div);
	wr(DLM, (uint8_t)(div >> 8));
	wr(LCR, lcr);
}

/* Input arrives from the device's worker thread: wait up to 5 s for LSR DR. */
static bool wait_dr(void)
{
	for (int i = 0; i < 5000; i++) {
		if (rd(LSR) & LSR_DR)
			return true;
		nap_ms(1);
	}
	return false;
}

/*
 * stdin becomes a pipe; returns its write end. Tests that program the FIFO
 * write their input after it: enabling the FIFO empties the receiver.
 */
static int stdin_pipe(void)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	fake_set_param(fh, "input", "stdin");
	return p[1];
}

/* A file in /tmp holding text, removed by teardown. */
static const char *input_file(const char *text)
{
	int fd;

	snprintf(in_path, sizeof(in_path), "/tmp/uart16550-in-XXXXXX");
	fd = mkstemp(in_path);
	cr_assert_geq(fd, 0);
	close(fd);
	write_file(in_path, text);
	return in_path;
}

/* ---- descriptor ---- */

Test(uart16550, descriptor_declares_name_spaces_widths_and_minimum_window)
{
	cr_assert_eq(fh->desc->abi_version, VMM_PLUGIN_ABI_VERSION);
	cr_assert_geq(fh->desc->size, VMM_PLUGIN_DESC_MIN_SIZE);
	cr_assert_str_eq(fh->desc->name, "uart16550");
	cr_assert_eq(fh->desc->spaces, VMM_SPACE_MMIO | VMM_SPACE_PIO);
	cr_assert_eq(fh->desc->access_sizes, VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4);
	cr_assert_eq(fh->desc->min_length, 8);
}

Test(uart16550, create_asks_for_every_key_it_knows)
{
	fake_set_param(fh, "output", "none");
	fake_set_param(fh, "input", "none");
	fake_set_param(fh, "reg-shift", "0");
	fake_set_param(fh, "flush-timeout", "1s");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	cr_assert(fake_param_asked(fh, "output"));
	cr_assert(fake_param_asked(fh, "input"));
	cr_assert(fake_param_asked(fh, "reg-shift"));
	cr_assert(fake_param_asked(fh, "flush-timeout"));
}

/* ---- transmit ---- */

Test(uart16550, thr_write_reaches_the_output_file_at_once)
{
	create_with_output_file();
	wr(THR, 'o');
	wr(THR, 'k');
	wr(THR, '\n');
	/* Before destroy: a VM may stop right after printing. */
	cr_assert_str_eq(output_file_text(), "ok\n");
}

Test(uart16550, output_file_is_truncated_when_the_device_is_created)
{
	write_file(out_path, "old contents\n");
	create_with_output_file();
	cr_assert_str_eq(output_file_text(), "");
	wr(THR, 'x');
	cr_assert_str_eq(output_file_text(), "x");
}

Test(uart16550, output_defaults_to_stdout)
{
	int fd = open(out_path, O_WRONLY | O_TRUNC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	wr(THR, 'h');
	wr(THR, 'i');
	cr_assert_str_eq(output_file_text(), "hi");
}

Test(uart16550, output_stderr_writes_to_stderr)
{
	int fd = open(out_path, O_WRONLY | O_TRUNC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	fake_set_param(fh, "output", "stderr");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	wr(THR, 'e');
	cr_assert_str_eq(output_file_text(), "e");
}

Test(uart16550, output_none_discards_bytes_but_still_transmits)
{
	int fd = open(out_path, O_WRONLY | O_TRUNC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);
	fake_set_param(fh, "output", "none");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	wr(THR, 'z');
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	cr_assert_str_eq(output_file_text(), "");
}

Test(uart16550, lsr_reports_thre_and_temt_when_idle)
{
	create_with_output_file();
	cr_assert_eq(rd(LSR), LSR_THRE | LSR_TEMT);
}

Test(uart16550, lsr_reports_thre_and_temt_right_after_a_write)
{
	create_with_output_file();
	wr(THR, 'a');
	cr_assert_eq(rd(LSR), LSR_THRE | LSR_TEMT);
}

Test(uart16550, wide_write_transmits_only_the_low_byte)
{
	create_with_output_file();
	fake_wr(fh, THR, 4, 0x44434241);
	fake_wr(fh, THR, 2, 0x4545);
	cr_assert_str_eq(output_file_text(), "AE");
	cr_assert_eq(fake_rd(fh, LSR, 4), LSR_THRE | LSR_TEMT);
}

/* ---- line control and the divisor latch ---- */

Test(uart16550, dlab_switches_offsets_0_and_1_to_the_divisor_latch)
{
	create_with_output_file();
	wr(IER, 0x05);
	wr(LCR, LCR_DLAB | 0x03);
	wr(DLL, 0x01);
	wr(DLM, 0x02);
	cr_assert_eq(rd(DLL), 0x01);
	cr_assert_eq(rd(DLM), 0x02);
	wr(LCR, 0x03);
	cr_assert_eq(rd(IER), 0x05);
	cr_assert_str_eq(output_file_text(), "", "a DLL write must not transmit");
	wr(LCR, LCR_DLAB);
	cr_assert_eq(rd(DLL), 0x01);
	cr_assert_eq(rd(DLM), 0x02);
}

Test(uart16550, lcr_reads_back_what_was_written)
{
	create_with_output_file();
	wr(LCR, 0x1b);
	cr_assert_eq(rd(LCR), 0x1b);
}

Test(uart16550, ier_keeps_only_its_four_defined_bits)
{
	create_with_output_file();
	wr(IER, 0xff);
	cr_assert_eq(rd(IER), 0x0f);
}

Test(uart16550, scratch_register_stores_a_byte)
{
	create_with_output_file();
	wr(SCR, 0xa5);
	cr_assert_eq(rd(SCR), 0xa5);
}

Test(uart16550, lsr_and_msr_ignore_writes)
{
	create_with_output_file();
	wr(LSR, 0xff);
	wr(MSR, 0x0f);
	cr_assert_eq(rd(LSR), LSR_THRE | LSR_TEMT);
	cr_assert_eq(rd(MSR) & 0x0f, 0);
}

/* ---- modem control, loopback and status ---- */

Test(uart16550, msr_reports_a_connected_terminal_outside_loopback)
{
	create_with_output_file();
	cr_assert_eq(rd(MSR), 0xb0); /* DCD, DSR, CTS */
}

Test(uart16550, loopback_mode_echoes_tx_into_rx_instead_of_the_output)
{
	create_with_output_file();
	wr(MCR, MCR_LOOP);
	wr(THR, 'x');
	cr_assert_eq(rd(LSR) & LSR_DR, LSR_DR);
	cr_assert_eq(rd(RBR), 'x');
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	cr_assert_str_eq(output_file_text(), "");
}

Test(uart16550, loopback_mode_wires_modem_outputs_to_modem_inputs)
{
	create_with_output_file();
	wr(MCR, MCR_LOOP);
	rd(MSR);			    /* drop the deltas of entering loopback */
	wr(MCR, MCR_LOOP | 0x0f);	    /* DTR, RTS, OUT1, OUT2 */
	cr_assert_eq(rd(MSR), 0xf0 | 0x0b); /* all lines; DCTS, DDSR, DDCD (RI rose: no TERI) */
	cr_assert_eq(rd(MSR), 0xf0, "reading MSR clears the deltas");
	wr(MCR, MCR_LOOP | 0x0b); /* OUT1 off: RI falls */
	cr_assert_eq(rd(MSR), 0xb0 | 0x04);
}

Test(uart16550, mcr_keeps_only_its_five_defined_bits)
{
	create_with_output_file();
	wr(MCR, 0xff);
	cr_assert_eq(rd(MCR), 0x1f);
}

/* ---- receive and the FIFOs ---- */

Test(uart16550, rx_fifo_holds_16_bytes_and_sets_oe_on_overflow)
{
	create_with_output_file();
	wr(FCR, 0x01);
	wr(MCR, MCR_LOOP);
	for (int i = 0; i < 17; i++)
		wr(THR, (uint8_t)('a' + i));
	cr_assert_eq(rd(LSR) & (LSR_DR | LSR_OE), LSR_DR | LSR_OE);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(rd(RBR), 'a' + i, "byte %d", i);
	cr_assert_eq(rd(LSR) & (LSR_DR | LSR_OE), 0,
		     "FIFO empty, OE cleared by the earlier LSR read");
}

Test(uart16550, rx_fifo_of_16_bytes_does_not_overflow_when_full)
{
	create_with_output_file();
	wr(FCR, 0x01);
	wr(MCR, MCR_LOOP);
	for (int i = 0; i < 16; i++)
		wr(THR, (uint8_t)i);
	cr_assert_eq(rd(LSR) & LSR_OE, 0);
}

Test(uart16550, without_fifos_a_second_byte_overwrites_the_first_and_sets_oe)
{
	create_with_output_file();
	wr(MCR, MCR_LOOP);
	wr(THR, '1');
	wr(THR, '2');
	cr_assert_eq(rd(LSR) & (LSR_DR | LSR_OE), LSR_DR | LSR_OE);
	cr_assert_eq(rd(RBR), '2');
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
}

Test(uart16550, fcr_clears_the_rx_fifo)
{
	create_with_output_file();
	wr(FCR, 0x01);
	wr(MCR, MCR_LOOP);
	wr(THR, 'a');
	wr(THR, 'b');
	wr(FCR, 0x03);
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	wr(THR, 'c');
	cr_assert_eq(rd(RBR), 'c');
}

Test(uart16550, disabling_the_fifos_empties_them)
{
	create_with_output_file();
	wr(FCR, 0x01);
	wr(MCR, MCR_LOOP);
	wr(THR, 'a');
	wr(FCR, 0x00);
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
}

Test(uart16550, iir_reports_fifos_enabled_in_bits_6_and_7)
{
	create_with_output_file();
	cr_assert_eq(rd(IIR), 0x01);
	wr(FCR, 0x01);
	cr_assert_eq(rd(IIR), 0xc1);
	wr(FCR, 0x00);
	cr_assert_eq(rd(IIR), 0x01);
}

Test(uart16550, iir_reports_received_data_when_enabled)
{
	create_with_output_file();
	wr(MCR, MCR_LOOP);
	wr(THR, 'a');
	cr_assert_eq(rd(IIR), 0x01, "no source enabled");
	wr(IER, 0x01);
	cr_assert_eq(rd(IIR), 0x04);
	rd(RBR);
	cr_assert_eq(rd(IIR), 0x01);
}

Test(uart16550, iir_reports_a_timeout_below_the_fifo_trigger_level_after_4_characters)
{
	uint64_t t0, t1;

	create_with_output_file();
	set_divisor(1152); /* 100 baud: 4 characters of 8N1 take 400 ms */
	wr(FCR, 0x41);	   /* trigger at 4 bytes */
	wr(MCR, MCR_LOOP);
	wr(IER, 0x01);
	t0 = now_ms();
	wr(THR, 'a');
	cr_assert_eq(rd(IIR) == 0xcc, now_ms() - t0 >= 400, "no timeout before 4 characters");
	while (now_ms() - t0 < 400 + 20)
		nap_ms(10);
	cr_assert_eq(rd(IIR), 0xcc);
	t1 = now_ms();
	for (int i = 0; i < 3; i++)
		wr(THR, 'a');
	cr_assert_eq(rd(IIR), 0xc4, "at the trigger level");
	rd(RBR);
	cr_assert_eq(rd(IIR) == 0xcc, now_ms() - t1 >= 400, "a read restarts the timeout");
}

Test(uart16550, iir_reports_thr_empty_until_iir_is_read)
{
	create_with_output_file();
	wr(IER, 0x02);
	cr_assert_eq(rd(IIR), 0x02);
	cr_assert_eq(rd(IIR), 0x01, "reading IIR acknowledges THR empty");
	wr(THR, 'a');
	cr_assert_eq(rd(IIR), 0x02);
}

Test(uart16550, iir_gives_line_status_priority_over_received_data)
{
	create_with_output_file();
	wr(MCR, MCR_LOOP);
	wr(THR, 'a');
	wr(THR, 'b'); /* overrun without FIFOs */
	wr(IER, 0x07);
	cr_assert_eq(rd(IIR), 0x06);
	rd(LSR);
	cr_assert_eq(rd(IIR), 0x04);
}

Test(uart16550, iir_reports_modem_status_changes_when_enabled)
{
	create_with_output_file();
	wr(IER, 0x08);
	cr_assert_eq(rd(IIR), 0x01);
	wr(MCR, MCR_LOOP); /* CTS, DSR, DCD drop */
	cr_assert_eq(rd(IIR), 0x00);
	rd(MSR);
	cr_assert_eq(rd(IIR), 0x01);
}

/* ---- input ---- */

Test(uart16550, input_from_a_file_appears_in_rbr_with_dr_set)
{
	fake_set_param(fh, "input", input_file("hi"));
	create_with_output_file();
	cr_assert(wait_dr());
	cr_assert_eq(rd(RBR), 'h');
	cr_assert(wait_dr());
	cr_assert_eq(rd(RBR), 'i');
	nap_ms(50);
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
}

Test(uart16550, input_longer_than_the_fifo_arrives_whole_without_overrun)
{
	const char *text = "0123456789abcdefghijklmnopqrstuvwxyz!";
	int w = stdin_pipe();

	create_with_output_file();
	wr(FCR, 0x01);
	cr_assert_eq(write(w, text, strlen(text)), (ssize_t)strlen(text));
	for (size_t i = 0; i < strlen(text); i++) {
		cr_assert(wait_dr(), "byte %zu never came", i);
		cr_assert_eq(rd(LSR) & LSR_OE, 0, "byte %zu: overrun", i);
		cr_assert_eq(rd(RBR), text[i], "byte %zu", i);
	}
	nap_ms(50);
	cr_assert_eq(rd(LSR) & (LSR_DR | LSR_OE), 0);
	close(w);
}

Test(uart16550, input_fills_the_fifo_without_the_guest_reading)
{
	int w = stdin_pipe();

	create_with_output_file();
	wr(FCR, 0x01);
	cr_assert_eq(write(w, "0123456789abcdefghijklmnop", 26), 26);
	nap_ms(100);
	/* 16 bytes in the FIFO, the rest waits: reading them all shows no overrun. */
	for (int i = 0; i < 16; i++) {
		cr_assert_eq(rd(LSR) & (LSR_DR | LSR_OE), LSR_DR, "byte %d", i);
		cr_assert_eq(rd(RBR), "0123456789abcdef"[i]);
	}
	cr_assert(wait_dr(), "the rest follows");
	cr_assert_eq(rd(RBR), 'g');
	close(w);
}

Test(uart16550, input_from_stdin_never_blocks_and_arrives_when_written)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	fake_set_param(fh, "input", "stdin");
	create_with_output_file();
	/* Nothing written yet, writer still open: a blocking read would hang here. */
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	cr_assert_eq(write(p[1], "k", 1), 1);
	cr_assert(wait_dr());
	cr_assert_eq(rd(RBR), 'k');
	close(p[1]);
	nap_ms(50);
	cr_assert_eq(rd(LSR) & LSR_DR, 0, "end of input is not data");
	cr_assert(strstr(fh->log_msg, "input 'stdin': end of input after 1 bytes"), "log: %s",
		  fh->log_msg);
}

Test(uart16550, input_from_stdin_keeps_stdin_blocking)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	fake_set_param(fh, "input", "stdin");
	create_with_output_file();
	cr_assert_eq(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK, 0);
	close(p[1]);
}

Test(uart16550, input_fifo_outlives_its_writers)
{
	char path[80];
	int w;

	snprintf(path, sizeof(path), "%s.in", out_path);
	cr_assert_eq(mkfifo(path, 0600), 0, "mkfifo: %s", strerror(errno));
	fake_set_param(fh, "input", path);
	create_with_output_file();
	for (int round = 0; round < 2; round++) {
		w = open(path, O_WRONLY | O_NONBLOCK);
		cr_assert_geq(w, 0, "%s", strerror(errno));
		cr_assert_eq(write(w, &"ab"[round], 1), 1);
		close(w);
		cr_assert(wait_dr(), "round %d", round);
		cr_assert_eq(rd(RBR), "ab"[round]);
	}
	unlink(path);
}

Test(uart16550, input_is_not_read_in_loopback_mode)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	fake_set_param(fh, "input", "stdin");
	create_with_output_file();
	wr(MCR, MCR_LOOP);
	cr_assert_eq(write(p[1], "q", 1), 1);
	nap_ms(100);
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	wr(MCR, 0);
	cr_assert(wait_dr());
	cr_assert_eq(rd(RBR), 'q');
	close(p[1]);
}

Test(uart16550, input_survives_a_reset)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	fake_set_param(fh, "input", "stdin");
	create_with_output_file();
	cr_assert_eq(write(p[1], "x", 1), 1);
	cr_assert(wait_dr());
	fh->desc->reset(fh->state);
	cr_assert_eq(rd(LSR) & LSR_DR, 0, "reset empties the receiver");
	cr_assert_eq(write(p[1], "y", 1), 1);
	cr_assert(wait_dr());
	cr_assert_eq(rd(RBR), 'y');
	close(p[1]);
}

/* ---- register spacing and window ---- */

Test(uart16550, reg_shift_2_spaces_registers_4_bytes_apart)
{
	fake_set_param(fh, "output", out_path);
	fake_set_param(fh, "reg-shift", "2");
	fake_create_ok(fh, VMM_SPACE_MMIO, 0x1000);
	fake_wr(fh, SCR * 4, 4, 0x5a);
	cr_assert_eq(fake_rd(fh, SCR * 4, 4), 0x5a);
	cr_assert_eq(fake_rd(fh, SCR, 1), 0, "offset 7 is padding, not SCR");
	cr_assert_eq(fake_rd(fh, LSR * 4, 4), LSR_THRE | LSR_TEMT);
	fake_wr(fh, IER, 1, 0x0f); /* padding: ignored */
	cr_assert_eq(fake_rd(fh, IER * 4, 1), 0);
	fake_wr(fh, THR * 4, 4, 'm');
	cr_assert_str_eq(output_file_text(), "m");
}

Test(uart16550, offsets_past_the_registers_read_zero_and_ignore_writes)
{
	fake_set_param(fh, "output", out_path);
	fake_create_ok(fh, VMM_SPACE_MMIO, 0x100);
	fake_wr(fh, 8, 1, 'x');
	fake_wr(fh, 0xfc, 4, 'y');
	cr_assert_eq(fake_rd(fh, 8, 1), 0);
	cr_assert_eq(fake_rd(fh, 0xfc, 4), 0);
	cr_assert_str_eq(output_file_text(), "");
}

/* ---- bad parameters ---- */

static void assert_refused(const char *key)
{
	int err = fake_create(fh, VMM_SPACE_MMIO, 0x100);

	cr_assert_eq(err, -EINVAL);
	cr_assert_eq(fh->param_errors, 1);
	cr_assert_str_eq(fh->param_error_key, key);
	cr_assert_neq(fh->param_error_msg[0], '\0');
}

Test(uart16550, output_in_a_missing_directory_is_refused_naming_output)
{
	fake_set_param(fh, "output", "/nonexistent-dir/uart.log");
	assert_refused("output");
}

Test(uart16550, empty_output_is_refused_naming_output)
{
	fake_set_param(fh, "output", "");
	assert_refused("output");
}

Test(uart16550, missing_input_file_is_refused_naming_input)
{
	fake_set_param(fh, "input", "/nonexistent-dir/uart.in");
	assert_refused("input");
}

Test(uart16550, reg_shift_above_3_is_refused_naming_reg_shift)
{
	fake_set_param(fh, "reg-shift", "4");
	assert_refused("reg-shift");
}

Test(uart16550, reg_shift_that_is_not_a_number_is_refused_naming_reg_shift)
{
	fake_set_param(fh, "reg-shift", "2k");
	assert_refused("reg-shift");
}

Test(uart16550, negative_reg_shift_is_refused_naming_reg_shift)
{
	fake_set_param(fh, "reg-shift", "-1");
	assert_refused("reg-shift");
}

Test(uart16550, reg_shift_needing_a_larger_window_is_refused_naming_reg_shift)
{
	fake_set_param(fh, "reg-shift", "3");
	cr_assert_eq(fake_create(fh, VMM_SPACE_MMIO, 32), -EINVAL);
	cr_assert_str_eq(fh->param_error_key, "reg-shift");
}

Test(uart16550, refused_output_file_does_not_truncate_an_existing_file)
{
	/* A bad reg-shift is found before the output is opened. */
	write_file(out_path, "keep");
	fake_set_param(fh, "output", out_path);
	fake_set_param(fh, "reg-shift", "9");
	assert_refused("reg-shift");
	cr_assert_str_eq(output_file_text(), "keep");
}

/* ---- reset ---- */

Test(uart16550, reset_returns_registers_to_power_on_state)
{
	create_with_output_file();
	wr(IER, 0x0f);
	wr(FCR, 0x01);
	wr(MCR, MCR_LOOP | 0x03);
	wr(THR, 'a');
	wr(SCR, 0x77);
	wr(LCR, 0x83);

	fh->desc->reset(fh->state);

	cr_assert_eq(rd(LCR), 0);
	cr_assert_eq(rd(IER), 0);
	cr_assert_eq(rd(MCR), 0);
	cr_assert_eq(rd(SCR), 0);
	cr_assert_eq(rd(IIR), 0x01);
	cr_assert_eq(rd(LSR), LSR_THRE | LSR_TEMT);
	cr_assert_eq(rd(MSR), 0xb0);
	wr(LCR, LCR_DLAB);
	cr_assert_eq(rd(DLL) | rd(DLM) << 8, 12, "9600 baud");
}

Test(uart16550, reset_keeps_the_output_file_open)
{
	create_with_output_file();
	wr(THR, 'a');
	fh->desc->reset(fh->state);
	wr(THR, 'b');
	cr_assert_str_eq(output_file_text(), "ab");
}

/* ---- a stalled output: never block, buffer, count what is dropped ---- */

#define TX_BUF 4096 /* the device's transmit buffer, as documented in vmm-plugin(7) */

static char fifo_path[80];

/* A FIFO next to out_path; removed by the test's process exit with the rest of /tmp. */
static const char *make_fifo(void)
{
	snprintf(fifo_path, sizeof(fifo_path), "%s.fifo", out_path);
	cr_assert_eq(mkfifo(fifo_path, 0600), 0, "mkfifo: %s", strerror(errno));
	return fifo_path;
}

/* A read end that holds the FIFO open but does not read, with a 4 KiB pipe buffer. */
static int stalled_reader(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_geq(fcntl(fd, F_SETPIPE_SZ, 4096), 0, "F_SETPIPE_SZ: %s", strerror(errno));
	return fd;
}

/* Write pattern bytes, each after THRE, until THRE stays 0; returns how many went in. */
static unsigned fill_until_busy(unsigned limit)
{
	unsigned n = 0;

	while (n < limit && (rd(LSR) & LSR_THRE))
		wr(THR, (uint8_t)('a' + n++ % 26));
	return n;
}

static void destroy_now(void)
{
	fh->desc->destroy(fh->state);
	fh->state = NULL;
}

Test(uart16550, fifo_with_no_reader_is_accepted_and_its_output_waits_for_one, .timeout = 30)
{
	char buf[8] = {0};
	int fd;

	fake_set_param(fh, "output", make_fifo());
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	wr(THR, 'h');
	wr(THR, 'i');
	/* Not out yet: the transmitter is busy (TEMT 0), but there is room (THRE 1). */
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE);
	fd = open(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	/* The device tries again at most every 10 ms, at the guest's accesses. */
	for (int i = 0; i < 1000 && !(rd(LSR) & LSR_TEMT); i++)
		nap_ms(1);
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf, "hi");
	close(fd);
}

Test(uart16550, full_pipe_clears_thre_and_temt_and_the_bytes_follow_in_order, .timeout = 30)
{
	int fd = stalled_reader(make_fifo());
	unsigned sent, got = 0;
	char buf[4096];

	fake_set_param(fh, "output", fifo_path);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	sent = fill_until_busy(3 * TX_BUF);
	/* The pipe's 4 KiB, then the device's buffer until less than a TX FIFO's room is left. */
	cr_assert_eq(sent, 4096 + TX_BUF - 15, "THRE cleared after %u bytes", sent);
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), 0);
	while (got < sent) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0) {
			rd(LSR); /* any access moves waiting bytes on */
			continue;
		}
		for (ssize_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], 'a' + (got + (unsigned)i) % 26, "byte %u",
				     got + (unsigned)i);
		got += (unsigned)n;
	}
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	close(fd);
}

Test(uart16550, thr_write_with_no_room_is_dropped_and_counted, .timeout = 30)
{
	int fd = stalled_reader(make_fifo());
	unsigned sent;

	fake_set_param(fh, "output", fifo_path);
	fake_set_param(fh, "flush-timeout", "0");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	sent = fill_until_busy(3 * TX_BUF);
	/* A guest that ignores THRE: 15 more fit, the last 5 do not. */
	for (int i = 0; i < 20; i++)
		wr(THR, '!');
	destroy_now();
	cr_assert(strstr(fh->log_msg,
			 "4096 bytes delivered, 4101 dropped (5 written while the buffer was full, "
			 "0 after the output went away, 4096 still buffered after the 0 ms flush)"),
		  "%u sent: %s", sent, fh->log_msg);
	close(fd);
}

Test(uart16550, flush_at_destroy_gives_up_after_flush_timeout, .timeout = 30)
{
	int fd = stalled_reader(make_fifo());
	struct timespec t0, t1;
	double s;

	fake_set_param(fh, "output", fifo_path);
	fake_set_param(fh, "flush-timeout", "300ms");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	fill_until_busy(3 * TX_BUF);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	destroy_now();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_geq(s, 0.25, "gave up after %.3f s", s);
	cr_assert_lt(s, 5.0, "gave up after %.3f s", s);
	cr_assert(strstr(fh->log_msg, "still buffered after the 300 ms flush"), "%s", fh->log_msg);
	close(fd);
}

Test(uart16550, flush_at_destroy_delivers_to_a_reader_that_catches_up, .timeout = 30)
{
	int fd = stalled_reader(make_fifo());
	unsigned sent, got = 0;
	char buf[4096];
	ssize_t n;
	pid_t pid;

	fake_set_param(fh, "output", fifo_path);
	fake_set_param(fh, "flush-timeout", "20s");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	sent = fill_until_busy(3 * TX_BUF);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/*
		 * The reader comes back while the device is being destroyed. It
		 * inherited the device's write end too, so it counts rather than
		 * wait for an end of file that would never come.
		 */
		nap_ms(200);
		fcntl(fd, F_SETFL, 0);
		while (got < sent && (n = read(fd, buf, sizeof(buf))) > 0)
			got += (unsigned)n;
		_exit(got == sent ? 0 : 1);
	}
	close(fd);
	destroy_now();
	cr_assert(strstr(fh->log_msg, "bytes delivered") && !strstr(fh->log_msg, "dropped"), "%s",
		  fh->log_msg);
	{
		int status;

		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the reader missed bytes");
	}
}

Test(uart16550, reader_that_closes_is_reported_once_and_later_bytes_are_counted, .timeout = 30)
{
	int fd = stalled_reader(make_fifo());
	unsigned logs;

	signal(SIGPIPE, SIG_IGN); /* as vmm-run does; an embedder must too */
	fake_set_param(fh, "output", fifo_path);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	wr(THR, 'a');
	close(fd);
	logs = fh->logs;
	wr(THR, 'b');
	cr_assert_eq(fh->logs, logs + 1);
	cr_assert(strstr(fh->log_msg, "the reader closed it"), "%s", fh->log_msg);
	wr(THR, 'c');
	cr_assert_eq(fh->logs, logs + 1, "logged again: %s", fh->log_msg);
	/* Dropping takes no time: the transmitter stays free. */
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	destroy_now();
	cr_assert(strstr(fh->log_msg, "1 bytes delivered, 2 dropped (0 written while the buffer "
				      "was full, 2 after the output went away"),
		  "%s", fh->log_msg);
}

Test(uart16550, stdout_pipe_is_written_without_making_stdout_non_blocking, .timeout = 30)
{
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_geq(fcntl(p[0], F_SETPIPE_SZ, 4096), 0);
	cr_assert_eq(dup2(p[1], STDOUT_FILENO), STDOUT_FILENO);
	close(p[1]);
	fake_set_param(fh, "flush-timeout", "0");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	/* Before the fix this blocked in write(2) once the pipe was full. */
	cr_assert_eq(fill_until_busy(3 * TX_BUF), 4096 + TX_BUF - 15);
	cr_assert_eq(fcntl(STDOUT_FILENO, F_GETFL) & O_NONBLOCK, 0,
		     "the shell's description of stdout was made non-blocking");
	destroy_now();
	close(p[0]);
}

Test(uart16550, flush_timeout_takes_a_duration_as_the_vm_timeout_does)
{
	static const char *const good[] = {"0",	     "250ms", "3",     "3s",
					   "86400s", "1m",    "1440m", "0x10ms"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct fake_host *f = fake_host_new("uart16550");

		fake_set_param(f, "output", "none");
		fake_set_param(f, "flush-timeout", good[i]);
		cr_assert_eq(fake_create(f, VMM_SPACE_PIO, 8), 0, "%s: %s", good[i],
			     f->param_error_msg);
		fake_host_free(f);
	}
}

Test(uart16550, bad_flush_timeout_is_refused_naming_flush_timeout)
{
	static const char *const bad[] = {"",	 "soon",   "-1",    "1h",
					  "5 s", "86401s", "1441m", "99999999999999999999"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fake_host *f = fake_host_new("uart16550");

		fake_set_param(f, "flush-timeout", bad[i]);
		cr_assert_eq(fake_create(f, VMM_SPACE_PIO, 8), -EINVAL, "'%s' accepted", bad[i]);
		cr_assert_str_eq(f->param_error_key, "flush-timeout");
		fake_host_free(f);
	}
}

Test(uart16550, stdout_socket_is_written_without_waiting, .timeout = 30)
{
	int sv[2], small = 4096;
	unsigned sent, got = 0;
	char buf[4096];

	signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	cr_assert_eq(dup2(sv[1], STDOUT_FILENO), STDOUT_FILENO);
	close(sv[1]);
	fake_set_param(fh, "flush-timeout", "0");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	/* Before the fix this blocked in write(2) once the socket buffer was full. */
	sent = fill_until_busy(64 * TX_BUF);
	cr_assert_lt(sent, 64 * TX_BUF, "THRE never cleared");
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), 0);
	cr_assert_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	while (got < sent) {
		ssize_t n = read(sv[0], buf, sizeof(buf));

		if (n <= 0) {
			rd(LSR);
			continue;
		}
		for (ssize_t i = 0; i < n; i++)
			cr_assert_eq(buf[i], 'a' + (got + (unsigned)i) % 26, "byte %u",
				     got + (unsigned)i);
		got += (unsigned)n;
	}
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	destroy_now();
	close(sv[0]);
}
