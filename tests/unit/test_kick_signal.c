/* SPDX-License-Identifier: MIT */
/*
 * test_kick_signal.c - specification of the signal that takes vCPUs out
 * of the guest: the caller's mask, the embedder's choice, its handler.
 */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "vmm/vmm.h"

#define ENTRY	  0x100000ull
#define LOW_SIZE  (16ull << 20)
#define CNT	  0x200000ull
#define STOP_CODE 7

/* Count in memory forever: only a kick gets the vCPU out of the guest. */
extern const uint8_t g_spin_start[], g_spin_end[];
__asm__(".pushsection .rodata\n.globl g_spin_start\ng_spin_start:\n"
	"1:	incq 0x200000\n	jmp 1b\n"
	".globl g_spin_end\ng_spin_end:\n.popsection\n");
static const uint8_t g_hlt[] = {0xf4};

/* Criterion runs each test in a process of its own: dispositions and masks do not leak. */
static struct vmm_vm *vm;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(kick_signal_emu, .fini = teardown, .timeout = 60);
TestSuite(kick_signal_kvm, .fini = teardown, .timeout = 60);
#define BOTH(name) TWIN_TESTS(kick_signal_emu, kick_signal_kvm, name)

static void machine(enum vmm_accel accel, int kick_signal, const uint8_t *start, size_t len)
{
	struct vmm_vm_options opts;
	uint8_t *low;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	opts.kick_signal = kick_signal;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_vcpu_create(vm, 0, NULL));
	memcpy(low + ENTRY, start, len);
	OK(vmm_boot_setup(vm, ENTRY));
}

static void block(int sig)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
}

static void current_mask(sigset_t *set)
{
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, NULL, set), 0);
}

static void expect_same_mask(const sigset_t *before, const char *after_what)
{
	sigset_t now;

	current_mask(&now);
	for (int sig = 1; sig <= SIGRTMAX; sig++)
		cr_expect_eq(sigismember(&now, sig), sigismember(before, sig),
			     "after %s, signal %d (SIGRTMIN+%d) is %s, was %s", after_what, sig,
			     sig - SIGRTMIN, sigismember(&now, sig) ? "blocked" : "unblocked",
			     sigismember(before, sig) ? "blocked" : "unblocked");
}

/* ---- a thread that stops the VM once the guest runs ---- */

static pthread_t stopper;

static void *stopper_main(void *arg)
{
	uint64_t n = 0;

	for (int i = 0; i < 20000 && n == 0; i++) {
		/* A failed read leaves n 0: poll on, and the test's timeout reports it. */
		if (vmm_guest_read(vm, CNT, &n, 8) < 0)
			n = 0;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	/* Let the guest get deep into KVM_RUN: only the signal can end it. */
	nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
	vmm_vm_stop(vm, STOP_CODE);
	return NULL;
}

static void start_stopper(void)
{
	cr_assert_eq(pthread_create(&stopper, NULL, stopper_main, NULL), 0);
}

static void expect_stopped(const struct vmm_exit *ex)
{
	pthread_join(stopper, NULL);
	cr_assert_eq(ex->reason, VMM_EXIT_STOPPED, "exit %s: %s", vmm_exit_reason_name(ex->reason),
		     ex->detail);
	cr_expect_eq(ex->exit_code, STOP_CODE);
}

/* ---- the caller's signal mask ---- */

BOTH(vcpu_run_gives_the_caller_back_its_signal_mask)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	sigset_t before;

	machine(accel, 0, g_hlt, sizeof(g_hlt));
	/* The default kick signal blocked, as a program that blocks all RT signals has it. */
	block(SIGRTMIN + 6);
	block(SIGUSR1);
	current_mask(&before);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	expect_same_mask(&before, "vmm_vcpu_run()");
}

BOTH(vcpu_run_gives_the_caller_back_its_mask_after_a_stop_from_another_thread)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	sigset_t before, pending;

	machine(accel, 0, g_spin_start, (size_t)(g_spin_end - g_spin_start));
	block(SIGRTMIN + 6);
	current_mask(&before);
	start_stopper();
	/* Blocked by the caller, the kick still reaches the vCPU inside the guest. */
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	expect_stopped(&ex);
	expect_same_mask(&before, "a stopped vmm_vcpu_run()");
	/* And no kick is left pending on the caller's thread, where it is blocked again. */
	cr_assert_eq(sigpending(&pending), 0);
	cr_expect_eq(sigismember(&pending, SIGRTMIN + 6), 0, "a kick is left pending");
}

BOTH(vm_run_leaves_the_callers_signal_mask_alone)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	sigset_t before;

	machine(accel, 0, g_spin_start, (size_t)(g_spin_end - g_spin_start));
	block(SIGRTMIN + 6);
	block(SIGUSR2);
	current_mask(&before);
	start_stopper();
	OK(vmm_vm_run(vm, &ex));
	expect_stopped(&ex);
	expect_same_mask(&before, "vmm_vm_run()");
}

/* ---- the embedder's choice ---- */

static bool has_handler(int sig)
{
	struct sigaction sa;

	cr_assert_eq(sigaction(sig, NULL, &sa), 0);
	return (sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
}

BOTH(a_kick_signal_of_the_embedders_choice_stops_a_running_guest)
{
	int sig = SIGRTMIN + 3;
	struct vmm_exit ex = VMM_EXIT_INIT;

	cr_assert(!has_handler(sig));
	machine(accel, sig, g_spin_start, (size_t)(g_spin_end - g_spin_start));
	start_stopper();
	OK(vmm_vm_run(vm, &ex));
	expect_stopped(&ex);
	/* kvm put its no-op handler on the chosen signal only; emu sends no signal at all. */
	cr_expect_eq(has_handler(sig), accel == VMM_ACCEL_KVM);
	cr_expect(!has_handler(SIGRTMIN + 6), "the default kick signal got a handler too");
}

static atomic_uint embedder_calls;

static void embedder_handler(int sig)
{
	(void)sig;
	embedder_calls++;
}

BOTH(an_embedders_own_handler_on_the_kick_signal_stays_and_sees_the_kicks)
{
	struct sigaction sa = {.sa_handler = embedder_handler}, now;
	struct vmm_exit ex = VMM_EXIT_INIT;

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	machine(accel, SIGUSR1, g_spin_start, (size_t)(g_spin_end - g_spin_start));
	start_stopper();
	OK(vmm_vm_run(vm, &ex));
	expect_stopped(&ex);
	cr_assert_eq(sigaction(SIGUSR1, NULL, &now), 0);
	cr_expect_eq(now.sa_handler, embedder_handler, "libvmm replaced the program's handler");
	if (accel == VMM_ACCEL_KVM)
		cr_expect_gt(embedder_calls, 0, "no kick reached the vCPU thread");
	else
		cr_expect_eq(embedder_calls, 0, "emu sent a signal");
}

BOTH(a_kick_signal_libvmm_cannot_use_is_refused)
{
	static const int bad[] = {-1, SIGKILL, SIGSTOP, SIGSEGV, SIGINT, SIGCHLD, 65, 1000};
	struct vmm_vm_options opts;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vmm_vm_options_init(&opts);
		opts.accel = accel;
		opts.kick_signal = bad[i];
		cr_expect_eq(vmm_vm_create(&opts, &vm), -EINVAL, "kick_signal %d accepted", bad[i]);
		cr_expect_null(vm);
		cr_expect(strstr(vmm_last_error(), "kick_signal"), "%s", vmm_last_error());
	}
}

BOTH(the_default_kick_signal_is_sigrtmin_plus_6)
{
	struct vmm_vm_options opts;

	vmm_vm_options_init(&opts);
	cr_expect_eq(opts.kick_signal, 0);
	cr_assert(!has_handler(SIGRTMIN + 6));
	machine(accel, 0, g_hlt, sizeof(g_hlt));
	cr_expect_eq(has_handler(SIGRTMIN + 6), accel == VMM_ACCEL_KVM);
}

/* A caller built against the header before kick_signal passes a shorter struct: the default. */
Test(kick_signal_kvm, an_options_struct_without_kick_signal_gets_the_default)
{
	struct vmm_vm_options opts;

	need_kvm();
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_KVM;
	opts.kick_signal = SIGKILL; /* past opts.size: never read */
	opts.size = offsetof(struct vmm_vm_options, kick_signal);
	OK(vmm_vm_create(&opts, &vm));
	cr_expect(has_handler(SIGRTMIN + 6));
}
