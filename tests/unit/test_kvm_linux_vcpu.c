/* SPDX-License-Identifier: MIT */
/*
 * test_kvm_linux_vcpu.c - specification of kvm's linux_vcpu op: the CPUID a Linux guest's vCPUs
 * read (KVM's own, the hypervisor bit, TSC-deadline, kvmclock's leaves, each APIC id) and how
 * they start (vCPU 0 runs, the others wait for INIT/SIPI, after a reset too, and start at the
 * SIPI's vector); guest.h's vCPUs of a VM not booted so keep their own CPUID and all run.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "guest_prog.h"
#include "unit.h"
#include "vmm/vmm.h"

#include "backend/kvm.h" /* the vCPU's fd and the VM's supported CPUID, the ops table */

#define ENTRY	 0x100000ull
#define OUT	 0x200000ull
#define LOW_SIZE (32ull << 20) /* a Linux kernel loads at 16 MiB */
#define NVCPUS	 3

#define ECX_X2APIC	 (1u << 21)
#define ECX_TSC_DEADLINE (1u << 24)
#define ECX_HYPERVISOR	 (1u << 31)

static struct vmm_vm *vm;
static struct kvm_cpuid2 *got;
static char kernel[] = "/tmp/test_kvm_linux_vcpu.XXXXXX"; /* load_linux()'s, till teardown */

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
	free(got);
	got = NULL;
	if (!strchr(kernel, 'X'))
		unlink(kernel);
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
/*
 * Drop the buffer's zeros past KVM's list, which no real leaf is (leaf 0's
 * EAX is not 0): kvm_amd (6.1, nested) was seen to leave them counted.
 */
static void trim(struct kvm_cpuid2 *c)
{
	while (c->nent && !c->entries[c->nent - 1].function && !c->entries[c->nent - 1].eax)
		c->nent--;
}

static void get_cpuid(unsigned i)
{
	free(got);
	got = calloc(1, sizeof(*got) + 512 * sizeof(got->entries[0]));
	cr_assert_not_null(got);
	got->nent = 512;
	cr_assert_eq(ioctl(kvcpu(i)->fd, KVM_GET_CPUID2, got), 0, "KVM_GET_CPUID2 on vCPU %u: %m",
		     i);
	trim(got);
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
	trim(ref);
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

/* As a SIPI would: the APs run. */
static void start_aps(void)
{
	for (unsigned i = 1; i < vm->nvcpus; i++) {
		struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};

		cr_assert_eq(ioctl(kvcpu(i)->fd, KVM_SET_MP_STATE, &mp), 0, "%m");
	}
}

/* The smallest bzImage the loader takes (test_bzimage.c's): 16 bytes of kernel at 16 MiB. */
static void load_linux(void)
{
	static uint8_t img[0x410];
	int fd;

	memset(img, 0, sizeof(img));
	img[0x1f1] = 1;				     /* setup_sects */
	memcpy(img + 0x1f4, &(uint32_t){1}, 4);	     /* syssize: 16 bytes */
	memcpy(img + 0x1fe, &(uint16_t){0xaa55}, 2); /* boot flag */
	img[0x200] = 0xeb;			     /* the jump over the header, to 0x26c */
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	memcpy(img + 0x206, &(uint16_t){0x020f}, 2);	 /* protocol 2.15 */
	img[0x211] = 0x01;				 /* LOADED_HIGH */
	memcpy(img + 0x22c, &(uint32_t){0x7fffffff}, 4); /* initrd_addr_max */
	memcpy(img + 0x230, &(uint32_t){0x200000}, 4);	 /* kernel_alignment */
	img[0x235] = 21;				 /* min_alignment */
	memcpy(img + 0x236, &(uint16_t){0x0001}, 2);	 /* XLF_KERNEL_64 */
	memcpy(img + 0x238, &(uint32_t){0x7ff}, 4);	 /* cmdline_size */
	memcpy(img + 0x258, &(uint64_t){0x1000000}, 8);	 /* pref_address */
	memcpy(img + 0x260, &(uint32_t){0x10000}, 4);	 /* init_size */
	fd = mkstemp(kernel);				 /* vmm_vm_reset() reads it again */
	cr_assert_geq(fd, 0, "mkstemp: %m");
	cr_assert_eq(write(fd, img, sizeof(img)), (ssize_t)sizeof(img), "write: %m");
	close(fd);
	OK(vmm_load_linux(vm, kernel, NULL, "console=ttyS0"));
}

Test(kvm_linux_vcpu, vmm_load_linux_gives_every_vcpu_the_linux_cpu)
{
	make_vm(NVCPUS);
	load_linux();
	cr_expect_eq(mp_state(0), KVM_MP_STATE_RUNNABLE);
	for (unsigned i = 0; i < NVCPUS; i++) {
		get_cpuid(i);
		cr_expect(leaf(1)->ecx & ECX_HYPERVISOR, "vCPU %u: CPUID 1 ECX 0x%x", i,
			  leaf(1)->ecx);
		cr_expect_eq(leaf(1)->ebx >> 24, i);
		if (i)
			cr_expect_eq(mp_state(i), KVM_MP_STATE_UNINITIALIZED,
				     "vCPU %u: mp_state %u", i, mp_state(i));
	}
}

Test(kvm_linux_vcpu, a_reset_of_a_linux_boot_leaves_the_aps_waiting_for_sipi_again)
{
	make_vm(NVCPUS);
	load_linux();
	start_aps();
	OK(vmm_vm_reset(vm));
	cr_expect_eq(mp_state(0), KVM_MP_STATE_RUNNABLE);
	for (unsigned i = 1; i < NVCPUS; i++)
		cr_expect_eq(mp_state(i), KVM_MP_STATE_UNINITIALIZED, "vCPU %u: mp_state %u", i,
			     mp_state(i));
}

/* The op itself, which vmm_vm_reset() calls before it loads Linux again. */
Test(kvm_linux_vcpu, irq_reset_of_a_linux_boot_leaves_the_aps_waiting_for_sipi)
{
	make_vm(NVCPUS);
	linux_vcpus();
	start_aps();
	vm->linux_boot = true;
	for (unsigned i = 0; i < NVCPUS; i++)
		OK(vm->ops->irq_reset(vmm_vcpu_get(vm, i)));
	vm->linux_boot = false; /* the VM has no files to load again */
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
	before = lapic_version(0);
	load_linux();
	after = lapic_version(0);
	cr_log_info("local APIC version 0x%x with guest.h's CPUID, 0x%x with KVM's", before, after);
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

/* vmm_vm_reset() of a Linux boot calls the op again: KVM takes the same CPUID after KVM_RUN. */
Test(kvm_linux_vcpu, a_vcpu_that_ran_takes_the_linux_cpu_again)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	make_vm(1);
	OK(vmm_guest_write(vm, ENTRY, g_lx_start, (size_t)(g_lx_end - g_lx_start)));
	linux_vcpus();
	OK(vmm_boot_setup(vm, ENTRY));
	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	OK(vm->ops->linux_vcpu(vmm_vcpu_get(vm, 0)));
}

/* A VM that ran guest.h's vCPUs cannot become a Linux PC: KVM keeps a CPUID once used. */
Test(kvm_linux_vcpu, a_vcpu_that_ran_with_guest_h_cpuid_is_refused_with_the_reason)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	make_vm(1);
	OK(vmm_guest_write(vm, ENTRY, g_lx_start, (size_t)(g_lx_end - g_lx_start)));
	OK(vmm_boot_setup(vm, ENTRY));
	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_assert_eq(vm->ops->linux_vcpu(vmm_vcpu_get(vm, 0)), -EINVAL);
	cr_expect(strstr(vmm_last_error(), "once the vCPU has run"), "detail: %s",
		  vmm_last_error());
}

/* vCPU 0 waits for interrupts for ever; any other vCPU that runs writes 1 at OUT + 0x100. */
extern const uint8_t g_ap_start[], g_ap_end[];
__asm__(".pushsection .rodata\n.globl g_ap_start\ng_ap_start:\n"
	"	cmpl $0, 16(%rdi)\n" /* boot info: vcpu_index */
	"	jne 2f\n"
	"	sti\n"
	"1:	hlt\n	jmp 1b\n"
	"2:	movl $1, 0x200100\n	cli\n	hlt\n"
	".globl g_ap_end\ng_ap_end:\n.popsection\n");

static void *stop_later(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	vmm_vm_stop(vm, 7);
	return NULL;
}

Test(kvm_linux_vcpu, an_ap_waiting_for_sipi_runs_nothing_and_a_stop_still_ends_the_run)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	struct timespec c0, c1;
	pthread_t t;
	uint32_t ran = 0;

	make_vm(2);
	OK(vmm_guest_write(vm, ENTRY, g_ap_start, (size_t)(g_ap_end - g_ap_start)));
	linux_vcpus();
	OK(vmm_boot_setup(vm, ENTRY)); /* vCPU 1's registers too: only a SIPI would use them */
	cr_assert_eq(pthread_create(&t, NULL, stop_later, NULL), 0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	OK(vmm_vm_run(vm, &ex));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	pthread_join(t, NULL);
	cr_expect_eq(ex.reason, VMM_EXIT_STOPPED, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(ex.exit_code, 7);
	OK(vmm_guest_read(vm, OUT + 0x100, &ran, sizeof(ran)));
	cr_expect_eq(ran, 0, "vCPU 1 ran without a SIPI");
	cr_expect_eq(mp_state(1), KVM_MP_STATE_UNINITIALIZED);
	cr_log_info("CPU time of the 0.3 s run: %.3f s",
		    (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9);
}

/*
 * What Linux's SMP boot does: vCPU 0 enables its local APIC and sends vCPU 1
 * INIT and a start-up IPI of vector 8; vCPU 1 starts in real mode at 0x8000,
 * where g_sipi_rm writes 1 at 0x100, which vCPU 0 waits for (a bounded
 * spin), then both halt.
 */
extern const uint8_t g_sipi_start[], g_sipi_end[];
__asm__(".pushsection .rodata\n.globl g_sipi_start\ng_sipi_start:\n"
	"	cmpl $0, 16(%rdi)\n" /* boot info: vcpu_index; an AP never gets here */
	"	jne 2f\n"
	"	movl $0xfee00000, %ebx\n"
	"	movl $0x1ff, 0xf0(%rbx)\n"	 /* SVR: enabled */
	"	movl $0x01000000, 0x310(%rbx)\n" /* ICR high: APIC id 1 */
	"	movl $0x00004500, 0x300(%rbx)\n" /* ICR low: INIT, assert */
	"	movl $0x01000000, 0x310(%rbx)\n"
	"	movl $0x00004608, 0x300(%rbx)\n" /* ICR low: start-up, vector 8 */
	"	movl $100000000, %ecx\n"
	"1:	cmpb $1, 0x100\n	je 2f\n	pause\n	decl %ecx\n	jnz 1b\n"
	"2:	cli\n	hlt\n"
	".globl g_sipi_end\ng_sipi_end:\n.popsection\n");
/* Real mode, CS 0x800, DS 0: movb $1, 0x100; cli; hlt */
static const uint8_t g_sipi_rm[] = {0xc6, 0x06, 0x00, 0x01, 0x01, 0xfa, 0xf4};

Test(kvm_linux_vcpu, init_and_sipi_start_an_ap_in_real_mode_at_the_vector)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint8_t started = 0;

	make_vm(2);
	OK(vmm_guest_write(vm, ENTRY, g_sipi_start, (size_t)(g_sipi_end - g_sipi_start)));
	OK(vmm_guest_write(vm, 0x8000, g_sipi_rm, sizeof(g_sipi_rm)));
	linux_vcpus();
	OK(vmm_boot_setup(vm, ENTRY));
	OK(vmm_vm_run(vm, &ex));
	cr_expect_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	OK(vmm_guest_read(vm, 0x100, &started, 1));
	cr_expect_eq(started, 1, "vCPU 1 did not run its start-up code");
}
