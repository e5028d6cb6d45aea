/* SPDX-License-Identifier: MIT */
/* fuzz_config.c - the INI parser (target config) and, with FUZZ_SETUP, a VM built from what it
 * parsed (target setup). */

/*
 * The input is the text of a config file. Every input is parsed; an error
 * must name the file (vmm.ini(5): "file:line: what is wrong"), and a parsed
 * config must keep the rules the parser promises (RAM present, keys complete).
 *
 * The setup target then builds the VM with vmm_vm_create_from_config() on
 * emu (no vCPU runs), from a sandbox folder holding the firmware and a ROM
 * file, with the plugins built in build/plugins; what it built must be what
 * the config says. Its cost is the emu vCPU (an Unicorn engine, about 5 ms):
 * configs asking for more than two vCPUs are only parsed. Inputs that could
 * reach outside the sandbox (device files, a UART writing somewhere) are only
 * parsed as well, and those naming /dev, /proc or /sys not even that: a ROM
 * file is opened by the parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "vmm/vmm.h"

#define NAME "fuzz.ini"

static char sandbox[] = "/tmp/libvmm-fuzz-config-XXXXXX";
static bool ready;
static char ini[sizeof(sandbox) + 16]; /* the config file of the setup target */

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	if (in < 0)
		FUZZ_FAIL("%s: cannot open (build it first: make all)", from);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0)
		FUZZ_FAIL("%s: cannot create", to);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			FUZZ_FAIL("%s: short write", to);
	close(in);
	close(out);
}

static void cleanup(void)
{
	static const char *const files[] = {NAME, "fw.elf", "rom.bin"};
	char path[sizeof(sandbox) + 16];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sandbox, files[i]);
		unlink(path);
	}
	rmdir(sandbox);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char fw[sizeof(sandbox) + 16];
	int fd;

	/* The setup target loads its config from here: relative paths resolve in the sandbox. */
	if (!mkdtemp(sandbox))
		FUZZ_FAIL("cannot make the sandbox %s", sandbox);
	atexit(cleanup);
	snprintf(ini, sizeof(ini), "%s/" NAME, sandbox);
	snprintf(fw, sizeof(fw), "%s/fw.elf", sandbox);
	copy_file(BUILD_DIR "/guest-firmware/selftest.elf", fw);
	snprintf(fw, sizeof(fw), "%s/rom.bin", sandbox);
	fd = open(fw, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "\xeb\xfe romdata", 10) != 10)
		FUZZ_FAIL("cannot write rom.bin");
	close(fd);
	/* A UART with output = stdout writes here: keep libFuzzer's terminal clean. */
	fd = open("/dev/null", O_WRONLY);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
		FUZZ_FAIL("cannot redirect stdout");
	close(fd);
	ready = true;
	return 0;
}

/*
 * What a parse that succeeded promises (vmm.ini(5)): syntax and required
 * keys. Where memory and windows lie is checked by the core when the VM is
 * built (the setup target), with the file and line in its messages.
 */
static void check_config(const struct vmm_config *cfg)
{
	bool writable = false;

	FUZZ_CHECK(cfg->nram > 0, "a config without RAM was accepted");
	for (size_t i = 0; i < cfg->nram; i++) {
		const struct vmm_config_ram *r = &cfg->ram[i];

		FUZZ_CHECK(r->name && r->size && !((r->gpa | r->size) & 0xfff),
			   "ram %zu: bad size or alignment accepted", i);
		writable |= !(r->flags & VMM_MEMSLOT_READONLY);
	}
	FUZZ_CHECK(writable, "every slot read-only, accepted");
	for (size_t i = 0; i < cfg->ndevices; i++) {
		const struct vmm_config_device *d = &cfg->devices[i];

		FUZZ_CHECK(d->name && d->plugin && d->length, "device %zu incomplete", i);
		FUZZ_CHECK(d->space == VMM_SPACE_MMIO || d->space == VMM_SPACE_PIO,
			   "device '%s' has no space", d->name);
	}
}

#ifdef FUZZ_SETUP
/* A bare name (no '/'): a file in the sandbox folder, never elsewhere. */
static bool bare(const char *name)
{
	return name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* A path the parser resolved against the sandbox: the sandbox, '/', a bare name. */
static bool in_sandbox(const char *path)
{
	size_t n = strlen(sandbox);

	return path && !strncmp(path, sandbox, n) && path[n] == '/' && bare(path + n + 1);
}

/* Whether building this VM stays in the sandbox and costs at most two emu vCPUs. */
static bool safe_to_build(const struct vmm_config *cfg)
{
	if (cfg->vcpus > 2)
		return false;
	if (cfg->firmware && !in_sandbox(cfg->firmware))
		return false;
	for (size_t i = 0; i < cfg->nram; i++)
		if (cfg->ram[i].file && !in_sandbox(cfg->ram[i].file))
			return false;
	for (size_t i = 0; i < cfg->ndevices; i++) {
		const struct vmm_config_device *d = &cfg->devices[i];

		if (strchr(d->plugin, '/'))
			return false;
		for (size_t j = 0; j < d->nparams; j++) {
			const char *k = d->params[j].key, *v = d->params[j].value;

			/* The UART opens these: output only a fresh file of its own, input a
			 * sandbox file. */
			/* The plugin resolves these against its working folder, not the config's.
			 */
			if (k && !strcmp(k, "output") && v && strcmp(v, "none") &&
			    strcmp(v, "stdout"))
				return false;
			if (k && !strcmp(k, "input") && v && strcmp(v, "none") &&
			    strcmp(v, "stdin"))
				return false;
		}
	}
	return true;
}

static void nolog(void *opaque, int level, const char *msg)
{
}

static void build(const struct vmm_config *cfg)
{
	struct vmm_vm_options o;
	struct vmm_vm *vm = NULL;
	int ret;

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	o.log = nolog;
	o.log_level = VMM_LOG_DEBUG;
	ret = vmm_vm_create_from_config(cfg, &o, BUILD_DIR "/plugins", &vm);
	if (ret < 0) {
		FUZZ_CHECK(!vm, "failed setup left a VM");
		FUZZ_CHECK(ret == -ENOMEM || !strncmp(vmm_last_error(), ini, strlen(ini)),
			   "setup error does not name the file: '%s'", vmm_last_error());
		return;
	}
	FUZZ_CHECK(vmm_memslot_count(vm) == (int)cfg->nram, "%d slots for %zu sections",
		   vmm_memslot_count(vm), cfg->nram);
	FUZZ_CHECK(vmm_device_count(vm) == (int)cfg->ndevices, "%d devices for %zu sections",
		   vmm_device_count(vm), cfg->ndevices);
	FUZZ_CHECK(vmm_vcpu_count(vm) == (int)(cfg->vcpus ? cfg->vcpus : 1), "%d vCPUs for %u",
		   vmm_vcpu_count(vm), cfg->vcpus);
	vmm_vm_destroy(vm);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_config *cfg = NULL;
	char *text;
	int ret;

	if (!ready)
		LLVMFuzzerInitialize(NULL, NULL);
	if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
	    memmem(data, size, "/sys", 4))
		return 0;
#ifdef FUZZ_SETUP
	int fd = open(ini, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		FUZZ_FAIL("cannot write %s", ini);
	close(fd);
	ret = vmm_config_load(ini, &cfg);
	text = ini;
#else
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	ret = vmm_config_parse_string(text, NAME, &cfg);
	free(text);
	text = NAME;
#endif
	if (ret < 0) {
		FUZZ_CHECK(!cfg, "failed parse left a config");
		FUZZ_CHECK(ret == -ENOMEM || !strncmp(vmm_last_error(), text, strlen(text)),
			   "parse error does not name the file: '%s'", vmm_last_error());
		return 0;
	}
	check_config(cfg);
#ifdef FUZZ_SETUP
	if (safe_to_build(cfg))
		build(cfg);
#endif
	vmm_config_free(cfg);
	return 0;
}
