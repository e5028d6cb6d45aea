/* SPDX-License-Identifier: MIT */
/* test_cpuid.c - specification of the APIC ids each vCPU of a VM reads with CPUID. */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <stdint.h>
#include <string.h>

#include "vmm/vmm.h"

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define OUT	 0x200000ull /* vCPU i writes struct seen at OUT + 64 * i */
#define NVCPUS	 3

/* What one vCPU saw, in the order the guest stores it. */
struct seen {
	uint32_t index;	   /* boot info's vcpu_index */
	uint32_t max_leaf; /* CPUID 0: EAX */
	uint32_t max_ext;  /* CPUID 0x80000000: EAX */
	uint32_t leaf1_ebx;
	uint32_t leafb_edx[2];	/* subleaves 0 and 1 */
	uint32_t leaf1f_edx[2]; /* subleaves 0 and 1 */
	uint32_t ext1e_eax;
	uint32_t done;
	uint32_t leafb_ecx1, leaf1f_ecx1; /* subleaf 1's ECX: bits 15:8 are 0 if there is none */
	uint32_t leaf1_ecx, leaf1_edx;
};

/* Each vCPU runs CPUID on the leaves that carry an APIC id and stores what it read. */
extern const uint8_t g_cpuid_start[], g_cpuid_end[];
__asm__(
    ".pushsection .rodata\n.globl g_cpuid_start\ng_cpuid_start:\n"
    "	movl 16(%rdi), %r8d\n" /* boot info: vcpu_index */
    "	movq %r8, %r9\n"
    "	shlq $6, %r9\n"
    "	addq $0x200000, %r9\n"
    "	movl %r8d, 0(%r9)\n"
    "	xorl %eax, %eax\n	xorl %ecx, %ecx\n	cpuid\n	movl %eax, 4(%r9)\n"
    "	movl $0x80000000, %eax\n	xorl %ecx, %ecx\n	cpuid\n	movl %eax, 8(%r9)\n"
    "	movl $1, %eax\n	xorl %ecx, %ecx\n	cpuid\n	movl %ebx, 12(%r9)\n"
    "	movl %ecx, 48(%r9)\n	movl %edx, 52(%r9)\n"
    "	movl $0xb, %eax\n	xorl %ecx, %ecx\n	cpuid\n	movl %edx, 16(%r9)\n"
    "	movl $0xb, %eax\n	movl $1, %ecx\n	cpuid\n	movl %edx, 20(%r9)\n	movl %ecx, "
    "40(%r9)\n"
    "	movl $0x1f, %eax\n	xorl %ecx, %ecx\n	cpuid\n	movl %edx, 24(%r9)\n"
    "	movl $0x1f, %eax\n	movl $1, %ecx\n	cpuid\n	movl %edx, 28(%r9)\n	movl %ecx, "
    "44(%r9)\n"
    "	movl $0x8000001e, %eax\n	xorl %ecx, %ecx\n	cpuid\n	movl %eax, 32(%r9)\n"
    "	movl $1, 36(%r9)\n"
    "	hlt\n"
    ".globl g_cpuid_end\ng_cpuid_end:\n.popsection\n");

static struct vmm_vm *vm;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(cpuid_emu, .fini = teardown, .timeout = 60);
TestSuite(cpuid_kvm, .fini = teardown, .timeout = 60);

/* Run the guest on NVCPUS vCPUs; seen[i] is what vCPU i read. */
static void run_guest(enum vmm_accel accel, struct seen *seen)
{
	struct vmm_vm_options opts;
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint8_t *low;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	for (unsigned i = 0; i < NVCPUS; i++)
		OK(vmm_vcpu_create(vm, i, NULL));
	memcpy(low + ENTRY, g_cpuid_start, (size_t)(g_cpuid_end - g_cpuid_start));
	OK(vmm_boot_setup(vm, ENTRY));
	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	for (unsigned i = 0; i < NVCPUS; i++) {
		OK(vmm_guest_read(vm, OUT + 64 * i, &seen[i], sizeof(seen[i])));
		cr_assert_eq(seen[i].done, 1, "vCPU %u never stored its CPUID", i);
		cr_assert_eq(seen[i].index, i);
	}
}

/* Every leaf that reports an APIC id, where the vCPU's CPUID has it, says the vCPU's index. */
static void expect_apic_ids(const struct seen *seen)
{
	unsigned checked = 0;

	for (unsigned i = 0; i < NVCPUS; i++) {
		const struct seen *s = &seen[i];

		cr_expect_eq(s->leaf1_ebx >> 24, i, "vCPU %u: CPUID 1 EBX[31:24] = %u", i,
			     s->leaf1_ebx >> 24);
		if (s->max_leaf >= 0xb) {
			cr_expect_eq(s->leafb_edx[0], i, "vCPU %u: CPUID 0xb.0 EDX = %u", i,
				     s->leafb_edx[0]);
			if (s->leafb_ecx1 & 0xff00)
				cr_expect_eq(s->leafb_edx[1], i, "vCPU %u: CPUID 0xb.1 EDX = %u", i,
					     s->leafb_edx[1]);
			checked |= 1;
		}
		if (s->max_leaf >= 0x1f) {
			cr_expect_eq(s->leaf1f_edx[0], i, "vCPU %u: CPUID 0x1f.0 EDX = %u", i,
				     s->leaf1f_edx[0]);
			if (s->leaf1f_ecx1 & 0xff00)
				cr_expect_eq(s->leaf1f_edx[1], i, "vCPU %u: CPUID 0x1f.1 EDX = %u",
					     i, s->leaf1f_edx[1]);
			checked |= 2;
		}
		if (s->max_ext >= 0x8000001e) {
			cr_expect_eq(s->ext1e_eax, i, "vCPU %u: CPUID 0x8000001e EAX = %u", i,
				     s->ext1e_eax);
			checked |= 4;
		}
	}
	cr_log_info("checked leaf 1%s%s%s (max basic leaf 0x%x, max extended 0x%x)",
		    checked & 1 ? ", 0xb" : "", checked & 2 ? ", 0x1f" : "",
		    checked & 4 ? ", 0x8000001e" : "", seen[0].max_leaf, seen[0].max_ext);
}

Test(cpuid_kvm, each_vcpu_reads_its_own_index_as_its_apic_id)
{
	struct seen seen[NVCPUS];

	need_kvm();
	run_guest(VMM_ACCEL_KVM, seen);
	expect_apic_ids(seen);
}

Test(cpuid_emu, each_vcpu_reads_its_own_index_as_its_apic_id)
{
	struct seen seen[NVCPUS];

	run_guest(VMM_ACCEL_EMU, seen);
	expect_apic_ids(seen);
}

/* guest.h: an xAPIC (CPUID.1:EDX bit 9), no x2APIC (ECX bit 21), no TSC-deadline timer (bit 24). */
static void expect_xapic_only(const struct seen *seen)
{
	for (unsigned i = 0; i < NVCPUS; i++) {
		cr_expect(seen[i].leaf1_edx & (1u << 9), "vCPU %u: CPUID 1 EDX 0x%x: no APIC", i,
			  seen[i].leaf1_edx);
		cr_expect(!(seen[i].leaf1_ecx & (1u << 21)), "vCPU %u: CPUID 1 ECX 0x%x: x2APIC", i,
			  seen[i].leaf1_ecx);
		cr_expect(!(seen[i].leaf1_ecx & (1u << 24)),
			  "vCPU %u: CPUID 1 ECX 0x%x: TSC-deadline", i, seen[i].leaf1_ecx);
	}
}

Test(cpuid_emu, each_vcpu_has_an_xapic_without_x2apic_or_tsc_deadline)
{
	struct seen seen[NVCPUS];

	run_guest(VMM_ACCEL_EMU, seen);
	expect_xapic_only(seen);
}

Test(cpuid_kvm, each_vcpu_has_an_xapic_without_x2apic_or_tsc_deadline)
{
	struct seen seen[NVCPUS];

	need_kvm();
	run_guest(VMM_ACCEL_KVM, seen);
	expect_xapic_only(seen);
}
