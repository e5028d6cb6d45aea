/* SPDX-License-Identifier: MIT */
/* test_config.c - the specification of vmm.ini(5) as vmm_config_load() and
 * vmm_config_parse_string() read it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/vmm.h"

#define FIXTURES      SRC_DIR "/tests/fixtures/config"
#define FIXTURE(name) FIXTURES "/" name ".ini"

/* The smallest valid memory, three lines long, for texts that test something else. */
#define RAM "[ram \"low\"]\ngpa = 0\nsize = 4K\n"

/* A sentinel that no successful or failed call should leave in *out. */
static struct vmm_config sentinel;

static struct vmm_config *load_ok(const char *path)
{
	struct vmm_config *cfg = &sentinel;
	int ret = vmm_config_load(path, &cfg);

	cr_assert_eq(ret, 0, "vmm_config_load(%s) = %d: %s", path, ret, vmm_last_error());
	cr_assert_not_null(cfg);
	cr_assert_neq(cfg, &sentinel);
	return cfg;
}

static struct vmm_config *parse_ok(const char *text)
{
	struct vmm_config *cfg = &sentinel;
	int ret = vmm_config_parse_string(text, "t.ini", &cfg);

	cr_assert_eq(ret, 0, "parse = %d: %s\n--- text:\n%s", ret, vmm_last_error(), text);
	cr_assert_not_null(cfg);
	cr_assert_neq(cfg, &sentinel);
	return cfg;
}

/* Loading path fails with err, nothing in *out, and the detail "PATH:where". */
static void expect_load_error(const char *path, int err, const char *where)
{
	struct vmm_config *cfg = &sentinel;
	char want[1024];
	int ret = vmm_config_load(path, &cfg);

	snprintf(want, sizeof(want), "%s:%s", path, where);
	cr_assert_eq(ret, err, "ret %d, want %d (%s)", ret, err, vmm_last_error());
	cr_assert_null(cfg);
	cr_assert_str_eq(vmm_last_error(), want);
}

/* Parsing text named "t.ini" fails with -EINVAL, nothing in *out, and the detail "t.ini:where". */
static void expect_parse_error(const char *text, const char *where)
{
	struct vmm_config *cfg = &sentinel;
	char want[1024];
	int ret = vmm_config_parse_string(text, "t.ini", &cfg);

	snprintf(want, sizeof(want), "t.ini:%s", where);
	cr_assert_eq(ret, -EINVAL, "ret %d (%s)\n--- text:\n%s", ret, vmm_last_error(), text);
	cr_assert_null(cfg);
	cr_assert_str_eq(vmm_last_error(), want);
}

/* ---- the reference file, tests/fixtures/config/good.ini ---- */

Test(config_good, keeps_the_path_as_given)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_str_eq(cfg->path, FIXTURE("good"));
	vmm_config_free(cfg);
}

Test(config_good, reads_accel)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->accel, VMM_ACCEL_EMU);
	vmm_config_free(cfg);
}

Test(config_good, reads_vcpus)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->vcpus, 4);
	vmm_config_free(cfg);
}

Test(config_good, reads_timeout_in_ms_unit)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->timeout_ms, 1500);
	vmm_config_free(cfg);
}

Test(config_good, unhandled_stop_is_the_stop_policy)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->unclaimed, VMM_UNCLAIMED_STOP);
	vmm_config_free(cfg);
}

Test(config_good, firmware_is_resolved_against_the_files_folder)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_str_eq(cfg->firmware, FIXTURES "/fw/dummy.elf");
	cr_assert_eq(cfg->firmware_line, 4);
	vmm_config_free(cfg);
}

Test(config_good, ram_sections_come_in_file_order_with_header_lines)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->nram, 2);
	cr_assert_str_eq(cfg->ram[0].name, "low");
	cr_assert_eq(cfg->ram[0].line, 9);
	cr_assert_str_eq(cfg->ram[1].name, "high");
	cr_assert_eq(cfg->ram[1].line, 13);
	vmm_config_free(cfg);
}

Test(config_good, size_suffix_M_is_mebibytes)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->ram[0].gpa, 0);
	cr_assert_eq(cfg->ram[0].size, 64ull << 20);
	vmm_config_free(cfg);
}

Test(config_good, hex_numbers_and_indented_keys_are_read)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->ram[1].gpa, 0x100000000ull);
	cr_assert_eq(cfg->ram[1].size, 0x200000);
	vmm_config_free(cfg);
}

Test(config_good, devices_come_in_file_order_with_header_lines)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->ndevices, 2);
	cr_assert_str_eq(cfg->devices[0].name, "uart0");
	cr_assert_eq(cfg->devices[0].line, 17);
	cr_assert_str_eq(cfg->devices[1].name, "test0");
	cr_assert_eq(cfg->devices[1].line, 24);
	vmm_config_free(cfg);
}

Test(config_good, pio_device_gets_a_port_window)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));
	const struct vmm_config_device *d = &cfg->devices[0];

	cr_assert_str_eq(d->plugin, "uart16550");
	cr_assert_eq(d->space, VMM_SPACE_PIO);
	cr_assert_eq(d->base, 0x3f8);
	cr_assert_eq(d->length, 8);
	vmm_config_free(cfg);
}

Test(config_good, mmio_device_gets_a_gpa_window)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));
	const struct vmm_config_device *d = &cfg->devices[1];

	cr_assert_str_eq(d->plugin, "testdev");
	cr_assert_eq(d->space, VMM_SPACE_MMIO);
	cr_assert_eq(d->base, 0xfebf0000);
	cr_assert_eq(d->length, 0x1000);
	vmm_config_free(cfg);
}

Test(config_good, unknown_device_keys_become_params_with_file_and_line)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));
	const struct vmm_config_device *d = &cfg->devices[0];

	cr_assert_eq(d->nparams, 2);
	cr_assert_str_eq(d->params[0].key, "output");
	cr_assert_str_eq(d->params[0].value, "stdout");
	cr_assert_eq(d->params[0].line, 21);
	cr_assert_str_eq(d->params[0].file, FIXTURE("good"));
	cr_assert_str_eq(d->params[1].key, "reg-shift");
	cr_assert_str_eq(d->params[1].value, "0");
	cr_assert_eq(d->params[1].line, 22);
	vmm_config_free(cfg);
}

Test(config_good, core_device_keys_are_not_params)
{
	struct vmm_config *cfg = load_ok(FIXTURE("good"));

	cr_assert_eq(cfg->devices[1].nparams, 0);
	vmm_config_free(cfg);
}

/* ---- paths ---- */

Test(config_paths, file_in_the_current_folder_keeps_firmware_relative)
{
	struct vmm_config *cfg;

	cr_assert_eq(chdir(FIXTURES), 0);
	cfg = load_ok("good.ini");
	cr_assert_str_eq(cfg->firmware, "fw/dummy.elf");
	vmm_config_free(cfg);
}

Test(config_paths, absolute_firmware_path_is_kept)
{
	struct vmm_config *cfg = parse_ok("[vm]\nfirmware = " FIXTURES "/fw/dummy.elf\n" RAM);

	cr_assert_str_eq(cfg->firmware, FIXTURES "/fw/dummy.elf");
	vmm_config_free(cfg);
}

Test(config_paths, string_firmware_is_relative_to_the_current_folder)
{
	struct vmm_config *cfg;

	cr_assert_eq(chdir(FIXTURES "/fw"), 0);
	cfg = parse_ok("[vm]\nfirmware = dummy.elf\n" RAM);
	cr_assert_str_eq(cfg->firmware, "dummy.elf");
	vmm_config_free(cfg);
}

Test(config_paths, missing_config_file_fails_with_the_open_errno)
{
	struct vmm_config *cfg = &sentinel;

	cr_assert_eq(vmm_config_load(FIXTURE("does-not-exist"), &cfg), -ENOENT);
	cr_assert_null(cfg);
	cr_assert_str_eq(vmm_last_error(), FIXTURE("does-not-exist") ": No such file or directory");
}

Test(config_paths, folder_as_config_fails_with_the_read_errno)
{
	expect_load_error(FIXTURES, -EISDIR, "1: cannot read: Is a directory");
}

Test(config_paths, nul_byte_in_a_file_is_an_error)
{
	char path[] = "/tmp/vmm-config-XXXXXX";
	static const char text[] = "[vm]\nvcpus = 1\0\n" RAM;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	expect_load_error(path, -EINVAL, "2: NUL byte in the line");
	unlink(path);
}

/* ---- one fixture per error class: the first error, at its line ---- */

Test(config_errors, line_without_equals_is_a_syntax_error)
{
	expect_load_error(FIXTURE("syntax"), -EINVAL, "3: syntax error: expected 'key = value'");
}

Test(config_errors, header_without_bracket_is_a_syntax_error)
{
	expect_load_error(FIXTURE("unclosed-header"), -EINVAL,
			  "2: section header lacks its ']': expected [KIND] or [KIND \"NAME\"]");
}

Test(config_errors, unknown_section)
{
	expect_load_error(FIXTURE("unknown-section"), -EINVAL,
			  "6: unknown section kind 'disk': expected vm, ram, rom or device");
}

Test(config_errors, unknown_key_in_vm)
{
	expect_load_error(FIXTURE("unknown-key"), -EINVAL, "4: unknown key 'vcpu' in vm");
}

Test(config_errors, duplicate_key_names_both_lines)
{
	expect_load_error(FIXTURE("duplicate-key"), -EINVAL,
			  "5: duplicate key 'size' (first at line 4)");
}

Test(config_errors, duplicate_ram_name_names_both_lines)
{
	expect_load_error(FIXTURE("dup-section"), -EINVAL,
			  "6: duplicate section ram 'low' (first at line 2)");
}

Test(config_errors, second_vm_section)
{
	expect_load_error(FIXTURE("dup-vm"), -EINVAL, "9: duplicate section vm (first at line 2)");
}

Test(config_errors, name_with_a_space)
{
	expect_load_error(
	    FIXTURE("bad-name"), -EINVAL,
	    "2: bad name 'low memory': expected 1 to 31 characters of A-Z a-z 0-9 _ . -");
}

Test(config_errors, bad_number)
{
	expect_load_error(
	    FIXTURE("bad-number"), -EINVAL,
	    "4: size = '64MB' is not a number: expected decimal or 0x hex digits with an "
	    "optional K, M or G suffix");
}

Test(config_errors, bad_accel)
{
	expect_load_error(FIXTURE("bad-accel"), -EINVAL,
			  "3: accel = 'hvf' is not an accelerator: expected auto, kvm or emu");
}

Test(config_errors, vcpus_out_of_range)
{
	expect_load_error(FIXTURE("bad-vcpus"), -EINVAL,
			  "3: vcpus = '65' is out of range: expected 1 to 64");
}

Test(config_errors, missing_required_key_is_reported_at_the_header)
{
	expect_load_error(FIXTURE("missing-required"), -EINVAL,
			  "2: ram 'low' lacks the required key 'size'");
}

Test(config_errors, device_without_window)
{
	expect_load_error(FIXTURE("missing-window"), -EINVAL,
			  "6: device 'test0' lacks a window: give mmio = GPA or pio = PORT");
}

Test(config_errors, device_with_mmio_and_pio)
{
	expect_load_error(FIXTURE("mmio-and-pio"), -EINVAL,
			  "9: device 'uart0' has both mmio and pio (line 8): give one");
}

Test(config_errors, misaligned_ram_gpa)
{
	expect_load_error(FIXTURE("misaligned"), -EINVAL,
			  "3: ram 'low': gpa 0x800 is not a multiple of 4K (0x1000)");
}

Test(config_errors, no_ram_is_reported_at_the_last_line)
{
	expect_load_error(FIXTURE("no-ram"), -EINVAL, "8: no ram section: the guest needs memory");
}

Test(config_errors, missing_firmware_names_the_resolved_path)
{
	expect_load_error(FIXTURE("missing-firmware"), -EINVAL,
			  "3: firmware '" FIXTURES "/fw/missing.elf': No such file or directory");
}

Test(config_errors, key_before_any_section)
{
	expect_load_error(
	    FIXTURE("key-outside"), -EINVAL,
	    "2: key 'vcpus' outside any section: start with a section header, such as "
	    "[vm]");
}

/* ---- numbers ---- */

Test(config_numbers, suffix_G_is_gibibytes)
{
	struct vmm_config *cfg = parse_ok("[ram \"a\"]\ngpa = 1G\nsize = 2G\n");

	cr_assert_eq(cfg->ram[0].gpa, 1ull << 30);
	cr_assert_eq(cfg->ram[0].size, 2ull << 30);
	vmm_config_free(cfg);
}

Test(config_numbers, suffix_may_be_lower_case)
{
	struct vmm_config *cfg = parse_ok("[ram \"a\"]\ngpa = 0\nsize = 8k\n");

	cr_assert_eq(cfg->ram[0].size, 8192);
	vmm_config_free(cfg);
}

Test(config_numbers, hex_with_suffix_is_scaled)
{
	struct vmm_config *cfg = parse_ok("[ram \"a\"]\ngpa = 0\nsize = 0x10M\n");

	cr_assert_eq(cfg->ram[0].size, 16ull << 20);
	vmm_config_free(cfg);
}

Test(config_numbers, upper_case_hex_is_read)
{
	struct vmm_config *cfg = parse_ok("[ram \"a\"]\ngpa = 0XABC000\nsize = 4K\n");

	cr_assert_eq(cfg->ram[0].gpa, 0xabc000);
	vmm_config_free(cfg);
}

Test(config_numbers, leading_zero_is_decimal_not_octal)
{
	struct vmm_config *cfg = parse_ok("[vm]\ntimeout = 010\n" RAM);

	cr_assert_eq(cfg->timeout_ms, 10000);
	vmm_config_free(cfg);
}

Test(config_numbers, all_ones_with_a_suffix_overflows)
{
	expect_parse_error("[ram \"a\"]\ngpa = 0\nsize = 0xffffffffffffffffK\n",
			   "3: size = '0xffffffffffffffffK' is too large");
}

Test(config_numbers, two_to_the_64_overflows)
{
	expect_parse_error("[ram \"a\"]\ngpa = 18446744073709551616\nsize = 4K\n",
			   "2: gpa = '18446744073709551616' is too large");
}

Test(config_numbers, all_ones_fits_but_is_not_page_aligned)
{
	expect_parse_error("[ram \"a\"]\ngpa = 0xffffffffffffffff\nsize = 4K\n",
			   "2: ram 'a': gpa 0xffffffffffffffff is not a multiple of 4K (0x1000)");
}

Test(config_numbers, negative_number_is_not_a_number)
{
	expect_parse_error(
	    "[ram \"a\"]\ngpa = -4096\nsize = 4K\n",
	    "2: gpa = '-4096' is not a number: expected decimal or 0x hex digits with an "
	    "optional K, M or G suffix");
}

Test(config_numbers, plus_sign_is_not_a_number)
{
	expect_parse_error(
	    "[ram \"a\"]\ngpa = +0\nsize = 4K\n",
	    "2: gpa = '+0' is not a number: expected decimal or 0x hex digits with an "
	    "optional K, M or G suffix");
}

Test(config_numbers, bare_0x_is_not_a_number)
{
	expect_parse_error(
	    "[ram \"a\"]\ngpa = 0x\nsize = 4K\n",
	    "2: gpa = '0x' is not a number: expected decimal or 0x hex digits with an "
	    "optional K, M or G suffix");
}

Test(config_numbers, double_0x_prefix_is_not_a_number)
{
	expect_parse_error(
	    "[ram \"a\"]\ngpa = 0x0x1000\nsize = 4K\n",
	    "2: gpa = '0x0x1000' is not a number: expected decimal or 0x hex digits with "
	    "an optional K, M or G suffix");
}

Test(config_numbers, space_before_the_suffix_is_not_a_number)
{
	expect_parse_error(
	    "[ram \"a\"]\ngpa = 0\nsize = 4 K\n",
	    "3: size = '4 K' is not a number: expected decimal or 0x hex digits with an "
	    "optional K, M or G suffix");
}

Test(config_numbers, timeout_without_unit_is_seconds)
{
	struct vmm_config *cfg = parse_ok("[vm]\ntimeout = 7\n" RAM);

	cr_assert_eq(cfg->timeout_ms, 7000);
	vmm_config_free(cfg);
}

Test(config_numbers, timeout_s_is_seconds)
{
	struct vmm_config *cfg = parse_ok("[vm]\ntimeout = 10s\n" RAM);

	cr_assert_eq(cfg->timeout_ms, 10000);
	vmm_config_free(cfg);
}

Test(config_numbers, timeout_m_is_minutes)
{
	struct vmm_config *cfg = parse_ok("[vm]\ntimeout = 2m\n" RAM);

	cr_assert_eq(cfg->timeout_ms, 120000);
	vmm_config_free(cfg);
}

Test(config_numbers, timeout_zero_means_none)
{
	struct vmm_config *cfg = parse_ok("[vm]\ntimeout = 0\n" RAM);

	cr_assert_eq(cfg->timeout_ms, 0);
	vmm_config_free(cfg);
}

Test(config_numbers, timeout_largest_whole_seconds_fit)
{
	struct vmm_config *cfg = parse_ok("[vm]\ntimeout = 18446744073709551s\n" RAM);

	cr_assert_eq(cfg->timeout_ms, 18446744073709551000ull);
	vmm_config_free(cfg);
}

Test(config_numbers, timeout_seconds_that_overflow_ms)
{
	expect_parse_error("[vm]\ntimeout = 18446744073709552s\n" RAM,
			   "2: timeout = '18446744073709552s' is too large");
}

Test(config_numbers, timeout_with_unknown_unit)
{
	expect_parse_error(
	    "[vm]\ntimeout = 5h\n" RAM,
	    "2: timeout = '5h' is not a number: expected digits with an optional unit ms, "
	    "s or m (0 = none)");
}

Test(config_numbers, vcpus_64_is_the_maximum)
{
	struct vmm_config *cfg = parse_ok("[vm]\nvcpus = 64\n" RAM);

	cr_assert_eq(cfg->vcpus, 64);
	vmm_config_free(cfg);
}

Test(config_numbers, vcpus_0_is_out_of_range)
{
	expect_parse_error("[vm]\nvcpus = 0\n" RAM,
			   "2: vcpus = '0' is out of range: expected 1 to 64");
}

Test(config_numbers, vcpus_takes_no_suffix)
{
	expect_parse_error("[vm]\nvcpus = 1K\n" RAM,
			   "2: vcpus = '1K' is not a number: expected a count from 1 to 64");
}

/* ---- the format, from strings ---- */

Test(config_format, defaults_without_vm_section)
{
	struct vmm_config *cfg = parse_ok(RAM);

	cr_assert_eq(cfg->accel, VMM_ACCEL_AUTO);
	cr_assert_eq(cfg->vcpus, 1);
	cr_assert_eq(cfg->timeout_ms, 0);
	cr_assert_eq(cfg->unclaimed, VMM_UNCLAIMED_IGNORE);
	cr_assert_null(cfg->firmware);
	cr_assert_eq(cfg->firmware_line, 0);
	cr_assert_eq(cfg->ndevices, 0);
	vmm_config_free(cfg);
}

Test(config_format, path_is_the_name_given)
{
	struct vmm_config *cfg = parse_ok(RAM);

	cr_assert_str_eq(cfg->path, "t.ini");
	vmm_config_free(cfg);
}

Test(config_format, messages_without_a_name_say_string)
{
	struct vmm_config *cfg;

	cr_assert_eq(vmm_config_parse_string("[vm]\n", NULL, &cfg), -EINVAL);
	cr_assert_str_eq(vmm_last_error(), "<string>:1: no ram section: the guest needs memory");
}

Test(config_format, unhandled_ignore_is_the_ignore_policy)
{
	struct vmm_config *cfg = parse_ok("[vm]\nunhandled = ignore\n" RAM);

	cr_assert_eq(cfg->unclaimed, VMM_UNCLAIMED_IGNORE);
	vmm_config_free(cfg);
}

Test(config_format, unknown_unhandled_policy)
{
	expect_parse_error("[vm]\nunhandled = panic\n" RAM,
			   "2: unhandled = 'panic' is not a policy: expected ignore or stop");
}

Test(config_format, accel_values_are_case_sensitive)
{
	expect_parse_error("[vm]\naccel = KVM\n" RAM,
			   "2: accel = 'KVM' is not an accelerator: expected auto, kvm or emu");
}

Test(config_format, inline_comments_and_blanks_are_ignored)
{
	struct vmm_config *cfg = parse_ok("; top\n\n# hash comment\n[ram \"a\"]   ; the RAM\n"
					  "gpa = 0 ; start\nsize = 8K ; two pages\n");

	cr_assert_eq(cfg->ram[0].size, 8192);
	cr_assert_eq(cfg->ram[0].line, 4);
	vmm_config_free(cfg);
}

Test(config_format, indented_line_is_a_key_not_a_continuation)
{
	struct vmm_config *cfg = parse_ok("[ram \"a\"]\n    gpa = 0\n    size = 4K\n");

	cr_assert_eq(cfg->ram[0].size, 4096);
	vmm_config_free(cfg);
}

Test(config_format, empty_section_is_seen)
{
	expect_parse_error(RAM "[device \"d\"]\n[vm]\n",
			   "4: device 'd' lacks the required key 'plugin'");
}

Test(config_format, empty_section_at_the_end_is_seen)
{
	expect_parse_error(RAM "; the device\n[device \"d\"]   ; nothing yet\n",
			   "5: device 'd' lacks the required key 'plugin'");
}

Test(config_format, last_line_without_equals_is_a_syntax_error)
{
	expect_parse_error(RAM "[vm]\nvcpus 2", "5: syntax error: expected 'key = value'");
}

Test(config_format, header_with_a_comment_inside_lacks_its_bracket)
{
	expect_parse_error(RAM "[vm ; x\nvcpus = 2\n",
			   "4: section header lacks its ']': expected [KIND] or [KIND \"NAME\"]");
}

Test(config_format, broken_header_after_a_section_is_an_error_at_its_line)
{
	/* inih keeps the section before a header it refuses: that must not reopen it. */
	expect_parse_error(RAM "[vm]\nvcpus = 2\n[vm ; x]\n",
			   "6: bad section header: expected [KIND] or [KIND \"NAME\"]");
}

Test(config_format, lines_count_past_comments_and_blank_lines)
{
	expect_parse_error("; one\n\n  ; three\n" RAM "\n[vm]\n\tvcpus = 0\n",
			   "9: vcpus = '0' is out of range: expected 1 to 64");
}

Test(config_format, header_longer_than_inih_keeps_is_an_error)
{
	expect_parse_error("[ram"
			   "                                                  "
			   "\"a\"]\n",
			   "1: bad section header: longer than 49 characters between its brackets");
}

Test(config_format, crlf_line_ends_are_accepted)
{
	struct vmm_config *cfg =
	    parse_ok("[vm]\r\nvcpus = 2\r\n[ram \"a\"]\r\ngpa = 0\r\nsize = 4K\r\n");

	cr_assert_eq(cfg->vcpus, 2);
	cr_assert_eq(cfg->ram[0].size, 4096);
	vmm_config_free(cfg);
}

Test(config_format, utf8_byte_order_mark_is_skipped)
{
	struct vmm_config *cfg = parse_ok("\xef\xbb\xbf" RAM);

	cr_assert_eq(cfg->nram, 1);
	vmm_config_free(cfg);
}

Test(config_format, last_line_needs_no_newline)
{
	struct vmm_config *cfg = parse_ok("[ram \"a\"]\ngpa = 0\nsize = 4K");

	cr_assert_eq(cfg->ram[0].size, 4096);
	vmm_config_free(cfg);
}

Test(config_format, blanks_inside_the_header_are_allowed)
{
	struct vmm_config *cfg = parse_ok("[ ram  \"a\" ]\ngpa = 0\nsize = 4K\n");

	cr_assert_str_eq(cfg->ram[0].name, "a");
	vmm_config_free(cfg);
}

Test(config_format, text_after_the_header_is_an_error)
{
	expect_parse_error("[vm] vcpus = 2\n" RAM, "1: text after the section header's ']'");
}

Test(config_format, unquoted_name_is_an_error)
{
	expect_parse_error("[ram low]\n",
			   "1: bad section header: expected [KIND] or [KIND \"NAME\"]");
}

Test(config_format, unterminated_name_is_an_error)
{
	expect_parse_error("[ram \"low]\n", "1: section name lacks its closing '\"'");
}

Test(config_format, ram_without_name_is_an_error)
{
	expect_parse_error("[ram]\ngpa = 0\nsize = 4K\n",
			   "1: section ram needs a name, as in [ram \"low\"]");
}

Test(config_format, device_without_name_is_an_error)
{
	expect_parse_error(RAM "[device]\n",
			   "4: section device needs a name, as in [device \"uart0\"]");
}

Test(config_format, vm_with_name_is_an_error)
{
	expect_parse_error("[vm \"main\"]\n" RAM, "1: section vm takes no name");
}

Test(config_format, empty_name_is_an_error)
{
	expect_parse_error("[ram \"\"]\n",
			   "1: bad name '': expected 1 to 31 characters of A-Z a-z 0-9 _ . -");
}

Test(config_format, name_of_31_characters_is_accepted)
{
	struct vmm_config *cfg =
	    parse_ok("[ram \"abcdefghijklmnopqrstuvwxyz.-_01\"]\ngpa = 0\nsize = 4K\n");

	cr_assert_str_eq(cfg->ram[0].name, "abcdefghijklmnopqrstuvwxyz.-_01");
	vmm_config_free(cfg);
}

Test(config_format, name_of_32_characters_is_an_error)
{
	expect_parse_error(
	    "[ram \"abcdefghijklmnopqrstuvwxyz.-_012\"]\n",
	    "1: bad name 'abcdefghijklmnopqrstuvwxyz.-_012': expected 1 to 31 characters "
	    "of A-Z a-z 0-9 _ . -");
}

Test(config_format, ram_and_device_may_share_a_name)
{
	struct vmm_config *cfg =
	    parse_ok(RAM "[device \"low\"]\nplugin = testdev\nmmio = 0x10000\nsize = 4K\n");

	cr_assert_str_eq(cfg->devices[0].name, "low");
	vmm_config_free(cfg);
}

Test(config_format, duplicate_device_name)
{
	expect_parse_error(RAM "[device \"d\"]\nplugin = x\npio = 0x10\nsize = 1\n"
			       "[device \"d\"]\nplugin = x\npio = 0x20\nsize = 1\n",
			   "8: duplicate section device 'd' (first at line 4)");
}

Test(config_format, unknown_key_in_ram)
{
	expect_parse_error("[ram \"low\"]\nbase = 0\n", "2: unknown key 'base' in ram 'low'");
}

Test(config_format, key_name_with_a_space_is_an_error)
{
	expect_parse_error("[vm]\nfirm ware = x\n" RAM,
			   "2: bad key name 'firm ware': expected A-Z a-z 0-9 _ . -");
}

Test(config_format, empty_key_name_is_an_error)
{
	expect_parse_error("[vm]\n= 2\n" RAM, "2: bad key name '': expected A-Z a-z 0-9 _ . -");
}

Test(config_format, equals_inside_a_comment_does_not_count)
{
	expect_parse_error("[vm]\nvcpus ; = 2\n" RAM, "2: syntax error: expected 'key = value'");
}

Test(config_format, empty_firmware_is_an_error)
{
	expect_parse_error("[vm]\nfirmware =\n" RAM, "2: firmware is empty: expected a path");
}

Test(config_format, empty_plugin_is_an_error)
{
	expect_parse_error(RAM "[device \"d\"]\nplugin =\n",
			   "5: plugin is empty: expected a plugin name or path");
}

Test(config_format, device_without_plugin)
{
	expect_parse_error(RAM "[device \"d\"]\nmmio = 0x10000\nsize = 4K\n",
			   "4: device 'd' lacks the required key 'plugin'");
}

Test(config_format, device_without_size)
{
	expect_parse_error(RAM "[device \"d\"]\nplugin = x\nmmio = 0x10000\n",
			   "4: device 'd' lacks the required key 'size'");
}

Test(config_format, ram_without_gpa)
{
	expect_parse_error("[ram \"a\"]\nsize = 4K\n", "1: ram 'a' lacks the required key 'gpa'");
}

Test(config_format, empty_param_value_reaches_the_plugin)
{
	struct vmm_config *cfg =
	    parse_ok(RAM "[device \"d\"]\nplugin = x\npio = 0x10\nsize = 1\nmode =\n");

	cr_assert_eq(cfg->devices[0].nparams, 1);
	cr_assert_str_eq(cfg->devices[0].params[0].value, "");
	vmm_config_free(cfg);
}

Test(config_format, duplicate_param_key)
{
	expect_parse_error(
	    RAM "[device \"d\"]\nplugin = x\noutput = a\npio = 0x10\nsize = 1\noutput = b\n",
	    "9: duplicate key 'output' (first at line 6)");
}

Test(config_format, zero_ram_size)
{
	expect_parse_error("[ram \"a\"]\ngpa = 0\nsize = 0\n", "3: ram 'a': size is 0");
}

Test(config_format, misaligned_ram_size)
{
	expect_parse_error("[ram \"a\"]\ngpa = 0\nsize = 0x1800\n",
			   "3: ram 'a': size 0x1800 is not a multiple of 4K (0x1000)");
}

Test(config_format, ram_ending_at_the_limit_is_accepted)
{
	struct vmm_config *cfg = parse_ok("[ram \"a\"]\ngpa = 0x3fffffffe000\nsize = 8K\n");

	cr_assert_eq(cfg->ram[0].gpa + cfg->ram[0].size, 1ull << 46);
	vmm_config_free(cfg);
}

Test(config_format, adjacent_ram_ranges_do_not_overlap)
{
	struct vmm_config *cfg = parse_ok(RAM "[ram \"b\"]\ngpa = 4K\nsize = 4K\n");

	cr_assert_eq(cfg->nram, 2);
	vmm_config_free(cfg);
}

Test(config_format, zero_device_size)
{
	expect_parse_error(RAM "[device \"d\"]\nplugin = x\nmmio = 0x10000\nsize = 0\n",
			   "7: device 'd': size is 0");
}

Test(config_format, mmio_window_needs_no_page_alignment)
{
	struct vmm_config *cfg =
	    parse_ok(RAM "[device \"d\"]\nplugin = x\nmmio = 0x10010\nsize = 8\n");

	cr_assert_eq(cfg->devices[0].base, 0x10010);
	vmm_config_free(cfg);
}

Test(config_format, pio_window_ending_at_0x10000_is_accepted)
{
	struct vmm_config *cfg =
	    parse_ok(RAM "[device \"d\"]\nplugin = x\npio = 0xfff8\nsize = 8\n");

	cr_assert_eq(cfg->devices[0].base, 0xfff8);
	vmm_config_free(cfg);
}

Test(config_format, pio_and_ram_live_in_separate_spaces)
{
	struct vmm_config *cfg = parse_ok(RAM "[device \"d\"]\nplugin = x\npio = 0\nsize = 8\n");

	cr_assert_eq(cfg->devices[0].space, VMM_SPACE_PIO);
	vmm_config_free(cfg);
}

Test(config_format, first_error_wins)
{
	expect_parse_error("[vm]\nvcpus = 0\naccel = fast\n[bogus]\n",
			   "2: vcpus = '0' is out of range: expected 1 to 64");
}

Test(config_format, empty_text_has_no_ram)
{
	expect_parse_error("", "1: no ram section: the guest needs memory");
}

Test(config_format, over_long_line_is_an_error_not_two_lines)
{
	char text[512], want[64];
	struct vmm_config *cfg;

	snprintf(text, sizeof(text), "[vm]\nfirmware = %0300d\n" RAM, 0);
	cr_assert_eq(vmm_config_parse_string(text, "t.ini", &cfg), -EINVAL);
	snprintf(want, sizeof(want), "t.ini:2: line longer than ");
	cr_assert(!strncmp(vmm_last_error(), want, strlen(want)), "%s", vmm_last_error());
}

/* text with n [ram] sections of 3 lines each, the i-th at GPA i * 4K. */
static char *many_ram(unsigned n)
{
	size_t cap = 64 * n + 1, len = 0;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	text[0] = '\0';
	for (unsigned i = 0; i < n; i++)
		len += snprintf(text + len, cap - len, "[ram \"r%u\"]\ngpa = %u\nsize = 4K\n", i,
				i * 4096);
	return text;
}

Test(config_format, sixteen_ram_sections_are_accepted)
{
	char *text = many_ram(16);
	struct vmm_config *cfg = parse_ok(text);

	cr_assert_eq(cfg->nram, 16);
	cr_assert_str_eq(cfg->ram[15].name, "r15");
	vmm_config_free(cfg);
	free(text);
}

Test(config_format, seventeenth_ram_section_is_an_error)
{
	char *text = many_ram(17);

	expect_parse_error(text, "49: too many ram and rom sections: at most 16 in all");
	free(text);
}

/* RAM, then n [device] sections of 4 lines each on ports 0, 1, 2, ... */
static char *many_devices(unsigned n)
{
	size_t cap = sizeof(RAM) + 64 * n, len;
	char *text = malloc(cap);

	cr_assert_not_null(text);
	len = snprintf(text, cap, "%s", RAM);
	for (unsigned i = 0; i < n; i++)
		len += snprintf(text + len, cap - len,
				"[device \"d%u\"]\nplugin = x\npio = %u\nsize = 1\n", i, i);
	return text;
}

Test(config_format, forty_eight_devices_are_accepted)
{
	char *text = many_devices(48);
	struct vmm_config *cfg = parse_ok(text);

	cr_assert_eq(cfg->ndevices, 48);
	cr_assert_eq(cfg->devices[47].base, 47);
	vmm_config_free(cfg);
	free(text);
}

Test(config_format, forty_ninth_device_is_an_error)
{
	char *text = many_devices(49);

	expect_parse_error(text, "196: too many device sections: at most 48");
	free(text);
}

Test(config_format, free_accepts_null)
{
	vmm_config_free(NULL);
}

Test(config_format, null_out_is_an_error)
{
	cr_assert_eq(vmm_config_parse_string(RAM, "t.ini", NULL), -EINVAL);
	cr_assert_eq(vmm_config_load(FIXTURE("good"), NULL), -EINVAL);
}

/* ---- read-only RAM: readonly = BOOLEAN ---- */

#define BOOL_RULE "expected true, false, yes, no, on, off, 1 or 0"

Test(config_readonly, fixture_has_a_read_only_range_under_a_device)
{
	struct vmm_config *cfg = load_ok(FIXTURE("readonly"));

	cr_assert_eq(cfg->nram, 2);
	cr_assert_eq(cfg->ram[0].flags, 0, "RAM without the key is writable");
	cr_assert_eq(cfg->ram[1].flags, VMM_MEMSLOT_READONLY);
	cr_assert_null(cfg->ram[1].file);
	cr_assert_eq(cfg->ram[1].size, 64 << 10);
	cr_assert_eq(cfg->ndevices, 1);
	cr_assert_eq(cfg->devices[0].base, 0xff00f000);
	vmm_config_free(cfg);
}

Test(config_readonly, every_true_spelling_sets_the_flag)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	char text[128];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct vmm_config *cfg;

		snprintf(text, sizeof(text),
			 RAM "[ram \"ro\"]\ngpa = 4K\nsize = 4K\nreadonly = %s\n", yes[i]);
		cfg = parse_ok(text);
		cr_assert_eq(cfg->ram[0].flags, 0);
		cr_assert_eq(cfg->ram[1].flags, VMM_MEMSLOT_READONLY, "readonly = %s", yes[i]);
		vmm_config_free(cfg);
	}
}

Test(config_readonly, every_false_spelling_leaves_it_writable)
{
	static const char *const no[] = {"false", "no", "off", "0"};
	char text[128];

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct vmm_config *cfg;

		snprintf(text, sizeof(text), RAM "readonly = %s\n", no[i]);
		cfg = parse_ok(text);
		cr_assert_eq(cfg->ram[0].flags, 0, "readonly = %s", no[i]);
		vmm_config_free(cfg);
	}
}

Test(config_readonly, bad_value_names_the_spellings_at_its_line)
{
	expect_load_error(FIXTURE("bad-readonly"), -EINVAL,
			  "5: readonly = 'maybe' is not a boolean: " BOOL_RULE);
}

Test(config_readonly, values_are_case_sensitive)
{
	expect_parse_error(RAM "readonly = True\n",
			   "4: readonly = 'True' is not a boolean: " BOOL_RULE);
}

Test(config_readonly, empty_value_is_not_a_boolean)
{
	expect_parse_error(RAM "readonly =\n", "4: readonly = '' is not a boolean: " BOOL_RULE);
}

Test(config_readonly, duplicate_key)
{
	expect_parse_error(RAM "readonly = yes\nreadonly = no\n",
			   "5: duplicate key 'readonly' (first at line 4)");
}

Test(config_readonly, device_before_a_read_only_range_may_overlap_it)
{
	struct vmm_config *cfg = parse_ok(RAM "[device \"ctl\"]\nplugin = x\nmmio = 0x10000\n"
					      "size = 8\n"
					      "[ram \"flash\"]\ngpa = 0x10000\nsize = 4K\n"
					      "readonly = true\n");

	cr_assert_eq(cfg->nram, 2);
	cr_assert_eq(cfg->ram[1].flags, VMM_MEMSLOT_READONLY);
	vmm_config_free(cfg);
}

/* ---- [rom "NAME"]: read-only memory, optionally filled from a file ---- */

#define FLASH FIXTURES "/rom/flash.bin" /* 5000 bytes */

/* A temporary file of len bytes (each 0xa5); the caller unlinks path. */
static void temp_file(char *path, size_t len)
{
	static const char tmpl[] = "/tmp/vmm-rom-XXXXXX";
	uint8_t buf[4096];
	int fd;

	memcpy(path, tmpl, sizeof(tmpl));
	memset(buf, 0xa5, sizeof(buf));
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);

		cr_assert_eq(write(fd, buf, n), (ssize_t)n);
		done += n;
	}
	close(fd);
}

/* [rom "r"] at 1M with a file of len bytes and no size: the size the parser gives it. */
static uint64_t size_from_file_of(size_t len)
{
	char path[32], text[256];
	struct vmm_config *cfg;
	uint64_t size;

	temp_file(path, len);
	snprintf(text, sizeof(text), RAM "[rom \"r\"]\ngpa = 1M\nfile = %s\n", path);
	cfg = parse_ok(text);
	unlink(path);
	cr_assert_eq(cfg->nram, 2);
	size = cfg->ram[1].size;
	vmm_config_free(cfg);
	return size;
}

Test(config_rom, file_only_takes_the_files_size_rounded_up_to_4K)
{
	struct vmm_config *cfg = load_ok(FIXTURE("rom"));
	const struct vmm_config_ram *r = &cfg->ram[1];

	cr_assert_eq(cfg->nram, 4);
	cr_assert_str_eq(r->name, "flash");
	cr_assert_eq(r->line, 6);
	cr_assert_eq(r->gpa, 0xfff00000);
	cr_assert_eq(r->size, 0x2000, "5000 bytes round up to 8K, not 0x%llx",
		     (unsigned long long)r->size);
	cr_assert_eq(r->flags, VMM_MEMSLOT_READONLY);
	cr_assert_str_eq(r->file, FLASH, "resolved against the config's folder");
	vmm_config_free(cfg);
}

Test(config_rom, size_only_is_an_empty_rom)
{
	struct vmm_config *cfg = load_ok(FIXTURE("rom"));
	const struct vmm_config_ram *r = &cfg->ram[2];

	cr_assert_str_eq(r->name, "nvram");
	cr_assert_eq(r->size, 64 << 10);
	cr_assert_eq(r->flags, VMM_MEMSLOT_READONLY);
	cr_assert_null(r->file);
	vmm_config_free(cfg);
}

Test(config_rom, size_and_a_file_that_fits_keeps_the_size)
{
	struct vmm_config *cfg = load_ok(FIXTURE("rom"));
	const struct vmm_config_ram *r = &cfg->ram[3];

	cr_assert_str_eq(r->name, "boot");
	cr_assert_eq(r->size, 16 << 10);
	cr_assert_str_eq(r->file, FLASH);
	vmm_config_free(cfg);
}

Test(config_rom, roms_and_ram_share_one_list_in_file_order)
{
	struct vmm_config *cfg = load_ok(FIXTURE("rom"));

	cr_assert_str_eq(cfg->ram[0].name, "low");
	cr_assert_eq(cfg->ram[0].flags, 0, "a [ram] without readonly is writable");
	cr_assert_null(cfg->ram[0].file);
	cr_assert_str_eq(cfg->ram[1].name, "flash");
	cr_assert_str_eq(cfg->ram[2].name, "nvram");
	cr_assert_str_eq(cfg->ram[3].name, "boot");
	vmm_config_free(cfg);
}

Test(config_rom, device_window_over_a_rom_is_accepted)
{
	struct vmm_config *cfg = load_ok(FIXTURE("rom"));

	cr_assert_eq(cfg->ndevices, 1);
	cr_assert_eq(cfg->devices[0].base, 0xfff01000, "inside rom \"flash\"");
	vmm_config_free(cfg);
}

Test(config_rom, rom_after_a_device_may_lie_under_it)
{
	struct vmm_config *cfg = parse_ok(RAM "[device \"ctl\"]\nplugin = x\nmmio = 1M\nsize = 8\n"
					      "[rom \"r\"]\ngpa = 1M\nsize = 4K\n");

	cr_assert_eq(cfg->nram, 2);
	vmm_config_free(cfg);
}

Test(config_rom, exact_multiple_of_4K_is_not_rounded)
{
	cr_assert_eq(size_from_file_of(8192), 8192);
}

Test(config_rom, one_byte_past_4K_rounds_up_a_page)
{
	cr_assert_eq(size_from_file_of(4097), 8192);
	cr_assert_eq(size_from_file_of(1), 4096);
}

Test(config_rom, file_equal_to_the_size_fits)
{
	char path[32], text[256];
	struct vmm_config *cfg;

	temp_file(path, 8192);
	snprintf(text, sizeof(text), RAM "[rom \"r\"]\ngpa = 1M\nfile = %s\nsize = 8K\n", path);
	cfg = parse_ok(text);
	unlink(path);
	cr_assert_eq(cfg->ram[1].size, 8192);
	vmm_config_free(cfg);
}

Test(config_rom, file_larger_than_the_size_names_both_at_the_file_line)
{
	expect_load_error(FIXTURE("rom-too-big"), -EINVAL,
			  "9: rom 'boot': file '" FLASH "' is 0x1388 bytes, larger than its size "
			  "0x1000");
}

Test(config_rom, too_small_size_after_the_file_is_reported_at_the_file_line)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 1M\nfile = " FLASH "\nsize = 4K\n",
			   "6: rom 'r': file '" FLASH "' is 0x1388 bytes, larger than its size "
			   "0x1000");
}

Test(config_rom, missing_gpa_is_reported_at_the_header)
{
	expect_parse_error(RAM "[rom \"r\"]\nfile = " FLASH "\n",
			   "4: rom 'r' lacks the required key 'gpa'");
}

Test(config_rom, neither_size_nor_file)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 1M\n",
			   "4: rom 'r' lacks both 'size' and 'file': give either or both");
}

Test(config_rom, nonexistent_file_is_reported_at_its_line_resolved)
{
	expect_load_error(FIXTURE("rom-missing-file"), -EINVAL,
			  "7: rom 'boot': file '" FIXTURES
			  "/rom/missing.bin': No such file or directory");
}

Test(config_rom, folder_as_file_is_not_a_regular_file)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 1M\nfile = " FIXTURES "/rom\n",
			   "6: rom 'r': file '" FIXTURES "/rom' is not a regular file");
}

Test(config_rom, empty_file_without_a_size_is_an_error)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 1M\nfile = " FIXTURES "/rom/empty.bin\n",
			   "6: rom 'r': file '" FIXTURES "/rom/empty.bin' is empty: give a size");
}

Test(config_rom, empty_file_with_a_size_is_all_zero)
{
	struct vmm_config *cfg =
	    parse_ok(RAM "[rom \"r\"]\ngpa = 1M\nfile = " FIXTURES "/rom/empty.bin\nsize = 4K\n");

	cr_assert_eq(cfg->ram[1].size, 4096);
	vmm_config_free(cfg);
}

Test(config_rom, empty_file_value_is_an_error)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 1M\nfile =\n",
			   "6: file is empty: expected a path");
}

Test(config_rom, string_file_is_relative_to_the_current_folder)
{
	struct vmm_config *cfg;

	cr_assert_eq(chdir(FIXTURES), 0);
	cfg = parse_ok(RAM "[rom \"r\"]\ngpa = 1M\nfile = rom/flash.bin\n");
	cr_assert_str_eq(cfg->ram[1].file, "rom/flash.bin");
	cr_assert_eq(cfg->ram[1].size, 0x2000);
	vmm_config_free(cfg);
}

Test(config_rom, file_in_the_current_folder_keeps_the_rom_relative)
{
	struct vmm_config *cfg;

	cr_assert_eq(chdir(FIXTURES), 0);
	cfg = load_ok("rom.ini");
	cr_assert_str_eq(cfg->ram[1].file, "rom/flash.bin");
	vmm_config_free(cfg);
}

Test(config_rom, absolute_file_path_is_kept)
{
	struct vmm_config *cfg = parse_ok(RAM "[rom \"r\"]\ngpa = 1M\nfile = " FLASH "\n");

	cr_assert_str_eq(cfg->ram[1].file, FLASH);
	vmm_config_free(cfg);
}

Test(config_rom, readonly_is_not_a_rom_key)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 1M\nsize = 4K\nreadonly = yes\n",
			   "7: unknown key 'readonly' in rom 'r'");
}

Test(config_rom, file_is_not_a_ram_key)
{
	expect_parse_error(RAM "file = " FLASH "\n", "4: unknown key 'file' in ram 'low'");
}

Test(config_rom, rom_without_a_name)
{
	expect_parse_error(RAM "[rom]\n", "4: section rom needs a name, as in [rom \"flash\"]");
}

Test(config_rom, misaligned_gpa_names_the_rom)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 0x100800\nsize = 4K\n",
			   "5: rom 'r': gpa 0x100800 is not a multiple of 4K (0x1000)");
}

Test(config_rom, misaligned_size_names_the_rom)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 1M\nsize = 5000\n",
			   "6: rom 'r': size 0x1388 is not a multiple of 4K (0x1000)");
}

Test(config_rom, rom_name_taken_by_a_ram)
{
	expect_load_error(FIXTURE("dup-rom-name"), -EINVAL,
			  "6: rom 'low' has the name of ram 'low' (line 2): ram and rom "
			  "sections share one set of names");
}

Test(config_rom, ram_name_taken_by_a_rom)
{
	expect_parse_error("[rom \"r\"]\ngpa = 1M\nsize = 4K\n" RAM "[ram \"r\"]\n",
			   "7: ram 'r' has the name of rom 'r' (line 1): ram and rom "
			   "sections share one set of names");
}

Test(config_rom, duplicate_rom_name)
{
	expect_parse_error(RAM "[rom \"r\"]\ngpa = 1M\nsize = 4K\n[rom \"r\"]\n",
			   "7: duplicate section rom 'r' (first at line 4)");
}

Test(config_rom, rom_and_device_may_share_a_name)
{
	struct vmm_config *cfg = parse_ok(RAM "[rom \"r\"]\ngpa = 1M\nsize = 4K\n"
					      "[device \"r\"]\nplugin = x\npio = 0\nsize = 1\n");

	cr_assert_str_eq(cfg->devices[0].name, "r");
	vmm_config_free(cfg);
}

Test(config_rom, roms_count_towards_the_sixteen_memory_sections)
{
	char *ram = many_ram(15);
	size_t len = strlen(ram) + 128;
	char *text = malloc(len);

	cr_assert_not_null(text);
	snprintf(text, len, "%s[rom \"a\"]\ngpa = 1M\nsize = 4K\n[rom \"b\"]\n", ram);
	expect_parse_error(text, "49: too many ram and rom sections: at most 16 in all");
	free(text);
	free(ram);
}

Test(config_rom, only_read_only_memory_is_an_error)
{
	expect_parse_error("[rom \"r\"]\ngpa = 0\nsize = 4K\n[ram \"a\"]\ngpa = 4K\nsize = 4K\n"
			   "readonly = true\n",
			   "7: every ram and rom section is read-only: the guest needs "
			   "writable RAM for its boot area and stacks");
}

Test(config_rom, free_releases_the_file_path)
{
	/* Under the sanitizers, a leak of file fails make check. */
	vmm_config_free(parse_ok(RAM "[rom \"r\"]\ngpa = 1M\nfile = " FLASH "\n"));
}
