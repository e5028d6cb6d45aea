/* SPDX-License-Identifier: MIT */
/*
 * kick_race.c - kicks racing the end of a run: layout changes and stops from
 * other threads kick vCPUs whose threads are leaving vmm_vcpu_run(), are
 * joined and replaced by the next run's. No kick may reach a thread that has
 * left (or is gone), and none may be lost.
 *
 * Built plain and with ThreadSanitizer by the Makefile; make check runs the
 * TSan build where the compiler has it (a data race on the vCPU's thread
 * handle, or a signal to a joined thread, is what it catches). Usage:
 *   kick-race [--accel=kvm|emu] [--seconds=N]
 * Exit status 0 when every check holds, 1 when one fails, 77 when the
 * backend asked for is not available (kvm without /dev/kvm, or left out by ./configure).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/vmm.h"

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define SPARE	 0x2000000ull
#define NVCPUS	 2

/* A short spin, then hlt: each run is brief, and kicks find vCPUs inside KVM_RUN too. */
extern const unsigned char guest_start[], guest_end[];
__asm__(".pushsection .rodata\n"
	".globl guest_start\nguest_start:\n"
	"	movl $200, %ecx\n"
	"1:	decl %ecx\n"
	"	jnz 1b\n"
	"	hlt\n"
	".globl guest_end\nguest_end:\n"
	".popsection\n");

#define CHECK_PROG "kick-race"
#include "../check.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct machine {
	struct vmm_vm *vm;
	struct vmm_regs regs[NVCPUS];
	struct vmm_sregs sregs[NVCPUS];
};

static void machine_open(struct machine *m, enum vmm_accel accel)
{
	struct vmm_vm_options opts;
	unsigned char *low;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	MUST(vmm_vm_create(&opts, &m->vm));
	MUST(vmm_memslot_alloc(m->vm, "low", 0, LOW_SIZE, (void **)&low));
	for (unsigned i = 0; i < NVCPUS; i++)
		MUST(vmm_vcpu_create(m->vm, i, NULL));
	memcpy(low + ENTRY, guest_start, (size_t)(guest_end - guest_start));
	MUST(vmm_boot_setup(m->vm, ENTRY));
	for (unsigned i = 0; i < NVCPUS; i++) {
		MUST(vmm_vcpu_get_regs(vmm_vcpu_get(m->vm, i), &m->regs[i]));
		MUST(vmm_vcpu_get_sregs(vmm_vcpu_get(m->vm, i), &m->sregs[i]));
	}
}

/* Back to the boot state, so that the next run spins again. */
static void machine_rewind(struct machine *m)
{
	for (unsigned i = 0; i < NVCPUS; i++) {
		MUST(vmm_vcpu_set_regs(vmm_vcpu_get(m->vm, i), &m->regs[i]));
		MUST(vmm_vcpu_set_sregs(vmm_vcpu_get(m->vm, i), &m->sregs[i]));
	}
}

/* ---- phase 1: layout changes kick while runs end and begin ---- */

static atomic_bool changing;

static void *changer_main(void *arg)
{
	struct vmm_vm *vm = arg;
	unsigned long n = 0;

	/* Each change pauses (kicks) every vCPU inside a run. */
	while (atomic_load(&changing)) {
		MUST(vmm_memslot_alloc(vm, "spare", SPARE, 0x1000, NULL));
		MUST(vmm_memslot_remove(vm, SPARE));
		n++;
		/* Room for runs to end and begin between the pauses. */
		nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
	}
	return (void *)n;
}

static void phase_changes(enum vmm_accel accel, double seconds)
{
	struct machine m;
	pthread_t changer;
	unsigned long runs = 0, changes;
	void *ret;
	double end;

	machine_open(&m, accel);
	atomic_store(&changing, true);
	CHECK(pthread_create(&changer, NULL, changer_main, m.vm) == 0, "pthread_create");
	end = now() + seconds;
	while (now() < end) {
		struct vmm_exit ex = VMM_EXIT_INIT;

		/* vmm_vm_run() makes new vCPU threads each time and joins them before it returns.
		 */
		MUST(vmm_vm_run(m.vm, &ex));
		CHECK(ex.reason == VMM_EXIT_HLT, "run %lu: exit %s: %s", runs,
		      vmm_exit_reason_name(ex.reason), ex.detail);
		machine_rewind(&m);
		runs++;
	}
	atomic_store(&changing, false);
	pthread_join(changer, &ret);
	changes = (unsigned long)ret;
	printf("kick-race: %s: %lu runs of %d vCPUs against %lu layout changes\n",
	       vmm_accel_name(accel), runs, NVCPUS, changes);
	CHECK(runs > 0 && changes > 0, "nothing raced");
	vmm_vm_destroy(m.vm);
}

/* ---- phase 2: a stop lands as the run ends ---- */

struct stop_arg {
	struct vmm_vm *vm;
	unsigned delay_us;
};

static void *stopper_main(void *arg)
{
	struct stop_arg *s = arg;

	if (s->delay_us)
		nanosleep(&(struct timespec){.tv_nsec = (long)s->delay_us * 1000}, NULL);
	vmm_vm_stop(s->vm, 3);
	return NULL;
}

static void phase_stops(enum vmm_accel accel, double seconds)
{
	unsigned long runs = 0, stopped = 0;
	double end = now() + seconds;

	while (now() < end) {
		struct machine m;
		struct stop_arg s;
		struct vmm_exit ex = VMM_EXIT_INIT;
		pthread_t stopper;

		machine_open(&m, accel);
		/* Spread the stops over the run: before, during, and after its end. */
		s = (struct stop_arg){.vm = m.vm, .delay_us = (unsigned)(runs * 397 % 6000)};
		CHECK(pthread_create(&stopper, NULL, stopper_main, &s) == 0, "pthread_create");
		MUST(vmm_vm_run(m.vm, &ex));
		CHECK(ex.reason == VMM_EXIT_HLT || ex.reason == VMM_EXIT_STOPPED,
		      "run %lu: exit %s: %s", runs, vmm_exit_reason_name(ex.reason), ex.detail);
		stopped += ex.reason == VMM_EXIT_STOPPED;
		pthread_join(stopper, NULL);
		vmm_vm_destroy(m.vm);
		runs++;
	}
	printf("kick-race: %s: %lu VMs stopped while they ran or ended (%lu returned STOPPED)\n",
	       vmm_accel_name(accel), runs, stopped);
	CHECK(runs > 0, "nothing raced");
}

int main(int argc, char **argv)
{
	enum vmm_accel accel = VMM_ACCEL_KVM;
	double seconds = 2;
	char why[256];

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--accel=", 8)) {
			if (vmm_accel_parse(argv[i] + 8, &accel) < 0 || accel == VMM_ACCEL_AUTO) {
				fprintf(stderr, "kick-race: --accel=kvm or emu\n");
				return 2;
			}
		} else if (!strncmp(argv[i], "--seconds=", 10)) {
			seconds = atof(argv[i] + 10);
		} else {
			fprintf(stderr, "usage: kick-race [--accel=kvm|emu] [--seconds=N]\n");
			return 2;
		}
	}
	if (vmm_accel_probe(accel, why, sizeof(why)) < 0) {
		printf("kick-race: %s: skipped: %s\n", vmm_accel_name(accel), why);
		return 77;
	}
	phase_changes(accel, seconds / 2);
	phase_stops(accel, seconds / 2);
	if (failures) {
		fprintf(stderr, "kick-race: %d check(s) failed\n", failures);
		return 1;
	}
	printf("kick-race: %s: ok\n", vmm_accel_name(accel));
	return 0;
}
