/* SPDX-License-Identifier: MIT */
/* testdev.h - register map of the testdev device model (C99, shared by the plugin and guests). */
#ifndef VMM_TESTDEV_H
#define VMM_TESTDEV_H

/*
 * testdev is a device for exercising a VMM from a guest, in the spirit of
 * QEMU's edu device. All offsets are from the window base; the window must be
 * at least TESTDEV_WINDOW_MIN bytes. Unless noted, registers accept 1, 2, 4 and
 * 8-byte accesses at any offset inside the window; reads of unused offsets
 * return 0 and writes to them are ignored.
 */

#define TESTDEV_WINDOW_MIN 0x100u

#define TESTDEV_ID_VALUE      0x544d4d56u /* "VMMT" as a little-endian u32 */
#define TESTDEV_VERSION_VALUE 0x00010001u /* 1.1: interrupts and CLOCK_NS */

#define TESTDEV_REG_ID	     0x00u /* r  u32: TESTDEV_ID_VALUE */
#define TESTDEV_REG_VERSION  0x04u /* r  u32: TESTDEV_VERSION_VALUE (major << 16 | minor) */
#define TESTDEV_REG_LIVENESS 0x08u /* rw u32: reads ~(last value written); 0xffffffff at reset */
#define TESTDEV_REG_SCRATCH  0x10u /* rw u64: plain storage, byte addressable */

/* The width, offset and direction of the latest access to the data window. */
#define TESTDEV_REG_LAST_WIDTH	0x18u /* r u32: 1, 2, 4 or 8; 0 before any access */
#define TESTDEV_REG_LAST_OFFSET 0x1cu /* r u32: offset from the window base */
#define TESTDEV_REG_LAST_DIR	0x20u /* r u32: TESTDEV_DIR_* */
#define TESTDEV_DIR_NONE	0u
#define TESTDEV_DIR_READ	1u
#define TESTDEV_DIR_WRITE	2u

#define TESTDEV_REG_DATA  0x40u /* rw: 64 bytes of storage, any width at any offset */
#define TESTDEV_DATA_SIZE 0x40u

/* DMA engine over guest RAM. Write the parameters, then TESTDEV_REG_DMA_CMD. */
#define TESTDEV_REG_DMA_SRC    0x80u /* rw u64: source GPA (copy, checksum) */
#define TESTDEV_REG_DMA_DST    0x88u /* rw u64: destination GPA (copy, fill) */
#define TESTDEV_REG_DMA_LEN    0x90u /* rw u64: bytes, at most TESTDEV_DMA_MAX */
#define TESTDEV_REG_DMA_VALUE  0x98u /* rw u64: fill byte in bits 0-7 */
#define TESTDEV_REG_DMA_CMD    0xa0u /* w  u32: TESTDEV_CMD_*; runs to completion */
#define TESTDEV_REG_DMA_STATUS 0xa4u /* r  u32: TESTDEV_STATUS_* of the latest command */
#define TESTDEV_REG_DMA_RESULT 0xa8u /* r  u64: checksum of the latest TESTDEV_CMD_CHECKSUM */
#define TESTDEV_REG_DMA_ERROR  0xb0u /* r  u32: TESTDEV_ERR_* of the latest command */
#define TESTDEV_REG_DMA_COUNT  0xb4u /* r  u32: commands completed without error */

#define TESTDEV_CMD_COPY     1u /* copy LEN bytes from SRC to DST (memmove semantics) */
#define TESTDEV_CMD_FILL     2u /* set LEN bytes at DST to VALUE & 0xff */
#define TESTDEV_CMD_CHECKSUM 3u /* RESULT = FNV-1a 64 of LEN bytes at SRC */

#define TESTDEV_STATUS_IDLE  0u
#define TESTDEV_STATUS_DONE  1u
#define TESTDEV_STATUS_ERROR 2u

#define TESTDEV_ERR_NONE      0u
#define TESTDEV_ERR_BAD_CMD   1u /* unknown command */
#define TESTDEV_ERR_RANGE     2u /* not wholly inside one RAM slot (device windows included) */
#define TESTDEV_ERR_TOO_LONG  3u /* LEN > TESTDEV_DMA_MAX */
#define TESTDEV_ERR_NO_MEMORY 4u /* the device could not allocate its bounce buffer */

#define TESTDEV_DMA_MAX (16u << 20)

#define TESTDEV_FNV_OFFSET 0xcbf29ce484222325ull
#define TESTDEV_FNV_PRIME  0x100000001b3ull

/*
 * Interrupts (version 1.1), after QEMU's edu device. STATUS holds pending
 * interrupt bits: RAISE sets bits, ACK clears them, and a DMA command that
 * ends (done or failed) sets TESTDEV_IRQ_DMA_DONE when CTRL asks for it.
 * What the guest sees depends on CTRL:
 *   - ENABLE clear: nothing; STATUS still changes, and can be polled.
 *   - ENABLE, line mode (MSI clear): the device's first line (its config's
 *     `irq`, devices[].irq in the boot info) is high while STATUS is not
 *     zero, a level the guest lowers by ACKing every bit. A device with no
 *     line raises nothing.
 *   - ENABLE and MSI: the device sends the message (MSI_ADDR, MSI_DATA) once
 *     for each RAISE that sets a bit that was clear, and once for each DMA
 *     command that ends; bits already pending send nothing. The line stays
 *     low. A message the host refuses (an address outside the LAPIC's range,
 *     a vector below 16, a level trigger: plugin.h's msi_send()) is not sent
 *     and IRQ_ERROR says why.
 * Reset clears STATUS, CTRL, MSI_ADDR, MSI_DATA, IRQ_ERROR and MSI_COUNT
 * and lowers the line.
 */
#define TESTDEV_REG_IRQ_STATUS 0xc0u /* r  u32: pending interrupt bits */
#define TESTDEV_REG_IRQ_RAISE  0xc4u /* w  u32: set these bits in STATUS (reads 0) */
#define TESTDEV_REG_IRQ_ACK    0xc8u /* w  u32: clear these bits in STATUS (reads 0) */
#define TESTDEV_REG_IRQ_CTRL   0xccu /* rw u32: TESTDEV_IRQ_CTRL_*; other bits read 0 */
#define TESTDEV_REG_MSI_ADDR   0xd0u /* rw u64: the MSI's address, 0xfee00000 | apic_id << 12 */
#define TESTDEV_REG_MSI_DATA   0xd8u /* rw u32: the MSI's data: the vector in bits 0-7 */
#define TESTDEV_REG_CLOCK_NS   0xe0u /* r  u64: the host's CLOCK_MONOTONIC in ns (timing checks) */
#define TESTDEV_REG_IRQ_ERROR  0xe8u /* r  u32: TESTDEV_IRQ_ERR_* of the latest MSI */
#define TESTDEV_REG_MSI_COUNT  0xecu /* r  u32: MSIs the host accepted */

#define TESTDEV_IRQ_DMA_DONE 0x100u /* STATUS bit a DMA command that ends sets (if enabled) */

#define TESTDEV_IRQ_CTRL_ENABLE	  1u /* interrupts on (line or MSI); off: STATUS only */
#define TESTDEV_IRQ_CTRL_MSI	  2u /* MSI mode instead of the line */
#define TESTDEV_IRQ_CTRL_DMA_DONE 4u /* a DMA command that ends sets TESTDEV_IRQ_DMA_DONE */
#define TESTDEV_IRQ_CTRL_MASK	  7u /* the bits CTRL keeps */

#define TESTDEV_IRQ_ERR_NONE	0u /* the latest MSI was sent (or none was tried) */
#define TESTDEV_IRQ_ERR_REFUSED 1u /* the host refused the address or data (-EINVAL) */
#define TESTDEV_IRQ_ERR_NO_MSI	2u /* the host cannot send MSIs (ABI 1.0, or its backend) */
#define TESTDEV_IRQ_ERR_HOST	3u /* the host failed otherwise (its log says why) */

/* A write stops the VM; the value written (u32, 0 included) is the exit code. */
#define TESTDEV_REG_EXIT 0xf0u

#endif /* VMM_TESTDEV_H */
