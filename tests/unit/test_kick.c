/* SPDX-License-Identifier: MIT */
/*
 * test_kick.c - specification of kicks: none is lost, and a stop
 * or a pause kicks each running vCPU once, without polling.
 */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <dlfcn.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm/vmm.h"
#include "vmm_internal.h" /* pause_req: when a change has asked vCPUs to pause */

#define ENTRY	  0x100000ull
#define LOW_SIZE  (16ull << 20)
#define SPARE	  0x2000000ull
#define DEV	  0x3000000ull
#define STOP_CODE 9

/* Count in memory forever: only a kick gets the vCPU out of the guest. */
extern const uint8_t k_spin_start[], k_spin_end[];
__asm__(".pushsection .rodata\n.globl k_spin_start\nk_spin_start:\n"
	"1:	incq 0x200000\n	jmp 1b\n"
	".globl k_spin_end\nk_spin_end:\n.popsection\n");

/* vCPU 0 reads the device once; then every vCPU spins forever. RDI: its boot info. */
extern const uint8_t k_dev_spin_start[], k_dev_spin_end[];
__asm__(".pushsection .rodata\n.globl k_dev_spin_start\nk_dev_spin_start:\n"
	"	cmpl $0, 16(%rdi)\n" /* vcpu_index */
	"	jne 1f\n"
	"	movl 0x3000000, %eax\n"
	"1:	incq 0x200000\n	jmp 1b\n"
	".globl k_dev_spin_end\nk_dev_spin_end:\n.popsection\n");

/* Criterion runs each test in a process of its own: the handler and the hook do not leak. */
static struct vmm_vm *vm;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

/*
 * A lost kick leaves a guest spinning forever: the timeout is the failure.
 * 60 s, as the other suites: with a timeout of its own (30 s) or none, the
 * ASan run's Criterion 2.4.1 runner reported a 48-byte leak at exit in most
 * full runs (the emu helper saw the same: tests/unit/test_emu_kick.c).
 */
TestSuite(kick_emu, .fini = teardown, .timeout = 60);
TestSuite(kick_kvm, .fini = teardown, .timeout = 60);
#define BOTH(name) TWIN_TESTS(kick_emu, kick_kvm, name)

/*
 * The kick signal gets a handler of the test's own, which libvmm keeps
 * (vmm_vm_options.kick_signal): it counts the kicks that reach vCPU threads.
 */
static atomic_uint kicks;

static void count_kick(int sig)
{
	(void)sig;
	atomic_fetch_add(&kicks, 1);
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000}, NULL);
}

/* ---- the moment just before the guest is entered ---- */

/*
 * The unit-test binary links libvmm.a statically, so these definitions
 * stand in for the C library's ioctl() and Unicorn's uc_emu_start() in
 * libvmm's calls; unarmed, they pass every call through. Armed, the next
 * KVM_RUN or uc_emu_start() first calls the hook, on the vCPU thread: inside
 * vmm_vcpu_run(), after the backend's last look at stop_requested and
 * pause_req, before the guest runs. A kick that lands there is the one a
 * backend could lose.
 */
static void (*_Atomic before_guest)(void);

static void enter_guest(void)
{
	void (*hook)(void) = atomic_exchange(&before_guest, NULL);

	if (hook)
		hook();
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == KVM_RUN)
		enter_guest();
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "ioctl");
	return real(fd, req, arg);
}

/* Unicorn's types left out: a build without Unicorn never calls it. */
int uc_emu_start(void *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count);
int uc_emu_start(void *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)
{
	static int (*real)(void *, uint64_t, uint64_t, uint64_t, size_t);

	enter_guest();
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "uc_emu_start");
	return real(uc, begin, until, timeout, count);
}

static enum vmm_accel cur_accel;

/*
 * What went wrong on a thread other than the test's own (a hook, a helper):
 * Criterion's assertions belong on the test's main thread, which checks
 * this once the run is over (check_threads()).
 */
static const char *_Atomic thread_err;

static void thread_fail(const char *why)
{
	const char *none = NULL;

	atomic_compare_exchange_strong(&thread_err, &none, why);
}

static void check_threads(void)
{
	const char *err = atomic_load(&thread_err);

	cr_assert_null(err, "%s", err);
}

/*
 * On kvm, wait until the kick's signal has been handled on this (the vCPU)
 * thread, before KVM_RUN: the signal alone can no longer end the guest.
 * emu sends no signal.
 */
static void wait_for_kick(unsigned before)
{
	if (cur_accel != VMM_ACCEL_KVM)
		return;
	for (int i = 0; i < 5000 && atomic_load(&kicks) == before; i++)
		sleep_ms(1);
	if (atomic_load(&kicks) == before)
		thread_fail("the kick never reached the vCPU thread");
}

static void *stop_main(void *arg)
{
	vmm_vm_stop(vm, STOP_CODE);
	return NULL;
}

/* Hook: another thread stops the VM, and the vCPU handles the kick, before the guest runs. */
static void stop_before_guest(void)
{
	unsigned before = atomic_load(&kicks);
	pthread_t t;

	if (pthread_create(&t, NULL, stop_main, NULL) || pthread_join(t, NULL)) {
		thread_fail("cannot run the stopping thread");
		vmm_vm_stop(vm, STOP_CODE);
		return;
	}
	wait_for_kick(before);
}

static pthread_t changer;
static bool changer_started;
static int change_ret = -1;

/* A layout change, which pauses the vCPU; once it is done, stop the VM. */
static void *change_main(void *arg)
{
	change_ret = vmm_memslot_alloc(vm, "spare", SPARE, 0x100000, NULL);
	vmm_vm_stop(vm, STOP_CODE);
	return NULL;
}

/* Hook: another thread starts a change, and the vCPU handles its kick, before the guest runs. */
static void pause_before_guest(void)
{
	unsigned before = atomic_load(&kicks);

	if (pthread_create(&changer, NULL, change_main, NULL)) {
		thread_fail("cannot start the changing thread");
		vmm_vm_stop(vm, STOP_CODE);
		return;
	}
	changer_started = true;
	for (int i = 0; i < 5000 && !atomic_load(&vm->pause_req); i++)
		sleep_ms(1);
	if (!atomic_load(&vm->pause_req))
		thread_fail("the change never asked the vCPU to pause");
	wait_for_kick(before);
}

static void machine_n(enum vmm_accel accel, const uint8_t *start, const uint8_t *end,
		      const struct vmm_plugin_desc *dev, unsigned nvcpus)
{
	struct sigaction sa = {.sa_handler = count_kick};
	struct vmm_device_config cfg = {.size = sizeof(cfg),
					.name = "dev",
					.space = VMM_SPACE_MMIO,
					.base = DEV,
					.length = 0x1000};
	struct vmm_vm_options opts;
	uint8_t *low;

	cur_accel = accel;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGRTMIN + 6, &sa, NULL), 0);
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	if (dev)
		OK(vmm_device_add(vm, dev, &cfg, NULL));
	for (unsigned i = 0; i < nvcpus; i++)
		OK(vmm_vcpu_create(vm, i, NULL));
	memcpy(low + ENTRY, start, (size_t)(end - start));
	OK(vmm_boot_setup(vm, ENTRY));
}

static void machine(enum vmm_accel accel, const uint8_t *start, const uint8_t *end,
		    const struct vmm_plugin_desc *dev)
{
	machine_n(accel, start, end, dev, 1);
}

static void expect_stopped(const struct vmm_exit *ex)
{
	check_threads();
	cr_assert_eq(ex->reason, VMM_EXIT_STOPPED, "exit %s: %s", vmm_exit_reason_name(ex->reason),
		     ex->detail);
	cr_expect_eq(ex->exit_code, STOP_CODE);
}

/* ---- no kick is lost ---- */

BOTH(a_stop_that_lands_just_before_the_guest_is_entered_ends_vcpu_run)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(accel, k_spin_start, k_spin_end, NULL);
	atomic_store(&before_guest, stop_before_guest);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	expect_stopped(&ex);
}

BOTH(a_stop_that_lands_just_before_the_guest_is_entered_ends_vm_run)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(accel, k_spin_start, k_spin_end, NULL);
	atomic_store(&before_guest, stop_before_guest);
	OK(vmm_vm_run(vm, &ex));
	expect_stopped(&ex);
}

BOTH(a_pause_that_lands_just_before_the_guest_is_entered_lets_the_change_complete)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(accel, k_spin_start, k_spin_end, NULL);
	atomic_store(&before_guest, pause_before_guest);
	/* The change stops the VM once it is done: a lost kick leaves both waiting. */
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	check_threads();
	cr_assert(changer_started);
	cr_assert_eq(pthread_join(changer, NULL), 0);
	OK(change_ret);
	expect_stopped(&ex);
}

/* ---- one kick per request: no polling ---- */

/*
 * A device whose read takes 200 ms of the vCPU thread (its sleep goes on
 * after a kick's EINTR): a stop or a change made meanwhile waits for it,
 * and must not kick the vCPU again and again while it does.
 */
static atomic_bool in_read;

static int slow_read(void *state, uint64_t off, uint32_t size, uint64_t *value)
{
	struct timespec left = {.tv_nsec = 200000000};

	atomic_store(&in_read, true);
	while (nanosleep(&left, &left) < 0)
		;
	*value = 0;
	return 0;
}

static const struct vmm_plugin_desc slow_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "slow",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 4,
    .create = test_null_create,
    .read = slow_read,
    .write = test_null_write,
};

static void wait_in_read(void)
{
	for (int i = 0; i < 5000 && !atomic_load(&in_read); i++)
		sleep_ms(1);
	if (!atomic_load(&in_read))
		thread_fail("the guest never read the device");
}

static void *stop_in_read_main(void *arg)
{
	wait_in_read();
	vmm_vm_stop(vm, STOP_CODE);
	return NULL;
}

/*
 * kvm only: emu sends no signal, so its kicks cannot be counted from
 * outside. Two vCPUs: the one in the guest leaves at once, and
 * vmm_vm_run() must then wait for the other without kicking it again.
 */
Test(kick_kvm, a_stop_kicks_each_vcpu_at_most_once)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	pthread_t t;

	need_kvm();
	machine_n(VMM_ACCEL_KVM, k_dev_spin_start, k_dev_spin_end, &slow_desc, 2);
	cr_assert_eq(pthread_create(&t, NULL, stop_in_read_main, NULL), 0);
	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(pthread_join(t, NULL), 0);
	expect_stopped(&ex);
	cr_expect_leq(atomic_load(&kicks), 2, "%u kicks for one stop of 2 vCPUs",
		      atomic_load(&kicks));
}

static unsigned change_kicks;

static void *change_in_read_main(void *arg)
{
	wait_in_read();
	change_ret = vmm_memslot_alloc(vm, "spare", SPARE, 0x100000, NULL);
	change_kicks = atomic_load(&kicks);
	vmm_vm_stop(vm, STOP_CODE);
	return NULL;
}

Test(kick_kvm, a_change_kicks_a_vcpu_busy_in_a_device_once_and_waits)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	pthread_t t;

	need_kvm();
	machine(VMM_ACCEL_KVM, k_dev_spin_start, k_dev_spin_end, &slow_desc);
	cr_assert_eq(pthread_create(&t, NULL, change_in_read_main, NULL), 0);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(pthread_join(t, NULL), 0);
	OK(change_ret);
	expect_stopped(&ex);
	cr_expect_eq(change_kicks, 1, "%u kicks for one change", change_kicks);
}

/* ---- kvm's run() and kick() alone, without the core ---- */

/*
 * The backend contract (vmm_internal.h): a kick makes the run() under way,
 * or the next, return without an exit, whatever the flags say; the core
 * looks at why it kicked. No stop or pause request here, and no core to
 * poll: a lost kick hangs the test. tests/unit/test_emu_kick.c says the
 * same of emu.
 */
TestSuite(backend_kick_kvm, .fini = teardown, .timeout = 60);

static struct vmm_vcpu *vcpu0;
static struct vmm_exit bex;

/* jmp . */
extern const uint8_t kb_spin[], kb_spin_end[];
/* hlt */
extern const uint8_t kb_hlt[], kb_hlt_end[];
/* Count at 0x200000 forever. */
extern const uint8_t kb_count[], kb_count_end[];
/* A store to the device (which kicks this vCPU), then jmp . */
extern const uint8_t kb_store[], kb_store_spin[], kb_store_end[];
__asm__(".pushsection .rodata\n"
	".globl kb_spin, kb_spin_end\nkb_spin: jmp .\nkb_spin_end:\n"
	".globl kb_hlt, kb_hlt_end\nkb_hlt: hlt\nkb_hlt_end:\n"
	".globl kb_count, kb_count_end\nkb_count:\n1:	incq 0x200000\n	jmp 1b\nkb_count_end:\n"
	".globl kb_store, kb_store_spin, kb_store_end\n"
	"kb_store: movl %eax, 0x3000000\n"
	"kb_store_spin: jmp kb_store_spin\nkb_store_end:\n"
	".popsection\n");

static int kicker_write(void *state, uint64_t off, uint32_t size, uint64_t value)
{
	vm->ops->kick(vcpu0);
	return 0;
}

/* Every write kicks the vCPU making it: a kick on the vCPU thread, outside KVM_RUN. */
static const struct vmm_plugin_desc kicker_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "kicker",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 4,
    .create = test_null_create,
    .read = test_null_read,
    .write = kicker_write,
};

/* What vmm_vcpu_run() does for the backend: this thread is the vCPU's, with the signal let in. */
static void backend_machine(const uint8_t *start, const uint8_t *end)
{
	sigset_t set;

	need_kvm();
	machine(VMM_ACCEL_KVM, start, end, &kicker_desc);
	vcpu0 = vmm_vcpu_get(vm, 0);
	vcpu0->thread = pthread_self();
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 6);
	cr_assert_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
}

static void backend_run(void)
{
	memset(&bex, 0, sizeof(bex));
	OK(vm->ops->run(vcpu0, &bex));
}

static uint64_t rip(void)
{
	struct vmm_regs regs;

	OK(vmm_vcpu_get_regs(vcpu0, &regs));
	return regs.rip;
}

static void expect_no_exit(void)
{
	cr_assert_eq(bex.reason, VMM_EXIT_NONE, "exit %s: %s", vmm_exit_reason_name(bex.reason),
		     bex.detail);
}

Test(backend_kick_kvm, a_kick_before_run_makes_run_return_at_once_without_an_exit)
{
	backend_machine(kb_spin, kb_spin_end);
	vm->ops->kick(vcpu0);
	backend_run();
	expect_no_exit();
	cr_expect_eq(rip(), ENTRY);
}

Test(backend_kick_kvm, a_kick_ends_one_run_only)
{
	backend_machine(kb_hlt, kb_hlt_end);
	vm->ops->kick(vcpu0);
	vm->ops->kick(vcpu0);
	backend_run();
	expect_no_exit();
	cr_expect_eq(rip(), ENTRY, "the guest ran before the kicked run returned");
	backend_run();
	cr_assert_eq(bex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(bex.reason),
		     bex.detail);
}

Test(backend_kick_kvm, a_kick_from_a_device_callback_ends_the_run_after_the_access)
{
	backend_machine(kb_store, kb_store_end);
	backend_run();
	expect_no_exit();
	cr_expect_eq(rip(), ENTRY + (uint64_t)(kb_store_spin - kb_store), "rip 0x%llx",
		     (unsigned long long)rip());
}

static void *kick_when_counting(void *arg)
{
	uint64_t target = *(uint64_t *)arg, n = 0;

	while (n < target) {
		if (vmm_guest_read(vm, 0x200000, &n, sizeof(n)) < 0)
			break; /* the test's own assertions then report the run that never ended */
		sleep_ms(1);
	}
	vm->ops->kick(vcpu0);
	return NULL;
}

static uint64_t run_until_kicked(uint64_t target)
{
	pthread_t t;
	uint64_t n;

	cr_assert_eq(pthread_create(&t, NULL, kick_when_counting, &target), 0);
	backend_run();
	cr_assert_eq(pthread_join(t, NULL), 0);
	expect_no_exit();
	OK(vmm_guest_read(vm, 0x200000, &n, sizeof(n)));
	return n;
}

Test(backend_kick_kvm, a_kick_from_another_thread_ends_a_running_guests_run_and_it_resumes)
{
	uint64_t seen;

	backend_machine(kb_count, kb_count_end);
	seen = run_until_kicked(1000);
	cr_assert_geq(seen, 1000);
	seen = run_until_kicked(seen + 1000);
	cr_assert_geq(seen, 2000);
}
