/* SPDX-License-Identifier: MIT */
/* rows_kvm.c - kvm rows: libvmm's kvm backend against raw /dev/kvm ioctls, same guest bytes. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <vmm/guest.h>
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

/*
 * With irqchip, the VM gets the split irqchip libvmm's kvm backend uses
 * (KVM_CAP_SPLIT_IRQCHIP, before the vCPU) and the vCPU the IDT at
 * IRQ_IDT.
 */
#define IRQ_IDT 0x300000ull

static int raw_open(struct raw *r, uint64_t ram_size, const uint8_t *code, size_t len,
		    unsigned long ops, bool irqchip, char *why, size_t whylen)
{
	struct kvm_enable_cap split = {.cap = KVM_CAP_SPLIT_IRQCHIP,
				       .args = {VMM_GUEST_IOAPIC_PINS}};
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
	if (irqchip && ioctl(r->vm, KVM_ENABLE_CAP, &split) < 0)
		RAW_FAIL("KVM_ENABLE_CAP KVM_CAP_SPLIT_IRQCHIP");
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
	ks.idt.base = irqchip ? IRQ_IDT : 0;
	ks.idt.limit = irqchip ? 256 * 16 - 1 : 0;
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
	if (raw_open(&r, BENCH_RAM_SIZE, code, len, n, false, why, sizeof(why)) < 0) {
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

	if (raw_open(&r, BENCH_VM_RAM_SIZE, code, len, 1, false, why, sizeof(why)) < 0)
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

/* ---- interrupts: from the request to the guest's handler ---- */

#define IRQ_VECTOR    0x40
#define IRQ_PIN	      3
#define IRQ_DONE_PORT 0x600	      /* unclaimed: ends a sample */
#define IRQ_COUNT     BENCH_BUF	      /* the handler counts here */
#define IRQ_N	      (BENCH_BUF + 8) /* the guest's loop count */
#define IRQ_MSI_ADDR  0xfee00000ull   /* APIC ID 0, physical */

/*
 * Enable the local APIC, route I/O APIC pin 3 to vector 0x40 (edge, APIC
 * ID 0), then n times `out` to BENCH_PORT, whose handler raises the
 * interrupt, which the guest (IF set) takes as KVM enters it again: its
 * handler counts it and EOIs. Then `out` to IRQ_DONE_PORT. An operation is
 * one request, delivery and handler: an exit, the send, the injection and
 * the handler's EOI (a write KVM's local APIC takes in the kernel).
 */
extern const uint8_t bench_irq_start[], bench_irq_handler[], bench_irq_end[];
__asm__(".pushsection .rodata\n"
	".globl bench_irq_start\nbench_irq_start:\n"
	"	movl $0xfee000f0, %eax\n"
	"	movl $0x1ff, (%rax)\n"
	"	movl $0xfec00000, %ebx\n"
	"	movl $0x17, (%rbx)\n"
	"	movl $0, 0x10(%rbx)\n"
	"	movl $0x16, (%rbx)\n"
	"	movl $0x40, 0x10(%rbx)\n"
	"	movl 0x200008, %ecx\n"
	"	movw $0x510, %dx\n"
	"	sti\n"
	"1:	outl %eax, %dx\n"
	"	decl %ecx\n"
	"	jnz 1b\n"
	"	cli\n"
	"	movw $0x600, %dx\n"
	"	outl %eax, %dx\n"
	"	hlt\n"
	".globl bench_irq_handler\nbench_irq_handler:\n"
	"	incl 0x200000\n"
	"	pushq %rax\n"
	"	movl $0xfee000b0, %eax\n"
	"	movl $0, (%rax)\n"
	"	popq %rax\n"
	"	iretq\n"
	".globl bench_irq_end\nbench_irq_end:\n"
	".popsection\n");

/* The guest's code and IDT (one interrupt gate, IRQ_VECTOR) in ram, its loop count n. */
static void irq_guest(uint8_t *ram, uint32_t n)
{
	uint64_t off = BENCH_ENTRY + (uint64_t)(bench_irq_handler - bench_irq_start);
	uint8_t *g = ram + IRQ_IDT + 16 * IRQ_VECTOR;
	uint32_t hi = (uint32_t)(off >> 32);

	memcpy(ram + BENCH_ENTRY, bench_irq_start, (size_t)(bench_irq_end - bench_irq_start));
	memset(ram + IRQ_IDT, 0, 256 * 16);
	g[0] = (uint8_t)off;
	g[1] = (uint8_t)(off >> 8);
	g[2] = VMM_GUEST_SEL_CODE;
	g[5] = 0x8e; /* present 64-bit interrupt gate */
	g[6] = (uint8_t)(off >> 16);
	g[7] = (uint8_t)(off >> 24);
	memcpy(g + 8, &hi, 4);
	memcpy(ram + IRQ_N, &n, 4);
}

static uint32_t irq_count(const uint8_t *ram)
{
	uint32_t c;

	memcpy(&c, ram + IRQ_COUNT, 4);
	return c;
}

/* Raw: the same guest; its requests become KVM_SIGNAL_MSI inline, its I/O APIC writes are dropped.
 */
static long raw_irq_sample(void *ctx)
{
	struct raw *r = ctx;
	struct kvm_run *run = r->run;
	struct kvm_msi msi = {.address_lo = (uint32_t)IRQ_MSI_ADDR, .data = IRQ_VECTOR};

	memset(r->ram + IRQ_COUNT, 0, 4);
	if (ioctl(r->vcpu, KVM_SET_REGS, &r->regs0) < 0)
		return bench_sample_error(-errno, "raw KVM: KVM_SET_REGS: %s", strerror(errno));
	for (;;) {
		if (ioctl(r->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return bench_sample_error(-errno, "raw KVM: KVM_RUN: %s", strerror(errno));
		}
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
			break;
		case KVM_EXIT_IO:
			if (run->io.port == IRQ_DONE_PORT) {
				if (irq_count(r->ram) != r->ops)
					return bench_sample_error(
					    -EIO, "raw KVM: the guest took %u interrupts, not %lu",
					    irq_count(r->ram), r->ops);
				return (long)r->ops;
			}
			if (ioctl(r->vm, KVM_SIGNAL_MSI, &msi) < 0)
				return bench_sample_error(-errno, "raw KVM: KVM_SIGNAL_MSI: %s",
							  strerror(errno));
			r->calls++;
			break;
		default:
			return bench_sample_error(-EIO, "raw KVM: unexpected exit reason %u",
						  run->exit_reason);
		}
	}
}

/* libvmm: a device on BENCH_PORT whose write raises the interrupt through the public API. */
struct irq_dev {
	struct vmm_vm *vm;
	bool line; /* an edge on IRQ_PIN (vmm_irq_set) rather than vmm_msi_send() */
	int err;
};

static struct irq_dev irq_dev;

static int irq_dev_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	*state = &irq_dev;
	return 0;
}

static int irq_dev_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	*value = 0;
	return 0;
}

static int irq_dev_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	struct irq_dev *d = state;
	int ret;

	if (d->line) {
		ret = vmm_irq_set(d->vm, IRQ_PIN, 1);
		if (ret == 0)
			ret = vmm_irq_set(d->vm, IRQ_PIN, 0);
	} else {
		ret = vmm_msi_send(d->vm, IRQ_MSI_ADDR, IRQ_VECTOR);
	}
	if (ret < 0 && !d->err)
		d->err = ret;
	return 0;
}

static const struct vmm_plugin_desc irq_dev_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "bench-irq",
    .description = "raises an interrupt on every write",
    .spaces = VMM_SPACE_PIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 1,
    .create = irq_dev_create,
    .read = irq_dev_read,
    .write = irq_dev_write,
};

static long vmm_irq_sample(void *ctx)
{
	struct bench_vm *b = ctx;
	struct vmm_exit ex = VMM_EXIT_INIT;
	int ret;

	memset(b->ram + IRQ_COUNT, 0, 4);
	ret = vmm_vcpu_set_regs(b->vcpu, &b->regs0);
	if (ret == 0)
		ret = vmm_vcpu_run(b->vcpu, &ex);
	if (ret < 0)
		return bench_sample_error(ret, "libvmm: %s", vmm_last_error());
	if (irq_dev.err)
		return bench_sample_error(irq_dev.err, "libvmm: raising the interrupt: %s",
					  vmm_strerror(irq_dev.err));
	if (ex.reason != VMM_EXIT_UNCLAIMED || ex.address != IRQ_DONE_PORT)
		return bench_sample_error(-EIO, "libvmm: the guest ended with %s: %s",
					  vmm_exit_reason_name(ex.reason), ex.detail);
	if (irq_count(b->ram) != b->ops)
		return bench_sample_error(-EIO, "libvmm: the guest took %u interrupts, not %lu",
					  irq_count(b->ram), b->ops);
	return (long)b->ops;
}

static int irq_vm_open(struct bench_vm *b, uint32_t n)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "irq",
	    .space = VMM_SPACE_PIO,
	    .base = BENCH_PORT,
	    .length = 4,
	};
	struct vmm_sregs s;
	int ret = bench_vm_base(b, VMM_ACCEL_KVM, n);

	irq_dev.vm = b->vm;
	irq_dev.err = 0;
	if (ret == 0)
		ret = vmm_device_add(b->vm, &irq_dev_desc, &cfg, NULL);
	if (ret == 0)
		ret = vmm_vcpu_create(b->vm, 0, &b->vcpu);
	if (ret == 0) {
		irq_guest(b->ram, n);
		ret = vmm_boot_setup(b->vm, BENCH_ENTRY);
	}
	if (ret == 0)
		ret = vmm_vcpu_get_sregs(b->vcpu, &s);
	if (ret == 0) {
		s.idt.base = IRQ_IDT;
		s.idt.limit = 256 * 16 - 1;
		ret = vmm_vcpu_set_sregs(b->vcpu, &s);
	}
	if (ret == 0)
		ret = vmm_vcpu_get_regs(b->vcpu, &b->regs0);
	if (ret < 0) {
		vmm_vm_destroy(b->vm);
		b->vm = NULL;
	}
	return ret;
}

static void irq_row(struct bench_row *row, bool line)
{
	uint32_t n = bench_opts.quick ? 20 : 1000;
	const char *missing = bench_kvm_missing();
	uint8_t code[BENCH_CODE_MAX] = {0};
	struct bench_vm v;
	struct raw r;
	char why[200];

	if (missing) {
		bench_skip(row, "%s", missing);
		return;
	}
	irq_dev.line = line;
	if (irq_vm_open(&v, n) < 0) {
		bench_fail(row, "libvmm: %s", vmm_last_error());
		return;
	}
	if (raw_open(&r, BENCH_RAM_SIZE, code, 1, n, true, why, sizeof(why)) < 0) {
		bench_fail(row, "%s", why);
		bench_vm_close(&v);
		return;
	}
	irq_guest(r.ram, n);
	bench_compare(row, bench_samples(21), vmm_irq_sample, &v, raw_irq_sample, &r);
	bench_note(
	    row,
	    "%u interrupts per sample: guest `out` -> %s -> vector 0x40 handler (EOI) ->"
	    " next `out`; baseline: the same guest, KVM_SIGNAL_MSI inline in the KVM_RUN"
	    " loop, split irqchip both.",
	    n, line ? "vmm_irq_set(3, 1), vmm_irq_set(3, 0) (I/O APIC, edge)" : "vmm_msi_send()");
	raw_close(&r);
	bench_vm_close(&v);
}

void bench_row_msi_kvm(struct bench_row *row)
{
	irq_row(row, false);
}

void bench_row_irqline_kvm(struct bench_row *row)
{
	irq_row(row, true);
}
