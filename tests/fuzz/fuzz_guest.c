/* SPDX-License-Identifier: MIT */
/* fuzz_guest.c - random guest code and device accesses on emu, under a watchdog: the VM must end
 * with a documented exit. */

/*
 * Each input builds one VM on emu: RAM, a read-only slot, testdev (MMIO)
 * and uart16550 (PIO) from the built plugins, one or two vCPUs. The input
 * is a set-up byte, then structured accesses that the harness assembles
 * into x86-64 (MMIO loads and stores of every width at addresses chosen
 * near the windows' edges, IN and OUT), then raw bytes that run after them
 * as code, then HLT. The VM runs under a watchdog that stops it after
 * WATCHDOG_MS. vmm_vm_run() must return 0 with an exit vmm.h documents for
 * emu (stopped, hlt, guest fault, internal error, unclaimed under the stop
 * policy), and never crash, hang (libFuzzer's -timeout) or leak (LSan).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "fuzz.h"
#include "testdev.h"
#include "vmm/vmm.h"

#define WATCHDOG_MS   50
#define WATCHDOG_CODE 0x7d09
#define ENTRY	      0x10000ull
#define RAM_SIZE      (2ull << 20)
#define ROM_GPA	      (4ull << 20)
#define TESTDEV_GPA   0xfe000000ull
#define UART_PORT     0x3f8
#define MAX_CODE      8192

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond = PTHREAD_COND_INITIALIZER;
static struct vmm_vm *wd_vm; /* the VM the watchdog may stop, under wd_lock */
static struct timespec wd_deadline;
static bool wd_started;
static bool verbose; /* FUZZ_VERBOSE set: say how each run ended */

static void *watchdog(void *arg)
{
	pthread_mutex_lock(&wd_lock);
	for (;;) {
		while (!wd_vm)
			pthread_cond_wait(&wd_cond, &wd_lock);
		if (pthread_cond_timedwait(&wd_cond, &wd_lock, &wd_deadline) == ETIMEDOUT &&
		    wd_vm) {
			vmm_vm_stop(wd_vm, WATCHDOG_CODE);
			wd_vm = NULL;
		}
	}
	return NULL;
}

static void watch(struct vmm_vm *vm)
{
	pthread_mutex_lock(&wd_lock);
	wd_vm = vm;
	if (vm) {
		clock_gettime(CLOCK_REALTIME, &wd_deadline);
		wd_deadline.tv_nsec += WATCHDOG_MS * 1000000L;
		if (wd_deadline.tv_nsec >= 1000000000L) {
			wd_deadline.tv_sec++;
			wd_deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_cond_signal(&wd_cond);
	pthread_mutex_unlock(&wd_lock);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	pthread_t t;

	if (pthread_create(&t, NULL, watchdog, NULL))
		FUZZ_FAIL("cannot start the watchdog");
	pthread_detach(t);
	wd_started = true;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

struct code {
	uint8_t b[MAX_CODE];
	size_t n;
};

static void emit(struct code *c, const void *p, size_t len)
{
	if (c->n + len <= sizeof(c->b)) {
		memcpy(c->b + c->n, p, len);
		c->n += len;
	}
}

static void emit_imm64(struct code *c, uint8_t reg, uint64_t v) /* movabs reg, v (rax=0, rdx=2) */
{
	uint8_t op[2] = {0x48, (uint8_t)(0xb8 + reg)};

	emit(c, op, 2);
	emit(c, &v, 8);
}

/* An address a guest access should hit: device windows and their edges, RAM, ROM, nothing. */
static uint64_t pick_gpa(struct fuzz_in *in)
{
	uint8_t m = fuzz_u8(in);

	switch (m % 6) {
	case 0:
	case 1:
		return TESTDEV_GPA + fuzz_u16(in) % (TESTDEV_WINDOW_MIN + 16);
	case 2:
		return TESTDEV_GPA + 0x1000 - 8 + fuzz_u8(in) % 16; /* the window's end */
	case 3:
		return ROM_GPA + fuzz_u16(in) % 0x1010;
	case 4:
		return 0x20000 + fuzz_u16(in);
	default:
		return fuzz_u64(in);
	}
}

/* One structured access, assembled. */
static void emit_access(struct code *c, struct fuzz_in *in)
{
	uint8_t op = fuzz_u8(in), w = op & 3; /* width: 1 << w bytes */
	static const uint8_t st[4][4] = {
	    {0x88, 0x02}, {0x66, 0x89, 0x02}, {0x89, 0x02}, {0x48, 0x89, 0x02}};
	static const uint8_t ld[4][4] = {
	    {0x8a, 0x02}, {0x66, 0x8b, 0x02}, {0x8b, 0x02}, {0x48, 0x8b, 0x02}};
	static const uint8_t len[4] = {2, 3, 2, 3};

	switch ((op >> 2) & 3) {
	case 0: /* store [rdx] */
		emit_imm64(c, 2, pick_gpa(in));
		emit_imm64(c, 0, (op & 0x80) ? fuzz_u64(in) : fuzz_u8(in));
		emit(c, st[w], len[w]);
		break;
	case 1: /* load [rdx] */
		emit_imm64(c, 2, pick_gpa(in));
		emit(c, ld[w], len[w]);
		break;
	case 2:	  /* out dx, al/ax/eax */
	case 3: { /* in al/ax/eax, dx */
		uint16_t port =
		    (op & 0x40) ? fuzz_u16(in) : (uint16_t)(UART_PORT + fuzz_u8(in) % 10);
		uint8_t mov_dx[4] = {0x66, 0xba, (uint8_t)port, (uint8_t)(port >> 8)};
		uint32_t v = fuzz_u32(in);
		uint8_t mov_eax[5] = {0xb8, (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
				      (uint8_t)(v >> 24)};
		bool out = ((op >> 2) & 3) == 2;
		uint8_t io[2] = {0x66, 0};

		if (w == 3)
			w = 2;
		emit(c, mov_dx, 4);
		if (out)
			emit(c, mov_eax, 5);
		io[1] = (uint8_t)((out ? 0xee : 0xec) + (w ? 1 : 0));
		if (w == 1)
			emit(c, io, 2);
		else
			emit(c, io + 1, 1);
		break;
	}
	}
}

/*
 * Unicorn 2.0.1 aborts the process (tcg fatal error) when it translates
 * lcall or ljmp through a register, FF /3 or FF /5 with mod = 3: a known
 * limit of emu (libvmm(3), BACKENDS), fixed upstream after 2.0.1. Such
 * inputs are passed over so the fuzzer can look for what libvmm can fix.
 * Bytes anywhere are checked, not only at instruction starts: a few inputs
 * too many are passed over, none that matter.
 */
static bool unicorn_aborts_on(const struct code *c)
{
	for (size_t i = 0; i + 1 < c->n; i++) {
		uint8_t modrm = c->b[i + 1];

		if (c->b[i] == 0xff && (modrm >> 6) == 3 &&
		    (((modrm >> 3) & 7) == 3 || ((modrm >> 3) & 7) == 5))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct code code;
	struct fuzz_in in = {data, size};
	struct vmm_device_param none = {"output", "none", NULL, 0};
	struct vmm_device_config td = {.size = sizeof(td),
				       .name = "test0",
				       .space = VMM_SPACE_MMIO,
				       .base = TESTDEV_GPA,
				       .length = 0x1000};
	struct vmm_device_config uart = {.size = sizeof(uart),
					 .name = "uart0",
					 .space = VMM_SPACE_PIO,
					 .base = UART_PORT,
					 .length = 8,
					 .params = &none,
					 .nparams = 1};
	struct vmm_vm_options o;
	struct vmm_exit exit = VMM_EXIT_INIT;
	struct vmm_vm *vm;
	uint8_t setup = fuzz_u8(&in), naccess = fuzz_u8(&in) % 32;
	unsigned nvcpus = (setup & 1) + 1;
	bool stop_unclaimed = setup & 2;
	int ret;

	if (!wd_started)
		LLVMFuzzerInitialize(NULL, NULL);
	code.n = 0;
	for (unsigned i = 0; i < naccess; i++)
		emit_access(&code, &in);
	emit(&code, in.p, in.n); /* the rest runs as it is */
	emit(&code, "\xf4", 1);	 /* hlt */
	if (unicorn_aborts_on(&code))
		return 0;

	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	o.unclaimed = stop_unclaimed ? VMM_UNCLAIMED_STOP : VMM_UNCLAIMED_IGNORE;
	if (vmm_vm_create(&o, &vm))
		FUZZ_FAIL("vmm_vm_create: %s", vmm_last_error());
	if (vmm_memslot_alloc(vm, "low", 0, RAM_SIZE, NULL) ||
	    vmm_memslot_alloc_flags(vm, "rom", ROM_GPA, 0x1000, VMM_MEMSLOT_READONLY, NULL) ||
	    vmm_device_add_plugin(vm, BUILD_DIR "/plugins/testdev.so", &td, NULL) ||
	    vmm_device_add_plugin(vm, BUILD_DIR "/plugins/uart16550.so", &uart, NULL))
		FUZZ_FAIL("set-up: %s", vmm_last_error());
	for (unsigned i = 0; i < nvcpus; i++)
		if (vmm_vcpu_create(vm, i, NULL))
			FUZZ_FAIL("vcpu: %s", vmm_last_error());
	if (vmm_guest_write(vm, ENTRY, code.b, code.n) || vmm_boot_setup(vm, ENTRY))
		FUZZ_FAIL("boot: %s", vmm_last_error());

	watch(vm);
	ret = vmm_vm_run(vm, &exit);
	watch(NULL);
	if (verbose)
		fprintf(stderr, "exit %s, code %d: %s\n", vmm_exit_reason_name(exit.reason),
			exit.exit_code, exit.detail);
	FUZZ_CHECK(ret == 0, "vmm_vm_run: %d (%s): %s", ret, vmm_strerror(ret), exit.detail);
	switch (exit.reason) {
	case VMM_EXIT_STOPPED:
	case VMM_EXIT_HLT:
	case VMM_EXIT_GUEST_FAULT:
	case VMM_EXIT_INTERNAL_ERROR:
		break;
	case VMM_EXIT_UNCLAIMED:
		FUZZ_CHECK(stop_unclaimed, "unclaimed exit under the ignore policy: %s",
			   exit.detail);
		break;
	default:
		FUZZ_FAIL("exit %s (%d) is not one emu documents: %s",
			  vmm_exit_reason_name(exit.reason), exit.reason, exit.detail);
	}
	vmm_vm_destroy(vm);
	return 0;
}
