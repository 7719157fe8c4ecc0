/*
 * test_mm_firstfit.c — the benchmarks' baseline (lib/mm/firstfit.c): it
 * must behave like the memory manager where the benchmarks compare them
 * (first fit, alignment, frees whole and partial, coalescing, the same
 * named errors), and without merge_split it must keep the pieces of a
 * partial free apart, as the reference design did.
 */
#include <criterion/criterion.h>

#include <stdint.h>

#include "mm/firstfit.h"
#include "mm_fake.h"

#define PAGE MM_PAGE_SIZE
#define BASE ((uint64_t)1 << 30)
#define SIZE ((uint64_t)16 << 20)

static struct firstfit ff;

static void setup_merging(void)
{
    cr_assert(err_is_ok(firstfit_init(&ff, true, test_refill, NULL)));
    cr_assert(err_is_ok(firstfit_add(&ff, BASE, SIZE)));
}

static void teardown(void)
{
    test_buffers_free();
}

TestSuite(firstfit, .init = setup_merging, .fini = teardown);
TestSuite(firstfit_reference, .fini = teardown);

static struct mm_block alloc_ok(uint64_t size, uint64_t align)
{
    struct mm_block b;
    errval_t err = firstfit_alloc(&ff, size, align, &b);
    cr_assert(err_is_ok(err), "firstfit_alloc: %s", err_getcode(err_no(err)));
    return b;
}

static struct mm_stats stats(void)
{
    struct mm_stats st;
    firstfit_stats(&ff, &st);
    return st;
}

Test(firstfit, alloc_takes_the_lowest_fit_and_honours_alignment)
{
    struct mm_block a = alloc_ok(PAGE, PAGE);
    struct mm_block b = alloc_ok(PAGE, 64 * 1024);
    struct mm_block c = alloc_ok(5000, 1);
    cr_assert_eq(a.base, BASE);
    cr_assert_eq(b.base, BASE + 64 * 1024);
    cr_assert_eq(c.base, BASE + PAGE, "the hole below b comes first");
    cr_assert_eq(c.size, 2 * PAGE);
}

Test(firstfit, freeing_everything_coalesces_back_into_the_region)
{
    struct mm_block blk[10];
    for (int i = 0; i < 10; i++)
        blk[i] = alloc_ok(PAGE * (uint64_t)(1 + i), PAGE);
    cr_assert(err_is_ok(firstfit_free(&ff, blk[3].base + PAGE, PAGE)));
    for (int i = 0; i < 10; i += 2)
        cr_assert(err_is_ok(firstfit_free(&ff, blk[i].base, blk[i].size)));
    cr_assert(err_is_ok(firstfit_free(&ff, blk[3].base, PAGE)));
    cr_assert(err_is_ok(firstfit_free(&ff, blk[3].base + 2 * PAGE, 2 * PAGE)));
    for (int i = 1; i < 10; i += 2)
        if (i != 3)
            cr_assert(err_is_ok(firstfit_free(&ff, blk[i].base, blk[i].size)));
    struct mm_stats st = stats();
    cr_assert_eq(st.free_blocks, 1);
    cr_assert_eq(st.largest_free, SIZE);
    cr_assert_eq(st.allocations, 0);
}

Test(firstfit, bad_frees_and_requests_get_the_managers_errors)
{
    struct mm_block a = alloc_ok(2 * PAGE, PAGE);
    struct mm_block b = alloc_ok(2 * PAGE, PAGE);
    struct mm_block out;
    cr_assert_eq(firstfit_alloc(&ff, 0, PAGE, &out), MM_ERR_ZERO_SIZE);
    cr_assert_eq(firstfit_alloc(&ff, PAGE, 3 * PAGE, &out), MM_ERR_BAD_ALIGNMENT);
    cr_assert_eq(firstfit_alloc(&ff, SIZE, PAGE, &out), MM_ERR_OUT_OF_MEMORY);
    cr_assert_eq(firstfit_free(&ff, a.base, a.size + b.size), MM_ERR_FREE_CROSSES);
    cr_assert_eq(firstfit_free(&ff, a.base, 0), MM_ERR_ZERO_SIZE);
    cr_assert_eq(firstfit_free(&ff, a.base + 1, PAGE), MM_ERR_NOT_PAGE_ALIGNED);
    cr_assert_eq(firstfit_free(&ff, PAGE, PAGE), MM_ERR_NOT_MANAGED);
    cr_assert(err_is_ok(firstfit_free(&ff, a.base, a.size)));
    cr_assert_eq(firstfit_free(&ff, a.base, a.size), MM_ERR_NOT_ALLOCATED);
    cr_assert_eq(stats().allocated, b.size);
}

/* The reference's flaw: the pieces of a partial free never merge again,
 * so an allocation freed in two steps leaves two blocks behind. */
Test(firstfit_reference, pieces_of_a_partial_free_never_merge_again)
{
    cr_assert(err_is_ok(firstfit_init(&ff, false, test_refill, NULL)));
    cr_assert(err_is_ok(firstfit_add(&ff, BASE, SIZE)));
    struct mm_block a = alloc_ok(8 * PAGE, PAGE);
    alloc_ok(PAGE, PAGE);
    cr_assert(err_is_ok(firstfit_free(&ff, a.base, 4 * PAGE)));
    cr_assert(err_is_ok(firstfit_free(&ff, a.base + 4 * PAGE, 4 * PAGE)));
    struct mm_stats st = stats();
    cr_assert_eq(st.free_blocks, 3, "two pieces of a, and the rest of the region");
    struct mm_block out;
    cr_assert(err_is_ok(firstfit_alloc(&ff, 8 * PAGE, PAGE, &out)));
    cr_assert_gt(out.base, a.base, "the eight pages of a are no longer one block");
}
