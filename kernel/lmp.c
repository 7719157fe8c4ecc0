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
#include "panic.h"
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
    return d->lmp_frame;
}

void lmp_frame_set(struct dcb *d)
{
    d->lmp_frame = phys_to_virt(d->dispframe.cap.base);
    d->lmp_buffers = lmp_frame_buffers(d->dispframe.cap.size);
}

/* A receiver that can take messages: set up (or being set up), not ended,
 * and still holding its frame (destroying a dispatcher drops it, delete.c). */
static bool alive(const struct dcb *d)
{
    return d->state != DCB_EXITED && d->state != DCB_FAULTED && !cte_is_empty(&d->dispframe);
}

/* An EndPoint's buffer and the epoch it was made in (include/minnow/lmp.h). */
static inline uint32_t ep_index(const struct capability *ep) { return ep->extra & ((1u << LMP_EP_INDEX_BITS) - 1); }
static inline uint32_t ep_epoch(const struct capability *ep) { return ep->extra >> LMP_EP_INDEX_BITS; }

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
    uint32_t index = ep_index(&s->ep->cap);
    if (index >= s->to->lmp_buffers)
        return LMP_ERR_DEAD;    /* cannot happen: endpoint.c checked it against the same frame */
    if (ep_epoch(&s->ep->cap) != s->to->lmp_epoch[index])
        return LMP_ERR_STALE;
    s->buf = (struct lmp_buf *)((char *)frame_of(s->to) + lmp_buf_offset(index));
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

/* Words 0..5 are x2..x7, 6 and 7 are x9 and x10; only `n` are copied, so
 * that no register the sender did not mean to send reaches the receiver.
 * Word i goes to to[at[i]]: a ring slot's words (in_slot) or, for a
 * parked receiver (LMP_SEND_RECV), its saved registers (reg_of_word). In
 * order with an exit after each word: a short message (most are one or
 * two words) pays a compare per word, not a search for where to start. */
static const uint8_t reg_of_word[LMP_MSG_WORDS] = { 2, 3, 4, 5, 6, 7, 9, 10 };
static const uint8_t in_slot[LMP_MSG_WORDS] = { 0, 1, 2, 3, 4, 5, 6, 7 };

static inline void copy_words(uint64_t *to, const uint8_t at[LMP_MSG_WORDS], const struct trap_frame *f,
                              unsigned n)
{
#pragma GCC unroll 8
    for (unsigned i = 0; i < LMP_MSG_WORDS; i++) {
        if (i == n)
            return;
        to[at[i]] = f->x[reg_of_word[i]];
    }
}

/* The sender is about to switch to the receiver: it waits parked on the
 * buffer its control word names (LMP_SEND_RECV), if any. */
static inline void park(struct dcb *self, uint64_t control)
{
    self->lmp_park = (uint8_t)(control >> LMP_SEND_RECV_SHIFT);
}

static void put_message(struct lmp_send *s, const struct trap_frame *f, bool with_cap)
{
    unsigned n = s->control & LMP_CTRL_WORDS_MASK;
    uint64_t at = s->buf->hdr.delivered;
    struct lmp_slot *m = &s->buf->slots[at % LMP_BUF_SLOTS];
    copy_words(m->words, in_slot, f, n);
    m->header = n | (with_cap ? LMP_SLOT_HAS_CAP : 0);
    m->badge = s->ep->cap.param;
    m->cap = with_cap ? s->cap_slot : LMP_RECV_NONE;
    __atomic_store_n(&s->buf->hdr.delivered, at + 1, __ATOMIC_RELEASE);
    frame_of(s->to)->pending |= 1ull << ep_index(&s->ep->cap);
    /* A receiver parked on this buffer waits no longer: a later message
     * must not overtake this one by going to its registers. */
    if (s->to->lmp_park == ep_index(&s->ep->cap) + 1)
        s->to->lmp_park = 0;
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

/* Wake, and switch if asked (x0 says success already): the end of both
 * paths. Out of line,
 * so that the fast path, which comes here only to wake a receiver, makes
 * no call that returns and needs no stack frame. */
static __attribute__((noinline)) void deliver(struct trap_frame *f, struct dcb *to, uint64_t control)
{
    if (to->state == DCB_WAITING)
        sched_wake(to, SYS_ERR_OK);
    if ((control & LMP_SEND_YIELD) && to->state == DCB_RUNNABLE && to != sched_running) {
        park(sched_running, control);
        sched_switch_to(f, to);
    }
}

static void send_slow(struct trap_frame *f)
{
    struct lmp_send s;
    errval_t err = send(f, &s);
    f->x[0] = err;
    f->x[1] = 0;                /* no message in the registers */
    if (err_is_ok(err))
        deliver(f, s.to, s.control);
}

/* A message from the kernel itself (an interrupt, cap/irq.c): one word
 * through an EndPoint the kernel holds, with the checks of a send. The
 * receiver is woken, not switched to: the caller decides. */
errval_t lmp_kernel_send(const struct cte *ep, uint64_t word, struct dcb **woken)
{
    struct trap_frame f = { 0 };
    struct lmp_send s = { .ep = ep, .control = 1 };
    f.x[2] = word;
    errval_t err = check_endpoint(ep, s.control);
    if (err_is_ok(err))
        err = check_receiver(&s);
    if (err_is_fail(err))
        return err;
    put_message(&s, &f, false);
    if (s.to->state == DCB_WAITING)
        sched_wake(s.to, SYS_ERR_OK);
    *woken = s.to;
    return SYS_ERR_OK;
}

/* Objects (CNodes, DCBs, frames) are RAM, never in the kernel image, so
 * the fast path skips phys_to_virt's test for the image. */
static inline void *direct(uint64_t pa)
{
    return (void *)(pa + KERNEL_DIRECT_BASE);
}

/* The EndPoint at a plain two-level capaddr, if that is what is there. */
static inline const struct cte *fast_endpoint(const struct dcb *self, uint64_t addr)
{
    uint64_t root_base = self->cspace.cap.base, root_size = self->cspace.cap.size;
    if ((addr >> 32) != 0 || capaddr_l1((capaddr_t)addr) >= root_size / OBJSIZE_CTE)
        return NULL;
    const struct cte *l1 = (const struct cte *)direct(root_base) + capaddr_l1((capaddr_t)addr);
    if (l1->cap.type != OBJ_L2CNODE)
        return NULL;
    const struct cte *ep = (const struct cte *)direct(l1->cap.base) + capaddr_l2((capaddr_t)addr);
    if (ep->cap.type != OBJ_ENDPOINT || !(ep->cap.rights & CAPRIGHTS_WRITE))
        return NULL;
    return ep;
}

/*
 * The fast path: words only, to a live receiver with room, through an
 * EndPoint at a plain capaddr. It makes the same checks as the general
 * path, in the same order, but anything unusual (a capability to send, a
 * full buffer, any error) goes to the general path, which names the error.
 * It makes no call that returns, so it needs no frame record.
 */
NO_FRAME_RECORD void sys_lmp_send(struct trap_frame *f)
{
    /* The low half of the control word: the high half (a capability's
     * address) matters only with LMP_SEND_CAP, which the general path
     * takes. Words only: with LMP_SEND_YIELD and LMP_SEND_RECV taken out
     * (one AND: the bits kept form one rotated run), it must be the word
     * count alone, so one compare checks the count and every flag. */
    uint32_t control = (uint32_t)f->x[1];
    uint32_t n = control & ~(uint32_t)(LMP_SEND_YIELD | LMP_SEND_RECV_MASK);
    if (n > LMP_MSG_WORDS)
        return send_slow(f);
    struct dcb *self = sched_running;
    const struct cte *ep = fast_endpoint(self, f->x[0]);
    if (ep == NULL)
        return send_slow(f);
    struct dcb *to = direct(ep->cap.base);
    uint32_t index = ep_index(&ep->cap);
    /* The state is read once, for alive() here and for the wake or switch
     * below: nothing in between writes the DCB. */
    enum dcb_state state = to->state;
    if (state == DCB_EXITED || state == DCB_FAULTED || cte_is_empty(&to->dispframe) ||
        index >= to->lmp_buffers || ep_epoch(&ep->cap) != to->lmp_epoch[index])
        return send_slow(f);
    if (to->lmp_park == index + 1) {
        /* Parked on this buffer (LMP_SEND_RECV), so not running, and its
         * ring is empty: the message goes into its registers. */
        to->lmp_park = 0;
        to->regs.x[1] = n | LMP_SLOT_IN_REGS;
        to->regs.x[11] = ep->cap.param;
        copy_words(to->regs.x, reg_of_word, f, n);
    } else {
        struct lmp_frame_hdr *frame = to->lmp_frame;
        struct lmp_buf *buf = (struct lmp_buf *)((char *)frame + lmp_buf_offset(index));
        uint64_t at = buf->hdr.delivered;
        /* Read once (hostile), without acquire: the receiver runs on this
         * core only, so its reads of the ring are done before this send. */
        if (at - *(volatile uint64_t *)&buf->hdr.consumed >= LMP_BUF_SLOTS)
            return send_slow(f);
        struct lmp_slot *m = &buf->slots[at % LMP_BUF_SLOTS];
        __asm__("" : "+r"(m));  /* one base for every store below: GCC would compute two */
        m->header = n;          /* no LMP_SLOT_HAS_CAP: m->cap is not read */
        m->badge = ep->cap.param;
        copy_words(m->words, in_slot, f, n);
        /* A plain store (ordered after the slot's by the compiler only):
         * the receiver reads it on this core, after an ERET. */
        __atomic_signal_fence(__ATOMIC_RELEASE);
        *(volatile uint64_t *)&buf->hdr.delivered = at + 1;
        frame->pending |= 1ull << index;
    }
    f->x[0] = SYS_ERR_OK;
    f->x[1] = 0;
    if (state == DCB_WAITING)
        return deliver(f, to, control);
    if ((control & LMP_SEND_YIELD) && state == DCB_RUNNABLE && to != self) {
        park(self, control);
        sched_switch_checked(to);
    }
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
