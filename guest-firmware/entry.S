/* SPDX-License-Identifier: MIT */
/* entry.S - the ELF entry point: hand the boot info to fw_main on an ABI-aligned stack. */

	.section .text.entry, "ax"
	.code64
	.globl	_start
	.type	_start, @function
_start:
	/*
	 * The VMM left RDI = boot info and RSP = top of this vCPU's private
	 * stack. The entry RSP goes to fw_main too, so it can check the
	 * stack the VMM promised. Realign anyway: the SysV ABI wants
	 * RSP % 16 == 0 at the call, and a misaligned stack would only show
	 * up later as a fault we cannot report (no IDT).
	 */
	cld
	movq	%rsp, %rsi
	andq	$-16, %rsp
	xorl	%ebp, %ebp
	call	fw_main

	/* fw_main should not return; if it does, park this vCPU. */
1:	cli
	hlt
	jmp	1b
	.size	_start, . - _start

	/* No executable stack wanted; also keeps ld from warning. */
	.section .note.GNU-stack, "", @progbits
