/* SPDX-License-Identifier: MIT */
/*
 * emu_layout.c - the emu backend's plan of guest-
 * physical space: device clusters and gaps around RAM.
 */
#include <stdlib.h>

#include "emu_layout.h"

/* Where [base, base + size) ends, or UINT64_MAX if it reaches 2^64: no end wraps to 0. */
static uint64_t end_of(uint64_t base, uint64_t size)
{
	return size > UINT64_MAX - base ? UINT64_MAX : base + size;
}

/* Index of the first slot that ends past addr (n if none). */
static size_t first_slot_after(const struct vmmi_view_slot *slots, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr - slots[mid].gpa < slots[mid].size || addr < slots[mid].gpa)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Does any slot lie in [lo, hi) (lo < hi)? O(log n): the slots are sorted. */
static bool ram_between(const struct vmmi_view_slot *slots, size_t n, uint64_t lo, uint64_t hi)
{
	size_t i = first_slot_after(slots, n, lo);

	return i < n && slots[i].gpa < hi;
}

static int push(struct emu_plan *p, uint64_t base, uint64_t size, bool devices)
{
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 32;
		struct emu_span *nv = realloc(p->v, ncap * sizeof(*nv));

		if (!nv)
			return vmmi_error(-ENOMEM, "emu: out of memory");
		p->v = nv;
		p->cap = ncap;
	}
	p->v[p->n++] = (struct emu_span){.base = base, .size = size, .devices = devices};
	return 0;
}

/* The gap [lo, hi), clipped to EMU_SPACE_END. */
static int push_gap(struct emu_plan *p, uint64_t lo, uint64_t hi)
{
	if (hi > EMU_SPACE_END)
		hi = EMU_SPACE_END;
	return lo < hi ? push(p, lo, hi - lo, false) : 0;
}

/*
 * The device cluster [lo, hi), less the slots inside (read-only ones that
 * windows lie over): those are memory, and their writes come through the
 * protection hook instead.
 */
static int push_devices(struct emu_plan *p, const struct vmmi_view_slot *slots, size_t n,
			uint64_t lo, uint64_t hi)
{
	int ret = 0;

	for (size_t i = first_slot_after(slots, n, lo); i < n && slots[i].gpa < hi && ret == 0;
	     i++) {
		if (slots[i].gpa > lo)
			ret = push(p, lo, slots[i].gpa - lo, true);
		if (end_of(slots[i].gpa, slots[i].size) > lo)
			lo = end_of(slots[i].gpa, slots[i].size);
	}
	if (ret == 0 && lo < hi)
		ret = push(p, lo, hi - lo, true);
	return ret;
}

/* The windows that need a cluster, merged: page-aligned, sorted. */
static int plan_clusters(const struct vmmi_view_slot *slots, size_t nslots,
			 const struct vmmi_view_window *windows, size_t nwindows,
			 struct emu_plan *cl)
{
	int ret = 0;

	for (size_t i = 0; i < nwindows && ret == 0; i++) {
		const struct vmmi_view_window *w = &windows[i];
		uint64_t lo = w->base & ~VMMI_PAGE_MASK, hi;

		/* At most 4-byte accesses: a gap's MMIO callbacks serve it exactly. */
		if (w->space != VMM_SPACE_MMIO || !(w->widths & VMM_ACCESS_8) || !w->length)
			continue;
		/* The core keeps windows below the identity map's end; stay safe if that changes.
		 */
		if (lo >= EMU_SPACE_END)
			break;
		/* lo < EMU_SPACE_END, a page boundary: so is base, and the page rounding cannot
		 * pass it. */
		hi = w->length > EMU_SPACE_END - w->base
			 ? EMU_SPACE_END
			 : (w->base + w->length + VMMI_PAGE_MASK) & ~VMMI_PAGE_MASK;
		if (cl->n) {
			struct emu_span *c = &cl->v[cl->n - 1];
			uint64_t end = c->base + c->size;

			if (lo <= end ||
			    (lo - end <= EMU_MERGE_GAP && !ram_between(slots, nslots, end, lo))) {
				if (hi > end)
					c->size = hi - c->base;
				continue;
			}
		}
		ret = push(cl, lo, hi - lo, true);
	}
	return ret;
}

int vmmi_emu_plan(const struct vmmi_view_slot *slots, size_t nslots,
		  const struct vmmi_view_window *windows, size_t nwindows, struct emu_plan *out)
{
	struct emu_plan cl = {0}, sp = {0};
	size_t si = 0, ci = 0;
	uint64_t at = 0;
	int ret;

	ret = plan_clusters(slots, nslots, windows, nwindows, &cl);

	/* Walk RAM and clusters in address order; what lies between them is a gap. */
	while (ret == 0) {
		uint64_t base, size;
		bool dev;

		if (ci < cl.n && (si == nslots || cl.v[ci].base < slots[si].gpa)) {
			base = cl.v[ci].base;
			size = cl.v[ci].size;
			dev = true;
			ci++;
		} else if (si < nslots) {
			base = slots[si].gpa;
			size = slots[si].size;
			dev = false;
			si++;
		} else {
			break;
		}
		if (base > at)
			ret = push_gap(&sp, at, base);
		if (ret == 0 && dev)
			ret = push_devices(&sp, slots, nslots, base, base + size);
		if (end_of(base, size) > at)
			at = end_of(base, size);
	}
	if (ret == 0)
		ret = push_gap(&sp, at, EMU_SPACE_END);
	free(cl.v);
	if (ret < 0) {
		free(sp.v);
		return ret;
	}
	*out = sp;
	return 0;
}

void vmmi_emu_plan_free(struct emu_plan *p)
{
	free(p->v);
	*p = (struct emu_plan){0};
}

size_t vmmi_emu_plan_regions(const struct emu_plan *p, size_t nslots)
{
	return p->n + nslots + 2 * EMU_MAX_LAZY;
}

bool vmmi_emu_gap_piece(const struct emu_span *g, uint64_t addr, bool small, uint64_t prev_end,
			uint64_t next_base, struct emu_span *out)
{
	uint64_t lo, hi;

	if (small) {
		lo = addr & ~(EMU_GAP_PIECE - 1);
		hi = lo + EMU_GAP_PIECE;
		if (lo < g->base)
			lo = g->base;
		if (hi - g->base > g->size)
			hi = g->base + g->size;
	} else {
		lo = g->base;
		hi = g->base + g->size;
	}
	/* Not over the pieces mapped already. */
	if (prev_end > lo)
		lo = prev_end;
	if (next_base < hi)
		hi = next_base;
	if (addr < lo || addr >= hi)
		return false;
	*out = (struct emu_span){.base = lo, .size = hi - lo, .devices = false};
	return true;
}
