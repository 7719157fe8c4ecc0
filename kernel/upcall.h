/*
 * upcall.h — entering a dispatcher's upcall (include/minnow/upcall.h) and
 * the two system calls behind it, SYS_UPCALL_SET and SYS_RESUME.
 */
#pragma once

#include <stdint.h>

#include <minnow/errors.h>

#include "dcb.h"
#include "trapframe.h"

enum upcall_result {
    UPCALL_ENTERED,         /* the frame now enters the upcall */
    UPCALL_NOT_TAKEN,       /* none registered, or already in it */
    UPCALL_BAD_SAVE_AREA,   /* the save area is no longer writable */
};

/* Save the state in `f` to d's save area and make `f` enter its upcall with
 * `reason` (UPCALL_FAULT or UPCALL_PREEMPT). `d` must be the running
 * process (its FP/SIMD state and TPIDR_EL0 are live in the registers). */
enum upcall_result upcall_enter(struct dcb *d, struct trap_frame *f, uint64_t reason,
                                uint64_t far, uint64_t esr);

void sys_upcall_set(struct trap_frame *f);
void sys_resume(struct trap_frame *f);

/* Leaving the upcall from another system call (VNODE_MAP_RESUME): first
 * check that `d` is in its upcall and its save area is readable, then,
 * once the call has done its work, load the state the upcall saved into
 * `f` as SYS_RESUME(save area, 0) would. */
errval_t upcall_resume_saved_check(const struct dcb *d);
void upcall_resume_saved(struct dcb *d, struct trap_frame *f);
