/* SPDX-License-Identifier: MIT */
/* test_vmm_run.c - end-to-end tests of vmm-run: options, errors, the demo, how guests end. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "e2e.h"

#define FIXTURE_PLUGINS BUILD_DIR "/tests/plugins"
#define TESTDEV_SO	BUILD_DIR "/plugins/testdev.so"

/* Tiny guests: a few bytes of x86-64 at E2E_GUEST_BASE, one instruction per line. */
/* clang-format off */
static const uint8_t spin_code[] = { 0xeb, 0xfe };    /* jmp . */
static const uint8_t hlt_code[] = { 0xf4 };           /* hlt, with interrupts off: never resumes */
static const uint8_t ud2_code[] = { 0x0f, 0x0b };     /* ud2: #UD with no IDT, fatal */
static const uint8_t exit_code_code[] = {
	0xbb, 0xf0, 0x00, 0xbf, 0xfe,             /* mov $0xfebf00f0, %ebx: testdev's exit register */
	0xc7, 0x03, 0x0b, 0x01, 0x00, 0x00,       /* movl $0x10b, (%rbx): stop with 267 */
	0xf4,                                     /* hlt: not reached */
};
/* clang-format on */

/* The testdev window the exit_code guest expects, loaded by path: no search involved. */
#define TESTDEV_SECTION                                                                            \
	"[device \"test0\"]\n"                                                                     \
	"plugin = " TESTDEV_SO "\n"                                                                \
	"mmio = 0xfebf0000\n"                                                                      \
	"size = 0x1000\n"

TestSuite(cli, .fini = e2e_cleanup);
TestSuite(demo, .fini = e2e_cleanup);
TestSuite(plugins, .fini = e2e_cleanup);
TestSuite(guest, .fini = e2e_cleanup);

/* ---- options and setup errors: nothing runs ---- */

Test(cli, help_lists_every_option_and_the_exit_codes)
{
	static const char *const want[] = {
	    "--accel=",	 "--timeout=", "--plugin-path=",
	    "--verbose", "--trace",    "--translate=",
	    "--kernel=", "--initrd=",  "--append=",
	    "--help",	 "--version",  "VMM_PLUGIN_PATH",
	    "124",	 "125",	       "126",
	    "129",	 "130",	       "143",
	    "Ctrl-A x",	 "reset",
	};
	struct e2e_result r;
	size_t i;

	e2e_vmm_run(&r, "--help", NULL);
	assert_exit(&r, 0);
	cr_assert(!strncmp(r.out, "Usage: vmm-run", 14), "usage goes to stdout: %s",
		  e2e_describe(&r));
	cr_assert_str_empty(r.err, "--help printed to stderr: %s", e2e_describe(&r));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_contains(r.out, want[i], &r);
}

Test(cli, version_prints_the_library_version)
{
	struct e2e_result r;
	unsigned major, minor, patch;
	char nl;

	e2e_vmm_run(&r, "--version", NULL);
	assert_exit(&r, 0);
	cr_assert(sscanf(r.out, "vmm-run (libvmm) %u.%u.%u%c", &major, &minor, &patch, &nl) == 4 &&
		      nl == '\n',
		  "expected \"vmm-run (libvmm) X.Y.Z\": %s", e2e_describe(&r));
}

Test(cli, unknown_option_is_a_usage_error)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--no-such-option", E2E_DEMO_INI, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "no-such-option", &r);
	cr_assert_str_empty(r.out, "nothing should run: %s", e2e_describe(&r));
}

Test(cli, missing_config_argument_is_a_usage_error)
{
	struct e2e_result r;

	e2e_vmm_run(&r, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "CONFIG.ini", &r);
}

Test(cli, unknown_accel_is_refused)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=qemu", E2E_DEMO_INI, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "qemu", &r);
	cr_assert_str_empty(r.out, "nothing should run: %s", e2e_describe(&r));
}

Test(cli, malformed_timeout_is_refused)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--timeout=10 hours", E2E_DEMO_INI, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "10 hours", &r);
	cr_assert_str_empty(r.out, "nothing should run: %s", e2e_describe(&r));
}

Test(cli, missing_config_file_exits_2_naming_it)
{
	const char *path = e2e_strf("%s/no-such-config.ini", e2e_tmpdir());
	struct e2e_result r;

	e2e_vmm_run(&r, path, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "no-such-config.ini", &r);
}

Test(cli, config_error_exits_2_with_file_and_line)
{
	const char *fw = e2e_write_elf("hlt.elf", hlt_code, sizeof(hlt_code));
	const char *ini = e2e_write_file("bad.ini",
					 "[vm]\n"
					 "firmware = %s\n"
					 "vcpus = lots\n",
					 fw);
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, e2e_strf("%s:3:", ini), &r);
}

Test(cli, config_without_firmware_exits_2_naming_the_vm_header)
{
	const char *ini =
	    e2e_write_file("nofw.ini", "[ram \"low\"]\ngpa = 0\nsize = 16M\n\n[vm]\nvcpus = 1\n");
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", ini, NULL);
	assert_exit(&r, 2);
	assert_contains(
	    r.err,
	    e2e_strf("vmm-run: %s:5: vm lacks the required key 'firmware' (or 'kernel')\n", ini),
	    &r);
}

/* No [vm] at all: line 1, where the section would go. */
Test(cli, config_without_vm_section_exits_2_at_line_1)
{
	const char *ini =
	    e2e_write_file("novm.ini", "; no vm here\n[ram \"low\"]\ngpa = 0\nsize = 16M\n");
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err,
			e2e_strf("vmm-run: %s:1: no vm section: vmm-run needs [vm] with the key "
				 "'firmware' (or 'kernel')\n",
				 ini),
			&r);
}

Test(cli, accel_kvm_without_dev_kvm_exits_2)
{
	struct e2e_result r;

	if (!e2e_kvm_missing())
		cr_skip_test("/dev/kvm is usable here, so kvm cannot fail to open");
	e2e_vmm_run(&r, "--accel=kvm", E2E_DEMO_INI, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "/dev/kvm", &r);
	cr_assert(!e2e_has_line(r.out, "libvmm selftest"), "the guest ran: %s", e2e_describe(&r));
}

/* ---- --kernel, --initrd, --append: nothing boots Linux here, the loader is reached ---- */

/* A file that is no bzImage, in the current folder; the config lives in cfg/, a folder below. */
static const char *kernel_setup(const char *accel)
{
	const char *fw = e2e_write_elf("hlt.elf", hlt_code, sizeof(hlt_code));

	e2e_write_file("notakernel", "%0512d\n", 0);
	cr_assert(mkdir(e2e_strf("%s/cfg", e2e_tmpdir()), 0755) == 0);
	cr_assert(chdir(e2e_tmpdir()) == 0);
	return e2e_guest_config("cfg/k.ini", fw, accel, "10s", "");
}

Test(cli, kernel_option_with_a_missing_file_exits_2_naming_it)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--kernel=no-such-bzImage", E2E_DEMO_INI, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "vmm-run: --kernel: 'no-such-bzImage': No such file or directory\n",
			&r);
	cr_assert_str_empty(r.out, "nothing should run: %s", e2e_describe(&r));
}

Test(cli, initrd_option_with_a_missing_file_exits_2_naming_it)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--initrd=no-such-initrd", E2E_DEMO_INI, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "vmm-run: --initrd: 'no-such-initrd': No such file or directory\n",
			&r);
}

Test(cli, initrd_or_append_without_a_kernel_is_refused)
{
	const char *ini = kernel_setup("emu");
	struct e2e_result r;

	e2e_vmm_run(&r, "--initrd=notakernel", ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "vmm-run: --initrd: no kernel to give it to", &r);
	e2e_vmm_run(&r, "--append=console=ttyS0", ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "vmm-run: --append: no kernel to give it to", &r);
}

/*
 * The config boots a firmware that would halt (status 125); --kernel takes
 * its place, found from the current folder (not the config's, cfg/), and the
 * library's loader refuses it: on emu always, saying why.
 */
Test(cli, kernel_option_replaces_the_firmware_and_reaches_the_loader)
{
	const char *ini = kernel_setup("emu");
	struct e2e_result r;

	e2e_vmm_run(&r, "-v", "--kernel=notakernel", "--append=quiet", ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "vmm-run: --kernel 'notakernel' replaces the config's firmware '",
			&r);
	/* The kernel is not in the file: no "FILE: kernel: " in front of the loader's words. */
	assert_contains(r.err, "\nvmm-run: the emu backend cannot boot Linux", &r);
	cr_assert(!strstr(r.err, "halted"), "the firmware ran: %s", e2e_describe(&r));
}

/* On kvm the loader reads the file: its message names the path --kernel gave. */
Test(cli, kernel_option_path_is_the_one_the_loader_reads)
{
	const char *ini;
	struct e2e_result r;

	e2e_require_kvm();
	ini = kernel_setup("kvm");
	e2e_vmm_run(&r, "--kernel=notakernel", ini, NULL);
	assert_exit(&r, 2);
	if (strstr(r.err, "kvm backend cannot boot Linux")) {
		e2e_cleanup(); /* a skipped test's .fini does not run */
		cr_skip_test("this tree's kvm backend cannot boot Linux yet (no linux_vcpu op), "
			     "so the loader never reads the file");
	}
	assert_contains(r.err, "vmm-run: kernel 'notakernel': not a bzImage: ", &r);
}

/* ---- the demo: the selftest firmware with a UART and testdev ---- */

static void check_selftest_output(const struct e2e_result *r)
{
	const char *summary;
	unsigned passed, failed, ok;

	assert_exit(r, 0);
	cr_assert(e2e_has_line(r->out, "libvmm selftest"), "no banner line: %s", e2e_describe(r));
	ok = e2e_count_lines(r->out, "ok ");
	cr_assert(ok >= 15, "only %u \"ok N - \" lines: %s", ok, e2e_describe(r));
	cr_assert(!strstr(r->out, "not ok"), "a selftest failed: %s", e2e_describe(r));
	summary = e2e_find_line(r->out, "selftest: ");
	cr_assert_not_null(summary, "no summary line: %s", e2e_describe(r));
	cr_assert(sscanf(summary, "selftest: %u passed, %u failed", &passed, &failed) == 2,
		  "malformed summary \"%s\"", summary);
	cr_assert(failed == 0 && passed == ok, "summary \"%s\" disagrees with %u ok lines", summary,
		  ok);
}

/* The line of a at which a and b first differ, for the message. */
static const char *first_different_line(const char *a, const char *b)
{
	const char *line = a;

	for (; *a && *a == *b; a++, b++)
		if (*a == '\n')
			line = a + 1;
	return line;
}

/* Every check prints the same line on both backends, interrupts and exceptions included. */
Test(demo, selftest_prints_the_same_lines_on_kvm_and_emu)
{
	struct e2e_result emu, kvm;

	e2e_require_kvm();
	e2e_vmm_run(&emu, "--accel=emu", E2E_DEMO_INI, NULL);
	e2e_vmm_run(&kvm, "--accel=kvm", E2E_DEMO_INI, NULL);
	cr_assert(!strcmp(emu.out, kvm.out), "emu and kvm differ from emu's line \"%.100s\": %s",
		  first_different_line(emu.out, kvm.out), e2e_describe(&kvm));
	check_selftest_output(&emu);
}

Test(demo, selftest_passes_on_emu)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", E2E_DEMO_INI, NULL);
	check_selftest_output(&r);
}

Test(demo, selftest_passes_on_kvm)
{
	struct e2e_result r;

	e2e_require_kvm();
	e2e_vmm_run(&r, "--accel=kvm", E2E_DEMO_INI, NULL);
	check_selftest_output(&r);
}

/* The demo with vcpus = 4: vCPU 1 waits for IPIs, 2 and 3 halt at once; vCPU 0 decides the exit. */
static void demo_with_four_vcpus(const char *accel)
{
	struct e2e_result r;
	const char *ini = e2e_write_file(
	    "demo4.ini",
	    "[vm]\nfirmware = %s/guest-firmware/selftest.elf\nvcpus = 4\ntimeout = 20s\n"
	    "[ram \"low\"]\ngpa = 0\nsize = 64M\n"
	    "[device \"uart0\"]\nplugin = uart16550\npio = 0x3f8\nsize = 8\n"
	    "[device \"test0\"]\nplugin = testdev\nmmio = 0xfebf0000\nsize = 0x1000\nirq = 10\n",
	    BUILD_DIR);

	e2e_vmm_run(&r, accel, ini, NULL);
	check_selftest_output(&r);
	assert_contains(r.out, "vcpu 0 of 4", &r);
}

Test(demo, selftest_passes_with_four_vcpus_on_emu)
{
	demo_with_four_vcpus("--accel=emu");
}

Test(demo, selftest_passes_with_four_vcpus_on_kvm)
{
	e2e_require_kvm();
	demo_with_four_vcpus("--accel=kvm");
}

/*
 * A ROM below the RAM: the boot area then lies at the top of the RAM, the lowest writable
 * memslot, and the selftest's boot-area and page-table checks must look there, not at ram[0].
 */
static void demo_with_a_rom_below_ram(const char *accel)
{
	struct e2e_result r;
	const char *ini = e2e_write_file(
	    "demo-rom.ini",
	    "[vm]\nfirmware = %s/guest-firmware/selftest.elf\ntimeout = 20s\nunhandled = ignore\n"
	    "[rom \"boot\"]\ngpa = 0\nsize = 64K\n"
	    "[ram \"low\"]\ngpa = 0x100000\nsize = 64M\n"
	    "[device \"uart0\"]\nplugin = uart16550\npio = 0x3f8\nsize = 8\n"
	    "[device \"test0\"]\nplugin = testdev\nmmio = 0xfebf0000\nsize = 0x1000\nirq = 10\n",
	    BUILD_DIR);

	e2e_vmm_run(&r, accel, ini, NULL);
	check_selftest_output(&r);
	assert_contains(r.out,
			"ok 14 - boot area is page aligned at the top of the lowest writable", &r);
}

Test(demo, selftest_finds_the_boot_area_above_a_rom_on_emu)
{
	demo_with_a_rom_below_ram("--accel=emu");
}

Test(demo, selftest_finds_the_boot_area_above_a_rom_on_kvm)
{
	e2e_require_kvm();
	demo_with_a_rom_below_ram("--accel=kvm");
}

Test(demo, accel_auto_says_which_backend_and_why)
{
	const char *no_kvm = e2e_kvm_missing();
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=auto", "-v", E2E_DEMO_INI, NULL);
	check_selftest_output(&r);
	if (no_kvm && strstr(no_kvm, "not built in"))
		assert_contains(r.err, "vmm-run: info: backend emu (auto: ", &r);
	else if (no_kvm)
		assert_contains(
		    r.err, e2e_strf("vmm-run: info: backend emu (auto: %s, using emu)", no_kvm),
		    &r);
	else
		assert_contains(r.err, "vmm-run: info: backend kvm (auto: /dev/kvm is usable)\n",
				&r);
	cr_assert_eq(e2e_count_lines(r.err, "vmm-run: info: backend "), 1, "%s", e2e_describe(&r));
}

Test(demo, verbose_describes_memory_devices_vcpus_and_the_exit)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", "--verbose", E2E_DEMO_INI, NULL);
	check_selftest_output(&r);
	assert_contains(r.err, "vmm-run: info: backend emu (asked for: ", &r);
	assert_contains(r.err, "vmm-run: memslot 'low': gpa [0x0, 0x4000000) 64 MiB at hva 0x", &r);
	assert_contains(
	    r.err, "vmm-run: info: device 'uart0': model 'uart16550', pio [0x3f8, 0x400)\n", &r);
	assert_contains(
	    r.err,
	    "vmm-run: info: device 'test0': model 'testdev', mmio [0xfebf0000, 0xfebf1000)\n", &r);
	assert_contains(r.err, "vmm-run: 1 vcpu\n", &r);
	assert_contains(r.err, "vmm-run: exit: stopped on vcpu 0, code 0", &r);
	assert_contains(r.err, "vmm-run: exits ", &r);
}

/* The library logs the backend and the windows; vmm-run must not say them again. */
Test(demo, verbose_says_each_fact_once)
{
	struct e2e_result r;

	e2e_require_kvm();
	e2e_vmm_run(&r, "--accel=kvm", "-v", E2E_DEMO_INI, NULL);
	check_selftest_output(&r);
	cr_assert_eq(e2e_count_lines(r.err, "vmm-run: info: backend kvm (asked for: "), 1, "%s",
		     e2e_describe(&r));
	cr_assert_eq(e2e_count_lines(r.err, "vmm-run: info: device 'uart0': model "), 1, "%s",
		     e2e_describe(&r));
	cr_assert_eq(e2e_count_lines(r.err, "vmm-run: info: device 'test0': model "), 1, "%s",
		     e2e_describe(&r));
	cr_assert(!strstr(r.err, "vmm-run: backend") && !strstr(r.err, "vmm-run: device"),
		  "a fact said twice: %s", e2e_describe(&r));
}

/* A folder of the search path that does not exist is marked, once, even if named twice. */
Test(demo, verbose_marks_a_missing_plugin_folder_once)
{
	const char *missing = e2e_strf("%s/no-such-dir", e2e_tmpdir());
	const char *path = e2e_strf("--plugin-path=%s:%s", missing, missing);
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", "-v", path, E2E_DEMO_INI, NULL);
	check_selftest_output(&r);
	assert_contains(r.err,
			e2e_strf("vmm-run: plugin folders: '%s' (does not exist), '%s/plugins',",
				 missing, BUILD_DIR),
			&r);
	cr_assert_eq(e2e_count_lines(r.err, "vmm-run: plugin folders: "), 1, "%s",
		     e2e_describe(&r));
	cr_assert_eq(strstr(strstr(r.err, missing) + 1, missing), NULL, "named twice: %s",
		     e2e_describe(&r));
}

Test(demo, without_verbose_stderr_stays_quiet)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", E2E_DEMO_INI, NULL);
	check_selftest_output(&r);
	cr_assert(!strstr(r.err, "backend emu"), "-v output without -v: %s", e2e_describe(&r));
	cr_assert(!e2e_has_line(r.err, "trace: "), "trace output without --trace: %s",
		  e2e_describe(&r));
}

Test(demo, trace_prints_one_line_per_exit)
{
	struct e2e_result r;

	e2e_vmm_run(&r, "--accel=emu", "--trace", E2E_DEMO_INI, NULL);
	check_selftest_output(&r);
	/* The selftest talks to the UART and testdev, so it exits to the VMM many times. */
	cr_assert(e2e_count_lines(r.err, "trace: ") >= 15, "too few trace lines: %s",
		  e2e_describe(&r));
}

/* ---- plugins: the search path and plugins that must be refused ---- */

/*
 * A config whose only device is plugin (a model name or a path) in a
 * testdev-sized MMIO window, with keys for the model (may be ""), and a
 * guest that halts: exit 125 means the device was created and the guest ran.
 */
static const char *plugin_config(const char *name, const char *plugin, const char *keys)
{
	const char *fw = e2e_write_elf("hlt.elf", hlt_code, sizeof(hlt_code));

	return e2e_guest_config(name, fw, "emu", "20s",
				e2e_strf("\n[device \"dev0\"]\n"
					 "plugin = %s\n"
					 "mmio = 0xfebf0000\n"
					 "size = 0x1000\n"
					 "%s",
					 plugin, keys));
}

Test(plugins, missing_plugin_exits_2_naming_it)
{
	struct e2e_result r;

	e2e_vmm_run(&r, plugin_config("missing.ini", "no-such-model", ""), NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "no-such-model", &r);
}

/* A plugin folder with testdev under another name, so only the search path can find it. */
static const char *renamed_testdev_dir(void)
{
	const char *dir = e2e_strf("%s/plugdir", e2e_tmpdir());

	cr_assert(mkdir(dir, 0755) == 0, "mkdir %s", dir);
	cr_assert(symlink(TESTDEV_SO, e2e_strf("%s/renamed-testdev.so", dir)) == 0, "symlink");
	return dir;
}

Test(plugins, plugin_path_option_is_searched)
{
	const char *dir = renamed_testdev_dir();
	const char *ini = plugin_config("renamed.ini", "renamed-testdev", "");
	struct e2e_result r;

	/* The guest halts, so 125 proves the device was found and the guest ran. */
	e2e_vmm_run(&r, e2e_strf("--plugin-path=/nonexistent:%s", dir), ini, NULL);
	assert_exit(&r, 125);
}

Test(plugins, plugin_path_environment_is_searched)
{
	const char *dir = renamed_testdev_dir();
	const char *ini = plugin_config("renamed.ini", "renamed-testdev", "");
	const char *argv[] = {E2E_VMM_RUN, ini, NULL};
	struct e2e_spawn spec = {.argv = argv, .plugin_path_env = dir};
	struct e2e_result r;

	e2e_spawn(&spec, &r);
	assert_exit(&r, 125);
}

Test(plugins, plugin_outside_the_search_path_is_not_found)
{
	const char *ini = plugin_config("renamed.ini", "renamed-testdev", "");
	struct e2e_result r;

	renamed_testdev_dir();
	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, "renamed-testdev", &r);
}

/*
 * A broken plugin is a setup error that names it, never a crash of vmm-run.
 * Plugins refused at load time are named by their file; a model whose
 * create() fails is named by its model name (the fixture's file stem), as
 * vmm_device_add_plugin() promises file names only for load errors.
 */
static void check_bad_plugin(const char *file, bool by_path)
{
	const char *path = e2e_strf("%s/%s", FIXTURE_PLUGINS, file);
	const char *stem = e2e_strf("%.*s", (int)(strlen(file) - 3), file);
	struct e2e_result r;

	e2e_require_file(path);
	e2e_vmm_run(&r, plugin_config("bad.ini", path, ""), NULL);
	cr_assert(r.exited, "vmm-run crashed: %s", e2e_describe(&r));
	assert_exit(&r, 2);
	assert_contains(r.err, by_path ? path : stem, &r);
}

Test(plugins, plugin_without_entry_symbol_is_refused)
{
	check_bad_plugin("no-entry.so", true);
}

Test(plugins, plugin_whose_entry_returns_null_is_refused)
{
	check_bad_plugin("null-desc.so", true);
}

Test(plugins, plugin_of_another_major_abi_version_is_refused_naming_both)
{
	const char *path = FIXTURE_PLUGINS "/bad-abi.so";
	struct e2e_result r;

	check_bad_plugin("bad-abi.so", true);
	e2e_vmm_run(&r, plugin_config("bad.ini", path, ""), NULL);
	assert_contains(
	    r.err, "plugin ABI major version 2 (2.0), but this host speaks major version 1", &r);
}

/* Accepted plugins: the guest halts, so 125 proves the device was added and the guest ran. */
static void check_good_fixture(const char *file)
{
	const char *path = e2e_strf("%s/%s", FIXTURE_PLUGINS, file);
	struct e2e_result r;

	e2e_require_file(path);
	e2e_vmm_run(&r, plugin_config("good.ini", path, ""), NULL);
	assert_exit(&r, 125);
}

Test(plugins, plugin_of_this_major_with_a_larger_descriptor_is_accepted)
{
	check_good_fixture("larger-desc.so");
}

Test(plugins, plugin_of_a_future_minor_abi_version_is_accepted)
{
	check_good_fixture("future-minor.so");
}

Test(plugins, plugin_with_too_small_descriptor_is_refused)
{
	check_bad_plugin("small-desc.so", true);
}

Test(plugins, plugin_without_callbacks_is_refused)
{
	check_bad_plugin("no-callbacks.so", true);
}

Test(plugins, plugin_whose_create_fails_is_refused)
{
	check_bad_plugin("create-fails.so", false);
}

/* param-check.so takes one key, mode = fast|slow. */
static void check_param_refused(const char *key_line, const char *needle)
{
	const char *path = FIXTURE_PLUGINS "/param-check.so";
	const char *ini;
	struct e2e_result r;

	e2e_require_file(path);
	ini = plugin_config("params.ini", path, e2e_strf("%s\n", key_line));
	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 2);
	assert_contains(r.err, e2e_strf("%s:%u:", ini, e2e_line_of(ini, key_line)), &r);
	assert_contains(r.err, needle, &r);
}

Test(plugins, bad_device_parameter_exits_2_with_its_file_and_line)
{
	check_param_refused("mode = medium", "medium");
}

Test(plugins, unknown_device_key_exits_2_with_its_file_and_line)
{
	check_param_refused("colour = blue", "colour");
}

Test(plugins, good_device_parameter_is_accepted)
{
	const char *path = FIXTURE_PLUGINS "/param-check.so";
	struct e2e_result r;

	e2e_require_file(path);
	e2e_vmm_run(&r, plugin_config("params.ini", path, "mode = fast\n"), NULL);
	assert_exit(&r, 125);
}

/* ---- how a guest ends, on both backends ---- */

static void check_spin_times_out(const char *accel)
{
	const char *fw = e2e_write_elf("spin.elf", spin_code, sizeof(spin_code));
	const char *ini = e2e_guest_config("spin.ini", fw, accel, "60s", "");
	struct e2e_result r;

	/* --timeout must win over the config's 60 s. */
	e2e_vmm_run(&r, "--timeout=1", ini, NULL);
	assert_exit(&r, 124);
	assert_contains(r.err, "vmm-run: timeout after 1 s", &r);
	cr_assert(r.seconds < 10, "took %.1f s to time out", r.seconds);
}

Test(guest, spinning_guest_times_out_with_124_on_emu)
{
	check_spin_times_out("emu");
}

Test(guest, spinning_guest_times_out_with_124_on_kvm)
{
	e2e_require_kvm();
	check_spin_times_out("kvm");
}

static void check_config_timeout(const char *accel)
{
	const char *fw = e2e_write_elf("spin.elf", spin_code, sizeof(spin_code));
	const char *ini = e2e_guest_config("spin.ini", fw, accel, "500ms", "");
	struct e2e_result r;

	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 124);
	assert_contains(r.err, "vmm-run: timeout after 0.500 s", &r);
	cr_assert(r.seconds < 10, "took %.1f s to time out", r.seconds);
}

Test(guest, config_timeout_applies_without_the_option_on_emu)
{
	check_config_timeout("emu");
}

Test(guest, config_timeout_applies_without_the_option_on_kvm)
{
	e2e_require_kvm();
	check_config_timeout("kvm");
}

static void check_signal_stops(const char *accel, int sig, int status)
{
	const char *fw = e2e_write_elf("spin.elf", spin_code, sizeof(spin_code));
	const char *ini = e2e_guest_config("spin.ini", fw, accel, "60s", "");
	const char *argv[] = {E2E_VMM_RUN, ini, NULL};
	struct e2e_spawn spec = {.argv = argv, .signal = sig, .signal_after_ms = 1000};
	struct e2e_result r;

	e2e_spawn(&spec, &r);
	assert_exit(&r, status);
	assert_contains(r.err, "vmm-run: stopped by ", &r);
	cr_assert(r.seconds < 10, "took %.1f s to stop", r.seconds);
}

Test(guest, sigint_stops_the_guest_with_130_on_emu)
{
	check_signal_stops("emu", SIGINT, 130);
}

Test(guest, sigint_stops_the_guest_with_130_on_kvm)
{
	e2e_require_kvm();
	check_signal_stops("kvm", SIGINT, 130);
}

Test(guest, sigterm_stops_the_guest_with_143_on_emu)
{
	check_signal_stops("emu", SIGTERM, 143);
}

Test(guest, sigterm_stops_the_guest_with_143_on_kvm)
{
	e2e_require_kvm();
	check_signal_stops("kvm", SIGTERM, 143);
}

static void check_halt(const char *accel)
{
	const char *fw = e2e_write_elf("hlt.elf", hlt_code, sizeof(hlt_code));
	const char *ini = e2e_guest_config("hlt.ini", fw, accel, "20s", "");
	struct e2e_result r;

	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 125);
	assert_contains(r.err, "vmm-run: guest halted without an exit code", &r);
}

Test(guest, halting_guest_exits_125_on_emu)
{
	check_halt("emu");
}

Test(guest, halting_guest_exits_125_on_kvm)
{
	e2e_require_kvm();
	check_halt("kvm");
}

static void check_fault(const char *accel)
{
	const char *fw = e2e_write_elf("ud2.elf", ud2_code, sizeof(ud2_code));
	const char *ini = e2e_guest_config("ud2.ini", fw, accel, "20s", "");
	struct e2e_result r;

	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 126);
	assert_contains(r.err, "vmm-run: guest fault on vcpu 0: ", &r);
	cr_assert(e2e_has_line(r.err, "  rip "), "no register dump: %s", e2e_describe(&r));
	assert_contains(r.err, "cr3 ", &r);
}

Test(guest, faulting_guest_exits_126_with_a_register_dump_on_emu)
{
	check_fault("emu");
}

Test(guest, faulting_guest_exits_126_with_a_register_dump_on_kvm)
{
	e2e_require_kvm();
	check_fault("kvm");
}

/*
 * lcall and ljmp through a register (FF /3, FF /5 with mod = 3) are invalid:
 * #UD, and with no IDT a guest fault. Unicorn 2.0.1 does not check the
 * operand and aborts the whole process in its code generator ("tcg fatal
 * error"); its fix (upstream commit a7a5d187) came after 2.0.1. Where the
 * installed Unicorn still aborts, the emu twin says so as its skip reason.
 */
static void check_lcall_register(const char *accel)
{
	static const uint8_t lcall_rax[] = {0xff, 0xd8};
	const char *fw = e2e_write_elf("lcall.elf", lcall_rax, sizeof(lcall_rax));
	const char *ini = e2e_guest_config("lcall.ini", fw, accel, "20s", "");
	struct e2e_result r;

	e2e_vmm_run(&r, ini, NULL);
	if (!strcmp(accel, "emu") && !r.exited && r.signal == SIGABRT &&
	    strstr(r.err, "tcg fatal error"))
		cr_skip_test(
		    "emu: this Unicorn aborts the process on lcall through a register "
		    "(fixed upstream after 2.0.1); a hostile guest can end vmm-run on emu");
	assert_exit(&r, 126);
	assert_contains(r.err, "vmm-run: guest fault on vcpu 0: ", &r);
}

Test(guest, lcall_through_a_register_is_a_guest_fault_on_emu)
{
	check_lcall_register("emu");
}

Test(guest, lcall_through_a_register_is_a_guest_fault_on_kvm)
{
	e2e_require_kvm();
	check_lcall_register("kvm");
}

static void check_exit_code(const char *accel)
{
	const char *fw = e2e_write_elf("exit.elf", exit_code_code, sizeof(exit_code_code));
	const char *ini = e2e_guest_config("exit.ini", fw, accel, "20s", "\n" TESTDEV_SECTION);
	struct e2e_result r;

	/* The guest stops with 0x10b: exit statuses are 8 bits, so vmm-run exits 0x0b. */
	e2e_vmm_run(&r, ini, NULL);
	assert_exit(&r, 0x0b);
}

Test(guest, guest_exit_code_becomes_the_status_modulo_256_on_emu)
{
	check_exit_code("emu");
}

Test(guest, guest_exit_code_becomes_the_status_modulo_256_on_kvm)
{
	e2e_require_kvm();
	check_exit_code("kvm");
}
