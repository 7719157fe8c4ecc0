/*
 * stdio.c — picolibc's stdin, stdout and stderr for minnow programs.
 *
 * Output is collected into lines (a buffer per thread, so lines of threads
 * printing at once never mix) and sent when a line ends, the buffer
 * fills, before stdin is read, and at exit (the exiting thread's):
 * to the terminal chosen by term.h's rules, one message per line. Input is
 * read a line at a time (SVC_TERM_GETLINE, or the in-process terminal) and
 * handed to picolibc a character at a time. Where RPC cannot be used — in
 * the thread library's critical section, for a dying process's last words,
 * without a terminal service, or when a call to it fails — the kernel's
 * debug console takes the bytes instead, so nothing is lost.
 */
#include <stdio.h>
#include <stdlib.h>

#include "os.h"
#include "ram.h"
#include "rpc.h"
#include "svc.h"
#include "syscall.h"
#include "term.h"
#include "thread.h"
#include "thread_internal.h"

#define OUT_MAX_BYTES   256
#define IN_MAX_BYTES    256
#define CONSOLE_POLL_US 2000

enum route { ROUTE_UNDECIDED, ROUTE_KERNEL, ROUTE_SERVER };

static const struct os_term_local *local;      /* set once, by init's terminal */
static volatile enum route route;               /* decided on first use; racing deciders agree */
static volatile bool last_words;

/* Each thread collects its own line, so that threads printing at once
 * never mix inside a line (picolibc hands us one character at a time);
 * out_lock only orders whole sends. */
static _Thread_local char out[OUT_MAX_BYTES];
static _Thread_local unsigned used;
static struct thread_mutex out_lock = THREAD_MUTEX_INITIALIZER("stdout");
static bool exit_hooked;                        /* guarded by out_lock */

static struct thread_mutex in_lock = THREAD_MUTEX_INITIALIZER("stdin");
static char in[IN_MAX_BYTES];                   /* guarded by in_lock */
static unsigned in_pos, in_len;                 /* guarded by in_lock */

static char raw[OUT_MAX_BYTES];                 /* the direct path's line: one thread only
                                                   (critical section or a dying process) */
static unsigned raw_used;

void os_term_set_local(const struct os_term_local *t)
{
    local = t;
}

static bool direct(void)
{
    return last_words || thread_in_critical;
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

/* The terminal service, if our spawner offers one and we can reach it.
 * Connecting happens here, on first output or input, never at start. */
static bool server_ok(void)
{
    if (route == ROUTE_UNDECIDED) {
        struct rpc_chan *c;
        bool offered = getenv(OS_TERM_ENV) != NULL;
        route = offered && err_is_ok(ram_init_from_memcn()) && err_is_ok(svc_chan(&c))
                ? ROUTE_SERVER : ROUTE_KERNEL;      /* a channel needs slots, slots need RAM */
    }
    return route == ROUTE_SERVER;
}

static void send_out(const char *s, size_t len)
{
    if (local != NULL)
        local->write(s, len);
    else if (!server_ok() || err_is_fail(svc_term_write(s, len)))
        kernel_write(s, len);
}

/* Send this thread's line; the first send also arranges the one at exit. */
static void flush_line(void)
{
    if (used == 0)
        return;
    thread_mutex_lock(&out_lock);
    if (!exit_hooked)
        exit_hooked = atexit(flush_line) == 0;
    send_out(out, used);
    used = 0;
    thread_mutex_unlock(&out_lock);
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
    while (err_no(err = sys_debug_getchar(&c)) == SYS_ERR_NO_INPUT)
        thread_sleep_us(CONSOLE_POLL_US);
    if (err_is_fail(err))
        return 0;
    buf[0] = c == '\r' ? '\n' : c;
    kernel_write(buf, 1);
    return 1;
}

static unsigned server_read(char *buf, size_t max)
{
    struct rpc_chan *c;
    struct rpc_result res = { 0 };
    struct rpc_call_args a = { .type = SVC_TERM_GETLINE, .resp = buf, .resp_max = max,
                               .timeout_us = THREAD_NO_DEADLINE };
    if (err_is_fail(svc_chan(&c)) || err_is_fail(rpc_call(c, &a, &res)))
        return 0;
    return (unsigned)res.resp_len;
}

static unsigned fill(void)
{
    if (local != NULL)
        return (unsigned)local->read_line(in, sizeof in);
    if (server_ok())
        return server_read(in, sizeof in);
    return kernel_read(in);
}

static int console_get(FILE *f)
{
    if (direct())
        return _FDEV_EOF;
    console_flush(f);           /* a prompt appears before the wait */
    thread_mutex_lock(&in_lock);
    if (in_pos == in_len) {
        in_pos = 0;
        in_len = fill();
    }
    int c = in_pos < in_len ? (unsigned char)in[in_pos++] : _FDEV_EOF;
    thread_mutex_unlock(&in_lock);
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
