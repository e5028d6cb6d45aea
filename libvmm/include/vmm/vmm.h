/* SPDX-License-Identifier: MIT */
/* vmm.h - the libvmm embedding API: VMs, memslots, devices, vCPUs, run and stop. */
#ifndef VMM_VMM_H
#define VMM_VMM_H

/*
 * Conventions, for every function below unless it says otherwise:
 *   - Returns 0 (or a count) on success and a negative errno on failure.
 *     vmm_strerror() names the errno; vmm_last_error() gives the detail of the
 *     latest failure on the calling thread ("memslot [0x1000, 0x3000)
 *     overlaps slot 'low'", "plugin.so: no symbol vmm_plugin_entry").
 *   - Pointers are borrowed for the duration of the call unless the comment
 *     says the library keeps or takes them.
 *   - The library never prints, exits or aborts; messages go to the log
 *     callback of struct vmm_vm_options.
 *   - Every function's comment has a "Thread-safety:" line: from which
 *     threads it may be called and what it may run concurrently with. The
 *     words used there:
 *     "any thread": no restriction; it touches only its arguments, state
 *       of the calling thread, or what stays fixed while the VM lives.
 *     "configuration": the VM is built (memslots, devices, vCPUs,
 *       registers, firmware) from one thread at a time, while no vCPU runs
 *       and no other thread calls into the VM.
 *     "live": also while vmm_vm_run() or vmm_vcpu_run() runs, from any
 *       thread, concurrently with the runs, vmm_vm_stop(), the guest memory
 *       copies and each other (layout changes take turns). A layout change
 *       (memslot add, remove, move, remap and dirty logging; device add,
 *       remove and move) pauses every vCPU at an instruction boundary,
 *       applies the change, and lets them go on; the guest cannot tell,
 *       except by what it then sees at the changed addresses. Not from a
 *       vCPU thread of the VM inside a run (a device callback): that vCPU
 *       could never pause, so it fails with -EDEADLK; nor from the VM's log
 *       callback while it reports on a layout change (-EDEADLK too).
 *     "unlocked query": any thread, but it reads the VM's tables without a
 *       lock, so not while another thread changes what it reads.
 *     No call on a VM may overlap or follow vmm_vm_destroy() of it.
 *
 * Size tags: a struct the library fills in the caller's memory (struct
 * vmm_exit, vmm_vm_stats, vmm_device_stats, vmm_memslot_info, vmm_translation)
 * starts with size_t size (struct_size in vmm_memslot_info), which the
 * caller sets to the sizeof of the struct it was compiled with, as the
 * VMM_*_INIT macros do: struct vmm_exit ex = VMM_EXIT_INIT; (in C++ before
 * C++20, which has no designated initializers: vmm_exit ex{}; ex.size =
 * sizeof(ex);). The library then writes only the first size bytes and never
 * the size field itself, so it can grow these structs by appending fields:
 * a program built against an older, smaller struct gets the fields it knows
 * and nothing past them, and a larger struct from a newer header reads zero
 * in the fields this library does not know. A size that does not cover the
 * struct's first field after size (0, say: a struct left zero-filled) is
 * refused with -EINVAL, and the struct is not touched. A struct the caller
 * passes in (struct vmm_vm_options, vmm_device_config) carries the same tag,
 * and the library reads only its first size bytes.
 *
 * Address model: a memslot maps guest-physical range [gpa, gpa + size) to
 * host memory [hva, hva + size). A GPA that no memslot backs is not memory:
 * the guest's access exits to the VMM and is dispatched to the device whose
 * window contains it. An access nothing claims is "unclaimed": reads return
 * all-ones, writes are dropped, and it is logged (or, with
 * VMM_UNCLAIMED_STOP, the VM stops with VMM_EXIT_UNCLAIMED).
 *
 * Backends: VMM_ACCEL_KVM runs the guest on /dev/kvm. VMM_ACCEL_EMU runs it
 * on Unicorn, a software CPU; it behaves the same for the guest but is NOT a
 * security boundary: do not run untrusted guests on it.
 */

#include <stddef.h>
#include <stdint.h>

#include "vmm/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * VMM_MUST_CHECK marks a function whose result says whether it did its job
 * or filled its out-parameters: a caller that ignores it has a bug, and GCC
 * and clang say so (-Wunused-result, on by default; a (void) cast does not
 * silence GCC). Pure getters and void functions do not carry it. Define
 * VMM_NO_MUST_CHECK before including this header to turn it off.
 */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(VMM_NO_MUST_CHECK)
#define VMM_MUST_CHECK __attribute__((warn_unused_result))
#else
#define VMM_MUST_CHECK
#endif

#define VMM_VERSION_MAJOR  0
#define VMM_VERSION_MINOR  4
#define VMM_VERSION_PATCH  0
#define VMM_VERSION_STRING "0.4.0"

/*
 * The library's version as "MAJOR.MINOR.PATCH" (may differ from the header's).
 * Thread-safety: any thread.
 */
const char *vmm_version(void);

/*
 * A static, human-readable description of a negative errno returned by libvmm.
 * Thread-safety: any thread.
 */
const char *vmm_strerror(int err);

/*
 * Detail of the latest failed libvmm call on this thread, or "" if none.
 * Valid until the next libvmm call on this thread. A failure on a thread
 * the library created (vmm_vm_run()'s vCPU threads) is copied to the thread
 * that called vmm_vm_run() when it returns the error.
 * Thread-safety: any thread; each thread reads its own detail.
 */
const char *vmm_last_error(void);

/*
 * The backends. A build may leave one out (./configure --disable-emu or
 * --disable-kvm): its name still parses, and asking for it fails with a
 * message that says so.
 */
enum vmm_accel {
	VMM_ACCEL_AUTO = 0, /* the first built-in backend this host can run: kvm, then emu */
	VMM_ACCEL_KVM = 1,
	VMM_ACCEL_EMU = 2,
};

/*
 * "auto", "kvm", "emu"; NULL for an unknown value.
 * Thread-safety: any thread.
 */
const char *vmm_accel_name(enum vmm_accel accel);
/*
 * Parse "auto", "kvm" or "emu". Returns 0 or -EINVAL.
 * Thread-safety: any thread.
 */
int vmm_accel_parse(const char *name, enum vmm_accel *out) VMM_MUST_CHECK;

/*
 * Can this host run accel, and with this build? Returns 0 if vmm_vm_create()
 * would get that far, else -ENOTSUP (the backend is not built in), -ENODEV
 * (auto: none usable) or the negative errno of the check that failed (kvm:
 * opening /dev/kvm). why (may be NULL when len is 0) receives, either way, a
 * NUL-terminated phrase saying so: "/dev/kvm is usable", "/dev/kvm:
 * Permission denied", "backend emu is not built in (./configure
 * --disable-emu)"; for VMM_ACCEL_AUTO the text vmm_vm_accel_reason() would
 * give. Opens and closes /dev/kvm for kvm; creates nothing.
 * Thread-safety: any thread.
 */
int vmm_accel_probe(enum vmm_accel accel, char *why, size_t len);

enum vmm_unclaimed_policy {
	VMM_UNCLAIMED_IGNORE = 0, /* reads all-ones, writes dropped, logged; guest continues */
	VMM_UNCLAIMED_STOP = 1,	  /* the VM stops with VMM_EXIT_UNCLAIMED */
};

/*
 * Log sink. msg is one line without a trailing newline, valid during the call
 * only. Called from whichever thread logs (vCPU threads included), so it must
 * be thread-safe. level is VMM_LOG_* (plugin.h).
 */
typedef void (*vmm_log_fn)(void *opaque, int level, const char *msg);

struct vmm_vm_options {
	size_t size; /* sizeof(struct vmm_vm_options): set by the caller */
	enum vmm_accel accel;
	enum vmm_unclaimed_policy unclaimed;
	vmm_log_fn log; /* NULL: no messages */
	void *log_opaque;
	/* highest VMM_LOG_* passed to log; VMM_LOG_TRACE: a line per device or unclaimed access */
	int log_level;
	/*
	 * Ignored. It fills what was the padding at the end of the first
	 * version of this struct (40 bytes on LP64, log_level its last field),
	 * so that opts->size tells the fields added later from that padding.
	 */
	int pad0;
	/*
	 * The signal the kvm backend sends a vCPU thread to take it out of the
	 * guest. A program built against a header without it passes a smaller
	 * opts->size and gets the default. 0: the default, SIGRTMIN + 6.
	 * Otherwise SIGUSR1, SIGUSR2 or SIGRTMIN .. SIGRTMAX (-EINVAL for any
	 * other, on either backend). Reserve it for libvmm on the threads
	 * that run vCPUs. The library installs a handler that does nothing
	 * (no SA_RESTART) when the VM is created if the signal's disposition
	 * is SIG_DFL or SIG_IGN; a handler of the program's own stays and is
	 * then called on vCPU threads at each kick.
	 * vmm_vcpu_run() unblocks it on the calling thread for the run only and
	 * restores the caller's signal mask before it returns. The emu backend
	 * sends no signal and only checks the value. See libvmm(3), THREADS.
	 */
	int kick_signal;
};

/*
 * Fill *opts with defaults: accel auto, unclaimed ignore, no log, level
 * VMM_LOG_WARN, kick_signal 0 (SIGRTMIN + 6).
 * Thread-safety: any thread (it writes *opts only).
 */
void vmm_vm_options_init(struct vmm_vm_options *opts);

struct vmm_vm;
struct vmm_vcpu;
struct vmm_device;

/*
 * Create an empty VM (no memory, devices or vCPUs). opts may be NULL for the
 * defaults; only its first opts->size bytes are read. A backend asked for
 * that this host cannot run (kvm without a usable /dev/kvm), or that the
 * build left out, gives -ENODEV, and vmm_last_error() says why and what to
 * try ("backend kvm is not usable: /dev/kvm: Permission denied (try accel =
 * emu)"); so does auto when no backend is usable. An opts->kick_signal
 * libvmm cannot use gives -EINVAL.
 * On success *out owns the VM: free it with vmm_vm_destroy().
 * Thread-safety: any thread, concurrently with calls on other VMs and with
 * other vmm_vm_create() calls (the kick signal's handler is installed under a
 * lock).
 */
int vmm_vm_create(const struct vmm_vm_options *opts, struct vmm_vm **out) VMM_MUST_CHECK;

/*
 * Destroy a VM: its vCPUs, devices (destroy() is called), plugins and the
 * memory it allocated. Accepts NULL. Host memory passed to
 * vmm_memslot_add() stays the caller's.
 * Thread-safety: any thread, once no other call on this VM runs or can start:
 * not while a vmm_vm_run() or vmm_vcpu_run() of it runs (stop it and let them
 * return first), not from its device or log callbacks, not concurrently with
 * any other call on it, vmm_vm_stop() included.
 */
void vmm_vm_destroy(struct vmm_vm *vm);

/*
 * The backend in use: VMM_ACCEL_KVM or VMM_ACCEL_EMU, never AUTO.
 * Thread-safety: any thread, any time while the VM lives.
 */
enum vmm_accel vmm_vm_accel(const struct vmm_vm *vm);

/*
 * Why vm has its backend, one line owned by vm: "auto: /dev/kvm is usable",
 * "auto: /dev/kvm: Permission denied, using emu", or, for a backend asked
 * for by name, "asked for: " and what its check found.
 * Thread-safety: any thread, any time while the VM lives.
 */
const char *vmm_vm_accel_reason(const struct vmm_vm *vm);

/* ---- Memslots ---- */

/*
 * Slots per VM at most: x86 KVM's KVM_CAP_NR_MEMSLOTS on recent kernels
 * (older ones report 509). vmm_memslot_max() says what this VM's backend
 * allows.
 */
#define VMM_MEMSLOT_MAX 32764

/* Memslot flags: vmm_memslot_add_flags(), struct vmm_memslot_info. */
#define VMM_MEMSLOT_READONLY  (1u << 0) /* ROM / flash: guest writes exit (see below) */
#define VMM_MEMSLOT_LOG_DIRTY (1u << 1) /* record the pages written: vmm_memslot_get_dirty() */

struct vmm_memslot_info {
	/*
	 * sizeof(struct vmm_memslot_info): set by the caller (the size tag, see
	 * above). Not called size like the others: size was already the slot's
	 * size, and code written before the tag must not read one as the other.
	 */
	size_t struct_size;
	uint64_t gpa;
	uint64_t size;
	void *hva;
	const char *name; /* valid until the next memslot add, remove or move */
	uint32_t flags;	  /* VMM_MEMSLOT_* */
};
/* clang-format off */
#define VMM_MEMSLOT_INFO_INIT { .struct_size = sizeof(struct vmm_memslot_info) }
/* clang-format on */

/*
 * How many memslots this VM can hold: KVM_CAP_NR_MEMSLOTS on kvm (at most
 * VMM_MEMSLOT_MAX), 1024 on emu. Lookups by GPA are O(log n).
 * Thread-safety: any thread, any time while the VM lives.
 */
int vmm_memslot_max(const struct vmm_vm *vm);

/*
 * Back guest-physical [gpa, gpa + size) with host memory [hva, hva + size).
 * gpa, size and hva must be page aligned (4 KiB) and size non-zero. The range
 * may not wrap, overlap another slot or overlap an MMIO device window.
 * The memory stays the caller's and must stay mapped until the slot is removed
 * or the VM destroyed. name (may be NULL) is copied. While the VM runs too:
 * the guest sees the memory from the vCPUs' next instruction on.
 * Errors: -EINVAL (zero size, misalignment), -ERANGE (range wraps or exceeds
 * the guest-physical address width), -EEXIST (overlaps a slot or window),
 * -ENOSPC (no free slot; on emu also a layout too large for the emulator),
 * -EDEADLK (from a device callback).
 * Thread-safety: live (see Conventions): any thread, also while the VM runs,
 * concurrently with the runs, vmm_vm_stop(), the guest memory copies and the
 * other layout changes (they take turns); not from a device callback of this VM
 * or its log callback during a layout change (-EDEADLK); not concurrently with
 * the configuration calls or the unlocked queries.
 */
int vmm_memslot_add(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
		    void *hva) VMM_MUST_CHECK;

/*
 * vmm_memslot_add() with flags (VMM_MEMSLOT_*). While the VM runs too.
 *
 * VMM_MEMSLOT_READONLY: the guest reads and runs code from the memory, and
 * its writes do not change it: each write exits and is dispatched like an
 * access to unbacked space, to the MMIO device whose window covers the
 * address (a flash controller, say) or else to the unclaimed policy. So a
 * device window may overlap a read-only slot (never a writable one); it
 * then receives the writes only. The host, and devices through mem_write,
 * may write the memory. kvm: KVM_MEM_READONLY (-EOPNOTSUPP where KVM lacks
 * KVM_CAP_READONLY_MEM). emu: see libvmm(3) for the one difference.
 * vmm_boot_setup() never puts the boot area in a read-only slot.
 *
 * VMM_MEMSLOT_LOG_DIRTY: start with dirty logging on (vmm_memslot_set_dirty_log()).
 *
 * Errors as vmm_memslot_add(), and -EINVAL for unknown flags.
 * Thread-safety: live, as vmm_memslot_add().
 */
int vmm_memslot_add_flags(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
			  void *hva, uint32_t flags) VMM_MUST_CHECK;

/*
 * Like vmm_memslot_add(), but the VM allocates zeroed host memory for the slot
 * (anonymous, reserved lazily) and frees it on destroy. *hva (may be NULL)
 * receives its address.
 * Thread-safety: live, as vmm_memslot_add().
 */
int vmm_memslot_alloc(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
		      void **hva) VMM_MUST_CHECK;
/*
 * vmm_memslot_alloc() with flags, as vmm_memslot_add_flags().
 * Thread-safety: live, as vmm_memslot_add().
 */
int vmm_memslot_alloc_flags(struct vmm_vm *vm, const char *name, uint64_t gpa, uint64_t size,
			    uint32_t flags, void **hva) VMM_MUST_CHECK;

/*
 * Dirty-page logging of the slot that starts at gpa. Turning it on clears
 * the record; from then on every 4 KiB page the guest writes (its vCPUs,
 * devices through mem_write, vmm_guest_write()) is recorded, until it is
 * turned off. Host writes through the slot's host memory directly are not
 * seen. While the VM runs too. kvm: KVM_MEM_LOG_DIRTY_PAGES. emu: the slot
 * is write-protected in the software MMU and each guest write marks its
 * page, so only logged slots pay for it (their writes take Unicorn's slow
 * path); no other slot is slowed.
 * Errors: -ENOENT (no slot starts at gpa), -EDEADLK (from a device callback).
 * Thread-safety: live, as vmm_memslot_add().
 */
int vmm_memslot_set_dirty_log(struct vmm_vm *vm, uint64_t gpa, int enable) VMM_MUST_CHECK;

/*
 * Fetch and clear the dirty record of the slot that starts at gpa: bit i of
 * bitmap[i / 64] is set if page i of the slot (at gpa + i * 4096) was
 * written since logging was turned on or since the previous fetch. On kvm
 * a page the guest only read may be set too (KVM records the pages it maps
 * writable); a written page is never missing.
 * bitmap has words entries, at least (size / 4096 + 63) / 64; bits past the
 * slot's end are zero. A page written while the fetch runs is in this
 * bitmap or the next one, never lost.
 * Errors: -ENOENT, -EINVAL (logging is off, bitmap NULL or too small).
 * Thread-safety: any thread, device callbacks included, while the VM runs and
 * its layout changes too (it holds the layout still for reading); not from the
 * log callback during a layout change (-EDEADLK).
 */
int vmm_memslot_get_dirty(struct vmm_vm *vm, uint64_t gpa, uint64_t *bitmap,
			  size_t words) VMM_MUST_CHECK;

/*
 * Remove the slot that starts at gpa. -ENOENT if none does. While the VM
 * runs too: from the vCPUs' next instruction on, guest accesses to the old
 * range exit (device or unclaimed policy); no translation of it survives,
 * code included. If the VM allocated the memory, it is freed once no vCPU
 * or device can reach it.
 * Thread-safety: live, as vmm_memslot_add().
 */
int vmm_memslot_remove(struct vmm_vm *vm, uint64_t gpa) VMM_MUST_CHECK;

/*
 * Move the slot that starts at gpa so that it backs [new_gpa, new_gpa + size)
 * with the same host memory, name and ownership. From the next run on the
 * guest sees the same bytes at new_gpa, and its accesses to the old range
 * exit like those to any unbacked GPA (device or unclaimed policy); no old
 * translation survives. The new range is checked as by vmm_memslot_add(),
 * except that it may overlap the slot's own old range. On failure the slot
 * stays where it was, for the guest too. While the VM runs too (the vCPUs
 * pause around the move).
 * Errors: -ENOENT (no slot starts at gpa), -EINVAL (new_gpa misaligned),
 * -ERANGE, -EEXIST (overlaps another slot or an MMIO window), -EDEADLK.
 * Thread-safety: live, as vmm_memslot_add().
 */
int vmm_memslot_move(struct vmm_vm *vm, uint64_t gpa, uint64_t new_gpa) VMM_MUST_CHECK;

/*
 * Back the slot that starts at gpa with host memory new_hva (page aligned,
 * the slot's size) instead. From the next run on the guest reads and writes
 * new_hva, never the old memory, and runs code from it. new_hva stays the
 * caller's, with the rules of vmm_memslot_add(); if the old memory came from
 * vmm_memslot_alloc() the VM frees it now. On failure the slot keeps its old
 * memory. While the VM runs too: the vCPUs pause around the switch, and the
 * old memory is no longer touched by any vCPU or device once this returns.
 * Errors: -ENOENT, -EINVAL (new_hva NULL or misaligned), -EDEADLK.
 *
 * The other supported way to change what backs a slot: while the VM is not
 * running (between vmm_vcpu_run() or vmm_vm_run() calls), map new pages over
 * the slot's existing host range, e.g. mmap(MAP_FIXED) of a memfd or of
 * anonymous memory; the range must stay mapped. The guest sees the new
 * contents at its next access. kvm: the kernel's MMU notifiers tell KVM, which
 * drops its stale GPA->HPA translations before the guest runs again. emu:
 * Unicorn reads and writes through the host address, so data is never stale,
 * and each run drops the code translated from RAM, so the new code runs.
 * While the VM runs, use vmm_memslot_remap() instead: code a vCPU already
 * translated on emu would outlive an mmap() behind its back.
 * Thread-safety: live, as vmm_memslot_add().
 */
int vmm_memslot_remap(struct vmm_vm *vm, uint64_t gpa, void *new_hva) VMM_MUST_CHECK;

/*
 * Number of slots; then fetch slot i (sorted by gpa) into *info, whose
 * struct_size the caller sets (VMM_MEMSLOT_INFO_INIT; see "Size tags").
 * -ENOENT past the end, -EINVAL for a struct_size too small. They read the
 * table unlocked: not while another thread changes it.
 * Thread-safety: unlocked query: any thread, while the VM runs too, but not
 * concurrently with a memslot add, remove, move, remap or dirty-log change
 * (vmm_translate() may be).
 */
int vmm_memslot_count(const struct vmm_vm *vm);
int vmm_memslot_get(const struct vmm_vm *vm, int i, struct vmm_memslot_info *info) VMM_MUST_CHECK;

/*
 * Checked translation: the host address of guest-physical [gpa, gpa + len),
 * which must lie wholly inside one slot (len 0 is treated as 1).
 * Returns 0, or -EFAULT if any byte of the range is not backed by that slot.
 * The pointer is valid until that slot is removed, moved or remapped: a
 * thread that may race such a change uses vmm_guest_read()/write() instead.
 * Thread-safety: unlocked query: any thread, while the VM runs too, but not
 * concurrently with a memslot change.
 */
int vmm_gpa_to_hva(const struct vmm_vm *vm, uint64_t gpa, uint64_t len, void **hva) VMM_MUST_CHECK;

/*
 * Copy between guest RAM and host buffers; same range rules as
 * vmm_gpa_to_hva() (-EFAULT), except that len 0 copies nothing and returns 0.
 * This is also what devices' mem_read/mem_write do. Any thread: a copy and
 * a layout change never overlap. vmm_guest_write() may write read-only
 * slots (it is the host) and marks the pages of a logged slot dirty.
 * Thread-safety: any thread, device callbacks included, while the VM runs and
 * its layout changes too (a copy and a change take turns); not from the log
 * callback during a layout change (-EDEADLK). Running vCPUs may access the same
 * bytes meanwhile: the copy is not atomic with respect to the guest.
 */
int vmm_guest_read(const struct vmm_vm *vm, uint64_t gpa, void *buf, uint64_t len) VMM_MUST_CHECK;
int vmm_guest_write(struct vmm_vm *vm, uint64_t gpa, const void *buf, uint64_t len) VMM_MUST_CHECK;

/* What a guest-physical address is, for struct vmm_translation.kind. */
enum vmm_xlate_kind {
	VMM_XLATE_UNCLAIMED = 0, /* no memslot backs it and no MMIO window claims it */
	VMM_XLATE_RAM = 1,	 /* inside a memslot: slot, hva and the hpa fields are set */
	VMM_XLATE_DEVICE = 2,	 /* inside an MMIO device window: the device fields are set */
};

/* Whether struct vmm_translation.hpa holds the host-physical address. */
enum vmm_hpa_status {
	VMM_HPA_NONE = 0,	 /* not RAM: there is no host page */
	VMM_HPA_OK = 1,		 /* hpa is valid (at the time of the call) */
	VMM_HPA_NOT_PRESENT = 2, /* no host page yet (never touched) or swapped out */
	VMM_HPA_UNAVAILABLE = 3, /* /proc/self/pagemap cannot say: see hpa_error */
};

#define VMM_XLATE_NAME_MAX 32 /* bytes of a name in struct vmm_translation, with the NUL */

struct vmm_translation {
	size_t size;  /* sizeof(struct vmm_translation): set by the caller */
	uint64_t gpa; /* the address asked about */
	int kind;     /* enum vmm_xlate_kind */

	/* VMM_XLATE_RAM: the memslot and the host addresses behind gpa. */
	char slot[VMM_XLATE_NAME_MAX]; /* the slot's name ("" if unnamed) */
	uint64_t slot_gpa, slot_size;  /* the slot's guest-physical range */
	void *hva;		       /* host-virtual address of gpa */
	int hpa_status;		       /* enum vmm_hpa_status */
	/* VMM_HPA_UNAVAILABLE: positive errno; EPERM = PFNs hidden (no CAP_SYS_ADMIN) */
	int hpa_error;
	uint64_t hpa; /* VMM_HPA_OK: host-physical address of gpa */

	/* VMM_XLATE_DEVICE: the device whose window contains gpa (names truncated). */
	char device[VMM_XLATE_NAME_MAX]; /* instance name */
	char model[VMM_XLATE_NAME_MAX];	 /* the model's descriptor name */
	uint32_t space;			 /* VMM_SPACE_MMIO */
	uint64_t device_base, device_length;

	/*
	 * VMM_XLATE_RAM: the slot's VMM_MEMSLOT_* flags. A read-only slot's
	 * writes go to the device whose window covers gpa: then the device
	 * fields above name it too (else they are zero: writes are unclaimed).
	 */
	uint32_t slot_flags;
};

/*
 * Explain guest-physical address gpa the way the hardware resolves it: the
 * memslot that backs it and the host-virtual address (found in O(log n)),
 * then the host-physical address the host page tables give that HVA (read
 * from /proc/self/pagemap); or, if no slot backs it, the MMIO device window
 * that claims it; or neither (unclaimed). A debugging and teaching aid: the
 * HPA is a snapshot, and the host may move or swap the page at any moment.
 * A page the guest never touched has no HPA yet (VMM_HPA_NOT_PRESENT), and
 * since Linux 4.0 the kernel hides HPAs from processes without
 * CAP_SYS_ADMIN (VMM_HPA_UNAVAILABLE, hpa_error EPERM).
 * The caller sets out->size to sizeof(struct vmm_translation) (the least it
 * takes is the first version's, which ended before slot_flags); fields that
 * do not apply to the kind are zero, and so are any bytes past this
 * version's struct up to out->size (a later, larger struct reads zero in the
 * fields this library does not know).
 * Returns 0 for every gpa (the kind says what it is), or -EINVAL (NULL
 * argument, out->size too small; *out is then untouched).
 * Thread-safety: any thread, device callbacks included, while the VM runs and
 * its layout changes too; not from the log callback during a layout change
 * (-EDEADLK).
 */
int vmm_translate(const struct vmm_vm *vm, uint64_t gpa,
		  struct vmm_translation *out) VMM_MUST_CHECK;

/* ---- Devices ---- */

struct vmm_device_param {
	const char *key;
	const char *value;
	/*
	 * Where the key was written, for messages; may be NULL. A relative path
	 * the model reads with param_path() (plugin ABI 1.2) hangs off this
	 * file's folder (else the device's file's, else the working directory).
	 */
	const char *file;
	unsigned line;
};

struct vmm_device_config {
	size_t size;			       /* sizeof(struct vmm_device_config) */
	const char *name;		       /* instance name, unique in the VM */
	uint32_t space;			       /* VMM_SPACE_MMIO or VMM_SPACE_PIO */
	uint64_t base;			       /* GPA or port */
	uint64_t length;		       /* window length in bytes (ports for PIO) */
	const struct vmm_device_param *params; /* keys for the model's param() */
	size_t nparams;
	const char *file; /* where the device was declared, for messages; may be NULL */
	unsigned line;
	/*
	 * Its interrupt lines: I/O APIC pins 0 .. VMM_GUEST_IOAPIC_PINS - 1, in
	 * the order the model numbers them (vmm-plugin(7)); may be shared
	 * with other devices. A config's `irq = 4, 9`. Appended in 0.3: a
	 * caller built against 0.2 has a smaller size, and no lines.
	 */
	const uint32_t *irqs;
	size_t nirqs;
};

/*
 * Create a device instance of model desc and claim its window. desc must stay
 * valid until the VM is destroyed (it usually is static). The window may not
 * overlap another window of the same space, nor (MMIO) a writable memslot
 * (over a read-only one it receives the writes); PIO windows
 * must lie inside 0 .. 0xffff. The model's create() runs now; its
 * param_error()s and unused keys make this fail with -EINVAL and a
 * "file:line: ..." detail. *out (may be NULL) is owned by the VM.
 * Errors: -EINVAL, -EEXIST (overlap or duplicate name), -EPROTO (bad desc),
 * -ERANGE (PIO window past 0xffff, MMIO window past the 512 GiB identity
 * map), or what create() returned. While the VM runs too (the vCPUs pause
 * while the window is claimed; create() runs before that, unpaused), but
 * not from a device callback (-EDEADLK).
 * Thread-safety: live, as vmm_memslot_add(): create() runs on the calling
 * thread before the vCPUs pause, while they run.
 */
int vmm_device_add(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
		   const struct vmm_device_config *cfg, struct vmm_device **out) VMM_MUST_CHECK;

/*
 * Like vmm_device_add(), but first dlopen()s the plugin at path and takes its
 * descriptor from the VMM_PLUGIN_ENTRY_SYMBOL export. The VM keeps the shared
 * object open until it is destroyed. Give a path with a '/' (see
 * vmm_plugin_find()); a bare name would be searched by dlopen()'s own rules.
 * Errors name the file: -ENOENT (no such file), -ENOEXEC (not loadable, no
 * entry symbol, or it returned NULL), -EPROTO (wrong ABI
 * version or too small a descriptor), or what create() returned.
 * Thread-safety: live, as vmm_device_add().
 */
int vmm_device_add_plugin(struct vmm_vm *vm, const char *path, const struct vmm_device_config *cfg,
			  struct vmm_device **out) VMM_MUST_CHECK;

/*
 * Resolve a plugin name to a path. A name containing '/' is returned as is.
 * Otherwise each directory of the colon-separated search_path is tried for
 * NAME.so. Returns 0 and writes the path to buf, or -ENOENT.
 * Thread-safety: any thread (it only looks at files).
 */
int vmm_plugin_find(const char *name, const char *search_path, char *buf,
		    size_t buflen) VMM_MUST_CHECK;

/*
 * The folder the bundled device plugins (uart16550.so, testdev.so) are
 * installed in: the PLUGINDIR this library was built with (./configure
 * --plugindir, by default LIBDIR/libvmm/plugins; pkg-config --variable=plugindir
 * libvmm names the same). vmm-run searches it last; an embedder may end its
 * own search path for vmm_plugin_find() with it. The folder need not exist
 * (a library used from its build tree is not installed yet).
 * Returns a static string, never NULL; the caller must not free it.
 * Thread-safety: any thread.
 */
const char *vmm_plugin_dir(void);

struct vmm_device_stats {
	size_t size; /* sizeof(struct vmm_device_stats): set by the caller (size tag, see above) */
	uint64_t reads;	 /* guest reads the model answered */
	uint64_t writes; /* guest writes the model accepted */
};
/* clang-format off */
#define VMM_DEVICE_STATS_INIT { .size = sizeof(struct vmm_device_stats) }
/* clang-format on */

/*
 * Give up dev's window and destroy the device: from the vCPUs' next
 * instruction on, accesses there are unclaimed (or go to a slot or device
 * added there later). The model's destroy() runs once no vCPU can call into
 * it; dev is freed. A plugin's shared object stays loaded until the VM is
 * destroyed. While the VM runs too; not from a device callback (-EDEADLK).
 * Thread-safety: live, as vmm_memslot_add(); and not concurrently with any
 * other call on dev, which it frees.
 */
int vmm_device_remove(struct vmm_device *dev) VMM_MUST_CHECK;

/*
 * Move dev's window to start at new_base, keeping its length, its space and
 * the model's state (a PCI BAR being reprogrammed, say): from the vCPUs'
 * next instruction on the device answers at new_base + offset, with the
 * same offsets, and the old window is unclaimed. The new window is checked
 * as by vmm_device_add(); on failure nothing changes. While the VM runs
 * too; not from a device callback (-EDEADLK).
 * Errors: -EINVAL, -ERANGE, -EEXIST (overlap), -EDEADLK.
 * Thread-safety: live, as vmm_memslot_add(); not concurrently with
 * vmm_device_window() or vmm_device_remove() of dev.
 */
int vmm_device_move(struct vmm_device *dev, uint64_t new_base) VMM_MUST_CHECK;

/*
 * Counters of one device into *stats, whose size the caller sets
 * (VMM_DEVICE_STATS_INIT; see "Size tags"; -EINVAL if too small). Values may
 * lag a running vCPU.
 * Thread-safety: any thread, device callbacks included, while the VM runs too;
 * not concurrently with vmm_device_remove() of dev.
 */
int vmm_device_get_stats(const struct vmm_device *dev,
			 struct vmm_device_stats *stats) VMM_MUST_CHECK;

/*
 * The device's name, model name and window; strings valid while the VM lives.
 * Thread-safety: any thread while dev exists; vmm_device_window() not
 * concurrently with vmm_device_move() of dev.
 */
const char *vmm_device_name(const struct vmm_device *dev);
const char *vmm_device_model(const struct vmm_device *dev);
int vmm_device_window(const struct vmm_device *dev, uint32_t *space, uint64_t *base,
		      uint64_t *length) VMM_MUST_CHECK;
/*
 * Devices, sorted by space, then base.
 * Thread-safety: unlocked query: any thread, while the VM runs too, but not
 * concurrently with a device add, remove or move.
 */
int vmm_device_count(const struct vmm_vm *vm);
struct vmm_device *vmm_device_get(const struct vmm_vm *vm, int i);

/* ---- Interrupts ---- */

/*
 * The VM's interrupt controllers are those of guest.h: a local APIC per
 * vCPU and one I/O APIC of VMM_GUEST_IOAPIC_PINS pins (its window, named
 * "ioapic", is among the VM's devices), on both backends. Devices raise
 * their lines through the plugin host services (vmm-plugin(7)); a program
 * that models a device itself, without a plugin, uses these.
 *
 * Set I/O APIC pin gsi to level (0 low, else high), as one more source of
 * that pin (the pin's level is the OR of every source's). Errors: -EINVAL
 * (gsi past the last pin).
 * Thread-safety: any thread, while the VM runs too, device callbacks
 * included; never waits for a vCPU or a layout change. Not from a signal
 * handler.
 */
int vmm_irq_set(struct vmm_vm *vm, uint32_t gsi, int level) VMM_MUST_CHECK;
/*
 * Send a message-signalled interrupt (addr in [0xfee00000, 0xfef00000),
 * data: vector, delivery mode, edge trigger; see the plugin's msi_send()).
 * Errors: -EINVAL (bad address or data; the detail says which).
 * Thread-safety: as vmm_irq_set().
 */
int vmm_msi_send(struct vmm_vm *vm, uint64_t addr, uint32_t data) VMM_MUST_CHECK;

/* ---- vCPUs and registers ---- */

struct vmm_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

struct vmm_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type, present, dpl, db, s, l, g, avl;
};

struct vmm_dtable {
	uint64_t base;
	uint16_t limit;
};

struct vmm_sregs {
	struct vmm_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct vmm_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, efer;
};

/*
 * Create vCPU number index (0 .. VMM_GUEST_MAX_VCPUS-1, each once). *out is
 * owned by the VM.
 * Thread-safety: configuration: one thread, while no vCPU of the VM runs
 * (-EBUSY) and no other thread calls into the VM (vmm_vm_stop() and layout
 * changes walk the vCPUs).
 */
int vmm_vcpu_create(struct vmm_vm *vm, unsigned index, struct vmm_vcpu **out) VMM_MUST_CHECK;
/*
 * The number of vCPUs; the vCPU numbered index, or NULL. Owned by the VM.
 * Thread-safety: any thread, while the VM runs too; not concurrently with
 * vmm_vcpu_create().
 */
int vmm_vcpu_count(const struct vmm_vm *vm);
struct vmm_vcpu *vmm_vcpu_get(const struct vmm_vm *vm, unsigned index);

/*
 * Register access.
 * Thread-safety: any thread, one call at a time per vCPU, while that vCPU is
 * not in vmm_vcpu_run(): the setters return -EBUSY then; the getters must not
 * be called then (on kvm they would wait for the run to end, on emu they would
 * race it): read struct vmm_exit's copy instead.
 */
int vmm_vcpu_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *regs) VMM_MUST_CHECK;
int vmm_vcpu_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *regs) VMM_MUST_CHECK;
int vmm_vcpu_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *sregs) VMM_MUST_CHECK;
int vmm_vcpu_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *sregs) VMM_MUST_CHECK;

/* ---- Booting a guest ---- */

/*
 * Load an ELF64 x86-64 executable: copy each PT_LOAD segment into guest RAM
 * at its physical address p_paddr (zeroing its bss). Each segment must lie
 * wholly inside one memslot. The entry point must lie inside an executable
 * segment's physical range (the guest starts on an identity map); *entry
 * receives it. Errors: -ENOENT, -ENOEXEC (not a valid ELF64 x86-64
 * executable, or the entry outside executable code), -EFAULT (a segment
 * outside RAM).
 * Thread-safety: configuration: not while the VM runs (-EBUSY), nor
 * concurrently with any other call on the VM.
 */
int vmm_load_elf(struct vmm_vm *vm, const char *path, uint64_t *entry) VMM_MUST_CHECK;

/*
 * Put every vCPU in the boot state of guest.h: build the boot area (the GDT
 * and TSS, the page tables, each vCPU's boot information and stack) at the
 * top of the lowest writable memslot, the writable memslot with the lowest
 * GPA, and set each vCPU's registers so that it starts at entry. Call it
 * after every memslot, device and vCPU exists (vCPUs numbered 0..n-1) and
 * after vmm_load_elf(); the boot info lists what exists at this moment.
 * Errors: -ENOSPC (every slot is read-only, or the lowest writable slot is
 * too small), -EEXIST (a segment vmm_load_elf() loaded overlaps the boot
 * area), -ERANGE (RAM or a window above the 512 GiB identity map), -E2BIG
 * (more RAM slots or devices than boot info holds), -EINVAL.
 * Thread-safety: configuration, as vmm_load_elf().
 */
int vmm_boot_setup(struct vmm_vm *vm, uint64_t entry) VMM_MUST_CHECK;

/*
 * Boot a Linux kernel instead of a firmware (libvmm(3), LINUX GUESTS): load
 * kernel, an x86 bzImage with boot protocol 2.12 or later and the 64-bit
 * entry (XLF_KERNEL_64), its setup header checked and every size and offset
 * in it checked against the file; place the protected-mode kernel, the
 * initrd (NULL: none) below its limit and the command line (NULL: empty);
 * write the zero page (boot_params) with an e820 map built from the memslots
 * (writable RAM usable; read-only slots, device windows, the APICs and the
 * legacy area [0x9fc00, 0x100000) reserved), ACPI tables (MADT) and MP
 * tables that list every vCPU and the I/O APIC, and page tables and a GDT
 * of its own; then put
 * vCPU 0 at the 64-bit entry with RSI at the zero page, and every other vCPU
 * in the wait-for-SIPI state of a PC. It also makes the keyboard
 * controller's reset (0xfe to port 0x64) end the run with VMM_EXIT_RESET.
 * Call it where vmm_load_elf() and vmm_boot_setup() would go: after every
 * memslot, device and vCPU exists. Writable RAM must start at GPA 0 and
 * reach past the kernel. kvm only: the emu backend has no PC platform for
 * Linux (-ENOTSUP, saying why).
 * Errors: -ENOENT (a file), -ENOEXEC (not a bzImage, or one this loader
 * cannot boot: the detail names the field, its offset and its value),
 * -ENOSPC (RAM missing at 0 or too small for the kernel, initrd or tables),
 * -E2BIG (a command line longer than the kernel takes), -ENOTSUP, -EINVAL.
 * Thread-safety: configuration, as vmm_load_elf().
 */
int vmm_load_linux(struct vmm_vm *vm, const char *kernel, const char *initrd,
		   const char *cmdline) VMM_MUST_CHECK;

/* ---- Running ---- */

enum vmm_exit_reason {
	VMM_EXIT_NONE = 0,
	VMM_EXIT_STOPPED,	 /* vmm_vm_stop() or a device's stop(); exit_code is set */
	VMM_EXIT_HLT,		 /* HLT with interrupts off: the vCPU can never resume */
	VMM_EXIT_SHUTDOWN,	 /* triple fault (kvm) */
	VMM_EXIT_GUEST_FAULT,	 /* a CPU exception the emulator cannot deliver (emu) */
	VMM_EXIT_INTERNAL_ERROR, /* KVM_EXIT_INTERNAL_ERROR, emulation failure */
	VMM_EXIT_FAIL_ENTRY,	 /* the hardware refused to enter the guest */
	VMM_EXIT_UNCLAIMED,	 /* an unclaimed access under VMM_UNCLAIMED_STOP */
	VMM_EXIT_ERROR,		 /* the VMM itself failed (see detail) */
	VMM_EXIT_RESET,		 /* the guest asked for a reset (vmm_load_linux()) */
};

/*
 * "stopped", "hlt", "shutdown", ... ; "unknown" for anything else.
 * Thread-safety: any thread.
 */
const char *vmm_exit_reason_name(enum vmm_exit_reason reason);

struct vmm_exit {
	size_t size; /* sizeof(struct vmm_exit): set by the caller (size tag, see above) */
	enum vmm_exit_reason reason;
	int exit_code; /* for VMM_EXIT_STOPPED */
	unsigned vcpu; /* the vCPU that exited */
	/* backend detail: KVM hardware_entry_failure_reason or suberror, Unicorn uc_err */
	uint64_t hw_code;
	uint64_t address;     /* faulting or unclaimed address, where known */
	char detail[160];     /* a one-line human explanation */
	struct vmm_regs regs; /* the vCPU's registers at the exit */
	struct vmm_sregs sregs;
};
/* clang-format off */
#define VMM_EXIT_INIT { .size = sizeof(struct vmm_exit) }
/* clang-format on */

/*
 * Run one vCPU on the calling thread until an exit libvmm does not handle
 * itself (device and unclaimed accesses are handled inside). Fills *exit,
 * whose size the caller sets (VMM_EXIT_INIT; see "Size tags": a size too
 * small gives -EINVAL before anything runs, and *exit is untouched).
 * Returns 0, or a negative errno if the backend failed (then exit->reason is
 * VMM_EXIT_ERROR). One thread per vCPU. On kvm the VM's kick signal
 * (opts.kick_signal) is unblocked on the calling thread while it runs; the
 * caller's signal mask is restored before this returns.
 * The registers in *exit, and those read afterwards, are where the guest
 * goes on from: on kvm, a device or port access the vCPU stopped at (a stop
 * from the device's callback, a stop from another thread right after it,
 * or an unclaimed access under VMM_UNCLAIMED_STOP) has completed, RIP is
 * past it and a read's destination holds its value (all-ones if
 * unclaimed). emu may leave RIP earlier: see libvmm(3), BACKENDS.
 * Thread-safety: any thread, one at a time per vCPU (another run of the same
 * vCPU, vmm_vm_run()'s included, returns -EBUSY); concurrently with the other
 * vCPUs' runs, vmm_vm_stop(), the live calls and the guest memory copies.
 * Device callbacks and the log callback run on this thread; not from one of
 * them.
 */
int vmm_vcpu_run(struct vmm_vcpu *vcpu, struct vmm_exit *exit) VMM_MUST_CHECK;

/*
 * Run every vCPU, each on a thread the library creates, while the calling
 * thread waits, until the VM stops: a device or vmm_vm_stop() stopped it, any
 * vCPU hit a fatal exit, or every vCPU halted. *exit (its size set by the
 * caller, as for vmm_vcpu_run()) describes the stop if
 * one was requested (exit_code set), else the first fatal exit, else a halt.
 * A fatal exit on one vCPU stops the others. Returns 0, or a negative errno
 * if a backend failed (exit->reason VMM_EXIT_ERROR). A failure on one of the
 * library's threads is reported on the caller's: vmm_last_error() on the
 * calling thread gives that thread's reason, and exit->detail its first
 * bytes (exit->vcpu names the vCPU).
 * The threads start with the caller's signal mask; the caller's own mask
 * is not changed.
 * Thread-safety: any thread, one run of the VM at a time (a vCPU already in a
 * run makes it fail with -EBUSY); concurrently with vmm_vm_stop(), the live
 * calls and the guest memory copies from other threads. Device callbacks and
 * the log callback run on the threads it creates; not from one of them.
 */
int vmm_vm_run(struct vmm_vm *vm, struct vmm_exit *exit) VMM_MUST_CHECK;

/*
 * Ask the VM to stop with exit_code. The first stop wins. The stop lasts
 * until vmm_vm_reset(): every later vmm_vm_run() or vmm_vcpu_run() returns
 * VMM_EXIT_STOPPED at once, with that code.
 * Thread-safety: any thread, device and log callbacks included, concurrently
 * with any call but vmm_vm_destroy() and vmm_vcpu_create(); not from a signal
 * handler (it takes a mutex).
 */
void vmm_vm_stop(struct vmm_vm *vm, int exit_code);

/*
 * Reset the VM to how it was built, like a machine's reset button, so that
 * it can run again (after a stop too) and the guest starts over:
 *   - RAM: the writable memory the VM allocated (vmm_memslot_alloc*()) is
 *     zeroed again, as allocation made it, and what vmm_load_elf() loaded
 *     (the firmware) is written again from a copy taken at load time.
 *     Memory the caller gave (vmm_memslot_add*()) stays the caller's: only
 *     the firmware segments inside it are rewritten, the rest keeps its
 *     contents; restore it yourself if you need to. Read-only slots (ROM,
 *     flash) are left as they are: the guest cannot have written them. So
 *     bytes the caller wrote into allocated RAM (vmm_guest_write(), or
 *     through the host address) are gone: write them again after the
 *     reset. Segments in a slot removed or remapped since the load are not
 *     reloaded; a slot moved since takes them at its new place. Pages of a
 *     slot with dirty logging are reported dirty as written.
 *   - vCPUs: the boot state of guest.h, as vmm_boot_setup() sets it, with
 *     the entry it was last given, for the memslots and devices that exist
 *     now (the boot area and boot info are rebuilt). Registers outside
 *     struct vmm_regs and struct vmm_sregs (FPU, SSE, MSRs other than EFER) are not
 *     reset.
 *   - Devices: each device's reset() (power-on state), in the order they
 *     were added, after RAM and vCPUs; a reset() may use the host
 *     services. Devices without reset() keep their state.
 *   - A stop (vmm_vm_stop(), a device's stop()) is cleared.
 * The layout (memslots, windows, vCPUs) and the counters do not change.
 * Returns 0; -EINVAL (vm NULL, or vmm_boot_setup() never succeeded: there
 * is no boot state to return to); -EBUSY while any vCPU is inside
 * vmm_vcpu_run() or vmm_vm_run(); or what vmm_boot_setup() returns if the
 * layout changed so that the boot area no longer fits (then the VM stays
 * stopped, with RAM reset already).
 * Thread-safety: the configuring thread, with no vCPU running; other
 * threads' guest memory copies and layout changes wait until RAM and vCPUs
 * are reset.
 */
int vmm_vm_reset(struct vmm_vm *vm) VMM_MUST_CHECK;

/* Counters, for -v and tests: vmm_vm_get_stats(). */
struct vmm_vm_stats {
	size_t size;	/* sizeof(struct vmm_vm_stats): set by the caller (size tag, see above) */
	uint64_t exits; /* all exits to the VMM */
	uint64_t mmio_exits;
	uint64_t pio_exits;
	uint64_t unclaimed; /* unclaimed accesses */
};
/* clang-format off */
#define VMM_VM_STATS_INIT { .size = sizeof(struct vmm_vm_stats) }
/* clang-format on */
/*
 * Sum the counters of every vCPU into *stats, whose size the caller sets
 * (VMM_VM_STATS_INIT; see "Size tags"; -EINVAL if too small). Values may
 * lag running vCPUs.
 * Thread-safety: any thread, device callbacks included, while the VM runs too;
 * not concurrently with vmm_vcpu_create().
 */
int vmm_vm_get_stats(const struct vmm_vm *vm, struct vmm_vm_stats *stats) VMM_MUST_CHECK;

/* ---- Configuration files (INI) ---- */

/*
 * A [ram "NAME"] or [rom "NAME"] section: one memslot each, in file order
 * (the two kinds share one list and one namespace). flags is what the slot
 * is added with: VMM_MEMSLOT_READONLY for a [rom] and for a [ram] with
 * readonly = true, else 0. Only a [rom] has a file; its bytes fill the
 * start of the slot and the rest is zero.
 */
struct vmm_config_ram {
	char *name;
	uint64_t gpa;
	uint64_t size;	/* a [rom] without size: its file's size rounded up to 4 KiB */
	unsigned line;	/* of the section header */
	uint32_t flags; /* VMM_MEMSLOT_READONLY for [rom] and readonly = true */
	char *file;	/* [rom] file, resolved against the config's folder; NULL if none */
};

struct vmm_config_device {
	char *name;
	char *plugin; /* as written: a name on the plugin path or a path */
	uint32_t space;
	uint64_t base;
	uint64_t length;
	struct vmm_device_param *params; /* keys for the model */
	size_t nparams;
	unsigned line;
	uint32_t *irqs; /* `irq = 4, 9`: I/O APIC pins */
	size_t nirqs;
};

struct vmm_config {
	char *path; /* the file read */
	enum vmm_accel accel;
	char *firmware; /* resolved against the config file's folder; NULL if none */
	unsigned firmware_line;
	unsigned vcpus;
	uint64_t timeout_ms; /* 0 = none */
	enum vmm_unclaimed_policy unclaimed;
	struct vmm_config_ram *ram;
	size_t nram;
	struct vmm_config_device *devices;
	size_t ndevices;
	/* Line of the [vm] header, 0 if the file has none: where a caller that needs a key the
	 * library leaves optional (vmm-run and firmware) points its message. */
	unsigned vm_line;
	/* [vm] kernel, initrd (resolved against the config file's folder) and cmdline, for
	 * vmm_load_linux(); NULL if not set. kernel and firmware exclude each other. */
	char *kernel;
	unsigned kernel_line;
	char *initrd;
	unsigned initrd_line;
	char *cmdline;
};

/*
 * Parse and check an INI file (format: vmm.ini(5)): syntax, keys and values;
 * where memory and windows lie is vmm_vm_create_from_config()'s to check
 * (libvmm(3), Address layout). On success *out owns the
 * result: free it with vmm_config_free(). On failure returns -EINVAL (or the
 * open's errno) and vmm_last_error() is "file:line: what is wrong".
 * Thread-safety: any thread, concurrently with any call (each parse has its own
 * state).
 */
int vmm_config_load(const char *path, struct vmm_config **out) VMM_MUST_CHECK;
/*
 * Same, from a string; name is used in messages.
 * Thread-safety: any thread, as vmm_config_load().
 */
int vmm_config_parse_string(const char *text, const char *name,
			    struct vmm_config **out) VMM_MUST_CHECK;
/*
 * Free what vmm_config_load() or vmm_config_parse_string() returned. Accepts
 * NULL.
 * Thread-safety: any thread, once no other thread uses cfg.
 */
void vmm_config_free(struct vmm_config *cfg);

/*
 * Build a ready-to-run VM from cfg: allocate each RAM and ROM slot with its
 * flags and fill a ROM from its file (read again now, at most the slot's
 * size: a file that grew since the parse is an error), load plugins
 * (resolved with vmm_plugin_find() against plugin_path), create devices and
 * vCPUs, and, if cfg->firmware is set, load it and set up the boot state
 * (without firmware the caller loads code and calls vmm_boot_setup()). opts (may be NULL)
 * gives the log sink; opts->accel is used unless it is AUTO, in which case
 * cfg->accel decides; the unclaimed policy always comes from cfg. The
 * timeout is not applied: cfg->timeout_ms is for the caller to enforce.
 * Errors as the calls it makes, with "file:line: ..." details (a memory
 * range or window that breaks a layout rule: the line of its section).
 * Thread-safety: any thread, as vmm_vm_create(); cfg is only read, so several
 * threads may build VMs from one cfg at once.
 */
int vmm_vm_create_from_config(const struct vmm_config *cfg, const struct vmm_vm_options *opts,
			      const char *plugin_path, struct vmm_vm **out) VMM_MUST_CHECK;

#ifdef __cplusplus
}
#endif

#endif /* VMM_VMM_H */
