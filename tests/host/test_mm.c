/*
 * test_mm.c — the memory manager (lib/mm/mm.c) without capabilities:
 * regions, allocation (first fit, sizes, every alignment, address ranges),
 * frees whole and partial, coalescing, statistics, and every bad input
 * refused with its named error and no change. Capabilities, records and
 * threads are in test_mm_caps.c; the long random run against a model is
 * test_mm_property.c.
 *
 * Two adjacent 16 MiB regions, so that coalescing across their border
 * would be visible.
 */
#include <criterion/criterion.h>

#include <stdint.h>
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

static void setup(void)
{
    mm_test_init(&mm, false);
}

static void setup_two_regions(void)
{
    setup();
    mm_test_add(&mm, 1, R1_BASE, R1_SIZE);
    mm_test_add(&mm, 2, R2_BASE, R2_SIZE);
}

static void teardown(void)
{
    test_buffers_free();
}

TestSuite(mm, .init = setup_two_regions, .fini = teardown);
TestSuite(mm_add, .init = setup, .fini = teardown);

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

static struct mm_stats stats(void)
{
    struct mm_stats st;
    mm_stats(&mm, &st);
    return st;
}

/* The manager holds exactly its regions, each one free segment. */
static void assert_only_regions_free(void)
{
    struct mm_snapshot snap;
    mm_snapshot(&mm, &snap);
    cr_assert_eq(snap.stats.allocations, 0);
    cr_assert_eq(snap.nseg, snap.stats.regions, "%zu segments for %zu regions", snap.nseg,
                 snap.stats.regions);
    for (size_t i = 0; i < snap.nseg; i++) {
        cr_assert_eq(snap.seg[i].state, MM_SEG_FREE);
        cr_assert_eq(snap.seg[i].block.base, snap.seg[i].region_base);
    }
    cr_assert_eq(snap.stats.free, snap.stats.total);
}

/* Expect `err` from `call` and no change at all. */
#define ASSERT_REFUSED(call, expected)                                              \
    do {                                                                            \
        struct mm_snapshot before_, after_;                                         \
        mm_snapshot(&mm, &before_);                                                 \
        errval_t err_ = (call);                                                     \
        cr_assert_eq(err_no(err_), (expected), "got %s, expected %s",               \
                     err_getcode(err_no(err_)), err_getcode(expected));             \
        mm_snapshot(&mm, &after_);                                                  \
        cr_assert(mm_snapshot_equal(&before_, &after_), "a refused call changed the manager"); \
        cr_assert(mm_check(&mm));                                                   \
    } while (0)

/* ---- Regions. ---- */

Test(mm_add, a_region_becomes_one_free_block)
{
    mm_test_add(&mm, 7, R1_BASE, R1_SIZE);
    struct mm_stats st = stats();
    cr_assert_eq(st.total, R1_SIZE);
    cr_assert_eq(st.free, R1_SIZE);
    cr_assert_eq(st.allocated, 0);
    cr_assert_eq(st.largest_free, R1_SIZE);
    cr_assert_eq(st.regions, 1);
    cr_assert_eq(st.free_blocks, 1);
    cr_assert(mm_check(&mm));
}

Test(mm_add, overlapping_regions_are_refused_and_change_nothing)
{
    mm_test_add(&mm, 1, R1_BASE, R1_SIZE);
    ASSERT_REFUSED(mm_add(&mm, 2, R1_BASE, PAGE), MM_ERR_REGION_OVERLAP);
    ASSERT_REFUSED(mm_add(&mm, 2, R1_BASE - PAGE, 2 * PAGE), MM_ERR_REGION_OVERLAP);
    ASSERT_REFUSED(mm_add(&mm, 2, R1_BASE + R1_SIZE - PAGE, 2 * PAGE), MM_ERR_REGION_OVERLAP);
    ASSERT_REFUSED(mm_add(&mm, 2, R1_BASE - PAGE, R1_SIZE + 2 * PAGE), MM_ERR_REGION_OVERLAP);
}

Test(mm_add, overlap_with_an_allocated_part_is_refused_too)
{
    mm_test_add(&mm, 1, R1_BASE, 4 * PAGE);
    struct mm_block b;
    cr_assert(err_is_ok(mm_alloc(&mm, 4 * PAGE, PAGE, &b)));
    ASSERT_REFUSED(mm_add(&mm, 2, R1_BASE + PAGE, PAGE), MM_ERR_REGION_OVERLAP);
}

Test(mm_add, adjacent_regions_are_accepted_and_stay_separate)
{
    mm_test_add(&mm, 1, R1_BASE, R1_SIZE);
    mm_test_add(&mm, 2, R2_BASE, R2_SIZE);
    struct mm_stats st = stats();
    cr_assert_eq(st.free_blocks, 2);
    cr_assert_eq(st.largest_free, R1_SIZE);
}

Test(mm_add, zero_unaligned_and_wrapping_regions_are_refused)
{
    ASSERT_REFUSED(mm_add(&mm, 1, R1_BASE, 0), MM_ERR_ZERO_SIZE);
    ASSERT_REFUSED(mm_add(&mm, 1, R1_BASE + 1, PAGE), MM_ERR_NOT_PAGE_ALIGNED);
    ASSERT_REFUSED(mm_add(&mm, 1, R1_BASE, PAGE + 8), MM_ERR_NOT_PAGE_ALIGNED);
    ASSERT_REFUSED(mm_add(&mm, 1, UINT64_MAX - PAGE + 1, 2 * PAGE), MM_ERR_BAD_RANGE);
}

Test(mm_add, a_region_just_below_the_top_of_the_address_space_works)
{
    uint64_t base = UINT64_MAX - 5 * PAGE + 1;
    mm_test_add(&mm, 1, base, 4 * PAGE);
    struct mm_block b = alloc_ok(4 * PAGE, PAGE);
    cr_assert_eq(b.base, base);
    free_ok(b.base, b.size);
    assert_only_regions_free();
}

/* ---- Allocation. ---- */

Test(mm, alloc_rounds_the_size_up_to_whole_pages)
{
    struct mm_block b = alloc_ok(5000, 1);
    cr_assert_eq(b.size, 2 * PAGE);
    cr_assert_eq(b.cap, MM_CAP_NONE);
    cr_assert_eq(stats().allocated, 2 * PAGE);
}

Test(mm, alloc_takes_the_lowest_address_that_fits)
{
    struct mm_block a = alloc_ok(PAGE, PAGE);
    struct mm_block b = alloc_ok(2 * PAGE, PAGE);
    struct mm_block c = alloc_ok(PAGE, PAGE);
    cr_assert_eq(a.base, R1_BASE);
    cr_assert_eq(b.base, R1_BASE + PAGE);
    cr_assert_eq(c.base, R1_BASE + 3 * PAGE);
    free_ok(b.base, b.size);
    /* The hole of two pages is the lowest fit for one page, and for two. */
    struct mm_block d = alloc_ok(PAGE, PAGE);
    cr_assert_eq(d.base, R1_BASE + PAGE);
    struct mm_block e = alloc_ok(2 * PAGE, PAGE);
    cr_assert_eq(e.base, R1_BASE + 4 * PAGE, "one page left in the hole is too small");
}

Test(mm, alloc_moves_on_to_the_next_region_when_the_first_is_full)
{
    struct mm_block a = alloc_ok(R1_SIZE - PAGE, PAGE);
    struct mm_block b = alloc_ok(2 * PAGE, PAGE);
    cr_assert_eq(a.base, R1_BASE);
    cr_assert_eq(b.base, R2_BASE, "a block never spans two regions");
}

Test(mm, alloc_of_zero_bytes_is_refused_and_changes_nothing)
{
    struct mm_block b;
    ASSERT_REFUSED(mm_alloc(&mm, 0, PAGE, &b), MM_ERR_ZERO_SIZE);
    ASSERT_REFUSED(mm_alloc_range(&mm, 0, PAGE, R1_BASE, R2_BASE, &b), MM_ERR_ZERO_SIZE);
}

Test(mm, alloc_with_an_alignment_that_is_not_a_power_of_two_is_refused_and_changes_nothing)
{
    struct mm_block b;
    alloc_ok(PAGE, PAGE);
    ASSERT_REFUSED(mm_alloc(&mm, PAGE, 0, &b), MM_ERR_BAD_ALIGNMENT);
    ASSERT_REFUSED(mm_alloc(&mm, PAGE, 3 * PAGE, &b), MM_ERR_BAD_ALIGNMENT);
    ASSERT_REFUSED(mm_alloc(&mm, PAGE, PAGE + 1, &b), MM_ERR_BAD_ALIGNMENT);
    ASSERT_REFUSED(mm_alloc(&mm, PAGE, UINT64_MAX, &b), MM_ERR_BAD_ALIGNMENT);
}

Test(mm, alloc_larger_than_any_free_block_is_refused_and_changes_nothing)
{
    struct mm_block b;
    alloc_ok(PAGE, PAGE);
    ASSERT_REFUSED(mm_alloc(&mm, R2_SIZE + PAGE, PAGE, &b), MM_ERR_OUT_OF_MEMORY);
    ASSERT_REFUSED(mm_alloc(&mm, R1_SIZE + R2_SIZE, PAGE, &b), MM_ERR_OUT_OF_MEMORY);
    ASSERT_REFUSED(mm_alloc(&mm, UINT64_MAX, PAGE, &b), MM_ERR_OUT_OF_MEMORY);
}

Test(mm, alloc_that_fits_only_misaligned_fails_with_no_fit)
{
    struct mm_block b;
    /* 16 MiB regions at a 1 GiB boundary: the 2 GiB-aligned address is in neither. */
    ASSERT_REFUSED(mm_alloc(&mm, PAGE, 2 * GiB, &b), MM_ERR_NO_FIT);
}

Test(mm, alignment_below_a_page_means_a_page)
{
    alloc_ok(PAGE, PAGE);
    struct mm_block b = alloc_ok(PAGE, 16);
    cr_assert_eq(b.base, R1_BASE + PAGE);
    struct mm_block c = alloc_ok(PAGE, 1);
    cr_assert_eq(c.base, R1_BASE + 2 * PAGE);
}

/* A 64 GiB region that starts one page past a 1 GiB boundary, so that
 * every alignment from 8 KiB up must skip some memory. */
Test(mm_add, alloc_honours_every_power_of_two_alignment_from_4k_to_1g)
{
    uint64_t base = 3 * GiB + PAGE;
    mm_test_add(&mm, 1, base, 64 * GiB);
    struct mm_block got[19];
    for (int i = 0; i < 19; i++) {
        uint64_t align = PAGE << i;
        got[i] = alloc_ok(PAGE * (uint64_t)(i + 1), align);
        cr_assert_eq(got[i].base % align, 0, "%#lx is not %#lx-aligned", got[i].base, align);
        cr_assert_eq(got[i].size, PAGE * (uint64_t)(i + 1));
        cr_assert_geq(got[i].base, base);
        cr_assert_leq(got[i].base + got[i].size, base + 64 * GiB);
    }
    for (int i = 0; i < 19; i++)
        for (int j = 0; j < i; j++)
            cr_assert(got[i].base + got[i].size <= got[j].base ||
                          got[j].base + got[j].size <= got[i].base,
                      "allocations %d and %d overlap", i, j);
    for (int i = 0; i < 19; i++)
        free_ok(got[i].base, got[i].size);
    assert_only_regions_free();
}

Test(mm_add, alloc_of_a_whole_aligned_gigabyte_is_exact)
{
    uint64_t base = 3 * GiB + PAGE;
    mm_test_add(&mm, 1, base, 64 * GiB);
    struct mm_block b = alloc_ok(GiB, GiB);
    cr_assert_eq(b.base, 4 * GiB, "the lowest 1 GiB-aligned address in the region");
    cr_assert_eq(b.size, GiB);
    struct mm_stats st = stats();
    cr_assert_eq(st.free_blocks, 2, "the skipped piece below and the rest above stay free");
}

Test(mm_add, alignments_beyond_1g_cost_nothing_extra)
{
    uint64_t base = 3 * GiB + PAGE;
    mm_test_add(&mm, 1, base, 64 * GiB);
    struct mm_block b = alloc_ok(PAGE, 32 * GiB);
    cr_assert_eq(b.base, 32 * GiB);
}

/*
 * Make n free 2-page holes at odd pages of R1 (misaligned for 8 KiB, so
 * none can hold an 8 KiB-aligned 2-page block), kept apart by 2-page
 * allocations; then, after one more page, a 2-page hole at an even page
 * and a 2-page allocation after it. Returns the aligned hole.
 */
static struct mm_block make_holes(int n, struct mm_block *after)
{
    struct mm_block hole[64];
    cr_assert_lt(n, 64);
    alloc_ok(PAGE, PAGE);
    for (int i = 0; i < n; i++) {
        hole[i] = alloc_ok(2 * PAGE, PAGE);
        cr_assert_eq(hole[i].base % (2 * PAGE), PAGE);
        alloc_ok(2 * PAGE, PAGE);
    }
    alloc_ok(PAGE, PAGE);
    hole[n] = alloc_ok(2 * PAGE, PAGE);
    cr_assert_eq(hole[n].base % (2 * PAGE), 0);
    *after = alloc_ok(2 * PAGE, PAGE);
    for (int i = 0; i <= n; i++)
        free_ok(hole[i].base, hole[i].size);
    return hole[n];
}

/* An aligned hole of exactly the size asked for, after misaligned ones:
 * the probes find it although it is neither the first block large enough
 * nor as large as size + align - 4 KiB. */
Test(mm, aligned_alloc_probes_past_misaligned_holes_to_an_exact_aligned_one)
{
    struct mm_block after;
    struct mm_block aligned_hole = make_holes(8, &after);
    struct mm_block b = alloc_ok(2 * PAGE, 2 * PAGE);
    cr_assert_eq(b.base, aligned_hole.base);
}

/* The documented trade: past MM_FIT_PROBES misaligned candidates, the
 * request takes the first block of at least size + align - 4 KiB (here
 * the rest of R1), not an exact aligned hole further on. */
Test(mm, aligned_alloc_past_the_probes_takes_the_first_block_large_enough_for_any_offset)
{
    struct mm_block after;
    make_holes(MM_FIT_PROBES + 4, &after);
    struct mm_block b = alloc_ok(2 * PAGE, 2 * PAGE);
    cr_assert_eq(b.base, after.base + after.size);
}

/* A block of exactly size + align - 4 KiB whose start is as badly aligned
 * as can be, behind more misaligned candidates than the probes look at. */
Test(mm_add, aligned_alloc_always_succeeds_if_a_block_of_size_plus_align_minus_a_page_is_free)
{
    uint64_t low = GiB + PAGE;
    mm_test_add(&mm, 1, low, 4 * 20 * PAGE);
    struct mm_block hole[20];
    for (int i = 0; i < 20; i++) {
        hole[i] = alloc_ok(2 * PAGE, PAGE);
        alloc_ok(2 * PAGE, PAGE);
    }
    for (int i = 0; i < 20; i++)
        free_ok(hole[i].base, hole[i].size);
    uint64_t align = 64 * KiB, size = 2 * PAGE;
    uint64_t high = 2 * GiB + PAGE;
    mm_test_add(&mm, 2, high, size + align - PAGE);

    struct mm_block b = alloc_ok(size, align);
    cr_assert_eq(b.base, 2 * GiB + align);
    cr_assert_eq(b.base + b.size, high + size + align - PAGE);
}

/* ---- Allocation in an address range. ---- */

Test(mm, alloc_range_stays_inside_the_range)
{
    uint64_t lo = R1_BASE + 5 * MiB, hi = R1_BASE + 7 * MiB;
    for (int i = 0; i < 16; i++) {
        struct mm_block b;
        cr_assert(err_is_ok(mm_alloc_range(&mm, 128 * KiB, PAGE, lo, hi, &b)));
        cr_assert_geq(b.base, lo);
        cr_assert_leq(b.base + b.size, hi);
    }
    struct mm_block b;
    ASSERT_REFUSED(mm_alloc_range(&mm, PAGE, PAGE, lo, hi, &b), MM_ERR_NO_FIT);
    cr_assert_eq(stats().allocated, 2 * MiB);
}

Test(mm, alloc_range_rounds_its_bounds_inwards_to_pages)
{
    struct mm_block b;
    cr_assert(err_is_ok(mm_alloc_range(&mm, PAGE, PAGE, R1_BASE + 1, R1_BASE + 3 * PAGE - 1, &b)));
    cr_assert_eq(b.base, R1_BASE + PAGE);
    ASSERT_REFUSED(mm_alloc_range(&mm, PAGE, PAGE, R1_BASE + 1, R1_BASE + 3 * PAGE - 1, &b),
                   MM_ERR_NO_FIT);
}

Test(mm, alloc_range_that_is_empty_is_refused_and_changes_nothing)
{
    struct mm_block b;
    ASSERT_REFUSED(mm_alloc_range(&mm, PAGE, PAGE, R1_BASE, R1_BASE, &b), MM_ERR_BAD_RANGE);
    ASSERT_REFUSED(mm_alloc_range(&mm, PAGE, PAGE, R2_BASE, R1_BASE, &b), MM_ERR_BAD_RANGE);
    ASSERT_REFUSED(mm_alloc_range(&mm, PAGE, PAGE, R1_BASE + 1, R1_BASE + PAGE, &b),
                   MM_ERR_BAD_RANGE);
    ASSERT_REFUSED(mm_alloc_range(&mm, PAGE, PAGE, UINT64_MAX, MM_NO_LIMIT, &b), MM_ERR_BAD_RANGE);
}

Test(mm, alloc_range_with_room_only_outside_it_fails_with_no_fit_and_changes_nothing)
{
    struct mm_block b;
    /* Entirely below both regions, and straddling R1's start by less than asked. */
    ASSERT_REFUSED(mm_alloc_range(&mm, PAGE, PAGE, 0, R1_BASE, &b), MM_ERR_NO_FIT);
    ASSERT_REFUSED(mm_alloc_range(&mm, 2 * PAGE, PAGE, 0, R1_BASE + PAGE, &b), MM_ERR_NO_FIT);
}

Test(mm, alloc_range_uses_the_part_of_a_block_that_starts_below_the_range)
{
    struct mm_block b;
    cr_assert(err_is_ok(mm_alloc_range(&mm, 2 * PAGE, PAGE, R1_BASE + MiB, MM_NO_LIMIT, &b)));
    cr_assert_eq(b.base, R1_BASE + MiB);
    struct mm_stats st = stats();
    cr_assert_eq(st.free_blocks, 3, "below, above, and the second region");
}

Test(mm, alloc_range_aligned_inside_a_range_crossing_regions)
{
    struct mm_block b;
    uint64_t lo = R2_BASE - MiB, hi = R2_BASE + 4 * MiB;
    cr_assert(err_is_ok(mm_alloc_range(&mm, 2 * MiB, 2 * MiB, lo, hi, &b)));
    cr_assert_eq(b.base, R2_BASE, "R1's last MiB is too small; R2 starts 2 MiB-aligned");
}

/* ---- Freeing: bad input. ---- */

Test(mm, free_of_memory_never_allocated_is_refused_and_changes_nothing)
{
    alloc_ok(PAGE, PAGE);
    ASSERT_REFUSED(mm_free(&mm, R1_BASE + PAGE, PAGE), MM_ERR_NOT_ALLOCATED);
    ASSERT_REFUSED(mm_free(&mm, R2_BASE, PAGE), MM_ERR_NOT_ALLOCATED);
}

Test(mm, free_outside_every_region_is_refused_and_changes_nothing)
{
    ASSERT_REFUSED(mm_free(&mm, PAGE, PAGE), MM_ERR_NOT_MANAGED);
    ASSERT_REFUSED(mm_free(&mm, R2_BASE + R2_SIZE, PAGE), MM_ERR_NOT_MANAGED);
}

Test(mm, free_twice_is_refused_and_changes_nothing)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    alloc_ok(PAGE, PAGE);
    free_ok(a.base, a.size);
    ASSERT_REFUSED(mm_free(&mm, a.base, a.size), MM_ERR_NOT_ALLOCATED);
}

Test(mm, free_of_a_part_freed_already_is_refused_and_changes_nothing)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    free_ok(a.base + PAGE, PAGE);
    ASSERT_REFUSED(mm_free(&mm, a.base + PAGE, PAGE), MM_ERR_NOT_ALLOCATED);
    ASSERT_REFUSED(mm_free(&mm, a.base, a.size), MM_ERR_FREE_CROSSES);
}

Test(mm, free_crossing_two_allocations_is_refused_and_changes_nothing)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    struct mm_block b = alloc_ok(2 * PAGE, PAGE);
    cr_assert_eq(a.base + a.size, b.base);
    ASSERT_REFUSED(mm_free(&mm, a.base, a.size + b.size), MM_ERR_FREE_CROSSES);
    ASSERT_REFUSED(mm_free(&mm, a.base + PAGE, 2 * PAGE), MM_ERR_FREE_CROSSES);
}

Test(mm, free_past_the_end_of_an_allocation_into_free_memory_is_refused)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    ASSERT_REFUSED(mm_free(&mm, a.base, 3 * PAGE), MM_ERR_FREE_CROSSES);
}

Test(mm, free_of_zero_bytes_is_refused_and_changes_nothing)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    ASSERT_REFUSED(mm_free(&mm, a.base, 0), MM_ERR_ZERO_SIZE);
}

Test(mm, free_at_an_address_that_is_not_page_aligned_is_refused)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    ASSERT_REFUSED(mm_free(&mm, a.base + 8, PAGE), MM_ERR_NOT_PAGE_ALIGNED);
}

Test(mm, free_of_a_range_that_wraps_is_refused)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    ASSERT_REFUSED(mm_free(&mm, a.base, UINT64_MAX - PAGE), MM_ERR_BAD_RANGE);
}

Test(mm, free_rounds_the_size_up_as_alloc_did)
{
    struct mm_block a = alloc_ok(5000, PAGE);
    free_ok(a.base, 5000);
    assert_only_regions_free();
}

/* ---- Coalescing. ---- */

Test(mm, free_coalesces_with_the_free_block_below)
{
    struct mm_block a = alloc_ok(PAGE, PAGE), b = alloc_ok(PAGE, PAGE);
    alloc_ok(PAGE, PAGE);
    free_ok(a.base, a.size);
    free_ok(b.base, b.size);
    cr_assert_eq(stats().free_blocks, 3, "the merged hole, R1's rest and R2");
    struct mm_block c = alloc_ok(2 * PAGE, PAGE);
    cr_assert_eq(c.base, a.base, "the two pages are one block again");
}

Test(mm, free_coalesces_with_the_free_block_above)
{
    struct mm_block a = alloc_ok(PAGE, PAGE);
    struct mm_block b = alloc_ok(PAGE, PAGE);
    free_ok(b.base, b.size);
    cr_assert_eq(stats().free_blocks, 2);
    free_ok(a.base, a.size);
    assert_only_regions_free();
}

Test(mm, free_coalesces_with_free_blocks_on_both_sides)
{
    struct mm_block a = alloc_ok(PAGE, PAGE);
    struct mm_block b = alloc_ok(PAGE, PAGE);
    struct mm_block c = alloc_ok(PAGE, PAGE);
    alloc_ok(PAGE, PAGE);
    free_ok(a.base, a.size);
    free_ok(c.base, c.size);
    cr_assert_eq(stats().free_blocks, 4);
    free_ok(b.base, b.size);
    cr_assert_eq(stats().free_blocks, 3);
    cr_assert_eq(stats().largest_free, R2_SIZE);
    struct mm_block d = alloc_ok(3 * PAGE, PAGE);
    cr_assert_eq(d.base, a.base);
}

Test(mm, free_never_coalesces_across_regions)
{
    struct mm_block a = alloc_ok(R1_SIZE, PAGE);
    struct mm_block b = alloc_ok(R2_SIZE, PAGE);
    cr_assert_eq(b.base, R2_BASE);
    free_ok(a.base, a.size);
    free_ok(b.base, b.size);
    struct mm_stats st = stats();
    cr_assert_eq(st.free_blocks, 2);
    cr_assert_eq(st.largest_free, R1_SIZE, "the two adjacent regions stay two blocks");
    struct mm_block c;
    ASSERT_REFUSED(mm_alloc(&mm, R1_SIZE + PAGE, PAGE, &c), MM_ERR_OUT_OF_MEMORY);
}

/* ---- Partial frees. ---- */

Test(mm, partial_free_of_the_start_leaves_the_rest_allocated)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    free_ok(a.base, PAGE);
    struct mm_block rest = mm_test_block_at(&mm, a.base + PAGE);
    cr_assert_eq(rest.base, a.base + PAGE);
    cr_assert_eq(rest.size, 3 * PAGE);
    cr_assert_eq(stats().allocated, 3 * PAGE);
}

Test(mm, partial_free_of_the_end_leaves_the_start_allocated)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    free_ok(a.base + 3 * PAGE, PAGE);
    struct mm_block rest = mm_test_block_at(&mm, a.base);
    cr_assert_eq(rest.size, 3 * PAGE);
    cr_assert_eq(stats().free_blocks, 2, "the freed end merged with the free memory above");
}

Test(mm, partial_free_of_the_middle_leaves_two_allocations)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    free_ok(a.base + PAGE, 2 * PAGE);
    struct mm_block lo = mm_test_block_at(&mm, a.base);
    struct mm_block hi = mm_test_block_at(&mm, a.base + 3 * PAGE);
    cr_assert(lo.base == a.base && lo.size == PAGE);
    cr_assert(hi.base == a.base + 3 * PAGE && hi.size == PAGE);
    struct mm_stats st = stats();
    cr_assert_eq(st.allocations, 2);
    cr_assert_eq(st.allocated, 2 * PAGE);
    struct mm_block out;
    cr_assert_eq(mm_cap_of(&mm, a.base + PAGE, &out), MM_ERR_NOT_ALLOCATED);
}

Test(mm, parts_left_by_a_partial_free_are_separate_allocations)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    free_ok(a.base + PAGE, PAGE);
    ASSERT_REFUSED(mm_free(&mm, a.base, PAGE + 2 * PAGE), MM_ERR_FREE_CROSSES);
    free_ok(a.base + 2 * PAGE, 2 * PAGE);
    cr_assert_eq(stats().allocations, 1);
    free_ok(a.base, PAGE);
    assert_only_regions_free();
}

Test(mm, pieces_left_by_partial_frees_coalesce_when_freed)
{
    struct mm_block a = alloc_ok(8 * PAGE, PAGE);
    free_ok(a.base + 2 * PAGE, 2 * PAGE);
    free_ok(a.base + 5 * PAGE, PAGE);
    free_ok(a.base, 2 * PAGE);
    free_ok(a.base + 7 * PAGE, PAGE);
    free_ok(a.base + 4 * PAGE, PAGE);
    free_ok(a.base + 6 * PAGE, PAGE);
    assert_only_regions_free();
}

Test(mm, partial_free_of_a_whole_allocation_is_a_whole_free)
{
    struct mm_block a = alloc_ok(4 * PAGE, PAGE);
    free_ok(a.base, 4 * PAGE);
    assert_only_regions_free();
}

/* ---- Queries and the end state. ---- */

Test(mm, cap_of_finds_the_allocation_that_covers_an_address)
{
    alloc_ok(PAGE, PAGE);
    struct mm_block a = alloc_ok(3 * PAGE, PAGE);
    struct mm_block got = mm_test_block_at(&mm, a.base + 2 * PAGE + 123);
    cr_assert(got.base == a.base && got.size == a.size);
    struct mm_block out;
    cr_assert_eq(mm_cap_of(&mm, a.base + a.size, &out), MM_ERR_NOT_ALLOCATED);
    cr_assert_eq(mm_cap_of(&mm, 0, &out), MM_ERR_NOT_MANAGED);
}

Test(mm, stats_count_regions_allocations_and_free_blocks)
{
    alloc_ok(PAGE, PAGE);
    struct mm_block b = alloc_ok(2 * PAGE, PAGE);
    alloc_ok(PAGE, PAGE);
    free_ok(b.base, b.size);
    struct mm_stats st = stats();
    cr_assert_eq(st.total, R1_SIZE + R2_SIZE);
    cr_assert_eq(st.allocated, 2 * PAGE);
    cr_assert_eq(st.free, st.total - 2 * PAGE);
    cr_assert_eq(st.largest_free, R2_SIZE, "R2 is larger than what is left of R1");
    cr_assert_eq(st.regions, 2);
    cr_assert_eq(st.allocations, 2);
    cr_assert_eq(st.free_blocks, 3);
}

Test(mm, freeing_everything_leaves_exactly_the_regions_that_were_added)
{
    struct mm_block blk[64];
    for (int i = 0; i < 64; i++)
        blk[i] = alloc_ok(PAGE * (uint64_t)(1 + i % 5), PAGE << (i % 4));
    for (int i = 0; i < 64; i += 2)
        free_ok(blk[i].base + (blk[i].size > PAGE ? PAGE : 0), PAGE);
    for (int i = 0; i < 64; i++) {
        struct mm_block out;
        for (uint64_t off = 0; off < blk[i].size; off += PAGE)
            if (err_is_ok(mm_cap_of(&mm, blk[i].base + off, &out)))
                free_ok(out.base, out.size);
    }
    assert_only_regions_free();
    struct mm_stats st = stats();
    cr_assert_eq(st.free_blocks, 2);
    cr_assert_eq(st.largest_free, R1_SIZE);
}

/* ---- The checker can fail. ---- */

Test(mm, check_finds_wrong_totals)
{
    alloc_ok(PAGE, PAGE);
    mm.free -= PAGE;
    cr_assert_not(mm_check(&mm));
}

Test(mm, check_finds_a_segment_whose_state_disagrees_with_its_tree)
{
    struct mm_block a = alloc_ok(PAGE, PAGE);
    struct mm_segment *s = (struct mm_segment *)blocktree_find(&mm.alloc_tree, a.base);
    s->state = MM_SEG_FREE;
    cr_assert_not(mm_check(&mm));
}

Test(mm, check_finds_a_gap_between_segments)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    struct mm_segment *s = (struct mm_segment *)blocktree_find(&mm.alloc_tree, a.base);
    s->node.size = PAGE;
    cr_assert_not(mm_check(&mm));
}
