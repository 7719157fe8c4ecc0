/*
 * rpc_lmp.c — the LMP transport under the RPC layer, and the connect
 * handshake (rpc_lmp.h).
 *
 * Receiving: the endpoint's callback (run by the thread scheduler, in its
 * critical section) only triggers the channel's waitset source; the
 * fragments are taken by the RPC layer's receiver, in thread context. The
 * receive slot for capabilities is armed at all times: a fresh one after
 * each capability that came.
 */
#include "rpc_lmp.h"

#include <stddef.h>
#include <stdlib.h>

#include "os.h"
#include "slots.h"
#include "syscall.h"

_Static_assert(RPC_WIRE_MAX_WORDS == LMP_MSG_WORDS, "an RPC fragment is one LMP message");

struct lmp_end {
    struct lmp_endpoint *local;
    struct capref remote;           /* EndPoint to the peer's buffer */
    uint64_t remote_addr;           /* its capaddr, for every send */
    uint64_t park_local;            /* LMP_SEND_RECV's field for `local` */
    struct rpc_chan *chan;
};

/* ---- the transport ---- */

static bool transient(errval_t err)
{
    enum err_code c = err_no(err);
    return c == LMP_ERR_BUF_FULL || c == LMP_ERR_NO_RECV_SLOT || c == LMP_ERR_RECV_SLOT_OCCUPIED;
}

static __attribute__((noinline)) errval_t send_failed(errval_t err)
{
    return transient(err) ? err_push(err, RPC_ERR_TRANSPORT_FULL) : err;
}

static errval_t lmpt_send(void *t, const uint64_t *words, size_t n, const struct capref *cap, bool last)
{
    struct lmp_end *e = t;
    /* words[] has room for RPC_WIRE_MAX_WORDS == LMP_MSG_WORDS: straight
     * into the system call's registers, no copy */
    uint64_t control = n | (last ? LMP_SEND_YIELD : 0);
    if (cap != NULL)
        control |= LMP_SEND_CAP | (uint64_t)(uint32_t)capref_addr(*cap) << LMP_CTRL_CAP_SHIFT;
    errval_t err = sys_lmp_send(e->remote_addr, control, words);
    return err == SYS_ERR_OK ? err : send_failed(err);     /* the usual case: one compare */
}

static errval_t arm(struct lmp_endpoint *ep)
{
    struct capref slot;
    errval_t err = os_slot_alloc(&slot);
    if (err_is_ok(err))
        lmp_endpoint_arm(ep, slot);
    return err;
}

_Static_assert(LMP_SLOT_WORDS_MASK == RPC_FRAG_WORDS && LMP_SLOT_HAS_CAP == RPC_FRAG_CAP,
               "an LMP slot's header is the fragment's info");

/* The fragment is read in place, in its ring slot, which stays ours
 * until the next receive (one receiver at a time: the RPC layer's
 * recv_lock, or its critical section). The slot's header is the
 * fragment's info, with the capability's slot added if one came. The
 * kernel disarmed the slot it came into: lmpt_rearm, which allocates,
 * arms the next. */
static struct rpc_frag_in lmpt_recv(void *t)
{
    struct lmp_end *e = t;
    const struct lmp_slot *s = lmp_endpoint_next(e->local);
    if (s == NULL)
        return (struct rpc_frag_in){ NULL, 0 };
    /* One base, the words, for the loads and the result: GCC would
     * compute the slot's address and then the words' from it. */
    const uint64_t *words = s->words;
    __asm__("" : "+r"(words));
    s = (const struct lmp_slot *)((const char *)words - offsetof(struct lmp_slot, words));
    uint64_t info = s->header;
    if (info & LMP_SLOT_HAS_CAP)
        info |= s->cap << RPC_FRAG_CAP_SHIFT;       /* an L2 slot's address: 32 bits */
    return (struct rpc_frag_in){ words, info };
}

/* A call's fragment, then the next fragment. Sent with LMP_SEND_RECV
 * when nothing is left unread in our ring: the peer usually answers
 * before we run again, and its answer then comes in the registers, into
 * words[], not through the ring. */
static struct rpc_frag_in lmpt_call(void *t, uint64_t *words, size_t n, const struct capref *cap)
{
    struct lmp_end *e = t;
    uint64_t control = n | LMP_SEND_YIELD;
    if (cap != NULL)
        control |= LMP_SEND_CAP | (uint64_t)(uint32_t)capref_addr(*cap) << LMP_CTRL_CAP_SHIFT;
    if (lmp_endpoint_drained(e->local))
        control |= e->park_local;
    uint64_t header;
    if (sys_lmp_send_recv(e->remote_addr, control, words, &header) != SYS_ERR_OK)
        return (struct rpc_frag_in){ NULL, RPC_FRAG_UNSENT };
    if (header != 0)
        return (struct rpc_frag_in){ words, header };
    return lmpt_recv(t);
}

/* Disarm `ep` and free the slot that was armed: it is empty (the kernel
 * disarms a slot it fills), and nothing else remembers it. */
static void disarm(struct lmp_endpoint *ep)
{
    uint64_t armed = lmp_endpoint_disarm(ep);
    if (armed != LMP_RECV_NONE)
        os_slot_free(capref_from_addr(armed));
}

static void lmpt_rearm(void *t)
{
    struct lmp_end *e = t;
    errval_t err = arm(e->local);
    if (err_is_fail(err))
        DEBUG_ERR(err, "rpc_lmp: arming a slot for the next capability");
}

static void lmpt_close(void *t)
{
    struct lmp_end *e = t;
    lmp_endpoint_set_handler(e->local, NULL, NULL);
    disarm(e->local);
    lmp_endpoint_free(e->local);
    cap_delete(e->remote);
    os_slot_free(e->remote);
    free(e);
}

static const struct rpc_transport_ops lmp_ops = {
    .send = lmpt_send, .recv = lmpt_recv, .call = lmpt_call, .rearm = lmpt_rearm, .close = lmpt_close,
    .atomic = true,             /* one system call; a read of the ring */
};

/* In the thread scheduler's critical section: only trigger. */
static void on_message(struct lmp_endpoint *ep, void *arg)
{
    (void)ep;
    rpc_chan_arrived(arg, true);
}

/* A channel over `local` (ours) and `remote` (a slot we own). */
static errval_t chan_new(struct lmp_endpoint *local, struct capref remote, struct waitset *ws,
                         struct rpc_chan **out)
{
    struct lmp_end *e = malloc(sizeof *e);
    if (e == NULL)
        return LIB_ERR_SLAB_EMPTY;
    *e = (struct lmp_end){ .local = local, .remote = remote, .remote_addr = capref_addr(remote),
                           .park_local = lmp_send_recv(local->index) };
    errval_t err = arm(local);
    if (err_is_ok(err))
        err = rpc_chan_new(&e->chan, &lmp_ops, e, LMP_MSG_WORDS, ws);
    if (err_is_fail(err)) {
        disarm(local);
        free(e);
        return err;
    }
    lmp_endpoint_set_handler(local, on_message, e->chan);
    /* A message may have come before the handler was set, its pending bit
     * already taken by a poll that found no handler: look once now. */
    rpc_chan_arrived(e->chan, false);
    *out = e->chan;
    return SYS_ERR_OK;
}

/* ---- connecting ---- */

/* A fresh buffer and an EndPoint capability to it (in a new slot). */
static errval_t endpoint_with_cap(uint64_t badge, struct lmp_endpoint **ep, struct capref *cap)
{
    errval_t err = lmp_endpoint_alloc(ep);
    if (err_is_fail(err))
        return err;
    err = os_slot_alloc(cap);
    if (err_is_ok(err)) {
        err = lmp_endpoint_mint(*ep, badge, *cap);
        if (err_is_fail(err))
            os_slot_free(*cap);
    }
    if (err_is_fail(err))
        lmp_endpoint_free(*ep);
    return err;
}

static void drop(struct capref cap)
{
    cap_delete(cap);
    os_slot_free(cap);
}

errval_t rpc_lmp_connect(struct capref server_ep, struct waitset *ws, uint64_t timeout_us,
                         struct rpc_chan **out)
{
    struct lmp_endpoint *local;
    struct capref mine;
    errval_t err = endpoint_with_cap(0, &local, &mine);
    if (err_is_fail(err))
        return err;
    err = arm(local);
    struct lmp_msg m = { .nwords = 1, .words = { RPC_LMP_CONNECT }, .has_cap = true, .cap = mine };
    uint64_t deadline = thread_deadline_us(timeout_us);
    while (err_is_ok(err)) {
        err = lmp_send(server_ep, &m, LMP_SEND_YIELD);
        if (!transient(err))
            break;
        if (deadline != 0 && thread_counter_now() >= deadline) {
            err = RPC_ERR_TIMEOUT;
            break;
        }
        thread_sleep_us(WAITSET_RETRY_US);
    }
    drop(mine);                 /* the server has its copy */
    struct lmp_msg reply = { 0 };
    if (err_is_ok(err))
        err = lmp_endpoint_recv_wait(local, &reply, deadline);
    if (err_no(err) == LMP_ERR_WAIT_TIMEOUT)
        err = RPC_ERR_TIMEOUT;
    bool got_cap = err_is_ok(err) && reply.has_cap;
    if (err_is_ok(err) && (reply.nwords != 1 || reply.words[0] != RPC_LMP_ACCEPT || !reply.has_cap))
        err = RPC_ERR_BAD_MESSAGE;
    if (err_is_ok(err))
        err = chan_new(local, reply.cap, ws, out);  /* arms a fresh slot again */
    if (err_is_fail(err)) {
        if (got_cap)
            drop(reply.cap);
        disarm(local);
        lmp_endpoint_free(local);
    }
    return err;
}

/* ---- listening ---- */

struct listener {
    struct lmp_endpoint *ep;
    struct waitset_source src;
    rpc_lmp_accept_fn *fn;
    void *arg;
};

static void on_connect_message(struct lmp_endpoint *ep, void *arg)
{
    (void)ep;
    waitset_trigger_critical(&((struct listener *)arg)->src);
}

/* Answer one CONNECT whose EndPoint is `client`. */
static void accept_one(struct listener *l, struct capref client, uint64_t badge)
{
    struct lmp_endpoint *local;
    struct capref theirs;
    errval_t err = endpoint_with_cap(badge, &local, &theirs);
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "rpc_lmp: no buffer for a new connection");
        drop(client);
        return;
    }
    struct rpc_chan *c;
    err = chan_new(local, client, l->src.ws, &c);
    if (err_is_fail(err)) {
        drop(client);
        drop(theirs);
        lmp_endpoint_free(local);
        return;
    }
    struct lmp_msg m = { .nwords = 1, .words = { RPC_LMP_ACCEPT }, .has_cap = true, .cap = theirs };
    err = lmp_send(client, &m, 0);
    drop(theirs);
    if (err_is_fail(err)) {
        rpc_chan_close(c);      /* the client is gone (or will not listen) */
        return;
    }
    l->fn(c, badge, l->arg);
}

static void on_listen(struct waitset_source *src, void *arg)
{
    (void)src;
    struct listener *l = arg;
    struct lmp_msg m;
    while (lmp_endpoint_recv(l->ep, &m)) {
        if (m.has_cap)
            arm(l->ep);
        if (m.nwords == 1 && m.words[0] == RPC_LMP_CONNECT && m.has_cap)
            accept_one(l, m.cap, m.badge);
        else if (m.has_cap)
            drop(m.cap);        /* not a connection request: ignored */
    }
}

errval_t rpc_lmp_listen(struct lmp_endpoint *listen, struct waitset *ws, rpc_lmp_accept_fn *fn, void *arg)
{
    struct listener *l = malloc(sizeof *l);
    if (l == NULL)
        return LIB_ERR_SLAB_EMPTY;
    *l = (struct listener){ .ep = listen, .fn = fn, .arg = arg };
    waitset_source_init(&l->src, ws != NULL ? ws : waitset_default(), on_listen, l);
    errval_t err = arm(listen);
    if (err_is_fail(err)) {
        free(l);
        return err;
    }
    lmp_endpoint_set_handler(listen, on_connect_message, l);
    waitset_trigger(&l->src);   /* connections may be waiting already */
    return SYS_ERR_OK;
}
