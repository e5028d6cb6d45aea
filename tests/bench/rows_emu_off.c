/* SPDX-License-Identifier: MIT */
/*
 * rows_emu_off.c - stands in for rows_emu.c (bare Unicorn)
 * when ./configure --disable-emu left Unicorn out.
 */
#include "bench.h"

/* main() skips every emu row with vmm_accel_probe()'s reason before it gets here. */
static void left_out(struct bench_row *row)
{
	bench_skip(row, "backend emu is not built in (./configure --disable-emu)");
}

void bench_row_mmio_emu(struct bench_row *row)
{
	left_out(row);
}

void bench_row_mmio8_emu(struct bench_row *row)
{
	left_out(row);
}

void bench_row_pio_emu(struct bench_row *row)
{
	left_out(row);
}

void bench_row_lifecycle_emu(struct bench_row *row)
{
	left_out(row);
}

void bench_row_compute_emu(struct bench_row *row)
{
	left_out(row);
}

void bench_row_compute8_emu(struct bench_row *row)
{
	left_out(row);
}

void bench_row_layout_emu(struct bench_row *row)
{
	left_out(row);
}

void bench_row_msi_emu(struct bench_row *row)
{
	left_out(row);
}

void bench_row_timer_emu(struct bench_row *row)
{
	left_out(row);
}
