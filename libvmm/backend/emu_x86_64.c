/* SPDX-License-Identifier: MIT */
/* emu_x86_64.c - the x86-64 side of the emu backend: registers, segments, and exits by name. */
#include <string.h>

#include "emu.h"

bool vmmi_emu_arch_supported(void)
{
	return uc_arch_supported(UC_ARCH_X86);
}

uc_err vmmi_emu_open(uc_engine **uc)
{
	return uc_open(UC_ARCH_X86, UC_MODE_64, uc);
}

uc_err vmmi_emu_pc(uc_engine *uc, uint64_t *pc)
{
	return uc_reg_read(uc, UC_X86_REG_RIP, pc);
}

uc_err vmmi_emu_hook_ports(struct emu_vcpu *ev, uc_cb_insn_in_t in, uc_cb_insn_out_t out)
{
	uc_err err =
	    uc_hook_add(ev->uc, &ev->h_in, UC_HOOK_INSN, (void *)in, ev, 1, 0, UC_X86_INS_IN);

	if (!err)
		err = uc_hook_add(ev->uc, &ev->h_out, UC_HOOK_INSN, (void *)out, ev, 1, 0,
				  UC_X86_INS_OUT);
	return err;
}

/* ---- registers ---- */

static const int emu_gpr_ids[] = {
    UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX,    UC_X86_REG_RDX, UC_X86_REG_RSI,
    UC_X86_REG_RDI, UC_X86_REG_RSP, UC_X86_REG_RBP,    UC_X86_REG_R8,  UC_X86_REG_R9,
    UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12,    UC_X86_REG_R13, UC_X86_REG_R14,
    UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS,
};
#define EMU_NGPR (sizeof(emu_gpr_ids) / sizeof(emu_gpr_ids[0]))

/* Pointers to the fields of struct vmm_regs, in emu_gpr_ids order. */
static void emu_gpr_ptrs(struct vmm_regs *r, void **p)
{
	uint64_t *f[EMU_NGPR] = {
	    &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rsp, &r->rbp, &r->r8,
	    &r->r9,  &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15, &r->rip, &r->rflags,
	};

	for (size_t i = 0; i < EMU_NGPR; i++)
		p[i] = f[i];
}

int vmmi_emu_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *regs)
{
	int ids[EMU_NGPR];
	void *p[EMU_NGPR];
	uc_err err;

	memcpy(ids, emu_gpr_ids, sizeof(ids));
	memset(regs, 0, sizeof(*regs));
	emu_gpr_ptrs(regs, p);
	err = uc_reg_read_batch(emu_vcpu(vcpu)->uc, ids, p, EMU_NGPR);
	return err ? emu_error(err, "cannot read registers") : 0;
}

int vmmi_emu_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *regs)
{
	struct vmm_regs copy = *regs;
	int ids[EMU_NGPR];
	void *p[EMU_NGPR];
	uc_err err;

	memcpy(ids, emu_gpr_ids, sizeof(ids));
	emu_gpr_ptrs(&copy, p);
	err = uc_reg_write_batch(emu_vcpu(vcpu)->uc, ids, p, EMU_NGPR);
	return err ? emu_error(err, "cannot write registers") : 0;
}

/* Descriptor attribute bits as QEMU keeps them (bits 8-23 of a descriptor's high word). */
#define EMU_DESC_TYPE_SHIFT 8
#define EMU_DESC_S	    (1u << 12)
#define EMU_DESC_DPL_SHIFT  13
#define EMU_DESC_P	    (1u << 15)
#define EMU_DESC_AVL	    (1u << 20)
#define EMU_DESC_L	    (1u << 21)
#define EMU_DESC_DB	    (1u << 22)
#define EMU_DESC_G	    (1u << 23)

#define EMU_MSR_EFER 0xc0000080u

static void emu_seg_from_mmr(struct vmm_segment *s, const uc_x86_mmr *m)
{
	s->base = m->base;
	s->limit = m->limit;
	s->selector = m->selector;
	s->type = (m->flags >> EMU_DESC_TYPE_SHIFT) & 0xf;
	s->s = !!(m->flags & EMU_DESC_S);
	s->dpl = (m->flags >> EMU_DESC_DPL_SHIFT) & 3;
	s->present = !!(m->flags & EMU_DESC_P);
	s->avl = !!(m->flags & EMU_DESC_AVL);
	s->l = !!(m->flags & EMU_DESC_L);
	s->db = !!(m->flags & EMU_DESC_DB);
	s->g = !!(m->flags & EMU_DESC_G);
}

static uc_x86_mmr emu_mmr_from_seg(const struct vmm_segment *s)
{
	return (uc_x86_mmr){
	    .selector = s->selector,
	    .base = s->base,
	    .limit = s->limit,
	    .flags = ((uint32_t)(s->type & 0xf) << EMU_DESC_TYPE_SHIFT) | (s->s ? EMU_DESC_S : 0) |
		     ((uint32_t)(s->dpl & 3) << EMU_DESC_DPL_SHIFT) |
		     (s->present ? EMU_DESC_P : 0) | (s->avl ? EMU_DESC_AVL : 0) |
		     (s->l ? EMU_DESC_L : 0) | (s->db ? EMU_DESC_DB : 0) | (s->g ? EMU_DESC_G : 0),
	};
}

/*
 * Unicorn exposes only the selector of CS, DS, ES, FS, GS and SS (and the FS
 * and GS bases). Their hidden parts are reported as the flat long-mode
 * segments of the guest.h boot state; a null selector reads as unusable.
 */
static void emu_flat_seg(struct vmm_segment *s, uint16_t selector, bool code)
{
	memset(s, 0, sizeof(*s));
	s->selector = selector;
	if (!(selector & ~3u) && !code)
		return;
	s->limit = 0xffffffff;
	s->type = code ? 0xb : 0x3;
	s->present = 1;
	s->s = 1;
	s->l = code;
	s->db = !code;
	s->g = 1;
	s->dpl = selector & 3;
}

int vmmi_emu_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *sregs)
{
	static const int seg_ids[] = {UC_X86_REG_CS, UC_X86_REG_DS, UC_X86_REG_ES,
				      UC_X86_REG_FS, UC_X86_REG_GS, UC_X86_REG_SS};
	struct vmm_segment *segs[] = {&sregs->cs, &sregs->ds, &sregs->es,
				      &sregs->fs, &sregs->gs, &sregs->ss};
	uc_engine *uc = emu_vcpu(vcpu)->uc;
	uc_x86_msr efer = {.rid = EMU_MSR_EFER};
	uc_x86_mmr mmr;
	uint64_t v;
	uc_err err = UC_ERR_OK;

	memset(sregs, 0, sizeof(*sregs));
	for (size_t i = 0; i < 6 && !err; i++) {
		v = 0;
		err = uc_reg_read(uc, seg_ids[i], &v);
		emu_flat_seg(segs[i], (uint16_t)v, i == 0);
	}
	if (!err)
		err = uc_reg_read(uc, UC_X86_REG_FS_BASE, &sregs->fs.base);
	if (!err)
		err = uc_reg_read(uc, UC_X86_REG_GS_BASE, &sregs->gs.base);
	if (!err && !(err = uc_reg_read(uc, UC_X86_REG_TR, &mmr)))
		emu_seg_from_mmr(&sregs->tr, &mmr);
	if (!err && !(err = uc_reg_read(uc, UC_X86_REG_LDTR, &mmr)))
		emu_seg_from_mmr(&sregs->ldt, &mmr);
	if (!err && !(err = uc_reg_read(uc, UC_X86_REG_GDTR, &mmr)))
		sregs->gdt = (struct vmm_dtable){.base = mmr.base, .limit = (uint16_t)mmr.limit};
	if (!err && !(err = uc_reg_read(uc, UC_X86_REG_IDTR, &mmr)))
		sregs->idt = (struct vmm_dtable){.base = mmr.base, .limit = (uint16_t)mmr.limit};
	if (!err)
		err = uc_reg_read(uc, UC_X86_REG_CR0, &sregs->cr0);
	if (!err)
		err = uc_reg_read(uc, UC_X86_REG_CR2, &sregs->cr2);
	if (!err)
		err = uc_reg_read(uc, UC_X86_REG_CR3, &sregs->cr3);
	if (!err)
		err = uc_reg_read(uc, UC_X86_REG_CR4, &sregs->cr4);
	if (!err && !(err = uc_reg_read(uc, UC_X86_REG_MSR, &efer)))
		sregs->efer = efer.value;
	return err ? emu_error(err, "cannot read system registers") : 0;
}

/*
 * Order matters: paging state first (CR4.PAE and EFER.LME before CR0.PG),
 * then the GDT, because loading a selector reads its descriptor from the GDT
 * in guest RAM, as the CPU does; CS before SS, since a null SS is only valid
 * with 64-bit code. The hidden parts of CS..SS come from those descriptors,
 * not from sregs; FS and GS bases are written after their selectors, which
 * reset them.
 */
int vmmi_emu_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *sregs)
{
	static const struct {
		int id;
		const char *name;
		size_t off;
	} segs[] = {
	    {UC_X86_REG_CS, "CS", offsetof(struct vmm_sregs, cs)},
	    {UC_X86_REG_SS, "SS", offsetof(struct vmm_sregs, ss)},
	    {UC_X86_REG_DS, "DS", offsetof(struct vmm_sregs, ds)},
	    {UC_X86_REG_ES, "ES", offsetof(struct vmm_sregs, es)},
	    {UC_X86_REG_FS, "FS", offsetof(struct vmm_sregs, fs)},
	    {UC_X86_REG_GS, "GS", offsetof(struct vmm_sregs, gs)},
	};
	uc_engine *uc = emu_vcpu(vcpu)->uc;
	uc_x86_msr efer = {.rid = EMU_MSR_EFER, .value = sregs->efer};
	uc_x86_mmr mmr;
	uc_err err;

	err = uc_reg_write(uc, UC_X86_REG_CR4, &sregs->cr4);
	if (!err)
		err = uc_reg_write(uc, UC_X86_REG_MSR, &efer);
	if (!err)
		err = uc_reg_write(uc, UC_X86_REG_CR3, &sregs->cr3);
	if (!err)
		err = uc_reg_write(uc, UC_X86_REG_CR2, &sregs->cr2);
	if (!err)
		err = uc_reg_write(uc, UC_X86_REG_CR0, &sregs->cr0);
	if (!err) {
		mmr = (uc_x86_mmr){.base = sregs->gdt.base, .limit = sregs->gdt.limit};
		err = uc_reg_write(uc, UC_X86_REG_GDTR, &mmr);
	}
	if (!err) {
		mmr = (uc_x86_mmr){.base = sregs->idt.base, .limit = sregs->idt.limit};
		err = uc_reg_write(uc, UC_X86_REG_IDTR, &mmr);
	}
	if (err)
		return emu_error(err, "cannot write control registers");

	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		const struct vmm_segment *s = (const void *)((const char *)sregs + segs[i].off);
		uint64_t sel = s->selector;

		err = uc_reg_write(uc, segs[i].id, &sel);
		if (err)
			return vmmi_error(-EINVAL,
					  "emu: cannot load %s selector 0x%x: no valid descriptor "
					  "in the GDT at 0x%llx (%s)",
					  segs[i].name, s->selector,
					  (unsigned long long)sregs->gdt.base, uc_strerror(err));
	}
	err = uc_reg_write(uc, UC_X86_REG_FS_BASE, &sregs->fs.base);
	if (!err)
		err = uc_reg_write(uc, UC_X86_REG_GS_BASE, &sregs->gs.base);
	if (!err) {
		mmr = emu_mmr_from_seg(&sregs->tr);
		err = uc_reg_write(uc, UC_X86_REG_TR, &mmr);
	}
	if (!err) {
		mmr = emu_mmr_from_seg(&sregs->ldt);
		err = uc_reg_write(uc, UC_X86_REG_LDTR, &mmr);
	}
	return err ? emu_error(err, "cannot write segment registers") : 0;
}

/* ---- exits ---- */

static const char *emu_vector_name(uint32_t v)
{
	static const char *const names[] = {
	    "#DE",	"#DB", "NMI", "#BP", "#OF",
	    "#BR",	"#UD", "#NM", "#DF", "coprocessor overrun",
	    "#TS",	"#NP", "#SS", "#GP", "#PF",
	    "reserved", "#MF", "#AC", "#MC", "#XM",
	    "#VE",	"#CP",
	};

	return v < sizeof(names) / sizeof(names[0]) ? names[v] : "interrupt";
}

static const char *emu_access_name(uc_err err)
{
	switch (err) {
	case UC_ERR_READ_UNMAPPED:
	case UC_ERR_READ_PROT:
	case UC_ERR_READ_UNALIGNED:
		return "read";
	case UC_ERR_WRITE_UNMAPPED:
	case UC_ERR_WRITE_PROT:
	case UC_ERR_WRITE_UNALIGNED:
		return "write";
	default:
		return "instruction fetch";
	}
}

void vmmi_emu_exit_from(struct emu_vcpu *ev, uc_err err, struct vmm_exit *exit)
{
	uint64_t rip = 0, rflags = 0;

	uc_reg_read(ev->uc, UC_X86_REG_RIP, &rip);
	exit->hw_code = err;
	if (ev->stop == EMU_STOP_VECTOR) {
		const char *why = NULL;

		if (ev->vector == 14)
			uc_reg_read(ev->uc, UC_X86_REG_CR2, &exit->address);
		if (!vmmi_emu_events_ready(&why))
			vmmi_exit_set(
			    exit, VMM_EXIT_GUEST_FAULT,
			    "exception %u (%s) at rip 0x%llx: this emulator cannot deliver "
			    "exceptions (%s)",
			    ev->vector, emu_vector_name(ev->vector), (unsigned long long)rip, why);
		else
			vmmi_exit_set(exit, VMM_EXIT_GUEST_FAULT,
				      "exception %u (%s) at rip 0x%llx with no IDT loaded",
				      ev->vector, emu_vector_name(ev->vector),
				      (unsigned long long)rip);
		return;
	}
	switch (err) {
	case UC_ERR_OK:
		/* Only HLT ends uc_emu_start() cleanly: no exits list, no count, no timeout. */
		uc_reg_read(ev->uc, UC_X86_REG_RFLAGS, &rflags);
		vmmi_exit_set(exit, VMM_EXIT_HLT, "%s",
			      rflags & 0x200 ? "hlt (no interrupt source can wake the vCPU)"
					     : "hlt with interrupts off");
		break;
	case UC_ERR_INSN_INVALID:
		vmmi_exit_set(exit, VMM_EXIT_GUEST_FAULT, "invalid opcode (#UD) at rip 0x%llx",
			      (unsigned long long)rip);
		break;
	case UC_ERR_READ_UNMAPPED:
	case UC_ERR_WRITE_UNMAPPED:
	case UC_ERR_FETCH_UNMAPPED:
	case UC_ERR_READ_PROT:
	case UC_ERR_WRITE_PROT:
	case UC_ERR_FETCH_PROT:
	case UC_ERR_READ_UNALIGNED:
	case UC_ERR_WRITE_UNALIGNED:
	case UC_ERR_FETCH_UNALIGNED:
		exit->address = ev->bad_seen ? ev->bad_addr : 0;
		vmmi_exit_set(exit, VMM_EXIT_GUEST_FAULT, "%s at 0x%llx faulted (%s)%s",
			      emu_access_name(err), (unsigned long long)exit->address,
			      uc_strerror(err),
			      err == UC_ERR_FETCH_PROT ? ": code can only run from RAM"
			      : err == UC_ERR_READ_UNMAPPED || err == UC_ERR_WRITE_UNMAPPED
				  ? ": not guest-physical space"
				  : "");
		break;
	case UC_ERR_EXCEPTION:
		vmmi_exit_set(exit, VMM_EXIT_GUEST_FAULT, "unhandled CPU exception near rip 0x%llx",
			      (unsigned long long)rip);
		break;
	default:
		vmmi_exit_set(exit, VMM_EXIT_INTERNAL_ERROR, "emulation failed at rip 0x%llx: %s",
			      (unsigned long long)rip, uc_strerror(err));
		break;
	}
}

/* ---- CPUID ---- */

/*
 * Unicorn answers CPUID from its CPU model, the same on every engine. The
 * leaves that name the APIC are answered here from what Unicorn answers
 * (read once per process from a scratch engine), with this vCPU's APIC ID.
 */
static struct {
	pthread_once_t once;
	bool ok;
	uint32_t max_leaf;
	uint32_t leaf1[4], leafb[2][4];
} emu_cpuid = {.once = PTHREAD_ONCE_INIT};

static bool emu_cpuid_run(uc_engine *uc, uint32_t leaf, uint32_t sub, uint32_t *out, uint64_t at)
{
	static const uint8_t code[] = {0x0f, 0xa2, 0xf4}; /* cpuid; hlt */
	int ids[] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX};
	uint64_t v[4] = {leaf, 0, sub, 0};
	void *p[] = {&v[0], &v[1], &v[2], &v[3]};

	if (uc_mem_write(uc, at, code, sizeof(code)) || uc_reg_write_batch(uc, ids, p, 4) ||
	    uc_emu_start(uc, at, 0, 0, 0) || uc_reg_read_batch(uc, ids, p, 4))
		return false;
	for (int i = 0; i < 4; i++)
		out[i] = (uint32_t)v[i];
	return true;
}

static void emu_cpuid_probe(void)
{
	uint32_t r0[4];
	uc_engine *uc;

	if (vmmi_emu_open(&uc))
		return;
	/* A page per run: Unicorn would run what it translated before from a rewritten page. */
	emu_cpuid.ok = !uc_mem_map(uc, 0, 0x8000, UC_PROT_ALL) &&
		       emu_cpuid_run(uc, 0, 0, r0, 0x1000) &&
		       emu_cpuid_run(uc, 1, 0, emu_cpuid.leaf1, 0x2000) &&
		       emu_cpuid_run(uc, 0xb, 0, emu_cpuid.leafb[0], 0x3000) &&
		       emu_cpuid_run(uc, 0xb, 1, emu_cpuid.leafb[1], 0x4000);
	emu_cpuid.max_leaf = r0[0];
	uc_close(uc);
}

#define EMU_CPUID1_ECX_X2APIC	   (1u << 21)
#define EMU_CPUID1_ECX_TSCDEADLINE (1u << 24)
#define EMU_CPUID1_EDX_APIC	   (1u << 9)

static int emu_cpuid_hook(uc_engine *uc, void *opaque)
{
	struct emu_vcpu *ev = opaque;
	int ids[] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX};
	uint64_t v[4] = {0};
	void *p[] = {&v[0], &v[1], &v[2], &v[3]};
	uint32_t id = ev->vcpu->index, leaf, sub, r[4];

	if (uc_reg_read(uc, UC_X86_REG_RAX, &v[0]) || uc_reg_read(uc, UC_X86_REG_RCX, &v[2]))
		return false;
	leaf = (uint32_t)v[0];
	sub = (uint32_t)v[2];
	if (leaf == 1) {
		memcpy(r, emu_cpuid.leaf1, sizeof(r));
		r[1] = (r[1] & 0x00ffffffu) | id << 24;
		r[2] &= ~(EMU_CPUID1_ECX_X2APIC | EMU_CPUID1_ECX_TSCDEADLINE);
		r[3] |= EMU_CPUID1_EDX_APIC;
	} else if (leaf == 0xb && emu_cpuid.max_leaf >= 0xb) {
		if (sub < 2) {
			memcpy(r, emu_cpuid.leafb[sub], sizeof(r));
		} else {
			r[0] = r[1] = 0;
			r[2] = sub & 0xff; /* no such level */
		}
		r[3] = id;
	} else {
		return false; /* Unicorn's answer */
	}
	for (int i = 0; i < 4; i++)
		v[i] = r[i];
	return uc_reg_write_batch(uc, ids, p, 4) == UC_ERR_OK;
}

uc_err vmmi_emu_hook_cpuid(struct emu_vcpu *ev)
{
	pthread_once(&emu_cpuid.once, emu_cpuid_probe);
	if (!emu_cpuid.ok)
		return UC_ERR_OK; /* Unicorn's answers, as before: test_cpuid.c shows it */
	return uc_hook_add(ev->uc, &ev->h_cpuid, UC_HOOK_INSN, (void *)emu_cpuid_hook, ev, 1, 0,
			   UC_X86_INS_CPUID);
}
