/* SPDX-License-Identifier: MIT */
/*
 * check.h - CHECK() and MUST() for the standalone test programs:
 * count a failed condition, or end on a failed libvmm call.
 */
#ifndef TESTS_CHECK_H
#define TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "vmm/vmm.h"

#ifndef CHECK_PROG
#error "define CHECK_PROG, the program's name for messages, before including check.h"
#endif

/* Failed CHECK()s so far: main() exits non-zero if any. */
static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, CHECK_PROG ": FAIL %s:%d: ", __FILE__, __LINE__);          \
			fprintf(stderr, __VA_ARGS__);                                              \
			fprintf(stderr, "\n");                                                     \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

#define MUST(call)                                                                                 \
	do {                                                                                       \
		int r_ = (call);                                                                   \
		if (r_ != 0) {                                                                     \
			fprintf(stderr, CHECK_PROG ": %s:%d: %s: %s: %s\n", __FILE__, __LINE__,    \
				#call, vmm_strerror(r_), vmm_last_error());                        \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#endif
