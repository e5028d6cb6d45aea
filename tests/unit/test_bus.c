/* SPDX-License-Identifier: MIT */
/*
 * test_bus.c - specification of a device bus: window
 * validation, overlap refusal and O(log n) lookup.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm_internal.h"

static struct vmmi_bus bus;
static struct vmm_device devs[4];

static void setup(void)
{
	static char *names[] = {"uart0", "rtc", "testdev", "timer"};
	size_t i;

	memset(&bus, 0, sizeof(bus));
	memset(devs, 0, sizeof(devs));
	for (i = 0; i < 4; i++)
		devs[i].name = names[i];
}

static void teardown(void)
{
	vmmi_bus_free(&bus);
}

TestSuite(bus, .init = setup, .fini = teardown);

static void add(uint64_t base, uint64_t length, struct vmm_device *dev)
{
	int ret = vmmi_bus_insert(&bus, base, length, dev, NULL);

	cr_assert_eq(ret, 0, "insert [0x%llx, +0x%llx): %d (%s)", (unsigned long long)base,
		     (unsigned long long)length, ret, vmm_last_error());
}

/* Refused with err; the bus is unchanged and *clash says which window was hit (NULL if none). */
static void refused(uint64_t base, uint64_t length, int err, const struct vmmi_window *want_clash)
{
	struct vmmi_window before[8];
	const struct vmmi_window *clash = (const void *)1;
	size_t n = bus.n;
	int ret;

	cr_assert_leq(n, 8);
	if (n)
		memcpy(before, bus.w, n * sizeof(before[0]));
	ret = vmmi_bus_insert(&bus, base, length, &devs[3], &clash);
	cr_assert_eq(ret, err, "insert [0x%llx, +0x%llx): got %d, want %d",
		     (unsigned long long)base, (unsigned long long)length, ret, err);
	cr_assert_eq(clash, want_clash);
	cr_assert_neq(vmm_last_error()[0], '\0');
	cr_assert_eq(bus.n, n);
	if (n)
		cr_assert(memcmp(before, bus.w, n * sizeof(before[0])) == 0);
}

/* ---- insert and find ---- */

Test(bus, find_returns_the_window_containing_the_address)
{
	const struct vmmi_window *w;

	add(0x3f8, 8, &devs[0]);
	w = vmmi_bus_find(&bus, 0x3fa);
	cr_assert_not_null(w);
	cr_assert_eq(w->base, 0x3f8);
	cr_assert_eq(w->length, 8);
	cr_assert_eq(w->dev, &devs[0]);
	cr_assert_eq(vmmi_bus_find(&bus, 0x3f8), w);
	cr_assert_eq(vmmi_bus_find(&bus, 0x3ff), w);
}

Test(bus, find_returns_null_outside_every_window)
{
	add(0x3f8, 8, &devs[0]);
	add(0x70, 2, &devs[1]);

	cr_assert_null(vmmi_bus_find(&bus, 0));
	cr_assert_null(vmmi_bus_find(&bus, 0x6f));
	cr_assert_null(vmmi_bus_find(&bus, 0x72));
	cr_assert_null(vmmi_bus_find(&bus, 0x3f7));
	cr_assert_null(vmmi_bus_find(&bus, 0x400));
	cr_assert_null(vmmi_bus_find(&bus, UINT64_MAX));
}

Test(bus, find_in_empty_bus_returns_null)
{
	cr_assert_null(vmmi_bus_find(&bus, 0));
	cr_assert_null(vmmi_bus_find(&bus, UINT64_MAX));
}

Test(bus, windows_stay_sorted_by_base_whatever_the_insert_order)
{
	add(0x3000, 0x1000, &devs[2]);
	add(0x1000, 0x1000, &devs[0]);
	add(0x2000, 0x1000, &devs[1]);

	cr_assert_eq(bus.n, 3);
	cr_assert_eq(bus.w[0].dev, &devs[0]);
	cr_assert_eq(bus.w[1].dev, &devs[1]);
	cr_assert_eq(bus.w[2].dev, &devs[2]);
}

Test(bus, adjacent_windows_are_allowed)
{
	add(0x2000, 0x1000, &devs[1]);
	add(0x1000, 0x1000, &devs[0]);
	add(0x3000, 0x1000, &devs[2]);

	cr_assert_eq(vmmi_bus_find(&bus, 0x1fff)->dev, &devs[0]);
	cr_assert_eq(vmmi_bus_find(&bus, 0x2000)->dev, &devs[1]);
	cr_assert_eq(vmmi_bus_find(&bus, 0x3000)->dev, &devs[2]);
}

Test(bus, window_may_cover_address_zero)
{
	add(0, 1, &devs[0]);
	cr_assert_eq(vmmi_bus_find(&bus, 0)->dev, &devs[0]);
	cr_assert_null(vmmi_bus_find(&bus, 1));
}

Test(bus, clash_is_null_on_success)
{
	const struct vmmi_window *clash = (const void *)1;

	cr_assert_eq(vmmi_bus_insert(&bus, 0x1000, 0x10, &devs[0], &clash), 0);
	cr_assert_null(clash);
}

/* ---- the top of the 2^64 space ---- */

Test(bus, length_1_window_at_the_last_address_is_valid)
{
	add(UINT64_MAX, 1, &devs[0]);
	cr_assert_eq(vmmi_bus_find(&bus, UINT64_MAX)->dev, &devs[0]);
	cr_assert_null(vmmi_bus_find(&bus, UINT64_MAX - 1));
}

Test(bus, window_ending_exactly_at_2_64_is_valid)
{
	add(UINT64_MAX - 0xfff, 0x1000, &devs[0]);
	cr_assert_eq(vmmi_bus_find(&bus, UINT64_MAX)->dev, &devs[0]);
	cr_assert_eq(vmmi_bus_find(&bus, UINT64_MAX - 0xfff)->dev, &devs[0]);
	cr_assert_null(vmmi_bus_find(&bus, UINT64_MAX - 0x1000));
}

Test(bus, length_2_window_at_the_last_address_wraps_and_is_einval)
{
	refused(UINT64_MAX, 2, -EINVAL, NULL);
}

Test(bus, window_covering_all_but_one_address_is_valid)
{
	add(1, UINT64_MAX, &devs[0]);
	cr_assert_null(vmmi_bus_find(&bus, 0));
	cr_assert_eq(vmmi_bus_find(&bus, 1)->dev, &devs[0]);
	cr_assert_eq(vmmi_bus_find(&bus, UINT64_MAX)->dev, &devs[0]);
}

Test(bus, overlap_with_a_window_ending_at_2_64_is_eexist)
{
	add(UINT64_MAX - 0xf, 0x10, &devs[0]);
	refused(UINT64_MAX, 1, -EEXIST, &bus.w[0]);
	refused(UINT64_MAX - 0x10, 2, -EEXIST, &bus.w[0]);
	add(UINT64_MAX - 0x10, 1, &devs[1]);
}

/* ---- refused inserts ---- */

Test(bus, zero_length_is_einval)
{
	add(0x1000, 0x10, &devs[0]);
	refused(0x2000, 0, -EINVAL, NULL);
}

Test(bus, wrapping_window_is_einval)
{
	refused(UINT64_MAX - 0xf, 0x20, -EINVAL, NULL);
	refused(2, UINT64_MAX, -EINVAL, NULL);
}

Test(bus, exact_overlap_is_eexist_with_clash)
{
	add(0x1000, 0x100, &devs[0]);
	refused(0x1000, 0x100, -EEXIST, &bus.w[0]);
}

Test(bus, partial_overlap_from_the_left_is_eexist_with_clash)
{
	add(0x1000, 0x100, &devs[0]);
	refused(0xff0, 0x11, -EEXIST, &bus.w[0]);
}

Test(bus, partial_overlap_from_the_right_is_eexist_with_clash)
{
	add(0x1000, 0x100, &devs[0]);
	refused(0x10ff, 0x10, -EEXIST, &bus.w[0]);
}

Test(bus, containing_overlap_is_eexist_with_clash)
{
	add(0x1000, 0x100, &devs[0]);
	refused(0, 0x10000, -EEXIST, &bus.w[0]);
}

Test(bus, contained_overlap_is_eexist_with_clash)
{
	add(0x1000, 0x100, &devs[0]);
	refused(0x1010, 1, -EEXIST, &bus.w[0]);
}

Test(bus, clash_points_at_the_window_that_was_hit)
{
	add(0x1000, 0x100, &devs[0]);
	add(0x2000, 0x100, &devs[1]);
	add(0x3000, 0x100, &devs[2]);
	refused(0x20f0, 0x20, -EEXIST, &bus.w[1]);
	cr_assert_eq(bus.w[1].dev, &devs[1]);
}

Test(bus, clash_may_be_null)
{
	add(0x1000, 0x100, &devs[0]);
	cr_assert_eq(vmmi_bus_insert(&bus, 0x1000, 1, &devs[1], NULL), -EEXIST);
}

Test(bus, overlap_message_names_both_devices)
{
	add(0x3f8, 8, &devs[0]);
	refused(0x3fc, 8, -EEXIST, &bus.w[0]);
	cr_assert_str_eq(vmm_last_error(),
			 "device 'timer' [0x3fc, 0x404) overlaps device 'uart0' [0x3f8, 0x400)");
}

/* ---- overlap query ---- */

Test(bus, overlap_returns_the_first_overlapping_window)
{
	add(0x1000, 0x100, &devs[0]);
	add(0x2000, 0x100, &devs[1]);

	cr_assert_null(vmmi_bus_overlap(&bus, 0, 0x1000));
	cr_assert_null(vmmi_bus_overlap(&bus, 0x1100, 0xf00));
	cr_assert_eq(vmmi_bus_overlap(&bus, 0, 0x1001)->dev, &devs[0]);
	cr_assert_eq(vmmi_bus_overlap(&bus, 0x10ff, 0x2000)->dev, &devs[0]);
	cr_assert_eq(vmmi_bus_overlap(&bus, 0x1100, 0xf01)->dev, &devs[1]);
	cr_assert_eq(vmmi_bus_overlap(&bus, 0x2050, UINT64_MAX)->dev, &devs[1]);
}

Test(bus, overlap_of_empty_range_is_null)
{
	add(0x1000, 0x100, &devs[0]);
	cr_assert_null(vmmi_bus_overlap(&bus, 0x1000, 0));
}

/* ---- remove ---- */

Test(bus, remove_by_exact_base)
{
	add(0x1000, 0x100, &devs[0]);
	add(0x2000, 0x100, &devs[1]);

	cr_assert_eq(vmmi_bus_remove(&bus, 0x1000), 0);
	cr_assert_null(vmmi_bus_find(&bus, 0x1000));
	cr_assert_eq(vmmi_bus_find(&bus, 0x2000)->dev, &devs[1]);
	cr_assert_eq(bus.n, 1);
}

Test(bus, remove_of_an_address_inside_a_window_is_enoent)
{
	add(0x1000, 0x100, &devs[0]);
	cr_assert_eq(vmmi_bus_remove(&bus, 0x1001), -ENOENT);
	cr_assert_eq(vmmi_bus_remove(&bus, 0xfff), -ENOENT);
	cr_assert_eq(bus.n, 1);
}

Test(bus, remove_from_empty_bus_is_enoent)
{
	cr_assert_eq(vmmi_bus_remove(&bus, 0), -ENOENT);
}

Test(bus, removed_range_can_be_claimed_again)
{
	add(0x1000, 0x100, &devs[0]);
	cr_assert_eq(vmmi_bus_remove(&bus, 0x1000), 0);
	add(0x1080, 0x100, &devs[1]);
	cr_assert_eq(vmmi_bus_find(&bus, 0x1100)->dev, &devs[1]);
}

/* ---- free ---- */

Test(bus, free_accepts_a_zeroed_bus)
{
	struct vmmi_bus z = {0};

	vmmi_bus_free(&z);
	vmmi_bus_free(&z);
}

Test(bus, free_leaves_an_empty_reusable_bus)
{
	add(0x1000, 0x100, &devs[0]);
	vmmi_bus_free(&bus);
	cr_assert_eq(bus.n, 0);
	cr_assert_null(vmmi_bus_find(&bus, 0x1000));
	add(0x1000, 0x100, &devs[1]);
}

/* ---- lookups against a linear-scan oracle ---- */

#define NWIN 4096

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
	/* xorshift64: deterministic, so a failure reproduces. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const struct vmmi_window *oracle_find(uint64_t addr)
{
	size_t i;

	for (i = 0; i < bus.n; i++)
		if (addr >= bus.w[i].base && addr - bus.w[i].base < bus.w[i].length)
			return &bus.w[i];
	return NULL;
}

static const struct vmmi_window *oracle_overlap(uint64_t base, uint64_t length)
{
	uint64_t last = base + (length - 1);
	size_t i;

	for (i = 0; i < bus.n; i++)
		if (bus.w[i].base <= last && base <= bus.w[i].base + (bus.w[i].length - 1))
			return &bus.w[i];
	return NULL;
}

/*
 * NWIN windows of random length and gaps (some adjacent), inserted in random
 * order; the last one ends exactly at 2^64 so the top edge is probed too.
 */
static void fill_random(uint64_t *base, uint64_t *length)
{
	size_t i, order[NWIN];
	uint64_t next = 0;

	for (i = 0; i < NWIN; i++) {
		next += rnd() % 3 ? rnd() % 64 : 0;
		base[i] = next;
		length[i] = 1 + rnd() % 64;
		next += length[i];
		order[i] = i;
	}
	/* Move the last window to the top of the space. */
	base[NWIN - 1] = UINT64_MAX - length[NWIN - 1] + 1;

	for (i = NWIN - 1; i > 0; i--) {
		size_t j = rnd() % (i + 1), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < NWIN; i++)
		add(base[order[i]], length[order[i]], &devs[order[i] % 4]);
}

Test(bus, lookups_among_4096_windows_match_a_linear_scan)
{
	uint64_t base[NWIN], length[NWIN];
	size_t i;
	int probe;

	fill_random(base, length);
	cr_assert_eq(bus.n, NWIN);
	for (i = 1; i < bus.n; i++)
		cr_assert_lt(bus.w[i - 1].base + (bus.w[i - 1].length - 1), bus.w[i].base);

	for (probe = 0; probe < 100000; probe++) {
		size_t k = rnd() % NWIN;
		uint64_t addr;

		switch (probe % 4) {
		case 0:
			addr = rnd();
			break;
		case 1:
			addr = base[k] + (rnd() % 5) - 2;
			break;
		case 2:
			addr = base[k] + length[k] + (rnd() % 5) - 2;
			break;
		default:
			addr = base[k] + rnd() % length[k];
			break;
		}
		cr_assert_eq(vmmi_bus_find(&bus, addr), oracle_find(addr), "find 0x%llx",
			     (unsigned long long)addr);
	}
}

Test(bus, overlap_queries_among_4096_windows_match_a_linear_scan)
{
	uint64_t base[NWIN], length[NWIN];
	int probe;

	fill_random(base, length);
	for (probe = 0; probe < 20000; probe++) {
		uint64_t at = base[rnd() % NWIN] + (rnd() % 129) - 64, len = 1 + rnd() % 128;

		/* Keep the probe range from wrapping: the oracle compares last bytes. */
		if (at + (len - 1) < at)
			len = UINT64_MAX - at + 1;
		cr_assert_eq(vmmi_bus_overlap(&bus, at, len), oracle_overlap(at, len),
			     "overlap 0x%llx + 0x%llx", (unsigned long long)at,
			     (unsigned long long)len);
	}
}
