/*
 * test_mm_caps.c — the memory manager (lib/mm/mm.c) with capabilities,
 * records and threads:
 *   - mm_caps: every allocation has exactly one capability, retyped from
 *     its region and covering exactly it; frees destroy it; partial frees
 *     replace it; a cap op failing at any point leaves a consistent state
 *     and a named error chain; pending allocations are invisible;
 *   - mm_records: running out of records is an error that changes
 *     nothing, and a refill that allocates from the manager itself works;
 *   - mm_lock: the lock hook around every operation and never across a
 *     call out, and real threads that never get overlapping memory.
 * The fake capability system (mm_fake.c) checks each retype against the
 * live capabilities, as the kernel would.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mm/mm.h"
#include "mm_fake.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define PAGE MM_PAGE_SIZE

#define R1_BASE (1 * GiB)
#define R1_SIZE (16 * MiB)
#define R2_BASE (R1_BASE + R1_SIZE)
#define R2_SIZE (16 * MiB)

static struct mm mm;

static void setup_caps(void)
{
    mm_test_init(&mm, true);
    mm_test_add(&mm, 1, R1_BASE, R1_SIZE);
    mm_test_add(&mm, 2, R2_BASE, R2_SIZE);
}

static void teardown(void)
{
    test_buffers_free();
}

TestSuite(mm_caps, .init = setup_caps, .fini = teardown);
TestSuite(mm_records, .fini = teardown);
TestSuite(mm_lock, .fini = teardown);

static struct mm_block alloc_ok(uint64_t size, uint64_t align)
{
    struct mm_block b;
    errval_t err = mm_alloc(&mm, size, align, &b);
    cr_assert(err_is_ok(err), "mm_alloc(%#lx, %#lx): %s", size, align, err_getcode(err_no(err)));
    cr_assert(mm_check(&mm));
    return b;
}

static void free_ok(uint64_t base, uint64_t size)
{
    errval_t err = mm_free(&mm, base, size);
    cr_assert(err_is_ok(err), "mm_free(%#lx, %#lx): %s", base, size, err_getcode(err_no(err)));
    cr_assert(mm_check(&mm));
}

static void assert_chain(errval_t err, enum err_code c0, enum err_code c1, enum err_code c2)
{
    cr_assert_eq(err_code_at(err, 0), c0, "outermost %s", err_getcode(err_code_at(err, 0)));
    cr_assert_eq(err_code_at(err, 1), c1, "second %s", err_getcode(err_code_at(err, 1)));
    cr_assert_eq(err_code_at(err, 2), c2, "third %s", err_getcode(err_code_at(err, 2)));
}

static struct mm_stats stats(void)
{
    struct mm_stats st;
    mm_stats(&mm, &st);
    return st;
}

/* ---- Capabilities. ---- */

Test(mm_caps, every_allocation_gets_one_cap_from_its_region_covering_exactly_it)
{
    struct mm_block a = alloc_ok(3 * PAGE, PAGE);
    struct mm_block b = alloc_ok(R1_SIZE - 3 * PAGE, PAGE);
    struct mm_block c = alloc_ok(2 * MiB, 2 * MiB);
    const struct mm_block *all[] = { &a, &b, &c };
    const uint64_t region[] = { 1, 1, 2 };
    for (int i = 0; i < 3; i++) {
        const struct fake_cap *cap = fake_cap_get(all[i]->cap);
        cr_assert(cap->live);
        cr_assert_eq(cap->region_cap, region[i]);
        cr_assert_eq(cap->base, all[i]->base);
        cr_assert_eq(cap->size, all[i]->size);
    }
    cr_assert_eq(fake.retypes, 3);
    fake_check_caps(&mm);
}

Test(mm_caps, cap_of_returns_the_allocations_cap)
{
    struct mm_block a = alloc_ok(3 * PAGE, PAGE);
    struct mm_block got = mm_test_block_at(&mm, a.base + PAGE);
    cr_assert_eq(got.cap, a.cap);
}

Test(mm_caps, free_destroys_the_allocations_cap)
{
    struct mm_block a = alloc_ok(3 * PAGE, PAGE);
    free_ok(a.base, a.size);
    cr_assert_not(fake_cap_get(a.cap)->live);
    cr_assert_eq(fake.nlive, 0);
    cr_assert_eq(fake.destroys, 1);
}

Test(mm_caps, a_freed_range_can_be_retyped_again)
{
    struct mm_block a = alloc_ok(3 * PAGE, PAGE);
    free_ok(a.base, a.size);
    struct mm_block b = alloc_ok(3 * PAGE, PAGE);
    cr_assert_eq(b.base, a.base);
    cr_assert_neq(b.cap, a.cap);
    fake_check_caps(&mm);
}

Test(mm_caps, partial_free_of_the_middle_replaces_the_cap_by_one_for_each_part_left)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    free_ok(a.base + PAGE, 2 * PAGE);
    cr_assert_not(fake_cap_get(a.cap)->live, "the old cap and its copies are revoked");
    struct mm_block lo = mm_test_block_at(&mm, a.base);
    struct mm_block hi = mm_test_block_at(&mm, a.base + 3 * PAGE);
    cr_assert_eq(fake_cap_get(lo.cap)->base, a.base);
    cr_assert_eq(fake_cap_get(lo.cap)->size, PAGE);
    cr_assert_eq(fake_cap_get(hi.cap)->base, a.base + 3 * PAGE);
    cr_assert_eq(fake_cap_get(hi.cap)->size, PAGE);
    fake_check_caps(&mm);
}

Test(mm_caps, an_allocation_of_a_kind_gets_a_cap_of_that_kind_and_so_do_its_parts)
{
    struct mm_block plain = alloc_ok(PAGE, PAGE);
    cr_assert_eq(fake_cap_get(plain.cap)->kind, MM_KIND_RAM);
    struct mm_block a;
    cr_assert(err_is_ok(mm_alloc_kind(&mm, 4 * PAGE, PAGE, 7, &a)));
    cr_assert_eq(fake_cap_get(a.cap)->kind, 7);
    free_ok(a.base + PAGE, 2 * PAGE);
    struct mm_block lo = mm_test_block_at(&mm, a.base);
    struct mm_block hi = mm_test_block_at(&mm, a.base + 3 * PAGE);
    cr_assert_eq(fake_cap_get(lo.cap)->kind, 7, "a part kept is remade as the same kind");
    cr_assert_eq(fake_cap_get(hi.cap)->kind, 7);
    fake_check_caps(&mm);
}

Test(mm_caps, partial_free_of_one_end_makes_one_new_cap)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    free_ok(a.base, PAGE);
    cr_assert_eq(fake.retypes, 2);
    struct mm_block rest = mm_test_block_at(&mm, a.base + PAGE);
    cr_assert_eq(fake_cap_get(rest.cap)->size, 3 * PAGE);
    fake_check_caps(&mm);
}

Test(mm_caps, after_everything_is_freed_no_allocation_cap_is_live)
{
    struct mm_block blk[40];
    for (int i = 0; i < 40; i++)
        blk[i] = alloc_ok(PAGE * (uint64_t)(1 + i % 6), PAGE << (i % 3));
    for (int i = 0; i < 40; i += 3)
        if (blk[i].size > 2 * PAGE)
            free_ok(blk[i].base + PAGE, PAGE);
    fake_check_caps(&mm);
    for (int i = 0; i < 40; i++) {
        struct mm_block b;
        for (uint64_t off = 0; off < blk[i].size; off += PAGE)
            if (err_is_ok(mm_cap_of(&mm, blk[i].base + off, &b)))
                free_ok(b.base, b.size);
    }
    cr_assert_eq(fake.nlive, 0);
    cr_assert_eq(stats().free, stats().total);
}

/* ---- A cap op that fails. ---- */

Test(mm_caps, failed_retype_on_alloc_gives_mm_err_retype_and_changes_nothing)
{
    alloc_ok(PAGE, PAGE);
    struct mm_snapshot before, after;
    mm_snapshot(&mm, &before);
    fake.fail_retype = 1;
    struct mm_block b;
    errval_t err = mm_alloc(&mm, 2 * PAGE, PAGE, &b);
    assert_chain(err, MM_ERR_RETYPE, FAKE_ERR, SYS_ERR_OK);
    mm_snapshot(&mm, &after);
    cr_assert(mm_snapshot_equal(&before, &after));
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
}

Test(mm_caps, failed_destroy_on_free_keeps_the_allocation_and_its_cap)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    struct mm_snapshot before, after;
    mm_snapshot(&mm, &before);
    for (int partial = 0; partial < 2; partial++) {
        fake.fail_destroy = 1;
        errval_t err = mm_free(&mm, a.base + (uint64_t)partial * PAGE, PAGE);
        assert_chain(err, MM_ERR_DESTROY, FAKE_ERR, SYS_ERR_OK);
        mm_snapshot(&mm, &after);
        cr_assert(mm_snapshot_equal(&before, &after));
        cr_assert(fake_cap_get(a.cap)->live);
    }
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
}

Test(mm_caps, failed_retype_of_a_part_keeps_the_allocation_whole_with_a_new_cap)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    struct mm_stats before = stats();
    fake.fail_retype = 1;
    errval_t err = mm_free(&mm, a.base + PAGE, PAGE);
    assert_chain(err, MM_ERR_PARTIAL_FREE, MM_ERR_RETYPE, FAKE_ERR);
    struct mm_block now = mm_test_block_at(&mm, a.base);
    cr_assert(now.base == a.base && now.size == a.size);
    cr_assert_neq(now.cap, a.cap);
    cr_assert_not(fake_cap_get(a.cap)->live);
    struct mm_stats after = stats();
    cr_assert(after.free == before.free && after.allocations == before.allocations);
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
}

Test(mm_caps, failed_retype_of_the_upper_part_destroys_the_lower_ones_cap_first)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    fake.fail_retype = 2;
    errval_t err = mm_free(&mm, a.base + PAGE, PAGE);
    assert_chain(err, MM_ERR_PARTIAL_FREE, MM_ERR_RETYPE, FAKE_ERR);
    struct mm_block now = mm_test_block_at(&mm, a.base + 3 * PAGE);
    cr_assert(now.base == a.base && now.size == a.size);
    cr_assert_eq(fake.nlive, 1, "the lower part's cap was destroyed again");
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
}

Test(mm_caps, when_not_even_a_whole_cap_can_be_made_the_allocation_is_freed)
{
    alloc_ok(PAGE, PAGE);
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    struct mm_stats before = stats();
    fake.fail_all_retypes = true;
    errval_t err = mm_free(&mm, a.base + PAGE, PAGE);
    assert_chain(err, MM_ERR_CAP_LOST, MM_ERR_RETYPE, FAKE_ERR);
    struct mm_block b;
    cr_assert_eq(mm_cap_of(&mm, a.base, &b), MM_ERR_NOT_ALLOCATED);
    struct mm_stats after = stats();
    cr_assert_eq(after.free, before.free + a.size);
    cr_assert_eq(after.free_blocks, before.free_blocks, "all of it merged with the free rest");
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
}

Test(mm_caps, a_part_whose_new_cap_cannot_be_destroyed_again_stays_allocated)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    fake.fail_retype = 2;       /* the upper part's */
    fake.fail_destroy = 2;      /* the first is the old cap's, the second the lower part's */
    errval_t err = mm_free(&mm, a.base + PAGE, PAGE);
    assert_chain(err, MM_ERR_CAP_LOST, MM_ERR_RETYPE, FAKE_ERR);
    struct mm_block lo = mm_test_block_at(&mm, a.base);
    cr_assert(lo.base == a.base && lo.size == PAGE);
    struct mm_block b;
    cr_assert_eq(mm_cap_of(&mm, a.base + 2 * PAGE, &b), MM_ERR_NOT_ALLOCATED);
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
}

/* ---- Pending allocations. ---- */

static uint64_t probe_addr;
static errval_t probe_free_err, probe_cap_err;

static void probe_pending(void)
{
    struct mm_block b;
    probe_free_err = mm_free(&mm, probe_addr, PAGE);
    probe_cap_err = mm_cap_of(&mm, probe_addr, &b);
}

Test(mm_caps, an_allocation_being_made_is_busy_for_free_and_cap_of)
{
    probe_addr = R1_BASE;
    fake.during_op = probe_pending;
    struct mm_block a;
    cr_assert(err_is_ok(mm_alloc(&mm, PAGE, PAGE, &a)));
    cr_assert_eq(a.base, probe_addr);
    cr_assert_eq(probe_free_err, MM_ERR_BUSY);
    cr_assert_eq(probe_cap_err, MM_ERR_BUSY);
    cr_assert_eq(stats().allocations, 1);
}

Test(mm_caps, an_allocation_being_freed_is_busy_for_free_and_cap_of)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    probe_addr = a.base;
    fake.during_op = probe_pending;
    cr_assert(err_is_ok(mm_free(&mm, a.base, PAGE)));
    cr_assert_eq(probe_free_err, MM_ERR_BUSY);
    cr_assert_eq(probe_cap_err, MM_ERR_BUSY);
    fake.during_op = NULL;
    fake_check_caps(&mm);
}

/* The slot allocator that the cap ops use may itself need RAM from this
 * manager; the lock is not held, so that works. */
static int nested_depth;
static size_t nested_allocs;

static void allocate_meanwhile(void)
{
    if (nested_depth > 0)
        return;
    nested_depth++;
    struct mm_block b;
    cr_assert(err_is_ok(mm_alloc(&mm, PAGE, PAGE, &b)));
    nested_allocs++;
    nested_depth--;
}

Test(mm_caps, a_cap_op_may_allocate_from_the_same_manager)
{
    fake.during_op = allocate_meanwhile;
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    free_ok(a.base, PAGE);
    fake.during_op = NULL;
    cr_assert_eq(nested_allocs, 3, "one per cap op: a retype, a destroy, a retype");
    cr_assert_eq(stats().allocations, nested_allocs + 1, "and what is left of a");
    fake_check_caps(&mm);
}

/* ---- Records. ---- */

static void setup_no_refill(void)
{
    fake_reset();
    cr_assert(err_is_ok(mm_init(&mm, NULL, NULL, NULL, NULL)));
    mm_set_lock(&mm, &fake_lock);
    mm_test_add(&mm, 1, R1_BASE, R1_SIZE);
}

/* Allocate single pages until the records run out. */
static void use_up_records(struct mm_block *blk, size_t *n)
{
    for (*n = 0;; (*n)++) {
        errval_t err = mm_alloc(&mm, PAGE, PAGE, &blk[*n]);
        if (err_is_fail(err)) {
            assert_chain(err, MM_ERR_NO_METADATA, LIB_ERR_SLAB_EMPTY, SYS_ERR_OK);
            return;
        }
        cr_assert_lt(*n, MM_INLINE_RECORDS);
    }
}

Test(mm_records, running_out_of_records_is_an_error_that_changes_nothing)
{
    setup_no_refill();
    struct mm_block blk[MM_INLINE_RECORDS + 1];
    size_t n;
    use_up_records(blk, &n);
    cr_assert_eq(n, MM_INLINE_RECORDS - 2, "the region took a record and its segment one");

    struct mm_snapshot before, after;
    mm_snapshot(&mm, &before);
    struct mm_block b;
    cr_assert_eq(err_no(mm_alloc(&mm, PAGE, PAGE, &b)), MM_ERR_NO_METADATA);
    mm_snapshot(&mm, &after);
    cr_assert(mm_snapshot_equal(&before, &after));
    cr_assert(mm_check(&mm));
}

Test(mm_records, a_partial_free_without_records_is_refused_and_changes_nothing)
{
    setup_no_refill();
    struct mm_block big;
    cr_assert(err_is_ok(mm_alloc(&mm, 4 * PAGE, PAGE, &big)));
    struct mm_block blk[MM_INLINE_RECORDS + 1];
    size_t n;
    use_up_records(blk, &n);
    struct mm_snapshot before, after;
    mm_snapshot(&mm, &before);
    errval_t err = mm_free(&mm, big.base + PAGE, PAGE);
    assert_chain(err, MM_ERR_NO_METADATA, LIB_ERR_SLAB_EMPTY, SYS_ERR_OK);
    mm_snapshot(&mm, &after);
    cr_assert(mm_snapshot_equal(&before, &after));
    cr_assert(mm_check(&mm));
}

Test(mm_records, whole_frees_need_no_records_and_give_them_back)
{
    setup_no_refill();
    struct mm_block blk[MM_INLINE_RECORDS + 1];
    size_t n;
    use_up_records(blk, &n);
    /* Every free after the first merges with a free neighbour. */
    for (size_t i = 0; i < n; i++)
        cr_assert(err_is_ok(mm_free(&mm, blk[i].base, PAGE)));
    struct mm_block b;
    cr_assert(err_is_ok(mm_alloc(&mm, PAGE, PAGE, &b)), "the records came back");
    cr_assert(mm_check(&mm));
}

static unsigned refills;

static errval_t counting_refill(struct slab_allocator *slab, void *arg)
{
    refills++;
    return test_refill(slab, arg);
}

Test(mm_records, the_refill_keeps_records_coming_for_thousands_of_allocations)
{
    fake_reset();
    cr_assert(err_is_ok(mm_init(&mm, &fake_ops, &fake, counting_refill, NULL)));
    mm_test_add(&mm, 1, R1_BASE, R1_SIZE);
    for (int i = 0; i < 1500; i++) {
        /* Freeing every other lower page leaves one-page holes, so the
         * records in use keep growing. */
        struct mm_block b = alloc_ok(2 * PAGE, PAGE);
        if (i % 2 == 0)
            free_ok(b.base, PAGE);
    }
    cr_assert_gt(refills, 10);
    cr_assert_leq(mm.nspare, MM_SPARE_MAX);
    fake_check_caps(&mm);
}

/* init's refill maps a page from the manager it refills. */
static errval_t refill_from_the_manager(struct slab_allocator *slab, void *arg)
{
    (void)arg;
    struct mm_block page;
    errval_t err = mm_alloc(&mm, PAGE, PAGE, &page);
    if (err_is_fail(err))
        return err;
    refills++;
    return test_refill(slab, NULL);
}

Test(mm_records, a_refill_that_allocates_from_the_same_manager_works)
{
    fake_reset();
    cr_assert(err_is_ok(mm_init(&mm, &fake_ops, &fake, refill_from_the_manager, NULL)));
    mm_set_lock(&mm, &fake_lock);
    mm_test_add(&mm, 1, R1_BASE, R1_SIZE);
    for (int i = 0; i < 2000; i++) {
        struct mm_block b = alloc_ok(2 * PAGE, PAGE);
        free_ok(b.base, PAGE);
    }
    cr_assert_gt(refills, 5);
    cr_assert_eq(stats().allocations, 2000 + refills);
    fake_check_caps(&mm);
}

/* ---- The lock. ---- */

Test(mm_lock, every_operation_takes_the_lock_and_releases_it)
{
    mm_test_init(&mm, true);
    mm_test_add(&mm, 1, R1_BASE, R1_SIZE);
    unsigned n = fake.acquires;
    struct mm_block a = alloc_ok(PAGE, PAGE);
    cr_assert_gt(fake.acquires, n);
    n = fake.acquires;
    free_ok(a.base, a.size);
    cr_assert_gt(fake.acquires, n);
    n = fake.acquires;
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_gt(fake.acquires, n);
    cr_assert_not(fake.locked);
}

/* Threads: a real mutex, and cap ops that only count under their own. */

static pthread_mutex_t mm_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cap_mutex = PTHREAD_MUTEX_INITIALIZER;
static long caps_live;
static uint64_t next_cap = 1;

static void mutex_acquire(void *arg)
{
    pthread_mutex_lock(arg);
}

static void mutex_release(void *arg)
{
    pthread_mutex_unlock(arg);
}

static errval_t counting_retype(void *arg, uint64_t region_cap, uint64_t offset, uint64_t size,
                                uint8_t kind, uint64_t *cap)
{
    (void)kind;
    (void)arg, (void)region_cap, (void)offset, (void)size;
    pthread_mutex_lock(&cap_mutex);
    caps_live++;
    *cap = next_cap++;
    pthread_mutex_unlock(&cap_mutex);
    return SYS_ERR_OK;
}

static errval_t counting_destroy(void *arg, uint64_t cap)
{
    (void)arg, (void)cap;
    pthread_mutex_lock(&cap_mutex);
    caps_live--;
    pthread_mutex_unlock(&cap_mutex);
    return SYS_ERR_OK;
}

static const struct mm_cap_ops counting_ops = { counting_retype, counting_destroy, NULL };

static pthread_mutex_t refill_mutex = PTHREAD_MUTEX_INITIALIZER;

static errval_t locked_refill(struct slab_allocator *slab, void *arg)
{
    pthread_mutex_lock(&refill_mutex);
    errval_t err = test_refill(slab, arg);
    pthread_mutex_unlock(&refill_mutex);
    return err;
}

#define THREADS 4
#define THREAD_OPS 3000
#define THREAD_LIVE 64

struct worker {
    unsigned seed;
    struct mm_block live[THREAD_LIVE];
    size_t nlive;
    unsigned no_records;        /* refusals while another thread's refill ran */
};

/* The one refusal a correct manager may give here: every record the slab
 * kept back was taken while another thread refilled it (mm.h,
 * MM_RECORD_WATERMARK). It must change nothing, which the end state shows. */
static bool transient(struct worker *w, errval_t err)
{
    if (err_no(err) != MM_ERR_NO_METADATA)
        return false;
    w->no_records++;
    return true;
}

static uint64_t rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffff;
}

/* Free a random live block: whole, or its upper half (keeping the rest). */
static void worker_free(struct worker *w)
{
    size_t i = rnd(&w->seed) % w->nlive;
    struct mm_block *b = &w->live[i];
    if (b->size >= 2 * PAGE && rnd(&w->seed) % 2 == 0) {
        uint64_t keep = (b->size / PAGE / 2) * PAGE;
        errval_t err = mm_free(&mm, b->base + keep, b->size - keep);
        if (transient(w, err))
            return;
        cr_assert(err_is_ok(err), "mm_free: %s", err_getcode(err_no(err)));
        b->size = keep;
        return;
    }
    cr_assert(err_is_ok(mm_free(&mm, b->base, b->size)));
    *b = w->live[--w->nlive];
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    for (int op = 0; op < THREAD_OPS; op++) {
        if (w->nlive == THREAD_LIVE || (w->nlive > 0 && rnd(&w->seed) % 2 == 0)) {
            worker_free(w);
            continue;
        }
        uint64_t size = PAGE * (1 + rnd(&w->seed) % 8);
        uint64_t align = PAGE << (rnd(&w->seed) % 4);
        struct mm_block *b = &w->live[w->nlive];
        errval_t err = mm_alloc(&mm, size, align, b);
        if (transient(w, err))
            continue;
        cr_assert(err_is_ok(err), "mm_alloc: %s", err_getcode(err_no(err)));
        cr_assert_eq(b->base % align, 0);
        w->nlive++;
    }
    return NULL;
}

static int block_cmp(const void *a, const void *b)
{
    const struct mm_block *x = a, *y = b;
    return x->base < y->base ? -1 : x->base > y->base;
}

Test(mm_lock, threads_allocating_and_freeing_at_once_never_share_memory)
{
    static struct worker w[THREADS];
    struct alloc_lock lock = { mutex_acquire, mutex_release, &mm_mutex };
    cr_assert(err_is_ok(mm_init(&mm, &counting_ops, NULL, locked_refill, NULL)));
    mm_set_lock(&mm, &lock);
    cr_assert(err_is_ok(mm_add(&mm, 1, R1_BASE, R1_SIZE)));
    cr_assert(err_is_ok(mm_add(&mm, 2, R2_BASE, R2_SIZE)));

    pthread_t tid[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].seed = (unsigned)i * 7919u + 1;
        cr_assert_eq(pthread_create(&tid[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tid[i], NULL);

    static struct mm_block all[THREADS * THREAD_LIVE];
    size_t n = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < THREADS; i++)
        for (size_t j = 0; j < w[i].nlive; j++) {
            all[n++] = w[i].live[j];
            bytes += w[i].live[j].size;
        }
    qsort(all, n, sizeof all[0], block_cmp);
    for (size_t i = 1; i < n; i++)
        cr_assert_leq(all[i - 1].base + all[i - 1].size, all[i].base, "two threads share memory");
    cr_assert(mm_check(&mm));
    cr_assert_eq(stats().allocated, bytes);
    cr_assert_eq(stats().allocations, n);
    cr_assert_eq(caps_live, (long)n);
    unsigned no_records = 0;
    for (int i = 0; i < THREADS; i++)
        no_records += w[i].no_records;
    cr_log_info("%u of %d operations met an empty record reserve", no_records,
                THREADS * THREAD_OPS);
}
