/*
 * dcb.h — the kernel's record of a process (dispatcher control block).
 *
 * A DCB is the memory of a Dispatcher object (OBJSIZE_DISPATCHER bytes,
 * retyped from RAM and set up by DISPATCHER_CMD_SETUP, or allocated at boot
 * for the boot programs). It holds a
 * copy of the process's root CNode capability, which is how the kernel
 * finds the CSpace of the caller of an invocation, and may hold a copy of
 * its dispatcher frame (LMP receive buffers, kernel/lmp.c). All fields are
 * core-local: only this core's CPU driver touches them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/args.h>
#include <minnow/captypes.h>
#include <minnow/dispatcher.h>
#include <minnow/lmp.h>
#include "cap/cap.h"
#include "trapframe.h"

struct dcb {
    struct fpu_state fpu;       /* first: its 16-byte alignment */
    struct trap_frame regs;     /* user state: the live frame while running (vectors.S) */
    struct cte cspace;          /* the root CNode (L1CNode capability) */
    struct cte vspace;          /* the level-0 VNode in TTBR0, kept alive by this copy */
    struct cte dispframe;       /* the dispatcher frame (LMP buffers, lmp.h), or empty */
    void *lmp_frame;            /* its kernel address and buffer count, valid while */
    uint32_t lmp_buffers;       /* dispframe is not empty (set with it, kernel/lmp.c) */
    uint32_t lmp_epoch[LMP_MAX_BUFFERS];   /* per buffer: EndPoints made before its last
                                              reset (DISPATCHER_CMD_BUFFER_RESET) are stale */
    uint8_t lmp_park;           /* 1 + the buffer whose next message goes into `regs`
                                   (LMP_SEND_RECV), or 0; only while not running (sched.c) */
    struct dcb *next, *prev;    /* the run queue while DCB_RUNNABLE; the wait list while DCB_WAITING */
    uint64_t wait_deadline;     /* CNTVCT_EL0 value ending a SYS_WAIT; 0: none */
    enum dcb_state state;       /* include/minnow/dispatcher.h */
    uint32_t pid;               /* for reports: the process manager's, or the boot loader's */
    uint16_t asid;              /* asid.h; 0 until set up */
    bool owned;                 /* set up by a process, which learns of its exit itself */
    uint64_t ticks;             /* timer ticks it was running at */
    char name[ARGS_NAME_MAX];
    uint64_t ttbr0;             /* level-0 table | ASID << 48 */
    int64_t exit_code;
    uint64_t tpidr_el0;         /* the user thread pointer */

    /* The process's upcall (upcall.c, include/minnow/upcall.h): where the
     * kernel enters it, on which stack, and where it saves the interrupted
     * state. In the upcall, ticks make no upcalls and a fault stops it. */
    uint64_t upcall_entry;      /* 0: faults stop the process, ticks just switch */
    uint64_t upcall_stack;
    uint64_t upcall_save;       /* a user struct upcall_ctx */
    bool in_upcall;
    uint8_t fpu_hot;            /* switches left to load FP/SIMD eagerly (sched.c) */
};

_Static_assert(offsetof(struct dcb, regs) == DCB_REGS, "vectors.S finds the frame at DCB_REGS");
_Static_assert(DCB_REGS % 16 == 0, "the frame is SP-addressed: 16-byte aligned in a page-aligned DCB");
_Static_assert(sizeof(struct dcb) <= OBJSIZE_DISPATCHER, "a DCB fits its Dispatcher object");
