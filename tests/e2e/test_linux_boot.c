/* SPDX-License-Identifier: MIT */
/*
 * test_linux_boot.c - vmm-run with `kernel =`: the fake kernel (tests/linux/fake/) boots on kvm
 * and finds what boot.rst promises it; emu, bad images and bad configs are refused with why.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "e2e.h"
#include "fake_kernel.h"
#include "testdev.h"
#include "vmm/vmm.h"

#define TESTDEV_SO BUILD_DIR "/plugins/testdev.so"
#define UART_SO	   BUILD_DIR "/plugins/uart16550.so"
#define CMDLINE	   "console=ttyS0 panic=-1 quiet fake.check=all"

/* fake.S writes the testdev's registers by number: they must be testdev.h's. */
_Static_assert(FAKE_TESTDEV_SIZE >= TESTDEV_WINDOW_MIN, "the fake's testdev window is too small");
_Static_assert(TESTDEV_REG_EXIT == 0xf0 && TESTDEV_REG_CLOCK_NS == 0xe0 &&
		   TESTDEV_REG_DMA_SRC == 0x80 && TESTDEV_REG_DMA_LEN == 0x90 &&
		   TESTDEV_REG_DMA_CMD == 0xa0 && TESTDEV_REG_DMA_STATUS == 0xa4 &&
		   TESTDEV_REG_DMA_RESULT == 0xa8 && TESTDEV_CMD_CHECKSUM == 3 &&
		   TESTDEV_STATUS_DONE == 1 && TESTDEV_ID_VALUE == 0x544d4d56,
	       "fake.S's TD_* registers differ from testdev.h");

/* Named *_kvm: the nested kvm_amd route (tests/nested/) runs the suites that say kvm. */
TestSuite(linux_boot_kvm, .fini = e2e_cleanup, .timeout = 120);
TestSuite(linux_refuse_kvm, .fini = e2e_cleanup, .timeout = 60);

/* A machine as examples/linux.ini lays it out, with vmm.ini lines of the test's choosing. */
struct machine {
	const char *accel;    /* NULL: kvm */
	unsigned vcpus;	      /* 0: 1 */
	const char *kernel;   /* a path, or NULL for no kernel line */
	const char *initrd;   /* NULL: no initrd line */
	const char *cmdline;  /* NULL: no cmdline line */
	const char *vm_more;  /* more [vm] lines ("key = value\n"), or NULL */
	const char *ram_gpa;  /* NULL: 0 */
	const char *ram_size; /* NULL: 256M */
};

static const char *write_config(const char *name, const struct machine *m)
{
	return e2e_write_file(
	    name,
	    "; written by test_linux_boot.c\n"
	    "[vm]\n"
	    "accel = %s\n"
	    "vcpus = %u\n"
	    "timeout = 60s\n"
	    "%s%s%s" /* kernel */
	    "%s%s%s" /* initrd */
	    "%s%s%s" /* cmdline */
	    "%s"
	    "\n"
	    "[ram \"low\"]\n"
	    "gpa = %s\n"
	    "size = %s\n"
	    "\n"
	    "[device \"uart0\"]\n"
	    "plugin = " UART_SO "\n"
	    "pio = 0x3f8\n"
	    "size = 8\n"
	    "irq = 4\n"
	    "output = stdout\n"
	    "\n"
	    "[device \"test0\"]\n"
	    "plugin = " TESTDEV_SO "\n"
	    "mmio = 0xfebf0000\n"
	    "size = 0x1000\n",
	    m->accel ? m->accel : "kvm", m->vcpus ? m->vcpus : 1, m->kernel ? "kernel = " : "",
	    m->kernel ? m->kernel : "", m->kernel ? "\n" : "", m->initrd ? "initrd = " : "",
	    m->initrd ? m->initrd : "", m->initrd ? "\n" : "", m->cmdline ? "cmdline = " : "",
	    m->cmdline ? m->cmdline : "", m->cmdline ? "\n" : "", m->vm_more ? m->vm_more : "",
	    m->ram_gpa ? m->ram_gpa : "0", m->ram_size ? m->ram_size : "256M");
}

/* An initrd of len bytes whose first 16 differ from one another: the fake compares them. */
static const char *write_initrd(const char *name, size_t len, uint8_t seed)
{
	const char *path = e2e_strf("%s/%s", e2e_tmpdir(), name);
	uint8_t *b = malloc(len);

	cr_assert_not_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(seed + i * 7);
	cr_assert_eq(fake_write_all(path, b, len), 0, "%s", path);
	free(b);
	return path;
}

/* Skip where make has not built the fake; a skipped test's .fini does not run: clean up first. */
static void require_fake(void)
{
	if (access(FAKE_KERNEL_BIN, R_OK)) {
		int why = errno;

		e2e_cleanup();
		cr_skip_test("%s: %s (make tests builds it)", FAKE_KERNEL_BIN, strerror(why));
	}
}

/* The fake told to expect e, as a bzImage of spec s (NULL: the default), cut to cut bytes. */
static const char *write_kernel(const char *name, const struct fake_expect *e,
				const struct bzimage_spec *s, size_t cut)
{
	const char *path;
	int ret;

	require_fake();
	path = e2e_strf("%s/%s", e2e_tmpdir(), name);
	ret = fake_kernel_write(path, e, s, cut);
	cr_assert_eq(ret, 0, "writing %s from %s: %s", path, FAKE_KERNEL_BIN, strerror(-ret));
	return path;
}

/* What an exit status means when the fake kernel set it. */
static const char *fake_says(int status)
{
	const char *text = fake_check_text(status);

	if (status == 0)
		return "all checks passed";
	return text ? e2e_strf("check %d failed: %s", status, text) : "not a check's number";
}

/* The run ended with the fake's exit code want (0: every check passed). */
static void assert_fake_exit(const struct e2e_result *r, int want)
{
	cr_assert(r->exited && r->status == want, "expected exit %d (%s), got %s%s", want,
		  fake_says(want),
		  r->exited ? e2e_strf("(the fake kernel: %s) ", fake_says(r->status)) : "",
		  e2e_describe(r));
}

/* Boot the fake on kvm with vcpus vCPUs, an initrd of initrd_len bytes (0: none), and line. */
static void boot(unsigned vcpus, size_t initrd_len, const char *line, uint32_t cmdline_size)
{
	uint8_t head[16];
	struct fake_expect e = {.ncpus = vcpus, .cmdline = line, .cmdline_size = cmdline_size};
	struct machine m = {.vcpus = vcpus, .cmdline = line};
	struct e2e_result r;

	e2e_require_kvm();
	require_fake();
	if (initrd_len) {
		m.initrd = write_initrd("initrd.img", initrd_len, 0x31);
		for (size_t i = 0; i < sizeof(head); i++)
			head[i] = (uint8_t)(0x31 + i * 7);
		e.initrd = head;
		e.initrd_len = initrd_len;
	}
	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	e2e_vmm_run(&r, write_config("linux.ini", &m), NULL);
	assert_fake_exit(&r, 0);
}

/* ---- the fake kernel boots and finds what the boot protocol promises ---- */

Test(linux_boot_kvm, one_vcpu_with_initrd_and_command_line)
{
	boot(1, 5000, CMDLINE, 0);
}

Test(linux_boot_kvm, two_vcpus_the_second_started_by_init_sipi_sipi)
{
	boot(2, 5000, CMDLINE, 0);
}

/* The MP table lists all four; the fake starts vCPU 1 only, the others stay parked. */
Test(linux_boot_kvm, four_vcpus_are_all_in_the_mp_table)
{
	boot(4, 5000, CMDLINE, 0);
}

Test(linux_boot_kvm, no_initrd_and_no_command_line_leave_both_empty)
{
	boot(1, 0, NULL, 0);
}

Test(linux_boot_kvm, a_command_line_of_exactly_cmdline_size_bytes_is_taken)
{
	boot(1, 4096, "0123456789abcdef0123456789abcdef", 32);
}

/* Linux reboots a PC without ACPI through the keyboard controller: vmm-run ends, status 0. */
Test(linux_boot_kvm, a_reboot_through_the_keyboard_controller_ends_the_run_with_0)
{
	struct fake_expect e = {.ncpus = 1, .flags = FAKE_FLAG_END_BY_RESET};
	struct machine m = {0};
	struct e2e_result r;

	e2e_require_kvm();
	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	e2e_vmm_run(&r, write_config("linux.ini", &m), NULL);
	assert_fake_exit(&r, 0);
	assert_contains(r.err, "vmm-run: the guest asked for a reset (reboot): run ended", &r);
}

/* The fake's checks can fail: a line or initrd other than it expects ends the run with 16, 18. */
Test(linux_boot_kvm, the_fake_notices_a_command_line_it_was_not_told)
{
	struct fake_expect e = {.ncpus = 1, .cmdline = CMDLINE};
	struct machine m = {.cmdline = CMDLINE "x"};
	struct e2e_result r;

	e2e_require_kvm();
	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	e2e_vmm_run(&r, write_config("linux.ini", &m), NULL);
	assert_fake_exit(&r, 16);
}

Test(linux_boot_kvm, the_fake_notices_an_initrd_it_was_not_told)
{
	static const uint8_t head[16] = {0x31};
	struct fake_expect e = {.ncpus = 1, .initrd = head, .initrd_len = 5000};
	struct machine m = {0};
	struct e2e_result r;

	e2e_require_kvm();
	require_fake();
	m.initrd = write_initrd("initrd.img", 5000, 0x32);
	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	e2e_vmm_run(&r, write_config("linux.ini", &m), NULL);
	assert_fake_exit(&r, 18);
}

/* ---- refused: nothing runs, exit status 2 and a message that says why ---- */

/* Run m's config; expect status 2 and "CONFIG:LINE:" then each of the texts (NULL-ended). */
static void refused(const struct machine *m, const char *line_prefix, ...)
{
	const char *ini = write_config("linux.ini", m);
	struct e2e_result r;
	const char *text;
	va_list ap;

	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, e2e_strf("%s:%u:", ini, e2e_line_of(ini, line_prefix)), &r);
	va_start(ap, line_prefix);
	while ((text = va_arg(ap, const char *)))
		assert_contains(r.err, text, &r);
	va_end(ap);
	cr_assert_str_empty(r.out, "nothing should run: %s", e2e_describe(&r));
}

Test(linux_refuse_kvm, emu_cannot_boot_linux_and_says_to_use_kvm)
{
	struct fake_expect e = {.ncpus = 1};
	struct machine m = {.accel = "emu"};
	char why[256];

	if (vmm_accel_probe(VMM_ACCEL_EMU, why, sizeof(why)) < 0)
		cr_skip_test("emu: %s", why);
	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	refused(&m, "kernel =", "the emu backend cannot boot Linux", "use accel = kvm", NULL);
}

/*
 * A bad image: the default spec spoiled by spoil, the file cut to cut bytes (0: not), and
 * then byte off of the file set to val (off 0: none), for a header that contradicts its file.
 */
static void bad_image(void (*spoil)(struct bzimage_spec *), size_t cut, size_t off, uint8_t val,
		      const char *reason)
{
	struct fake_expect e = {.ncpus = 1};
	struct bzimage_spec s;
	struct machine m = {0};
	uint8_t *b;
	size_t len;

	e2e_require_kvm(); /* the header may be read after the backend is chosen */
	bzimage_spec_init(&s);
	if (spoil)
		spoil(&s);
	m.kernel = write_kernel("bad.bzImage", &e, &s, cut);
	if (off) {
		cr_assert_eq(fake_read_all(m.kernel, &b, &len), 0);
		cr_assert_lt(off, len);
		b[off] = val;
		cr_assert_eq(fake_write_all(m.kernel, b, len), 0);
		free(b);
	}
	refused(&m, "kernel =", reason, NULL);
}

static void wrong_magic(struct bzimage_spec *s)
{
	memcpy(s->magic, "HdrT", 4);
}

static void wrong_boot_flag(struct bzimage_spec *s)
{
	s->boot_flag = 0x55aa;
}

static void protocol_2_05(struct bzimage_spec *s)
{
	s->version = 0x0205;
}

static void syssize_past_the_file(struct bzimage_spec *s)
{
	s->syssize = 0x100000; /* 16 MiB */
}

static void no_64_bit_entry(struct bzimage_spec *s)
{
	s->xloadflags = BZB_XLF_ABOVE_4G;
}

Test(linux_refuse_kvm, a_file_cut_inside_the_setup_header_is_truncated)
{
	bad_image(NULL, 0x240, 0, 0,
		  "truncated: the file is 0x240 bytes, the setup header ends at 0x26c");
}

Test(linux_refuse_kvm, a_file_cut_inside_the_kernel_names_syssize)
{
	bad_image(NULL, 0x1000, 0, 0, "syssize");
}

Test(linux_refuse_kvm, a_file_too_short_for_the_magic_is_not_a_bzimage)
{
	bad_image(NULL, 0x100, 0, 0, "not a bzImage");
}

Test(linux_refuse_kvm, a_wrong_magic_is_not_a_bzimage)
{
	bad_image(wrong_magic, 0, 0, 0, "no 'HdrS' magic at 0x202");
}

Test(linux_refuse_kvm, a_wrong_boot_flag_is_not_a_bzimage)
{
	bad_image(wrong_boot_flag, 0, 0, 0, "boot_flag at 0x1fe is 0x55aa, not 0xaa55");
}

Test(linux_refuse_kvm, protocol_2_05_is_too_old)
{
	bad_image(protocol_2_05, 0, 0, 0, "boot protocol 2.05 is too old");
}

Test(linux_refuse_kvm, syssize_past_the_file_is_refused)
{
	bad_image(syssize_past_the_file, 0, 0, 0,
		  "syssize 0x100000 states a 0x1000000-byte kernel");
}

Test(linux_refuse_kvm, setup_sects_past_the_file_is_refused)
{
	/* 200 setup sectors would put the kernel at 0x19200, past the fake's 8 KiB file. */
	bad_image(NULL, 0, 0x1f1, 200, "setup_sects 200 puts the kernel at 0x19200");
}

Test(linux_refuse_kvm, a_kernel_without_the_64_bit_entry_is_refused)
{
	bad_image(no_64_bit_entry, 0, 0, 0, "lacks XLF_KERNEL_64");
}

Test(linux_refuse_kvm, a_command_line_longer_than_cmdline_size_is_refused)
{
	struct fake_expect e = {.ncpus = 1, .cmdline_size = 32};
	struct machine m = {.cmdline = "0123456789abcdef0123456789abcdefX"};

	e2e_require_kvm();
	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	refused(&m, "kernel =", "33 bytes is longer than the 32", "cmdline_size", NULL);
}

Test(linux_refuse_kvm, ram_not_at_gpa_0_is_refused)
{
	struct fake_expect e = {.ncpus = 1};
	struct machine m = {.ram_gpa = "0x100000"};

	e2e_require_kvm();
	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	refused(&m, "kernel =", "writable RAM must start at GPA 0", NULL);
}

Test(linux_refuse_kvm, ram_too_small_for_the_kernel_is_refused)
{
	struct fake_expect e = {.ncpus = 1};
	struct machine m = {.ram_size = "1M"};

	e2e_require_kvm();
	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	refused(&m, "kernel =", "no writable RAM holds its", "init_size", NULL);
}

/* ---- config errors: the parser's, before any VM (accel = emu: no backend is asked) ---- */

Test(linux_refuse_kvm, kernel_and_firmware_together_are_a_config_error)
{
	struct fake_expect e = {.ncpus = 1};
	struct machine m = {.accel = "emu"};

	m.kernel = write_kernel("fake.bzImage", &e, NULL, 0);
	m.vm_more = e2e_strf("firmware = %s\n", m.kernel);
	refused(&m, "kernel =", "vm has both kernel and firmware", NULL);
}

Test(linux_refuse_kvm, an_initrd_without_a_kernel_is_a_config_error)
{
	struct machine m = {.accel = "emu"};

	m.initrd = write_initrd("initrd.img", 100, 0);
	m.vm_more = e2e_strf("firmware = %s\n", write_initrd("fw.elf", 100, 0));
	refused(&m, "initrd =", "initrd but no kernel", NULL);
}

Test(linux_refuse_kvm, a_missing_kernel_file_is_a_config_error_naming_it)
{
	struct machine m = {.accel = "emu", .kernel = "no-such-vmlinuz"};

	refused(&m, "kernel =", "no-such-vmlinuz", NULL);
}
