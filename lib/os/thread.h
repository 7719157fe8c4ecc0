/*
 * thread.h — user-level threads of one dispatcher (DESIGN.md §6), and the
 * mutexes, condition variables and semaphores between them (thread_sync.c).
 *
 * All threads of a process run on its one dispatcher; the kernel knows
 * nothing of them. The timer tick preempts them through the dispatcher's
 * upcall (include/minnow/upcall.h), which the library turns into a switch
 * to the next runnable thread, round robin. Page faults go to the faulting
 * thread: its fault handler runs on the thread's own exception stack, so it
 * may block on a mutex like any code (lib/os/exception.c).
 *
 * Every thread has a stack (THREAD_STACK_DEFAULT unless told otherwise) and
 * an exception stack, both backed when the thread is made, each above an
 * unmapped guard page: overrunning either ends the process with a report.
 * Threads need paging (paging_init) for those; the first thread is the
 * program's own and needs nothing.
 *
 * Not thread-safe against other cores: a process's threads share a core.
 * Design and protocol: docs/threads.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#include "base/slab.h"

#define THREAD_STACK_DEFAULT (64 * 1024)
#define THREAD_EXC_STACK     (16 * 1024)
#define THREAD_STACK_MAX     (1ull << 30)   /* larger requests: THREAD_ERR_STACK */

struct thread;
typedef int (*thread_fn)(void *arg);

/* Start fn(arg) in a new thread; it runs when the scheduler gets to it.
 * Errors: LIB_ERR_PAGING_INIT, THREAD_ERR_STACK (with the paging error). */
errval_t thread_create(struct thread **out, thread_fn fn, void *arg);
errval_t thread_create_sized(struct thread **out, thread_fn fn, void *arg, size_t stack_bytes);

/* Wait for `t` to end and take its return value (retval may be NULL); its
 * stacks are then reused or given back, and `t` is no longer valid.
 * Errors: THREAD_ERR_JOIN_SELF, THREAD_ERR_DETACHED, THREAD_ERR_JOINED. */
errval_t thread_join(struct thread *t, int *retval);

/* Nobody will join `t`: its memory goes back when it ends.
 * Errors: THREAD_ERR_DETACHED, THREAD_ERR_JOINED. */
errval_t thread_detach(struct thread *t);

/* End this thread (returning from its function does the same). The last
 * thread to end ends the process with its value. */
__attribute__((noreturn)) void thread_exit(int retval);

void thread_yield(void);
void thread_sleep_us(uint64_t us);

/* Deadlines for timed waits: the counter value `us` microseconds from now,
 * or 0 (no deadline) for THREAD_NO_DEADLINE; and the counter now. */
#define THREAD_NO_DEADLINE UINT64_MAX
uint64_t thread_deadline_us(uint64_t us);
uint64_t thread_counter_now(void);
struct thread *thread_self(void);
uint32_t thread_id(const struct thread *t);     /* 0 is the program's own */

/* Counters for tests and benchmarks. */
struct thread_stats {
    uint64_t created, switches;
    uint64_t preemptions;       /* ticks that ended a thread's turn (at once or at the end of a critical section) */
    uint64_t live;
};
void thread_stats(struct thread_stats *out);

/* ---- synchronisation (thread_sync.c). Waiters queue in FIFO order and are
 * handed the mutex / semaphore unit directly, so nobody starves. ---- */

struct thread_queue {
    struct thread *head, *tail;
};

struct thread_mutex {
    struct thread *owner;       /* NULL when free */
    struct thread_queue waiters;
    const char *name;           /* for deadlock reports; may be NULL */
    uint64_t waits;             /* lock calls that had to wait (contention) */
};
#define THREAD_MUTEX_INITIALIZER(n) { NULL, { NULL, NULL }, (n), 0 }

void thread_mutex_init(struct thread_mutex *m, const char *name);
/* Relocking a mutex one holds is a deadlock: the process ends with a report. */
void thread_mutex_lock(struct thread_mutex *m);
bool thread_mutex_trylock(struct thread_mutex *m);
/* Error: THREAD_ERR_NOT_OWNER, nothing changed. */
errval_t thread_mutex_unlock(struct thread_mutex *m);

/* The lock hook of lib/base's allocators (slab, slot allocator, memory
 * manager, region tree, page-table model) as this mutex. */
struct alloc_lock thread_mutex_as_alloc_lock(struct thread_mutex *m);

struct thread_cond {
    struct thread_queue waiters;
};
void thread_cond_init(struct thread_cond *c);
/* Unlock m, wait for a signal, relock m (callers re-check their condition). */
errval_t thread_cond_wait(struct thread_cond *c, struct thread_mutex *m);
void thread_cond_signal(struct thread_cond *c);
void thread_cond_broadcast(struct thread_cond *c);

struct thread_sem {
    uint64_t count;
    struct thread_queue waiters;
};
void thread_sem_init(struct thread_sem *s, uint64_t count);
void thread_sem_wait(struct thread_sem *s);
bool thread_sem_trywait(struct thread_sem *s);
errval_t thread_sem_post(struct thread_sem *s);
