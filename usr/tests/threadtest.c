/*
 * threadtest.c — user-level threads in the OS (lib/os/thread.h): numbered
 * cases THREAD0001... Run as the first program (init=threadtest) so it has
 * RAM for paging and thread stacks.
 *
 * The stress cases: 1,000 create/join; eight threads incrementing one
 * counter under a mutex, yielding and being preempted inside the critical
 * section, with the exact total checked; producers and consumers on a
 * condition variable; eight threads faulting at once on one shared lazily
 * backed region and on a region each, with every byte checked afterwards.
 *
 * mode=<m> instead provokes what must end the process with a report:
 *   overflow   a thread runs off the end of its stack into the guard page
 *   relock     a thread locks a mutex it already holds
 *   deadlock   the only two threads wait for each other
 */
#include <stdio.h>
#include <string.h>

#include "exception.h"
#include "os.h"
#include "ostest.h"
#include "mm/mm.h"
#include "paging.h"
#include "ram.h"
#include "slots.h"
#include "thread.h"

#define NTHREADS 8

static uint64_t now_ticks(void)
{
    uint64_t v;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
    return v;
}

static uint64_t ticks_per_ms(void)
{
    uint64_t v;
    __asm__ volatile("mrs %0, cntfrq_el0" : "=r"(v));
    return v / 1000;
}

/* ---- create / join ---- */

static int return_arg(void *arg)
{
    return (int)(uintptr_t)arg;
}

static void create_join_many(void)
{
    unsigned bad = 0, failed = 0;
    for (unsigned i = 0; i < 1000; i++) {
        struct thread *t;
        int value = -1;
        if (err_is_fail(thread_create(&t, return_arg, (void *)(uintptr_t)i)) ||
            err_is_fail(thread_join(t, &value)))
            failed++;
        else
            bad += value != (int)i;
    }
    printf("threadtest: 1000 create/join: %u failed, %u wrong values\n", failed, bad);
    check("1,000 threads created and joined, each returning its own value", failed == 0 && bad == 0);
}

/* ---- a mutex under contention ---- */

#define MIN_PREEMPTIONS 20

static struct thread_mutex counter_lock = THREAD_MUTEX_INITIALIZER("counter");
static volatile uint64_t counter;
static volatile bool stop_counting;
static uint64_t counted[NTHREADS];

/* A slow read-modify-write: without the mutex, a yield or a preemption
 * between the read and the write would lose increments. Each thread also
 * counts its own increments, so the total is known exactly. */
static int increment_many(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    for (unsigned i = 0; !stop_counting; i++) {
        thread_mutex_lock(&counter_lock);
        uint64_t v = counter;
        if (i % 16 == 0)
            thread_yield();
        for (volatile int spin = 0; spin < 200; spin++)
            ;
        counter = v + 1;
        thread_mutex_unlock(&counter_lock);
        counted[k]++;
    }
    return 0;
}

static uint64_t preemptions(void)
{
    struct thread_stats st;
    thread_stats(&st);
    return st.preemptions;
}

/* Run fn in NTHREADS threads (argument: the thread's number); with
 * `until_preempted`, stop them once the tick has preempted threads
 * MIN_PREEMPTIONS times (or after 10 s). */
static void run_all(thread_fn fn, bool until_preempted)
{
    struct thread *t[NTHREADS];
    unsigned made = 0;
    uint64_t start = preemptions(), deadline = now_ticks() + 10000 * ticks_per_ms();
    for (unsigned i = 0; i < NTHREADS; i++)
        if (err_is_ok(thread_create(&t[i], fn, (void *)(uintptr_t)i)))
            made++;
    while (until_preempted && preemptions() - start < MIN_PREEMPTIONS && now_ticks() < deadline)
        thread_sleep_us(1000);
    stop_counting = true;
    for (unsigned i = 0; i < made; i++)
        thread_join(t[i], NULL);
    if (made != NTHREADS)
        printf("threadtest: only %u of %u threads made\n", made, NTHREADS);
}

static void mutex_counter(void)
{
    uint64_t before = preemptions(), waits = counter_lock.waits;
    run_all(increment_many, true);
    uint64_t want = 0;
    for (unsigned k = 0; k < NTHREADS; k++)
        want += counted[k];
    printf("threadtest: mutex counter %llu (want %llu), %llu preemptions, %llu waits for the mutex\n",
           (unsigned long long)counter, (unsigned long long)want,
           (unsigned long long)(preemptions() - before), (unsigned long long)(counter_lock.waits - waits));
    check("8 threads preempted >= 20 times while incrementing under one mutex", preemptions() - before >= MIN_PREEMPTIONS);
    check("... the counter is exact", counter == want && want > 0);
}

/* ---- condition variable: a bounded buffer ---- */

#define ITEMS 2000
#define SLOTS 4

static struct thread_mutex buf_lock = THREAD_MUTEX_INITIALIZER("buffer");
static struct thread_cond not_full, not_empty;
static unsigned buf[SLOTS], buf_count, buf_in, buf_out;
static uint64_t consumed_sum, consumed_n;

static int producer(void *arg)
{
    unsigned base = (unsigned)(uintptr_t)arg;
    for (unsigned i = 1; i <= ITEMS; i++) {
        thread_mutex_lock(&buf_lock);
        while (buf_count == SLOTS)
            thread_cond_wait(&not_full, &buf_lock);
        buf[buf_in] = base + i;
        buf_in = (buf_in + 1) % SLOTS;
        buf_count++;
        thread_cond_signal(&not_empty);
        thread_mutex_unlock(&buf_lock);
    }
    return 0;
}

static int consumer(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < ITEMS; i++) {
        thread_mutex_lock(&buf_lock);
        while (buf_count == 0)
            thread_cond_wait(&not_empty, &buf_lock);
        consumed_sum += buf[buf_out];
        consumed_n++;
        buf_out = (buf_out + 1) % SLOTS;
        buf_count--;
        thread_cond_signal(&not_full);
        thread_mutex_unlock(&buf_lock);
    }
    return 0;
}

static void bounded_buffer(void)
{
    struct thread *t[4];
    thread_cond_init(&not_full);
    thread_cond_init(&not_empty);
    thread_create(&t[0], producer, (void *)0);
    thread_create(&t[1], producer, (void *)1000000);
    thread_create(&t[2], consumer, NULL);
    thread_create(&t[3], consumer, NULL);
    for (int i = 0; i < 4; i++)
        thread_join(t[i], NULL);
    uint64_t want = 2ull * ITEMS * (ITEMS + 1) / 2 + 1000000ull * ITEMS;
    check("2 producers, 2 consumers, 4-slot buffer, condition variables: every item once",
          consumed_n == 2 * ITEMS && consumed_sum == want && buf_count == 0);
}

/* ---- semaphores and sleep ---- */

static struct thread_sem ping, pong;
static unsigned rounds_seen;

static int ponger(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < 100; i++) {
        thread_sem_wait(&ping);
        rounds_seen++;
        thread_sem_post(&pong);
    }
    return 0;
}

static void semaphores(void)
{
    struct thread *t;
    thread_sem_init(&ping, 0);
    thread_sem_init(&pong, 0);
    thread_create(&t, ponger, NULL);
    bool in_step = true;
    for (unsigned i = 0; i < 100; i++) {
        thread_sem_post(&ping);
        thread_sem_wait(&pong);
        in_step &= rounds_seen == i + 1;
    }
    thread_join(t, NULL);
    check("semaphore ping-pong: 100 rounds in lock step", in_step && rounds_seen == 100);
    check("sem_trywait on an empty semaphore fails", !thread_sem_trywait(&ping));
    struct thread_sem full;
    thread_sem_init(&full, UINT64_MAX);
    expect("sem_post beyond the largest count", thread_sem_post(&full), THREAD_ERR_SEM_OVERFLOW);
}

static int sleeper(void *arg)
{
    uint64_t start = now_ticks();
    thread_sleep_us(20000);
    *(uint64_t *)arg = now_ticks() - start;
    return 0;
}

static void sleeping(void)
{
    struct thread *t;
    uint64_t slept = 0;
    thread_create(&t, sleeper, &slept);
    thread_join(t, NULL);
    check("a thread sleeping 20 ms is woken after at least 20 ms", slept >= 20 * ticks_per_ms());
}

/* ---- concurrent page faults ---- */

#define FAULT_PAGES 128

static uint8_t *shared_region;
static uint8_t *own_region[NTHREADS];

/* Thread k writes byte k of every 64-byte line of the shared region (all
 * threads fault on the same pages) and every byte of its own region. */
static int fault_writer(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    for (unsigned page = 0; page < FAULT_PAGES; page++) {
        for (unsigned line = 0; line < 4096; line += 64)
            shared_region[page * 4096 + line + k] = (uint8_t)(k + 1 + page);
        memset(own_region[k] + page * 4096, (int)(0x40 + k), 4096);
    }
    return 0;
}

static bool shared_ok(void)
{
    for (unsigned i = 0; i < FAULT_PAGES * 4096; i++) {
        unsigned page = i / 4096, k = i % 64;
        uint8_t want = k < NTHREADS ? (uint8_t)(k + 1 + page) : 0;
        if (shared_region[i] != want)
            return false;
    }
    return true;
}

static bool own_ok(void)
{
    for (unsigned k = 0; k < NTHREADS; k++)
        for (unsigned i = 0; i < FAULT_PAGES * 4096; i++)
            if (own_region[k][i] != (uint8_t)(0x40 + k))
                return false;
    return true;
}

static errval_t reserve_regions(void)
{
    uint64_t base;
    errval_t err = paging_reserve(FAULT_PAGES * 4096, 4096, VREGION_ATTR_RW, &base);
    shared_region = (uint8_t *)base;
    for (unsigned k = 0; err_is_ok(err) && k < NTHREADS; k++) {
        err = paging_reserve(FAULT_PAGES * 4096, 4096, VREGION_ATTR_RW, &base);
        own_region[k] = (uint8_t *)base;
    }
    return err;
}

static void concurrent_faults(void)
{
    uint64_t before = paging_faults_handled(), waits = paging_lock_waits();
    errval_t err = reserve_regions();
    if (err_is_fail(err)) {
        expect("reserving the regions for concurrent faults", err, SYS_ERR_OK);
        return;
    }
    paging_test_yield_in_fault(true);
    run_all(fault_writer, false);
    paging_test_yield_in_fault(false);
    uint64_t faults = paging_faults_handled() - before;
    waits = paging_lock_waits() - waits;
    printf("threadtest: concurrent faults: %llu pages backed (want %u), %llu waits for the paging lock\n",
           (unsigned long long)faults, (NTHREADS + 1) * FAULT_PAGES, (unsigned long long)waits);
    check("faulting threads met in the fault handler (waited for its lock)", waits >= NTHREADS);
    check("8 threads faulting on one shared region: every byte right", shared_ok());
    check("8 threads faulting on a region each: every byte right", own_ok());
    check("each page backed exactly once", faults == (NTHREADS + 1) * FAULT_PAGES);
    uint64_t given = paging_pages_given_back();
    err = paging_free((uint64_t)shared_region, FAULT_PAGES * 4096);
    expect("freeing the shared region", err, SYS_ERR_OK);
    check("its backed pages go back to the memory manager", paging_pages_given_back() - given == FAULT_PAGES);
}

/* A fault is fixed in the upcall only while no mutex is held; with one
 * held (here by the faulting thread itself, which is allowed: the fault
 * path never takes a program's mutexes), it goes to the thread's exception
 * stack, and is fixed there just the same. */
static void fault_paths(void)
{
    static struct thread_mutex m = THREAD_MUTEX_INITIALIZER("fault_paths");
    uint64_t base;
    errval_t err = paging_reserve(2 * 4096, 4096, VREGION_ATTR_RW, &base);
    if (err_is_fail(err)) {
        expect("reserving two pages for the fault paths", err, SYS_ERR_OK);
        return;
    }
    volatile uint64_t *page = (volatile uint64_t *)base;
    struct os_fault_counts c0 = os_fault_counts();
    thread_mutex_lock(&m);
    page[0] = 1;
    thread_mutex_unlock(&m);
    struct os_fault_counts c1 = os_fault_counts();
    page[512] = 2;
    struct os_fault_counts c2 = os_fault_counts();
    check("with a mutex held, a fault is fixed in the faulting thread",
          c1.fixed_in_thread - c0.fixed_in_thread == 1 && c1.fixed_in_upcall == c0.fixed_in_upcall);
    check("with none held, in the upcall",
          c2.fixed_in_upcall - c1.fixed_in_upcall == 1 && c2.fixed_in_thread == c1.fixed_in_thread);
    check("both pages hold what was written", page[0] == 1 && page[512] == 2);
    expect("freeing the two pages", paging_free(base, 2 * 4096), SYS_ERR_OK);
}

/* ---- the memory manager and slot allocator from many threads ---- */

static unsigned alloc_failures;

static int alloc_many(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < 100; i++) {
        struct capref frame;
        struct capinfo ci;
        uint64_t base = 0;
        errval_t err = ram_new_object(OBJ_FRAME, 4096, 4096, &frame, &base);
        if (err_is_ok(err))
            err = cap_identify(frame, &ci);
        if (err_is_ok(err) && (ci.type != OBJ_FRAME || ci.base != base))
            err = LIB_ERR_PAGING_INIT;      /* any error: counted below */
        if (i % 4 == 0)
            thread_yield();
        if (err_is_ok(err))
            err = ram_free(base, 4096);     /* deletes the frame and frees its slot */
        alloc_failures += err_is_fail(err);
    }
    return 0;
}

static void concurrent_allocation(void)
{
    alloc_many(NULL);               /* warm: slot allocator CNodes exist */
    uint64_t before = ostest_free_bytes();
    run_all(alloc_many, false);
    uint64_t after = ostest_free_bytes();
    check("8 threads x 100 frames from the memory manager and slot allocator, with yields: no failure",
          alloc_failures == 0);
    check("... and every byte back in the memory manager", after == before);
}

/* ---- bad input ---- */

static struct thread *joinee_target;

static int wait_for_release(void *arg)
{
    thread_sem_wait(arg);
    return 7;
}

static int join_target(void *arg)
{
    (void)arg;
    return thread_join(joinee_target, NULL) == SYS_ERR_OK ? 0 : 1;
}

static void bad_input(void)
{
    struct thread *t, *j;
    struct thread_sem release;
    thread_sem_init(&release, 0);
    expect("joining oneself", thread_join(thread_self(), NULL), THREAD_ERR_JOIN_SELF);
    expect("a thread with a 2 GiB stack", thread_create_sized(&t, return_arg, NULL, 2ull << 30), THREAD_ERR_STACK);
    expect("a thread with a SIZE_MAX stack", thread_create_sized(&t, return_arg, NULL, SIZE_MAX), THREAD_ERR_STACK);
    struct thread_mutex m = THREAD_MUTEX_INITIALIZER("test");
    expect("unlocking a mutex nobody holds", thread_mutex_unlock(&m), THREAD_ERR_NOT_OWNER);
    struct thread_cond c;
    thread_cond_init(&c);
    expect("waiting on a condition without holding the mutex", thread_cond_wait(&c, &m), THREAD_ERR_NOT_OWNER);
    thread_create(&t, wait_for_release, &release);
    joinee_target = t;
    thread_create(&j, join_target, NULL);
    thread_yield();                 /* j now waits in thread_join(t) */
    expect("a second thread joining the same thread", thread_join(t, NULL), THREAD_ERR_JOINED);
    expect("detaching a thread another one joins", thread_detach(t), THREAD_ERR_JOINED);
    thread_sem_post(&release);
    int value = -1;
    expect("the first joiner gets the value", thread_join(j, &value), SYS_ERR_OK);
    check("... which saw the right result", value == 0);
    thread_create(&t, wait_for_release, &release);
    expect("detaching a running thread", thread_detach(t), SYS_ERR_OK);
    expect("detaching it twice", thread_detach(t), THREAD_ERR_DETACHED);
    expect("joining a detached thread", thread_join(t, NULL), THREAD_ERR_DETACHED);
    thread_sem_post(&release);
    thread_yield();                 /* it ends; its memory is reclaimed later */
}

/* ---- what must end the process ---- */

static volatile unsigned depth_limit = ~0u;    /* volatile: the recursion looks bounded */

static int recurse(void *arg)
{
    volatile uint8_t frame[1024];
    unsigned depth = (unsigned)(uintptr_t)arg;
    frame[0] = (uint8_t)depth;
    if (depth >= depth_limit)
        return 0;
    return recurse((void *)(uintptr_t)(depth + 1)) + frame[0];
}

static int relock(void *arg)
{
    thread_mutex_lock(arg);
    thread_mutex_lock(arg);
    return 0;
}

static struct thread_sem never_a, never_b;

static int wait_b(void *arg)
{
    (void)arg;
    thread_sem_wait(&never_b);
    return 0;
}

static int provoke(const char *mode)
{
    struct thread *t;
    static struct thread_mutex m = THREAD_MUTEX_INITIALIZER("provoked");
    printf("threadtest: now %s, which must end the process\n", mode);
    if (strcmp(mode, "overflow") == 0)
        thread_create(&t, recurse, NULL);
    else if (strcmp(mode, "relock") == 0)
        thread_create(&t, relock, &m);
    else if (strcmp(mode, "deadlock") == 0) {
        thread_create(&t, wait_b, NULL);
        thread_sem_wait(&never_a);
    }
    thread_join(t, NULL);
    printf("threadtest: FAILED: still running\n");
    return 1;
}

int main(void)
{
    char mode[16];
    if (!ostest_start_memory("threadtest"))
        return 1;
    if (os_getarg("mode", mode, sizeof mode) != NULL)
        return provoke(mode);
    ostest_begin("THREAD");
    create_join_many();
    mutex_counter();
    bounded_buffer();
    semaphores();
    sleeping();
    concurrent_faults();
    fault_paths();
    concurrent_allocation();
    bad_input();
    return ostest_summary("threadtest");
}
