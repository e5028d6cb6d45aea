/* SPDX-License-Identifier: MIT */
/* fuzz_device.c - a device plugin (uart16550 or testdev, chosen at build time) driven through the
 * real host. */

/*
 * The plugin's source is built into the harness (so the fuzzer sees its
 * coverage) and added to a real VM with vmm_device_add(): create(),
 * param(), log, stop and DMA are the library's own host services, and the
 * accesses go through the exit dispatch path a vCPU uses, vmmi_dispatch(),
 * which enforces the access contract before the model sees anything. The
 * VM (emu, no vCPU) has two adjacent RAM slots and a read-only one, so DMA
 * meets every kind of range. The input: a set-up byte (space, window size,
 * unclaimed policy, reg-shift and an interrupt line for the UART), for the
 * UART the bytes its input file holds, then accesses: direction and size,
 * offset, value. The UART's line worker reads the input beside the
 * accesses, so when a byte arrives varies from run to run.
 */
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "vmm_internal.h"
#include "testdev.h"

#define MAX_OPS	 256
#define FUZZ_PIN 5

static int in_fd = -1, out_fd = -1;
static char in_path[64], out_path[64];

static void nolog(void *opaque, int level, const char *msg)
{
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	in_fd = memfd_create("fuzz-uart-in", MFD_CLOEXEC);
	out_fd = memfd_create("fuzz-uart-out", MFD_CLOEXEC);
	if (in_fd < 0 || out_fd < 0)
		FUZZ_FAIL("memfd_create");
	snprintf(in_path, sizeof(in_path), "/proc/self/fd/%d", in_fd);
	snprintf(out_path, sizeof(out_path), "/proc/self/fd/%d", out_fd);
	return 0;
}

/* Values that matter to a DMA engine: guest addresses near the slots' edges, lengths, or anything.
 */
static uint64_t pick_value(struct fuzz_in *in, uint8_t mode)
{
	static const uint64_t edges[] = {0, 0x10000, 0x20000, 0x100000, 0x101000, 0xfe000000};

	switch (mode & 3) {
	case 0:
		return fuzz_u8(in);
	case 1:
		return edges[fuzz_u8(in) % 6] + (int16_t)fuzz_u16(in);
	case 2:
		return fuzz_u16(in);
	default:
		return fuzz_u64(in);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	const struct vmm_plugin_desc *desc = VMM_PLUGIN_ENTRY();
	struct vmm_device_param params[4];
	struct vmm_device_config cfg = {.size = sizeof(cfg), .name = "dev", .params = params};
	struct vmm_vcpu vcpu;
	struct vmm_vm_options o;
	struct vmm_device *dev;
	struct vmm_vm *vm;
	uint8_t setup = fuzz_u8(&in);
	char shift[2] = {0};
	int ret;

	if (in_fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	vmm_vm_options_init(&o);
	o.accel = VMM_ACCEL_EMU;
	o.unclaimed = (setup & 0x80) ? VMM_UNCLAIMED_STOP : VMM_UNCLAIMED_IGNORE;
	o.log = nolog;
	o.log_level = VMM_LOG_TRACE; /* the host's log formatting runs too */
	if (vmm_vm_create(&o, &vm))
		FUZZ_FAIL("vmm_vm_create: %s", vmm_last_error());
	if (vmm_memslot_alloc(vm, "a", 0, 0x10000, NULL) ||
	    vmm_memslot_alloc(vm, "b", 0x10000, 0x10000, NULL) ||
	    vmm_memslot_alloc_flags(vm, "rom", 0x100000, 0x1000, VMM_MEMSLOT_READONLY, NULL))
		FUZZ_FAIL("memslot: %s", vmm_last_error());

	cfg.space = (setup & 1) ? VMM_SPACE_PIO : VMM_SPACE_MMIO;
	cfg.base = cfg.space == VMM_SPACE_PIO ? 0x3f8 : 0xfe000000;
	cfg.length = (setup & 2) ? 0x100 << ((setup >> 2) & 3) : 8;
#ifdef FUZZ_UART
	{
		uint8_t n = fuzz_u8(&in);
		uint8_t buf[256];

		for (unsigned i = 0; i < n; i++)
			buf[i] = fuzz_u8(&in);
		if (ftruncate(in_fd, 0) || pwrite(in_fd, buf, n, 0) != n || ftruncate(out_fd, 0))
			FUZZ_FAIL("cannot fill the UART's input file");
	}
	shift[0] = (char)('0' + ((setup >> 4) & 3));
	params[cfg.nparams++] = (struct vmm_device_param){"reg-shift", shift, NULL, 0};
	params[cfg.nparams++] = (struct vmm_device_param){"input", in_path, NULL, 0};
	params[cfg.nparams++] = (struct vmm_device_param){"output", out_path, NULL, 0};
	/* Pin 4: the line goes up and down in the real I/O APIC, its entry masked. */
	{
		static const uint32_t pin = 4;

		cfg.irqs = &pin;
		cfg.nirqs = (setup & 0x40) ? 1 : 0;
	}
#else
	(void)shift;
	static const uint32_t pins[] = {FUZZ_PIN};

	/* Set-up bit 4: the testdev gets a line, its pin's entry masked in the real I/O APIC. */
	if (setup & 0x10) {
		cfg.irqs = pins;
		cfg.nirqs = 1;
	}
#endif
	ret = vmm_device_add(vm, desc, &cfg, &dev);
	if (ret < 0) {
		/* Only a window too small for the model (or reg-shift) may be refused. */
		FUZZ_CHECK(ret == -EINVAL && cfg.length < 0x100, "vmm_device_add: %d: %s", ret,
			   vmm_last_error());
		vmm_vm_destroy(vm);
		return 0;
	}

	/* The dispatch path takes a vCPU for its counters and its window cache: one that never
	 * runs. */
	memset(&vcpu, 0, sizeof(vcpu));
	vcpu.vm = vm;
	for (int i = 0; i < MAX_OPS && fuzz_left(&in); i++) {
		static const uint32_t sizes[8] = {1, 2, 4, 8, 1, 4, 3, 16};
		uint8_t op = fuzz_u8(&in);
		uint32_t sz = sizes[op & 7];
		bool is_write = op & 0x80;
		uint64_t addr =
		    cfg.base + ((op & 0x40) ? fuzz_u16(&in) % (cfg.length + 16) : fuzz_u8(&in));
		uint64_t value = is_write ? pick_value(&in, op >> 3) : 0x5a5a5a5a5a5a5a5aull;
		struct vmm_exit exit;

		memset(&exit, 0, sizeof(exit));
		ret = vmmi_dispatch(&vcpu, cfg.space, addr, sz, is_write, &value, &exit);
		FUZZ_CHECK(ret == 0 || (ret == 1 && o.unclaimed == VMM_UNCLAIMED_STOP &&
					exit.reason == VMM_EXIT_UNCLAIMED),
			   "dispatch returned %d, exit %d", ret, exit.reason);
		if (!is_write && sz < 8)
			FUZZ_CHECK(!(value >> (sz * 8)), "a %u-byte read returned 0x%llx", sz,
				   (unsigned long long)value);
#ifdef FUZZ_TESTDEV
		if (!is_write && ret == 0 && sz == 4 && addr == cfg.base + TESTDEV_REG_ID)
			FUZZ_CHECK(value == TESTDEV_ID_VALUE, "ID reads 0x%llx",
				   (unsigned long long)value);
		if (cfg.nirqs) {
			/* The line is high exactly while STATUS is pending in enabled line mode. */
			uint64_t st = 0, ctl = 0;
			bool want;

			vmmi_dispatch(&vcpu, cfg.space, cfg.base + TESTDEV_REG_IRQ_STATUS, 4, false,
				      &st, &exit);
			vmmi_dispatch(&vcpu, cfg.space, cfg.base + TESTDEV_REG_IRQ_CTRL, 4, false,
				      &ctl, &exit);
			want = st && (ctl & (TESTDEV_IRQ_CTRL_ENABLE | TESTDEV_IRQ_CTRL_MSI)) ==
					 TESTDEV_IRQ_CTRL_ENABLE;
			FUZZ_CHECK((dev->irq_high & 1) == want,
				   "line %u with STATUS 0x%llx, CTRL 0x%llx", dev->irq_high & 1,
				   (unsigned long long)st, (unsigned long long)ctl);
		}
#endif
	}
	FUZZ_CHECK(vmm_device_remove(dev) == 0, "vmm_device_remove: %s", vmm_last_error());
	FUZZ_CHECK(vm->irq.sources[FUZZ_PIN] == 0, "pin %u still driven after the device left",
		   FUZZ_PIN);
	vmm_vm_destroy(vm);
	return 0;
}
