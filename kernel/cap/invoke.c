/*
 * invoke.c — the SYS_INVOKE system call: look the target capability up in
 * the caller's CSpace, check the command is one its type has, decode the
 * arguments and call the operation (ops.h). Results go back in x1..x3.
 * Command numbers and arguments: include/minnow/captypes.h and
 * docs/capabilities.md.
 */
#include "invoke.h"

#include "cspace.h"
#include "dispatcher.h"
#include "irq.h"
#include "map.h"
#include "ops.h"
#include "sched.h"
#include "sysreg.h"
#include "upcall.h"

static bool is_cnode_type(uint8_t type)
{
    return type == OBJ_L1CNODE || type == OBJ_L2CNODE;
}

/* CNode commands: x2 = slot in the target CNode, x3 = source capaddr. */
static errval_t invoke_cnode(const struct capability *root, struct cte *target,
                             struct trap_frame *f)
{
    uint64_t cmd = f->x[1];
    if (!(target->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    struct cte *slot;
    errval_t err = cnode_slot(&target->cap, f->x[2], &slot);
    if (err_is_fail(err))
        return err;
    if (cmd == CNODE_CMD_DELETE)
        return cap_delete(slot);
    if (cmd == CNODE_CMD_REVOKE && slot->cap.type == OBJ_ENDPOINT)
        return CAP_ERR_REVOKE_ENDPOINT;     /* see the error's text and docs/lmp.md §3 */
    if (cmd == CNODE_CMD_REVOKE)
        return cap_revoke(slot);
    struct cte *src;
    err = cspace_lookup(root, f->x[3], &src);
    if (err_is_fail(err))
        return err;
    if (cmd == CNODE_CMD_COPY)
        return cap_copy(slot, src);
    if (f->x[4] > CAPRIGHTS_ALL)
        return CAP_ERR_RIGHTS_INCREASE;
    return cap_mint(slot, src, (uint8_t)f->x[4], f->x[5]);
}

/* x2 type, x3 offset, x4 object size, x5 count, x6 dest CNode, x7 first slot. */
static errval_t invoke_retype(const struct capability *root, struct cte *target,
                              struct trap_frame *f)
{
    struct cte *dest_cnode;
    errval_t err = cspace_lookup(root, f->x[6], &dest_cnode);
    if (err_is_fail(err))
        return err;
    if (!is_cnode_type(dest_cnode->cap.type))
        return cte_is_empty(dest_cnode) ? CAP_ERR_SLOT_EMPTY : CAP_ERR_NOT_A_CNODE;
    if (f->x[2] >= OBJ_COUNT)
        return CAP_ERR_RETYPE_TYPE;
    struct retype_args a = {
        .type = (enum objtype)f->x[2], .offset = f->x[3], .objsize = f->x[4],
        .count = f->x[5], .dest_first = f->x[7],
    };
    return cap_retype(target, &dest_cnode->cap, &a);
}

/* x2 entry, x3 source, x4 rights (| VNODE_MAP_RESUME), x5 offset,
 * x6 count | dest slot << 32, x7 dest CNode. With VNODE_MAP_RESUME a
 * successful map ends the upcall (captypes.h); *resumed says it did, and
 * then `f` is the state the upcall saved, whose x0 must stay. Every check,
 * the upcall's included, comes before the map. */
static errval_t invoke_map(const struct capability *root, struct cte *target, struct trap_frame *f,
                           bool *resumed)
{
    struct cte *src, *dest_cnode, *dest;
    errval_t err = cspace_lookup(root, f->x[3], &src);
    if (err_is_ok(err))
        err = cspace_lookup(root, f->x[7], &dest_cnode);
    if (err_is_fail(err))
        return err;
    if (!is_cnode_type(dest_cnode->cap.type))
        return cte_is_empty(dest_cnode) ? CAP_ERR_SLOT_EMPTY : CAP_ERR_NOT_A_CNODE;
    if (!(dest_cnode->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    err = cnode_slot(&dest_cnode->cap, f->x[6] >> 32, &dest);
    if (err_is_fail(err))
        return err;
    bool resume = (f->x[4] & VNODE_MAP_RESUME) != 0;
    uint64_t rights = f->x[4] & ~(uint64_t)VNODE_MAP_RESUME;
    if (rights > CAPRIGHTS_ALL)
        return CAP_ERR_MAP_RIGHTS;
    struct dcb *d = sched_current();
    if (resume && err_is_fail(err = upcall_resume_saved_check(d)))
        return err;
    struct map_args a = {
        .entry = f->x[2], .count = (uint32_t)f->x[6], .offset = f->x[5], .rights = (uint8_t)rights,
    };
    err = cap_map(target, src, &a, dest);
    if (err_is_ok(err) && resume) {
        upcall_resume_saved(d, f);
        *resumed = true;
    }
    return err;
}

/* x2 the mapping capability, which must map entries of the target VNode. */
static errval_t invoke_unmap(const struct capability *root, struct cte *target, struct trap_frame *f)
{
    struct cte *m;
    errval_t err = cspace_lookup(root, f->x[2], &m);
    if (err_is_fail(err))
        return err;
    if (cte_is_empty(m))
        return CAP_ERR_SLOT_EMPTY;
    if (m->cap.type != OBJ_FRAME_MAPPING && m->cap.type != OBJ_VNODE_MAPPING)
        return CAP_ERR_WRONG_TYPE;
    if ((m->cap.param & ~(uint64_t)0xfff) != target->cap.base)
        return CAP_ERR_NOT_MAPPED_HERE;
    if (!(target->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    return cap_delete(m);
}

static bool is_vnode_type(uint8_t type)
{
    return type >= OBJ_VNODE_L0 && type <= OBJ_VNODE_L3;
}

/* x2 the new root. Works on the caller's own CSpace (sched_current()). */
static errval_t invoke_resize(struct cte *target, struct trap_frame *f)
{
    struct dcb *d = sched_current();
    struct cte *new;
    errval_t err = cspace_lookup(&d->cspace.cap, f->x[2], &new);
    return err_is_ok(err) ? cap_resize_root(&d->cspace, target, new) : err;
}

static errval_t invoke_identify(const struct cte *target, struct trap_frame *f)
{
    f->x[1] = target->cap.type | ((uint64_t)target->cap.rights << 8);
    f->x[2] = target->cap.base;
    f->x[3] = target->cap.size;
    return SYS_ERR_OK;
}

static errval_t dispatch(const struct capability *root, struct cte *target, struct trap_frame *f,
                         bool *resumed)
{
    switch (f->x[1]) {
    case CNODE_CMD_COPY: case CNODE_CMD_MINT: case CNODE_CMD_DELETE: case CNODE_CMD_REVOKE:
        return is_cnode_type(target->cap.type) ? invoke_cnode(root, target, f) : CAP_ERR_WRONG_TYPE;
    case CNODE_CMD_RESIZE:
        return invoke_resize(target, f);
    case RAM_CMD_RETYPE:
        return (target->cap.type == OBJ_RAM || target->cap.type == OBJ_PHYSADDR)
               ? invoke_retype(root, target, f) : CAP_ERR_WRONG_TYPE;
    case VNODE_CMD_MAP:
        return is_vnode_type(target->cap.type) ? invoke_map(root, target, f, resumed) : CAP_ERR_WRONG_TYPE;
    case VNODE_CMD_UNMAP:
        return is_vnode_type(target->cap.type) ? invoke_unmap(root, target, f) : CAP_ERR_WRONG_TYPE;
    case CAP_CMD_IDENTIFY:
        return invoke_identify(target, f);
    case KERNEL_CMD_CORE_ID:
        if (target->cap.type != OBJ_KERNEL)
            return CAP_ERR_WRONG_TYPE;
        f->x[1] = READ_SYSREG(mpidr_el1) & 0xff;
        return SYS_ERR_OK;
    case DISPATCHER_CMD_SETUP: case DISPATCHER_CMD_SET_NAME: case DISPATCHER_CMD_RUN:
    case DISPATCHER_CMD_STOP: case DISPATCHER_CMD_STATUS:
    case DISPATCHER_CMD_SET_FRAME: case DISPATCHER_CMD_ENDPOINT: case DISPATCHER_CMD_BUFFER_RESET:
        return dispatcher_invoke(root, target, f);
    case IRQ_CMD_CONNECT: case IRQ_CMD_ACK: case IRQ_CMD_DISCONNECT:
        return irq_invoke(root, target, f);
    default:
        return CAP_ERR_UNKNOWN_COMMAND;
    }
}

void sys_invoke(struct trap_frame *f)
{
    struct dcb *d = sched_current();
    struct cte *target;
    bool resumed = false;
    errval_t err = cspace_lookup(&d->cspace.cap, f->x[0], &target);
    if (err_is_ok(err))
        err = cte_is_empty(target) ? CAP_ERR_SLOT_EMPTY : dispatch(&d->cspace.cap, target, f, &resumed);
    if (!resumed)
        f->x[0] = err;
    sched_continue_or_switch(f);
}
