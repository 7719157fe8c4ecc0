/*
 * dcb.h — the kernel's record of a process (dispatcher control block).
 *
 * For now the boot processes live in a fixed table in sched.c; with the
 * capability system (issue 3) a DCB becomes a Dispatcher object retyped
 * from RAM. All fields are core-local: only this core's CPU driver touches them.
 */
#pragma once

#include <stdint.h>

#include <minnow/args.h>
#include "trapframe.h"

enum dcb_state {
    DCB_FREE = 0,
    DCB_RUNNABLE,
    DCB_STOPPED,        /* after a fault; its memory stays for inspection */
    DCB_EXITED,
};

struct dcb {
    enum dcb_state state;
    uint32_t pid;
    char name[ARGS_NAME_MAX];
    uint64_t ttbr0;             /* level-0 table | ASID << 48 */
    int64_t exit_code;
    struct trap_frame regs;     /* user state while not running */
    uint64_t tpidr_el0;         /* the user thread pointer */
    struct fpu_state fpu;
};
