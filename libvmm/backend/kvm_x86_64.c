/* kvm_x86_64.c - the kvm backend's x86-64 part: CPUID, register marshalling, port I/O exits. */
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "backend/kvm.h"

static int get_supported_cpuid(struct kvm_vm *k)
{
	for (int n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return vmmi_error(-ENOMEM, "kvm: out of memory");
		c->nent = n;
		if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			k->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return vmmi_error(-errno, "kvm: KVM_GET_SUPPORTED_CPUID: %s",
					  strerror(errno));
	}
	return vmmi_error(-E2BIG, "kvm: KVM_GET_SUPPORTED_CPUID: too many entries");
}

int vmmi_kvm_arch_vm_init(struct kvm_vm *k)
{
	/*
	 * Intel wants a TSS area below 4 GiB for real-mode emulation. Our vCPUs
	 * start in long mode and never need it, so a kernel that refuses (AMD,
	 * PVM) is not an error.
	 */
	ioctl(k->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	return get_supported_cpuid(k);
}

void vmmi_kvm_arch_vm_fini(struct kvm_vm *k)
{
	free(k->cpuid);
}

/*
 * Give the vCPU the supported CPUID, with its own APIC id (its index) in
 * every leaf that reports one, from a copy of its own: the VM's list stays
 * as KVM gave it. Long mode needs CPUID.LM visible to the guest before KVM
 * accepts EFER.LME.
 */
int vmmi_kvm_arch_vcpu_init(const struct kvm_vm *k, struct kvm_vcpu *kv, unsigned index)
{
	size_t size = sizeof(*k->cpuid) + k->cpuid->nent * sizeof(k->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	int ret = 0;

	if (!c)
		return vmmi_error(-ENOMEM, "kvm: out of memory");
	memcpy(c, k->cpuid, size);
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 0x1: /* initial APIC id */
			e->ebx = (e->ebx & 0x00ffffff) | (index << 24);
			break;
		case 0xb:  /* x2APIC id, in every subleaf */
		case 0x1f: /* the same for V2 extended topology */
			e->edx = index;
			break;
		case 0x8000001e: /* AMD extended APIC id */
			e->eax = index;
			break;
		}
	}
	if (ioctl(kv->fd, KVM_SET_CPUID2, c) < 0)
		ret = vmmi_error(-errno, "kvm: KVM_SET_CPUID2 on vCPU %u: %s", index,
				 strerror(errno));
	free(c);
	return ret;
}

int vmmi_kvm_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *r)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_regs kr;

	if (ioctl(kv->fd, KVM_GET_REGS, &kr) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_REGS: %s", strerror(errno));
	*r = (struct vmm_regs){
	    kr.rax, kr.rbx, kr.rcx, kr.rdx, kr.rsi, kr.rdi, kr.rsp, kr.rbp, kr.r8,
	    kr.r9,  kr.r10, kr.r11, kr.r12, kr.r13, kr.r14, kr.r15, kr.rip, kr.rflags,
	};
	return 0;
}

int vmmi_kvm_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *r)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_regs kr = {
	    .rax = r->rax,
	    .rbx = r->rbx,
	    .rcx = r->rcx,
	    .rdx = r->rdx,
	    .rsi = r->rsi,
	    .rdi = r->rdi,
	    .rsp = r->rsp,
	    .rbp = r->rbp,
	    .r8 = r->r8,
	    .r9 = r->r9,
	    .r10 = r->r10,
	    .r11 = r->r11,
	    .r12 = r->r12,
	    .r13 = r->r13,
	    .r14 = r->r14,
	    .r15 = r->r15,
	    .rip = r->rip,
	    .rflags = r->rflags,
	};

	if (ioctl(kv->fd, KVM_SET_REGS, &kr) < 0)
		return vmmi_error(-errno, "kvm: KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

static void seg_from_kvm(struct vmm_segment *s, const struct kvm_segment *k)
{
	*s = (struct vmm_segment){
	    .base = k->base,
	    .limit = k->limit,
	    .selector = k->selector,
	    .type = k->type,
	    .present = k->present,
	    .dpl = k->dpl,
	    .db = k->db,
	    .s = k->s,
	    .l = k->l,
	    .g = k->g,
	    .avl = k->avl,
	};
}

static void seg_to_kvm(struct kvm_segment *k, const struct vmm_segment *s)
{
	*k = (struct kvm_segment){
	    .base = s->base,
	    .limit = s->limit,
	    .selector = s->selector,
	    .type = s->type,
	    .present = s->present,
	    .dpl = s->dpl,
	    .db = s->db,
	    .s = s->s,
	    .l = s->l,
	    .g = s->g,
	    .avl = s->avl,
	    .unusable = !s->present,
	};
}

int vmmi_kvm_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *s)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_sregs ks;

	if (ioctl(kv->fd, KVM_GET_SREGS, &ks) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_SREGS: %s", strerror(errno));
	seg_from_kvm(&s->cs, &ks.cs);
	seg_from_kvm(&s->ds, &ks.ds);
	seg_from_kvm(&s->es, &ks.es);
	seg_from_kvm(&s->fs, &ks.fs);
	seg_from_kvm(&s->gs, &ks.gs);
	seg_from_kvm(&s->ss, &ks.ss);
	seg_from_kvm(&s->tr, &ks.tr);
	seg_from_kvm(&s->ldt, &ks.ldt);
	s->gdt = (struct vmm_dtable){ks.gdt.base, ks.gdt.limit};
	s->idt = (struct vmm_dtable){ks.idt.base, ks.idt.limit};
	s->cr0 = ks.cr0;
	s->cr2 = ks.cr2;
	s->cr3 = ks.cr3;
	s->cr4 = ks.cr4;
	s->efer = ks.efer;
	return 0;
}

int vmmi_kvm_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *s)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_sregs ks;

	/* Start from the current state: it carries apic_base and the interrupt bitmap. */
	if (ioctl(kv->fd, KVM_GET_SREGS, &ks) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_SREGS: %s", strerror(errno));
	seg_to_kvm(&ks.cs, &s->cs);
	seg_to_kvm(&ks.ds, &s->ds);
	seg_to_kvm(&ks.es, &s->es);
	seg_to_kvm(&ks.fs, &s->fs);
	seg_to_kvm(&ks.gs, &s->gs);
	seg_to_kvm(&ks.ss, &s->ss);
	seg_to_kvm(&ks.tr, &s->tr);
	seg_to_kvm(&ks.ldt, &s->ldt);
	ks.gdt.base = s->gdt.base;
	ks.gdt.limit = s->gdt.limit;
	ks.idt.base = s->idt.base;
	ks.idt.limit = s->idt.limit;
	ks.cr0 = s->cr0;
	ks.cr2 = s->cr2;
	ks.cr3 = s->cr3;
	ks.cr4 = s->cr4;
	ks.efer = s->efer;
	if (ioctl(kv->fd, KVM_SET_SREGS, &ks) < 0)
		return vmmi_error(-errno, "kvm: KVM_SET_SREGS: %s", strerror(errno));
	return 0;
}

/*
 * INT3 and INT n on a host whose KVM emulates them (PVM, where the guest's
 * kernel runs in the host's user mode, so they trap to KVM) and whose
 * emulator cannot: KVM's handles INT n only in real mode. Do what the CPU
 * would: RIP past the instruction, then the vector through the guest's IDT,
 * #BP as a trap for INT3, INT n as an event already being delivered, which
 * KVM enters whatever RFLAGS.IF (INT n ignores it). Hardware VMX and SVM
 * deliver both without an exit, so they never come here.
 */
int vmmi_kvm_emulation_failed(struct vmm_vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_translation t = {0};
	struct kvm_vcpu_events ev;
	struct kvm_regs r;
	uint8_t insn[2] = {0, 0};
	size_t len;

	if (ioctl(kv->fd, KVM_GET_REGS, &r) < 0)
		return 0;
	/* The bytes in RIP's page: an INT n split across two pages is left to fail as before. */
	len = (r.rip & 0xfff) == 0xfff ? 1 : 2;
	t.linear_address = r.rip;
	if (ioctl(kv->fd, KVM_TRANSLATE, &t) < 0 || !t.valid ||
	    vmm_guest_read(vcpu->vm, t.physical_address, insn, len) < 0)
		return 0;
	if (insn[0] != 0xcc && (insn[0] != 0xcd || len < 2))
		return 0;
	if (ioctl(kv->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 || ev.exception.injected ||
	    ev.exception.pending || ev.interrupt.injected)
		return 0;
	if (insn[0] == 0xcc) {
		r.rip += 1;
		ev.exception.injected = 1;
		ev.exception.nr = 3; /* #BP */
		ev.exception.has_error_code = 0;
		ev.exception.error_code = 0;
	} else {
		r.rip += 2;
		ev.interrupt.injected = 1;
		ev.interrupt.nr = insn[1];
		ev.interrupt.soft = 0;
	}
	ev.flags = 0; /* leave NMI pending, SIPI, the interrupt shadow and SMM as they are */
	return ioctl(kv->fd, KVM_SET_REGS, &r) == 0 && ioctl(kv->fd, KVM_SET_VCPU_EVENTS, &ev) == 0;
}

/* KVM_EXIT_IO: count accesses of size bytes each, in the kvm_run page at data_offset. */
int vmmi_kvm_handle_io(struct vmm_vcpu *vcpu, struct kvm_run *run, int run_size,
		       struct vmm_exit *exit)
{
	uint32_t size = run->io.size, count = run->io.count;
	uint64_t off = run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run;

	if (size > 4 || count == 0 || !vmmi_range_ok(off, (uint64_t)size * count, run_size)) {
		vmmi_exit_set(exit, VMM_EXIT_INTERNAL_ERROR,
			      "KVM_EXIT_IO with size %u count %u at offset 0x%llx", size, count,
			      (unsigned long long)off);
		return 1;
	}
	for (uint32_t i = 0; i < count; i++, off += size) {
		uint64_t v = 0;
		int ret;

		if (is_write)
			memcpy(&v, data + off, size);
		ret = vmmi_dispatch(vcpu, VMM_SPACE_PIO, run->io.port, size, is_write, &v, exit);
		/* Even on a stop (all-ones then): KVM completes the IN with it. */
		if (!is_write)
			memcpy(data + off, &v, size);
		if (ret) {
			/* The rest of a string IN, which no device answered, reads all-ones. */
			if (!is_write)
				memset(data + off + size, 0xff, (size_t)size * (count - i - 1));
			return ret;
		}
	}
	return 0;
}
