/*
 * term.h — how stdin, stdout and stderr reach the terminal (stdio.c), and
 * the hooks that change it. docs/terminal.md has the rules.
 *
 * A process's output goes, in order of preference: to an in-process
 * terminal (init, which serves the terminal, registers one), to init's
 * terminal service over RPC (a process init spawned: the environment has
 * OS_TERM_ENV), or to the kernel's debug console. Crash reports and code
 * in the thread library's critical section always use the kernel console.
 */
#pragma once

#include <stddef.h>

#define OS_TERM_ENV "MINNOW_TERM"   /* set (to "init") in a child whose spawner serves SVC_TERM_* */

/* An in-process terminal: write bytes in one piece; read one line (with
 * its '\n' if it fits in max), waiting for it; 0 bytes: end of input. */
struct os_term_local {
    void (*write)(const char *s, size_t len);
    size_t (*read_line)(char *buf, size_t max);
};

/* Route this process's stdio through `t` from now on (init's terminal). */
void os_term_set_local(const struct os_term_local *t);

/* The process is about to die (a fault report, thread_fatal): from now on
 * print straight to the kernel console, and send what is buffered there. */
void os_stdio_last_words(void);
