/*
 * dispatcher.h — invoking a Dispatcher capability: what a spawner and a
 * process manager do with a process's kernel-side state
 * (include/minnow/dispatcher.h has its states; captypes.h the commands).
 */
#pragma once

#include <minnow/dispatcher.h>
#include "cap.h"

struct dispatcher_status {
    enum dcb_state state;
    int64_t exit_code;          /* once DCB_EXITED */
    uint64_t ticks;             /* timer ticks it has run for */
};

/* Give a fresh dispatcher its CSpace root (an L1 CNode) and VSpace root (a
 * level-0 VNode), both copied into it, and its first pc, sp and x0. It is
 * then DCB_SUSPENDED: dispatcher_run starts it. */
static inline errval_t dispatcher_setup(struct capref disp, struct capref root_cnode,
                                        struct capref vroot, uint64_t pc, uint64_t sp, uint64_t x0)
{
    return sys_invoke(capref_addr(disp), DISPATCHER_CMD_SETUP, capref_addr(root_cnode),
                      capref_addr(vroot), pc, sp, x0, 0).err;
}

/* The pid and name the kernel prints in its reports about the process. */
static inline errval_t dispatcher_set_name(struct capref disp, uint32_t pid, const char *name)
{
    uint64_t w[DISPATCHER_NAME_MAX / 8] = { 0 };
    for (size_t i = 0; i < DISPATCHER_NAME_MAX - 1 && name[i] != '\0'; i++)
        ((char *)w)[i] = name[i];
    return sys_invoke(capref_addr(disp), DISPATCHER_CMD_SET_NAME, pid, w[0], w[1], w[2], w[3], 0).err;
}

/* Start or resume a suspended dispatcher. */
static inline errval_t dispatcher_run(struct capref disp)
{
    return sys_invoke(capref_addr(disp), DISPATCHER_CMD_RUN, 0, 0, 0, 0, 0, 0).err;
}

/* Suspend another, runnable dispatcher. */
static inline errval_t dispatcher_stop(struct capref disp)
{
    return sys_invoke(capref_addr(disp), DISPATCHER_CMD_STOP, 0, 0, 0, 0, 0, 0).err;
}

static inline errval_t dispatcher_status(struct capref disp, struct dispatcher_status *st)
{
    struct sysret4 r = sys_invoke(capref_addr(disp), DISPATCHER_CMD_STATUS, 0, 0, 0, 0, 0, 0);
    if (err_is_ok(r.err))
        *st = (struct dispatcher_status){ (enum dcb_state)r.r1, (int64_t)r.r2, r.r3 };
    return r.err;
}
