/* SPDX-License-Identifier: MIT */
/* rows_vmm.c - rows where libvmm is its own baseline: dispatch scaling and memory per VM. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* ---- dispatch scaling ---- */

#define DISPATCH_WINDOWS 4096u
#define DISPATCH_SLOTS	 4096u
/*
 * emu: Unicorn 2.0.1 aborts the process (an assertion in QEMU's
 * phys_section_add()) once guest-physical space has 4096 sections, and each
 * slot here makes two (itself and the hole after it): about 1750 slots laid
 * out like this are fatal. Building the layout is quadratic too (each mapping
 * rebuilds Unicorn's flat view), so emu gets 1024.
 */
#define DISPATCH_SLOTS_EMU 1024u
#define DISPATCH_STRIDE	   0x2000ull	 /* windows and slots: 4 KiB, then a 4 KiB hole */
#define DISPATCH_WIN_BASE  0xc0000000ull /* windows: [3 GiB, 3 GiB + 32 MiB) */
#define DISPATCH_SLOT_BASE 0x80000000ull /* extra slots: [2 GiB, 2 GiB + 32 MiB) */
/* The window the guest stores to: in the middle of the big VM's, alone in the small VM. */
#define DISPATCH_TARGET (DISPATCH_WIN_BASE + DISPATCH_WINDOWS / 2 * DISPATCH_STRIDE)

/*
 * A VM with the RAM slot and nslots - 1 more 4 KiB slots, nwin no-op windows,
 * one vCPU. vmm_boot_setup() refuses more slots and windows than boot info
 * lists, so the boot state is bench_boot_write()'s (the same, checked at
 * start-up) and set through vmm_vcpu_set_sregs/regs. *got_slots: how many
 * slots the VM took (VMM_MEMSLOT_MAX or KVM may allow fewer).
 */
static int dispatch_open(struct bench_vm *b, enum vmm_accel accel, unsigned nwin, unsigned nslots,
			 unsigned long ops, unsigned *got_slots)
{
	uint8_t code[BENCH_CODE_MAX];
	size_t len = bench_code_mmio(code, DISPATCH_TARGET, (uint32_t)ops);
	struct vmm_sregs sr;
	unsigned slots = 1;
	char name[32];
	int ret = bench_vm_base(b, accel, ops);

	for (unsigned i = 0; i < nwin && ret == 0; i++) {
		uint64_t base = DISPATCH_WIN_BASE + i * DISPATCH_STRIDE;

		if (nwin == 1)
			base = DISPATCH_TARGET;
		snprintf(name, sizeof(name), "w%u", i);
		ret = bench_add_nulldev(b->vm, name, VMM_SPACE_MMIO, base, 0x1000, false);
	}
	for (; slots < nslots && ret == 0; slots++) {
		ret = vmm_memslot_alloc(b->vm, NULL, DISPATCH_SLOT_BASE + slots * DISPATCH_STRIDE,
					0x1000, NULL);
		if (ret == -ENOSPC) {
			ret = 0;
			break;
		}
	}
	*got_slots = slots;
	if (ret == 0)
		ret = vmm_vcpu_create(b->vm, 0, &b->vcpu);
	if (ret == 0) {
		bench_boot_write(b->ram, BENCH_RAM_SIZE, BENCH_ENTRY, &sr, &b->regs0);
		memcpy(b->ram + BENCH_ENTRY, code, len);
		ret = vmm_vcpu_set_sregs(b->vcpu, &sr);
	}
	if (ret == 0)
		ret = vmm_vcpu_set_regs(b->vcpu, &b->regs0);
	if (ret < 0) {
		vmm_vm_destroy(b->vm);
		b->vm = NULL;
	}
	return ret;
}

void bench_row_dispatch(struct bench_row *row, enum vmm_accel accel)
{
	bool kvm = accel == VMM_ACCEL_KVM;
	unsigned long n = bench_opts.quick ? (kvm ? 20 : 100) : (kvm ? 2000 : 100000);
	const char *missing = kvm ? bench_kvm_missing() : NULL;
	unsigned want_slots = kvm ? DISPATCH_SLOTS : DISPATCH_SLOTS_EMU;
	struct bench_vm big, small;
	unsigned big_slots, small_slots;
	struct vmm_vm_stats st = VMM_VM_STATS_INIT;
	unsigned long want;

	if (missing) {
		bench_skip(row, "%s", missing);
		return;
	}
	if (dispatch_open(&big, accel, DISPATCH_WINDOWS, want_slots, n, &big_slots) < 0) {
		bench_fail(row, "libvmm, %u windows: %s", DISPATCH_WINDOWS, vmm_last_error());
		return;
	}
	if (dispatch_open(&small, accel, 1, 1, n, &small_slots) < 0) {
		bench_fail(row, "libvmm, 1 window: %s", vmm_last_error());
		bench_vm_close(&big);
		return;
	}
	if (bench_compare(row, bench_samples(31), bench_vm_sample, &big, bench_vm_sample, &small) ==
	    0) {
		want = (row->samples + 1) * n;
		if (vmm_vm_get_stats(big.vm, &st) == 0 && st.mmio_exits != want)
			bench_fail(row, "the big VM made %llu exits, not %lu",
				   (unsigned long long)st.mmio_exits, want);
		else if (vmm_vm_get_stats(small.vm, &st) == 0 && st.mmio_exits != want)
			bench_fail(row, "the small VM made %llu exits, not %lu",
				   (unsigned long long)st.mmio_exits, want);
	}
	bench_note(row,
		   "libvmm: %u windows and %u memslots, baseline: 1 window and 1 memslot"
		   " (libvmm too); %lu stores per sample to the same window.",
		   DISPATCH_WINDOWS, big_slots, n);
	if (!kvm)
		bench_note(row,
			   "emu gets %u memslots, not %u: more abort the process in Unicorn"
			   " 2.0.1 (4096 memory sections; see rows_vmm.c).",
			   DISPATCH_SLOTS_EMU, DISPATCH_SLOTS);
	if (big_slots < want_slots)
		bench_note(row,
			   "Only %u memslots: the VM refused more with -ENOSPC"
			   " (VMM_MEMSLOT_MAX is %d in this build).",
			   big_slots, VMM_MEMSLOT_MAX);
	bench_vm_close(&small);
	bench_vm_close(&big);
}

/* ---- memory per VM ---- */

/*
 * A KVM VM's cost is mostly kernel memory (the VM and vCPU structures, the
 * VMCB/VMCS, MMU pages, memslot arrays), which the process's RSS never
 * shows. So the VMs are made by a child process in a memory cgroup of its
 * own, and the row reports what the cgroup is charged: user pages and the
 * kernel allocations made on its behalf (KVM allocates with
 * GFP_KERNEL_ACCOUNT / SLAB_ACCOUNT, so they are charged to the cgroup of
 * the process that creates the VM). Each VM: a 64 MiB slot, one vCPU, the
 * boot state, run to its first hlt, and kept.
 */
struct mem_result {
	int err; /* 0, or a negative errno: why says what failed */
	char why[200];
	unsigned made;
	struct bench_memcg_usage u0, u1, un; /* before, after the first VM, after all */
	uint64_t rss0, rss1, rssn;
};

static int memory_vm(enum vmm_accel accel, struct vmm_vm **out, char *why, size_t len)
{
	struct vmm_vm_options opts;
	struct vmm_vcpu *vcpu;
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint8_t *ram, code[BENCH_CODE_MAX];
	size_t n = bench_code_hlt(code);
	int ret;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	ret = vmm_vm_create(&opts, out);
	if (ret == 0)
		ret = vmm_memslot_alloc(*out, "ram", 0, BENCH_VM_RAM_SIZE, (void **)&ram);
	if (ret == 0)
		ret = vmm_vcpu_create(*out, 0, &vcpu);
	if (ret == 0) {
		memcpy(ram + BENCH_ENTRY, code, n);
		ret = vmm_boot_setup(*out, BENCH_ENTRY);
	}
	if (ret == 0)
		ret = vmm_vcpu_run(vcpu, &ex);
	if (ret < 0)
		snprintf(why, len, "%s", vmm_last_error());
	else if (ex.reason != VMM_EXIT_HLT)
		ret = -EIO, snprintf(why, len, "the guest ended with %s: %s",
				     vmm_exit_reason_name(ex.reason), ex.detail);
	return ret;
}

/* In the child, inside the cgroup: make nvms VMs, reading the charge as they come. */
static void memory_child(const struct bench_memcg *cg, enum vmm_accel accel, unsigned nvms,
			 struct mem_result *r)
{
	struct vmm_vm *vm;

	r->err = bench_memcg_join(cg);
	if (r->err < 0) {
		snprintf(r->why, sizeof(r->why), "cannot join %.120s: %s", cg->dir,
			 strerror(-r->err));
		return;
	}
	if (bench_memcg_read(cg, &r->u0) < 0)
		goto unreadable;
	r->rss0 = bench_rss();
	for (; r->made < nvms; r->made++) {
		r->err = memory_vm(accel, &vm, r->why, sizeof(r->why));
		if (r->err < 0)
			return;
		/* Kept: the VMs go when the child exits. */
		if (r->made == 0) {
			if (bench_memcg_read(cg, &r->u1) < 0)
				goto unreadable;
			r->rss1 = bench_rss();
		}
	}
	if (bench_memcg_read(cg, &r->un) < 0)
		goto unreadable;
	r->rssn = bench_rss();
	return;
unreadable:
	r->err = -EIO;
	snprintf(r->why, sizeof(r->why), "cannot read the usage of %.150s", cg->dir);
}

static double per_vm_kib(uint64_t first, uint64_t last, unsigned n)
{
	return ((double)last - (double)first) / (n - 1) / 1024.0;
}

void bench_row_memory(struct bench_row *row, enum vmm_accel accel)
{
	unsigned nvms = bench_opts.quick ? 5 : 100;
	const char *missing = accel == VMM_ACCEL_KVM ? bench_kvm_missing() : NULL;
	struct mem_result r = {0};
	struct bench_memcg cg;
	char why[600];
	int fds[2], status;
	ssize_t got = 0;
	pid_t pid;

	if (missing) {
		bench_skip(row, "%s", missing);
		return;
	}
	if (bench_memcg_create(&cg, why, sizeof(why)) < 0) {
		bench_skip(row, "%s", why);
		return;
	}
	if (pipe(fds) < 0) {
		bench_fail(row, "pipe: %s", strerror(errno));
		bench_memcg_remove(&cg);
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		memory_child(&cg, accel, nvms, &r);
		if (write(fds[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(fds[1]);
	if (pid > 0) {
		while (got < (ssize_t)sizeof(r)) {
			ssize_t n = read(fds[0], (char *)&r + got, sizeof(r) - (size_t)got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += n;
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close(fds[0]);
	bench_memcg_remove(&cg);
	if (pid < 0) {
		bench_fail(row, "fork: %s", strerror(errno));
		return;
	}
	if (got != (ssize_t)sizeof(r)) {
		bench_fail(row, "the measuring child died (status 0x%x)", status);
		return;
	}
	if (r.err < 0) {
		bench_fail(row, "VM %u: %s", r.made, r.why);
		return;
	}
	row->status = BENCH_RAN;
	row->a = (struct bench_stats){.median = per_vm_kib(r.u1.total, r.un.total, nvms),
				      .p10 = NAN,
				      .p99 = NAN,
				      .valid = true};
	row->a_ns = row->a;
	row->samples = 1;
	row->ops = nvms;
	snprintf(row->iterations, sizeof(row->iterations), "1 -> %u VMs", nvms);
	snprintf(why, sizeof(why), ", of which kernel memory %.1f KiB/VM",
		 r.un.have_kernel ? per_vm_kib(r.u1.kernel, r.un.kernel, nvms) : NAN);
	bench_note(row,
		   "Charged to a memory cgroup of its own (v%d) over 1 -> %u VMs, each a"
		   " 64 MiB slot (untouched), 1 vCPU, booted and run to its first hlt: %.1f"
		   " KiB/VM%s; the first VM %.0f KiB. The process's RSS grew %.1f KiB/VM.",
		   cg.version, nvms, row->a.median, r.un.have_kernel ? why : "",
		   ((double)r.u1.total - (double)r.u0.total) / 1024.0,
		   per_vm_kib(r.rss1, r.rssn, nvms));
	if (accel == VMM_ACCEL_KVM && (!r.un.have_kernel || r.un.kernel == r.u1.kernel))
		bench_note(row, "This kernel charged no kernel memory to the cgroup: the figure"
				" misses what KVM allocates.");
}
