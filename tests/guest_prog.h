/* SPDX-License-Identifier: MIT */
/*
 * guest_prog.h - tiny machine-code guests for unit tests that run
 * on both backends: a kvm-twin macro and a minimal assembler.
 */
#ifndef TESTS_GUEST_PROG_H
#define TESTS_GUEST_PROG_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "vmm/vmm.h"

/* Skip the calling test, with the reason, where this build or host cannot run kvm. */
static inline void need_kvm(void)
{
	char why[256];

	if (vmm_accel_probe(VMM_ACCEL_KVM, why, sizeof(why)) < 0)
		cr_skip_test("kvm: %s", why);
}

/*
 * One body per behaviour, run on emu in suite_emu and (where kvm is
 * usable) on kvm in suite_kvm: spec_NAME(accel). A build without emu
 * skips the emu twin when it creates its VM (tests/unit/left_out.c).
 */
#define TWIN_TESTS(suite_emu, suite_kvm, name)                                                     \
	static void spec_##name(enum vmm_accel accel);                                             \
	Test(suite_emu, name)                                                                      \
	{                                                                                          \
		spec_##name(VMM_ACCEL_EMU);                                                        \
	}                                                                                          \
	Test(suite_kvm, name)                                                                      \
	{                                                                                          \
		need_kvm();                                                                        \
		spec_##name(VMM_ACCEL_KVM);                                                        \
	}                                                                                          \
	static void spec_##name(enum vmm_accel accel)

struct prog {
	uint8_t b[256];
	size_t n;
};

enum reg { RCX = 1, RDX = 2, RBX = 3 };

static inline void emit(struct prog *p, const void *bytes, size_t len)
{
	cr_assert_leq(p->n + len, sizeof(p->b));
	memcpy(p->b + p->n, bytes, len);
	p->n += len;
}

static inline void emit32(struct prog *p, uint8_t opcode, uint32_t imm)
{
	emit(p, &opcode, 1);
	emit(p, &imm, 4);
}

/* mov eax, gpa; mov reg, [rax] */
static inline void load(struct prog *p, enum reg r, uint32_t gpa)
{
	emit32(p, 0xb8, gpa);
	emit(p, (uint8_t[]){0x48, 0x8b, (uint8_t)(r << 3)}, 3);
}

/* mov eax, gpa; mov qword [rax], imm (sign-extended) */
static inline void store(struct prog *p, uint32_t gpa, uint32_t imm)
{
	emit32(p, 0xb8, gpa);
	emit(p, (uint8_t[]){0x48, 0xc7, 0x00}, 3);
	emit(p, &imm, 4);
}

static inline void hlt(struct prog *p)
{
	emit(p, (uint8_t[]){0xf4}, 1);
}

/* mov edx, 1: a sign that the guest went on */
static inline void went_on(struct prog *p)
{
	emit32(p, 0xba, 1);
}

/* mov eax, gpa; jmp rax */
static inline void jump(struct prog *p, uint32_t gpa)
{
	emit32(p, 0xb8, gpa);
	emit(p, (uint8_t[]){0xff, 0xe0}, 2);
}

#endif
