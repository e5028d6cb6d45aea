/* SPDX-License-Identifier: MIT */
/*
 * test_live_changes.c - specification of memslot and device
 * changes made while vCPUs run, seen by guests on both backends.
 */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "vmm/vmm.h"

#define ENTRY	  0x100000ull
#define LOW_SIZE  (16ull << 20)
#define CNT	  0x200000ull /* in "low": the guest's counter */
#define FLAG	  0x200008ull /* in "low": the host sets it to end the guest's loop */
#define SLOT_A	  0x1000000ull
#define SLOT_B	  0x1400000ull
#define SLOT_SIZE 0x100000ull
#define SPARE	  0x2000000ull /* a slot the host adds and removes */
#define DEV	  0x3000000ull
#define DEV2	  0x3100000ull
#define MARK	  0x0123456789abcdefull

/*
 * Guests, assembled with the test (absolute addresses, relative jumps: the
 * bytes run wherever they are copied). Each ends in hlt.
 */
#define GUEST(name, body)                                                                          \
	extern const uint8_t name##_start[], name##_end[];                                         \
	__asm__(".pushsection .rodata\n.globl " #name "_start\n" #name "_start:\n" body            \
		"\n.globl " #name "_end\n" #name "_end:\n.popsection\n")

/* Count in memory and in rcx until FLAG is set: the two agree unless a pause repeated work. */
GUEST(g_count, "1: incq 0x200000\n incq %rcx\n cmpq $0, 0x200008\n je 1b\n hlt");
/* Read SLOT_A until it reads all-ones. */
GUEST(g_until_gone, "1: movq 0x1000000, %rbx\n cmpq $-1, %rbx\n jne 1b\n hlt");
/* Read SLOT_B until it holds MARK (its low 32 bits). */
GUEST(g_until_here, "1: movl 0x1400000, %ebx\n cmpl $0x89abcdef, %ebx\n jne 1b\n hlt");
/* A device answers 0x5a at DEV, then at DEV2, then DEV2 reads all-ones. */
GUEST(g_devices, "1: movl 0x3000000, %ebx\n cmpl $0x5a, %ebx\n jne 1b\n"
		 "2: movl 0x3100000, %ebx\n cmpl $0x5a, %ebx\n jne 2b\n"
		 "3: movl 0x3100000, %ebx\n cmpl $-1, %ebx\n jne 3b\n hlt");
/* One write to DEV, then halt. */
GUEST(g_poke, "movl $1, 0x3000000\n hlt");

/* ---- a device that answers 0x5a and may try a change from its callback ---- */

static struct vmm_vm *vm;
static atomic_uint destroyed;
static int callback_ret = 1;

static int dev_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		      const struct vmm_device_info *info, void **state)
{
	*state = NULL;
	return 0;
}

static int dev_read(void *state, uint64_t off, uint32_t size, uint64_t *value)
{
	*value = 0x5a;
	return 0;
}

static int dev_write(void *state, uint64_t off, uint32_t size, uint64_t value)
{
	callback_ret = vmm_memslot_remove(vm, SLOT_A);
	return 0;
}

static void dev_destroy(void *state)
{
	destroyed++;
}

static const struct vmm_plugin_desc dev_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "answer",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 4,
    .create = dev_create,
    .destroy = dev_destroy,
    .read = dev_read,
    .write = dev_write,
};

/* ---- the machine, run on a thread of its own ---- */

static uint8_t *low, *slot;
static struct vmm_exit ex = VMM_EXIT_INIT;
static pthread_t runner;
static bool running;
static int run_ret;

static void *run_main(void *arg)
{
	run_ret = vmm_vm_run(vm, &ex);
	return NULL;
}

static void join_run(void)
{
	if (running)
		pthread_join(runner, NULL);
	running = false;
}

static void teardown(void)
{
	if (running) {
		vmm_vm_stop(vm, 1);
		join_run();
	}
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(live_changes_emu, .fini = teardown, .timeout = 120);
TestSuite(live_changes_kvm, .fini = teardown, .timeout = 120);
#define BOTH(name) TWIN_TESTS(live_changes_emu, live_changes_kvm, name)

static void machine(enum vmm_accel accel, const uint8_t *start, const uint8_t *end)
{
	struct vmm_vm_options opts;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_memslot_alloc(vm, "a", SLOT_A, SLOT_SIZE, (void **)&slot));
	memcpy(slot, &(uint64_t){MARK}, 8);
	OK(vmm_vcpu_create(vm, 0, NULL));
	memcpy(low + ENTRY, start, (size_t)(end - start));
	OK(vmm_boot_setup(vm, ENTRY));
}

static void start_run(void)
{
	cr_assert_eq(pthread_create(&runner, NULL, run_main, NULL), 0);
	running = true;
}

static void expect_halted(void)
{
	join_run();
	cr_assert_eq(run_ret, 0, "vmm_vm_run: %d", run_ret);
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
}

static void nap(long ms)
{
	nanosleep(&(struct timespec){.tv_nsec = ms * 1000000}, NULL);
}

/* Wait (up to 20 s) for a guest-visible counter to pass a value. */
static void wait_reads_past(const struct vmm_device *dev, uint64_t n)
{
	struct vmm_device_stats st = VMM_DEVICE_STATS_INIT;

	for (int i = 0; i < 20000; i++) {
		OK(vmm_device_get_stats(dev, &st));
		if (st.reads > n)
			return;
		nap(1);
	}
	cr_assert_fail("the guest never read the device (%llu reads)",
		       (unsigned long long)st.reads);
}

/* ---- pauses ---- */

BOTH(pauses_for_changes_are_invisible_to_the_guest)
{
	uint64_t count = 0;
	struct vmm_regs regs;

	machine(accel, g_count_start, g_count_end);
	start_run();
	/* Each change pauses the vCPU, wherever it is in its loop. */
	for (int i = 0; i < 200; i++) {
		OK(vmm_memslot_alloc(vm, "spare", SPARE, 0x1000, NULL));
		OK(vmm_memslot_move(vm, SLOT_A, SLOT_B));
		OK(vmm_memslot_move(vm, SLOT_B, SLOT_A));
		OK(vmm_memslot_remove(vm, SPARE));
	}
	OK(vmm_guest_write(vm, FLAG, &(uint64_t){1}, 8));
	expect_halted();
	OK(vmm_guest_read(vm, CNT, &count, 8));
	OK(vmm_vcpu_get_regs(vmm_vcpu_get(vm, 0), &regs));
	cr_expect_gt(count, 0);
	cr_expect_eq(count, regs.rcx,
		     "memory counted %llu, rcx %llu: a pause repeated or lost work",
		     (unsigned long long)count, (unsigned long long)regs.rcx);
}

/* ---- memslots ---- */

BOTH(slot_removed_while_running_is_unbacked_at_once)
{
	machine(accel, g_until_gone_start, g_until_gone_end);
	start_run();
	nap(20);
	OK(vmm_memslot_remove(vm, SLOT_A));
	expect_halted();
	cr_expect_eq(ex.regs.rbx, ~0ull);
	cr_expect_eq(vmm_memslot_count(vm), 1);
}

BOTH(slot_moved_while_running_is_seen_at_its_new_place)
{
	machine(accel, g_until_here_start, g_until_here_end);
	start_run();
	nap(20);
	OK(vmm_memslot_move(vm, SLOT_A, SLOT_B));
	expect_halted();
	cr_expect_eq(ex.regs.rbx & 0xffffffff, MARK & 0xffffffff);
}

BOTH(dirty_log_switched_while_running)
{
	uint64_t bm[64] = {0}, small[4];
	const uint64_t page = CNT / 4096, want = 1ull << (page % 64);

	machine(accel, g_count_start, g_count_end);
	start_run();
	OK(vmm_memslot_set_dirty_log(vm, 0, 1));
	cr_expect_eq(vmm_memslot_get_dirty(vm, 0, small, 4), -EINVAL,
		     "a 16 MiB slot needs 64 words");
	for (int i = 0; i < 20000 && !(bm[page / 64] & want); i++) {
		nap(1);
		OK(vmm_memslot_get_dirty(vm, 0, bm, 64));
	}
	cr_expect(bm[page / 64] & want, "the counter's page was never dirty");
	OK(vmm_memslot_set_dirty_log(vm, 0, 0));
	OK(vmm_guest_write(vm, FLAG, &(uint64_t){1}, 8));
	expect_halted();
}

/* ---- devices ---- */

BOTH(devices_added_moved_and_removed_while_running)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "answer",
	    .space = VMM_SPACE_MMIO,
	    .base = DEV,
	    .length = 0x1000,
	};
	struct vmm_device_stats st = VMM_DEVICE_STATS_INIT;
	struct vmm_device *dev;

	machine(accel, g_devices_start, g_devices_end);
	destroyed = 0;
	start_run();
	nap(20);
	OK(vmm_device_add(vm, &dev_desc, &cfg, &dev));
	wait_reads_past(dev, 0);
	OK(vmm_device_move(dev, DEV2));
	OK(vmm_device_get_stats(dev, &st));
	wait_reads_past(dev, st.reads);
	OK(vmm_device_remove(dev));
	cr_expect_eq(destroyed, 1, "destroy() ran %u times", destroyed);
	expect_halted();
	cr_expect_eq(ex.regs.rbx & 0xffffffff, 0xffffffff);
	cr_expect_eq(vmm_device_count(vm), 0);
}

BOTH(device_move_is_checked_like_an_add)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "answer",
	    .space = VMM_SPACE_MMIO,
	    .base = DEV,
	    .length = 0x1000,
	};
	struct vmm_device *dev;
	uint32_t space;
	uint64_t base, len;

	machine(accel, g_poke_start, g_poke_end);
	OK(vmm_device_add(vm, &dev_desc, &cfg, &dev));
	cr_expect_eq(vmm_device_move(dev, 0x1000), -EEXIST, "onto RAM");
	cr_expect_eq(vmm_device_move(dev, 600ull << 30), -ERANGE, "past the identity map");
	OK(vmm_device_move(dev, DEV + 0x800)); /* overlapping its own old window */
	OK(vmm_device_window(dev, &space, &base, &len));
	cr_expect_eq(base, DEV + 0x800);
	cr_expect_eq(vmm_device_remove(NULL), -EINVAL);
}

BOTH(changes_from_a_device_callback_are_refused)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "answer",
	    .space = VMM_SPACE_MMIO,
	    .base = DEV,
	    .length = 0x1000,
	};

	machine(accel, g_poke_start, g_poke_end);
	OK(vmm_device_add(vm, &dev_desc, &cfg, NULL));
	start_run();
	expect_halted();
	cr_expect_eq(callback_ret, -EDEADLK, "vmm_memslot_remove() from a callback: %d",
		     callback_ret);
	cr_expect_eq(vmm_memslot_count(vm), 2);
}
