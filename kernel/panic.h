/*
 * panic.h — stopping the core with as much information as possible.
 */
#pragma once

#include <stdint.h>

#include "trapframe.h"

__attribute__((noreturn, format(printf, 1, 2)))
void panic(const char *fmt, ...);

/* An invariant the kernel relies on; `why` names it. */
#define kassert(cond, why) do {                                               \
    if (!(cond))                                                              \
        panic("assertion failed at %s:%d: %s (%s)", __FILE__, __LINE__, #cond, why); \
} while (0)

/* For a hot function whose every call is a tail call: it needs no frame
 * record (a backtrace from a callee shows its caller instead, as for any
 * tail call), but -fno-omit-frame-pointer would push one on every call. */
#define NO_FRAME_RECORD __attribute__((optimize("omit-frame-pointer")))

/* Print pc as "0x... function+0xoff". */
void panic_print_symbol(uint64_t pc);
/* Registers of a frame, four to a line. */
void panic_dump_frame(const struct trap_frame *f);
/* Walk the frame-pointer chain from fp. */
void panic_backtrace(uint64_t pc, uint64_t fp);
__attribute__((noreturn)) void panic_halt(void);
