/*
 * thread_sync.c — mutexes, condition variables and semaphores (thread.h).
 *
 * Each is a little state plus a FIFO queue of blocked threads, changed
 * only in the scheduler's critical section (thread_internal.h). Release
 * hands the mutex (or the semaphore unit) straight to the first waiter, so
 * a releasing thread cannot take it back before the waiter runs, and
 * waiters are served in arrival order.
 */
#include "thread_internal.h"

/* Mutexes with an owner, process-wide (see thread_internal.h). Changed in
 * critical sections only: when a mutex gets its first owner and when it
 * is left without one; a hand-off to a waiter changes nothing. */
uint32_t thread_mutexes_held;

void thread_mutex_init(struct thread_mutex *m, const char *name)
{
    *m = (struct thread_mutex)THREAD_MUTEX_INITIALIZER(name);
}

/* In a critical section, m owned by someone: deadlock if by us, else wait
 * until the unlocker makes us the owner. Out of line, so that the free
 * case needs no stack frame. */
static __attribute__((noinline)) void lock_wait(struct thread_mutex *m)
{
    struct thread *self = thread_current;
    if (m->owner == self)
        thread_fatal("deadlock: it locks the %s mutex, which it holds", m->name ? m->name : "unnamed");
    for (m->waits++; m->owner != self;)
        thread_block_on(&m->waiters);
}

void thread_mutex_lock(struct thread_mutex *m)
{
    thread_critical_enter();
    if (m->owner == NULL) {
        m->owner = thread_current;
        thread_mutexes_held++;
    } else
        lock_wait(m);
    thread_critical_exit();
}

static void alloc_acquire(void *m) { thread_mutex_lock(m); }
static void alloc_release(void *m) { thread_mutex_unlock(m); }

struct alloc_lock thread_mutex_as_alloc_lock(struct thread_mutex *m)
{
    return (struct alloc_lock){ alloc_acquire, alloc_release, m };
}

bool thread_mutex_trylock(struct thread_mutex *m)
{
    return thread_mutex_trylock_inline(m);
}

/* In a critical section, m held by the caller and with waiters: hand it
 * to the first. */
static __attribute__((noinline)) void hand_over(struct thread_mutex *m)
{
    struct thread *next = thread_queue_pop(&m->waiters);
    m->owner = next;
    thread_wake(next);
}

/* In a critical section: the caller holds m; give it to the first waiter
 * (or nobody). */
static inline errval_t release(struct thread_mutex *m)
{
    if (m->owner != thread_current)
        return THREAD_ERR_NOT_OWNER;
    if (m->waiters.head == NULL) {
        m->owner = NULL;
        thread_mutexes_held--;
    } else
        hand_over(m);
    return SYS_ERR_OK;
}

errval_t thread_mutex_unlock(struct thread_mutex *m)
{
    thread_critical_enter();
    errval_t err = release(m);
    thread_critical_exit();
    return err;
}

void thread_cond_init(struct thread_cond *c)
{
    *c = (struct thread_cond){ { NULL, NULL } };
}

errval_t thread_cond_wait(struct thread_cond *c, struct thread_mutex *m)
{
    thread_critical_enter();
    errval_t err = release(m);
    if (err_is_fail(err)) {
        thread_critical_exit();
        return err;
    }
    /* Released and queued in one critical section: no signal is missed. */
    thread_block_on(&c->waiters);
    thread_critical_exit();
    thread_mutex_lock(m);
    return SYS_ERR_OK;
}

void thread_cond_signal(struct thread_cond *c)
{
    thread_critical_enter();
    struct thread *t = thread_queue_pop(&c->waiters);
    if (t != NULL)
        thread_wake(t);
    thread_critical_exit();
}

void thread_cond_broadcast(struct thread_cond *c)
{
    thread_critical_enter();
    for (struct thread *t; (t = thread_queue_pop(&c->waiters)) != NULL;)
        thread_wake(t);
    thread_critical_exit();
}

void thread_sem_init(struct thread_sem *s, uint64_t count)
{
    *s = (struct thread_sem){ count, { NULL, NULL } };
}

void thread_sem_wait(struct thread_sem *s)
{
    thread_critical_enter();
    if (s->count > 0)
        s->count--;
    else
        thread_block_on(&s->waiters);   /* thread_sem_post hands us its unit */
    thread_critical_exit();
}

bool thread_sem_trywait(struct thread_sem *s)
{
    thread_critical_enter();
    bool got = s->count > 0;
    if (got)
        s->count--;
    thread_critical_exit();
    return got;
}

errval_t thread_sem_post(struct thread_sem *s)
{
    errval_t err = SYS_ERR_OK;
    thread_critical_enter();
    struct thread *t = thread_queue_pop(&s->waiters);
    if (t != NULL)
        thread_wake(t);
    else if (s->count == UINT64_MAX)
        err = THREAD_ERR_SEM_OVERFLOW;
    else
        s->count++;
    thread_critical_exit();
    return err;
}
