/* SPDX-License-Identifier: MIT */
/* embed.c - embedding libvmm through its public API alone: RAM, a device of its own, guest code. */
/*
 * Build: cc embed.c $(pkg-config --static --cflags --libs libvmm) -o embed
 * (examples/Makefile does that, and builds the counter plugin beside it)
 * Run:   ./embed [auto|kvm|emu] [PLUGIN]
 *
 * No INI file: the program builds the machine by hand and defines its
 * device model right here. The guest writes 42 to a "doorbell" register;
 * the doorbell stops the VM with that value, and the program returns 0 when
 * it sees exactly that.
 *
 * With PLUGIN, the counter device plugin of examples/plugin/ (a path with a
 * '/', or a name searched for as NAME.so in $VMM_PLUGIN_PATH and then in
 * the library's plugin folder, vmm_plugin_dir()) is added too, and a
 * second guest program adds 30 and 12 to the counter and rings the doorbell
 * with the sum it reads back: 42 again, but only if the plugin did its job.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/vmm.h"

#define RAM_SIZE      (2u << 20) /* 2 MiB of guest RAM at guest-physical 0 */
#define CODE_GPA      0x1000u	 /* where the guest code goes; the boot area is at the top of RAM */
#define DOORBELL_GPA  0xfe000000u /* no RAM here, so accesses trap to the device */
#define DOORBELL_SIZE 0x1000u
#define COUNTER_GPA   0xfe001000u /* the counter plugin's window, in PLUGIN mode */
#define COUNTER_SIZE  0x1000u
#define EXPECTED_CODE 42

/*
 * The guest program, x86-64 machine code. Every vCPU starts in 64-bit mode
 * with an identity map covering RAM and device windows (guest.h), so the
 * doorbell's guest-physical address can be used as a pointer directly.
 */
/* clang-format off */
static const uint8_t guest_code[] = {
	0xbb, 0x00, 0x00, 0x00, 0xfe,             /* mov $0xfe000000, %ebx  (zero-extends into %rbx) */
	0x8b, 0x03,                               /* mov (%rbx), %eax       read the doorbell once */
	0x48, 0xc7, 0x03, 0x2a, 0x00, 0x00, 0x00, /* movq $0x2a, (%rbx)     ring it with 42: VM stops */
	0xf4,                                     /* hlt                    not reached */
};

/* With PLUGIN: the counter's registers (examples/plugin/counter.c) at COUNTER_GPA. */
static const uint8_t guest_code_counter[] = {
	0xbb, 0x00, 0x10, 0x00, 0xfe,             /* mov $0xfe001000, %ebx  the counter */
	0x48, 0xc7, 0x43, 0x10, 0x1e, 0x00, 0x00, 0x00, /* movq $30, 0x10(%rbx)  ADD 30 */
	0x48, 0xc7, 0x43, 0x10, 0x0c, 0x00, 0x00, 0x00, /* movq $12, 0x10(%rbx)  ADD 12 */
	0x48, 0x8b, 0x43, 0x08,                   /* mov 0x8(%rbx), %rax    VALUE: 42 */
	0xbb, 0x00, 0x00, 0x00, 0xfe,             /* mov $0xfe000000, %ebx  the doorbell */
	0x48, 0x89, 0x03,                         /* mov %rax, (%rbx)       ring it with the sum */
	0xf4,                                     /* hlt                    not reached */
};
/* clang-format on */

/*
 * The device model's per-instance state. The host services table is how a
 * model asks the VMM for things (here: stopping the VM); it arrives in
 * create() and stays valid until destroy().
 */
struct doorbell {
	const struct vmm_host_services *host;
	struct vmm_host *ctx;
	unsigned reads, writes;
};

static int doorbell_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			   const struct vmm_device_info *info, void **state)
{
	struct doorbell *db = calloc(1, sizeof(*db));

	if (!db)
		return -ENOMEM;
	db->host = host;
	db->ctx = ctx;
	*state = db;
	printf("doorbell: created '%s' at 0x%" PRIx64 "\n", info->name, info->base);
	return 0;
}

static void doorbell_destroy(void *state)
{
	struct doorbell *db = state;

	printf("doorbell: %u read(s), %u write(s)\n", db->reads, db->writes);
	free(db);
}

/* Reads return how many writes the doorbell has seen: something the guest can observe. */
static int doorbell_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	struct doorbell *db = state;

	db->reads++;
	*value = db->writes;
	printf("doorbell: read  offset 0x%" PRIx64 " size %u -> %" PRIu64 "\n", offset, size,
	       *value);
	return 0;
}

/* Any write stops the VM, and the value written becomes the VM's exit code. */
static int doorbell_write(void *state, uint64_t offset, uint32_t size, uint64_t value)
{
	struct doorbell *db = state;

	db->writes++;
	printf("doorbell: write offset 0x%" PRIx64 " size %u <- %" PRIu64 "\n", offset, size,
	       value);
	db->host->stop(db->ctx, (int)value);
	return 0;
}

/*
 * The descriptor: what libvmm checks (ABI version, size) and calls. It must
 * outlive the VM, hence static. Plugins return the same structure from
 * their entry symbol; here we pass it to vmm_device_add() ourselves.
 */
static const struct vmm_plugin_desc doorbell_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "doorbell",
    .description = "stops the VM with the value written to it",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_1 | VMM_ACCESS_2 | VMM_ACCESS_4 | VMM_ACCESS_8,
    .min_length = 8,
    .create = doorbell_create,
    .destroy = doorbell_destroy,
    .read = doorbell_read,
    .write = doorbell_write,
};

/* libvmm never prints; its messages come here. Only warnings and errors by default. */
static void log_to_stderr(void *opaque, int level, const char *msg)
{
	fprintf(stderr, "libvmm: %s\n", msg);
}

/* Print the failed call with libvmm's explanation; returns 1 for main(). */
static int fail(const char *what, int err)
{
	fprintf(stderr, "embed: %s: %s (%s)\n", what, vmm_strerror(err), vmm_last_error());
	return 1;
}

/*
 * Add the counter plugin named by arg at COUNTER_GPA. A bare name is searched
 * for in $VMM_PLUGIN_PATH, then in the folder the library's own plugins were
 * installed in.
 */
static int add_counter(struct vmm_vm *vm, const char *arg, struct vmm_device **out)
{
	const struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "counter0",
	    .space = VMM_SPACE_MMIO,
	    .base = COUNTER_GPA,
	    .length = COUNTER_SIZE,
	};
	const char *env = getenv("VMM_PLUGIN_PATH");
	char search[PATH_MAX * 2], path[PATH_MAX];
	int ret;

	snprintf(search, sizeof(search), "%s%s%s", env ? env : "", env ? ":" : "",
		 vmm_plugin_dir());
	ret = vmm_plugin_find(arg, search, path, sizeof(path));
	if (ret < 0)
		return ret;
	printf("embed: plugin %s\n", path);
	return vmm_device_add_plugin(vm, path, &cfg, out);
}

int main(int argc, char **argv)
{
	struct vmm_vm_options opts;
	struct vmm_device_config dev = {
	    .size = sizeof(dev),
	    .name = "doorbell0",
	    .space = VMM_SPACE_MMIO,
	    .base = DOORBELL_GPA,
	    .length = DOORBELL_SIZE,
	};
	struct vmm_vm *vm = NULL;
	struct vmm_device *counter = NULL;
	struct vmm_exit vm_exit = VMM_EXIT_INIT;
	const char *plugin = argc > 2 ? argv[2] : NULL;
	const uint8_t *code = plugin ? guest_code_counter : guest_code;
	size_t code_size = plugin ? sizeof(guest_code_counter) : sizeof(guest_code);
	int ret, status = 1;

	vmm_vm_options_init(&opts);
	opts.log = log_to_stderr;
	if (argc > 3 || (argc > 1 && vmm_accel_parse(argv[1], &opts.accel) < 0)) {
		fprintf(stderr, "usage: %s [auto|kvm|emu] [PLUGIN]\n", argv[0]);
		return 2;
	}

	ret = vmm_vm_create(&opts, &vm);
	if (ret < 0)
		return fail("vmm_vm_create", ret);
	printf("embed: backend %s\n", vmm_accel_name(vmm_vm_accel(vm)));

	/* The VM allocates (and later frees) the RAM; we only need its GPA. */
	ret = vmm_memslot_alloc(vm, "ram", 0, RAM_SIZE, NULL);
	if (ret < 0) {
		fail("vmm_memslot_alloc", ret);
		goto out;
	}

	/* The doorbell's window is left unbacked by RAM, which is what makes it trap. */
	ret = vmm_device_add(vm, &doorbell_desc, &dev, NULL);
	if (ret < 0) {
		fail("vmm_device_add", ret);
		goto out;
	}

	if (plugin) {
		ret = add_counter(vm, plugin, &counter);
		if (ret < 0) {
			fail(plugin, ret);
			goto out;
		}
	}

	/* Copy the program in through the checked path rather than a raw pointer. */
	ret = vmm_guest_write(vm, CODE_GPA, code, code_size);
	if (ret < 0) {
		fail("vmm_guest_write", ret);
		goto out;
	}

	/* Boot setup needs every vCPU to exist first: it builds per-vCPU stacks and boot info. */
	ret = vmm_vcpu_create(vm, 0, NULL);
	if (ret < 0) {
		fail("vmm_vcpu_create", ret);
		goto out;
	}
	ret = vmm_boot_setup(vm, CODE_GPA);
	if (ret < 0) {
		fail("vmm_boot_setup", ret);
		goto out;
	}

	ret = vmm_vm_run(vm, &vm_exit);
	if (ret < 0) {
		fail("vmm_vm_run", ret);
		goto out;
	}
	printf("embed: exit %s", vmm_exit_reason_name(vm_exit.reason));
	if (vm_exit.reason == VMM_EXIT_STOPPED)
		printf(", code %d", vm_exit.exit_code);
	else
		printf(" (%s) at rip 0x%" PRIx64, vm_exit.detail, vm_exit.regs.rip);
	printf("\n");
	if (counter) {
		struct vmm_device_stats st = VMM_DEVICE_STATS_INIT;

		if (vmm_device_get_stats(counter, &st) == 0)
			printf("embed: %s '%s': %" PRIu64 " read(s), %" PRIu64 " write(s)\n",
			       vmm_device_model(counter), vmm_device_name(counter), st.reads,
			       st.writes);
	}
	if (vm_exit.reason == VMM_EXIT_STOPPED && vm_exit.exit_code == EXPECTED_CODE)
		status = 0;

out:
	/* Destroys the device (doorbell_destroy runs) and frees the RAM. */
	vmm_vm_destroy(vm);
	return status;
}
