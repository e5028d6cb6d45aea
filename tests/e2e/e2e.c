/* SPDX-License-Identifier: MIT */
/* e2e.c - end-to-end test helpers: run and capture a program, write tiny guests and configs. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "e2e.h"
#include "vmm/vmm.h"

/*
 * Strings handed out by the helpers. Each Criterion test runs in its own
 * process, so one list per process is one list per test.
 */
static char *slurp(int fd);
static const char *next_line(const char *text, const char *prefix);

static char **owned;
static size_t nowned;
static char *tmpdir;

static const char *keep(char *s)
{
	char **n;

	cr_assert_not_null(s, "out of memory");
	n = realloc(owned, (nowned + 1) * sizeof(*owned));
	cr_assert_not_null(n, "out of memory");
	owned = n;
	owned[nowned++] = s;
	return s;
}

const char *e2e_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0, "out of memory");
	return keep(s);
}

const char *e2e_tmpdir(void)
{
	char tmpl[] = "/tmp/vmm-e2e-XXXXXX";

	if (!tmpdir) {
		cr_assert_not_null(mkdtemp(tmpl), "mkdtemp: %s", strerror(errno));
		tmpdir = strdup(tmpl);
		cr_assert_not_null(tmpdir, "out of memory");
	}
	return tmpdir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void e2e_cleanup(void)
{
	size_t i;

	if (tmpdir) {
		nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		free(tmpdir);
		tmpdir = NULL;
	}
	for (i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	owned = NULL;
	nowned = 0;
}

static void write_all(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = buf;

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		cr_assert(n > 0, "%s: write: %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	cr_assert(close(fd) == 0, "%s: close: %s", path, strerror(errno));
}

const char *e2e_write_file(const char *name, const char *fmt, ...)
{
	const char *path = e2e_strf("%s/%s", e2e_tmpdir(), name);
	va_list ap;
	char *text;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0, "out of memory");
	keep(text);
	write_all(path, text, (size_t)n, 0644);
	return path;
}

/*
 * The smallest executable a loader should accept: the ELF header, one
 * program header and the code, all in one PT_LOAD segment that starts at
 * file offset 0 (as ld lays out small static binaries), so the code sits
 * right after the headers and the entry point is E2E_GUEST_BASE plus their size.
 */
const char *e2e_write_elf(const char *name, const uint8_t *code, size_t len)
{
	const char *path = e2e_strf("%s/%s", e2e_tmpdir(), name);
	const size_t hdrs = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
	Elf64_Ehdr eh = {
	    .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT,
			ELFOSABI_SYSV},
	    .e_type = ET_EXEC,
	    .e_machine = EM_X86_64,
	    .e_version = EV_CURRENT,
	    .e_entry = E2E_GUEST_BASE + hdrs,
	    .e_phoff = sizeof(Elf64_Ehdr),
	    .e_ehsize = sizeof(Elf64_Ehdr),
	    .e_phentsize = sizeof(Elf64_Phdr),
	    .e_phnum = 1,
	    .e_shentsize = sizeof(Elf64_Shdr),
	};
	Elf64_Phdr ph = {
	    .p_type = PT_LOAD,
	    .p_flags = PF_R | PF_X,
	    .p_offset = 0,
	    .p_vaddr = E2E_GUEST_BASE,
	    .p_paddr = E2E_GUEST_BASE,
	    .p_filesz = hdrs + len,
	    .p_memsz = hdrs + len,
	    .p_align = 0x1000,
	};
	uint8_t *image = malloc(hdrs + len);

	cr_assert_not_null(image, "out of memory");
	memcpy(image, &eh, sizeof(eh));
	memcpy(image + sizeof(eh), &ph, sizeof(ph));
	memcpy(image + hdrs, code, len);
	write_all(path, image, hdrs + len, 0755);
	free(image);
	return path;
}

const char *e2e_guest_config(const char *name, const char *firmware, const char *accel,
			     const char *timeout, const char *extra)
{
	return e2e_write_file(name,
			      "; written by the e2e tests\n"
			      "[vm]\n"
			      "accel = %s\n"
			      "firmware = %s\n"
			      "vcpus = 1\n"
			      "timeout = %s\n"
			      "unhandled = ignore\n"
			      "\n"
			      "[ram \"low\"]\n"
			      "gpa = 0x0\n"
			      "size = 16M\n"
			      "%s",
			      accel, firmware, timeout, extra);
}

unsigned e2e_line_of(const char *path, const char *prefix)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	const char *text, *line;
	unsigned n = 1;

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	text = keep(slurp(fd));
	close(fd);
	line = next_line(text, prefix);
	cr_assert_not_null(line, "%s has no line starting with \"%s\"", path, prefix);
	for (; text < line; text++)
		n += *text == '\n';
	return n;
}

const char *e2e_kvm_missing(void)
{
	char why[256];

	if (vmm_accel_probe(VMM_ACCEL_KVM, why, sizeof(why)) == 0)
		return NULL;
	return e2e_strf("%s", why);
}

void e2e_require_kvm(void)
{
	const char *why = e2e_kvm_missing();

	if (why)
		cr_skip_test("kvm: %s", why);
}

void e2e_require_file(const char *path)
{
	if (access(path, R_OK) != 0)
		cr_skip_test("%s: %s (not built in this tree)", path, strerror(errno));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	cr_assert_not_null(buf, "out of memory");
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf, "out of memory");
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		cr_assert(n >= 0, "read: %s", strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* An unlinked temporary file to capture one stream: pipes would need a reader while we wait. */
static int capture_file(void)
{
	char tmpl[] = "/tmp/vmm-e2e-out-XXXXXX";
	int fd = mkostemp(tmpl, O_CLOEXEC);

	cr_assert(fd >= 0, "mkostemp: %s", strerror(errno));
	unlink(tmpl);
	return fd;
}

static void child(const struct e2e_spawn *spec, int out, int err)
{
	sigset_t none;
	int in = spec->stdin_fd > 2 ? spec->stdin_fd : open("/dev/null", O_RDONLY);

	/* The test runner's mask and dispositions must not leak into the program under test. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (spec->stdout_fd > 2)
		out = spec->stdout_fd;
	if (in < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	if (spec->plugin_path_env)
		setenv("VMM_PLUGIN_PATH", spec->plugin_path_env, 1);
	else
		unsetenv("VMM_PLUGIN_PATH");
	execv(spec->argv[0], (char *const *)spec->argv);
	dprintf(2, "exec %s: %s\n", spec->argv[0], strerror(errno));
	_exit(127);
}

/*
 * A build without a backend (./configure --disable-emu) runs every test that
 * asks for it up to the library's "backend emu is not built in" and reports
 * the test skipped with that line: it needs what this build left out.
 */
static void skip_if_left_out(const struct e2e_result *res)
{
	const char *hit = strstr(res->err, " is not built in (./configure --disable-");
	const char *start = hit;

	if (!hit || res->killed)
		return;
	while (start > res->err && start[-1] != '\n')
		start--;
	cr_skip_test("%.*s", (int)strcspn(start, "\n"), start);
}

void e2e_spawn(const struct e2e_spawn *spec, struct e2e_result *res)
{
	unsigned limit = spec->limit_s ? spec->limit_s : E2E_LIMIT_S;
	int out = capture_file(), err = capture_file();
	bool signalled = false;
	double start, elapsed;
	int wstatus;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	fflush(NULL);
	start = now_s();
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		child(spec, out, err);

	/* Poll rather than block: we must be able to signal or kill it on time. */
	for (;;) {
		struct timespec tick = {0, 5 * 1000 * 1000};
		pid_t r = waitpid(pid, &wstatus, WNOHANG);

		if (r == pid)
			break;
		cr_assert(r == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
		elapsed = now_s() - start;
		if (spec->signal && !signalled && elapsed * 1000 >= spec->signal_after_ms) {
			kill(pid, spec->signal);
			signalled = true;
		}
		if (elapsed >= limit && !res->killed) {
			kill(pid, SIGKILL);
			res->killed = true;
		}
		nanosleep(&tick, NULL);
	}
	res->seconds = now_s() - start;
	if (WIFEXITED(wstatus)) {
		res->exited = true;
		res->status = WEXITSTATUS(wstatus);
	} else if (WIFSIGNALED(wstatus)) {
		res->signal = WTERMSIG(wstatus);
	}
	res->out = (char *)keep(slurp(out));
	res->err = (char *)keep(slurp(err));
	close(out);
	close(err);
	skip_if_left_out(res);
}

void e2e_vmm_run(struct e2e_result *res, ...)
{
	const char *argv[32];
	struct e2e_spawn spec = {.argv = argv};
	size_t n = 0;
	va_list ap;

	argv[n++] = E2E_VMM_RUN;
	va_start(ap, res);
	for (;;) {
		const char *a = va_arg(ap, const char *);

		cr_assert(n < sizeof(argv) / sizeof(argv[0]), "too many arguments");
		argv[n++] = a;
		if (!a)
			break;
	}
	va_end(ap);
	e2e_spawn(&spec, res);
}

/* The tail of a capture: a --trace run can be megabytes, the end says what happened. */
static const char *tail(const char *s)
{
	size_t len = strlen(s);

	return len > 3000 ? e2e_strf("[...]%s", s + len - 3000) : s;
}

const char *e2e_describe(const struct e2e_result *res)
{
	const char *how;

	if (res->killed)
		how = "killed at the wall-clock limit";
	else if (res->exited)
		how = e2e_strf("exit %d", res->status);
	else
		how = e2e_strf("killed by signal %d (%s)", res->signal, strsignal(res->signal));
	return e2e_strf("%s after %.2f s\n--- stdout ---\n%s\n--- stderr ---\n%s", how,
			res->seconds, tail(res->out), tail(res->err));
}

/* The start of the first line of text that starts with prefix, or NULL. */
static const char *next_line(const char *text, const char *prefix)
{
	size_t plen = strlen(prefix);
	const char *line = text;

	while (line && *line) {
		if (!strncmp(line, prefix, plen))
			return line;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

bool e2e_has_line(const char *text, const char *prefix)
{
	return next_line(text, prefix) != NULL;
}

unsigned e2e_count_lines(const char *text, const char *prefix)
{
	const char *line = text;
	unsigned n = 0;

	while ((line = next_line(line, prefix))) {
		n++;
		line = strchr(line, '\n');
		if (!line)
			break;
		line++;
	}
	return n;
}

const char *e2e_find_line(const char *text, const char *prefix)
{
	const char *line = next_line(text, prefix);

	if (!line)
		return NULL;
	return e2e_strf("%.*s", (int)strcspn(line, "\n"), line);
}
