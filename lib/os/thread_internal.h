/*
 * thread_internal.h — what the thread library's files share (thread.c,
 * thread_stack.c, thread_sync.c, exception.c). Not for programs.
 *
 * The one rule everything here follows: the scheduler's state (the current
 * thread, the queues, every struct thread's links and state) is changed
 * only inside a critical section (thread_critical_enter/exit), during which
 * a preemption upcall does not switch threads — it notes the tick and
 * resumes, and the switch happens at thread_critical_exit. Upcalls
 * themselves run with no other upcall possible, so they need no section.
 */
#pragma once

#include <minnow/upcall.h>

#include "exception.h"
#include "thread.h"

enum thread_state {
    THREAD_RUNNABLE,    /* running, or in the run queue */
    THREAD_BLOCKED,     /* in a mutex, condition, semaphore or sleep queue, or joining */
    THREAD_EXITED,      /* its value waits for thread_join */
};

/* The memory of a thread other than the first: one reserved region,
 * [guard | exception stack | guard | stack], the stacks backed by frames
 * (thread_stack.c). The struct thread and its TLS block sit at the top of
 * the stack. */
struct thread_mem {
    uint64_t base, size;            /* the whole region */
    uint64_t exc_lo, exc_hi;        /* exception stack */
    uint64_t stack_lo, stack_hi;    /* stack (the struct thread lies just below stack_hi) */
};

struct thread {
    struct upcall_ctx ctx;          /* saved state while not running */
    struct upcall_ctx fault_ctx;    /* the faulting state, while in_fault */
    struct os_fault fault;
    struct thread *next;            /* link in the one queue it is on */
    enum thread_state state;
    bool ctx_full;                  /* ctx holds every register (preempted), else only callee-saved ones */
    bool in_fault;                  /* its fault handler is running */
    bool detached;
    uint32_t id;
    thread_fn fn;
    void *arg;
    int retval;
    struct thread *joiner;          /* blocked in thread_join on it */
    uint64_t wake_at;               /* counter value, while sleeping */
    bool in_sleepq;                 /* sleeping, or in a timed wait (thread_block_until) */
    bool timed_out;                 /* its last timed wait ended by the deadline */
    struct thread_mem mem;          /* size 0 for the first thread */
};

/* thread.c's state that the inline functions below need: the running
 * thread, the critical-section word (SYS_RESUME clears it as it jumps),
 * and whether a preemption came during a critical section. */
extern struct thread *thread_current;
struct thread_cs {
    volatile uint32_t in_critical;      /* SYS_RESUME clears it (thread.c) */
    volatile uint32_t preempt_pending;  /* a preemption came during the section */
};
extern struct thread_cs thread_cs;      /* one base address for both: every exit reads both */

static inline void thread_barrier(void) { __asm__ volatile("" ::: "memory"); }

/* Enter the critical section: a preemption upcall now only notes itself. */
static inline void thread_critical_enter(void)
{
    thread_cs.in_critical = 1;
    thread_barrier();
}

/* Leave it, and yield if a preemption came meanwhile. Inline, as every
 * mutex operation makes one of these. */
static inline void thread_critical_exit(void)
{
    thread_barrier();
    thread_cs.in_critical = 0;
    thread_barrier();
    if (thread_cs.preempt_pending)
        thread_yield();
}

/* How many mutexes have an owner. While it is 0 and an upcall runs, no
 * other thread can run (the threads of a dispatcher share one core) and
 * no mutex is held, so code in the upcall may lock and unlock mutexes
 * without ever having to wait: that is what lets a page fault be handled
 * on the upcall stack (exception.c's fast handler). */
extern uint32_t thread_mutexes_held;

/* The uncontended mutex paths inline, for the runtime's hot paths (the RPC
 * layer takes a channel's locks on every message); anything else goes to
 * thread_mutex_lock/unlock (thread_sync.c), which they mirror. */
static inline bool thread_mutex_trylock_inline(struct thread_mutex *m)
{
    thread_critical_enter();
    bool got = m->owner == NULL;
    if (got) {
        m->owner = thread_current;
        thread_mutexes_held++;
    }
    thread_critical_exit();
    return got;
}

static inline void thread_mutex_lock_inline(struct thread_mutex *m)
{
    if (!thread_mutex_trylock_inline(m))
        thread_mutex_lock(m);
}

/* [critical section held] `m`'s uncontended unlock; false if a waiter
 * must be handed the mutex (thread_mutex_unlock does that). */
static inline bool thread_mutex_release_critical(struct thread_mutex *m)
{
    bool simple = m->owner == thread_current && m->waiters.head == NULL;
    if (simple) {
        m->owner = NULL;
        thread_mutexes_held--;
    }
    return simple;
}

static inline void thread_mutex_unlock_inline(struct thread_mutex *m)
{
    thread_critical_enter();
    bool simple = thread_mutex_release_critical(m);
    thread_critical_exit();
    if (!simple)
        thread_mutex_unlock(m);
}

/* [critical section held] Take `m` if it is free. */
static inline bool thread_mutex_take_critical(struct thread_mutex *m)
{
    bool got = m->owner == NULL;
    if (got) {
        m->owner = thread_current;
        thread_mutexes_held++;
    }
    return got;
}

/* In a critical section: put the current thread on `q` (NULL: none) as
 * blocked and run others until thread_wake() makes it runnable. Returns in
 * the critical section. */
void thread_block_on(struct thread_queue *q);
void thread_wake(struct thread *t);

/* In a critical section: block the current thread, on no queue, until
 * thread_wake() or until the counter reaches `deadline` (0: none). True if
 * the deadline ended it: then whoever might have woken it must forget it
 * (the caller's job, as only the caller knows where it registered). */
bool thread_block_until(uint64_t deadline);

/* In a critical section: wake `t` if it is still blocked. For waking a
 * thread from a list it may still be on after its deadline woke it (a
 * second thread_wake would queue it twice). */
void thread_wake_blocked(struct thread *t);

void thread_queue_push(struct thread_queue *q, struct thread *t);
struct thread *thread_queue_pop(struct thread_queue *q);

/* Make sure the upcall is registered (idempotent). */
errval_t thread_lib_init(void);

/* End the process with a report naming the current thread. */
__attribute__((noreturn, format(printf, 1, 2))) void thread_fatal(const char *fmt, ...);

/* exception.c: run the process's fault handler for the current thread, on
 * its exception stack (entered from the fault upcall); never returns. */
__attribute__((noreturn)) void os_exception_run(void);
/* exception.c: in the fault upcall, with no mutex held: try the fast
 * handler; true if it fixed the fault. */
bool os_exception_try_fast(const struct os_fault *f);
/* thread.c: the handler fixed it; retry the faulting instruction. */
__attribute__((noreturn)) void thread_fault_resume(void);

/* thread_stack.c */
errval_t thread_mem_new(size_t stack_bytes, struct thread_mem *out);
errval_t thread_mem_free(const struct thread_mem *mem);
/* Which stack guard page of `mem`, if any, holds `addr`: a name or NULL. */
const char *thread_mem_guard(const struct thread_mem *mem, uint64_t addr);

/* thread_asm.S */
__attribute__((returns_twice)) int thread_ctx_save(struct upcall_ctx *c);
__attribute__((noreturn)) void thread_ctx_load(const struct upcall_ctx *c);
void thread_upcall_entry(void);
