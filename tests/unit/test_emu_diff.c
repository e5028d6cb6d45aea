/* SPDX-License-Identifier: MIT */
/*
 * test_emu_diff.c - differential test: generated guests run on emu and kvm must
 * give devices the same accesses, and end with the same registers and RAM.
 */
#include <criterion/criterion.h>

#include "unit.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/guest.h"
#include "vmm/vmm.h"

/*
 * Each seed makes one short guest: registers loaded with random values, then
 * a random sequence of arithmetic on registers and of loads, stores and
 * read-modify-writes of 1, 2, 4 and 8 bytes, aligned or not, to RAM (across
 * a page boundary too), to the window of a device taking 1, 2 and 4-byte
 * accesses (emu: Unicorn's MMIO callbacks), to the window of a device taking
 * 8-byte accesses too (emu: a memory hook), and across both ends of each
 * window. Both backends run it to its HLT; the ordered log of what the
 * devices saw, the registers, the data RAM and the unclaimed count must be
 * equal.
 *
 * Left out, as documented differences (libvmm(3)): 8-byte accesses at or
 * near the narrow device's window (emu gives the device two 4-byte halves,
 * kvm refuses the access whole), and device accesses that cross a page
 * (the windows lie inside one page).
 *
 * LIBVMM_DIFF_SEEDS=N runs N seeds (default 300; about 2 ms each, so keep N
 * under 20000 for the suite's 60 s), LIBVMM_DIFF_SEED0=S starts
 * at seed S; LIBVMM_DIFF_VERBOSE=1 prints each differing seed's guest.
 */

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define DATA	 0x200000ull
#define DATA_LEN 0x2000ull     /* two pages */
#define NBASE	 0xfe000100ull /* narrow device: 1, 2, 4-byte accesses */
#define NLEN	 0x80ull
#define WBASE	 0xfe010100ull /* wide device: 1, 2, 4, 8-byte accesses */
#define WLEN	 0x80ull
#define OPS	 24
#define LOG_MAX	 64

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
static const int data_regs[] = {RBX, RCX, RDX, RSI, RDI, R8, R9, R10, R11, R12, R13, R14};
#define NDATA (sizeof(data_regs) / sizeof(data_regs[0]))

/* ---- the recording devices ---- */

struct dlog {
	uint8_t dev, size, write;
	uint64_t off, value;
};

struct dside {
	struct dlog log[LOG_MAX];
	unsigned n;
	uint64_t reads; /* answers depend on how many reads came before */
};

/* The side running now: each backend's VM is run alone, on this thread. */
static struct dside *cur;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static int drec_create(const struct vmm_host_services *host, struct vmm_host *ctx,
		       const struct vmm_device_info *info, void **state)
{
	*state = (void *)(uintptr_t)(info->base == WBASE);
	return 0;
}

static void drec_log(void *state, uint64_t off, uint32_t size, bool write, uint64_t value)
{
	if (cur->n < LOG_MAX)
		cur->log[cur->n] =
		    (struct dlog){(uint8_t)(uintptr_t)state, (uint8_t)size, write, off, value};
	cur->n++;
}

static int drec_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	*value = mix(offset * 131 + size * 7 + cur->reads++ + ((uintptr_t)state << 20));
	drec_log(state, offset, size, false, *value);
	return 0;
}

static int drec_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	drec_log(state, offset, size, true, value);
	return 0;
}

static const struct vmm_plugin_desc narrow_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "diff-narrow",
    .description = "logs accesses of 1, 2 or 4 bytes",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4,
    .min_length = 1,
    .create = drec_create,
    .read = drec_read,
    .write = drec_write,
};

static const struct vmm_plugin_desc wide_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "diff-wide",
    .description = "logs accesses of 1, 2, 4 or 8 bytes",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8,
    .min_length = 1,
    .create = drec_create,
    .read = drec_read,
    .write = drec_write,
};

/* ---- the guest generator ---- */

struct gen {
	uint8_t b[2048];
	size_t n;
	uint64_t rng;
	char text[4096]; /* what the guest does, for a report */
	size_t tn;
};

static uint64_t rnd(struct gen *g)
{
	g->rng = mix(g->rng);
	return g->rng;
}

static unsigned below(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

static void emit(struct gen *g, const void *p, size_t n)
{
	cr_assert_leq(g->n + n, sizeof(g->b));
	memcpy(g->b + g->n, p, n);
	g->n += n;
}

static void emit1(struct gen *g, unsigned byte)
{
	uint8_t b = (uint8_t)byte;

	emit(g, &b, 1);
}

static void note(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (g->tn >= sizeof(g->text))
		return;
	va_start(ap, fmt);
	k = vsnprintf(g->text + g->tn, sizeof(g->text) - g->tn, fmt, ap);
	va_end(ap);
	if (k > 0)
		g->tn += (size_t)k;
	if (g->tn > sizeof(g->text))
		g->tn = sizeof(g->text);
}

static void movabs(struct gen *g, int reg, uint64_t imm)
{
	emit1(g, 0x48 | (reg >> 3));
	emit1(g, 0xb8 + (reg & 7));
	emit(g, &imm, 8);
}

/* op [r15], reg of size bytes: opcode8 for 1 byte, opcode for the others. */
static void mem_op(struct gen *g, unsigned opcode8, unsigned opcode, unsigned size, int reg)
{
	if (size == 2)
		emit1(g, 0x66);
	emit1(g, 0x41 | (size == 8 ? 8 : 0) | ((reg >> 3) << 2));
	emit1(g, size == 1 ? opcode8 : opcode);
	emit1(g, ((reg & 7) << 3) | 7); /* mod 00, rm r15 */
}

/* Loads zero-extend: movzx for 1 and 2 bytes, mov for 4 and 8. */
static void load_op(struct gen *g, unsigned size, int reg)
{
	emit1(g, 0x41 | (size == 8 ? 8 : 0) | ((reg >> 3) << 2));
	if (size <= 2) {
		emit1(g, 0x0f);
		emit1(g, size == 1 ? 0xb6 : 0xb7);
	} else {
		emit1(g, 0x8b);
	}
	emit1(g, ((reg & 7) << 3) | 7);
}

static void reg_reg(struct gen *g, unsigned opcode, int dst, int src)
{
	emit1(g, 0x48 | ((src >> 3) << 2) | (dst >> 3));
	emit1(g, opcode);
	emit1(g, 0xc0 | ((src & 7) << 3) | (dst & 7));
}

static int pick_reg(struct gen *g)
{
	return data_regs[below(g, NDATA)];
}

/* An address of the chosen target for an access of size bytes. */
static uint64_t pick_addr(struct gen *g, unsigned *size, const char **what)
{
	static const unsigned sizes[] = {1, 2, 4, 8};
	unsigned t = below(g, 8);

	*size = sizes[below(g, 4)];
	if (t < 2) {
		*what = "ram";
		return DATA + below(g, (unsigned)(DATA_LEN - *size + 1));
	}
	if (t < 5) {
		/* The narrow window and 4 bytes either side: no 8-byte accesses here. */
		if (*size == 8)
			*size = 4;
		*what = "narrow";
		return NBASE - 4 + below(g, (unsigned)(NLEN + 8 - *size + 1));
	}
	*what = "wide";
	return WBASE - 8 + below(g, (unsigned)(WLEN + 16 - *size + 1));
}

static void generate(struct gen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->rng = seed * 0x2545f4914f6cdd1dull + 1;
	for (size_t i = 0; i < NDATA; i++)
		movabs(g, data_regs[i], rnd(g));
	for (unsigned i = 0; i < OPS; i++) {
		unsigned kind = below(g, 10), size;
		int r = pick_reg(g), s = pick_reg(g);
		const char *what;
		uint64_t addr;

		if (kind < 3) {
			static const unsigned ops[] = {0x01, 0x29, 0x31}; /* add, sub, xor */
			static const char *const names[] = {"add", "sub", "xor"};
			unsigned k = below(g, 4);

			if (k < 3) {
				reg_reg(g, ops[k], r, s);
				note(g, "%s r%d, r%d; ", names[k], r, s);
			} else {
				uint8_t n = (uint8_t)(1 + below(g, 63));

				emit1(g, 0x48 | (r >> 3)); /* rol r, n */
				emit1(g, 0xc1);
				emit1(g, 0xc0 | (r & 7));
				emit1(g, n);
				note(g, "rol r%d, %u; ", r, n);
			}
			continue;
		}
		addr = pick_addr(g, &size, &what);
		movabs(g, R15, addr);
		if (kind < 6) {
			mem_op(g, 0x88, 0x89, size, r);
			note(g, "st%u %s 0x%llx <- r%d; ", size, what, (unsigned long long)addr, r);
		} else if (kind < 9) {
			load_op(g, size, r);
			note(g, "ld%u %s 0x%llx -> r%d; ", size, what, (unsigned long long)addr, r);
		} else {
			mem_op(g, 0x00, 0x01, size, r); /* add [r15], r: a read, then a write */
			note(g, "add%u %s 0x%llx += r%d; ", size, what, (unsigned long long)addr,
			     r);
		}
	}
	reg_reg(g, 0x01, R8,
		R9); /* the last flags all defined (rol and imul leave some undefined) */
	emit1(g, 0xf4);
}

/* ---- running one guest on one backend ---- */

struct side {
	enum vmm_accel accel;
	struct vmm_vm *vm;
	uint8_t *low;
	struct dside dev;
	struct vmm_exit ex;
	uint8_t data[DATA_LEN];
	uint64_t unclaimed;
};

/* One VM per backend, reused by every seed (a VM costs more than a short guest). */
static int side_open(struct side *s, enum vmm_accel accel)
{
	struct vmm_device_config n = {
	    .size = sizeof(n),
	    .name = "narrow",
	    .space = VMM_SPACE_MMIO,
	    .base = NBASE,
	    .length = NLEN,
	};
	struct vmm_device_config w = {
	    .size = sizeof(w),
	    .name = "wide",
	    .space = VMM_SPACE_MMIO,
	    .base = WBASE,
	    .length = WLEN,
	};
	struct vmm_vm_options opts;
	int ret;

	memset(s, 0, sizeof(*s));
	s->accel = accel;
	s->ex.size = sizeof(s->ex);
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	opts.unclaimed = VMM_UNCLAIMED_IGNORE;
	ret = vmm_vm_create(&opts, &s->vm);
	if (ret < 0)
		return ret;
	OK(vmm_memslot_alloc(s->vm, "low", 0, LOW_SIZE, (void **)&s->low));
	OK(vmm_device_add(s->vm, &narrow_desc, &n, NULL));
	OK(vmm_device_add(s->vm, &wide_desc, &w, NULL));
	OK(vmm_vcpu_create(s->vm, 0, NULL));
	return 0;
}

static void side_run(struct side *s, const struct gen *g)
{
	struct vmm_vm_stats st0 = VMM_VM_STATS_INIT, st1 = VMM_VM_STATS_INIT;

	memset(&s->dev, 0, sizeof(s->dev));
	memset(s->low + DATA, 0x5a, DATA_LEN);
	memcpy(s->low + ENTRY, g->b, g->n);
	OK(vmm_boot_setup(s->vm, ENTRY));
	OK(vmm_vm_get_stats(s->vm, &st0));
	cur = &s->dev;
	OK(vmm_vcpu_run(vmm_vcpu_get(s->vm, 0), &s->ex));
	cur = NULL;
	OK(vmm_vm_get_stats(s->vm, &st1));
	s->unclaimed = st1.unclaimed - st0.unclaimed;
	memcpy(s->data, s->low + DATA, DATA_LEN);
}

/* ---- comparing ---- */

static int first_diff(const struct side *a, const struct side *b, char *why, size_t len)
{
	const uint64_t *ra = &a->ex.regs.rax, *rb = &b->ex.regs.rax;
	static const char *const names[] = {"rax", "rbx", "rcx", "rdx", "rsi", "rdi",
					    "rsp", "rbp", "r8",	 "r9",	"r10", "r11",
					    "r12", "r13", "r14", "r15", "rip"};

	if (a->ex.reason != VMM_EXIT_HLT || b->ex.reason != VMM_EXIT_HLT)
		return snprintf(why, len, "exits: emu %s (%s), kvm %s (%s)",
				vmm_exit_reason_name(a->ex.reason), a->ex.detail,
				vmm_exit_reason_name(b->ex.reason), b->ex.detail);
	if (a->dev.n != b->dev.n)
		return snprintf(why, len, "device accesses: emu %u, kvm %u", a->dev.n, b->dev.n);
	for (unsigned i = 0; i < a->dev.n && i < LOG_MAX; i++) {
		const struct dlog *x = &a->dev.log[i], *y = &b->dev.log[i];

		if ((x->dev != y->dev || x->size != y->size || x->write != y->write ||
		     x->off != y->off || x->value != y->value))
			return snprintf(why, len,
					"access %u: emu %s %s+0x%llx size %u value 0x%llx, "
					"kvm %s %s+0x%llx size %u value 0x%llx",
					i, x->write ? "write" : "read", x->dev ? "wide" : "narrow",
					(unsigned long long)x->off, x->size,
					(unsigned long long)x->value, y->write ? "write" : "read",
					y->dev ? "wide" : "narrow", (unsigned long long)y->off,
					y->size, (unsigned long long)y->value);
	}
	/* struct vmm_regs: rax..r15 and rip in this order, then rflags (see vmm.h). */
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ra[i] != rb[i])
			return snprintf(why, len, "%s: emu 0x%llx, kvm 0x%llx", names[i],
					(unsigned long long)ra[i], (unsigned long long)rb[i]);
	if ((a->ex.regs.rflags ^ b->ex.regs.rflags) & 0x8d5)
		return snprintf(why, len, "rflags: emu 0x%llx, kvm 0x%llx",
				(unsigned long long)a->ex.regs.rflags,
				(unsigned long long)b->ex.regs.rflags);
	for (size_t i = 0; i < DATA_LEN; i++)
		if (a->data[i] != b->data[i])
			return snprintf(why, len, "RAM at 0x%llx: emu 0x%02x, kvm 0x%02x",
					(unsigned long long)(DATA + i), a->data[i], b->data[i]);
	if (a->unclaimed != b->unclaimed)
		return snprintf(why, len, "unclaimed accesses: emu %llu, kvm %llu",
				(unsigned long long)a->unclaimed, (unsigned long long)b->unclaimed);
	return 0;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static struct side emu_side, kvm_side;

static void diff_fini(void)
{
	vmm_vm_destroy(emu_side.vm);
	vmm_vm_destroy(kvm_side.vm);
	emu_side.vm = kvm_side.vm = NULL;
}

TestSuite(emu_diff, .fini = diff_fini, .timeout = 60);

Test(emu_diff, generated_guests_agree_on_emu_and_kvm)
{
	uint64_t nseeds = env_u64("LIBVMM_DIFF_SEEDS", 300),
		 seed0 = env_u64("LIBVMM_DIFF_SEED0", 1);
	bool verbose = env_u64("LIBVMM_DIFF_VERBOSE", 0) != 0;
	uint64_t agree = 0, first_bad = 0;
	char why[256], first_why[256] = "";
	static struct gen g;
	int ret;

	/* The struct vmm_regs layout first_diff() relies on. */
	cr_assert_eq(offsetof(struct vmm_regs, rip), 16 * sizeof(uint64_t));
	ret = side_open(&kvm_side, VMM_ACCEL_KVM);
	if (ret < 0)
		cr_skip_test("no kvm to compare with: %s (%s)", vmm_strerror(ret),
			     vmm_last_error());
	OK(side_open(&emu_side, VMM_ACCEL_EMU));
	for (uint64_t seed = seed0; seed < seed0 + nseeds; seed++) {
		generate(&g, seed);
		side_run(&emu_side, &g);
		side_run(&kvm_side, &g);
		if (!first_diff(&emu_side, &kvm_side, why, sizeof(why))) {
			agree++;
			continue;
		}
		if (!first_bad) {
			first_bad = seed;
			snprintf(first_why, sizeof(first_why), "%s", why);
		}
		if (verbose)
			fprintf(stderr, "seed %llu: %s\n  guest: %s\n", (unsigned long long)seed,
				why, g.text);
	}
	fprintf(stderr, "emu_diff: %llu of %llu seeds (from %llu) agree on emu and kvm\n",
		(unsigned long long)agree, (unsigned long long)nseeds, (unsigned long long)seed0);
	cr_expect_eq(
	    agree, nseeds,
	    "%llu of %llu seeds differ; the first, seed %llu: %s "
	    "(rerun with LIBVMM_DIFF_SEED0=%llu LIBVMM_DIFF_SEEDS=1 LIBVMM_DIFF_VERBOSE=1)",
	    (unsigned long long)(nseeds - agree), (unsigned long long)nseeds,
	    (unsigned long long)first_bad, first_why, (unsigned long long)first_bad);
}
