/* SPDX-License-Identifier: MIT */
/*
 * kvm_x86_64.c - the kvm backend's x86-64 part: CPUID, register
 * marshalling, port I/O exits, the local APICs (split irqchip).
 */
#include <linux/kvm.h>
#include <linux/kvm_para.h>
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

static int set_mp_state(struct vmm_vcpu *vcpu, uint32_t state)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_mp_state mp = {.mp_state = state};

	if (ioctl(kv->fd, KVM_SET_MP_STATE, &mp) < 0)
		return vmmi_error(-errno, "kvm: KVM_SET_MP_STATE on vCPU %u: %s", vcpu->index,
				  strerror(errno));
	return 0;
}

/*
 * Where a vCPU starts: a PC's application processors wait for INIT/SIPI
 * (UNINITIALIZED), but guest.h starts every vCPU at its entry.
 */
static uint32_t start_mp_state(const struct vmm_vcpu *vcpu, bool pc)
{
	return pc && vcpu->index != 0 ? KVM_MP_STATE_UNINITIALIZED : KVM_MP_STATE_RUNNABLE;
}

#define CPUID1_ECX_X2APIC	(1u << 21)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_HYPERVISOR	(1u << 31)

/* KVM's paravirt leaves: its signature, and the features (kvmclock's among them) under it. */
#define KVM_LEAF_SIGNATURE 0x40000000u
#define KVM_LEAF_FEATURES  0x40000001u

/* A copy of the VM's supported CPUID, with room for extra entries more: the VM's list stays. */
static struct kvm_cpuid2 *cpuid_copy(const struct kvm_vm *k, unsigned extra)
{
	size_t size = sizeof(*k->cpuid) + k->cpuid->nent * sizeof(k->cpuid->entries[0]);
	struct kvm_cpuid2 *c = calloc(1, size + extra * sizeof(k->cpuid->entries[0]));

	if (!c) {
		vmmi_error(-ENOMEM, "kvm: out of memory");
		return NULL;
	}
	memcpy(c, k->cpuid, size);
	return c;
}

/* The vCPU's APIC id, its index, in every leaf that reports one. */
static void cpuid_set_apic_id(struct kvm_cpuid2 *c, unsigned index)
{
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
}

static struct kvm_cpuid_entry2 *cpuid_leaf(struct kvm_cpuid2 *c, uint32_t function)
{
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == function && c->entries[i].index == 0)
			return &c->entries[i];
	return NULL;
}

/* KVM_SET_CPUID2 of c on the vCPU; frees c. */
static int cpuid_set(struct kvm_vcpu *kv, struct kvm_cpuid2 *c, unsigned index)
{
	int ret = 0;

	if (ioctl(kv->fd, KVM_SET_CPUID2, c) < 0)
		ret = vmmi_error(
		    -errno, "kvm: KVM_SET_CPUID2 on vCPU %u: %s%s", index, strerror(errno),
		    errno == EINVAL ? " (KVM takes no new CPUID once the vCPU has run)" : "");
	free(c);
	return ret;
}

/*
 * Give the vCPU the supported CPUID, with its own APIC id. Long mode needs
 * CPUID.LM visible to the guest before KVM accepts EFER.LME. The local
 * APIC is the xAPIC guest.h describes: no x2APIC (KVM then refuses the
 * mode in the APIC base MSR) and no TSC-deadline timer mode.
 */
int vmmi_kvm_arch_vcpu_init(const struct kvm_vm *k, struct kvm_vcpu *kv, unsigned index)
{
	struct kvm_cpuid2 *c = cpuid_copy(k, 0);
	struct kvm_cpuid_entry2 *e;

	if (!c)
		return -ENOMEM;
	cpuid_set_apic_id(c, index);
	e = cpuid_leaf(c, 0x1);
	if (e) /* the APIC (EDX bit 9) stays */
		e->ecx &= ~(CPUID1_ECX_X2APIC | CPUID1_ECX_TSC_DEADLINE);
	return cpuid_set(kv, c, index);
}

/*
 * KVM's paravirt leaves, through which Linux finds kvmclock. KVM's
 * KVM_GET_SUPPORTED_CPUID lists both (arch/x86/kvm/cpuid.c, and this
 * project's PVM host), so they are added only for a kernel that left them
 * out; then with no feature but kvmclock's two MSR pairs, which KVM serves
 * unless KVM_CAP_ENFORCE_PV_FEATURE_CPUID is on (we never turn it on).
 */
static void cpuid_add_kvm_leaves(struct kvm_cpuid2 *c)
{
	static const char sig[12] = "KVMKVMKVM";
	struct kvm_cpuid_entry2 *e;

	if (!cpuid_leaf(c, KVM_LEAF_SIGNATURE)) {
		e = &c->entries[c->nent++];
		*e = (struct kvm_cpuid_entry2){.function = KVM_LEAF_SIGNATURE,
					       .eax = KVM_LEAF_FEATURES};
		memcpy(&e->ebx, sig, 4);
		memcpy(&e->ecx, sig + 4, 4);
		memcpy(&e->edx, sig + 8, 4);
	}
	if (!cpuid_leaf(c, KVM_LEAF_FEATURES))
		c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		    .function = KVM_LEAF_FEATURES,
		    .eax = 1u << KVM_FEATURE_CLOCKSOURCE | 1u << KVM_FEATURE_CLOCKSOURCE2,
		};
}

/*
 * The CPU a Linux guest needs (struct vmmi_backend_ops.linux_vcpu): the
 * supported CPUID as KVM gives it, x2APIC included, with the vCPU's APIC
 * id, the hypervisor bit, the TSC-deadline timer if and only if KVM
 * emulates it (KVM_CAP_TSC_DEADLINE_TIMER: older KVMs leave it out of the
 * supported CPUID) and
 * KVM's paravirt leaves for kvmclock. With no PIT, kvmclock and the
 * TSC-deadline local APIC timer are Linux's clocks. Then vCPU 0 runs and
 * the others wait for INIT/SIPI, as a PC's application processors do.
 */
int vmmi_kvm_linux_vcpu(struct vmm_vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->be;
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_cpuid2 *c;
	struct kvm_cpuid_entry2 *e;
	int ret;

	if (kv->linux_cpuid)
		return set_mp_state(vcpu, start_mp_state(vcpu, true));
	c = cpuid_copy(k, 2);
	if (!c)
		return -ENOMEM;
	cpuid_set_apic_id(c, vcpu->index);
	e = cpuid_leaf(c, 0x1);
	if (e) {
		e->ecx |= CPUID1_ECX_HYPERVISOR;
		e->ecx &= ~CPUID1_ECX_TSC_DEADLINE;
		if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
			e->ecx |= CPUID1_ECX_TSC_DEADLINE;
	}
	cpuid_add_kvm_leaves(c);
	/*
	 * The local APIC's version register follows CPUID (x2APIC with a split
	 * irqchip offers directed EOI); KVM_SET_LAPIC on a reset recomputes it,
	 * so kv->lapic0 needs no change.
	 */
	ret = cpuid_set(kv, c, vcpu->index);
	if (ret < 0)
		return ret;
	kv->linux_cpuid = true;
	return set_mp_state(vcpu, start_mp_state(vcpu, true));
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

/* ---- the local APICs: KVM's split irqchip ---- */

/*
 * KVM keeps the local APICs (KVM_CAP_SPLIT_IRQCHIP); the I/O APIC is
 * core/ioapic.c, whose messages and every device MSI arrive here as
 * KVM_SIGNAL_MSI. KVM tells level-triggered EOIs to userspace only for the
 * vectors its routes for the reserved pins name as level-triggered (the
 * EOI-exit bitmap): so each redirection entry is mirrored as an MSI route
 * of GSI = pin, and KVM_EXIT_IOAPIC_EOI goes to vmmi_irq_eoi(). No PIC:
 * KVM has none in this mode.
 */

int vmmi_kvm_irqchip_init(struct kvm_vm *k)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_SPLIT_IRQCHIP, .args = {VMM_GUEST_IOAPIC_PINS}};

	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) <= 0 ||
	    ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SIGNAL_MSI) <= 0)
		return vmmi_error(-ENODEV, "kvm: the kernel lacks KVM_CAP_SPLIT_IRQCHIP or "
					   "KVM_CAP_SIGNAL_MSI (the local APICs, for interrupts)");
	if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return vmmi_error(-errno,
				  "kvm: KVM_ENABLE_CAP KVM_CAP_SPLIT_IRQCHIP with %u pins (the "
				  "local APICs, for interrupts): %s",
				  VMM_GUEST_IOAPIC_PINS, strerror(errno));
	k->irqchip = true;
	/*
	 * No halt polling: KVM would spin up to halt_poll_ns (200 us by
	 * default) in a HLT before it blocks, unseen by the halt watch
	 * (kvm_halt.c), which looks for "blocking": a `cli; hlt` would end
	 * that much later, and the spin takes a host CPU from the other
	 * vCPUs. A wake-up from HLT costs a scheduler wake-up instead. A
	 * kernel without the capability keeps its polling (the watch still
	 * sees the halt, later).
	 */
	ioctl(k->vm_fd, KVM_ENABLE_CAP, &(struct kvm_enable_cap){.cap = KVM_CAP_HALT_POLL});
	return 0;
}

int vmmi_kvm_irq_vcpu_init(struct kvm_vcpu *kv, unsigned index)
{
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	struct kvm_sregs s;

	/* After KVM_SET_CPUID2: the version register depends on CPUID (x2APIC). */
	if (ioctl(kv->fd, KVM_GET_LAPIC, &kv->lapic0) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_LAPIC on vCPU %u: %s", index,
				  strerror(errno));
	if (ioctl(kv->fd, KVM_GET_SREGS, &s) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_SREGS on vCPU %u: %s", index,
				  strerror(errno));
	kv->apic_base0 = s.apic_base;
	/* With a kernel LAPIC, KVM parks every vCPU but 0 until a SIPI: guest.h starts them all. */
	if (ioctl(kv->fd, KVM_SET_MP_STATE, &mp) < 0)
		return vmmi_error(-errno, "kvm: KVM_SET_MP_STATE on vCPU %u: %s", index,
				  strerror(errno));
	return 0;
}

int vmmi_kvm_msi(struct vmm_vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_vm *k = vm->be;
	struct kvm_msi m = {
	    .address_lo = (uint32_t)addr,
	    .address_hi = (uint32_t)(addr >> 32),
	    .data = data,
	};
	int ret;

	do
		ret = ioctl(k->vm_fd, KVM_SIGNAL_MSI, &m);
	while (ret < 0 && errno == EINTR);
	/*
	 * 0: the guest's APICs blocked it. KVM returns -1 (read as EPERM) when
	 * no local APIC matched the destination, before the vCPUs exist, say:
	 * as on the bus, not an error.
	 */
	if (ret < 0 && errno == EPERM)
		return 0;
	if (ret < 0)
		return vmmi_error(-errno, "kvm: KVM_SIGNAL_MSI 0x%x to 0x%llx: %s", data,
				  (unsigned long long)addr, strerror(errno));
	return 0;
}

/*
 * Mirror the level-triggered entries, masked ones too (an entry masked
 * while it waits for its EOI still needs it), as MSI routes. Edge entries
 * need no route: nothing is delivered through them (KVM_SIGNAL_MSI). KVM
 * rebuilds every vCPU's EOI-exit bitmap on KVM_SET_GSI_ROUTING, which is
 * slow: only a change of the level entries sets the table again. Called
 * under vm->irq.lock; at vmmi_irq_init() the backend is up already, but a
 * backend without the irqchip (or none yet) does nothing.
 */
void vmmi_kvm_irq_routes(struct vmm_vm *vm)
{
	struct kvm_vm *k = vm->be;
	union {
		struct kvm_irq_routing r;
		uint8_t bytes[sizeof(struct kvm_irq_routing) +
			      VMM_GUEST_IOAPIC_PINS * sizeof(struct kvm_irq_routing_entry)];
	} t;
	struct kvm_irq_routing_entry *e = t.r.entries;
	uint32_t n = 0;

	if (!k || !k->irqchip)
		return;
	memset(&t, 0, sizeof(t));
	for (unsigned pin = 0; pin < VMM_GUEST_IOAPIC_PINS; pin++) {
		uint64_t addr;
		uint32_t data;
		bool masked;

		vmmi_ioapic_route(&vm->irq.io, pin, &addr, &data, &masked);
		if (!(data & (1u << 15)))
			continue;
		e[n].gsi = pin;
		e[n].type = KVM_IRQ_ROUTING_MSI;
		e[n].u.msi.address_lo = (uint32_t)addr;
		e[n].u.msi.address_hi = (uint32_t)(addr >> 32);
		e[n].u.msi.data = data;
		n++;
	}
	if (n == k->nroutes && memcmp(e, k->routes, n * sizeof(e[0])) == 0)
		return;
	t.r.nr = n;
	if (ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, &t.r) < 0) {
		vmmi_log(
		    vm, VMM_LOG_ERROR,
		    "kvm: KVM_SET_GSI_ROUTING (%u level-triggered I/O APIC entries): %s; their "
		    "EOIs may not reach the I/O APIC",
		    n, strerror(errno));
		return;
	}
	memcpy(k->routes, e, n * sizeof(e[0]));
	k->nroutes = n;
}

int vmmi_kvm_irq_reset(struct vmm_vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->be;
	/* A Linux guest's application processors wait for its SIPI again (linux_vcpu). */
	struct kvm_mp_state mp = {.mp_state = start_mp_state(vcpu, vcpu->vm->linux_boot)};
	struct kvm_vcpu_events ev;
	union {
		struct kvm_msrs m;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msrs;

	memset(&msrs, 0, sizeof(msrs));
	msrs.m.nmsrs = 1;
	msrs.m.entries[0].index = 0x1b; /* IA32_APIC_BASE: enabled, at its base, BSP as created */
	msrs.m.entries[0].data = kv->apic_base0;
	if (ioctl(kv->fd, KVM_SET_MSRS, &msrs.m) != 1)
		return vmmi_error(-EIO, "kvm: vCPU %u: cannot reset the APIC base MSR",
				  vcpu->index);
	if (ioctl(kv->fd, KVM_SET_LAPIC, &kv->lapic0) < 0)
		return vmmi_error(-errno, "kvm: KVM_SET_LAPIC on vCPU %u: %s", vcpu->index,
				  strerror(errno));
	/* Nothing the old run left half-delivered: no exception, interrupt or NMI. */
	if (ioctl(kv->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_VCPU_EVENTS on vCPU %u: %s", vcpu->index,
				  strerror(errno));
	memset(&ev.exception, 0, sizeof(ev.exception));
	memset(&ev.interrupt, 0, sizeof(ev.interrupt));
	memset(&ev.nmi, 0, sizeof(ev.nmi));
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING;
	if (ioctl(kv->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return vmmi_error(-errno, "kvm: KVM_SET_VCPU_EVENTS on vCPU %u: %s", vcpu->index,
				  strerror(errno));
	if (ioctl(kv->fd, KVM_SET_MP_STATE, &mp) < 0)
		return vmmi_error(-errno, "kvm: KVM_SET_MP_STATE on vCPU %u: %s", vcpu->index,
				  strerror(errno));
	return 0;
}

#define RFLAGS_IF (1ull << 9)

/* Redirection entry bits (vmm_internal.h, struct vmmi_ioapic). */
#define RTE_DESTMODE   (1ull << 11)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_TRIGGER    (1ull << 15)

bool vmmi_kvm_eoi_waiting(struct vmm_vm *vm)
{
	bool waiting = false;

	if (!vm->irq.lock_ok || pthread_mutex_lock(&vm->irq.lock))
		return false;
	for (unsigned pin = 0; pin < VMMI_IOAPIC_PINS && !waiting; pin++)
		waiting = (vm->irq.io.rte[pin] & (RTE_TRIGGER | RTE_REMOTE_IRR)) ==
			  (RTE_TRIGGER | RTE_REMOTE_IRR);
	pthread_mutex_unlock(&vm->irq.lock);
	return waiting;
}

static bool apic_bit(const struct kvm_lapic_state *l, unsigned base, unsigned vector)
{
	uint32_t w;

	memcpy(&w, l->regs + base + (vector / 32) * 0x10, 4);
	return w >> (vector % 32) & 1;
}

/*
 * Does KVM owe this vCPU's run loop a KVM_EXIT_IOAPIC_EOI? A level entry
 * addressed to this local APIC waits for its EOI (remote IRR), yet its
 * vector is neither requested (IRR) nor in service (ISR) here: the guest
 * has EOIed it. Some kvm hosts (PVM here) raise the EOI exit only at the
 * next KVM_RUN after a userspace exit, and a vCPU halted since then never
 * gets there by itself: without it, a level line still high after its
 * EOI would never interrupt again. The LAPIC is read under vm->irq.lock,
 * which every I/O APIC message is sent under: no message can be on its
 * way between the two reads.
 */
static bool eoi_owed(struct vmm_vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct vmm_vm *vm = vcpu->vm;
	struct kvm_lapic_state l;
	uint32_t id, ldr;
	bool owed = false;

	if (pthread_mutex_lock(&vm->irq.lock))
		return false;
	if (ioctl(kv->fd, KVM_GET_LAPIC, &l) < 0)
		goto out;
	memcpy(&id, l.regs + 0x20, 4);
	memcpy(&ldr, l.regs + 0xd0, 4);
	id >>= 24;
	ldr >>= 24;
	for (unsigned pin = 0; pin < VMMI_IOAPIC_PINS && !owed; pin++) {
		uint64_t e = vm->irq.io.rte[pin];
		unsigned vector = e & 0xff, dest = e >> 56;

		if ((e & (RTE_TRIGGER | RTE_REMOTE_IRR)) != (RTE_TRIGGER | RTE_REMOTE_IRR))
			continue;
		if ((e & RTE_DESTMODE) ? !(dest & ldr) : (dest != id && dest != 0xff))
			continue;
		owed = !apic_bit(&l, 0x100, vector) && !apic_bit(&l, 0x200, vector);
	}
out:
	pthread_mutex_unlock(&vm->irq.lock);
	return owed;
}

int vmmi_kvm_halt_ended(struct vmm_vcpu *vcpu, struct vmm_exit *exit)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_mp_state mp;
	struct kvm_vcpu_events ev;
	struct kvm_regs r;
	int ret;

	if (ioctl(kv->fd, KVM_GET_MP_STATE, &mp) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_MP_STATE on vCPU %u: %s", vcpu->index,
				  strerror(errno));
	if (mp.mp_state != KVM_MP_STATE_HALTED)
		return 0; /* running: entering KVM_RUN again raises any EOI exit it owes */
	if (ioctl(kv->fd, KVM_GET_REGS, &r) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_REGS on vCPU %u: %s", vcpu->index,
				  strerror(errno));
	if (r.rflags & RFLAGS_IF) {
		/* Waits for an interrupt, as guest.h says; but first collect an owed EOI. */
		if (eoi_owed(vcpu)) {
			ret = set_mp_state(vcpu, KVM_MP_STATE_RUNNABLE);
			if (ret < 0)
				return ret;
			kv->eoi_flush = true;
			kv->eoi_flush_rip = r.rip;
		}
		return 0;
	}
	if (ioctl(kv->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return vmmi_error(-errno, "kvm: KVM_GET_VCPU_EVENTS on vCPU %u: %s", vcpu->index,
				  strerror(errno));
	/* An NMI it can take wakes it (KVM does that itself); a masked one never comes. */
	if (ev.nmi.injected || (ev.nmi.pending && !ev.nmi.masked))
		return 0;
	/* Runnable, RIP past the HLT: a later run goes on from there, as before the irqchip. */
	ret = set_mp_state(vcpu, KVM_MP_STATE_RUNNABLE);
	if (ret < 0)
		return ret;
	vmmi_exit_set(exit, VMM_EXIT_HLT, "hlt with interrupts off");
	return 1;
}

void vmmi_kvm_eoi_flushed(struct vmm_vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->be;
	struct kvm_vcpu_events ev;
	struct kvm_regs r;

	kv->eoi_flush = false;
	/*
	 * KVM raises owed exits before it enters the guest: the same RIP means
	 * no instruction ran. But an interrupt it has begun to inject (moved
	 * from IRR to ISR, RIP not yet at the handler) would be stranded by a
	 * halt: KVM wakes a halted vCPU for requested interrupts only. Then the
	 * interrupt ends the HLT, as it would have anyway.
	 */
	if (ioctl(kv->fd, KVM_GET_REGS, &r) < 0 || r.rip != kv->eoi_flush_rip)
		return;
	if (ioctl(kv->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 || ev.interrupt.injected ||
	    ev.exception.injected || ev.nmi.injected)
		return;
	if (set_mp_state(vcpu, KVM_MP_STATE_HALTED) < 0)
		vmmi_log(vcpu->vm, VMM_LOG_ERROR, "vcpu%u: %s", vcpu->index, vmm_last_error());
}
