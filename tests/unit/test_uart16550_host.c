/* SPDX-License-Identifier: MIT */
/*
 * test_uart16550_host.c - the uart16550 plugin in a real VM,
 * through the real host services, with a stalled output.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_prog.h"
#include "unit.h"
#include "vmm/guest.h"
#include "vmm/vmm.h"

#define ENTRY	 0x100000ull
#define LOW_SIZE (16ull << 20)
#define NBYTES	 10000 /* what the guest writes: more than the pipe and the device buffer hold */

/* mov $0x3f8, %dx; mov $NBYTES, %ecx; mov $'x', %al; 1: out %al, (%dx); loop 1b; hlt */
/* clang-format off */
static const uint8_t blind_writes[] = {
	0x66, 0xba, 0xf8, 0x03,
	0xb9, NBYTES & 0xff, NBYTES >> 8, 0x00, 0x00,
	0xb0, 0x78,
	0xee,
	0xe2, 0xfd,
	0xf4,
};
/* clang-format on */

static struct vmm_vm *vm;
static void *dl;
static char dir[64], fifo[96];
static char logbuf[4096]; /* every message of the VM, one per line */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void sink(void *opaque, int level, const char *msg)
{
	pthread_mutex_lock(&log_lock);
	snprintf(logbuf + strlen(logbuf), sizeof(logbuf) - strlen(logbuf), "%s\n", msg);
	pthread_mutex_unlock(&log_lock);
}

static void setup(void)
{
	/* As vmm-run does: a reader that leaves must give EPIPE, not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/uart-host-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/console", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0, "mkfifo: %s", strerror(errno));
	logbuf[0] = '\0';
}

static void teardown(void)
{
	vmm_vm_destroy(vm);
	vm = NULL;
	if (dl)
		dlclose(dl);
	dl = NULL;
	unlink(fifo);
	rmdir(dir);
}

/* A create() that used to wait for a reader forever ends the test by this timeout. */
TestSuite(uart_host_emu, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(uart_host_kvm, .init = setup, .fini = teardown, .timeout = 60);
#define BOTH(name) TWIN_TESTS(uart_host_emu, uart_host_kvm, name)

/*
 * A VM running code, with uart0 at port 0x3f8 configured by params (and on
 * I/O APIC pin irq unless it is VMM_GUEST_IRQ_NONE); the device is added by
 * descriptor.
 */
static void machine_with(enum vmm_accel accel, const uint8_t *code, size_t len,
			 const struct vmm_device_param *params, size_t nparams, uint32_t irq)
{
	struct vmm_device_config cfg = {
	    .size = sizeof(cfg),
	    .name = "uart0",
	    .space = VMM_SPACE_PIO,
	    .base = 0x3f8,
	    .length = 8,
	    .params = params,
	    .nparams = nparams,
	    .irqs = &irq,
	    .nirqs = irq == VMM_GUEST_IRQ_NONE ? 0 : 1,
	};
	struct vmm_vm_options opts;
	vmm_plugin_entry_fn entry;
	uint8_t *low;

	dl = dlopen(BUILD_DIR "/plugins/uart16550.so", RTLD_NOW | RTLD_LOCAL);
	cr_assert_not_null(dl, "%s", dlerror());
	*(void **)&entry = dlsym(dl, VMM_PLUGIN_ENTRY_SYMBOL);
	cr_assert_not_null(entry);

	vmm_vm_options_init(&opts);
	opts.accel = accel;
	opts.log = sink;
	OK(vmm_vm_create(&opts, &vm));
	OK(vmm_memslot_alloc(vm, "low", 0, LOW_SIZE, (void **)&low));
	OK(vmm_vcpu_create(vm, 0, NULL));
	memcpy(low + ENTRY, code, len);
	OK(vmm_boot_setup(vm, ENTRY));
	OK(vmm_device_add(vm, entry(), &cfg, NULL));
}

/* blind_writes, writing to fifo. */
static void machine(enum vmm_accel accel)
{
	static const struct vmm_device_param params[] = {
	    {.key = "output", .value = fifo},
	    {.key = "flush-timeout", .value = "0"},
	};

	machine_with(accel, blind_writes, sizeof(blind_writes), params, 2, VMM_GUEST_IRQ_NONE);
}

static void run_to_halt(void)
{
	struct vmm_exit ex = VMM_EXIT_INIT;

	OK(vmm_vm_run(vm, &ex));
	cr_assert_eq(ex.reason, VMM_EXIT_HLT, "exit %s: %s", vmm_exit_reason_name(ex.reason),
		     ex.detail);
}

/* Destroy the VM and read the device's end-of-run counts from its log. */
static void counts(unsigned long long *delivered, unsigned long long *dropped)
{
	const char *p;

	vmm_vm_destroy(vm);
	vm = NULL;
	p = strstr(logbuf, "bytes delivered");
	cr_assert_not_null(p, "no end-of-run line in:\n%s", logbuf);
	while (p > logbuf && p[-1] != ':')
		p--;
	cr_assert_eq(sscanf(p, " %llu bytes delivered, %llu dropped", delivered, dropped), 2, "%s",
		     logbuf);
}

BOTH(fifo_with_no_reader_is_added_at_once_and_its_bytes_are_counted)
{
	unsigned long long delivered, dropped;

	machine(accel);
	run_to_halt();
	counts(&delivered, &dropped);
	cr_assert_eq(delivered, 0, "%s", logbuf);
	cr_assert_eq(dropped, NBYTES, "%s", logbuf);
	cr_assert(strstr(logbuf, "device 'uart0': output '"), "tagged with the device: %s", logbuf);
	cr_assert(strstr(logbuf, "no process ever read the FIFO"), "%s", logbuf);
}

BOTH(stalled_reader_does_not_block_the_vcpu_and_every_byte_is_accounted_for)
{
	unsigned long long delivered, dropped, got = 0;
	char buf[4096];
	ssize_t n;
	int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	cr_assert_geq(fd, 0, "%s", strerror(errno));
	cr_assert_geq(fcntl(fd, F_SETPIPE_SZ, 4096), 0);
	machine(accel);
	run_to_halt();
	counts(&delivered, &dropped);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		got += (unsigned long long)n;
	close(fd);
	cr_assert_eq(got, delivered, "%s", logbuf);
	cr_assert_eq(delivered + dropped, NBYTES, "%s", logbuf);
	cr_assert_gt(dropped, 0, "%s", logbuf);
}

/* ---- input, with and without an interrupt line ---- */

/*
 * Turn the line on (MCR = DTR | RTS | OUT2, IER = received data | THR
 * empty), wait for LSR DR, echo RBR to THR, halt. With a line the UART
 * raises it into a masked I/O APIC pin: the guest polls either way.
 */
/* clang-format off */
static const uint8_t echo_one[] = {
	0x66, 0xba, 0xfc, 0x03,	/* mov $0x3fc, %dx: MCR */
	0xb0, 0x0b,		/* mov $0x0b, %al */
	0xee,			/* out %al, (%dx) */
	0xb2, 0xf9,		/* mov $0xf9, %dl: IER */
	0xb0, 0x03,		/* mov $0x03, %al */
	0xee,			/* out %al, (%dx) */
	0xb2, 0xfd,		/* mov $0xfd, %dl: LSR */
	0xec,			/* 1: in (%dx), %al */
	0xa8, 0x01,		/* test $1, %al: DR */
	0x74, 0xfb,		/* jz 1b */
	0xb2, 0xf8,		/* mov $0xf8, %dl: RBR */
	0xec,			/* in (%dx), %al */
	0xee,			/* out %al, (%dx): THR */
	0xf4,			/* hlt */
};
/* clang-format on */

static void check_echo(enum vmm_accel accel, uint32_t irq)
{
	char in[128], out[128], got[8] = {0};
	struct vmm_device_param params[] = {
	    {.key = "output", .value = out},
	    {.key = "input", .value = in},
	};
	FILE *f;
	int fd;

	snprintf(in, sizeof(in), "%s/in", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	f = fopen(in, "w");
	cr_assert_not_null(f);
	fputs("Q", f);
	fclose(f);
	machine_with(accel, echo_one, sizeof(echo_one), params, 2, irq);
	run_to_halt();
	vmm_vm_destroy(vm);
	vm = NULL;
	fd = open(out, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(read(fd, got, sizeof(got)), 1);
	close(fd);
	unlink(in);
	unlink(out);
	cr_assert_str_eq(got, "Q", "%s", logbuf);
}

/* A config from before interrupts: no irq key. */
BOTH(config_without_an_irq_key_receives_input_polled)
{
	check_echo(accel, VMM_GUEST_IRQ_NONE);
}

BOTH(config_with_an_irq_key_still_polls_while_the_pin_is_masked)
{
	check_echo(accel, 4);
}
