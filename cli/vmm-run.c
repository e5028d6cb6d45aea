/* SPDX-License-Identifier: MIT */
/* vmm-run.c - the vmm-run command: boot the VM a config describes, map how it ended to a status. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "console.h"
#include "vmm/vmm.h"

/*
 * Exit statuses of vmm-run itself. A guest that stops the VM chooses any
 * code 0..255, so these can collide with a guest's own choice; the message
 * on stderr tells them apart.
 */
#define EXIT_SETUP	 2   /* usage, config or setup error: the guest never ran */
#define EXIT_VMM_ERROR	 70  /* EX_SOFTWARE: the VMM failed while running */
#define EXIT_TIMEOUT	 124 /* as timeout(1) */
#define EXIT_HALTED	 125 /* every vCPU halted without an exit code */
#define EXIT_FAULT	 126 /* the guest crashed */
#define EXIT_SIGNAL_BASE 128 /* + signal number, as shells report it */

struct cli_opts {
	const char *config_path;
	bool accel_set;
	enum vmm_accel accel;
	bool timeout_set;
	uint64_t timeout_ms;
	char *plugin_path; /* the --plugin-path values joined with ':', or NULL */
	int verbose;
	bool trace;
	uint64_t *translate; /* the --translate GPAs in the order given (malloc'ed) */
	size_t ntranslate;
	const char *kernel; /* --kernel, --initrd, --append: argv strings, or NULL */
	const char *initrd;
	const char *append;
};

/*
 * A pthread call that fails leaves vmm-run unable to keep its promises
 * (the timeout, the signals, the lock its threads share): say which call
 * and leave, without running the teardown that would need them.
 */
static void pt_check(int err, const char *call)
{
	if (!err)
		return;
	fflush(stdout);
	console_restore();
	fprintf(stderr, "vmm-run: %s failed: %s\n", call, strerror(err));
	_exit(EXIT_VMM_ERROR);
}
#define PT(call) pt_check((call), #call)
/*
 * What the timer and signal threads share with the main thread. Whoever
 * stops the VM records why under the lock, and the main thread sets done
 * under the same lock once vmm_vm_run() returns, so a late timer or signal
 * can never be mistaken for the reason the guest stopped.
 */
struct watch {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC: wakes the timer when done is set */
	struct vmm_vm *vm;   /* NULL while the VM is being built */
	uint64_t timeout_ms;
	bool done;
	bool timed_out;
	int signo;    /* the signal that stopped the VM, or 0 */
	bool escaped; /* ... SIGINT's status, but from the console's Ctrl-A x */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmm-run [OPTION]... CONFIG.ini\n"
		"Boot the virtual machine that CONFIG.ini describes and run it until the\n"
		"guest stops it, faults or halts, or until the timeout expires.\n"
		"\n"
		"Options:\n"
		"      --accel=BACKEND     auto, kvm or emu; overrides [vm] accel\n"
		"                          (auto: kvm if /dev/kvm opens, else emu)\n"
		"      --timeout=DURATION  stop the guest after DURATION; overrides [vm] timeout\n"
		"                          (0 = none; N or Ns seconds, Nms, Nm minutes)\n"
		"      --plugin-path=DIRS  colon-separated folders searched first for plugins\n"
		"                          (may be given more than once)\n"
		"      --kernel=PATH       boot this Linux bzImage; overrides [vm] kernel and\n"
		"                          drops [vm] firmware (PATH is from the current folder)\n"
		"      --initrd=PATH       the kernel's initrd; overrides [vm] initrd\n"
		"      --append=CMDLINE    the kernel's command line; overrides [vm] cmdline\n"
		"  -v, --verbose           describe the backend, memory, devices and the exit\n"
		"                          on stderr; twice: debug messages too\n"
		"      --trace             log one line per guest exit on stderr (\"trace: ...\")\n"
		"      --translate=GPA[,GPA]...\n"
		"                          when the guest has stopped, print on stdout how each\n"
		"                          guest-physical address resolves, in three tables:\n"
		"                          GPA -> HVA (memslots), HVA -> HPA (host page tables),\n"
		"                          GPA -> HPA; a GPA in a device window or unclaimed\n"
		"                          says so (may be given more than once)\n"
		"  -h, --help              print this help and exit\n"
		"      --version           print the version and exit\n"
		"\n"
		"Plugins named without a '/' are searched, as NAME.so, in: the --plugin-path\n"
		"folders, then $VMM_PLUGIN_PATH, then the folder 'plugins' next to the\n"
		"vmm-run executable, then %s.\n"
		"\n"
		"When standard input is a terminal and a device reads it (input = stdin),\n"
		"the terminal is in raw mode while the guest runs: every key goes to the\n"
		"guest, Ctrl-C too. Ctrl-A starts an escape: Ctrl-A x quits (status 130),\n"
		"Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A h lists the keys. The terminal's\n"
		"settings come back however vmm-run ends.\n"
		"\n"
		"Exit status:\n"
		"  0-255  the code the guest stopped the VM with (modulo 256);\n"
		"         0 too when the guest asked for a reset (a reboot ends the run)\n"
		"  2      usage, configuration or setup error: the guest never ran\n"
		"  70     the VMM itself failed while running\n"
		"  124    the timeout expired\n"
		"  125    every vCPU halted without an exit code\n"
		"  126    guest fault (reason and registers on stderr)\n"
		"  129    stopped by SIGHUP\n"
		"  130    interrupted by SIGINT, or quit by the escape (Ctrl-A x)\n"
		"  143    terminated by SIGTERM\n"
		"A guest may choose any code itself; the message on stderr tells which it was.\n"
		"\n"
		"The emu backend is a software CPU and not a security boundary: do not run\n"
		"untrusted guests on it. See vmm-run(1) and vmm.ini(5).\n",
		vmm_plugin_dir());
}

static const char *log_level_name(int level)
{
	switch (level) {
	case VMM_LOG_ERROR:
		return "error";
	case VMM_LOG_WARN:
		return "warning";
	case VMM_LOG_INFO:
		return "info";
	case VMM_LOG_DEBUG:
		return "debug";
	default:
		return "trace";
	}
}

/*
 * The library's log sink. It runs on vCPU threads too; stdio locks the
 * stream for each call, so one fprintf per message keeps lines whole.
 */
static void cli_log(void *opaque, int level, const char *msg)
{
	if (level >= VMM_LOG_TRACE)
		fprintf(stderr, "trace: %s\n", msg);
	else
		fprintf(stderr, "vmm-run: %s: %s\n", log_level_name(level), msg);
}

/*
 * Parse a duration as the config file writes it: "0" (none), "N" or "Ns"
 * (seconds), "Nms", "Nm" (minutes). Returns 0 or -EINVAL / -ERANGE.
 */
static int parse_duration(const char *s, uint64_t *ms)
{
	uint64_t n = 0, unit;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (!strcmp(p, "") || !strcmp(p, "s"))
		unit = 1000;
	else if (!strcmp(p, "ms"))
		unit = 1;
	else if (!strcmp(p, "m"))
		unit = 60 * 1000;
	else
		return -EINVAL;
	if (n > UINT64_MAX / unit)
		return -ERANGE;
	*ms = n * unit;
	return 0;
}

/* Append ":part" (or just "part" to an empty string) to the malloc'ed *path. */
static int path_append(char **path, const char *part)
{
	size_t old, add;
	char *p;

	if (!part || !*part)
		return 0;
	old = *path ? strlen(*path) : 0;
	add = strlen(part);
	p = realloc(*path, old + add + 2);
	if (!p)
		return -ENOMEM;
	if (old)
		p[old++] = ':';
	memcpy(p + old, part, add + 1);
	*path = p;
	return 0;
}

/*
 * One guest-physical address: a C integer literal (0x1000, 4096, 010).
 * strtoull() alone would skip blanks and negate a minus sign, so the item
 * must start with a digit. Returns 0, -EINVAL or -ERANGE (above 64 bits).
 */
static int parse_gpa(const char *item, uint64_t *gpa)
{
	unsigned long long v;
	char *end;

	if (*item < '0' || *item > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(item, &end, 0);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*gpa = v;
	return 0;
}

/*
 * Append the comma-separated GPAs of one --translate value.
 * Returns -1 to go on, else the status to exit with.
 */
static int parse_translate(struct cli_opts *o, const char *arg)
{
	char *copy = strdup(arg), *item, *next;
	int status = -1;

	if (!copy) {
		fprintf(stderr, "vmm-run: out of memory\n");
		return EXIT_SETUP;
	}
	for (item = copy; item; item = next) {
		uint64_t gpa, *grown;
		int err;

		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		if (!*item) {
			fprintf(stderr, "vmm-run: --translate: empty address in '%s'\n", arg);
			status = EXIT_SETUP;
			break;
		}
		err = parse_gpa(item, &gpa);
		if (err < 0) {
			fprintf(stderr,
				"vmm-run: --translate: bad guest-physical address '%s' (%s)\n",
				item,
				err == -ERANGE ? "more than 64 bits" : "a number such as 0x100000");
			status = EXIT_SETUP;
			break;
		}
		grown = realloc(o->translate, (o->ntranslate + 1) * sizeof(*grown));
		if (!grown) {
			fprintf(stderr, "vmm-run: out of memory\n");
			status = EXIT_SETUP;
			break;
		}
		o->translate = grown;
		o->translate[o->ntranslate++] = gpa;
	}
	free(copy);
	return status;
}

/*
 * The folder 'plugins' next to the running executable, so that a build
 * tree's build/vmm-run finds build/plugins/ without being installed.
 * Returns a malloc'ed string, or NULL if /proc/self/exe cannot be read.
 */
static char *exe_plugin_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n;
	char *slash, *dir;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || (size_t)n >= sizeof(exe) - 1)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	if (asprintf(&dir, "%s/plugins", exe) < 0)
		return NULL;
	return dir;
}

/* The whole plugin search path, in the documented order. Returns NULL only when out of memory. */
static char *plugin_search_path(const char *opt_path)
{
	char *path = NULL, *exe_dir = exe_plugin_dir();
	int err;

	err = path_append(&path, opt_path);
	if (!err)
		err = path_append(&path, getenv("VMM_PLUGIN_PATH"));
	if (!err)
		err = path_append(&path, exe_dir);
	if (!err)
		err = path_append(&path, vmm_plugin_dir());
	free(exe_dir);
	if (err) {
		free(path);
		return NULL;
	}
	return path;
}

/* "64 MiB", "4 KiB", or bytes when the size is not a round multiple. */
static void format_size(char *buf, size_t len, uint64_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	unsigned u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && size >= 1024 && size % 1024 == 0) {
		size /= 1024;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", size, units[u]);
}

/*
 * The -v description of what the library does not log itself: memory and
 * vCPUs. The backend and why, each device window and the boot area come
 * from the library's info messages, once.
 */
static void report_layout(struct vmm_vm *vm)
{
	struct vmm_memslot_info slot = VMM_MEMSLOT_INFO_INIT;
	char size[32];
	int i, n;

	n = vmm_memslot_count(vm);
	for (i = 0; i < n; i++) {
		if (vmm_memslot_get(vm, i, &slot) < 0)
			continue;
		format_size(size, sizeof(size), slot.size);
		fprintf(stderr,
			"vmm-run: memslot '%s': gpa [0x%" PRIx64 ", 0x%" PRIx64
			") %s at hva %p%s\n",
			slot.name ? slot.name : "", slot.gpa, slot.gpa + slot.size, size, slot.hva,
			slot.flags & VMM_MEMSLOT_READONLY ? ", read-only" : "");
	}

	n = vmm_vcpu_count(vm);
	fprintf(stderr, "vmm-run: %d vcpu%s\n", n, n == 1 ? "" : "s");
}

static void report_stats(struct vmm_vm *vm, const struct vmm_exit *exit)
{
	struct vmm_vm_stats st = VMM_VM_STATS_INIT;

	fprintf(stderr, "vmm-run: exit: %s on vcpu %u", vmm_exit_reason_name(exit->reason),
		exit->vcpu);
	if (exit->reason == VMM_EXIT_STOPPED)
		fprintf(stderr, ", code %d", exit->exit_code);
	fputc('\n', stderr);
	if (vmm_vm_get_stats(vm, &st) == 0)
		fprintf(stderr,
			"vmm-run: exits %" PRIu64 " (mmio %" PRIu64 ", pio %" PRIu64
			"), unclaimed accesses %" PRIu64 "\n",
			st.exits, st.mmio_exits, st.pio_exits, st.unclaimed);
}

/* The register dump after a fault: enough to find the faulting instruction with objdump. */
static void dump_regs(const struct vmm_exit *exit)
{
	const struct vmm_regs *r = &exit->regs;
	const struct vmm_sregs *s = &exit->sregs;

	fprintf(stderr,
		"  rip    %016" PRIx64 "  rsp    %016" PRIx64 "  rflags %016" PRIx64 "\n"
		"  rax    %016" PRIx64 "  rbx    %016" PRIx64 "  rcx    %016" PRIx64 "\n"
		"  rdx    %016" PRIx64 "  rsi    %016" PRIx64 "  rdi    %016" PRIx64 "\n"
		"  rbp    %016" PRIx64 "  r8     %016" PRIx64 "  r9     %016" PRIx64 "\n"
		"  r10    %016" PRIx64 "  r11    %016" PRIx64 "  r12    %016" PRIx64 "\n"
		"  r13    %016" PRIx64 "  r14    %016" PRIx64 "  r15    %016" PRIx64 "\n"
		"  cr0    %016" PRIx64 "  cr2    %016" PRIx64 "  cr3    %016" PRIx64 "\n"
		"  cr4    %016" PRIx64 "  efer   %016" PRIx64 "\n"
		"  cs     %04x  ss     %04x\n",
		r->rip, r->rsp, r->rflags, r->rax, r->rbx, r->rcx, r->rdx, r->rsi, r->rdi, r->rbp,
		r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, s->cr0, s->cr2,
		s->cr3, s->cr4, s->efer, s->cs.selector, s->ss.selector);
	if (exit->address)
		fprintf(stderr, "  address %016" PRIx64 "\n", exit->address);
}

/*
 * --translate: the three tables of the address model, one row per GPA in
 * the order given. Addresses are padded to "0x" plus 16 digits, so the
 * columns line up whatever the values; rows that have no address in a
 * column print "-" and say why.
 */
#define XLATE_COL "%-18s  "

static void xlate_hpa_text(const struct vmm_translation *t, char *buf, size_t len)
{
	switch (t->hpa_status) {
	case VMM_HPA_OK:
		snprintf(buf, len, "0x%" PRIx64, t->hpa);
		break;
	case VMM_HPA_NOT_PRESENT:
		snprintf(buf, len, "not present (page not faulted in or swapped out)");
		break;
	default:
		/* EPERM: the file reads but the kernel hid the PFN; say what would show it. */
		snprintf(buf, len, "unavailable (/proc/self/pagemap: %s)",
			 t->hpa_error == EPERM ? "PFNs hidden, needs CAP_SYS_ADMIN"
			 : t->hpa_error	       ? strerror(t->hpa_error)
					       : "unknown error");
		break;
	}
}

/* Why a GPA has no HVA and no HPA. */
static void xlate_not_memory(const struct vmm_translation *t, char *buf, size_t len)
{
	if (t->kind == VMM_XLATE_DEVICE)
		snprintf(buf, len, "- (not memory: device %s)", t->device);
	else
		snprintf(buf, len, "- (not memory: unclaimed)");
}

static void print_translations(struct vmm_vm *vm, const uint64_t *gpas, size_t n)
{
	struct vmm_translation *t = calloc(n, sizeof(*t));
	char a[24], b[24], text[160];
	size_t i;

	if (!t) {
		fprintf(stderr, "vmm-run: --translate: out of memory\n");
		return;
	}
	for (i = 0; i < n; i++) {
		t[i].size = sizeof(t[i]);
		if (vmm_translate(vm, gpas[i], &t[i]) < 0) {
			/* Only a bad argument fails; report it rather than print a wrong row. */
			fprintf(stderr, "vmm-run: --translate: 0x%" PRIx64 ": %s\n", gpas[i],
				vmm_last_error());
			free(t);
			return;
		}
	}

	printf("%-20s%-20s%s\n", "GPA", "-> HVA", "(memslots)");
	for (i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "0x%" PRIx64, t[i].gpa);
		switch (t[i].kind) {
		case VMM_XLATE_RAM:
			snprintf(b, sizeof(b), "0x%" PRIxPTR, (uintptr_t)t[i].hva);
			printf(XLATE_COL XLATE_COL "memslot %s [0x%" PRIx64 ", 0x%" PRIx64 ")", a,
			       b, t[i].slot[0] ? t[i].slot : "(unnamed)", t[i].slot_gpa,
			       t[i].slot_gpa + t[i].slot_size);
			/* A read-only slot's writes exit: say where they go. */
			if (t[i].slot_flags & VMM_MEMSLOT_READONLY && t[i].device[0])
				printf(", read-only: writes go to device %s (%s)", t[i].device,
				       t[i].model);
			else if (t[i].slot_flags & VMM_MEMSLOT_READONLY)
				printf(", read-only: writes are unclaimed");
			printf("\n");
			break;
		case VMM_XLATE_DEVICE:
			printf(XLATE_COL "device %s (%s) mmio [0x%" PRIx64 ", 0x%" PRIx64 ")\n", a,
			       t[i].device, t[i].model, t[i].device_base,
			       t[i].device_base + t[i].device_length);
			break;
		default:
			printf(XLATE_COL "unclaimed (no memslot or device)\n", a);
			break;
		}
	}

	printf("%-20s%-20s%s\n", "HVA", "-> HPA", "(host page tables)");
	for (i = 0; i < n; i++) {
		if (t[i].kind == VMM_XLATE_RAM) {
			snprintf(a, sizeof(a), "0x%" PRIxPTR, (uintptr_t)t[i].hva);
			xlate_hpa_text(&t[i], text, sizeof(text));
		} else {
			snprintf(a, sizeof(a), "-");
			xlate_not_memory(&t[i], text, sizeof(text));
		}
		printf(XLATE_COL "%s\n", a, text);
	}

	printf("%-20s%s\n", "GPA", "-> HPA");
	for (i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "0x%" PRIx64, t[i].gpa);
		if (t[i].kind == VMM_XLATE_RAM)
			xlate_hpa_text(&t[i], text, sizeof(text));
		else
			xlate_not_memory(&t[i], text, sizeof(text));
		printf(XLATE_COL "%s\n", a, text);
	}
	free(t);
}

/* Only the signals vmm-run waits for can stop it. */
static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT:
		return "SIGINT";
	case SIGTERM:
		return "SIGTERM";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "a signal";
	}
}

/* Who stopped the VM, for the messages: a signal or the console's escape. */
static const char *stop_cause(int sig, bool escaped)
{
	return escaped ? "the escape (Ctrl-A x)" : signal_name(sig);
}

/*
 * SIGHUP was ignored when vmm-run started (nohup): a blocked signal stays
 * pending even when ignored, and sigwait() would take it, so leave it out.
 */
static bool hup_ignored;

/* The signals the signal thread waits for: SIGINT, SIGTERM and SIGHUP. */
static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	if (!hup_ignored)
		sigaddset(set, SIGHUP);
}

/* Sleeps until the deadline or until the run ends, whichever comes first. */
static void *timer_thread(void *arg)
{
	struct watch *w = arg;
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(w->timeout_ms / 1000);
	deadline.tv_nsec += (long)(w->timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	PT(pthread_mutex_lock(&w->lock));
	while (!w->done && rc != ETIMEDOUT) {
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
		if (rc != ETIMEDOUT)
			PT(rc);
	}
	if (!w->done && !w->signo) {
		w->timed_out = true;
		vmm_vm_stop(w->vm, EXIT_TIMEOUT);
	}
	PT(pthread_mutex_unlock(&w->lock));
	return NULL;
}

/*
 * Stop the VM for signal sig (escaped: for the console's Ctrl-A x, which
 * acts as SIGINT). Returns false once the run is over (done): nothing to stop.
 */
static bool request_stop(struct watch *w, int sig, bool escaped)
{
	PT(pthread_mutex_lock(&w->lock));
	if (w->done) {
		PT(pthread_mutex_unlock(&w->lock));
		return false;
	}
	if (!w->vm) {
		console_restore();
		fprintf(stderr, "vmm-run: %s while building the VM: exiting\n",
			stop_cause(sig, escaped));
		_exit(EXIT_SIGNAL_BASE + sig);
	}
	if (w->signo || w->timed_out) {
		PT(pthread_mutex_unlock(&w->lock));
		fflush(stdout);
		console_restore();
		fprintf(stderr, "vmm-run: %s while stopping: exiting without cleanup\n",
			stop_cause(sig, escaped));
		_exit(EXIT_SIGNAL_BASE + sig);
	}
	w->signo = sig;
	w->escaped = escaped;
	vmm_vm_stop(w->vm, EXIT_SIGNAL_BASE + sig);
	PT(pthread_mutex_unlock(&w->lock));
	return true;
}

/*
 * Takes SIGINT, SIGTERM and SIGHUP (a terminal that went away) for the
 * whole process: every thread blocks them, so a signal is never delivered
 * to a vCPU thread in the middle of guest entry. The first stops the VM
 * cleanly; a second one means the user gave up waiting, so leave at once.
 * It runs from before the VM is built: a device whose create() takes long
 * (or hangs) must not make vmm-run deaf, and with no guest running yet
 * there is nothing to stop cleanly.
 */
static void *signal_thread(void *arg)
{
	struct watch *w = arg;
	sigset_t set;
	int sig;

	stop_signals(&set);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (!request_stop(w, sig, false))
			return NULL;
	}
}

/* Ctrl-A x on the console, from its thread: as SIGINT, with a message of its own. */
static void escape_quit(void *opaque)
{
	request_stop(opaque, SIGINT, true);
}

/* Start the signal thread: without it SIGINT, SIGTERM and SIGHUP would never be seen. */
static bool start_signal_thread(struct watch *w, pthread_t *sigt)
{
	PT(pthread_create(sigt, NULL, signal_thread, w));
	return true;
}

/*
 * Nobody will stop the VM from now on: end the signal thread and give
 * SIGINT/SIGTERM/SIGHUP back their default action, so that a hang while
 * tearing the VM down (a device flushing its output, say) can still be
 * interrupted.
 */
static void stop_signal_thread(struct watch *w, pthread_t sigt, bool have_sigt)
{
	sigset_t set;

	PT(pthread_mutex_lock(&w->lock));
	w->done = true;
	PT(pthread_mutex_unlock(&w->lock));
	if (have_sigt) {
		/* Directed at that thread: the only one waiting for it, and it now sees done. */
		PT(pthread_kill(sigt, SIGTERM));
		PT(pthread_join(sigt, NULL));
	}
	stop_signals(&set);
	PT(pthread_sigmask(SIG_UNBLOCK, &set, NULL));
}

/* Run the VM with the timer thread watching it. Returns vmm_vm_run()'s result. */
static int run_watched(struct watch *w, struct vmm_exit *exit)
{
	pthread_condattr_t ca;
	pthread_t timer;
	bool have_timer = false;
	int ret;

	PT(pthread_condattr_init(&ca));
	PT(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	PT(pthread_cond_init(&w->cond, &ca));
	PT(pthread_condattr_destroy(&ca));

	/* A timeout that cannot be kept is an error, not a warning: the run could last forever. */
	if (w->timeout_ms) {
		PT(pthread_create(&timer, NULL, timer_thread, w));
		have_timer = true;
	}

	ret = vmm_vm_run(w->vm, exit);

	PT(pthread_mutex_lock(&w->lock));
	w->done = true;
	PT(pthread_cond_broadcast(&w->cond));
	PT(pthread_mutex_unlock(&w->lock));
	if (have_timer)
		PT(pthread_join(timer, NULL));
	PT(pthread_cond_destroy(&w->cond));
	return ret;
}

static void print_timeout(uint64_t ms)
{
	if (ms % 1000 == 0)
		fprintf(stderr, "vmm-run: timeout after %" PRIu64 " s\n", ms / 1000);
	else
		fprintf(stderr, "vmm-run: timeout after %" PRIu64 ".%03" PRIu64 " s\n", ms / 1000,
			ms % 1000);
}

/* Map the way the VM ended to vmm-run's exit status, explaining it on stderr. */
static int exit_status(const struct watch *w, int ret, const struct vmm_exit *exit)
{
	if (ret < 0 || exit->reason == VMM_EXIT_ERROR) {
		/* A failed run's last error is the whole detail; exit->detail keeps its start. */
		const char *why = ret < 0 && *vmm_last_error() ? vmm_last_error() : exit->detail;

		fprintf(stderr, "vmm-run: vmm error: %s\n",
			why && *why ? why : vmm_strerror(ret < 0 ? ret : -EIO));
		return EXIT_VMM_ERROR;
	}

	switch (exit->reason) {
	case VMM_EXIT_STOPPED:
		/* The flags, not the code, say who stopped it: the guest may pick 124 too. */
		if (w->timed_out && exit->exit_code == EXIT_TIMEOUT) {
			print_timeout(w->timeout_ms);
			return EXIT_TIMEOUT;
		}
		if (w->signo && exit->exit_code == EXIT_SIGNAL_BASE + w->signo) {
			if (w->escaped)
				fprintf(stderr, "vmm-run: quit by the escape (Ctrl-A x)\n");
			else
				fprintf(stderr, "vmm-run: stopped by %s\n", signal_name(w->signo));
			return EXIT_SIGNAL_BASE + w->signo;
		}
		/* Process exit statuses are 8 bits: 256 reads as 0, as it would from exit(3). */
		return exit->exit_code & 0xff;
	case VMM_EXIT_RESET:
		/* As QEMU's -no-reboot: a reboot ends the run, and it is how a Linux guest ends. */
		fprintf(stderr, "vmm-run: the guest asked for a reset (reboot): run ended\n");
		return 0;
	case VMM_EXIT_HLT:
		fprintf(stderr, "vmm-run: guest halted without an exit code\n");
		return EXIT_HALTED;
	case VMM_EXIT_SHUTDOWN:
	case VMM_EXIT_GUEST_FAULT:
	case VMM_EXIT_INTERNAL_ERROR:
	case VMM_EXIT_FAIL_ENTRY:
	case VMM_EXIT_UNCLAIMED:
		fprintf(stderr, "vmm-run: guest fault on vcpu %u: %s: %s\n", exit->vcpu,
			vmm_exit_reason_name(exit->reason),
			exit->detail[0] ? exit->detail : "no detail");
		dump_regs(exit);
		return EXIT_FAULT;
	default:
		fprintf(stderr, "vmm-run: vmm error: unexpected exit reason %d (%s)\n",
			exit->reason, vmm_exit_reason_name(exit->reason));
		return EXIT_VMM_ERROR;
	}
}

/* Parse the command line. Returns -1 to go on, else the status to exit with. */
static int parse_args(int argc, char **argv, struct cli_opts *o)
{
	enum {
		OPT_ACCEL = 256,
		OPT_TIMEOUT,
		OPT_PLUGIN_PATH,
		OPT_TRACE,
		OPT_TRANSLATE,
		OPT_KERNEL,
		OPT_INITRD,
		OPT_APPEND,
		OPT_VERSION
	};
	static const struct option longopts[] = {
	    {"accel", required_argument, NULL, OPT_ACCEL},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"plugin-path", required_argument, NULL, OPT_PLUGIN_PATH},
	    {"verbose", no_argument, NULL, 'v'},
	    {"trace", no_argument, NULL, OPT_TRACE},
	    {"translate", required_argument, NULL, OPT_TRANSLATE},
	    {"kernel", required_argument, NULL, OPT_KERNEL},
	    {"initrd", required_argument, NULL, OPT_INITRD},
	    {"append", required_argument, NULL, OPT_APPEND},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ACCEL:
			if (vmm_accel_parse(optarg, &o->accel) < 0) {
				fprintf(stderr, "vmm-run: --accel: %s\n", vmm_last_error());
				return EXIT_SETUP;
			}
			o->accel_set = true;
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, &o->timeout_ms) < 0) {
				fprintf(
				    stderr,
				    "vmm-run: --timeout: bad duration '%s' (0, N, Nms, Ns or Nm)\n",
				    optarg);
				return EXIT_SETUP;
			}
			o->timeout_set = true;
			break;
		case OPT_PLUGIN_PATH:
			if (path_append(&o->plugin_path, optarg) < 0) {
				fprintf(stderr, "vmm-run: out of memory\n");
				return EXIT_SETUP;
			}
			break;
		case 'v':
			o->verbose++;
			break;
		case OPT_TRACE:
			o->trace = true;
			break;
		case OPT_TRANSLATE: {
			int st = parse_translate(o, optarg);

			if (st >= 0)
				return st;
			break;
		}
		case OPT_KERNEL:
		case OPT_INITRD:
			/* As the config does for its paths: a typo stops the run before any VM. */
			if (!*optarg || access(optarg, R_OK)) {
				fprintf(stderr, "vmm-run: --%s: '%s': %s\n",
					c == OPT_KERNEL ? "kernel" : "initrd", optarg,
					*optarg ? strerror(errno) : "empty path");
				return EXIT_SETUP;
			}
			if (c == OPT_KERNEL)
				o->kernel = optarg;
			else
				o->initrd = optarg;
			break;
		case OPT_APPEND:
			o->append = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("vmm-run (libvmm) %s\n", vmm_version());
			return 0;
		default:
			/* getopt_long already said what was wrong. */
			fprintf(stderr, "Try 'vmm-run --help' for more information.\n");
			return EXIT_SETUP;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "vmm-run: %s\n",
			optind == argc ? "missing CONFIG.ini" : "only one CONFIG.ini may be given");
		fprintf(stderr, "Try 'vmm-run --help' for more information.\n");
		return EXIT_SETUP;
	}
	o->config_path = argv[optind];
	return -1;
}

/*
 * The -v line of plugin folders: each folder of the search path once, in
 * search order; one that does not exist is marked, since the search skips it.
 */
static void report_plugin_path(const char *search)
{
	const char *p = search, *end;

	fprintf(stderr, "vmm-run: plugin folders:");
	for (bool first = true; *p; p = *end ? end + 1 : end) {
		size_t len;
		struct stat st;
		char *dir;
		const char *q;
		bool seen = false;

		end = strchrnul(p, ':');
		len = (size_t)(end - p);
		/* Seen earlier in the path: the search never gets this far for it. */
		for (q = search; q < p && !seen; q = strchrnul(q, ':') + 1)
			seen = (size_t)(strchrnul(q, ':') - q) == len && !strncmp(q, p, len);
		if (!len || seen)
			continue;
		dir = strndup(p, len);
		if (!dir)
			break;
		fprintf(stderr, "%s '%s'%s", first ? "" : ",", dir,
			stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? "" : " (does not exist)");
		free(dir);
		first = false;
	}
	fputc('\n', stderr);
}

/* Replace *field (a string the config owns) with a copy of value. Returns -1 or EXIT_SETUP. */
static int override(char **field, const char *value)
{
	char *copy = strdup(value);

	if (!copy) {
		fprintf(stderr, "vmm-run: out of memory\n");
		return EXIT_SETUP;
	}
	free(*field);
	*field = copy;
	return -1;
}

/*
 * --kernel, --initrd and --append over [vm] kernel, initrd and cmdline; a
 * --kernel drops a firmware (the two exclude each other). The paths stay as
 * given: relative ones are from the current folder, as on any command line,
 * and vmm_vm_create_from_config() hands them to vmm_load_linux(). Returns -1
 * to go on, else the status to exit with.
 */
static int apply_linux_opts(const struct cli_opts *o, struct vmm_config *cfg)
{
	int st = -1;

	if (o->kernel) {
		if (cfg->firmware) {
			if (o->verbose)
				fprintf(
				    stderr,
				    "vmm-run: --kernel '%s' replaces the config's firmware '%s'\n",
				    o->kernel, cfg->firmware);
			free(cfg->firmware);
			cfg->firmware = NULL;
		}
		st = override(&cfg->kernel, o->kernel);
		cfg->kernel_line = 0;
	}
	if (st < 0 && o->initrd) {
		st = override(&cfg->initrd, o->initrd);
		cfg->initrd_line = 0;
	}
	if (st < 0 && o->append)
		st = override(&cfg->cmdline, o->append);
	if (st < 0 && !cfg->kernel && (o->initrd || o->append)) {
		fprintf(stderr,
			"vmm-run: --%s: no kernel to give it to (--kernel or [vm] kernel)\n",
			o->initrd ? "initrd" : "append");
		st = EXIT_SETUP;
	}
	return st;
}

/* Build the VM from the config; on failure say why and return the exit status. */
static int create_vm(const struct cli_opts *o, struct vmm_config *cfg, struct vmm_vm **vm)
{
	struct vmm_vm_options opts;
	const char *why;
	char *search, *where;
	int ret;

	search = plugin_search_path(o->plugin_path);
	if (!search) {
		fprintf(stderr, "vmm-run: out of memory\n");
		return EXIT_SETUP;
	}
	if (o->verbose)
		report_plugin_path(search);

	vmm_vm_options_init(&opts);
	/* create_from_config() lets opts->accel win only when it is not auto, so
	 * an explicit --accel=auto has to reach it through the config itself. */
	if (o->accel_set)
		cfg->accel = o->accel;
	opts.accel = cfg->accel;
	opts.unclaimed = cfg->unclaimed;
	opts.log = cli_log;
	opts.log_opaque = NULL;
	if (o->trace)
		opts.log_level = VMM_LOG_TRACE;
	else if (o->verbose > 1)
		opts.log_level = VMM_LOG_DEBUG;
	else if (o->verbose)
		opts.log_level = VMM_LOG_INFO;
	else
		opts.log_level = VMM_LOG_WARN;

	ret = vmm_vm_create_from_config(cfg, &opts, search, vm);
	free(search);
	if (ret == 0)
		return -1;

	/* A backend this host cannot run: the library says why and what to try. */
	why = *vmm_last_error() ? vmm_last_error() : vmm_strerror(ret);
	/*
	 * A --kernel is not in the file: the location the library puts in front
	 * of the loader's words ("FILE: kernel: ", line 0) would point at the
	 * config for nothing. The loader's own words name the file.
	 */
	if (o->kernel && asprintf(&where, "%s: kernel: ", cfg->path) >= 0) {
		if (!strncmp(why, where, strlen(where)))
			why += strlen(where);
		free(where);
	}
	fprintf(stderr, "vmm-run: %s\n", why);
	return EXIT_SETUP;
}

int main(int argc, char **argv)
{
	struct cli_opts o = {.accel = VMM_ACCEL_AUTO};
	struct watch w = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct vmm_config *cfg = NULL;
	struct vmm_vm *vm = NULL;
	struct vmm_exit exit_info = VMM_EXIT_INIT;
	pthread_t sigt;
	bool have_sigt = false;
	sigset_t set;
	int ret, status;

	/*
	 * Before any thread exists (the library's vCPU threads included), so
	 * that every thread inherits the mask and only signal_thread() ever
	 * sees SIGINT/SIGTERM/SIGHUP.
	 */
	{
		struct sigaction hup;

		hup_ignored = sigaction(SIGHUP, NULL, &hup) == 0 && hup.sa_handler == SIG_IGN;
	}
	stop_signals(&set);
	PT(pthread_sigmask(SIG_BLOCK, &set, NULL));
	/*
	 * A device writing to a closed pipe (vmm-run ... | head) must get EPIPE,
	 * not kill the VMM before it reports and cleans up; plugins may not
	 * change signal dispositions themselves.
	 */
	signal(SIGPIPE, SIG_IGN);

	status = parse_args(argc, argv, &o);
	if (status >= 0)
		goto out;
	have_sigt = start_signal_thread(&w, &sigt);

	ret = vmm_config_load(o.config_path, &cfg);
	if (ret < 0) {
		const char *why = vmm_last_error();

		if (*why)
			fprintf(stderr, "vmm-run: %s\n", why);
		else
			fprintf(stderr, "vmm-run: %s: %s\n", o.config_path, vmm_strerror(ret));
		status = EXIT_SETUP;
		goto out;
	}
	status = apply_linux_opts(&o, cfg);
	if (status >= 0)
		goto out;
	/*
	 * The library leaves firmware optional (an embedder may load code
	 * itself); vmm-run has nothing else to boot but a kernel. Point at the
	 * [vm] header, or at line 1 when there is none: that is where one would go.
	 */
	if (!cfg->firmware && !cfg->kernel) {
		if (cfg->vm_line)
			fprintf(stderr,
				"vmm-run: %s:%u: vm lacks the required key 'firmware' (or "
				"'kernel')\n",
				o.config_path, cfg->vm_line);
		else
			fprintf(stderr,
				"vmm-run: %s:1: no vm section: vmm-run needs [vm] with the key "
				"'firmware' (or 'kernel')\n",
				o.config_path);
		status = EXIT_SETUP;
		goto out;
	}
	if (o.timeout_set)
		cfg->timeout_ms = o.timeout_ms;

	/* Before the devices exist: the one reading stdin must find the console's pipe there. */
	if (console_wanted(cfg)) {
		ret = console_start(escape_quit, &w);
		if (ret < 0) {
			status = EXIT_SETUP;
			goto out;
		}
		if (ret > 0 && o.verbose)
			fprintf(stderr, "vmm-run: console: the terminal is the guest's (raw); "
					"Ctrl-A x quits, Ctrl-A h lists the keys\n");
	}
	status = create_vm(&o, cfg, &vm);
	if (status >= 0)
		goto out;
	PT(pthread_mutex_lock(&w.lock));
	w.vm = vm;
	PT(pthread_mutex_unlock(&w.lock));

	if (o.verbose)
		report_layout(vm);

	w.timeout_ms = cfg->timeout_ms;
	ret = run_watched(&w, &exit_info);
	/* The terminal back first: what follows is vmm-run's own output. */
	console_end();
	stop_signal_thread(&w, sigt, have_sigt);
	have_sigt = false;
	/* Guest output first, so a terminal shows it before the verdict. */
	fflush(stdout);
	/* However the guest stopped: its memory is still mapped until destroy. */
	if (o.ntranslate) {
		print_translations(vm, o.translate, o.ntranslate);
		fflush(stdout);
	}

	status = exit_status(&w, ret, &exit_info);
	if (o.verbose)
		report_stats(vm, &exit_info);

out:
	console_end();
	if (have_sigt)
		stop_signal_thread(&w, sigt, have_sigt);
	vmm_vm_destroy(vm);
	console_close();
	vmm_config_free(cfg);
	free(o.plugin_path);
	free(o.translate);
	if (fflush(stdout) != 0) {
		/* Lost guest output is a failure, not a success. */
		fprintf(stderr, "vmm-run: standard output: %s\n", strerror(errno));
		if (status == 0)
			status = EXIT_VMM_ERROR;
	}
	return status;
}
