/* SPDX-License-Identifier: MIT */
/* isr.S - one entry stub per vector: save the registers, call idt_dispatch(), iretq. */

	.text
	.code64

/*
 * The CPU pushes an error code for vectors 8, 10-14, 17, 21, 29 and 30;
 * every other stub pushes a 0 in its place, so that each handler sees the
 * same frame (struct irq_frame in fw.h).
 */
	.macro	stub vector
	.align	16
isr_\vector:
	.if	!(\vector == 8 || (\vector >= 10 && \vector <= 14) || \vector == 17 || \vector == 21 || \vector == 29 || \vector == 30)
	pushq	$0
	.endif
	pushq	$\vector
	jmp	isr_common
	.endm

	.globl	isr_stubs
	.align	16
isr_stubs:
	.altmacro
	.set	v, 0
	.rept	256
	stub	%v
	.set	v, v + 1
	.endr

isr_common:
	cld
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	/* The frame is 8 mod 16 or 0 mod 16 depending on the CPU's push: align for the call. */
	movq	%rsp, %rbx
	andq	$-16, %rsp
	call	idt_dispatch
	movq	%rbx, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp	/* vector and error code */
	iretq

	.section .note.GNU-stack, "", @progbits
