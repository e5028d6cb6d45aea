/* SPDX-License-Identifier: MIT */
/* testdev_checks.c - exercise the testdev: registers, access widths, DMA, unclaimed GPAs. */
#include "fw.h"
#include "testdev.h"

#define DMA_BUF_SIZE 4096u

/*
 * DMA buffers. The map is an identity map, so a buffer's address is its GPA;
 * .bss is part of the firmware image, which the VMM loaded into RAM.
 */
static uint8_t dma_a[DMA_BUF_SIZE] __attribute__((aligned(4096)));
static uint8_t dma_b[DMA_BUF_SIZE] __attribute__((aligned(4096)));

static uint64_t td; /* the testdev window's base GPA */

static uint32_t rd32(uint32_t reg)
{
	return vmm_guest_mmio_read32(td + reg);
}

static uint64_t rd64(uint32_t reg)
{
	return vmm_guest_mmio_read64(td + reg);
}

static void wr32(uint32_t reg, uint32_t v)
{
	vmm_guest_mmio_write32(td + reg, v);
}

static void wr64(uint32_t reg, uint64_t v)
{
	vmm_guest_mmio_write64(td + reg, v);
}

/* One access of the given width; a width outside 1/2/4/8 is a bug here, not in the VMM. */
static uint64_t rd_width(uint32_t reg, uint32_t width)
{
	switch (width) {
	case 1:
		return vmm_guest_mmio_read8(td + reg);
	case 2:
		return vmm_guest_mmio_read16(td + reg);
	case 4:
		return vmm_guest_mmio_read32(td + reg);
	default:
		return vmm_guest_mmio_read64(td + reg);
	}
}

static void wr_width(uint32_t reg, uint32_t width, uint64_t v)
{
	switch (width) {
	case 1:
		vmm_guest_mmio_write8(td + reg, (uint8_t)v);
		break;
	case 2:
		vmm_guest_mmio_write16(td + reg, (uint16_t)v);
		break;
	case 4:
		vmm_guest_mmio_write32(td + reg, (uint32_t)v);
		break;
	default:
		vmm_guest_mmio_write64(td + reg, v);
		break;
	}
}

static uint64_t gpa_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void check_registers(void)
{
	check(rd32(TESTDEV_REG_ID), TESTDEV_ID_VALUE, "testdev ID register");
	check(rd32(TESTDEV_REG_VERSION), TESTDEV_VERSION_VALUE, "testdev VERSION register");
	check(rd32(0x30), 0, "testdev unused offset reads 0");

	wr32(TESTDEV_REG_LIVENESS, 0x12345678);
	check(rd32(TESTDEV_REG_LIVENESS), 0xedcba987, "liveness reads the inverse of 0x12345678");
	wr32(TESTDEV_REG_LIVENESS, 0xa5a50ff0);
	check(rd32(TESTDEV_REG_LIVENESS), 0x5a5af00f, "liveness reads the inverse of 0xa5a50ff0");

	wr64(TESTDEV_REG_SCRATCH, 0x0123456789abcdefull);
	check(rd64(TESTDEV_REG_SCRATCH), 0x0123456789abcdefull,
	      "scratch 8-byte write, 8-byte read");

	/* Narrow writes must land on their own bytes, little endian. */
	vmm_guest_mmio_write8(td + TESTDEV_REG_SCRATCH + 0, 0x11);
	vmm_guest_mmio_write8(td + TESTDEV_REG_SCRATCH + 1, 0x22);
	vmm_guest_mmio_write16(td + TESTDEV_REG_SCRATCH + 2, 0x4433);
	vmm_guest_mmio_write32(td + TESTDEV_REG_SCRATCH + 4, 0x88776655);
	check(rd64(TESTDEV_REG_SCRATCH), 0x8877665544332211ull,
	      "scratch 1, 1, 2 and 4-byte writes assemble into the u64");
	check(vmm_guest_mmio_read8(td + TESTDEV_REG_SCRATCH + 5), 0x66,
	      "scratch 1-byte read at offset 5");
	check(vmm_guest_mmio_read16(td + TESTDEV_REG_SCRATCH + 6), 0x8877,
	      "scratch 2-byte read at offset 6");
	check(vmm_guest_mmio_read32(td + TESTDEV_REG_SCRATCH), 0x44332211,
	      "scratch 4-byte read at offset 0");
}

/*
 * Each width gets its own offset, so a stale LAST_OFFSET or LAST_WIDTH from
 * the previous access cannot pass for the right one.
 */
static void check_data_window(void)
{
	static const struct {
		uint32_t width, reg;
		uint64_t value;
	} acc[] = {
	    {1, TESTDEV_REG_DATA + 0x03, 0xa5},
	    {2, TESTDEV_REG_DATA + 0x06, 0xbeef},
	    {4, TESTDEV_REG_DATA + 0x08, 0xdeadbeef},
	    {8, TESTDEV_REG_DATA + 0x10, 0x0123456789abcdefull},
	};

	/* Known contents around the narrow accesses, for the assembly check below. */
	wr64(TESTDEV_REG_DATA + 0x00, 0);
	wr64(TESTDEV_REG_DATA + 0x08, 0);

	for (unsigned i = 0; i < sizeof(acc) / sizeof(acc[0]); i++) {
		uint32_t w = acc[i].width, reg = acc[i].reg;

		wr_width(reg, w, acc[i].value);
		check(rd32(TESTDEV_REG_LAST_WIDTH), w, "DATA %u-byte write: LAST_WIDTH", w);
		check(rd32(TESTDEV_REG_LAST_OFFSET), reg, "DATA %u-byte write: LAST_OFFSET", w);
		check(rd32(TESTDEV_REG_LAST_DIR), TESTDEV_DIR_WRITE, "DATA %u-byte write: LAST_DIR",
		      w);

		check(rd_width(reg, w), acc[i].value, "DATA %u-byte read returns the value written",
		      w);
		check(rd32(TESTDEV_REG_LAST_WIDTH), w, "DATA %u-byte read: LAST_WIDTH", w);
		check(rd32(TESTDEV_REG_LAST_OFFSET), reg, "DATA %u-byte read: LAST_OFFSET", w);
		check(rd32(TESTDEV_REG_LAST_DIR), TESTDEV_DIR_READ, "DATA %u-byte read: LAST_DIR",
		      w);
	}
	check(rd64(TESTDEV_REG_DATA + 0x00), 0xbeef0000a5000000ull,
	      "DATA 1 and 2-byte writes read back little endian through an 8-byte read");
	check(rd64(TESTDEV_REG_DATA + 0x08), 0xdeadbeefull,
	      "DATA 4-byte write reads back through an 8-byte read");
}

/* Program the DMA engine and run one command; it completes before the write returns. */
static void dma_run(uint32_t cmd, uint64_t src, uint64_t dst, uint64_t len, uint64_t value)
{
	wr64(TESTDEV_REG_DMA_SRC, src);
	wr64(TESTDEV_REG_DMA_DST, dst);
	wr64(TESTDEV_REG_DMA_LEN, len);
	wr64(TESTDEV_REG_DMA_VALUE, value);
	wr32(TESTDEV_REG_DMA_CMD, cmd);
}

/* STATUS and ERROR as one number for a report line: ERROR << 32 | STATUS. */
static uint64_t dma_outcome(void)
{
	return (uint64_t)rd32(TESTDEV_REG_DMA_ERROR) << 32 | rd32(TESTDEV_REG_DMA_STATUS);
}

#define DMA_DONE	((uint64_t)TESTDEV_ERR_NONE << 32 | TESTDEV_STATUS_DONE)
#define DMA_FAILED(err) ((uint64_t)(err) << 32 | TESTDEV_STATUS_ERROR)

/* Index of the first byte where a and b differ, or n. */
static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;

	if (!memcmp(a, b, n))
		return n;
	while (a[i] == b[i])
		i++;
	return i;
}

/* Compare a buffer with what it should hold; on a mismatch show the first wrong byte. */
static void check_bytes(const uint8_t *got, const uint8_t *want, size_t n, const char *what)
{
	size_t i = first_diff(got, want, n);

	if (i == n)
		report(1, 0, 0, "%s", what);
	else
		report(0, got[i], want[i], "%s", what);
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = TESTDEV_FNV_OFFSET;

	while (n--) {
		h ^= *p++;
		h *= TESTDEV_FNV_PRIME;
	}
	return h;
}

static void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* Commands that must succeed, with the guest checking the bytes afterwards. */
static void check_dma_ok(void)
{
	uint32_t count = rd32(TESTDEV_REG_DMA_COUNT);

	/* Fill: only bits 0-7 of VALUE count, and only [16, 16 + 4000) may change. */
	memset(dma_a, 0xee, DMA_BUF_SIZE);
	memset(dma_b, 0xee, DMA_BUF_SIZE);
	memset(dma_b + 16, 0x5a, 4000);
	dma_run(TESTDEV_CMD_FILL, 0, gpa_of(dma_a) + 16, 4000, 0x1234565a);
	check(dma_outcome(), DMA_DONE, "DMA fill completes (STATUS_DONE, ERR_NONE)");
	check_bytes(dma_a, dma_b, DMA_BUF_SIZE,
		    "DMA fill wrote the low byte of VALUE over exactly LEN bytes");
	check(rd32(TESTDEV_REG_DMA_COUNT), count + 1,
	      "DMA_COUNT increments on a successful command");

	fill_pattern(dma_a, DMA_BUF_SIZE, 7);
	memset(dma_b, 0, DMA_BUF_SIZE);
	dma_run(TESTDEV_CMD_COPY, gpa_of(dma_a), gpa_of(dma_b), DMA_BUF_SIZE, 0);
	check(dma_outcome(), DMA_DONE, "DMA copy completes (STATUS_DONE, ERR_NONE)");
	check_bytes(dma_b, dma_a, DMA_BUF_SIZE, "DMA copy: destination equals source");

	/* Overlapping copy, destination above source: must behave like memmove. */
	fill_pattern(dma_b, DMA_BUF_SIZE, 3);
	memcpy(dma_a, dma_b, DMA_BUF_SIZE);
	memmove(dma_a + 5, dma_a, 200);
	dma_run(TESTDEV_CMD_COPY, gpa_of(dma_b), gpa_of(dma_b) + 5, 200, 0);
	check(dma_outcome(), DMA_DONE, "DMA overlapping copy completes (STATUS_DONE, ERR_NONE)");
	check_bytes(dma_b, dma_a, DMA_BUF_SIZE, "DMA overlapping copy has memmove semantics");

	/* An odd length, so a device that sums words instead of bytes shows. */
	fill_pattern(dma_a, DMA_BUF_SIZE, 11);
	dma_run(TESTDEV_CMD_CHECKSUM, gpa_of(dma_a), 0, DMA_BUF_SIZE - 3, 0);
	check(dma_outcome(), DMA_DONE, "DMA checksum completes (STATUS_DONE, ERR_NONE)");
	check(rd64(TESTDEV_REG_DMA_RESULT), fnv1a64(dma_a, DMA_BUF_SIZE - 3),
	      "DMA checksum equals the guest's FNV-1a 64");
}

/* Source for the too-long command: where LEN bytes are RAM if any range is big enough. */
static uint64_t too_long_src(const struct vmm_guest_boot_info *bi)
{
	for (uint32_t i = 0; i < vmm_guest_ram_count(bi); i++)
		if (bi->ram[i].size > TESTDEV_DMA_MAX)
			return bi->ram[i].gpa;
	return gpa_of(dma_a);
}

/* Commands that must be refused as a whole; none may count or touch memory. */
static void check_dma_errors(const struct vmm_guest_boot_info *bi)
{
	uint64_t ram_end = vmm_guest_ram_end(bi);
	uint32_t count = rd32(TESTDEV_REG_DMA_COUNT);
	uint64_t scratch = rd64(TESTDEV_REG_SCRATCH);

	dma_run(0x7f, gpa_of(dma_a), gpa_of(dma_b), 16, 0);
	check(dma_outcome(), DMA_FAILED(TESTDEV_ERR_BAD_CMD),
	      "DMA unknown command fails with ERR_BAD_CMD");

	if (ram_end <= UINT64_MAX - 64) {
		dma_run(TESTDEV_CMD_FILL, 0, ram_end, 16, 0);
		check(dma_outcome(), DMA_FAILED(TESTDEV_ERR_RANGE),
		      "DMA fill past the end of RAM fails with ERR_RANGE");

		memset(dma_b, 0xc3, DMA_BUF_SIZE);
		memset(dma_a, 0xc3, DMA_BUF_SIZE);
		dma_run(TESTDEV_CMD_COPY, ram_end, gpa_of(dma_b), 16, 0);
		check(dma_outcome(), DMA_FAILED(TESTDEV_ERR_RANGE),
		      "DMA copy from past the end of RAM fails with ERR_RANGE");

		dma_run(TESTDEV_CMD_COPY, ram_end - 16, gpa_of(dma_b), 32, 0);
		check(dma_outcome(), DMA_FAILED(TESTDEV_ERR_RANGE),
		      "DMA copy straddling the end of RAM fails with ERR_RANGE");
		check_bytes(dma_b, dma_a, DMA_BUF_SIZE, "refused DMA copies wrote nothing");
	} else {
		skip("RAM reaches the top of the address space", "DMA past the end of RAM");
	}

	dma_run(TESTDEV_CMD_FILL, 0, td + TESTDEV_REG_SCRATCH, 8, 0x77);
	check(dma_outcome(), DMA_FAILED(TESTDEV_ERR_RANGE),
	      "DMA fill into the testdev window fails with ERR_RANGE");
	check(rd64(TESTDEV_REG_SCRATCH), scratch,
	      "DMA into the testdev window left the registers alone");

	dma_run(TESTDEV_CMD_CHECKSUM, too_long_src(bi), 0, (uint64_t)TESTDEV_DMA_MAX + 1, 0);
	check(dma_outcome(), DMA_FAILED(TESTDEV_ERR_TOO_LONG),
	      "DMA longer than TESTDEV_DMA_MAX fails with ERR_TOO_LONG");

	check(rd32(TESTDEV_REG_DMA_COUNT), count, "DMA_COUNT does not count failed commands");
}

/*
 * Accesses to a GPA that no RAM range and no device claims: reads see
 * all-ones, writes vanish, and the guest keeps running either way.
 */
static void check_unclaimed(const struct vmm_guest_boot_info *bi)
{
	uint64_t gpa;

	if (!bootinfo_find_unclaimed(bi, &gpa)) {
		skip("no unclaimed page below identity_limit", "unclaimed accesses");
		return;
	}
	check(vmm_guest_mmio_read32(gpa), 0xffffffffu, "unclaimed 4-byte read returns all-ones");
	check(vmm_guest_mmio_read64(gpa + 8), ~0ull, "unclaimed 8-byte read returns all-ones");
	vmm_guest_mmio_write32(gpa, 0x12345678);
	vmm_guest_mmio_write64(gpa + 8, 0x0123456789abcdefull);
	check(vmm_guest_mmio_read64(gpa + 8), ~0ull,
	      "unclaimed writes are dropped and the guest continues");
}

void testdev_checks(const struct vmm_guest_boot_info *bi, uint64_t base)
{
	td = base;
	check_registers();
	check_data_window();
	check_dma_ok();
	check_dma_errors(bi);
	check_unclaimed(bi);
}
