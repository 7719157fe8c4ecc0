/*
 * trapframe.h — the user (or kernel) register state saved on exception entry.
 *
 * vectors.S stores it on every entry from EL0 into the running process's
 * DCB (struct dcb `regs`, at DCB_REGS) and returns from the running one's,
 * so a context switch (sched.c) copies no frame. Kernel faults and kernel
 * interrupts push one on the kernel stack instead.
 */
#pragma once

#define FRAME_X30   240
#define FRAME_SP    248
#define FRAME_ELR   256
#define FRAME_SPSR  264
#define FRAME_SIZE  272
#define DCB_REGS    528     /* offsetof(struct dcb, regs), checked in dcb.h */

#ifndef __ASSEMBLY__
#include <stddef.h>
#include <stdint.h>

struct trap_frame {
    uint64_t x[31];
    uint64_t sp;        /* SP_EL0 (or the interrupted SP_EL1 for kernel faults) */
    uint64_t elr;
    uint64_t spsr;
};

_Static_assert(offsetof(struct trap_frame, x[30]) == FRAME_X30, "frame layout");
_Static_assert(offsetof(struct trap_frame, sp) == FRAME_SP, "frame layout");
_Static_assert(offsetof(struct trap_frame, elr) == FRAME_ELR, "frame layout");
_Static_assert(offsetof(struct trap_frame, spsr) == FRAME_SPSR, "frame layout");
_Static_assert(sizeof(struct trap_frame) == FRAME_SIZE, "frame layout");
_Static_assert(FRAME_SIZE % 16 == 0, "the stack stays 16-byte aligned");

/* Copy a frame between 16-byte aligned places (a DCB's frame and an
 * upcall save area), a register pair per load and store, fully unrolled:
 * every fault upcall and resume does it, and a loop would cost twice. */
static inline void trap_frame_copy(struct trap_frame *dst, const struct trap_frame *src)
{
    __uint128_t *d = (__uint128_t *)dst;
    const __uint128_t *s = (const __uint128_t *)src;
#pragma GCC unroll 17
    for (size_t i = 0; i < FRAME_SIZE / 16; i++)
        d[i] = s[i];
}

/* FP/SIMD state, saved only when switching between processes. */
struct fpu_state {
    __uint128_t q[32];
    uint64_t fpsr, fpcr;
};

void fpu_save(struct fpu_state *s);
void fpu_restore(const struct fpu_state *s);

/* Leave the kernel through the user-return path into the running process
 * (sched_running), dropping the kernel stack. */
__attribute__((noreturn)) void kernel_exit_to_user(void);
#endif
