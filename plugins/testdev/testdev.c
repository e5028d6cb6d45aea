/* SPDX-License-Identifier: MIT */
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
 * - IRQ_RAISE and IRQ_ACK act like DMA_CMD (write-only, once per write,
 *   bytes not written count as 0). One write that reaches several of
 *   IRQ_CTRL, IRQ_RAISE, IRQ_ACK and DMA_CMD acts in that order: the new
 *   CTRL first, then RAISE, ACK and the command; the line takes its level
 *   once, after all of them.
 * - Line mode: the level is set through the host only when it changes, from
 *   the write (or reset) that changed it, so the host sees one raise per
 *   rising level. Turning ENABLE on, or MSI off, with bits pending raises
 *   the line; turning MSI on sends nothing for bits already pending.
 * - CLOCK_NS is sampled once per read: an 8-byte read is one instant, two
 *   4-byte reads are two.
 * - Without a line (no `irq` key) or on a host of ABI 1.0, STATUS, CTRL
 *   and the MSI registers still work as registers; the device then raises
 *   nothing, and an MSI it would send sets IRQ_ERROR to NO_MSI.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/plugin.h"
#include "testdev.h"

struct testdev {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;

	/* What create() found: a line to raise, and a host that sends MSIs. */
	bool has_line, can_msi;

	/* Plain storage (LIVENESS, SCRATCH, DATA, DMA parameters, MSI_ADDR/DATA), by offset. */
	uint8_t mem[TESTDEV_WINDOW_MIN];
	uint32_t last_width, last_offset, last_dir;
	uint32_t dma_status, dma_error, dma_count;
	uint64_t dma_result;

	uint32_t irq_status, irq_ctrl, irq_error, msi_count;
	bool line_high;	   /* the level the host last accepted for line 0 */
	uint64_t clock_ns; /* CLOCK_NS as sampled for the read in progress */
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
	       in_range(off, TESTDEV_REG_DMA_SRC, TESTDEV_REG_DMA_CMD - TESTDEV_REG_DMA_SRC) ||
	       in_range(off, TESTDEV_REG_MSI_ADDR, 8) || in_range(off, TESTDEV_REG_MSI_DATA, 4);
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
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
	case TESTDEV_REG_IRQ_STATUS:
		return t->irq_status;
	case TESTDEV_REG_IRQ_CTRL:
		return t->irq_ctrl;
	case TESTDEV_REG_CLOCK_NS:
		return (uint32_t)t->clock_ns;
	case TESTDEV_REG_CLOCK_NS + 4:
		return (uint32_t)(t->clock_ns >> 32);
	case TESTDEV_REG_IRQ_ERROR:
		return t->irq_error;
	case TESTDEV_REG_MSI_COUNT:
		return t->msi_count;
	default: /* unused, DMA_CMD, IRQ_RAISE, IRQ_ACK and EXIT */
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

/* Does [offset, offset + size) meet [start, start + len)? size >= 1, no wrap. */
static bool overlaps(uint64_t offset, uint32_t size, uint64_t start, uint64_t len)
{
	return offset < start + len && start < offset + size;
}

static bool msi_mode(const struct testdev *t)
{
	uint32_t on = TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_MSI;

	return (t->irq_ctrl & on) == on;
}

/* Send MSI_ADDR/MSI_DATA; IRQ_ERROR and MSI_COUNT say how it went. */
static void testdev_send_msi(struct testdev *t)
{
	int ret;

	if (!t->can_msi) {
		t->irq_error = TESTDEV_IRQ_ERR_NO_MSI;
		return;
	}
	ret = t->host->msi_send(t->ctx, le64(&t->mem[TESTDEV_REG_MSI_ADDR]),
				le32(&t->mem[TESTDEV_REG_MSI_DATA]));
	if (ret == 0) {
		t->irq_error = TESTDEV_IRQ_ERR_NONE;
		t->msi_count++;
	} else if (ret == -EINVAL) {
		t->irq_error = TESTDEV_IRQ_ERR_REFUSED; /* the host logged why, once */
	} else if (ret == -ENOSYS || ret == -ENOTSUP) {
		t->irq_error = TESTDEV_IRQ_ERR_NO_MSI;
	} else {
		t->irq_error = TESTDEV_IRQ_ERR_HOST;
	}
}

/* Set bits in STATUS; in MSI mode, bits that were clear send one message. */
static void testdev_raise(struct testdev *t, uint32_t bits)
{
	uint32_t fresh = bits & ~t->irq_status;

	t->irq_status |= bits;
	if (fresh && msi_mode(t))
		testdev_send_msi(t);
}

/* Give line 0 the level STATUS and CTRL call for, telling the host only of a change. */
static void testdev_update_line(struct testdev *t)
{
	bool high = t->has_line && (t->irq_ctrl & TESTDEV_IRQ_CTRL_ENABLE) &&
		    !(t->irq_ctrl & TESTDEV_IRQ_CTRL_MSI) && t->irq_status != 0;

	/* On failure line_high keeps the old level, so the next update tries again. */
	if (high != t->line_high && t->host->irq_set(t->ctx, 0, high) == 0)
		t->line_high = high;
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
	/* Each command that ends is an event: in MSI mode it sends even if DMA_DONE is pending. */
	if (t->irq_ctrl & TESTDEV_IRQ_CTRL_DMA_DONE) {
		t->irq_status |= TESTDEV_IRQ_DMA_DONE;
		if (msi_mode(t))
			testdev_send_msi(t);
	}
}

static uint64_t clock_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int testdev_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	struct testdev *t = state;
	uint64_t v = 0;

	/* The host checks both; an embedder's own dispatch might not. */
	if (size == 0 || size > 8 || offset > UINT64_MAX - size)
		return -EINVAL;
	if (overlaps(offset, size, TESTDEV_REG_CLOCK_NS, 8))
		t->clock_ns = clock_ns();
	for (uint32_t i = size; i-- > 0;)
		v = v << 8 | testdev_read_byte(t, offset + i);
	*value = v;
	testdev_note_data_access(t, offset, size, TESTDEV_DIR_READ);
	return 0;
}

static int testdev_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	struct testdev *t = state;
	uint32_t cmd = 0, code = 0, raise = 0, ack = 0;
	bool run_cmd = false, stop = false, do_raise = false, do_ack = false;

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
		} else if (in_range(off, TESTDEV_REG_IRQ_RAISE, 4)) {
			raise |= (uint32_t)b << (8 * (off - TESTDEV_REG_IRQ_RAISE));
			do_raise = true;
		} else if (in_range(off, TESTDEV_REG_IRQ_ACK, 4)) {
			ack |= (uint32_t)b << (8 * (off - TESTDEV_REG_IRQ_ACK));
			do_ack = true;
		} else if (in_range(off, TESTDEV_REG_IRQ_CTRL, 4)) {
			unsigned shift = 8 * (unsigned)(off - TESTDEV_REG_IRQ_CTRL);

			t->irq_ctrl = (t->irq_ctrl & ~(0xffu << shift)) | (uint32_t)b << shift;
			t->irq_ctrl &= TESTDEV_IRQ_CTRL_MASK;
		}
	}
	testdev_note_data_access(t, offset, size, TESTDEV_DIR_WRITE);
	if (do_raise)
		testdev_raise(t, raise);
	if (do_ack)
		t->irq_status &= ~ack;
	if (run_cmd)
		testdev_run_cmd(t, cmd);
	testdev_update_line(t);
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
	t->irq_status = 0;
	t->irq_ctrl = 0;
	t->irq_error = TESTDEV_IRQ_ERR_NONE;
	t->msi_count = 0;
	t->clock_ns = 0;
	testdev_update_line(t);
}

static void testdev_destroy(void *state)
{
	free(state);
}

static int testdev_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			  const struct vmm_device_info *info, void **state)
{
	struct testdev *t;
	uint32_t nirqs = 0;

	/* Every 1.0 service is needed; the interrupt services of 1.1 are optional. */
	if (!VMM_HOST_HAS(host, param_error))
		return -EPROTO;
	if (info->size >= offsetof(struct vmm_device_info, nirqs) + sizeof(info->nirqs))
		nirqs = info->nirqs;
	t = calloc(1, sizeof(*t));
	if (!t) {
		host->log(ctx, VMM_LOG_ERROR, "out of memory");
		return -ENOMEM;
	}
	t->host = host;
	t->ctx = ctx;
	t->has_line = nirqs > 0 && VMM_HOST_HAS(host, irq_set) && host->irq_set;
	t->can_msi = VMM_HOST_HAS(host, msi_send) && host->msi_send;
	if (nirqs > 0 && !t->has_line)
		host->log(ctx, VMM_LOG_WARN, "the host (ABI 1.%u) cannot set lines: irq unused",
			  VMM_PLUGIN_ABI_MINOR(host->abi_version));
	else if (nirqs > 1)
		host->log(ctx, VMM_LOG_WARN, "only the first of %u lines is used", nirqs);
	testdev_reset(t);
	*state = t;
	return 0;
}

static const struct vmm_plugin_desc testdev_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "testdev",
    .description =
	"test device: ID, scratch, data window, DMA engine, interrupts (line or MSI), clock, exit",
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
