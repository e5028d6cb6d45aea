/* SPDX-License-Identifier: MIT */
/*
 * test_emu_layout.c - specification of emu's plan of
 * guest-physical space (backend/emu_layout.c), alone.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "backend/emu_layout.h"

#define MiB	   (1ull << 20)
#define GiB	   (1ull << 30)
#define END	   EMU_SPACE_END
#define PAGE	   VMMI_PAGE_SIZE
#define ALL_WIDTHS (VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8)
#define NARROW	   (VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4)

static struct emu_plan plan;

static void teardown(void)
{
	vmmi_emu_plan_free(&plan);
}

TestSuite(emu_layout, .fini = teardown);

static struct vmmi_view_slot ram(uint64_t gpa, uint64_t size)
{
	return (struct vmmi_view_slot){.gpa = gpa, .size = size, .name = "ram"};
}

static struct vmmi_view_slot rom(uint64_t gpa, uint64_t size)
{
	return (struct vmmi_view_slot){
	    .gpa = gpa, .size = size, .flags = VMM_MEMSLOT_READONLY, .name = "rom"};
}

static struct vmmi_view_window mmio(uint64_t base, uint64_t length, uint32_t widths)
{
	return (struct vmmi_view_window){
	    .space = VMM_SPACE_MMIO, .widths = widths, .base = base, .length = length};
}

/* Do [a, a + an) and [b, b + bn) (sizes > 0) share a byte? Last bytes: a range may end at 2^64. */
static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a <= b + (bn - 1) && b <= a + (an - 1);
}

/*
 * What every plan must be: spans sorted, disjoint, none over a slot, each
 * below END, and spans plus slots covering [0, END) without a hole.
 */
static void check_plan(const struct vmmi_view_slot *slots, size_t ns)
{
	uint64_t at = 0;
	size_t si = 0;

	for (size_t i = 0; i < plan.n; i++) {
		const struct emu_span *sp = &plan.v[i];

		cr_assert_gt(sp->size, 0, "span %zu is empty", i);
		cr_assert_leq(sp->base, END);
		cr_assert_leq(sp->size, END - sp->base, "span %zu [0x%llx, +0x%llx) passes the end",
			      i, (unsigned long long)sp->base, (unsigned long long)sp->size);
		if (i > 0)
			cr_assert_geq(sp->base, plan.v[i - 1].base + plan.v[i - 1].size,
				      "span %zu overlaps or precedes the one before", i);
		for (size_t k = 0; k < ns; k++)
			cr_assert_not(overlaps(sp->base, sp->size, slots[k].gpa, slots[k].size),
				      "span %zu [0x%llx, +0x%llx) overlaps slot %zu", i,
				      (unsigned long long)sp->base, (unsigned long long)sp->size,
				      k);
	}
	/* Coverage: walk spans and slots below END in address order. */
	for (size_t i = 0;;) {
		if (si < ns && slots[si].gpa == at && at < END) {
			at = slots[si].size > UINT64_MAX - at ? UINT64_MAX : at + slots[si].size;
			si++;
		} else if (i < plan.n && plan.v[i].base == at) {
			at += plan.v[i].size;
			i++;
		} else {
			break;
		}
	}
	cr_assert_geq(at, END, "nothing covers 0x%llx", (unsigned long long)at);
}

static void make(const struct vmmi_view_slot *slots, size_t ns, const struct vmmi_view_window *w,
		 size_t nw)
{
	int ret = vmmi_emu_plan(slots, ns, w, nw, &plan);

	cr_assert_eq(ret, 0, "vmmi_emu_plan: %d (%s)", ret, vmm_last_error());
	check_plan(slots, ns);
}

static void span_is(size_t i, uint64_t base, uint64_t size, bool devices)
{
	cr_assert_lt(i, plan.n, "only %zu spans, want span %zu", plan.n, i);
	cr_expect_eq(plan.v[i].base, base, "span %zu base 0x%llx, want 0x%llx", i,
		     (unsigned long long)plan.v[i].base, (unsigned long long)base);
	cr_expect_eq(plan.v[i].size, size, "span %zu size 0x%llx, want 0x%llx", i,
		     (unsigned long long)plan.v[i].size, (unsigned long long)size);
	cr_assert_eq(plan.v[i].devices, devices, "span %zu is %s", i,
		     plan.v[i].devices ? "a device cluster" : "a gap");
}

static size_t clusters(void)
{
	size_t n = 0;

	for (size_t i = 0; i < plan.n; i++)
		n += plan.v[i].devices;
	return n;
}

/* ---- gaps around RAM ---- */

Test(emu_layout, nothing_at_all_is_one_gap_over_all_of_space)
{
	make(NULL, 0, NULL, 0);
	cr_assert_eq(plan.n, 1);
	span_is(0, 0, END, false);
}

Test(emu_layout, gaps_fill_what_lies_between_and_after_slots)
{
	struct vmmi_view_slot s[] = {ram(0, 16 * MiB), ram(32 * MiB, 16 * MiB)};

	make(s, 2, NULL, 0);
	cr_assert_eq(plan.n, 2);
	span_is(0, 16 * MiB, 16 * MiB, false);
	span_is(1, 48 * MiB, END - 48 * MiB, false);
}

Test(emu_layout, adjacent_slots_leave_no_gap_between_them)
{
	struct vmmi_view_slot s[] = {ram(1 * MiB, 1 * MiB), ram(2 * MiB, 1 * MiB)};

	make(s, 2, NULL, 0);
	cr_assert_eq(plan.n, 2);
	span_is(0, 0, 1 * MiB, false);
	span_is(1, 3 * MiB, END - 3 * MiB, false);
}

Test(emu_layout, ram_up_to_the_end_of_space_leaves_no_gap_after_it)
{
	struct vmmi_view_slot s[] = {ram(END - 1 * GiB, 1 * GiB)};

	make(s, 1, NULL, 0);
	cr_assert_eq(plan.n, 1);
	span_is(0, 0, END - 1 * GiB, false);
}

Test(emu_layout, ram_past_the_end_of_space_is_not_planned_around)
{
	struct vmmi_view_slot s[] = {ram(0, 1 * MiB), ram(END + 1 * GiB, 1 * GiB)};

	make(s, 2, NULL, 0);
	cr_assert_eq(plan.n, 1);
	span_is(0, 1 * MiB, END - 1 * MiB, false);
}

/* ---- device clusters ---- */

Test(emu_layout, a_window_taking_8_byte_accesses_is_a_cluster_of_its_whole_pages)
{
	struct vmmi_view_slot s[] = {ram(0, 16 * MiB)};
	struct vmmi_view_window w[] = {mmio(0xfe000800, 0x1000, ALL_WIDTHS)};

	make(s, 1, w, 1);
	cr_assert_eq(plan.n, 3);
	span_is(0, 16 * MiB, 0xfe000000 - 16 * MiB, false);
	span_is(1, 0xfe000000, 2 * PAGE, true);
	span_is(2, 0xfe002000, END - 0xfe002000, false);
}

Test(emu_layout, a_window_of_at_most_4_byte_accesses_stays_in_its_gap)
{
	struct vmmi_view_window w[] = {mmio(0xfe000000, 0x1000, NARROW)};

	make(NULL, 0, w, 1);
	cr_assert_eq(plan.n, 1);
	span_is(0, 0, END, false);
}

Test(emu_layout, port_windows_are_not_planned)
{
	struct vmmi_view_window w[] = {
	    {.space = VMM_SPACE_PIO, .widths = ALL_WIDTHS, .base = 0x3f8, .length = 8}};

	make(NULL, 0, w, 1);
	cr_assert_eq(plan.n, 1);
	span_is(0, 0, END, false);
}

Test(emu_layout, windows_in_one_page_share_a_cluster)
{
	struct vmmi_view_window w[] = {mmio(0x10000000, 0x100, ALL_WIDTHS),
				       mmio(0x10000800, 0x100, ALL_WIDTHS)};

	make(NULL, 0, w, 2);
	cr_assert_eq(clusters(), 1);
	span_is(1, 0x10000000, PAGE, true);
}

Test(emu_layout, windows_close_together_with_no_ram_between_share_one_cluster)
{
	struct vmmi_view_window w[] = {mmio(1 * GiB, PAGE, ALL_WIDTHS),
				       mmio(1 * GiB + EMU_MERGE_GAP + PAGE, PAGE, ALL_WIDTHS)};

	make(NULL, 0, w, 2);
	cr_assert_eq(clusters(), 1);
	span_is(1, 1 * GiB, EMU_MERGE_GAP + 2 * PAGE, true);
}

Test(emu_layout, windows_farther_apart_than_the_merge_distance_get_a_cluster_each)
{
	struct vmmi_view_window w[] = {mmio(1 * GiB, PAGE, ALL_WIDTHS),
				       mmio(1 * GiB + EMU_MERGE_GAP + 2 * PAGE, PAGE, ALL_WIDTHS)};

	make(NULL, 0, w, 2);
	cr_assert_eq(clusters(), 2);
	span_is(1, 1 * GiB, PAGE, true);
	span_is(2, 1 * GiB + PAGE, EMU_MERGE_GAP + PAGE, false);
	span_is(3, 1 * GiB + EMU_MERGE_GAP + 2 * PAGE, PAGE, true);
}

Test(emu_layout, ram_between_close_windows_keeps_their_clusters_apart)
{
	struct vmmi_view_slot s[] = {ram(1 * GiB + 1 * MiB, 1 * MiB)};
	struct vmmi_view_window w[] = {mmio(1 * GiB, PAGE, ALL_WIDTHS),
				       mmio(1 * GiB + 4 * MiB, PAGE, ALL_WIDTHS)};

	make(s, 1, w, 2);
	cr_assert_eq(clusters(), 2);
	span_is(1, 1 * GiB, PAGE, true);
	span_is(2, 1 * GiB + PAGE, 1 * MiB - PAGE, false);
	span_is(3, 1 * GiB + 2 * MiB, 2 * MiB, false);
	span_is(4, 1 * GiB + 4 * MiB, PAGE, true);
}

Test(emu_layout, a_read_only_slot_under_a_window_is_cut_out_of_its_cluster)
{
	struct vmmi_view_slot s[] = {rom(0xfff00000 + 2 * PAGE, 2 * PAGE)};
	struct vmmi_view_window w[] = {mmio(0xfff00000, 8 * PAGE, ALL_WIDTHS)};

	make(s, 1, w, 1);
	cr_assert_eq(clusters(), 2);
	span_is(0, 0, 0xfff00000, false);
	span_is(1, 0xfff00000, 2 * PAGE, true);
	span_is(2, 0xfff00000 + 4 * PAGE, 4 * PAGE, true);
	span_is(3, 0xfff00000 + 8 * PAGE, END - (0xfff00000 + 8 * PAGE), false);
}

Test(emu_layout, a_read_only_slot_covering_a_window_leaves_no_cluster)
{
	struct vmmi_view_slot s[] = {rom(0xfff00000, 1 * MiB)};
	struct vmmi_view_window w[] = {mmio(0xfff00000 + PAGE, PAGE, ALL_WIDTHS)};

	make(s, 1, w, 1);
	cr_assert_eq(clusters(), 0);
	cr_assert_eq(plan.n, 2);
}

Test(emu_layout, a_window_past_the_end_of_space_is_not_planned)
{
	struct vmmi_view_window w[] = {mmio(END, PAGE, ALL_WIDTHS),
				       mmio(END + 1 * GiB, PAGE, ALL_WIDTHS)};

	make(NULL, 0, w, 2);
	cr_assert_eq(plan.n, 1);
	span_is(0, 0, END, false);
}

Test(emu_layout, a_window_across_the_end_of_space_is_clipped_there)
{
	struct vmmi_view_window w[] = {mmio(END - PAGE, 2 * PAGE, ALL_WIDTHS)};

	make(NULL, 0, w, 1);
	cr_assert_eq(plan.n, 2);
	span_is(0, 0, END - PAGE, false);
	span_is(1, END - PAGE, PAGE, true);
}

Test(emu_layout, an_empty_window_is_no_cluster)
{
	struct vmmi_view_window w[] = {mmio(0xfe000000, 0, ALL_WIDTHS)};

	make(NULL, 0, w, 1);
	cr_assert_eq(plan.n, 1);
	span_is(0, 0, END, false);
}

/* ---- how many regions an engine may need ---- */

Test(emu_layout, regions_count_slots_spans_and_every_gap_piece_there_may_be)
{
	struct vmmi_view_slot s[] = {ram(0, 16 * MiB), ram(32 * MiB, 16 * MiB)};

	make(s, 2, NULL, 0);
	cr_assert_eq(vmmi_emu_plan_regions(&plan, 2), 2 + 2 + 2 * EMU_MAX_LAZY);
}

/* ---- lookups ---- */

Test(emu_layout, span_at_finds_the_span_holding_an_address_and_nothing_in_ram)
{
	struct vmmi_view_slot s[] = {ram(16 * MiB, 16 * MiB)};

	make(s, 1, NULL, 0);
	cr_assert_eq(vmmi_emu_span_at(plan.v, plan.n, 0), &plan.v[0]);
	cr_assert_eq(vmmi_emu_span_at(plan.v, plan.n, 16 * MiB - 1), &plan.v[0]);
	cr_assert_null(vmmi_emu_span_at(plan.v, plan.n, 16 * MiB));
	cr_assert_null(vmmi_emu_span_at(plan.v, plan.n, 32 * MiB - 1));
	cr_assert_eq(vmmi_emu_span_at(plan.v, plan.n, 32 * MiB), &plan.v[1]);
	cr_assert_eq(vmmi_emu_span_at(plan.v, plan.n, END - 1), &plan.v[1]);
	cr_assert_null(vmmi_emu_span_at(plan.v, plan.n, END));
	cr_assert_null(vmmi_emu_span_at(plan.v, plan.n, UINT64_MAX));
	cr_assert_null(vmmi_emu_span_at(NULL, 0, 0));
}

/* ---- gap pieces mapped when the guest first touches them ---- */

static const struct emu_span big_gap = {.base = 16 * MiB, .size = 1 * GiB, .devices = false};

Test(emu_layout, a_touched_gap_gets_the_aligned_2_mib_piece_around_the_address)
{
	struct emu_span sp;

	cr_assert(vmmi_emu_gap_piece(&big_gap, 100 * MiB + 12345, true, 0, UINT64_MAX, &sp));
	cr_assert_eq(sp.base, 100 * MiB);
	cr_assert_eq(sp.size, EMU_GAP_PIECE);
	cr_assert_not(sp.devices);
}

Test(emu_layout, a_piece_is_clipped_to_its_gap)
{
	struct emu_span g = {.base = 3 * MiB + PAGE, .size = 2 * MiB}, sp;

	cr_assert(vmmi_emu_gap_piece(&g, 3 * MiB + PAGE, true, 0, UINT64_MAX, &sp));
	cr_assert_eq(sp.base, 3 * MiB + PAGE);
	cr_assert_eq(sp.size, 1 * MiB - PAGE);
	cr_assert(vmmi_emu_gap_piece(&g, 5 * MiB, true, 0, UINT64_MAX, &sp));
	cr_assert_eq(sp.base, 4 * MiB);
	cr_assert_eq(sp.size, 1 * MiB + PAGE);
}

Test(emu_layout, a_piece_stops_at_the_pieces_mapped_beside_it)
{
	struct emu_span sp;

	cr_assert(vmmi_emu_gap_piece(&big_gap, 101 * MiB, true, 100 * MiB + PAGE,
				     101 * MiB + 2 * PAGE, &sp));
	cr_assert_eq(sp.base, 100 * MiB + PAGE);
	cr_assert_eq(sp.size, 1 * MiB + PAGE);
}

Test(emu_layout, an_address_already_mapped_gets_no_piece)
{
	struct emu_span sp = {0};

	cr_assert_not(
	    vmmi_emu_gap_piece(&big_gap, 100 * MiB, true, 100 * MiB + 1, UINT64_MAX, &sp));
	cr_assert_not(vmmi_emu_gap_piece(&big_gap, 100 * MiB, true, 0, 100 * MiB, &sp));
	cr_assert_eq(sp.size, 0);
}

Test(emu_layout, past_the_small_pieces_a_piece_fills_the_free_rest_of_its_gap)
{
	struct emu_span sp;

	cr_assert(vmmi_emu_gap_piece(&big_gap, 100 * MiB, false, 0, UINT64_MAX, &sp));
	cr_assert_eq(sp.base, big_gap.base);
	cr_assert_eq(sp.size, big_gap.size);
	cr_assert(vmmi_emu_gap_piece(&big_gap, 100 * MiB, false, 50 * MiB, 200 * MiB, &sp));
	cr_assert_eq(sp.base, 50 * MiB);
	cr_assert_eq(sp.size, 150 * MiB);
}

/* ---- the edge at 2^64: no end may wrap to 0 ---- */

Test(emu_layout, a_window_reaching_2_pow_64_is_a_cluster_up_to_the_end_of_space)
{
	struct vmmi_view_window w[] = {mmio(END - PAGE, 0 - (END - PAGE), ALL_WIDTHS)};

	make(NULL, 0, w, 1);
	cr_assert_eq(plan.n, 2);
	span_is(0, 0, END - PAGE, false);
	span_is(1, END - PAGE, PAGE, true);
}

Test(emu_layout, a_slot_ending_at_2_pow_64_leaves_one_gap_below_it)
{
	struct vmmi_view_slot s[] = {ram(0, 1 * MiB), ram(0 - 1 * GiB, 1 * GiB)};

	make(s, 2, NULL, 0);
	cr_assert_eq(plan.n, 1);
	span_is(0, 1 * MiB, END - 1 * MiB, false);
}

Test(emu_layout, a_slot_from_below_the_end_of_space_to_2_pow_64_covers_the_rest)
{
	struct vmmi_view_slot s[] = {ram(END - 1 * GiB, 0 - (END - 1 * GiB))};

	make(s, 1, NULL, 0);
	cr_assert_eq(plan.n, 1);
	span_is(0, 0, END - 1 * GiB, false);
}

Test(emu_layout, a_read_only_slot_to_2_pow_64_under_a_window_is_cut_out_of_it)
{
	struct vmmi_view_slot s[] = {rom(END - 2 * PAGE, 0 - (END - 2 * PAGE))};
	struct vmmi_view_window w[] = {mmio(END - 4 * PAGE, 4 * PAGE, ALL_WIDTHS)};

	make(s, 1, w, 1);
	cr_assert_eq(plan.n, 2);
	span_is(0, 0, END - 4 * PAGE, false);
	span_is(1, END - 4 * PAGE, 2 * PAGE, true);
}
