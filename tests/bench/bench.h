/* SPDX-License-Identifier: MIT */
/* bench.h - libvmm's benchmark: rows, interleaved samples, the guests and their boot state. */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/vmm.h"

/*
 * Every row compares a libvmm path (A) with a baseline (B) that does the same
 * work without libvmm: raw KVM ioctls or a bare Unicorn engine, running the
 * same guest bytes in the same boot state. A sample runs one side once (a
 * guest that makes many exits, or one whole VM lifecycle) and is timed as a
 * whole; its cost per operation is elapsed / ops. Samples of A and B
 * alternate (A B B A A B ...), so drift in the machine hits both alike, and a
 * row reports the ratio of the medians, A / B (B / A for throughput).
 */

/* Guest-physical layout shared by the rows. */
#define BENCH_RAM_SIZE (16ull << 20) /* the RAM slot at GPA 0; the boot area is at its top */
#define BENCH_ENTRY    0x100000ull   /* guest code */
#define BENCH_BUF      0x200000ull   /* the compute loop's 64 KiB buffer */
#define BENCH_DEV_BASE 0xfe000000ull /* the no-op device's MMIO window */
#define BENCH_DEV_LEN  0x1000ull
#define BENCH_PORT     0x510 /* and its PIO window */
#define BENCH_NPORTS   8

/* The lifecycle and memory rows' RAM: one 64 MiB slot. */
#define BENCH_VM_RAM_SIZE (64ull << 20)

/* Command-line knobs. */
struct bench_opts {
	bool quick;	    /* smoke mode: few, short samples; checks that every row runs */
	const char *only;   /* run only rows whose id contains one of these comma-separated words */
	const char *json;   /* also write the results here */
	const char *plugin; /* the no-op device plugin (1, 2 and 4-byte accesses) */
	char plugin8[4096]; /* its twin that takes 8-byte accesses too: nulldev8.so beside it */
	unsigned samples;   /* if not 0, samples per side for every row */
};
extern struct bench_opts bench_opts;

/* ---- measuring ---- */

/* What clock the samples use; bench_meter_init() picks it. */
const char *bench_counter_name(void);
bool bench_have_cycles(void);

/*
 * One side of a row: run one sample, return the number of operations it
 * performed (exits, VMs, loop iterations), or a negative errno with the
 * reason in bench_fail().
 */
typedef long (*bench_sample_fn)(void *ctx);

/* Summary of one side's samples, per operation. */
struct bench_stats {
	double median, p10, p99;
	bool valid;
};

enum bench_status {
	BENCH_RAN,
	BENCH_SKIPPED, /* reason says why (vmm_accel_probe(): no /dev/kvm, a backend left out) */
	BENCH_ERROR,   /* reason says what failed; the program then exits 1 */
};

struct bench_row {
	const char *id;	    /* "mmio-kvm": what --only matches */
	const char *figure; /* "MMIO exit round trip" */
	const char *accel;  /* "kvm" or "emu" */
	const char *unit;   /* "ns/exit"; with cycle counters the table says "cycles/exit" */
	const char *target; /* "<= 1.05x", or "report" */
	double max_ratio;   /* the target, if > 0: ratio must not exceed it */
	double min_ratio;   /* ... or not fall below it (throughput rows) */
	double max_abs;	    /* if > 0, a limit on the libvmm median in unit (ns with cycles too) */
	bool throughput;    /* ratio is baseline / libvmm (higher is better) */

	/* Filled by the run. */
	enum bench_status status;
	char reason[400];
	struct bench_stats a, b;       /* libvmm, baseline: in the primary unit */
	struct bench_stats a_ns, b_ns; /* the same in ns (equal to a, b without cycle counters) */
	double ratio;		       /* 0 if there is none */
	unsigned samples;	       /* per side */
	unsigned long ops;	       /* per sample */
	char iterations[48];	       /* how the table says it, if not samples x ops */
	char note[640];
};

/* Per-sample setting of a row: how many samples per side, how many ops per sample. */
unsigned bench_samples(unsigned full);

/*
 * Interleave samples of a (libvmm) and b (baseline): one warm-up each, then
 * samples pairs. Fills row->a, b, ratio, samples, ops. Returns 0 or the
 * first sample's error (row->status is then BENCH_ERROR).
 */
int bench_compare(struct bench_row *row, unsigned samples, bench_sample_fn a, void *actx,
		  bench_sample_fn b, void *bctx);

/* Record why the row failed (printf-style); returns -1 for `return bench_fail(...)`. */
int bench_fail(struct bench_row *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The row cannot run here. */
void bench_skip(struct bench_row *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append to row->note. */
void bench_note(struct bench_row *row, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The sample functions' way to report a failure: a message kept until the row ends. */
long bench_sample_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* NULL if kvm is usable here, else why not (vmm_accel_probe()'s text). */
const char *bench_kvm_missing(void);

/* Resident set size of this process, in bytes (/proc/self/statm). */
uint64_t bench_rss(void);

/* ---- memory charged to a cgroup (memcg.c) ---- */

#define BENCH_MEMCG_PATH 1536

/* A memory cgroup made for one measurement: a child of this process's own. */
struct bench_memcg {
	int version; /* 1 or 2 */
	char dir[BENCH_MEMCG_PATH];
};

/* What the cgroup is charged, in bytes. */
struct bench_memcg_usage {
	uint64_t total;	 /* v1 memory.usage_in_bytes, v2 memory.current: user and kernel */
	uint64_t kernel; /* v1 memory.kmem.usage_in_bytes, v2 memory.stat "kernel" */
	bool have_kernel;
};

/*
 * Make the cgroup (v1's memory hierarchy if mounted, else v2's). Returns 0,
 * or -1 with why set (not mounted, not writable, no memory controller).
 */
int bench_memcg_create(struct bench_memcg *cg, char *why, size_t len);
/* Move the calling process into it. Returns 0 or a negative errno. */
int bench_memcg_join(const struct bench_memcg *cg);
int bench_memcg_read(const struct bench_memcg *cg, struct bench_memcg_usage *u);
/* Remove it, once no process is left in it. */
void bench_memcg_remove(struct bench_memcg *cg);

/* ---- guests (guest.c): raw x86-64 code placed at BENCH_ENTRY ---- */

#define BENCH_CODE_MAX 128

/* n stores of ecx to [addr] (addr below 4 GiB), then hlt. Returns the length. */
size_t bench_code_mmio(uint8_t *code, uint64_t addr, uint32_t n);
/* n `out dx, eax` to port, then hlt. */
size_t bench_code_pio(uint8_t *code, uint16_t port, uint32_t n);
/* n rounds of xorshift64 adding into a 64 KiB buffer at BENCH_BUF, then hlt. */
size_t bench_code_compute(uint8_t *code, uint32_t n);
/* hlt. */
size_t bench_code_hlt(uint8_t *code);

/*
 * The boot state of guest.h for one vCPU, written the way vmm_boot_setup()
 * writes it for a VM whose RAM and windows lie below 4 GiB (GDT and TSS, an
 * identity map of 4 GiB in 2 MiB pages, a stack) at the top of ram, which
 * the guest sees at GPA 0. The baselines boot their guests with it; so does
 * the dispatch row, whose VMs have more slots and windows than boot info
 * lists (vmm_boot_setup() refuses those). Boot info is not written: no
 * benchmark guest reads it.
 */
void bench_boot_write(uint8_t *ram, uint64_t ram_size, uint64_t entry, struct vmm_sregs *sregs,
		      struct vmm_regs *regs);

/*
 * Check that bench_boot_write() gives what vmm_boot_setup() gives (registers,
 * GDT, TSS and page tables) on an emu VM. Returns 0, or -1 with why in msg.
 */
int bench_boot_check(char *msg, size_t len);

/* ---- libvmm VMs as the rows use them (vmmvm.c) ---- */

struct bench_vm {
	struct vmm_vm *vm;
	struct vmm_vcpu *vcpu;
	uint8_t *ram;	       /* BENCH_RAM_SIZE bytes at GPA 0 */
	struct vmm_regs regs0; /* the registers each sample starts from */
	unsigned long ops;     /* what one run does */
};

/* Which no-op device windows a bench VM gets. */
#define BENCH_DEV_MMIO	1u
#define BENCH_DEV_PIO	2u
#define BENCH_DEV_MMIO8 4u /* the MMIO window's device takes 8-byte accesses (nulldev8.so) */

/* The start of every bench VM: unclaimed accesses stop it, BENCH_RAM_SIZE of RAM at 0. */
int bench_vm_base(struct bench_vm *b, enum vmm_accel accel, unsigned long ops);

/*
 * A VM on accel with BENCH_RAM_SIZE of RAM at 0, the no-op plugin at
 * BENCH_DEV_BASE and/or BENCH_PORT (devs), one vCPU, code at BENCH_ENTRY and
 * the boot state of vmm_boot_setup(). Returns 0 or a negative errno (detail
 * in vmm_last_error()).
 */
int bench_vm_open(struct bench_vm *b, enum vmm_accel accel, unsigned devs, const uint8_t *code,
		  size_t len, unsigned long ops);
void bench_vm_close(struct bench_vm *b);
/* A sample: reset the registers and run to the guest's hlt. Returns b->ops. */
long bench_vm_sample(void *b);

/* A lifecycle sample: create a VM on *(enum vmm_accel *)accel, a 64 MiB slot, a vCPU, the boot
 * state; run to the first hlt; destroy. Returns 1. */
long bench_vmm_lifecycle(void *accel);

/* Add the no-op plugin's window to vm; wide: the twin that takes 8-byte accesses. */
int bench_add_nulldev(struct vmm_vm *vm, const char *name, uint32_t space, uint64_t base,
		      uint64_t len, bool wide);

/* ---- the rows ---- */

/* rows_kvm.c: raw-ioctl baselines. */
void bench_row_mmio_kvm(struct bench_row *row);
void bench_row_pio_kvm(struct bench_row *row);
void bench_row_lifecycle_kvm(struct bench_row *row);
void bench_row_msi_kvm(struct bench_row *row);
void bench_row_irqline_kvm(struct bench_row *row);
/* rows_emu.c: bare-Unicorn baselines. */
void bench_row_mmio_emu(struct bench_row *row);
void bench_row_mmio8_emu(struct bench_row *row);
void bench_row_pio_emu(struct bench_row *row);
void bench_row_lifecycle_emu(struct bench_row *row);
void bench_row_compute_emu(struct bench_row *row);
void bench_row_compute8_emu(struct bench_row *row);
void bench_row_layout_emu(struct bench_row *row);
void bench_row_msi_emu(struct bench_row *row);
void bench_row_timer_emu(struct bench_row *row);
/* rows_vmm.c: libvmm against itself, either backend. */
void bench_row_dispatch(struct bench_row *row, enum vmm_accel accel);
void bench_row_memory(struct bench_row *row, enum vmm_accel accel);

#endif /* BENCH_H */
