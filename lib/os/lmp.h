/*
 * lmp.h — the user side of kernel LMP (lmp.c; design in docs/lmp.md, the
 * shared layout in include/minnow/lmp.h).
 *
 * An lmp_endpoint is one receive buffer of this process's dispatcher
 * frame. Others send to it through EndPoint capabilities made with
 * lmp_endpoint_mint (each with its own badge, so many senders can share a
 * buffer and still be told apart). Receiving is non-blocking
 * (lmp_endpoint_recv), blocking for the calling thread only
 * (lmp_endpoint_recv_wait), or through a callback.
 *
 * The callback contract. The thread library calls lmp_poll() whenever it
 * picks the next thread (thread.c: in its critical section, or in the
 * preemption upcall, on the upcall stack). lmp_poll calls on_message(ep,
 * arg) for each endpoint whose pending bit it found set. A callback runs
 * there, so it must not block, take a mutex, allocate, print or make a
 * system call other than a send; it may only wake threads (thread_wake on
 * a thread it knows is blocked) or set flags. It need not take the
 * messages: they stay in the buffer until someone calls lmp_endpoint_recv.
 * A callback may be called with no new message (a spurious call).
 *
 * Buffer 0 is the process's own endpoint (its TASKCN_SLOT_SELFEP names
 * it): lmp_self_endpoint(). The others come from lmp_endpoint_alloc.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <minnow/lmp.h>
#include "cap.h"
#include "syscall.h"

struct lmp_msg {
    uint64_t words[LMP_MSG_WORDS];
    uint32_t nwords;                /* 0..LMP_MSG_WORDS */
    bool has_cap;                   /* a capability came (received), or goes (sent) */
    struct capref cap;              /* where it was put (received), or which one to send */
    uint64_t badge;                 /* received: the badge of the EndPoint it came through */
};

struct thread;
struct lmp_endpoint;
typedef void (*lmp_handler_fn)(struct lmp_endpoint *ep, void *arg);

/* Guarded by the thread library's critical section (thread_internal.h):
 * lmp_poll reads them there. */
struct lmp_endpoint {
    uint32_t index;                 /* the buffer in the dispatcher frame */
    bool in_use;
    struct lmp_buf *buf;
    lmp_handler_fn on_message;      /* NULL: none */
    void *arg;
    struct thread *waiter;          /* a thread in lmp_endpoint_recv_wait, or NULL */
    uint64_t next;                  /* lmp_endpoint_next: the position it reads next; the slot
                                     * before it, if not yet `consumed`, is the one it handed out */
};

/* Set up from the dispatcher frame at DISPFRAME_VADDR (os_start does it). */
void lmp_init(void);

/* This process's buffer 0, which TASKCN_SLOT_SELFEP sends to; NULL with no frame. */
struct lmp_endpoint *lmp_self_endpoint(void);

/* A free buffer of the dispatcher frame. Errors: LMP_ERR_NO_DISPFRAME,
 * LMP_ERR_NO_BUFFER_FREE. */
errval_t lmp_endpoint_alloc(struct lmp_endpoint **out);

/* Give the buffer back (its callback and waiter must be gone). */
void lmp_endpoint_free(struct lmp_endpoint *ep);

/* Make an EndPoint capability to `ep` with `badge` into the empty slot
 * `dest` (DISPATCHER_CMD_ENDPOINT on our own Dispatcher). */
errval_t lmp_endpoint_mint(struct lmp_endpoint *ep, uint64_t badge, struct capref dest);

/* The empty slot the next capability sent to `ep` goes into. The kernel
 * disarms it when it uses it; arm again for the next one. */
void lmp_endpoint_arm(struct lmp_endpoint *ep, struct capref slot);
/* Disarm; returns the capaddr that was armed (still an empty slot, the
 * caller's to free) or LMP_RECV_NONE. */
uint64_t lmp_endpoint_disarm(struct lmp_endpoint *ep);

/* Set (or, with NULL, clear) the callback lmp_poll calls. */
void lmp_endpoint_set_handler(struct lmp_endpoint *ep, lmp_handler_fn fn, void *arg);

/* Take the next message, if there is one: its eight words into words[]
 * (whatever its count: the ring is ours, and no branch is cheaper than
 * one), its slot header (LMP_SLOT_WORDS_MASK, LMP_SLOT_HAS_CAP) and the
 * slot's badge and capability address. Inline: it is the receiving half
 * of every message (lmp_send_recv in docs/PERFORMANCE.md). */
static inline bool lmp_endpoint_take(struct lmp_endpoint *ep, uint64_t *words, uint64_t *header,
                                     uint64_t *badge, uint64_t *cap_addr)
{
    struct lmp_buf *b = ep->buf;
    uint64_t at = b->hdr.consumed;
    if (__atomic_load_n(&b->hdr.delivered, __ATOMIC_ACQUIRE) == at)
        return false;
    const struct lmp_slot *s = &b->slots[at % LMP_BUF_SLOTS];
    *header = s->header;
    *badge = s->badge;
    *cap_addr = s->cap;
    /* Volatile, unrolled: eight plain loads. A memcpy would use SIMD
     * registers, and touching those after a switch costs an FP/SIMD trap
     * (the kernel switches them lazily, kernel/sched.c). */
    const volatile uint64_t *w = s->words;
    _Static_assert(LMP_MSG_WORDS == 8, "the copy below is unrolled");
    words[0] = w[0]; words[1] = w[1]; words[2] = w[2]; words[3] = w[3];
    words[4] = w[4]; words[5] = w[5]; words[6] = w[6]; words[7] = w[7];
    __atomic_store_n(&b->hdr.consumed, at + 1, __ATOMIC_RELEASE);
    ep->next = at + 1;          /* so that lmp_endpoint_next may follow */
    return true;
}

/* For a receiver that reads with lmp_endpoint_next: hand back the slot it
 * handed out, and say whether the ring is empty now (so that a send with
 * LMP_SEND_RECV may park on it). Plain accesses, fenced for the compiler
 * only: the kernel that fills this ring runs on this core (LMP is local),
 * and one core sees its own accesses, at either exception level, in
 * program order. */
static inline bool lmp_ring_drained(struct lmp_buf *b, uint64_t next)
{
    __atomic_signal_fence(__ATOMIC_RELEASE);
    *(volatile uint64_t *)&b->hdr.consumed = next;      /* the previous one back */
    return *(volatile uint64_t *)&b->hdr.delivered == next;
}

static inline bool lmp_endpoint_drained(struct lmp_endpoint *ep)
{
    return lmp_ring_drained(ep->buf, ep->next);
}

/* Read in place, for a receiver that takes one message at a time (the
 * RPC transport): the next message's slot, or NULL. The slot stays in the
 * ring, where the kernel does not write it, until the next call of this
 * function on `ep`, which hands it back (moves `consumed` past it); until
 * then the sender sees one slot fewer. lmp_endpoint_take may read the
 * same endpoint only while no slot is handed out (after this function
 * returned NULL); lmp_endpoint_free starts afresh.
 * Inline, like take: no words are copied, so a short message costs a few
 * loads. */
static inline const struct lmp_slot *lmp_endpoint_next(struct lmp_endpoint *ep)
{
    struct lmp_buf *b = ep->buf;
    uint64_t at = ep->next;     /* loaded once: the fences would make GCC load them again */
    if (lmp_ring_drained(b, at))
        return NULL;
    __atomic_signal_fence(__ATOMIC_ACQUIRE);
    ep->next = at + 1;
    return &b->slots[at % LMP_BUF_SLOTS];
}

/* Take the next message, if there is one, as a struct lmp_msg. */
static inline bool lmp_endpoint_recv(struct lmp_endpoint *ep, struct lmp_msg *msg)
{
    uint64_t header, cap_addr;
    if (!lmp_endpoint_take(ep, msg->words, &header, &msg->badge, &cap_addr))
        return false;
    msg->nwords = (uint32_t)(header & LMP_SLOT_WORDS_MASK);
    msg->has_cap = (header & LMP_SLOT_HAS_CAP) != 0;
    if (msg->has_cap)
        msg->cap = capref_from_addr(cap_addr);
    return true;
}

/* Take the next message, blocking the calling thread (only) until one
 * comes or the CNTVCT_EL0 `deadline` (0: none) passes: LMP_ERR_WAIT_TIMEOUT.
 * One thread at a time per endpoint. A message already there is taken
 * without entering the thread library. */
errval_t lmp_endpoint_recv_block(struct lmp_endpoint *ep, struct lmp_msg *msg, uint64_t deadline);
static inline errval_t lmp_endpoint_recv_wait(struct lmp_endpoint *ep, struct lmp_msg *msg, uint64_t deadline)
{
    return lmp_endpoint_recv(ep, msg) ? SYS_ERR_OK : lmp_endpoint_recv_block(ep, msg, deadline);
}

/* Send `msg` (nwords words, and msg->cap if has_cap) through the EndPoint
 * capability `ep`. flags: LMP_SEND_YIELD to run the receiver at once.
 * Errors from the kernel (docs/lmp.md): LMP_ERR_BUF_FULL and the receive
 * slot errors are transient, LMP_ERR_DEAD is permanent. */
static inline errval_t lmp_send(struct capref ep, const struct lmp_msg *msg, unsigned flags)
{
    uint64_t control = lmp_control(msg->nwords, flags & LMP_SEND_YIELD, 0);
    if (msg->has_cap)
        control |= LMP_SEND_CAP | (capref_addr(msg->cap) << LMP_CTRL_CAP_SHIFT);
    return sys_lmp_send(capref_addr(ep), control, msg->words);
}

/* A deadline `us` microseconds from now, for the calls above. */
uint64_t lmp_deadline_us(uint64_t us);

/* For thread.c. lmp_poll: run the callbacks and wake the waiters of every
 * endpoint with a pending message; one load when there is none.
 * lmp_can_wake: whether a message could ever make a thread runnable. */
extern volatile uint64_t *lmp_pending;
void lmp_poll_pending(void);
static inline void lmp_poll(void)
{
    if (*lmp_pending != 0)
        lmp_poll_pending();
}
bool lmp_can_wake(void);
