/* SPDX-License-Identifier: MIT */
/* idt.c - the firmware's IDT: a gate per vector to isr.S's stubs, and handlers in C. */
#include "fw.h"

/* Each stub is 16-byte aligned in isr.S, so vector v's starts at isr_stubs + 16 * v. */
#define STUB_SIZE 16

extern char isr_stubs[];

struct gate {
	uint16_t off_lo, sel;
	uint8_t ist, type_attr;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __attribute__((packed));

static struct gate idt[256] __attribute__((aligned(16)));
static irq_handler_t handlers[256];

void idt_set(uint8_t vector, irq_handler_t h, unsigned flags)
{
	uint64_t a = (uint64_t)(isr_stubs + STUB_SIZE * vector);

	handlers[vector] = h;
	idt[vector] = (struct gate){
	    .off_lo = (uint16_t)a,
	    .sel = VMM_GUEST_SEL_CODE,
	    .ist = (uint8_t)(flags & 7),
	    /* P, DPL 0, type 0xE (interrupt gate: IF cleared) or 0xF (trap gate) */
	    .type_attr = (flags & IDT_TRAP) ? 0x8f : 0x8e,
	    .off_mid = (uint16_t)(a >> 16),
	    .off_hi = (uint32_t)(a >> 32),
	};
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)idt};

	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

/* Called by isr_common with the saved frame; a vector with no handler is reported once. */
void idt_dispatch(struct irq_frame *f);
void idt_dispatch(struct irq_frame *f)
{
	irq_handler_t h = handlers[f->vector & 0xff];

	if (h) {
		h(f);
		return;
	}
	vmm_guest_printf("unexpected vector %llu (error 0x%llx) at rip 0x%llx\n",
			 (unsigned long long)f->vector, (unsigned long long)f->error,
			 (unsigned long long)f->rip);
	vmm_guest_halt();
}
