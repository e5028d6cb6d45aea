/* SPDX-License-Identifier: MIT */
/*
 * test_size_tags.c - specification of the size tags on the structs
 * libvmm fills in the caller's memory (vmm.h, "Size tags").
 */
#include <criterion/criterion.h>

#include "guest_prog.h"
#include "unit.h"
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vmm/vmm.h"

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define DEV	 0x2000000ull
#define FILL	 0xa5 /* what the caller's memory held before the call */

static struct vmm_vm *vm;
static struct vmm_device *dev;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
}

TestSuite(size_tags_emu, .fini = teardown, .timeout = 60);
TestSuite(size_tags_kvm, .fini = teardown, .timeout = 60);
#define BOTH(name) TWIN_TESTS(size_tags_emu, size_tags_kvm, name)

/* One vCPU that writes the null device at DEV, reads it back, and halts: two device exits, then
 * HLT. */
static void machine(enum vmm_accel accel)
{
	struct vmm_device_config cfg = {.size = sizeof(cfg),
					.name = "null",
					.space = VMM_SPACE_MMIO,
					.base = DEV,
					.length = 0x1000};
	struct vmm_vm_options opts;
	struct prog p = {.n = 0};
	uint8_t *low;

	store(&p, DEV, 0x55);
	load(&p, RBX, DEV);
	hlt(&p);
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_device_add(vm, &test_null_desc, &cfg, &dev));
	OK(vmm_vcpu_create(vm, 0, NULL));
	memcpy(low + ENTRY, p.b, p.n);
	OK(vmm_boot_setup(vm, ENTRY));
}

static void run_to_hlt(void)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
}

/* Every byte of [from, to) of buf is still FILL. */
static void expect_untouched(const void *buf, size_t from, size_t to, const char *what)
{
	const uint8_t *b = buf;

	for (size_t i = from; i < to; i++)
		cr_assert_eq(b[i], FILL,
			     "%s: byte %zu was written (0x%02x), past the caller's size %zu", what,
			     i, b[i], from);
}

static void expect_zero(const void *buf, size_t from, size_t to, const char *what)
{
	const uint8_t *b = buf;

	for (size_t i = from; i < to; i++)
		cr_assert_eq(b[i], 0, "%s: byte %zu is 0x%02x, not zero", what, i, b[i]);
}

static void expect_too_small(int ret, const char *what)
{
	cr_assert_eq(ret, -EINVAL, "%s: %d (%s)", what, ret, vmm_strerror(ret));
	cr_expect(strstr(vmm_last_error(), "too small") != NULL, "%s: detail '%s'", what,
		  vmm_last_error());
}

/* ---- struct vmm_vm_stats ---- */

BOTH(a_vm_stats_caller_with_an_older_size_gets_only_its_fields)
{
	const size_t old =
	    offsetof(struct vmm_vm_stats, mmio_exits); /* a version with exits only */
	struct vmm_vm_stats st;

	machine(accel);
	run_to_hlt();
	memset(&st, FILL, sizeof(st));
	st.size = old;
	OK(vmm_vm_get_stats(vm, &st));
	cr_expect_eq(st.size, old, "the library wrote the size tag");
	cr_expect_geq(st.exits, 2, "exits %llu", (unsigned long long)st.exits);
	expect_untouched(&st, old, sizeof(st), "vmm_vm_get_stats");
}

Test(size_tags_emu, a_vm_stats_size_too_small_is_refused_and_nothing_is_written)
{
	struct vmm_vm_stats st;

	machine(VMM_ACCEL_EMU);
	memset(&st, FILL, sizeof(st));
	st.size = 0; /* a caller that zero-filled the struct and forgot the tag */
	expect_too_small(vmm_vm_get_stats(vm, &st), "size 0");
	expect_untouched(&st, sizeof(st.size), sizeof(st), "a refused vmm_vm_get_stats");
	st.size = offsetof(struct vmm_vm_stats, exits) + sizeof(st.exits) - 1;
	expect_too_small(vmm_vm_get_stats(vm, &st), "size short of the first field");
}

Test(size_tags_emu, a_larger_vm_stats_from_a_newer_header_reads_zero_past_this_version)
{
	struct {
		struct vmm_vm_stats st;
		uint64_t later[3]; /* fields a newer header would add */
	} big;

	machine(VMM_ACCEL_EMU);
	memset(&big, FILL, sizeof(big));
	big.st.size = sizeof(big);
	OK(vmm_vm_get_stats(vm, &big.st));
	cr_expect_eq(big.st.size, sizeof(big), "the library wrote the size tag");
	cr_expect_eq(big.st.exits, 0);
	expect_zero(&big, sizeof(big.st), sizeof(big), "the newer fields");
}

Test(size_tags_emu, the_init_macros_set_the_size_of_this_version)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	struct vmm_vm_stats vs = VMM_VM_STATS_INIT;
	struct vmm_device_stats ds = VMM_DEVICE_STATS_INIT;
	struct vmm_memslot_info mi = VMM_MEMSLOT_INFO_INIT;

	cr_expect_eq(ex.size, sizeof(ex));
	cr_expect_eq(vs.size, sizeof(vs));
	cr_expect_eq(ds.size, sizeof(ds));
	cr_expect_eq(mi.struct_size, sizeof(mi));
}

/* ---- struct vmm_device_stats ---- */

BOTH(a_device_stats_caller_with_an_older_size_gets_only_its_fields)
{
	const size_t old = offsetof(struct vmm_device_stats, writes);
	struct vmm_device_stats st;

	machine(accel);
	run_to_hlt();
	memset(&st, FILL, sizeof(st));
	st.size = old;
	OK(vmm_device_get_stats(dev, &st));
	cr_expect_eq(st.reads, 1);
	expect_untouched(&st, old, sizeof(st), "vmm_device_get_stats");
	st.size = sizeof(st);
	OK(vmm_device_get_stats(dev, &st));
	cr_expect_eq(st.writes, 1);
}

Test(size_tags_emu, a_device_stats_size_too_small_is_refused)
{
	struct vmm_device_stats st;

	machine(VMM_ACCEL_EMU);
	memset(&st, FILL, sizeof(st));
	st.size = sizeof(st.size);
	expect_too_small(vmm_device_get_stats(dev, &st), "vmm_device_get_stats");
	expect_untouched(&st, sizeof(st.size), sizeof(st), "a refused vmm_device_get_stats");
}

/* ---- struct vmm_memslot_info ---- */

Test(size_tags_emu, a_memslot_info_caller_with_an_older_size_gets_only_its_fields)
{
	const size_t old = offsetof(struct vmm_memslot_info, size); /* a version with gpa only */
	struct vmm_memslot_info mi;

	machine(VMM_ACCEL_EMU);
	memset(&mi, FILL, sizeof(mi));
	mi.struct_size = old;
	OK(vmm_memslot_get(vm, 0, &mi));
	cr_expect_eq(mi.struct_size, old);
	cr_expect_eq(mi.gpa, 0);
	expect_untouched(&mi, old, sizeof(mi), "vmm_memslot_get");
	mi.struct_size = sizeof(mi);
	OK(vmm_memslot_get(vm, 0, &mi));
	cr_expect_eq(mi.size, LOW_SIZE, "the slot's size, not the tag");
	cr_expect_str_eq(mi.name, "low");
}

Test(size_tags_emu, a_memslot_info_size_too_small_is_refused)
{
	struct vmm_memslot_info mi;

	machine(VMM_ACCEL_EMU);
	memset(&mi, FILL, sizeof(mi));
	mi.struct_size = 0;
	expect_too_small(vmm_memslot_get(vm, 0, &mi), "vmm_memslot_get");
	expect_untouched(&mi, sizeof(mi.struct_size), sizeof(mi), "a refused vmm_memslot_get");
}

/* ---- struct vmm_exit ---- */

BOTH(a_vcpu_run_caller_with_an_older_exit_gets_only_its_fields)
{
	const size_t old = offsetof(struct vmm_exit, exit_code); /* a version with reason only */
	struct vmm_exit ex;

	machine(accel);
	memset(&ex, FILL, sizeof(ex));
	ex.size = old;
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_expect_eq(ex.size, old);
	cr_expect_eq(ex.reason, VMM_EXIT_HLT, "exit %d", ex.reason);
	expect_untouched(&ex, old, sizeof(ex), "vmm_vcpu_run");
}

BOTH(a_vm_run_caller_with_an_older_exit_gets_only_its_fields)
{
	const size_t old = offsetof(struct vmm_exit, regs); /* a version without the registers */
	struct vmm_exit ex;

	machine(accel);
	memset(&ex, FILL, sizeof(ex));
	ex.size = old;
	OK(vmm_vm_run(vm, &ex));
	cr_expect_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_expect_eq(ex.vcpu, 0);
	expect_untouched(&ex, old, sizeof(ex), "vmm_vm_run");
}

/* The guest does not run at all: the device sees nothing, the vCPU stays at its entry. */
BOTH(a_run_with_an_exit_size_too_small_is_refused_before_the_guest_runs)
{
	struct vmm_device_stats st = VMM_DEVICE_STATS_INIT;
	struct vmm_exit ex;
	struct vmm_regs r;

	machine(accel);
	memset(&ex, FILL, sizeof(ex));
	ex.size = 0;
	expect_too_small(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex), "vmm_vcpu_run");
	expect_too_small(vmm_vm_run(vm, &ex), "vmm_vm_run");
	expect_untouched(&ex, sizeof(ex.size), sizeof(ex), "a refused run");
	OK(vmm_device_get_stats(dev, &st));
	cr_expect_eq(st.reads + st.writes, 0, "the guest ran");
	OK(vmm_vcpu_get_regs(vmm_vcpu_get(vm, 0), &r));
	cr_expect_eq(r.rip, ENTRY);
}

/* ---- struct vmm_device_config, which the caller passes in ---- */

/*
 * Its first version ends with line: that size, without the tail padding a
 * later sizeof() counts, is what a caller of any later library may pass.
 */
Test(size_tags_emu, a_device_config_as_long_as_its_first_version_is_accepted)
{
	const size_t first = offsetof(struct vmm_device_config, line) + sizeof(unsigned);
	struct vmm_device_config cfg = {.size = first,
					.name = "first",
					.space = VMM_SPACE_MMIO,
					.base = DEV + 0x1000,
					.length = 0x1000};
	int ret;

	machine(VMM_ACCEL_EMU);
	OK(vmm_device_add(vm, &test_null_desc, &cfg, NULL));
	cfg.size = first - 1;
	cfg.name = "second";
	cfg.base += 0x1000;
	ret = vmm_device_add(vm, &test_null_desc, &cfg, NULL);
	expect_too_small(ret, "vmm_device_add");
	cr_expect_eq(vmm_device_count(vm), 2, "the refused device was added");
}
