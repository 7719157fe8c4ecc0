/*
 * stdio.c — picolibc's stdin, stdout and stderr for minnow programs.
 *
 * Output is collected into lines and sent with one debug-print system call
 * per line (or per full buffer); input polls the kernel console. The
 * terminal server of M4 will replace both with messages.
 */
#include <stdio.h>

#include "os.h"
#include "syscall.h"

#define LINE_MAX_BYTES  256

static char line[LINE_MAX_BYTES];
static unsigned used;

static int console_flush(FILE *f)
{
    (void)f;
    if (used > 0)
        sys_debug_print(line, used);
    used = 0;
    return 0;
}

static int console_put(char c, FILE *f)
{
    line[used++] = c;
    if (c == '\n' || used == sizeof line)
        console_flush(f);
    return (unsigned char)c;
}

void (*stdio_wait_hook)(void);

/* Blocks until a character arrives, and echoes it, as a terminal in cooked
 * mode would. A process with threads waits through stdio_wait_hook (its
 * other threads go on meanwhile); one without yields the core, and does
 * not link the thread library for it. */
static int console_get(FILE *f)
{
    char c;
    console_flush(f);
    while (err_no(sys_debug_getchar(&c)) == SYS_ERR_NO_INPUT) {
        if (stdio_wait_hook != NULL)
            stdio_wait_hook();
        else
            sys_yield();
    }
    if (c == '\r')
        c = '\n';
    console_put(c, f);
    console_flush(f);
    return (unsigned char)c;
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
