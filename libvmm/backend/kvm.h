/* SPDX-License-Identifier: MIT */
/* kvm.h - what the kvm backend's generic part (kvm.c) and its x86-64 part (kvm_x86_64.c) share. */
#ifndef VMMI_BACKEND_KVM_H
#define VMMI_BACKEND_KVM_H

#include <linux/kvm.h>

#include "vmm_internal.h"

struct kvm_vcpu;

/*
 * Noticing a vCPU that halted with interrupts off (kvm_halt.c). With the
 * local APICs in the kernel, KVM_RUN blocks on HLT instead of returning, so
 * one thread per VM looks at the "blocking" statistic of each vCPU inside
 * run() and sends the kick signal to a blocked one, whose run loop then
 * reads its state (vmmi_kvm_halt_ended()).
 */
struct kvm_watch {
	pthread_mutex_t lock; /* guards everything below and the watched vCPUs' watch fields */
	pthread_cond_t cond;  /* a vCPU came in, or quit: on CLOCK_MONOTONIC */
	pthread_t thread;
	bool lock_ok, started, quit;
	int sig;	   /* the VM's kick signal */
	struct vmm_vm *vm; /* for the I/O APIC's remote IRR bits (under vm->irq.lock) */
	uint64_t wake_ns;  /* when the thread looks next (UINT64_MAX: when a vCPU comes in) */
	struct kvm_vcpu *in[VMM_GUEST_MAX_VCPUS]; /* the vCPUs inside run(), by index */
	/* EOIs KVM reported (vCPU threads count), and how long the watch waits for the next. */
	_Atomic uint64_t eois;
	uint64_t eois_seen, eoi_period_ns;
};

struct kvm_vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	int max_slots;
	bool readonly_mem;	  /* KVM_CAP_READONLY_MEM */
	bool irqchip;		  /* KVM_CAP_SPLIT_IRQCHIP is on: routes may be set */
	struct kvm_cpuid2 *cpuid; /* x86: KVM_GET_SUPPORTED_CPUID (kvm_x86_64.c) */
	/* The level-triggered routes KVM has (under vm->irq.lock): set again only when they change.
	 */
	uint32_t nroutes;
	struct kvm_irq_routing_entry routes[VMM_GUEST_IOAPIC_PINS];
	struct kvm_watch watch;
};

struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
	/*
	 * The last KVM_RUN ended in an MMIO or PIO exit: the instruction is
	 * complete, and the registers say so, only once KVM_RUN is entered
	 * again (complete_io()).
	 */
	bool io_pending;
	/* Power-on local APIC state (KVM_GET_LAPIC after KVM_CREATE_VCPU) and APIC base MSR. */
	struct kvm_lapic_state lapic0;
	uint64_t apic_base0;
	/*
	 * linux_vcpu set the Linux CPUID: a reset's call sets only the MP state
	 * (KVM refuses KVM_SET_CPUID2 after KVM_RUN unless it finds the CPUID
	 * equal, which PVM's additions defeat).
	 */
	bool linux_cpuid;
	/*
	 * The halt watch (kvm_halt.c): the vCPU's binary statistics, and where
	 * in them "blocking" and "halt_exits" are (-1: not offered).
	 */
	int stats_fd;
	int64_t blocking_at, halts_at;
	/* Under watch.lock while the vCPU is in watch.in[]: */
	pthread_t thread;	     /* the thread in run() */
	uint64_t next_ns, period_ns; /* next look (CLOCK_MONOTONIC), and the one after that */
	uint64_t poked_halts;	     /* halt_exits when it was last sent the signal (+1) */
	/* vCPU thread only: made runnable to collect an EOI exit KVM owes (vmmi_kvm_halt_ended()).
	 */
	bool eoi_flush;
	uint64_t eoi_flush_rip;
};

/* ---- the halt watch (kvm_halt.c) ---- */

/* vm_init / vm_fini: the watch's lock (the thread starts with the first run()). */
int vmmi_kvm_watch_init(struct vmm_vm *vm);
void vmmi_kvm_watch_fini(struct kvm_vm *k);
/* vcpu_init: find the statistics; kv->stats_fd stays -1 (the watch pokes blindly) if none. */
void vmmi_kvm_watch_vcpu_init(struct kvm_vcpu *kv);
void vmmi_kvm_watch_vcpu_fini(struct kvm_vcpu *kv);
/* run() entry and return, on the vCPU's thread. */
int vmmi_kvm_watch_enter(struct vmm_vcpu *vcpu);
void vmmi_kvm_watch_leave(struct vmm_vcpu *vcpu);

/* ---- the architecture's part (kvm_x86_64.c) ---- */

/* After KVM_CREATE_VM: what the VM needs before vCPUs are created. */
int vmmi_kvm_arch_vm_init(struct kvm_vm *k);
/* Frees what vmmi_kvm_arch_vm_init() allocated (also after it failed). */
void vmmi_kvm_arch_vm_fini(struct kvm_vm *k);
/* After KVM_CREATE_VCPU and the kvm_run mmap: the vCPU's identity (CPUID on x86). */
int vmmi_kvm_arch_vcpu_init(const struct kvm_vm *k, struct kvm_vcpu *kv, unsigned index);
/* The backend op linux_vcpu: the CPUID and start state of a Linux guest's vCPU. */
int vmmi_kvm_linux_vcpu(struct vmm_vcpu *vcpu);
/*
 * KVM could not emulate the instruction at RIP (KVM_INTERNAL_ERROR_EMULATION).
 * Returns 1 if it was an INT3 or INT n, now delivered as the CPU would
 * (through the IDT, RIP past it), so KVM_RUN goes on; 0 leaves the exit to
 * the caller.
 */
int vmmi_kvm_emulation_failed(struct vmm_vcpu *vcpu);
int vmmi_kvm_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *r);
int vmmi_kvm_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *r);
int vmmi_kvm_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *s);
int vmmi_kvm_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *s);
/*
 * KVM_EXIT_IO: dispatch its port accesses. 0 to go on, or 1 if the vCPU
 * must stop (exit filled), as vmmi_dispatch().
 */
int vmmi_kvm_handle_io(struct vmm_vcpu *vcpu, struct kvm_run *run, int run_size,
		       struct vmm_exit *exit);
/*
 * After KVM_CREATE_VM: the split irqchip (local APICs in KVM, the I/O APIC
 * ours), before any vCPU exists.
 */
int vmmi_kvm_irqchip_init(struct kvm_vm *k);
/* After KVM_CREATE_VCPU: runnable (KVM parks every vCPU but 0), power-on LAPIC saved. */
int vmmi_kvm_irq_vcpu_init(struct kvm_vcpu *kv, unsigned index);
/* The backend ops msi, irq_routes and irq_reset. */
int vmmi_kvm_msi(struct vmm_vm *vm, uint64_t addr, uint32_t data);
void vmmi_kvm_irq_routes(struct vmm_vm *vm);
int vmmi_kvm_irq_reset(struct vmm_vcpu *vcpu);
/*
 * KVM_RUN was interrupted by no kick: is the vCPU halted for good (HLT with
 * RFLAGS.IF clear and no NMI to take)? Then it is made runnable again (a
 * later run goes on after the HLT) and exit says VMM_EXIT_HLT: 1. 0 to go
 * on; a negative errno if its state cannot be read.
 */
int vmmi_kvm_halt_ended(struct vmm_vcpu *vcpu, struct vmm_exit *exit);
/*
 * KVM_RUN returned after vmmi_kvm_halt_ended() made the vCPU runnable to
 * collect an owed EOI exit: halted again if no guest instruction ran.
 */
void vmmi_kvm_eoi_flushed(struct vmm_vcpu *vcpu);
/* A level-triggered I/O APIC entry waits for its EOI (remote IRR): the watch looks more often. */
bool vmmi_kvm_eoi_waiting(struct vmm_vm *vm);

#endif /* VMMI_BACKEND_KVM_H */
