/* kvm.h - what the kvm backend's generic part (kvm.c) and its x86-64 part (kvm_x86_64.c) share. */
#ifndef VMMI_BACKEND_KVM_H
#define VMMI_BACKEND_KVM_H

#include <linux/kvm.h>

#include "vmm_internal.h"

struct kvm_vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	int max_slots;
	bool readonly_mem;	  /* KVM_CAP_READONLY_MEM */
	struct kvm_cpuid2 *cpuid; /* x86: KVM_GET_SUPPORTED_CPUID (kvm_x86_64.c) */
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
};

/* ---- the architecture's part (kvm_x86_64.c) ---- */

/* After KVM_CREATE_VM: what the VM needs before vCPUs are created. */
int vmmi_kvm_arch_vm_init(struct kvm_vm *k);
/* Frees what vmmi_kvm_arch_vm_init() allocated (also after it failed). */
void vmmi_kvm_arch_vm_fini(struct kvm_vm *k);
/* After KVM_CREATE_VCPU and the kvm_run mmap: the vCPU's identity (CPUID on x86). */
int vmmi_kvm_arch_vcpu_init(const struct kvm_vm *k, struct kvm_vcpu *kv, unsigned index);
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

#endif /* VMMI_BACKEND_KVM_H */
