/* testdev.c - the testdev device model of vmm/testdev.h, built as a device plugin. */

/*
 * The register file is byte addressable: an access of width w at offset o
 * covers the bytes [o, o + w), each byte belongs to at most one register,
 * and the value is those bytes in little-endian order. So every width at
 * every offset is defined: an 8-byte read at TESTDEV_REG_VERSION returns
 * VERSION in the low half and LIVENESS in the high half; bytes of unused
 * offsets read 0; bytes of read-only registers ignore writes. Choices that
 * testdev.h leaves open:
 *
 * - LIVENESS stores the bytes written; a narrow write replaces only its
 *   bytes of the stored value, and a read returns the inverse of all four.
 * - DMA_CMD and EXIT are write-only (they read 0). A write touching any of
 *   their four bytes acts once, after the write's other bytes are stored,
 *   with a u32 made of the bytes written (bytes not written count as 0): a
 *   1-byte write of 42 to EXIT stops the VM with 42.
 * - LAST_* record an access that touches any byte of the DATA window;
 *   LAST_OFFSET is the access's own offset.
 * - DMA_VALUE keeps all 64 bits written; FILL uses the low byte.
 * - A DMA command of length 0 succeeds without touching guest memory (its
 *   checksum is the FNV offset basis). RESULT changes only when a checksum
 *   succeeds. Every command reads or writes guest memory with one host call
 *   for the whole range, so a range the host refuses leaves memory untouched.
 * - Offsets past TESTDEV_WINDOW_MIN, in a larger window, read 0 and ignore
 *   writes.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/plugin.h"
#include "testdev.h"

struct testdev {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;

	/* Plain storage (LIVENESS, SCRATCH, DATA, DMA parameters), by offset. */
	uint8_t mem[TESTDEV_WINDOW_MIN];
	uint32_t last_width, last_offset, last_dir;
	uint32_t dma_status, dma_error, dma_count;
	uint64_t dma_result;
};

static bool in_range(uint64_t off, uint64_t start, uint64_t len)
{
	return off >= start && off - start < len;
}

/* Is the byte at off plain storage, kept in testdev.mem? */
static bool testdev_is_storage(uint64_t off)
{
	return in_range(off, TESTDEV_REG_LIVENESS, 4) || in_range(off, TESTDEV_REG_SCRATCH, 8) ||
	       in_range(off, TESTDEV_REG_DATA, TESTDEV_DATA_SIZE) ||
	       in_range(off, TESTDEV_REG_DMA_SRC, TESTDEV_REG_DMA_CMD - TESTDEV_REG_DMA_SRC);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The u32 at a 4-aligned offset that is not plain storage (read-only or write-only registers). */
static uint32_t testdev_word(const struct testdev *t, uint64_t off)
{
	switch (off) {
	case TESTDEV_REG_ID:
		return TESTDEV_ID_VALUE;
	case TESTDEV_REG_VERSION:
		return TESTDEV_VERSION_VALUE;
	case TESTDEV_REG_LAST_WIDTH:
		return t->last_width;
	case TESTDEV_REG_LAST_OFFSET:
		return t->last_offset;
	case TESTDEV_REG_LAST_DIR:
		return t->last_dir;
	case TESTDEV_REG_DMA_STATUS:
		return t->dma_status;
	case TESTDEV_REG_DMA_RESULT:
		return (uint32_t)t->dma_result;
	case TESTDEV_REG_DMA_RESULT + 4:
		return (uint32_t)(t->dma_result >> 32);
	case TESTDEV_REG_DMA_ERROR:
		return t->dma_error;
	case TESTDEV_REG_DMA_COUNT:
		return t->dma_count;
	default: /* unused, DMA_CMD and EXIT */
		return 0;
	}
}

static uint8_t testdev_read_byte(const struct testdev *t, uint64_t off)
{
	if (off >= TESTDEV_WINDOW_MIN)
		return 0;
	if (testdev_is_storage(off)) {
		if (in_range(off, TESTDEV_REG_LIVENESS, 4))
			return (uint8_t)~t->mem[off];
		return t->mem[off];
	}
	return (uint8_t)(testdev_word(t, off & ~3ull) >> (8 * (off & 3)));
}

static void testdev_note_data_access(struct testdev *t, uint64_t offset, uint32_t size,
				     uint32_t dir)
{
	/* Does [offset, offset + size) meet [DATA, DATA + DATA_SIZE)? */
	if (offset >= TESTDEV_REG_DATA + TESTDEV_DATA_SIZE ||
	    (offset < TESTDEV_REG_DATA && TESTDEV_REG_DATA - offset >= size))
		return;
	t->last_width = size;
	t->last_offset = (uint32_t)offset;
	t->last_dir = dir;
}

static uint64_t fnv1a64(const uint8_t *p, uint64_t len)
{
	uint64_t h = TESTDEV_FNV_OFFSET;

	for (uint64_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= TESTDEV_FNV_PRIME;
	}
	return h;
}

/* Is [gpa, gpa + len) a range that does not wrap past 2^64? len > 0. */
static bool dma_range_ok(uint64_t gpa, uint64_t len)
{
	return gpa <= UINT64_MAX - (len - 1);
}

/* Run one DMA command to completion; returns its TESTDEV_ERR_*. */
static uint32_t testdev_dma(struct testdev *t, uint32_t cmd)
{
	uint64_t src = le64(&t->mem[TESTDEV_REG_DMA_SRC]);
	uint64_t dst = le64(&t->mem[TESTDEV_REG_DMA_DST]);
	uint64_t len = le64(&t->mem[TESTDEV_REG_DMA_LEN]);
	uint8_t fill = t->mem[TESTDEV_REG_DMA_VALUE];
	uint32_t err = TESTDEV_ERR_NONE;
	uint8_t *buf;

	if (cmd != TESTDEV_CMD_COPY && cmd != TESTDEV_CMD_FILL && cmd != TESTDEV_CMD_CHECKSUM)
		return TESTDEV_ERR_BAD_CMD;
	if (len > TESTDEV_DMA_MAX)
		return TESTDEV_ERR_TOO_LONG;
	if (len == 0) {
		if (cmd == TESTDEV_CMD_CHECKSUM)
			t->dma_result = TESTDEV_FNV_OFFSET;
		return TESTDEV_ERR_NONE;
	}
	/* The host refuses wrapping ranges too; checking here keeps the answer independent of it.
	 */
	if (cmd != TESTDEV_CMD_FILL && !dma_range_ok(src, len))
		return TESTDEV_ERR_RANGE;
	if (cmd != TESTDEV_CMD_CHECKSUM && !dma_range_ok(dst, len))
		return TESTDEV_ERR_RANGE;

	/*
	 * One bounce buffer for the whole range: a copy reads everything before
	 * writing anything (memmove semantics, and a bad destination leaves
	 * nothing written), and each range reaches the host in one call, which
	 * refuses it as a whole or copies all of it.
	 */
	buf = malloc(len);
	if (!buf)
		return TESTDEV_ERR_NO_MEMORY;
	switch (cmd) {
	case TESTDEV_CMD_COPY:
		if (t->host->mem_read(t->ctx, src, buf, len) ||
		    t->host->mem_write(t->ctx, dst, buf, len))
			err = TESTDEV_ERR_RANGE;
		break;
	case TESTDEV_CMD_FILL:
		memset(buf, fill, len);
		if (t->host->mem_write(t->ctx, dst, buf, len))
			err = TESTDEV_ERR_RANGE;
		break;
	default:
		if (t->host->mem_read(t->ctx, src, buf, len))
			err = TESTDEV_ERR_RANGE;
		else
			t->dma_result = fnv1a64(buf, len);
		break;
	}
	free(buf);
	return err;
}

static void testdev_run_cmd(struct testdev *t, uint32_t cmd)
{
	uint32_t err = testdev_dma(t, cmd);

	t->dma_error = err;
	t->dma_status = err ? TESTDEV_STATUS_ERROR : TESTDEV_STATUS_DONE;
	if (!err)
		t->dma_count++;
	else
		t->host->log(t->ctx, VMM_LOG_DEBUG, "dma command %u failed with error %u", cmd,
			     err);
}

static int testdev_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	struct testdev *t = state;
	uint64_t v = 0;

	/* The host checks both; an embedder's own dispatch might not. */
	if (size == 0 || size > 8 || offset > UINT64_MAX - size)
		return -EINVAL;
	for (uint32_t i = size; i-- > 0;)
		v = v << 8 | testdev_read_byte(t, offset + i);
	*value = v;
	testdev_note_data_access(t, offset, size, TESTDEV_DIR_READ);
	return 0;
}

static int testdev_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	struct testdev *t = state;
	uint32_t cmd = 0, code = 0;
	bool run_cmd = false, stop = false;

	if (size == 0 || size > 8 || offset > UINT64_MAX - size)
		return -EINVAL;
	for (uint32_t i = 0; i < size; i++) {
		uint64_t off = offset + i;
		uint8_t b = (uint8_t)(value >> (8 * i));

		if (off >= TESTDEV_WINDOW_MIN)
			continue;
		if (testdev_is_storage(off)) {
			t->mem[off] = b;
		} else if (in_range(off, TESTDEV_REG_DMA_CMD, 4)) {
			cmd |= (uint32_t)b << (8 * (off - TESTDEV_REG_DMA_CMD));
			run_cmd = true;
		} else if (in_range(off, TESTDEV_REG_EXIT, 4)) {
			code |= (uint32_t)b << (8 * (off - TESTDEV_REG_EXIT));
			stop = true;
		}
	}
	testdev_note_data_access(t, offset, size, TESTDEV_DIR_WRITE);
	if (run_cmd)
		testdev_run_cmd(t, cmd);
	if (stop)
		t->host->stop(t->ctx, (int)code);
	return 0;
}

static void testdev_reset(void *state)
{
	struct testdev *t = state;

	/* LIVENESS stores 0, so it reads 0xffffffff. */
	memset(t->mem, 0, sizeof(t->mem));
	t->last_width = 0;
	t->last_offset = 0;
	t->last_dir = TESTDEV_DIR_NONE;
	t->dma_status = TESTDEV_STATUS_IDLE;
	t->dma_error = TESTDEV_ERR_NONE;
	t->dma_count = 0;
	t->dma_result = 0;
}

static void testdev_destroy(void *state)
{
	free(state);
}

static int testdev_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	struct testdev *t;

	if (host->size < sizeof(*host))
		return -EPROTO;
	t = calloc(1, sizeof(*t));
	if (!t) {
		host->log(ctx, VMM_LOG_ERROR, "out of memory");
		return -ENOMEM;
	}
	t->host = host;
	t->ctx = ctx;
	testdev_reset(t);
	*state = t;
	return 0;
}

static const struct vmm_plugin_desc testdev_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "testdev",
    .description = "test device: ID, scratch, data window, DMA engine, exit register",
    .spaces = VMM_SPACE_MMIO | VMM_SPACE_PIO,
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8,
    .min_length = TESTDEV_WINDOW_MIN,
    .create = testdev_create,
    .destroy = testdev_destroy,
    .reset = testdev_reset,
    .read = testdev_read,
    .write = testdev_write,
};

VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void)
{
	return &testdev_desc;
}
