/*
 * lmp.c — kernel LMP: SYS_LMP_SEND copies a message (up to 8 words and one
 * capability) into a receive buffer of the receiver's dispatcher frame, and
 * SYS_WAIT lets a dispatcher leave the run queue until one comes.
 *
 * The dispatcher frame is user memory the kernel writes through the direct
 * map; the receiver may scribble on it at any time, so every field it
 * writes (consumed, recv_slot) is read once and only used modulo the ring
 * or through a checked CSpace lookup. A send is checked completely before
 * anything changes: a failed send leaves sender, receiver and frame as they
 * were. Layout and registers: include/minnow/lmp.h; design: docs/lmp.md.
 */
#include "lmp.h"

#include <minnow/lmp.h>
#include <minnow/syscall.h>

#include "cap/cspace.h"
#include "cap/ops.h"
#include "dcb.h"
#include "memlayout.h"
#include "mmu.h"
#include "sched.h"
#include "sysreg.h"

/* What a send has found out before it changes anything. */
struct lmp_send {
    struct dcb *to;
    struct lmp_buf *buf;
    const struct cte *ep;
    struct cte *cap_src, *cap_dest;     /* only with LMP_SEND_CAP */
    uint64_t cap_slot;                  /* the receiver's recv_slot, as read once */
    uint64_t control;
};

static struct lmp_frame_hdr *frame_of(const struct dcb *d)
{
    return phys_to_virt(d->dispframe.cap.base);
}

/* A receiver that can take messages: set up (or being set up), not ended,
 * and still holding its frame (destroying a dispatcher drops it, delete.c). */
static bool alive(const struct dcb *d)
{
    return d->state != DCB_EXITED && d->state != DCB_FAULTED && !cte_is_empty(&d->dispframe);
}

static errval_t check_endpoint(const struct cte *ep, uint64_t control)
{
    if (cte_is_empty(ep))
        return CAP_ERR_SLOT_EMPTY;
    if (ep->cap.type != OBJ_ENDPOINT)
        return LMP_ERR_NOT_ENDPOINT;
    if ((control & LMP_CTRL_WORDS_MASK) > LMP_MSG_WORDS)
        return LMP_ERR_TOO_MANY_WORDS;
    if ((uint32_t)control & ~(uint32_t)(LMP_CTRL_WORDS_MASK | LMP_CTRL_FLAGS))
        return LMP_ERR_BAD_CONTROL;
    if (!(ep->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    return SYS_ERR_OK;
}

/* The receiver's buffer, if it is alive and has room. */
static errval_t check_receiver(struct lmp_send *s)
{
    s->to = phys_to_virt(s->ep->cap.base);
    if (!alive(s->to))
        return LMP_ERR_DEAD;
    if (s->ep->cap.extra >= lmp_frame_buffers(s->to->dispframe.cap.size))
        return LMP_ERR_DEAD;    /* cannot happen: endpoint.c checked it against the same frame */
    s->buf = (struct lmp_buf *)((char *)frame_of(s->to) + lmp_buf_offset(s->ep->cap.extra));
    uint64_t consumed = __atomic_load_n(&s->buf->hdr.consumed, __ATOMIC_ACQUIRE);
    if (s->buf->hdr.delivered - consumed >= LMP_BUF_SLOTS)
        return LMP_ERR_BUF_FULL;
    return SYS_ERR_OK;
}

/* The capability to send and the empty slot the receiver armed for it. */
static errval_t check_cap(struct lmp_send *s, const struct capability *sender_root)
{
    if (!(s->ep->cap.rights & CAPRIGHTS_GRANT))
        return CAP_ERR_NO_RIGHTS;
    errval_t err = cspace_lookup(sender_root, s->control >> LMP_CTRL_CAP_SHIFT, &s->cap_src);
    if (err_is_fail(err))
        return err;
    if (cte_is_empty(s->cap_src))
        return CAP_ERR_SLOT_EMPTY;
    s->cap_slot = *(volatile uint64_t *)&s->buf->hdr.recv_slot;     /* read once: hostile */
    if (s->cap_slot == LMP_RECV_NONE || s->cap_slot > UINT32_MAX)
        return LMP_ERR_NO_RECV_SLOT;
    err = cspace_lookup(&s->to->cspace.cap, s->cap_slot, &s->cap_dest);
    if (err_is_fail(err))
        return LMP_ERR_NO_RECV_SLOT;
    return cte_is_empty(s->cap_dest) ? SYS_ERR_OK : LMP_ERR_RECV_SLOT_OCCUPIED;
}

/* Words 0..5 are x2..x7, words 6 and 7 are x9 and x10 (x8 is the number). */
static void put_message(struct lmp_send *s, const struct trap_frame *f, bool with_cap)
{
    unsigned n = s->control & LMP_CTRL_WORDS_MASK;
    uint64_t at = s->buf->hdr.delivered;
    struct lmp_slot *m = &s->buf->slots[at % LMP_BUF_SLOTS];
    for (unsigned i = 0; i < n; i++)
        m->words[i] = f->x[i < 6 ? 2 + i : 3 + i];
    m->header = n | (with_cap ? LMP_SLOT_HAS_CAP : 0);
    m->badge = s->ep->cap.param;
    m->cap = with_cap ? s->cap_slot : LMP_RECV_NONE;
    __atomic_store_n(&s->buf->hdr.delivered, at + 1, __ATOMIC_RELEASE);
    frame_of(s->to)->pending |= 1ull << s->ep->cap.extra;
}

static errval_t send(struct trap_frame *f, struct lmp_send *s)
{
    struct dcb *self = sched_current();
    struct cte *ep;
    errval_t err = cspace_lookup(&self->cspace.cap, f->x[0], &ep);
    s->ep = ep;
    s->control = f->x[1];
    if (err_is_ok(err))
        err = check_endpoint(s->ep, s->control);
    if (err_is_ok(err))
        err = check_receiver(s);
    bool with_cap = s->control & LMP_SEND_CAP;
    if (err_is_ok(err) && with_cap)
        err = check_cap(s, &self->cspace.cap);
    if (err_is_ok(err) && with_cap)
        err = cap_copy(s->cap_dest, s->cap_src);   /* its own checks (GRANT on the cap) come first */
    if (err_is_fail(err))
        return err;
    if (with_cap)
        s->buf->hdr.recv_slot = LMP_RECV_NONE;
    put_message(s, f, with_cap);
    return SYS_ERR_OK;
}

void sys_lmp_send(struct trap_frame *f)
{
    struct lmp_send s;
    errval_t err = send(f, &s);
    f->x[0] = err;
    if (err_is_fail(err))
        return;
    if (s.to->state == DCB_WAITING)
        sched_wake(s.to, SYS_ERR_OK);
    if ((s.control & LMP_SEND_YIELD) && s.to->state == DCB_RUNNABLE)
        sched_switch_to(f, s.to);
}

void sys_wait(struct trap_frame *f)
{
    struct dcb *self = sched_current();
    uint64_t deadline = f->x[0];
    f->x[0] = SYS_ERR_OK;
    if (!cte_is_empty(&self->dispframe) && frame_of(self)->pending != 0)
        return;
    if (deadline != 0 && deadline <= READ_SYSREG(cntvct_el0)) {
        f->x[0] = LMP_ERR_WAIT_TIMEOUT;
        return;
    }
    sched_wait_current(f, deadline);
}
