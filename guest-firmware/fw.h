/* fw.h - what the firmware's files share: hardware accessors, the small libc, console output. */
#ifndef FW_H
#define FW_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest.h"

/*
 * Port I/O. The "Nd" constraint lets small constant ports use the immediate
 * form; everything else goes through DX.
 */
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/*
 * MMIO. A device sees the exact width of each instruction, so every access is
 * one explicitly sized mov: a plain volatile dereference would still leave the
 * compiler free to pick a different width for some patterns. The "memory"
 * clobber orders these against ordinary loads and stores, which the DMA tests
 * rely on (the guest fills a buffer, then starts the device on it).
 */
static inline uint8_t mmio_read8(uint64_t addr)
{
	uint8_t v;

	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint16_t mmio_read16(uint64_t addr)
{
	uint16_t v;

	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint32_t mmio_read32(uint64_t addr)
{
	uint32_t v;

	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline uint64_t mmio_read64(uint64_t addr)
{
	uint64_t v;

	__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static inline void mmio_write8(uint64_t addr, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(addr) : "memory");
}

static inline void mmio_write16(uint64_t addr, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

static inline void mmio_write64(uint64_t addr, uint64_t v)
{
	__asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(addr) : "memory");
}

/* Park this vCPU for good: no IDT, so interrupts must stay off. */
static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}

/*
 * idt.c, isr.S: the IDT. Every vector has a stub that saves the general
 * registers and calls the handler set for it with the frame below; a
 * handler may change the frame (rip, to skip a faulting instruction, say)
 * and the stub resumes there with iretq. The IDT is shared: every vCPU
 * that takes interrupts calls idt_load(). Vectors without a handler print
 * what happened and park the vCPU.
 */
struct irq_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error; /* error: the CPU's error code, or 0 if it pushes none */
	uint64_t rip, cs, rflags, rsp, ss;
};
typedef void (*irq_handler_t)(struct irq_frame *f);
#define IDT_TRAP 0x8u /* a trap gate (IF stays as it was); flags & 7 is the IST index */
void idt_set(uint8_t vector, irq_handler_t h, unsigned flags);
void idt_load(void);

/* lib.c: what the compiler may emit calls to, plus the few helpers we need. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strnlen(const char *s, size_t max);
int strncmp(const char *a, const char *b, size_t n);

/* uart.c: console on a 16550; output is dropped while no UART is set up. */
int uart_init(const struct vmm_guest_boot_info *bi);
void uart_putc(char c);
/* uart_irq_checks.c: its THR-empty and received-data interrupts (with `irq` and `input`). */
void uart_irq_checks(const struct vmm_guest_boot_info *bi);

/* printf.c: %s %d %u %x %c %p with l/ll, width, '0' and '-' flags, %.*s. */
int fw_vprintf(const char *fmt, va_list ap);
int fw_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bootinfo.c: reading the boot info block without trusting its counts. */
#define GIB (1ull << 30)
#define MIB (1ull << 20)
int bootinfo_valid(const struct vmm_guest_boot_info *bi);
uint32_t bootinfo_ram_count(const struct vmm_guest_boot_info *bi);
uint32_t bootinfo_device_count(const struct vmm_guest_boot_info *bi);
uint64_t bootinfo_ram_end(const struct vmm_guest_boot_info *bi);
const struct vmm_guest_device *fw_find_device(const struct vmm_guest_boot_info *bi,
					      const char *plugin);
int bootinfo_find_unclaimed(const struct vmm_guest_boot_info *bi, uint64_t *gpa);
void bootinfo_print(const struct vmm_guest_boot_info *bi);

/* selftest.c: the report lines every check prints. */
int check(uint64_t got, uint64_t want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int report(int ok, uint64_t got, uint64_t want, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* boot_checks.c: the boot state guest.h promises. */
void boot_checks(const struct vmm_guest_boot_info *bi, uint64_t entry_rsp);

/* testdev_checks.c: registers, data window, DMA and unclaimed accesses. */
void testdev_checks(const struct vmm_guest_boot_info *bi, uint64_t td);

/* Symbols from selftest.ld. */
extern char __image_start[], __image_end[], __bss_start[], __bss_end[];

/* selftest.c: entered from entry.S on every vCPU. */
void fw_main(const struct vmm_guest_boot_info *bi, uint64_t entry_rsp);

#endif /* FW_H */
