/*
 * stdio.c — picolibc's stdin, stdout and stderr for minnow programs.
 *
 * Output is collected into lines (a buffer per thread, so lines of threads
 * printing at once never mix) and sent when a line ends, the buffer
 * fills, before stdin is read, and at exit (the exiting thread's):
 * to the terminal chosen by term.h's rules, one message per line. Input is
 * read a line at a time (from the terminal) and handed to picolibc a
 * character at a time. Where a terminal cannot be used — in the thread
 * library's critical section, for a dying process's last words, without a
 * terminal, or when a write to it fails — the kernel's debug console takes
 * the bytes instead, so nothing is lost.
 *
 * In a process init spawned, the first line written or read connects to
 * init's terminal service (svc_term_attach, svc.c), so every program's
 * stdio goes through it and a program that never prints never connects.
 * Locks, the critical-section test and waiting come through
 * os_stdio_threads, which the thread library sets when a process starts
 * threads, so that a process without threads takes no locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os.h"
#include "svc.h"
#include "syscall.h"
#include "term.h"

#define OUT_MAX_BYTES   256
#define IN_MAX_BYTES    256

static const struct os_term_local *local;      /* set once, by init's terminal */
static const struct os_term_remote *remote;    /* set once, by svc_term_attach */
static bool connect_tried;                      /* the first use tried to connect */
static volatile bool last_words;
const struct os_stdio_threads *os_stdio_threads;   /* NULL: one thread, no locks */

/* Each thread collects its own line, so that threads printing at once
 * never mix inside a line (picolibc hands us one character at a time);
 * out_lock only orders whole sends. */
static _Thread_local char out[OUT_MAX_BYTES];
static _Thread_local unsigned used;
static _Thread_local bool sending;              /* this thread is inside a send (below) */
static bool exit_hooked;                        /* guarded by the output lock */

static char in[IN_MAX_BYTES];                   /* guarded by the input lock */
static unsigned in_pos, in_len;                 /* guarded by the input lock */

static char raw[OUT_MAX_BYTES];                 /* the direct path's line: one thread only
                                                   (critical section or a dying process) */
static unsigned raw_used;

void os_term_set_local(const struct os_term_local *t)
{
    local = t;
}

void os_term_set_remote(const struct os_term_remote *t)
{
    __atomic_store_n(&remote, t, __ATOMIC_RELEASE);     /* other threads may be printing */
}

static void lock(enum os_stdio_lock which)
{
    if (os_stdio_threads != NULL)
        os_stdio_threads->lock(which);
}

static void unlock(enum os_stdio_lock which)
{
    if (os_stdio_threads != NULL)
        os_stdio_threads->unlock(which);
}

static bool direct(void)
{
    return last_words || (os_stdio_threads != NULL && os_stdio_threads->in_critical());
}

static void kernel_write(const char *s, size_t len)
{
    while (len > 0) {
        size_t n = len < SYSCALL_PRINT_MAX ? len : SYSCALL_PRINT_MAX;
        sys_debug_print(s, n);
        s += n;
        len -= n;
    }
}

/* The terminal service, connecting on first use. Tried once: without a
 * service (init itself, a child of another spawner) or when connecting
 * fails, the fallbacks stay. While one thread connects, the others, and
 * whatever the connecting one prints meanwhile, use the fallback. */
static const struct os_term_remote *remote_term(void)
{
    const struct os_term_remote *r = __atomic_load_n(&remote, __ATOMIC_ACQUIRE);
    if (r == NULL && local == NULL && !__atomic_exchange_n(&connect_tried, true, __ATOMIC_ACQ_REL)) {
        svc_term_attach();
        r = __atomic_load_n(&remote, __ATOMIC_ACQUIRE);
    }
    return r;
}

static void send_out(const char *s, size_t len)
{
    const struct os_term_remote *r;
    if (local != NULL)
        local->write(s, len);
    else if ((r = remote_term()) == NULL || err_is_fail(r->write(s, len)))
        kernel_write(s, len);
}

/*
 * Send this thread's line; the first send also arranges the one at exit.
 * The line is sent from a copy: a send to the service waits for its
 * reply, and the waitset handlers the thread runs meanwhile may print.
 * What they print goes straight to the kernel (without the lock, which
 * this thread holds), and cannot touch the line on its way.
 */
static void flush_line(void)
{
    if (used == 0)
        return;
    if (sending) {
        kernel_write(out, used);
        used = 0;
        return;
    }
    char line[OUT_MAX_BYTES];
    unsigned n = used;
    memcpy(line, out, n);
    used = 0;
    sending = true;
    lock(OS_STDIO_OUT);
    if (!exit_hooked)
        exit_hooked = atexit(flush_line) == 0;
    send_out(line, n);
    unlock(OS_STDIO_OUT);
    sending = false;
}

/* Last words and the critical section: straight to the kernel. */
static void raw_put(char c)
{
    raw[raw_used++] = c;
    if (c == '\n' || raw_used == sizeof raw) {
        kernel_write(raw, raw_used);
        raw_used = 0;
    }
}

void os_stdio_last_words(void)
{
    last_words = true;
    kernel_write(out, used);    /* this thread's unfinished line */
    used = 0;
}

static int console_put(char c, FILE *f)
{
    (void)f;
    if (direct()) {
        raw_put(c);
        return (unsigned char)c;
    }
    out[used++] = c;
    if (c == '\n' || used == sizeof out)
        flush_line();
    return (unsigned char)c;
}

static int console_flush(FILE *f)
{
    (void)f;
    if (direct()) {
        kernel_write(raw, raw_used);
        raw_used = 0;
        return 0;
    }
    flush_line();
    return 0;
}

/* The kernel console, a character at a time, echoed as a terminal in
 * cooked mode would; 0 when it is not ours to read (the terminal driver
 * has taken it). */
static unsigned kernel_read(char *buf)
{
    char c;
    errval_t err;
    while (err_no(err = sys_debug_getchar(&c)) == SYS_ERR_NO_INPUT) {
        if (os_stdio_threads != NULL)
            os_stdio_threads->wait();   /* the process's other threads go on */
        else
            sys_yield();
    }
    if (err_is_fail(err))
        return 0;
    buf[0] = c == '\r' ? '\n' : c;
    kernel_write(buf, 1);
    return 1;
}

static unsigned fill(void)
{
    size_t n;
    const struct os_term_remote *r;
    if (local != NULL)
        return (unsigned)local->read_line(in, sizeof in);
    if ((r = remote_term()) != NULL && err_is_ok(r->read_line(in, sizeof in, &n)))
        return (unsigned)n;
    return kernel_read(in);
}

static int console_get(FILE *f)
{
    if (direct())
        return _FDEV_EOF;
    console_flush(f);           /* a prompt appears before the wait */
    lock(OS_STDIO_IN);
    if (in_pos == in_len) {
        in_pos = 0;
        in_len = fill();
    }
    int c = in_pos < in_len ? (unsigned char)in[in_pos++] : _FDEV_EOF;
    unlock(OS_STDIO_IN);
    return c;
}

static FILE console = FDEV_SETUP_STREAM(console_put, console_get, console_flush, _FDEV_SETUP_RW);

FILE *const stdin = &console;
FILE *const stdout = &console;
FILE *const stderr = &console;

static void err_out(const char *s)
{
    fputs(s, stderr);
}

void os_print_err(errval_t err, const char *file, int line_no, const char *context)
{
    err_print_chain(err_out, err, file, line_no, context);
    fflush(stderr);
}
