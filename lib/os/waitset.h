/*
 * waitset.h — the event loop: channels register events on a waitset, and
 * threads dispatch them (docs/rpc.md).
 *
 * An event source (a channel end) embeds a `struct waitset_source`, bound
 * to one waitset with a handler. When the source has something to do (a
 * message arrived, the transport can take more) it is *triggered*: it joins
 * the waitset's FIFO of pending sources, at most once, and one thread
 * blocked in waitset_dispatch wakes. waitset_dispatch takes the first
 * pending source and runs its handler in the calling thread, outside any
 * critical section: the handler may lock, allocate, block and send.
 *
 * A source may also ask to be *retried* after a short while (a send that
 * found the peer's buffer full): it is triggered again RETRY_US later,
 * whether or not anything happened, because no transport says when the
 * peer drained its buffer.
 *
 * Any number of threads may dispatch on one waitset. Its state is guarded
 * by the thread library's critical section, not by a mutex, so that the
 * message-arrival callbacks (which run inside the thread scheduler) can
 * trigger sources too.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <minnow/errors.h>

#define WAITSET_RETRY_US 1000

struct waitset;

struct waitset_source {
    void (*handler)(struct waitset_source *src, void *arg);
    void *arg;
    /* Optional: called inside the critical section as the source is taken
     * to run, so its owner can pin it (a reference count) before any other
     * thread could free it; the handler then unpins it. */
    void (*hold)(void *arg);
    struct waitset *ws;
    struct waitset_source *next;    /* in ws's pending FIFO or retry list */
    bool pending;                   /* in the pending FIFO */
    bool retry;                     /* in the retry list */
    uint64_t retry_at;              /* counter value */
};

struct waitset_waiter;

struct waitset {
    struct waitset_source *head, *tail;     /* pending, FIFO */
    struct waitset_source *retries;         /* unsorted: there are few */
    struct waitset_waiter *waiters;         /* threads in waitset_dispatch, a stack */
};

void waitset_init(struct waitset *ws);

/* The process's waitset, which the RPC layer's own event thread (or the
 * program's main loop) dispatches. */
struct waitset *waitset_default(void);

void waitset_source_init(struct waitset_source *src, struct waitset *ws,
                         void (*handler)(struct waitset_source *, void *), void *arg);

/* Take a source off its waitset's lists (before freeing it). */
void waitset_source_detach(struct waitset_source *src);

/* Make `src` pending (no-op if it already is). waitset_trigger is for
 * ordinary thread code; waitset_trigger_critical for code that already runs
 * inside the thread library's critical section (message callbacks). */
void waitset_trigger(struct waitset_source *src);
void waitset_trigger_critical(struct waitset_source *src);

/* Trigger `src` again in WAITSET_RETRY_US (no-op if already scheduled). */
void waitset_retry_later(struct waitset_source *src);

/* Run the handler of one pending source; if none is pending, wait until one
 * is or until `deadline` (a counter value, thread_deadline_us; 0: none).
 * LIB_ERR_WAITSET_TIMEOUT if the deadline passed with nothing to run. */
errval_t waitset_dispatch(struct waitset *ws, uint64_t deadline);

/* Run handlers until *done becomes true (set by one of them, or by another
 * thread) or the deadline passes (LIB_ERR_WAITSET_TIMEOUT). */
errval_t waitset_dispatch_until(struct waitset *ws, const volatile bool *done, uint64_t deadline);


/* Inside the critical section: if thread `t` waits in dispatch on `ws`, wake
 * it (it looks at its *done again); otherwise do nothing. */
struct thread;
void waitset_wake_thread_critical(struct waitset *ws, struct thread *t);
