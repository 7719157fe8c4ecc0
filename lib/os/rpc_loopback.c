/*
 * rpc_loopback.c — two channel ends joined in memory (rpc_loopback.h).
 *
 * Each end owns the ring it receives from; the other end's sends push into
 * it. Pushes and pops happen in the thread library's critical section, so
 * any threads may send while another receives.
 */
#include "rpc_loopback.h"

#include <stdlib.h>

#include "slots.h"
#include "thread_internal.h"

#define LOOP_MAX_CAPACITY 64

struct loop_frag {
    uint64_t words[RPC_WIRE_MAX_WORDS];
    size_t n;
    bool has_cap;
    struct capref cap;
};

struct loop_end {
    struct loop_end *peer;
    struct rpc_chan *chan;
    struct loop_frag ring[LOOP_MAX_CAPACITY];
    struct loop_frag scratch;       /* the last fragment received (one receiver at a time) */
    size_t capacity, head, count;
    bool closed;
};

/* Copy a capability into a fresh slot: what the receiver gets. */
static errval_t transfer(const struct capref *cap, struct capref *out)
{
    errval_t err = os_slot_alloc(out);
    if (err_is_fail(err))
        return err;
    err = cap_copy(*out, *cap);
    if (err_is_fail(err))
        os_slot_free(*out);
    return err;
}

static errval_t push(struct loop_end *to, const uint64_t *words, size_t n, const struct capref *cap)
{
    struct loop_frag f = { .n = n, .has_cap = cap != NULL };
    for (size_t i = 0; i < n; i++)
        f.words[i] = words[i];
    if (cap != NULL) {
        errval_t err = transfer(cap, &f.cap);
        if (err_is_fail(err))
            return err;
    }
    thread_critical_enter();
    errval_t err = to->closed ? RPC_ERR_PEER_DEAD
                 : to->count == to->capacity ? RPC_ERR_TRANSPORT_FULL : SYS_ERR_OK;
    if (err_is_ok(err))
        to->ring[(to->head + to->count++) % to->capacity] = f;
    thread_critical_exit();
    if (err_is_ok(err)) {
        rpc_chan_arrived(to->chan, false);
    } else if (f.has_cap) {
        cap_delete(f.cap);      /* nothing was sent */
        os_slot_free(f.cap);
    }
    return err;
}

static errval_t loop_send(void *t, const uint64_t *words, size_t n, const struct capref *cap, bool last)
{
    (void)last;
    struct loop_end *e = t;
    return push(e->peer, words, n, cap);
}

static struct rpc_frag_in loop_recv(void *t)
{
    struct loop_end *e = t;
    thread_critical_enter();
    bool got = e->count > 0;
    if (got) {
        e->scratch = e->ring[e->head];
        e->head = (e->head + 1) % e->capacity;
        e->count--;
    }
    thread_critical_exit();
    if (!got)
        return (struct rpc_frag_in){ NULL, 0 };
    uint64_t info = e->scratch.n;
    if (e->scratch.has_cap)
        info |= RPC_FRAG_CAP | capref_addr(e->scratch.cap) << RPC_FRAG_CAP_SHIFT;
    return (struct rpc_frag_in){ e->scratch.words, info };
}

static void loop_close(void *t)
{
    struct loop_end *e = t;
    thread_critical_enter();
    e->closed = true;
    bool both = e->peer->closed;
    thread_critical_exit();
    if (both) {
        free(e->peer < e ? e->peer : e);    /* the pair is one allocation */
    }
}

static const struct rpc_transport_ops loop_ops = {
    .send = loop_send, .recv = loop_recv, .close = loop_close,
};

errval_t rpc_loopback_pair(struct rpc_chan **a, struct waitset *wsa, struct rpc_chan **b,
                           struct waitset *wsb, size_t max_words, size_t capacity)
{
    if (capacity == 0 || capacity > LOOP_MAX_CAPACITY)
        return RPC_ERR_BAD_MESSAGE;
    struct loop_end *ends = calloc(2, sizeof *ends);
    if (ends == NULL)
        return LIB_ERR_SLAB_EMPTY;
    ends[0].peer = &ends[1];
    ends[1].peer = &ends[0];
    ends[0].capacity = ends[1].capacity = capacity;
    errval_t err = rpc_chan_new(&ends[0].chan, &loop_ops, &ends[0], max_words, wsa);
    if (err_is_ok(err)) {
        err = rpc_chan_new(&ends[1].chan, &loop_ops, &ends[1], max_words, wsb);
        if (err_is_fail(err))
            free(ends[0].chan);
    }
    if (err_is_fail(err)) {
        free(ends);
        return err;
    }
    *a = ends[0].chan;
    *b = ends[1].chan;
    return SYS_ERR_OK;
}

errval_t rpc_loopback_inject(struct rpc_chan *from, const uint64_t *words, size_t n)
{
    struct loop_end *e = rpc_chan_transport(from);
    return push(e->peer, words, n, NULL);
}
