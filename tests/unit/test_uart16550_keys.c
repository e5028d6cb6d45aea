/* SPDX-License-Identifier: MIT */
/*
 * test_uart16550_keys.c - the uart16550's keys read through the host's typed
 * key services (1.2): the core's number syntax, paths relative to the config
 * file, and what an older host gets.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_host.h"

static struct fake_host *fh;
static char dir[64];	   /* the "config file's folder" */
static char dir_slash[80]; /* the same with a '/': what the host joins a relative path to */

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/uart16550-keys-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(dir_slash, sizeof(dir_slash), "%s/", dir);
	fh = fake_host_new("uart16550");
}

static void teardown(void)
{
	char cmd[128];

	fake_host_free(fh);
	fh = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(uart16550_keys, .init = setup, .fini = teardown);

static bool exists_in_dir(const char *name)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

Test(uart16550_keys, reg_shift_takes_the_cores_number_syntax)
{
	fake_set_param(fh, "output", "none");
	fake_set_param(fh, "reg-shift", "0x2");
	fake_create_ok(fh, VMM_SPACE_MMIO, 32);
	/* Registers 4 bytes apart: SCR (7) at 28 keeps what is written, 7 is padding. */
	fake_wr(fh, 28, 1, 0x5a);
	cr_assert_eq(fake_rd(fh, 28, 1), 0x5a);
	cr_assert_eq(fake_rd(fh, 7, 1), 0);
}

Test(uart16550_keys, an_output_path_is_resolved_against_the_config_files_folder)
{
	fh->param_dir = dir_slash;
	fake_set_param(fh, "output", "console.txt");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	fake_wr(fh, 0, 1, 'k');
	fake_host_free(fh);
	fh = NULL;
	cr_assert(exists_in_dir("console.txt"));
	cr_assert_neq(access("console.txt", F_OK), 0, "the output went to the working directory");
}

Test(uart16550_keys, an_input_path_is_resolved_against_the_config_files_folder)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/keys.txt", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("z", f);
	fclose(f);
	fh->param_dir = dir_slash;
	fake_set_param(fh, "output", "none");
	fake_set_param(fh, "input", "keys.txt");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	for (int i = 0; i < 200 && !(fake_rd(fh, 5, 1) & 1); i++)
		nap_ms(10);
	cr_assert_eq(fake_rd(fh, 0, 1), 'z');
}

Test(uart16550_keys, the_words_of_output_and_input_are_not_paths)
{
	fh->param_dir = dir_slash;
	fake_set_param(fh, "output", "none");
	fake_set_param(fh, "input", "none");
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	cr_assert_not(exists_in_dir("none"));
}

Test(uart16550_keys, a_missing_input_names_the_resolved_path)
{
	fh->param_dir = dir_slash;
	fake_set_param(fh, "input", "absent.txt");
	cr_assert_eq(fake_create(fh, VMM_SPACE_PIO, 8), -EINVAL);
	cr_assert_str_eq(fh->param_error_key, "input");
	cr_assert(strstr(fh->param_error_msg, dir), "%s", fh->param_error_msg);
}

Test(uart16550_keys, a_host_of_1_1_refuses_a_number_key_with_enotsup)
{
	fake_use_abi_1_1(fh);
	fake_set_param(fh, "output", "none");
	fake_set_param(fh, "reg-shift", "1");
	cr_assert_eq(fake_create(fh, VMM_SPACE_PIO, 16), -ENOTSUP);
	cr_assert(strstr(fh->log_msg, "'reg-shift' needs a host of plugin ABI 1.2"), "%s",
		  fh->log_msg);
}

Test(uart16550_keys, a_host_of_1_1_runs_the_defaults_with_paths_as_written)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/plain.txt", dir);
	fake_use_abi_1_1(fh);
	fh->param_dir = "/nonexistent/";
	fake_set_param(fh, "output", path);
	fake_create_ok(fh, VMM_SPACE_PIO, 8);
	cr_assert(exists_in_dir("plain.txt"));
}
