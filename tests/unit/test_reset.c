/* SPDX-License-Identifier: MIT */
/*
 * test_reset.c - vmm_vm_reset(): a guest run after a reset sees the
 * machine it saw first (RAM, firmware, vCPUs, devices), on both backends.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "elf_builder.h"
#include "guest_prog.h"
#include "unit.h"
#include "vmm/vmm.h"

#define LOW_SIZE   (16ull << 20)
#define ENTRY	   0x100000ull
#define DATA	   (ENTRY + 0x800) /* firmware .data: a u32, then .bss: a u32 */
#define DATA_VALUE 0x11223344u
#define ELSEWHERE  0x500000ull	/* RAM outside the firmware */
#define TD	   0x2000000ull /* testdev window */
#define UART	   0x3f8

/*
 * The guest checks that it sees the machine at power-on, then changes
 * everything it checked, and stops through the testdev's exit register
 * with one bit per thing that was not as at power-on:
 *   1 firmware data not as loaded    2 .bss not zero
 *   4 testdev LIVENESS not 0xffffffff (its reset value)
 *   8 uart scratch register not 0     16 rbx not 0 (the boot state)
 * A second run without a reset would see every change: exit code 31.
 */
extern const uint8_t g_power_on_start[], g_power_on_end[];
__asm__(".pushsection .rodata\n"
	".globl g_power_on_start\ng_power_on_start:\n"
	"	xorl %ebp, %ebp\n"
	"	cmpl $0x11223344, 0x100800\n"
	"	je 1f\n"
	"	orl $1, %ebp\n"
	"1:	movl $0x55667788, 0x100800\n"
	"	cmpl $0, 0x100804\n"
	"	je 2f\n"
	"	orl $2, %ebp\n"
	"2:	movl $1, 0x100804\n"
	"	movl 0x2000008, %eax\n"
	"	cmpl $0xffffffff, %eax\n"
	"	je 3f\n"
	"	orl $4, %ebp\n"
	"3:	movl $0x12345678, 0x2000008\n"
	"	movw $0x3ff, %dx\n"
	"	inb %dx, %al\n"
	"	testb %al, %al\n"
	"	jz 4f\n"
	"	orl $8, %ebp\n"
	"4:	movb $0x5a, %al\n"
	"	outb %al, %dx\n"
	"	testl %ebx, %ebx\n"
	"	jz 5f\n"
	"	orl $16, %ebp\n"
	"5:	movl $0x77, %ebx\n"
	"	movl %ebp, 0x20000f0\n"
	"	hlt\n"
	".globl g_power_on_end\ng_power_on_end:\n"
	".popsection\n");

/* A guest that never stops by itself. */
static const uint8_t spin_code[] = {0xeb, 0xfe}; /* jmp . */

static struct vmm_vm *vm;
static struct elfb elf;

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
	elfb_cleanup(&elf);
}

/* The firmware: code at ENTRY, DATA_VALUE at DATA, and 4 bytes of .bss after it. */
static const char *power_on_elf(void)
{
	uint8_t seg[0x804];
	uint32_t v = DATA_VALUE;

	cr_assert_leq((size_t)(g_power_on_end - g_power_on_start), DATA - ENTRY);
	memset(seg, 0x90, sizeof(seg));
	memcpy(seg, g_power_on_start, (size_t)(g_power_on_end - g_power_on_start));
	memcpy(seg + (DATA - ENTRY), &v, 4);
	elfb_init(&elf, ENTRY);
	elfb_add(&elf, PT_LOAD, PF_R | PF_W | PF_X, ENTRY, seg, sizeof(seg), 0x1000);
	return elfb_write(&elf, "power-on.elf");
}

static void new_vm(enum vmm_accel accel)
{
	struct vmm_vm_options opts;

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create(&opts, &vm));
}

static void add_plugin(const char *model, const char *name, uint32_t space, uint64_t base,
		       uint64_t len)
{
	static const struct vmm_device_param quiet[] = {{"output", "none", NULL, 0}};
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = name,
	    .space = space,
	    .base = base,
	    .length = len,
	};

	if (!strcmp(model, "uart16550")) {
		c.params = quiet;
		c.nparams = 1;
	}
	char path[256];

	snprintf(path, sizeof(path), "%s/plugins/%s.so", BUILD_DIR, model);
	OK(vmm_device_add_plugin(vm, path, &c, NULL));
}

/* The machine of the power-on guest: RAM, a testdev, a uart, one vCPU, the firmware booted. */
static void power_on_machine(enum vmm_accel accel)
{
	uint64_t entry;

	new_vm(accel);
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, NULL));
	add_plugin("testdev", "test0", VMM_SPACE_MMIO, TD, 0x1000);
	add_plugin("uart16550", "uart0", VMM_SPACE_PIO, UART, 8);
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_load_elf(vm, power_on_elf(), &entry));
	OK(vmm_boot_setup(vm, entry));
}

static void run_expect_stop(int code)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_STOPPED, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
	cr_assert_eq(ex.exit_code, code,
		     "exit code %d, want %d (bits: what was not as at power-on)", ex.exit_code,
		     code);
}

TestSuite(reset_emu, .fini = teardown, .timeout = 60);
TestSuite(reset_kvm, .fini = teardown, .timeout = 60);
TestSuite(reset, .fini = teardown, .timeout = 60);
#define BOTH(name) TWIN_TESTS(reset_emu, reset_kvm, name)

BOTH(a_guest_run_again_after_a_reset_sees_the_machine_as_at_power_on)
{
	static const uint8_t junk[16] = {0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4,
					 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4};
	uint8_t code[16], elsewhere[8];
	struct vmm_regs r;

	power_on_machine(accel);
	run_expect_stop(0);
	/* The stop lasts: without a reset the VM does not run again. */
	run_expect_stop(0);

	/* The host changes RAM too: HLTs over the code, bytes elsewhere. */
	OK(vmm_guest_write(vm, ENTRY, junk, sizeof(junk)));
	OK(vmm_guest_write(vm, ELSEWHERE, "changed", 8));

	OK(vmm_vm_reset(vm));
	OK(vmm_guest_read(vm, ENTRY, code, sizeof(code)));
	cr_assert_arr_eq(code, g_power_on_start, sizeof(code), "the firmware was not reloaded");
	OK(vmm_guest_read(vm, ELSEWHERE, elsewhere, sizeof(elsewhere)));
	cr_assert_arr_eq(elsewhere, (uint8_t[8]){0}, 8, "allocated RAM was not zeroed");
	OK(vmm_vcpu_get_regs(vmm_vcpu_get(vm, 0), &r));
	cr_assert_eq(r.rip, ENTRY);
	cr_assert_eq(r.rbx, 0);

	/* The same result as the first run: each device's changes undone too. */
	run_expect_stop(0);
	OK(vmm_vm_reset(vm));
	run_expect_stop(0);
}

/* The selftest firmware on two vCPUs, built from a config, prints the same log after a reset. */
BOTH(the_selftest_firmware_prints_the_same_log_after_a_reset)
{
	char dir[] = "/tmp/libvmm-reset-XXXXXX", out[64], text[2048], *log;
	struct vmm_vm_options opts;
	struct vmm_config *cfg;
	size_t half;
	long n;
	FILE *f;

	cr_assert(mkdtemp(dir));
	snprintf(out, sizeof(out), "%s/uart.log", dir);
	snprintf(text, sizeof(text),
		 "[vm]\nfirmware = %s\nvcpus = 2\n[ram \"low\"]\ngpa = 0\nsize = 16M\n"
		 "[device \"uart0\"]\nplugin = uart16550\npio = 0x3f8\nsize = 8\noutput = %s\n"
		 "[device \"test0\"]\nplugin = testdev\nmmio = 0xfebf0000\nsize = 0x1000\n"
		 "irq = 10\n",
		 BUILD_DIR "/guest-firmware/selftest.elf", out);
	OK(vmm_config_parse_string(text, "reset.ini", &cfg));
	vmm_vm_options_init(&opts);
	opts.accel = accel;
	OK(vmm_vm_create_from_config(cfg, &opts, BUILD_DIR "/plugins", &vm));
	vmm_config_free(cfg);

	run_expect_stop(0);
	OK(vmm_vm_reset(vm));
	run_expect_stop(0);
	vmm_vm_destroy(vm); /* closes the uart's output */
	vm = NULL;

	f = fopen(out, "rb");
	cr_assert(f, "%s", out);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	cr_assert_gt(n, 0);
	log = malloc((size_t)n + 1);
	rewind(f);
	cr_assert_eq(fread(log, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	log[n] = '\0';
	unlink(out);
	rmdir(dir);
	cr_assert(strstr(log, "selftest: "), "%s", log);
	cr_assert_eq(n % 2, 0, "two runs, one log each:\n%s", log);
	half = (size_t)n / 2;
	cr_assert(!memcmp(log, log + half, half), "the second run's log differs:\n%s", log);
	free(log);
}

struct runner {
	struct vmm_exit ex;
	int ret;
};

static void *run_thread(void *arg)
{
	struct runner *r = arg;

	r->ret = vmm_vm_run(vm, &r->ex);
	return NULL;
}

BOTH(reset_while_a_vcpu_runs_is_ebusy)
{
	struct timespec ms = {0, 1000000};
	struct runner r = {.ex = VMM_EXIT_INIT, .ret = 1};
	uint8_t *low;
	pthread_t t;
	int ret = 0;

	/* The caller's memory: a reset before the run begins leaves the spinning code in place. */
	low = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(low != MAP_FAILED);
	memcpy(low + ENTRY, spin_code, sizeof(spin_code));
	new_vm(accel);
	OK(vmm_memslot_add(vm, "low", 0, LOW_SIZE, low));
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_boot_setup(vm, ENTRY));
	cr_assert_eq(pthread_create(&t, NULL, run_thread, &r), 0);
	/* Before the run begins a reset just succeeds: the caller's code stays. */
	for (int i = 0; i < 10000 && (ret = vmm_vm_reset(vm)) != -EBUSY; i++)
		nanosleep(&ms, NULL);
	vmm_vm_stop(vm, 7);
	cr_assert_eq(pthread_join(t, NULL), 0);
	cr_assert_eq(ret, -EBUSY, "reset while running returned %d: %s", ret, vmm_last_error());
	cr_assert(strstr(vmm_last_error(), "running"), "%s", vmm_last_error());
	OK(r.ret);
	cr_assert_eq(r.ex.reason, VMM_EXIT_STOPPED);
	cr_assert_eq(r.ex.exit_code, 7);
	OK(vmm_vm_reset(vm));
	vmm_vm_destroy(vm);
	vm = NULL;
	munmap(low, LOW_SIZE);
}

/* ---- What a reset does and does not touch (no guest needs to run: emu) ---- */

static char order[16];
static const struct vmm_host_services *saved_host;
static struct vmm_host *saved_ctx;
static int callback_reset_ret = 1;

static int saving_create(const struct vmm_host_services *host, struct vmm_host *ctx,
			 const struct vmm_device_info *info, void **state)
{
	saved_host = host;
	saved_ctx = ctx;
	/* The name is valid during create() only: the state is its first letter. */
	*state = (void *)(uintptr_t)info->name[0];
	return 0;
}

/* Records which device was reset, in order, and writes a byte of guest RAM (DMA). */
static void recording_reset(void *state)
{
	size_t n = strlen(order);
	char c = (char)(uintptr_t)state;

	if (n + 1 < sizeof(order))
		order[n] = c;
	saved_host->mem_write(saved_ctx, ELSEWHERE + 0x1000, &c, 1);
}

static int resetting_read(void *state, uint64_t offset, uint32_t size, uint64_t *value)
{
	callback_reset_ret = vmm_vm_reset(vm);
	*value = 0;
	return 0;
}

static const struct vmm_plugin_desc recording_desc = {
    .abi_version = VMM_PLUGIN_ABI_VERSION,
    .size = sizeof(struct vmm_plugin_desc),
    .name = "recording",
    .spaces = VMM_SPACE_MMIO,
    .access_sizes = VMM_ACCESS_4,
    .min_length = 4,
    .create = saving_create,
    .reset = recording_reset,
    .read = resetting_read,
    .write = test_null_write,
};

static void add_desc(const struct vmm_plugin_desc *d, const char *name, uint64_t base)
{
	struct vmm_device_config c = {
	    .size = sizeof(c),
	    .name = name,
	    .space = VMM_SPACE_MMIO,
	    .base = base,
	    .length = 0x1000,
	};

	OK(vmm_device_add(vm, d, &c, NULL));
}

/* An allocated low slot with the boot state, and the power-on firmware loaded. */
static void booted_vm(void)
{
	uint64_t entry;

	new_vm(VMM_ACCEL_EMU);
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, NULL));
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_load_elf(vm, power_on_elf(), &entry));
	OK(vmm_boot_setup(vm, entry));
}

static void expect_bytes(uint64_t gpa, const void *want, size_t len, const char *what)
{
	uint8_t got[64];

	cr_assert_leq(len, sizeof(got));
	OK(vmm_guest_read(vm, gpa, got, len));
	cr_assert_arr_eq(got, want, len, "%s", what);
}

Test(reset, null_vm_is_einval)
{
	cr_assert_eq(vmm_vm_reset(NULL), -EINVAL);
}

Test(reset, a_vm_never_booted_has_no_state_to_return_to_and_is_left_alone)
{
	new_vm(VMM_ACCEL_EMU);
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, NULL));
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_guest_write(vm, ELSEWHERE, "kept", 4));
	cr_assert_eq(vmm_vm_reset(vm), -EINVAL);
	cr_assert(strstr(vmm_last_error(), "vmm_boot_setup()"), "%s", vmm_last_error());
	expect_bytes(ELSEWHERE, "kept", 4, "a refused reset changed RAM");
}

Test(reset, each_devices_reset_runs_once_in_the_order_added_and_one_without_reset_is_skipped)
{
	booted_vm();
	order[0] = '\0';
	add_desc(&recording_desc, "b", TD);
	add_desc(&test_null_desc, "n", TD + 0x1000);
	add_desc(&recording_desc, "a", TD + 0x2000);
	OK(vmm_vm_reset(vm));
	cr_assert_str_eq(order, "ba");
}

/* RAM first, devices after: what a device writes at power-on stays. */
Test(reset, a_devices_reset_may_write_guest_ram_and_its_bytes_stay)
{
	booted_vm();
	order[0] = '\0';
	add_desc(&recording_desc, "z", TD);
	OK(vmm_vm_reset(vm));
	expect_bytes(ELSEWHERE + 0x1000, "z", 1, "the device's DMA in reset() was lost");
}

Test(reset, from_a_device_callback_is_ebusy)
{
	struct vmm_exit ex = VMM_EXIT_INIT;
	struct prog p = {.n = 0};

	new_vm(VMM_ACCEL_EMU);
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, NULL));
	OK(vmm_vcpu_create(vm, 0, NULL));
	add_desc(&recording_desc, "r", TD);
	load(&p, RBX, (uint32_t)TD);
	hlt(&p);
	OK(vmm_guest_write(vm, ENTRY, p.b, p.n));
	OK(vmm_boot_setup(vm, ENTRY));
	OK(vmm_vcpu_run(vmm_vcpu_get(vm, 0), &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "%s", ex.detail);
	cr_assert_eq(callback_reset_ret, -EBUSY);
}

Test(reset, memory_the_caller_gave_keeps_its_bytes_except_the_firmware)
{
	uint8_t *low =
	    mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t entry;

	cr_assert(low != MAP_FAILED);
	new_vm(VMM_ACCEL_EMU);
	OK(vmm_memslot_add(vm, "low", 0, LOW_SIZE, low));
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_load_elf(vm, power_on_elf(), &entry));
	OK(vmm_boot_setup(vm, entry));
	memcpy(low + ELSEWHERE, "caller's", 8);
	memset(low + ENTRY, 0xf4, 16);
	memset(low + DATA + 4, 0xff, 4); /* the .bss */
	OK(vmm_vm_reset(vm));
	cr_assert(!memcmp(low + ELSEWHERE, "caller's", 8), "the caller's bytes were changed");
	cr_assert(!memcmp(low + ENTRY, g_power_on_start, 16), "the firmware was not reloaded");
	cr_assert_eq(*(uint32_t *)(low + DATA), DATA_VALUE);
	cr_assert_eq(*(uint32_t *)(low + DATA + 4), 0, "the .bss was not zeroed");
	vmm_vm_destroy(vm);
	vm = NULL;
	munmap(low, LOW_SIZE);
}

Test(reset, a_read_only_slot_keeps_its_contents)
{
	booted_vm();
	OK(vmm_memslot_alloc_flags(vm, "rom", 0x4000000, 0x1000, VMM_MEMSLOT_READONLY, NULL));
	OK(vmm_guest_write(vm, 0x4000000, "flash", 5));
	OK(vmm_vm_reset(vm));
	expect_bytes(0x4000000, "flash", 5, "a read-only slot was changed");
}

Test(reset, a_slot_moved_after_the_load_takes_its_firmware_to_its_new_place)
{
	uint8_t junk[16];
	uint64_t entry;

	memset(junk, 0xcc, sizeof(junk));
	new_vm(VMM_ACCEL_EMU);
	OK(vmm_memslot_alloc(vm, "low", 0, 0x100000, NULL));
	OK(vmm_memslot_alloc(vm, "fw", ENTRY, 0x100000, NULL));
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_load_elf(vm, power_on_elf(), &entry));
	OK(vmm_boot_setup(vm, entry));
	OK(vmm_memslot_move(vm, ENTRY, 0x4000000));
	OK(vmm_guest_write(vm, 0x4000000, junk, sizeof(junk)));
	OK(vmm_vm_reset(vm));
	expect_bytes(0x4000000, g_power_on_start, 16, "the moved firmware was not reloaded");
}

Test(reset, a_slot_remapped_after_the_load_gets_no_firmware)
{
	uint8_t *mem =
	    mmap(NULL, 0x100000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t entry;

	cr_assert(mem != MAP_FAILED);
	new_vm(VMM_ACCEL_EMU);
	OK(vmm_memslot_alloc(vm, "low", 0, 0x100000, NULL));
	OK(vmm_memslot_alloc(vm, "fw", ENTRY, 0x100000, NULL));
	OK(vmm_vcpu_create(vm, 0, NULL));
	OK(vmm_load_elf(vm, power_on_elf(), &entry));
	OK(vmm_boot_setup(vm, entry));
	OK(vmm_memslot_remap(vm, ENTRY, mem));
	OK(vmm_vm_reset(vm));
	cr_assert_eq(mem[0], 0, "firmware written into memory the caller gave after the load");
	vmm_vm_destroy(vm);
	vm = NULL;
	munmap(mem, 0x100000);
}

Test(reset, zeroed_pages_of_a_logged_slot_are_reported_dirty)
{
	uint64_t bitmap[(LOW_SIZE / 4096 + 63) / 64];

	booted_vm();
	OK(vmm_memslot_set_dirty_log(vm, 0, 1));
	OK(vmm_memslot_get_dirty(vm, 0, bitmap, sizeof(bitmap) / sizeof(bitmap[0])));
	OK(vmm_vm_reset(vm));
	OK(vmm_memslot_get_dirty(vm, 0, bitmap, sizeof(bitmap) / sizeof(bitmap[0])));
	cr_assert(bitmap[ELSEWHERE / 4096 / 64] & (1ull << (ELSEWHERE / 4096 % 64)));
	cr_assert(bitmap[ENTRY / 4096 / 64] & (1ull << (ENTRY / 4096 % 64)));
}
