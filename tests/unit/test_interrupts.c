/* SPDX-License-Identifier: MIT */
/*
 * test_interrupts.c - the guest's local APIC takes interrupts through the IDT: MSIs wake a halted
 * vCPU, IPIs go between vCPUs, the timer fires once or periodically, STI's shadow holds. The same
 * on emu and on kvm.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest_prog.h"
#include "unit.h"
#include "vmm/vmm.h"

#define LOW_SIZE (16ull << 20)
#define ENTRY	 0x100000ull
#define IDT	 0x180000ull
#define OUT	 0x200000ull /* struct seen */

struct seen {
	uint64_t count;	      /* interrupts the handler took */
	uint64_t version;     /* the LAPIC version register, as the guest read it */
	uint64_t ready;	      /* the guest is about to wait */
	uint64_t done;	      /* the guest reached its end */
	uint64_t vector;      /* the last vector taken (the handler's stub says) */
	uint64_t marker_seen; /* the shadow test's marker when the handler ran */
	uint64_t sent;	      /* the IPI test's sender finished */
	uint64_t marker;      /* the shadow test: set by the instruction after STI */
};

#define MODE_MSI_HALT 1
#define MODE_MSI_SPIN 2
#define MODE_IPI      3
#define MODE_ONESHOT  4
#define MODE_PERIODIC 5
#define MODE_SHADOW   6
#define MODE_LEVEL    7

extern const uint8_t g_irq_start[], g_irq_end[], g_irq_h40[], g_irq_h41[], g_irq_h42[], g_irq_h43[],
    g_irq_h44[];
__asm__(
    ".pushsection .rodata\n"
    ".globl g_irq_start\ng_irq_start:\n"
    "	mov $0xfee00000, %esi\n	mov 0x030(%rsi), %eax\n	mov %rax, 0x200008\n"
    "	cmp $-1, %eax\n	je end\n"   /* no local APIC: nothing to test */
    "	movl $0x1ff, 0x0f0(%rsi)\n" /* SVR: software enabled, spurious 0xff */
    "	cmp $1, %ebx\n	je msi_halt\n"
    "	cmp $2, %ebx\n	je msi_spin\n"
    "	cmp $3, %ebx\n	je ipi\n"
    "	cmp $4, %ebx\n	je oneshot\n"
    "	cmp $5, %ebx\n	je periodic\n"
    "	cmp $6, %ebx\n	je shadow\n"
    "	cmp $7, %ebx\n	je level\n"
    "	jmp end\n"
    "msi_halt:\n	movq $1, 0x200010\n	sti\n	hlt\n	jmp end\n"
    "msi_spin:\n	movq $1, 0x200010\n	sti\n"
    "1:	cmpq $0, 0x200000\n	je 1b\n	jmp end\n"
    "ipi:	cmpl $0, 16(%rdi)\n	jne ipi_target\n"
    "1:	cmpq $0, 0x200010\n	je 1b\n" /* wait for vCPU 1 */
    "	movl $0x01000000, 0x310(%rsi)\n" /* ICR high: APIC ID 1 */
    "	movl $0x41, 0x300(%rsi)\n"	 /* ICR low: fixed, vector 0x41 */
    "1:	cmpq $0, 0x200000\n	je 1b\n"
    "	movq $1, 0x200030\n	cli\n	hlt\n"
    "ipi_target:\n	movq $1, 0x200010\n	sti\n	hlt\n	jmp end\n"
    "oneshot:\n	movl $0xb, 0x3e0(%rsi)\n" /* divide by 1 */
    "	movl $0x42, 0x320(%rsi)\n"	  /* LVT timer: one-shot, vector 0x42 */
    "	movl $1000000, 0x380(%rsi)\n"	  /* 1 ms */
    "	sti\n	hlt\n"
    "	mov $3000000, %ecx\n1:	dec %ecx\n	jnz 1b\n" /* a few ms more */
    "	jmp end\n"
    "periodic:\n	movl $0xb, 0x3e0(%rsi)\n"
    "	movl $0x20042, 0x320(%rsi)\n" /* periodic */
    "	movl $1000000, 0x380(%rsi)\n"
    "	sti\n"
    "1:	hlt\n	cmpq $10, 0x200000\n	jb 1b\n"
    "	movl $0x10000, 0x320(%rsi)\n	jmp end\n" /* masked */
    "shadow:\n	movl $0x40043, 0x300(%rsi)\n"	   /* self-IPI 0x43 with IF clear */
    "	sti\n	movq $1, 0x200038\n"
    /* then wait for it (bounded): a KVM without interrupt-window exits (PVM) is late */
    "	mov $10000000, %ecx\n"
    "9:	cmpq $0, 0x200000\n	jne 8f\n	mov 0x30(%rsi), %eax\n	dec %ecx\n	jnz 9b\n"
    "8:	cli\n	jmp end\n"
    "level:	mov $0xfec00000, %r8d\n"
    "	movl $0x1a, (%r8)\n	movl $0x8044, 0x10(%r8)\n" /* pin 5: vector 0x44, level */
    "	movl $0x1b, (%r8)\n	movl $0, 0x10(%r8)\n"	   /* to APIC ID 0 */
    "	movq $1, 0x200010\n	sti\n"
    "1:	hlt\n	cmpq $3, 0x200000\n	jb 1b\n	jmp end\n"
    "end:	cli\n	movq $1, 0x200018\n	hlt\n"
    ".macro IRQ vec\n"
    ".globl g_irq_h\\vec\ng_irq_h\\vec:\n"
    "	push %rax\n	push %rsi\n	mov $0xfee00000, %esi\n	incq 0x200000\n	movq "
    "$0x\\vec, 0x200020\n"
    "	mov 0x200038, %rax\n	mov %rax, 0x200028\n"
    "	movl $0, 0x0b0(%rsi)\n" /* EOI */
    "	pop %rsi\n	pop %rax\n	iretq\n"
    ".endm\n"
    "	IRQ 40\n	IRQ 41\n	IRQ 42\n	IRQ 43\n"
    /* 0x44, the level line: its third interrupt masks pin 5, as a driver acks its device */
    ".globl g_irq_h44\ng_irq_h44:\n"
    "	push %rax\n	push %rsi\n	mov $0xfec00000, %esi\n"
    "	incq 0x200000\n	movq $0x44, 0x200020\n"
    "	cmpq $3, 0x200000\n	jb 1f\n"
    "	movl $0x1a, (%rsi)\n	movl $0x18044, 0x10(%rsi)\n"
    "1:	mov $0xfee00000, %esi\n	movl $0, 0xb0(%rsi)\n"
    "	pop %rsi\n	pop %rax\n	iretq\n"
    ".globl g_irq_end\ng_irq_end:\n"
    ".popsection\n");

static struct vmm_vm *vm;
static uint8_t *low;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(irq_emu, .fini = teardown, .timeout = 60);
TestSuite(irq_kvm, .fini = teardown, .timeout = 60);

static void gate(unsigned v, const uint8_t *label)
{
	uint64_t target = ENTRY + (uint64_t)(label - g_irq_start);
	uint8_t g[16] = {0};

	g[0] = (uint8_t)target;
	g[1] = (uint8_t)(target >> 8);
	g[2] = 0x08;
	g[5] = 0x8e; /* present interrupt gate */
	g[6] = (uint8_t)(target >> 16);
	g[7] = (uint8_t)(target >> 24);
	memcpy(low + IDT + v * 16, g, sizeof(g));
}

static void machine(enum vmm_accel accel, unsigned nvcpus, unsigned mode)
{
	struct vmm_vm_options opts;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	for (unsigned i = 0; i < nvcpus; i++)
		OK(vmm_vcpu_create(vm, i, NULL));
	memcpy(low + ENTRY, g_irq_start, (size_t)(g_irq_end - g_irq_start));
	OK(vmm_boot_setup(vm, ENTRY));
	gate(0x40, g_irq_h40);
	gate(0x41, g_irq_h41);
	gate(0x42, g_irq_h42);
	gate(0x43, g_irq_h43);
	gate(0x44, g_irq_h44);
	for (unsigned i = 0; i < nvcpus; i++) {
		struct vmm_vcpu *vcpu = vmm_vcpu_get(vm, i);
		struct vmm_sregs sr;
		struct vmm_regs r;

		cr_assert_not_null(vcpu);
		OK(vmm_vcpu_get_sregs(vcpu, &sr));
		sr.idt.base = IDT;
		sr.idt.limit = 0xfff;
		OK(vmm_vcpu_set_sregs(vcpu, &sr));
		OK(vmm_vcpu_get_regs(vcpu, &r));
		r.rbx = mode;
		OK(vmm_vcpu_set_regs(vcpu, &r));
	}
}

static struct seen seen(void)
{
	struct seen s;

	OK(vmm_guest_read(vm, OUT, &s, sizeof(s)));
	return s;
}

struct runner {
	pthread_t t;
	struct vmm_exit ex;
	int ret;
};

static void *run_main(void *arg)
{
	struct runner *r = arg;

	r->ex = (struct vmm_exit)VMM_EXIT_INIT;
	r->ret = vmm_vm_run(vm, &r->ex);
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A guest stopped with interrupts off, at its end: the run's exit is HLT. */
static void expect_end(struct vmm_exit ex)
{
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_assert_eq(seen().done, 1, "the guest did not reach its end");
}

/* kvm without an in-kernel local APIC reads all-ones at the APIC page: not what is tested. */
static void need_lapic(enum vmm_accel accel)
{
	if (accel == VMM_ACCEL_KVM && (uint32_t)seen().version == 0xffffffffu)
		cr_skip_test("kvm: this build's kvm backend has no local APIC yet (the APIC page "
			     "reads all-ones)");
	cr_assert_eq(seen().version & 0xff, 0x14, "LAPIC version 0x%llx",
		     (unsigned long long)seen().version);
}

/* Start the guest on a thread, wait until it says it waits, give it time to halt. */
static void start_and_wait_ready(struct runner *r)
{
	uint64_t t0 = now_ns();

	cr_assert_eq(pthread_create(&r->t, NULL, run_main, r), 0);
	while (!seen().ready && now_ns() - t0 < 10000000000ull)
		usleep(1000);
	usleep(20000);
}

static void finish(struct runner *r)
{
	cr_assert_eq(pthread_join(r->t, NULL), 0);
	OK(r->ret);
}

static void msi_to_vcpu0(enum vmm_accel accel, unsigned mode)
{
	struct runner r;
	int ret;

	machine(accel, 1, mode);
	start_and_wait_ready(&r);
	ret = vmm_msi_send(vm, 0xfee00000ull, 0x40);
	if (ret < 0) {
		vmm_vm_stop(vm, 0);
		finish(&r);
		if (accel == VMM_ACCEL_KVM && ret == -ENOSYS)
			cr_skip_test("kvm: %s", vmm_last_error());
		OK(ret);
	}
	finish(&r);
	need_lapic(accel);
	expect_end(r.ex);
	cr_expect_eq(seen().count, 1);
	cr_expect_eq(seen().vector, 0x40);
}

TWIN_TESTS(irq_emu, irq_kvm, an_msi_wakes_a_vcpu_halted_with_interrupts_on)
{
	msi_to_vcpu0(accel, MODE_MSI_HALT);
}

TWIN_TESTS(irq_emu, irq_kvm, an_msi_interrupts_a_running_vcpu)
{
	msi_to_vcpu0(accel, MODE_MSI_SPIN);
}

TWIN_TESTS(irq_emu, irq_kvm, an_ipi_reaches_the_other_vcpu)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(accel, 2, MODE_IPI);
	OK(vmm_vm_run(vm, &ex));
	need_lapic(accel);
	expect_end(ex);
	cr_expect_eq(seen().count, 1);
	cr_expect_eq(seen().vector, 0x41);
	cr_expect_eq(seen().sent, 1);
}

TWIN_TESTS(irq_emu, irq_kvm, a_one_shot_timer_fires_once)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint64_t t0 = now_ns();

	machine(accel, 1, MODE_ONESHOT);
	OK(vmm_vm_run(vm, &ex));
	need_lapic(accel);
	expect_end(ex);
	cr_expect_eq(seen().count, 1, "fired %llu times", (unsigned long long)seen().count);
	cr_expect_eq(seen().vector, 0x42);
	cr_expect_geq(now_ns() - t0, 1000000ull);
}

TWIN_TESTS(irq_emu, irq_kvm, a_periodic_timer_fires_at_its_period)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint64_t t0 = now_ns(), dt;

	machine(accel, 1, MODE_PERIODIC);
	OK(vmm_vm_run(vm, &ex));
	dt = now_ns() - t0;
	need_lapic(accel);
	expect_end(ex);
	cr_expect_geq(seen().count, 10);
	/* Ten 1 ms periods: at least 9 ms (the first may start late), at most a loaded host's 2 s.
	 */
	cr_expect_geq(dt, 9000000ull, "ten periods in %llu ns", (unsigned long long)dt);
	cr_expect_leq(dt, 2000000000ull, "ten periods in %llu ns", (unsigned long long)dt);
}

TWIN_TESTS(irq_emu, irq_kvm, an_interrupt_pending_at_sti_waits_for_the_next_instruction)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(accel, 1, MODE_SHADOW);
	OK(vmm_vm_run(vm, &ex));
	need_lapic(accel);
	expect_end(ex);
	cr_expect_eq(seen().count, 1, "taken %llu times", (unsigned long long)seen().count);
	cr_expect_eq(seen().vector, 0x43);
	cr_expect_eq(seen().marker_seen, 1,
		     "the handler ran before the instruction after STI (marker %llu)",
		     (unsigned long long)seen().marker_seen);
}

/* A level line the host holds high comes back after each EOI (the I/O APIC's remote IRR). */
TWIN_TESTS(irq_emu, irq_kvm, a_level_line_held_high_is_delivered_again_after_each_eoi)
{
	struct runner r;

	machine(accel, 1, MODE_LEVEL);
	start_and_wait_ready(&r);
	OK(vmm_irq_set(vm, 5, 1));
	finish(&r);
	need_lapic(accel);
	expect_end(r.ex);
	cr_expect_eq(seen().count, 3, "taken %llu times", (unsigned long long)seen().count);
	cr_expect_eq(seen().vector, 0x44);
	OK(vmm_irq_set(vm, 5, 0));
}

/* A stop reaches a vCPU halted with interrupts on: the run ends STOPPED, not HLT. */
TWIN_TESTS(irq_emu, irq_kvm, a_halted_vcpu_stops_when_the_vm_is_stopped)
{
	struct runner r;

	machine(accel, 1, MODE_MSI_HALT);
	start_and_wait_ready(&r);
	need_lapic(accel);
	vmm_vm_stop(vm, 7);
	finish(&r);
	cr_assert_eq(r.ex.reason, VMM_EXIT_STOPPED, "exit %s: %s",
		     vmm_exit_reason_name(r.ex.reason), r.ex.detail);
	cr_expect_eq(seen().count, 0);
	cr_expect_eq(seen().done, 0);
}

/* A layout change pauses a halted vCPU, which stays halted: only the MSI after it wakes it. */
TWIN_TESTS(irq_emu, irq_kvm, a_layout_change_does_not_wake_a_halted_vcpu)
{
	struct runner r;

	machine(accel, 1, MODE_MSI_HALT);
	start_and_wait_ready(&r);
	need_lapic(accel);
	OK(vmm_memslot_alloc(vm, "more", 0x2000000, 0x100000, NULL));
	usleep(20000);
	cr_expect_eq(seen().done, 0, "the layout change woke the guest");
	if (vmm_msi_send(vm, 0xfee00000ull, 0x40) < 0)
		vmm_vm_stop(vm, 0);
	finish(&r);
	expect_end(r.ex);
	cr_expect_eq(seen().count, 1);
}
