/* SPDX-License-Identifier: MIT */
/*
 * test_kvm_linux_vcpu.c - specification of kvm's linux_vcpu op: the CPUID a Linux guest's vCPUs
 * read (KVM's own, the hypervisor bit, TSC-deadline, kvmclock's leaves, each APIC id) and how
 * they start (vCPU 0 runs, the others wait for INIT/SIPI, after a reset too); guest.h's vCPUs
 * of a VM not booted so keep their own CPUID and all run.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guest_prog.h"
#include "unit.h"
#include "vmm/vmm.h"

#include "backend/kvm.h" /* the vCPU's fd and the VM's supported CPUID, the ops table */

#define ENTRY	 0x100000ull
#define OUT	 0x200000ull
#define LOW_SIZE (16ull << 20)
#define NVCPUS	 3

#define ECX_X2APIC	 (1u << 21)
#define ECX_TSC_DEADLINE (1u << 24)
#define ECX_HYPERVISOR	 (1u << 31)

static struct vmm_vm *vm;
static struct kvm_cpuid2 *got;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
	free(got);
	got = NULL;
}

TestSuite(kvm_linux_vcpu, .fini = teardown, .timeout = 60);

/* A kvm VM of n vCPUs with LOW_SIZE of RAM at 0. */
static void make_vm(unsigned n)
{
	struct vmm_vm_options opts;

	need_kvm();
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_KVM;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, NULL));
	for (unsigned i = 0; i < n; i++)
		OK(vmm_vcpu_create(vm, i, NULL));
}

static struct kvm_vcpu *kvcpu(unsigned i)
{
	return vmm_vcpu_get(vm, i)->be;
}

static void linux_vcpus(void)
{
	cr_assert_not_null(vm->ops->linux_vcpu, "kvm has no linux_vcpu op");
	for (unsigned i = 0; i < vm->nvcpus; i++)
		OK(vm->ops->linux_vcpu(vmm_vcpu_get(vm, i)));
}

/* KVM_GET_CPUID2 of vCPU i into got. */
static void get_cpuid(unsigned i)
{
	free(got);
	got = calloc(1, sizeof(*got) + 512 * sizeof(got->entries[0]));
	cr_assert_not_null(got);
	got->nent = 512;
	cr_assert_eq(ioctl(kvcpu(i)->fd, KVM_GET_CPUID2, got), 0, "KVM_GET_CPUID2 on vCPU %u: %m",
		     i);
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t function,
					   uint32_t index)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == function && c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

static const struct kvm_cpuid_entry2 *leaf(uint32_t function)
{
	const struct kvm_cpuid_entry2 *e = find(got, function, 0);

	cr_assert_not_null(e, "no CPUID leaf 0x%x", function);
	return e;
}

static uint32_t mp_state(unsigned i)
{
	struct kvm_mp_state mp;

	cr_assert_eq(ioctl(kvcpu(i)->fd, KVM_GET_MP_STATE, &mp), 0, "KVM_GET_MP_STATE: %m");
	return mp.mp_state;
}

static bool tsc_deadline_cap(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int r;

	cr_assert_geq(fd, 0, "/dev/kvm: %m");
	r = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER);
	close(fd);
	return r > 0;
}

Test(kvm_linux_vcpu, each_vcpu_reads_its_index_as_its_apic_id_in_every_leaf_with_one)
{
	unsigned checked = 0;

	make_vm(NVCPUS);
	linux_vcpus();
	for (unsigned i = 0; i < NVCPUS; i++) {
		get_cpuid(i);
		cr_expect_eq(leaf(1)->ebx >> 24, i, "vCPU %u: CPUID 1 EBX 0x%x", i, leaf(1)->ebx);
		for (unsigned n = 0; n < got->nent; n++) {
			const struct kvm_cpuid_entry2 *e = &got->entries[n];

			if (e->function == 0xb || e->function == 0x1f) {
				cr_expect_eq(e->edx, i, "vCPU %u: CPUID 0x%x.%u EDX %u", i,
					     e->function, e->index, e->edx);
				checked++;
			} else if (e->function == 0x8000001e) {
				cr_expect_eq(e->eax, i, "vCPU %u: CPUID 0x8000001e EAX %u", i,
					     e->eax);
				checked++;
			}
		}
	}
	cr_log_info("checked leaf 1 and %u entries of 0xb, 0x1f and 0x8000001e", checked);
}

Test(kvm_linux_vcpu, cpuid_1_says_hypervisor_and_tsc_deadline_iff_kvm_emulates_it)
{
	bool cap;

	make_vm(2);
	cap = tsc_deadline_cap();
	linux_vcpus();
	for (unsigned i = 0; i < 2; i++) {
		get_cpuid(i);
		cr_expect(leaf(1)->ecx & ECX_HYPERVISOR, "vCPU %u: CPUID 1 ECX 0x%x", i,
			  leaf(1)->ecx);
		cr_expect_eq(!!(leaf(1)->ecx & ECX_TSC_DEADLINE), cap,
			     "vCPU %u: CPUID 1 ECX 0x%x, KVM_CAP_TSC_DEADLINE_TIMER %d", i,
			     leaf(1)->ecx, cap);
	}
}

/*
 * KVM_GET_CPUID2 of a vCPU given KVM's supported CPUID unchanged, created
 * here in the same VM (index NVCPUS, which the VM does not use): KVM, and
 * PVM more so (it adds the host's features it cannot hide), shows a vCPU's
 * CPUID changed from what was set, in the same way for every vCPU.
 */
static struct kvm_cpuid2 *reference_cpuid(void)
{
	const struct kvm_vm *k = vm->be;
	size_t size = sizeof(*k->cpuid) + k->cpuid->nent * sizeof(k->cpuid->entries[0]);
	struct kvm_cpuid2 *ref = calloc(1, sizeof(*ref) + 512 * sizeof(ref->entries[0]));
	int fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)NVCPUS);

	cr_assert_not_null(ref);
	cr_assert_geq(fd, 0, "KVM_CREATE_VCPU: %m");
	memcpy(ref, k->cpuid, size);
	cr_assert_eq(ioctl(fd, KVM_SET_CPUID2, ref), 0, "KVM_SET_CPUID2: %m");
	ref->nent = 512;
	cr_assert_eq(ioctl(fd, KVM_GET_CPUID2, ref), 0, "KVM_GET_CPUID2: %m");
	close(fd);
	return ref;
}

/* Every other bit is KVM's: nothing cleared (x2APIC stays), nothing made up. */
Test(kvm_linux_vcpu, every_other_leaf_is_kvms_supported_cpuid_as_it_is)
{
	struct kvm_cpuid2 *ref;
	unsigned compared = 0;

	make_vm(2);
	linux_vcpus();
	get_cpuid(1);
	ref = reference_cpuid();
	for (unsigned n = 0; n < ref->nent; n++) {
		const struct kvm_cpuid_entry2 *s = &ref->entries[n];
		const struct kvm_cpuid_entry2 *e = find(got, s->function, s->index);
		uint32_t ecx_mask = ~0u, ebx_mask = ~0u;

		cr_expect_not_null(e, "supported leaf 0x%x.%u is missing", s->function, s->index);
		if (!e)
			continue;
		switch (s->function) {
		case 0xb:
		case 0x1f:
		case 0x8000001e:
			continue; /* APIC ids: the test above */
		case 1:
			ebx_mask = 0x00ffffff;
			ecx_mask = ~(ECX_TSC_DEADLINE | ECX_HYPERVISOR);
			break;
		}
		cr_expect_eq(e->eax, s->eax, "leaf 0x%x.%u EAX", s->function, s->index);
		cr_expect_eq(e->ebx & ebx_mask, s->ebx & ebx_mask, "leaf 0x%x.%u EBX", s->function,
			     s->index);
		cr_expect_eq(e->ecx & ecx_mask, s->ecx & ecx_mask,
			     "leaf 0x%x.%u ECX 0x%x, KVM's 0x%x", s->function, s->index, e->ecx,
			     s->ecx);
		cr_expect_eq(e->edx, s->edx, "leaf 0x%x.%u EDX", s->function, s->index);
		compared++;
	}
	cr_expect_eq(got->nent, ref->nent, "%u leaves, KVM's list has %u", got->nent, ref->nent);
	cr_expect_eq(!!(leaf(1)->ecx & ECX_X2APIC), !!(find(ref, 1, 0)->ecx & ECX_X2APIC),
		     "x2APIC differs from KVM's");
	cr_log_info("compared %u leaves", compared);
	free(ref);
}

Test(kvm_linux_vcpu, kvms_paravirt_leaves_name_kvm_and_kvmclock)
{
	const struct kvm_cpuid_entry2 *sig, *feat;
	char name[13] = "";

	make_vm(1);
	linux_vcpus();
	get_cpuid(0);
	sig = leaf(0x40000000);
	memcpy(name, &sig->ebx, 4);
	memcpy(name + 4, &sig->ecx, 4);
	memcpy(name + 8, &sig->edx, 4);
	cr_expect_str_eq(name, "KVMKVMKVM");
	cr_expect_geq(sig->eax, 0x40000001u);
	feat = leaf(0x40000001);
	/* KVM_FEATURE_CLOCKSOURCE or KVM_FEATURE_CLOCKSOURCE2: kvmclock */
	cr_expect(feat->eax & (1u << 0 | 1u << 3), "CPUID 0x40000001 EAX 0x%x: no kvmclock",
		  feat->eax);
}

Test(kvm_linux_vcpu, vcpu_0_runs_and_the_others_wait_for_init_and_sipi)
{
	make_vm(NVCPUS);
	linux_vcpus();
	cr_expect_eq(mp_state(0), KVM_MP_STATE_RUNNABLE);
	for (unsigned i = 1; i < NVCPUS; i++)
		cr_expect_eq(mp_state(i), KVM_MP_STATE_UNINITIALIZED, "vCPU %u: mp_state %u", i,
			     mp_state(i));
}

Test(kvm_linux_vcpu, a_vm_not_booted_as_linux_keeps_guest_h_cpuid_and_runs_every_vcpu)
{
	make_vm(NVCPUS);
	for (unsigned i = 0; i < NVCPUS; i++) {
		get_cpuid(i);
		cr_expect_eq(leaf(1)->ecx & (ECX_X2APIC | ECX_TSC_DEADLINE), 0,
			     "vCPU %u: CPUID 1 ECX 0x%x", i, leaf(1)->ecx);
		cr_expect_eq(leaf(1)->ebx >> 24, i);
		cr_expect_eq(mp_state(i), KVM_MP_STATE_RUNNABLE, "vCPU %u: mp_state %u", i,
			     mp_state(i));
	}
}

/* A reset after the guest started its APs (made runnable here, as a SIPI would). */
static void reset_after_aps_ran(bool linux_boot)
{
	for (unsigned i = 1; i < vm->nvcpus; i++) {
		struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};

		cr_assert_eq(ioctl(kvcpu(i)->fd, KVM_SET_MP_STATE, &mp), 0, "%m");
	}
	vm->linux_boot = linux_boot;
	OK(vmm_vm_reset(vm));
}

Test(kvm_linux_vcpu, a_reset_of_a_linux_boot_leaves_the_aps_waiting_for_sipi_again)
{
	make_vm(NVCPUS);
	OK(vmm_boot_setup(vm, ENTRY)); /* what vmm_vm_reset() needs to return to */
	linux_vcpus();
	reset_after_aps_ran(true);
	cr_expect_eq(mp_state(0), KVM_MP_STATE_RUNNABLE);
	for (unsigned i = 1; i < NVCPUS; i++)
		cr_expect_eq(mp_state(i), KVM_MP_STATE_UNINITIALIZED, "vCPU %u: mp_state %u", i,
			     mp_state(i));
}

Test(kvm_linux_vcpu, a_reset_of_a_vm_not_booted_as_linux_runs_every_vcpu)
{
	make_vm(NVCPUS);
	OK(vmm_boot_setup(vm, ENTRY));
	for (unsigned i = 1; i < NVCPUS; i++) {
		struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_UNINITIALIZED};

		cr_assert_eq(ioctl(kvcpu(i)->fd, KVM_SET_MP_STATE, &mp), 0, "%m");
	}
	OK(vmm_vm_reset(vm));
	for (unsigned i = 0; i < NVCPUS; i++)
		cr_expect_eq(mp_state(i), KVM_MP_STATE_RUNNABLE, "vCPU %u: mp_state %u", i,
			     mp_state(i));
}

static uint32_t lapic_version(unsigned i)
{
	struct kvm_lapic_state l;
	uint32_t v;

	cr_assert_eq(ioctl(kvcpu(i)->fd, KVM_GET_LAPIC, &l), 0, "KVM_GET_LAPIC: %m");
	memcpy(&v, l.regs + 0x30, 4);
	return v;
}

/* The version register follows CPUID (directed EOI with x2APIC): a reset keeps the new one. */
Test(kvm_linux_vcpu, a_reset_restores_the_local_apic_version_of_the_linux_cpuid)
{
	uint32_t before, after;

	make_vm(1);
	OK(vmm_boot_setup(vm, ENTRY));
	before = lapic_version(0);
	linux_vcpus();
	after = lapic_version(0);
	cr_log_info("local APIC version 0x%x with guest.h's CPUID, 0x%x with KVM's", before, after);
	vm->linux_boot = true;
	OK(vmm_vm_reset(vm));
	cr_expect_eq(lapic_version(0), after, "version 0x%x after the reset, 0x%x before",
		     lapic_version(0), after);
}

/*
 * The guest itself reads what linux_vcpu set: CPUID 1's ECX and the
 * signature leaf, stored at OUT, then `cli; hlt`.
 */
extern const uint8_t g_lx_start[], g_lx_end[];
__asm__(".pushsection .rodata\n.globl g_lx_start\ng_lx_start:\n"
	"	movl $1, %eax\n	xorl %ecx, %ecx\n	cpuid\n	movl %ecx, 0x200000\n"
	"	movl $0x40000000, %eax\n	xorl %ecx, %ecx\n	cpuid\n"
	"	movl %ebx, 0x200004\n	movl %ecx, 0x200008\n	movl %edx, 0x20000c\n"
	"	cli\n	hlt\n"
	".globl g_lx_end\ng_lx_end:\n.popsection\n");

Test(kvm_linux_vcpu, the_guest_reads_the_hypervisor_bit_and_kvms_signature)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint32_t seen[4];
	char name[13] = "";

	make_vm(1);
	OK(vmm_guest_write(vm, ENTRY, g_lx_start, (size_t)(g_lx_end - g_lx_start)));
	linux_vcpus();
	OK(vmm_boot_setup(vm, ENTRY));
	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	OK(vmm_guest_read(vm, OUT, seen, sizeof(seen)));
	cr_expect(seen[0] & ECX_HYPERVISOR, "CPUID 1 ECX 0x%x", seen[0]);
	memcpy(name, seen + 1, 12);
	cr_expect_str_eq(name, "KVMKVMKVM");
}
