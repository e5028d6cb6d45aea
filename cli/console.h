/* SPDX-License-Identifier: MIT */
/* console.h - vmm-run's interactive console: the terminal in raw mode, the Ctrl-A escape. */
#ifndef VMM_RUN_CONSOLE_H
#define VMM_RUN_CONSOLE_H

#include <stdbool.h>

#include "vmm/vmm.h"

/* The escape key, Ctrl-A, as QEMU's -nographic uses it. */
#define CONSOLE_ESCAPE 0x01

/* Does a device of cfg read vmm-run's standard input (`input = stdin`)? */
bool console_wanted(const struct vmm_config *cfg);

/*
 * If standard input is a terminal: put it in raw mode (output processing
 * kept, ISIG off so Ctrl-C reaches the guest), and make fd 0 a pipe that a
 * thread of ours fills with what the terminal sends, minus the escape keys;
 * the terminal itself moves to a higher fd. Call it before the devices are
 * created, so that a device reading stdin reads the pipe; call it once.
 * Ctrl-A x calls quit(opaque) from that thread (vmm-run stops the VM; it may
 * also _exit()). From here on the terminal's settings come back on every
 * exit path: console_end(), exit(), the signals that end or stop vmm-run
 * (see console.c). Returns 1 (the console is on), 0 (standard input is not
 * a terminal: nothing changed), or a negative errno after printing why.
 */
int console_start(void (*quit)(void *opaque), void *opaque);

/*
 * Stop reading the terminal and give it back its settings. The pipe's write
 * end stays open until console_close(), so a device still holding its read
 * end sees no end of input while it is torn down. Idempotent; main thread.
 */
void console_end(void);

/* Close the pipe (after the devices are gone). Idempotent. */
void console_close(void);

/*
 * Put the terminal's saved settings back if raw mode is on; nothing else.
 * Async-signal-safe: for signal handlers and for the paths that _exit().
 */
void console_restore(void);

#endif /* VMM_RUN_CONSOLE_H */
