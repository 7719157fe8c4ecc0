/*
 * dispatcher.c — making a retyped Dispatcher into a process, and running,
 * suspending and watching it (include/minnow/dispatcher.h has its states).
 *
 * SETUP copies the root CNode and the level-0 VNode capabilities into the
 * DCB (so the objects live as long as the dispatcher does), gives it an
 * ASID and its first registers. Whoever set it up owns it: the kernel does
 * not report its exit (the owner reads the code with STATUS), only faults.
 * STOP suspends a runnable or a waiting (SYS_WAIT) dispatcher. The LMP
 * commands SET_FRAME and ENDPOINT are in endpoint.c.
 */
#include "dispatcher.h"

#include "asid.h"
#include "cspace.h"
#include "dcb.h"
#include "endpoint.h"
#include "memlayout.h"
#include "mmu.h"
#include "sched.h"
#include "string.h"

/* The lowest address above user space: user addresses are below 2^48. */
#define USER_LIMIT (1ull << 48)

static struct dcb *dcb_of(const struct cte *target)
{
    return phys_to_virt(target->cap.base);
}

static errval_t check_setup(const struct dcb *d, const struct cte *root, const struct cte *vroot,
                            const struct trap_frame *f)
{
    if (d->state != DCB_NEW || d->asid != 0)
        return DISP_ERR_ALREADY_SET_UP;
    if (root->cap.type != OBJ_L1CNODE)
        return DISP_ERR_BAD_CSPACE;
    if (vroot->cap.type != OBJ_VNODE_L0)
        return DISP_ERR_BAD_VSPACE;
    if (f->x[4] >= USER_LIMIT || f->x[5] >= USER_LIMIT || f->x[5] % 16 != 0)
        return DISP_ERR_BAD_ENTRY;
    return SYS_ERR_OK;
}

static errval_t setup(const struct capability *caller_root, struct dcb *d, struct trap_frame *f)
{
    struct cte *root, *vroot;
    errval_t err = cspace_lookup(caller_root, f->x[2], &root);
    if (err_is_ok(err))
        err = cspace_lookup(caller_root, f->x[3], &vroot);
    if (err_is_ok(err))
        err = check_setup(d, root, vroot, f);
    if (err_is_ok(err))
        err = asid_alloc(&d->asid);
    if (err_is_fail(err))
        return err;
    cap_insert(&d->cspace, &root->cap);
    cap_insert(&d->vspace, &vroot->cap);
    d->ttbr0 = vroot->cap.base | ((uint64_t)d->asid << 48);
    memset(&d->regs, 0, sizeof d->regs);
    d->regs.elr = f->x[4];
    d->regs.sp = f->x[5];
    d->regs.spsr = 0;           /* EL0t, interrupts unmasked */
    d->regs.x[0] = f->x[6];
    d->owned = true;
    d->state = DCB_SUSPENDED;
    return SYS_ERR_OK;
}

static void set_name(struct dcb *d, const struct trap_frame *f)
{
    _Static_assert(DISPATCHER_NAME_MAX == ARGS_NAME_MAX && DISPATCHER_NAME_MAX == 4 * 8,
                   "the name fills x3..x6 and the DCB's name");
    d->pid = (uint32_t)f->x[2];
    memcpy(d->name, &f->x[3], DISPATCHER_NAME_MAX);
    d->name[DISPATCHER_NAME_MAX - 1] = '\0';
}

static errval_t run(struct dcb *d)
{
    if (d->state == DCB_NEW)
        return DISP_ERR_NOT_SET_UP;
    if (d->state != DCB_SUSPENDED)
        return DISP_ERR_NOT_SUSPENDED;
    sched_make_runnable(d);
    return SYS_ERR_OK;
}

static errval_t stop(struct dcb *d)
{
    if (d == sched_current())
        return DISP_ERR_IS_CALLER;
    if (d->state != DCB_RUNNABLE && d->state != DCB_WAITING)
        return DISP_ERR_NOT_RUNNABLE;
    sched_suspend(d);
    return SYS_ERR_OK;
}

errval_t dispatcher_invoke(const struct capability *root, struct cte *target, struct trap_frame *f)
{
    if (target->cap.type != OBJ_DISPATCHER)
        return CAP_ERR_WRONG_TYPE;
    struct dcb *d = dcb_of(target);
    if (f->x[1] == DISPATCHER_CMD_STATUS) {
        f->x[1] = d->state;
        f->x[2] = (uint64_t)d->exit_code;
        f->x[3] = d->ticks;
        return SYS_ERR_OK;
    }
    if (!(target->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    switch (f->x[1]) {
    case DISPATCHER_CMD_SETUP: return setup(root, d, f);
    case DISPATCHER_CMD_SET_NAME: set_name(d, f); return SYS_ERR_OK;
    case DISPATCHER_CMD_RUN: return run(d);
    case DISPATCHER_CMD_STOP: return stop(d);
    case DISPATCHER_CMD_SET_FRAME: return dispatcher_set_frame(root, d, f);
    case DISPATCHER_CMD_ENDPOINT: return dispatcher_endpoint(root, target, d, f);
    case DISPATCHER_CMD_BUFFER_RESET: return dispatcher_buffer_reset(d, f);
    default: return CAP_ERR_UNKNOWN_COMMAND;
    }
}
