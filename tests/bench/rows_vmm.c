/* rows_vmm.c - rows where libvmm is its own baseline: dispatch scaling and memory per VM. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* ---- dispatch scaling ---- */

#define DISPATCH_WINDOWS   4096u
#define DISPATCH_SLOTS	   4096u
/*
 * emu: Unicorn 2.0.1 aborts the process (an assertion in QEMU's
 * phys_section_add()) once guest-physical space has 4096 sections, and each
 * slot here makes two (itself and the hole after it): about 1750 slots laid
 * out like this are fatal. Building the layout is quadratic too (each mapping
 * rebuilds Unicorn's flat view), so emu gets 1024.
 */
#define DISPATCH_SLOTS_EMU 1024u
#define DISPATCH_STRIDE	   0x2000ull     /* windows and slots: 4 KiB, then a 4 KiB hole */
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
	struct vmm_vm_stats st;
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
	bench_note(row, "libvmm: %u windows and %u memslots, baseline: 1 window and 1 memslot"
			" (libvmm too); %lu stores per sample to the same window.",
		   DISPATCH_WINDOWS, big_slots, n);
	if (!kvm)
		bench_note(row, "emu gets %u memslots, not %u: more abort the process in Unicorn"
				" 2.0.1 (4096 memory sections; see rows_vmm.c).",
			   DISPATCH_SLOTS_EMU, DISPATCH_SLOTS);
	if (big_slots < want_slots)
		bench_note(row, "Only %u memslots: the VM refused more with -ENOSPC"
				" (VMM_MEMSLOT_MAX is %d in this build).",
			   big_slots, VMM_MEMSLOT_MAX);
	bench_vm_close(&small);
	bench_vm_close(&big);
}

/* ---- memory per VM ---- */

void bench_row_memory(struct bench_row *row, enum vmm_accel accel)
{
	unsigned nvms = bench_opts.quick ? 5 : 100;
	const char *missing = accel == VMM_ACCEL_KVM ? bench_kvm_missing() : NULL;
	struct vmm_vm **vms;
	uint64_t rss0, rss1 = 0, rssn = 0;
	unsigned made = 0;
	int ret = 0;

	if (missing) {
		bench_skip(row, "%s", missing);
		return;
	}
	vms = calloc(nvms, sizeof(*vms));
	if (!vms) {
		bench_fail(row, "out of memory");
		return;
	}
	rss0 = bench_rss();
	for (; made < nvms && ret == 0; made++) {
		struct vmm_vm_options opts;

		vmm_vm_options_init(&opts);
		opts.accel = accel;
		ret = vmm_vm_create(&opts, &vms[made]);
		if (ret == 0)
			ret = vmm_memslot_alloc(vms[made], "ram", 0, BENCH_VM_RAM_SIZE, NULL);
		if (ret == 0)
			ret = vmm_vcpu_create(vms[made], 0, NULL);
		if (made == 0)
			rss1 = bench_rss();
	}
	rssn = bench_rss();
	if (ret < 0) {
		bench_fail(row, "VM %u: %s", made, vmm_last_error());
	} else {
		double slope = (double)(rssn - rss1) / (nvms - 1) / 1024.0;

		row->status = BENCH_RAN;
		row->a = (struct bench_stats){ .median = slope, .p10 = NAN, .p99 = NAN,
					       .valid = true };
		row->a_ns = row->a;
		row->samples = 1;
		row->ops = nvms;
		snprintf(row->iterations, sizeof(row->iterations), "1 -> %u VMs", nvms);
		bench_note(row, "RSS slope over 1 -> %u VMs, each a 64 MiB slot (untouched) and"
				" 1 vCPU; the first VM added %.0f KiB, %u VMs %.1f MiB.",
			   nvms, (double)(rss1 - rss0) / 1024.0, nvms,
			   (double)(rssn - rss0) / 1048576.0);
	}
	for (unsigned i = 0; i < nvms; i++)
		vmm_vm_destroy(vms[i]);
	free(vms);
}
