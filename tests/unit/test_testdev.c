/* SPDX-License-Identifier: MIT */
/* test_testdev.c - the testdev plugin, driven through a fake host, against vmm/testdev.h. */

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fake_host.h"
#include "testdev.h"

#define RAM(off) (FAKE_RAM_BASE + (off))

static struct fake_host *fh;

static void setup(void)
{
	fh = fake_host_new("testdev");
	fake_create_ok(fh, VMM_SPACE_MMIO, TESTDEV_WINDOW_MIN);
}

static void teardown(void)
{
	fake_host_free(fh);
	fh = NULL;
}

TestSuite(testdev, .init = setup, .fini = teardown);

/* FNV-1a 64, written out from its definition rather than shared with the device. */
static uint64_t reference_fnv1a64(const uint8_t *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void dma(uint64_t src, uint64_t dst, uint64_t len, uint64_t value, uint32_t cmd)
{
	fake_wr(fh, TESTDEV_REG_DMA_SRC, 8, src);
	fake_wr(fh, TESTDEV_REG_DMA_DST, 8, dst);
	fake_wr(fh, TESTDEV_REG_DMA_LEN, 8, len);
	fake_wr(fh, TESTDEV_REG_DMA_VALUE, 8, value);
	fake_wr(fh, TESTDEV_REG_DMA_CMD, 4, cmd);
}

static void assert_dma_failed(uint32_t error)
{
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_ERROR);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_ERROR, 4), error);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_COUNT, 4), 0);
}

static void fill_ram_pattern(void)
{
	for (size_t i = 0; i < FAKE_RAM_SIZE; i++)
		fh->ram[i] = (uint8_t)(i * 7 + 3);
}

/* ---- descriptor ---- */

Test(testdev, descriptor_declares_name_spaces_widths_and_minimum_window)
{
	cr_assert_eq(fh->desc->abi_version, VMM_PLUGIN_ABI_VERSION);
	cr_assert_geq(fh->desc->size, VMM_PLUGIN_DESC_MIN_SIZE);
	cr_assert_str_eq(fh->desc->name, "testdev");
	cr_assert_eq(fh->desc->spaces, VMM_SPACE_MMIO | VMM_SPACE_PIO);
	cr_assert_eq(fh->desc->access_sizes,
		     VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8);
	cr_assert_eq(fh->desc->min_length, TESTDEV_WINDOW_MIN);
}

/* ---- identification and plain registers ---- */

Test(testdev, id_and_version_read_their_documented_values)
{
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_ID, 4), TESTDEV_ID_VALUE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_VERSION, 4), TESTDEV_VERSION_VALUE);
}

Test(testdev, id_spells_vmmt_one_byte_at_a_time)
{
	char id[5] = {0};

	for (int i = 0; i < 4; i++)
		id[i] = (char)fake_rd(fh, TESTDEV_REG_ID + i, 1);
	cr_assert_str_eq(id, "VMMT");
}

Test(testdev, id_ignores_writes)
{
	fake_wr(fh, TESTDEV_REG_ID, 4, 0x12345678);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_ID, 4), TESTDEV_ID_VALUE);
}

Test(testdev, liveness_reads_all_ones_before_any_write)
{
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LIVENESS, 4), 0xffffffffu);
}

Test(testdev, liveness_reads_the_inverse_of_the_last_value_written)
{
	fake_wr(fh, TESTDEV_REG_LIVENESS, 4, 0x12345678);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LIVENESS, 4), 0xedcba987u);
	fake_wr(fh, TESTDEV_REG_LIVENESS, 4, 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LIVENESS, 4), 0xffffffffu);
}

Test(testdev, liveness_narrow_write_replaces_only_its_bytes)
{
	fake_wr(fh, TESTDEV_REG_LIVENESS, 4, 0x11223344);
	fake_wr(fh, TESTDEV_REG_LIVENESS + 1, 1, 0xff);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LIVENESS, 4), (uint32_t)~0x1122ff44u);
}

static void check_scratch_at_width(uint32_t width)
{
	const uint64_t want = 0x0123456789abcdefull;
	uint64_t mask = width == 8 ? ~0ull : (1ull << (8 * width)) - 1;

	for (uint32_t off = 0; off < 8; off += width)
		fake_wr(fh, TESTDEV_REG_SCRATCH + off, width, (want >> (8 * off)) & mask);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_SCRATCH, 8), want, "width %u", width);
	for (uint32_t off = 0; off < 8; off += width)
		cr_assert_eq(fake_rd(fh, TESTDEV_REG_SCRATCH + off, width),
			     (want >> (8 * off)) & mask, "width %u offset %u", width, off);
}

Test(testdev, scratch_stores_bytes)
{
	check_scratch_at_width(1);
}

Test(testdev, scratch_stores_u16s)
{
	check_scratch_at_width(2);
}

Test(testdev, scratch_stores_u32s)
{
	check_scratch_at_width(4);
}

Test(testdev, scratch_stores_a_u64)
{
	check_scratch_at_width(8);
}

Test(testdev, scratch_narrow_write_keeps_the_other_bytes)
{
	fake_wr(fh, TESTDEV_REG_SCRATCH, 8, 0x1111111111111111ull);
	fake_wr(fh, TESTDEV_REG_SCRATCH + 3, 2, 0xabcd);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_SCRATCH, 8), 0x111111abcd111111ull);
}

Test(testdev, wide_read_across_registers_assembles_little_endian_bytes)
{
	fake_wr(fh, TESTDEV_REG_LIVENESS, 4, 0xffff0000);
	/* VERSION in the low half, LIVENESS (0x0000ffff) in the high half. */
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_VERSION, 8), 0x0000ffff00010001ull);
	/* Unaligned: bytes 2..3 of ID, then VERSION's bytes 0..1. */
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_ID + 2, 4), 0x0001544du);
}

Test(testdev, unused_offsets_read_zero_and_ignore_writes)
{
	static const uint32_t unused[] = {0x0c, 0x24, 0x3c, 0xb8, 0xbc, 0xdc, 0xf4, 0xf8};

	for (size_t i = 0; i < sizeof(unused) / sizeof(unused[0]); i++) {
		fake_wr(fh, unused[i], 4, 0xffffffff);
		cr_assert_eq(fake_rd(fh, unused[i], 4), 0, "offset 0x%x", unused[i]);
	}
}

Test(testdev, offsets_past_the_register_file_read_zero_in_a_larger_window)
{
	fake_host_free(fh);
	fh = fake_host_new("testdev");
	fake_create_ok(fh, VMM_SPACE_PIO, 0x1000);
	fake_wr(fh, 0x100, 8, ~0ull);
	fake_wr(fh, 0xff8, 8, ~0ull);
	cr_assert_eq(fake_rd(fh, 0x100, 8), 0);
	cr_assert_eq(fake_rd(fh, 0xff8, 8), 0);
	/* An access straddling the end of the register file keeps its inside bytes. */
	fake_wr(fh, TESTDEV_REG_DATA + 0x3f, 1, 0x5a);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DATA + 0x3f, 1), 0x5a);
	cr_assert_eq(fake_rd(fh, 0xfc, 8), 0);
}

Test(testdev, write_only_registers_read_zero)
{
	fake_wr(fh, TESTDEV_REG_DMA_CMD, 4, 0x77);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_CMD, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_EXIT, 4), 0);
}

/* ---- the data window and the record of its latest access ---- */

Test(testdev, last_access_is_empty_before_any_data_access)
{
	fake_rd(fh, TESTDEV_REG_SCRATCH, 8);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_WIDTH, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_OFFSET, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_DIR, 4), TESTDEV_DIR_NONE);
}

static void check_last_access(uint32_t width, uint32_t offset, uint32_t dir)
{
	if (dir == TESTDEV_DIR_READ)
		fake_rd(fh, offset, width);
	else
		fake_wr(fh, offset, width, 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_WIDTH, 4), width);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_OFFSET, 4), offset);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_DIR, 4), dir);
}

Test(testdev, last_access_records_a_1_byte_read)
{
	check_last_access(1, TESTDEV_REG_DATA + 0x3f, TESTDEV_DIR_READ);
}

Test(testdev, last_access_records_a_2_byte_write)
{
	check_last_access(2, TESTDEV_REG_DATA + 0x11, TESTDEV_DIR_WRITE);
}

Test(testdev, last_access_records_a_4_byte_read)
{
	check_last_access(4, TESTDEV_REG_DATA + 0x04, TESTDEV_DIR_READ);
}

Test(testdev, last_access_records_an_8_byte_write)
{
	check_last_access(8, TESTDEV_REG_DATA + 0x38, TESTDEV_DIR_WRITE);
}

Test(testdev, last_access_counts_an_access_overlapping_the_data_window_edge)
{
	check_last_access(8, TESTDEV_REG_DATA - 4, TESTDEV_DIR_READ);
}

Test(testdev, last_access_ignores_accesses_outside_the_data_window)
{
	fake_wr(fh, TESTDEV_REG_DATA, 2, 0);
	fake_wr(fh, TESTDEV_REG_SCRATCH, 4, 1);
	fake_rd(fh, TESTDEV_REG_DMA_SRC, 8);
	fake_rd(fh, TESTDEV_REG_DATA - 8, 8);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_WIDTH, 4), 2);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_OFFSET, 4), TESTDEV_REG_DATA);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_DIR, 4), TESTDEV_DIR_WRITE);
}

Test(testdev, data_window_stores_any_width_at_any_offset)
{
	fake_wr(fh, TESTDEV_REG_DATA + 3, 8, 0x8877665544332211ull);
	fake_wr(fh, TESTDEV_REG_DATA + 0x3e, 2, 0xbbaa);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DATA + 3, 8), 0x8877665544332211ull);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DATA + 5, 2), 0x4433);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DATA + 0x3c, 4), 0xbbaa0000u);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DATA, 4), 0x11000000u);
}

/* ---- DMA ---- */

Test(testdev, dma_status_is_idle_before_any_command)
{
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_IDLE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_ERROR, 4), TESTDEV_ERR_NONE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_COUNT, 4), 0);
}

Test(testdev, dma_parameters_read_back)
{
	dma(0x1111222233334444ull, 0x5555666677778888ull, 0x99, 0xabcdef, 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_SRC, 8), 0x1111222233334444ull);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_DST, 8), 0x5555666677778888ull);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_LEN, 8), 0x99);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_VALUE, 8), 0xabcdef);
}

Test(testdev, dma_copy_copies_guest_memory_and_reports_done)
{
	uint8_t before[0x1000];

	fill_ram_pattern();
	memcpy(before, fh->ram + 0x100, sizeof(before));
	dma(RAM(0x100), RAM(0x8000), sizeof(before), 0, TESTDEV_CMD_COPY);
	cr_assert_arr_eq(fh->ram + 0x8000, before, sizeof(before));
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_DONE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_ERROR, 4), TESTDEV_ERR_NONE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_COUNT, 4), 1);
	/* The byte after the destination still holds the pattern. */
	cr_assert_eq(fh->ram[0x8000 + sizeof(before)],
		     (uint8_t)((0x8000 + sizeof(before)) * 7 + 3));
}

Test(testdev, dma_copy_of_overlapping_ranges_moves_like_memmove)
{
	uint8_t want[0x200];

	fill_ram_pattern();
	memcpy(want, fh->ram + 0x1000, sizeof(want));
	dma(RAM(0x1000), RAM(0x1010), sizeof(want), 0, TESTDEV_CMD_COPY);
	cr_assert_arr_eq(fh->ram + 0x1010, want, sizeof(want));

	memcpy(want, fh->ram + 0x3010, sizeof(want));
	dma(RAM(0x3010), RAM(0x3000), sizeof(want), 0, TESTDEV_CMD_COPY);
	cr_assert_arr_eq(fh->ram + 0x3000, want, sizeof(want));
}

Test(testdev, dma_fill_sets_each_byte_to_the_low_byte_of_value)
{
	fill_ram_pattern();
	dma(0, RAM(0x200), 0x300, 0x1234, TESTDEV_CMD_FILL);
	for (size_t i = 0; i < 0x300; i++)
		cr_assert_eq(fh->ram[0x200 + i], 0x34, "byte %zu", i);
	cr_assert_eq(fh->ram[0x1ff], (uint8_t)(0x1ff * 7 + 3));
	cr_assert_eq(fh->ram[0x500], (uint8_t)(0x500 * 7 + 3));
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_DONE);
}

Test(testdev, dma_checksum_is_fnv1a_64_of_the_source_range)
{
	fill_ram_pattern();
	dma(RAM(0x123), 0, 0x4567, 0, TESTDEV_CMD_CHECKSUM);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_DONE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_RESULT, 8),
		     reference_fnv1a64(fh->ram + 0x123, 0x4567));
}

Test(testdev, dma_checksum_of_a_known_string)
{
	/* FNV-1a 64 of "a" is a published test vector. */
	fh->ram[0] = 'a';
	dma(RAM(0), 0, 1, 0, TESTDEV_CMD_CHECKSUM);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_RESULT, 8), 0xaf63dc4c8601ec8cull);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_RESULT + 4, 4), 0xaf63dc4cu);
}

Test(testdev, dma_checksum_of_nothing_is_the_offset_basis)
{
	dma(0xdead0000, 0, 0, 0, TESTDEV_CMD_CHECKSUM);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_DONE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_RESULT, 8), TESTDEV_FNV_OFFSET);
	cr_assert_eq(fh->mem_reads, 0);
}

Test(testdev, dma_count_counts_only_commands_without_error)
{
	dma(RAM(0), RAM(0x10), 0x10, 0, TESTDEV_CMD_COPY);
	dma(RAM(0), RAM(FAKE_RAM_SIZE), 0x10, 0, TESTDEV_CMD_COPY);
	dma(RAM(0), RAM(0x10), 0x10, 0, TESTDEV_CMD_FILL);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_COUNT, 4), 2);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_DONE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_ERROR, 4), TESTDEV_ERR_NONE);
}

Test(testdev, dma_unknown_command_fails_with_bad_cmd)
{
	dma(RAM(0), RAM(0x10), 0x10, 0, 0);
	assert_dma_failed(TESTDEV_ERR_BAD_CMD);
	dma(RAM(0), RAM(0x10), 0x10, 0, 4);
	assert_dma_failed(TESTDEV_ERR_BAD_CMD);
	cr_assert_eq(fh->mem_reads + fh->mem_writes, 0);
}

Test(testdev, dma_copy_to_a_range_partly_outside_ram_fails_and_writes_nothing)
{
	uint8_t before[FAKE_RAM_SIZE];

	fill_ram_pattern();
	memcpy(before, fh->ram, sizeof(before));
	dma(RAM(0), RAM(FAKE_RAM_SIZE - 0x10), 0x20, 0, TESTDEV_CMD_COPY);
	assert_dma_failed(TESTDEV_ERR_RANGE);
	cr_assert_arr_eq(fh->ram, before, sizeof(before));
}

Test(testdev, dma_copy_from_a_range_partly_outside_ram_fails_and_writes_nothing)
{
	uint8_t before[FAKE_RAM_SIZE];

	fill_ram_pattern();
	memcpy(before, fh->ram, sizeof(before));
	dma(FAKE_RAM_BASE - 8, RAM(0x100), 0x20, 0, TESTDEV_CMD_COPY);
	assert_dma_failed(TESTDEV_ERR_RANGE);
	cr_assert_arr_eq(fh->ram, before, sizeof(before));
	cr_assert_eq(fh->mem_writes, 0);
}

Test(testdev, dma_fill_partly_outside_ram_fails_and_writes_nothing)
{
	dma(0, RAM(FAKE_RAM_SIZE - 1), 2, 0xee, TESTDEV_CMD_FILL);
	assert_dma_failed(TESTDEV_ERR_RANGE);
	cr_assert_eq(fh->ram[FAKE_RAM_SIZE - 1], 0);
}

Test(testdev, dma_checksum_partly_outside_ram_fails_and_keeps_the_old_result)
{
	uint64_t good;

	dma(RAM(0), 0, 4, 0, TESTDEV_CMD_CHECKSUM);
	good = fake_rd(fh, TESTDEV_REG_DMA_RESULT, 8);
	dma(RAM(FAKE_RAM_SIZE - 2), 0, 4, 0, TESTDEV_CMD_CHECKSUM);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_ERROR);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_ERROR, 4), TESTDEV_ERR_RANGE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_RESULT, 8), good);
}

Test(testdev, dma_range_wrapping_past_2_to_the_64_fails_without_asking_the_host)
{
	dma(RAM(0), UINT64_MAX - 7, 16, 0, TESTDEV_CMD_COPY);
	assert_dma_failed(TESTDEV_ERR_RANGE);
	dma(UINT64_MAX, 0, 2, 0, TESTDEV_CMD_CHECKSUM);
	assert_dma_failed(TESTDEV_ERR_RANGE);
	dma(0, UINT64_MAX - 0xfff, 0x1001, 0xaa, TESTDEV_CMD_FILL);
	assert_dma_failed(TESTDEV_ERR_RANGE);
	cr_assert_eq(fh->mem_writes, 0);
}

Test(testdev, dma_range_ending_exactly_at_2_to_the_64_is_not_a_wrap)
{
	/* The device lets it through; the host then refuses it because it is not RAM. */
	dma(RAM(0), UINT64_MAX - 15, 16, 0, TESTDEV_CMD_COPY);
	assert_dma_failed(TESTDEV_ERR_RANGE);
	cr_assert_eq(fh->mem_writes, 1);
	cr_assert_eq(fh->mem_refused, 1);
}

Test(testdev, dma_longer_than_the_maximum_fails_with_too_long)
{
	dma(RAM(0), RAM(0x100), (uint64_t)TESTDEV_DMA_MAX + 1, 0, TESTDEV_CMD_COPY);
	assert_dma_failed(TESTDEV_ERR_TOO_LONG);
	dma(RAM(0), RAM(0), UINT64_MAX, 0, TESTDEV_CMD_FILL);
	assert_dma_failed(TESTDEV_ERR_TOO_LONG);
	cr_assert_eq(fh->mem_reads + fh->mem_writes, 0);
	cr_assert_eq(fh->ram[0], 0);
}

Test(testdev, dma_of_exactly_the_maximum_length_is_not_too_long)
{
	/* Larger than the fake RAM, so the host refuses it: the length itself passed. */
	dma(RAM(0), 0, TESTDEV_DMA_MAX, 0, TESTDEV_CMD_CHECKSUM);
	assert_dma_failed(TESTDEV_ERR_RANGE);
	cr_assert_eq(fh->mem_reads, 1);
}

Test(testdev, dma_without_memory_for_the_bounce_buffer_fails_with_no_memory)
{
#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("address-space limits and ASan do not mix");
#else
	struct rlimit rl;
	unsigned long pages;
	FILE *f = fopen("/proc/self/statm", "r");

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%lu", &pages), 1);
	fclose(f);
	/* Leave 4 MiB of address space: the 16 MiB bounce buffer cannot fit. */
	rl.rlim_cur = rl.rlim_max = pages * (unsigned long)sysconf(_SC_PAGESIZE) + (4ul << 20);
	cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
	dma(RAM(0), 0, TESTDEV_DMA_MAX, 0, TESTDEV_CMD_CHECKSUM);
	assert_dma_failed(TESTDEV_ERR_NO_MEMORY);
	cr_assert_eq(fh->mem_reads, 0);
#endif
}

Test(testdev, dma_command_written_as_8_bytes_runs_once)
{
	dma(RAM(0), RAM(0x10), 4, 0, 0);
	fh->ram[0] = 0x42;
	fake_wr(fh, TESTDEV_REG_DMA_CMD, 8, TESTDEV_CMD_COPY);
	cr_assert_eq(fh->ram[0x10], 0x42);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_DONE);
	cr_assert_eq(fh->mem_writes, 1);
}

/* ---- exit ---- */

Test(testdev, exit_register_stops_the_vm_with_code_0)
{
	fake_wr(fh, TESTDEV_REG_EXIT, 4, 0);
	cr_assert_eq(fh->stops, 1);
	cr_assert_eq(fh->stop_code, 0);
}

Test(testdev, exit_register_stops_the_vm_with_code_42)
{
	fake_wr(fh, TESTDEV_REG_EXIT, 4, 42);
	cr_assert_eq(fh->stops, 1);
	cr_assert_eq(fh->stop_code, 42);
}

Test(testdev, exit_register_accepts_a_1_byte_write)
{
	fake_wr(fh, TESTDEV_REG_EXIT, 1, 7);
	cr_assert_eq(fh->stops, 1);
	cr_assert_eq(fh->stop_code, 7);
}

Test(testdev, exit_code_is_the_low_32_bits_of_an_8_byte_write)
{
	fake_wr(fh, TESTDEV_REG_EXIT, 8, 0xffffffff00000003ull);
	cr_assert_eq(fh->stops, 1);
	cr_assert_eq(fh->stop_code, 3);
}

Test(testdev, other_registers_never_stop_the_vm)
{
	for (uint32_t off = 0; off < TESTDEV_WINDOW_MIN; off += 4)
		if (off != TESTDEV_REG_EXIT)
			fake_wr(fh, off, 4, 0);
	cr_assert_eq(fh->stops, 0);
}

/* ---- reset ---- */

Test(testdev, reset_returns_every_register_to_power_on_state)
{
	fake_wr(fh, TESTDEV_REG_LIVENESS, 4, 5);
	fake_wr(fh, TESTDEV_REG_SCRATCH, 8, 0x1234);
	fake_wr(fh, TESTDEV_REG_DATA + 8, 8, ~0ull);
	dma(RAM(0), 0, 8, 0, TESTDEV_CMD_CHECKSUM);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_COUNT, 4), 1);

	fh->desc->reset(fh->state);

	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LIVENESS, 4), 0xffffffffu);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_SCRATCH, 8), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_SRC, 8), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_LEN, 8), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_IDLE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_RESULT, 8), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_COUNT, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_WIDTH, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_LAST_DIR, 4), TESTDEV_DIR_NONE);
	/* Reading DATA records an access, so read it last. */
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DATA + 8, 8), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_ID, 4), TESTDEV_ID_VALUE);
}

Test(testdev, create_asks_for_no_parameters)
{
	fake_host_free(fh);
	fh = fake_host_new("testdev");
	fake_set_param(fh, "output", "stdout");
	fake_create_ok(fh, VMM_SPACE_MMIO, TESTDEV_WINDOW_MIN);
	cr_assert_not(fake_param_asked(fh, "output"));
}

/* ---- interrupts: a host whose lines and MSIs are recorded ---- */

#define MSI_ADDR_CPU0 0xfee00000ull

/*
 * What the host saw of the device's interrupts. Criterion runs each test in
 * its own process, so one static record serves every test.
 */
static struct {
	int level;	   /* line 0, as last set */
	unsigned sets;	   /* irq_set() calls */
	unsigned rises;	   /* of those, low -> high */
	unsigned pulses;   /* irq_pulse() calls: the testdev is a level device */
	unsigned bad_line; /* calls naming a line other than 0 */
	unsigned msis;	   /* msi_send() calls, accepted or not */
	uint64_t msi_addr; /* of the latest */
	uint32_t msi_data;
	int msi_ret; /* what msi_send() answers */
} hw;

static int rec_irq_set(struct vmm_host *ctx, uint32_t line, int level)
{
	if (line >= fake_of(ctx)->info.nirqs) {
		hw.bad_line++;
		return -ENOENT;
	}
	hw.sets++;
	if (level && !hw.level)
		hw.rises++;
	hw.level = level != 0;
	return 0;
}

static int rec_irq_pulse(struct vmm_host *ctx, uint32_t line)
{
	(void)ctx;
	(void)line;
	hw.pulses++;
	return 0;
}

static int rec_msi_send(struct vmm_host *ctx, uint64_t addr, uint32_t data)
{
	(void)ctx;
	hw.msis++;
	hw.msi_addr = addr;
	hw.msi_data = data;
	return hw.msi_ret;
}

static const uint32_t one_pin[] = {10};
static const uint32_t two_pins[] = {10, 11};

/* Create the instance with this device info: lines, and the size a host of some minor passes. */
static int create_with_info(const uint32_t *pins, uint32_t nirqs, uint32_t info_size)
{
	fh->info = (struct vmm_device_info){
	    .size = info_size,
	    .space = VMM_SPACE_MMIO,
	    .name = "dev0",
	    .base = 0xfe000000,
	    .length = TESTDEV_WINDOW_MIN,
	    .irqs = pins,
	    .nirqs = nirqs,
	};
	fh->state = NULL;
	return fh->desc->create(&fh->svc, fake_ctx(fh), &fh->info, &fh->state);
}

/* A testdev whose config gave it nirqs lines, on a host of ABI 1.1 that records them. */
static void irq_device(const uint32_t *pins, uint32_t nirqs)
{
	fake_host_free(fh);
	memset(&hw, 0, sizeof(hw));
	fh = fake_host_new("testdev");
	fh->svc.irq_set = rec_irq_set;
	fh->svc.irq_pulse = rec_irq_pulse;
	fh->svc.msi_send = rec_msi_send;
	cr_assert_eq(create_with_info(pins, nirqs, sizeof(fh->info)), 0);
}

static void irq_setup(void)
{
	irq_device(one_pin, 1);
}

TestSuite(testdev_irq, .init = irq_setup, .fini = teardown);

static uint32_t status(void)
{
	return (uint32_t)fake_rd(fh, TESTDEV_REG_IRQ_STATUS, 4);
}

static void ctrl(uint32_t v)
{
	fake_wr(fh, TESTDEV_REG_IRQ_CTRL, 4, v);
}

static void raise_bits(uint32_t v)
{
	fake_wr(fh, TESTDEV_REG_IRQ_RAISE, 4, v);
}

static void ack_bits(uint32_t v)
{
	fake_wr(fh, TESTDEV_REG_IRQ_ACK, 4, v);
}

/* MSI mode, sending vector to vCPU 0. */
static void msi_mode(uint32_t vector)
{
	fake_wr(fh, TESTDEV_REG_MSI_ADDR, 8, MSI_ADDR_CPU0);
	fake_wr(fh, TESTDEV_REG_MSI_DATA, 4, vector);
	ctrl(TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_MSI | TESTDEV_IRQ_CTRL_DMA_DONE);
}

static uint64_t host_now_ns(void)
{
	struct timespec ts;

	cr_assert_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* -- registers -- */

Test(testdev_irq, version_says_1_1)
{
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_VERSION, 4), 0x00010001u);
}

Test(testdev_irq, interrupt_registers_read_zero_at_power_on)
{
	static const uint32_t regs[] = {TESTDEV_REG_IRQ_STATUS, TESTDEV_REG_IRQ_CTRL,
					TESTDEV_REG_MSI_DATA,	TESTDEV_REG_IRQ_ERROR,
					TESTDEV_REG_MSI_COUNT,	TESTDEV_REG_IRQ_RAISE,
					TESTDEV_REG_IRQ_ACK};

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		cr_assert_eq(fake_rd(fh, regs[i], 4), 0, "offset 0x%x", regs[i]);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_ADDR, 8), 0);
}

Test(testdev_irq, raise_sets_the_bits_written_and_keeps_the_others)
{
	raise_bits(0x5);
	cr_assert_eq(status(), 0x5);
	raise_bits(0x2);
	cr_assert_eq(status(), 0x7);
}

Test(testdev_irq, ack_clears_only_the_bits_written)
{
	raise_bits(0xf0f0);
	ack_bits(0x00f0);
	cr_assert_eq(status(), 0xf000);
	ack_bits(0xffffffff);
	cr_assert_eq(status(), 0);
}

Test(testdev_irq, raise_and_ack_read_zero_and_status_ignores_writes)
{
	raise_bits(0x3);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_RAISE, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ACK, 4), 0);
	fake_wr(fh, TESTDEV_REG_IRQ_STATUS, 4, 0);
	cr_assert_eq(status(), 0x3);
}

Test(testdev_irq, a_1_byte_raise_at_offset_1_sets_bit_8)
{
	fake_wr(fh, TESTDEV_REG_IRQ_RAISE + 1, 1, 0x01);
	cr_assert_eq(status(), 0x100);
}

Test(testdev_irq, one_8_byte_write_raises_then_acks)
{
	/* RAISE 0x3 in the low half, ACK 0x1 in the high half. */
	fake_wr(fh, TESTDEV_REG_IRQ_RAISE, 8, 0x0000000100000003ull);
	cr_assert_eq(status(), 0x2);
}

Test(testdev_irq, ctrl_keeps_only_its_defined_bits)
{
	ctrl(0xffffffff);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_CTRL, 4), TESTDEV_IRQ_CTRL_MASK);
	fake_wr(fh, TESTDEV_REG_IRQ_CTRL, 1, TESTDEV_IRQ_CTRL_MSI);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_CTRL, 4), TESTDEV_IRQ_CTRL_MSI);
}

Test(testdev_irq, msi_address_and_data_read_back)
{
	fake_wr(fh, TESTDEV_REG_MSI_ADDR, 8, 0xfee01000ull);
	fake_wr(fh, TESTDEV_REG_MSI_DATA, 4, 0x4041);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_ADDR, 8), 0xfee01000ull);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_DATA, 4), 0x4041);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_DATA + 4, 4), 0, "MSI_DATA is a u32");
}

Test(testdev_irq, clock_ns_is_the_hosts_monotonic_clock)
{
	uint64_t before = host_now_ns();
	uint64_t a = fake_rd(fh, TESTDEV_REG_CLOCK_NS, 8);
	uint64_t b = fake_rd(fh, TESTDEV_REG_CLOCK_NS, 8);
	uint64_t after = host_now_ns();

	cr_assert(before <= a && a <= b && b <= after, "%llu <= %llu <= %llu <= %llu",
		  (unsigned long long)before, (unsigned long long)a, (unsigned long long)b,
		  (unsigned long long)after);
}

Test(testdev_irq, clock_ns_ignores_writes)
{
	uint64_t before = host_now_ns();

	fake_wr(fh, TESTDEV_REG_CLOCK_NS, 8, 0);
	cr_assert_geq(fake_rd(fh, TESTDEV_REG_CLOCK_NS, 8), before);
}

/* -- the line -- */

Test(testdev_irq, line_stays_low_while_interrupts_are_disabled)
{
	raise_bits(0x1);
	ctrl(TESTDEV_IRQ_CTRL_DMA_DONE);
	cr_assert_eq(hw.sets, 0);
	cr_assert_eq(hw.level, 0);
}

Test(testdev_irq, line_goes_high_on_a_raise_and_low_when_the_last_bit_is_acked)
{
	ctrl(TESTDEV_IRQ_CTRL_ENABLE);
	cr_assert_eq(hw.sets, 0, "nothing pending: the line is not touched");
	raise_bits(0x3);
	cr_assert_eq(hw.level, 1);
	ack_bits(0x1);
	cr_assert_eq(hw.level, 1, "bit 1 still pending");
	ack_bits(0x2);
	cr_assert_eq(hw.level, 0);
	cr_assert_eq(hw.bad_line, 0);
	cr_assert_eq(hw.pulses, 0);
}

Test(testdev_irq, line_is_set_only_when_its_level_changes)
{
	ctrl(TESTDEV_IRQ_CTRL_ENABLE);
	raise_bits(0x1);
	raise_bits(0x2);
	raise_bits(0x1);
	ack_bits(0x1);
	cr_assert_eq(hw.rises, 1);
	cr_assert_eq(hw.sets, 1);
}

Test(testdev_irq, enabling_with_bits_pending_raises_the_line_and_disabling_lowers_it)
{
	raise_bits(0x4);
	ctrl(TESTDEV_IRQ_CTRL_ENABLE);
	cr_assert_eq(hw.level, 1);
	ctrl(0);
	cr_assert_eq(hw.level, 0);
	cr_assert_eq(status(), 0x4, "disabling keeps STATUS");
}

Test(testdev_irq, msi_mode_keeps_the_line_low)
{
	ctrl(TESTDEV_IRQ_CTRL_ENABLE);
	raise_bits(0x1);
	cr_assert_eq(hw.level, 1);
	msi_mode(0x41);
	cr_assert_eq(hw.level, 0);
	raise_bits(0x2);
	cr_assert_eq(hw.level, 0);
	cr_assert_eq(hw.rises, 1);
}

Test(testdev_irq, a_dma_command_that_ends_sets_dma_done_and_raises_the_line)
{
	ctrl(TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_DMA_DONE);
	dma(RAM(0), RAM(0x100), 16, 0, TESTDEV_CMD_COPY);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_DONE);
	cr_assert_eq(status(), TESTDEV_IRQ_DMA_DONE);
	cr_assert_eq(hw.level, 1);
	ack_bits(TESTDEV_IRQ_DMA_DONE);
	cr_assert_eq(hw.level, 0);
}

Test(testdev_irq, a_failed_dma_command_sets_dma_done_too)
{
	ctrl(TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_DMA_DONE);
	dma(0, 0, 16, 0, 99);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_DMA_STATUS, 4), TESTDEV_STATUS_ERROR);
	cr_assert_eq(status(), TESTDEV_IRQ_DMA_DONE);
	cr_assert_eq(hw.level, 1);
}

Test(testdev_irq, dma_sets_no_bit_unless_ctrl_asks_for_it)
{
	ctrl(TESTDEV_IRQ_CTRL_ENABLE);
	dma(RAM(0), RAM(0x100), 16, 0, TESTDEV_CMD_COPY);
	cr_assert_eq(status(), 0);
	cr_assert_eq(hw.sets, 0);
}

Test(testdev_irq, only_line_0_is_used_when_the_config_names_two)
{
	irq_device(two_pins, 2);
	ctrl(TESTDEV_IRQ_CTRL_ENABLE);
	raise_bits(0x1);
	cr_assert_eq(hw.level, 1);
	cr_assert_eq(hw.sets, 1);
	cr_assert_eq(hw.bad_line, 0);
}

Test(testdev_irq, a_device_without_a_line_keeps_status_and_raises_nothing)
{
	irq_device(NULL, 0);
	ctrl(TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_DMA_DONE);
	raise_bits(0x1);
	dma(RAM(0), RAM(0x100), 16, 0, TESTDEV_CMD_COPY);
	cr_assert_eq(status(), 0x1 | TESTDEV_IRQ_DMA_DONE);
	cr_assert_eq(hw.sets + hw.bad_line + hw.pulses + hw.msis, 0);
}

/* -- MSIs -- */

Test(testdev_irq, a_raise_of_a_new_bit_sends_msi_addr_and_data)
{
	msi_mode(0x41);
	raise_bits(0x1);
	cr_assert_eq(hw.msis, 1);
	cr_assert_eq(hw.msi_addr, MSI_ADDR_CPU0);
	cr_assert_eq(hw.msi_data, 0x41);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_COUNT, 4), 1);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ERROR, 4), TESTDEV_IRQ_ERR_NONE);
}

Test(testdev_irq, a_raise_of_bits_already_pending_sends_nothing)
{
	msi_mode(0x41);
	raise_bits(0x1);
	raise_bits(0x1);
	raise_bits(0);
	cr_assert_eq(hw.msis, 1);
	raise_bits(0x3); /* bit 1 is new */
	cr_assert_eq(hw.msis, 2);
	ack_bits(0x3);
	raise_bits(0x1);
	cr_assert_eq(hw.msis, 3);
}

Test(testdev_irq, each_dma_command_that_ends_sends_one_msi)
{
	msi_mode(0x42);
	dma(RAM(0), RAM(0x100), 16, 0, TESTDEV_CMD_COPY);
	cr_assert_eq(hw.msis, 1);
	cr_assert_eq(hw.msi_data, 0x42);
	/* DMA_DONE still pending: a command is an event of its own. */
	dma(RAM(0), 0, 16, 0, TESTDEV_CMD_CHECKSUM);
	cr_assert_eq(hw.msis, 2);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_COUNT, 4), 2);
}

Test(testdev_irq, msi_mode_without_enable_sends_nothing)
{
	msi_mode(0x41);
	ctrl(TESTDEV_IRQ_CTRL_MSI | TESTDEV_IRQ_CTRL_DMA_DONE);
	raise_bits(0x1);
	dma(RAM(0), RAM(0x100), 16, 0, TESTDEV_CMD_COPY);
	cr_assert_eq(hw.msis, 0);
	cr_assert_eq(status(), 0x1 | TESTDEV_IRQ_DMA_DONE);
}

Test(testdev_irq, turning_msi_mode_on_sends_nothing_for_bits_already_pending)
{
	raise_bits(0x1);
	msi_mode(0x41);
	cr_assert_eq(hw.msis, 0);
}

Test(testdev_irq, a_refused_msi_sets_irq_error_and_is_not_counted)
{
	msi_mode(0x05); /* a vector below 16: the real host refuses it */
	hw.msi_ret = -EINVAL;
	raise_bits(0x1);
	cr_assert_eq(hw.msis, 1);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ERROR, 4), TESTDEV_IRQ_ERR_REFUSED);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_COUNT, 4), 0);
	cr_assert_eq(status(), 0x1, "the bit is pending all the same");

	/* The latest message decides: a good one clears the error. */
	hw.msi_ret = 0;
	fake_wr(fh, TESTDEV_REG_MSI_DATA, 4, 0x41);
	raise_bits(0x2);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ERROR, 4), TESTDEV_IRQ_ERR_NONE);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_COUNT, 4), 1);
}

Test(testdev_irq, a_host_that_cannot_deliver_msis_reads_as_no_msi)
{
	msi_mode(0x41);
	hw.msi_ret = -ENOSYS;
	raise_bits(0x1);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ERROR, 4), TESTDEV_IRQ_ERR_NO_MSI);
}

Test(testdev_irq, another_host_error_reads_as_host)
{
	msi_mode(0x41);
	hw.msi_ret = -EIO;
	raise_bits(0x1);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ERROR, 4), TESTDEV_IRQ_ERR_HOST);
}

/* -- reset, and a host of ABI 1.0 -- */

Test(testdev_irq, reset_clears_the_interrupt_registers_and_lowers_the_line)
{
	ctrl(TESTDEV_IRQ_CTRL_ENABLE);
	raise_bits(0x1);
	fake_wr(fh, TESTDEV_REG_MSI_ADDR, 8, MSI_ADDR_CPU0);
	fake_wr(fh, TESTDEV_REG_MSI_DATA, 4, 0x41);
	cr_assert_eq(hw.level, 1);

	fh->desc->reset(fh->state);

	cr_assert_eq(hw.level, 0);
	cr_assert_eq(status(), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_CTRL, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_ADDR, 8), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_DATA, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ERROR, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_COUNT, 4), 0);
}

Test(testdev_irq, reset_clears_msi_error_and_count)
{
	msi_mode(0x41);
	raise_bits(0x1);
	hw.msi_ret = -EINVAL;
	raise_bits(0x2);
	fh->desc->reset(fh->state);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ERROR, 4), 0);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_MSI_COUNT, 4), 0);
}

static int forbidden_irq_set(struct vmm_host *ctx, uint32_t line, int level)
{
	cr_assert_fail("irq_set called past the 1.0 table's size");
	return 0;
}

static int forbidden_msi_send(struct vmm_host *ctx, uint64_t addr, uint32_t data)
{
	cr_assert_fail("msi_send called past the 1.0 table's size");
	return 0;
}

Test(testdev_irq, on_a_1_0_host_registers_work_and_nothing_is_sent)
{
	fake_host_free(fh);
	fh = fake_host_new("testdev");
	/* A 1.0 table ends at param_error; what lies beyond must not be called. */
	fh->svc.size = offsetof(struct vmm_host_services, irq_set);
	fh->svc.abi_version = VMM_PLUGIN_ABI(1, 0);
	fh->svc.irq_set = forbidden_irq_set;
	fh->svc.msi_send = forbidden_msi_send;
	cr_assert_eq(create_with_info(one_pin, 1, sizeof(fh->info)), 0);

	ctrl(TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_DMA_DONE);
	raise_bits(0x1);
	cr_assert_eq(status(), 0x1);
	msi_mode(0x41);
	raise_bits(0x2);
	cr_assert_eq(fake_rd(fh, TESTDEV_REG_IRQ_ERROR, 4), TESTDEV_IRQ_ERR_NO_MSI);
	fh->desc->reset(fh->state);
	cr_assert_eq(status(), 0);
}

Test(testdev_irq, a_1_0_device_info_without_lines_is_accepted)
{
	fake_host_free(fh);
	memset(&hw, 0, sizeof(hw));
	fh = fake_host_new("testdev");
	fh->svc.irq_set = rec_irq_set;
	fh->svc.msi_send = rec_msi_send;
	/* A 1.0 host's struct ends at length: nirqs past it must not be read. */
	cr_assert_eq(create_with_info(one_pin, 1, offsetof(struct vmm_device_info, irqs)), 0);
	ctrl(TESTDEV_IRQ_CTRL_ENABLE);
	raise_bits(0x1);
	cr_assert_eq(hw.sets, 0, "nirqs past info.size was read");
}

Test(testdev_irq, a_host_table_smaller_than_1_0_is_refused)
{
	void *state = NULL;

	fh->svc.size = offsetof(struct vmm_host_services, param_error);
	cr_assert_eq(fh->desc->create(&fh->svc, fake_ctx(fh), &fh->info, &state), -EPROTO);
}
