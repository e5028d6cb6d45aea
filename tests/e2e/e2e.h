/* SPDX-License-Identifier: MIT */
/* e2e.h - end-to-end test helpers: run and capture a program, write tiny guests and configs. */
#ifndef E2E_H
#define E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef BUILD_DIR
#error "the Makefile passes -DBUILD_DIR=\"/abs/build\""
#endif
#ifndef SRC_DIR
#error "the Makefile passes -DSRC_DIR=\"/abs/source\""
#endif

#define E2E_VMM_RUN  BUILD_DIR "/vmm-run"
#define E2E_DEMO_INI SRC_DIR "/examples/demo.ini"
#define E2E_LIMIT_S                                                                                \
	60 /* a run still going after this long is killed: the test fails, the suite goes on */

/* Where tiny guests are linked: above the low MiB, far below the boot area at the top of RAM. */
#define E2E_GUEST_BASE 0x100000u

struct e2e_spawn {
	const char *const *argv; /* argv[0] is the program's path; NULL-terminated */
	const char
	    *plugin_path_env; /* VMM_PLUGIN_PATH for the child; NULL: unset, for hermetic runs */
	int signal;	      /* if non-zero, sent to the child ... */
	unsigned signal_after_ms; /* ... this long after it started */
	unsigned limit_s;	  /* wall-clock limit; 0 means E2E_LIMIT_S */
	int stdout_fd; /* if > 2, the child's stdout (res->out stays empty); else captured */
	int stdin_fd;  /* if > 2, the child's stdin; else /dev/null */
};

struct e2e_result {
	bool exited; /* exited normally; status is valid */
	int status;
	int signal;	/* the signal that ended it, or 0 */
	bool killed;	/* we killed it at the wall-clock limit */
	double seconds; /* how long it ran */
	char *out;	/* its stdout and stderr, NUL-terminated; freed by e2e_cleanup() */
	char *err;
};

/* Run spec->argv with stdin from /dev/null (or stdin_fd), capturing stdout and stderr into *res. */
void e2e_spawn(const struct e2e_spawn *spec, struct e2e_result *res);
/* Run vmm-run with the NULL-terminated argument list that follows res. */
void e2e_vmm_run(struct e2e_result *res, ...) __attribute__((sentinel));

/* How it ended ("exit 2", "killed by signal 11"), then what it printed: for assertion messages. */
const char *e2e_describe(const struct e2e_result *res);

/* A per-test temporary folder, made on first use and removed with its contents by e2e_cleanup(). */
const char *e2e_tmpdir(void);
/* printf into a string that lives until e2e_cleanup(). */
const char *e2e_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write a file in the temporary folder; returns its absolute path. */
const char *e2e_write_file(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Write an ELF64 x86-64 executable holding code as its only PT_LOAD segment,
 * loaded (and entered) at E2E_GUEST_BASE. Returns its path.
 */
const char *e2e_write_elf(const char *name, const uint8_t *code, size_t len);
/*
 * A config for a tiny guest: [vm] with firmware, accel and timeout, 16 MiB of
 * RAM at 0, then extra (more sections, may be ""). Returns its path.
 */
const char *e2e_guest_config(const char *name, const char *firmware, const char *accel,
			     const char *timeout, const char *extra);
/* The 1-based number of the first line of file path that starts with prefix; fails the test if
 * none. */
unsigned e2e_line_of(const char *path, const char *prefix);
/* Free everything the helpers made for this test; the suites' .fini. */
void e2e_cleanup(void);

/* NULL if this build and host can run kvm, else why not (vmm_accel_probe()'s text). */
const char *e2e_kvm_missing(void);
/* Skip the running test, with the reason, when kvm cannot be used here. */
void e2e_require_kvm(void);
/* Skip the running test when a build product is missing. */
void e2e_require_file(const char *path);

/* Does any line of text start with prefix? How many do? */
bool e2e_has_line(const char *text, const char *prefix);
unsigned e2e_count_lines(const char *text, const char *prefix);
/* The first line starting with prefix, without its newline (until e2e_cleanup()), or NULL. */
const char *e2e_find_line(const char *text, const char *prefix);

/* Assertions on a finished run that print what it printed when they fail (need criterion.h). */
#define assert_exit(res, code)                                                                     \
	cr_assert((res)->exited && (res)->status == (code), "expected exit %d, got %s", (code),    \
		  e2e_describe(res))

#define assert_contains(hay, needle, res)                                                          \
	cr_assert(strstr((hay), (needle)) != NULL, "expected \"%s\" in the output: %s", (needle),  \
		  e2e_describe(res))

#endif /* E2E_H */
