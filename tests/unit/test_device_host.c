/* SPDX-License-Identifier: MIT */
/*
 * test_device_host.c - specification of what a model may do with
 * the real host services while it is created, moved and removed.
 */
#include <criterion/criterion.h>

#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "vmm/vmm.h"

#define RAM_SIZE (1ull << 20)
#define CELL	 0x1000ull /* the word create() reads and bumps */
#define DEV	 0x10000000ull
#define SPARE	 0x20000000ull

static struct vmm_vm *vm;
static uint8_t *ram;

/* What the model's create() saw and did, for the test to check afterwards. */
static struct {
	int read_ret, write_ret;
	uint64_t seen;
	int change_ret;	  /* a layout change made from another thread during create() */
	bool change_done; /* ... and whether it finished while create() still ran */
	int destroyed;
} got;

/* Make a change from another thread: it must not wait for create() to return. */
static void *add_spare(void *arg)
{
	got.change_ret = vmm_memslot_alloc(vm, "spare", SPARE, 0x1000, NULL);
	__atomic_store_n(&got.change_done, true, __ATOMIC_RELEASE);
	return NULL;
}

static int dma_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		      const struct vmm_device_info *info, void **state)
{
	got.read_ret = host->mem_read(ctx, CELL, &got.seen, sizeof(got.seen));
	got.seen++;
	got.write_ret = host->mem_write(ctx, CELL, &got.seen, sizeof(got.seen));
	*state = NULL;
	return 0;
}

/* create() waits (10 s at most) for a layout change made on another thread meanwhile. */
static int waiting_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	pthread_t t;

	*state = NULL;
	if (pthread_create(&t, NULL, add_spare, NULL))
		return -EAGAIN;
	for (int i = 0; i < 1000 && !__atomic_load_n(&got.change_done, __ATOMIC_ACQUIRE); i++)
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	got.change_done = __atomic_load_n(&got.change_done, __ATOMIC_ACQUIRE);
	pthread_join(t, NULL);
	return 0;
}

static void count_destroy(void *state)
{
	got.destroyed++;
}

#define DESC(create_fn)                                                                            \
	{                                                                                          \
		.abi_version = VMM_PLUGIN_ABI_VERSION, .size = sizeof(struct vmm_plugin_desc),     \
		.name = "host-user", .spaces = VMM_SPACE_MMIO, .access_sizes = VMM_ACCESS_4,       \
		.min_length = 4, .create = create_fn, .destroy = count_destroy,                    \
		.read = test_null_read, .write = test_null_write,                                  \
	}
static const struct vmm_plugin_desc dma_desc = DESC(dma_create);
static const struct vmm_plugin_desc waiting_desc = DESC(waiting_create);

static struct vmm_device_config window(uint64_t base, uint64_t length)
{
	return (struct vmm_device_config){.size = sizeof(struct vmm_device_config),
					  .name = "dev",
					  .space = VMM_SPACE_MMIO,
					  .base = base,
					  .length = length};
}

static void setup(void)
{
	struct vmm_vm_options opts;

	memset(&got, 0, sizeof(got));
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "ram", 0, RAM_SIZE, (void **)&ram));
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(device_host, .init = setup, .fini = teardown, .timeout = 60);

Test(device_host, create_may_read_and_write_guest_memory)
{
	struct vmm_device_config cfg = window(DEV, 0x1000);
	uint64_t v = 41;

	memcpy(ram + CELL, &v, sizeof(v));
	OK(vmm_device_add(vm, &dma_desc, &cfg, NULL));
	cr_assert_eq(got.read_ret, 0);
	cr_assert_eq(got.write_ret, 0);
	memcpy(&v, ram + CELL, sizeof(v));
	cr_assert_eq(v, 42, "create() wrote 42 through the host: RAM holds %llu",
		     (unsigned long long)v);
}

/*
 * DMA in create() once released the lock that vmm_device_add() held for the
 * change; the layout must be whole afterwards: later changes and copies work.
 */
Test(device_host, the_layout_lock_is_whole_after_create_used_dma)
{
	struct vmm_device_config cfg = window(DEV, 0x1000);
	uint64_t v;

	OK(vmm_device_add(vm, &dma_desc, &cfg, NULL));
	OK(vmm_memslot_alloc(vm, "more", SPARE, 0x1000, NULL));
	OK(vmm_guest_read(vm, CELL, &v, sizeof(v)));
	cr_assert_eq(v, 1);
	OK(vmm_memslot_remove(vm, SPARE));
	OK(vmm_device_move(vmm_device_get(vm, 0), DEV + 0x1000));
}

/* create() runs with no lock of the VM held: a change on another thread need not wait for it. */
Test(device_host, create_runs_while_other_threads_change_the_layout)
{
	struct vmm_device_config cfg = window(DEV, 0x1000);

	OK(vmm_device_add(vm, &waiting_desc, &cfg, NULL));
	cr_assert(got.change_done, "a layout change on another thread waited for create()");
	cr_assert_eq(got.change_ret, 0, "%s", vmm_strerror(got.change_ret));
	cr_assert_eq(vmm_memslot_count(vm), 2);
}

/* So the window is checked again when it is claimed: a change meanwhile may have taken it. */
Test(device_host, a_window_taken_while_create_ran_fails_the_add_and_destroys_the_model)
{
	struct vmm_device_config cfg = window(SPARE, 0x1000);
	struct vmm_device *dev = NULL;
	int ret;

	ret = vmm_device_add(vm, &waiting_desc, &cfg, &dev);
	cr_assert_eq(got.change_ret, 0);
	cr_assert_eq(ret, -EEXIST, "got %d: %s", ret, vmm_last_error());
	cr_assert(strstr(vmm_last_error(), "spare"), "%s", vmm_last_error());
	cr_assert_null(dev);
	cr_assert_eq(got.destroyed, 1, "create() succeeded, so destroy() runs once");
	cr_assert_eq(vmm_device_count(vm), 0);
}

/* A window that is bad from the start is refused before create() runs. */
Test(device_host, a_bad_window_is_refused_before_create)
{
	struct vmm_device_config cfg = window(0, 0x1000); /* over writable RAM */

	cr_assert_eq(vmm_device_add(vm, &dma_desc, &cfg, NULL), -EEXIST);
	cr_assert_eq(got.read_ret, 0);
	cr_assert_eq(got.seen, 0, "create() ran");
	cr_assert_eq(got.destroyed, 0);
}

Test(device_host, remove_destroys_the_model_once)
{
	struct vmm_device_config cfg = window(DEV, 0x1000);
	struct vmm_device *dev;

	OK(vmm_device_add(vm, &dma_desc, &cfg, &dev));
	OK(vmm_device_remove(dev));
	cr_assert_eq(got.destroyed, 1);
	vmm_vm_destroy(vm);
	vm = NULL;
	cr_assert_eq(got.destroyed, 1, "a removed device is not destroyed again with its VM");
}

/* ---- the log function, called while a change holds the layout ---- */

static int log_read_ret = 1;

static void reading_log(void *opaque, int level, const char *msg)
{
	uint64_t v;

	/* Only the first call: later ones may come after the change has ended. */
	if (log_read_ret == 1)
		log_read_ret = vmm_guest_read(vm, CELL, &v, sizeof(v));
}

/*
 * emu logs its new layout at VMM_LOG_DEBUG from inside the change: a copy
 * of guest memory from there is refused, never a hang or a broken lock.
 */
Test(device_host, guest_memory_copies_from_the_log_during_a_change_are_refused)
{
	struct vmm_device_config cfg = window(DEV, 0x1000);
	struct vmm_vm_options opts;
	uint64_t v;

	vmm_vm_destroy(vm);
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	opts.log = reading_log;
	opts.log_level = VMM_LOG_DEBUG;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "ram", 0, RAM_SIZE, (void **)&ram));
	OK(vmm_vcpu_create(vm, 0, NULL)); /* emu lays memory out per vCPU, and logs it */
	log_read_ret = 1;
	OK(vmm_device_add(vm, &test_null_desc, &cfg, NULL));
	cr_assert_eq(log_read_ret, -EDEADLK, "got %d", log_read_ret);
	OK(vmm_guest_read(vm, CELL, &v, sizeof(v)));
}
