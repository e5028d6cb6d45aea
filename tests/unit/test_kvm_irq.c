/* SPDX-License-Identifier: MIT */
/*
 * test_kvm_irq.c - specification of interrupts on the kvm backend: MSIs
 * and I/O APIC lines reach a guest's handler through KVM's local APIC, a
 * halt with interrupts off still ends the vCPU, and a reset returns each
 * local APIC to power-on.
 */
#include <criterion/criterion.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "guest_prog.h"
#include "unit.h"
#include "vmm/vmm.h"

#include "backend/kvm.h" /* the vCPU's fd: KVM_GET_LAPIC from outside the guest */

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define IDT	 0x300000ull
/* What the guest and its handlers write: */
#define READY	  0x200000ull /* 1: the guest is about to wait (sti; hlt) */
#define N_DONE	  0x200008ull /* interrupts of VEC_DONE taken */
#define N_EDGE	  0x200010ull /* ... of VEC_EDGE */
#define N_LEVEL	  0x200018ull /* ... of VEC_LEVEL */
#define VEC_DONE  0x40	      /* ends the guest's wait loop */
#define VEC_EDGE  0x41	      /* I/O APIC pin PIN_EDGE, edge-triggered */
#define VEC_LEVEL 0x42	      /* I/O APIC pin PIN_LEVEL, level-triggered */
#define PIN_EDGE  5
#define PIN_LEVEL 6

/*
 * The waiting guest: enables its local APIC (SVR bit 8, spurious vector
 * 0xff), routes PIN_EDGE to VEC_EDGE (edge) and PIN_LEVEL to VEC_LEVEL
 * (level), both to APIC ID 0, says READY and waits in `sti; hlt` until a
 * VEC_DONE interrupt came; then `cli; hlt`, which ends it. Each handler
 * counts its vector and EOIs. Addresses above 2 GiB go through a register
 * (an absolute disp32 would be sign-extended).
 */
extern const uint8_t g_wait_start[], g_wait_end[], g_isr_done[], g_isr_edge[], g_isr_level[];
__asm__(".pushsection .rodata\n"
	".globl g_wait_start\ng_wait_start:\n"
	"	movl $0xfee000f0, %eax\n"
	"	movl $0x1ff, (%rax)\n"	  /* SVR: enabled, spurious vector 0xff */
	"	movl $0xfec00000, %ebx\n" /* IOREGSEL; IOWIN at +0x10 */
	"	movl $0x1b, (%rbx)\n"	  /* pin 5 high half: destination APIC ID 0 */
	"	movl $0, 0x10(%rbx)\n"
	"	movl $0x1a, (%rbx)\n" /* pin 5 low half: vector 0x41, edge, unmasked */
	"	movl $0x41, 0x10(%rbx)\n"
	"	movl $0x1d, (%rbx)\n" /* pin 6 high half */
	"	movl $0, 0x10(%rbx)\n"
	"	movl $0x1c, (%rbx)\n" /* pin 6 low half: vector 0x42, level, unmasked */
	"	movl $0x8042, 0x10(%rbx)\n"
	"	movl $1, 0x200000\n"
	"	sti\n"
	"1:	hlt\n"
	"	cmpl $0, 0x200008\n"
	"	je 1b\n"
	"	cli\n"
	"	hlt\n"
	".globl g_isr_done\ng_isr_done:\n"
	"	incl 0x200008\n"
	"	jmp 9f\n"
	".globl g_isr_edge\ng_isr_edge:\n"
	"	incl 0x200010\n"
	"	jmp 9f\n"
	".globl g_isr_level\ng_isr_level:\n"
	"	incl 0x200018\n"
	"9:	pushq %rax\n"
	"	movl $0xfee000b0, %eax\n"
	"	movl $0, (%rax)\n" /* EOI */
	"	popq %rax\n"
	"	iretq\n"
	".globl g_wait_end\ng_wait_end:\n"
	".popsection\n");

/* Halt with interrupts off at once. */
static const uint8_t cli_hlt[] = {0xfa, 0xf4};
/* Wait for an interrupt that never comes. */
static const uint8_t sti_hlt[] = {0xfb, 0xf4, 0xeb, 0xfd}; /* sti; 1: hlt; jmp 1b */

/*
 * Change the local APIC from its power-on state, then `cli; hlt`: SVR
 * 0x1ff, TPR 0x20, LVT timer periodic vector 0x50 with a long count, LVT
 * LINT0 masked, LVT error vector 0x51.
 */
extern const uint8_t g_lapic_start[], g_lapic_end[];
__asm__(".pushsection .rodata\n"
	".globl g_lapic_start\ng_lapic_start:\n"
	"	movl $0xfee00000, %ebx\n"
	"	movl $0x1ff, 0xf0(%rbx)\n"
	"	movl $0x20, 0x80(%rbx)\n"
	"	movl $0xb, 0x3e0(%rbx)\n"
	"	movl $0x20050, 0x320(%rbx)\n"
	"	movl $0x7fffffff, 0x380(%rbx)\n"
	"	movl $0x10000, 0x350(%rbx)\n"
	"	movl $0x51, 0x370(%rbx)\n"
	"	cli\n"
	"	hlt\n"
	".globl g_lapic_end\ng_lapic_end:\n"
	".popsection\n");

static struct vmm_vm *vm;
static uint8_t *low;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(kvm_irq, .fini = teardown, .timeout = 60);

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000}, NULL);
}

static uint32_t guest_u32(uint64_t gpa)
{
	return __atomic_load_n((uint32_t *)(low + gpa), __ATOMIC_ACQUIRE);
}

/* An interrupt gate to ENTRY + (handler - g_wait_start), in the flat code segment. */
static void idt_gate(unsigned vec, const uint8_t *handler)
{
	uint64_t off = ENTRY + (uint64_t)(handler - g_wait_start);
	uint8_t *g = low + IDT + 16 * vec;

	memset(g, 0, 16);
	g[0] = (uint8_t)off;
	g[1] = (uint8_t)(off >> 8);
	g[2] = VMM_GUEST_SEL_CODE;
	g[5] = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
	g[6] = (uint8_t)(off >> 16);
	g[7] = (uint8_t)(off >> 24);
	memcpy(g + 8, (uint32_t[]){(uint32_t)(off >> 32)}, 4);
}

/* A kvm VM with RAM, nvcpus vCPUs running code at ENTRY, and the IDT of g_wait. */
static void machine(const uint8_t *code, size_t len, unsigned nvcpus)
{
	struct vmm_vm_options opts;
	struct vmm_sregs s;

	need_kvm();
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_KVM;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	for (unsigned i = 0; i < nvcpus; i++)
		OK(vmm_vcpu_create(vm, i, NULL));
	memcpy(low + ENTRY, code, len);
	OK(vmm_boot_setup(vm, ENTRY));
	idt_gate(VEC_DONE, g_isr_done);
	idt_gate(VEC_EDGE, g_isr_edge);
	idt_gate(VEC_LEVEL, g_isr_level);
	for (unsigned i = 0; i < nvcpus; i++) {
		struct vmm_vcpu *v = vmm_vcpu_get(vm, i);

		OK(vmm_vcpu_get_sregs(v, &s));
		s.idt.base = IDT;
		s.idt.limit = 256 * 16 - 1;
		OK(vmm_vcpu_set_sregs(v, &s));
	}
}

static void wait_machine(void)
{
	machine(g_wait_start, (size_t)(g_wait_end - g_wait_start), 1);
}

/* What went wrong on the driving thread: checked on the test's thread after the run. */
static const char *_Atomic thread_err;

static void thread_fail(const char *why)
{
	const char *none = NULL;

	atomic_compare_exchange_strong(&thread_err, &none, why);
}

/* Wait up to 5 s for the guest's counter at gpa to reach n. */
static bool wait_count(uint64_t gpa, uint32_t n)
{
	for (int i = 0; i < 5000 && guest_u32(gpa) < n; i++)
		sleep_ms(1);
	return guest_u32(gpa) >= n;
}

/* The guest said READY; give it time to be asleep in HLT. */
static bool wait_ready(void)
{
	if (!wait_count(READY, 1)) {
		thread_fail("the guest never got ready");
		return false;
	}
	sleep_ms(20);
	return true;
}

/* End the guest's wait: an MSI of VEC_DONE to APIC ID 0. */
static void send_done(void)
{
	if (vmm_msi_send(vm, 0xfee00000, VEC_DONE) < 0)
		thread_fail("vmm_msi_send failed");
}

static void run_with(void *(*driver)(void *), struct vmm_exit *ex)
{
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, driver, NULL), 0);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), ex));
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_null(atomic_load(&thread_err), "%s", atomic_load(&thread_err));
	cr_assert_eq(ex->reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex->reason),
		     ex->detail);
}

static void set_line(uint32_t pin, int level)
{
	if (vmm_irq_set(vm, pin, level) < 0)
		thread_fail("vmm_irq_set failed");
}

/* ---- MSIs ---- */

static void *msi_driver(void *arg)
{
	if (wait_ready())
		send_done();
	return NULL;
}

Test(kvm_irq, an_msi_from_another_thread_wakes_a_guest_halted_with_interrupts_on)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	wait_machine();
	run_with(msi_driver, &ex);
	cr_expect_eq(guest_u32(N_DONE), 1, "VEC_DONE taken %u times", guest_u32(N_DONE));
	cr_expect_eq(guest_u32(N_EDGE) + guest_u32(N_LEVEL), 0, "an interrupt nobody sent");
	cr_expect(!(ex.regs.rflags & 0x200), "the guest ended with IF set");
}

Test(kvm_irq, an_msi_the_core_refuses_never_reaches_the_guest)
{
	wait_machine();
	cr_expect_eq(vmm_msi_send(vm, 0xfed00000, VEC_DONE), -EINVAL);
	cr_expect_eq(vmm_msi_send(vm, 0xfee00000, 0x8000 | VEC_DONE), -EINVAL);
	cr_expect_eq(vmm_msi_send(vm, 0xfee00000, 0x0f), -EINVAL);
}

/* ---- I/O APIC lines ---- */

static void *edge_driver(void *arg)
{
	if (!wait_ready())
		return NULL;
	if (vmm_irq_set(vm, PIN_EDGE, 1) < 0)
		thread_fail("vmm_irq_set failed");
	if (!wait_count(N_EDGE, 1))
		thread_fail("a rising edge never reached the guest");
	sleep_ms(20);
	if (guest_u32(N_EDGE) != 1)
		thread_fail("an edge line held high was delivered more than once");
	set_line(PIN_EDGE, 0);
	set_line(PIN_EDGE, 1);
	if (!wait_count(N_EDGE, 2))
		thread_fail("the second rising edge never reached the guest");
	set_line(PIN_EDGE, 0);
	send_done();
	return NULL;
}

Test(kvm_irq, an_edge_line_interrupts_once_per_rising_edge)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	wait_machine();
	run_with(edge_driver, &ex);
	cr_expect_eq(guest_u32(N_EDGE), 2, "VEC_EDGE taken %u times", guest_u32(N_EDGE));
	cr_expect_eq(guest_u32(N_LEVEL), 0);
}

static uint32_t level_after_low;

static void *level_driver(void *arg)
{
	if (!wait_ready())
		return NULL;
	if (vmm_irq_set(vm, PIN_LEVEL, 1) < 0)
		thread_fail("vmm_irq_set failed");
	/* Each EOI with the line still high clears remote IRR and sends again. */
	if (!wait_count(N_LEVEL, 3))
		thread_fail("a level line held high was not delivered again after its EOI");
	set_line(PIN_LEVEL, 0);
	level_after_low = guest_u32(N_LEVEL);
	sleep_ms(20);
	send_done();
	return NULL;
}

Test(kvm_irq, a_level_line_interrupts_again_after_each_eoi_while_high_and_not_once_low)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint32_t n;

	wait_machine();
	run_with(level_driver, &ex);
	n = guest_u32(N_LEVEL);
	cr_expect_geq(n, 3);
	/* One message may have been on its way when the line fell. */
	cr_expect_leq(n, level_after_low + 1, "%u interrupts after the line fell at %u", n,
		      level_after_low);
	cr_expect_eq(guest_u32(N_EDGE), 0);
}

static void *level_masked_driver(void *arg)
{
	if (!wait_ready())
		return NULL;
	/* Raised and lowered while the guest waits: exactly one interrupt per EOI round. */
	set_line(PIN_LEVEL, 1);
	if (!wait_count(N_LEVEL, 1))
		thread_fail("a level line never reached the guest");
	set_line(PIN_LEVEL, 0);
	sleep_ms(20);
	level_after_low = guest_u32(N_LEVEL);
	set_line(PIN_LEVEL, 1);
	if (!wait_count(N_LEVEL, level_after_low + 1))
		thread_fail("a level line raised again never reached the guest");
	set_line(PIN_LEVEL, 0);
	send_done();
	return NULL;
}

Test(kvm_irq, a_level_line_raised_again_after_it_fell_interrupts_again)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	wait_machine();
	run_with(level_masked_driver, &ex);
	cr_expect_gt(guest_u32(N_LEVEL), level_after_low);
}

/* ---- halts ---- */

Test(kvm_irq, cli_hlt_ends_the_vcpu_soon)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint64_t t0;

	machine(cli_hlt, sizeof(cli_hlt), 1);
	t0 = now_ns();
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	/* guest.h: within about 50 ms; the watch usually sees it in well under 1 ms. */
	cr_expect_lt(now_ns() - t0, 200000000ull, "the halt was noticed after %llu us",
		     (unsigned long long)(now_ns() - t0) / 1000);
	cr_expect_eq(ex.regs.rip, ENTRY + sizeof(cli_hlt), "RIP 0x%llx is not past the hlt",
		     (unsigned long long)ex.regs.rip);
}

Test(kvm_irq, a_vcpu_run_again_after_its_halt_goes_on_past_the_hlt)
{
	static const uint8_t twice[] = {0xfa, 0xf4, 0xf4, 0xf4}; /* cli; hlt; hlt; hlt */
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(twice, sizeof(twice), 1);
	for (unsigned i = 1; i <= 3; i++) {
		OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
		cr_assert_eq(ex.reason, VMM_EXIT_HLT, "run %u: exit %s: %s", i,
			     vmm_exit_reason_name(ex.reason), ex.detail);
		cr_expect_eq(ex.regs.rip, ENTRY + 1 + i, "run %u stopped at 0x%llx", i,
			     (unsigned long long)ex.regs.rip);
	}
}

Test(kvm_irq, every_vcpu_halted_with_interrupts_off_ends_the_vm_run)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(cli_hlt, sizeof(cli_hlt), 3);
	OK(vmm_vm_run(vm, &ex));
	cr_expect_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
}

static void *stop_later(void *arg)
{
	sleep_ms(150);
	vmm_vm_stop(vm, 7);
	return NULL;
}

Test(kvm_irq, a_halt_with_interrupts_on_waits_until_stopped)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	pthread_t t;

	machine(sti_hlt, sizeof(sti_hlt), 1);
	cr_assert_eq(pthread_create(&t, NULL, stop_later, NULL), 0);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_expect_eq(ex.reason, VMM_EXIT_STOPPED, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(ex.exit_code, 7);
}

/* ---- the local APIC's power-on state ---- */

static uint32_t lapic_reg(unsigned index, unsigned off)
{
	struct kvm_vcpu *kv = vmm_vcpu_get(vm, index)->be;
	struct kvm_lapic_state l;
	uint32_t v;

	cr_assert_eq(ioctl(kv->fd, KVM_GET_LAPIC, &l), 0);
	memcpy(&v, l.regs + off, 4);
	return v;
}

/* guest.h's power-on state, as the emu model must have it too. */
static void expect_power_on(unsigned index)
{
	static const struct {
		unsigned off;
		uint32_t v;
	} want[] = {
	    {0x30, 0x00050014}, {0x80, 0},	  {0xe0, 0xffffffff}, {0xf0, 0xff},
	    {0x320, 0x10000},	{0x330, 0x10000}, {0x340, 0x10000},   {0x360, 0x10000},
	    {0x370, 0x10000},	{0x380, 0},
	};

	cr_expect_eq(lapic_reg(index, 0x20), index << 24, "vCPU %u: ID 0x%x", index,
		     lapic_reg(index, 0x20));
	cr_expect_eq(lapic_reg(index, 0x350), index == 0 ? 0x700u : 0x10000u,
		     "vCPU %u: LVT LINT0 0x%x", index, lapic_reg(index, 0x350));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_eq(lapic_reg(index, want[i].off), want[i].v,
			     "vCPU %u: register 0x%x is 0x%x, not 0x%x", index, want[i].off,
			     lapic_reg(index, want[i].off), want[i].v);
}

Test(kvm_irq, each_local_apic_starts_as_guest_h_says)
{
	machine(cli_hlt, sizeof(cli_hlt), 2);
	expect_power_on(0);
	expect_power_on(1);
}

Test(kvm_irq, a_reset_returns_the_local_apic_to_power_on)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(g_lapic_start, (size_t)(g_lapic_end - g_lapic_start), 1);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_assert_eq(lapic_reg(0, 0xf0), 0x1ff, "the guest did not enable its APIC");
	cr_assert_eq(lapic_reg(0, 0x320), 0x20050);
	OK(vmm_vm_reset(vm));
	expect_power_on(0);
}

Test(kvm_irq, cpuid_offers_an_xapic_without_x2apic_or_tsc_deadline)
{
	static const uint8_t code[] = {
	    0xb8, 0x01, 0x00, 0x00, 0x00, /* mov eax, 1 */
	    0x31, 0xc9,			  /* xor ecx, ecx */
	    0x0f, 0xa2,			  /* cpuid */
	    0xfa, 0xf4,			  /* cli; hlt */
	};
	struct vmm_exit ex = VMM_EXIT_INIT;

	machine(code, sizeof(code), 1);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "%s", ex.detail);
	cr_expect(ex.regs.rdx & (1u << 9), "CPUID.1:EDX.APIC is clear");
	cr_expect(!(ex.regs.rcx & (1u << 21)), "CPUID.1:ECX.x2APIC is set");
	cr_expect(!(ex.regs.rcx & (1u << 24)), "CPUID.1:ECX.TSC-deadline is set");
}

/* KVM says -1 (EPERM) when no local APIC matches: as on the bus, the message is just lost. */
Test(kvm_irq, an_msi_that_no_local_apic_takes_is_not_an_error)
{
	struct vmm_vm_options opts;

	need_kvm();
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_KVM;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_msi_send(vm, 0xfee00000u | 0xffu << 12, 0x40)); /* broadcast, but no vCPU yet */
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_msi_send(vm, 0xfee00000u | 7u << 12, 0x40)); /* APIC ID 7: nobody */
}
