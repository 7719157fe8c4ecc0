/*
 * test_mm_batch.c — mm_alloc_batch (lib/mm/mm.c): `count` allocations side
 * by side, each with its own capability, made by one retype_many call;
 * each freed on its own; a failure at any point changes nothing.
 */
#include <criterion/criterion.h>

#include <stdint.h>

#include "mm/mm.h"
#include "mm_fake.h"

#define MiB ((uint64_t)1024 * 1024)
#define PAGE MM_PAGE_SIZE
#define R_BASE (64 * MiB)
#define R_SIZE (4 * MiB)
#define KIND 7

static struct mm mm;

static void start(const struct mm_cap_ops *ops)
{
    mm_test_init_ops(&mm, ops);
    mm_test_add(&mm, 1, R_BASE, R_SIZE);
}

static void teardown(void)
{
    test_buffers_free();
}

static void setup_batch_ops(void) { start(&fake_ops_batch); }

TestSuite(mm_batch, .init = setup_batch_ops, .fini = teardown);

static void batch_ok(uint64_t size, size_t count, struct mm_block *out)
{
    errval_t err = mm_alloc_batch(&mm, size, count, KIND, out);
    cr_assert(err_is_ok(err), "mm_alloc_batch(%#lx, %zu): %s", size, count, err_getcode(err_no(err)));
    cr_assert(mm_check(&mm));
}

/* out[0 .. count) lie side by side from a multiple of size, each with a
 * live cap of KIND covering exactly it. */
static void assert_side_by_side(const struct mm_block *out, uint64_t size, size_t count)
{
    cr_assert_eq(out[0].base % size, 0, "the first is aligned to the size");
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq(out[i].base, out[0].base + i * size);
        cr_assert_eq(out[i].size, size);
        const struct fake_cap *c = fake_cap_get(out[i].cap);
        cr_assert(c->live && c->base == out[i].base && c->size == size && c->kind == KIND);
    }
}

Test(mm_batch, makes_count_allocations_each_with_its_own_cap_in_one_call)
{
    struct mm_block out[MM_BATCH_MAX];
    batch_ok(PAGE, MM_BATCH_MAX, out);
    assert_side_by_side(out, PAGE, MM_BATCH_MAX);
    cr_assert_eq(fake.retype_many_calls, 1);
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_eq(st.allocations, MM_BATCH_MAX, "separate allocations from the start");
    cr_assert_eq(st.free, R_SIZE - MM_BATCH_MAX * PAGE);
    fake_check_caps(&mm);
}

Test(mm_batch, each_allocation_is_freed_on_its_own_and_all_of_them_give_everything_back)
{
    struct mm_block out[4];
    batch_ok(2 * PAGE, 4, out);
    cr_assert(err_is_ok(mm_free(&mm, out[2].base, out[2].size)));
    cr_assert_not(fake_cap_get(out[2].cap)->live);
    cr_assert(fake_cap_get(out[1].cap)->live && fake_cap_get(out[3].cap)->live,
              "freeing one leaves its neighbours' caps alone");
    fake_check_caps(&mm);
    for (size_t i = 0; i < 4; i++)
        if (i != 2)
            cr_assert(err_is_ok(mm_free(&mm, out[i].base, out[i].size)));
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_eq(st.free, R_SIZE);
    cr_assert_eq(st.free_blocks, 1, "the region is one free segment again");
    cr_assert_eq(fake.nlive, 0);
    cr_assert(mm_check(&mm));
}

Test(mm_batch, a_batch_after_other_allocations_takes_the_next_aligned_room)
{
    struct mm_block one, out[3];
    cr_assert(err_is_ok(mm_alloc(&mm, PAGE, PAGE, &one)));
    batch_ok(4 * PAGE, 3, out);
    assert_side_by_side(out, 4 * PAGE, 3);
    cr_assert_geq(out[0].base, one.base + PAGE);
    fake_check_caps(&mm);
}

Test(mm_batch, without_caps_it_is_count_plain_allocations)
{
    teardown();
    start(NULL);
    struct mm_block out[3];
    batch_ok(PAGE, 3, out);
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(out[i].base, out[0].base + i * PAGE);
        cr_assert_eq(out[i].cap, MM_CAP_NONE);
    }
}

static void assert_refused(uint64_t size, size_t count, enum err_code want)
{
    struct mm_snapshot before, after;
    mm_snapshot(&mm, &before);
    struct mm_block out[MM_BATCH_MAX + 1];
    errval_t err = mm_alloc_batch(&mm, size, count, KIND, out);
    cr_assert_eq(err_no(err), want, "got %s", err_getcode(err_no(err)));
    mm_snapshot(&mm, &after);
    cr_assert(mm_snapshot_equal(&before, &after));
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
}

Test(mm_batch, bad_counts_and_sizes_are_refused_and_change_nothing)
{
    assert_refused(PAGE, 0, MM_ERR_BAD_COUNT);
    assert_refused(PAGE, MM_BATCH_MAX + 1, MM_ERR_BAD_COUNT);
    assert_refused(0, 1, MM_ERR_ZERO_SIZE);
    assert_refused(UINT64_MAX / 2, 4, MM_ERR_OUT_OF_MEMORY);
    assert_refused(R_SIZE / 2, 3, MM_ERR_OUT_OF_MEMORY);
}

Test(mm_batch, a_failed_retype_many_changes_nothing)
{
    fake.fail_retype = 1;
    assert_refused(PAGE, 8, MM_ERR_RETYPE);
    cr_assert_eq(fake.nlive, 0);
}

Test(mm_batch, cap_ops_without_retype_many_cannot_batch_and_nothing_changes)
{
    teardown();
    start(&fake_ops);
    assert_refused(PAGE, 4, MM_ERR_NO_BATCH_OP);
    cr_assert_eq(fake.retypes, 0);
}

Test(mm_batch, many_batches_need_record_refills_and_stay_consistent)
{
    struct mm_block out[MM_BATCH_MAX];
    size_t batches = R_SIZE / (MM_BATCH_MAX * PAGE);
    for (size_t b = 0; b < batches; b++)
        batch_ok(PAGE, MM_BATCH_MAX, out);
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_eq(st.free, 0);
    cr_assert_eq(st.allocations, batches * MM_BATCH_MAX);
    fake_check_caps(&mm);
    cr_assert_eq(err_no(mm_alloc_batch(&mm, PAGE, 1, KIND, out)), MM_ERR_OUT_OF_MEMORY);
}

/* ---- A batch is one segment until a piece is freed (mm.c) ---- */

/* Every piece still allocated is found by mm_cap_of, at any of its pages,
 * with its own live capability; freed ones (gone[i]) are not. */
static void assert_pieces(const struct mm_block *out, size_t count, const bool *gone)
{
    for (size_t i = 0; i < count; i++) {
        for (uint64_t off = 0; off < out[i].size; off += PAGE) {
            struct mm_block b;
            errval_t err = mm_cap_of(&mm, out[i].base + off, &b);
            if (gone[i]) {
                cr_assert_eq(err_no(err), MM_ERR_NOT_ALLOCATED, "piece %zu was freed", i);
                continue;
            }
            cr_assert(err_is_ok(err), "piece %zu: %s", i, err_getcode(err_no(err)));
            cr_assert(b.base == out[i].base && b.size == out[i].size && b.cap == out[i].cap,
                      "piece %zu is itself, with its own cap", i);
            cr_assert(fake_cap_get(b.cap)->live);
        }
    }
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
}

static void free_piece(const struct mm_block *out, size_t i, bool *gone)
{
    errval_t err = mm_free(&mm, out[i].base, out[i].size);
    cr_assert(err_is_ok(err), "freeing piece %zu: %s", i, err_getcode(err_no(err)));
    cr_assert_not(fake_cap_get(out[i].cap)->live);
    gone[i] = true;
}

Test(mm_batch, a_batch_is_one_tree_record_and_mm_cap_of_finds_each_piece)
{
    struct mm_block out[MM_BATCH_MAX];
    bool gone[MM_BATCH_MAX] = { false };
    batch_ok(PAGE, MM_BATCH_MAX, out);
    cr_assert_eq(mm.alloc_tree.count, 1, "one record in the allocation tree");
    assert_pieces(out, MM_BATCH_MAX, gone);
}

Test(mm_batch, freeing_the_middle_first_and_last_pieces_leaves_the_others_whole)
{
    struct mm_block out[MM_BATCH_MAX];
    bool gone[MM_BATCH_MAX] = { false };
    batch_ok(PAGE, MM_BATCH_MAX, out);
    free_piece(out, 7, gone);
    cr_assert_eq(mm.alloc_tree.count, 2, "the parts on either side stay batches");
    assert_pieces(out, MM_BATCH_MAX, gone);
    free_piece(out, 0, gone);
    assert_pieces(out, MM_BATCH_MAX, gone);
    free_piece(out, MM_BATCH_MAX - 1, gone);
    assert_pieces(out, MM_BATCH_MAX, gone);
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_eq(st.allocations, MM_BATCH_MAX - 3);
    cr_assert_eq(st.free, R_SIZE - (MM_BATCH_MAX - 3) * PAGE);
}

Test(mm_batch, pieces_freed_in_any_order_give_every_byte_back)
{
    static const size_t order[MM_BATCH_MAX] = { 5, 12, 0, 15, 6, 4, 9, 1, 14, 3, 8, 10, 2, 13, 7, 11 };
    struct mm_block out[MM_BATCH_MAX];
    bool gone[MM_BATCH_MAX] = { false };
    batch_ok(2 * PAGE, MM_BATCH_MAX, out);
    for (size_t k = 0; k < MM_BATCH_MAX; k++) {
        free_piece(out, order[k], gone);
        assert_pieces(out, MM_BATCH_MAX, gone);
    }
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_eq(st.free, R_SIZE);
    cr_assert_eq(st.allocations, 0);
    cr_assert_eq(st.free_blocks, 1, "the region is one free segment again");
    cr_assert_eq(fake.nlive, 0);
}

Test(mm_batch, a_part_of_a_piece_is_freed_as_from_any_allocation)
{
    struct mm_block out[4];
    batch_ok(4 * PAGE, 4, out);
    cr_assert(err_is_ok(mm_free(&mm, out[2].base + PAGE, PAGE)));   /* the second page of piece 2 */
    cr_assert_not(fake_cap_get(out[2].cap)->live, "the piece's cap is remade for what stays");
    struct mm_block low, high;
    cr_assert(err_is_ok(mm_cap_of(&mm, out[2].base, &low)));
    cr_assert(err_is_ok(mm_cap_of(&mm, out[2].base + 2 * PAGE, &high)));
    cr_assert(low.size == PAGE && high.base == out[2].base + 2 * PAGE && high.size == 2 * PAGE);
    cr_assert_eq(err_no(mm_cap_of(&mm, out[2].base + PAGE, &low)), MM_ERR_NOT_ALLOCATED);
    /* The piece as it was is no more; its neighbours are untouched. */
    cr_assert(mm_check(&mm));
    fake_check_caps(&mm);
    for (size_t i = 0; i < 4; i++)
        if (i != 2)
            cr_assert(fake_cap_get(out[i].cap)->live);
    cr_assert_eq(fake.retype_many_calls, 1);
}

Test(mm_batch, a_free_across_two_pieces_or_past_the_batch_is_refused_and_changes_nothing)
{
    struct mm_block out[4], after;
    batch_ok(PAGE, 4, out);
    struct mm_snapshot before, now;
    mm_snapshot(&mm, &before);
    cr_assert_eq(err_no(mm_free(&mm, out[1].base, 2 * PAGE)), MM_ERR_FREE_CROSSES);
    cr_assert_eq(err_no(mm_free(&mm, out[0].base, 4 * PAGE)), MM_ERR_FREE_CROSSES, "the batch is 4 allocations");
    cr_assert_eq(err_no(mm_free(&mm, out[3].base, 2 * PAGE)), MM_ERR_FREE_CROSSES);
    mm_snapshot(&mm, &now);
    cr_assert(mm_snapshot_equal(&before, &now));
    cr_assert_eq(mm.alloc_tree.count, 1, "still one record");
    cr_assert(err_is_ok(mm_cap_of(&mm, out[3].base, &after)) && after.cap == out[3].cap);
}

Test(mm_batch, a_piece_whose_free_fails_in_destroy_stays_and_the_batch_with_it)
{
    struct mm_block out[4];
    bool gone[4] = { false };
    batch_ok(PAGE, 4, out);
    fake.fail_destroy = 1;
    errval_t err = mm_free(&mm, out[1].base, PAGE);
    cr_assert_eq(err_no(err), MM_ERR_DESTROY);
    assert_pieces(out, 4, gone);        /* every piece as it was, piece 1 too */
    free_piece(out, 1, gone);
    assert_pieces(out, 4, gone);
}

Test(mm_batch, without_caps_pieces_are_freed_one_by_one_too)
{
    teardown();
    start(NULL);
    struct mm_block out[5];
    batch_ok(PAGE, 5, out);
    cr_assert(err_is_ok(mm_free(&mm, out[3].base, PAGE)));
    cr_assert_eq(err_no(mm_free(&mm, out[3].base, PAGE)), MM_ERR_NOT_ALLOCATED, "a second free");
    cr_assert(err_is_ok(mm_free(&mm, out[0].base, PAGE)));
    struct mm_block b;
    cr_assert(err_is_ok(mm_cap_of(&mm, out[4].base, &b)) && b.base == out[4].base && b.cap == MM_CAP_NONE);
    struct mm_stats st;
    mm_stats(&mm, &st);
    cr_assert_eq(st.allocations, 3);
    cr_assert(mm_check(&mm));
    for (size_t i = 1; i < 5; i++)
        if (i != 3)
            cr_assert(err_is_ok(mm_free(&mm, out[i].base, PAGE)));
    mm_stats(&mm, &st);
    cr_assert(st.free == R_SIZE && st.free_blocks == 1 && st.allocations == 0);
}
