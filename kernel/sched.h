/*
 * sched.h — the per-core run queue: round robin over runnable dispatchers,
 * switched by the timer tick, yield, exit, faults and deleted dispatchers.
 */
#pragma once

#include <minnow/errors.h>
#include "dcb.h"

/* Make a set-up DCB runnable (it joins the end of the run queue). */
void sched_make_runnable(struct dcb *d);

/* A DCB's Dispatcher object is being deleted: take it off the run queue
 * and free its ASID. */
void sched_dcb_destroyed(struct dcb *d);

/* Take another, runnable DCB off the run queue (DISPATCHER_CMD_STOP). */
void sched_suspend(struct dcb *d);

/* Make a waiting DCB runnable; it returns from SYS_WAIT with `result`. */
void sched_wake(struct dcb *d, errval_t result);

/* The tick: wake every waiting DCB whose deadline has passed. */
void sched_wake_expired(void);

struct dcb *sched_current(void);

/* Load d's FP/SIMD state into the registers if another's is there (saving
 * that one) and let EL0 use them: the FP/SIMD trap, and anything that
 * reads or writes the live registers on d's behalf (upcalls, SYS_RESUME). */
extern struct dcb *sched_fpu_owner;
extern bool sched_fpu_user_off;
void sched_fpu_claim_slow(struct dcb *d);
static inline void sched_fpu_claim(struct dcb *d)
{
    if (d != sched_fpu_owner || sched_fpu_user_off)
        sched_fpu_claim_slow(d);
}
/* The same from the FP/SIMD access trap, which marks d as using them. */
void sched_fpu_trap(struct dcb *d);
/* The same, for the LMP fast path: read only outside sched.c. */
extern struct dcb *sched_running;

/* Called with the frame of the current process (its DCB's regs, where
 * vectors.S saved it). Each may switch: the exception return then goes to
 * the new sched_running, and `f` stays the old process's saved state. */
void sched_tick(struct trap_frame *f);
void sched_yield(struct trap_frame *f);
/* SYS_WAIT: the current process leaves the run queue until sched_wake. */
void sched_wait_current(struct trap_frame *f, uint64_t deadline);
/* Run `next` (runnable) now; the current process stays in the run queue. */
void sched_switch_to(struct trap_frame *f, struct dcb *next);
/* The same without its checks, for the LMP fast path, which has made them
 * already: a process is running, and `next` is runnable and not it. */
void sched_switch_checked(struct dcb *next);
void sched_exit_current(struct trap_frame *f, int64_t code);
void sched_stop_current(struct trap_frame *f, const char *why);
/* After a system call that may have destroyed the caller's dispatcher. */
void sched_continue_or_switch(struct trap_frame *f);

/* Enter the first process; never returns. */
__attribute__((noreturn)) void sched_start(void);
