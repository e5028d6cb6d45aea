/* SPDX-License-Identifier: MIT */
/*
 * irq_race.c - interrupts racing everything else: a host thread sends MSIs
 * and raises and lowers an edge and a level I/O APIC line, another changes
 * the layout, while two vCPUs take the interrupts and wait in `sti; hlt`
 * between them. No lock order may deadlock, no interrupt path may touch
 * freed memory or race (TSan), each vector must reach its handler, and the
 * run must still end with every vCPU's `cli; hlt`.
 *
 * Built plain and with ThreadSanitizer by the Makefile (race-check runs the
 * TSan build). Usage:
 *   irq-race [--accel=kvm|emu] [--seconds=N]
 * Exit status 0 when every check holds, 1 when one fails, 77 when the
 * backend asked for is not available or delivers no interrupts yet.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/guest.h"
#include "vmm/vmm.h"

#define ENTRY	  0x100000ull
#define LOW_SIZE  (16ull << 20)
#define IDT	  0x300000ull
#define FLAG	  0x1ff000ull  /* the host sets it: the guests leave their loops */
#define COUNTS	  0x200000ull  /* vCPU i's handlers count at COUNTS + 64 * i: MSI, edge, level */
#define MOVER	  0x1000000ull /* "mover" goes back and forth between MOVER and MOVER2 */
#define MOVER2	  0x1400000ull
#define SPARE	  0x2000000ull
#define NVCPUS	  2
#define VEC_MSI	  0x40
#define VEC_EDGE  0x41 /* pin 5, to vCPU 1 */
#define VEC_LEVEL 0x42 /* pin 6, to vCPU 0 */
#define PIN_EDGE  5
#define PIN_LEVEL 6

/*
 * vCPU 0 routes the pins; both enable their local APIC, then loop: read
 * "mover", `sti; hlt`, until FLAG is set; then `cli; hlt`. Handlers count per vCPU (r15 holds the
 * vCPU's count block, set before sti) and EOI.
 */
extern const unsigned char guest_start[], guest_end[], isr_msi[], isr_edge[], isr_level[];
__asm__(".pushsection .rodata\n"
	".globl guest_start\nguest_start:\n"
	"	movl 16(%rdi), %r8d\n" /* boot info: vcpu_index */
	"	movq %r8, %r15\n"
	"	shlq $6, %r15\n"
	"	addq $0x200000, %r15\n"
	"	movl $0xfee000f0, %eax\n"
	"	movl $0x1ff, (%rax)\n"
	"	testl %r8d, %r8d\n"
	"	jnz 2f\n"
	"	movl $0xfec00000, %ebx\n"
	"	movl $0x1b, (%rbx)\n" /* pin 5 high: destination APIC ID 1 */
	"	movl $0x01000000, 0x10(%rbx)\n"
	"	movl $0x1a, (%rbx)\n" /* pin 5 low: vector 0x41, edge */
	"	movl $0x41, 0x10(%rbx)\n"
	"	movl $0x1d, (%rbx)\n" /* pin 6 high: destination APIC ID 0 */
	"	movl $0, 0x10(%rbx)\n"
	"	movl $0x1c, (%rbx)\n" /* pin 6 low: vector 0x42, level */
	"	movl $0x8042, 0x10(%rbx)\n"
	"2:	movq 0x1000000, %rax\n"
	"	cli\n" /* look at FLAG with interrupts off, then `sti; hlt`: no wake-up lost */
	"	cmpq $0, 0x1ff000\n"
	"	jne 3f\n"
	"	sti\n"
	"	hlt\n"
	"	jmp 2b\n"
	"3:	hlt\n"
	".globl isr_msi\nisr_msi:\n"
	"	incq 0(%r15)\n"
	"	jmp 9f\n"
	".globl isr_edge\nisr_edge:\n"
	"	incq 8(%r15)\n"
	"	jmp 9f\n"
	".globl isr_level\nisr_level:\n"
	"	incq 16(%r15)\n"
	"9:	pushq %rax\n"
	"	movl $0xfee000b0, %eax\n"
	"	movl $0, (%rax)\n"
	"	popq %rax\n"
	"	iretq\n"
	".globl guest_end\nguest_end:\n"
	".popsection\n");

#define CHECK_PROG "irq-race"
#include "../check.h"

static struct vmm_vm *vm;
static unsigned char *low;
static atomic_bool running;
static atomic_ulong msis, pulses, levels, changes;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
	nanosleep(&(struct timespec){.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000}, NULL);
}

static uint64_t count(unsigned vcpu, unsigned which)
{
	return __atomic_load_n((uint64_t *)(low + COUNTS + 64 * vcpu + 8 * which),
			       __ATOMIC_RELAXED);
}

static void gate(unsigned vec, const unsigned char *handler)
{
	uint64_t off = ENTRY + (uint64_t)(handler - guest_start);
	unsigned char *g = low + IDT + 16 * vec;
	uint32_t hi = (uint32_t)(off >> 32);

	memset(g, 0, 16);
	g[0] = (unsigned char)off;
	g[1] = (unsigned char)(off >> 8);
	g[2] = VMM_GUEST_SEL_CODE;
	g[5] = 0x8e;
	g[6] = (unsigned char)(off >> 16);
	g[7] = (unsigned char)(off >> 24);
	memcpy(g + 8, &hi, 4);
}

/* MSIs to each vCPU, edge pulses on pin 5, the level line on pin 6 high then low. */
static void *raiser_main(void *arg)
{
	unsigned long i = 0;

	while (atomic_load(&running)) {
		MUST(vmm_msi_send(vm, 0xfee00000 | (uint64_t)(i % NVCPUS) << 12, VEC_MSI));
		atomic_fetch_add(&msis, 1);
		MUST(vmm_irq_set(vm, PIN_EDGE, 1));
		MUST(vmm_irq_set(vm, PIN_EDGE, 0));
		atomic_fetch_add(&pulses, 1);
		if (i % 4 == 0) {
			/* Held high a while: each EOI sends it again. */
			MUST(vmm_irq_set(vm, PIN_LEVEL, 1));
			sleep_us(300);
			MUST(vmm_irq_set(vm, PIN_LEVEL, 0));
			atomic_fetch_add(&levels, 1);
		}
		i++;
		sleep_us(200);
	}
	return NULL;
}

/* Moves "mover" back and forth and adds and removes a slot: each change pauses the vCPUs. */
static void *changer_main(void *arg)
{
	uint64_t at = MOVER;

	while (atomic_load(&running)) {
		uint64_t to = at == MOVER ? MOVER2 : MOVER;

		MUST(vmm_memslot_move(vm, at, to));
		at = to;
		MUST(vmm_memslot_alloc(vm, "spare", SPARE, 0x1000, NULL));
		MUST(vmm_memslot_remove(vm, SPARE));
		atomic_fetch_add(&changes, 1);
		sleep_us(500);
	}
	return NULL;
}

static void *run_main(void *arg)
{
	struct vmm_exit *ex = arg;

	MUST(vmm_vm_run(vm, ex));
	return NULL;
}

int main(int argc, char **argv)
{
	enum vmm_accel accel = VMM_ACCEL_KVM;
	struct vmm_vm_options opts;
	struct vmm_exit ex = VMM_EXIT_INIT;
	pthread_t raiser, changer, runner;
	double seconds = 3;
	char why[256];
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--accel=", 8)) {
			if (vmm_accel_parse(argv[i] + 8, &accel) < 0) {
				fprintf(stderr, "irq-race: unknown accel %s\n", argv[i] + 8);
				return 2;
			}
		} else if (!strncmp(argv[i], "--seconds=", 10)) {
			seconds = atof(argv[i] + 10);
		} else {
			fprintf(stderr, "usage: irq-race [--accel=kvm|emu] [--seconds=N]\n");
			return 2;
		}
	}
	if (vmm_accel_probe(accel, why, sizeof(why)) < 0) {
		printf("irq-race: %s: skipped: %s\n", vmm_accel_name(accel), why);
		return 77;
	}
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	MUST(vmm_vm_create(&opts, &vm));
	MUST(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	MUST(vmm_memslot_alloc(vm, "mover", MOVER, 0x100000, NULL));
	for (unsigned i = 0; i < NVCPUS; i++)
		MUST(vmm_vcpu_create(vm, i, NULL));
	memcpy(low + ENTRY, guest_start, (size_t)(guest_end - guest_start));
	MUST(vmm_boot_setup(vm, ENTRY));
	gate(VEC_MSI, isr_msi);
	gate(VEC_EDGE, isr_edge);
	gate(VEC_LEVEL, isr_level);
	for (unsigned i = 0; i < NVCPUS; i++) {
		struct vmm_sregs s;

		MUST(vmm_vcpu_get_sregs(vmm_vcpu_get(vm, i), &s));
		s.idt.base = IDT;
		s.idt.limit = 256 * 16 - 1;
		MUST(vmm_vcpu_set_sregs(vmm_vcpu_get(vm, i), &s));
	}
	ret = vmm_msi_send(vm, 0xfee00000, VEC_MSI);
	if (ret == -ENOSYS) {
		printf("irq-race: %s: skipped: %s\n", vmm_accel_name(accel), vmm_last_error());
		vmm_vm_destroy(vm);
		return 77;
	}
	MUST(ret);

	atomic_store(&running, true);
	CHECK(pthread_create(&runner, NULL, run_main, &ex) == 0, "pthread_create");
	CHECK(pthread_create(&raiser, NULL, raiser_main, NULL) == 0, "pthread_create");
	CHECK(pthread_create(&changer, NULL, changer_main, NULL) == 0, "pthread_create");
	for (double end = now() + seconds; now() < end;)
		sleep_us(10000);
	atomic_store(&running, false);
	pthread_join(raiser, NULL);
	pthread_join(changer, NULL);
	/* Let the guests out: the flag, then an MSI each to wake them from hlt. */
	__atomic_store_n((uint64_t *)(low + FLAG), 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < NVCPUS; i++)
		MUST(vmm_msi_send(vm, 0xfee00000 | (uint64_t)i << 12, VEC_MSI));
	pthread_join(runner, NULL);

	printf("irq-race: %s: %lu MSIs, %lu edge pulses, %lu level rounds, %lu layout changes\n",
	       vmm_accel_name(accel), atomic_load(&msis), atomic_load(&pulses),
	       atomic_load(&levels), atomic_load(&changes));
	for (unsigned i = 0; i < NVCPUS; i++)
		printf("irq-race: %s: vCPU %u took %llu MSIs, %llu edge, %llu level\n",
		       vmm_accel_name(accel), i, (unsigned long long)count(i, 0),
		       (unsigned long long)count(i, 1), (unsigned long long)count(i, 2));
	CHECK(ex.reason == VMM_EXIT_HLT, "the run ended with %s: %s",
	      vmm_exit_reason_name(ex.reason), ex.detail);
	CHECK(count(0, 0) > 0 && count(1, 0) > 0, "an MSI never reached a vCPU");
	CHECK(count(1, 1) > 0 && count(0, 1) == 0, "edge interrupts: vCPU 1 %llu, vCPU 0 %llu",
	      (unsigned long long)count(1, 1), (unsigned long long)count(0, 1));
	/* The level line reaches vCPU 0 only. */
	CHECK(count(0, 2) > 0 && count(1, 2) == 0,
	      "level interrupts: vCPU 0 %llu for %lu rounds, vCPU 1 %llu",
	      (unsigned long long)count(0, 2), atomic_load(&levels),
	      (unsigned long long)count(1, 2));
	CHECK(atomic_load(&changes) > 0, "no layout change raced");
	vmm_vm_destroy(vm);
	if (failures)
		return 1;
	printf("irq-race: %s: ok\n", vmm_accel_name(accel));
	return 0;
}
