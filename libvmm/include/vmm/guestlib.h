/* SPDX-License-Identifier: MIT */
/* guestlib.h - the guest kit: entry, console, exit, boot-info lookups and I/O for guest programs.
 */
#ifndef VMM_GUESTLIB_H
#define VMM_GUESTLIB_H

/*
 * The interface of libvmm-guest.a, a small freestanding library for guest
 * programs that vmm-run or libvmm boot (vmm-guest(7)). Plain C99 plus GNU
 * asm, no host dependencies; it includes <vmm/guest.h>, the boot ABI.
 *
 * Build a guest with the flags pkg-config gives:
 *   cc $(pkg-config --variable=guest_cflags libvmm) hello.c \
 *      $(pkg-config --variable=guest_libs libvmm) -o hello.elf
 * guest_libs links with vmm-guest.ld (the image at 1 MiB, one PT_LOAD per
 * permission) and pulls the kit's _start from libvmm-guest.a.
 *
 * Nothing here takes a lock: the console and the printf are meant for one
 * vCPU at a time. No function allocates memory.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * ---- Entry ----
 *
 * The kit's _start runs on every vCPU, with RDI = this vCPU's boot info and
 * RSP = the top of its private stack (guest.h). It clears DF, realigns the
 * stack for the SysV ABI, notes the entry RSP, and calls the guest's
 *
 *   int vmm_guest_main(const struct vmm_guest_boot_info *bi);
 *
 * which the guest defines. bi is this vCPU's own block, in the boot area; it
 * is not validated first (see vmm_guest_boot_info_valid()). Every vCPU enters
 * here: secondary vCPUs start at the same entry point at the same time, each
 * with its own boot info (bi->vcpu_index > 0) and stack, so a guest that
 * wants one vCPU to do the work tests bi->vcpu_index.
 *
 * When vmm_guest_main() returns on vCPU 0, its return value is the exit code:
 * the kit calls vmm_guest_exit(bi, value). When it returns on another vCPU,
 * that vCPU halts for good (vmm_guest_halt()) and the VM runs on.
 */
int vmm_guest_main(const struct vmm_guest_boot_info *bi);

/* _start's C half: records entry_rsp, calls vmm_guest_main(). Not for guests to call. */
__attribute__((noreturn)) void vmm_guest_start(const struct vmm_guest_boot_info *bi,
					       uint64_t entry_rsp);

/*
 * The RSP this vCPU had when the VMM started it (before the realignment), or
 * 0 if bi's vcpu_index is not below VMM_GUEST_MAX_VCPUS. Any vCPU, any time.
 */
uint64_t vmm_guest_entry_rsp(const struct vmm_guest_boot_info *bi);

/* Park this vCPU for good: interrupts off, then HLT, which ends it (guest.h). */
__attribute__((noreturn)) void vmm_guest_halt(void);

/*
 * Stop the whole VM with code through the first "testdev" device's EXIT
 * register (<vmm/testdev.h>); vmm-run exits with code (modulo 256). Without a
 * valid boot info or a testdev in an identity-mapped MMIO window, this vCPU
 * halts instead (vmm-run then reports every vCPU halted, status 125).
 */
__attribute__((noreturn)) void vmm_guest_exit(const struct vmm_guest_boot_info *bi, uint32_t code);

/*
 * ---- Boot info ----
 *
 * Lookups that never trust the counts: ram_count and device_count are clamped
 * to the array sizes, so a broken block gives wrong answers, not reads past it.
 */

/* 1 if bi has the magic and ABI version this header was built for, else 0. */
int vmm_guest_boot_info_valid(const struct vmm_guest_boot_info *bi);
/* ram_count and device_count, clamped to VMM_GUEST_MAX_RAM and VMM_GUEST_MAX_DEVICES. */
uint32_t vmm_guest_ram_count(const struct vmm_guest_boot_info *bi);
uint32_t vmm_guest_device_count(const struct vmm_guest_boot_info *bi);
/* The sum of the RAM ranges' sizes (saturated at UINT64_MAX), read-only ones included. */
uint64_t vmm_guest_ram_size(const struct vmm_guest_boot_info *bi);
/* One past the highest RAM byte (saturated at UINT64_MAX), 0 without RAM. */
uint64_t vmm_guest_ram_end(const struct vmm_guest_boot_info *bi);
/*
 * The first device whose plugin (the device model, "uart16550") or whose
 * instance name (the config's section name, "uart0") is name, or NULL. The
 * result points into bi.
 */
const struct vmm_guest_device *vmm_guest_find_device(const struct vmm_guest_boot_info *bi,
						     const char *plugin);
const struct vmm_guest_device *vmm_guest_find_device_named(const struct vmm_guest_boot_info *bi,
							   const char *name);
/*
 * 1 if dev is an MMIO window of at least min_size bytes that the identity map
 * covers (so the guest may dereference base .. base + min_size - 1), else 0.
 */
int vmm_guest_device_mmio_ok(const struct vmm_guest_boot_info *bi,
			     const struct vmm_guest_device *dev, uint64_t min_size);

/*
 * ---- Console ----
 *
 * Polled output on the first "uart16550" device of the boot info, on port
 * I/O or MMIO. vmm_guest_console_init() programs it (8N1, FIFOs on, no
 * interrupts) and returns 0, or -1 if there is no usable UART, in which case
 * output is dropped. Call it once, from one vCPU, before printing; the
 * state it sets lives in .bss. '\n' is sent as is, not as "\r\n".
 */
int vmm_guest_console_init(const struct vmm_guest_boot_info *bi);
void vmm_guest_putc(char c);
/* Write s without adding a newline. */
void vmm_guest_puts(const char *s);
/*
 * A small printf: %% %c %s %d %i %u %x %p, the l and ll length modifiers, a
 * width (digits or *), the '0' and '-' flags, and a precision on %s (digits
 * or *). Returns the number of characters sent. No floating point.
 */
int vmm_guest_vprintf(const char *fmt, va_list ap);
int vmm_guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * ---- Memory and strings ----
 *
 * Standard names and semantics: the compiler emits calls to the mem*
 * functions even with -ffreestanding (struct copies, large initializers), so
 * every guest needs them; the kit's are the ones the linker finds.
 */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/*
 * ---- Port I/O and MMIO ----
 *
 * Each is one instruction of exactly the named width: a device sees the width
 * of each access, and a plain volatile dereference would leave the compiler
 * free to pick another for some patterns. The MMIO ones also order against
 * ordinary loads and stores (a "memory" clobber), so a buffer filled before a
 * device is started on it is in memory when the device looks. Addresses are
 * guest-physical, which the identity map makes virtual too. The port
 * functions' "Nd" constraint lets a constant port below 256 use the
 * immediate form; other ports go through DX.
 */
static inline uint8_t vmm_guest_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t vmm_guest_inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t vmm_guest_inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void vmm_guest_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void vmm_guest_outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void vmm_guest_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t vmm_guest_mmio_read8(uint64_t addr)
{
	uint8_t v;

	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint16_t vmm_guest_mmio_read16(uint64_t addr)
{
	uint16_t v;

	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint32_t vmm_guest_mmio_read32(uint64_t addr)
{
	uint32_t v;

	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint64_t vmm_guest_mmio_read64(uint64_t addr)
{
	uint64_t v;

	__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void vmm_guest_mmio_write8(uint64_t addr, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(addr) : "memory");
}

static inline void vmm_guest_mmio_write16(uint64_t addr, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static inline void vmm_guest_mmio_write32(uint64_t addr, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static inline void vmm_guest_mmio_write64(uint64_t addr, uint64_t v)
{
	__asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

/* Symbols of vmm-guest.ld: the image's bounds and its .bss (which the loader zeroes). */
extern char __image_start[], __image_end[], __bss_start[], __bss_end[];

#ifdef __cplusplus
}
#endif

#endif /* VMM_GUESTLIB_H */
