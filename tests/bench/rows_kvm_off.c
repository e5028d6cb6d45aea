/* SPDX-License-Identifier: MIT */
/*
 * rows_kvm_off.c - stands in for rows_kvm.c (raw /dev/kvm
 * ioctls) when ./configure --disable-kvm left kvm out.
 */
#include "bench.h"

/* main() skips every kvm row with vmm_accel_probe()'s reason before it gets here. */
static void left_out(struct bench_row *row)
{
	bench_skip(row, "backend kvm is not built in (./configure --disable-kvm)");
}

void bench_row_mmio_kvm(struct bench_row *row)
{
	left_out(row);
}

void bench_row_pio_kvm(struct bench_row *row)
{
	left_out(row);
}

void bench_row_lifecycle_kvm(struct bench_row *row)
{
	left_out(row);
}

void bench_row_msi_kvm(struct bench_row *row)
{
	left_out(row);
}

void bench_row_irqline_kvm(struct bench_row *row)
{
	left_out(row);
}
