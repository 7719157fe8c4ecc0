/*
 * test_heap.c — the user-space heap (lib/os/heap.c): alignment and size of
 * every block, the size classes and their waste bound, free-list reuse,
 * calloc clearing recycled blocks and leaving fresh memory untouched (seen
 * with mincore), large blocks and their return, realloc, aligned_alloc,
 * overflowing requests, bad pointers reported through the corrupt hook, an
 * exhausted backend, exact statistics, the lock, and a long random run
 * against a model.
 *
 * The backend is host memory: the arena is one big PROT_NONE reservation
 * opened chunk by chunk (optionally with an inaccessible page between
 * chunks, so that a block running off its chunk faults), and each large
 * block is its own mmap. Both are MAP_NORESERVE and without huge pages, so
 * mincore shows exactly which pages the heap touched.
 */
#define _DEFAULT_SOURCE             /* mmap flags, madvise, mincore under -std=c11 */

#include <criterion/criterion.h>

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "os/heap.h"

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define PAGE HEAP_PAGE_SIZE

/* The arena's address space; only what arena_grow hands out is usable. */
#define POOL_BYTES (1024 * MiB)

/* Live large regions the fake keeps track of. */
#define MAX_REGIONS 4096

struct region {
    void *p;
    size_t bytes;
};

static struct fake {
    char *pool;
    size_t pool_used;
    bool gaps;                  /* an inaccessible page after every chunk */
    size_t arena_limit;         /* arena_grow fails beyond this many bytes */
    size_t arena_bytes;
    unsigned arena_calls;

    bool large_fails;
    bool keep_large;            /* large_free leaves the region mapped */
    unsigned large_allocs, large_frees;
    struct region live[MAX_REGIONS];
    size_t nlive;
    struct region last_freed;

    bool locked;
    unsigned locks;

    unsigned corrupts;
    const void *corrupt_p;
    const char *corrupt_why;
} fk;

static struct heap heap;

/* ---- The fake backend. ---- */

static void *fake_map(size_t bytes, int prot)
{
    void *p = mmap(NULL, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    cr_assert_neq(p, MAP_FAILED, "mmap of %zu bytes", bytes);
    madvise(p, bytes, MADV_NOHUGEPAGE);
    return p;
}

static void *fake_arena_grow(void *arg, size_t bytes)
{
    (void)arg;
    cr_assert(fk.locked, "arena_grow is called with the lock held");
    cr_assert_eq(bytes % HEAP_ARENA_CHUNK, 0, "arena_grow of %zu bytes", bytes);
    fk.arena_calls++;
    if (bytes > fk.arena_limit - fk.arena_bytes)
        return NULL;
    if (fk.gaps && fk.pool_used != 0)
        fk.pool_used += PAGE;
    cr_assert_leq(fk.pool_used + bytes, POOL_BYTES, "the test pool is big enough");
    char *p = fk.pool + fk.pool_used;
    cr_assert_eq(mprotect(p, bytes, PROT_READ | PROT_WRITE), 0);
    fk.pool_used += bytes;
    fk.arena_bytes += bytes;
    return p;
}

static void *fake_large_alloc(void *arg, size_t bytes)
{
    (void)arg;
    cr_assert(fk.locked, "large_alloc is called with the lock held");
    cr_assert_eq(bytes % PAGE, 0, "large_alloc of %zu bytes", bytes);
    if (fk.large_fails)
        return NULL;
    cr_assert_lt(fk.nlive, MAX_REGIONS);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    madvise(p, bytes, MADV_NOHUGEPAGE);
    fk.live[fk.nlive++] = (struct region){ p, bytes };
    fk.large_allocs++;
    return p;
}

static void fake_large_free(void *arg, void *p, size_t bytes)
{
    (void)arg;
    cr_assert(fk.locked, "large_free is called with the lock held");
    size_t i = 0;
    while (i < fk.nlive && fk.live[i].p != p)
        i++;
    cr_assert_lt(i, fk.nlive, "large_free of %p, which large_alloc did not return", p);
    cr_assert_eq(fk.live[i].bytes, bytes, "large_free with the size large_alloc was given");
    fk.live[i] = fk.live[--fk.nlive];
    fk.last_freed = (struct region){ p, bytes };
    fk.large_frees++;
    if (!fk.keep_large)
        munmap(p, bytes);
}

static void fake_lock(void *arg)
{
    (void)arg;
    cr_assert_not(fk.locked, "the heap never takes its lock twice");
    fk.locked = true;
    fk.locks++;
}

static void fake_unlock(void *arg)
{
    (void)arg;
    cr_assert(fk.locked, "the heap releases only a lock it holds");
    fk.locked = false;
}

static void fake_corrupt(void *arg, const void *p, const char *why)
{
    (void)arg;
    cr_assert_not(fk.locked, "corruption is reported with the lock released");
    fk.corrupts++;
    fk.corrupt_p = p;
    fk.corrupt_why = why;
}

static const struct heap_backend fake_backend = {
    .arena_grow = fake_arena_grow,
    .large_alloc = fake_large_alloc,
    .large_free = fake_large_free,
    .lock = fake_lock,
    .unlock = fake_unlock,
    .corrupt = fake_corrupt,
    .arg = &fk,
};

static void setup(void)
{
    memset(&fk, 0, sizeof fk);
    fk.pool = fake_map(POOL_BYTES, PROT_NONE);
    fk.arena_limit = SIZE_MAX;
    heap_init(&heap, &fake_backend);
}

static void teardown(void)
{
    for (size_t i = 0; i < fk.nlive; i++)
        munmap(fk.live[i].p, fk.live[i].bytes);
    munmap(fk.pool, POOL_BYTES);
}

TestSuite(heap, .init = setup, .fini = teardown, .timeout = 120);

/* ---- Helpers. ---- */

/* Fill n bytes with a pattern that differs per block (seed) and per
 * offset, so that an overlap or a shifted copy shows. */
static void fill(void *p, size_t n, uint8_t seed)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 7);
}

static bool holds(const void *p, size_t n, uint8_t seed)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != (uint8_t)(seed + i * 7))
            return false;
    }
    return true;
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return false;
    }
    return true;
}

static bool aligned(const void *p, size_t align)
{
    return ((uintptr_t)p & (align - 1)) == 0;
}

/* Resident pages among those lying wholly inside [p, p + n). */
static size_t resident_pages(const void *p, size_t n)
{
    uintptr_t lo = ((uintptr_t)p + PAGE - 1) & ~(PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(PAGE - 1);
    if (hi <= lo)
        return 0;
    size_t pages = (hi - lo) / PAGE, count = 0;
    unsigned char vec[4096];
    for (size_t done = 0; done < pages;) {
        size_t step = pages - done < sizeof vec ? pages - done : sizeof vec;
        cr_assert_eq(mincore((void *)(lo + done * PAGE), step * PAGE, vec), 0);
        for (size_t i = 0; i < step; i++)
            count += vec[i] & 1;
        done += step;
    }
    return count;
}

static struct heap_stats stats(void)
{
    struct heap_stats st;
    heap_stats(&heap, &st);
    return st;
}

static void expect_stats(size_t arena, size_t large, size_t live, size_t large_blocks)
{
    struct heap_stats st = stats();
    cr_assert_eq(st.arena_bytes, arena, "arena_bytes %zu, expected %zu", st.arena_bytes, arena);
    cr_assert_eq(st.large_bytes, large, "large_bytes %zu, expected %zu", st.large_bytes, large);
    cr_assert_eq(st.live_blocks, live, "live_blocks %zu, expected %zu", st.live_blocks, live);
    cr_assert_eq(st.large_blocks, large_blocks, "large_blocks %zu, expected %zu",
                 st.large_blocks, large_blocks);
}

static void expect_no_live_blocks(void)
{
    struct heap_stats st = stats();
    cr_assert_eq(st.live_blocks, 0);
    cr_assert_eq(st.large_blocks, 0);
    cr_assert_eq(st.large_bytes, 0);
    cr_assert_eq(fk.nlive, 0, "every large region went back");
    cr_assert(heap_check(&heap));
}

/* A bad pointer was reported once, with `word` in the reason. */
static void expect_reported(const void *p, const char *word)
{
    cr_assert_eq(fk.corrupts, 1, "reported %u times", fk.corrupts);
    cr_assert_eq(fk.corrupt_p, p);
    cr_assert_not_null(strstr(fk.corrupt_why, word), "reason \"%s\" names \"%s\"",
                       fk.corrupt_why, word);
}

/* The block a request of n bytes may take at most, header included: the
 * waste bound of heap.h (16-byte steps to 128, then a quarter). */
static size_t waste_bound(size_t n)
{
    size_t total = n + HEAP_HDR_SIZE;
    if (total <= 128)
        return total <= 32 ? 32 : (total + 15) & ~(size_t)15;
    return total + (total - 1) / 4;
}

/* ---- Sizes and alignment. ---- */

Test(heap, check_holds_on_an_empty_heap)
{
    cr_assert(heap_check(&heap));
    expect_stats(0, 0, 0, 0);
    cr_assert_eq(fk.arena_calls + fk.large_allocs, 0, "init takes no memory");
}

Test(heap, alloc_returns_16_byte_aligned_blocks_of_every_size_up_to_1_MiB)
{
    static void *ps[8192];
    size_t n = 0;
    for (size_t size = 0; size <= 1 * MiB; size += size < 4096 ? 1 : size / 7 + 1) {
        void *p = heap_alloc(&heap, size);
        cr_assert_not_null(p, "size %zu", size);
        cr_assert(aligned(p, HEAP_ALIGN), "size %zu: %p", size, p);
        cr_assert_geq(heap_usable_size(&heap, p), size, "size %zu", size);
        ps[n++] = p;
    }
    cr_assert(heap_check(&heap));
    for (size_t i = 0; i < n; i++)
        heap_free(&heap, ps[i]);
    expect_no_live_blocks();
}

Test(heap, alloc_of_size_zero_returns_a_distinct_pointer_each_time)
{
    void *ps[100];
    for (int i = 0; i < 100; i++) {
        ps[i] = heap_alloc(&heap, 0);
        cr_assert_not_null(ps[i]);
        for (int j = 0; j < i; j++)
            cr_assert_neq(ps[i], ps[j]);
    }
    for (int i = 0; i < 100; i++)
        heap_free(&heap, ps[i]);
    expect_no_live_blocks();
}

Test(heap, every_small_size_gets_a_block_within_the_waste_bound)
{
    for (size_t n = 0; n + HEAP_HDR_SIZE <= HEAP_SMALL_MAX; n++) {
        void *p = heap_alloc(&heap, n);
        size_t usable = heap_usable_size(&heap, p);
        cr_assert_geq(usable, n, "size %zu", n);
        cr_assert_leq(usable + HEAP_HDR_SIZE, waste_bound(n), "size %zu: usable %zu", n, usable);
        heap_free(&heap, p);
    }
    cr_assert_eq(fk.large_allocs, 0);
    expect_no_live_blocks();
}

Test(heap, a_large_block_is_its_request_and_header_rounded_up_to_pages)
{
    for (size_t n = HEAP_SMALL_MAX; n < HEAP_SMALL_MAX + 3 * PAGE; n += 1000) {
        void *p = heap_alloc(&heap, n);
        size_t region = (n + HEAP_HDR_SIZE + PAGE - 1) & ~(PAGE - 1);
        cr_assert_eq(heap_usable_size(&heap, p), region - HEAP_HDR_SIZE, "size %zu", n);
        cr_assert_eq(fk.live[0].bytes, region, "size %zu", n);
        heap_free(&heap, p);
    }
    expect_no_live_blocks();
}

Test(heap, the_largest_small_block_is_128_KiB_and_one_byte_more_is_large)
{
    void *small = heap_alloc(&heap, HEAP_SMALL_MAX - HEAP_HDR_SIZE);
    cr_assert_eq(heap_usable_size(&heap, small), HEAP_SMALL_MAX - HEAP_HDR_SIZE);
    cr_assert_eq(fk.large_allocs, 0);
    void *large = heap_alloc(&heap, HEAP_SMALL_MAX - HEAP_HDR_SIZE + 1);
    cr_assert_eq(fk.large_allocs, 1);
    expect_stats(192 * KiB, HEAP_SMALL_MAX + PAGE, 2, 1);
    heap_free(&heap, small);
    heap_free(&heap, large);
    expect_no_live_blocks();
}

Test(heap, whole_blocks_can_be_written_without_touching_their_neighbours)
{
    static const size_t sizes[] = {
        0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 112, 113, 127, 128, 129,
        255, 256, 257, 1000, 4095, 4096, 4097, 40000, 65535, 65536, 65537,
        HEAP_SMALL_MAX - 16, HEAP_SMALL_MAX - 15, 256 * KiB, 1 * MiB,
    };
    enum { N = sizeof sizes / sizeof sizes[0], ROUNDS = 3 };
    static void *ps[ROUNDS][N];
    fk.gaps = true;
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < N; i++) {
            ps[r][i] = heap_alloc(&heap, sizes[i]);
            fill(ps[r][i], heap_usable_size(&heap, ps[r][i]), (uint8_t)(r * N + i));
        }
    }
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < N; i++)
            cr_assert(holds(ps[r][i], heap_usable_size(&heap, ps[r][i]), (uint8_t)(r * N + i)),
                      "round %d, size %zu", r, sizes[i]);
    }
    cr_assert(heap_check(&heap));
    for (int r = 0; r < ROUNDS; r++) {
        for (size_t i = 0; i < N; i++)
            heap_free(&heap, ps[r][i]);
    }
    expect_no_live_blocks();
}

/* ---- Free lists. ---- */

Test(heap, a_freed_block_is_the_next_one_of_its_class_last_in_first_out)
{
    void *a = heap_alloc(&heap, 100);
    void *b = heap_alloc(&heap, 100);
    heap_free(&heap, a);
    heap_free(&heap, b);
    cr_assert_eq(heap_alloc(&heap, 100), b);
    cr_assert_eq(heap_alloc(&heap, heap_usable_size(&heap, b)), a, "any size of the class");
    cr_assert(heap_check(&heap));
}

Test(heap, a_freed_block_is_not_handed_out_for_another_class)
{
    void *a = heap_alloc(&heap, 100);
    heap_free(&heap, a);
    void *b = heap_alloc(&heap, 1000);
    cr_assert_neq(b, a);
    cr_assert(heap_check(&heap));
}

Test(heap, free_of_null_does_nothing)
{
    heap_free(&heap, NULL);
    cr_assert_eq(fk.corrupts, 0);
    cr_assert_eq(heap_usable_size(&heap, NULL), 0);
    expect_stats(0, 0, 0, 0);
}

Test(heap, a_contiguous_arena_grows_its_chunk_and_wastes_nothing)
{
    /* 40 KiB blocks: the second does not fit the first 64 KiB chunk. */
    char *a = heap_alloc(&heap, 40 * KiB - 16);
    char *b = heap_alloc(&heap, 40 * KiB - 16);
    cr_assert_eq(fk.arena_calls, 2);
    cr_assert_eq(b, a + 40 * KiB, "the chunk grew in place");
    cr_assert(heap_check(&heap));
}

Test(heap, the_tail_of_a_retired_chunk_becomes_free_blocks)
{
    fk.gaps = true;
    char *a = heap_alloc(&heap, 40 * KiB - 16);
    char *b = heap_alloc(&heap, 40 * KiB - 16);
    cr_assert_eq(fk.arena_calls, 2);
    cr_assert_gt(b, a + 64 * KiB, "a new chunk after the gap");
    /* The first chunk's 24,560 bytes left were cut into 20 KiB, 3.5 KiB,
     * 448 and 48 byte blocks. */
    cr_assert_eq(heap_alloc(&heap, 20 * KiB - 16), a + 40 * KiB);
    cr_assert_eq(heap_alloc(&heap, 3584 - 16), a + 60 * KiB);
    cr_assert_eq(heap_alloc(&heap, 448 - 16), a + 60 * KiB + 3584);
    cr_assert_eq(heap_alloc(&heap, 48 - 16), a + 60 * KiB + 3584 + 448);
    cr_assert_eq(fk.arena_calls, 2);
    cr_assert(heap_check(&heap));
}

/* ---- calloc. ---- */

Test(heap, calloc_zeroes_a_recycled_block)
{
    void *p = heap_alloc(&heap, 500);
    memset(p, 0xab, heap_usable_size(&heap, p));
    heap_free(&heap, p);
    void *q = heap_calloc(&heap, 5, 100);
    cr_assert_eq(q, p, "the block was reused");
    cr_assert(all_zero(q, 500));
}

Test(heap, calloc_does_not_write_fresh_arena_memory)
{
    char *p = heap_calloc(&heap, 1, 100 * KiB);
    cr_assert_not_null(p);
    cr_assert_eq(resident_pages(p, 100 * KiB), 0, "only the header's page was touched");
    cr_assert(all_zero(p, 100 * KiB));
}

Test(heap, calloc_of_256_MiB_touches_only_the_header_page)
{
    char *p = heap_calloc(&heap, 256, MiB);
    cr_assert_not_null(p);
    cr_assert_eq(fk.large_allocs, 1);
    cr_assert_eq(resident_pages(p - HEAP_HDR_SIZE, 256 * MiB + PAGE), 1);
    heap_free(&heap, p);
    cr_assert_eq(fk.last_freed.bytes, 256 * MiB + PAGE);
    expect_no_live_blocks();
}

Test(heap, calloc_of_a_fresh_tail_block_clears_its_link_and_nothing_else)
{
    fk.gaps = true;
    char *a = heap_alloc(&heap, 40 * KiB - 16);
    heap_alloc(&heap, 40 * KiB - 16);       /* retires the first chunk's tail */
    char *p = heap_calloc(&heap, 1, 20 * KiB - 16);
    cr_assert_eq(p, a + 40 * KiB, "the 20 KiB tail block");
    cr_assert_eq(resident_pages(p, 20 * KiB - 16), 0, "its inner pages were not touched");
    cr_assert(all_zero(p, 20 * KiB - 16));
}

Test(heap, calloc_of_zero_elements_returns_a_distinct_pointer)
{
    void *a = heap_calloc(&heap, 0, 100);
    void *b = heap_calloc(&heap, 100, 0);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
}

/* ---- Large blocks. ---- */

Test(heap, a_large_block_goes_back_through_large_free_with_its_size)
{
    char *p = heap_alloc(&heap, 1 * MiB);
    cr_assert_eq(fk.large_allocs, 1);
    cr_assert(aligned(p - HEAP_HDR_SIZE, PAGE), "the header starts the region");
    expect_stats(0, 1 * MiB + PAGE, 1, 1);
    fill(p, 1 * MiB, 3);
    heap_free(&heap, p);
    cr_assert_eq(fk.large_frees, 1);
    cr_assert_eq(fk.last_freed.p, p - HEAP_HDR_SIZE);
    cr_assert_eq(fk.last_freed.bytes, 1 * MiB + PAGE);
    expect_no_live_blocks();
}

/* ---- realloc. ---- */

Test(heap, realloc_of_null_allocates)
{
    void *p = heap_realloc(&heap, NULL, 100);
    cr_assert_not_null(p);
    cr_assert_geq(heap_usable_size(&heap, p), 100);
    expect_stats(64 * KiB, 0, 1, 0);
}

Test(heap, realloc_to_zero_frees_and_returns_null)
{
    void *p = heap_alloc(&heap, 100);
    cr_assert_null(heap_realloc(&heap, p, 0));
    expect_no_live_blocks();
    cr_assert_eq(heap_alloc(&heap, 100), p, "the block was freed");
}

Test(heap, realloc_growing_keeps_the_contents)
{
    static const size_t steps[] = { 10, 100, 1000, 50 * KiB, 200 * KiB, 3 * MiB };
    size_t old = steps[0];
    char *p = heap_alloc(&heap, old);
    fill(p, old, 9);
    for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
        p = heap_realloc(&heap, p, steps[i]);
        cr_assert_not_null(p);
        cr_assert(holds(p, old, 9), "grown from %zu to %zu", old, steps[i]);
        fill(p, steps[i], 9);
        old = steps[i];
    }
    heap_free(&heap, p);
    expect_no_live_blocks();
}

Test(heap, realloc_shrinking_keeps_the_prefix)
{
    static const size_t steps[] = { 3 * MiB, 200 * KiB, 50 * KiB, 1000, 100, 10 };
    char *p = heap_alloc(&heap, steps[0]);
    fill(p, steps[0], 5);
    for (size_t i = 1; i < sizeof steps / sizeof steps[0]; i++) {
        p = heap_realloc(&heap, p, steps[i]);
        cr_assert(holds(p, steps[i], 5), "shrunk to %zu", steps[i]);
    }
    heap_free(&heap, p);
    expect_no_live_blocks();
}

Test(heap, realloc_within_the_block_stays_in_place)
{
    void *p = heap_alloc(&heap, 100);
    cr_assert_eq(heap_realloc(&heap, p, heap_usable_size(&heap, p)), p);
    cr_assert_eq(heap_realloc(&heap, p, 60), p, "a block for 60 bytes is over half as big");
    void *big = heap_alloc(&heap, 200 * KiB);
    size_t usable = heap_usable_size(&heap, big);
    cr_assert_eq(heap_realloc(&heap, big, usable), big, "still fits its pages");
    cr_assert_eq(heap_realloc(&heap, big, 150 * KiB), big);
    cr_assert_eq(fk.large_allocs, 1);
    cr_assert_eq(heap_usable_size(&heap, big), usable);
}

Test(heap, realloc_shrinking_below_half_moves_and_gives_the_region_back)
{
    char *p = heap_alloc(&heap, 1 * MiB);
    fill(p, 1000, 1);
    char *q = heap_realloc(&heap, p, 1000);
    cr_assert_neq(q, p);
    cr_assert(holds(q, 1000, 1));
    cr_assert_eq(fk.large_frees, 1);
    expect_stats(64 * KiB, 0, 1, 0);
}

Test(heap, realloc_that_cannot_grow_returns_null_and_keeps_the_block)
{
    char *p = heap_alloc(&heap, 100);
    fill(p, 100, 2);
    fk.large_fails = true;
    cr_assert_null(heap_realloc(&heap, p, 1 * MiB));
    cr_assert(holds(p, 100, 2));
    cr_assert_eq(heap_usable_size(&heap, p), 112);
    expect_stats(64 * KiB, 0, 1, 0);
    heap_free(&heap, p);
    expect_no_live_blocks();
}

Test(heap, realloc_shrinking_without_memory_stays_in_place)
{
    char *p = heap_alloc(&heap, 1 * MiB);
    fk.arena_limit = 0;
    cr_assert_eq(heap_realloc(&heap, p, 1000), p);
}

/* ---- aligned_alloc. ---- */

Test(heap, aligned_alloc_honours_every_alignment_from_16_to_64_KiB)
{
    static const size_t sizes[] = { 0, 1, 100, 5000 };
    static void *ps[16][4];
    int n = 0;
    for (size_t align = 16; align <= 64 * KiB; align *= 2, n++) {
        for (int i = 0; i < 4; i++) {
            void *p = heap_aligned_alloc(&heap, align, sizes[i]);
            cr_assert(aligned(p, align), "align %zu, size %zu: %p", align, sizes[i], p);
            cr_assert_geq(heap_usable_size(&heap, p), sizes[i]);
            fill(p, sizes[i], (uint8_t)(n * 4 + i));
            ps[n][i] = p;
        }
    }
    cr_assert_eq(fk.large_allocs, 0, "all of them are small blocks");
    for (int a = 0; a < n; a++) {
        for (int i = 0; i < 4; i++) {
            cr_assert(holds(ps[a][i], sizes[i], (uint8_t)(a * 4 + i)));
            heap_free(&heap, ps[a][i]);
        }
    }
    expect_no_live_blocks();
}

Test(heap, aligned_alloc_of_big_alignments_takes_the_large_path)
{
    for (size_t align = PAGE; align <= 4 * MiB; align *= 2) {
        void *p = heap_aligned_alloc(&heap, align, 1 * MiB);
        cr_assert(aligned(p, align), "align %zu: %p", align, p);
        cr_assert_geq(heap_usable_size(&heap, p), 1 * MiB);
        fill(p, 1 * MiB, 4);
        heap_free(&heap, p);
    }
    cr_assert_eq(fk.arena_calls, 0);
    expect_no_live_blocks();
}

Test(heap, aligned_alloc_of_alignments_up_to_16_is_plain_alloc)
{
    for (size_t align = 1; align <= 16; align *= 2) {
        void *p = heap_aligned_alloc(&heap, align, 20);
        cr_assert(aligned(p, HEAP_ALIGN));
        cr_assert_eq(heap_usable_size(&heap, p), 32, "a 48-byte block");
    }
}

Test(heap, aligned_alloc_refuses_alignments_that_are_not_powers_of_two)
{
    static const size_t bad[] = { 0, 3, 24, 48, 100, 4097, SIZE_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_null(heap_aligned_alloc(&heap, bad[i], 10), "align %zu", bad[i]);
    expect_stats(0, 0, 0, 0);
}

Test(heap, an_aligned_block_can_be_resized_and_measured)
{
    char *p = heap_aligned_alloc(&heap, 4096, 100);
    cr_assert(aligned(p, 4096));
    cr_assert_geq(heap_usable_size(&heap, p), 100);
    fill(p, 100, 6);
    char *q = heap_realloc(&heap, p, 5000);
    cr_assert(holds(q, 100, 6));
    heap_free(&heap, q);
    expect_no_live_blocks();
}

/* ---- Requests too big. ---- */

Test(heap, requests_too_big_return_null_without_asking_the_backend)
{
    cr_assert_null(heap_alloc(&heap, SIZE_MAX));
    cr_assert_null(heap_alloc(&heap, SIZE_MAX - 15));
    cr_assert_null(heap_alloc(&heap, HEAP_MAX_REQUEST + 1));
    cr_assert_null(heap_calloc(&heap, 1, SIZE_MAX));
    cr_assert_null(heap_aligned_alloc(&heap, 4096, SIZE_MAX - 100));
    cr_assert_null(heap_aligned_alloc(&heap, (size_t)1 << 63, 16));
    cr_assert_null(heap_realloc(&heap, NULL, SIZE_MAX));
    cr_assert_eq(fk.arena_calls + fk.large_allocs, 0);
    expect_stats(0, 0, 0, 0);
}

Test(heap, calloc_with_an_overflowing_product_returns_null)
{
    cr_assert_null(heap_calloc(&heap, SIZE_MAX, 2));
    cr_assert_null(heap_calloc(&heap, 2, SIZE_MAX / 2 + 1));
    cr_assert_null(heap_calloc(&heap, (size_t)1 << 33, (size_t)1 << 32));
    cr_assert_eq(fk.arena_calls + fk.large_allocs, 0);
}

Test(heap, realloc_too_big_returns_null_and_keeps_the_block)
{
    char *p = heap_alloc(&heap, 100);
    fill(p, 100, 8);
    cr_assert_null(heap_realloc(&heap, p, SIZE_MAX));
    cr_assert(holds(p, 100, 8));
    expect_stats(64 * KiB, 0, 1, 0);
}

/* ---- Bad pointers. ---- */

Test(heap, a_double_free_is_reported_and_changes_nothing)
{
    void *p = heap_alloc(&heap, 64);
    heap_free(&heap, p);
    heap_free(&heap, p);
    expect_reported(p, "double free");
    expect_stats(64 * KiB, 0, 0, 0);
    cr_assert(heap_check(&heap));
    cr_assert_eq(heap_alloc(&heap, 64), p);
    cr_assert_neq(heap_alloc(&heap, 64), p, "the block was on the list once");
}

Test(heap, a_pointer_into_the_middle_of_a_block_is_reported)
{
    char *p = heap_alloc(&heap, 256);
    memset(p, 0x55, 256);
    heap_free(&heap, p + 64);
    expect_reported(p + 64, "not a heap block");
    expect_stats(64 * KiB, 0, 1, 0);
    heap_free(&heap, p);
    expect_no_live_blocks();
}

Test(heap, a_misaligned_pointer_is_reported)
{
    char *p = heap_alloc(&heap, 256);
    heap_free(&heap, p + 1);
    expect_reported(p + 1, "misaligned");
    cr_assert(heap_check(&heap));
}

Test(heap, a_block_whose_header_was_overwritten_is_reported)
{
    char *p = heap_alloc(&heap, 100);
    p[-8] ^= 1;
    heap_free(&heap, p);
    expect_reported(p, "overwritten");
    cr_assert_not(heap_check(&heap), "the check sees the broken header too");
}

Test(heap, memory_not_from_the_heap_is_reported)
{
    static _Alignas(16) unsigned char buf[64];
    memset(buf, 0x42, sizeof buf);
    heap_free(&heap, buf + 16);
    expect_reported(buf + 16, "not a heap block");
}

Test(heap, a_double_free_of_an_aligned_block_is_reported)
{
    void *p = heap_aligned_alloc(&heap, 256, 1000);
    heap_free(&heap, p);
    heap_free(&heap, p);
    cr_assert_eq(fk.corrupts, 1);
    cr_assert_eq(fk.corrupt_p, p);
    expect_no_live_blocks();
}

Test(heap, a_late_double_free_of_an_aligned_pointer_spares_the_blocks_new_owner)
{
    /* The heap's first block starts 32 bytes into a page, so the aligned
     * pointer is 4,064 bytes into it, past the free-list link. */
    char *q = heap_aligned_alloc(&heap, 4096, 100);
    heap_free(&heap, q);
    char *r = heap_alloc(&heap, 100 + 4096 - 16);
    cr_assert_eq(r, q - 4064, "the same block, with q's header left inside");
    heap_free(&heap, q);
    expect_reported(q, "double free");
    expect_stats(64 * KiB, 0, 1, 0);
}

Test(heap, a_double_free_of_a_large_block_is_reported)
{
    fk.keep_large = true;       /* else the second free would fault */
    void *p = heap_alloc(&heap, 1 * MiB);
    heap_free(&heap, p);
    heap_free(&heap, p);
    expect_reported(p, "double free");
    cr_assert_eq(fk.large_frees, 1);
}

Test(heap, usable_size_and_realloc_of_a_freed_block_are_reported)
{
    void *p = heap_alloc(&heap, 100);
    heap_free(&heap, p);
    cr_assert_eq(heap_usable_size(&heap, p), 0);
    cr_assert_eq(fk.corrupts, 1);
    cr_assert_null(heap_realloc(&heap, p, 200));
    cr_assert_eq(fk.corrupts, 2);
    expect_no_live_blocks();
}

Test(heap, a_write_after_free_is_caught_before_the_block_is_reused)
{
    uint64_t *p = heap_alloc(&heap, 64);
    heap_free(&heap, p);
    p[0] = 0x4141414141414141ull;
    void *q = heap_alloc(&heap, 64);
    expect_reported(p, "after free");
    cr_assert_not_null(q, "served from fresh memory instead");
    cr_assert_neq(q, p);
}

Test(heap, check_finds_a_broken_link_without_following_it)
{
    uint64_t *p = heap_alloc(&heap, 64);
    heap_free(&heap, p);
    uint64_t saved = p[0];
    p[0] = 0x4141414141414140ull;
    cr_assert_not(heap_check(&heap));
    p[0] = saved;
    cr_assert(heap_check(&heap));
}

#if defined(__x86_64__)
#define TRAP_SIGNAL SIGILL
#elif defined(__aarch64__)
#define TRAP_SIGNAL SIGTRAP
#endif

#ifdef TRAP_SIGNAL
Test(heap, a_double_free_without_a_corrupt_hook_stops_the_program, .signal = TRAP_SIGNAL)
{
    struct heap_backend be = fake_backend;
    be.corrupt = NULL;
    heap_init(&heap, &be);
    void *p = heap_alloc(&heap, 64);
    heap_free(&heap, p);
    heap_free(&heap, p);
}
#endif

/* ---- An exhausted backend. ---- */

Test(heap, an_exhausted_arena_gives_null_and_the_heap_stays_usable)
{
    fk.arena_limit = 64 * KiB;
    static void *ps[100];
    size_t n = 0;
    while ((ps[n] = heap_alloc(&heap, 1000)) != NULL)
        n++;
    cr_assert_eq(n, 63, "64 KiB holds 63 blocks of 1,024 bytes after its record");
    cr_assert(heap_check(&heap));
    expect_stats(64 * KiB, 0, 63, 0);
    heap_free(&heap, ps[10]);
    cr_assert_eq(heap_alloc(&heap, 1000), ps[10]);
    void *big = heap_alloc(&heap, 1 * MiB);
    cr_assert_not_null(big, "the large path is separate");
    cr_assert(heap_check(&heap));
}

Test(heap, a_failed_large_alloc_gives_null_and_changes_nothing)
{
    fk.large_fails = true;
    cr_assert_null(heap_alloc(&heap, 1 * MiB));
    cr_assert_null(heap_calloc(&heap, 1, 1 * MiB));
    cr_assert_null(heap_aligned_alloc(&heap, 64 * KiB, 200 * KiB));
    expect_stats(0, 0, 0, 0);
    fk.large_fails = false;
    cr_assert_not_null(heap_alloc(&heap, 1 * MiB));
}

/* ---- Statistics and the lock. ---- */

Test(heap, stats_are_exact_after_a_sequence)
{
    void *a = heap_alloc(&heap, 10);
    void *b = heap_alloc(&heap, 200 * KiB);                 /* 51 pages */
    void *c = heap_calloc(&heap, 3, 100);
    void *d = heap_aligned_alloc(&heap, 4096, 10);
    expect_stats(64 * KiB, 51 * PAGE, 4, 1);
    heap_free(&heap, a);
    heap_free(&heap, b);
    expect_stats(64 * KiB, 0, 2, 0);
    void *e = heap_alloc(&heap, HEAP_SMALL_MAX - 16);       /* the chunk grows by 192 KiB */
    expect_stats(256 * KiB, 0, 3, 0);
    cr_assert_eq(fk.arena_calls, 2);
    heap_free(&heap, c);
    heap_free(&heap, d);
    heap_free(&heap, e);
    expect_stats(256 * KiB, 0, 0, 0);
    cr_assert(heap_check(&heap));
}

Test(heap, every_call_takes_the_lock_and_releases_it)
{
    void *p = heap_alloc(&heap, 10);
    p = heap_realloc(&heap, p, 10000);
    void *q = heap_calloc(&heap, 1, 10);
    void *r = heap_aligned_alloc(&heap, 64, 10);
    heap_usable_size(&heap, q);
    struct heap_stats st;
    heap_stats(&heap, &st);
    heap_free(&heap, p);
    heap_free(&heap, q);
    heap_free(&heap, r);
    heap_check(&heap);
    cr_assert_not(fk.locked);
    /* alloc, realloc (find, alloc, free), calloc, aligned, usable, stats,
     * three frees, check. */
    cr_assert_eq(fk.locks, 12);
}

Test(heap, a_heap_without_lock_callbacks_works)
{
    struct heap_backend be = fake_backend;
    be.lock = NULL;
    be.unlock = NULL;
    heap_init(&heap, &be);
    fk.locked = true;           /* the callbacks above assert this */
    void *p = heap_alloc(&heap, 100);
    void *q = heap_alloc(&heap, 1 * MiB);
    heap_free(&heap, p);
    heap_free(&heap, q);
    cr_assert_eq(fk.locks, 0);
    fk.locked = false;
    expect_no_live_blocks();
}

/* ---- A long random run against a model. ---- */

#define MODEL_SLOTS 1024
#define MODEL_OPS   200000

struct slot {
    uint8_t *p;
    size_t size;
    uint8_t seed;
};

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

/* Mostly small, some medium, a few large. */
static size_t random_size(void)
{
    uint64_t r = rnd() % 1000;
    if (r < 900)
        return rnd() % 512;
    if (r < 995)
        return rnd() % (16 * KiB);
    return rnd() % (512 * KiB);
}

static void model_fill(struct slot *s)
{
    cr_assert_not_null(s->p, "size %zu", s->size);
    cr_assert(aligned(s->p, HEAP_ALIGN));
    cr_assert_geq(heap_usable_size(&heap, s->p), s->size);
    s->seed = (uint8_t)rnd();
    fill(s->p, s->size, s->seed);
}

static void model_new(struct slot *s)
{
    s->size = random_size();
    uint64_t kind = rnd() % 10;
    if (kind < 6) {
        s->p = heap_alloc(&heap, s->size);
    } else if (kind < 8) {
        s->p = heap_calloc(&heap, 1, s->size);
        cr_assert(all_zero(s->p, s->size), "calloc of %zu bytes is zero", s->size);
    } else {
        size_t align = (size_t)16 << (rnd() % 9);
        s->p = heap_aligned_alloc(&heap, align, s->size);
        cr_assert(aligned(s->p, align));
    }
    model_fill(s);
}

static void model_change(struct slot *s)
{
    cr_assert(holds(s->p, s->size, s->seed), "block of %zu bytes kept its contents", s->size);
    uint64_t what = rnd() % 10;
    if (what < 5) {
        heap_free(&heap, s->p);
        s->p = NULL;
    } else if (what < 8) {
        size_t size = random_size();
        size_t keep = size < s->size ? size : s->size;
        s->p = heap_realloc(&heap, s->p, size == 0 ? 1 : size);
        s->size = size == 0 ? 1 : size;
        cr_assert(holds(s->p, keep, s->seed), "realloc kept %zu bytes", keep);
        model_fill(s);
    }
}

Test(heap, random_operations_keep_every_block_intact)
{
    static struct slot slots[MODEL_SLOTS];
    fk.gaps = true;
    for (long op = 0; op < MODEL_OPS; op++) {
        struct slot *s = &slots[rnd() % MODEL_SLOTS];
        if (s->p == NULL)
            model_new(s);
        else
            model_change(s);
        if (op % 5000 == 0)
            cr_assert(heap_check(&heap), "after op %ld", op);
    }
    cr_assert(heap_check(&heap));
    size_t live = 0;
    for (size_t i = 0; i < MODEL_SLOTS; i++)
        live += slots[i].p != NULL;
    cr_assert_eq(stats().live_blocks, live);
    for (size_t i = 0; i < MODEL_SLOTS; i++) {
        if (slots[i].p != NULL) {
            cr_assert(holds(slots[i].p, slots[i].size, slots[i].seed));
            heap_free(&heap, slots[i].p);
        }
    }
    cr_assert_eq(fk.corrupts, 0);
    expect_no_live_blocks();
}
