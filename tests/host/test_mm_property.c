/*
 * test_mm_property.c — a seeded run of 1,000,000 random operations on the
 * memory manager (lib/mm/mm.c), with capabilities, checked after every
 * step against a reference model that shares none of its structure:
 *   - the model is a bitmap of every page of the three regions, a list of
 *     allocations, and a second bitmap of the pages some live capability
 *     covers (filled in by the cap ops themselves);
 *   - operations: allocations of random sizes (mostly a few pages, some up
 *     to 256 MiB) at random alignments (4 KiB to 2 GiB, and below a page),
 *     a fifth of them inside a random address range; batches
 *     (mm_alloc_batch: 1-16 pieces, each an allocation of its own, kept as
 *     one segment until a piece is freed); whole frees; frees of a random
 *     page-aligned part; refused frees (twice, crossing, zero, misaligned);
 *     now and then, freeing everything. Pieces of batches are allocations
 *     like any other, so every kind of free reaches them.
 * After every step: the returned block is aligned, inside the range and
 * inside one region, and was free in the model (so no two allocations
 * overlap); a refusal was right (the model's free runs confirm that no
 * block was large enough, at that alignment, in that range); free +
 * allocated == total, and the counts of allocations and live caps agree;
 * a random allocation is looked up with mm_cap_of(). Every CHECK_EVERY
 * steps, and whenever everything was freed: mm_check(), the largest free
 * block against the model's, and every segment against the model.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mm/mm.h"
#include "mm_fake.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define PAGE MM_PAGE_SIZE

#define STEPS        1000000
#define CHECK_EVERY  500
#define FREE_ALL_P   150000     /* one step in this many frees everything */
#define MAX_LIVE     4096
#define TARGET_LIVE  1000

/*
 * A: starts one page past 1 GiB, so most alignments must skip memory;
 * B: right after A, so coalescing across the border would show;
 * C: exactly one aligned GiB, the only place a 1 GiB-aligned GiB fits.
 */
static const struct {
    uint64_t cap, base, size;
} regions[] = {
    { 11, GiB + PAGE, GiB + 64 * MiB },
    { 12, 2 * GiB + 64 * MiB + PAGE, 512 * MiB },
    { 13, 8 * GiB, GiB },
};
#define NREGIONS (sizeof regions / sizeof regions[0])

static struct mm mm;

/* ---- The model: page bitmaps over the regions, laid end to end. ---- */

static uint64_t first_page[NREGIONS + 1];   /* bitmap index of each region's first page */
static uint64_t *used;                      /* page is allocated */
static uint64_t *capped;                    /* a live cap covers the page */
static uint64_t model_free_pages;

struct alloc {
    uint64_t base, size, cap;
};
static struct alloc live[MAX_LIVE];
static size_t nlive;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

/* The region holding [base, base + size) whole, or -1. */
static int region_of(uint64_t base, uint64_t size)
{
    for (size_t r = 0; r < NREGIONS; r++)
        if (base >= regions[r].base && base - regions[r].base < regions[r].size &&
            regions[r].size - (base - regions[r].base) >= size)
            return (int)r;
    return -1;
}

static uint64_t page_index(uint64_t addr)
{
    int r = region_of(addr, PAGE);
    cr_assert_geq(r, 0, "%#lx lies in no region", addr);
    return first_page[r] + (addr - regions[r].base) / PAGE;
}

/* Bits [i, i + n) of one word, as a mask; n <= 64 - i % 64. */
static uint64_t word_mask(uint64_t i, uint64_t n)
{
    uint64_t lo = i % 64;
    return (n == 64 ? ~0ull : ((1ull << n) - 1)) << lo;
}

/* Apply fn to the words that cover [i, i + n); stop when it says false. */
static bool for_words(uint64_t *bm, uint64_t i, uint64_t n, bool (*fn)(uint64_t *, uint64_t))
{
    while (n > 0) {
        uint64_t chunk = 64 - i % 64 < n ? 64 - i % 64 : n;
        if (!fn(&bm[i / 64], word_mask(i, chunk)))
            return false;
        i += chunk;
        n -= chunk;
    }
    return true;
}

static bool w_clear(uint64_t *w, uint64_t m) { return (*w & m) == 0; }
static bool w_set(uint64_t *w, uint64_t m) { *w |= m; return true; }
static bool w_unset(uint64_t *w, uint64_t m) { *w &= ~m; return true; }

static bool range_clear(uint64_t *bm, uint64_t base, uint64_t size)
{
    return for_words(bm, page_index(base), size / PAGE, w_clear);
}

static void range_set(uint64_t *bm, uint64_t base, uint64_t size, bool value)
{
    for_words(bm, page_index(base), size / PAGE, value ? w_set : w_unset);
}

/* The first index in [i, limit) whose bit equals `value`, or limit. */
static uint64_t next_bit(const uint64_t *bm, uint64_t i, uint64_t limit, bool value)
{
    while (i < limit) {
        uint64_t w = value ? bm[i / 64] : ~bm[i / 64];
        w &= ~0ull << (i % 64);
        if (w != 0) {
            uint64_t found = i - i % 64 + (uint64_t)__builtin_ctzll(w);
            return found < limit ? found : limit;
        }
        i = i - i % 64 + 64;
    }
    return limit;
}

/*
 * The model's free runs, each clipped to [lo, hi): the largest unclipped
 * run, and whether some clipped run is at least `need` long.
 */
static void model_scan(uint64_t lo, uint64_t hi, uint64_t need, uint64_t *largest, bool *any_need)
{
    *largest = 0;
    *any_need = false;
    for (size_t r = 0; r < NREGIONS; r++) {
        uint64_t p = first_page[r], end = first_page[r + 1];
        while (p < end) {
            uint64_t a = next_bit(used, p, end, false);
            uint64_t b = next_bit(used, a, end, true);
            if (a == b)
                break;
            uint64_t base = regions[r].base + (a - first_page[r]) * PAGE;
            uint64_t top = base + (b - a) * PAGE;
            if ((b - a) * PAGE > *largest)
                *largest = (b - a) * PAGE;
            uint64_t cl = base > lo ? base : lo, ch = top < hi ? top : hi;
            if (cl < ch && ch - cl >= need)
                *any_need = true;
            p = b;
        }
    }
}

/* ---- Capabilities: cap ops that mark the capped bitmap. ---- */

#define MAX_CAPS (MAX_LIVE * 4)
/* Batches need consecutive handles (retype_many): they take runs from
 * [MAX_CAPS, ALL_CAPS), searched from a cursor that goes round. */
#define ALL_CAPS (MAX_CAPS + 16 * MAX_LIVE)

static struct {
    uint64_t base, size;
    bool live;
} cap_table[ALL_CAPS];
static uint64_t cap_free_list[MAX_CAPS];
static size_t ncap_free;
static size_t caps_live;
static uint64_t batch_cursor = MAX_CAPS;

/* Check a retype of [offset, + size) of region_cap and cover it in the
 * model's bitmap of capped pages; its base. */
static uint64_t prop_cover(uint64_t region_cap, uint64_t offset, uint64_t size)
{
    size_t r = 0;
    while (r < NREGIONS && regions[r].cap != region_cap)
        r++;
    cr_assert_lt(r, NREGIONS);
    cr_assert(offset % PAGE == 0 && size % PAGE == 0 && size > 0);
    cr_assert(offset < regions[r].size && regions[r].size - offset >= size,
              "retype outside its region");
    uint64_t base = regions[r].base + offset;
    cr_assert(range_clear(capped, base, size), "retype overlaps a live cap");
    range_set(capped, base, size, true);
    return base;
}

static void cap_make(uint64_t h, uint64_t base, uint64_t size)
{
    cap_table[h].base = base;
    cap_table[h].size = size;
    cap_table[h].live = true;
    caps_live++;
}

static errval_t prop_retype(void *arg, uint64_t region_cap, uint64_t offset, uint64_t size,
                            uint8_t kind, uint64_t *cap)
{
    (void)kind;
    (void)arg;
    uint64_t base = prop_cover(region_cap, offset, size);
    cr_assert_gt(ncap_free, 0);
    *cap = cap_free_list[--ncap_free];
    cap_make(*cap, base, size);
    return SYS_ERR_OK;
}

/* `count` dead handles in a row in the batch area, from the cursor on. */
static uint64_t batch_handles(size_t count)
{
    for (uint64_t tries = 0; tries < ALL_CAPS; tries++) {
        if (batch_cursor + count > ALL_CAPS)
            batch_cursor = MAX_CAPS;
        size_t i = 0;
        while (i < count && !cap_table[batch_cursor + i].live)
            i++;
        if (i == count)
            return batch_cursor;
        batch_cursor += i + 1;
    }
    cr_assert_fail("no run of %zu free batch handles", count);
    return 0;
}

static errval_t prop_retype_many(void *arg, uint64_t region_cap, uint64_t offset, uint64_t size,
                                 uint8_t kind, size_t count, uint64_t *first)
{
    (void)kind;
    (void)arg;
    uint64_t base = prop_cover(region_cap, offset, size * count);
    *first = batch_handles(count);
    for (size_t i = 0; i < count; i++)
        cap_make(*first + i, base + i * size, size);
    batch_cursor = *first + count;
    return SYS_ERR_OK;
}

static errval_t prop_destroy(void *arg, uint64_t cap)
{
    (void)arg;
    cr_assert(cap < ALL_CAPS && cap_table[cap].live, "destroy of a dead cap");
    range_set(capped, cap_table[cap].base, cap_table[cap].size, false);
    cap_table[cap].live = false;
    if (cap < MAX_CAPS)
        cap_free_list[ncap_free++] = cap;   /* a batch handle is found dead again */
    caps_live--;
    return SYS_ERR_OK;
}

static const struct mm_cap_ops prop_ops = { prop_retype, prop_destroy, prop_retype_many };

/* ---- Set-up. ---- */

static void setup(void)
{
    fake_reset();
    for (size_t r = 0; r < NREGIONS; r++)
        first_page[r + 1] = first_page[r] + regions[r].size / PAGE;
    size_t words = (size_t)(first_page[NREGIONS] / 64 + 1);
    used = calloc(words, sizeof *used);
    capped = calloc(words, sizeof *capped);
    cr_assert(used != NULL && capped != NULL);
    for (uint64_t i = 0; i < MAX_CAPS; i++)
        cap_free_list[ncap_free++] = MAX_CAPS - 1 - i;
    cr_assert(err_is_ok(mm_init(&mm, &prop_ops, NULL, test_refill, NULL)));
    mm_set_lock(&mm, &fake_lock);
    for (size_t r = 0; r < NREGIONS; r++) {
        cr_assert(err_is_ok(mm_add(&mm, regions[r].cap, regions[r].base, regions[r].size)));
        model_free_pages += regions[r].size / PAGE;
    }
}

static void teardown(void)
{
    free(used);
    free(capped);
    test_buffers_free();
}

TestSuite(mm_property, .init = setup, .fini = teardown, .timeout = 120);

/* ---- Checks. ---- */

static void check_cap(const struct alloc *a)
{
    cr_assert(a->cap < ALL_CAPS && cap_table[a->cap].live);
    cr_assert(cap_table[a->cap].base == a->base && cap_table[a->cap].size == a->size,
              "cap [%#lx, +%#lx) for allocation [%#lx, +%#lx)", cap_table[a->cap].base,
              cap_table[a->cap].size, a->base, a->size);
}

/* The cheap checks, after every step. */
static void check_step(void)
{
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_eq(st.free, model_free_pages * PAGE);
    cr_assert_eq(st.free + st.allocated, st.total);
    cr_assert_eq(st.allocations, nlive);
    cr_assert_eq(caps_live, nlive, "%zu live caps for %zu allocations", caps_live, nlive);
    if (nlive == 0)
        return;
    const struct alloc *a = &live[rnd_below(nlive)];
    struct mm_block b;
    errval_t err = mm_cap_of(&mm, a->base + rnd_below(a->size / PAGE) * PAGE, &b);
    cr_assert(err_is_ok(err), "cap_of: %s", err_getcode(err_no(err)));
    cr_assert(b.base == a->base && b.size == a->size && b.cap == a->cap);
    check_cap(a);
}

static int alloc_cmp(const void *x, const void *y)
{
    const struct alloc *a = x, *b = y;
    return a->base < b->base ? -1 : a->base > b->base;
}

struct walk_state {
    size_t next;                /* index into the sorted copy of live */
    struct alloc *sorted;
};

static void walk_one(void *arg, const struct mm_segment_info *seg)
{
    struct walk_state *w = arg;
    if (seg->state == MM_SEG_FREE) {
        cr_assert(range_clear(used, seg->block.base, seg->block.size), "a free segment is used");
        return;
    }
    cr_assert_eq(seg->state, MM_SEG_ALLOCATED);
    /* Regions are walked in an order of their own; find it by search. */
    struct alloc key = { seg->block.base, 0, 0 };
    struct alloc *a = bsearch(&key, w->sorted, nlive, sizeof *a, alloc_cmp);
    cr_assert_not_null(a, "segment %#lx is not a model allocation", seg->block.base);
    cr_assert(a->size == seg->block.size && a->cap == seg->block.cap);
    w->next++;
}

/* The thorough checks. */
static void check_full(void)
{
    cr_assert(mm_check(&mm), "mm_check failed");
    struct mm_stats st;
    mm_stats(&mm, &st);
    uint64_t largest;
    bool any;
    model_scan(0, UINT64_MAX, UINT64_MAX, &largest, &any);
    cr_assert_eq(st.largest_free, largest);

    static struct alloc sorted[MAX_LIVE];
    memcpy(sorted, live, nlive * sizeof live[0]);
    qsort(sorted, nlive, sizeof sorted[0], alloc_cmp);
    struct walk_state w = { 0, sorted };
    mm_walk(&mm, walk_one, &w);
    cr_assert_eq(w.next, nlive, "the manager has allocations the model lacks, or the reverse");
}

/* ---- Operations. ---- */

static uint64_t random_size(void)
{
    uint64_t r = rnd_below(100);
    uint64_t pages = r < 70 ? 1 + rnd_below(4) : r < 90 ? 5 + rnd_below(60)
                   : r < 98 ? 65 + rnd_below(4032) : 4097 + rnd_below(61440);
    uint64_t size = pages * PAGE;
    /* Sizes that are not page multiples must round up. */
    return rnd_below(4) == 0 ? size - rnd_below(PAGE) : size;
}

static uint64_t random_align(void)
{
    uint64_t r = rnd_below(100);
    if (r < 60)
        return PAGE;
    if (r < 88)
        return PAGE << (1 + rnd_below(9));          /* 8 KiB .. 2 MiB */
    if (r < 97)
        return PAGE << (10 + rnd_below(9));         /* 4 MiB .. 1 GiB */
    if (r < 99)
        return (uint64_t)1 << rnd_below(12);        /* below a page */
    return 2 * GiB;
}

/* A range that is empty now and then, often straddles a region border,
 * and sometimes lies outside every region. */
static void random_range(uint64_t *lo, uint64_t *hi)
{
    const uint64_t span_lo = GiB - 64 * MiB, span_hi = 9 * GiB + 64 * MiB;
    *lo = span_lo + rnd_below(span_hi - span_lo);
    *hi = *lo + rnd_below(rnd_below(2) ? 64 * MiB : 2 * GiB);
}

static void model_take(uint64_t base, uint64_t size, uint64_t cap)
{
    cr_assert_lt(nlive, MAX_LIVE);
    cr_assert(range_clear(used, base, size), "[%#lx, +%#lx) overlaps an allocation", base, size);
    range_set(used, base, size, true);
    model_free_pages -= size / PAGE;
    live[nlive++] = (struct alloc){ base, size, cap };
}

/* A refusal of [size at align in lo..hi) must be right. */
static void check_refusal(errval_t err, uint64_t size, uint64_t align, uint64_t lo, uint64_t hi)
{
    uint64_t rlo = (lo + PAGE - 1) & ~(PAGE - 1), rhi = hi & ~(PAGE - 1);
    if (lo > UINT64_MAX - PAGE + 1 || rlo >= rhi) {
        cr_assert_eq(err_no(err), MM_ERR_BAD_RANGE);
        return;
    }
    uint64_t largest;
    bool any;
    align = align < PAGE ? PAGE : align;
    model_scan(rlo, rhi, size + align - PAGE, &largest, &any);
    if (err_no(err) == MM_ERR_OUT_OF_MEMORY) {
        cr_assert_lt(largest, size, "refused as out of memory with a free block of %#lx", largest);
        return;
    }
    cr_assert_eq(err_no(err), MM_ERR_NO_FIT, "unexpected %s", err_getcode(err_no(err)));
    cr_assert_geq(largest, size);
    cr_assert_not(any, "a block of size + align - 4 KiB was free in the range, yet no fit");
}

static void step_alloc(void)
{
    uint64_t size = random_size(), align = random_align();
    uint64_t lo = 0, hi = MM_NO_LIMIT;
    bool ranged = rnd_below(5) == 0;
    if (ranged)
        random_range(&lo, &hi);
    struct mm_block b;
    errval_t err = ranged ? mm_alloc_range(&mm, size, align, lo, hi, &b)
                          : mm_alloc(&mm, size, align, &b);
    uint64_t rounded = (size + PAGE - 1) & ~(PAGE - 1);
    if (err_is_fail(err)) {
        check_refusal(err, rounded, align, lo, hi);
        return;
    }
    cr_assert_eq(b.size, rounded);
    cr_assert_eq(b.base % (align < PAGE ? PAGE : align), 0, "%#lx not aligned to %#lx", b.base,
                 align);
    cr_assert(b.base >= lo && b.base + b.size <= hi, "outside the range asked for");
    cr_assert_geq(region_of(b.base, b.size), 0, "the block spans regions");
    model_take(b.base, b.size, b.cap);
    check_cap(&live[nlive - 1]);
}

/* A batch of 1-16 pieces of 1-4 pages; each piece joins the model as an
 * allocation of its own. */
static void step_alloc_batch(void)
{
    uint64_t size = (1 + rnd_below(4)) * PAGE;
    size_t count = 1 + rnd_below(MM_BATCH_MAX);
    if (nlive + count > MAX_LIVE - 2)
        count = 1;
    struct mm_block out[MM_BATCH_MAX];
    errval_t err = mm_alloc_batch(&mm, size, count, 7, out);
    if (err_is_fail(err)) {
        check_refusal(err, size * count, (size & (size - 1)) == 0 ? size : PAGE, 0, MM_NO_LIMIT);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        cr_assert(out[i].base == out[0].base + i * size && out[i].size == size);
        model_take(out[i].base, out[i].size, out[i].cap);
        check_cap(&live[nlive - 1]);
    }
    cr_assert_geq(region_of(out[0].base, size * count), 0, "the batch spans regions");
}

static void model_drop(size_t i)
{
    live[i] = live[--nlive];
}

static void step_free(void)
{
    size_t i = rnd_below(nlive);
    struct alloc a = live[i];
    uint64_t pages = a.size / PAGE;
    uint64_t off = 0, len = pages;
    if (pages >= 2 && nlive < MAX_LIVE - 1 && rnd_below(5) < 2) {
        off = rnd_below(pages);
        len = 1 + rnd_below(pages - off);
    }
    uint64_t base = a.base + off * PAGE, size = len * PAGE;
    errval_t err = mm_free(&mm, base, size - (rnd_below(4) == 0 ? rnd_below(PAGE) : 0));
    cr_assert(err_is_ok(err), "free [%#lx, +%#lx) of [%#lx, +%#lx): %s", base, size, a.base,
              a.size, err_getcode(err_no(err)));
    range_set(used, base, size, false);
    model_free_pages += len;
    model_drop(i);
    /* The parts left are allocations of their own, with new caps. */
    struct mm_block part;
    if (off > 0) {
        cr_assert(err_is_ok(mm_cap_of(&mm, a.base, &part)));
        cr_assert(part.base == a.base && part.size == off * PAGE);
        live[nlive++] = (struct alloc){ part.base, part.size, part.cap };
    }
    if (off + len < pages) {
        cr_assert(err_is_ok(mm_cap_of(&mm, base + size, &part)));
        cr_assert(part.base == base + size && part.size == (pages - off - len) * PAGE);
        live[nlive++] = (struct alloc){ part.base, part.size, part.cap };
    }
}

/* A free the manager must refuse without changing anything. */
static void step_bad_free(void)
{
    struct mm_stats before, after;
    mm_stats(&mm, &before);
    const struct alloc *a = &live[rnd_below(nlive)];
    uint64_t base = a->base, size = a->size;
    enum err_code expect;
    switch (rnd_below(4)) {
    case 0:
        size += PAGE;           /* into the next allocation, free memory or region */
        expect = MM_ERR_FREE_CROSSES;
        break;
    case 1:
        size = 0;
        expect = MM_ERR_ZERO_SIZE;
        break;
    case 2:
        base += 1 + rnd_below(PAGE - 1);
        expect = MM_ERR_NOT_PAGE_ALIGNED;
        break;
    default:
        base = regions[2].base + regions[2].size;   /* beyond C: no region */
        expect = MM_ERR_NOT_MANAGED;
        break;
    }
    errval_t err = mm_free(&mm, base, size);
    cr_assert_eq(err_no(err), expect, "got %s", err_getcode(err_no(err)));
    mm_stats(&mm, &after);
    cr_assert(before.free == after.free && before.allocations == after.allocations &&
              before.free_blocks == after.free_blocks && before.largest_free == after.largest_free);
}

/* Free a whole allocation, then free it again. */
static void step_double_free(void)
{
    size_t i = rnd_below(nlive);
    struct alloc a = live[i];
    cr_assert(err_is_ok(mm_free(&mm, a.base, a.size)));
    range_set(used, a.base, a.size, false);
    model_free_pages += a.size / PAGE;
    model_drop(i);
    cr_assert_eq(err_no(mm_free(&mm, a.base, a.size)), MM_ERR_NOT_ALLOCATED);
}

static void step_free_everything(void)
{
    while (nlive > 0) {
        cr_assert(err_is_ok(mm_free(&mm, live[nlive - 1].base, live[nlive - 1].size)));
        range_set(used, live[nlive - 1].base, live[nlive - 1].size, false);
        model_free_pages += live[nlive - 1].size / PAGE;
        nlive--;
    }
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_eq(st.free_blocks, NREGIONS, "freed memory must coalesce back into the regions");
    cr_assert_eq(st.largest_free, regions[0].size);
    cr_assert_eq(caps_live, 0);
}

Test(mm_property, a_million_random_operations_agree_with_the_model)
{
    size_t allocs = 0, refusals = 0, partials = 0, free_alls = 0, batches = 0;
    for (long step = 0; step < STEPS; step++) {
        uint64_t r = rnd_below(1000);
        bool want_alloc = nlive == 0 || (nlive < MAX_LIVE - 2 &&
                                         r < (nlive < TARGET_LIVE ? 580u : 380u));
        if (rnd_below(FREE_ALL_P) == 0) {
            step_free_everything();
            free_alls++;
        } else if (want_alloc && r % 8 == 0) {
            size_t before = nlive;
            step_alloc_batch();
            batches += (nlive > before);
        } else if (want_alloc) {
            size_t before = nlive;
            step_alloc();
            allocs++;
            refusals += (nlive == before);
        } else if (r >= 990) {
            step_bad_free();
        } else if (r >= 980) {
            step_double_free();
        } else {
            size_t before = nlive;
            step_free();
            partials += (nlive >= before);
        }
        check_step();
        if (step % CHECK_EVERY == 0)
            check_full();
    }
    check_full();
    step_free_everything();
    check_full();
    /* The run must have exercised what it claims to. */
    cr_assert_gt(refusals, 1000);
    cr_assert_gt(partials, 10000);
    cr_assert_gt(free_alls, 2);
    cr_assert_gt(allocs, 300000);
    cr_assert_gt(batches, 40000);
}
