/* SPDX-License-Identifier: MIT */
/*
 * test_memslot.c - specification of the memslot table:
 * validation, ids, lookups and checked translation.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vmm_internal.h"

#define KB 1024ull
#define MB (1024 * KB)
#define PG VMMI_PAGE_SIZE

static struct vmmi_slot_table t;

/* Host addresses are never dereferenced here: a fake, page-aligned base keeps translations easy to
 * predict. */
#define HVA_BASE 0x200000000000ull
static void *hva_for(uint64_t gpa)
{
	return (void *)(uintptr_t)(HVA_BASE + gpa);
}

static void setup(void)
{
	memset(&t, 0, sizeof(t));
}

static void teardown(void)
{
	vmmi_slots_free(&t);
}

TestSuite(memslot, .init = setup, .fini = teardown);

static struct vmmi_slot *add(const char *name, uint64_t gpa, uint64_t size)
{
	struct vmmi_slot *s = NULL;
	int ret = vmmi_slots_insert(&t, name, gpa, size, hva_for(gpa), 0, &s);

	cr_assert_eq(ret, 0, "insert %s [0x%llx, +0x%llx): %d (%s)", name ? name : "(null)",
		     (unsigned long long)gpa, (unsigned long long)size, ret, vmm_last_error());
	return s;
}

/* A copy of the table to prove that a refused insert changed nothing. */
struct snapshot {
	struct vmmi_slot slots[8];
	size_t n;
	uint64_t used_ids[sizeof(t.used_ids) / sizeof(t.used_ids[0])];
};

static struct snapshot snap(void)
{
	struct snapshot s;

	memset(&s, 0, sizeof(s));
	cr_assert_leq(t.n, 8);
	if (t.n)
		memcpy(s.slots, t.slots, t.n * sizeof(t.slots[0]));
	s.n = t.n;
	memcpy(s.used_ids, t.used_ids, sizeof(s.used_ids));
	return s;
}

static void assert_unchanged(const struct snapshot *before)
{
	cr_assert_eq(t.n, before->n);
	if (t.n)
		cr_assert(memcmp(t.slots, before->slots, t.n * sizeof(t.slots[0])) == 0);
	cr_assert(memcmp(t.used_ids, before->used_ids, sizeof(t.used_ids)) == 0);
}

static void refused(const char *name, uint64_t gpa, uint64_t size, void *hva, int err)
{
	struct snapshot before = snap();
	struct vmmi_slot *s = NULL;
	int ret = vmmi_slots_insert(&t, name, gpa, size, hva, 0, &s);

	cr_assert_eq(ret, err, "insert [0x%llx, +0x%llx): got %d, want %d", (unsigned long long)gpa,
		     (unsigned long long)size, ret, err);
	cr_assert_null(s);
	cr_assert_neq(vmm_last_error()[0], '\0');
	assert_unchanged(&before);
}

/* ---- insert and find ---- */

Test(memslot, insert_fills_the_slot)
{
	struct vmmi_slot *s = add("low", 0, 64 * KB);

	cr_assert_eq(s->gpa, 0);
	cr_assert_eq(s->size, 64 * KB);
	cr_assert_eq(s->hva, hva_for(0));
	cr_assert_str_eq(s->name, "low");
	cr_assert_not(s->owned);
	cr_assert_eq(t.n, 1);
}

Test(memslot, null_name_becomes_empty)
{
	cr_assert_str_eq(add(NULL, 0, PG)->name, "");
}

Test(memslot, long_name_is_truncated_and_terminated)
{
	char longname[100];
	struct vmmi_slot *s;

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	s = add(longname, 0, PG);

	cr_assert_eq(strlen(s->name), VMM_GUEST_NAME_MAX - 1);
	cr_assert(strncmp(s->name, longname, VMM_GUEST_NAME_MAX - 1) == 0);
}

Test(memslot, slots_stay_sorted_by_gpa_whatever_the_insert_order)
{
	add("c", 8 * MB, MB);
	add("a", 0, MB);
	add("b", 4 * MB, MB);

	cr_assert_eq(t.n, 3);
	cr_assert_str_eq(t.slots[0].name, "a");
	cr_assert_str_eq(t.slots[1].name, "b");
	cr_assert_str_eq(t.slots[2].name, "c");
}

Test(memslot, find_returns_the_slot_containing_the_address)
{
	add("a", 0, MB);
	add("b", 4 * MB, MB);

	cr_assert_str_eq(vmmi_slots_find(&t, 0)->name, "a");
	cr_assert_str_eq(vmmi_slots_find(&t, MB - 1)->name, "a");
	cr_assert_str_eq(vmmi_slots_find(&t, 4 * MB)->name, "b");
	cr_assert_str_eq(vmmi_slots_find(&t, 5 * MB - 1)->name, "b");
}

Test(memslot, find_returns_null_in_gaps_and_beyond)
{
	add("b", 4 * MB, MB);

	cr_assert_null(vmmi_slots_find(&t, 0));
	cr_assert_null(vmmi_slots_find(&t, 4 * MB - 1));
	cr_assert_null(vmmi_slots_find(&t, 5 * MB));
	cr_assert_null(vmmi_slots_find(&t, UINT64_MAX));
}

Test(memslot, find_in_empty_table_returns_null)
{
	cr_assert_null(vmmi_slots_find(&t, 0));
}

Test(memslot, insert_accepts_the_top_page_below_the_gpa_limit)
{
	add("top", VMMI_GPA_LIMIT - PG, PG);
	cr_assert_not_null(vmmi_slots_find(&t, VMMI_GPA_LIMIT - 1));
}

Test(memslot, insert_out_may_be_null)
{
	cr_assert_eq(vmmi_slots_insert(&t, "a", 0, PG, hva_for(0), 0, NULL), 0);
	cr_assert_eq(t.n, 1);
}

/* ---- refused inserts: each with its own errno, table unchanged ---- */

Test(memslot, zero_size_is_einval)
{
	add("a", MB, MB);
	refused("z", 0, 0, hva_for(0), -EINVAL);
}

Test(memslot, zero_size_is_checked_before_alignment)
{
	refused("z", 1, 0, hva_for(0), -EINVAL);
}

Test(memslot, misaligned_gpa_is_einval)
{
	add("a", MB, MB);
	refused("m", 0x800, PG, hva_for(0), -EINVAL);
}

Test(memslot, misaligned_size_is_einval)
{
	add("a", MB, MB);
	refused("m", 0, PG + 1, hva_for(0), -EINVAL);
}

Test(memslot, misaligned_hva_is_einval)
{
	add("a", MB, MB);
	refused("m", 0, PG, (void *)(uintptr_t)(HVA_BASE + 8), -EINVAL);
}

Test(memslot, null_hva_is_einval)
{
	refused("n", 0, PG, NULL, -EINVAL);
}

Test(memslot, alignment_is_checked_before_range)
{
	refused("m", VMMI_GPA_LIMIT + 1, PG, hva_for(0), -EINVAL);
}

Test(memslot, range_wrapping_2_64_is_erange)
{
	refused("w", UINT64_MAX - PG + 1, 2 * PG, hva_for(0), -ERANGE);
}

Test(memslot, range_ending_exactly_at_2_64_is_erange)
{
	refused("w", UINT64_MAX - PG + 1, PG, hva_for(0), -ERANGE);
}

Test(memslot, range_ending_exactly_at_gpa_limit_is_accepted)
{
	add("h", VMMI_GPA_LIMIT - PG, PG);
}

Test(memslot, move_to_end_exactly_at_2_64_is_erange)
{
	add("a", MB, PG);
	cr_assert_eq(vmmi_slots_move(&t, MB, UINT64_MAX - PG + 1, NULL), -ERANGE);
	cr_assert_eq(t.slots[0].gpa, MB);
}

Test(memslot, move_to_end_exactly_at_gpa_limit_is_accepted)
{
	add("a", MB, PG);
	cr_assert_eq(vmmi_slots_move(&t, MB, VMMI_GPA_LIMIT - PG, NULL), 0, "%s", vmm_last_error());
}

Test(memslot, range_ending_above_gpa_limit_is_erange)
{
	refused("h", VMMI_GPA_LIMIT - PG, 2 * PG, hva_for(0), -ERANGE);
}

Test(memslot, range_starting_at_gpa_limit_is_erange)
{
	refused("h", VMMI_GPA_LIMIT, PG, hva_for(0), -ERANGE);
}

Test(memslot, exact_overlap_is_eexist)
{
	add("a", MB, MB);
	refused("b", MB, MB, hva_for(0), -EEXIST);
}

Test(memslot, partial_overlap_from_the_left_is_eexist)
{
	add("a", MB, MB);
	refused("b", MB - PG, 2 * PG, hva_for(0), -EEXIST);
}

Test(memslot, partial_overlap_from_the_right_is_eexist)
{
	add("a", MB, MB);
	refused("b", 2 * MB - PG, 2 * PG, hva_for(0), -EEXIST);
}

Test(memslot, containing_overlap_is_eexist)
{
	add("a", MB, MB);
	refused("b", 0, 4 * MB, hva_for(0), -EEXIST);
}

Test(memslot, contained_overlap_is_eexist)
{
	add("a", MB, MB);
	refused("b", MB + PG, PG, hva_for(0), -EEXIST);
}

Test(memslot, overlap_message_names_both_slots)
{
	add("low", 0, 4 * MB);
	refused("high", MB, MB, hva_for(0), -EEXIST);
	cr_assert_str_eq(
	    vmm_last_error(),
	    "memslot 'high' [0x100000, 0x200000) overlaps memslot 'low' [0x0, 0x400000)");
}

Test(memslot, range_is_checked_before_overlap)
{
	add("a", VMMI_GPA_LIMIT - MB, MB);
	refused("b", VMMI_GPA_LIMIT - MB, 2 * MB, hva_for(0), -ERANGE);
}

Test(memslot, adjacent_slots_are_allowed)
{
	add("b", MB, MB);
	add("a", 0, MB);
	add("c", 2 * MB, MB);
	cr_assert_eq(t.n, 3);
}

/* ---- overlap query ---- */

Test(memslot, overlap_finds_the_first_overlapping_slot)
{
	add("a", MB, MB);
	add("b", 3 * MB, MB);

	cr_assert_null(vmmi_slots_overlap(&t, 0, MB));
	cr_assert_null(vmmi_slots_overlap(&t, 2 * MB, MB));
	cr_assert_str_eq(vmmi_slots_overlap(&t, 0, MB + 1)->name, "a");
	cr_assert_str_eq(vmmi_slots_overlap(&t, 2 * MB - 1, 2 * MB)->name, "a");
	cr_assert_str_eq(vmmi_slots_overlap(&t, 2 * MB, 2 * MB)->name, "b");
	cr_assert_str_eq(vmmi_slots_overlap(&t, 0, UINT64_MAX)->name, "a");
}

Test(memslot, overlap_of_empty_range_is_null)
{
	add("a", MB, MB);
	cr_assert_null(vmmi_slots_overlap(&t, MB, 0));
}

/* ---- translate ---- */

Test(memslot, translate_maps_gpa_to_hva_at_the_same_offset)
{
	void *hva = NULL;

	add("a", MB, MB);
	cr_assert_eq(vmmi_slots_translate(&t, MB + 0x123, 8, &hva), 0);
	cr_assert_eq(hva, (char *)hva_for(MB) + 0x123);
}

Test(memslot, translate_accepts_a_range_ending_at_the_slot_end)
{
	void *hva = NULL;

	add("a", MB, MB);
	cr_assert_eq(vmmi_slots_translate(&t, MB, MB, &hva), 0);
	cr_assert_eq(vmmi_slots_translate(&t, 2 * MB - 8, 8, &hva), 0);
}

Test(memslot, translate_of_range_crossing_the_slot_end_is_efault)
{
	void *hva = (void *)1;

	add("a", MB, MB);
	cr_assert_eq(vmmi_slots_translate(&t, 2 * MB - 4, 8, &hva), -EFAULT);
	cr_assert_eq(hva, (void *)1, "*hva untouched on failure");
	cr_assert_str_eq(vmm_last_error(),
			 "guest range [0x1ffffc, 0x200004) is not inside one RAM slot");
}

Test(memslot, translate_of_range_spanning_two_adjacent_slots_is_efault)
{
	void *hva;

	add("a", 0, MB);
	add("b", MB, MB);
	cr_assert_eq(vmmi_slots_translate(&t, MB - 4, 8, &hva), -EFAULT);
}

Test(memslot, translate_of_unbacked_gpa_is_efault)
{
	void *hva;

	add("a", MB, MB);
	cr_assert_eq(vmmi_slots_translate(&t, 0, 1, &hva), -EFAULT);
	cr_assert_eq(vmmi_slots_translate(&t, 2 * MB, 1, &hva), -EFAULT);
}

Test(memslot, translate_of_wrapping_range_is_efault)
{
	void *hva;

	add("a", 0, MB);
	cr_assert_eq(vmmi_slots_translate(&t, 0x10, UINT64_MAX, &hva), -EFAULT);
	cr_assert_eq(vmmi_slots_translate(&t, UINT64_MAX, 2, &hva), -EFAULT);
}

Test(memslot, translate_of_huge_length_is_efault)
{
	void *hva;

	add("a", 0, MB);
	cr_assert_eq(vmmi_slots_translate(&t, 0, MB + 1, &hva), -EFAULT);
}

Test(memslot, translate_with_len_0_is_treated_as_len_1)
{
	void *hva = NULL;

	add("a", MB, MB);
	cr_assert_eq(vmmi_slots_translate(&t, 2 * MB - 1, 0, &hva), 0);
	cr_assert_eq(hva, (char *)hva_for(MB) + MB - 1);
	cr_assert_eq(vmmi_slots_translate(&t, 2 * MB, 0, &hva), -EFAULT);
}

Test(memslot, translate_reaches_real_memory)
{
	struct vmmi_slot_table own = {0};
	uint8_t *mem = aligned_alloc(PG, 2 * PG);
	void *hva;

	cr_assert_not_null(mem);
	cr_assert_eq(vmmi_slots_insert(&own, "ram", 0x10000, 2 * PG, mem, 0, NULL), 0);
	cr_assert_eq(vmmi_slots_translate(&own, 0x10000 + PG + 5, 1, &hva), 0);
	*(uint8_t *)hva = 0xab;
	cr_assert_eq(mem[PG + 5], 0xab);
	vmmi_slots_free(&own);
	free(mem);
}

/* ---- remove and ids ---- */

Test(memslot, remove_returns_the_slot_and_unbacks_its_range)
{
	struct vmmi_slot removed;

	add("a", 0, MB);
	add("b", MB, MB);
	cr_assert_eq(vmmi_slots_remove(&t, 0, &removed), 0);
	cr_assert_str_eq(removed.name, "a");
	cr_assert_eq(removed.size, MB);
	cr_assert_null(vmmi_slots_find(&t, 0));
	cr_assert_str_eq(vmmi_slots_find(&t, MB)->name, "b");
	cr_assert_eq(t.n, 1);
}

Test(memslot, remove_needs_the_exact_start)
{
	add("a", MB, MB);
	cr_assert_eq(vmmi_slots_remove(&t, MB + PG, NULL), -ENOENT);
	cr_assert_eq(vmmi_slots_remove(&t, 0, NULL), -ENOENT);
	cr_assert_eq(t.n, 1);
}

Test(memslot, remove_from_empty_table_is_enoent)
{
	cr_assert_eq(vmmi_slots_remove(&t, 0, NULL), -ENOENT);
}

Test(memslot, ids_are_the_lowest_free_ones)
{
	cr_assert_eq(add("a", 0, PG)->id, 0);
	cr_assert_eq(add("b", PG, PG)->id, 1);
	cr_assert_eq(add("c", 2 * PG, PG)->id, 2);
}

Test(memslot, ids_do_not_follow_gpa_order)
{
	add("high", MB, PG);
	add("low", 0, PG);

	cr_assert_eq(vmmi_slots_find(&t, MB)->id, 0);
	cr_assert_eq(vmmi_slots_find(&t, 0)->id, 1);
}

Test(memslot, removed_id_is_reused_and_others_stay_stable)
{
	add("a", 0, PG);
	add("b", MB, PG);
	add("c", 2 * MB, PG);

	cr_assert_eq(vmmi_slots_remove(&t, MB, NULL), 0);
	cr_assert_eq(vmmi_slots_find(&t, 0)->id, 0);
	cr_assert_eq(vmmi_slots_find(&t, 2 * MB)->id, 2);

	/* The new slot sorts first, shifting the others, yet they keep their ids. */
	cr_assert_eq(add("d", 0x100000000ull, PG)->id, 1);
	cr_assert_eq(vmmi_slots_find(&t, 0)->id, 0);
	cr_assert_eq(vmmi_slots_find(&t, 2 * MB)->id, 2);
}

/* ---- capacity ---- */

Test(memslot, memslot_max_slots_fit_then_enospc)
{
	uint64_t i;

	for (i = 0; i < VMM_MEMSLOT_MAX; i++)
		add("s", 2 * i * PG, PG);
	cr_assert_eq(t.n, VMM_MEMSLOT_MAX);

	/* Every id is in use exactly once. */
	for (i = 0; i < VMM_MEMSLOT_MAX; i++) {
		cr_assert_lt(t.slots[i].id, VMM_MEMSLOT_MAX);
		cr_assert(t.used_ids[t.slots[i].id / 64] & (1ull << (t.slots[i].id % 64)));
	}

	cr_assert_eq(vmmi_slots_insert(&t, "x", 2 * VMM_MEMSLOT_MAX * PG, PG, hva_for(0), 0, NULL),
		     -ENOSPC);
	cr_assert_eq(t.n, VMM_MEMSLOT_MAX);
}

Test(memslot, full_table_still_reports_overlap_and_alignment_first)
{
	uint64_t i;

	for (i = 0; i < VMM_MEMSLOT_MAX; i++)
		add("s", 2 * i * PG, PG);
	cr_assert_eq(vmmi_slots_insert(&t, "x", 0, PG, hva_for(0), 0, NULL), -EEXIST);
	cr_assert_eq(vmmi_slots_insert(&t, "x", 1, PG, hva_for(0), 0, NULL), -EINVAL);
}

Test(memslot, full_table_accepts_again_after_a_remove)
{
	uint64_t i;

	for (i = 0; i < VMM_MEMSLOT_MAX; i++)
		add("s", 2 * i * PG, PG);
	cr_assert_eq(vmmi_slots_remove(&t, 2 * 100 * PG, NULL), 0);
	add("again", PG, PG);
	cr_assert_eq(t.n, VMM_MEMSLOT_MAX);
}

/* ---- free ---- */

Test(memslot, free_accepts_a_zeroed_table)
{
	struct vmmi_slot_table z = {0};

	vmmi_slots_free(&z);
	vmmi_slots_free(&z);
}

Test(memslot, free_leaves_an_empty_reusable_table)
{
	add("a", 0, PG);
	vmmi_slots_free(&t);
	cr_assert_eq(t.n, 0);
	cr_assert_eq(add("b", 0, PG)->id, 0);
}

/* ---- lookups against a linear-scan oracle ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	/* xorshift64: deterministic, so a failure reproduces. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const struct vmmi_slot *oracle_find(uint64_t gpa)
{
	size_t i;

	for (i = 0; i < t.n; i++)
		if (gpa >= t.slots[i].gpa && gpa - t.slots[i].gpa < t.slots[i].size)
			return &t.slots[i];
	return NULL;
}

Test(memslot, lookups_in_a_full_table_match_a_linear_scan)
{
	uint64_t gpa[VMM_MEMSLOT_MAX], size[VMM_MEMSLOT_MAX], next = 0;
	size_t i, order[VMM_MEMSLOT_MAX];
	int probe;

	/* Random sizes and gaps (some zero: adjacent slots), inserted in random order. */
	for (i = 0; i < VMM_MEMSLOT_MAX; i++) {
		next += (rnd() % 4) * PG;
		gpa[i] = next;
		size[i] = (1 + rnd() % 16) * PG;
		next += size[i];
		order[i] = i;
	}
	for (i = VMM_MEMSLOT_MAX - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < VMM_MEMSLOT_MAX; i++)
		add("r", gpa[order[i]], size[order[i]]);

	for (i = 1; i < t.n; i++)
		cr_assert_leq(t.slots[i - 1].gpa + t.slots[i - 1].size, t.slots[i].gpa);

	for (probe = 0; probe < 200000; probe++) {
		uint64_t at, len = rnd() % (3 * PG);
		const struct vmmi_slot *want;
		void *hva = NULL;
		int ret;

		/* Mostly near slot edges, where the bugs live; some anywhere. */
		if (probe % 8 == 0)
			at = rnd() >> (rnd() % 64);
		else {
			size_t k = rnd() % VMM_MEMSLOT_MAX;

			at = (probe % 2 ? gpa[k] : gpa[k] + size[k]) + (rnd() % 5) - 2;
		}
		want = oracle_find(at);

		cr_assert_eq(vmmi_slots_find(&t, at), want, "find 0x%llx", (unsigned long long)at);

		ret = vmmi_slots_translate(&t, at, len, &hva);
		if (want && vmmi_range_ok(at - want->gpa, len ? len : 1, want->size)) {
			cr_assert_eq(ret, 0, "translate 0x%llx + 0x%llx", (unsigned long long)at,
				     (unsigned long long)len);
			cr_assert_eq(hva, want->hva + (at - want->gpa));
		} else {
			cr_assert_eq(ret, -EFAULT, "translate 0x%llx + 0x%llx",
				     (unsigned long long)at, (unsigned long long)len);
		}
	}
}

Test(memslot, overlap_queries_in_a_full_table_match_a_linear_scan)
{
	uint64_t next = 0;
	size_t i;
	int probe;

	for (i = 0; i < VMM_MEMSLOT_MAX; i++) {
		uint64_t sz = (1 + rnd() % 8) * PG;

		next += (rnd() % 3) * PG;
		add("r", next, sz);
		next += sz;
	}

	for (probe = 0; probe < 100000; probe++) {
		uint64_t at = rnd() % (next + 4 * PG), len = 1 + rnd() % (8 * PG);
		const struct vmmi_slot *want = NULL;

		for (i = 0; i < t.n && !want; i++)
			if (t.slots[i].gpa < at + len && at < t.slots[i].gpa + t.slots[i].size)
				want = &t.slots[i];
		cr_assert_eq(vmmi_slots_overlap(&t, at, len), want, "overlap 0x%llx + 0x%llx",
			     (unsigned long long)at, (unsigned long long)len);
	}
}
