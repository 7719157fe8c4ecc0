/*
 * term.h — how stdin, stdout and stderr reach the terminal (stdio.c), and
 * the hooks that change it. docs/terminal.md has the rules.
 *
 * A process's output goes, in order of preference: to an in-process
 * terminal (init, which serves the terminal, registers one), to init's
 * terminal service over RPC (stdio connects on first use with
 * svc_term_attach, which works in a process init spawned: its environment
 * has OS_TERM_ENV), or to the kernel's debug console. Crash reports and code in the thread
 * library's critical section always use the kernel console.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <minnow/errors.h>

#define OS_TERM_ENV "MINNOW_TERM"   /* set (to "init") in a child whose spawner serves SVC_TERM_* */

/* An in-process terminal: write bytes in one piece; read one line (with
 * its '\n' if it fits in max), waiting for it; 0 bytes: end of input. */
struct os_term_local {
    void (*write)(const char *s, size_t len);
    size_t (*read_line)(char *buf, size_t max);
};

/* Route this process's stdio through `t` from now on (init's terminal). */
void os_term_set_local(const struct os_term_local *t);

/* A terminal in another process (svc.c's, over RPC): errors fall back to
 * the kernel console. read_line: as above, the byte count in *n. */
struct os_term_remote {
    errval_t (*write)(const char *s, size_t len);
    errval_t (*read_line)(char *buf, size_t max, size_t *n);
};
void os_term_set_remote(const struct os_term_remote *t);

/* What stdio needs from the thread library, which sets it when a process
 * starts threads (stdio links no thread code itself). */
enum os_stdio_lock { OS_STDIO_OUT, OS_STDIO_IN };
struct os_stdio_threads {
    void (*lock)(enum os_stdio_lock which);
    void (*unlock)(enum os_stdio_lock which);
    bool (*in_critical)(void);
    void (*wait)(void);             /* between two polls of the kernel console */
};
extern const struct os_stdio_threads *os_stdio_threads;

/* The process is about to die (a fault report, thread_fatal): from now on
 * print straight to the kernel console, and send what is buffered there. */
void os_stdio_last_words(void);
