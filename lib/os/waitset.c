/*
 * waitset.c — the event loop (waitset.h).
 *
 * Everything here runs inside the thread library's critical section
 * (thread_internal.h), which is what makes it safe against the message
 * callbacks that run inside the scheduler. Handlers run outside it.
 */
#include "waitset.h"

#include <stddef.h>

#include "thread_internal.h"

/* A thread blocked in dispatch: on its stack, in ws->waiters. */
struct waitset_waiter {
    struct thread *thread;
    struct waitset_waiter *prev, *next;
    bool listed;
};

static struct waitset default_ws;

void waitset_init(struct waitset *ws)
{
    *ws = (struct waitset){ 0 };
}

struct waitset *waitset_default(void)
{
    return &default_ws;
}

void waitset_source_init(struct waitset_source *src, struct waitset *ws,
                         void (*handler)(struct waitset_source *, void *), void *arg)
{
    *src = (struct waitset_source){ .handler = handler, .arg = arg, .ws = ws };
}

/* ---- waiters ---- */

static void waiter_push(struct waitset *ws, struct waitset_waiter *w)
{
    w->prev = NULL;
    w->next = ws->waiters;
    if (ws->waiters != NULL)
        ws->waiters->prev = w;
    ws->waiters = w;
    w->listed = true;
}

static void waiter_remove(struct waitset *ws, struct waitset_waiter *w)
{
    if (!w->listed)
        return;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        ws->waiters = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    w->listed = false;
}

/* A waiter whose deadline already woke it is still listed until it runs
 * again: it needs no second wake-up (and must not get one, which would
 * queue it twice); it will look at the waitset as soon as it runs. */
static void waiter_wake(struct waitset *ws, struct waitset_waiter *w)
{
    waiter_remove(ws, w);
    thread_wake_blocked(w->thread);
}

/* ---- pending sources ---- */

static void pending_push(struct waitset *ws, struct waitset_source *src)
{
    src->next = NULL;
    if (ws->tail != NULL)
        ws->tail->next = src;
    else
        ws->head = src;
    ws->tail = src;
    src->pending = true;
}

static struct waitset_source *pending_pop(struct waitset *ws)
{
    struct waitset_source *src = ws->head;
    if (src == NULL)
        return NULL;
    ws->head = src->next;
    if (ws->head == NULL)
        ws->tail = NULL;
    src->next = NULL;
    src->pending = false;
    return src;
}

static void unlink_from(struct waitset_source **list, struct waitset_source **tail,
                        struct waitset_source *src)
{
    struct waitset_source *prev = NULL;
    for (struct waitset_source *s = *list; s != NULL; prev = s, s = s->next) {
        if (s != src)
            continue;
        if (prev != NULL)
            prev->next = s->next;
        else
            *list = s->next;
        if (tail != NULL && *tail == s)
            *tail = prev;
        s->next = NULL;
        return;
    }
}

void waitset_trigger_critical(struct waitset_source *src)
{
    struct waitset *ws = src->ws;
    if (src->retry) {
        unlink_from(&ws->retries, NULL, src);
        src->retry = false;
    }
    if (src->pending)
        return;
    pending_push(ws, src);
    if (ws->waiters != NULL)
        waiter_wake(ws, ws->waiters);
}

void waitset_trigger(struct waitset_source *src)
{
    thread_critical_enter();
    waitset_trigger_critical(src);
    thread_critical_exit();
}

void waitset_retry_later(struct waitset_source *src)
{
    thread_critical_enter();
    if (!src->retry && !src->pending) {
        src->retry = true;
        src->retry_at = thread_deadline_us(WAITSET_RETRY_US);
        src->next = src->ws->retries;
        src->ws->retries = src;
    }
    thread_critical_exit();
}

void waitset_source_detach(struct waitset_source *src)
{
    struct waitset *ws = src->ws;
    thread_critical_enter();
    if (src->pending)
        unlink_from(&ws->head, &ws->tail, src);
    if (src->retry)
        unlink_from(&ws->retries, NULL, src);
    src->pending = src->retry = false;
    thread_critical_exit();
}

/* Move the retries that are due to the pending FIFO; return the earliest
 * retry still waiting (0: none). */
static uint64_t due_retries(struct waitset *ws)
{
    if (ws->retries == NULL)
        return 0;
    uint64_t now = thread_counter_now(), next = 0;
    struct waitset_source **pp = &ws->retries;
    while (*pp != NULL) {
        struct waitset_source *s = *pp;
        if (s->retry_at <= now) {
            *pp = s->next;
            s->retry = false;
            pending_push(ws, s);
        } else {
            if (next == 0 || s->retry_at < next)
                next = s->retry_at;
            pp = &s->next;
        }
    }
    return next;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
    if (a == 0)
        return b;
    if (b == 0)
        return a;
    return a < b ? a : b;
}

/* Run one handler, or return when *done (if given) or at the deadline. */
static errval_t dispatch(struct waitset *ws, const volatile bool *done, uint64_t deadline)
{
    thread_critical_enter();
    for (;;) {
        if (done != NULL && *done) {
            /* A trigger may have woken this thread for a source it will
             * not run: pass the wake-up on. */
            if (ws->head != NULL && ws->waiters != NULL)
                waiter_wake(ws, ws->waiters);
            thread_critical_exit();
            return SYS_ERR_OK;
        }
        uint64_t next_retry = due_retries(ws);
        struct waitset_source *src = pending_pop(ws);
        if (src != NULL) {
            if (src->hold != NULL)
                src->hold(src->arg);
            thread_critical_exit();
            src->handler(src, src->arg);
            return SYS_ERR_OK;
        }
        if (deadline != 0 && thread_counter_now() >= deadline) {
            thread_critical_exit();
            return LIB_ERR_WAITSET_TIMEOUT;
        }
        struct waitset_waiter w = { .thread = thread_current };
        waiter_push(ws, &w);
        thread_block_until(earliest(deadline, next_retry));
        waiter_remove(ws, &w);      /* still listed if the deadline woke it */
    }
}

errval_t waitset_dispatch(struct waitset *ws, uint64_t deadline)
{
    return dispatch(ws, NULL, deadline);
}

errval_t waitset_dispatch_until(struct waitset *ws, const volatile bool *done, uint64_t deadline)
{
    while (!*done) {
        errval_t err = dispatch(ws, done, deadline);
        if (err_is_fail(err))
            return err;
    }
    return SYS_ERR_OK;
}


void waitset_wake_thread_critical(struct waitset *ws, struct thread *t)
{
    for (struct waitset_waiter *w = ws->waiters; w != NULL; w = w->next) {
        if (w->thread == t) {
            waiter_wake(ws, w);
            return;
        }
    }
}
