/* SPDX-License-Identifier: MIT */
/* x86.h - the page-table, control-register and EFER bits both boot states set (boot_x86.c,
 * linux.c). */
#ifndef VMMI_BOOT_X86_H
#define VMMI_BOOT_X86_H

#define PTE_P  0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

#define CR0_PE	       0x1ull
#define CR0_MP	       0x2ull
#define CR0_ET	       0x10ull
#define CR0_NE	       0x20ull
#define CR0_WP	       0x10000ull
#define CR0_PG	       0x80000000ull
#define CR4_PAE	       0x20ull
#define CR4_OSFXSR     0x200ull
#define CR4_OSXMMEXCPT 0x400ull
#define EFER_LME       0x100ull
#define EFER_LMA       0x400ull

#endif /* VMMI_BOOT_X86_H */
