/*
 * rpc_send.c — sending messages, and the backlog of fragments the peer
 * could not take yet (rpc_internal.h).
 *
 * A message's fragments go out back to back under send_lock, so two
 * threads' messages never interleave on the transport. When the transport
 * is full, the fragment and everything after it wait in the backlog, in
 * order; the channel's waitset source retries them every WAITSET_RETRY_US.
 * A capability in a waiting fragment is copied into a slot of the
 * backlog's own, so the sender may delete its copy at once.
 */
#include "rpc_internal.h"

#include <stdlib.h>

#include "slots.h"
#include "thread_internal.h"

static void frag_free(struct rpc_frag *f)
{
    if (f->has_cap) {
        cap_delete(f->cap);
        os_slot_free(f->cap);
    }
    free(f);
}

/* [S] Queue one fragment. */
static __attribute__((noinline)) errval_t backlog_add(struct rpc_chan *c, const uint64_t *words, size_t n,
                            const struct capref *cap, bool last)
{
    if (c->backlog_len >= RPC_BACKLOG_MAX)
        return RPC_ERR_BACKLOG;
    struct rpc_frag *f = malloc(sizeof *f);
    if (f == NULL)
        return RPC_ERR_BACKLOG;
    *f = (struct rpc_frag){ .n = n, .last = last, .has_cap = cap != NULL };
    for (size_t i = 0; i < n; i++)
        f->words[i] = words[i];
    if (cap != NULL) {
        errval_t err = os_slot_alloc(&f->cap);
        if (err_is_ok(err))
            err = cap_copy(f->cap, *cap);
        if (err_is_fail(err)) {
            free(f);
            return err_push(err, RPC_ERR_BACKLOG);
        }
    }
    if (c->backlog_tail != NULL) {
        c->backlog_tail->next = f;
    } else {
        c->backlog = f;
        thread_critical_enter();
        rpc_quiet_off(c, true);
        thread_critical_exit();
    }
    c->backlog_tail = f;
    c->backlog_len++;
    c->stats.backlogged++;
    return SYS_ERR_OK;
}

/* [S] The last fragment of the backlog went (or was dropped). */
static void backlog_emptied(struct rpc_chan *c)
{
    c->backlog_tail = NULL;
    thread_critical_enter();
    rpc_quiet_off(c, false);
    thread_critical_exit();
}

/* [S] One fragment: straight out, or into the backlog behind others.
 * Inline: every message's path. */
static inline __attribute__((always_inline)) errval_t send_frag(struct rpc_chan *c, const uint64_t *words, size_t n,
                          const struct capref *cap, bool last)
{
    if (c->backlog == NULL) {
        errval_t err = c->ops->send(c->tstate, words, n, cap, last);
        if (err_no(err) != RPC_ERR_TRANSPORT_FULL)
            return err;
    }
    errval_t err = backlog_add(c, words, n, cap, last);
    if (err_is_ok(err))
        waitset_retry_later(&c->ev);
    return err;
}

/* [S] A message went out (or into the backlog): count it by its kind. */
static void count_sent(struct rpc_chan *c, enum rpc_kind kind)
{
    c->sent[kind]++;
}

errval_t rpc_send_failed(struct rpc_chan *c, errval_t err, errval_t was_dead)
{
    if (err_is_fail(was_dead))
        return err;
    enum err_code why = err_no(err) == RPC_ERR_BACKLOG ? RPC_ERR_BACKLOG : RPC_ERR_PEER_DEAD;
    rpc_chan_fail(c, why);
    return err_no(err) != why ? err_push(err, why) : err;
}

errval_t rpc_send_words(struct rpc_chan *c, const uint64_t *words, size_t n, const struct capref *cap)
{
    thread_mutex_lock_inline(&c->send_lock);
    errval_t was_dead = c->dead, err = was_dead;
    if (err_is_ok(err))
        err = send_frag(c, words, n, cap, true);
    if (err_is_ok(err))
        count_sent(c, rpc_wire_kind(words[0]));
    thread_mutex_unlock_inline(&c->send_lock);
    return err_is_ok(err) ? err : rpc_send_failed(c, err, was_dead);
}

/* A message of several fragments, or with its payload in a frame. */
static __attribute__((noinline)) errval_t send_many(struct rpc_chan *c, const struct rpc_wire_head *head,
                                                    const void *data, const struct capref *cap)
{
    struct rpc_wire_head h = *head;
    struct capref frame;
    h.has_cap = cap != NULL;
    h.bulk = h.len > RPC_INLINE_MAX;
    if (h.bulk) {
        errval_t err = rpc_bulk_make(c, h.kind, h.id, data, h.len, &frame);
        if (err_is_fail(err))
            return err;
    }
    uint64_t words[RPC_WIRE_MAX_WORDS];
    struct rpc_wire_out o;
    rpc_wire_out_init(&o, &h, data, c->max_words);
    thread_mutex_lock_inline(&c->send_lock);
    errval_t was_dead = c->dead, err = was_dead;
    uint64_t which;
    size_t n;
    while (err_is_ok(err) && (n = rpc_wire_next(&o, words, &which)) != 0) {
        const struct capref *fcap = which == RPC_HDR_CAP ? cap : which == RPC_HDR_BULK ? &frame : NULL;
        err = send_frag(c, words, n, fcap, o.done);
    }
    if (err_is_ok(err))
        count_sent(c, h.kind);
    thread_mutex_unlock_inline(&c->send_lock);
    if (err_is_ok(err))
        return SYS_ERR_OK;
    if (h.bulk)
        rpc_bulk_released(c, h.kind, h.id);
    return rpc_send_failed(c, err, was_dead);
}

errval_t rpc_send(struct rpc_chan *c, const struct rpc_wire_head *h, const void *data,
                  const struct capref *cap)
{
    if (h->len > RPC_MAX_PAYLOAD)
        return RPC_ERR_TOO_LARGE;
    if (rpc_fits_single(c, h->len))
        return rpc_send_single(c, rpc_wire_header(h->kind, h->type, h->id), h->status, data, h->len, cap);
    return send_many(c, h, data, cap);
}

void rpc_send_retry(struct rpc_chan *c)
{
    thread_mutex_lock_inline(&c->send_lock);
    errval_t err = SYS_ERR_OK;
    while (c->backlog != NULL && err_is_ok(c->dead)) {
        struct rpc_frag *f = c->backlog;
        err = c->ops->send(c->tstate, f->words, f->n, f->has_cap ? &f->cap : NULL, f->last);
        if (err_is_fail(err))
            break;
        c->backlog = f->next;
        c->backlog_len--;
        frag_free(f);
    }
    if (c->backlog == NULL && c->backlog_tail != NULL)
        backlog_emptied(c);
    bool again = c->backlog != NULL && err_no(err) == RPC_ERR_TRANSPORT_FULL;
    thread_mutex_unlock_inline(&c->send_lock);
    if (again)
        waitset_retry_later(&c->ev);
    else if (err_is_fail(err))
        rpc_chan_fail(c, RPC_ERR_PEER_DEAD);
}

void rpc_send_drop_all(struct rpc_chan *c)
{
    thread_mutex_lock_inline(&c->send_lock);
    while (c->backlog != NULL) {
        struct rpc_frag *f = c->backlog;
        c->backlog = f->next;
        frag_free(f);
    }
    if (c->backlog_tail != NULL)
        backlog_emptied(c);
    c->backlog_len = 0;
    thread_mutex_unlock_inline(&c->send_lock);
}
