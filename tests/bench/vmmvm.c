/* SPDX-License-Identifier: MIT */
/* vmmvm.c - the libvmm side of the rows: VMs built through the public API; a sample is a run. */
#include <errno.h>
#include <string.h>

#include "bench.h"

int bench_add_nulldev(struct vmm_vm *vm, const char *name, uint32_t space, uint64_t base,
		      uint64_t len, bool wide)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = name,
	    .space = space,
	    .base = base,
	    .length = len,
	};

	return vmm_device_add_plugin(vm, wide ? bench_opts.plugin8 : bench_opts.plugin, &cfg, NULL);
}

int bench_vm_base(struct bench_vm *b, enum vmm_accel accel, unsigned long ops)
{
	struct vmm_vm_options opts;
	int ret;

	memset(b, 0, sizeof(*b));
	b->ops = ops;
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	/* A stray access would skew the figures: stop instead. */
	opts.unclaimed = VMM_UNCLAIMED_STOP;
	ret = vmm_vm_create(&opts, &b->vm);
	if (ret == 0)
		ret = vmm_memslot_alloc(b->vm, "ram", 0, BENCH_RAM_SIZE, (void **)&b->ram);
	return ret;
}

int bench_vm_open(struct bench_vm *b, enum vmm_accel accel, unsigned devs, const uint8_t *code,
		  size_t len, unsigned long ops)
{
	int ret = bench_vm_base(b, accel, ops);

	if (ret == 0 && (devs & (BENCH_DEV_MMIO | BENCH_DEV_MMIO8)))
		ret = bench_add_nulldev(b->vm, "null-mmio", VMM_SPACE_MMIO, BENCH_DEV_BASE,
					BENCH_DEV_LEN, devs & BENCH_DEV_MMIO8);
	if (ret == 0 && (devs & BENCH_DEV_PIO))
		ret = bench_add_nulldev(b->vm, "null-pio", VMM_SPACE_PIO, BENCH_PORT, BENCH_NPORTS,
					false);
	/* vCPUs last: on emu a window added later would cost the vCPU its next run. */
	if (ret == 0)
		ret = vmm_vcpu_create(b->vm, 0, &b->vcpu);
	if (ret == 0) {
		memcpy(b->ram + BENCH_ENTRY, code, len);
		ret = vmm_boot_setup(b->vm, BENCH_ENTRY);
	}
	if (ret == 0)
		ret = vmm_vcpu_get_regs(b->vcpu, &b->regs0);
	if (ret < 0) {
		vmm_vm_destroy(b->vm);
		b->vm = NULL;
	}
	return ret;
}

void bench_vm_close(struct bench_vm *b)
{
	vmm_vm_destroy(b->vm);
	b->vm = NULL;
}

long bench_vm_sample(void *ctx)
{
	struct bench_vm *b = ctx;
	struct vmm_exit ex = VMM_EXIT_INIT;
	int ret;

	ret = vmm_vcpu_set_regs(b->vcpu, &b->regs0);
	if (ret == 0)
		ret = vmm_vcpu_run(b->vcpu, &ex);
	if (ret < 0)
		return bench_sample_error(ret, "libvmm: %s", vmm_last_error());
	if (ex.reason != VMM_EXIT_HLT)
		return bench_sample_error(-EIO, "libvmm: the guest ended with %s, not hlt: %s",
					  vmm_exit_reason_name(ex.reason), ex.detail);
	return (long)b->ops;
}

long bench_vmm_lifecycle(void *ctx)
{
	struct vmm_vm_options opts;
	struct vmm_vm *vm = NULL;
	struct vmm_vcpu *vcpu;
	struct vmm_exit ex = VMM_EXIT_INIT;
	uint8_t *ram, code[BENCH_CODE_MAX];
	size_t len = bench_code_hlt(code);
	int ret;

	vmm_vm_options_init(&opts);
	opts.accel = *(enum vmm_accel *)ctx;
	ret = vmm_vm_create(&opts, &vm);
	if (ret == 0)
		ret = vmm_memslot_alloc(vm, "ram", 0, BENCH_VM_RAM_SIZE, (void **)&ram);
	if (ret == 0)
		ret = vmm_vcpu_create(vm, 0, &vcpu);
	if (ret == 0) {
		memcpy(ram + BENCH_ENTRY, code, len);
		ret = vmm_boot_setup(vm, BENCH_ENTRY);
	}
	if (ret == 0)
		ret = vmm_vcpu_run(vcpu, &ex);
	if (ret == 0 && ex.reason != VMM_EXIT_HLT)
		ret = bench_sample_error(-EIO, "libvmm: the guest ended with %s: %s",
					 vmm_exit_reason_name(ex.reason), ex.detail);
	else if (ret < 0)
		ret = bench_sample_error(ret, "libvmm: %s", vmm_last_error());
	vmm_vm_destroy(vm);
	return ret < 0 ? ret : 1;
}
