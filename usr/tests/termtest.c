/*
 * termtest.c — the terminal server seen from a process init spawned (run
 * it from init's console: "run termtest"; tests/boot/termtest.test types
 * the input). Each step prints what it got, so the scenario checks the
 * real bytes: a line through fgets (and backspace editing), characters
 * through getchar from the same cooked line, single characters through
 * SVC_TERM_GETCHAR, output printed a character at a time and by lines,
 * stdout and stderr in order, a line longer than stdio's buffer intact,
 * a reader killed while it waits takes no input, and a last line without
 * '\n' sent at exit.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "os.h"
#include "paging.h"
#include "ram.h"
#include "svc.h"
#include "thread.h"

static void read_line(void)
{
    char line[128];
    printf("termtest: type a line\n");
    if (fgets(line, sizeof line, stdin) == NULL) {
        printf("termtest: fgets: end of input\n");
        return;
    }
    size_t n = strcspn(line, "\n");
    printf("termtest: fgets got \"%.*s\" (%s)\n", (int)n, line, line[n] == '\n' ? "whole line" : "no newline");
}

static void read_stdio_chars(void)
{
    printf("termtest: type two characters and return\n");
    int a = getchar(), b = getchar(), nl = getchar();
    printf("termtest: getchar got %d %d %d\n", a, b, nl);
}

static void read_service_chars(void)
{
    char c[4] = { 0 };
    printf("termtest: type three characters and return\n");
    errval_t err = SYS_ERR_OK;
    for (int i = 0; i < 4 && err_is_ok(err); i++)
        err = svc_term_getchar(&c[i]);
    if (err_is_fail(err))
        DEBUG_ERR(err, "termtest: SVC_TERM_GETCHAR");
    printf("termtest: SVC_TERM_GETCHAR got '%c' '%c' '%c' %d (%s)\n", c[0], c[1], c[2], c[3],
           err_getstring(err));
}

static void print_ways(void)
{
    const char *s = "termtest: printed one character at a time";
    for (size_t i = 0; s[i] != '\0'; i++)
        putchar(s[i]);
    putchar('\n');
    printf("termtest: line one\ntermtest: line two\n");
    fprintf(stderr, "termtest: stderr between\n");
    printf("termtest: line three\n");
    printf("termtest: long ");
    for (int i = 0; i < 40; i++)
        printf("%03d-----", i);        /* 8 bytes each: 320 in all, more than one buffer */
    printf(" end\n");
}

/* Threads printing at once: every line must come out whole. */
static int print_lines(void *arg)
{
    int k = (int)(intptr_t)arg;
    char fill[41];
    memset(fill, '0' + k, 40);
    fill[40] = '\0';
    for (int j = 0; j < 10; j++) {
        printf("termtest: thread %d line %d %s\n", k, j, fill);
        thread_yield();
    }
    return 0;
}

static void threads_print(void)
{
    struct thread *t[4];
    for (int k = 0; k < 4; k++) {
        errval_t err = thread_create(&t[k], print_lines, (void *)(intptr_t)(k + 1));
        if (err_is_fail(err)) {
            DEBUG_ERR(err, "termtest: thread_create");
            t[k] = NULL;
        }
    }
    for (int k = 0; k < 4; k++)
        if (t[k] != NULL)
            thread_join(t[k], NULL);
}

/* A reader that dies while its read waits must not take the next line:
 * a child ("termtest read") queues a read, is killed, and the line typed
 * next comes to us. */
static void dead_reader(void)
{
    uint32_t pid = 0;
    struct svc_proc_status st;
    errval_t err = svc_spawn("termtest read", &pid);
    if (err_is_ok(err)) {
        thread_sleep_us(100 * 1000);        /* time for its read to join the queue */
        err = svc_kill(pid);
    }
    if (err_is_ok(err))
        err = svc_wait(pid, 0, &st);
    printf("termtest: reader killed (%s); type a line\n", err_getstring(err));
    char line[64];
    if (fgets(line, sizeof line, stdin) != NULL)
        printf("termtest: after the kill we got \"%.*s\"\n", (int)strcspn(line, "\n"), line);
}

int main(int argc, char **argv)
{
    errval_t attached = svc_term_attach();     /* stdio through init's terminal */
    if (argc == 2 && strcmp(argv[1], "read") == 0) {
        char line[64];
        if (fgets(line, sizeof line, stdin) != NULL)
            printf("termtest: the killed reader got a line\n");
        return 0;
    }
    errval_t err = ram_init_from_memcn();
    if (err_is_ok(err))
        err = paging_init();            /* thread stacks */
    if (err_is_fail(err))
        DEBUG_ERR(err, "termtest: starting paging");
    if (err_is_fail(attached))
        DEBUG_ERR(attached, "termtest: attaching stdio to the terminal service");
    read_line();
    read_line();
    read_stdio_chars();
    read_service_chars();
    print_ways();
    threads_print();
    dead_reader();
    printf("termtest: flushed at exit");
    return 0;
}
