/* SPDX-License-Identifier: MIT */
/* emu_layout.h - the emu backend's plan of guest-physical space: pure code, no engine, no VM. */
#ifndef VMM_BACKEND_EMU_LAYOUT_H
#define VMM_BACKEND_EMU_LAYOUT_H

#include "vmm_internal.h"

/* Windows at most this far apart, with no RAM between them, share one hook. */
#define EMU_MERGE_GAP (64ull << 20)
/* Gaps lie below this address (the boot identity map's limit) ... */
#define EMU_SPACE_END VMMI_IDENTITY_MAX
/* ... and are mapped when first touched, in aligned pieces of this size ... */
#define EMU_GAP_PIECE (2ull << 20)
/* ... this many of them; past that, each new piece fills what is left of its gap. */
#define EMU_MAX_LAZY 256
/* Regions (slots, device clusters, gap pieces) per engine: well below QEMU's 4096 sections. */
#define EMU_MAX_REGIONS 3072

/* A planned non-RAM range: a device cluster or a gap. */
struct emu_span {
	uint64_t base, size;
	bool devices;
};

/* The plan: non-overlapping spans sorted by base. */
struct emu_plan {
	struct emu_span *v;
	size_t n, cap;
};

/*
 * Plan the non-RAM part of [0, EMU_SPACE_END) (see emu.c's top comment):
 *   - device clusters: the pages of each MMIO window whose device takes
 *     8-byte accesses, windows at most EMU_MERGE_GAP apart with no slot
 *     between them in one cluster, less the slots inside (read-only RAM a
 *     window lies over);
 *   - gaps: everything else that no slot and no cluster covers.
 * slots: sorted by gpa, non-overlapping; windows: those of other spaces and
 * of narrower devices are ignored, the MMIO ones sorted by base and
 * non-overlapping. 0 and *out (out->v the caller's: vmmi_emu_plan_free()),
 * or -ENOMEM.
 */
int vmmi_emu_plan(const struct vmmi_view_slot *slots, size_t nslots,
		  const struct vmmi_view_window *windows, size_t nwindows,
		  struct emu_plan *out) VMMI_WARN_UNUSED;
void vmmi_emu_plan_free(struct emu_plan *p);

/*
 * Regions one engine may hold for plan p and nslots slots: each slot, each
 * span, and the gap pieces (up to EMU_MAX_LAZY small ones and as many that
 * fill the rest). A layout needing more than EMU_MAX_REGIONS is refused.
 */
size_t vmmi_emu_plan_regions(const struct emu_plan *p, size_t nslots);

/*
 * The piece of gap g to map when the guest touches addr in it: the aligned
 * EMU_GAP_PIECE around addr while `small`, else all of g; clipped to g, to
 * at or above prev_end (where the mapped region below addr ends; 0 if
 * none) and below next_base (where the one above starts; UINT64_MAX if
 * none). False if that leaves addr outside: it is mapped already.
 */
bool vmmi_emu_gap_piece(const struct emu_span *g, uint64_t addr, bool small, uint64_t prev_end,
			uint64_t next_base, struct emu_span *out);

/* The span of v[0..n) (sorted, non-overlapping) holding addr, or NULL. Inline: the exit path. */
static inline const struct emu_span *vmmi_emu_span_at(const struct emu_span *v, size_t n,
						      uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct emu_span *g = &v[mid];

		if (addr < g->base)
			hi = mid;
		else if (addr - g->base < g->size)
			return g;
		else
			lo = mid + 1;
	}
	return NULL;
}

#endif /* VMM_BACKEND_EMU_LAYOUT_H */
