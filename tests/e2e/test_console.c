/* SPDX-License-Identifier: MIT */
/* test_console.c - end-to-end tests of vmm-run's console: raw terminal, the Ctrl-A escape. */

/*
 * vmm-run runs on a pseudo-terminal as it would under a shell: a "leader"
 * process opens a session with the terminal as its controlling one, starts
 * vmm-run in a process group of its own, makes that group the terminal's
 * foreground, and reports vmm-run's pid and then its wait status on a pipe.
 * (A vmm-run that leads its own session would be an orphaned process group,
 * where the kernel throws SIGTSTP's stop away.) The test reads what vmm-run
 * writes from the master side and types on it; tcgetattr() on the master
 * reads the terminal's (the slave's) settings.
 *
 * The guest is a few bytes that echo the UART: what comes back on the
 * terminal went through the guest (raw mode does not echo).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <vmm/vmm.h>

#include "e2e.h"

#define UART_SO	   BUILD_DIR "/plugins/uart16550.so"
#define SELFTEST   BUILD_DIR "/guest-firmware/selftest.elf"
#define TERM_LIMIT 30000 /* ms: any wait longer than this is a failure */

/* clang-format off */
static const uint8_t echo_code[] = {
	0x66, 0xba, 0xfd, 0x03,   /* 0: mov $0x3fd, %dx: LSR */
	0xec,                     /* 4: in (%dx), %al */
	0xa8, 0x01,               /* 5: test $1, %al: data ready? */
	0x74, 0xf7,               /* 7: jz 0 */
	0x66, 0xba, 0xf8, 0x03,   /* 9: mov $0x3f8, %dx: RBR/THR */
	0xec,                     /* 13: in (%dx), %al */
	0xee,                     /* 14: out %al, (%dx): the byte back */
	0xeb, 0xef,               /* 15: jmp 0 */
};
/* clang-format on */

#define UART_SECTION(input)                                                                        \
	"[device \"uart0\"]\n"                                                                     \
	"plugin = " UART_SO "\n"                                                                   \
	"pio = 0x3f8\n"                                                                            \
	"size = 8\n"                                                                               \
	"output = stdout\n" input

/* The process group of a vmm-run still going, so that a failed test leaves none behind. */
static pid_t live_pgrp;

static void console_fini(void)
{
	if (live_pgrp > 0)
		kill(-live_pgrp, SIGKILL);
	live_pgrp = 0;
	e2e_cleanup();
}

TestSuite(console, .fini = console_fini);

/* The echo guest on accel, its UART reading stdin (or not). Returns the config's path. */
static const char *echo_config(const char *accel, bool input)
{
	const char *fw = e2e_write_elf("echo.elf", echo_code, sizeof(echo_code));

	return e2e_guest_config("echo.ini", fw, accel, "30s",
				input ? UART_SECTION("input = stdin\n") : UART_SECTION(""));
}

struct term {
	int master;
	pid_t pid; /* vmm-run */
	pid_t leader;
	int info;	      /* the leader's pipe: vmm-run's pid, then its wait status */
	struct termios saved; /* the terminal's settings before vmm-run */
	char *out;	      /* everything vmm-run wrote on the terminal, NUL-terminated */
	size_t len, cap;
	bool eof;   /* every slave fd is closed */
	bool ended; /* wstatus is valid */
	int wstatus;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *term_describe(const struct term *t)
{
	const char *how = "still running";

	if (t->ended && WIFEXITED(t->wstatus))
		how = e2e_strf("exit %d", WEXITSTATUS(t->wstatus));
	else if (t->ended && WIFSIGNALED(t->wstatus))
		how = e2e_strf("killed by signal %d", WTERMSIG(t->wstatus));
	return e2e_strf("%s\n--- terminal ---\n%s", how, t->out ? t->out : "");
}

/*
 * The leader: a shell's part, in a session of its own. Never returns. It
 * ignores SIGHUP, which a hang-up sends to it alone, so that it lives to
 * report how vmm-run ended. err: a file for vmm-run's stderr, or -1.
 */
static void leader_main(int slave, int info, int err, const char *const *argv)
{
	int sync[2], st;
	pid_t pid;
	char go = 1;

	signal(SIGHUP, SIG_IGN);
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0 || pipe2(sync, O_CLOEXEC) < 0)
		_exit(127);
	pid = fork();
	if (pid < 0)
		_exit(127);
	if (pid == 0) {
		struct rlimit no_core = {0, 0};
		sigset_t none;

		/* In its group and in the foreground before it touches the terminal. */
		setpgid(0, 0);
		close(sync[1]);
		if (read(sync[0], &go, 1) != 1)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		setrlimit(RLIMIT_CORE, &no_core); /* the fatal-signal tests dump no core */
		unsetenv("VMM_PLUGIN_PATH");
		if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(err >= 0 ? err : slave, 2) < 0)
			_exit(127);
		if (slave > 2)
			close(slave);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	setpgid(pid, pid);
	if (tcsetpgrp(slave, pid) < 0 || write(info, &pid, sizeof(pid)) != sizeof(pid) ||
	    write(sync[1], &go, 1) != 1)
		_exit(127);
	close(sync[1]);
	close(slave);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	if (write(info, &st, sizeof(st)) != sizeof(st))
		_exit(127);
	_exit(0);
}

/*
 * Start vmm-run (argv after argv[0]) on a new terminal whose settings are
 * the defaults with a few changes of ours, so that settings put back by
 * anything but vmm-run (a reset to the defaults) would not pass for them.
 */
static void term_start_err(struct term *t, const char *const *args, int err)
{
	const char *argv[16] = {E2E_VMM_RUN};
	struct termios tio;
	int slave, info[2];
	size_t n = 1;

	for (; *args; args++) {
		cr_assert(n + 1 < sizeof(argv) / sizeof(argv[0]), "too many arguments");
		argv[n++] = *args;
	}
	argv[n] = NULL;
	memset(t, 0, sizeof(*t));
	/* The nested route's minimal init mounts no devpts: no terminal to test with there. */
	if (openpty(&t->master, &slave, NULL, NULL, NULL) < 0) {
		int why = errno;

		e2e_cleanup(); /* a skipped test's .fini does not run */
		cr_skip_test("no pseudo-terminal here (openpty: %s; is devpts mounted?)",
			     strerror(why));
	}
	cr_assert(tcgetattr(slave, &tio) == 0);
	tio.c_cc[VEOF] = 0x02;
	tio.c_lflag &= ~(tcflag_t)ECHOCTL;
	tio.c_iflag |= IUTF8;
	cr_assert(tcsetattr(slave, TCSANOW, &tio) == 0);
	memset(&t->saved, 0, sizeof(t->saved));
	cr_assert(tcgetattr(slave, &t->saved) == 0);
	cr_assert(pipe2(info, O_CLOEXEC) == 0);
	fflush(NULL);
	t->leader = fork();
	cr_assert(t->leader >= 0, "fork: %s", strerror(errno));
	if (t->leader == 0) {
		close(t->master);
		close(info[0]);
		leader_main(slave, info[1], err, argv);
	}
	close(slave);
	close(info[1]);
	t->info = info[0];
	cr_assert(read(t->info, &t->pid, sizeof(t->pid)) == sizeof(t->pid),
		  "the leader did not start vmm-run");
	live_pgrp = t->pid;
	t->cap = 4096;
	t->out = calloc(1, t->cap);
	cr_assert_not_null(t->out);
}

static void term_start(struct term *t, const char *const *args)
{
	term_start_err(t, args, -1);
}

/* Read what the terminal and the leader have, waiting at most ms for something. */
static void term_pump(struct term *t, int ms)
{
	struct pollfd p[2] = {{.fd = t->eof ? -1 : t->master, .events = POLLIN},
			      {.fd = t->ended ? -1 : t->info, .events = POLLIN}};

	if (poll(p, 2, ms) <= 0)
		return;
	if (p[0].revents) {
		ssize_t n;

		if (t->cap - t->len < 1024) {
			t->cap *= 2;
			t->out = realloc(t->out, t->cap);
			cr_assert_not_null(t->out);
		}
		n = read(t->master, t->out + t->len, t->cap - t->len - 1);
		if (n > 0)
			t->len += (size_t)n;
		else if (n == 0 || errno != EINTR)
			t->eof = true; /* EIO: the last slave fd is closed */
		t->out[t->len] = '\0';
	}
	if (p[1].revents) {
		cr_assert(read(t->info, &t->wstatus, sizeof(t->wstatus)) == sizeof(t->wstatus),
			  "the leader died: %s", term_describe(t));
		t->ended = true;
	}
}

/* Wait until what vmm-run wrote holds the len bytes at needle. */
static void term_expect(struct term *t, const char *needle, size_t len)
{
	double end = now_ms() + TERM_LIMIT;

	while (!memmem(t->out, t->len, needle, len)) {
		cr_assert(!t->ended && now_ms() < end, "never saw \"%s\" on the terminal: %s",
			  needle, term_describe(t));
		term_pump(t, 50);
	}
}

#define term_expect_str(t, s) term_expect((t), (s), strlen(s))

static struct termios term_settings(const struct term *t)
{
	struct termios tio;

	memset(&tio, 0, sizeof(tio));
	cr_assert(tcgetattr(t->master, &tio) == 0, "tcgetattr: %s", strerror(errno));
	return tio;
}

static bool is_raw(const struct termios *tio)
{
	return !(tio->c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) &&
	       !(tio->c_iflag & (ICRNL | IXON | ISTRIP)) && (tio->c_oflag & OPOST) &&
	       (tio->c_oflag & ONLCR) && tio->c_cc[VMIN] == 1;
}

static bool same_settings(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
	       a->c_lflag == b->c_lflag && !memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) &&
	       cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

static void term_wait_raw(struct term *t, bool raw)
{
	double end = now_ms() + TERM_LIMIT;

	for (;;) {
		struct termios tio = term_settings(t);

		if (is_raw(&tio) == raw)
			return;
		cr_assert(!t->ended && now_ms() < end, "the terminal never became %s: %s",
			  raw ? "raw" : "cooked", term_describe(t));
		term_pump(t, 20);
	}
}

/* vmm-run is running the guest: the -v line that follows the VM's creation was printed. */
static void term_wait_running(struct term *t)
{
	term_expect_str(t, "vmm-run: 1 vcpu");
}

static void term_type(struct term *t, const char *bytes, size_t len)
{
	while (len) {
		ssize_t n = write(t->master, bytes, len);

		if (n < 0 && errno == EINTR)
			continue;
		cr_assert(n > 0, "write to the terminal: %s", strerror(errno));
		bytes += n;
		len -= (size_t)n;
	}
}

#define term_type_str(t, s) term_type((t), (s), strlen(s))

/* Wait for vmm-run's end and the terminal's last output; kill it if it takes too long. */
static void term_finish(struct term *t)
{
	double end = now_ms() + TERM_LIMIT;

	while (!t->ended || !t->eof) {
		if (now_ms() >= end)
			cr_assert_fail("vmm-run did not end: %s", term_describe(t));
		term_pump(t, 50);
	}
	live_pgrp = 0;
	while (waitpid(t->leader, NULL, 0) < 0 && errno == EINTR)
		;
}

static void term_close(struct term *t)
{
	close(t->master);
	close(t->info);
	free(t->out);
}

static void assert_term_exit(const struct term *t, int code)
{
	cr_assert(t->ended && WIFEXITED(t->wstatus) && WEXITSTATUS(t->wstatus) == code,
		  "expected exit %d: %s", code, term_describe(t));
}

static void assert_restored(const struct term *t)
{
	struct termios now = term_settings(t);

	cr_assert(same_settings(&now, &t->saved),
		  "the terminal's settings differ from those before vmm-run "
		  "(lflag %#x, was %#x; iflag %#x, was %#x): %s",
		  (unsigned)now.c_lflag, (unsigned)t->saved.c_lflag, (unsigned)now.c_iflag,
		  (unsigned)t->saved.c_iflag, term_describe(t));
}

/* Start the echo guest on a terminal and wait until it runs with the terminal raw. */
static void start_echo(struct term *t, const char *accel)
{
	const char *args[] = {"-v", echo_config(accel, true), NULL};

	term_start(t, args);
	term_wait_raw(t, true);
	term_wait_running(t);
}

/* Skip the running test, saying why, where this build or host has no emu. */
static void require_emu(void)
{
	static char why[256];

	if (vmm_accel_probe(VMM_ACCEL_EMU, why, sizeof(why)) < 0) {
		e2e_cleanup(); /* a skipped test's .fini does not run */
		cr_skip_test("emu: %s", why);
	}
}

/* For a test about vmm-run's terminal, not a backend: emu where there is one, else kvm. */
static const char *any_accel(void)
{
	char why[256];

	if (vmm_accel_probe(VMM_ACCEL_EMU, why, sizeof(why)) == 0)
		return "emu";
	e2e_require_kvm();
	return "kvm";
}

/* Declare the emu and the kvm twin of a test body taking the accel. */
#define TWINS(name)                                                                                \
	static void name(const char *accel);                                                       \
	Test(console, name##_on_emu)                                                               \
	{                                                                                          \
		require_emu();                                                                     \
		name("emu");                                                                       \
	}                                                                                          \
	Test(console, name##_on_kvm)                                                               \
	{                                                                                          \
		e2e_require_kvm();                                                                 \
		name("kvm");                                                                       \
	}

/* ---- raw mode and the escape ---- */

TWINS(escape_x_quits_with_130_and_restores_the_terminal)
static void escape_x_quits_with_130_and_restores_the_terminal(const char *accel)
{
	struct term t;
	struct termios raw;

	start_echo(&t, accel);
	cr_assert(strstr(t.out, "vmm-run: console: the terminal is the guest's (raw); Ctrl-A x "
				"quits, Ctrl-A h lists the keys\r\n"),
		  "%s", term_describe(&t));
	raw = term_settings(&t);
	cr_assert(is_raw(&raw), "lflag %#x iflag %#x oflag %#x", (unsigned)raw.c_lflag,
		  (unsigned)raw.c_iflag, (unsigned)raw.c_oflag);
	term_type_str(&t, "\x01x");
	term_finish(&t);
	assert_term_exit(&t, 130);
	cr_assert(strstr(t.out, "vmm-run: quit by the escape (Ctrl-A x)\r\n"), "%s",
		  term_describe(&t));
	assert_restored(&t);
	term_close(&t);
}

TWINS(typed_bytes_reach_the_guest_and_ctrl_c_is_one_of_them)
static void typed_bytes_reach_the_guest_and_ctrl_c_is_one_of_them(const char *accel)
{
	struct term t;

	start_echo(&t, accel);
	/* No echo in raw mode: these come back only through the guest. Ctrl-C is not SIGINT. */
	term_type_str(&t, "ping\x03pong");
	term_expect_str(&t, "ping\x03pong");
	term_type_str(&t, "\x01x");
	term_finish(&t);
	assert_term_exit(&t, 130);
	cr_assert(!strstr(t.out, "SIGINT"), "%s", term_describe(&t));
	term_close(&t);
}

TWINS(escape_ctrl_a_sends_one_and_other_keys_pass_with_it)
static void escape_ctrl_a_sends_one_and_other_keys_pass_with_it(const char *accel)
{
	static const char typed[] = "a\x01\x01"
				    "b\x01z"
				    "c";
	static const char echoed[] = "a\x01"
				     "b\x01z"
				     "c";
	struct term t;

	start_echo(&t, accel);
	term_type(&t, typed, sizeof(typed) - 1);
	term_expect(&t, echoed, sizeof(echoed) - 1);
	/* The pair, once: not "a\x01\x01b". */
	cr_assert(!memmem(t.out, t.len, "\x01\x01", 2), "%s", term_describe(&t));
	term_type_str(&t, "\x01x");
	term_finish(&t);
	assert_term_exit(&t, 130);
	term_close(&t);
}

Test(console, escape_h_prints_the_keys_and_the_guest_sees_nothing)
{
	struct term t;

	start_echo(&t, any_accel());
	term_type_str(&t, "\x01h|");
	term_expect_str(&t, "Ctrl-A then:");
	term_expect_str(&t, "|");
	cr_assert(strstr(t.out, "  x       quit"), "%s", term_describe(&t));
	/* The guest echoed '|' and nothing of the escape. */
	cr_assert(!memmem(t.out, t.len, "h|", 2) && !memchr(t.out, 0x01, t.len), "%s",
		  term_describe(&t));
	term_type_str(&t, "\x01x");
	term_finish(&t);
	assert_term_exit(&t, 130);
	term_close(&t);
}

/* ---- the settings come back whatever ends vmm-run ---- */

static void check_signal_restores(const char *accel, int sig, int status)
{
	struct term t;

	start_echo(&t, accel);
	kill(t.pid, sig);
	term_finish(&t);
	assert_term_exit(&t, status);
	assert_restored(&t);
	term_close(&t);
}

TWINS(sigterm_stops_with_143_and_restores_the_terminal)
static void sigterm_stops_with_143_and_restores_the_terminal(const char *accel)
{
	check_signal_restores(accel, SIGTERM, 143);
}

TWINS(sighup_stops_with_129_and_restores_the_terminal)
static void sighup_stops_with_129_and_restores_the_terminal(const char *accel)
{
	check_signal_restores(accel, SIGHUP, 129);
}

Test(console, sigint_stops_with_130_and_restores_the_terminal)
{
	check_signal_restores(any_accel(), SIGINT, 130);
}

/* A fatal signal still kills vmm-run with that signal, after the settings came back. */
static void check_fatal_restores(int sig)
{
	struct term t;

	start_echo(&t, any_accel());
	kill(t.pid, sig);
	term_finish(&t);
	cr_assert(WIFSIGNALED(t.wstatus) && WTERMSIG(t.wstatus) == sig,
		  "expected death by signal %d: %s", sig, term_describe(&t));
	assert_restored(&t);
	term_close(&t);
}

Test(console, sigsegv_kills_after_restoring_the_terminal)
{
	check_fatal_restores(SIGSEGV);
}

Test(console, sigabrt_kills_after_restoring_the_terminal)
{
	check_fatal_restores(SIGABRT);
}

Test(console, sigquit_kills_after_restoring_the_terminal)
{
	check_fatal_restores(SIGQUIT);
}

/* /proc/PID/stat's state letter. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : '?';
}

Test(console, sigtstp_restores_the_terminal_and_sigcont_makes_it_raw_again)
{
	double end;
	struct term t;

	start_echo(&t, any_accel());
	kill(t.pid, SIGTSTP);
	for (end = now_ms() + TERM_LIMIT; proc_state(t.pid) != 'T'; term_pump(&t, 20))
		cr_assert(now_ms() < end, "vmm-run did not stop: %s", term_describe(&t));
	assert_restored(&t);
	kill(t.pid, SIGCONT);
	term_wait_raw(&t, true);
	/* And it still works: the guest echoes, the escape quits. */
	term_type_str(&t, "again");
	term_expect_str(&t, "again");
	term_type_str(&t, "\x01x");
	term_finish(&t);
	assert_term_exit(&t, 130);
	assert_restored(&t);
	term_close(&t);
}

Test(console, setup_error_after_raw_mode_restores_the_terminal)
{
	const char *fw = e2e_write_elf("echo.elf", echo_code, sizeof(echo_code));
	/* uart0 reads stdin, so the console starts; then the second device fails to load. */
	const char *ini =
	    e2e_guest_config("bad.ini", fw, any_accel(), "30s",
			     UART_SECTION("input = stdin\n") "[device \"bad\"]\n"
							     "plugin = no-such-model\n"
							     "mmio = 0xfebf0000\n"
							     "size = 0x1000\n");
	const char *args[] = {ini, NULL};
	struct term t;

	term_start(&t, args);
	term_finish(&t);
	assert_term_exit(&t, 2);
	cr_assert(strstr(t.out, "no-such-model"), "%s", term_describe(&t));
	assert_restored(&t);
	term_close(&t);
}

/* The escape works before the guest runs too: _exit() at once, the settings back first. */
Test(console, escape_x_while_a_device_is_created_exits_130_and_restores_the_terminal)
{
	const char *fw = e2e_write_elf("echo.elf", echo_code, sizeof(echo_code));
	const char *ini = e2e_guest_config(
	    "hang.ini", fw, any_accel(), "30s",
	    UART_SECTION("input = stdin\n") "[device \"stuck0\"]\n"
					    "plugin = " BUILD_DIR "/tests/plugins/create-hangs.so\n"
					    "mmio = 0xfe000000\n"
					    "size = 0x1000\n");
	const char *args[] = {ini, NULL};
	struct term t;

	e2e_require_file(BUILD_DIR "/tests/plugins/create-hangs.so");
	term_start(&t, args);
	term_wait_raw(&t, true);
	term_type_str(&t, "\x01x");
	term_finish(&t);
	assert_term_exit(&t, 130);
	cr_assert(
	    strstr(t.out, "vmm-run: the escape (Ctrl-A x) while building the VM: exiting\r\n"),
	    "%s", term_describe(&t));
	assert_restored(&t);
	term_close(&t);
}

/* A file's whole text, until e2e_cleanup(). */
static const char *file_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert(getdelim(&text, &len, '\0', f) >= 0 || feof(f));
	fclose(f);
	return e2e_strf("%s", text ? text : "");
}

/*
 * The terminal goes away (the master side closes, as when a terminal
 * window does): the guest's input ends, and vmm-run waits for the SIGHUP
 * a shell would then send. Its stderr goes to a file: the terminal is gone.
 */
Test(console, hang_up_ends_the_guests_input_and_sighup_stops_with_129)
{
	const char *err_path = e2e_strf("%s/stderr.txt", e2e_tmpdir());
	const char *args[] = {"-v", echo_config(any_accel(), true), NULL};
	int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	double end = now_ms() + TERM_LIMIT;
	struct term t;

	cr_assert(err >= 0, "%s: %s", err_path, strerror(errno));
	term_start_err(&t, args, err);
	close(err);
	term_wait_raw(&t, true);
	term_type_str(&t, "12345");
	term_expect_str(&t, "12345"); /* through the guest: the input works */
	close(t.master);
	t.eof = true;
	while (!strstr(file_text(err_path), "input 'stdin': end of input after 5 bytes")) {
		cr_assert(!t.ended && now_ms() < end,
			  "the input never ended: %s\n--- stderr ---\n%s", term_describe(&t),
			  file_text(err_path));
		term_pump(&t, 20);
	}
	cr_assert(!t.ended, "vmm-run ended by itself: %s", term_describe(&t));
	kill(t.pid, SIGHUP);
	term_finish(&t);
	assert_term_exit(&t, 129);
	cr_assert(strstr(file_text(err_path), "vmm-run: stopped by SIGHUP\n"), "%s",
		  file_text(err_path));
	close(t.info);
	free(t.out);
}

/* ---- the guest reads typed input through interrupts: the selftest's UART checks ---- */

TWINS(selftest_receives_a_typed_line_through_interrupts)
static void selftest_receives_a_typed_line_through_interrupts(const char *accel)
{
	const char *ini = e2e_write_file("uart-tty.ini",
					 "[vm]\naccel = %s\nfirmware = " SELFTEST "\n"
					 "vcpus = 1\ntimeout = 60s\nunhandled = ignore\n"
					 "[ram \"low\"]\ngpa = 0\nsize = 64M\n" UART_SECTION(
					     "irq = 4\ninput = stdin\n") "[device \"test0\"]\n"
									 "plugin = testdev\n"
									 "mmio = 0xfebf0000\n"
									 "size = 0x1000\n",
					 accel);
	const char *args[] = {ini, NULL};
	struct term t;

	e2e_require_file(SELFTEST);
	term_start(&t, args);
	term_wait_raw(&t, true);
	/* What tests/fixtures/uart-input.txt holds, typed; it waits in the pipe until read. */
	term_type_str(&t, "libvmm uart input\n");
	term_finish(&t);
	assert_term_exit(&t, 0);
	cr_assert(strstr(t.out, " - uart: the interrupts deliver the input in order"), "%s",
		  term_describe(&t));
	cr_assert(strstr(t.out, " - uart: a halted guest wakes for the rest of the input"), "%s",
		  term_describe(&t));
	cr_assert(!strstr(t.out, "not ok"), "%s", term_describe(&t));
	assert_restored(&t);
	term_close(&t);
}

/* ---- without a terminal, or without a device that reads it, nothing changes ---- */

Test(console, terminal_without_an_input_device_stays_as_it_was)
{
	const char *args[] = {"-v", echo_config(any_accel(), false), NULL};
	struct term t;
	struct termios now;

	term_start(&t, args);
	term_wait_running(&t);
	cr_assert(!strstr(t.out, "vmm-run: console:"), "%s", term_describe(&t));
	now = term_settings(&t);
	cr_assert(same_settings(&now, &t.saved), "the terminal changed: %s", term_describe(&t));
	kill(t.pid, SIGTERM);
	term_finish(&t);
	assert_term_exit(&t, 143);
	term_close(&t);
}

TWINS(stdin_that_is_not_a_terminal_goes_straight_to_the_guest)
static void stdin_that_is_not_a_terminal_goes_straight_to_the_guest(const char *accel)
{
	static const char input[] = "abc\x01x\x01\x01"
				    "def";
	const char *argv[] = {E2E_VMM_RUN, "--timeout=2s", echo_config(accel, true), NULL};
	struct e2e_spawn spec = {.argv = argv};
	struct e2e_result r;
	int p[2];

	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	cr_assert(write(p[1], input, sizeof(input) - 1) == sizeof(input) - 1);
	close(p[1]);
	spec.stdin_fd = p[0];
	e2e_spawn(&spec, &r);
	close(p[0]);
	/* No escape: Ctrl-A x is two bytes for the guest, which runs until the timeout. */
	assert_exit(&r, 124);
	cr_assert(!strcmp(r.out, input), "expected the input echoed byte for byte: %s",
		  e2e_describe(&r));
	cr_assert(!strstr(r.err, "escape"), "%s", e2e_describe(&r));
}
