/*
 * thread.c — the thread scheduler of a dispatcher (thread.h): creation,
 * switching, preemption and fault upcalls, join, sleep.
 *
 * State. `thread_current` runs; runnable threads wait in `runq` (FIFO, so round
 * robin); sleepers in `sleepq`, sorted by wake time; blocked threads in the
 * queue of what they wait for (thread_sync.c). A queue is an intrusive
 * singly linked FIFO: push at the tail, pop at the head, both O(1) — no
 * queue is ever searched, except the sleep queue's sorted insert.
 *
 * Switching. A thread that gives up the processor itself (yield, block,
 * exit) saves only what a call preserves (thread_ctx_save); one that the
 * tick preempted has every register in its struct thread (ctx_full). The
 * next thread is entered by thread_ctx_load in the first case and by
 * SYS_RESUME in the second, which also clears `thread_cs.in_critical` as it jumps.
 *
 * The critical section (thread_internal.h) is the word `thread_cs.in_critical`: while
 * it is set, a preemption upcall only sets `thread_cs.preempt_pending` and resumes;
 * thread_critical_exit then yields. Upcalls run on their own stack and are
 * never interrupted by another upcall, so they change the state freely.
 */
#include "thread_internal.h"

#include <picotls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmp.h"
#include "term.h"
#include "os.h"
#include "syscall.h"

#define UPCALL_STACK_BYTES (16 * 1024)

static struct thread first_thread;              /* the program's own, id 0 */
struct thread *thread_current = &first_thread;
static struct thread_queue runq, sleepq;
static struct thread *reap;                     /* detached threads that ended */
struct thread_cs thread_cs;      /* in_critical is cleared by SYS_RESUME, see above */
static bool upcall_registered;
static uint32_t next_id = 1;
static struct thread_stats stats = { .live = 1 };

static struct upcall_ctx save_area;
static uint8_t upcall_stack[UPCALL_STACK_BYTES] __attribute__((aligned(16)));
static uint8_t first_exc_stack[THREAD_EXC_STACK] __attribute__((aligned(16)));

/* ---- queues ---- */

void thread_queue_push(struct thread_queue *q, struct thread *t)
{
    t->next = NULL;
    if (q->tail != NULL)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

struct thread *thread_queue_pop(struct thread_queue *q)
{
    struct thread *t = q->head;
    if (t != NULL) {
        q->head = t->next;
        if (q->head == NULL)
            q->tail = NULL;
        t->next = NULL;
    }
    return t;
}

/* ---- time ---- */

static uint64_t counter_now(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
    return v;
}

static uint64_t counter_freq(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v;
}

static void sleepq_insert(struct thread *t)
{
    struct thread **pp = &sleepq.head;
    while (*pp != NULL && (*pp)->wake_at <= t->wake_at)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    if (t->next == NULL)
        sleepq.tail = t;
    t->in_sleepq = true;
}

/* A timed waiter woken before its deadline leaves the sleep queue (a
 * search: timed waits are few, and the queue is sorted for the tick). */
static void sleepq_remove(struct thread *t)
{
    struct thread *prev = NULL;
    for (struct thread *s = sleepq.head; s != NULL; prev = s, s = s->next) {
        if (s != t)
            continue;
        if (prev != NULL)
            prev->next = t->next;
        else
            sleepq.head = t->next;
        if (sleepq.tail == t)
            sleepq.tail = prev;
        break;
    }
    t->next = NULL;
    t->in_sleepq = false;
}

static void wake_sleepers(void)
{
    uint64_t now = counter_now();
    while (sleepq.head != NULL && sleepq.head->wake_at <= now) {
        struct thread *t = thread_queue_pop(&sleepq);
        t->in_sleepq = false;
        t->timed_out = true;
        thread_wake(t);
    }
}

/* ---- switching ---- */

/* Run `t`. From an upcall (or for a preempted thread) only SYS_RESUME
 * will do: it also ends the upcall and clears `thread_cs.in_critical` with the jump. */
__attribute__((noreturn)) static void resume(struct thread *t, bool in_upcall)
{
    thread_current = t;
    if (t->ctx_full || in_upcall) {
        errval_t err = sys_resume(&t->ctx, &thread_cs.in_critical);
        thread_fatal("SYS_RESUME refused thread %u's state: %s", t->id, err_getstring(err));
    }
    thread_ctx_load(&t->ctx);
}

/* The next thread to run. With none runnable, the dispatcher waits in the
 * kernel (SYS_WAIT) for a message or the first sleeper's wake time, giving
 * the core to others; if neither could ever come, that is a deadlock. */
static struct thread *pick_next(void)
{
    for (;;) {
        wake_sleepers();
        lmp_poll();
        struct thread *t = thread_queue_pop(&runq);
        if (t != NULL)
            return t;
        if (sleepq.head == NULL && !lmp_can_wake())
            thread_fatal("deadlock: every thread is blocked");
        sys_wait(sleepq.head != NULL ? sleepq.head->wake_at : 0);
    }
}

/* In a critical section: the current thread has been queued somewhere (or
 * has ended); run the next one. Returns when this thread runs again. */
static void switch_away(void)
{
    struct thread *self = thread_current;
    thread_cs.preempt_pending = false;
    struct thread *next = pick_next();
    if (next == self)
        return;
    stats.switches++;
    if (thread_ctx_save(&self->ctx) != 0)
        return;         /* resumed: back in the critical section of the caller */
    self->ctx_full = false;
    resume(next, false);
}

void thread_wake(struct thread *t)
{
    if (t->in_sleepq)
        sleepq_remove(t);
    t->state = THREAD_RUNNABLE;
    thread_queue_push(&runq, t);
}

bool thread_block_until(uint64_t deadline)
{
    struct thread *self = thread_current;
    self->state = THREAD_BLOCKED;
    self->timed_out = false;
    if (deadline != 0) {
        self->wake_at = deadline;
        sleepq_insert(self);
    }
    switch_away();
    return self->timed_out;
}

/* The counter value `us` from now; far in the future (never 0) when that
 * would overflow. */
static uint64_t counter_after_us(uint64_t us)
{
    uint64_t freq = counter_freq();
    uint64_t ticks = us > UINT64_MAX / freq ? UINT64_MAX / 2 : us * freq / 1000000;
    return counter_now() + ticks;
}

uint64_t thread_deadline_us(uint64_t us)
{
    return us == THREAD_NO_DEADLINE ? 0 : counter_after_us(us);
}

uint64_t thread_counter_now(void)
{
    return counter_now();
}

void thread_block_on(struct thread_queue *q)
{
    thread_current->state = THREAD_BLOCKED;
    if (q != NULL)
        thread_queue_push(q, thread_current);
    switch_away();
}

void thread_wake_blocked(struct thread *t)
{
    if (t->state == THREAD_BLOCKED)
        thread_wake(t);
}

void thread_yield(void)
{
    thread_critical_enter();
    thread_wake(thread_current);
    switch_away();
    thread_critical_exit();
}

void thread_sleep_us(uint64_t us)
{
    uint64_t deadline = counter_after_us(us);
    thread_critical_enter();
    while (!thread_block_until(deadline))
        ;       /* nobody wakes a sleeper but its deadline */
    thread_critical_exit();
}

/* ---- upcalls ---- */

static void on_preempt(const struct upcall_ctx *saved)
{
    stats.preemptions++;
    if (thread_cs.in_critical) {
        thread_cs.preempt_pending = true;     /* thread_critical_exit will yield */
        sys_resume(saved, NULL);
    }
    thread_current->ctx = *saved;
    thread_current->ctx_full = true;
    thread_wake(thread_current);
    thread_cs.preempt_pending = false;
    struct thread *next = pick_next();
    if (next != thread_current)
        stats.switches++;
    resume(next, true);
}

/* Run the fault handler in the faulting thread, on its exception stack,
 * as an ordinary thread that may block (exception.c). */
static void on_fault(const struct upcall_ctx *saved, uint64_t addr, uint64_t esr)
{
    struct thread *t = thread_current;
    if (thread_cs.in_critical)
        thread_fatal("fault in the thread scheduler at 0x%llx, pc 0x%llx",
                     (unsigned long long)addr, (unsigned long long)saved->pc);
    if (t->in_fault)
        thread_fatal("fault in its page-fault handler: %s at 0x%llx, pc 0x%llx", os_fault_kind(esr),
                     (unsigned long long)addr, (unsigned long long)saved->pc);
    t->fault = (struct os_fault){ addr, esr, saved->pc };
    if (thread_mutexes_held == 0 && !thread_cs.preempt_pending && os_exception_try_fast(&t->fault))
        sys_resume(saved, NULL);    /* fixed in the upcall: straight back */
    t->fault_ctx = *saved;
    t->in_fault = true;
    /* Only what the handler's entry needs: the other registers are free
     * (no 816-byte clear on the page-fault path). */
    t->ctx.pc = (uint64_t)os_exception_run;
    t->ctx.sp = t->mem.size != 0 ? t->mem.exc_hi : (uint64_t)(first_exc_stack + sizeof first_exc_stack);
    t->ctx.x[29] = t->ctx.x[30] = 0;    /* the handler's backtrace ends here */
    t->ctx.pstate = 0;
    t->ctx.tpidr = saved->tpidr;
    t->ctx.fpcr = saved->fpcr;
    t->ctx_full = true;
    resume(t, true);
}

struct thread *thread_self(void) { return thread_current; }

void thread_upcall(uint64_t reason, const struct upcall_ctx *saved, uint64_t addr, uint64_t esr);
void thread_upcall(uint64_t reason, const struct upcall_ctx *saved, uint64_t addr, uint64_t esr)
{
    if (reason == UPCALL_PREEMPT)
        on_preempt(saved);
    else
        on_fault(saved, addr, esr);
}

void thread_fault_resume(void)
{
    struct thread *t = thread_current;
    t->in_fault = false;
    errval_t err = sys_resume(&t->fault_ctx, NULL);
    thread_fatal("SYS_RESUME refused the faulting state: %s", err_getstring(err));
}

/* What stdio needs once there are threads (term.h): its two locks, the
 * critical-section test (no terminal from there), and a console reader
 * that waits by sleeping, so the process's other threads run. */
static struct thread_mutex stdio_locks[2] = {
    [OS_STDIO_OUT] = THREAD_MUTEX_INITIALIZER("stdout"), [OS_STDIO_IN] = THREAD_MUTEX_INITIALIZER("stdin"),
};
static void stdio_lock(enum os_stdio_lock which) { thread_mutex_lock(&stdio_locks[which]); }
static void stdio_unlock(enum os_stdio_lock which) { thread_mutex_unlock(&stdio_locks[which]); }
static bool stdio_in_critical(void) { return thread_cs.in_critical != 0; }
static void stdio_wait(void) { thread_sleep_us(2000); }
static const struct os_stdio_threads stdio_threads = {
    stdio_lock, stdio_unlock, stdio_in_critical, stdio_wait,
};

errval_t thread_lib_init(void)
{
    os_stdio_threads = &stdio_threads;
    if (upcall_registered)
        return SYS_ERR_OK;
    errval_t err = sys_upcall_set((uint64_t)thread_upcall_entry,
                                  (uint64_t)(upcall_stack + UPCALL_STACK_BYTES), &save_area);
    upcall_registered = err_is_ok(err);
    return err;
}

/* ---- threads ---- */

static void reap_detached(void);

__attribute__((noreturn)) static void thread_start(void)
{
    thread_critical_exit();
    thread_exit(thread_current->fn(thread_current->arg));
}

/* The TLS block and the struct thread at the top of the stack; the
 * thread starts in thread_start with the stack below them. */
static struct thread *lay_out(const struct thread_mem *mem)
{
    uint64_t top = mem->stack_hi;
    top = (top - sizeof(struct thread)) & ~15ull;
    struct thread *t = (struct thread *)top;
    memset(t, 0, sizeof *t);
    t->mem = *mem;
    top = (top - _tls_size()) & ~(uint64_t)(_tls_align() > 16 ? _tls_align() - 1 : 15);
    uint64_t saved_tp;
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(saved_tp));
    _init_tls((void *)top);
    _set_tls((void *)top);
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(t->ctx.tpidr));
    __asm__ volatile("msr tpidr_el0, %0" :: "r"(saved_tp));
    t->ctx.sp = (top - 16) & ~15ull;
    t->ctx.pc = (uint64_t)thread_start;
    __asm__ volatile("mrs %0, fpcr" : "=r"(t->ctx.fpcr));
    return t;
}

errval_t thread_create_sized(struct thread **out, thread_fn fn, void *arg, size_t stack_bytes)
{
    reap_detached();
    errval_t err = thread_lib_init();
    struct thread_mem mem;
    if (err_is_ok(err))
        err = thread_mem_new(stack_bytes, &mem);
    if (err_is_fail(err))
        return err;
    struct thread *t = lay_out(&mem);
    t->fn = fn;
    t->arg = arg;
    thread_critical_enter();
    t->id = next_id++;
    stats.created++;
    stats.live++;
    thread_wake(t);
    thread_critical_exit();
    *out = t;
    return SYS_ERR_OK;
}

errval_t thread_create(struct thread **out, thread_fn fn, void *arg)
{
    return thread_create_sized(out, fn, arg, THREAD_STACK_DEFAULT);
}

static void release(struct thread *t)
{
    struct thread_mem mem = t->mem;     /* t lies inside it */
    errval_t err = thread_mem_free(&mem);
    if (err_is_fail(err))
        DEBUG_ERR(err, "thread: giving back a thread's stacks");
}

/* Free detached threads that have ended (never the running one). */
static void reap_detached(void)
{
    thread_critical_enter();
    struct thread *list = reap;
    reap = NULL;
    thread_critical_exit();
    while (list != NULL) {
        struct thread *next = list->next;
        release(list);
        list = next;
    }
}

void thread_exit(int retval)
{
    thread_critical_enter();
    struct thread *self = thread_current;
    self->retval = retval;
    self->state = THREAD_EXITED;
    if (--stats.live == 0)
        exit(retval);
    if (self->joiner != NULL) {
        thread_wake(self->joiner);
    } else if (self->detached && self->mem.size != 0) {
        self->next = reap;          /* freed later, from another stack */
        reap = self;
    }
    switch_away();
    thread_fatal("an ended thread ran again");
}

errval_t thread_join(struct thread *t, int *retval)
{
    if (t == thread_current)
        return THREAD_ERR_JOIN_SELF;
    thread_critical_enter();
    errval_t err = t->detached ? THREAD_ERR_DETACHED : t->joiner != NULL ? THREAD_ERR_JOINED : SYS_ERR_OK;
    if (err_is_ok(err)) {
        t->joiner = thread_current;
        while (t->state != THREAD_EXITED)
            thread_block_on(NULL);
    }
    thread_critical_exit();
    if (err_is_fail(err))
        return err;
    if (retval != NULL)
        *retval = t->retval;
    if (t->mem.size != 0)
        release(t);
    reap_detached();
    return SYS_ERR_OK;
}

errval_t thread_detach(struct thread *t)
{
    thread_critical_enter();
    errval_t err = t->detached ? THREAD_ERR_DETACHED : t->joiner != NULL ? THREAD_ERR_JOINED : SYS_ERR_OK;
    bool ended = err_is_ok(err) && t->state == THREAD_EXITED;
    if (err_is_ok(err))
        t->detached = true;
    thread_critical_exit();
    if (ended && t->mem.size != 0)
        release(t);
    return err;
}

uint32_t thread_id(const struct thread *t) { return t->id; }

void thread_stats(struct thread_stats *out)
{
    thread_critical_enter();
    *out = stats;
    thread_critical_exit();
}

void thread_fatal(const char *fmt, ...)
{
    va_list ap;
    os_stdio_last_words();      /* no RPC from here: straight to the kernel console */
    va_start(ap, fmt);
    printf("%s (pid %u): thread %u: ", os_args()->name, os_args()->pid, thread_current->id);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    sys_exit(70);
}
