/* SPDX-License-Identifier: MIT */
/*
 * test_plugin_params.c - the typed key services of plugin ABI 1.2: numbers,
 * durations, booleans, words and paths, read as the core reads its own keys.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unit.h"
#include "vmm/vmm.h"

static struct vmm_vm *vm;

/* The probe create() runs, and what it saw: each test sets probe and reads got. */
static int (*probe)(const struct vmm_host_services *host, struct vmm_host *ctx);
static struct {
	int ret;
	uint64_t u;
	bool b;
	unsigned idx;
	char path[256];
} got;

static int probe_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			const struct vmm_device_info *info, void **state)
{
	*state = NULL;
	got.ret = probe(host, ctx);
	/* Success even after a refused key: the host must still fail the device. */
	return 0;
}

static const struct vmm_plugin_desc probe_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "probe",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 4,
    .create = probe_create,
    .read = test_null_read,
    .write = test_null_write,
};

static void setup(void)
{
	struct vmm_vm_options o;

	memset(&got, 0, sizeof(got));
	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create(&o, &vm));
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(plugin_params, .init = setup, .fini = teardown);

/* Add device 'dev' whose one key was written at /cfg/dir/vm.ini:7; returns vmm_device_add()'s. */
static int add_with(const char *key, const char *value)
{
	const struct vmm_device_param prm = {key, value, "/cfg/dir/vm.ini", 7};
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = "dev",
	    .space = VMM_SPACE_MMIO,
	    .base = 0xfe000000,
	    .length = 0x1000,
	    .params = &prm,
	    .nparams = 1,
	    .file = "/cfg/dir/vm.ini",
	    .line = 5,
	};
	struct vmm_device *dev = NULL;
	int ret = vmm_device_add(vm, &probe_desc, &c, &dev);

	if (ret == 0)
		OK(vmm_device_remove(dev));
	return ret;
}

/* ---- numbers ---- */

static int read_size(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	got.u = 12345; /* the default */
	return host->param_u64(ctx, "size", 0, UINT64_MAX, &got.u);
}

static uint64_t size_of(const char *value)
{
	probe = read_size;
	OK(add_with("size", value));
	cr_assert_eq(got.ret, 0, "'%s': %d", value, got.ret);
	return got.u;
}

Test(plugin_params, a_number_takes_decimal_hex_and_the_k_m_g_suffixes)
{
	cr_assert_eq(size_of("0"), 0);
	cr_assert_eq(size_of("4096"), 4096);
	cr_assert_eq(size_of("0x3f8"), 0x3f8);
	cr_assert_eq(size_of("0X3F8"), 0x3f8);
	cr_assert_eq(size_of("4K"), 4096);
	cr_assert_eq(size_of("4k"), 4096);
	cr_assert_eq(size_of("1M"), 1ull << 20);
	cr_assert_eq(size_of("2G"), 2ull << 30);
	cr_assert_eq(size_of("0x10M"), 16ull << 20);
	cr_assert_eq(size_of("18446744073709551615"), UINT64_MAX);
}

/* The message a refused key left, after checking that the device was refused for it. */
static const char *refused(const char *key, const char *value)
{
	cr_assert_eq(add_with(key, value), -EINVAL, "'%s' accepted", value);
	cr_assert_eq(got.ret, -EINVAL, "'%s': the service returned %d", value, got.ret);
	return vmm_last_error();
}

Test(plugin_params, a_number_that_is_not_one_is_refused_with_the_syntax_and_file_line)
{
	probe = read_size;
	cr_assert_str_eq(refused("size", "1Q"),
			 "/cfg/dir/vm.ini:7: device 'dev': size = '1Q' is not a number: expected "
			 "decimal or 0x hex digits with an optional K, M or G suffix");
	cr_assert_eq(got.u, 12345, "the default is kept on an error");
	cr_assert(strstr(refused("size", "-1"), "is not a number"));
	cr_assert(strstr(refused("size", " 1"), "is not a number"));
	cr_assert(strstr(refused("size", "1 K"), "is not a number"));
	cr_assert(strstr(refused("size", "0x"), "is not a number"));
	cr_assert(strstr(refused("size", ""), "is not a number"));
	cr_assert(strstr(refused("size", "0x1_0000_0000_0000_0000"), "is not a number"));
}

Test(plugin_params, a_number_beyond_64_bits_is_too_large)
{
	probe = read_size;
	cr_assert_str_eq(refused("size", "99999999999999999999"),
			 "/cfg/dir/vm.ini:7: device 'dev': size = '99999999999999999999' is too "
			 "large");
	cr_assert(strstr(refused("size", "18446744073709551616"), "is too large"));
	cr_assert(strstr(refused("size", "0x10000000000000000"), "is too large"));
	/* Digits that fit, times the unit, do not: 16 EiB. */
	cr_assert(strstr(refused("size", "17179869184G"), "is too large"));
	cr_assert(strstr(refused("size", "0x400000000000000M"), "is too large"));
	cr_assert_eq(size_of("17179869183G"), 17179869183ull << 30);
}

static int read_shift(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	got.u = 0;
	return host->param_u64(ctx, "shift", 1, 3, &got.u);
}

Test(plugin_params, a_number_outside_the_range_is_refused_naming_the_range)
{
	probe = read_shift;
	OK(add_with("shift", "1"));
	cr_assert_eq(got.u, 1);
	OK(add_with("shift", "0x3"));
	cr_assert_eq(got.u, 3);
	cr_assert_str_eq(refused("shift", "4"),
			 "/cfg/dir/vm.ini:7: device 'dev': shift = '4' is out of range: expected 1 "
			 "to 3");
	cr_assert(strstr(refused("shift", "0"), "is out of range: expected 1 to 3"));
	cr_assert(strstr(refused("shift", "1K"), "is out of range: expected 1 to 3"));
	/* Past 64 bits is past any range below UINT64_MAX too. */
	cr_assert(strstr(refused("shift", "99999999999999999999"), "is out of range"));
}

static int read_absent(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	int ret;

	got.u = 77;
	got.b = true;
	got.idx = 5;
	strcpy(got.path, "default");
	ret = host->param_u64(ctx, "absent", 0, 10, &got.u);
	if (ret != -ENOENT)
		return ret;
	if ((ret = host->param_ms(ctx, "absent", 0, 10, &got.u)) != -ENOENT)
		return ret;
	if ((ret = host->param_bool(ctx, "absent", &got.b)) != -ENOENT)
		return ret;
	if ((ret = host->param_enum(ctx, "absent", (const char *const[]){"a", NULL}, &got.idx)) !=
	    -ENOENT)
		return ret;
	if ((ret = host->param_path(ctx, "absent", got.path, sizeof(got.path))) != -ENOENT)
		return ret;
	host->param(ctx, "other"); /* the one key that is set */
	return -ENOENT;
}

Test(plugin_params, an_absent_key_is_enoent_and_keeps_the_default_without_an_error)
{
	probe = read_absent;
	OK(add_with("other", "x"));
	cr_assert_eq(got.ret, -ENOENT);
	cr_assert_eq(got.u, 77);
	cr_assert_eq(got.b, true);
	cr_assert_eq(got.idx, 5);
	cr_assert_str_eq(got.path, "default");
}

Test(plugin_params, a_key_read_only_through_a_typed_service_counts_as_used)
{
	/* Not "unknown key 'size'": param_u64() asked for it. */
	probe = read_size;
	OK(add_with("size", "8"));
}

static int read_two_bad(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	uint64_t v;

	host->param_u64(ctx, "size", 0, 10, &v);
	return host->param_u64(ctx, "size", 0, 1, &v);
}

Test(plugin_params, the_first_refused_key_is_the_one_reported)
{
	probe = read_two_bad;
	cr_assert(strstr(refused("size", "20"), "expected 0 to 10"), "%s", vmm_last_error());
}

/* ---- durations ---- */

static int read_ms(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	got.u = 1;
	return host->param_ms(ctx, "wait", 0, 3600000, &got.u);
}

static uint64_t ms_of(const char *value)
{
	probe = read_ms;
	OK(add_with("wait", value));
	return got.u;
}

Test(plugin_params, a_duration_takes_ms_s_m_and_seconds_by_default)
{
	cr_assert_eq(ms_of("250ms"), 250);
	cr_assert_eq(ms_of("3"), 3000);
	cr_assert_eq(ms_of("3s"), 3000);
	cr_assert_eq(ms_of("2m"), 120000);
	cr_assert_eq(ms_of("0"), 0);
	cr_assert_eq(ms_of("0x10ms"), 16);
}

Test(plugin_params, a_bad_or_too_long_duration_is_refused_with_the_syntax)
{
	probe = read_ms;
	cr_assert_str_eq(refused("wait", "soon"),
			 "/cfg/dir/vm.ini:7: device 'dev': wait = 'soon' is not a number: expected "
			 "digits with an optional unit ms, s or m");
	cr_assert(strstr(refused("wait", "1h"), "is not a number"));
	cr_assert(strstr(refused("wait", "5 s"), "is not a number"));
	cr_assert_str_eq(refused("wait", "61m"),
			 "/cfg/dir/vm.ini:7: device 'dev': wait = '61m' is out of range: expected "
			 "0ms to 3600000ms");
	cr_assert(strstr(refused("wait", "99999999999999999999"), "is out of range"));
	/* Fits in 64 bits as minutes, not as milliseconds. */
	cr_assert(strstr(refused("wait", "307445734561826m"), "is out of range"));
}

/* ---- booleans ---- */

static int read_bool(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	return host->param_bool(ctx, "flag", &got.b);
}

Test(plugin_params, a_boolean_takes_the_cores_eight_words)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	probe = read_bool;
	for (size_t i = 0; i < 4; i++) {
		got.b = false;
		OK(add_with("flag", yes[i]));
		cr_assert_eq(got.b, true, "%s", yes[i]);
		got.b = true;
		OK(add_with("flag", no[i]));
		cr_assert_eq(got.b, false, "%s", no[i]);
	}
}

Test(plugin_params, a_boolean_in_other_words_is_refused_listing_them)
{
	probe = read_bool;
	cr_assert_str_eq(refused("flag", "True"),
			 "/cfg/dir/vm.ini:7: device 'dev': flag = 'True' is not a boolean: "
			 "expected true, false, yes, no, on, off, 1 or 0");
	cr_assert(strstr(refused("flag", "2"), "is not a boolean"));
	cr_assert(strstr(refused("flag", ""), "is not a boolean"));
}

/* ---- words ---- */

static int read_mode(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	static const char *const modes[] = {"fast", "slow", "off", NULL};

	got.idx = 99;
	return host->param_enum(ctx, "mode", modes, &got.idx);
}

Test(plugin_params, a_word_gives_its_index_in_the_list)
{
	probe = read_mode;
	OK(add_with("mode", "fast"));
	cr_assert_eq(got.idx, 0);
	OK(add_with("mode", "off"));
	cr_assert_eq(got.idx, 2);
}

Test(plugin_params, another_word_is_refused_listing_the_allowed_ones)
{
	probe = read_mode;
	cr_assert_str_eq(refused("mode", "medium"),
			 "/cfg/dir/vm.ini:7: device 'dev': mode = 'medium' is not allowed: "
			 "expected fast, slow or off");
	cr_assert_eq(got.idx, 99);
	/* Case matters, as for every enumerated value of the core's. */
	cr_assert(strstr(refused("mode", "Fast"), "is not allowed"));
}

static int read_one_word(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	static const char *const only[] = {"on", NULL};

	return host->param_enum(ctx, "mode", only, &got.idx);
}

Test(plugin_params, a_list_of_one_word_is_named_alone)
{
	probe = read_one_word;
	cr_assert(strstr(refused("mode", "x"), "is not allowed: expected on"), "%s",
		  vmm_last_error());
}

/* ---- paths ---- */

static int read_path(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	return host->param_path(ctx, "file", got.path, sizeof(got.path));
}

/* Device 'dev' with key file = value written in key_file (line 3), the device in dev_file. */
static int add_path(const char *value, const char *key_file, const char *dev_file)
{
	const struct vmm_device_param prm = {"file", value, key_file, 3};
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = "dev",
	    .space = VMM_SPACE_MMIO,
	    .base = 0xfe000000,
	    .length = 0x1000,
	    .params = &prm,
	    .nparams = 1,
	    .file = dev_file,
	    .line = dev_file ? 1 : 0,
	};
	struct vmm_device *dev = NULL;
	int ret;

	probe = read_path;
	got.path[0] = '\0';
	ret = vmm_device_add(vm, &probe_desc, &c, &dev);
	if (ret == 0)
		OK(vmm_device_remove(dev));
	return ret;
}

Test(plugin_params, a_relative_path_hangs_off_the_folder_of_the_config_file_that_set_it)
{
	OK(add_path("out.txt", "/cfg/dir/vm.ini", NULL));
	cr_assert_str_eq(got.path, "/cfg/dir/out.txt");
	OK(add_path("logs/out.txt", "rel/vm.ini", NULL));
	cr_assert_str_eq(got.path, "rel/logs/out.txt");
	OK(add_path("../out.txt", "/cfg/dir/vm.ini", NULL));
	cr_assert_str_eq(got.path, "/cfg/dir/../out.txt");
}

Test(plugin_params, an_absolute_path_is_kept_as_written)
{
	OK(add_path("/var/log/out.txt", "/cfg/dir/vm.ini", NULL));
	cr_assert_str_eq(got.path, "/var/log/out.txt");
}

Test(plugin_params, a_config_file_in_the_working_directory_keeps_the_path_as_written)
{
	OK(add_path("out.txt", "vm.ini", NULL));
	cr_assert_str_eq(got.path, "out.txt");
}

Test(plugin_params, a_key_without_a_file_takes_its_devices_file)
{
	OK(add_path("out.txt", NULL, "/etc/vmm/dev.ini"));
	cr_assert_str_eq(got.path, "/etc/vmm/out.txt");
}

Test(plugin_params, a_device_added_without_any_file_keeps_the_path_relative_to_the_cwd)
{
	OK(add_path("out.txt", NULL, NULL));
	cr_assert_str_eq(got.path, "out.txt");
}

Test(plugin_params, an_empty_path_is_refused)
{
	cr_assert_eq(add_path("", "/cfg/dir/vm.ini", NULL), -EINVAL);
	cr_assert_str_eq(vmm_last_error(),
			 "/cfg/dir/vm.ini:3: device 'dev': file is empty: expected a path");
}

static int read_path_small(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	return host->param_path(ctx, "file", got.path, 16);
}

Test(plugin_params, a_path_that_does_not_fit_the_buffer_is_refused)
{
	const struct vmm_device_param prm = {"file", "out.txt", "/a/long/folder/vm.ini", 3};
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = "dev",
	    .space = VMM_SPACE_MMIO,
	    .base = 0xfe000000,
	    .length = 0x1000,
	    .params = &prm,
	    .nparams = 1,
	};

	probe = read_path_small;
	cr_assert_eq(vmm_device_add(vm, &probe_desc, &c, NULL), -EINVAL);
	cr_assert_eq(got.ret, -EINVAL);
	cr_assert(strstr(vmm_last_error(), "/a/long/folder/vm.ini:3: device 'dev': file = "
					   "'out.txt' is too long a path"),
		  "%s", vmm_last_error());
}

/* ---- through a config file ---- */

static int read_all(const struct vmm_host_services *host, struct vmm_host *ctx)
{
	static const char *const modes[] = {"fast", "slow", NULL};
	int ret;

	if ((ret = host->param_u64(ctx, "depth", 1, 1ull << 30, &got.u)))
		return ret;
	if ((ret = host->param_bool(ctx, "enabled", &got.b)))
		return ret;
	if ((ret = host->param_enum(ctx, "mode", modes, &got.idx)))
		return ret;
	return host->param_path(ctx, "log", got.path, sizeof(got.path));
}

/* The keys of [device "d0"] in a config file, as vmm_config_parse_string() gives them. */
static struct vmm_config *parse_device(const char *name, const char *keys)
{
	char text[1024];
	struct vmm_config *cfg = NULL;

	snprintf(text, sizeof(text),
		 "[ram \"low\"]\ngpa = 0\nsize = 1M\n\n"
		 "[device \"d0\"]\nplugin = probe\nmmio = 0xfe000000\nsize = 4K\n%s",
		 keys);
	OK(vmm_config_parse_string(text, name, &cfg));
	return cfg;
}

static int add_config_device(const struct vmm_config *cfg)
{
	const struct vmm_config_device *d = &cfg->devices[0];
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = d->name,
	    .space = d->space,
	    .base = d->base,
	    .length = d->length,
	    .params = d->params,
	    .nparams = d->nparams,
	    .file = cfg->path,
	    .line = d->line,
	};

	probe = read_all;
	return vmm_device_add(vm, &probe_desc, &c, NULL);
}

Test(plugin_params, a_config_files_device_keys_read_with_the_cores_syntax)
{
	struct vmm_config *cfg =
	    parse_device("/srv/vms/vm.ini", "depth = 16K\nenabled = yes\nmode = slow\nlog = "
					    "serial.log\n");

	OK(add_config_device(cfg));
	cr_assert_eq(got.ret, 0);
	cr_assert_eq(got.u, 16384);
	cr_assert_eq(got.b, true);
	cr_assert_eq(got.idx, 1);
	cr_assert_str_eq(got.path, "/srv/vms/serial.log");
	vmm_config_free(cfg);
}

Test(plugin_params, a_config_files_bad_key_is_reported_at_its_line)
{
	struct vmm_config *cfg =
	    parse_device("/srv/vms/vm.ini", "depth = 2G\nenabled = yes\nmode = slow\nlog = x\n");

	cr_assert_eq(add_config_device(cfg), -EINVAL);
	cr_assert_str_eq(vmm_last_error(), "/srv/vms/vm.ini:9: device 'd0': depth = '2G' is out "
					   "of range: expected 1 to 1073741824");
	vmm_config_free(cfg);
}
