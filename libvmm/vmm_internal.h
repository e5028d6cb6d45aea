/* SPDX-License-Identifier: MIT */
/*
 * vmm_internal.h - the one internal header every libvmm
 * source includes: core structures and the backend interface.
 */
#ifndef VMM_INTERNAL_H
#define VMM_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/guest.h"
#include "vmm/plugin.h"
#include "vmm/vmm.h"

/* Internal symbols with external linkage all start with vmmi_. */

#define VMMI_PAGE_SIZE 4096ull
#define VMMI_PAGE_MASK (VMMI_PAGE_SIZE - 1)
/* Guest-physical address width we accept (x86-64 MAXPHYADDR we promise). */
#define VMMI_GPA_LIMIT (1ull << 46)
/* Top of the identity map we can build with one PDPT of 1 GiB entries. */
#define VMMI_IDENTITY_MAX (512ull << 30)

#define VMMI_WARN_UNUSED  __attribute__((warn_unused_result))
#define VMMI_FORMAT(a, b) __attribute__((format(printf, a, b)))

/* Bytes of vmm_last_error()'s text, with the NUL (longer details are cut). */
#define VMMI_ERROR_MAX 512

/* Set the thread's vmm_last_error() text and return err (negative errno). */
int vmmi_error(int err, const char *fmt, ...) VMMI_FORMAT(2, 3);
void vmmi_clear_error(void);

struct vmm_vm;
struct vmmi_origin;

/*
 * pthread calls return 0 or an errno value, and none is ignored.
 * VMMI_PT(call, what) turns a failure into a negative errno and the detail
 * "what: call failed: reason"; VMMI_PT_LOG(vm, call, what) also sends that
 * to vm's log at VMM_LOG_ERROR (vm may be NULL), for paths that have no
 * caller to return it to.
 */
int vmmi_pthread_failed(const struct vmm_vm *vm, int err, const char *call, const char *what);
#define VMMI_PT(call, what)                                                                        \
	({                                                                                         \
		int vmmi_pt_err_ = (call);                                                         \
		vmmi_pt_err_ ? vmmi_pthread_failed(NULL, vmmi_pt_err_, #call, (what)) : 0;         \
	})
#define VMMI_PT_LOG(vm, call, what)                                                                \
	({                                                                                         \
		int vmmi_pt_err_ = (call);                                                         \
		vmmi_pt_err_ ? vmmi_pthread_failed((vm), vmmi_pt_err_, #call, (what)) : 0;         \
	})

/* True if [off, off + len) lies inside [0, size), without overflow. */
static inline bool vmmi_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return len <= size && off <= size - len;
}

/* ---- size-tagged structs the caller allocates (core/sized.c; vmm.h, "Size tags") ---- */

/*
 * The smallest size tag a struct accepts: through its first field after
 * size. A caller's struct of any later version is at least that large.
 */
#define VMMI_SIZE_MIN(type, first) (offsetof(type, first) + sizeof(((type *)0)->first))
/* 0 if size >= min, else -EINVAL and a detail naming what ("vmm_vm_get_stats: stats") and the type.
 */
int vmmi_size_check(size_t size, size_t min, const char *what, const char *type) VMMI_WARN_UNUSED;
/*
 * Copy ours, a complete struct of len bytes (this library's version), to
 * out, whose tag is size (checked already): the first size bytes, never the
 * tag itself; bytes of a larger caller struct past len become zero.
 */
void vmmi_size_copy_out(void *out, size_t size, const void *ours, size_t len);

/* ---- memslot table (core/slots.c) ---- */

struct vmmi_slot {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	char name[VMM_GUEST_NAME_MAX];
	uint32_t id;	/* backend slot number, stable while the slot lives */
	uint32_t flags; /* VMM_MEMSLOT_READONLY, VMM_MEMSLOT_LOG_DIRTY */
	bool owned;	/* hva was mmap()ed by the VM: munmap on remove */
	/*
	 * With VMM_MEMSLOT_LOG_DIRTY: one bit per page written since the last
	 * fetch, set from any thread (emu vCPUs, device DMA, host writes);
	 * owned by the slot, freed with vmmi_slot_release(). NULL otherwise.
	 */
	_Atomic uint64_t *dirty;
};

/* Words of a dirty bitmap for size bytes: one bit per page. */
static inline size_t vmmi_dirty_words(uint64_t size)
{
	return (size_t)((size / VMMI_PAGE_SIZE + 63) / 64);
}

/* Mark the pages of [off, off + len) dirty (len > 0, inside the slot). */
static inline void vmmi_dirty_mark(_Atomic uint64_t *bm, uint64_t off, uint64_t len)
{
	for (uint64_t p = off / VMMI_PAGE_SIZE; p <= (off + len - 1) / VMMI_PAGE_SIZE; p++)
		atomic_fetch_or_explicit(&bm[p / 64], 1ull << (p % 64), memory_order_relaxed);
}

/* Sorted by gpa, non-overlapping. */
struct vmmi_slot_table {
	struct vmmi_slot *slots;
	size_t n, cap;
	size_t max; /* slots this VM's backend allows, at most VMM_MEMSLOT_MAX */
	uint64_t used_ids[(VMM_MEMSLOT_MAX + 63) / 64]; /* bitmap of ids in use */
};

/* Validate and insert; on success *out points at the new slot (valid until the next change). */
int vmmi_slots_insert(struct vmmi_slot_table *t, const char *name, uint64_t gpa, uint64_t size,
		      void *hva, uint32_t flags, struct vmmi_slot **out) VMMI_WARN_UNUSED;
/* Remove the slot starting at gpa, copying it to *removed if not NULL. -ENOENT if none. */
int vmmi_slots_remove(struct vmmi_slot_table *t, uint64_t gpa, struct vmmi_slot *removed);
/*
 * Move the slot starting at gpa to new_gpa, keeping its id, name, host memory
 * and ownership; it may overlap its own old range but no other slot. On
 * failure the slot stays where it was. On success *out (if not NULL) points
 * at the slot in its new place (valid until the next change).
 */
int vmmi_slots_move(struct vmmi_slot_table *t, uint64_t gpa, uint64_t new_gpa,
		    struct vmmi_slot **out) VMMI_WARN_UNUSED;
/* The slot containing gpa, or NULL. O(log n). */
const struct vmmi_slot *vmmi_slots_find(const struct vmmi_slot_table *t, uint64_t gpa);
/* The first slot overlapping [gpa, gpa + len) (len > 0, no wrap), or NULL. */
const struct vmmi_slot *vmmi_slots_overlap(const struct vmmi_slot_table *t, uint64_t gpa,
					   uint64_t len);
/* Checked translation of a range that must lie in one slot: 0 or -EFAULT. */
int vmmi_slots_translate(const struct vmmi_slot_table *t, uint64_t gpa, uint64_t len, void **hva);
void vmmi_slots_free(struct vmmi_slot_table *t);

/* ---- device bus (core/bus.c) ---- */

struct vmm_device;

struct vmmi_window {
	uint64_t base;
	uint64_t length;
	struct vmm_device *dev;
};

/* One address space: sorted by base, non-overlapping. */
struct vmmi_bus {
	struct vmmi_window *w;
	size_t n, cap;
};

/* Insert [base, base + length); -EINVAL for zero length or wrap, -EEXIST on overlap (*clash set if
 * not NULL). */
int vmmi_bus_insert(struct vmmi_bus *bus, uint64_t base, uint64_t length, struct vmm_device *dev,
		    const struct vmmi_window **clash) VMMI_WARN_UNUSED;
int vmmi_bus_remove(struct vmmi_bus *bus, uint64_t base);
/* The window containing addr, or NULL. O(log n). */
const struct vmmi_window *vmmi_bus_find(const struct vmmi_bus *bus, uint64_t addr);
/* The first window overlapping [base, base + length), or NULL. */
const struct vmmi_window *vmmi_bus_overlap(const struct vmmi_bus *bus, uint64_t base,
					   uint64_t length);
void vmmi_bus_free(struct vmmi_bus *bus);

/* ---- devices (core/device.c) ---- */

struct vmm_host {
	struct vmm_device *dev;
	/* Only during create(): the params and which were used. */
	const struct vmm_device_config *cfg;
	bool *param_used;
	int param_err;
};

struct vmm_device {
	struct vmm_vm *vm;
	char *name;
	const struct vmm_plugin_desc *desc; /* &model: the host reads only its own copy */
	struct vmm_plugin_desc model;
	void *state;
	uint32_t space;
	uint64_t base;
	uint64_t length;
	struct vmm_host host;
	pthread_mutex_t lock; /* serialises calls into the model (taken with 2+ vCPUs) */
	/* Interrupt lines: I/O APIC pins; bit i of irq_high: line i is high (under vm->irq.lock).
	 */
	uint32_t *irqs;
	uint32_t nirqs;
	uint32_t irq_high;
	_Atomic bool msi_logged;   /* a bad MSI was logged once */
	_Atomic bool split_logged; /* emu: an 8-byte access split in two was logged once */
	bool builtin;		   /* part of the machine (the I/O APIC): not listed by the API */
	_Atomic uint64_t reads, writes;
};

/* Destroy every device of vm and close its plugins (vmm_vm_destroy). */
void vmmi_devices_destroy(struct vmm_vm *vm);
/*
 * Add a device of model desc (checked already) with cfg's window and keys;
 * handle (may be NULL) is the plugin's shared object, kept open by the VM
 * once the device is in (core/device.c).
 */
int vmmi_device_add(struct vmm_vm *vm, const struct vmm_plugin_desc *desc,
		    const struct vmm_device_config *cfg, void *handle, struct vmm_device **out);
/*
 * For an error raised without the origin of the device cfg describes (the
 * loader's, the backend's): put "FILE:LINE: device 'NAME': " in front when
 * cfg has a file. Returns err.
 */
int vmmi_device_failed(const struct vmm_device_config *cfg, int err);

/* ---- numbers (config/number.c): vmm.ini(5)'s syntax, for the core's keys and the plugins' ---- */

#define VMMI_SIZE_SYNTAX     "decimal or 0x hex digits with an optional K, M or G suffix"
#define VMMI_DURATION_SYNTAX "digits with an optional unit ms, s or m"
#define VMMI_BOOL_SYNTAX     "true, false, yes, no, on, off, 1 or 0"

/*
 * Decimal or 0x hex digits at *s, without sign or leading space; *s moves
 * past them. Returns 0, -EINVAL (no digits) or -ERANGE (more than 64 bits).
 */
int vmmi_parse_digits(const char **s, uint64_t *out);
/*
 * The whole of s as a number or size: digits with an optional K, M or G
 * (binary units, either case). Returns 0, -EINVAL or -ERANGE (the digits or
 * their product with the unit need more than 64 bits); *out only on 0.
 */
int vmmi_parse_size(const char *s, uint64_t *out);
/* A duration in milliseconds: digits with ms, s (the default) or m. As vmmi_parse_size(). */
int vmmi_parse_duration_ms(const char *s, uint64_t *out);
/* true/yes/on/1 or false/no/off/0, lower case. Returns 0 or -EINVAL; *out only on 0. */
int vmmi_parse_bool(const char *s, bool *out);

/* ---- a device's keys for its plugin (core/params.c): the param services of plugin.h ---- */

const char *vmmi_host_param(struct vmm_host *ctx, const char *key);
void vmmi_host_param_error(struct vmm_host *ctx, const char *key, const char *fmt, ...)
    VMMI_FORMAT(3, 4);
int vmmi_host_param_u64(struct vmm_host *ctx, const char *key, uint64_t min, uint64_t max,
			uint64_t *out);
int vmmi_host_param_ms(struct vmm_host *ctx, const char *key, uint64_t min_ms, uint64_t max_ms,
		       uint64_t *ms);
int vmmi_host_param_bool(struct vmm_host *ctx, const char *key, bool *out);
int vmmi_host_param_enum(struct vmm_host *ctx, const char *key, const char *const *words,
			 unsigned *index);
int vmmi_host_param_path(struct vmm_host *ctx, const char *key, char *buf, size_t len);

/* ---- plugins (core/plugin.c) ---- */

/* The services every device's create() receives. */
extern const struct vmm_host_services vmmi_host_services;
/*
 * Check a descriptor before calling anything in it: its major version and
 * that its size covers the fields of this major's .0; never reads past
 * desc->size. what names it.
 */
int vmmi_plugin_check_desc(const struct vmm_plugin_desc *desc, const char *what);
/* Copy a checked descriptor: what its size covers, zero (the defaults) for the rest. */
void vmmi_plugin_desc_copy(struct vmm_plugin_desc *dst, const struct vmm_plugin_desc *src);
/* dlclose() the plugins vm opened, once no device of theirs is left. */
void vmmi_plugins_close(struct vmm_vm *vm);

static inline const char *vmmi_space_name(uint32_t space)
{
	return space == VMM_SPACE_PIO ? "pio" : "mmio";
}

/* ---- what backends see of the layout (core/view.c) ---- */

/*
 * Backends read the layout through these, never through vm->slots,
 * vm->bus or a device's plugin descriptor: the core may reorganise its
 * tables and descriptors without touching a backend. Each call is from a
 * backend op (the layout holds still, see vmmi_change_begin()) or from a
 * vCPU thread inside run() (nothing changes while a vCPU runs).
 */

/* A memslot as a backend sees it. */
struct vmmi_view_slot {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint32_t id;	/* backend slot number, stable while the slot lives */
	uint32_t flags; /* VMM_MEMSLOT_READONLY, VMM_MEMSLOT_LOG_DIRTY */
	/* With VMM_MEMSLOT_LOG_DIRTY: a backend tracking writes itself marks them
	 * (vmmi_dirty_mark()). */
	_Atomic uint64_t *dirty;
	const char *name; /* for messages; valid while the slot lives */
};

/* A device window as a backend sees it. */
struct vmmi_view_window {
	uint32_t space;	 /* VMM_SPACE_MMIO or VMM_SPACE_PIO */
	uint32_t widths; /* the VMM_ACCESS_* sizes its device takes: others never reach it */
	uint64_t base;
	uint64_t length;
};

/* The view of slot s (what the slot ops are given). */
struct vmmi_view_slot vmmi_view_slot(const struct vmmi_slot *s);
/* Slots in gpa order: how many, the i-th (i < vmmi_view_nslots()). */
size_t vmmi_view_nslots(const struct vmm_vm *vm);
struct vmmi_view_slot vmmi_view_slot_nth(const struct vmm_vm *vm, size_t i);
/* The slot holding gpa into *out: true, or false if none. O(log n): fit for the exit path. */
bool vmmi_view_slot_at(const struct vmm_vm *vm, uint64_t gpa, struct vmmi_view_slot *out);
/* Windows of one space in base order: how many, the i-th (i < vmmi_view_nwindows()). */
size_t vmmi_view_nwindows(const struct vmm_vm *vm, uint32_t space);
struct vmmi_view_window vmmi_view_window_nth(const struct vmm_vm *vm, uint32_t space, size_t i);

/* ---- backend interface ---- */

struct vmm_vcpu;

/*
 * One backend. Called with the VM not running unless noted. vm->be and
 * vcpu->be are the backend's private state.
 */
struct vmmi_backend_ops {
	/* Open the hypervisor / engine for this VM; set vm->slots.max. May fail with -ENODEV. */
	int (*vm_init)(struct vmm_vm *vm);
	void (*vm_fini)(struct vmm_vm *vm);
	/* Mirror a slot that was just inserted into vm->slots / is about to be removed. */
	int (*slot_add)(struct vmm_vm *vm, const struct vmmi_slot *slot);
	int (*slot_remove)(struct vmm_vm *vm, const struct vmmi_slot *slot);
	/* slot->flags changed (only VMM_MEMSLOT_LOG_DIRTY does) from old_flags. */
	int (*slot_flags)(struct vmm_vm *vm, const struct vmmi_slot *slot, uint32_t old_flags);
	/*
	 * Fetch and clear the pages the guest wrote that the backend tracks
	 * itself (kvm); words entries of one bit per page. NULL: the backend
	 * marks slot->dirty directly (emu).
	 */
	int (*dirty_fetch)(struct vmm_vm *vm, const struct vmmi_slot *slot, uint64_t *bitmap,
			   size_t words);
	/* The set of device windows changed (emu maps device pages). May be NULL. */
	int (*windows_changed)(struct vmm_vm *vm);
	int (*vcpu_init)(struct vmm_vcpu *vcpu);
	void (*vcpu_fini)(struct vmm_vcpu *vcpu);
	int (*get_regs)(struct vmm_vcpu *vcpu, struct vmm_regs *regs);
	int (*set_regs)(struct vmm_vcpu *vcpu, const struct vmm_regs *regs);
	int (*get_sregs)(struct vmm_vcpu *vcpu, struct vmm_sregs *sregs);
	int (*set_sregs)(struct vmm_vcpu *vcpu, const struct vmm_sregs *sregs);
	/*
	 * Run until an exit the backend does not dispatch itself, or until
	 * vm->stop_requested is seen. MMIO and PIO go to vmmi_dispatch(); when it
	 * returns non-zero the backend stops and returns with exit filled by it.
	 * Fills *exit (reason, detail, hw_code, address; the caller adds regs).
	 * When vm->pause_req is seen, or after a kick, it returns 0 with
	 * exit->reason still VMM_EXIT_NONE, at an instruction boundary, so
	 * that the core can change the layout and call run() again: the guest
	 * must not notice.
	 */
	int (*run)(struct vmm_vcpu *vcpu, struct vmm_exit *exit);
	/*
	 * Make run() return soon, so that the core sees stop_requested or
	 * pause_req. Called only through vmmi_vcpu_kick(): with
	 * vcpu->kick_lock held and vcpu->in_run set, so vcpu->thread is inside
	 * vmm_vcpu_run() and stays there until the lock is dropped. Idempotent.
	 *
	 * A kick is never lost: a kick made while run() executes ends that
	 * run() within a bounded time, and one made while it does not (before
	 * the first call, between two) makes the next run() return at once,
	 * without entering the guest. Such a return may carry no exit
	 * (VMM_EXIT_NONE; the core calls run() again). A return of run()
	 * answers every kick made before it; a kick made after it ends the
	 * next run(), so a stale kick costs at most one empty return.
	 * Both backends keep this (backend/emu.c emu_kick(), backend/kvm.c
	 * kvm_kick()). The core relies on it: a stop, an abort or a layout
	 * change kicks each vCPU once and then waits, without polling, for the
	 * event that ends the wait.
	 */
	void (*kick)(struct vmm_vcpu *vcpu);
	/* kick() sends vm->opts.kick_signal: vmm_vcpu_run() unblocks it for the run. */
	bool kick_signals;

	/*
	 * Deliver a message-signalled interrupt to the local APICs its address
	 * names (vmmi_irq_msi() has checked addr and data; the I/O APIC's
	 * messages may also carry the level-trigger bit 15 and the assert bit
	 * 14). Any thread, often with vm->irq.lock held: it must not call back
	 * into core/irq.c. Returns 0 or a negative errno (logged by the core).
	 */
	int (*msi)(struct vmm_vm *vm, uint64_t addr, uint32_t data);
	/*
	 * The I/O APIC's redirection entries changed: a backend whose local
	 * APICs need to know which vectors are level-triggered (kvm's EOI exits)
	 * reads them with vmmi_ioapic_route(&vm->irq.io, ...). Called with
	 * vm->irq.lock held, on any thread. May be NULL.
	 */
	void (*irq_routes)(struct vmm_vm *vm);
	/* vcpu's local APIC to power-on state (vmm_vm_reset(), no vCPU running). May be NULL. */
	int (*irq_reset)(struct vmm_vcpu *vcpu);
	/*
	 * Make vcpu the PC CPU a Linux guest expects, instead of guest.h's
	 * (vmm_load_linux(), vm->linux_boot set, for every vCPU, with no vCPU
	 * running, before vCPU 0's registers are set; again on vmm_vm_reset()):
	 * the hypervisor's CPUID as it is, and vCPU 0 runnable while the others
	 * wait for INIT/SIPI, which irq_reset() keeps for a VM with linux_boot.
	 * NULL: the backend cannot boot Linux (emu).
	 */
	int (*linux_vcpu)(struct vmm_vcpu *vcpu);
};

/*
 * One entry of the backend table. A backend's own files define
 * `const struct vmmi_backend vmmi_backend_<name>`; the build generates the
 * table, vmmi_backends[], from configure's list (build/gen/backends.c).
 */
struct vmmi_backend {
	const char *name; /* as [vm] accel and --accel spell it */
	enum vmm_accel accel;
	/*
	 * Can this host run the backend? 0 or a negative errno; either way
	 * why (len > 0) receives a phrase that says so, e.g. "/dev/kvm is
	 * usable" or "/dev/kvm: Permission denied". Any thread, no VM needed.
	 */
	int (*probe)(char *why, size_t len);
	/* NULL for a backend ./configure left out (then probe is NULL too). */
	const struct vmmi_backend_ops *ops;
};

/*
 * Every backend the library knows, in the order auto tries them,
 * NULL-terminated; those configure left out (--disable-NAME) have no ops.
 */
extern const struct vmmi_backend *const vmmi_backends[];

/* "auto, kvm or emu": every name vmm_accel_parse() takes, built in or not (core/backend.c). */
void vmmi_accel_names(char *buf, size_t len);

/*
 * The backend for accel (auto: the first built-in one whose probe succeeds)
 * into *out, and why it was chosen into reason ("auto: /dev/kvm is usable").
 * -ENODEV with the last error saying why and what to try if there is none,
 * -EINVAL for an accel the table does not know (core/backend.c).
 */
int vmmi_backend_choose(enum vmm_accel accel, const struct vmmi_backend **out, char *reason,
			size_t len) VMMI_WARN_UNUSED;

/* ---- interrupts: the I/O APIC model (core/ioapic.c) and the layer around it (core/irq.c) ---- */

#define VMMI_IOAPIC_PINS     VMM_GUEST_IOAPIC_PINS
#define VMMI_IOAPIC_VERSION  0x00170011u /* 24 entries (23 in bits 23-16), version 0x11 */
#define VMMI_IOAPIC_WINDOW   0x1000ull	 /* the MMIO window it claims at VMM_GUEST_IOAPIC_BASE */
#define VMMI_LAPIC_PAGE_SIZE 0x1000ull	 /* the local APIC page at VMM_GUEST_LAPIC_BASE */
#define VMMI_MSI_BASE	     0xfee00000ull
#define VMMI_MSI_END	     0xfef00000ull
#define VMMI_DEVICE_MAX_IRQS 8u /* lines one device may have */

/*
 * The 82093AA I/O APIC, shared by both backends (pure code, no locks: the
 * caller holds vm->irq.lock). Registers: IOREGSEL at 0x00 and IOWIN at 0x10,
 * 32-bit; through them ID (0), version (1), arbitration (2) and the
 * redirection table (0x10 + 2 * pin: low, high). A redirection entry:
 * vector 7-0, delivery mode 10-8 (fixed, lowest priority, SMI, NMI, INIT,
 * ExtINT), destination mode 11, delivery status 12 (read-only), polarity
 * 13, remote IRR 14 (read-only, level entries), trigger mode 15 (1: level),
 * mask 16, destination 63-56.
 *
 * An entry sends its message through send(): when its pin rises (edge), or
 * while its pin is high and remote IRR is clear (level: remote IRR is then
 * set until an EOI of its vector, vmmi_ioapic_eoi()). Unmasking an entry
 * whose level pin is high sends it. Polarity 1 (active low) inverts the
 * pin level it sees. The message is the MSI a PCI device would send:
 * address 0xfee00000 | dest << 12 | destmode << 2, data vector |
 * delivery mode << 8 | trigger << 15 | 1 << 14 (assert).
 */
struct vmmi_ioapic {
	uint32_t id;	 /* the ID register (bits 27-24) */
	uint32_t regsel; /* IOREGSEL */
	uint64_t rte[VMMI_IOAPIC_PINS];
	uint32_t level; /* bit p: pin p is high (the wire, before polarity) */
	/* Send one message (called with the caller's lock held). */
	void (*send)(void *opaque, uint64_t addr, uint32_t data);
	/* An entry was written (the vector, trigger or destination may have changed). */
	void (*routes_changed)(void *opaque);
	void *opaque;
};

/* Power-on state: ID 0, every entry masked (0x10000), levels kept (they are the devices'). */
void vmmi_ioapic_reset(struct vmmi_ioapic *io);
/* A 4-byte guest access at offset of the window (other offsets read 0, ignore writes). */
uint32_t vmmi_ioapic_read(struct vmmi_ioapic *io, uint64_t offset);
void vmmi_ioapic_write(struct vmmi_ioapic *io, uint64_t offset, uint32_t value);
/* Pin's wire goes to level; sends what its entry says (see above). pin < VMMI_IOAPIC_PINS. */
void vmmi_ioapic_set_pin(struct vmmi_ioapic *io, unsigned pin, bool level);
/* A local APIC's EOI of a level-triggered vector: clears remote IRR of its entries, resends. */
void vmmi_ioapic_eoi(struct vmmi_ioapic *io, uint8_t vector);
/*
 * The message pin's entry sends, into *addr and *data, and whether the entry
 * is masked; for kvm's routes.
 */
void vmmi_ioapic_route(const struct vmmi_ioapic *io, unsigned pin, uint64_t *addr, uint32_t *data,
		       bool *masked);

/*
 * The VM's interrupt layer: the I/O APIC (a built-in device, "ioapic"), the
 * sources of each pin (devices and vmm_irq_set()), and the checks of MSIs.
 * lock guards all of it and is taken by every caller, from any thread; it
 * is innermost but for the backend's local APIC locks (backend msi()),
 * which never call back here with their own lock held.
 */
struct vmmi_irq {
	pthread_mutex_t lock;
	bool lock_ok;
	struct vmmi_ioapic io;
	uint16_t sources[VMMI_IOAPIC_PINS]; /* high sources of each pin */
	uint32_t api_high;		    /* pins vmm_irq_set() holds high */
	struct vmm_device *dev;		    /* the I/O APIC's window */
	uint32_t id0;			    /* the ID register after a reset (bits 27-24) */
	_Atomic uint64_t msis, irqs;	    /* messages sent; pin rises seen */
};

/* Set up vm->irq and add the I/O APIC's window (vmm_vm_create(), once the backend is up). */
int vmmi_irq_init(struct vmm_vm *vm) VMMI_WARN_UNUSED;
void vmmi_irq_fini(struct vmm_vm *vm);
/* vmm_vm_reset(): the I/O APIC to power-on state (the devices' levels stay). */
void vmmi_irq_reset(struct vmm_vm *vm);
/* Give the I/O APIC the ID the MP tables name (vmm_load_linux()); it stays across resets. */
void vmmi_ioapic_set_id(struct vmm_vm *vm, uint8_t id);
/*
 * One source of pin changed from high to low or back (only transitions:
 * the caller keeps its own level). Any thread.
 */
void vmmi_irq_source(struct vmm_vm *vm, unsigned pin, bool level);
/* Check and send an MSI; -EINVAL with the detail set for a bad one. Any thread. */
int vmmi_irq_msi(struct vmm_vm *vm, uint64_t addr, uint32_t data) VMMI_WARN_UNUSED;
/* A vCPU's local APIC took an EOI of a level-triggered vector (backends, vCPU threads). */
void vmmi_irq_eoi(struct vmm_vm *vm, uint8_t vector);
/* A device's lines (plugin services irq_set, irq_pulse): -ENOENT past its last line. */
int vmmi_irq_device_set(struct vmm_device *dev, uint32_t line, int level);
int vmmi_irq_device_pulse(struct vmm_device *dev, uint32_t line);
/* Lower every line dev holds high (it is being destroyed). */
void vmmi_irq_device_gone(struct vmm_device *dev);
/* The pin rules: each of irqs[] below VMMI_IOAPIC_PINS, none twice; with at's file:line. */
int vmmi_irq_check_pins(const struct vmmi_origin *at, const char *name, const uint32_t *irqs,
			size_t n) VMMI_WARN_UNUSED;

/* ---- VM and vCPU ---- */

/*
 * A range vmm_load_elf() wrote: size bytes at gpa, the first filesz of
 * them data (a copy, owned by the record), the rest zero. vmm_vm_reset()
 * writes them again; a record follows its slot when the slot moves and is
 * forgotten (vmmi_loaded_forget()) when the slot's memory leaves the guest.
 */
struct vmmi_loaded {
	uint64_t gpa, size;
	uint8_t *data;
	uint64_t filesz;
};

struct vmm_vcpu {
	struct vmm_vm *vm;
	unsigned index;
	void *be;
	/*
	 * in_run: inside vmm_vcpu_run(), so kicks must reach it. It is set and
	 * cleared, and thread written, under kick_lock, which every kick holds
	 * from its check of in_run to its last use of thread: a kick never
	 * signals a thread that has left vmm_vcpu_run() (and may be gone).
	 * in_run is also read lock-free where a stale answer is harmless.
	 */
	_Atomic bool in_run;
	pthread_t thread; /* the thread in vmm_vcpu_run(), valid while in_run */
	pthread_mutex_t kick_lock;
	int kick_err; /* under kick_lock: why kick() could not signal (a positive errno), or 0 */
	/* Per-vCPU counters, summed by vmm_vm_get_stats() (no shared cache line on the hot path).
	 */
	_Atomic uint64_t exits, mmio_exits, pio_exits, unclaimed;
	/*
	 * The window this vCPU's last device access hit, valid while
	 * vm->layout_gen is wc_gen: a guest polling one device skips the
	 * bus search. Touched by this vCPU's thread only.
	 */
	uint64_t wc_gen;
	struct vmmi_window wc;
	uint32_t wc_space;
};

/* What vmm_load_linux() was given, kept for vmm_vm_reset() (boot/linux.c). */
struct vmmi_linux {
	char *kernel, *initrd, *cmdline; /* initrd and cmdline may be NULL */
};

/*
 * Load vm->linux's kernel, initrd and command line, write the zero page,
 * e820, MP tables and page tables, and put vCPU 0 at the 64-bit entry, the
 * others waiting for SIPI. No lock taken: at configuration time, or inside
 * vmm_vm_reset()'s change (boot/linux.c).
 */
int vmmi_linux_boot(struct vmm_vm *vm) VMMI_WARN_UNUSED;
void vmmi_linux_free(struct vmmi_linux *lx);
/* The keyboard controller's reset line on port 0x64 for a Linux guest (boot/linux.c). */
void vmmi_reset_port_enable(struct vmm_vm *vm);

struct vmm_vm {
	struct vmm_vm_options opts;
	const struct vmmi_backend *backend; /* the table's entry, for its name and accel */
	const struct vmmi_backend_ops *ops; /* backend->ops */
	void *be;
	char accel_reason[256]; /* vmm_vm_accel_reason() */

	struct vmmi_slot_table slots;
	struct vmmi_bus bus[2]; /* [0] MMIO, [1] PIO: index with vmmi_space_index() */

	struct vmm_device **devices; /* creation order */
	size_t ndevices;
	void **dl_handles; /* plugins dlopen()ed for this VM */
	size_t ndl;

	struct vmmi_irq irq; /* the I/O APIC and the pins' sources */

	struct vmm_vcpu *vcpus[VMM_GUEST_MAX_VCPUS];
	unsigned nvcpus; /* highest index + 1 */

	struct vmmi_loaded *loaded; /* ranges vmm_load_elf() wrote */
	size_t nloaded;
	bool booted;	     /* vmm_boot_setup() succeeded: vmm_vm_reset() can redo it */
	uint64_t boot_entry; /* the entry it was given */
	bool linux_boot; /* booted by vmm_load_linux(): reset loads vm->lx again, and vCPUs but 0
			    wait for SIPI */
	struct vmmi_linux lx;
	bool reset_requested; /* under stop_lock: the stop is the guest's reset (VMM_EXIT_RESET) */

	/*
	 * 0 = run; VMMI_STOP_GUEST = vmm_vm_stop() or a device asked (exit_code
	 * valid); VMMI_STOP_ABORT = another vCPU hit a fatal exit. Written under
	 * stop_lock, read lock-free by vCPUs.
	 */
	_Atomic int stop_requested;
	int exit_code;
	pthread_mutex_t stop_lock;
	_Atomic uint64_t unclaimed_logged;

	/*
	 * Layout changes while vCPUs run (vmmi_change_begin()): one changer at
	 * a time holds change_lock; it raises pause_req and waits until no
	 * vCPU is inside the backend's run() (active == 0), then holds mem_lock
	 * for writing while it changes slots and windows. vCPUs wait in
	 * vmm_vcpu_run() while pausing is set. Readers of guest memory from
	 * other threads (vmm_guest_read(), device DMA) hold mem_lock for reading.
	 */
	pthread_mutex_t change_lock;
	pthread_mutex_t run_lock; /* guards active and pausing */
	pthread_cond_t run_cond;
	unsigned active;
	bool pausing;
	_Atomic bool pause_req; /* read lock-free by backends */
	/* Bumped by every change, while no vCPU runs: cached lookups of older layouts are stale. */
	uint64_t layout_gen;
	pthread_rwlock_t mem_lock;
};

#define VMMI_STOP_GUEST 1
#define VMMI_STOP_ABORT 2

/* The VM whose vCPU this thread is running (inside vmm_vcpu_run()), if any: changes from here would
 * wait for themselves. */
extern __thread const struct vmm_vm *vmmi_running_vm;

/* Forget vm->loaded[i] (its memory left the guest); the last record takes its place (core/reset.c).
 */
void vmmi_loaded_forget(struct vmm_vm *vm, size_t i);
/* Free every record of vm->loaded (vmm_vm_destroy). */
void vmmi_loaded_free(struct vmm_vm *vm);

/* Request an abort of every vCPU (a fatal exit elsewhere); keeps a guest stop if one came first. */
void vmmi_vm_abort(struct vmm_vm *vm);
/*
 * The guest asked for a reset (vmm_load_linux()'s keyboard controller): a
 * stop like vmm_vm_stop(vm, 0) unless one is already under way, whose exits
 * read VMM_EXIT_RESET. Any thread, device callbacks included (core/run.c).
 */
void vmmi_vm_reset_request(struct vmm_vm *vm);

/*
 * Bump a counter that has one writer (its vCPU, or its device under the
 * device lock) and lock-free readers: a relaxed load and store, no locked
 * instruction on the hot path, and no data race for readers.
 */
static inline void vmmi_count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Kick vcpu if it is inside vmm_vcpu_run() (see struct vmmi_backend_ops.kick). Any thread. */
void vmmi_vcpu_kick(struct vmm_vcpu *vcpu);

/* True while any vCPU of vm is inside vmm_vcpu_run(). */
bool vmmi_vm_running(const struct vmm_vm *vm);

/*
 * Bracket a change of memslots or device windows: pauses every vCPU of vm
 * at an instruction boundary (they resume by themselves in
 * vmmi_change_end()) and excludes other changers and guest-memory readers.
 * Any thread but a vCPU thread of vm inside vmm_vcpu_run() (a device
 * callback), which gets -EDEADLK: that vCPU could never pause.
 */
int vmmi_change_begin(struct vmm_vm *vm, const char *what) VMMI_WARN_UNUSED;
void vmmi_change_end(struct vmm_vm *vm);

/*
 * Hold the layout still while guest memory is read or written from a
 * thread that is not a vCPU of vm (vmm_guest_read(), device DMA): mem_lock
 * for reading. -EDEADLK on the thread inside vmmi_change_begin() (its log
 * function), instead of taking the lock it holds. what names the caller.
 */
int vmmi_mem_read_begin(const struct vmm_vm *vm, const char *what) VMMI_WARN_UNUSED;
int vmmi_mem_read_end(const struct vmm_vm *vm, const char *what);

/* Free what a slot owns (host memory it allocated, its dirty bitmap) once it is out of the table.
 */
void vmmi_slot_release(struct vmmi_slot *s);

static inline unsigned vmmi_space_index(uint32_t space)
{
	return space == VMM_SPACE_PIO ? 1 : 0;
}

/*
 * The exit dispatch path, called by backends on vCPU threads. Performs one
 * guest access of size bytes (1, 2, 4 or 8) at addr in space: to the owning
 * device, or by the unclaimed policy. For reads *value receives the result
 * (all-ones, truncated to size, if unclaimed). Returns 0 to continue the
 * guest, or 1 if the vCPU must stop: exit has been filled (unclaimed access
 * under VMM_UNCLAIMED_STOP).
 */
int vmmi_dispatch(struct vmm_vcpu *vcpu, uint32_t space, uint64_t addr, uint32_t size,
		  bool is_write, uint64_t *value, struct vmm_exit *exit);

/* Log through the VM's sink if level <= opts.log_level. */
void vmmi_log(const struct vmm_vm *vm, int level, const char *fmt, ...) VMMI_FORMAT(3, 4);
static inline bool vmmi_log_enabled(const struct vmm_vm *vm, int level)
{
	return vm->opts.log && level <= vm->opts.log_level;
}

/* Fill an exit for a fatal condition. */
void vmmi_exit_set(struct vmm_exit *exit, enum vmm_exit_reason reason, const char *fmt, ...)
    VMMI_FORMAT(3, 4);

/* ---- address layout (layout.c) ---- */

/*
 * Where a request came from, for messages: a configuration file's line
 * (vmm_vm_create_from_config() passes the section's), or NULL for a call
 * of the public API. Borrowed for the call only.
 */
struct vmmi_origin {
	const char *file;
	unsigned line;
};

/* "file:line: " for messages (core/error.c), or "" when the caller gave no location. */
void vmmi_where(char *buf, size_t len, const char *file, unsigned line);
/* vmmi_error() with "FILE:LINE: " in front when at is not NULL. */
int vmmi_error_at(const struct vmmi_origin *at, int err, const char *fmt, ...) VMMI_FORMAT(3, 4);
/*
 * Put "FILE:LINE: " and what (may be NULL) in front of the current detail,
 * raised by code that knew no origin; nothing if at is NULL. Returns err.
 */
int vmmi_error_prefix(const struct vmmi_origin *at, int err, const char *what);

/*
 * The one home of every address-layout rule and its message. Each returns
 * 0 or a negative errno with the detail set (prefixed with at). Called with
 * the layout held still (a change, or mem_lock for reading).
 *
 * A memslot [gpa, gpa + size): ends at or below VMMI_GPA_LIMIT (-ERANGE);
 * overlaps no other slot of slots but self (the slot being moved, or NULL;
 * -EEXIST; slots NULL: the limit alone); unless flags has
 * VMM_MEMSLOT_READONLY, overlaps no window of mmio (NULL: not checked;
 * -EEXIST), because a window over read-only
 * memory takes its writes while over writable memory it would take nothing.
 */
int vmmi_layout_slot(const struct vmmi_slot_table *slots, const struct vmmi_bus *mmio,
		     const struct vmmi_origin *at, const char *name, uint64_t gpa, uint64_t size,
		     uint32_t flags, const struct vmmi_slot *self) VMMI_WARN_UNUSED;
/*
 * A device window [base, base + length) in space, bus being that space's:
 * not empty and not wrapping (-EINVAL); ports end at or below 0x10000 and
 * MMIO at or below VMMI_IDENTITY_MAX, the boot page tables' reach (-ERANGE);
 * overlaps no window of bus (-EEXIST); MMIO overlaps no writable slot of
 * slots (NULL: not checked; -EEXIST). A window that moves is out of bus.
 */
int vmmi_layout_window(const struct vmmi_slot_table *slots, const struct vmmi_bus *bus,
		       const struct vmmi_origin *at, const char *name, uint32_t space,
		       uint64_t base, uint64_t length) VMMI_WARN_UNUSED;
/*
 * vmm_memslot_alloc_flags() for a request from at (NULL: the API): every
 * error names it. setup.c's entry point.
 */
int vmmi_memslot_alloc(struct vmm_vm *vm, const struct vmmi_origin *at, const char *name,
		       uint64_t gpa, uint64_t size, uint32_t flags, void **hva) VMMI_WARN_UNUSED;
/* The messages of the two overlap rules, for the containers' own guards: -EEXIST. */
int vmmi_layout_slot_clash(const struct vmmi_origin *at, const char *name, uint64_t gpa,
			   uint64_t size, const struct vmmi_slot *other);
int vmmi_layout_window_clash(const struct vmmi_origin *at, const char *name, uint64_t base,
			     uint64_t length, const struct vmmi_window *other);
/*
 * The top of the memory the boot identity map must cover: every slot and
 * MMIO window, at least 4 GiB. -ERANGE if a slot ends past VMMI_IDENTITY_MAX.
 */
int vmmi_layout_identity_top(const struct vmmi_slot_table *slots, const struct vmmi_bus *mmio,
			     uint64_t *top) VMMI_WARN_UNUSED;

/*
 * Read the regular file path whole into *data (malloc()ed, the caller frees)
 * and its length into *len. Errors, with the path in the message: the open's
 * errno, -ENOEXEC (not a regular file), -EFBIG (more than max bytes), -ENOMEM
 * (core/file.c).
 */
int vmmi_read_file(const char *path, uint64_t max, uint8_t **data, size_t *len) VMMI_WARN_UNUSED;

/* A flat 4 GiB segment with this selector and type: 64-bit code, or 32-bit data (boot_x86.c). */
struct vmm_segment vmmi_flat_segment(uint16_t selector, uint8_t type, bool code);

/* ---- Linux x86 bzImage (boot/bzimage.c): the setup header, per the kernel's boot protocol ---- */

/* Offsets in the image, which boot_params (the "zero page") shares for the setup header. */
#define VMMI_BZ_HDR_START     0x1f1 /* setup_sects: the first byte of the setup header */
#define VMMI_BZ_HDR_LIMIT     0x290 /* boot_params' next field (edd_mbr_sig_buffer) starts here */
#define VMMI_BZ_PARAMS_SIZE   0x1000
#define VMMI_BZ_XLF_KERNEL_64 0x1 /* xloadflags: a 64-bit entry 0x200 past the load address */
#define VMMI_BZ_XLF_ABOVE_4G  0x2 /* xloadflags: may be loaded above 4 GiB */

/*
 * What vmmi_bzimage_parse() read and checked. Offsets and sizes are in the
 * file and lie inside it: kernel_offset + kernel_size == the file's length.
 */
struct vmmi_bzimage {
	uint16_t version;      /* boot protocol, 0x020c = 2.12; at least 2.12 */
	uint8_t setup_sects;   /* 512-byte sectors of real-mode setup (a 0 in the file read as 4) */
	uint8_t loadflags;     /* LOADED_HIGH is set */
	uint16_t xloadflags;   /* VMMI_BZ_XLF_KERNEL_64 is set */
	bool above_4g;	       /* VMMI_BZ_XLF_ABOVE_4G */
	bool relocatable;      /* may load at any kernel_alignment multiple, else at pref_address */
	uint8_t min_alignment; /* log2 of the lowest alignment it accepts */
	uint32_t kernel_alignment; /* a power of two */
	uint64_t pref_address;	   /* where it prefers to be loaded */
	uint32_t init_size;	   /* bytes it needs from the load address on, >= kernel_bytes */
	uint32_t cmdline_size;	   /* longest command line, without the NUL; not 0 */
	uint32_t initrd_addr_max;  /* highest address an initrd's last byte may have */
	size_t hdr_end;		   /* the setup header is [VMMI_BZ_HDR_START, hdr_end) */
	size_t kernel_offset;	   /* the protected-mode kernel: (setup_sects + 1) * 512 */
	size_t kernel_size;	   /* ... to the end of the file (a signature may trail it) */
	size_t kernel_bytes; /* syssize * 16: its size as the header states it, <= kernel_size */
	uint32_t payload_offset; /* the compressed payload, in the protected-mode kernel, */
	uint32_t payload_length; /* inside kernel_bytes (0, 0: none stated) */
};

/*
 * Parse and check the setup header of the bzImage img[0, len) (untrusted: any
 * bytes are safe). Returns 0 with *out filled, -ENOEXEC if img is not a
 * bzImage (too short for the magic, no 0xaa55 boot flag, no "HdrS"), or
 * -EINVAL for a bzImage this loader cannot use or whose header contradicts
 * the file. On failure why (if why_len) holds a one-line reason naming the
 * field, its offset and value, and *out is untouched. Pure: no VM, no I/O.
 */
int vmmi_bzimage_parse(const void *img, size_t len, struct vmmi_bzimage *out, char *why,
		       size_t why_len) VMMI_WARN_UNUSED;
/*
 * Copy the setup header of img (as parsed into bz) into the boot_params page
 * bp[0, bp_len) at the same offset, as the protocol asks of a 64-bit loader;
 * bytes of a header stated past VMMI_BZ_HDR_LIMIT (none in any known protocol)
 * are not copied. The rest of bp is not touched. -EINVAL if bp_len is less
 * than VMMI_BZ_PARAMS_SIZE or img[0, len) is shorter than bz says.
 */
int vmmi_bzimage_copy_header(const struct vmmi_bzimage *bz, const void *img, size_t len, void *bp,
			     size_t bp_len) VMMI_WARN_UNUSED;

#endif /* VMM_INTERNAL_H */
