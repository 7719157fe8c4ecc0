/*
 * endpoint.c — the LMP invocations on a Dispatcher capability: giving it
 * its dispatcher frame (SET_FRAME) and making EndPoint capabilities to one
 * of that frame's receive buffers (ENDPOINT). Sending is kernel/lmp.c; the
 * layout is include/minnow/lmp.h and the design docs/lmp.md.
 *
 * An EndPoint has the dispatcher object's base and size and sorts after
 * OBJ_DISPATCHER, so in the derivation database it is a descendant of the
 * dispatcher (revoking the Dispatcher or its RAM removes it) and the
 * dispatcher's memory cannot be retyped while an EndPoint to it exists.
 */
#include "endpoint.h"

#include <minnow/lmp.h>
#include "cspace.h"
#include "dcb.h"
#include "lmp.h"

/* x2 the Frame. The DCB keeps a copy, so the frame lives as long as the
 * dispatcher does (delete.c drops it with the dispatcher). */
errval_t dispatcher_set_frame(const struct capability *root, struct dcb *d, const struct trap_frame *f)
{
    struct cte *frame;
    errval_t err = cspace_lookup(root, f->x[2], &frame);
    if (err_is_fail(err))
        return err;
    if (cte_is_empty(frame))
        return CAP_ERR_SLOT_EMPTY;
    if (!cte_is_empty(&d->dispframe))
        return DISP_ERR_FRAME_SET;
    if (frame->cap.type != OBJ_FRAME || !(frame->cap.rights & CAPRIGHTS_WRITE) ||
        frame->cap.size > DISPFRAME_MAX_BYTES || lmp_frame_buffers(frame->cap.size) == 0)
        return DISP_ERR_BAD_FRAME;
    struct capability cap = frame->cap;
    cap.param = 0;              /* the frame CTE's list of mappings stays with it (cap.h) */
    cap_insert(&d->dispframe, &cap);
    lmp_frame_set(d);
    return SYS_ERR_OK;
}

/* x2 dest CNode, x3 dest slot, x4 buffer index, x5 badge. */
errval_t dispatcher_endpoint(const struct capability *root, const struct cte *disp, struct dcb *d,
                             const struct trap_frame *f)
{
    struct cte *cnode, *dest;
    errval_t err = cspace_lookup(root, f->x[2], &cnode);
    if (err_is_fail(err))
        return err;
    if (cnode->cap.type != OBJ_L1CNODE && cnode->cap.type != OBJ_L2CNODE)
        return cte_is_empty(cnode) ? CAP_ERR_SLOT_EMPTY : CAP_ERR_NOT_A_CNODE;
    if (!(cnode->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    err = cnode_slot(&cnode->cap, f->x[3], &dest);
    if (err_is_fail(err))
        return err;
    if (!cte_is_empty(dest))
        return CAP_ERR_SLOT_OCCUPIED;
    if (cte_is_empty(&d->dispframe))
        return DISP_ERR_NO_FRAME;
    if (f->x[4] >= d->lmp_buffers)
        return DISP_ERR_BAD_BUFFER;
    struct capability ep = {
        .type = OBJ_ENDPOINT, .rights = CAPRIGHTS_ALL, .base = disp->cap.base,
        .size = disp->cap.size, .param = f->x[5],
        .extra = (uint32_t)f->x[4] | d->lmp_epoch[f->x[4]] << LMP_EP_INDEX_BITS,
    };
    cap_insert(dest, &ep);
    return SYS_ERR_OK;
}

/* x2 buffer index: every EndPoint made to it so far becomes stale
 * (LMP_ERR_STALE), the ring is emptied (consumed = delivered), no slot is
 * armed and no message is pending. For the buffer's next owner. */
errval_t dispatcher_buffer_reset(struct dcb *d, const struct trap_frame *f)
{
    if (cte_is_empty(&d->dispframe))
        return DISP_ERR_NO_FRAME;
    if (f->x[2] >= d->lmp_buffers)
        return DISP_ERR_BAD_BUFFER;
    uint32_t i = (uint32_t)f->x[2];
    d->lmp_epoch[i] = (d->lmp_epoch[i] + 1) & LMP_EP_EPOCH_MASK;
    struct lmp_frame_hdr *frame = d->lmp_frame;
    struct lmp_buf *b = (struct lmp_buf *)((char *)frame + lmp_buf_offset(i));
    b->hdr.consumed = b->hdr.delivered;
    b->hdr.recv_slot = LMP_RECV_NONE;
    frame->pending &= ~(1ull << i);
    if (d->lmp_park == i + 1)
        d->lmp_park = 0;        /* a new peer's message must not go into its registers */
    return SYS_ERR_OK;
}
