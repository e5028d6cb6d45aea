/* rows_kvm.c - kvm rows: libvmm's kvm backend against raw /dev/kvm ioctls, same guest bytes. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

/*
 * The baseline is the smallest correct KVM program: the ioctls backend/kvm.c
 * makes to build a VM (KVM_CREATE_VM, KVM_SET_TSS_ADDR, KVM_SET_CPUID2 from
 * KVM_GET_SUPPORTED_CPUID, one KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU,
 * the guest.h boot state through KVM_SET_SREGS and KVM_SET_REGS) and a
 * KVM_RUN loop that handles the no-op device's exits inline.
 */
struct raw {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	int run_size;
	uint8_t *ram;
	uint64_t ram_size;
	struct kvm_regs regs0;
	uint64_t sink;
	unsigned long calls; /* device exits handled */
	unsigned long ops;   /* what one run does */
};

static void raw_close(struct raw *r)
{
	if (r->run)
		munmap(r->run, r->run_size);
	if (r->vcpu >= 0)
		close(r->vcpu);
	if (r->vm >= 0)
		close(r->vm);
	if (r->kvm >= 0)
		close(r->kvm);
	if (r->ram)
		munmap(r->ram, r->ram_size);
	r->run = NULL;
	r->ram = NULL;
	r->vcpu = r->vm = r->kvm = -1;
}

static struct kvm_cpuid2 *raw_cpuid(int kvm)
{
	for (int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

static void seg_to_kvm(struct kvm_segment *k, const struct vmm_segment *s)
{
	*k = (struct kvm_segment){
	    .base = s->base,
	    .limit = s->limit,
	    .selector = s->selector,
	    .type = s->type,
	    .present = s->present,
	    .dpl = s->dpl,
	    .db = s->db,
	    .s = s->s,
	    .l = s->l,
	    .g = s->g,
	    .avl = s->avl,
	    .unusable = !s->present,
	};
}

#define RAW_FAIL(what)                                                                             \
	do {                                                                                       \
		snprintf(why, whylen, "raw KVM: %s: %s", what, strerror(errno));                   \
		goto err;                                                                          \
	} while (0)

static int raw_open(struct raw *r, uint64_t ram_size, const uint8_t *code, size_t len,
		    unsigned long ops, char *why, size_t whylen)
{
	struct kvm_userspace_memory_region region;
	struct kvm_cpuid2 *cpuid = NULL;
	struct kvm_sregs ks;
	struct vmm_sregs sr;
	struct vmm_regs vr;

	memset(r, 0, sizeof(*r));
	r->kvm = r->vm = r->vcpu = -1;
	r->ops = ops;
	r->ram_size = ram_size;
	r->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->ram == MAP_FAILED) {
		r->ram = NULL;
		RAW_FAIL("mmap");
	}
	bench_boot_write(r->ram, ram_size, BENCH_ENTRY, &sr, &vr);
	memcpy(r->ram + BENCH_ENTRY, code, len);

	r->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (r->kvm < 0)
		RAW_FAIL("open /dev/kvm");
	r->vm = ioctl(r->kvm, KVM_CREATE_VM, 0);
	if (r->vm < 0)
		RAW_FAIL("KVM_CREATE_VM");
	ioctl(r->vm, KVM_SET_TSS_ADDR, 0xfffbd000ul); /* as backend/kvm_x86_64.c: may fail on AMD */
	cpuid = raw_cpuid(r->kvm);
	if (!cpuid)
		RAW_FAIL("KVM_GET_SUPPORTED_CPUID");
	region = (struct kvm_userspace_memory_region){
	    .slot = 0,
	    .guest_phys_addr = 0,
	    .memory_size = ram_size,
	    .userspace_addr = (uintptr_t)r->ram,
	};
	if (ioctl(r->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		RAW_FAIL("KVM_SET_USER_MEMORY_REGION");
	r->run_size = ioctl(r->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r->run_size < (int)sizeof(struct kvm_run))
		RAW_FAIL("KVM_GET_VCPU_MMAP_SIZE");
	r->vcpu = ioctl(r->vm, KVM_CREATE_VCPU, 0ul);
	if (r->vcpu < 0)
		RAW_FAIL("KVM_CREATE_VCPU");
	r->run = mmap(NULL, r->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, r->vcpu, 0);
	if (r->run == MAP_FAILED) {
		r->run = NULL;
		RAW_FAIL("mmap kvm_run");
	}
	for (unsigned i = 0; i < cpuid->nent; i++) {
		if (cpuid->entries[i].function == 1) /* initial APIC id 0 */
			cpuid->entries[i].ebx &= 0x00ffffff;
		if (cpuid->entries[i].function == 0xb)
			cpuid->entries[i].edx = 0;
	}
	if (ioctl(r->vcpu, KVM_SET_CPUID2, cpuid) < 0)
		RAW_FAIL("KVM_SET_CPUID2");
	free(cpuid);
	cpuid = NULL;

	if (ioctl(r->vcpu, KVM_GET_SREGS, &ks) < 0)
		RAW_FAIL("KVM_GET_SREGS");
	seg_to_kvm(&ks.cs, &sr.cs);
	seg_to_kvm(&ks.ds, &sr.ds);
	seg_to_kvm(&ks.es, &sr.es);
	seg_to_kvm(&ks.fs, &sr.fs);
	seg_to_kvm(&ks.gs, &sr.gs);
	seg_to_kvm(&ks.ss, &sr.ss);
	seg_to_kvm(&ks.tr, &sr.tr);
	seg_to_kvm(&ks.ldt, &sr.ldt);
	ks.gdt.base = sr.gdt.base;
	ks.gdt.limit = sr.gdt.limit;
	ks.idt.base = 0;
	ks.idt.limit = 0;
	ks.cr0 = sr.cr0;
	ks.cr3 = sr.cr3;
	ks.cr4 = sr.cr4;
	ks.efer = sr.efer;
	if (ioctl(r->vcpu, KVM_SET_SREGS, &ks) < 0)
		RAW_FAIL("KVM_SET_SREGS");
	r->regs0 =
	    (struct kvm_regs){.rip = vr.rip, .rsp = vr.rsp, .rdi = vr.rdi, .rflags = vr.rflags};
	if (ioctl(r->vcpu, KVM_SET_REGS, &r->regs0) < 0)
		RAW_FAIL("KVM_SET_REGS");
	return 0;
err:
	free(cpuid);
	raw_close(r);
	return -EIO;
}

/* A sample: reset the registers and KVM_RUN to the guest's hlt, handling device exits inline. */
static long raw_sample(void *ctx)
{
	struct raw *r = ctx;
	struct kvm_run *run = r->run;

	if (ioctl(r->vcpu, KVM_SET_REGS, &r->regs0) < 0)
		return bench_sample_error(-errno, "raw KVM: KVM_SET_REGS: %s", strerror(errno));
	for (;;) {
		uint64_t v = 0;

		if (ioctl(r->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return bench_sample_error(-errno, "raw KVM: KVM_RUN: %s", strerror(errno));
		}
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO:
			if (run->mmio.is_write) {
				memcpy(&v, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
				r->sink += v;
			} else {
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
			}
			r->calls++;
			break;
		case KVM_EXIT_IO: {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;

			for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
				if (run->io.direction == KVM_EXIT_IO_OUT) {
					memcpy(&v, data, run->io.size <= 8 ? run->io.size : 8);
					r->sink += v;
				} else {
					memset(data, 0, run->io.size);
				}
				r->calls++;
			}
			break;
		}
		case KVM_EXIT_HLT:
			return (long)r->ops;
		default:
			return bench_sample_error(-EIO, "raw KVM: unexpected exit reason %u",
						  run->exit_reason);
		}
	}
}

/* ---- rows ---- */

static void exit_row(struct bench_row *row, bool pio)
{
	unsigned long n = bench_opts.quick ? 20 : 2000;
	uint8_t code[BENCH_CODE_MAX];
	size_t len = pio ? bench_code_pio(code, BENCH_PORT, (uint32_t)n)
			 : bench_code_mmio(code, BENCH_DEV_BASE, (uint32_t)n);
	const char *missing = bench_kvm_missing();
	unsigned long want;
	struct vmm_vm_stats st = VMM_VM_STATS_INIT;
	struct bench_vm v;
	struct raw r;
	char why[200];

	if (missing) {
		bench_skip(row, "%s", missing);
		return;
	}
	if (bench_vm_open(&v, VMM_ACCEL_KVM, pio ? BENCH_DEV_PIO : BENCH_DEV_MMIO, code, len, n) <
	    0) {
		bench_fail(row, "libvmm: %s", vmm_last_error());
		return;
	}
	if (raw_open(&r, BENCH_RAM_SIZE, code, len, n, why, sizeof(why)) < 0) {
		bench_fail(row, "%s", why);
		bench_vm_close(&v);
		return;
	}
	if (bench_compare(row, bench_samples(31), bench_vm_sample, &v, raw_sample, &r) == 0) {
		uint64_t got;

		want = (row->samples + 1) * n;
		if (vmm_vm_get_stats(v.vm, &st) < 0)
			bench_fail(row, "vmm_vm_get_stats: %s", vmm_last_error());
		else if ((got = pio ? st.pio_exits : st.mmio_exits) != want)
			bench_fail(row, "libvmm made %llu exits, not %lu", (unsigned long long)got,
				   want);
		else if (r.calls != want)
			bench_fail(row, "raw KVM handled %lu exits, not %lu", r.calls, want);
	}
	bench_note(row,
		   "%s%lu exits per sample; no-op device: the plugin (dlopen) vs inline in"
		   " the KVM_RUN loop.",
		   pio ? "guest `out dx, eax` loop, " : "guest `mov [rax], ecx` loop, ", n);
	raw_close(&r);
	bench_vm_close(&v);
}

void bench_row_mmio_kvm(struct bench_row *row)
{
	exit_row(row, false);
}

void bench_row_pio_kvm(struct bench_row *row)
{
	exit_row(row, true);
}

static long raw_lifecycle(void *ctx)
{
	uint8_t code[BENCH_CODE_MAX];
	size_t len = bench_code_hlt(code);
	char why[200];
	struct raw r;
	long ret;

	if (raw_open(&r, BENCH_VM_RAM_SIZE, code, len, 1, why, sizeof(why)) < 0)
		return bench_sample_error(-EIO, "%s", why);
	ret = raw_sample(&r);
	raw_close(&r);
	return ret;
}

void bench_row_lifecycle_kvm(struct bench_row *row)
{
	enum vmm_accel accel = VMM_ACCEL_KVM;
	const char *missing = bench_kvm_missing();

	if (missing) {
		bench_skip(row, "%s", missing);
		return;
	}
	bench_compare(row, bench_samples(31), bench_vmm_lifecycle, &accel, raw_lifecycle, NULL);
	bench_note(row, "64 MiB slot, 1 vCPU, guest.h boot state, run to the first hlt, destroy;"
			" baseline: the same ioctls by hand.");
}
