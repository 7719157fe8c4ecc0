/*
 * test_slab.c — the slab allocator (lib/os/slab.c): carving buffers of any
 * alignment, alloc and free, the refill below the watermark and a refill
 * that allocates from its own slab, the lock hook, the junk of freed
 * objects, and a long random run against a model.
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/slab.h"

static _Alignas(SLAB_ALIGN) uint8_t arena[64 * 1024];

static struct slab_allocator slab;

/* ---- Set-up and sizes. ---- */

Test(slab, init_rounds_the_object_size_up_to_sixteen)
{
    cr_assert(err_is_ok(slab_init(&slab, 1, NULL, NULL)));
    cr_assert_eq(slab.objsize, 16);
    cr_assert(err_is_ok(slab_init(&slab, 16, NULL, NULL)));
    cr_assert_eq(slab.objsize, 16);
    cr_assert(err_is_ok(slab_init(&slab, 17, NULL, NULL)));
    cr_assert_eq(slab.objsize, 32);
    cr_assert_eq(slab_freecount(&slab), 0);
}

Test(slab, init_refuses_a_zero_or_unroundable_size)
{
    cr_assert_eq(slab_init(&slab, 0, NULL, NULL), LIB_ERR_SLAB_BAD_SIZE);
    cr_assert_eq(slab_init(&slab, SIZE_MAX, NULL, NULL), LIB_ERR_SLAB_BAD_SIZE);
    cr_assert_eq(slab_init(&slab, SIZE_MAX - 14, NULL, NULL), LIB_ERR_SLAB_BAD_SIZE);
}

Test(slab, empty_slab_without_refill_returns_null)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, NULL, NULL)));
    cr_assert_null(slab_alloc(&slab));
}

/* ---- Growing. ---- */

Test(slab, alloc_until_empty_gives_every_object_then_null)
{
    cr_assert(err_is_ok(slab_init(&slab, 24, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena, 10 * 32)));
    cr_assert_eq(slab_freecount(&slab), 10);
    for (int i = 0; i < 10; i++)
        cr_assert_not_null(slab_alloc(&slab), "object %d", i);
    cr_assert_null(slab_alloc(&slab));
    cr_assert_eq(slab_freecount(&slab), 0);
}

Test(slab, grow_refuses_null_and_too_small_buffers_and_adds_nothing)
{
    cr_assert(err_is_ok(slab_init(&slab, 64, NULL, NULL)));
    cr_assert_eq(slab_grow(&slab, NULL, 4096), LIB_ERR_SLAB_BAD_BUFFER);
    cr_assert_eq(slab_grow(&slab, arena, 63), LIB_ERR_SLAB_BAD_BUFFER);
    /* 64 bytes, but one of them goes to alignment. */
    cr_assert_eq(slab_grow(&slab, arena + 15, 64), LIB_ERR_SLAB_BAD_BUFFER);
    /* Shorter than the alignment padding itself. */
    cr_assert_eq(slab_grow(&slab, arena + 1, 8), LIB_ERR_SLAB_BAD_BUFFER);
    cr_assert_eq(slab_freecount(&slab), 0);
    cr_assert_null(slab_alloc(&slab));
}

Test(slab, grow_with_unaligned_buffers_keeps_every_object_aligned_and_inside)
{
    for (size_t offset = 0; offset < SLAB_ALIGN; offset++) {
        cr_assert(err_is_ok(slab_init(&slab, 40, NULL, NULL)));
        uint8_t *buf = arena + offset;
        size_t bytes = 1000;
        size_t pad = (SLAB_ALIGN - offset) % SLAB_ALIGN;
        cr_assert(err_is_ok(slab_grow(&slab, buf, bytes)));
        size_t expect = (bytes - pad) / 48;
        cr_assert_eq(slab_freecount(&slab), expect, "offset %zu", offset);
        for (size_t i = 0; i < expect; i++) {
            uint8_t *obj = slab_alloc(&slab);
            cr_assert_not_null(obj);
            cr_assert_eq((uintptr_t)obj % SLAB_ALIGN, 0, "offset %zu", offset);
            cr_assert(obj >= buf && obj + 48 <= buf + bytes, "offset %zu", offset);
        }
        cr_assert_null(slab_alloc(&slab));
    }
}

static int compare_pointers(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return (x > y) - (x < y);
}

Test(slab, objects_never_overlap_and_are_aligned_to_sixteen)
{
    enum { N = 300 };
    void *objs[N];
    cr_assert(err_is_ok(slab_init(&slab, 20, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena + 3, 100 * 32 + 13)));
    cr_assert(err_is_ok(slab_grow(&slab, arena + 8192 + 7, 200 * 32 + 9)));
    for (int i = 0; i < N; i++) {
        objs[i] = slab_alloc(&slab);
        cr_assert_not_null(objs[i], "object %d", i);
        cr_assert_eq((uintptr_t)objs[i] % SLAB_ALIGN, 0);
    }
    qsort(objs, N, sizeof objs[0], compare_pointers);
    for (int i = 1; i < N; i++)
        cr_assert_geq((uintptr_t)objs[i] - (uintptr_t)objs[i - 1], 32, "objects %d and %d overlap", i - 1, i);
}

/* ---- Alloc and free. ---- */

Test(slab, free_then_alloc_reuses_the_freed_object)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena, 4096)));
    void *a = slab_alloc(&slab);
    void *b = slab_alloc(&slab);
    slab_free(&slab, a);
    cr_assert_eq(slab_alloc(&slab), a);
    slab_free(&slab, b);
    cr_assert_eq(slab_alloc(&slab), b);
}

Test(slab, free_of_null_does_nothing)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena, 64)));
    slab_free(&slab, NULL);
    cr_assert_eq(slab_freecount(&slab), 2);
}

Test(slab, freecount_follows_every_grow_alloc_and_free)
{
    void *objs[20];
    cr_assert(err_is_ok(slab_init(&slab, 16, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena, 16 * 12)));
    cr_assert_eq(slab_freecount(&slab), 12);
    for (int i = 0; i < 12; i++) {
        objs[i] = slab_alloc(&slab);
        cr_assert_eq(slab_freecount(&slab), 11 - (size_t)i);
    }
    cr_assert(err_is_ok(slab_grow(&slab, arena + 4096, 16 * 8)));
    cr_assert_eq(slab_freecount(&slab), 8);
    for (int i = 0; i < 12; i++) {
        slab_free(&slab, objs[i]);
        cr_assert_eq(slab_freecount(&slab), 9 + (size_t)i);
    }
}

Test(slab, grow_with_fresh_objects_left_keeps_every_object_exactly_once)
{
    enum { FIRST = 10, SECOND = 6, TAKEN = 4 };
    void *objs[FIRST + SECOND];
    cr_assert(err_is_ok(slab_init(&slab, 32, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena, FIRST * 32)));
    for (int i = 0; i < TAKEN; i++)
        objs[i] = slab_alloc(&slab);
    cr_assert(err_is_ok(slab_grow(&slab, arena + 4096, SECOND * 32)));
    cr_assert_eq(slab_freecount(&slab), FIRST + SECOND - TAKEN);
    for (int i = TAKEN; i < FIRST + SECOND; i++)
        cr_assert_not_null(objs[i] = slab_alloc(&slab), "object %d", i);
    cr_assert_null(slab_alloc(&slab));
    qsort(objs, FIRST + SECOND, sizeof objs[0], compare_pointers);
    for (int i = 1; i < FIRST + SECOND; i++)
        cr_assert_neq(objs[i], objs[i - 1], "object %d handed out twice", i);
}

Test(slab, alloc_many_gives_distinct_objects_and_counts_them)
{
    void *objs[12];
    cr_assert(err_is_ok(slab_init(&slab, 32, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena, 8 * 32)));
    void *freed = slab_alloc(&slab);
    slab_free(&slab, freed);
    cr_assert_eq(slab_alloc_many(&slab, objs, 5), 5);
    cr_assert_eq(objs[0], freed, "the free list comes first");
    cr_assert_eq(slab_freecount(&slab), 3);
    cr_assert_eq(slab_alloc_many(&slab, objs + 5, 7), 3, "only what is left");
    cr_assert_eq(slab_freecount(&slab), 0);
    qsort(objs, 8, sizeof objs[0], compare_pointers);
    for (int i = 1; i < 8; i++)
        cr_assert_geq((uintptr_t)objs[i] - (uintptr_t)objs[i - 1], 32, "objects %d and %d overlap", i - 1, i);
    cr_assert_eq(slab_alloc_many(&slab, objs, 0), 0);
}

/* ---- Refill. ---- */

/* A refill that hands in `grow_objects` objects from the arena per call,
 * records how deep calls nest, and may allocate from the slab itself. */
static struct {
    unsigned calls;
    unsigned depth, max_depth;
    size_t grow_objects;        /* 0: add nothing and fail */
    size_t arena_used;
    unsigned nested_allocs;     /* slab_alloc calls the refill makes */
    void *nested[8];
    size_t freecount_seen;      /* slab_freecount when the refill started */
} rf;

static errval_t test_refill(struct slab_allocator *s, void *arg)
{
    cr_assert_eq(arg, &rf, "the refill gets its argument");
    rf.calls++;
    rf.depth++;
    if (rf.depth > rf.max_depth)
        rf.max_depth = rf.depth;
    rf.freecount_seen = slab_freecount(s);
    for (unsigned i = 0; i < rf.nested_allocs; i++)
        rf.nested[i] = slab_alloc(s);
    errval_t err = LIB_ERR_SLAB_EMPTY;
    if (rf.grow_objects > 0) {
        size_t bytes = rf.grow_objects * s->objsize;
        cr_assert_leq(rf.arena_used + bytes, sizeof arena);
        err = slab_grow(s, arena + rf.arena_used, bytes);
        rf.arena_used += bytes;
    }
    rf.depth--;
    return err;
}

static void refill_reset(void)
{
    memset(&rf, 0, sizeof rf);
}

TestSuite(slab_refill, .init = refill_reset);

Test(slab_refill, refill_is_called_when_an_alloc_would_go_below_the_watermark)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, test_refill, &rf)));
    slab_set_watermark(&slab, 4);
    rf.grow_objects = 8;
    cr_assert(err_is_ok(slab_grow(&slab, arena + 32 * 1024, 8 * 32)));
    for (int i = 0; i < 4; i++)
        cr_assert_not_null(slab_alloc(&slab));
    cr_assert_eq(rf.calls, 0, "8, 7, 6 and 5 free: not yet");
    cr_assert_not_null(slab_alloc(&slab));
    cr_assert_eq(rf.calls, 1, "4 free: the allocation refills first");
    cr_assert_eq(rf.freecount_seen, 4, "the refill ran while 4 were left");
    cr_assert_eq(slab_freecount(&slab), 4 + 8 - 1);
    cr_assert(err_is_ok(slab.refill_err));
}

Test(slab_refill, refill_is_called_exactly_once_per_need)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, test_refill, &rf)));
    slab_set_watermark(&slab, 2);
    rf.grow_objects = 6;
    cr_assert(err_is_ok(slab_grow(&slab, arena + 32 * 1024, 3 * 32)));
    /* 3 free, then each refill adds 6: refills at 2 left, then at 2 again
     * six allocations later. */
    for (int i = 0; i < 14; i++)
        cr_assert_not_null(slab_alloc(&slab));
    cr_assert_eq(rf.calls, 3);
    cr_assert_eq(slab_freecount(&slab), 3 + 3 * 6 - 14);
}

Test(slab_refill, alloc_many_refills_once_if_the_batch_would_go_below_the_watermark)
{
    void *objs[8];
    cr_assert(err_is_ok(slab_init(&slab, 32, test_refill, &rf)));
    slab_set_watermark(&slab, 2);
    rf.grow_objects = 8;
    cr_assert(err_is_ok(slab_grow(&slab, arena + 32 * 1024, 6 * 32)));
    cr_assert_eq(slab_alloc_many(&slab, objs, 4), 4);
    cr_assert_eq(rf.calls, 0, "6 - 4 leaves the watermark");
    cr_assert_eq(slab_alloc_many(&slab, objs, 8), 8);
    cr_assert_eq(rf.calls, 1);
    cr_assert_eq(slab_freecount(&slab), 6 - 4 + 8 - 8);
}

Test(slab_refill, failed_refill_still_serves_what_is_left_and_is_recorded)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, test_refill, &rf)));
    slab_set_watermark(&slab, 4);
    rf.grow_objects = 0;
    cr_assert(err_is_ok(slab_grow(&slab, arena, 3 * 32)));
    for (unsigned i = 1; i <= 3; i++) {
        cr_assert_not_null(slab_alloc(&slab));
        cr_assert_eq(rf.calls, i, "one refill per allocation while below");
        cr_assert_eq(slab.refill_err, LIB_ERR_SLAB_EMPTY);
    }
    cr_assert_null(slab_alloc(&slab));
    cr_assert_eq(rf.calls, 4);
}

Test(slab_refill, watermark_zero_refills_only_when_empty)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, test_refill, &rf)));
    slab_set_watermark(&slab, 0);
    rf.grow_objects = 2;
    cr_assert(err_is_ok(slab_grow(&slab, arena + 32 * 1024, 2 * 32)));
    cr_assert_not_null(slab_alloc(&slab));
    cr_assert_not_null(slab_alloc(&slab));
    cr_assert_eq(rf.calls, 0);
    cr_assert_not_null(slab_alloc(&slab));
    cr_assert_eq(rf.calls, 1);
}

Test(slab_refill, refill_that_allocates_from_the_same_slab_is_served_from_what_is_left)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, test_refill, &rf)));
    slab_set_watermark(&slab, 3);
    rf.grow_objects = 10;
    rf.nested_allocs = 3;
    cr_assert(err_is_ok(slab_grow(&slab, arena + 32 * 1024, 4 * 32)));
    cr_assert_not_null(slab_alloc(&slab));  /* 4 -> 3 */
    void *obj = slab_alloc(&slab);          /* 3 left: refill, which takes 3 */
    cr_assert_not_null(obj);
    cr_assert_eq(rf.calls, 1);
    cr_assert_eq(rf.max_depth, 1, "the nested allocations did not refill again");
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_not_null(rf.nested[i], "nested allocation %u", i);
        cr_assert_neq(rf.nested[i], obj);
    }
    cr_assert_eq(slab_freecount(&slab), 10 - 1);
}

Test(slab_refill, refill_that_needs_more_than_is_left_gets_null_instead_of_recursing)
{
    cr_assert(err_is_ok(slab_init(&slab, 32, test_refill, &rf)));
    slab_set_watermark(&slab, 1);
    rf.grow_objects = 0;
    rf.nested_allocs = 3;
    cr_assert(err_is_ok(slab_grow(&slab, arena, 1 * 32)));
    cr_assert_null(slab_alloc(&slab), "the refill took the last object and added none");
    cr_assert_eq(rf.calls, 1);
    cr_assert_eq(rf.max_depth, 1);
    cr_assert_not_null(rf.nested[0]);
    cr_assert_null(rf.nested[1]);
    cr_assert_null(rf.nested[2]);
}

/* ---- The lock hook. ---- */

static struct {
    bool held;
    unsigned acquires, releases;
} lk;

static void lock_acquire(void *arg)
{
    cr_assert_eq(arg, &lk);
    cr_assert_not(lk.held, "the slab never takes its lock twice");
    lk.held = true;
    lk.acquires++;
}

static void lock_release(void *arg)
{
    cr_assert_eq(arg, &lk);
    cr_assert(lk.held);
    lk.held = false;
    lk.releases++;
}

static errval_t refill_checking_the_lock(struct slab_allocator *s, void *arg)
{
    (void)arg;
    cr_assert_not(lk.held, "the refill runs without the lock");
    void *nested = slab_alloc(s);
    cr_assert_not_null(nested);
    slab_free(s, nested);
    return slab_grow(s, arena + 16 * 1024, 16 * 32);
}

Test(slab, lock_is_taken_around_each_operation_and_released_for_the_refill)
{
    struct alloc_lock lock = { lock_acquire, lock_release, &lk };
    memset(&lk, 0, sizeof lk);
    cr_assert(err_is_ok(slab_init(&slab, 32, refill_checking_the_lock, NULL)));
    slab_set_lock(&slab, &lock);
    cr_assert(err_is_ok(slab_grow(&slab, arena, 4 * 32)));
    void *objs[10];
    for (int i = 0; i < 10; i++)
        objs[i] = slab_alloc(&slab);
    for (int i = 0; i < 10; i++)
        slab_free(&slab, objs[i]);
    cr_assert_eq(slab_freecount(&slab), 20);
    cr_assert_not(lk.held);
    cr_assert_eq(lk.acquires, lk.releases);
    cr_assert_gt(lk.acquires, 20);
}

/* ---- Junk: slab.c turns SLAB_DEBUG on in the host tests. ---- */

Test(slab, freed_object_is_filled_with_junk_after_its_link)
{
    cr_assert(err_is_ok(slab_init(&slab, 64, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena, 4 * 64)));
    uint8_t *obj = slab_alloc(&slab);
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(obj[i], 0xa5, "a new object reads as junk too (byte %zu)", i);
    memset(obj, 0, 64);
    slab_free(&slab, obj);
    for (size_t i = sizeof(void *); i < 64; i++)
        cr_assert_eq(obj[i], 0x6b, "byte %zu of the freed object", i);
}

#if defined(__x86_64__)
#define TRAP_SIGNAL SIGILL
#elif defined(__aarch64__)
#define TRAP_SIGNAL SIGTRAP
#endif

#ifdef TRAP_SIGNAL
Test(slab, write_after_free_stops_the_next_alloc_of_that_object, .signal = TRAP_SIGNAL)
{
    cr_assert(err_is_ok(slab_init(&slab, 64, NULL, NULL)));
    cr_assert(err_is_ok(slab_grow(&slab, arena, 4 * 64)));
    uint8_t *obj = slab_alloc(&slab);
    slab_free(&slab, obj);
    obj[40] = 1;        /* a dangling write */
    slab_alloc(&slab);
}
#endif

/* ---- A long random run against a model. ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define RAND_REQ_SIZE 40        /* the owner's size; objects are 48 bytes */
#define RAND_MAX_LIVE 4096

static struct {
    uint8_t *obj[RAND_MAX_LIVE];
    uint32_t tag[RAND_MAX_LIVE];
    size_t live;
    size_t carved;              /* objects the model expects the slab to hold */
    void *buffers[4096];
    size_t nbuffers;
    unsigned refills;
} model;

/* Add a malloc'ed buffer of up to `max_bytes` at a random misalignment;
 * the model counts what it should yield. */
static errval_t model_grow(struct slab_allocator *s, size_t max_bytes)
{
    cr_assert_lt(model.nbuffers, 4096);
    size_t offset = rng() % SLAB_ALIGN;
    size_t bytes = rng() % max_bytes;
    uint8_t *buf = malloc(offset + bytes);
    cr_assert_not_null(buf);
    model.buffers[model.nbuffers++] = buf;
    size_t pad = (SLAB_ALIGN - ((uintptr_t)(buf + offset) % SLAB_ALIGN)) % SLAB_ALIGN;
    errval_t err = slab_grow(s, buf + offset, bytes);
    if (bytes >= pad + 48) {
        cr_assert(err_is_ok(err));
        model.carved += (bytes - pad) / 48;
    } else {
        cr_assert_eq(err, LIB_ERR_SLAB_BAD_BUFFER);
    }
    return err;
}

static errval_t model_refill(struct slab_allocator *s, void *arg)
{
    (void)arg;
    model.refills++;
    /* Sometimes the OS is out of memory. */
    if (rng() % 4 == 0)
        return LIB_ERR_SLAB_EMPTY;
    return model_grow(s, 400);
}

static void fill_tag(uint8_t *obj, uint32_t tag)
{
    for (size_t i = 0; i < RAND_REQ_SIZE; i++)
        obj[i] = (uint8_t)(tag + i);
}

static void check_tag(const uint8_t *obj, uint32_t tag)
{
    for (size_t i = 0; i < RAND_REQ_SIZE; i++)
        cr_assert_eq(obj[i], (uint8_t)(tag + i), "object overwritten (overlap?) at byte %zu", i);
}

static void model_alloc(uint32_t tag)
{
    uint8_t *obj = slab_alloc(&slab);
    if (model.live == model.carved) {
        cr_assert_null(obj, "the model has no free object");
        return;
    }
    cr_assert_not_null(obj, "the model has %zu free objects", model.carved - model.live);
    cr_assert_eq((uintptr_t)obj % SLAB_ALIGN, 0);
    cr_assert_lt(model.live, RAND_MAX_LIVE);
    fill_tag(obj, tag);
    model.obj[model.live] = obj;
    model.tag[model.live] = tag;
    model.live++;
}

static void model_free(void)
{
    size_t i = rng() % model.live;
    check_tag(model.obj[i], model.tag[i]);
    slab_free(&slab, model.obj[i]);
    model.live--;
    model.obj[i] = model.obj[model.live];
    model.tag[i] = model.tag[model.live];
}

Test(slab, random_operations_match_a_model)
{
    memset(&model, 0, sizeof model);
    rng_state = 0x9e3779b97f4a7c15ull;
    cr_assert(err_is_ok(slab_init(&slab, RAND_REQ_SIZE, model_refill, NULL)));
    slab_set_watermark(&slab, 5);
    for (uint32_t op = 0; op < 200000; op++) {
        uint64_t r = rng() % 100;
        /* The number of live objects drifts up towards a target that
         * rises through the run, so the slab keeps reaching its
         * watermark; small refills keep it there. */
        size_t target = op / 50;
        bool alloc = model.live == 0 || r < (model.live < target ? 60 : 40);
        /* Now and then the owner grows the slab while it is in use. */
        if (r == 99 && rng() % 16 == 0)
            model_grow(&slab, 2000);
        else if (alloc && model.live < RAND_MAX_LIVE)
            model_alloc(op);
        else if (model.live > 0)
            model_free();
        cr_assert_eq(slab_freecount(&slab), model.carved - model.live, "after op %u", op);
    }
    cr_assert_gt(model.refills, 100, "the run went below the watermark (%u refills)", model.refills);
    while (model.live > 0)
        model_free();
    cr_assert_eq(slab_freecount(&slab), model.carved);
    for (size_t i = 0; i < model.nbuffers; i++)
        free(model.buffers[i]);
}
