/*
 * rpc_internal.h — what the RPC layer's files share (rpc.c: channels,
 * calls, receiving; rpc_send.c: sending and the backlog; rpc_bulk.c:
 * payloads in frames). Not for programs.
 *
 * Ownership. A channel's fields are guarded as marked: [S] by send_lock,
 * [R] by recv_lock (one thread receives at a time), [C] by the thread
 * library's critical section (the call table and refs, touched by a
 * caller that times out while another thread delivers its reply), [I]
 * immutable after rpc_chan_new. rpc_send_quiet sends without send_lock,
 * in the critical section, and only while send_lock is free: no thread
 * holding it can run then, so [S] holds for what it touches. The common
 * call (rpc.c, call_receiving) receives without recv_lock the same way:
 * in the critical section, while recv_lock is free, so [R] holds too.
 */
#pragma once

#include "rpc.h"
#include "thread_internal.h"

#define RPC_CALL_BUCKETS 64
#define RPC_BACKLOG_MAX  256        /* fragments */

/* A call waiting for its reply: on the caller's stack. */
struct rpc_pending {
    uint32_t id;
    struct thread *thread;
    struct rpc_pending *prev, *next;    /* in its bucket [C] */
    volatile bool done;                 /* the result is in */
    bool claimed;                       /* a receiver took it out of the table [C] */
    errval_t err;
    void *resp;
    size_t resp_max, resp_len;
    bool has_cap;
    struct capref cap;
};

/* A fragment waiting in the backlog. */
struct rpc_frag {
    struct rpc_frag *next;
    uint64_t words[RPC_WIRE_MAX_WORDS];
    size_t n;
    bool has_cap, last;
    struct capref cap;                  /* a copy the backlog owns */
};

/* A frame of ours the peer has (a bulk payload), until it says RELEASE. */
struct rpc_bulk_out {
    struct rpc_bulk_out *next;
    enum rpc_kind kind;
    uint32_t id;
    struct capref cap;
    uint64_t base, size;                /* the allocation, for ram_free */
};

struct rpc_chan {
    const struct rpc_transport_ops *ops;    /* [I] */
    void *tstate;                           /* [I] */
    size_t max_words;                       /* [I] */
    struct waitset_source ev;               /* [I] (its links: the waitset's) */

    struct thread_mutex send_lock;
    struct rpc_frag *backlog, *backlog_tail;    /* [S] */
    size_t backlog_len;                         /* [S] */
    struct rpc_bulk_out *bulk_out;              /* [S] */

    struct thread_mutex recv_lock;
    struct rpc_wire_in in;                      /* [R] */
    struct capref in_cap, in_bulk;              /* [R] caps of the message being received */

    struct rpc_pending *calls[RPC_CALL_BUCKETS];    /* [C] */
    uint32_t next_id;                               /* [C] */
    unsigned refs;                                  /* [C] 1 while open + kept handles */
    volatile errval_t dead;                         /* [C] set once, to a failure: a test against
                                                       SYS_ERR_OK (0) is enough (drain) */

    rpc_serve_fn *serve;                        /* [R] */
    void *serve_arg;
    rpc_notify_fn *notify;                      /* [R] */
    void *notify_arg;

    /* [C] Why the quiet send (rpc_send_quiet) is off, one count each: the
     * transport's send is not atomic (for good), the channel is dead (for
     * good), fragments wait in the backlog (while they do). One word, so
     * that the quiet path makes one test for them all. */
    uint32_t quiet_off;
    uint64_t sent[4];                           /* [S] (or rpc_send_quiet's section) messages sent, by kind */
    struct rpc_chan_stats stats;                /* [S] backlogged, [C] the rest */
};

/* A received fragment's parts (rpc.h). */
static inline size_t rpc_frag_n(struct rpc_frag_in f) { return f.info & RPC_FRAG_WORDS; }
static inline bool rpc_frag_has_cap(struct rpc_frag_in f) { return (f.info & RPC_FRAG_CAP) != 0; }
static inline struct capref rpc_frag_cap(struct rpc_frag_in f)
{
    return capref_from_addr(f.info >> RPC_FRAG_CAP_SHIFT);
}

/* rpc.c */
void rpc_chan_fail(struct rpc_chan *c, errval_t why);

/* rpc_send.c: send one message (all its fragments, in order); fragments
 * the transport cannot take now wait in the backlog. */
errval_t rpc_send(struct rpc_chan *c, const struct rpc_wire_head *head, const void *data,
                  const struct capref *cap);
/* [in the thread library's critical section] The quiet path: if the
 * channel is quiet (quiet_off 0: an atomic transport (rpc.h), no backlog,
 * not dead; and send_lock free), send the one-fragment message
 * words[0..n), of kind `kind`, now, without taking send_lock: no other
 * thread of this process can run until the critical section ends. False
 * if it did not send (it did not try, or the transport refused: nothing
 * went out). Inline: the send of every common call and reply. */
static inline bool rpc_quiet(const struct rpc_chan *c)
{
    return c->quiet_off == 0 && c->send_lock.owner == NULL;
}
static inline bool rpc_send_quiet(struct rpc_chan *c, enum rpc_kind kind, const uint64_t *words, size_t n,
                                  const struct capref *cap)
{
    if (!rpc_quiet(c))
        return false;
    if (c->ops->send(c->tstate, words, n, cap, true) != SYS_ERR_OK)
        return false;
    c->sent[kind]++;
    return true;
}

/* [critical section held] quiet_off up or down by one. */
static inline void rpc_quiet_off(struct rpc_chan *c, bool on)
{
    c->quiet_off += on ? 1 : (uint32_t)-1;
}

/* The one-fragment message words[0..n) under send_lock, behind any
 * backlog; failures as rpc_send_failed. */
errval_t rpc_send_words(struct rpc_chan *c, const uint64_t *words, size_t n, const struct capref *cap);

/* The common case of rpc_send, for a payload that rpc_fits_single: one
 * fragment, `header` its word 0 (rpc_wire_header), `status` a reply's:
 * rpc_send_quiet, or else rpc_send_words. Inline: every reply's send. */
static inline errval_t rpc_send_single(struct rpc_chan *c, uint64_t header, uint16_t status,
                                       const void *data, uint32_t len, const struct capref *cap)
{
    uint64_t words[RPC_WIRE_MAX_WORDS];
    size_t n = rpc_wire_single_words(header | (cap != NULL ? RPC_HDR_CAP : 0), status, data, len, words);
    thread_critical_enter();
    bool sent = rpc_send_quiet(c, rpc_wire_kind(header), words, n, cap);
    thread_critical_exit();
    return sent ? SYS_ERR_OK : rpc_send_words(c, words, n, cap);
}

/* A send failed: a transport that refused for good (or an overflowing
 * backlog) breaks the channel (unless it was dead before, `was_dead`), as
 * even half a message out would. Returns the error to report. */
errval_t rpc_send_failed(struct rpc_chan *c, errval_t err, errval_t was_dead);

/* A payload of `len` bytes travels SHORT, in one fragment after its header. */
static inline bool rpc_fits_single(const struct rpc_chan *c, size_t len)
{
    return rpc_wire_fits_single(len, c->max_words);
}
void rpc_send_retry(struct rpc_chan *c);
void rpc_send_drop_all(struct rpc_chan *c);

/* rpc_bulk.c */
errval_t rpc_bulk_make(struct rpc_chan *c, enum rpc_kind kind, uint32_t id, const void *data,
                       size_t len, struct capref *cap);
/* Map a received bulk frame for reading (*view); rpc_bulk_unview unmaps it
 * and deletes the capability. */
errval_t rpc_bulk_view(struct capref cap, size_t len, const void **view);
void rpc_bulk_unview(struct capref cap, const void *view, size_t len);
void rpc_bulk_released(struct rpc_chan *c, enum rpc_kind kind, uint32_t id);
void rpc_bulk_free_all(struct rpc_chan *c);
