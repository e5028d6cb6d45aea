/* SPDX-License-Identifier: MIT */
/* bench.c - `make bench`: options, counters, interleaved sampling, the table and JSON. */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#ifndef BUILD_DIR
#error "the Makefile passes -DBUILD_DIR=\"/abs/build\""
#endif

struct bench_opts bench_opts = {
    .plugin = BUILD_DIR "/tests/bench/nulldev.so",
};

/* ---- counters ---- */

/*
 * Cycles and instructions from perf_event_open() count only if they include
 * the kernel: a KVM exit is spent mostly there (and in the guest), and a
 * user-only count would leave it out. Otherwise CLOCK_MONOTONIC.
 */
static struct {
	int cycles_fd, insns_fd;
	char name[200];
} meter = {-1, -1, ""};

static int perf_open(uint64_t config)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_HARDWARE;
	a.config = config;
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void meter_init(void)
{
	int err;

	meter.cycles_fd = perf_open(PERF_COUNT_HW_CPU_CYCLES);
	err = errno;
	if (meter.cycles_fd >= 0) {
		meter.insns_fd = perf_open(PERF_COUNT_HW_INSTRUCTIONS);
		snprintf(meter.name, sizeof(meter.name),
			 "perf_event_open: cycles (user, kernel and guest)%s;"
			 " times from CLOCK_MONOTONIC",
			 meter.insns_fd >= 0 ? " and instructions" : "");
		return;
	}
	snprintf(meter.name, sizeof(meter.name),
		 "clock_gettime(CLOCK_MONOTONIC) (perf_event_open cycles with the kernel: %s%s)",
		 strerror(err),
		 err == EACCES || err == EPERM ? ", see /proc/sys/kernel/perf_event_paranoid"
		 : err == ENOENT	       ? ", no hardware counters here"
					       : "");
}

const char *bench_counter_name(void)
{
	return meter.name;
}

bool bench_have_cycles(void)
{
	return meter.cycles_fd >= 0;
}

struct mark {
	uint64_t ns, cycles;
};

static void mark(struct mark *m)
{
	struct timespec ts;

	m->cycles = 0;
	if (meter.cycles_fd >= 0 && read(meter.cycles_fd, &m->cycles, sizeof(m->cycles)) != 8)
		m->cycles = 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m->ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- rows' bookkeeping ---- */

static char sample_err[256];

long bench_sample_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sample_err, sizeof(sample_err), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -EIO;
}

static void vappend(char *buf, size_t len, const char *fmt, va_list ap)
{
	size_t n = strlen(buf);

	if (n + 1 < len)
		vsnprintf(buf + n, len - n, fmt, ap);
}

int bench_fail(struct bench_row *row, const char *fmt, ...)
{
	va_list ap;

	row->status = BENCH_ERROR;
	row->reason[0] = 0;
	va_start(ap, fmt);
	vappend(row->reason, sizeof(row->reason), fmt, ap);
	va_end(ap);
	return -1;
}

void bench_skip(struct bench_row *row, const char *fmt, ...)
{
	va_list ap;

	row->status = BENCH_SKIPPED;
	row->reason[0] = 0;
	va_start(ap, fmt);
	vappend(row->reason, sizeof(row->reason), fmt, ap);
	va_end(ap);
}

void bench_note(struct bench_row *row, const char *fmt, ...)
{
	va_list ap;

	if (row->note[0])
		strncat(row->note, " ", sizeof(row->note) - strlen(row->note) - 1);
	va_start(ap, fmt);
	vappend(row->note, sizeof(row->note), fmt, ap);
	va_end(ap);
}

const char *bench_kvm_missing(void)
{
	static char why[256];

	return vmm_accel_probe(VMM_ACCEL_KVM, why, sizeof(why)) == 0 ? NULL : why;
}

uint64_t bench_rss(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

unsigned bench_samples(unsigned full)
{
	if (bench_opts.samples)
		return bench_opts.samples;
	return bench_opts.quick ? 3 : full;
}

/* ---- sampling ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of sorted v[0..n) with linear interpolation between ranks. */
static double quantile(const double *v, unsigned n, double q)
{
	double pos = q * (n - 1);
	unsigned i = (unsigned)pos;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

static struct bench_stats summarize(double *v, unsigned n)
{
	struct bench_stats s = {0};

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), cmp_double);
	s.median = quantile(v, n, 0.5);
	s.p10 = quantile(v, n, 0.1);
	s.p99 = quantile(v, n, 0.99);
	s.valid = true;
	return s;
}

/* One timed sample: per-operation ns and cycles. */
static long take(bench_sample_fn fn, void *ctx, double *ns, double *cycles)
{
	struct mark m0, m1;
	long ops;

	mark(&m0);
	ops = fn(ctx);
	mark(&m1);
	if (ops <= 0)
		return ops < 0 ? ops : bench_sample_error(-EIO, "a sample did nothing");
	*ns = (double)(m1.ns - m0.ns) / (double)ops;
	*cycles = (double)(m1.cycles - m0.cycles) / (double)ops;
	return ops;
}

int bench_compare(struct bench_row *row, unsigned samples, bench_sample_fn a, void *actx,
		  bench_sample_fn b, void *bctx)
{
	double *v = calloc(4 * (size_t)samples, sizeof(double));
	double *a_ns = v, *a_cy = v + samples, *b_ns = v + 2 * samples, *b_cy = v + 3 * samples;
	struct {
		bench_sample_fn fn;
		void *ctx;
		double *ns, *cycles;
	} side[2] = {{a, actx, a_ns, a_cy}, {b, bctx, b_ns, b_cy}};
	double scratch_ns, scratch_cy;
	long ops = 0;
	int ret = 0;

	if (!v)
		return bench_fail(row, "out of memory");
	sample_err[0] = 0;
	/* Warm-up: code translated or faulted in, caches and branch predictors filled. */
	for (int k = 0; k < 2; k++)
		if ((ops = take(side[k].fn, side[k].ctx, &scratch_ns, &scratch_cy)) < 0)
			goto err;
	/* A B, then B A: neither side always runs right after the other. */
	for (unsigned i = 0; i < samples; i++) {
		for (unsigned k = 0; k < 2; k++) {
			unsigned s = (i & 1) ^ k;

			ops = take(side[s].fn, side[s].ctx, &side[s].ns[i], &side[s].cycles[i]);
			if (ops < 0)
				goto err;
			if (s == 0)
				row->ops = (unsigned long)ops;
		}
	}
	row->samples = samples;
	row->a_ns = summarize(a_ns, samples);
	row->b_ns = summarize(b_ns, samples);
	if (bench_have_cycles()) {
		row->a = summarize(a_cy, samples);
		row->b = summarize(b_cy, samples);
	} else {
		row->a = row->a_ns;
		row->b = row->b_ns;
	}
	if (row->a.median > 0 && row->b.median > 0)
		row->ratio =
		    row->throughput ? row->b.median / row->a.median : row->a.median / row->b.median;
	row->status = BENCH_RAN;
	free(v);
	return 0;
err:
	ret = bench_fail(row, "%s", sample_err[0] ? sample_err : strerror((int)-ops));
	free(v);
	return ret;
}

/* ---- output ---- */

static bool row_met(const struct bench_row *r)
{
	if (r->max_ratio > 0 && !(r->ratio > 0 && r->ratio <= r->max_ratio))
		return false;
	if (r->min_ratio > 0 && !(r->ratio >= r->min_ratio))
		return false;
	if (r->max_abs > 0 && !(r->a_ns.valid && r->a_ns.median <= r->max_abs))
		return false;
	return true;
}

static bool row_has_target(const struct bench_row *r)
{
	return r->max_ratio > 0 || r->min_ratio > 0 || r->max_abs > 0;
}

static const char *row_result(const struct bench_row *r)
{
	if (r->status != BENCH_RAN)
		return r->status == BENCH_SKIPPED ? "skipped" : "ERROR";
	if (bench_opts.quick)
		return "ran"; /* a smoke test's figures judge nothing */
	if (!row_has_target(r))
		return "-";
	return row_met(r) ? "met" : "MISSED";
}

static const char *row_unit(const struct bench_row *r, char *buf, size_t len)
{
	const char *slash = strchr(r->unit, '/');

	if (bench_have_cycles() && !strncmp(r->unit, "ns/", 3) && slash) {
		snprintf(buf, len, "cycles%s", slash);
		return buf;
	}
	return r->unit;
}

static void fmt_num(char *buf, size_t len, const struct bench_stats *s, double v)
{
	if (!s->valid || isnan(v))
		snprintf(buf, len, "-");
	else if (v >= 100000)
		snprintf(buf, len, "%.0f", v);
	else if (v >= 100)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

static void iterations(const struct bench_row *r, char *buf, size_t len)
{
	if (r->iterations[0] || r->status != BENCH_RAN)
		snprintf(buf, len, "%s", r->iterations);
	else
		snprintf(buf, len, "%u x %lu", r->samples, r->ops);
}

#define TABLE_HEAD                                                                                 \
	"| figure | accel | unit | libvmm median | p10 | p99 | baseline median | p10 | p99 "       \
	"| ratio | target | iterations | result |\n"                                               \
	"|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|---|\n"

static void print_row(FILE *f, const struct bench_row *r)
{
	char u[32], v[6][24], it[48], ratio[24];
	const struct bench_stats *s[6] = {&r->a, &r->a, &r->a, &r->b, &r->b, &r->b};

	if (r->status != BENCH_RAN) {
		fprintf(f, "| %s | %s | %s: %s | | | | | | | | %s | | %s |\n", r->figure, r->accel,
			r->status == BENCH_SKIPPED ? "skipped" : "error", r->reason, r->target,
			row_result(r));
		return;
	}
	for (int i = 0; i < 6; i++)
		fmt_num(v[i], sizeof(v[i]), s[i],
			i % 3 == 0   ? s[i]->median
			: i % 3 == 1 ? s[i]->p10
				     : s[i]->p99);
	if (r->ratio > 0)
		snprintf(ratio, sizeof(ratio), "%.3fx", r->ratio);
	else
		snprintf(ratio, sizeof(ratio), "-");
	iterations(r, it, sizeof(it));
	fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		r->figure, r->accel, row_unit(r, u, sizeof(u)), v[0], v[1], v[2], v[3], v[4], v[5],
		ratio, r->target, it, row_result(r));
	fflush(f);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_num(FILE *f, const char *name, double v)
{
	if (isnan(v))
		fprintf(f, "\"%s\": null", name);
	else
		fprintf(f, "\"%s\": %.6g", name, v);
}

static void json_stats(FILE *f, const char *name, const struct bench_stats *s)
{
	fprintf(f, "\"%s\": ", name);
	if (!s->valid) {
		fprintf(f, "null");
		return;
	}
	fprintf(f, "{");
	json_num(f, "median", s->median);
	fprintf(f, ", ");
	json_num(f, "p10", s->p10);
	fprintf(f, ", ");
	json_num(f, "p99", s->p99);
	fprintf(f, "}");
}

static char machine[512];

/* The 1-minute load average: other work on the host makes the figures noisy. */
static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static void describe_machine(void)
{
	char cpu[160] = "unknown CPU", line[256];
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");
	char kvm[120], emu[120];

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(cpu, sizeof(cpu), "%s", c + 2);
			cpu[strcspn(cpu, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	uname(&u);
	vmm_accel_probe(VMM_ACCEL_KVM, kvm, sizeof(kvm));
	vmm_accel_probe(VMM_ACCEL_EMU, emu, sizeof(emu));
	snprintf(machine, sizeof(machine), "%s %s %s, %ld CPUs (%s), %s; libvmm %s, emu: %s",
		 u.sysname, u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN), cpu, kvm,
		 vmm_version(), emu);
}

static double load_before, load_after;

static int write_json(const char *path, struct bench_row *rows, size_t n, const char *bootcheck)
{
	FILE *f = fopen(path, "w");
	char u[32], it[48];

	if (!f) {
		fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"machine\": ");
	json_str(f, machine);
	fprintf(f, ",\n  \"counter\": ");
	json_str(f, bench_counter_name());
	fprintf(f, ",\n  \"boot_state_check\": ");
	json_str(f, bootcheck);
	fprintf(f, ",\n  \"load_average\": {\"start\": %.2f, \"end\": %.2f}", load_before,
		load_after);
	fprintf(f, ",\n  \"quick\": %s,\n  \"rows\": [", bench_opts.quick ? "true" : "false");
	for (size_t i = 0; i < n; i++) {
		const struct bench_row *r = &rows[i];

		fprintf(f, "%s\n    {\"id\": ", i ? "," : "");
		json_str(f, r->id);
		fprintf(f, ", \"figure\": ");
		json_str(f, r->figure);
		fprintf(f, ", \"accel\": ");
		json_str(f, r->accel);
		fprintf(f, ", \"status\": \"%s\", \"reason\": ",
			r->status == BENCH_RAN	     ? "ran"
			: r->status == BENCH_SKIPPED ? "skipped"
						     : "error");
		json_str(f, r->reason);
		fprintf(f, ", \"unit\": ");
		json_str(f, row_unit(r, u, sizeof(u)));
		fprintf(f, ", ");
		json_stats(f, "libvmm", &r->a);
		fprintf(f, ", ");
		json_stats(f, "baseline", &r->b);
		if (bench_have_cycles() && !strncmp(r->unit, "ns/", 3)) {
			fprintf(f, ", ");
			json_stats(f, "libvmm_ns", &r->a_ns);
			fprintf(f, ", ");
			json_stats(f, "baseline_ns", &r->b_ns);
		}
		if (r->ratio > 0)
			fprintf(f, ", \"ratio\": %.6g", r->ratio);
		else
			fprintf(f, ", \"ratio\": null");
		fprintf(f, ", \"target\": ");
		json_str(f, r->target);
		iterations(r, it, sizeof(it));
		fprintf(f,
			", \"samples\": %u, \"ops_per_sample\": %lu, \"iterations\": ", r->samples,
			r->ops);
		json_str(f, it);
		fprintf(f, ", \"result\": ");
		json_str(f, row_result(r));
		fprintf(f, ", \"note\": ");
		json_str(f, r->note);
		fprintf(f, "}");
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- the rows, in the order ---- */

static void row_dispatch_kvm(struct bench_row *r)
{
	bench_row_dispatch(r, VMM_ACCEL_KVM);
}

static void row_dispatch_emu(struct bench_row *r)
{
	bench_row_dispatch(r, VMM_ACCEL_EMU);
}

static void row_memory_kvm(struct bench_row *r)
{
	bench_row_memory(r, VMM_ACCEL_KVM);
}

static void row_memory_emu(struct bench_row *r)
{
	bench_row_memory(r, VMM_ACCEL_EMU);
}

static const struct {
	struct bench_row row;
	void (*run)(struct bench_row *row);
} table[] = {
    {{.id = "mmio-kvm",
      .figure = "MMIO exit round trip",
      .accel = "kvm",
      .unit = "ns/exit",
      .target = "<= 1.05x",
      .max_ratio = 1.05},
     bench_row_mmio_kvm},
    {{.id = "pio-kvm",
      .figure = "PIO exit round trip",
      .accel = "kvm",
      .unit = "ns/exit",
      .target = "<= 1.05x",
      .max_ratio = 1.05},
     bench_row_pio_kvm},
    {{.id = "mmio-emu",
      .figure = "MMIO exit round trip",
      .accel = "emu",
      .unit = "ns/exit",
      .target = "<= 1.5x",
      .max_ratio = 1.5},
     bench_row_mmio_emu},
    {{.id = "mmio8-emu",
      .figure = "MMIO exit round trip, device taking 8-byte accesses",
      .accel = "emu",
      .unit = "ns/exit",
      .target = "report"},
     bench_row_mmio8_emu},
    {{.id = "pio-emu",
      .figure = "PIO exit round trip",
      .accel = "emu",
      .unit = "ns/exit",
      .target = "report"},
     bench_row_pio_emu},
    {{.id = "dispatch-kvm",
      .figure = "dispatch scaling",
      .accel = "kvm",
      .unit = "ns/exit",
      .target = "<= 1.1x",
      .max_ratio = 1.1},
     row_dispatch_kvm},
    {{.id = "dispatch-emu",
      .figure = "dispatch scaling",
      .accel = "emu",
      .unit = "ns/exit",
      .target = "<= 1.1x",
      .max_ratio = 1.1},
     row_dispatch_emu},
    {{.id = "msi-kvm",
      .figure = "interrupt latency: vmm_msi_send() to the handler",
      .accel = "kvm",
      .unit = "ns/irq",
      .target = "report"},
     bench_row_msi_kvm},
    {{.id = "irqline-kvm",
      .figure = "interrupt latency: vmm_irq_set() edge to the handler",
      .accel = "kvm",
      .unit = "ns/irq",
      .target = "report"},
     bench_row_irqline_kvm},
    {{.id = "lifecycle-kvm",
      .figure = "VM lifecycle",
      .accel = "kvm",
      .unit = "ns/VM",
      .target = "<= 1.2x, <= 1 ms",
      .max_ratio = 1.2,
      .max_abs = 1e6},
     bench_row_lifecycle_kvm},
    {{.id = "lifecycle-emu",
      .figure = "VM lifecycle",
      .accel = "emu",
      .unit = "ns/VM",
      .target = "report"},
     bench_row_lifecycle_emu},
    {{.id = "compute-emu",
      .figure = "guest compute",
      .accel = "emu",
      .unit = "ns/iter",
      .target = ">= 0.9x throughput",
      .min_ratio = 0.9,
      .throughput = true},
     bench_row_compute_emu},
    {{.id = "compute8-emu",
      .figure = "guest compute, device taking 8-byte accesses",
      .accel = "emu",
      .unit = "ns/iter",
      .target = "report",
      .throughput = true},
     bench_row_compute8_emu},
    {{.id = "layout-emu",
      .figure = "layout change with a vCPU: window add and remove",
      .accel = "emu",
      .unit = "ns/change",
      .target = "report"},
     bench_row_layout_emu},
    {{.id = "msi-emu",
      .figure = "MSI to the guest's handler",
      .accel = "emu",
      .unit = "ns/irq",
      .target = "report"},
     bench_row_msi_emu},
    {{.id = "timer-emu",
      .figure = "LAPIC timer interrupts",
      .accel = "emu",
      .unit = "ns/irq",
      .target = "report",
      .throughput = true},
     bench_row_timer_emu},
    {{.id = "memory-kvm",
      .figure = "memory per VM",
      .accel = "kvm",
      .unit = "KiB/VM",
      .target = "<= 1024 KiB/VM",
      .max_abs = 1024},
     row_memory_kvm},
    {{.id = "memory-emu",
      .figure = "memory per VM",
      .accel = "emu",
      .unit = "KiB/VM",
      .target = "report"},
     row_memory_emu},
};
#define NROWS (sizeof(table) / sizeof(table[0]))

static bool selected(const char *id)
{
	const char *p = bench_opts.only;

	if (!p)
		return true;
	while (*p) {
		size_t n = strcspn(p, ",");
		char word[64];

		if (n && n < sizeof(word)) {
			memcpy(word, p, n);
			word[n] = 0;
			if (strstr(id, word))
				return true;
		}
		p += n + (p[n] == ',');
	}
	return false;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bench [--quick] [--json FILE] [--only WORDS] [--samples N] [--plugin P]\n"
		"  --quick       a few short samples per row: checks that every row runs\n"
		"  --json FILE   also write the results as JSON\n"
		"  --only WORDS  rows whose id contains a word: mmio, pio, dispatch, lifecycle,\n"
		"                compute, memory, kvm, emu (e.g. --only mmio-emu,memory)\n"
		"  --samples N   samples per side of each row (more: steadier figures, or a\n"
		"                profile of the steady state with perf record or callgrind)\n"
		"  --plugin P    the no-op device plugin [%s]\n"
		"Rows (id: figure):\n",
		bench_opts.plugin);
	for (size_t i = 0; i < NROWS; i++)
		fprintf(f, "  %-18s %s (%s), target %s\n", table[i].row.id, table[i].row.figure,
			table[i].row.accel, table[i].row.target);
}

int main(int argc, char **argv)
{
	static struct bench_row rows[NROWS];
	char bootcheck[200];
	size_t n = 0;
	int status = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick")) {
			bench_opts.quick = true;
		} else if (!strcmp(a, "--json") && i + 1 < argc) {
			bench_opts.json = argv[++i];
		} else if (!strcmp(a, "--only") && i + 1 < argc) {
			bench_opts.only = argv[++i];
		} else if (!strcmp(a, "--samples") && i + 1 < argc) {
			bench_opts.samples = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(a, "--plugin") && i + 1 < argc) {
			bench_opts.plugin = argv[++i];
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "bench: unknown or incomplete option '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	for (size_t i = 0; i < NROWS; i++)
		n += selected(table[i].row.id);
	if (!n) {
		fprintf(stderr, "bench: --only '%s' matches no row\n", bench_opts.only);
		return 2;
	}
	n = 0;
	/* The twin that takes 8-byte accesses lives beside it. */
	{
		const char *slash = strrchr(bench_opts.plugin, '/');
		int dir = slash ? (int)(slash - bench_opts.plugin + 1) : 0;

		snprintf(bench_opts.plugin8, sizeof(bench_opts.plugin8), "%.*snulldev8.so", dir,
			 bench_opts.plugin);
	}
	for (const char *p = bench_opts.plugin; p;
	     p = p == bench_opts.plugin8 ? NULL : bench_opts.plugin8) {
		if (access(p, R_OK) != 0) {
			fprintf(stderr, "bench: the no-op plugin %s: %s (build it with make)\n", p,
				strerror(errno));
			return 2;
		}
	}

	meter_init();
	describe_machine();
	printf("libvmm bench%s: %s\n",
	       bench_opts.quick ? " (quick: smoke test, figures mean nothing)" : "", machine);
	printf("counter: %s\n", bench_counter_name());
	load_before = loadavg();
	printf("load average at start: %.2f (above 0: other work shares the CPUs, figures are "
	       "noisier)\n",
	       load_before);
	/* The check builds an emu VM. */
	if (vmm_accel_probe(VMM_ACCEL_EMU, bootcheck, sizeof(bootcheck)) < 0) {
		printf("baseline boot state: not checked: %s\n", bootcheck);
	} else if (bench_boot_check(bootcheck, sizeof(bootcheck)) < 0) {
		printf("baseline boot state: DIFFERS from vmm_boot_setup(): %s\n", bootcheck);
		status = 1;
	} else {
		printf("baseline boot state: %s\n", bootcheck);
	}
	printf("ratio = libvmm median / baseline median (throughput rows: baseline time /\n"
	       "libvmm time); per-operation figures from samples alternating the two sides.\n\n");
	printf(TABLE_HEAD);
	fflush(stdout);

	for (size_t i = 0; i < NROWS; i++) {
		struct bench_row *r = &rows[n];
		enum vmm_accel accel;
		char why[256];

		if (!selected(table[i].row.id))
			continue;
		*r = table[i].row;
		/* A row whose backend this build or host lacks says why (bench.h, BENCH_SKIPPED).
		 */
		if (vmm_accel_parse(r->accel, &accel) == 0 &&
		    vmm_accel_probe(accel, why, sizeof(why)) < 0)
			bench_skip(r, "%s", why);
		else
			table[i].run(r);
		if (r->status == BENCH_ERROR)
			status = 1;
		print_row(stdout, r);
		n++;
	}
	load_after = loadavg();
	printf("\nload average at end: %.2f (this run adds about 1)\n", load_after);
	for (size_t i = 0; i < n; i++)
		if (rows[i].note[0])
			printf("%s (%s): %s\n", rows[i].figure, rows[i].accel, rows[i].note);
	if (bench_opts.json && write_json(bench_opts.json, rows, n, bootcheck) < 0)
		status = 1;
	return status;
}
