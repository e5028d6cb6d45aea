/* SPDX-License-Identifier: MIT */
/*
 * test_emu_irq.c - the emu backend's interrupt plumbing seen from inside: the calibration that
 * exception delivery needs, a halted vCPU and kicks, irq_reset.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "backend/emu.h"
#include "unit.h"
#include "vmm_internal.h"

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define IDT	 0x180000ull
#define COUNT	 0x200000ull

/* Enable the APIC, then sti; hlt; a handler for 0x40 counts and EOIs; then cli; hlt. */
extern const uint8_t ge_halt[], ge_halt_end[], ge_handler[];
__asm__(".pushsection .rodata\n"
	".globl ge_halt, ge_halt_end, ge_handler\n"
	"ge_halt:\n"
	"	mov $0xfee00000, %esi\n	movl $0x1ff, 0xf0(%rsi)\n"
	"	sti\n	hlt\n	cli\n	hlt\n"
	"ge_handler:\n"
	"	incq 0x200000\n	movl $0, 0xb0(%rsi)\n	iretq\n"
	"ge_halt_end:\n"
	".popsection\n");

static struct vmm_vm *vm;
static struct vmm_vcpu *vcpu;
static uint8_t *low;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(emu_irq, .fini = teardown, .timeout = 60);

static void machine(void)
{
	struct vmm_vm_options opts;
	struct vmm_sregs sr;
	uint64_t h = ENTRY + (uint64_t)(ge_handler - ge_halt);
	uint8_t *g;

	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_vcpu_create(vm, 0, &vcpu));
	memcpy(low + ENTRY, ge_halt, (size_t)(ge_halt_end - ge_halt));
	OK(vmm_boot_setup(vm, ENTRY));
	g = low + IDT + 0x40 * 16;
	g[0] = (uint8_t)h;
	g[1] = (uint8_t)(h >> 8);
	g[2] = 0x08;
	g[5] = 0x8e;
	g[6] = (uint8_t)(h >> 16);
	g[7] = (uint8_t)(h >> 24);
	OK(vmm_vcpu_get_sregs(vcpu, &sr));
	sr.idt.base = IDT;
	sr.idt.limit = 0xfff;
	OK(vmm_vcpu_set_sregs(vcpu, &sr));
}

/*
 * This Unicorn's hidden exception state was found: without it, exceptions
 * would end the run as before (and every exception test would fail).
 */
Test(emu_irq, the_engine_calibration_finds_the_error_code_and_the_exception_in_flight)
{
	const char *why = NULL;

	cr_assert(vmmi_emu_events_ready(&why), "calibration failed: %s", why);
	cr_expect_gt(vmmi_emu_context_size(), 0);
}

struct run_ctx {
	struct vmm_exit ex;
	int ret;
};

static void *run_main(void *arg)
{
	struct run_ctx *r = arg;

	r->ex = (struct vmm_exit)VMM_EXIT_INIT;
	r->ret = vm->ops->run(vcpu, &r->ex);
	return NULL;
}

/* Run the backend once on a thread; kick it after a while if kick is set. */
static struct run_ctx run_once(bool kick)
{
	struct run_ctx r;
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, run_main, &r), 0);
	if (kick) {
		usleep(30000);
		vm->ops->kick(vcpu);
	}
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(r.ret, 0, "run: %d", r.ret);
	return r;
}

Test(emu_irq, a_kick_returns_a_halted_vcpu_to_the_core_still_halted)
{
	struct emu_vcpu *ev;
	struct run_ctx r;

	machine();
	ev = vcpu->be;
	r = run_once(true);
	cr_assert_eq(r.ex.reason, VMM_EXIT_NONE, "exit %s: %s", vmm_exit_reason_name(r.ex.reason),
		     r.ex.detail);
	cr_expect(ev->apic.halted);
	/* Kicked again: the next run waits in HLT again instead of going past it. */
	r = run_once(true);
	cr_assert_eq(r.ex.reason, VMM_EXIT_NONE);
	cr_expect_eq(*(volatile uint64_t *)(void *)(low + COUNT), 0);
	/* Only an interrupt ends the wait: the handler runs, then cli; hlt ends the run. */
	OK(vmm_msi_send(vm, 0xfee00000ull, 0x40));
	r = run_once(false);
	cr_assert_eq(r.ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(r.ex.reason),
		     r.ex.detail);
	cr_expect_eq(*(volatile uint64_t *)(void *)(low + COUNT), 1);
	cr_expect(!ev->apic.halted);
}

Test(emu_irq, irq_reset_returns_the_local_apic_to_power_on_and_ends_the_halt)
{
	struct emu_vcpu *ev;

	machine();
	ev = vcpu->be;
	vmmi_lapic_write(&ev->apic.lapic, 0xf0, 0x1ff, vmmi_emu_now());
	vmmi_lapic_write(&ev->apic.lapic, 0x80, 0x20, vmmi_emu_now());
	ev->apic.halted = true;
	OK(vm->ops->irq_reset(vcpu));
	cr_expect_eq(vmmi_lapic_read(&ev->apic.lapic, 0xf0, vmmi_emu_now()), 0xff);
	cr_expect_eq(vmmi_lapic_read(&ev->apic.lapic, 0x80, vmmi_emu_now()), 0);
	cr_expect(!ev->apic.halted);
}

/* The APIC page belongs to each vCPU: a guest read of its ID register answers its own. */
Test(emu_irq, each_vcpu_reads_its_own_apic_id_from_the_apic_page)
{
	struct vmm_vcpu *v1;
	uint64_t value = 0;

	machine();
	OK(vmm_vcpu_create(vm, 1, &v1));
	cr_assert(vmmi_emu_lapic_access(v1->be, VMM_GUEST_LAPIC_BASE + 0x20, 4, false, &value));
	cr_expect_eq(value >> 24, 1);
	cr_assert(vmmi_emu_lapic_access(vcpu->be, VMM_GUEST_LAPIC_BASE + 0x20, 4, false, &value));
	cr_expect_eq(value >> 24, 0);
	cr_expect(
	    !vmmi_emu_lapic_access(vcpu->be, VMM_GUEST_LAPIC_BASE + 0x1000, 4, false, &value));
}
