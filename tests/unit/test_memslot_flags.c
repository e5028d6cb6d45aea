/* SPDX-License-Identifier: MIT */
/*
 * test_memslot_flags.c - specification of read-only slots and
 * dirty-page logging, seen by machine-code guests on both backends.
 */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vmm/vmm.h"

#define ENTRY	  0x100000ull
#define LOW_SIZE  (16ull << 20)
#define SLOT_A	  0x1000000ull /* the slot under test: 16 MiB */
#define SLOT_SIZE 0x200000ull  /* 512 pages: a dirty bitmap of 8 words */
#define WORDS	  (SLOT_SIZE / 4096 / 64)
#define PAGE	  0x1000u
#define MARK	  0x0123456789abcdefull

/* ---- a device that records the writes it receives ---- */

static struct recorder {
	unsigned writes, reads;
	uint64_t off, value;
	uint32_t size;
} rec;

static int rec_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		      const struct vmm_device_info *info, void **state)
{
	*state = &rec;
	return 0;
}

static int rec_read(void *state, uint64_t off, uint32_t size, uint64_t *value)
{
	rec.reads++;
	*value = 0x5a;
	return 0;
}

static int rec_write(void *state, uint64_t off, uint32_t size, uint64_t value)
{
	rec.writes++;
	rec.off = off;
	rec.size = size;
	rec.value = value;
	return 0;
}

static const struct vmm_plugin_desc rec_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "recorder",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8,
    .min_length = 1,
    .create = rec_create,
    .read = rec_read,
    .write = rec_write,
};

/* ---- the machine ---- */

static struct vmm_vm *vm;
static uint8_t *low, *slot;
static struct vmm_exit ex = VMM_EXIT_INIT;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(memslot_flags_emu, .fini = teardown, .timeout = 60);
TestSuite(memslot_flags_kvm, .fini = teardown,
	  .timeout = 300); /* 32764 KVM slots on an older kernel: seconds */
#define BOTH(name) TWIN_TESTS(memslot_flags_emu, memslot_flags_kvm, name)

/* RAM at 0 (boot area at its top), slot "a" of SLOT_SIZE at SLOT_A with flags, MARK first. */
static void machine(enum vmm_accel accel, enum vmm_unclaimed_policy policy, uint32_t flags,
		    const struct prog *p)
{
	struct vmm_vm_options opts;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	opts.unclaimed = policy;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_memslot_alloc_flags(vm, "a", SLOT_A, SLOT_SIZE, flags, (void **)&slot));
	memcpy(slot, &(uint64_t){MARK}, 8);
	OK(vmm_vcpu_create(vm, 0, NULL));
	memcpy(low + ENTRY, p->b, p->n);
	OK(vmm_boot_setup(vm, ENTRY));
}

/* The recorder over [base, base + len). */
static void recorder_at(uint64_t base, uint64_t len)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "rec",
	    .space = VMM_SPACE_MMIO,
	    .base = base,
	    .length = len,
	};

	OK(vmm_device_add(vm, &rec_desc, &cfg, NULL));
}

static void run_to_hlt(void)
{
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
}

/* ---- read-only slots ---- */

/* Store 0x55 over MARK, read it back into rbx, mark rdx, halt. */
static void rom_store_program(struct prog *p)
{
	store(p, SLOT_A, 0x55);
	load(p, RBX, SLOT_A);
	went_on(p);
	hlt(p);
}

BOTH(rom_write_goes_to_the_device_over_it_and_memory_keeps_its_bytes)
{
	struct prog p = {.n = 0};

	rom_store_program(&p);
	machine(accel, VMM_UNCLAIMED_STOP, VMM_MEMSLOT_READONLY, &p);
	recorder_at(SLOT_A, PAGE);
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK, "the guest read back 0x%llx, not the ROM's bytes",
		     (unsigned long long)ex.regs.rbx);
	cr_expect_eq(ex.regs.rdx, 1);
	cr_expect_eq(*(uint64_t *)slot, MARK, "the ROM's memory changed");
	cr_expect_eq(rec.writes, 1, "the device saw %u writes", rec.writes);
	cr_expect_eq(rec.off, 0);
	cr_expect_eq(rec.size, 8);
	cr_expect_eq(rec.value, 0x55);
	cr_expect_eq(rec.reads, 0, "a ROM read reached the device");
}

BOTH(rom_write_with_no_device_is_unclaimed_and_dropped)
{
	struct prog p = {.n = 0};
	struct vmm_vm_stats st = VMM_VM_STATS_INIT;

	rom_store_program(&p);
	machine(accel, VMM_UNCLAIMED_IGNORE, VMM_MEMSLOT_READONLY, &p);
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK, "rbx 0x%llx", (unsigned long long)ex.regs.rbx);
	cr_expect_eq(*(uint64_t *)slot, MARK);
	OK(vmm_vm_get_stats(vm, &st));
	cr_expect_eq(st.unclaimed, 1, "%llu unclaimed accesses", (unsigned long long)st.unclaimed);
}

BOTH(rom_write_stops_the_vm_under_the_stop_policy)
{
	struct prog p = {.n = 0};

	rom_store_program(&p);
	machine(accel, VMM_UNCLAIMED_STOP, VMM_MEMSLOT_READONLY, &p);
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_UNCLAIMED, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(ex.address, SLOT_A, "address 0x%llx", (unsigned long long)ex.address);
	cr_expect_eq(*(uint64_t *)slot, MARK);
}

BOTH(code_runs_from_rom_and_host_writes_to_rom_are_seen)
{
	struct prog p = {.n = 0};
	/* mov ebx, imm; hlt; jmp back to SLOT_A */
	uint8_t code[] = {0xbb, 1, 0, 0, 0, 0xf4, 0xeb, 0xf8};

	jump(&p, SLOT_A);
	machine(accel, VMM_UNCLAIMED_STOP, VMM_MEMSLOT_READONLY, &p);
	OK(vmm_guest_write(vm, SLOT_A, code, sizeof(code)));
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, 1);
	code[1] = 2;
	OK(vmm_guest_write(vm, SLOT_A, code, sizeof(code)));
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, 2, "rbx %llu: stale ROM code ran",
		     (unsigned long long)ex.regs.rbx);
}

BOTH(windows_may_overlap_read_only_slots_only)
{
	struct prog p = {.n = 0};
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "over-ram",
	    .space = VMM_SPACE_MMIO,
	    .base = 0x1000,
	    .length = PAGE,
	};
	struct vmm_memslot_info info = VMM_MEMSLOT_INFO_INIT;
	struct vmm_translation t = {.size = sizeof(t)};

	hlt(&p);
	machine(accel, VMM_UNCLAIMED_STOP, VMM_MEMSLOT_READONLY, &p);
	cr_expect_eq(vmm_device_add(vm, &rec_desc, &cfg, NULL), -EEXIST, "a window over RAM");
	recorder_at(SLOT_A + PAGE, 2 * PAGE);
	/* Under a window in unbacked space, a read-only slot may go; a writable one may not. */
	cfg.name = "unbacked";
	cfg.base = 0x5000000;
	OK(vmm_device_add(vm, &rec_desc, &cfg, NULL));
	cr_expect_eq(vmm_memslot_alloc(vm, "rw", 0x5000000, PAGE, NULL), -EEXIST);
	OK(vmm_memslot_alloc(vm, "rw", 0x6000000, PAGE, NULL));
	cr_expect_eq(vmm_memslot_move(vm, 0x6000000, 0x5000000), -EEXIST);
	OK(vmm_memslot_alloc_flags(vm, "ro", 0x5000000, PAGE, VMM_MEMSLOT_READONLY, NULL));
	OK(vmm_memslot_get(vm, 1, &info));
	cr_expect_eq(info.flags, VMM_MEMSLOT_READONLY);

	OK(vmm_translate(vm, SLOT_A + PAGE + 8, &t));
	cr_expect_eq(t.kind, VMM_XLATE_RAM);
	cr_expect_eq(t.slot_flags, VMM_MEMSLOT_READONLY);
	cr_expect_str_eq(t.device, "rec", "the device that takes the writes");
	cr_expect_eq(t.device_base, SLOT_A + PAGE);
	run_to_hlt();
}

BOTH(unknown_slot_flags_are_refused)
{
	struct prog p = {.n = 0};

	hlt(&p);
	machine(accel, VMM_UNCLAIMED_STOP, 0, &p);
	cr_expect_eq(vmm_memslot_alloc_flags(vm, "x", 0x4000000, PAGE, 1u << 7, NULL), -EINVAL);
	cr_expect_eq(vmm_memslot_count(vm), 2);
}

/* ---- dirty logging ---- */

static void expect_bitmap(const uint64_t *got, const uint64_t *want)
{
	for (size_t i = 0; i < WORDS; i++)
		cr_expect_eq(got[i], want[i], "word %zu: got 0x%016llx, want 0x%016llx", i,
			     (unsigned long long)got[i], (unsigned long long)want[i]);
}

/*
 * Every page written, and on emu nothing else. On kvm a page the guest only
 * read may be there too (KVM marks the pages it maps writable, and it maps
 * a read page writable when the host's mapping is: a transparent huge page,
 * say); seen on kvm_amd, documented in libvmm(3). Never a page untouched.
 */
BOTH(dirty_bitmap_holds_the_pages_the_guest_wrote)
{
	struct prog p = {.n = 0};
	uint64_t bm[WORDS], want[WORDS] = {0};

	store(&p, SLOT_A, 1);		     /* page 0 */
	store(&p, SLOT_A + 3 * PAGE + 8, 2); /* page 3 */
	store(&p, SLOT_A + 6 * PAGE - 4, 3); /* pages 5 and 6: crosses */
	store(&p, SLOT_A + 511 * PAGE, 4);   /* the last page */
	load(&p, RBX, SLOT_A + 100 * PAGE);  /* a read: not dirty */
	hlt(&p);
	store(&p, SLOT_A + 200 * PAGE, 5);
	hlt(&p);
	machine(accel, VMM_UNCLAIMED_STOP, 0, &p);
	OK(vmm_memslot_set_dirty_log(vm, SLOT_A, 1));
	run_to_hlt();

	OK(vmm_memslot_get_dirty(vm, SLOT_A, bm, WORDS));
	want[0] = 1ull << 0 | 1ull << 3 | 1ull << 5 | 1ull << 6;
	want[7] = 1ull << 63;
	if (accel == VMM_ACCEL_KVM)
		bm[100 / 64] &= ~(1ull << (100 % 64)); /* the page read: may be there on kvm */
	expect_bitmap(bm, want);
	cr_expect_eq(*(uint64_t *)(slot + 3 * PAGE + 8), 2, "the logged store did not land");

	/* Fetching cleared it: only what the guest wrote since. */
	run_to_hlt();
	OK(vmm_memslot_get_dirty(vm, SLOT_A, bm, WORDS));
	memset(want, 0, sizeof(want));
	want[200 / 64] = 1ull << (200 % 64);
	expect_bitmap(bm, want);
	OK(vmm_memslot_get_dirty(vm, SLOT_A, bm, WORDS));
	memset(want, 0, sizeof(want));
	expect_bitmap(bm, want);
}

BOTH(device_and_host_writes_are_logged_and_logging_can_stop)
{
	struct prog p = {.n = 0};
	uint64_t bm[WORDS], want[WORDS] = {0};

	store(&p, SLOT_A + 9 * PAGE, 1);
	hlt(&p);
	machine(accel, VMM_UNCLAIMED_STOP, VMM_MEMSLOT_LOG_DIRTY, &p);
	OK(vmm_guest_write(vm, SLOT_A + 70 * PAGE, "dma", 3));
	run_to_hlt();
	OK(vmm_memslot_get_dirty(vm, SLOT_A, bm, WORDS));
	want[0] = 1ull << 9;
	want[1] = 1ull << 6;
	expect_bitmap(bm, want);

	OK(vmm_memslot_set_dirty_log(vm, SLOT_A, 0));
	cr_expect_eq(vmm_memslot_get_dirty(vm, SLOT_A, bm, WORDS), -EINVAL, "logging is off");
	cr_expect_eq(*(uint64_t *)(slot + 9 * PAGE), 1);
}

BOTH(dirty_log_arguments_are_checked)
{
	struct prog p = {.n = 0};
	uint64_t bm[WORDS];

	hlt(&p);
	machine(accel, VMM_UNCLAIMED_STOP, VMM_MEMSLOT_LOG_DIRTY, &p);
	cr_expect_eq(vmm_memslot_get_dirty(vm, SLOT_A, bm, WORDS - 1), -EINVAL, "bitmap too small");
	cr_expect_eq(vmm_memslot_get_dirty(vm, SLOT_A, NULL, WORDS), -EINVAL);
	cr_expect_eq(vmm_memslot_get_dirty(vm, SLOT_A + PAGE, bm, WORDS), -ENOENT);
	cr_expect_eq(vmm_memslot_set_dirty_log(vm, 0x7000000, 1), -ENOENT);
	OK(vmm_memslot_get_dirty(vm, SLOT_A, bm, WORDS));
}

/* ---- capacity ---- */

/*
 * Under ASan, Unicorn's thousands of small allocations while it builds a
 * 1000-region memory map take minutes (47 s to create one vCPU); the plain
 * build of these tests runs them.
 */
static void skip_slow_under_asan(enum vmm_accel accel)
{
#if defined(__SANITIZE_ADDRESS__)
	if (accel == VMM_ACCEL_EMU)
		cr_skip_test(
		    "a 1000-region emu layout takes minutes under ASan; the plain build runs this");
#endif
	(void)accel;
}

BOTH(as_many_slots_as_the_backend_allows_and_each_translates)
{
	struct vmm_vm_options opts;
	int max, n;
	void *hva;

	skip_slow_under_asan(accel);
	/* Slots before the vCPU: on emu each later one would lay out the engine again. */
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_memslot_alloc(vm, "a", SLOT_A, SLOT_SIZE, (void **)&slot));
	max = vmm_memslot_max(vm);
	cr_assert_geq(max, 32, "KVM promises at least 32 slots");
	cr_assert_leq(max, VMM_MEMSLOT_MAX);
	/* One page each, a page apart, from 1 GiB up. */
	for (n = 2; n < max; n++)
		OK(vmm_memslot_add(vm, NULL, (1ull << 30) + 2ull * PAGE * (uint64_t)n, PAGE, slot));
	cr_expect_eq(vmm_memslot_alloc(vm, "one-more", 1ull << 40, PAGE, NULL), -ENOSPC);
	cr_expect_eq(vmm_memslot_count(vm), max);
	for (n = 2; n < max; n++) {
		uint64_t gpa = (1ull << 30) + 2ull * PAGE * (uint64_t)n;

		OK(vmm_gpa_to_hva(vm, gpa + 8, 8, &hva));
		cr_assert_eq(hva, slot + 8);
		cr_assert_eq(vmm_gpa_to_hva(vm, gpa + PAGE, 1, &hva), -EFAULT);
	}
	/* Every slot reached the backend: a vCPU's view of memory holds them all. */
	OK(vmm_vcpu_create(vm, 0, NULL));
}

Test(memslot_flags_emu, layouts_too_large_for_the_emulator_are_refused_not_fatal)
{
	struct vmm_vm_options opts;
	int ret = 0;
	unsigned n;

	skip_slow_under_asan(VMM_ACCEL_EMU);
	vmm_vm_options_init(&opts);
	opts.accel = VMM_ACCEL_EMU;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_memslot_alloc(vm, "a", SLOT_A, SLOT_SIZE, (void **)&slot));
	/* Slot, gap, window, gap, ...: each window its own cluster, until Unicorn's limit. */
	for (n = 0; n < 1000 && ret == 0; n++) {
		uint64_t at = (1ull << 30) + 4ull * PAGE * n;
		char name[16];
		struct vmm_device_config cfg = {
		    .size = sizeof(cfg),
		    .name = name,
		    .space = VMM_SPACE_MMIO,
		    .base = at + 2 * PAGE,
		    .length = PAGE,
		};

		snprintf(name, sizeof(name), "d%u", n);
		ret = vmm_memslot_add(vm, NULL, at, PAGE, slot);
		if (ret == 0)
			ret = vmm_device_add(vm, &test_null_desc, &cfg, NULL);
	}
	cr_assert_eq(ret, -ENOSPC, "after %u pairs: %d %s", n, ret, vmm_last_error());
	cr_expect(strstr(vmm_last_error(), "regions"), "%s", vmm_last_error());
	/* What was accepted still makes an engine. */
	OK(vmm_vcpu_create(vm, 0, NULL));
}
