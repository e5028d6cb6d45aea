/* SPDX-License-Identifier: MIT */
/*
 * plugin.h - the device plugin ABI (version 1.2): what
 * a device model exports and what the host offers it.
 */
#ifndef VMM_PLUGIN_H
#define VMM_PLUGIN_H

/*
 * A device plugin is a shared object that exports exactly one symbol,
 * VMM_PLUGIN_ENTRY_SYMBOL, a function returning a pointer to a const
 * struct vmm_plugin_desc. It links against nothing of libvmm: everything it
 * may ask of the host arrives as the struct vmm_host_services table passed to
 * create(). An embedding program may also hand a descriptor to
 * vmm_device_add() directly, without any shared object.
 *
 * Lifecycle, per device instance:
 *   create() -> { read() | write() | reset() }* -> destroy()
 * If create() succeeds the host calls destroy() exactly once. If it fails the
 * host never calls anything else on that instance.
 *
 * Threads: the host serialises all calls on one instance (read, write, reset,
 * destroy never run concurrently for the same state). Calls for different
 * instances may run concurrently on different vCPU threads. create() and
 * destroy() run on the thread that adds or removes the device, holding no
 * lock of the VM: the VM's vCPUs may be running meanwhile (they reach the
 * instance only after create() returns, and no longer by the time destroy()
 * is called), and create() may use every host service, DMA included.
 *
 * Versions. abi_version is a major and a minor version,
 * VMM_PLUGIN_ABI(major, minor): the major in bits 0-15, the minor in bits
 * 16-31, so that the 1 every plugin built against the first header stored
 * reads as 1.0. A minor version only appends fields, to the descriptor, to
 * struct vmm_host_services and to struct vmm_device_info; a major version
 * may change anything. Every struct carries its size, and the size, not the
 * minor, says which fields a struct has. Before calling anything in a
 * descriptor the host checks:
 *   - its major equals the host's (VMM_PLUGIN_ABI_VERSION_MAJOR), or it
 *     refuses the plugin, naming both majors;
 *   - size >= VMM_PLUGIN_DESC_MIN_SIZE (every field of 1.0), or it refuses;
 * and then reads nothing past size: a field of a later minor that the
 * descriptor's size does not cover reads as its default, which is always
 * 0 or NULL (the field's comment says what that means). The minor is not
 * compared: a host of 1.0 loads a plugin built for 1.3 (and ignores the
 * fields it does not know), and a host of 1.3 loads a plugin built for 1.0
 * (whose later fields take their defaults). A plugin that cannot work
 * without something a later minor added checks for it in create() (see
 * VMM_HOST_HAS()) and fails with -ENOTSUP after log()ging why.
 *
 * ABI history: 1.0 is everything below up to param_error() and
 * vmm_device_info.length. reset() has been in it from the start; hosts
 * before vmm_vm_reset() existed never called it. 1.1 appends the interrupt
 * services (irq_set, irq_pulse, msi_send) and vmm_device_info.irqs/nirqs.
 * 1.2 appends the typed key services (param_u64, param_ms, param_bool,
 * param_enum, param_path): a model's own keys read with the syntax of the
 * core's keys, and paths relative to the config file.
 *
 * Interrupts (1.1). A device's config names its lines, `irq = 4` or
 * `irq = 4, 9`: I/O APIC pins (guest.h). The device refers to them by
 * index, 0 for the first, and sees the pins in info->irqs. Several devices
 * may share a pin: its level is the OR of theirs (a wired-OR, as on PCI).
 * A level-triggered device holds its line up while it wants service and
 * lowers it when the guest acknowledges (irq_set(ctx, 0, 1) ... 0); an
 * edge device pulses it (irq_pulse()). Whether the guest sees an edge or a
 * level is the I/O APIC redirection entry's choice, as on a PC. A device
 * may also send an MSI (msi_send()), with or without lines. When a device
 * is destroyed or removed, the host lowers its lines.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* abi_version of major.minor, and its two halves. */
#define VMM_PLUGIN_ABI(major, minor) (((minor) << 16) | (major))
#define VMM_PLUGIN_ABI_MAJOR(v)	     ((v)&0xffffu)
#define VMM_PLUGIN_ABI_MINOR(v)	     ((v) >> 16)

/* The version this header describes: what a plugin stores, and what a host of it speaks. */
#define VMM_PLUGIN_ABI_VERSION_MAJOR 1u
#define VMM_PLUGIN_ABI_VERSION_MINOR 2u
#define VMM_PLUGIN_ABI_VERSION                                                                     \
	VMM_PLUGIN_ABI(VMM_PLUGIN_ABI_VERSION_MAJOR, VMM_PLUGIN_ABI_VERSION_MINOR)
#define VMM_PLUGIN_ENTRY	vmm_plugin_entry
#define VMM_PLUGIN_ENTRY_SYMBOL "vmm_plugin_entry"

/* Address spaces a device window can live in (vmm_plugin_desc.spaces is a mask of these). */
#define VMM_SPACE_MMIO 1u /* guest-physical addresses */
#define VMM_SPACE_PIO  2u /* x86 I/O ports, 0 .. 0xffff */

/*
 * Access widths, as a mask (vmm_plugin_desc.access_sizes). Declare
 * VMM_ACCESS_8 only for 8-byte registers: on emu it puts the window under a
 * memory hook that slows all guest memory accesses (vmm-plugin(7)).
 */
#define VMM_ACCESS_1 1u
#define VMM_ACCESS_2 2u
#define VMM_ACCESS_4 4u
#define VMM_ACCESS_8 8u

/* Log levels, shared with the embedding API. */
#define VMM_LOG_ERROR 0
#define VMM_LOG_WARN  1
#define VMM_LOG_INFO  2
#define VMM_LOG_DEBUG 3
#define VMM_LOG_TRACE 4

struct vmm_host; /* opaque: the host's context for one device instance */

/*
 * Services the host offers a device. Every call takes the ctx given to
 * create(). The table grows like the descriptor: a later minor appends
 * members, and size says which the host filled in. A member of 1.0 is in
 * every table a host of major 1 passes; before using a member a later minor
 * appends, a plugin checks VMM_HOST_HAS(host, member) and does without it
 * (or fails create() with -ENOTSUP) when the host is older:
 *     if (VMM_HOST_HAS(host, raise_irq))    (a member of some 1.N)
 *             host->raise_irq(ctx, line);
 *     else
 *             ... poll instead ...
 * abi_version is the host's own VMM_PLUGIN_ABI_VERSION, for messages.
 * All functions may be called from create(), read(), write() and reset(),
 * on the thread that made that call, and log() from destroy() too (to
 * report what was lost, say); none may be called after destroy() returns.
 */
struct vmm_host_services {
	uint32_t size;	      /* sizeof the table the host filled in */
	uint32_t abi_version; /* VMM_PLUGIN_ABI_VERSION of the host: major and minor */

	/*
	 * Copy len bytes between guest RAM at gpa and buf (device DMA). The whole
	 * range [gpa, gpa + len) must lie inside one RAM slot: a range that wraps,
	 * leaves RAM, spans two slots or touches a device window is refused as a
	 * whole, with nothing copied. Returns 0 or -EFAULT (bad range), -EINVAL.
	 * Thread-safety: any thread (read() and write() on vCPU threads, the
	 * device's own threads), from create() until destroy() returns, also
	 * while the VM's layout changes (a copy and a change take turns); not
	 * from the VM's log callback during a layout change (-EDEADLK).
	 */
	int (*mem_read)(struct vmm_host *ctx, uint64_t gpa, void *buf, uint64_t len);
	int (*mem_write)(struct vmm_host *ctx, uint64_t gpa, const void *buf, uint64_t len);

	/*
	 * Log a message through the embedder's log sink, tagged with the device name.
	 * Thread-safety: any thread, from create() until destroy() returns.
	 */
	void (*log)(struct vmm_host *ctx, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

	/*
	 * Stop the VM: every vCPU returns from its run loop as soon as it can and
	 * the VM's run result carries exit_code (vmm-run exits with it). The
	 * first stop wins; later ones are ignored. Called from read() or
	 * write(), the guest's access still completes (on kvm; see
	 * vmm_vcpu_run()): a read's value reaches the guest's register and the
	 * vCPU stops after that instruction.
	 * Thread-safety: any thread, from create() until destroy() returns; not
	 * from a signal handler (it takes a mutex).
	 */
	void (*stop)(struct vmm_host *ctx, int exit_code);

	/*
	 * Configuration of this instance (keys of the device's config section
	 * that the core does not know). Valid during create() only. param()
	 * returns the value of key, or NULL, and marks the key as used: after
	 * create() returns, the host refuses the device if any key was never
	 * asked for. param_error() reports that key's value as wrong; the host
	 * prints it with the key's file:line and create() should then fail with
	 * -EINVAL.
	 * Thread-safety: only inside create(), on the thread that runs it.
	 */
	const char *(*param)(struct vmm_host *ctx, const char *key);
	void (*param_error)(struct vmm_host *ctx, const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

	/* ---- 1.1: interrupts (check VMM_HOST_HAS(host, irq_set) etc.) ---- */

	/*
	 * Set the level of the device's line number line (an index into
	 * info->irqs) to level (0 low, non-zero high). Returns 0, or -ENOENT
	 * if the device has no such line. Raising a line that is already high
	 * changes nothing; the I/O APIC sends its interrupt when the pin's
	 * level goes up (edge entries) or while it is up and the guest has
	 * acknowledged the last one (level entries, remote IRR).
	 * Thread-safety: any thread (read() and write() on vCPU threads, reset(),
	 * the device's own threads), from create() until destroy() returns;
	 * it takes only the interrupt controller's lock, never the device's or
	 * the layout's, so it never waits for a vCPU or a layout change and
	 * may be called while either is in progress. Not from a signal handler.
	 */
	int (*irq_set)(struct vmm_host *ctx, uint32_t line, int level);
	/*
	 * Raise and lower the line at once: one edge. For an edge-triggered
	 * redirection entry that is one interrupt; a level-triggered entry may
	 * miss it (use irq_set() for level devices). Returns as irq_set().
	 * Thread-safety: as irq_set().
	 */
	int (*irq_pulse)(struct vmm_host *ctx, uint32_t line);
	/*
	 * Send a message-signalled interrupt: write data to addr, as a PCI
	 * device's MSI does. addr must lie in [0xfee00000, 0xfef00000)
	 * (destination APIC ID in bits 19-12, bit 2 logical destination);
	 * data holds the vector (bits 7-0, 16 or more), the delivery mode
	 * (bits 10-8: fixed 0, lowest priority 1, NMI 4) and the trigger
	 * (bit 15, must be 0: edge). Returns 0 or -EINVAL (bad address or
	 * data, logged once per device). The message reaches every local
	 * APIC its destination names; none is not an error (as on a PC).
	 * Thread-safety: as irq_set().
	 */
	int (*msi_send)(struct vmm_host *ctx, uint64_t addr, uint32_t data);

	/* ---- 1.2: typed keys (check VMM_HOST_HAS(host, param_u64) etc.) ---- */

	/*
	 * Read key as a value of a type, with the syntax vmm.ini(5) gives the
	 * core's own keys, so that a model's keys read like the core's. Each
	 * works like param(): it marks the key as used, and is valid during
	 * create() only. Each returns
	 *   0        the key is set and its value is good: *out holds it;
	 *   -ENOENT  the key is not set: *out is untouched (keeps the default
	 *            the caller put there), nothing is reported;
	 *   -EINVAL  the value is wrong: the host has reported it as
	 *            param_error() does, with the key's file:line and a message
	 *            that says what was expected, e.g.
	 *              vm.ini:7: device 'uart0': reg-shift = '4' is out of
	 *              range: expected 0 to 3
	 *            and create() should fail with -EINVAL. *out is untouched.
	 *            (Also for a NULL out, words or buf: unreported.)
	 * Example, a key with a default:
	 *     uint64_t depth = 16;
	 *     int err = host->param_u64(ctx, "depth", 1, 4096, &depth);
	 *     if (err && err != -ENOENT)
	 *             return err;
	 * Thread-safety: only inside create(), on the thread that runs it.
	 */
	/*
	 * A number or size: decimal or 0x hex digits, then optionally K, M or
	 * G (binary units: 4K is 4096), e.g. 16, 0x3f8, 1M. It must lie in
	 * [min, max]; more than 64 bits is out of range too.
	 */
	int (*param_u64)(struct vmm_host *ctx, const char *key, uint64_t min, uint64_t max,
			 uint64_t *out);
	/*
	 * A duration, as [vm] timeout: digits with the unit ms, s (the default)
	 * or m, e.g. 250ms, 3, 3s, 2m. *ms gets milliseconds, in [min_ms, max_ms].
	 */
	int (*param_ms)(struct vmm_host *ctx, const char *key, uint64_t min_ms, uint64_t max_ms,
			uint64_t *ms);
	/* A yes-or-no value: true, yes, on, 1 or false, no, off, 0 (lower case). */
	int (*param_bool)(struct vmm_host *ctx, const char *key, bool *out);
	/*
	 * One of the words of the NULL-terminated list words, compared exactly
	 * (case matters); *index gets its position in the list. The message of a
	 * wrong value lists the words.
	 */
	int (*param_enum)(struct vmm_host *ctx, const char *key, const char *const *words,
			  unsigned *index);
	/*
	 * A path to a file, as the config file means it: an absolute path as
	 * written, a relative one joined to the folder of the config file
	 * that set the key (vmm_device_param.file, else the device's
	 * vmm_device_config.file), or, for a key with neither (a device an
	 * embedder added with no file), as written: relative to the working
	 * directory. The result goes to buf, of len bytes; an empty value or
	 * one whose result does not fit is -EINVAL (reported). A model whose
	 * key also takes words (stdout, none) tests param() for them first.
	 */
	int (*param_path)(struct vmm_host *ctx, const char *key, char *buf, size_t len);
};

/*
 * True if the host's services table has member (the table's size covers
 * it). host is the const struct vmm_host_services * given to create().
 */
#define VMM_HOST_HAS(host, member)                                                                 \
	((host)->size >= offsetof(struct vmm_host_services, member) + sizeof((host)->member))

/*
 * Where this instance lives; valid during create() only (copy what you
 * keep). size-tagged like the services: test size before reading a member
 * a later minor appends.
 */
struct vmm_device_info {
	uint32_t size;	  /* sizeof this struct as the host filled it */
	uint32_t space;	  /* VMM_SPACE_MMIO or VMM_SPACE_PIO */
	const char *name; /* the instance's name, e.g. "uart0" */
	uint64_t base;
	uint64_t length;
	/* 1.1: the device's interrupt lines (I/O APIC pins), from its `irq` key. */
	const uint32_t *irqs; /* nirqs pins; line i of irq_set() is irqs[i] */
	uint32_t nirqs;	      /* 0: the device has no line (it may still send MSIs) */
};

struct vmm_plugin_desc {
	uint32_t abi_version; /* VMM_PLUGIN_ABI_VERSION the plugin was built with */
	uint32_t size;	      /* sizeof(struct vmm_plugin_desc) the plugin was built with */
	const char *name;     /* short model name, e.g. "uart16550" */
	const char *description;
	uint32_t spaces;       /* mask of VMM_SPACE_*: where a window may be placed */
	uint32_t access_sizes; /* mask of VMM_ACCESS_*: widths the device accepts */
	uint64_t min_length;   /* smallest window the model works with (>= 1) */

	/*
	 * Create an instance. Store the instance state in *state. Return 0, or a
	 * negative errno after logging (or param_error()ing) why.
	 */
	int (*create)(const struct vmm_host_services *host, struct vmm_host *ctx,
		      const struct vmm_device_info *info, void **state);
	/* Free everything create() made. May be NULL if there is nothing to free. */
	void (*destroy)(void *state);
	/*
	 * Return to power-on state: the registers and internal state the
	 * device has right after create(), keeping what create() set up from
	 * its configuration (open files, the window). Called by vmm_vm_reset()
	 * with no vCPU running, before the guest runs again. May be NULL when
	 * the device has no state the guest can change.
	 */
	void (*reset)(void *state);

	/*
	 * A guest access. The host guarantees size is one of access_sizes and
	 * offset + size <= the window length. read() stores the value in *value
	 * (zero-extended); write() receives it zero-extended. Return 0, or a
	 * negative errno to have the host treat the access as unclaimed (reads
	 * see all-ones, writes are dropped, the host logs it).
	 */
	int (*read)(void *state, uint64_t offset, uint32_t size, uint64_t *value);
	int (*write)(void *state, uint64_t offset, uint32_t size, uint64_t value);

	/*
	 * Fields of later minor versions go here, each with its default for a
	 * descriptor whose size ends before it (0 or NULL).
	 */
};

/* The size of the 1.0 descriptor: the least a host of major 1 accepts. */
#define VMM_PLUGIN_DESC_MIN_SIZE (offsetof(struct vmm_plugin_desc, write) + sizeof(void *))

/* The type of the single exported entry point. */
typedef const struct vmm_plugin_desc *(*vmm_plugin_entry_fn)(void);

/*
 * A plugin defines the entry point as
 *     VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void) { ... }
 * VMM_PLUGIN_EXPORT keeps it visible when the plugin is built with
 * -fvisibility=hidden (recommended: nothing else should be exported).
 */
#define VMM_PLUGIN_EXPORT __attribute__((visibility("default")))
VMM_PLUGIN_EXPORT const struct vmm_plugin_desc *VMM_PLUGIN_ENTRY(void);

#ifdef __cplusplus
}
#endif

#endif /* VMM_PLUGIN_H */
