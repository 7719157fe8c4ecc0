/*
 * mmtest.c — the memory manager in the OS, with real RAM capabilities.
 *
 * Run as the first program (init=mmtest). It starts the manager over all of
 * init's RAM as init does, then: 512 allocations of 4 KiB and their frees;
 * frees in forward, reverse, random and interleaved order; alignments;
 * partial frees; allocation until exhaustion, then everything freed and the
 * largest block allocated again; and the bad inputs. After each part the
 * statistics must be back where they started — nothing is lost.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cap.h"
#include "os.h"
#include "ostest.h"
#include "ram.h"
#include "slots.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)
#define MAX_BLOCKS 4096

static struct mm_block blocks[MAX_BLOCKS];
static struct mm_stats start;

static struct mm_stats now(void)
{
    struct mm_stats st;
    mm_stats(ram_mm(), &st);
    return st;
}

static bool back_to_start(void)
{
    struct mm_stats st = now();
    return st.free == start.free && st.largest_free == start.largest_free &&
           st.allocations == start.allocations && st.free_blocks == start.free_blocks;
}

/* The block's capability is a RAM capability for exactly the block. */
static bool cap_matches(const struct mm_block *b)
{
    struct capinfo ci;
    return err_is_ok(cap_identify(capref_from_addr(b->cap), &ci)) && ci.type == OBJ_RAM &&
           ci.base == b->base && ci.size == b->size;
}

static bool alloc_n(unsigned n, uint64_t size, uint64_t align)
{
    for (unsigned i = 0; i < n; i++)
        if (err_is_fail(mm_alloc(ram_mm(), size, align, &blocks[i])) || !cap_matches(&blocks[i]))
            return false;
    return true;
}

static bool free_in_order(unsigned n, const unsigned *order)
{
    for (unsigned i = 0; i < n; i++)
        if (err_is_fail(mm_free(ram_mm(), blocks[order[i]].base, blocks[order[i]].size)))
            return false;
    return true;
}

static void test_512_pages(void)
{
    static unsigned order[512];
    for (unsigned i = 0; i < 512; i++)
        order[i] = i;
    check("512 allocations of 4 KiB, each with a RAM capability for exactly it", alloc_n(512, 4 * KiB, 4 * KiB));
    check("512 pages are allocated", now().free == start.free - 512 * 4 * KiB);
    check("free all 512", free_in_order(512, order));
    check("nothing lost: statistics back where they started", back_to_start());
}

static void shuffle(unsigned *order, unsigned n)
{
    for (unsigned i = n - 1; i > 0; i--) {
        unsigned j = (unsigned)rand() % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

static void test_orders(void)
{
    enum { N = 64 };
    static const char *const names[] = { "forward", "reverse", "random", "interleaved" };
    unsigned order[N];
    for (unsigned kind = 0; kind < 4; kind++) {
        for (unsigned i = 0; i < N; i++)
            order[i] = kind == 1 ? N - 1 - i : kind == 3 ? (i < N / 2 ? 2 * i : 2 * (i - N / 2) + 1) : i;
        if (kind == 2)
            shuffle(order, N);
        char desc[96];
        bool ok = alloc_n(N, (1 + (unsigned)rand() % 8) * 4 * KiB, 4 * KiB) && free_in_order(N, order);
        snprintf(desc, sizeof desc, "allocate 64 blocks, free them in %s order, nothing lost", names[kind]);
        check(desc, ok && back_to_start());
    }
}

static void test_alignment(void)
{
    static const uint64_t aligns[] = { 4 * KiB, 64 * KiB, 2 * MiB, 32 * MiB, 256 * MiB };
    bool ok = true;
    for (unsigned i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
        struct mm_block b;
        ok &= err_is_ok(mm_alloc(ram_mm(), 12 * KiB, aligns[i], &b)) && b.base % aligns[i] == 0 &&
              cap_matches(&b) && err_is_ok(mm_free(ram_mm(), b.base, b.size));
    }
    check("alignments from 4 KiB to 256 MiB are honoured", ok && back_to_start());
    struct mm_block b;
    expect("allocate in a range above all RAM", mm_alloc_range(ram_mm(), 8 * KiB, 4 * KiB, 1ull << 40, MM_NO_LIMIT, &b),
           MM_ERR_NO_FIT);
    struct mm_block big;
    mm_alloc(ram_mm(), 64 * MiB, 4 * KiB, &big);
    mm_free(ram_mm(), big.base, big.size);
    expect("allocate within a given range", mm_alloc_range(ram_mm(), 8 * KiB, 4 * KiB, big.base + 32 * MiB,
                                                           big.base + 33 * MiB, &b), SYS_ERR_OK);
    check("the block lies in the range", b.base >= big.base + 32 * MiB && b.base + b.size <= big.base + 33 * MiB);
    mm_free(ram_mm(), b.base, b.size);
}

static void test_partial_free(void)
{
    struct mm_block b, part;
    expect("allocate 16 pages", mm_alloc(ram_mm(), 64 * KiB, 4 * KiB, &b), SYS_ERR_OK);
    expect("free 4 pages in the middle", mm_free(ram_mm(), b.base + 16 * KiB, 16 * KiB), SYS_ERR_OK);
    check("the first part has its own RAM capability",
          err_is_ok(mm_cap_of(ram_mm(), b.base, &part)) && part.base == b.base && part.size == 16 * KiB && cap_matches(&part));
    check("so does the last part",
          err_is_ok(mm_cap_of(ram_mm(), b.base + 32 * KiB, &part)) && part.size == 32 * KiB && cap_matches(&part));
    expect("free the middle again", mm_free(ram_mm(), b.base + 16 * KiB, 16 * KiB), MM_ERR_NOT_ALLOCATED);
    expect("free across the hole", mm_free(ram_mm(), b.base, 48 * KiB), MM_ERR_FREE_CROSSES);
    expect("free the first part", mm_free(ram_mm(), b.base, 16 * KiB), SYS_ERR_OK);
    expect("free the last part", mm_free(ram_mm(), b.base + 32 * KiB, 32 * KiB), SYS_ERR_OK);
    check("the pieces coalesced: nothing lost", back_to_start());
}

static unsigned fill(unsigned n, uint64_t size)
{
    while (n < MAX_BLOCKS && err_is_ok(mm_alloc(ram_mm(), size, 4 * KiB, &blocks[n])))
        n++;
    return n;
}

static void test_exhaustion(void)
{
    unsigned n = fill(0, 16 * MiB);
    n = fill(n, 256 * KiB);
    n = fill(n, 4 * KiB);
    struct mm_block b;
    check("allocate until the memory is exhausted", now().free == 0 && n < MAX_BLOCKS);
    expect("one more page", mm_alloc(ram_mm(), 4 * KiB, 4 * KiB, &b), MM_ERR_OUT_OF_MEMORY);
    bool ok = true;
    for (unsigned i = 0; i < n; i++)
        ok &= err_is_ok(mm_free(ram_mm(), blocks[i].base, blocks[i].size));
    check("free every block", ok && back_to_start());
    expect("allocate the largest block again", mm_alloc(ram_mm(), start.largest_free, 4 * KiB, &b), SYS_ERR_OK);
    check("it has a RAM capability for all of it", cap_matches(&b));
    expect("free it", mm_free(ram_mm(), b.base, b.size), SYS_ERR_OK);
    check("nothing lost", back_to_start());
}

static void test_bad_input(void)
{
    struct mm_block b, a;
    expect("zero size", mm_alloc(ram_mm(), 0, 4 * KiB, &b), MM_ERR_ZERO_SIZE);
    expect("alignment not a power of two", mm_alloc(ram_mm(), 4 * KiB, 12 * KiB, &b), MM_ERR_BAD_ALIGNMENT);
    expect("larger than any free block", mm_alloc(ram_mm(), start.largest_free + 4 * KiB, 4 * KiB, &b), MM_ERR_OUT_OF_MEMORY);
    expect("free of memory never allocated", mm_free(ram_mm(), start.total ? blocks[0].base : 0, 4 * KiB), MM_ERR_NOT_ALLOCATED);
    mm_alloc(ram_mm(), 8 * KiB, 4 * KiB, &a);
    mm_alloc(ram_mm(), 8 * KiB, 4 * KiB, &b);
    bool adjacent = b.base == a.base + a.size || a.base == b.base + b.size;
    uint64_t low = a.base < b.base ? a.base : b.base;
    expect("free across two allocations", adjacent ? mm_free(ram_mm(), low, 16 * KiB) : MM_ERR_FREE_CROSSES,
           MM_ERR_FREE_CROSSES);
    expect("free of a misaligned range", mm_free(ram_mm(), a.base + 100, 4 * KiB), MM_ERR_NOT_PAGE_ALIGNED);
    expect("free", mm_free(ram_mm(), a.base, a.size), SYS_ERR_OK);
    expect("free twice", mm_free(ram_mm(), a.base, a.size), MM_ERR_NOT_ALLOCATED);
    expect("free the other", mm_free(ram_mm(), b.base, b.size), SYS_ERR_OK);
    check("bad input changed nothing", back_to_start());
}

/* The manager's records grow by taking RAM from this very manager
 * (record_pool.h) and keep it; grow them to more than the tests need
 * (every block, half of them with a hole beside it), so the statistics
 * below see only the tests. */
static void warm_records(void)
{
    unsigned n = 0;
    while (n < MAX_BLOCKS && err_is_ok(mm_alloc(ram_mm(), 4 * KiB, 4 * KiB, &blocks[n])))
        n++;
    for (unsigned i = 1; i < n; i += 2)
        mm_free(ram_mm(), blocks[i].base, blocks[i].size);
    for (unsigned i = 0; i < n; i += 2)
        mm_free(ram_mm(), blocks[i].base, blocks[i].size);
}

int main(void)
{
    ostest_begin("MMTEST");
    errval_t err = ram_init_from_memcn();
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "mmtest: starting the memory manager");
        return 1;
    }
    srand(42);
    /* The slot allocator takes RAM from this manager for new CNodes and
     * keeps it; grow it first, so the statistics below see only the tests. */
    static struct capref warm[MAX_BLOCKS + 256];
    unsigned n = 0;
    while (n < MAX_BLOCKS + 256 && err_is_ok(os_slot_alloc(&warm[n])))
        n++;
    while (n > 0)
        os_slot_free(warm[--n]);
    warm_records();
    start = now();
    test_512_pages();
    test_orders();
    test_alignment();
    test_partial_free();
    test_bad_input();
    test_exhaustion();
    return ostest_summary("mmtest");
}
