/* test_kick.c - specification of kicks: none is lost. */
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

#include "vmm/vmm.h"
#include "vmm_internal.h" /* pause_req: when a change has asked vCPUs to pause */

#define ENTRY 0x100000ull
#define LOW_SIZE (16ull << 20)
#define SPARE 0x2000000ull
#define DEV 0x3000000ull
#define STOP_CODE 9

/* Count in memory forever: only a kick gets the vCPU out of the guest. */
extern const uint8_t k_spin_start[], k_spin_end[];
__asm__(".pushsection .rodata\n.globl k_spin_start\nk_spin_start:\n"
	"1:	incq 0x200000\n	jmp 1b\n"
	".globl k_spin_end\nk_spin_end:\n.popsection\n");

/* Criterion runs each test in a process of its own: the handler and the hook do not leak. */
static struct vmm_vm *vm;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

/* A lost kick leaves a guest spinning forever: the timeout is the failure. */
TestSuite(kick_emu, .fini = teardown, .timeout = 30);
TestSuite(kick_kvm, .fini = teardown, .timeout = 30);
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
	nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 }, NULL);
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
	cr_assert_gt(atomic_load(&kicks), before, "the kick never reached the vCPU thread");
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

	cr_assert_eq(pthread_create(&t, NULL, stop_main, NULL), 0);
	cr_assert_eq(pthread_join(t, NULL), 0);
	wait_for_kick(before);
}

static pthread_t changer;
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

	cr_assert_eq(pthread_create(&changer, NULL, change_main, NULL), 0);
	for (int i = 0; i < 5000 && !atomic_load(&vm->pause_req); i++)
		sleep_ms(1);
	cr_assert(atomic_load(&vm->pause_req), "the change never asked the vCPU to pause");
	wait_for_kick(before);
}

static void machine_n(enum vmm_accel accel, const uint8_t *start, const uint8_t *end,
		      const struct vmm_plugin_desc *dev, unsigned nvcpus)
{
	struct sigaction sa = { .sa_handler = count_kick };
	struct vmm_device_config cfg = { .size = sizeof(cfg), .name = "dev",
					 .space = VMM_SPACE_MMIO, .base = DEV, .length = 0x1000 };
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
	cr_assert_eq(ex->reason, VMM_EXIT_STOPPED, "exit %s: %s", vmm_exit_reason_name(ex->reason),
		     ex->detail);
	cr_expect_eq(ex->exit_code, STOP_CODE);
}

/* ---- no kick is lost ---- */

BOTH(a_stop_that_lands_just_before_the_guest_is_entered_ends_vcpu_run)
{
	struct vmm_exit ex;

	machine(accel, k_spin_start, k_spin_end, NULL);
	atomic_store(&before_guest, stop_before_guest);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	expect_stopped(&ex);
}

BOTH(a_stop_that_lands_just_before_the_guest_is_entered_ends_vm_run)
{
	struct vmm_exit ex;

	machine(accel, k_spin_start, k_spin_end, NULL);
	atomic_store(&before_guest, stop_before_guest);
	OK(vmm_vm_run(vm, &ex));
	expect_stopped(&ex);
}

BOTH(a_pause_that_lands_just_before_the_guest_is_entered_lets_the_change_complete)
{
	struct vmm_exit ex;

	machine(accel, k_spin_start, k_spin_end, NULL);
	atomic_store(&before_guest, pause_before_guest);
	/* The change stops the VM once it is done: a lost kick leaves both waiting. */
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(pthread_join(changer, NULL), 0);
	OK(change_ret);
	expect_stopped(&ex);
}
