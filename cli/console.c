/* SPDX-License-Identifier: MIT */
/* console.c - vmm-run's interactive console: the terminal in raw mode, the Ctrl-A escape. */

/*
 * What QEMU's -nographic does, for a guest whose UART reads stdin: the
 * terminal goes raw, so every key reaches the guest as it is typed (Ctrl-C
 * too: ISIG is off), and Ctrl-A starts an escape that the guest never sees.
 *
 * The device (uart16550 with `input = stdin`) stays as it is: it reads fd
 * 0. So fd 0 becomes the read end of a pipe, the terminal moves to a higher
 * fd, and a thread of ours reads the terminal, takes the escapes out and
 * writes the rest to the pipe. The pipe's write end does not block: a guest
 * that stops reading fills the pipe, the thread keeps FWD_MAX bytes more,
 * then drops what is typed (saying so once), and stays free to see Ctrl-A x.
 *
 * The terminal's settings come back on every way out:
 * - console_end() on vmm-run's own paths (the run ended, setup failed), and
 *   an atexit() handler for an exit() from anywhere;
 * - the paths that _exit() (a second signal, a signal while building the
 *   VM, a failed pthread call) call console_restore() first;
 * - SIGINT, SIGTERM and SIGHUP stop the VM through vmm-run's signal thread
 *   and end by console_end();
 * - SIGQUIT and the fatal signals (SIGSEGV, SIGBUS, SIGABRT, SIGFPE,
 *   SIGILL): a handler restores the settings and raises the signal again
 *   with its default action (core dump and all);
 * - SIGTSTP: restore, then stop; SIGCONT: raw again, if vmm-run is in the
 *   terminal's foreground (after `bg` it is not, and the shell owns the
 *   terminal). With ISIG off Ctrl-Z goes to the guest: only kill(1) sends
 *   SIGTSTP.
 * Nothing restores after SIGKILL: `stty sane` (or `reset`) does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "console.h"

/* Bytes held for the pipe when it is full; beyond them typed bytes are dropped. */
#define FWD_MAX 4096

static const int fatal_signals[] = {SIGQUIT, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};

/*
 * The terminal (a dup of the original fd 0) and its settings. Set before
 * the handlers are installed and not changed until console_end() has taken
 * them down, so handlers may read them.
 */
static int tty_fd = -1;
static struct termios saved_tio, raw_tio;
/* The console is on: raw mode is wanted whenever vmm-run has the foreground. */
static volatile sig_atomic_t active;
/* The terminal may be in raw mode now (set before tcsetattr, cleared after). */
static volatile sig_atomic_t raw_now;

static int pipe_w = -1; /* the thread's alone while it runs */
static int wake_fd = -1;
static pthread_t thread;
static bool thread_started;
static void (*quit_cb)(void *opaque);
static void *quit_opaque;

bool console_wanted(const struct vmm_config *cfg)
{
	for (size_t i = 0; i < cfg->ndevices; i++) {
		const struct vmm_config_device *d = &cfg->devices[i];

		for (size_t j = 0; j < d->nparams; j++)
			if (d->params[j].key && d->params[j].value &&
			    !strcmp(d->params[j].key, "input") &&
			    !strcmp(d->params[j].value, "stdin"))
				return true;
	}
	return false;
}

void console_restore(void)
{
	sigset_t ttou, old;
	int err = errno;

	if (!raw_now)
		return;
	/*
	 * From the background (a `bg` after SIGSTOP) tcsetattr() would raise
	 * SIGTTOU and stop vmm-run on its way out; blocked, it is let through.
	 * sigprocmask(): async-signal-safe, and per-thread on Linux.
	 */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	tcsetattr(tty_fd, TCSANOW, &saved_tio);
	raw_now = 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = err;
}

/* Raw again if the console is on and vmm-run has the terminal's foreground. */
static void console_reraw(void)
{
	if (!active || tcgetpgrp(tty_fd) != getpgrp())
		return;
	raw_now = 1;
	tcsetattr(tty_fd, TCSANOW, &raw_tio);
}

static void on_fatal(int sig)
{
	/* SA_RESETHAND made the action the default one, SA_NODEFER lets it through now. */
	console_restore();
	raise(sig);
}

static struct sigaction tstp_action;

static void on_tstp(int sig)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	int err = errno;

	console_restore();
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	raise(sig); /* stops the whole process here; SA_NODEFER lets it through */
	sigaction(sig, &tstp_action, NULL);
	console_reraw();
	errno = err;
}

static void on_cont(int sig)
{
	int err = errno;

	(void)sig;
	console_reraw();
	errno = err;
}

static void set_action(int sig, void (*handler)(int), int flags)
{
	struct sigaction sa = {.sa_handler = handler, .sa_flags = flags};

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	if (sig == SIGTSTP)
		tstp_action = sa;
}

static void set_handlers(bool on)
{
	for (size_t i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
		set_action(fatal_signals[i], on ? on_fatal : SIG_DFL,
			   on ? SA_RESETHAND | SA_NODEFER : 0);
	set_action(SIGTSTP, on ? on_tstp : SIG_DFL, on ? SA_RESTART | SA_NODEFER : 0);
	set_action(SIGCONT, on ? on_cont : SIG_DFL, on ? SA_RESTART : 0);
}

static void console_atexit(void)
{
	console_restore();
}

/*
 * cfmakeraw(), except that output processing stays (OPOST, ONLCR: the
 * guest's "\n" still starts a new line on the host) and that the terminal's
 * own settings are kept where raw mode does not care.
 */
static void make_raw(struct termios *t)
{
	t->c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t->c_oflag |= OPOST | ONLCR;
	t->c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t->c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t->c_cflag |= CS8;
	t->c_cc[VMIN] = 1;
	t->c_cc[VTIME] = 0;
}

/* What the thread holds for the pipe. */
struct fwd {
	uint8_t buf[FWD_MAX];
	size_t len;
	bool escape; /* the last byte read was Ctrl-A */
	bool warned; /* the drop was reported */
};

static void say(const char *msg)
{
	size_t len = strlen(msg);

	while (len) {
		ssize_t n = write(STDERR_FILENO, msg, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		msg += n;
		len -= (size_t)n;
	}
}

static void fwd_push(struct fwd *f, uint8_t b)
{
	if (pipe_w < 0)
		return;
	if (f->len < sizeof(f->buf)) {
		f->buf[f->len++] = b;
		return;
	}
	if (!f->warned)
		say("vmm-run: console: the guest is not reading its input: typed bytes are "
		    "dropped\n");
	f->warned = true;
}

/* Write what the pipe takes now; a write may take part of it. */
static void fwd_flush(struct fwd *f)
{
	size_t done = 0;

	while (pipe_w >= 0 && done < f->len) {
		ssize_t n = write(pipe_w, f->buf + done, f->len - done);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* EPIPE: nobody reads stdin any more (SIGPIPE is ignored). */
		say("vmm-run: console: the guest's input is closed: typed bytes are dropped\n");
		close(pipe_w);
		pipe_w = -1;
		done = f->len;
	}
	memmove(f->buf, f->buf + done, f->len - done);
	f->len -= done;
}

static void help(void)
{
	say("vmm-run: console escape keys, Ctrl-A then:\n"
	    "  x       quit: stop the guest (exit status 130)\n"
	    "  Ctrl-A  send one Ctrl-A to the guest\n"
	    "  h       this help\n"
	    "Any other key after Ctrl-A goes to the guest with the Ctrl-A.\n");
}

/* Take the escapes out of what the terminal sent; the rest goes to the guest. */
static void fwd_feed(struct fwd *f, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = in[i];

		if (!f->escape) {
			if (b == CONSOLE_ESCAPE)
				f->escape = true;
			else
				fwd_push(f, b);
			continue;
		}
		f->escape = false;
		switch (b) {
		case 'x':
			/* The VM is stopping: what came with it is for nobody. */
			quit_cb(quit_opaque);
			return;
		case 'h':
			help();
			break;
		case CONSOLE_ESCAPE:
			fwd_push(f, CONSOLE_ESCAPE);
			break;
		default:
			fwd_push(f, CONSOLE_ESCAPE);
			fwd_push(f, b);
			break;
		}
	}
}

static void *console_main(void *arg)
{
	static struct fwd f; /* one console per process */
	bool tty_open = true;

	(void)arg;
	for (;;) {
		struct pollfd p[3];
		int np = 0, tty_i = -1, pipe_i = -1;
		uint8_t in[256];
		ssize_t n;

		p[np++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
		if (tty_open) {
			tty_i = np;
			p[np++] = (struct pollfd){.fd = tty_fd, .events = POLLIN};
		}
		if (f.len && pipe_w >= 0) {
			pipe_i = np;
			p[np++] = (struct pollfd){.fd = pipe_w, .events = POLLOUT};
		}
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			say("vmm-run: console: poll failed: the guest's input ends\n");
			break;
		}
		if (p[0].revents)
			break; /* console_end() */
		if (pipe_i >= 0 && p[pipe_i].revents)
			fwd_flush(&f);
		if (tty_i < 0 || !p[tty_i].revents)
			continue;
		n = read(tty_fd, in, sizeof(in));
		if (n > 0) {
			fwd_feed(&f, in, (size_t)n);
			fwd_flush(&f);
			continue;
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		/* Hang-up (EIO, or 0 from a raw terminal): the guest's input ends too. */
		tty_open = false;
		fwd_flush(&f);
		if (pipe_w >= 0)
			close(pipe_w);
		pipe_w = -1;
	}
	return NULL;
}

/* Undo what console_start() did so far and say why; returns err. */
static int start_failed(int err, const char *what)
{
	fprintf(stderr, "vmm-run: console: %s: %s\n", what, strerror(-err));
	active = 0;
	console_restore();
	set_handlers(false);
	if (tty_fd >= 0 && dup2(tty_fd, STDIN_FILENO) >= 0)
		close(tty_fd);
	tty_fd = -1;
	if (pipe_w >= 0)
		close(pipe_w);
	pipe_w = -1;
	if (wake_fd >= 0)
		close(wake_fd);
	wake_fd = -1;
	return err;
}

int console_start(void (*quit)(void *opaque), void *opaque)
{
	static bool atexit_done;
	int p[2], err;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return 0;
	quit_cb = quit;
	quit_opaque = opaque;
	tty_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
	if (tty_fd < 0)
		return start_failed(-errno, "cannot duplicate standard input");
	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0)
		return start_failed(-errno, "eventfd");
	if (pipe2(p, O_CLOEXEC) < 0)
		return start_failed(-errno, "pipe");
	pipe_w = p[1];
	if (fcntl(pipe_w, F_SETFL, O_NONBLOCK) < 0 || dup2(p[0], STDIN_FILENO) < 0) {
		err = -errno;
		close(p[0]);
		return start_failed(err, "cannot make the pipe standard input");
	}
	close(p[0]);

	raw_tio = saved_tio;
	make_raw(&raw_tio);
	/* The handlers first: from the first raw moment on, a crash restores. */
	set_handlers(true);
	if (!atexit_done && atexit(console_atexit) == 0)
		atexit_done = true;
	active = 1;
	raw_now = 1;
	if (tcsetattr(tty_fd, TCSANOW, &raw_tio) < 0)
		return start_failed(-errno, "cannot put the terminal in raw mode");
	err = pthread_create(&thread, NULL, console_main, NULL);
	if (err)
		return start_failed(-err, "cannot start the console thread");
	thread_started = true;
	return 1;
}

void console_end(void)
{
	uint64_t one = 1;

	bool joined = true;

	if (thread_started) {
		/* An eventfd at 0 takes a 1: this write fails only if something is badly wrong. */
		joined = write(wake_fd, &one, sizeof(one)) == sizeof(one);
		if (joined)
			pthread_join(thread, NULL);
		else
			say("vmm-run: console: cannot wake the console thread\n");
		thread_started = false;
	}
	if (!active)
		return;
	active = 0;
	console_restore();
	set_handlers(false);
	/* A thread still running keeps its fds. fd 0 stays the pipe: a device may read it. */
	if (!joined)
		return;
	close(tty_fd);
	tty_fd = -1;
	close(wake_fd);
	wake_fd = -1;
}

void console_close(void)
{
	if (pipe_w >= 0)
		close(pipe_w);
	pipe_w = -1;
}
