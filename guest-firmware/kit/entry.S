/* SPDX-License-Identifier: MIT */
/* entry.S - the ELF entry point: pass the boot info to vmm_guest_start() on an aligned stack. */

	.section .text.entry, "ax"
	.code64
	.globl	_start
	.type	_start, @function
_start:
	/*
	 * The VMM left RDI = boot info and RSP = top of this vCPU's private
	 * stack (guest.h). The entry RSP goes to vmm_guest_start() too, for
	 * vmm_guest_entry_rsp(). Realign anyway: the SysV ABI wants
	 * RSP % 16 == 0 at the call, and a misaligned stack would only show
	 * up later as a fault nobody can report (no IDT). DF is clear at
	 * boot (RFLAGS = 0x2); cld makes the string instructions of memset
	 * and memcpy independent of that.
	 */
	cld
	movq	%rsp, %rsi
	andq	$-16, %rsp
	xorl	%ebp, %ebp
	call	vmm_guest_start

	/* vmm_guest_start() does not return; if it did, park this vCPU. */
1:	cli
	hlt
	jmp	1b
	.size	_start, . - _start

	/* No executable stack wanted; also keeps ld from warning. */
	.section .note.GNU-stack, "", @progbits
