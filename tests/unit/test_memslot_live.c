/* SPDX-License-Identifier: MIT */
/*
 * test_memslot_live.c - specification of memslot move, remove and
 * remap between runs, seen by machine-code guests on both backends.
 */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/guest.h"
#include "vmm/vmm.h"

#define ENTRY	  0x100000ull
#define LOW_SIZE  (16ull << 20)
#define SLOT_A	  0x1000000ull /* where the slot under test starts: 16 MiB */
#define SLOT_B	  0x3000000ull /* where it moves to: 48 MiB */
#define SLOT_SIZE 0x100000ull
#define DEV_BASE  0xfe000000ull
#define DEV_LEN	  0x1000ull
#define MARK	  0x0123456789abcdefull
#define MARK2	  0xfedcba9876543210ull

/* ---- the machine ---- */

static struct vmm_vm *vm;
static uint8_t *low, *slot;
static struct vmm_exit ex = VMM_EXIT_INIT;
/* Host memory a test mapped itself: unmapped after the VM is gone. */
static void *mine[2];

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		if (mine[i])
			munmap(mine[i], SLOT_SIZE);
		mine[i] = NULL;
	}
}

TestSuite(memslot_live_emu, .fini = teardown, .timeout = 60);
TestSuite(memslot_live_kvm, .fini = teardown, .timeout = 60);

/* One body per behaviour, run on emu and (where /dev/kvm opens) on kvm. */
#define BOTH(name) TWIN_TESTS(memslot_live_emu, memslot_live_kvm, name)

static void *host_page_block(uint64_t fill)
{
	void *p = mmap(NULL, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	memcpy(p, &fill, sizeof(fill));
	for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); i++) {
		if (!mine[i]) {
			mine[i] = p;
			return p;
		}
	}
	cr_assert_fail("test maps too much");
	return NULL;
}

/*
 * RAM at 0 (with the boot area at its top), a 1 MiB slot "a" at SLOT_A whose
 * first qword is MARK, a device at DEV_BASE, one vCPU starting at the code.
 */
static void machine(enum vmm_accel accel, enum vmm_unclaimed_policy policy, const uint8_t *code,
		    size_t len)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "dev",
	    .space = VMM_SPACE_MMIO,
	    .base = DEV_BASE,
	    .length = DEV_LEN,
	};
	struct vmm_vm_options opts;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	opts.unclaimed = policy;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_memslot_alloc(vm, "a", SLOT_A, SLOT_SIZE, (void **)&slot));
	memcpy(slot, &(uint64_t){MARK}, 8);
	OK(vmm_device_add(vm, &test_null_desc, &cfg, NULL));
	OK(vmm_vcpu_create(vm, 0, NULL));
	memcpy(low + ENTRY, code, len);
	OK(vmm_boot_setup(vm, ENTRY));
}

/* Run to the next HLT. */
static void run_to_hlt(void)
{
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
}

/* ---- move ---- */

BOTH(moved_slot_shows_the_same_memory_at_its_new_place_and_leaves_the_old_one_unbacked)
{
	struct prog p = {.n = 0};
	struct vmm_memslot_info info = VMM_MEMSLOT_INFO_INIT;
	uint8_t *before = NULL;

	load(&p, RBX, SLOT_A);
	hlt(&p);
	load(&p, RCX, SLOT_B);
	load(&p, RDX, SLOT_A);
	hlt(&p);
	machine(accel, VMM_UNCLAIMED_IGNORE, p.b, p.n);
	before = slot;
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK, "rbx 0x%llx", (unsigned long long)ex.regs.rbx);

	OK(vmm_memslot_move(vm, SLOT_A, SLOT_B));
	OK(vmm_memslot_get(vm, 1, &info));
	cr_expect_eq(info.gpa, SLOT_B);
	cr_expect_eq(info.hva, before, "the move changed the host memory");
	cr_expect_str_eq(info.name, "a");
	run_to_hlt();
	cr_expect_eq(ex.regs.rcx, MARK, "new place: rcx 0x%llx", (unsigned long long)ex.regs.rcx);
	cr_expect_eq(ex.regs.rdx, ~0ull, "old place: rdx 0x%llx", (unsigned long long)ex.regs.rdx);
}

BOTH(move_may_overlap_the_slots_own_old_range)
{
	const uint64_t half = SLOT_A + SLOT_SIZE / 2;
	struct prog p = {.n = 0};

	hlt(&p);
	load(&p, RBX, (uint32_t)half);
	load(&p, RCX, SLOT_A);
	hlt(&p);
	machine(accel, VMM_UNCLAIMED_IGNORE, p.b, p.n);
	run_to_hlt();
	OK(vmm_memslot_move(vm, SLOT_A, half));
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK, "rbx 0x%llx", (unsigned long long)ex.regs.rbx);
	cr_expect_eq(ex.regs.rcx, ~0ull, "rcx 0x%llx", (unsigned long long)ex.regs.rcx);
}

BOTH(refused_moves_leave_the_slot_where_it_was)
{
	struct prog p = {.n = 0};

	hlt(&p);
	load(&p, RBX, SLOT_A);
	hlt(&p);
	machine(accel, VMM_UNCLAIMED_IGNORE, p.b, p.n);
	run_to_hlt();

	cr_expect_eq(vmm_memslot_move(vm, SLOT_A, LOW_SIZE - 0x1000), -EEXIST, "onto slot low");
	cr_expect_eq(vmm_memslot_move(vm, SLOT_A, DEV_BASE), -EEXIST, "onto the device window");
	cr_expect_eq(vmm_memslot_move(vm, SLOT_A, SLOT_B + 0x800), -EINVAL, "misaligned");
	cr_expect_eq(vmm_memslot_move(vm, SLOT_A, 1ull << 46), -ERANGE, "past the GPA limit");
	cr_expect_eq(vmm_memslot_move(vm, SLOT_B, SLOT_A), -ENOENT, "no slot at SLOT_B");
	cr_expect_eq(vmm_memslot_move(vm, SLOT_A + 0x1000, SLOT_B), -ENOENT, "not a slot's start");
	cr_expect_eq(vmm_memslot_remap(vm, SLOT_A, slot + 0x800), -EINVAL, "misaligned hva");
	cr_expect_eq(vmm_memslot_remap(vm, SLOT_B, slot), -ENOENT, "remap: no slot at SLOT_B");

	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK, "rbx 0x%llx", (unsigned long long)ex.regs.rbx);
	cr_expect_eq(vmm_memslot_count(vm), 2);
}

/* ---- remove ---- */

static void removed_slot_program(struct prog *p)
{
	load(p, RBX, SLOT_A);
	hlt(p);
	load(p, RCX, SLOT_A);
	went_on(p);
	hlt(p);
}

BOTH(removed_slot_reads_as_all_ones_after_the_guest_used_it)
{
	struct prog p = {.n = 0};

	removed_slot_program(&p);
	machine(accel, VMM_UNCLAIMED_IGNORE, p.b, p.n);
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK);
	OK(vmm_memslot_remove(vm, SLOT_A));
	run_to_hlt();
	cr_expect_eq(ex.regs.rcx, ~0ull, "rcx 0x%llx", (unsigned long long)ex.regs.rcx);
	cr_expect_eq(ex.regs.rdx, 1);
}

BOTH(removed_slot_access_stops_the_vm_under_the_stop_policy)
{
	struct prog p = {.n = 0};

	removed_slot_program(&p);
	machine(accel, VMM_UNCLAIMED_STOP, p.b, p.n);
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK);
	OK(vmm_memslot_remove(vm, SLOT_A));
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_UNCLAIMED, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(ex.address, SLOT_A, "address 0x%llx", (unsigned long long)ex.address);
	cr_expect_neq(ex.regs.rdx, 1, "the guest went on after the stop");
}

/* ---- remap ---- */

BOTH(remapped_slot_is_read_and_written_in_the_new_memory_only)
{
	struct prog p = {.n = 0};
	uint64_t *old, *new;

	load(&p, RBX, SLOT_A);
	hlt(&p);
	load(&p, RCX, SLOT_A);
	store(&p, SLOT_A + 8, 0x55);
	hlt(&p);
	machine(accel, VMM_UNCLAIMED_IGNORE, p.b, p.n);
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK);

	/* Caller-owned memory first, so that the remap below frees nothing it still reads. */
	old = host_page_block(MARK);
	new = host_page_block(MARK2);
	OK(vmm_memslot_remap(vm, SLOT_A, old));
	OK(vmm_memslot_remap(vm, SLOT_A, new));
	run_to_hlt();
	cr_expect_eq(ex.regs.rcx, MARK2, "rcx 0x%llx", (unsigned long long)ex.regs.rcx);
	cr_expect_eq(new[1], 0x55, "the guest's store missed the new memory");
	cr_expect_eq(old[1], 0, "the guest's store reached the old memory");
}

BOTH(memory_mapped_over_the_slots_host_range_is_seen_at_the_next_run)
{
	struct prog p = {.n = 0};
	uint64_t got = 0;
	void *at;
	int fd;

	load(&p, RBX, SLOT_A);
	hlt(&p);
	load(&p, RCX, SLOT_A);
	store(&p, SLOT_A + 8, 0x66);
	hlt(&p);
	machine(accel, VMM_UNCLAIMED_IGNORE, p.b, p.n);
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, MARK);

	fd = memfd_create("memslot-live", MFD_CLOEXEC);
	cr_assert_geq(fd, 0);
	OK(ftruncate(fd, SLOT_SIZE));
	cr_assert_eq(pwrite(fd, &(uint64_t){MARK2}, 8, 0), 8);
	at = mmap(slot, SLOT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	cr_assert_eq(at, (void *)slot);
	run_to_hlt();
	cr_expect_eq(ex.regs.rcx, MARK2, "rcx 0x%llx", (unsigned long long)ex.regs.rcx);
	cr_expect_eq(pread(fd, &got, 8, 8), 8);
	cr_expect_eq(got, 0x66, "the guest's store did not reach the memfd");
	close(fd);
}

/* ---- code ---- */

/*
 * Code in slot "a": mov ebx, imm; hlt; jmp SLOT_A. The entry jumps there; a
 * second run takes the jmp and runs whatever SLOT_A holds by then.
 */
static void slot_code(uint8_t *at, uint32_t imm)
{
	static const uint8_t tail[] = {0xf4, 0xeb, 0xf8}; /* hlt; jmp -8 */

	at[0] = 0xbb;
	memcpy(at + 1, &imm, 4);
	memcpy(at + 5, tail, sizeof(tail));
}

static void code_machine(enum vmm_accel accel)
{
	struct prog p = {.n = 0};

	jump(&p, SLOT_A);
	machine(accel, VMM_UNCLAIMED_IGNORE, p.b, p.n);
	slot_code(slot, 1);
	run_to_hlt();
	cr_assert_eq(ex.regs.rbx, 1);
	cr_assert_eq(ex.regs.rip, SLOT_A + 6, "rip 0x%llx", (unsigned long long)ex.regs.rip);
}

BOTH(code_rewritten_through_the_hva_runs_new_at_the_next_run)
{
	code_machine(accel);
	slot_code(slot, 2);
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, 2, "rbx %llu: stale code ran", (unsigned long long)ex.regs.rbx);
}

BOTH(code_in_remapped_memory_runs_new_at_the_next_run)
{
	uint8_t *new;

	code_machine(accel);
	new = host_page_block(0);
	slot_code(new, 3);
	OK(vmm_memslot_remap(vm, SLOT_A, new));
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, 3, "rbx %llu: stale code ran", (unsigned long long)ex.regs.rbx);
}

BOTH(code_of_a_removed_slot_does_not_run_from_a_new_slot_at_its_address)
{
	uint8_t *new;

	code_machine(accel);
	OK(vmm_memslot_remove(vm, SLOT_A));
	new = host_page_block(0);
	slot_code(new, 4);
	OK(vmm_memslot_add(vm, "again", SLOT_A, SLOT_SIZE, new));
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, 4, "rbx %llu: stale code ran", (unsigned long long)ex.regs.rbx);
}

BOTH(code_moved_away_and_back_runs_from_the_current_memory)
{
	code_machine(accel);
	OK(vmm_memslot_move(vm, SLOT_A, SLOT_B));
	slot_code(slot, 5);
	OK(vmm_memslot_move(vm, SLOT_B, SLOT_A));
	run_to_hlt();
	cr_expect_eq(ex.regs.rbx, 5, "rbx %llu: stale code ran", (unsigned long long)ex.regs.rbx);
}
