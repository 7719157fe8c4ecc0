/*
 * upcall.h — how the kernel hands control to a dispatcher (DESIGN.md §6),
 * shared by the kernel (kernel/upcall.c) and user space (lib/os/thread.c).
 *
 * A process that registers an upcall (SYS_UPCALL_SET: entry, stack, save
 * area) is told when something happens to the code it was running:
 *
 *   UPCALL_FAULT    a synchronous fault (abort, alignment, undefined
 *                   instruction, breakpoint) in user mode;
 *   UPCALL_PREEMPT  the timer tick took the processor away; the process runs
 *                   again from its upcall, not from where it stopped.
 *
 * The kernel writes the interrupted state (every register, FP/SIMD too) to
 * the save area, then enters `entry` on the upcall stack with
 *   x0 = reason, x1 = save area, x2 = fault address, x3 = ESR (0 for preempt).
 * From then until SYS_RESUME the process is "in its upcall": the tick no
 * longer makes upcalls (it resumes the upcall code where it stopped), and a
 * fault stops the process with a kernel report. SYS_RESUME(ctx, flag) loads
 * a whole register state from user memory — the saved one, or any thread's —
 * and leaves the upcall; it can also clear a word of user memory in the same
 * step (the thread library's "in the scheduler" flag), which no user-mode
 * instruction sequence could do atomically with the jump.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define UPCALL_FAULT    1
#define UPCALL_PREEMPT  2

/* The whole user register state. Its first part has the layout of the
 * kernel's FP/SIMD save area and the rest that of its trap frame, so the
 * kernel copies each with one store sequence (static-asserted there). */
struct upcall_ctx {
    __uint128_t q[32];
    uint64_t fpsr, fpcr;
    uint64_t x[31];
    uint64_t sp, pc;
    uint64_t pstate;        /* only N, Z, C and V are taken from user space */
    uint64_t tpidr;         /* TPIDR_EL0, the thread pointer */
    uint64_t reserved;
} __attribute__((aligned(16)));

#define UPCALL_PSTATE_USER_MASK 0xf0000000ul    /* NZCV */

_Static_assert(sizeof(struct upcall_ctx) == 816, "upcall_ctx layout is ABI");
_Static_assert(offsetof(struct upcall_ctx, x) == 528, "upcall_ctx layout is ABI");
