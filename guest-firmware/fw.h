/* SPDX-License-Identifier: MIT */
/* fw.h - what the self-test firmware's files share, on top of the guest kit (<vmm/guestlib.h>). */
#ifndef FW_H
#define FW_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guestlib.h"

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

/*
 * lapic.c: the local APIC of guest.h (xAPIC registers by offset) and the
 * testdev's clock, which every timing check reads (the host's
 * CLOCK_MONOTONIC in ns, the same clock on both backends).
 */
#define LAPIC_ID	     0x020u
#define LAPIC_VERSION	     0x030u
#define LAPIC_TPR	     0x080u
#define LAPIC_EOI	     0x0b0u
#define LAPIC_SVR	     0x0f0u
#define LAPIC_ISR	     0x100u
#define LAPIC_TMR	     0x180u
#define LAPIC_IRR	     0x200u
#define LAPIC_ESR	     0x280u
#define LAPIC_ICR_LO	     0x300u
#define LAPIC_ICR_HI	     0x310u
#define LAPIC_LVT_TIMER	     0x320u
#define LAPIC_LVT_THERM	     0x330u
#define LAPIC_LVT_PERF	     0x340u
#define LAPIC_LVT_LINT0	     0x350u
#define LAPIC_LVT_LINT1	     0x360u
#define LAPIC_LVT_ERROR	     0x370u
#define LAPIC_TIMER_INIT     0x380u
#define LAPIC_TIMER_CUR	     0x390u
#define LAPIC_TIMER_DIV	     0x3e0u
#define LAPIC_SVR_ENABLE     (1u << 8)
#define LAPIC_LVT_MASKED     (1u << 16)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_VERSION_VALUE  0x00050014u /* guest.h: version 0x14, 6 LVT entries */
void fw_lapic_init(const struct vmm_guest_boot_info *bi);
uint32_t fw_lapic_read(uint32_t reg);
void fw_lapic_write(uint32_t reg, uint32_t v);
void fw_lapic_eoi(void);
int fw_lapic_bit(uint32_t reg, uint8_t vector);
void fw_clock_init(uint64_t testdev_base);
uint64_t fw_clock_ns(void);
int fw_clock_works(void);
int fw_wait_count(const volatile uint32_t *count, uint32_t want, uint64_t timeout_ns);
void fw_delay_ns(uint64_t ns);

/*
 * Vectors the interrupt checks use (one owner each, so that handlers of
 * different checks never meet): exceptions 0-31 as the CPU defines them,
 * 0x30-0x3f the LAPIC timer checks, 0x40-0x4f the IPI checks, 0x50-0x6f the
 * device interrupt checks (DEVIRQ_VEC_*, ioapic_checks.c), 0xff the
 * spurious vector.
 */
#define VEC_TIMER_ONESHOT 0x30u
#define VEC_TIMER_PERIOD  0x31u
#define VEC_IPI_SELF	  0x40u
#define VEC_IPI_DEST	  0x41u
#define VEC_IPI_TPR	  0x42u
#define VEC_IPI_AP	  0x43u
#define VEC_SPURIOUS	  0xffu

/* uart_irq_checks.c: its THR-empty and received-data interrupts (with `irq` and `input`). */
void uart_irq_checks(const struct vmm_guest_boot_info *bi);

/* bootinfo.c: what the self-test reads of the boot info beyond the kit's lookups. */
#define GIB (1ull << 30)
#define MIB (1ull << 20)
int bootinfo_find_unclaimed(const struct vmm_guest_boot_info *bi, uint64_t *gpa);
void bootinfo_print(const struct vmm_guest_boot_info *bi);

/*
 * ioapic_checks.c: the I/O APIC checks, and the plumbing the device interrupt
 * checks share: the testdev's pin, a handler per DEVIRQ_VEC_* that counts,
 * EOIs and (from the ack_at-th one that finds STATUS set) ACKs the testdev,
 * and a wait on the clock (fw_wait_count()). devirq_init() loads the IDT and
 * software-enables the LAPIC (VEC_SPURIOUS); it returns -1 if the boot info
 * puts the controllers elsewhere or the testdev's clock does not run. Interrupts are on only inside
 * devirq_wait().
 */
#define DEVIRQ_VEC_LINE	 0x50u
#define DEVIRQ_VEC_LINE2 0x51u
#define DEVIRQ_VEC_MSI	 0x60u
void ioapic_checks(const struct vmm_guest_boot_info *bi, uint64_t td);
int devirq_init(const struct vmm_guest_boot_info *bi, uint64_t td);
uint32_t devirq_pin(void); /* the testdev's I/O APIC pin, or VMM_GUEST_IRQ_NONE */
void devirq_reset(unsigned ack_at);
unsigned devirq_hits(uint8_t vector);
unsigned devirq_dev_hits(uint8_t vector); /* the hits whose handler found STATUS set */
unsigned devirq_wait(uint8_t vector, unsigned want, uint64_t ns); /* returns the hits */
uint32_t fw_ioapic_read(uint32_t reg);
void fw_ioapic_write(uint32_t reg, uint32_t v);
void fw_ioapic_route(uint32_t pin, uint32_t low, uint8_t dest);

/* testdev_irq_checks.c: the testdev's interrupt registers, DMA-done interrupt, MSIs, clock. */
void testdev_irq_checks(const struct vmm_guest_boot_info *bi, uint64_t td);

/* selftest.c: the report lines every check prints. */
int check(uint64_t got, uint64_t want, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int report(int ok, uint64_t got, uint64_t want, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct expect {
	const char *what; /* e.g. "pushed RIP" */
	uint64_t got, want;
};
int expect_all(const struct expect *e, size_t n, const char *line);
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* boot_checks.c: the boot state guest.h promises. */
void boot_checks(const struct vmm_guest_boot_info *bi, uint64_t entry_rsp);

/* testdev_checks.c: registers, data window, DMA and unclaimed accesses. */
void testdev_checks(const struct vmm_guest_boot_info *bi, uint64_t td);

/* exception_checks.c: #UD, #DE (on an IST stack), #BP and #PF through the IDT. */
void exception_checks(const struct vmm_guest_boot_info *bi);

/* lapic_checks.c: the LAPIC's ID, version, enable, and its timer (clock: fw_clock_init()). */
void lapic_checks(const struct vmm_guest_boot_info *bi);

/*
 * ipi_checks.c: self-IPIs, TPR, and IPIs to vCPU 1. secondary_main() is
 * where every vCPU but 0 goes (vCPU 1 waits for IPIs, the others park);
 * vCPU 0 calls secondary_release() once .bss is cleared, since vCPU 1 keeps
 * its state there.
 */
void ipi_checks(const struct vmm_guest_boot_info *bi);
__attribute__((noreturn)) void secondary_main(const struct vmm_guest_boot_info *bi);
void secondary_release(void);

/*
 * selftest.c: vmm_guest_main() (<vmm/guestlib.h>) runs every check on vCPU 0
 * and returns the exit code; the other vCPUs go to secondary_main().
 */

#endif /* FW_H */
