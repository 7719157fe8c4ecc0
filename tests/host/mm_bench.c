/*
 * mm_bench.c — the memory manager's host micro-benchmark (docs/mm.md):
 * lib/mm/mm.c against the first-fit list of lib/mm/firstfit.c, built
 * without sanitizers, as `make mm-host-bench` does.
 *
 *   mm-bench pairs <impl> <live> <iters>   alloc+free of 4 KiB, <live> other
 *                                          allocations held; impl is mm,
 *                                          mm-caps, mm-holes or firstfit
 *   mm-bench frag                          the fragmentation workload
 *
 * `pairs` prints the wall-clock nanoseconds per pair. The measured loops
 * are the functions named loop_<impl> (with '-' as '_'), so that callgrind
 * can count just them: tools/mm_host_bench.py runs
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=loop_mm ...
 * and divides the instructions by <iters>. Each run is a process of its
 * own, so every measurement starts from a fresh manager.
 */
#define _POSIX_C_SOURCE 200809L     /* clock_gettime under -std=c11 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mm/firstfit.h"
#include "mm/mm.h"

#define PAGE MM_PAGE_SIZE
#define GiB ((uint64_t)1 << 30)
#define REGION_BASE GiB
#define REGION_SIZE (4 * GiB)

/* ---- Records from malloc, as the OS would map pages. ---- */

static errval_t bench_refill(struct slab_allocator *slab, void *arg)
{
    (void)arg;
    size_t bytes = 64 * 1024;
    void *buf = malloc(bytes);     /* kept for the program's life */
    return buf == NULL ? LIB_ERR_SLAB_EMPTY : slab_grow(slab, buf, bytes);
}

/* Cap ops that do nothing: what the manager itself adds around them. */
static errval_t nop_retype(void *arg, uint64_t region_cap, uint64_t offset, uint64_t size,
                           uint8_t kind, uint64_t *cap)
{
    (void)kind;
    (void)arg, (void)region_cap, (void)size;
    *cap = offset;
    return SYS_ERR_OK;
}

static errval_t nop_destroy(void *arg, uint64_t cap)
{
    (void)arg, (void)cap;
    return SYS_ERR_OK;
}

static const struct mm_cap_ops nop_ops = { nop_retype, nop_destroy, NULL };

static void die(const char *what, errval_t err)
{
    fprintf(stderr, "mm-bench: %s: %s\n", what, err_getcode(err_no(err)));
    exit(1);
}

static void check(const char *what, errval_t err)
{
    if (err_is_fail(err))
        die(what, err);
}

/* ---- The pair loops. ---- */

static struct mm the_mm;
static struct firstfit the_ff;

/*
 * live allocations of 4 KiB first. With `holes`, twice as many and every
 * other one freed again, so the free tree holds `live` one-page holes
 * below the rest of the region and each pair goes to the lowest hole.
 */
static void mm_setup(size_t live, bool caps, bool holes)
{
    check("init", mm_init(&the_mm, caps ? &nop_ops : NULL, NULL, bench_refill, NULL));
    check("add", mm_add(&the_mm, 1, REGION_BASE, REGION_SIZE));
    struct mm_block b;
    for (size_t i = 0; i < (holes ? 2 * live : live); i++)
        check("setup alloc", mm_alloc(&the_mm, PAGE, PAGE, &b));
    for (size_t i = 0; holes && i < live; i++)
        check("setup free", mm_free(&the_mm, REGION_BASE + 2 * i * PAGE, PAGE));
}

static void ff_setup(size_t live)
{
    check("init", firstfit_init(&the_ff, true, bench_refill, NULL));
    check("add", firstfit_add(&the_ff, REGION_BASE, REGION_SIZE));
    struct mm_block b;
    for (size_t i = 0; i < live; i++)
        check("setup alloc", firstfit_alloc(&the_ff, PAGE, PAGE, &b));
}

/* Each loop is a function of its own, for callgrind, with the pairs
 * inlined into it; noipa keeps the compiler from folding the identical
 * ones into one (a shared body would blur the counts). */
static inline __attribute__((always_inline)) void mm_pairs(long iters)
{
    struct mm_block b;
    for (long i = 0; i < iters; i++) {
        check("alloc", mm_alloc(&the_mm, PAGE, PAGE, &b));
        check("free", mm_free(&the_mm, b.base, b.size));
    }
}

__attribute__((noipa)) static void loop_mm(long iters)
{
    mm_pairs(iters);
}

__attribute__((noipa)) static void loop_mm_caps(long iters)
{
    mm_pairs(iters);
}

__attribute__((noipa)) static void loop_mm_holes(long iters)
{
    mm_pairs(iters);
}

__attribute__((noipa)) static void loop_firstfit(long iters)
{
    struct mm_block b;
    for (long i = 0; i < iters; i++) {
        check("alloc", firstfit_alloc(&the_ff, PAGE, PAGE, &b));
        check("free", firstfit_free(&the_ff, b.base, b.size));
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Set up, run the loop, and return nanoseconds per pair. */
static double run_pairs(const char *impl, size_t live, long iters)
{
    void (*loop)(long);
    if (strcmp(impl, "mm") == 0) {
        mm_setup(live, false, false);
        loop = loop_mm;
    } else if (strcmp(impl, "mm-caps") == 0) {
        mm_setup(live, true, false);
        loop = loop_mm_caps;
    } else if (strcmp(impl, "mm-holes") == 0) {
        mm_setup(live, false, true);
        loop = loop_mm_holes;
    } else if (strcmp(impl, "firstfit") == 0) {
        ff_setup(live);
        loop = loop_firstfit;
    } else {
        fprintf(stderr, "mm-bench: unknown implementation %s\n", impl);
        exit(2);
    }
    double t0 = now_ns();
    loop(iters);
    return (now_ns() - t0) / (double)iters;
}

/* ---- Fragmentation. ---- */

/*
 * One seeded workload, run on each manager with the same generator: keep
 * about TARGET allocations of mostly small, sometimes large sizes (some
 * 64 KiB or 2 MiB aligned); free whole allocations or a random part of
 * one. Afterwards, report the largest free block (the largest request
 * that can still succeed at page alignment) and the number of free
 * blocks, then free everything and report the largest block again.
 */
#define FRAG_STEPS  100000
#define FRAG_TARGET 4000
#define FRAG_REGION (GiB)

struct frag_ops {
    const char *name;
    errval_t (*alloc)(void *m, uint64_t size, uint64_t align, struct mm_block *b);
    errval_t (*free)(void *m, uint64_t base, uint64_t size);
    void (*stats)(void *m, struct mm_stats *st);
    void *m;
};

static errval_t f_mm_alloc(void *m, uint64_t size, uint64_t align, struct mm_block *b)
{
    return mm_alloc(m, size, align, b);
}

static errval_t f_mm_free(void *m, uint64_t base, uint64_t size)
{
    return mm_free(m, base, size);
}

static void f_mm_stats(void *m, struct mm_stats *st)
{
    mm_stats(m, st);
}

static errval_t f_ff_alloc(void *m, uint64_t size, uint64_t align, struct mm_block *b)
{
    return firstfit_alloc(m, size, align, b);
}

static errval_t f_ff_free(void *m, uint64_t base, uint64_t size)
{
    return firstfit_free(m, base, size);
}

static void f_ff_stats(void *m, struct mm_stats *st)
{
    firstfit_stats(m, st);
}

static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (rng * 0x2545f4914f6cdd1dull) % n;
}

static struct mm_block frag_live[4 * FRAG_TARGET];

static void frag_free_one(const struct frag_ops *o, size_t *n)
{
    size_t i = rnd(*n);
    struct mm_block *b = &frag_live[i];
    uint64_t pages = b->size / PAGE;
    if (pages >= 2 && rnd(5) < 2) {
        /* Free a part: the lower pages, or the upper ones. */
        uint64_t cut = 1 + rnd(pages - 1);
        bool lower = rnd(2);
        uint64_t base = lower ? b->base : b->base + cut * PAGE;
        uint64_t size = lower ? cut * PAGE : b->size - cut * PAGE;
        check("frag partial free", o->free(o->m, base, size));
        if (lower)
            b->base += cut * PAGE;
        b->size -= size;
        return;
    }
    check("frag free", o->free(o->m, b->base, b->size));
    *b = frag_live[--*n];
}

static void frag_run(const struct frag_ops *o)
{
    rng = 0x2545f4914f6cdd1dull;
    size_t n = 0, failed = 0, tried = 0;
    for (long step = 0; step < FRAG_STEPS; step++) {
        if (n > 0 && (n >= FRAG_TARGET || rnd(2) == 0)) {
            frag_free_one(o, &n);
            continue;
        }
        uint64_t r = rnd(100);
        uint64_t pages = r < 80 ? 1 + rnd(16) : r < 98 ? 17 + rnd(240) : 257 + rnd(768);
        uint64_t align = rnd(10) == 0 ? 16 * PAGE : rnd(50) == 0 ? 512 * PAGE : PAGE;
        tried++;
        if (err_is_ok(o->alloc(o->m, pages * PAGE, align, &frag_live[n])))
            n++;
        else
            failed++;
    }
    struct mm_stats st;
    o->stats(o->m, &st);
    printf("  %-20s %9zu %8.2f%% %9lu %12lu %12zu", o->name, tried,
           100.0 * (double)failed / (double)tried,
           (unsigned long)(st.allocated >> 20), (unsigned long)(st.largest_free >> 10),
           st.free_blocks);
    for (; n > 0; n--)
        check("frag drain", o->free(o->m, frag_live[n - 1].base, frag_live[n - 1].size));
    o->stats(o->m, &st);
    printf(" %14lu\n", (unsigned long)(st.largest_free >> 10));
}

static void frag_all(void)
{
    static struct mm m;
    static struct firstfit ff, ref;
    check("init", mm_init(&m, NULL, NULL, bench_refill, NULL));
    check("add", mm_add(&m, 1, GiB, FRAG_REGION));
    check("init", firstfit_init(&ff, true, bench_refill, NULL));
    check("add", firstfit_add(&ff, GiB, FRAG_REGION));
    check("init", firstfit_init(&ref, false, bench_refill, NULL));
    check("add", firstfit_add(&ref, GiB, FRAG_REGION));
    const struct frag_ops ops[] = {
        { "mm", f_mm_alloc, f_mm_free, f_mm_stats, &m },
        { "firstfit", f_ff_alloc, f_ff_free, f_ff_stats, &ff },
        { "firstfit, no merge", f_ff_alloc, f_ff_free, f_ff_stats, &ref },
    };
    printf("fragmentation: %d steps, ~%d live allocations, one %lu MiB region\n", FRAG_STEPS,
           FRAG_TARGET, (unsigned long)(FRAG_REGION >> 20));
    printf("  %-20s %9s %9s %9s %12s %12s %14s\n", "manager", "requests", "failed",
           "used MiB", "largest KiB", "free blocks", "drained KiB");
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        frag_run(&ops[i]);
}

/* ---- Main. ---- */

static long arg_long(const char *s)
{
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0) {
        fprintf(stderr, "mm-bench: bad number %s\n", s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "pairs") == 0) {
        double ns = run_pairs(argv[2], (size_t)arg_long(argv[3]), arg_long(argv[4]));
        printf("%s live=%s ns_per_pair=%.1f\n", argv[2], argv[3], ns);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "frag") == 0) {
        frag_all();
        return 0;
    }
    fprintf(stderr, "usage: mm-bench pairs <mm|mm-caps|mm-holes|firstfit> <live> <iters>\n"
                    "       mm-bench frag\n");
    return 2;
}
