/* SPDX-License-Identifier: MIT */
/*
 * test_load_linux.c - vmm_load_linux() on VMs built by hand through the API: the fake kernel
 * (tests/linux/fake/) boots and passes its checks; each refusal has its errno and reason.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_kernel.h"
#include "guest_prog.h"
#include "unit.h"
#include "vmm/vmm.h"

#define RAM_SIZE     (256ull << 20)
#define INITRD_LEN   3000
#define CMDLINE	     "console=ttyS0 root=/dev/ram0 fake.api=1"
#define TESTDEV_SO   BUILD_DIR "/plugins/testdev.so"
#define TESTDEV_BASE FAKE_TESTDEV_BASE

static struct vmm_vm *vm;
static char dir[64];

static void teardown(void)
{
	char cmd[128];

	vmm_vm_destroy(vm);
	vm = NULL;
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		cr_expect_eq(system(cmd), 0);
		dir[0] = '\0';
	}
}

/* Named *_kvm: the nested kvm_amd route (tests/nested/) runs the suites that say kvm. */
TestSuite(load_linux_kvm, .fini = teardown, .timeout = 60);

static const char *tmp_path(const char *name)
{
	static char paths[4][128];
	static unsigned next;
	char *p = paths[next++ % 4];

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/vmm-linux-XXXXXX");
		cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	}
	snprintf(p, sizeof(paths[0]), "%s/%s", dir, name);
	return p;
}

/* The fake, told to expect e, as a bzImage of spec s (NULL: the default): its path. */
static const char *kernel(const struct fake_expect *e, const struct bzimage_spec *s)
{
	const char *path;
	int ret;

	if (access(FAKE_KERNEL_BIN, R_OK)) {
		int why = errno;

		teardown(); /* a skipped test's .fini does not run */
		cr_skip_test("%s: %s (make tests builds it)", FAKE_KERNEL_BIN, strerror(why));
	}
	path = tmp_path("fake.bzImage");
	ret = fake_kernel_write(path, e, s, 0);
	cr_assert_eq(ret, 0, "%s: %s", path, strerror(-ret));
	return path;
}

static void initrd_bytes(uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(0xa0 + i * 13);
}

static const char *initrd(void)
{
	const char *path = tmp_path("initrd.img");
	uint8_t b[INITRD_LEN];

	initrd_bytes(b, sizeof(b));
	cr_assert_eq(fake_write_all(path, b, sizeof(b)), 0);
	return path;
}

/* A VM as a Linux guest wants it: RAM at ram_gpa, the testdev, ncpus vCPUs. */
static void machine(enum vmm_accel accel, uint64_t ram_gpa, uint64_t ram_size, unsigned ncpus)
{
	struct vmm_vm_options opts;
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = "test0",
	    .space = VMM_SPACE_MMIO,
	    .base = TESTDEV_BASE,
	    .length = FAKE_TESTDEV_SIZE,
	};

	if (accel == VMM_ACCEL_KVM)
		need_kvm();
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", ram_gpa, ram_size, NULL));
	OK(vmm_device_add_plugin(vm, TESTDEV_SO, &c, NULL));
	for (unsigned i = 0; i < ncpus; i++)
		OK(vmm_vcpu_create(vm, i, NULL));
}

/* Run the VM; the fake's exit code, which names its first failed check (fake.h). */
static void assert_passes(void)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	const char *text;

	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_STOPPED, "exit %s on vCPU %u: %s",
		     vmm_exit_reason_name(ex.reason), ex.vcpu, ex.detail);
	text = fake_check_text(ex.exit_code);
	cr_assert_eq(ex.exit_code, 0, "the fake kernel's check %d failed: %s", ex.exit_code,
		     text ? text : "(not a check's number)");
}

/* Run the VM; the fake, told to end by a reboot, passed its checks and asked for one. */
static void assert_reboots(void)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	const char *text;

	OK(vmm_vm_run(vm, &ex));
	text = ex.reason == VMM_EXIT_STOPPED ? fake_check_text(ex.exit_code) : NULL;
	cr_assert_eq(ex.reason, VMM_EXIT_RESET, "exit %s on vCPU %u (%s): %s",
		     vmm_exit_reason_name(ex.reason), ex.vcpu,
		     text ? text : "no check of the fake's", ex.detail);
}

static void assert_refused(int ret, int err, const char *reason)
{
	cr_assert_eq(ret, err, "want %d (%s), got %d (%s): %s", err, vmm_strerror(err), ret,
		     vmm_strerror(ret), vmm_last_error());
	if (reason)
		cr_assert(strstr(vmm_last_error(), reason), "the detail does not say '%s': %s",
			  reason, vmm_last_error());
}

/* ---- booting ---- */

static void boot(unsigned ncpus)
{
	uint8_t head[INITRD_LEN];
	struct fake_expect e = {.ncpus = ncpus, .cmdline = CMDLINE};

	initrd_bytes(head, sizeof(head));
	e.initrd = head;
	e.initrd_len = INITRD_LEN;
	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, ncpus);
	OK(vmm_load_linux(vm, kernel(&e, NULL), initrd(), CMDLINE));
	assert_passes();
}

Test(load_linux_kvm, the_fake_kernel_boots_on_one_vcpu_and_passes_its_checks)
{
	boot(1);
}

Test(load_linux_kvm, the_fake_kernel_boots_on_two_vcpus_and_starts_the_second_by_sipi)
{
	boot(2);
}

Test(load_linux_kvm, null_initrd_and_null_command_line_mean_none_and_empty)
{
	struct fake_expect e = {.ncpus = 1};

	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	OK(vmm_load_linux(vm, kernel(&e, NULL), NULL, NULL));
	assert_passes();
}

/*
 * A reset boots the kernel again from its files: a fresh image (check 1 counts entries in it),
 * vCPU 1 back waiting for its SIPI, the zero page and tables rebuilt.
 */
Test(load_linux_kvm, after_a_reboot_and_vmm_vm_reset_the_kernel_boots_again)
{
	uint8_t head[INITRD_LEN];
	struct fake_expect e = {.ncpus = 2, .cmdline = CMDLINE, .flags = FAKE_FLAG_END_BY_RESET};

	initrd_bytes(head, sizeof(head));
	e.initrd = head;
	e.initrd_len = INITRD_LEN;
	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 2);
	OK(vmm_load_linux(vm, kernel(&e, NULL), initrd(), CMDLINE));
	assert_reboots();
	OK(vmm_vm_reset(vm));
	assert_reboots();
}

/* ---- refusals ---- */

Test(load_linux_kvm, a_null_vm_or_kernel_is_einval)
{
	struct fake_expect e = {.ncpus = 1};

	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(NULL, kernel(&e, NULL), NULL, NULL), -EINVAL, NULL);
	assert_refused(vmm_load_linux(vm, NULL, NULL, NULL), -EINVAL, NULL);
}

Test(load_linux_kvm, a_missing_kernel_or_initrd_is_enoent_naming_it)
{
	struct fake_expect e = {.ncpus = 1};

	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(vm, "/nonexistent/vmlinuz", NULL, NULL), -ENOENT,
		       "/nonexistent/vmlinuz");
	assert_refused(vmm_load_linux(vm, kernel(&e, NULL), "/nonexistent/initrd", NULL), -ENOENT,
		       "/nonexistent/initrd");
}

Test(load_linux_kvm, emu_is_enotsup_and_says_to_use_kvm)
{
	struct fake_expect e = {.ncpus = 1};

	machine(VMM_ACCEL_EMU, 0, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(vm, kernel(&e, NULL), NULL, NULL), -ENOTSUP,
		       "emu backend cannot boot Linux");
	cr_assert(strstr(vmm_last_error(), "accel = kvm"), "%s", vmm_last_error());
}

Test(load_linux_kvm, a_wrong_magic_is_enoexec_naming_it)
{
	struct fake_expect e = {.ncpus = 1};
	struct bzimage_spec s;

	bzimage_spec_init(&s);
	memcpy(s.magic, "HdrT", 4);
	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(vm, kernel(&e, &s), NULL, NULL), -ENOEXEC,
		       "no 'HdrS' magic at 0x202");
}

Test(load_linux_kvm, protocol_2_05_is_enoexec_naming_the_version)
{
	struct fake_expect e = {.ncpus = 1};
	struct bzimage_spec s;

	bzimage_spec_init(&s);
	s.version = 0x0205;
	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(vm, kernel(&e, &s), NULL, NULL), -ENOEXEC,
		       "boot protocol 2.05 is too old");
}

Test(load_linux_kvm, syssize_past_the_file_is_enoexec_naming_it)
{
	struct fake_expect e = {.ncpus = 1};
	struct bzimage_spec s;

	bzimage_spec_init(&s);
	s.syssize = 0x100000;
	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(vm, kernel(&e, &s), NULL, NULL), -ENOEXEC, "syssize");
}

Test(load_linux_kvm, a_command_line_longer_than_cmdline_size_is_e2big)
{
	struct fake_expect e = {.ncpus = 1, .cmdline_size = 8};

	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(vm, kernel(&e, NULL), NULL, "123456789"), -E2BIG,
		       "9 bytes is longer than the 8");
}

Test(load_linux_kvm, a_command_line_of_cmdline_size_bytes_boots)
{
	struct fake_expect e = {.ncpus = 1, .cmdline = "12345678", .cmdline_size = 8};

	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	OK(vmm_load_linux(vm, kernel(&e, NULL), NULL, "12345678"));
	assert_passes();
}

Test(load_linux_kvm, ram_not_at_gpa_0_is_enospc)
{
	struct fake_expect e = {.ncpus = 1};

	machine(VMM_ACCEL_KVM, 1ull << 20, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(vm, kernel(&e, NULL), NULL, NULL), -ENOSPC,
		       "writable RAM must start at GPA 0");
}

Test(load_linux_kvm, ram_too_small_for_the_kernel_is_enospc)
{
	struct fake_expect e = {.ncpus = 1};

	machine(VMM_ACCEL_KVM, 0, 1ull << 20, 1);
	assert_refused(vmm_load_linux(vm, kernel(&e, NULL), NULL, NULL), -ENOSPC, "init_size");
}

Test(load_linux_kvm, an_initrd_that_does_not_fit_below_its_limit_is_enospc)
{
	uint8_t head[INITRD_LEN];
	struct fake_expect e = {.ncpus = 1};
	struct bzimage_spec s;

	bzimage_spec_init(&s);
	s.initrd_addr_max = 0xfff; /* nothing fits below 4 KiB */
	initrd_bytes(head, sizeof(head));
	e.initrd = head;
	e.initrd_len = INITRD_LEN;
	machine(VMM_ACCEL_KVM, 0, RAM_SIZE, 1);
	assert_refused(vmm_load_linux(vm, kernel(&e, &s), initrd(), NULL), -ENOSPC,
		       "initrd_addr_max");
}
