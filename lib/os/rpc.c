/*
 * rpc.c — channels, calls and their replies, and receiving (rpc.h).
 *
 * A call is a `struct rpc_pending` on the caller's stack, in the channel's
 * table of outstanding calls under a fresh id, until a reply with that id
 * arrives or its deadline passes. Whichever thread receives the reply
 * takes the call out of the table ("claims" it), copies the reply into the
 * caller's buffer and marks it done; a caller whose deadline passes takes
 * its call out itself, unless it was claimed already (then the reply is
 * being copied and it waits for that, briefly). The table and the done
 * flags are changed only in the thread library's critical section, which
 * makes claim-or-time-out a clean choice.
 *
 * Receiving: one thread at a time (recv_lock) takes fragments from the
 * transport and puts messages together. It runs when the channel's waitset
 * source fires (rpc_chan_arrived), and a caller tries it at once after
 * sending (trylock), so a reply that is already there costs no thread
 * switch.
 */
#include "rpc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "slots.h"
#include "thread_internal.h"

static void on_event(struct waitset_source *src, void *arg);

/* [C] statistics: a plain increment in the critical section (cheaper than
 * an atomic, which on ARMv8.0 is a call to a load/store-exclusive loop). */
static void count(uint64_t *counter)
{
    thread_critical_enter();
    (*counter)++;
    thread_critical_exit();
}

/* ---- channels ---- */

static void hold(void *arg)
{
    ((struct rpc_chan *)arg)->refs++;      /* in the critical section */
}

errval_t rpc_chan_new(struct rpc_chan **out, const struct rpc_transport_ops *ops, void *state,
                      size_t max_words, struct waitset *ws)
{
    if (max_words < RPC_WIRE_MIN_WORDS || max_words > RPC_WIRE_MAX_WORDS)
        return RPC_ERR_BAD_MESSAGE;
    struct rpc_chan *c = calloc(1, sizeof *c);
    if (c == NULL)
        return LIB_ERR_SLAB_EMPTY;
    c->ops = ops;
    c->tstate = state;
    c->max_words = max_words;
    thread_mutex_init(&c->send_lock, "rpc send");
    thread_mutex_init(&c->recv_lock, "rpc receive");
    rpc_wire_in_init(&c->in);
    c->next_id = 1;
    c->refs = 1;
    c->quiet_off = ops->atomic && ops->call != NULL ? 0 : 1;    /* one reason, for good */
    waitset_source_init(&c->ev, ws != NULL ? ws : waitset_default(), on_event, c);
    c->ev.hold = hold;
    *out = c;
    return SYS_ERR_OK;
}

void *rpc_chan_transport(struct rpc_chan *c) { return c->tstate; }

void rpc_chan_serve(struct rpc_chan *c, rpc_serve_fn *fn, void *arg)
{
    thread_mutex_lock_inline(&c->recv_lock);
    c->serve = fn;
    c->serve_arg = arg;
    thread_mutex_unlock_inline(&c->recv_lock);
}

void rpc_chan_on_notify(struct rpc_chan *c, rpc_notify_fn *fn, void *arg)
{
    thread_mutex_lock_inline(&c->recv_lock);
    c->notify = fn;
    c->notify_arg = arg;
    thread_mutex_unlock_inline(&c->recv_lock);
}

void rpc_chan_arrived(struct rpc_chan *c, bool in_critical)
{
    if (in_critical)
        waitset_trigger_critical(&c->ev);
    else
        waitset_trigger(&c->ev);
}

errval_t rpc_chan_error(struct rpc_chan *c) { return c->dead; }

void rpc_chan_stats(struct rpc_chan *c, struct rpc_chan_stats *out)
{
    thread_mutex_lock_inline(&c->send_lock);
    thread_critical_enter();
    *out = c->stats;
    out->calls = c->sent[RPC_KIND_CALL];
    out->replies = c->sent[RPC_KIND_REPLY];
    out->notifies = c->sent[RPC_KIND_NOTIFY];
    thread_critical_exit();
    thread_mutex_unlock_inline(&c->send_lock);
}

/* [C] */
static uint32_t rpc_new_id(struct rpc_chan *c)
{
    return c->next_id += 2;     /* odd (from 1), so never 0, which no call has */
}

static struct rpc_pending **bucket(struct rpc_chan *c, uint32_t id)
{
    return &c->calls[(id >> 1) % RPC_CALL_BUCKETS];    /* ids are odd */
}

/* [C] */
static void table_insert(struct rpc_chan *c, struct rpc_pending *p)
{
    struct rpc_pending **b = bucket(c, p->id);
    p->prev = NULL;
    p->next = *b;
    if (*b != NULL)
        (*b)->prev = p;
    *b = p;
}

/* [C] */
static void table_remove(struct rpc_chan *c, struct rpc_pending *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        *bucket(c, p->id) = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

/* [C] Take the call `id` out of the table, if it is there. */
static struct rpc_pending *claim(struct rpc_chan *c, uint32_t id)
{
    struct rpc_pending *p = *bucket(c, id);
    while (p != NULL && p->id != id)
        p = p->next;
    if (p != NULL) {
        table_remove(c, p);
        p->claimed = true;
    }
    return p;
}

/* [C] The call has its result: let its caller go on. */
static void finish(struct rpc_chan *c, struct rpc_pending *p, errval_t err)
{
    p->err = err;
    p->done = true;
    waitset_wake_thread_critical(c->ev.ws, p->thread);
}

void rpc_chan_fail(struct rpc_chan *c, errval_t why)
{
    thread_critical_enter();
    bool first = err_is_ok(c->dead);
    if (first) {
        c->dead = why;
        rpc_quiet_off(c, true);
        for (unsigned i = 0; i < RPC_CALL_BUCKETS; i++) {
            struct rpc_pending *p;
            while ((p = c->calls[i]) != NULL) {
                table_remove(c, p);
                p->claimed = true;
                finish(c, p, why);
            }
        }
    }
    thread_critical_exit();
    if (first) {
        rpc_send_drop_all(c);
        rpc_bulk_free_all(c);
    }
}

static void drop_cap(struct capref cap)
{
    cap_delete(cap);
    os_slot_free(cap);
}

static void rpc_chan_unref(struct rpc_chan *c)
{
    thread_critical_enter();
    bool last = --c->refs == 0;
    thread_critical_exit();
    if (!last)
        return;
    if (c->in_cap.level != 0)
        drop_cap(c->in_cap);
    if (c->in_bulk.level != 0)
        drop_cap(c->in_bulk);   /* a bulk message cut off by the close */
    free(c);
}

/* The transport closes before the waitset source is detached: until its
 * callback is gone, a thread switch (lmp_poll) could trigger the source
 * again after the detach, and the freed channel would be dispatched. In
 * between, a dispatch of the source finds the channel dead and reads
 * nothing from the closed transport (drain). */
void rpc_chan_close(struct rpc_chan *c)
{
    rpc_chan_fail(c, RPC_ERR_CLOSED);
    if (c->ops->close != NULL)
        c->ops->close(c->tstate);
    waitset_source_detach(&c->ev);
    rpc_chan_unref(c);
}

/* ---- receiving ---- */

/* A capability that came with a message nobody takes. */
static struct capref take_in_cap(struct rpc_chan *c)
{
    struct capref cap = c->in_cap;
    c->in_cap = (struct capref){ 0 };
    return cap;
}

/* A reply's payload to where its caller wants it; the reply's status. */
static inline errval_t reply_copy(uint32_t len, uint16_t status, const void *data, void *resp,
                                  size_t resp_max, size_t *resp_len)
{
    if (len > resp_max)
        return RPC_ERR_REPLY_TOO_LARGE;
    if (len > 0)
        memcpy(resp, data, len);
    *resp_len = len;
    return status;
}

/* Out of line, like deliver_notify: deliver() then needs no stack for
 * them on the server's path (calls). */
static __attribute__((noinline)) void deliver_reply(struct rpc_chan *c, const struct rpc_wire_head *h, const void *data)
{
    thread_critical_enter();
    struct rpc_pending *p = claim(c, h->id);
    thread_critical_exit();
    if (p == NULL) {
        count(&c->stats.late_replies);
        if (h->has_cap)
            drop_cap(take_in_cap(c));
        return;
    }
    errval_t err = reply_copy(h->len, h->status, data, p->resp, p->resp_max, &p->resp_len);
    p->has_cap = h->has_cap;
    if (h->has_cap)
        p->cap = take_in_cap(c);
    thread_critical_enter();
    finish(c, p, err);
    thread_critical_exit();
}

/* [R] A call, to the handler. Inline in the receive loop: a call costs
 * no frame of its own there. */
static inline __attribute__((always_inline)) void deliver_call(struct rpc_chan *c, uint16_t type, uint32_t id,
                                                                const void *data, uint32_t len, bool has_cap)
{
    rpc_reply_handle rh = { c, id, false };     /* the running receive pins c */
    if (c->serve == NULL) {
        if (has_cap)
            drop_cap(take_in_cap(c));
        rpc_reply_error(&rh, RPC_ERR_UNKNOWN_TYPE);
        return;
    }
    struct rpc_msg m = { .data = data, .len = len, .type = type, .has_cap = has_cap };
    if (has_cap)
        m.cap = take_in_cap(c);
    c->serve(c, &m, &rh, c->serve_arg);
    if (rh.chan != NULL)
        rpc_reply_error(&rh, RPC_ERR_NO_REPLY);
}

static __attribute__((noinline)) void deliver_notify(struct rpc_chan *c, const struct rpc_wire_head *h, const void *data)
{
    struct rpc_msg m = { .type = h->type, .data = data, .len = h->len, .has_cap = h->has_cap };
    if (h->has_cap)
        m.cap = take_in_cap(c);
    if (c->notify != NULL)
        c->notify(c, &m, c->notify_arg);
    else if (h->has_cap)
        drop_cap(m.cap);
}

static void release(struct rpc_chan *c, const struct rpc_wire_head *h)
{
    struct rpc_wire_head r = { .kind = RPC_KIND_RELEASE, .type = (uint16_t)h->kind, .id = h->id };
    rpc_send(c, &r, NULL, NULL);
}

/* [R] A whole message whose payload is in hand (not in a frame). */
static void deliver(struct rpc_chan *c, const struct rpc_wire_head *h, const void *data)
{
    switch (h->kind) {
    case RPC_KIND_CALL: deliver_call(c, h->type, h->id, data, h->len, h->has_cap); break;
    case RPC_KIND_REPLY: deliver_reply(c, h, data); break;
    case RPC_KIND_NOTIFY: deliver_notify(c, h, data); break;
    case RPC_KIND_RELEASE:
        if (h->has_cap)
            drop_cap(take_in_cap(c));   /* a RELEASE carries none: not kept */
        rpc_bulk_released(c, (enum rpc_kind)h->type, h->id);
        break;
    }
}

/* [R] A whole message whose payload is in the frame c->in_bulk: mapped
 * for the handler, then unmapped and RELEASEd to the sender. */
static void deliver_bulk(struct rpc_chan *c, const struct rpc_wire_head *h)
{
    const void *data;
    errval_t err = rpc_bulk_view(c->in_bulk, h->len, &data);
    if (err_is_fail(err)) {
        count(&c->stats.bad);
        rpc_bulk_unview(c->in_bulk, NULL, 0);
        if (h->has_cap)
            drop_cap(take_in_cap(c));
        if (h->kind == RPC_KIND_CALL)
            rpc_reply_error(&(rpc_reply_handle){ c, h->id, false }, RPC_ERR_BULK);
        return;
    }
    deliver(c, h, data);
    rpc_bulk_unview(c->in_bulk, data, h->len);
    release(c, h);
}

/* [R] A fragment that is not a whole message by itself (or is malformed):
 * put together with the others of its message. Out of line, so that the
 * common case needs no stack for it. */
static __attribute__((noinline)) void take_part(struct rpc_chan *c, struct rpc_frag_in f)
{
    const uint64_t *w = f.words;
    size_t n = rpc_frag_n(f);
    bool has_cap = rpc_frag_has_cap(f);
    struct capref cap = rpc_frag_cap(f);
    enum rpc_wire_status st;
    errval_t err = rpc_wire_feed(&c->in, w, n, has_cap, &st);
    if (err_is_fail(err)) {
        count(&c->stats.bad);
        if (has_cap)
            drop_cap(cap);
        if (c->in_cap.level != 0)
            drop_cap(take_in_cap(c));
        if (c->in_bulk.level != 0)
            drop_cap(c->in_bulk);
        c->in_bulk = (struct capref){ 0 };
        if (n > 0 && rpc_wire_kind(w[0]) == RPC_KIND_CALL)
            rpc_reply_error(&(rpc_reply_handle){ c, rpc_wire_id(w[0]), false }, err);
        return;
    }
    if (has_cap) {
        if (w[0] & RPC_HDR_BULK)
            c->in_bulk = cap;
        else
            c->in_cap = cap;
    }
    if (st == RPC_WIRE_COMPLETE) {
        if (c->in.head.bulk)
            deliver_bulk(c, &c->in.head);
        else
            deliver(c, &c->in.head, c->in.data);
        c->in_bulk = (struct capref){ 0 };
    }
}

/* [R] A one-fragment message other than a call (rpc_wire_single_ok):
 * out of line, so that delivering a call needs no stack for its head. */
static __attribute__((noinline)) void deliver_single(struct rpc_chan *c, const uint64_t *w, bool has_cap)
{
    struct rpc_wire_head h;
    rpc_wire_single_head(w, has_cap, &h);
    deliver(c, &h, w + 1);
}

/* [R] One fragment from the transport. The common case, a whole message
 * in one fragment, is read in place; a call goes straight to its handler. */
static inline __attribute__((always_inline)) void take_fragment(struct rpc_chan *c, struct rpc_frag_in f)
{
    const uint64_t *w = f.words;
    bool has_cap = rpc_frag_has_cap(f);
    if (!rpc_wire_in_idle(&c->in) || !rpc_wire_single_ok(w, rpc_frag_n(f), has_cap)) {
        take_part(c, f);
        return;
    }
    if (has_cap)
        c->in_cap = rpc_frag_cap(f);
    uint64_t hdr = w[0];
    if (rpc_wire_kind(hdr) == RPC_KIND_CALL)
        deliver_call(c, rpc_wire_type(hdr), rpc_wire_id(hdr), w + 1, rpc_wire_short_len(hdr), has_cap);
    else
        deliver_single(c, w, has_cap);
}

/* [R] If a capability came with `f`, the transport gets ready for the next. */
static void rearm(struct rpc_chan *c, struct rpc_frag_in f)
{
    if (rpc_frag_has_cap(f) && c->ops->rearm != NULL)
        c->ops->rearm(c->tstate);
}

/* [R] Take everything the transport has. */
static void drain(struct rpc_chan *c)
{
    struct rpc_frag_in f;
    while (c->dead == SYS_ERR_OK && (f = c->ops->recv(c->tstate)).words != NULL) {
        if (rpc_frag_has_cap(f)) {      /* two copies: the common one knows it has none */
            rearm(c, f);
            take_fragment(c, f);
        } else {
            take_fragment(c, f);
        }
    }
}

/* The channel's waitset source fired: fragments arrived, or it is time to
 * retry the backlog. Runs with a reference (hold). */
static void on_event(struct waitset_source *src, void *arg)
{
    (void)src;
    struct rpc_chan *c = arg;
    if (c->backlog != NULL)     /* a hint: a retry is scheduled anyway */
        rpc_send_retry(c);
    thread_mutex_lock_inline(&c->recv_lock);
    drain(c);
    thread_mutex_unlock_inline(&c->recv_lock);
    rpc_chan_unref(c);
}

/* ---- calls ---- */

/* Wait for the reply to `p` (in the table), dispatching the waitset. */
static errval_t wait_reply(struct rpc_chan *c, struct rpc_pending *p, uint64_t timeout_us)
{
    if (p->done)
        return SYS_ERR_OK;
    uint64_t deadline = thread_deadline_us(timeout_us == 0 ? RPC_TIMEOUT_DEFAULT_US : timeout_us);
    errval_t err = waitset_dispatch_until(c->ev.ws, &p->done, deadline);
    if (err_is_ok(err))
        return SYS_ERR_OK;
    thread_critical_enter();
    bool claimed = p->claimed;
    if (!claimed)
        table_remove(c, p);
    thread_critical_exit();
    if (!claimed)
        return RPC_ERR_TIMEOUT;
    return waitset_dispatch_until(c->ev.ws, &p->done, 0);  /* its reply is being copied */
}

/* The call `p` has its reply (or failed): hand the result over. */
static errval_t call_result(struct rpc_pending *p, errval_t err, struct rpc_result *res)
{
    if (err_is_fail(err))
        return err;
    if (res != NULL) {
        res->resp_len = p->resp_len;
        res->has_cap = p->has_cap;
        res->cap = p->cap;
    } else if (p->has_cap) {
        drop_cap(p->cap);
    }
    return p->err;
}

static void pending_init(struct rpc_pending *p, const struct rpc_call_args *a)
{
    *p = (struct rpc_pending){ .thread = thread_self(), .resp = a->resp, .resp_max = a->resp_max };
}

/* [C] Put `p` in the table under `id` (0: a fresh one), unless the
 * channel is dead. */
static errval_t table_join(struct rpc_chan *c, struct rpc_pending *p, uint32_t id)
{
    errval_t err = c->dead;
    if (err_is_ok(err)) {
        p->id = id != 0 ? id : rpc_new_id(c);
        table_insert(c, p);
    }
    return err;
}

/* The general call: in the table from the start, so that whichever thread
 * receives may take its reply. */
static errval_t call_queued(struct rpc_chan *c, const struct rpc_call_args *a, struct rpc_result *res)
{
    struct rpc_pending p;
    pending_init(&p, a);
    thread_critical_enter();
    errval_t err = table_join(c, &p, 0);
    thread_critical_exit();
    if (err_is_fail(err))
        return err;

    struct rpc_wire_head h = { .kind = RPC_KIND_CALL, .type = a->type, .id = p.id,
                               .len = (uint32_t)a->req_len };
    err = rpc_send(c, &h, a->req, a->req_cap);
    if (err_is_fail(err)) {
        thread_critical_enter();
        if (!p.claimed)
            table_remove(c, &p);
        thread_critical_exit();
        return err;
    }
    if (!p.done && thread_mutex_trylock_inline(&c->recv_lock)) {
        drain(c);               /* the reply may be there already */
        thread_mutex_unlock_inline(&c->recv_lock);
    }
    return call_result(&p, wait_reply(c, &p, a->timeout_us), res);
}

/* [R] Fragment `f` (if one came) is the whole reply to call `id`, while
 * no other message is being put together. */
static inline bool is_single_reply(struct rpc_chan *c, struct rpc_frag_in f, uint32_t id)
{
    return f.words != NULL && rpc_wire_in_idle(&c->in) &&
           rpc_wire_single_reply(f.words, rpc_frag_n(f), rpc_frag_has_cap(f), id);
}

/* The rest of a call whose reply was not the next fragment: join the
 * table, and let what came go the general way (which may answer the
 * peer's calls). Holds recv_lock, and lets it go. */
static __attribute__((noinline)) errval_t call_joined(struct rpc_chan *c, const struct rpc_call_args *a,
                                                      uint32_t id, struct rpc_frag_in f, struct rpc_result *res)
{
    struct rpc_pending p;
    pending_init(&p, a);
    thread_critical_enter();
    errval_t joined = table_join(c, &p, id);
    thread_critical_exit();
    if (f.words != NULL)
        take_fragment(c, f);
    drain(c);
    thread_mutex_unlock_inline(&c->recv_lock);
    if (err_is_fail(joined))
        return joined;
    return call_result(&p, wait_reply(c, &p, a->timeout_us), res);
}

/* A call's reply is in: its payload (len bytes) copied to the caller's
 * buffer already, its status `err`. */
static errval_t call_done(errval_t err, size_t len, bool has_cap, struct capref cap, struct rpc_result *res)
{
    if (res != NULL)
        *res = (struct rpc_result){ .resp_len = len, .has_cap = has_cap, .cap = cap };
    else if (has_cap)
        drop_cap(cap);
    return err;
}

/* Fragment `f` (or none) came after call `id` went out; recv_lock is
 * held. Its reply, in one fragment, is taken here; anything else goes
 * the general way. */
static __attribute__((noinline)) errval_t call_received(struct rpc_chan *c, const struct rpc_call_args *a,
                                                        uint32_t id, struct rpc_frag_in f, struct rpc_result *res)
{
    rearm(c, f);
    if (!is_single_reply(c, f, id))
        return call_joined(c, a, id, f, res);
    const uint64_t *w = f.words;
    size_t got = 0;
    errval_t err = reply_copy(rpc_wire_short_len(w[0]), rpc_wire_short_status(w[0]), w + 1, a->resp,
                              a->resp_max, &got);
    thread_mutex_unlock_inline(&c->recv_lock);
    return call_done(err, got, rpc_frag_has_cap(f), rpc_frag_cap(f), res);
}

/* A call the quiet path could not send: under send_lock (and behind any
 * backlog), then as call_received. recv_lock is held. */
static __attribute__((noinline)) errval_t call_locked(struct rpc_chan *c, const struct rpc_call_args *a,
                                                      uint32_t id, const uint64_t *words, size_t n,
                                                      struct rpc_result *res)
{
    errval_t err = rpc_send_words(c, words, n, a->req_cap);
    if (err_is_fail(err)) {
        thread_mutex_unlock_inline(&c->recv_lock);
        return err;
    }
    return call_received(c, a, id, c->ops->recv(c->tstate), res);
}

/* The rest of a call that found the channel not quiet (in the critical
 * section): behind the receiving thread, or under recv_lock. */
static __attribute__((noinline)) errval_t call_not_quiet(struct rpc_chan *c, const struct rpc_call_args *a,
                                                         struct rpc_result *res, uint64_t *words,
                                                         uint64_t header)
{
    words[0] = header;
    if (c->recv_lock.owner != NULL) {
        thread_critical_exit();
        return call_queued(c, a, res);
    }
    uint32_t id = rpc_new_id(c);
    words[0] |= rpc_wire_header(0, 0, id);
    thread_mutex_take_critical(&c->recv_lock);
    thread_critical_exit();
    return call_locked(c, a, id, words, rpc_wire_short_words(rpc_wire_short_len(words[0])), res);
}

/* The rest of a quiet call whose send the transport refused, or (f) whose
 * reply was not the next fragment: under recv_lock, still free. In the
 * critical section. */
static __attribute__((noinline)) errval_t call_aside(struct rpc_chan *c, const struct rpc_call_args *a,
                                                     struct rpc_result *res, uint32_t id, uint64_t *words,
                                                     struct rpc_frag_in f)
{
    bool sent = f.info != RPC_FRAG_UNSENT;
    if (sent)
        c->sent[RPC_KIND_CALL]++;
    thread_mutex_take_critical(&c->recv_lock);
    thread_critical_exit();
    if (!sent)
        return call_locked(c, a, id, words, rpc_wire_short_words(rpc_wire_short_len(words[0])), res);
    return call_received(c, a, id, f, res);
}

/*
 * A one-fragment call while no thread receives on the channel. Over LMP
 * the send hands the processor to the server (LMP_SEND_YIELD), which
 * usually answers before this thread runs again; then the reply is the
 * next fragment (in the registers, lmpt_call), and the call needs no
 * table, no claim and no wake-up.
 *
 * On a quiet channel (rpc_quiet: an atomic transport, nothing queued),
 * the id, the send, the receive and the check of the reply are one
 * critical section: no other thread can receive in between, so no lock
 * is taken. The reply's payload (at most seven words) is copied to this
 * thread's stack inside it, and to the caller's buffer, which may fault,
 * after it. Anything unusual (a capability, another message, no reply
 * yet, a channel that is not quiet) takes recv_lock instead, still free
 * then, and goes on out of line.
 */
static errval_t call_receiving(struct rpc_chan *c, const struct rpc_call_args *a, struct rpc_result *res)
{
    uint64_t words[RPC_WIRE_MAX_WORDS];
    size_t n = rpc_wire_short_payload(a->req, (uint32_t)a->req_len, words);
    uint64_t header = rpc_wire_short_header(rpc_wire_header(RPC_KIND_CALL, a->type, 0), 0, (uint32_t)a->req_len) |
                      (a->req_cap != NULL ? RPC_HDR_CAP : 0);
    thread_critical_enter();
    if (c->recv_lock.owner != NULL || !rpc_quiet(c))
        return call_not_quiet(c, a, res, words, header);
    uint32_t id = rpc_new_id(c);
    words[0] = header | rpc_wire_header(0, 0, id);
    struct rpc_frag_in f = c->ops->call(c->tstate, words, n, a->req_cap);
    if (rpc_frag_has_cap(f) || !is_single_reply(c, f, id))    /* (or it did not send: no words) */
        return call_aside(c, a, res, id, words, f);
    c->sent[RPC_KIND_CALL]++;
    const uint64_t *w = f.words;
    uint64_t hdr = w[0];
    if (w != words) {           /* in the transport's buffer: ours only inside the section */
        for (size_t i = 1; i < rpc_frag_n(f); i++)
            words[i] = w[i];
    }
    thread_critical_exit();
    size_t got = 0;
    errval_t err = reply_copy(rpc_wire_short_len(hdr), rpc_wire_short_status(hdr), words + 1, a->resp,
                              a->resp_max, &got);
    return call_done(err, got, false, (struct capref){ 0 }, res);
}

errval_t rpc_call(struct rpc_chan *c, const struct rpc_call_args *a, struct rpc_result *res)
{
    if (rpc_fits_single(c, a->req_len))
        return call_receiving(c, a, res);
    if (a->req_len > RPC_MAX_PAYLOAD)
        return RPC_ERR_TOO_LARGE;
    return call_queued(c, a, res);
}

/* ---- answering ---- */

/* Only a deferred handle holds a reference: an answer given in the
 * handler needs none (the receive running the handler pins the channel),
 * so the common case does no counting. */
rpc_reply_handle rpc_reply_defer(rpc_reply_handle *h)
{
    rpc_reply_handle kept = *h;
    h->chan = NULL;
    if (kept.chan != NULL && !kept.kept) {
        thread_critical_enter();
        kept.chan->refs++;
        thread_critical_exit();
        kept.kept = true;
    }
    return kept;
}

void rpc_reply_drop(rpc_reply_handle *h)
{
    if (h->chan != NULL && h->kept)
        rpc_chan_unref(h->chan);
    h->chan = NULL;
}

/* An answer that is not SHORT, or from a kept handle. */
static __attribute__((noinline)) errval_t reply_general(rpc_reply_handle *h, errval_t status, const void *data,
                                                        size_t len, const struct capref *cap)
{
    struct rpc_wire_head r = { .kind = RPC_KIND_REPLY, .id = h->id, .status = err_no(status),
                               .len = (uint32_t)len };
    errval_t err = rpc_send(h->chan, &r, data, cap);
    rpc_reply_drop(h);
    return err;
}

/* The quiet send of a SHORT answer did not go: the general one. */
static __attribute__((noinline)) errval_t reply_unsent(struct rpc_chan *c, const uint64_t *words,
                                                       const struct capref *cap)
{
    return rpc_send_words(c, words, rpc_wire_short_words(rpc_wire_short_len(words[0])), cap);
}

/* The common answer, SHORT from a handle the handler was given, goes
 * out as rpc_send_single's would, with as little kept across the send as
 * can be: the receive that runs the handler pins the channel. */
errval_t rpc_reply(rpc_reply_handle *h, errval_t status, const void *data, size_t len,
                   const struct capref *cap)
{
    struct rpc_chan *c = h->chan;
    if (c == NULL)
        return RPC_ERR_CLOSED;
    if (h->kept || !rpc_fits_single(c, len))
        return reply_general(h, status, data, len, cap);
    h->chan = NULL;
    uint64_t words[RPC_WIRE_MAX_WORDS];
    uint64_t header = rpc_wire_header(RPC_KIND_REPLY, 0, h->id) | (cap != NULL ? RPC_HDR_CAP : 0);
    size_t n = rpc_wire_single_words(header, err_no(status), data, (uint32_t)len, words);
    thread_critical_enter();
    bool sent = rpc_send_quiet(c, RPC_KIND_REPLY, words, n, cap);
    thread_critical_exit();
    return sent ? SYS_ERR_OK : reply_unsent(c, words, cap);
}

errval_t rpc_notify(struct rpc_chan *c, uint16_t type, const void *data, size_t len,
                    const struct capref *cap)
{
    if (len > RPC_MAX_PAYLOAD)
        return RPC_ERR_TOO_LARGE;
    thread_critical_enter();
    uint32_t id = rpc_new_id(c);
    thread_critical_exit();
    struct rpc_wire_head h = { .kind = RPC_KIND_NOTIFY, .type = type, .id = id, .len = (uint32_t)len };
    return rpc_send(c, &h, data, cap);
}
