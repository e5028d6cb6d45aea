/* SPDX-License-Identifier: MIT */
/* emu.c - the emu backend: vCPUs on Unicorn 2 (a software x86-64 CPU) with KVM's exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "emu.h"

/*
 * Each vCPU owns one Unicorn engine. Guest-physical space [0, EMU_SPACE_END)
 * is covered in every engine (gaps when first touched) so that every non-RAM
 * access reaches
 * vmmi_dispatch(), as on KVM:
 *
 *   RAM slots      uc_mem_map_ptr() of the slot's host memory, shared by all
 *                  engines, so the guest and the VMM see the same bytes.
 *   device pages   every page overlapping the MMIO window of a device that
 *                  takes 8-byte accesses, grouped into
 *                  clusters. A cluster is backed by a private, zeroed scratch
 *                  mapping of this vCPU and watched by ONE ranged memory hook.
 *                  The read hook fires before the load with the access's full
 *                  width, dispatches it and stores the device's answer in the
 *                  scratch so that the load returns it; the write hook
 *                  dispatches the stored value. Unicorn's own MMIO regions
 *                  (uc_mmio_map) are not used here because they split 8-byte
 *                  accesses into two 4-byte ones, which devices that check
 *                  access widths must never see.
 *   gaps           everything else: uc_mmio_map() regions mapped without
 *                  permissions, so that a protection hook sees every access
 *                  whole (address and width) before Unicorn splits it for
 *                  the callbacks; the hook dispatches it once, as KVM
 *                  delivers it, and the callbacks serve Unicorn's pieces
 *                  from the answer (see emu_gap_access()). They hold windows
 *                  of devices that take at most 4-byte accesses, and
 *                  addresses nothing claims. An 8-byte access reaches the
 *                  dispatch as two 4-byte ones: where nothing claims the
 *                  address, two unclaimed accesses (logged, or a stop on the
 *                  first) where KVM reports one; a device without 8-byte
 *                  accesses receives two 4-byte accesses where KVM refuses
 *                  the 8-byte one as unclaimed (a warning names the device,
 *                  once per device). Both need a guest access
 *                  the device does not support, and this path is the fast
 *                  one: no memory hook, so RAM loads and stores keep
 *                  Unicorn's inline fast path (protection hooks run on the
 *                  slow path only, which MMIO always takes).
 *                  Gaps are planned whole but mapped when the guest first
 *                  touches them (the unmapped-access hook), in aligned
 *                  pieces of EMU_GAP_PIECE: a layout change unmaps only the
 *                  pieces it overlaps. After EMU_MAX_LAZY pieces, a new one
 *                  fills what is free of its gap, which keeps the count
 *                  bounded (a guest that scans all of space pays for it
 *                  in its later layout changes).
 *
 * Costs in Unicorn 2.0.1 that shape this:
 *   - Memory hooks slow every load and store, inside their range or not,
 *     more so the more hooks there are (a RAM-bound loop: +20% with one hook,
 *     x3.3 with 48). Windows close to each other therefore share one cluster
 *     when no RAM lies between them: the pages between them join its scratch
 *     and their accesses are dispatched (as unclaimed) by the same hook, with
 *     their full width.
 *   - A deleted hook stays on Unicorn's lists, costing as much as a live one,
 *     until uc_emu_start() returns. Devices and memslots added after a vCPU
 *     exists replace cluster hooks, which then slow that vCPU's next run:
 *     create vCPUs last, as vmm_vm_create_from_config() does.
 *   - Unmapping a region flushes the TLB page by page, so its cost grows
 *     with the region's size (tens of milliseconds per GiB): gaps are
 *     therefore mapped in small pieces, and only where the guest goes; a
 *     big device cluster still costs its size when it goes. Gaps stop at
 *     EMU_SPACE_END: the boot identity map cannot reach further.
 *   - QEMU's physical map aborts the process past 4096 sections (one per
 *     region, at least). So a VM has at most EMU_MAX_SLOTS slots, gap
 *     pieces are bounded, and a layout of more than EMU_MAX_REGIONS
 *     regions (counting each gap and the pieces it may get) is refused
 *     with -ENOSPC before Unicorn sees it.
 *
 * Known differences from KVM, all due to Unicorn 2.0.1:
 *   - Unicorn picks the memory region, hooks and MMIO callbacks by the
 *     guest-VIRTUAL address; the page tables are walked for permissions and
 *     faults only. A guest must therefore reach RAM and devices through the
 *     identity map (VA == PA), as the boot state of guest.h provides.
 *   - A guest-physical address at or past EMU_SPACE_END that no slot backs
 *     is a guest fault, not an unclaimed access.
 *   - vCPUs are separate engines without shared TCG state: locked
 *     instructions are atomic within one vCPU only, and translated code is
 *     not invalidated when another vCPU, a device (DMA) or the host writes
 *     guest code while the vCPU runs. Each run() after the first drops the
 *     code translated from RAM, so host writes between runs are seen.
 *   - CPU exceptions and INT n are delivered through the guest's IDT in
 *     software (emu_idt.c), as a long-mode CPU does: gate checks, IST,
 *     the 16-byte aligned frame with the error code, IF cleared by
 *     interrupt gates, #DF for a fault while delivering, and a triple
 *     fault (VMM_EXIT_SHUTDOWN, as on KVM) for a fault delivering #DF.
 *     Where it differs from hardware:
 *       - the error code is QEMU's (read from its saved state, see
 *         emu_idt.c); tests/unit/test_exceptions.c holds #GP's and #PF's
 *         to KVM's;
 *       - with no IDT loaded (limit 0, the boot state) the first exception
 *         ends the run with VMM_EXIT_GUEST_FAULT naming it, where KVM
 *         reports a triple fault;
 *       - a gate whose code segment has another privilege level (an
 *         interrupt from user mode to a ring-0 handler), or whose selector
 *         is in the LDT, ends the run with VMM_EXIT_GUEST_FAULT: Unicorn
 *         loads only the selector of CS in 64-bit mode;
 *       - the interrupt frame, the IDT, the GDT and the TSS must be in RAM
 *         (a frame pushed to a device window ends the run), and the walk of
 *         the page tables for them checks present and writable bits only
 *         (no reserved-bit faults);
 *       - pushing the frame does not invalidate code Unicorn translated from
 *         the stack's page.
 *   - Interrupts (emu_irq.c) are taken between translated blocks: a pending
 *     one waits for the end of the block running (a few instructions), and
 *     one more block after a block that ends in STI or holds a MOV SS (the
 *     interrupt shadow, checked conservatively from the code bytes).
 *     NMIs are not blocked until IRET; INIT IPIs are accepted and ignored
 *     (no wait for SIPI); lowest priority goes to the named vCPU with the
 *     lowest TPR; MOV to CR8 does not reach the APIC's TPR. A LAPIC timer
 *     that fires while its vCPU runs is seen when the timer thread has
 *     woken (tens of microseconds); a halted vCPU sleeps until its
 *     deadline itself.
 *   - When an MMIO access stops the vCPU (a device stop, or an unclaimed
 *     access under VMM_UNCLAIMED_STOP), RIP may still point at the start of
 *     the translation block that made it (Unicorn does not synchronise it),
 *     so such a stop cannot be resumed exactly. After a port access that
 *     stops, the rest of the block runs, with device accesses suppressed.
 *   - A device access that crosses a page boundary reaches the device once,
 *     whole; KVM splits it into two fragments.
 */

/* ---- the exit path: hooks run on the vCPU thread, inside uc_emu_start() ---- */

static uint64_t ones(uint32_t size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static void emu_stop(struct emu_vcpu *ev, enum emu_stop why)
{
	if (ev->stop == EMU_STOP_NONE)
		ev->stop = why;
	uc_emu_stop(ev->uc);
}

/*
 * One device or unclaimed access. Once the vCPU is stopping nothing more is
 * dispatched: Unicorn may finish the current block, and devices must not see
 * accesses the guest would not have made on KVM. Reads then see all-ones.
 */
static void emu_access(struct emu_vcpu *ev, uint32_t space, uint64_t addr, uint32_t size,
		       bool is_write, uint64_t *value)
{
	struct vmm_vm *vm = ev->vcpu->vm;

	if (ev->stop != EMU_STOP_NONE || !ev->exit) {
		*value = ones(size);
		return;
	}
	if (atomic_load(&vm->stop_requested)) {
		*value = ones(size);
		emu_stop(ev, EMU_STOP_VM);
		return;
	}
	/* The local APIC page: each vCPU's own model, never a device (emu_irq.c). */
	if (space == VMM_SPACE_MMIO && vmmi_emu_lapic_access(ev, addr, size, is_write, value))
		return;
	if (vmmi_dispatch(ev->vcpu, space, addr, size, is_write, value, ev->exit))
		emu_stop(ev, EMU_STOP_EXIT);
	else if (atomic_load(&vm->stop_requested))
		emu_stop(ev, EMU_STOP_VM); /* the device stopped the VM */
}

/* Device clusters: fires before the access, with its full width. */
static void emu_dev_hook(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
			 void *opaque)
{
	struct emu_region *r = opaque;
	struct emu_vcpu *ev = r->ev;
	uint64_t v = (uint64_t)value, off = addr - r->base, lo;
	uint32_t n;

	if (size <= 0 || addr < r->base || off >= r->size)
		return;
	if (type == UC_MEM_WRITE) {
		ev->split_left = 0;
		emu_access(ev, VMM_SPACE_MMIO, addr, (uint32_t)size, true, &v);
		return;
	}
	if (type != UC_MEM_READ)
		return;
	if (ev->skip_on && addr == ev->skip_at && (uint32_t)size == ev->skip_size) {
		/* The second half of a gap load that crossed into this cluster: answered already.
		 */
		ev->skip_on = false;
		n = (uint32_t)size;
		if (n > r->size - off)
			n = (uint32_t)(r->size - off);
		memcpy(r->scratch + off, ev->pend.buf + (addr - ev->pend.lo), n);
		return;
	}
	ev->skip_on = false;
	/*
	 * Unicorn performs a load that crosses a page as two aligned loads of the
	 * same width after this hook has seen the whole one, and each fires the
	 * hook again. The device must see the guest's access once: it was
	 * answered below, its bytes wait in the scratch, so the halves are skipped.
	 */
	if (ev->split_left && addr == ev->split_next && (uint32_t)size == ev->split_size) {
		ev->split_left--;
		ev->split_next += (uint32_t)size;
		return;
	}
	ev->split_left = 0;
	emu_access(ev, VMM_SPACE_MMIO, addr, (uint32_t)size, false, &v);
	/* The load that follows reads the scratch: leave the answer there, little endian. */
	n = (uint32_t)size;
	if (n > r->size - off)
		n = (uint32_t)(r->size - off);
	if (n <= sizeof(v))
		memcpy(r->scratch + off, &v, n);
	else
		memset(r->scratch + off, 0xff, n); /* wider than any device access: unclaimed */

	lo = addr & ~(uint64_t)(size - 1);
	if ((addr & VMMI_PAGE_MASK) + (uint32_t)size > VMMI_PAGE_SIZE && !(size & (size - 1)) &&
	    lo >= r->base && lo - r->base + 2 * (uint64_t)size <= r->size) {
		ev->split_left = 2;
		ev->split_next = lo;
		ev->split_size = (uint32_t)size;
	}
}

/* The index of the first mapped region that ends past addr (nregions if none). */
static size_t emu_region_index(const struct emu_vcpu *ev, uint64_t addr)
{
	size_t lo = 0, hi = ev->nregions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct emu_region *r = ev->regions[mid];

		if (addr - r->base < r->size || addr < r->base)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The mapped region holding addr, or NULL. */
static const struct emu_region *emu_region_at(const struct emu_vcpu *ev, uint64_t addr)
{
	size_t i = emu_region_index(ev, addr);

	if (i < ev->nregions && addr - ev->regions[i]->base < ev->regions[i]->size)
		return ev->regions[i];
	return NULL;
}

/* The planned gap holding addr, mapped or not, or NULL. */
static const struct emu_span *emu_gap_at(const struct emu_vcpu *ev, uint64_t addr)
{
	return vmmi_emu_span_at(ev->gaps, ev->ngaps, addr);
}

static bool emu_is_gap(const struct emu_vcpu *ev, uint64_t addr)
{
	return emu_gap_at(ev, addr) != NULL;
}

/*
 * A guest load or store to a gap, seen whole by a protection hook before
 * Unicorn touches the region (gaps are mapped without permissions for that,
 * see emu_region_map()): dispatch it as kvm does, once, at its address and
 * width, then let Unicorn's pieces through quietly. Unicorn performs an
 * access to MMIO callbacks in pieces: an aligned one as one callback (an
 * 8-byte one as two 4-byte ones); an unaligned load as the two aligned
 * loads of its width around it, combined; an unaligned store as one store
 * per byte; each piece of the unaligned ones fires the protection hook
 * again. The pieces are recognised by address and order: reads are served
 * from the answer kept in ev->pend, writes are dropped.
 *
 * An 8-byte access goes to the device as two 4-byte ones (its address, then
 * +4: documented in libvmm(3)), which is what devices here took before.
 * An access that crosses into the next page still reaches the device
 * whole (also documented); when that page is a gap too, its pieces are
 * recognised as well.
 */
static void emu_gap_access(struct emu_vcpu *ev, uint64_t addr, uint32_t size, bool is_write,
			   uint64_t value)
{
	struct emu_pending *p = &ev->pend;
	uint64_t lo = addr & ~(uint64_t)(size - 1), page_end = (addr | VMMI_PAGE_MASK) + 1;
	uint64_t v, v2;
	bool unaligned = addr != lo;

	ev->skip_on = false;
	if (size == 8) {
		v = value & 0xffffffffu;
		v2 = value >> 32;
		emu_access(ev, VMM_SPACE_MMIO, addr, 4, is_write, &v);
		emu_access(ev, VMM_SPACE_MMIO, addr + 4, 4, is_write, &v2);
		v = (v & 0xffffffffu) | v2 << 32;
	} else {
		v = value;
		emu_access(ev, VMM_SPACE_MMIO, addr, size, is_write, &v);
	}
	*p = (struct emu_pending){
	    .on = true,
	    .write = is_write,
	    .unaligned = unaligned,
	    .piece = is_write ? 1 : size,
	    .next = is_write ? addr : lo,
	    .lo = lo,
	};
	if (!unaligned)
		p->end = addr + size;
	else
		p->end = is_write ? addr + size : lo + 2 * (uint64_t)size;
	if (p->end > page_end && !emu_is_gap(ev, page_end)) {
		const struct emu_region *next = emu_region_at(ev, page_end);

		if (!is_write && next && next->scratch) {
			/* A device cluster: its read hook sees the second load; it must not
			 * dispatch it. */
			ev->skip_on = true;
			ev->skip_at = page_end;
			ev->skip_size = size;
			p->end = page_end;
		} else {
			p->end =
			    page_end; /* RAM, or stores (no write hook sees their byte pieces) */
		}
	}
	/* (A gap's pieces come here too, once the gap is mapped there.) */
	if (!is_write) {
		memset(p->buf, 0xff, sizeof(p->buf));
		memcpy(p->buf + (addr - lo), &v, size);
	}
}

/*
 * An 8-byte access to a gap: if a device without 8-byte accesses claims it,
 * it is about to receive two 4-byte ones where kvm would refuse the access
 * as unclaimed. Keep emu's behaviour, but say so once per device: otherwise
 * a guest bug passes here and fails on kvm with nothing pointing at it.
 */
static void emu_note_split(struct emu_vcpu *ev, uint64_t addr, bool is_write)
{
	struct vmm_vm *vm = ev->vcpu->vm;
	const struct vmmi_window *w;

	w = vmmi_bus_find(&vm->bus[vmmi_space_index(VMM_SPACE_MMIO)], addr);
	if (!w || !w->dev || (w->dev->desc->access_sizes & VMM_ACCESS_8) ||
	    atomic_exchange(&w->dev->split_logged, true))
		return;
	vmmi_log(vm, VMM_LOG_WARN,
		 "vcpu%u: device '%s' takes no 8-byte accesses: the 8-byte mmio %s at 0x%llx "
		 "reaches it as two 4-byte accesses on emu, where kvm refuses it as unclaimed "
		 "(logged once per device)",
		 ev->vcpu->index, w->dev->name, is_write ? "write" : "read",
		 (unsigned long long)addr);
}

/*
 * Protection hooks on a gap: a piece of the pending access, or a new
 * access. An aligned one is left to the callbacks, which Unicorn calls with
 * it whole (an 8-byte one as two halves, as emu_gap_access() would): the
 * common case costs no more than before the hook existed.
 */
static void emu_gap_hook(struct emu_vcpu *ev, uint64_t addr, int size, bool is_write,
			 uint64_t value)
{
	struct emu_pending *p = &ev->pend;

	if (size <= 0)
		return;
	if (p->on && p->write == is_write && p->unaligned && addr == p->next &&
	    (uint32_t)size == p->piece)
		return;
	if (size == 8)
		emu_note_split(ev, addr, is_write);
	if (!(addr & (uint64_t)(size - 1)) && !(size & (size - 1))) {
		p->on = false;
		ev->skip_on = false;
		return;
	}
	emu_gap_access(ev, addr, (uint32_t)size, is_write, value);
}

/*
 * MMIO callbacks: the pieces of the access the hook dispatched. One that
 * is not (no hook saw its access first: cannot happen in Unicorn 2.0.1, but
 * never lose an access) is dispatched as it comes.
 */
static bool emu_gap_piece(struct emu_vcpu *ev, uint64_t addr, unsigned size, bool is_write,
			  uint64_t *value)
{
	struct emu_pending *p = &ev->pend;

	if (!p->on || p->write != is_write || addr != p->next || size > p->end - addr)
		return false;
	if (!is_write) {
		*value = 0;
		if (addr - p->lo + size <= sizeof(p->buf))
			memcpy(value, p->buf + (addr - p->lo), size);
	}
	p->next += size;
	if (p->next == p->end)
		p->on = false;
	return true;
}

static uint64_t emu_gap_read(uc_engine *uc, uint64_t offset, unsigned size, void *opaque)
{
	struct emu_region *r = opaque;
	uint64_t v = ones(size);

	if (!r->ev->pend.on || !emu_gap_piece(r->ev, r->base + offset, size, false, &v))
		emu_access(r->ev, VMM_SPACE_MMIO, r->base + offset, size, false, &v);
	return v;
}

static void emu_gap_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value,
			  void *opaque)
{
	struct emu_region *r = opaque;

	if (!r->ev->pend.on || !emu_gap_piece(r->ev, r->base + offset, size, true, &value))
		emu_access(r->ev, VMM_SPACE_MMIO, r->base + offset, size, true, &value);
}

static uint32_t emu_in_hook(uc_engine *uc, uint32_t port, int size, void *opaque)
{
	uint64_t v = ones((uint32_t)size);

	emu_access(opaque, VMM_SPACE_PIO, port, (uint32_t)size, false, &v);
	return (uint32_t)v;
}

static void emu_out_hook(uc_engine *uc, uint32_t port, int size, uint32_t value, void *opaque)
{
	uint64_t v = value;

	emu_access(opaque, VMM_SPACE_PIO, port, (uint32_t)size, true, &v);
}

/*
 * CPU exceptions and INT n stop the engine, where the state is exact: RIP
 * at the faulting instruction, or past INT n. run() delivers them through
 * the IDT (emu_idt.c).
 */
static void emu_intr_hook(uc_engine *uc, uint32_t intno, void *opaque)
{
	struct emu_vcpu *ev = opaque;

	if (ev->stop == EMU_STOP_NONE)
		ev->vector = intno;
	emu_stop(ev, EMU_STOP_VECTOR);
}

/* #UD does not reach the INTR hook: Unicorn stops with RIP at the instruction and calls this. */
static bool emu_ud_hook(uc_engine *uc, void *opaque)
{
	struct emu_vcpu *ev = opaque;

	if (ev->stop == EMU_STOP_NONE)
		ev->vector = 6;
	emu_stop(ev, EMU_STOP_VECTOR);
	return true;
}

static int emu_region_map(struct emu_vcpu *ev, const struct emu_span *sp, struct emu_region **out);
static void emu_drop_code(struct emu_vcpu *ev);

/* Put a mapped region in ev->regions, at its place. */
static int emu_region_insert(struct emu_vcpu *ev, struct emu_region *r)
{
	size_t i;

	if (ev->nregions == ev->cap) {
		size_t ncap = ev->cap ? ev->cap * 2 : 64;
		struct emu_region **nv = realloc(ev->regions, ncap * sizeof(*nv));

		if (!nv)
			return vmmi_error(-ENOMEM, "emu: out of memory");
		ev->regions = nv;
		ev->cap = ncap;
	}
	i = emu_region_index(ev, r->base);
	memmove(ev->regions + i + 1, ev->regions + i, (ev->nregions - i) * sizeof(*ev->regions));
	ev->regions[i] = r;
	ev->nregions++;
	return 0;
}

/*
 * The guest touched a planned gap that is not mapped there yet: map the
 * piece around addr (see the top of the file). Unicorn then performs the
 * access on it as if it had always been there.
 */
static bool emu_map_lazy(struct emu_vcpu *ev, uint64_t addr)
{
	const struct emu_span *g = emu_gap_at(ev, addr);
	size_t i = emu_region_index(ev, addr);
	uint64_t prev_end = 0, next_base = UINT64_MAX;
	struct emu_span sp;
	struct emu_region *r;

	if (!g)
		return false;
	if (i > 0)
		prev_end = ev->regions[i - 1]->base + ev->regions[i - 1]->size;
	if (i < ev->nregions)
		next_base = ev->regions[i]->base;
	if (!vmmi_emu_gap_piece(g, addr, ev->nlazy < EMU_MAX_LAZY, prev_end, next_base, &sp))
		return false;
	if (emu_region_map(ev, &sp, &r) < 0)
		return false;
	if (emu_region_insert(ev, r) < 0) {
		uc_mem_unmap(ev->uc, r->base, r->size);
		free(r);
		return false;
	}
	ev->nlazy++;
	return true;
}

/* Accesses Unicorn refuses (past EMU_SPACE_END, or fetches from non-RAM): remember where. */
static bool emu_bad_hook(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
			 void *opaque)
{
	struct emu_vcpu *ev = opaque;

	/* Gaps are the only regions mapped without read permission. */
	if (type == UC_MEM_READ_PROT &&
	    (addr - ev->hint_base < ev->hint_size || emu_is_gap(ev, addr))) {
		emu_gap_hook(ev, addr, size, false, 0);
		return true;
	}
	if ((type == UC_MEM_READ_UNMAPPED || type == UC_MEM_WRITE_UNMAPPED ||
	     type == UC_MEM_FETCH_UNMAPPED) &&
	    emu_map_lazy(ev, addr))
		return true;
	if (!ev->bad_seen) {
		ev->bad_seen = true;
		ev->bad_addr = addr;
	}
	return false;
}

/*
 * Stores to the slots the software MMU write-protects (see emu_map_slot()):
 * read-only slots, whose stores go to the device over the slot or to the
 * unclaimed policy while Unicorn discards them, and dirty-logged slots,
 * whose stores land and mark their pages. Only these slots pay: a
 * protection hook runs on Unicorn's slow path alone.
 */
static bool emu_prot_hook(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
			  void *opaque)
{
	struct emu_vcpu *ev = opaque;
	struct vmmi_view_slot slot, *s = &slot;
	uint64_t v = (uint64_t)value, n = (uint64_t)size;

	if (addr - ev->hint_base < ev->hint_size) {
		emu_gap_hook(ev, addr, size, true, v);
		return true;
	}
	if (!vmmi_view_slot_at(ev->vcpu->vm, addr, &slot))
		s = NULL;

	if (!s && size > 0) {
		const struct emu_span *g = emu_gap_at(ev, addr);

		if (g) {
			ev->hint_base = g->base;
			ev->hint_size = g->size;
			emu_gap_hook(ev, addr, size, true, v);
			return true;
		}
	}
	if (!s || size <= 0) {
		if (!ev->bad_seen) {
			ev->bad_seen = true;
			ev->bad_addr = addr;
		}
		return false;
	}
	if (s->flags & VMM_MEMSLOT_READONLY) {
		emu_access(ev, VMM_SPACE_MMIO, addr, (uint32_t)size, true, &v);
		return true;
	}
	if (n > s->size - (addr - s->gpa))
		n = s->size - (addr - s->gpa);
	if (s->dirty)
		vmmi_dirty_mark(s->dirty, addr - s->gpa, n);
	return true;
}

/* Remember that code ran from the slot holding gpa (see struct emu_vcpu). */
static void emu_note_code(struct emu_vcpu *ev, uint64_t gpa)
{
	struct vmmi_view_slot slot, *s = &slot;
	unsigned i;

	if (gpa - ev->code_lo < ev->code_hi - ev->code_lo || ev->code_all)
		return;
	if (!vmmi_view_slot_at(ev->vcpu->vm, gpa, &slot))
		return; /* code runs from RAM only */
	for (i = 0; i < ev->ncode && ev->code[i].lo != s->gpa; i++)
		;
	if (i == ev->ncode) {
		if (i == EMU_CODE_SLOTS) {
			ev->code_all = true;
			return;
		}
		ev->code[ev->ncode++] = (struct emu_range){s->gpa, s->gpa + s->size};
	}
	ev->code_lo = s->gpa;
	ev->code_hi = s->gpa + s->size;
}

/*
 * Could the previous block have left an interrupt shadow (SDM vol. 3,
 * 6.8.3)? Unicorn ends a block after STI and after MOV SS, so a block
 * ending in 0xfb (STI), or with a MOV SS opcode (8E /2) among its last
 * bytes, might have: the interrupt then waits one more block. A false
 * match costs one block of latency, never a wrong delivery.
 */
static bool emu_shadow(struct emu_vcpu *ev)
{
	uint8_t b[8];
	uint64_t n = ev->prev_size < sizeof(b) ? ev->prev_size : sizeof(b);

	if (!n || uc_mem_read(ev->uc, ev->prev_block + ev->prev_size - n, b, n))
		return false;
	if (b[n - 1] == 0xfb)
		return true;
	for (uint64_t i = 0; i + 1 < n; i++)
		if (b[i] == 0x8e && (b[i + 1] >> 3 & 7) == 2)
			return true;
	return false;
}

/* A pending interrupt the vCPU can take at this boundary: IF set (or an NMI), no shadow. */
static bool emu_irq_window(struct emu_vcpu *ev)
{
	uint64_t rflags = 0;

	if (!atomic_load_explicit(&ev->nmi_ready, memory_order_relaxed) &&
	    (uc_reg_read(ev->uc, UC_X86_REG_RFLAGS, &rflags) || !(rflags & EMU_RFLAGS_IF)))
		return false;
	return !emu_shadow(ev);
}

/*
 * At the start of every translated block: the one place where stopping the
 * engine is exact (Unicorn 2.0.1 resumes a block stopped in its middle from
 * its start, repeating what it did). Stop and pause requests and kicks end
 * the run here, so that a paused vCPU goes on as if nothing happened; an
 * interrupt the vCPU can take stops the engine here too, and run() takes it.
 */
static void emu_block_hook(uc_engine *uc, uint64_t addr, uint32_t size, void *opaque)
{
	struct emu_vcpu *ev = opaque;
	struct vmm_vm *vm = ev->vcpu->vm;

	/* A block may end in the next slot: both ends. */
	emu_note_code(ev, addr);
	if (size > 1)
		emu_note_code(ev, addr + size - 1);
	if (atomic_load_explicit(&vm->stop_requested, memory_order_relaxed) ||
	    atomic_load_explicit(&vm->pause_req, memory_order_relaxed) ||
	    atomic_load_explicit(&ev->kicked, memory_order_relaxed))
		emu_stop(ev, EMU_STOP_BLOCK);
	else if (atomic_load_explicit(&ev->irq_ready, memory_order_relaxed) && emu_irq_window(ev))
		emu_stop(ev, EMU_STOP_IRQ);
	ev->prev_block = addr;
	ev->prev_size = size;
}

/* ---- layout of guest-physical space ---- */

/*
 * Map slot s in one engine. Unicorn 2.0.1 has two kinds of write
 * protection, and each flag needs one:
 *   - a region MAPPED without UC_PROT_WRITE calls the protection hook on
 *     every store and, when the hook handles it, lets the store land:
 *     dirty logging;
 *   - a region mapped writable and then uc_mem_protect()ed read-only
 *     becomes a QEMU ROM region: the hook is called and the store is
 *     discarded, exactly as a guest write to ROM: read-only slots.
 * Code translated from the range must go first (the caller's job).
 */
static uc_err emu_map_slot(struct emu_vcpu *ev, const struct vmmi_view_slot *s)
{
	uc_err err;

	if (s->flags & VMM_MEMSLOT_READONLY) {
		err = uc_mem_map_ptr(ev->uc, s->gpa, s->size, UC_PROT_ALL, s->hva);
		if (!err) {
			err = uc_mem_protect(ev->uc, s->gpa, s->size, UC_PROT_READ | UC_PROT_EXEC);
			if (err)
				uc_mem_unmap(ev->uc, s->gpa, s->size);
		}
		return err;
	}
	return uc_mem_map_ptr(
	    ev->uc, s->gpa, s->size,
	    s->flags & VMM_MEMSLOT_LOG_DIRTY ? UC_PROT_READ | UC_PROT_EXEC : UC_PROT_ALL, s->hva);
}

/* unmap: false once uc_close() has dropped the engine's mappings and hooks itself. */
static void emu_region_free(struct emu_vcpu *ev, struct emu_region *r, bool unmap)
{
	if (!r)
		return;
	if (unmap) {
		if (r->scratch)
			uc_hook_del(ev->uc, r->hook);
		uc_mem_unmap(ev->uc, r->base, r->size);
	}
	if (r->scratch)
		munmap(r->scratch, r->size);
	free(r);
}

static int emu_region_map(struct emu_vcpu *ev, const struct emu_span *sp, struct emu_region **out)
{
	struct emu_region *r;
	uc_err err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return vmmi_error(-ENOMEM, "emu: out of memory");
	r->ev = ev;
	r->base = sp->base;
	r->size = sp->size;
	if (!sp->devices) {
		err = uc_mmio_map(ev->uc, r->base, r->size, emu_gap_read, r, emu_gap_write, r);
		/*
		 * No permissions: every access then fires a protection hook
		 * first, with its address and width whole (see emu_gap_access()).
		 * Protection hooks run on the slow path only, which MMIO always
		 * takes: RAM accesses keep the inline fast path.
		 */
		if (!err) {
			err = uc_mem_protect(ev->uc, r->base, r->size, UC_PROT_NONE);
			if (err)
				uc_mem_unmap(ev->uc, r->base, r->size);
		}
		if (err) {
			free(r);
			return emu_error(err, "cannot map a gap of guest-physical space");
		}
		*out = r;
		return 0;
	}
	/* Lazily backed: only pages the guest reads ever cost memory. */
	r->scratch = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->scratch == MAP_FAILED) {
		free(r);
		return vmmi_error(-ENOMEM, "emu: cannot reserve 0x%llx bytes for device pages",
				  (unsigned long long)sp->size);
	}
	/* No exec: a fetch from a device page faults, as MMIO cannot hold code on KVM either. */
	err = uc_mem_map_ptr(ev->uc, r->base, r->size, UC_PROT_READ | UC_PROT_WRITE, r->scratch);
	if (err) {
		munmap(r->scratch, r->size);
		free(r);
		return emu_error(err, "cannot map device pages");
	}
	err = uc_hook_add(ev->uc, &r->hook, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
			  (void *)emu_dev_hook, r, r->base, r->base + r->size - 1);
	if (err) {
		uc_mem_unmap(ev->uc, r->base, r->size);
		munmap(r->scratch, r->size);
		free(r);
		return emu_error(err, "cannot hook device pages");
	}
	*out = r;
	return 0;
}

/*
 * First half of a layout change: keep the device clusters the plan still
 * has and the gap pieces that still lie in a gap, unmap the rest (only what
 * the change touches: gap pieces are small, see the top of the file), and
 * take the plan's gaps.
 */
static int emu_layout_drop(struct emu_vcpu *ev, const struct emu_plan *p)
{
	struct emu_span *gaps;
	size_t j = 0, k = 0, ng = 0;

	for (size_t i = 0; i < p->n; i++)
		ng += !p->v[i].devices;
	gaps = malloc((ng ? ng : 1) * sizeof(*gaps));
	if (!gaps)
		return vmmi_error(-ENOMEM, "emu: out of memory");
	ng = 0;
	for (size_t i = 0; i < p->n; i++)
		if (!p->v[i].devices)
			gaps[ng++] = p->v[i];
	ev->nlazy = 0;
	for (size_t i = 0; i < ev->nregions; i++) {
		struct emu_region *r = ev->regions[i];
		const struct emu_span *v;
		bool keep;

		while (j < p->n && p->v[j].base + p->v[j].size <= r->base)
			j++;
		v = j < p->n ? &p->v[j] : NULL;
		if (r->scratch)
			keep = v && v->devices && v->base == r->base && v->size == r->size;
		else
			keep = v && !v->devices && v->base <= r->base &&
			       r->base + r->size - v->base <= v->size;
		if (keep) {
			ev->regions[k++] = r;
			ev->nlazy += !r->scratch;
		} else {
			emu_region_free(ev, r, true);
		}
	}
	ev->nregions = k;
	ev->hint_base = ev->hint_size = 0;
	free(ev->gaps);
	ev->gaps = gaps;
	ev->ngaps = ng;
	return 0;
}

/* Second half: map the device clusters the plan has and the engine lacks. */
static int emu_layout_fill(struct emu_vcpu *ev, const struct emu_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct emu_region *have;
		struct emu_region *r;
		int ret;

		if (!p->v[i].devices)
			continue;
		have = emu_region_at(ev, p->v[i].base);
		if (have && have->base == p->v[i].base && have->size == p->v[i].size)
			continue;
		ret = emu_region_map(ev, &p->v[i], &r);
		if (ret < 0)
			return ret;
		ret = emu_region_insert(ev, r);
		if (ret < 0) {
			emu_region_free(ev, r, true);
			return ret;
		}
	}
	return 0;
}

/*
 * Plan the layout the core's view shows, less skip (a slot about to go):
 * the planner (emu_layout.c) sees plain sorted lists. *nslots: the slots
 * planned around.
 */
static int emu_plan_view(const struct vmm_vm *vm, const struct vmmi_view_slot *skip,
			 struct emu_plan *out, size_t *nslots)
{
	size_t ns = vmmi_view_nslots(vm), nw = vmmi_view_nwindows(vm, VMM_SPACE_MMIO), k = 0;
	struct vmmi_view_slot *slots = malloc((ns ? ns : 1) * sizeof(*slots));
	struct vmmi_view_window *windows = malloc((nw ? nw : 1) * sizeof(*windows));
	int ret;

	if (!slots || !windows) {
		free(slots);
		free(windows);
		return vmmi_error(-ENOMEM, "emu: out of memory");
	}
	for (size_t i = 0; i < ns; i++) {
		slots[k] = vmmi_view_slot_nth(vm, i);
		if (!skip || slots[k].gpa != skip->gpa)
			k++;
	}
	for (size_t i = 0; i < nw; i++)
		windows[i] = vmmi_view_window_nth(vm, VMM_SPACE_MMIO, i);
	ret = vmmi_emu_plan(slots, k, windows, nw, out);
	free(slots);
	free(windows);
	*nslots = k;
	return ret;
}

enum emu_slot_op { EMU_SLOT_KEEP, EMU_SLOT_ADD, EMU_SLOT_REMOVE };

/*
 * The one place the layout changes: on every vCPU (or only `only`), unmap
 * the non-RAM regions that change, apply op to slot, and map the new ones.
 * Gaps depend on RAM, so slot changes come here too.
 */
static int emu_relayout(struct vmm_vm *vm, struct emu_vcpu *only, const struct vmmi_view_slot *slot,
			enum emu_slot_op op)
{
	struct emu_plan p;
	struct emu_vm *evm = vm->be;
	unsigned n = only ? 1 : VMM_GUEST_MAX_VCPUS;
	bool any = only != NULL;
	size_t nregions, nslots = 0;
	int ret;

	for (unsigned i = 0; i < n && !any; i++)
		any = evm->vcpus[i] != NULL;
	/* A removal only shrinks the layout: with no engine there is nothing to do. */
	if (!any && op == EMU_SLOT_REMOVE)
		return 0;
	/* Planned even with no engine yet: a layout Unicorn cannot hold is refused now, not later.
	 */
	ret = emu_plan_view(vm, op == EMU_SLOT_REMOVE ? slot : NULL, &p, &nslots);
	if (ret < 0)
		return ret;
	nregions = vmmi_emu_plan_regions(&p, nslots);
	if (nregions > EMU_MAX_REGIONS) {
		vmmi_emu_plan_free(&p);
		return vmmi_error(
		    -ENOSPC,
		    "emu: this layout needs %zu regions (memslots, device clusters, gaps), "
		    "more than the %d the emulator can hold: use fewer memslots or device "
		    "windows, or put windows closer together",
		    nregions, EMU_MAX_REGIONS);
	}
	if (!any) {
		vmmi_emu_plan_free(&p);
		return 0; /* vcpu_init() lays out each new vCPU */
	}
	for (unsigned i = 0; i < n && ret == 0; i++) {
		struct emu_vcpu *ev = only ? only : evm->vcpus[i];
		uc_err err = UC_ERR_OK;

		if (!ev)
			continue;
		ret = VMMI_PT(pthread_mutex_lock(&ev->lock), "emu: layout change");
		if (ret < 0)
			break;
		ret = emu_layout_drop(ev, &p);
		if (ret < 0) {
			VMMI_PT_LOG(vm, pthread_mutex_unlock(&ev->lock), "emu: layout change");
			break;
		}
		if (op == EMU_SLOT_ADD) {
			err = emu_map_slot(ev, slot);
		} else if (op == EMU_SLOT_REMOVE) {
			/*
			 * Code translated from the old memory must not outlive the slot:
			 * new memory mapped here later would run it.
			 */
			uc_ctl_remove_cache(ev->uc, slot->gpa, slot->gpa + slot->size);
			/* Fails only if the slot is not mapped here (an undone add): fine. */
			uc_mem_unmap(ev->uc, slot->gpa, slot->size);
		}
		if (err)
			ret = vmmi_error(
			    err == UC_ERR_NOMEM ? -ENOMEM : -EINVAL,
			    "emu: vCPU %u: cannot map memslot '%s' [0x%llx, 0x%llx): %s",
			    ev->vcpu->index, slot->name, (unsigned long long)slot->gpa,
			    (unsigned long long)(slot->gpa + slot->size), uc_strerror(err));
		else
			ret = emu_layout_fill(ev, &p);
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&ev->lock), "emu: layout change");
	}
	if (ret == 0 && vmmi_log_enabled(vm, VMM_LOG_DEBUG)) {
		size_t nd = 0;

		for (size_t i = 0; i < p.n; i++)
			nd += p.v[i].devices;
		vmmi_log(vm, VMM_LOG_DEBUG, "emu: %zu device cluster(s), %zu gap(s) below 0x%llx",
			 nd, p.n - nd, (unsigned long long)EMU_SPACE_END);
	}
	vmmi_emu_plan_free(&p);
	return ret;
}

static int emu_slot_add(struct vmm_vm *vm, const struct vmmi_slot *s)
{
	struct vmmi_view_slot slot = vmmi_view_slot(s);
	int ret = emu_relayout(vm, NULL, &slot, EMU_SLOT_ADD);

	/* The core forgets the slot on failure: take it out of every engine again. */
	if (ret < 0)
		emu_relayout(vm, NULL, &slot, EMU_SLOT_REMOVE);
	return ret;
}

static int emu_slot_remove(struct vmm_vm *vm, const struct vmmi_slot *s)
{
	struct vmmi_view_slot slot = vmmi_view_slot(s);

	return emu_relayout(vm, NULL, &slot, EMU_SLOT_REMOVE);
}

static int emu_windows_changed(struct vmm_vm *vm)
{
	return emu_relayout(vm, NULL, NULL, EMU_SLOT_KEEP);
}

/*
 * Logging on or off: map the slot again in every engine with the other
 * kind of protection (uc_mem_protect() would make it a ROM: see
 * emu_map_slot()). A read-only slot keeps its mapping: it is never written.
 */
static int emu_slot_flags(struct vmm_vm *vm, const struct vmmi_slot *s, uint32_t old_flags)
{
	struct vmmi_view_slot view = vmmi_view_slot(s), *slot = &view;
	struct emu_vm *evm = vm->be;

	if (slot->flags & VMM_MEMSLOT_READONLY)
		return 0;
	for (unsigned i = 0; i < VMM_GUEST_MAX_VCPUS; i++) {
		struct emu_vcpu *ev = evm->vcpus[i];
		uc_err err;

		if (!ev)
			continue;
		if (VMMI_PT(pthread_mutex_lock(&ev->lock), "emu: dirty logging") < 0)
			return -EINVAL;
		uc_ctl_remove_cache(ev->uc, slot->gpa, slot->gpa + slot->size);
		err = uc_mem_unmap(ev->uc, slot->gpa, slot->size);
		if (!err)
			err = emu_map_slot(ev, slot);
		VMMI_PT_LOG(vm, pthread_mutex_unlock(&ev->lock), "emu: dirty logging");
		if (err)
			return emu_error(err, "cannot map a memslot again for dirty logging");
	}
	return 0;
}

/* ---- VM and vCPU lifecycle ---- */

static int emu_vm_init(struct vmm_vm *vm)
{
	if (!vmmi_emu_arch_supported())
		return vmmi_error(-ENODEV, "emu: this Unicorn library has no x86 support");
	vm->be = calloc(1, sizeof(struct emu_vm));
	if (!vm->be)
		return vmmi_error(-ENOMEM, "emu: out of memory");
	if (vmmi_emu_irq_vm_init(vm->be) < 0) {
		free(vm->be);
		vm->be = NULL;
		return -ENOMEM;
	}
	vm->slots.max = EMU_MAX_SLOTS;
	return 0;
}

static void emu_vm_fini(struct vmm_vm *vm)
{
	vmmi_emu_irq_vm_fini(vm);
	free(vm->be);
	vm->be = NULL;
}

static void emu_vcpu_fini(struct vmm_vcpu *vcpu)
{
	struct emu_vcpu *ev = emu_vcpu(vcpu);

	if (!ev)
		return;
	vmmi_emu_irq_set_vcpu(vcpu->vm, vcpu->index, NULL);
	/*
	 * Unicorn 2.0.1 keeps a 512-byte bitmap for each page written often
	 * after code ran from it, and uc_close() does not free them (upstream
	 * bug); dropping the code translated from a page frees its bitmap. So
	 * drop what this run translated (earlier runs' code went at the start
	 * of each run): the leak is gone, not bounded.
	 */
	if (ev->ran)
		emu_drop_code(ev);
	/* uc_close() drops mappings and hooks at once; unmapping costs a TLB flush per page. */
	uc_close(ev->uc);
	if (ev->ctx)
		uc_context_free(ev->ctx);
	for (size_t i = 0; i < ev->nregions; i++)
		emu_region_free(ev, ev->regions[i], false);
	free(ev->regions);
	free(ev->gaps);
	VMMI_PT_LOG(vcpu->vm, pthread_mutex_destroy(&ev->lock), "emu: vCPU");
	vmmi_emu_irq_vcpu_fini(ev);
	free(ev);
	vcpu->be = NULL;
}

static int emu_vcpu_init(struct vmm_vcpu *vcpu)
{
	struct vmm_vm *vm = vcpu->vm;
	struct emu_vcpu *ev;
	uc_err err;
	int ret;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return vmmi_error(-ENOMEM, "emu: vCPU %u: out of memory", vcpu->index);
	ev->vcpu = vcpu;
	ret = VMMI_PT(pthread_mutex_init(&ev->lock, NULL), "emu: vCPU");
	if (ret < 0) {
		free(ev);
		return ret;
	}
	ret = vmmi_emu_irq_vcpu_init(ev);
	if (ret < 0) {
		VMMI_PT_LOG(vm, pthread_mutex_destroy(&ev->lock), "emu: vCPU");
		free(ev);
		return ret;
	}
	err = vmmi_emu_open(&ev->uc);
	if (err) {
		VMMI_PT_LOG(vm, pthread_mutex_destroy(&ev->lock), "emu: vCPU");
		vmmi_emu_irq_vcpu_fini(ev);
		free(ev);
		return emu_error(err, "cannot open an x86-64 engine");
	}
	vcpu->be = ev;

	/*
	 * Exits on, with an empty list: uc_emu_start()'s `until` address is then
	 * ignored, so a guest that jumps to 0 keeps running.
	 */
	err = uc_ctl_exits_enable(ev->uc);
	if (!err)
		err = uc_ctl_set_exits(ev->uc, NULL, 0);
	if (!err)
		err = vmmi_emu_hook_ports(ev, emu_in_hook, emu_out_hook);
	if (!err)
		err =
		    uc_hook_add(ev->uc, &ev->h_intr, UC_HOOK_INTR, (void *)emu_intr_hook, ev, 1, 0);
	if (!err)
		err = uc_hook_add(ev->uc, &ev->h_ud, UC_HOOK_INSN_INVALID, (void *)emu_ud_hook, ev,
				  1, 0);
	if (!err)
		err = vmmi_emu_hook_cpuid(ev);
	if (!err && vmmi_emu_events_ready(NULL))
		err = uc_context_alloc(ev->uc, &ev->ctx);
	if (!err)
		err = uc_hook_add(ev->uc, &ev->h_bad,
				  UC_HOOK_MEM_UNMAPPED | UC_HOOK_MEM_READ_PROT |
				      UC_HOOK_MEM_FETCH_PROT,
				  (void *)emu_bad_hook, ev, 1, 0);
	if (!err)
		err = uc_hook_add(ev->uc, &ev->h_prot, UC_HOOK_MEM_WRITE_PROT,
				  (void *)emu_prot_hook, ev, 1, 0);
	if (!err)
		err = uc_hook_add(ev->uc, &ev->h_block, UC_HOOK_BLOCK, (void *)emu_block_hook, ev,
				  1, 0);
	if (err) {
		ret = emu_error(err, "cannot set up the engine");
		goto err_close;
	}
	for (size_t i = 0; i < vmmi_view_nslots(vm); i++) {
		struct vmmi_view_slot s = vmmi_view_slot_nth(vm, i);

		err = emu_map_slot(ev, &s);
		if (err) {
			ret = emu_error(err, "cannot map a memslot");
			goto err_close;
		}
	}
	ret = emu_relayout(vm, ev, NULL, EMU_SLOT_KEEP);
	if (ret < 0)
		goto err_close;
	vmmi_emu_irq_set_vcpu(vm, vcpu->index, ev);
	return 0;

err_close:
	emu_vcpu_fini(vcpu);
	return ret;
}

/* ---- registers: x86-64 marshalling (emu_x86_64.c) under the engine's lock ---- */

enum emu_regs_op { EMU_GET_REGS, EMU_SET_REGS, EMU_GET_SREGS, EMU_SET_SREGS };

/*
 * Every register access holds the engine's lock: loading a selector reads
 * its descriptor from guest memory, so no layout change may remap it
 * meanwhile.
 */
static int emu_regs_locked(struct vmm_vcpu *vcpu, enum emu_regs_op op, void *p)
{
	struct emu_vcpu *ev = emu_vcpu(vcpu);
	int ret = VMMI_PT(pthread_mutex_lock(&ev->lock), "emu: registers");

	if (ret < 0)
		return ret;
	switch (op) {
	case EMU_GET_REGS:
		ret = vmmi_emu_get_regs(vcpu, p);
		break;
	case EMU_SET_REGS:
		ret = vmmi_emu_set_regs(vcpu, p);
		break;
	case EMU_GET_SREGS:
		ret = vmmi_emu_get_sregs(vcpu, p);
		break;
	case EMU_SET_SREGS:
		ret = vmmi_emu_set_sregs(vcpu, p);
		break;
	}
	VMMI_PT_LOG(vcpu->vm, pthread_mutex_unlock(&ev->lock), "emu: registers");
	return ret;
}

static int emu_get_regs(struct vmm_vcpu *vcpu, struct vmm_regs *regs)
{
	return emu_regs_locked(vcpu, EMU_GET_REGS, regs);
}

static int emu_set_regs(struct vmm_vcpu *vcpu, const struct vmm_regs *regs)
{
	return emu_regs_locked(vcpu, EMU_SET_REGS, (void *)regs);
}

static int emu_get_sregs(struct vmm_vcpu *vcpu, struct vmm_sregs *sregs)
{
	return emu_regs_locked(vcpu, EMU_GET_SREGS, sregs);
}

static int emu_set_sregs(struct vmm_vcpu *vcpu, const struct vmm_sregs *sregs)
{
	return emu_regs_locked(vcpu, EMU_SET_SREGS, (void *)sregs);
}

/* ---- running ---- */

static int emu_stopped(struct vmm_vm *vm, struct vmm_exit *exit)
{
	exit->reason = VMM_EXIT_STOPPED;
	exit->exit_code = vm->exit_code; /* the core rereads it under its lock */
	return 0;
}

static void emu_drop_code(struct emu_vcpu *ev)
{
	const struct vmm_vm *vm = ev->vcpu->vm;

	if (ev->code_all)
		for (size_t i = 0; i < vmmi_view_nslots(vm); i++) {
			struct vmmi_view_slot s = vmmi_view_slot_nth(vm, i);

			uc_ctl_remove_cache(ev->uc, s.gpa, s.gpa + s.size);
		}
	else
		for (unsigned i = 0; i < ev->ncode; i++)
			uc_ctl_remove_cache(ev->uc, ev->code[i].lo, ev->code[i].hi);
	ev->ncode = 0;
	ev->code_all = false;
	ev->code_lo = ev->code_hi = 0;
}

/*
 * The engine stopped for an exception or INT n: deliver it through the IDT.
 * 0: delivered, the guest goes on; 1: exit filled; 2: not delivered (no
 * IDT, the boot state: the run ends with the guest fault it always did,
 * naming the exception; or this Unicorn could not be calibrated).
 */
static int emu_event(struct emu_vcpu *ev, struct vmm_exit *exit)
{
	struct emu_event e;
	uc_x86_mmr idt = {0};
	int ret;

	if (!ev->ctx)
		return 2;
	ret = vmmi_emu_event_fetch(ev, &e);
	if (ret < 0) {
		vmmi_exit_set(exit, VMM_EXIT_INTERNAL_ERROR, "%s", vmm_last_error());
		return 1;
	}
	if (uc_reg_read(ev->uc, UC_X86_REG_IDTR, &idt) || idt.limit == 0)
		return 2;
	return vmmi_emu_deliver(ev, &e, exit);
}

static bool emu_intr_on(struct emu_vcpu *ev)
{
	uint64_t rflags = 0;

	return uc_reg_read(ev->uc, UC_X86_REG_RFLAGS, &rflags) == UC_ERR_OK &&
	       (rflags & EMU_RFLAGS_IF);
}

/* Per-start state of the hooks. */
static void emu_start_state(struct emu_vcpu *ev)
{
	ev->stop = EMU_STOP_NONE;
	ev->split_left = 0;
	ev->pend.on = false;
	ev->skip_on = false;
	ev->bad_seen = false;
}

static int emu_run(struct vmm_vcpu *vcpu, struct vmm_exit *exit)
{
	struct emu_vcpu *ev = emu_vcpu(vcpu);
	struct vmm_vm *vm = vcpu->vm;
	uint64_t rip = 0;
	uc_err err;
	int ret = 0;
	/* This return answers the kicks made so far: one made from here on is seen below. */
	bool kicked = atomic_exchange(&ev->kicked, false);

	if (atomic_load(&vm->stop_requested)) {
		/* The run ends here: one after vmm_vm_reset() is new, and drops old code. */
		ev->paused = false;
		return emu_stopped(vm, exit);
	}
	/*
	 * Neither runs the guest: ev->paused stays as it was, so that the next
	 * run still drops code the host wrote since the last one.
	 */
	if (atomic_load(&vm->pause_req))
		return 0; /* a layout change waits: no exit */
	if (kicked)
		return 0; /* no exit: the core looks at why it kicked, and calls run() again */
	ev->exit = exit;
	/*
	 * Host writes to guest code since the last run (ELF loads,
	 * vmm_guest_write()) must be seen. Unicorn only notices the guest's own
	 * writes, so drop what was translated from RAM: from the slots code
	 * ran from (Unicorn finds each page's block by a linear search, so all
	 * of a 1000-slot VM's would cost half a millisecond a run). Not a
	 * whole-cache flush: that costs seconds the first time in Unicorn
	 * 2.0.1. Not after a pause either: that is the same run going on, and
	 * the change dropped the code of every range it unmapped itself.
	 */
	if (ev->ran && !ev->paused)
		emu_drop_code(ev);
	ev->ran = true;
	ev->paused = false;

	/*
	 * Each pass starts the engine once. An exception delivered (or, later,
	 * an interrupt taken) goes on with the next pass without returning to
	 * the core, unless a stop, a pause or a kick came meanwhile.
	 */
	for (;;) {
		if (ev->apic.halted) {
			if (vmmi_emu_halt(ev)) {
				ev->paused = true;
				break; /* still halted: the next run() waits again */
			}
			ev->apic.halted = false;
			if (vmmi_emu_take_irq(ev, exit) == 1)
				break;
		}
		err = vmmi_emu_pc(ev->uc, &rip);
		if (err) {
			ret = emu_error(err, "cannot read rip");
			break;
		}
		emu_start_state(ev);
		/* A request or kick from here on is seen by the first block's hook: none is lost.
		 */
		err = uc_emu_start(ev->uc, rip, 0, 0, 0);

		if (ev->stop == EMU_STOP_EXIT) {
			exit->hw_code = err;
			break; /* filled by vmmi_dispatch() */
		}
		if (ev->stop == EMU_STOP_VM || atomic_load(&vm->stop_requested)) {
			emu_stopped(vm, exit);
			break;
		}
		if (ev->stop == EMU_STOP_BLOCK) {
			ev->paused = true;
			break; /* paused between two blocks: resumable exactly, no exit */
		}
		if (ev->stop == EMU_STOP_IRQ) {
			if (vmmi_emu_take_irq(ev, exit) == 1)
				break;
		} else if (ev->stop == EMU_STOP_NONE && err == UC_ERR_OK && emu_intr_on(ev)) {
			ev->apic.halted = true; /* HLT with interrupts on: wait at the next pass */
		} else if (ev->stop != EMU_STOP_VECTOR || emu_event(ev, exit) == 2) {
			vmmi_emu_exit_from(ev, err, exit);
			break;
		}
		if (exit->reason != VMM_EXIT_NONE)
			break;
		/* Delivered, or halted: the guest goes on. */
		if (atomic_load(&vm->stop_requested)) {
			emu_stopped(vm, exit);
			break;
		}
		if (atomic_load(&vm->pause_req) || atomic_load(&ev->kicked)) {
			ev->paused = true;
			break;
		}
	}
	ev->exit = NULL;
	/* Whatever ended the run, its return answers the kicks made until now. */
	atomic_store(&ev->kicked, false);
	return ret;
}

/*
 * A kick is never lost: it sets ev->kicked, which run() checks before it
 * starts the engine and every block's hook checks while it runs; the run()
 * that sees it returns without an exit, and a kick made after a run()
 * has cleared the flag (its start, and once the engine is out) ends the
 * next one. The run ends at the next block boundary: within one
 * translated block, or once a device call in progress returns.
 *
 * Not uc_emu_stop(): from another thread it would stop the engine in the
 * middle of a block, which Unicorn 2.0.1 resumes from the block's start,
 * repeating its stores (a guest's `inc [mem]` counted twice); and a stop
 * made while the engine is not running is ignored.
 */
static void emu_kick(struct vmm_vcpu *vcpu)
{
	atomic_store_explicit(&emu_vcpu(vcpu)->kicked, true, memory_order_release);
	vmmi_emu_irq_kick(emu_vcpu(vcpu)); /* a vCPU waiting in HLT */
}

static const struct vmmi_backend_ops emu_ops = {
    .vm_init = emu_vm_init,
    .vm_fini = emu_vm_fini,
    .slot_add = emu_slot_add,
    .slot_remove = emu_slot_remove,
    .slot_flags = emu_slot_flags,
    .dirty_fetch = NULL,
    .windows_changed = emu_windows_changed,
    .vcpu_init = emu_vcpu_init,
    .vcpu_fini = emu_vcpu_fini,
    .get_regs = emu_get_regs,
    .set_regs = emu_set_regs,
    .get_sregs = emu_get_sregs,
    .set_sregs = emu_set_sregs,
    .run = emu_run,
    .kick = emu_kick,
    .msi = vmmi_emu_msi,
    .irq_reset = vmmi_emu_irq_reset,
};

/* The backend table's probe: a Unicorn that emulates x86 is all emu needs. */
static int emu_probe(char *why, size_t len)
{
	unsigned major, minor, v = uc_version(&major, &minor);

	if (!uc_arch_supported(UC_ARCH_X86)) {
		snprintf(why, len, "Unicorn %u.%u has no x86 support", major, minor);
		return -ENODEV;
	}
	snprintf(why, len, "Unicorn %u.%u.%u, a software CPU", major, minor, (v >> 8) & 0xff);
	return 0;
}

const struct vmmi_backend vmmi_backend_emu = {
    .name = "emu",
    .accel = VMM_ACCEL_EMU,
    .probe = emu_probe,
    .ops = &emu_ops,
};
