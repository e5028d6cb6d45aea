/* SPDX-License-Identifier: MIT */
/* start.c - what runs around vmm_guest_main(): the entry RSP, the exit code, halting. */
#include "vmm/guestlib.h"

/*
 * Each vCPU's entry RSP, by vcpu_index. In .data, not .bss: a guest that
 * clears its .bss on vCPU 0 (the self-test does) must not wipe what the
 * other vCPUs, which started at the same time, wrote here.
 */
static uint64_t entry_rsps[VMM_GUEST_MAX_VCPUS] __attribute__((section(".data")));

void vmm_guest_start(const struct vmm_guest_boot_info *bi, uint64_t entry_rsp)
{
	uint32_t index = bi->vcpu_index;
	int code;

	if (index < VMM_GUEST_MAX_VCPUS)
		entry_rsps[index] = entry_rsp;
	code = vmm_guest_main(bi);
	if (index == 0)
		vmm_guest_exit(bi, (uint32_t)code);
	vmm_guest_halt();
}

uint64_t vmm_guest_entry_rsp(const struct vmm_guest_boot_info *bi)
{
	return bi->vcpu_index < VMM_GUEST_MAX_VCPUS ? entry_rsps[bi->vcpu_index] : 0;
}

void vmm_guest_halt(void)
{
	/* There may be no IDT, so interrupts must stay off; an NMI would resume the HLT. */
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}
