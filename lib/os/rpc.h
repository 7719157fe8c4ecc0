/*
 * rpc.h — typed calls, replies and notifications over any transport
 * (docs/rpc.md).
 *
 * A channel joins two processes (or two ends in one, for tests) over a
 * transport: LMP on one core, UMP across cores, a loopback in tests. The
 * transport moves fragments of a few words and at most one capability;
 * this layer makes messages of any size out of them (rpc_wire.h), matches
 * replies to calls by id, and lets
 *   - many threads call at once: no lock is held while a call waits;
 *   - a server reply later (rpc_reply_defer): a call may wait for an event
 *     (a child's exit) without holding up other calls;
 *   - either side send notifications, unasked;
 *   - every call end by its deadline, with RPC_ERR_TIMEOUT.
 * A peer that takes no messages cannot stall the sender: fragments it
 * cannot take wait in the channel's backlog, retried from the waitset, and
 * when the backlog is full the channel is closed (RPC_ERR_BACKLOG).
 *
 * Threads: rpc_call, rpc_reply, rpc_notify and rpc_chan_close may be used
 * from any thread. Handlers (serve, notify) run in whichever thread
 * dispatches the channel's waitset, one message at a time per channel.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#include "cap.h"
#include "rpc_wire.h"
#include "thread.h"
#include "waitset.h"

struct rpc_chan;

/* A message as handlers see it. `data` is valid only during the handler;
 * the capability, if any, is the handler's to keep or delete. */
struct rpc_msg {
    const void *data;
    size_t len;
    struct capref cap;
    uint16_t type;              /* (after cap, in its padding: 32 bytes in all) */
    bool has_cap;
};

/* A fragment as a transport's recv hands it over: its words (NULL: none
 * there), and in `info` its word count (RPC_FRAG_WORDS), whether a
 * capability came with it (RPC_FRAG_CAP) and, if one did, the address of
 * the L2 slot it is in (bits 32..63). Two words, returned in registers. */
struct rpc_frag_in {
    const uint64_t *words;
    uint64_t info;
};
#define RPC_FRAG_WORDS 0xffull
#define RPC_FRAG_CAP   (1ull << 8)
#define RPC_FRAG_CAP_SHIFT 32
#define RPC_FRAG_UNSENT (1ull << 10)    /* (call, with no words) it did not send */

/* What a transport does for a channel. send: one fragment (words[] always
 * has room for RPC_WIRE_MAX_WORDS, so a transport may read all), SYS_ERR_OK,
 * RPC_ERR_TRANSPORT_FULL (nothing sent, try later) or a permanent error;
 * `last` says it ends a message (the transport may hand the processor to
 * the receiver). recv: take one fragment if there is one; its words stay
 * valid until the next recv on the channel. rearm: after a
 * recv that handed out a capability, and before the next, get ready for
 * the next capability (LMP arms a fresh slot); may be NULL. Each gets the
 * transport's state (rpc_chan_new's `state`). The transport calls
 * rpc_chan_arrived() when fragments may have arrived. */
struct rpc_transport_ops {
    errval_t (*send)(void *t, const uint64_t *words, size_t n, const struct capref *cap, bool last);
    struct rpc_frag_in (*recv)(void *t);
    /* call: send the one fragment of a call (as send, `last` true), then
     * recv, in one step; without it, a transport counts as not atomic. The fragment
     * received may be put in words[] (the caller's, RPC_WIRE_MAX_WORDS
     * long; LMP's reply comes in the registers), valid there while the
     * caller keeps words[]. Returns { NULL, RPC_FRAG_UNSENT } if it did
     * not send (nothing went out). */
    struct rpc_frag_in (*call)(void *t, uint64_t *words, size_t n, const struct capref *cap);
    void (*rearm)(void *t);
    void (*close)(void *t);                 /* may be NULL */
    /* send and recv may run in the thread library's critical section:
     * they neither block nor take a mutex nor allocate (LMP's are one
     * system call and a read of the ring; rearm, which allocates, is not
     * included). Then a one-fragment message on a quiet channel goes out
     * without taking the channel's send lock, and a call's reply is taken
     * in the same critical section (docs/rpc.md §3). */
    bool atomic;
};

typedef struct rpc_reply_handle {
    struct rpc_chan *chan;
    uint32_t id;
    bool kept;                  /* deferred: it holds a reference on the channel */
} rpc_reply_handle;

/* A server's handler: answer with rpc_reply, now or (after rpc_reply_defer)
 * later. Unknown types: rpc_reply_error(h, RPC_ERR_UNKNOWN_TYPE). A call
 * the handler neither answers nor defers is answered RPC_ERR_NO_REPLY. */
typedef void rpc_serve_fn(struct rpc_chan *c, const struct rpc_msg *req, rpc_reply_handle *h, void *arg);
typedef void rpc_notify_fn(struct rpc_chan *c, const struct rpc_msg *msg, void *arg);

/* ---- channels ---- */

/* Make a channel over a transport (`state` is the transport's, found with
 * rpc_chan_transport), dispatched on `ws` (NULL: waitset_default()). */
errval_t rpc_chan_new(struct rpc_chan **out, const struct rpc_transport_ops *ops, void *state,
                      size_t max_words, struct waitset *ws);
void *rpc_chan_transport(struct rpc_chan *c);

/* Handlers for calls that arrive and for notifications. */
void rpc_chan_serve(struct rpc_chan *c, rpc_serve_fn *fn, void *arg);
void rpc_chan_on_notify(struct rpc_chan *c, rpc_notify_fn *fn, void *arg);

/* For transports: fragments may have arrived. From thread code, or with
 * `in_critical` from inside the thread scheduler (message callbacks). */
void rpc_chan_arrived(struct rpc_chan *c, bool in_critical);

/* Close: outstanding calls fail with RPC_ERR_CLOSED, later operations too.
 * The memory goes once no deferred reply handle and no running handler
 * refers to it. No thread may be inside rpc_call or rpc_notify on the
 * channel when it is closed. */
void rpc_chan_close(struct rpc_chan *c);

/* Why the channel no longer works (SYS_ERR_OK while it does). */
errval_t rpc_chan_error(struct rpc_chan *c);

/* ---- calls ---- */

#define RPC_TIMEOUT_DEFAULT_US (5 * 1000 * 1000)

struct rpc_call_args {
    uint16_t type;
    const void *req;
    size_t req_len;
    const struct capref *req_cap;   /* NULL: none; the caller keeps its copy */
    void *resp;                     /* the reply's payload goes here */
    size_t resp_max;
    uint64_t timeout_us;            /* 0: RPC_TIMEOUT_DEFAULT_US; THREAD_NO_DEADLINE: none */
};

struct rpc_result {
    size_t resp_len;
    bool has_cap;
    struct capref cap;              /* the reply's capability, now the caller's */
};

/* Send a call and wait for its reply. The server's error (its reply
 * status) is returned as is; RPC_ERR_TIMEOUT, RPC_ERR_PEER_DEAD,
 * RPC_ERR_CLOSED, RPC_ERR_TOO_LARGE, RPC_ERR_REPLY_TOO_LARGE are the
 * layer's own. `res` may be NULL. */
errval_t rpc_call(struct rpc_chan *c, const struct rpc_call_args *a, struct rpc_result *res);

/* ---- answering ---- */

/* In a handler: take over the call, to answer it after the handler has
 * returned (the returned handle is then the one to answer with). */
rpc_reply_handle rpc_reply_defer(rpc_reply_handle *h);

errval_t rpc_reply(rpc_reply_handle *h, errval_t status, const void *data, size_t len,
                   const struct capref *cap);
static inline errval_t rpc_reply_error(rpc_reply_handle *h, errval_t status)
{
    return rpc_reply(h, status, NULL, 0, NULL);
}

/* Forget a kept handle without answering (its channel is going). */
void rpc_reply_drop(rpc_reply_handle *h);

/* A one-way message, either way. */
errval_t rpc_notify(struct rpc_chan *c, uint16_t type, const void *data, size_t len,
                    const struct capref *cap);

/* ---- counters, for tests ---- */

struct rpc_chan_stats {
    uint64_t calls, replies, notifies;      /* messages sent */
    uint64_t backlogged;                    /* fragments that had to wait */
    uint64_t bad;                           /* malformed messages received */
    uint64_t late_replies;                  /* replies to calls that had ended */
    uint64_t bulk_out;                      /* bulk frames not yet released by the peer */
};
void rpc_chan_stats(struct rpc_chan *c, struct rpc_chan_stats *out);
