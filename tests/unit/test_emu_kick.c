/* SPDX-License-Identifier: MIT */
/*
 * test_emu_kick.c - specification of emu's kick (never lost), and of a
 * run() that returns before it starts the engine. A kick made
 * before the backend's run() begins, or while it runs, makes that run()
 * return promptly (no exit: the core calls it again), with no stop or
 * pause request and no timed wait anywhere: each test calls the backend's
 * ops itself, and hangs (its timeout fails it) if a kick is lost.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "vmm_internal.h"

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define COUNTER	 0x2000ull
#define DEV_BASE 0xfe000000ull

/* jmp . */
extern const uint8_t gk_spin[], gk_spin_end[];
/* hlt */
extern const uint8_t gk_hlt[], gk_hlt_end[];
/* Count in RAM at COUNTER forever: the test thread sees the guest run. */
extern const uint8_t gk_count[], gk_count_loop[], gk_count_end[];
/* A store to the device at DEV_BASE (which kicks this vCPU), then jmp . */
extern const uint8_t gk_store[], gk_store_spin[], gk_store_end[];
__asm__(".pushsection .rodata\n"
	".globl gk_spin, gk_spin_end\n"
	"gk_spin: jmp .\n"
	"gk_spin_end:\n"
	".globl gk_hlt, gk_hlt_end\n"
	"gk_hlt: hlt\n"
	"gk_hlt_end:\n"
	".globl gk_count, gk_count_loop, gk_count_end\n"
	"gk_count:\n"
	"gk_count_loop: incq 0x2000\n"
	"	jmp gk_count_loop\n"
	"gk_count_end:\n"
	".globl gk_store, gk_store_spin, gk_store_end\n"
	"gk_store: movabs $0xfe000000, %rbx\n"
	"	movl %eax, (%rbx)\n"
	"gk_store_spin: jmp gk_store_spin\n"
	"gk_store_end:\n"
	".popsection\n");

static struct vmm_vm *vm;
static struct vmm_vcpu *vcpu;
static uint8_t *low;
static struct vmm_exit ex;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

/*
 * The timeout of the other emu suites: Criterion 2.4's runner leaks a
 * timer entry (LeakSanitizer fails make check) when tests with different
 * timeouts run side by side.
 */
TestSuite(emu_kick, .fini = teardown, .timeout = 60);

static int kicker_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	vcpu->vm->ops->kick(vcpu);
	return 0;
}

/* A device whose every write kicks the vCPU that made it: a kick from inside the engine. */
static const struct vmm_plugin_desc kicker_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "kicker",
    .description = "kicks the vCPU that writes to it",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8,
    .min_length = 1,
    .create = test_null_create,
    .read = test_null_read,
    .write = kicker_write,
};

static void guest(const uint8_t *code, const uint8_t *end)
{
	struct vmm_vm_options opts;
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "kicker",
	    .space = VMM_SPACE_MMIO,
	    .base = DEV_BASE,
	    .length = 0x1000,
	};

	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_device_add(vm, &kicker_desc, &cfg, NULL));
	OK(vmm_vcpu_create(vm, 0, &vcpu));
	memcpy(low + ENTRY, code, (size_t)(end - code));
	OK(vmm_boot_setup(vm, ENTRY));
}

/* One call of the backend's run(), as vmm_vcpu_run() makes it; 0 expected. */
static void backend_run(void)
{
	memset(&ex, 0, sizeof(ex));
	OK(vm->ops->run(vcpu, &ex));
}

static uint64_t rip(void)
{
	struct vmm_regs regs;

	OK(vmm_vcpu_get_regs(vcpu, &regs));
	return regs.rip;
}

Test(emu_kick, a_kick_before_run_makes_run_return_at_once_without_an_exit)
{
	guest(gk_spin, gk_spin_end);
	vm->ops->kick(vcpu);
	backend_run();
	cr_assert_eq(ex.reason, VMM_EXIT_NONE, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(rip(), ENTRY);
}

Test(emu_kick, a_kick_ends_one_run_only)
{
	guest(gk_hlt, gk_hlt_end);
	vm->ops->kick(vcpu);
	vm->ops->kick(vcpu); /* idempotent: two kicks before a run end that run */
	backend_run();
	cr_assert_eq(ex.reason, VMM_EXIT_NONE, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(rip(), ENTRY, "the guest ran before the kicked run returned");
	backend_run();
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(rip(), ENTRY + 1);
}

Test(emu_kick, a_kick_between_blocks_ends_the_run_before_the_next_block)
{
	guest(gk_store, gk_store_end);
	backend_run();
	cr_assert_eq(ex.reason, VMM_EXIT_NONE, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	/* Stopped at a block's start, so the next run goes on exactly there. */
	cr_expect_eq(rip(), ENTRY + (uint64_t)(gk_store_spin - gk_store), "rip 0x%llx",
		     (unsigned long long)rip());
}

struct kicker {
	pthread_t thread;
	uint64_t target;
};

/* Wait until the guest has counted to k->target (it is inside the engine), then kick it once. */
static void *kicker_main(void *arg)
{
	struct kicker *k = arg;
	const struct timespec ms1 = {0, 1000 * 1000};
	volatile uint64_t *counter = (volatile uint64_t *)(low + COUNTER);

	while (*counter < k->target)
		nanosleep(&ms1, NULL);
	vm->ops->kick(vcpu);
	return NULL;
}

/* Run while another thread kicks once the guest has counted to target; the count run() ended at. */
static uint64_t run_until_kicked(uint64_t target)
{
	struct kicker k = {.target = target};
	uint64_t r;

	cr_assert_eq(pthread_create(&k.thread, NULL, kicker_main, &k), 0);
	backend_run();
	pthread_join(k.thread, NULL);
	cr_assert_eq(ex.reason, VMM_EXIT_NONE, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	r = rip();
	cr_expect(r >= ENTRY && r < ENTRY + (uint64_t)(gk_count_end - gk_count), "rip 0x%llx",
		  (unsigned long long)r);
	return *(volatile uint64_t *)(low + COUNTER);
}

Test(emu_kick, a_kick_from_another_thread_ends_a_running_guest_s_run_and_it_resumes)
{
	uint64_t seen;

	guest(gk_count, gk_count_end);
	seen = run_until_kicked(1000);
	cr_assert_geq(seen, 1000);
	/* The next run goes on counting from where the kicked one stopped. */
	seen = run_until_kicked(seen + 1000);
	cr_assert_geq(seen, 2000);
}

/* ---- a run() that returns before it starts the engine changes nothing ---- */

/* hlt, then jmp back to it: each run translates both, and ends at the hlt. */
extern const uint8_t gk_loop[], gk_loop_end[];
__asm__(".pushsection .rodata\n"
	".globl gk_loop, gk_loop_end\n"
	"gk_loop: hlt\n"
	"	jmp gk_loop\n"
	"gk_loop_end:\n"
	".popsection\n");

/*
 * Run twice (code from RAM is translated), then let the host put int3
 * where the hlt was: the next run that starts the engine must execute it.
 */
static void host_writes_code_between_runs(void)
{
	guest(gk_loop, gk_loop_end);
	backend_run();
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	backend_run();
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	low[ENTRY] = 0xcc; /* int3 */
}

static void expect_the_new_code_runs(void)
{
	backend_run();
	cr_assert_eq(ex.reason, VMM_EXIT_GUEST_FAULT,
		     "exit %s (%s): the old code ran, not what the host wrote",
		     vmm_exit_reason_name(ex.reason), ex.detail);
}

Test(emu_kick, a_kicked_run_keeps_code_the_host_changed_from_running_stale)
{
	host_writes_code_between_runs();
	vm->ops->kick(vcpu);
	backend_run();
	cr_assert_eq(ex.reason, VMM_EXIT_NONE);
	expect_the_new_code_runs();
}

Test(emu_kick, a_run_paused_before_it_began_keeps_code_the_host_changed_from_running_stale)
{
	host_writes_code_between_runs();
	atomic_store(&vm->pause_req, true);
	backend_run();
	atomic_store(&vm->pause_req, false);
	cr_assert_eq(ex.reason, VMM_EXIT_NONE);
	expect_the_new_code_runs();
}
