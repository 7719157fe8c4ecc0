/*
 * os.h — the minnow user runtime (lib/os): what every program may call
 * beyond the C library.
 */
#pragma once

#include <stdint.h>

#include <minnow/args.h>
#include <minnow/errors.h>

/* The argument page the kernel gave this process. */
const struct minnow_args *os_args(void);

/* Value of "key=value" on the command line (the last one wins), or NULL. */
const char *os_getarg(const char *key, char *buf, unsigned buflen);

/* The cycle counter at this program's first instruction. */
extern uint64_t os_start_cycles;

/* The heap behind malloc (lib/os/malloc.c, heap.h). */
struct heap_stats;
void os_heap_stats(struct heap_stats *out);

/* Print an error chain to stderr, with where it was caught. */
#define DEBUG_ERR(err, context) os_print_err((err), __FILE__, __LINE__, (context))
void os_print_err(errval_t err, const char *file, int line, const char *context);

/* Read the cycle counter (guest instructions under -icount). */
static inline uint64_t os_cycles(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, pmccntr_el0" : "=r"(v) :: "memory");
    return v;
}
