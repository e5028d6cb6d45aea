/* SPDX-License-Identifier: MIT */
/*
 * stress.c - memslot and device-window changes while vCPUs hammer guest
 * memory and MMIO and take interrupts that a device's own thread raises
 * (its I/O APIC line and MSIs): no vCPU, device or host thread may touch
 * freed memory, and the pauses around each change must be invisible to
 * the guest.
 *
 * Built three ways by the Makefile: plain, with ASan+UBSan, with TSan;
 * make check runs the sanitizer builds. Usage:
 *   stress [--accel=auto|kvm|emu] [--changes=N] [--vcpus=N]
 * Exit status 0 when every check holds, 1 when one fails, 77 when the
 * backend asked for is not available (kvm without /dev/kvm).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "vmm/vmm.h"

#define ENTRY	   0x100000ull
#define LOW_SIZE   (16ull << 20)
#define CNT	   0x200000ull	/* vCPU i counts at CNT + 64 * i */
#define FLAG	   0x1ff000ull	/* the host sets it: guests leave their loops */
#define M1	   0x1000000ull /* "mover" goes back and forth between M1 and M2 */
#define M2	   0x1400000ull
#define MOVER_SIZE 0x100000ull
#define CHURN	   0x2000000ull /* "churn" is added and removed */
#define CHURN_SIZE 0x10000ull
#define D1	   0x3000000ull /* the device goes between D1 and D2, and away */
#define D2	   0x3100000ull
#define DEV_LEN	   0x1000ull
#define IDT	   0x1fe000ull /* vector VECTOR's gate; the IDTR image lies below it */
#define VECTOR	   0x50u
#define PIN	   3u /* the device's I/O APIC line, routed to VECTOR on every vCPU */

/*
 * Each vCPU: count in memory and in rcx; read both places of "mover";
 * write and read "churn"; write and read the device at both places (its
 * write does DMA into "churn"); until FLAG is set. Whatever is unbacked at
 * the moment reads all-ones and drops writes.
 */
extern const unsigned char guest_start[], guest_end[];
__asm__(".pushsection .rodata\n"
	".globl guest_start\nguest_start:\n"
	"	movl 16(%rdi), %r8d\n" /* boot info: vcpu_index */
	"	shlq $6, %r8\n"
	"	addq $0x200000, %r8\n"
	/* The gate of VECTOR (every vCPU writes the same bytes), the IDT, the LAPIC on. */
	"	leaq 9f(%rip), %rax\n"
	"	movq $0x1fe500, %rdx\n"
	"	movw %ax, (%rdx)\n"
	"	movw $0x08, 2(%rdx)\n"
	"	movw $0x8e00, 4(%rdx)\n"
	"	shrq $16, %rax\n"
	"	movw %ax, 6(%rdx)\n"
	"	shrq $16, %rax\n"
	"	movl %eax, 8(%rdx)\n"
	"	movl $0, 12(%rdx)\n"
	"	movw $0xfff, 0x1fdff0\n"
	"	movq $0x1fe000, 0x1fdff2\n"
	"	lidt 0x1fdff0\n"
	"	movabsq $0xfee000f0, %rax\n"
	"	movl $0x1ff, (%rax)\n"
	/* vCPU 0 routes PIN to VECTOR, edge, to every APIC (destination 0xff). */
	"	cmpl $0, 16(%rdi)\n"
	"	jne 2f\n"
	"	movabsq $0xfec00000, %rax\n"
	"	movl $0x16, (%rax)\n"
	"	movl $0x50, 0x10(%rax)\n"
	"	movl $0x17, (%rax)\n"
	"	movl $0xff000000, 0x10(%rax)\n"
	"2:	sti\n"
	"1:	incq (%r8)\n"
	"	incq %rcx\n"
	"	movq 0x1000000, %rax\n"
	"	movq 0x1400000, %rax\n"
	"	movq %rcx, 0x2000008\n"
	"	movq 0x2000008, %rax\n"
	"	movl %ecx, 0x3000000\n"
	"	movl 0x3000004, %eax\n"
	"	movl %ecx, 0x3100000\n"
	"	movl 0x3100004, %eax\n"
	"	cmpq $0, 0x1ff000\n"
	"	je 1b\n"
	"	cli\n"
	"	hlt\n"
	/* The handler: count at CNT + 64 * i + 8, EOI. Touches no register it does not restore. */
	"9:	pushq %rax\n"
	"	incq 8(%r8)\n"
	"	movabsq $0xfee000b0, %rax\n"
	"	movl $0, (%rax)\n"
	"	popq %rax\n"
	"	iretq\n"
	".globl guest_end\nguest_end:\n"
	".popsection\n");

static struct vmm_vm *vm;
static atomic_bool done;
static atomic_ullong dev_reads, dev_writes, dma_ok, dma_fault, host_ok, host_fault;
static atomic_ullong irq_raised, msi_sent, irq_refused;
static char refusal[256]; /* why the first interrupt request was refused (one writer: the first) */
#define CHECK_PROG "stress"
#include "../check.h"

/* ---- the device: counts, and writes do DMA into "churn" ---- */

struct counter {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;
	uint64_t *scratch; /* proves destroy() runs: ASan reports a leak if not */
	pthread_t worker;  /* raises the line and sends MSIs until destroy() */
	atomic_bool quit;
};

/* The device's own thread: interrupts from outside any vCPU, racing every change. */
static void *dev_worker(void *arg)
{
	struct counter *c = arg;

	while (!atomic_load(&c->quit)) {
		int r = c->host->irq_set(c->ctx, 0, 1);

		r = r ? r : c->host->irq_set(c->ctx, 0, 0);
		if (r == 0)
			irq_raised++;
		else if (irq_refused++ == 0)
			snprintf(refusal, sizeof(refusal), "irq_set: %s: %s", vmm_strerror(r),
				 vmm_last_error());
		r = c->host->msi_send(c->ctx, 0xfee00000u | 0xffu << 12, VECTOR);
		if (r == 0)
			msi_sent++;
		else if (irq_refused++ == 0)
			snprintf(refusal, sizeof(refusal), "msi_send: %s: %s", vmm_strerror(r),
				 vmm_last_error());
		nanosleep(&(struct timespec){.tv_nsec = 20 * 1000}, NULL);
	}
	return NULL;
}

static int dev_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		      const struct vmm_device_info *info, void **state)
{
	struct counter *c = calloc(1, sizeof(*c));

	if (!c || !(c->scratch = malloc(64))) {
		free(c);
		return -ENOMEM;
	}
	c->host = host;
	c->ctx = ctx;
	if (pthread_create(&c->worker, NULL, dev_worker, c)) {
		free(c->scratch);
		free(c);
		return -EAGAIN;
	}
	*state = c;
	return 0;
}

static void dev_destroy(void *state)
{
	struct counter *c = state;

	atomic_store(&c->quit, true);
	pthread_join(c->worker, NULL);
	free(c->scratch);
	free(c);
}

static int dev_read(void *state, uint64_t off, uint32_t size, uint64_t *value)
{
	dev_reads++;
	*value = off;
	return 0;
}

static int dev_write(void *state, uint64_t off, uint32_t size, uint64_t value)
{
	struct counter *c = state;

	dev_writes++;
	c->scratch[0] = value;
	/* "churn" may be gone: DMA then fails cleanly. */
	if (c->host->mem_write(c->ctx, CHURN + 16, c->scratch, 8) == 0)
		dma_ok++;
	else
		dma_fault++;
	return 0;
}

static const struct vmm_plugin_desc dev_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "counter",
    .description = "counts accesses; writes copy the value into guest RAM",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4 | VMM_ACCESS_8,
    .min_length = 8,
    .create = dev_create,
    .destroy = dev_destroy,
    .read = dev_read,
    .write = dev_write,
};

static struct vmm_device *add_device(uint64_t base)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "counter",
	    .space = VMM_SPACE_MMIO,
	    .base = base,
	    .length = DEV_LEN,
	    .irqs = (const uint32_t[]){PIN},
	    .nirqs = 1,
	};
	struct vmm_device *dev;

	MUST(vmm_device_add(vm, &dev_desc, &cfg, &dev));
	return dev;
}

/* ---- threads ---- */

static struct vmm_exit run_exit = VMM_EXIT_INIT;
static int run_ret;

static void *runner(void *arg)
{
	run_ret = vmm_vm_run(vm, &run_exit);
	return NULL;
}

/* Host reads and writes racing the changes: each either copies or fails with -EFAULT. */
static void *host_io(void *arg)
{
	static const uint64_t where[] = {M1, M2, CHURN, CHURN + CHURN_SIZE - 8, D1};
	struct vmm_translation t = {.size = sizeof(t)};
	uint64_t v = 0;
	unsigned i = 0;

	while (!atomic_load(&done)) {
		uint64_t gpa = where[i++ % (sizeof(where) / sizeof(where[0]))];
		int r =
		    i % 2 ? vmm_guest_read(vm, gpa, &v, 8) : vmm_guest_write(vm, gpa + 8, &v, 8);

		if (r == 0)
			host_ok++;
		else if (r == -EFAULT)
			host_fault++;
		else
			CHECK(0, "host copy at 0x%llx: %s", (unsigned long long)gpa,
			      vmm_strerror(r));
		if (vmm_translate(vm, gpa, &t) == 0 && t.kind == VMM_XLATE_RAM)
			CHECK(t.hva != NULL, "RAM without a host address");
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct vmm_vm_options opts;
	enum vmm_accel accel = VMM_ACCEL_AUTO;
	unsigned long changes = 3000, nvcpus = 3;
	struct vmm_device *dev;
	uint64_t mover_at = M1, dev_at = D1, bm[(MOVER_SIZE / 4096 + 63) / 64];
	bool churn = true, logging = false;
	pthread_t run_thread, io_thread;
	uint8_t *low, *blocks[2];
	unsigned long i;
	double t0;
	int r;

	for (int a = 1; a < argc; a++) {
		if (!strncmp(argv[a], "--accel=", 8)) {
			if (vmm_accel_parse(argv[a] + 8, &accel)) {
				fprintf(stderr, "stress: %s\n", vmm_last_error());
				return 2;
			}
		} else if (!strncmp(argv[a], "--changes=", 10)) {
			changes = strtoul(argv[a] + 10, NULL, 0);
		} else if (!strncmp(argv[a], "--vcpus=", 8)) {
			nvcpus = strtoul(argv[a] + 8, NULL, 0);
		} else {
			fprintf(stderr,
				"usage: stress [--accel=auto|kvm|emu] [--changes=N] [--vcpus=N]\n");
			return 2;
		}
	}
	if (nvcpus < 1 || nvcpus > 16)
		nvcpus = 3;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	r = vmm_vm_create(&opts, &vm);
	if (r == -ENODEV || (r < 0 && accel == VMM_ACCEL_KVM)) {
		printf("stress: skipped: %s\n", vmm_last_error());
		return 77;
	}
	MUST(r);
	MUST(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	MUST(vmm_memslot_alloc(vm, "mover", M1, MOVER_SIZE, NULL));
	MUST(vmm_memslot_alloc(vm, "churn", CHURN, CHURN_SIZE, NULL));
	dev = add_device(D1);
	for (unsigned v = 0; v < nvcpus; v++)
		MUST(vmm_vcpu_create(vm, v, NULL));
	memcpy(low + ENTRY, guest_start, (size_t)(guest_end - guest_start));
	MUST(vmm_boot_setup(vm, ENTRY));
	/* Host memory for remaps, the caller's: two blocks used in turn. */
	for (int b = 0; b < 2; b++) {
		blocks[b] = mmap(NULL, MOVER_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (blocks[b] == MAP_FAILED) {
			perror("stress: mmap");
			return 1;
		}
	}

	printf("stress: %s backend, %lu vCPUs, %lu changes\n", vmm_accel_name(vmm_vm_accel(vm)),
	       nvcpus, changes);
	fflush(stdout);
	if (pthread_create(&run_thread, NULL, runner, NULL) ||
	    pthread_create(&io_thread, NULL, host_io, NULL)) {
		fprintf(stderr, "stress: cannot create threads\n");
		return 1;
	}

	t0 = now();
	for (i = 0; i < changes; i++) {
		switch (i % 8) {
		case 0: /* move "mover" to its other place */
		case 4:
			MUST(vmm_memslot_move(vm, mover_at, mover_at == M1 ? M2 : M1));
			mover_at = mover_at == M1 ? M2 : M1;
			break;
		case 1: /* "churn" goes (its memory is unmapped) or comes back */
		case 5:
			if (churn)
				MUST(vmm_memslot_remove(vm, CHURN));
			else
				MUST(vmm_memslot_alloc(vm, "churn", CHURN, CHURN_SIZE, NULL));
			churn = !churn;
			break;
		case 2: /* the device moves */
			MUST(vmm_device_move(dev, dev_at == D1 ? D2 : D1));
			dev_at = dev_at == D1 ? D2 : D1;
			break;
		case 3: /* the device goes and a new one comes (destroy() frees the old state) */
			MUST(vmm_device_remove(dev));
			dev = add_device(dev_at);
			break;
		case 6: /* "mover" gets other host memory */
			MUST(vmm_memslot_remap(vm, mover_at, blocks[(i / 8) % 2]));
			break;
		case 7: /* dirty logging of "mover" on, fetched, off */
			if (!logging)
				MUST(vmm_memslot_set_dirty_log(vm, mover_at, 1));
			else
				MUST(vmm_memslot_get_dirty(vm, mover_at, bm,
							   sizeof(bm) / sizeof(bm[0])));
			if (logging)
				MUST(vmm_memslot_set_dirty_log(vm, mover_at, 0));
			logging = !logging;
			break;
		}
	}
	t0 = now() - t0;

	/* Let the guests finish their loops: they halt, and vmm_vm_run() returns. */
	MUST(vmm_guest_write(vm, FLAG, &(uint64_t){1}, 8));
	pthread_join(run_thread, NULL);
	atomic_store(&done, true);
	pthread_join(io_thread, NULL);

	CHECK(run_ret == 0 && run_exit.reason == VMM_EXIT_HLT, "the VM ended with %s: %s",
	      vmm_exit_reason_name(run_exit.reason), run_exit.detail);
	for (unsigned v = 0; v < nvcpus; v++) {
		struct vmm_regs regs;
		uint64_t count = 0, irqs = 0;

		MUST(vmm_vcpu_get_regs(vmm_vcpu_get(vm, v), &regs));
		MUST(vmm_guest_read(vm, CNT + 64 * v, &count, 8));
		MUST(vmm_guest_read(vm, CNT + 64 * v + 8, &irqs, 8));
		CHECK(irqs > 0, "vCPU %u took no interrupt", v);
		CHECK(
		    count == regs.rcx && count > 0,
		    "vCPU %u counted %llu in memory and %llu in rcx: a pause repeated or lost work",
		    v, (unsigned long long)count, (unsigned long long)regs.rcx);
		printf("stress: vCPU %u: %llu loops, %llu interrupts\n", v,
		       (unsigned long long)count, (unsigned long long)irqs);
	}
	CHECK(dev_reads > 0 && dev_writes > 0, "the device was never reached");
	CHECK(irq_refused == 0, "%llu interrupt requests refused, the first: %s",
	      (unsigned long long)irq_refused, refusal);
	printf("stress: the device's thread raised its line %llu times and sent %llu MSIs\n",
	       (unsigned long long)irq_raised, (unsigned long long)msi_sent);
	printf("stress: %lu changes in %.2f s (%.0f us each); device %llu reads, %llu writes; "
	       "DMA %llu ok, %llu refused; host copies %llu ok, %llu refused\n",
	       changes, t0, changes ? t0 * 1e6 / (double)changes : 0.0,
	       (unsigned long long)dev_reads, (unsigned long long)dev_writes,
	       (unsigned long long)dma_ok, (unsigned long long)dma_fault,
	       (unsigned long long)host_ok, (unsigned long long)host_fault);
	vmm_vm_destroy(vm);
	for (int b = 0; b < 2; b++)
		munmap(blocks[b], MOVER_SIZE);
	printf("stress: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
