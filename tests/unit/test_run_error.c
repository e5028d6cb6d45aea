/* SPDX-License-Identifier: MIT */
/*
 * test_run_error.c - specification: the reason of a failure
 * on a thread vmm_vm_run() created reaches its caller.
 */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "vmm/vmm.h"

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define DEV	 0x2000000ull

static struct vmm_vm *vm;
static atomic_int started; /* the guest has reached its loop */

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(run_error_emu, .fini = teardown, .timeout = 60);
TestSuite(run_error_kvm, .fini = teardown, .timeout = 60);
#define BOTH(name) TWIN_TESTS(run_error_emu, run_error_kvm, name)

static int mark_write(void *state, uint64_t off, uint32_t size, uint64_t value)
{
	atomic_store(&started, 1);
	return 0;
}

static const struct vmm_plugin_desc mark_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "mark",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_8,
    .min_length = 1,
    .create = test_null_create,
    .read = test_null_read,
    .write = mark_write,
};

/* One vCPU that writes the mark device, then spins until stopped. */
static void machine(enum vmm_accel accel)
{
	struct vmm_device_config cfg = {.size = sizeof(cfg),
					.name = "mark",
					.space = VMM_SPACE_MMIO,
					.base = DEV,
					.length = 0x1000};
	struct vmm_vm_options opts;
	struct prog p = {.n = 0};
	uint8_t *low;

	store(&p, DEV, 1);
	jump(&p, (uint32_t)(ENTRY + p.n));
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_device_add(vm, &mark_desc, &cfg, NULL));
	OK(vmm_vcpu_create(vm, 0, NULL));
	memcpy(low + ENTRY, p.b, p.n);
	OK(vmm_boot_setup(vm, ENTRY));
}

static struct vmm_exit holder_exit = VMM_EXIT_INIT;
static int holder_ret;

/* Holds vCPU 0 in vmm_vcpu_run() on a thread of the test's own. */
static void *holder_main(void *arg)
{
	holder_ret = vmm_vcpu_run(vmm_vcpu_get(vm, 0), &holder_exit);
	return NULL;
}

/*
 * vmm_vm_run()'s thread for vCPU 0 fails (another thread runs that vCPU):
 * the caller's vmm_last_error() and exit->detail give that thread's reason,
 * not what the caller's thread held before.
 */
BOTH(a_failure_on_a_vcpu_thread_is_the_callers_last_error_and_the_exit_detail)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	pthread_t holder;
	int ret;

	machine(accel);
	cr_assert_eq(pthread_create(&holder, NULL, holder_main, NULL), 0);
	for (int i = 0; i < 10000 && !atomic_load(&started); i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	cr_assert(atomic_load(&started), "the guest never reached its loop");

	/* Something else in the caller's last error first. */
	cr_assert_eq(vmm_accel_parse("no-such-accel", &(enum vmm_accel){0}), -EINVAL);
	ret = vmm_vm_run(vm, &ex);

	vmm_vm_stop(vm, 0);
	cr_assert_eq(pthread_join(holder, NULL), 0);
	cr_expect_eq(holder_ret, 0, "the holder's run: %s", holder_exit.detail);

	cr_assert_eq(ret, -EBUSY, "vmm_vm_run: %d (%s)", ret, vmm_strerror(ret));
	cr_expect(strstr(vmm_last_error(), "vCPU 0 is already running") != NULL,
		  "vmm_last_error() is '%s'", vmm_last_error());
	cr_expect_eq(ex.reason, VMM_EXIT_ERROR, "exit %s", vmm_exit_reason_name(ex.reason));
	cr_expect_eq(ex.vcpu, 0);
	cr_expect_str_eq(ex.detail, vmm_last_error());
}
