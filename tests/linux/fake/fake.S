/* SPDX-License-Identifier: MIT */
/*
 * fake.S - a fake Linux kernel: entered at the 64-bit entry as boot.rst says, it checks what
 * the loader gave it (fake.h lists the checks) and ends the run with the first failed one.
 */

/*
 * The flat binary is the protected-mode kernel of a bzImage the tests wrap around it
 * (tests/bzimage_build.h): offset 0 is the 32-bit entry (unused: the loader must take the
 * 64-bit one), FAKE_EXPECT_OFF the block the test fills in, FAKE_ENTRY_64 the 64-bit entry.
 * The loader may place it at any kernel_alignment multiple, so every reference to the image
 * is RIP-relative (the Makefile links it at two addresses and compares the results); the rest
 * are physical addresses that the boot protocol's identity map makes virtual ones.
 *
 * Registers held throughout: %r12 the testdev, %r13 the expectations block, %r14 the load
 * address, %r15 the zero page (RSI at entry), %ebp the number of the check being made: a
 * failing check jumps to fail, which writes %ebp to the testdev's exit register. The stack
 * is in the image (the protocol gives none).
 */
#include "fake.h"

#define X_EQU(n, name, text) .equ CHECK_##name, n;
FAKE_CHECKS(X_EQU)

/* The testdev's registers this file uses (plugins/testdev/testdev.h; a test compares them). */
#define TD_ID	       0x00
#define TD_DMA_SRC     0x80
#define TD_DMA_LEN     0x90
#define TD_DMA_CMD     0xa0
#define TD_DMA_STATUS  0xa4
#define TD_DMA_RESULT  0xa8
#define TD_CLOCK_NS    0xe0
#define TD_EXIT	       0xf0
#define TD_ID_VALUE    0x544d4d56 /* "VMMT" */
#define TD_CMD_FNV     3
#define TD_STATUS_DONE 1

/* boot_params ("zero page") offsets: Documentation/arch/x86/zero-page.rst and boot.rst. */
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES	     0x1e8
#define BP_BOOT_FLAG	     0x1fe
#define BP_HEADER	     0x202
#define BP_VERSION	     0x206
#define BP_TYPE_OF_LOADER    0x210
#define BP_LOADFLAGS	     0x211
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE	     0x21c
#define BP_CMD_LINE_PTR	     0x228
#define BP_INITRD_ADDR_MAX   0x22c
#define BP_KERNEL_ALIGNMENT  0x230
#define BP_CMDLINE_SIZE	     0x238
#define BP_INIT_SIZE	     0x260
#define BP_E820_TABLE	     0x2d0
#define E820_ENTRY	     20 /* u64 addr, u64 size, u32 type */
#define E820_MAX	     128
#define E820_RAM	     1
#define E820_RESERVED	     2
#define E820_ACPI	     3
#define LOADED_HIGH	     0x01

#define LAPIC	     0xfee00000
#define LAPIC_ID     0x020
#define LAPIC_SVR    0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_INIT     0x4500 /* INIT, level assert, physical destination */
#define ICR_SIPI     0x4600 /* start-up, level assert; the vector is the page number */
#define ICR_BUSY     0x1000 /* delivery status: send pending */
#define IOAPIC	     0xfec00000
#define MSR_EFER     0xc0000080
#define MSR_APICBASE 0x1b
#define MP_FLOAT     0xf0000
#define BDA_EBDA     0x40e
#define LEGACY_START 0x9fc00
#define LEGACY_END   0x100000
#define GiB4	     0x100000000

#define MS 1000000

	.text
	.code64
	.globl _start
_start:
startup_32:
	ud2 /* a 64-bit loader never comes here */
1:	hlt
	jmp 1b

	.org FAKE_EXPECT_OFF
expect:
	.long FAKE_EXPECT_MAGIC_VALUE, 1, 0, FAKE_HDR_CMDLINE_SIZE
	.org FAKE_EXPECT_OFF + FAKE_EXPECT_END, 0

/* ---- the 64-bit entry ---- */
	.org FAKE_ENTRY_64
startup_64:
	mov $FAKE_TESTDEV_BASE, %r12d
	mov $CHECK_ENTRY_ONCE, %ebp
	mov $1, %eax
	lock xadd %eax, entries(%rip)
	test %eax, %eax
	jnz fail
	lea stack_top(%rip), %rsp
	cld
	lea expect(%rip), %r13
	lea startup_32(%rip), %r14
	mov %rsi, %r15

	mov $CHECK_CS, %ebp
	mov %cs, %ax
	cmp $0x10, %ax
	jne fail
	mov $CHECK_DS, %ebp
	mov %ds, %ax
	cmp $0x18, %ax
	jne fail
	mov $CHECK_ES, %ebp
	mov %es, %ax
	cmp $0x18, %ax
	jne fail
	mov $CHECK_SS, %ebp
	mov %ss, %ax
	cmp $0x18, %ax
	jne fail

	mov $CHECK_IF, %ebp
	pushfq
	pop %rax
	test $0x200, %eax
	jnz fail

	mov $CHECK_LONG_MODE, %ebp
	mov %cr0, %rax
	and $0x80000001, %eax /* PG, PE */
	cmp $0x80000001, %eax
	jne fail
	mov %cr4, %rax
	test $0x20, %eax /* PAE */
	jz fail
	mov $MSR_EFER, %ecx
	rdmsr
	and $0x500, %eax /* LMA, LME */
	cmp $0x500, %eax
	jne fail

	call check_gdt

	mov $CHECK_TESTDEV, %ebp
	cmpl $TD_ID_VALUE, TD_ID(%r12)
	jne fail

	mov $CHECK_BSP, %ebp
	mov $MSR_APICBASE, %ecx
	rdmsr
	test $0x100, %eax
	jz fail
	mov $LAPIC, %ebx
	mov LAPIC_ID(%rbx), %eax
	shr $24, %eax
	jnz fail

	call check_header
	call check_cmdline
	call check_initrd
	call check_e820
	call check_identity
	call check_mptable

	mov $CHECK_EBDA, %ebp
	cmpw $(LEGACY_START >> 4), BDA_EBDA
	jne fail

	cmpl $2, FAKE_EXPECT_NCPUS(%r13)
	jb 1f
	call check_ap
1:	call check_acpi
	xor %ebp, %ebp
	testl $FAKE_FLAG_END_BY_RESET, FAKE_EXPECT_FLAGS(%r13)
	jz fail
	mov $0xfe, %al /* pulse the reset line: how Linux reboots a PC without ACPI */
	out %al, $0x64
	jmp halt

/* Write %ebp, the failed check or 0, to the exit register: the run ends with it. */
fail:
	mov %ebp, TD_EXIT(%r12)
halt:
	cli
	hlt
	jmp halt

/* ---- the GDT: the boot protocol's two 4 GiB flat segments ---- */

/* Base 0, limit 0xfffff, G: the bits of a descriptor that make it 4 GiB flat. */
#define DESC_FLAT_MASK 0xff8f00ffffffffff
#define DESC_FLAT      0x008f00000000ffff

check_gdt:
	sub $16, %rsp
	sgdt (%rsp)
	movzwl (%rsp), %eax
	mov 2(%rsp), %rbx
	add $16, %rsp
	mov $CHECK_GDT_CS, %ebp
	cmp $0x1f, %eax /* the limit: 0x18's descriptor ends at 0x1f */
	jb fail
	mov 0x10(%rbx), %rax
	call desc_flat
	jne fail
	shr $40, %rax
	and $0x60fe, %eax /* the access byte but accessed, and L, D */
	cmp $0x209a, %eax /* present, DPL 0, code, readable, L, not D */
	jne fail
	mov $CHECK_GDT_DS, %ebp
	mov 0x18(%rbx), %rax
	call desc_flat
	jne fail
	shr $40, %rax
	and $0xfe, %eax
	cmp $0x92, %eax /* present, DPL 0, data, writable, expand-up */
	jne fail
	ret

/* Is the descriptor in %rax 4 GiB flat? ZF set if so; %rax is kept. */
desc_flat:
	mov %rax, %rcx
	mov $DESC_FLAT_MASK, %rdx
	and %rdx, %rcx
	mov $DESC_FLAT, %rdx
	cmp %rdx, %rcx
	ret

/* ---- the zero page's setup header, and where the kernel is ---- */

check_header:
	mov $CHECK_ZP_MAGIC, %ebp
	test %r15, %r15
	jz fail
	cmpw $0xaa55, BP_BOOT_FLAG(%r15)
	jne fail
	cmpl $0x53726448, BP_HEADER(%r15) /* "HdrS" */
	jne fail

	mov $CHECK_ZP_HEADER, %ebp
	cmpw $FAKE_HDR_VERSION, BP_VERSION(%r15)
	jne fail
	testb $LOADED_HIGH, BP_LOADFLAGS(%r15)
	jz fail
	cmpl $FAKE_HDR_KERNEL_ALIGNMENT, BP_KERNEL_ALIGNMENT(%r15)
	jne fail
	mov FAKE_EXPECT_CMDLINE_SIZE(%r13), %eax
	cmp %eax, BP_CMDLINE_SIZE(%r15)
	jne fail

	mov $CHECK_LOADER, %ebp
	cmpb $0xff, BP_TYPE_OF_LOADER(%r15)
	jne fail

	mov $CHECK_PLACE, %ebp
	cmp $LEGACY_END, %r14
	jb fail
	test $(FAKE_HDR_KERNEL_ALIGNMENT - 1), %r14d
	jnz fail
	mov BP_INIT_SIZE(%r15), %eax
	add %r14, %rax
	mov %rax, kernel_end(%rip)
	ret

/*
 * Do [%rdi, %rdi + %rsi) and [%rdx, %rdx + %rcx) overlap? ZF clear if they do (jne).
 * The ranges do not wrap (callers checked). Clobbers %rax, %r8.
 */
overlap:
	xor %eax, %eax
	lea (%rdx, %rcx), %r8
	cmp %r8, %rdi /* a starts at or after b's end */
	jae 1f
	lea (%rdi, %rsi), %r8
	cmp %r8, %rdx /* b starts at or after a's end */
	jae 1f
	inc %eax
1:	test %eax, %eax
	ret

/* Does [%rdi, %rdi + %rsi) overlap the kernel's init_size or the zero page? As overlap. */
overlaps_kernel_or_zp:
	mov %r14, %rdx
	mov kernel_end(%rip), %rcx
	sub %r14, %rcx
	call overlap
	jne 1f
	mov %r15, %rdx
	mov $0x1000, %ecx
	call overlap
1:	ret

/* ---- the command line ---- */

check_cmdline:
	mov $CHECK_CMDLINE, %ebp
	mov BP_CMD_LINE_PTR(%r15), %esi
	mov BP_EXT_CMD_LINE_PTR(%r15), %eax
	shl $32, %rax
	or %rax, %rsi
	jz fail
	mov $(GiB4 - 0x1000), %rax /* the identity map's end, less the longest line */
	cmp %rax, %rsi
	jae fail
	mov %rsi, cmd_addr(%rip)
	lea FAKE_EXPECT_CMDLINE(%r13), %rdi
	xor %ecx, %ecx
1:	mov (%rdi, %rcx), %al
	cmp (%rsi, %rcx), %al
	jne fail
	inc %ecx
	test %al, %al
	jz 2f
	cmp $(FAKE_CMDLINE_MAX + 1), %ecx
	jb 1b
	jmp fail /* the expected line lacks its NUL: the test's mistake, still a failure */
2:	mov %rcx, cmd_len(%rip) /* with its NUL */

	mov $CHECK_CMDLINE_PLACE, %ebp
	mov cmd_addr(%rip), %rdi
	mov cmd_len(%rip), %rsi
	call overlaps_kernel_or_zp
	jne fail
	ret

/* ---- the initrd ---- */

check_initrd:
	mov $CHECK_INITRD, %ebp
	mov BP_RAMDISK_IMAGE(%r15), %edi
	mov BP_EXT_RAMDISK_IMAGE(%r15), %eax
	shl $32, %rax
	or %rax, %rdi
	mov BP_RAMDISK_SIZE(%r15), %esi
	mov BP_EXT_RAMDISK_SIZE(%r15), %eax
	shl $32, %rax
	or %rax, %rsi
	mov %rdi, rd_addr(%rip)
	mov %rsi, rd_len(%rip)
	mov FAKE_EXPECT_INITRD_LEN(%r13), %eax
	cmp %rax, %rsi
	jne fail
	test %rsi, %rsi
	jnz 1f
	test %rdi, %rdi /* no initrd: no address either */
	jnz fail
	ret
1:	test %rdi, %rdi
	jz fail
	mov $GiB4, %rax /* inside the identity map before anything reads it */
	cmp %rax, %rdi
	jae fail
	sub %rdi, %rax
	cmp %rax, %rsi
	ja fail
	mov $16, %ecx
	cmp %rcx, %rsi
	cmovb %rsi, %rcx
	lea FAKE_EXPECT_INITRD_HEAD(%r13), %rsi
	repe cmpsb
	jne fail

	mov $CHECK_INITRD_PLACE, %ebp
	mov rd_addr(%rip), %rdi
	mov rd_len(%rip), %rsi
	test $0xfff, %edi
	jnz fail
	lea -1(%rdi, %rsi), %rax
	mov BP_INITRD_ADDR_MAX(%r15), %ecx
	cmp %rcx, %rax
	ja fail
	call overlaps_kernel_or_zp
	jne fail
	mov cmd_addr(%rip), %rdx
	mov cmd_len(%rip), %rcx
	call overlap
	jne fail
	ret

/* ---- the e820 map ---- */

/*
 * Does one e820 entry of type %edx contain [%rdi, %rdi + %rsi)? ZF set if so (je).
 * The map was checked (count, order, no wrap). Clobbers %rax, %rcx, %r8, %r9.
 */
e820_covers:
	movzbl BP_E820_ENTRIES(%r15), %ecx
	lea BP_E820_TABLE(%r15), %r8
	lea (%rdi, %rsi), %r9
1:	test %ecx, %ecx
	jz 3f
	cmp %edx, 16(%r8)
	jne 2f
	mov (%r8), %rax
	cmp %rax, %rdi
	jb 2f
	add 8(%r8), %rax
	cmp %rax, %r9
	ja 2f
	xor %eax, %eax
	ret
2:	add $E820_ENTRY, %r8
	dec %ecx
	jmp 1b
3:	or $1, %eax
	ret

.macro covered addr, len, type
	mov \addr, %rdi
	mov \len, %rsi
	mov $\type, %edx
	call e820_covers
	jne fail
.endm

/* As covered, but an entry of either type will do. */
.macro covered_any_of addr, len, type1, type2
	mov \addr, %rdi
	mov \len, %rsi
	mov $\type1, %edx
	call e820_covers
	je .Lcovered\@
	mov $\type2, %edx
	call e820_covers
	jne fail
.Lcovered\@:
.endm

check_e820:
	mov $CHECK_E820_COUNT, %ebp
	movzbl BP_E820_ENTRIES(%r15), %ecx
	test %ecx, %ecx
	jz fail
	cmp $E820_MAX, %ecx
	ja fail

	mov $CHECK_E820_FIRST, %ebp
	lea BP_E820_TABLE(%r15), %r8
	cmpq $0, (%r8)
	jne fail
	cmpq $0, 8(%r8)
	je fail
	cmpl $E820_RAM, 16(%r8)
	jne fail

	mov $CHECK_E820_ORDER, %ebp
	xor %r9d, %r9d /* where the previous entry ended */
1:	mov (%r8), %rax
	cmp %r9, %rax
	jb fail
	mov 8(%r8), %rdx
	test %rdx, %rdx
	jz fail
	add %rdx, %rax
	jc fail
	mov %rax, %r9
	add $E820_ENTRY, %r8
	dec %ecx
	jnz 1b

	mov $CHECK_E820_TESTDEV, %ebp
	covered $FAKE_TESTDEV_BASE, $FAKE_TESTDEV_SIZE, E820_RESERVED
	mov $CHECK_E820_APICS, %ebp
	covered $IOAPIC, $0x1000, E820_RESERVED
	covered $LAPIC, $0x1000, E820_RESERVED
	mov $CHECK_E820_LEGACY, %ebp
	covered $LEGACY_START, $(LEGACY_END - LEGACY_START), E820_RESERVED
	mov $CHECK_E820_USABLE, %ebp
	mov kernel_end(%rip), %rax
	sub %r14, %rax
	covered %r14, %rax, E820_RAM
	covered %r15, $0x1000, E820_RAM
	covered cmd_addr(%rip), cmd_len(%rip), E820_RAM
	cmpq $0, rd_len(%rip)
	je 2f
	covered rd_addr(%rip), rd_len(%rip), E820_RAM
2:	ret

/* ---- the identity map, seen from the device side ---- */

/* FNV-1a 64 of [%rdi, %rdi + %rsi) as the CPU reads it, in %rax. Clobbers %rcx, %rdx. */
fnv1a:
	mov $0xcbf29ce484222325, %rax
	mov $0x100000001b3, %rcx
1:	test %rsi, %rsi
	jz 2f
	movzbl (%rdi), %edx
	xor %rdx, %rax
	imul %rcx, %rax
	inc %rdi
	dec %rsi
	jmp 1b
2:	ret

/*
 * Does the testdev's DMA checksum of the guest-physical [%rdi, %rdi + %rsi) match the
 * CPU's reading of the same virtual range? ZF set if so. Clobbers %rax, %rbx, %rcx, %rdx.
 */
same_physical:
	mov %rdi, TD_DMA_SRC(%r12)
	mov %rsi, TD_DMA_LEN(%r12)
	movl $TD_CMD_FNV, TD_DMA_CMD(%r12)
	cmpl $TD_STATUS_DONE, TD_DMA_STATUS(%r12)
	jne 1f
	mov TD_DMA_RESULT(%r12), %rbx
	call fnv1a
	cmp %rax, %rbx
1:	ret

.macro same addr, len
	mov \addr, %rdi
	mov \len, %rsi
	call same_physical
	jne fail
.endm

check_identity:
	mov $CHECK_IDENTITY, %ebp
	same %r15, $0x1000
	same %r14, $0x1000
	mov rd_len(%rip), %rax
	test %rax, %rax
	jz 1f
	mov $0x1000, %ecx
	cmp %rcx, %rax
	cmova %rcx, %rax
	same rd_addr(%rip), %rax
	/*
	 * The last usable page below 4 GiB, with 64 bytes of its own written in (the same
	 * bytes at another address would hide a wrong mapping).
	 */
1:	movzbl BP_E820_ENTRIES(%r15), %ecx
	lea BP_E820_TABLE(%r15), %r8
	xor %edi, %edi
	mov $GiB4, %r9
2:	cmpl $E820_RAM, 16(%r8)
	jne 3f
	mov (%r8), %rax
	add 8(%r8), %rax
	cmp %r9, %rax
	cmova %r9, %rax /* the entry's end, at most 4 GiB */
	sub $0x1000, %rax
	jb 3f
	and $~0xfff, %rax /* its last whole page ... */
	cmp (%r8), %rax
	jb 3f /* ... if it has one */
	cmp %rdi, %rax
	cmova %rax, %rdi
3:	add $E820_ENTRY, %r8
	dec %ecx
	jnz 2b
	add $0xfc0, %rdi
	mov $8, %ecx
	mov %rdi, %rsi
	mov $0x5a5a5a5a5a5a5a5a, %rdx
4:	mov %rsi, %rax
	xor %rdx, %rax
	mov %rax, (%rsi)
	add $8, %rsi
	dec %ecx
	jnz 4b
	same %rdi, $64
	ret

/* ---- the MP tables ---- */

/* The byte sum of [%rdi, %rdi + %rsi) in %al (0: a valid checksum). Clobbers %rcx, %rdx. */
sum8:
	xor %eax, %eax
	mov %rsi, %rcx
1:	test %rcx, %rcx
	jz 2f
	add (%rdi), %al
	inc %rdi
	dec %rcx
	jmp 1b
2:	test %al, %al
	ret

check_mptable:
	mov $CHECK_MP_FLOAT, %ebp
	mov $MP_FLOAT, %ebx
	cmpl $0x5f504d5f, (%rbx) /* "_MP_" */
	jne fail
	cmpb $1, 8(%rbx)
	jne fail
	cmpb $4, 9(%rbx)
	jne fail
	mov %rbx, %rdi
	mov $16, %esi
	call sum8
	jnz fail

	mov $CHECK_MP_TABLE, %ebp
	mov 4(%rbx), %ebx
	test %ebx, %ebx
	jz fail
	cmpl $0x504d4350, (%rbx) /* "PCMP" */
	jne fail
	cmpb $4, 6(%rbx)
	jne fail
	movzwl 4(%rbx), %esi
	cmp $0x2c, %esi
	jb fail
	mov %rbx, %rdi
	call sum8
	jnz fail
	cmpl $LAPIC, 0x24(%rbx)
	jne fail
	/* The entries: %r8 walks them, %r9 is the table's end, %r10d the count left. */
	lea 0x2c(%rbx), %r8
	movzwl 4(%rbx), %r9d
	add %rbx, %r9
	movzwl 0x22(%rbx), %r10d
	xor %r11d, %r11d /* processors seen */
	movl $0, mp_cpu_bad(%rip)
	movl $0, mp_ioapics(%rip)
	movl $0, mp_ioapic_bad(%rip)
1:	test %r10d, %r10d
	jz 9f
	movzbl (%r8), %eax
	mov $20, %ecx
	test %eax, %eax
	jz 2f
	mov $8, %ecx
	cmp $4, %eax
	ja fail
2:	lea (%r8, %rcx), %rdx
	cmp %r9, %rdx
	ja fail
	test %eax, %eax
	jnz 4f
	/* A processor: APIC ID = its rank, enabled, the BSP flag on ID 0 only. */
	cmp 1(%r8), %r11b
	jne 3f
	movzbl 3(%r8), %eax
	and $3, %eax
	xor %esi, %esi
	test %r11d, %r11d
	setz %sil
	lea 1(, %rsi, 2), %esi /* enabled, and the BSP flag on the first */
	cmp %esi, %eax
	je 8f
3:	movl $1, mp_cpu_bad(%rip)
	jmp 8f
4:	cmp $2, %eax
	jne 8f
	/* The I/O APIC: enabled, at its base, its ID the vCPU count. */
	incl mp_ioapics(%rip)
	testb $1, 3(%r8)
	jz 5f
	cmpl $IOAPIC, 4(%r8)
	jne 5f
	movzbl 1(%r8), %eax
	cmp FAKE_EXPECT_NCPUS(%r13), %eax
	je 8f
5:	movl $1, mp_ioapic_bad(%rip)
8:	cmpb $0, (%r8)
	jne 7f
	inc %r11d
7:	mov %rdx, %r8
	dec %r10d
	jmp 1b

9:	mov $CHECK_MP_CPUS, %ebp
	cmp FAKE_EXPECT_NCPUS(%r13), %r11d
	jne fail
	cmpl $0, mp_cpu_bad(%rip)
	jne fail
	mov $CHECK_MP_IOAPIC, %ebp
	cmpl $1, mp_ioapics(%rip)
	jne fail
	cmpl $0, mp_ioapic_bad(%rip)
	jne fail
	ret

/* ---- ACPI: the RSDP, the XSDT and the MADT, which Linux reads where it has no MP tables ---- */

/*
 * Is %rbx an ACPI table with signature %eax, a sane length and checksum 0? ZF set if so, its
 * length in %rsi. Clobbers %rax, %rcx, %rdx, %rdi.
 */
acpi_table:
	test %rbx, %rbx
	jz 1f
	mov $(GiB4 - 0x10000), %rcx /* inside the identity map, however long it says it is */
	cmp %rcx, %rbx
	jae 1f
	cmp %eax, (%rbx)
	jne 2f
	mov 4(%rbx), %esi
	cmp $36, %esi
	jb 1f
	cmp $0x10000, %esi
	ja 1f
	mov %rbx, %rdi
	call sum8
	ret
1:	or $1, %eax /* ZF clear */
2:	ret

check_acpi:
	mov $CHECK_ACPI_RSDP, %ebp
	mov BP_ACPI_RSDP_ADDR(%r15), %rbx
	mov $(GiB4 - 36), %rax
	cmp %rax, %rbx
	jae fail
	test %rbx, %rbx
	jz fail
	mov $0x2052545020445352, %rax /* "RSD PTR " */
	cmp %rax, (%rbx)
	jne fail
	mov %rbx, %rdi
	mov $20, %esi
	call sum8
	jnz fail
	cmpb $2, 15(%rbx) /* revision: 2 and later have the XSDT */
	jb fail
	cmpl $36, 20(%rbx)
	jne fail
	mov %rbx, %rdi
	mov $36, %esi
	call sum8
	jnz fail
	covered_any_of %rbx, $36, E820_RESERVED, E820_ACPI

	mov $CHECK_ACPI_XSDT, %ebp
	mov 24(%rbx), %rbx
	mov $0x54445358, %eax /* "XSDT" */
	call acpi_table
	jne fail
	lea 36(%rbx), %r8 /* %r8 walks the entries, %r9 is the table's end */
	lea (%rbx, %rsi), %r9
	xor %r10d, %r10d /* the MADT, once found */
1:	lea 8(%r8), %rax
	cmp %r9, %rax
	ja 2f
	mov (%r8), %rbx
	mov $0x43495041, %eax /* "APIC" */
	call acpi_table
	jne 3f
	mov %rbx, %r10
3:	add $8, %r8
	jmp 1b
2:	test %r10, %r10
	jz fail

	mov $CHECK_ACPI_MADT, %ebp
	cmpl $LAPIC, 36(%r10)
	jne fail
	lea 44(%r10), %r8 /* the entries: %r8 walks them to the end, %r9 */
	mov 4(%r10), %r9d
	add %r10, %r9
	xor %r11d, %r11d /* local APICs seen */
	xor %ecx, %ecx /* I/O APICs seen */
4:	cmp %r9, %r8
	jae 8f
	lea 2(%r8), %rax
	cmp %r9, %rax
	ja fail
	movzbl 1(%r8), %edx /* the entry's length */
	cmp $2, %edx
	jb fail
	lea (%r8, %rdx), %rax
	cmp %r9, %rax
	ja fail
	movzbl (%r8), %eax
	test %eax, %eax
	jnz 5f
	/* A processor local APIC: 8 bytes, enabled, its APIC ID the next one. */
	cmp $8, %edx
	jne fail
	testb $1, 4(%r8)
	jz fail
	cmp 3(%r8), %r11b
	jne fail
	inc %r11d
	jmp 7f
5:	cmp $1, %eax
	jne 7f
	/* An I/O APIC: 12 bytes, at its base, GSI base 0. */
	cmp $12, %edx
	jne fail
	cmpl $IOAPIC, 4(%r8)
	jne fail
	cmpl $0, 8(%r8)
	jne fail
	inc %ecx
7:	add %rdx, %r8
	jmp 4b
8:	cmp FAKE_EXPECT_NCPUS(%r13), %r11d
	jne fail
	cmp $1, %ecx
	jne fail
	ret

/* ---- vCPU 1: INIT, SIPI, SIPI, as Linux starts an AP ---- */

/* The testdev's clock (the host's CLOCK_MONOTONIC), in %rax. */
#define NOW mov TD_CLOCK_NS(%r12), %rax

/* Spin for %rdi ns. Clobbers %rax, %rbx. */
delay:
	NOW
	mov %rax, %rbx
1:	pause
	NOW
	sub %rbx, %rax
	cmp %rdi, %rax
	jb 1b
	ret

/* Wait up to %rdi ns for the trampoline's count to be non-zero. Clobbers %rax, %rbx. */
wait_ap:
	NOW
	mov %rax, %rbx
1:	cmpw $0, FAKE_TRAMPOLINE + FAKE_TRAMPOLINE_FLAG
	jne 2f
	pause
	NOW
	sub %rbx, %rax
	cmp %rdi, %rax
	jb 1b
2:	ret

/* Send the IPI %eax (ICR low) to APIC ID 1 and wait (bounded) until it is on its way. */
send_ipi:
	mov $LAPIC, %ebx
	movl $(1 << 24), LAPIC_ICR_HI(%rbx)
	mov %eax, LAPIC_ICR_LO(%rbx)
	mov $1000000, %ecx
1:	testl $ICR_BUSY, LAPIC_ICR_LO(%rbx)
	jz 2f
	pause
	dec %ecx
	jnz 1b
2:	ret

check_ap:
	mov $CHECK_AP_IDLE, %ebp
	lea ap_trampoline(%rip), %rsi
	mov $FAKE_TRAMPOLINE, %edi
	mov $(ap_trampoline_end - ap_trampoline), %ecx
	rep movsb
	movw $0, FAKE_TRAMPOLINE + FAKE_TRAMPOLINE_FLAG
	mov $LAPIC, %ebx
	movl $0x1ff, LAPIC_SVR(%rbx) /* software-enabled, spurious vector 0xff */
	mov $(20 * MS), %edi
	call delay
	cmpw $0, FAKE_TRAMPOLINE + FAKE_TRAMPOLINE_FLAG
	jne fail

	mov $CHECK_AP_INIT, %ebp
	mov $ICR_INIT, %eax
	call send_ipi
	mov $(10 * MS), %edi
	call delay
	cmpw $0, FAKE_TRAMPOLINE + FAKE_TRAMPOLINE_FLAG
	jne fail

	mov $CHECK_AP_SIPI, %ebp
	mov $(ICR_SIPI | FAKE_SIPI_VECTOR), %eax
	call send_ipi
	mov $(MS / 5), %edi
	call wait_ap
	mov $(ICR_SIPI | FAKE_SIPI_VECTOR), %eax
	call send_ipi
	mov $(2000 * MS), %edi
	call wait_ap
	mov $(20 * MS), %edi /* a second start would show by now */
	call delay
	cmpw $1, FAKE_TRAMPOLINE + FAKE_TRAMPOLINE_FLAG
	jne fail
	ret

/*
 * What vCPU 1 runs, copied to FAKE_TRAMPOLINE: real mode, CS = the SIPI vector << 8, IP 0.
 * It counts its start in the page (at FAKE_TRAMPOLINE_FLAG, past its 14 bytes) and halts
 * with interrupts off.
 */
	.code16
ap_trampoline:
	mov %cs, %ax
	mov %ax, %ds
	lock incw FAKE_TRAMPOLINE_FLAG
1:	cli
	hlt
	jmp 1b
ap_trampoline_end:
	.code64

/* ---- data ---- */
	.balign 8
entries:	.long 0
mp_cpu_bad:	.long 0
mp_ioapics:	.long 0
mp_ioapic_bad:	.long 0
kernel_end:	.quad 0
cmd_addr:	.quad 0
cmd_len:	.quad 0
rd_addr:	.quad 0
rd_len:		.quad 0

	.balign 16
stack:	.skip 4096
stack_top:
