/*
 * test_vregion.c — the regions of a user address space (lib/os/vregion.c):
 * each operation, each bad input refused with its named error and no
 * change, reservations anywhere (every alignment to 1 GiB) and at fixed
 * addresses (32 TiB), mappings of any page multiple, merging on free,
 * lookups at region edges, records and the lock. The long random run
 * against a model is test_vregion_property.c.
 *
 * The space is the whole canonical user range above the first 64 KiB, as
 * a program's would be; a few tests use a small one to run it out.
 */
#include "vregion_fake.h"

#define LO (64 * KiB)
#define HI VREGION_VA_LIMIT
#define RW VREGION_ATTR_RW
#define RX (VREGION_ATTR_READ | VREGION_ATTR_EXEC)

static struct vregion_space vs;
static struct snapshot before;

static void setup(void)
{
    vfake_space_init(&vs, LO, HI, true);
}

TestSuite(vregion, .init = setup);

/* The region containing addr is exactly this. */
static void expect_region(uint64_t addr, enum vregion_state state, uint64_t base, uint64_t size,
                          uint32_t attrs, uint64_t cookie)
{
    struct vregion_info info;
    errval_t err = vregion_lookup(&vs, addr, &info);
    cr_assert(err_is_ok(err), "lookup %#lx: %s", addr, err_getcode(err_no(err)));
    cr_assert_eq(info.state, state, "state at %#lx", addr);
    cr_assert_eq(info.base, base, "base at %#lx: %#lx", addr, info.base);
    cr_assert_eq(info.size, size, "size at %#lx: %#lx", addr, info.size);
    cr_assert_eq(info.attrs, attrs, "attrs at %#lx", addr);
    cr_assert_eq(info.cookie, cookie, "cookie at %#lx", addr);
}

static void ok(errval_t err)
{
    cr_assert(err_is_ok(err), "unexpected %s", err_getcode(err_no(err)));
    cr_assert(vregion_check(&vs), "vregion_check failed");
}

static size_t region_count(void)
{
    struct vregion_stats st;
    vregion_stats(&vs, &st);
    return st.regions;
}

/* ---- Initialisation. ---- */

Test(vregion, init_makes_one_free_region_covering_the_space)
{
    expect_region(LO, VREGION_FREE, LO, HI - LO, 0, 0);
    struct vregion_stats st;
    vregion_stats(&vs, &st);
    cr_assert_eq(st.total, HI - LO);
    cr_assert_eq(st.free, HI - LO);
    cr_assert_eq(st.largest_free, HI - LO);
    cr_assert_eq(st.regions, 1);
    cr_assert(vregion_check(&vs));
}

Test(vregion, init_refuses_empty_misaligned_or_non_canonical_bounds)
{
    struct vregion_space other;
    cr_assert_eq(err_no(vregion_init(&other, 8 * KiB, 8 * KiB, NULL, NULL)), VREGION_ERR_BAD_SPACE);
    cr_assert_eq(err_no(vregion_init(&other, 8 * KiB, 4 * KiB, NULL, NULL)), VREGION_ERR_BAD_SPACE);
    cr_assert_eq(err_no(vregion_init(&other, 100, 8 * KiB, NULL, NULL)), VREGION_ERR_BAD_SPACE);
    cr_assert_eq(err_no(vregion_init(&other, 0, 8 * KiB + 1, NULL, NULL)), VREGION_ERR_BAD_SPACE);
    cr_assert_eq(err_no(vregion_init(&other, 0, HI + PAGE, NULL, NULL)), VREGION_ERR_BAD_SPACE);
}

/* ---- Fixed reservations. ---- */

Test(vregion, reserve_at_splits_a_free_region_into_three)
{
    ok(vregion_reserve_at(&vs, 1 * GiB, 16 * KiB, RW));
    expect_region(LO, VREGION_FREE, LO, GiB - LO, 0, 0);
    expect_region(GiB, VREGION_RESERVED, GiB, 16 * KiB, RW, 0);
    expect_region(GiB + 16 * KiB, VREGION_FREE, GiB + 16 * KiB, HI - GiB - 16 * KiB, 0, 0);
    cr_assert_eq(region_count(), 3);
}

Test(vregion, reserve_at_32_TiB_is_found_by_lookup_with_its_attributes)
{
    ok(vregion_reserve_at(&vs, 32 * TiB, 64 * MiB, RX));
    expect_region(32 * TiB + 5 * MiB + 17, VREGION_RESERVED, 32 * TiB, 64 * MiB, RX, 0);
}

Test(vregion, reserve_at_the_very_edges_of_the_space_leaves_no_empty_region)
{
    ok(vregion_reserve_at(&vs, LO, PAGE, RW));
    ok(vregion_reserve_at(&vs, HI - PAGE, PAGE, RW));
    expect_region(LO, VREGION_RESERVED, LO, PAGE, RW, 0);
    expect_region(HI - 1, VREGION_RESERVED, HI - PAGE, PAGE, RW, 0);
    expect_region(LO + PAGE, VREGION_FREE, LO + PAGE, HI - LO - 2 * PAGE, 0, 0);
    cr_assert_eq(region_count(), 3);
}

Test(vregion, reserve_at_over_a_reservation_is_refused)
{
    ok(vregion_reserve_at(&vs, GiB, 8 * PAGE, RW));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB + PAGE, PAGE, RW), VREGION_ERR_OVERLAP, &before);
}

Test(vregion, reserve_at_running_into_a_reservation_is_refused)
{
    ok(vregion_reserve_at(&vs, GiB, 8 * PAGE, RW));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB - PAGE, 2 * PAGE, RW), VREGION_ERR_OVERLAP,
                   &before);
}

Test(vregion, reserve_at_a_misaligned_base_is_refused)
{
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB + 512, PAGE, RW), VREGION_ERR_MISALIGNED,
                   &before);
}

Test(vregion, reserve_at_with_zero_or_partial_page_size_is_refused)
{
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB, 0, RW), VREGION_ERR_BAD_SIZE, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB, PAGE + 1, RW), VREGION_ERR_BAD_SIZE, &before);
}

Test(vregion, reserve_at_a_non_canonical_address_is_refused)
{
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, HI, PAGE, RW), VREGION_ERR_NOT_CANONICAL, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, 0xffff000000000000ull, PAGE, RW),
                   VREGION_ERR_NOT_CANONICAL, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, HI - PAGE, 2 * PAGE, RW),
                   VREGION_ERR_NOT_CANONICAL, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB, UINT64_MAX & ~(PAGE - 1), RW),
                   VREGION_ERR_NOT_CANONICAL, &before);
}

Test(vregion, reserve_at_below_the_space_is_refused)
{
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, 0, PAGE, RW), VREGION_ERR_OUTSIDE, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, LO - PAGE, 2 * PAGE, RW), VREGION_ERR_OUTSIDE,
                   &before);
}

Test(vregion, reserve_with_contradictory_attributes_is_refused)
{
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB, PAGE, VREGION_ATTR_WRITE),
                   VREGION_ERR_BAD_ATTRS, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB, PAGE, RW | VREGION_ATTR_DEVICE),
                   VREGION_ERR_BAD_ATTRS, &before);
    assert_refused(&vs, vregion_reserve_at(&vs, GiB, PAGE, 0x100), VREGION_ERR_BAD_ATTRS, &before);
    uint64_t base = 0;
    assert_refused(&vs, vregion_reserve_any(&vs, PAGE, PAGE, VREGION_ATTR_WRITE, &base),
                   VREGION_ERR_BAD_ATTRS, &before);
}

Test(vregion, a_guard_reservation_has_no_access_attributes)
{
    ok(vregion_reserve_at(&vs, GiB - PAGE, PAGE, 0));
    ok(vregion_reserve_at(&vs, GiB, 64 * KiB, RW));
    expect_region(GiB - 1, VREGION_RESERVED, GiB - PAGE, PAGE, 0, 0);
    expect_region(GiB, VREGION_RESERVED, GiB, 64 * KiB, RW, 0);
}

/* ---- Reservations anywhere. ---- */

Test(vregion, reserve_any_takes_the_lowest_free_address)
{
    uint64_t a = 0, b = 0;
    ok(vregion_reserve_any(&vs, 3 * PAGE, PAGE, RW, &a));
    ok(vregion_reserve_any(&vs, PAGE, PAGE, RW, &b));
    cr_assert_eq(a, LO);
    cr_assert_eq(b, LO + 3 * PAGE);
    ok(vregion_free(&vs, a, 3 * PAGE));
    ok(vregion_reserve_any(&vs, 2 * PAGE, PAGE, RW, &a));
    cr_assert_eq(a, LO, "a freed hole low in the space is used again");
}

Test(vregion, reserve_any_honours_every_alignment_up_to_1_GiB)
{
    for (uint64_t align = PAGE; align <= GiB; align <<= 1) {
        uint64_t base = 0;
        ok(vregion_reserve_any(&vs, PAGE, align, RW, &base));
        cr_assert_eq(base & (align - 1), 0, "alignment %#lx: base %#lx", align, base);
        expect_region(base, VREGION_RESERVED, base, PAGE, RW, 0);
    }
}

Test(vregion, reserve_any_at_1_GiB_alignment_skips_the_unaligned_start)
{
    uint64_t base = 0;
    ok(vregion_reserve_any(&vs, 5 * MiB, GiB, RW, &base));
    cr_assert_eq(base, GiB);
    expect_region(LO, VREGION_FREE, LO, GiB - LO, 0, 0);
}

Test(vregion, reserve_any_skips_a_gap_that_is_large_enough_but_misaligned)
{
    /* The free gap [2 MiB + 4 KiB, 6 MiB) is larger than the request, but
     * from its only 2 MiB multiple, 4 MiB, too little of it is left. */
    ok(vregion_reserve_at(&vs, LO, 2 * MiB + PAGE - LO, RW));
    ok(vregion_reserve_at(&vs, 6 * MiB, PAGE, RW));
    uint64_t base = 0;
    ok(vregion_reserve_any(&vs, 4 * MiB - 2 * PAGE, 2 * MiB, RW, &base));
    cr_assert_eq(base, 8 * MiB, "the lowest 2 MiB multiple with room is above the second reservation");
}

Test(vregion, reserve_any_with_a_bad_alignment_is_refused)
{
    uint64_t base = 0;
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_any(&vs, PAGE, 0, RW, &base), VREGION_ERR_BAD_ALIGNMENT,
                   &before);
    assert_refused(&vs, vregion_reserve_any(&vs, PAGE, 3 * PAGE, RW, &base),
                   VREGION_ERR_BAD_ALIGNMENT, &before);
    assert_refused(&vs, vregion_reserve_any(&vs, PAGE, 2 * KiB, RW, &base),
                   VREGION_ERR_BAD_ALIGNMENT, &before);
    assert_refused(&vs, vregion_reserve_any(&vs, PAGE, 2 * GiB, RW, &base),
                   VREGION_ERR_BAD_ALIGNMENT, &before);
}

Test(vregion, reserve_any_with_a_bad_size_is_refused)
{
    uint64_t base = 0;
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_any(&vs, 0, PAGE, RW, &base), VREGION_ERR_BAD_SIZE, &before);
    assert_refused(&vs, vregion_reserve_any(&vs, 100, PAGE, RW, &base), VREGION_ERR_BAD_SIZE,
                   &before);
}

Test(vregion, reserve_any_larger_than_the_space_reports_exhaustion)
{
    uint64_t base = 0;
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_any(&vs, HI, PAGE, RW, &base), VREGION_ERR_NO_SPACE, &before);
    assert_refused(&vs, vregion_reserve_any(&vs, UINT64_MAX & ~(PAGE - 1), GiB, RW, &base),
                   VREGION_ERR_NO_SPACE, &before);
}

Test(vregion, reserve_any_in_an_exhausted_space_is_refused_and_changes_nothing)
{
    vfake_space_init(&vs, 16 * MiB, 16 * MiB + 64 * PAGE, true);
    uint64_t base = 0;
    for (int i = 0; i < 32; i++)
        ok(vregion_reserve_any(&vs, 2 * PAGE, PAGE, RW, &base));
    snap_take(&vs, &before);
    cr_assert_eq(before.st.free, 0);
    assert_refused(&vs, vregion_reserve_any(&vs, PAGE, PAGE, RW, &base), VREGION_ERR_NO_SPACE,
                   &before);
}

Test(vregion, reserve_any_refuses_an_aligned_request_no_gap_can_hold)
{
    vfake_space_init(&vs, 16 * MiB + PAGE, 20 * MiB, true);
    uint64_t base = 0;
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_reserve_any(&vs, 2 * MiB, 4 * MiB, RW, &base), VREGION_ERR_NO_SPACE,
                   &before);
}

/* ---- Mappings. ---- */

Test(vregion, mark_mapped_inside_a_reservation_splits_it_and_keeps_the_cookie)
{
    ok(vregion_reserve_at(&vs, GiB, 16 * PAGE, RW));
    ok(vregion_mark_mapped(&vs, GiB + 4 * PAGE, 2 * PAGE, VREGION_ATTR_READ, 77));
    expect_region(GiB, VREGION_RESERVED, GiB, 4 * PAGE, RW, 0);
    expect_region(GiB + 5 * PAGE, VREGION_MAPPED, GiB + 4 * PAGE, 2 * PAGE, VREGION_ATTR_READ, 77);
    expect_region(GiB + 6 * PAGE, VREGION_RESERVED, GiB + 6 * PAGE, 10 * PAGE, RW, 0);
}

Test(vregion, mark_mapped_at_a_fixed_address_in_free_space)
{
    ok(vregion_mark_mapped(&vs, 32 * TiB, 5 * MiB, RW, 9));
    expect_region(32 * TiB + 5 * MiB - 1, VREGION_MAPPED, 32 * TiB, 5 * MiB, RW, 9);
    struct vregion_stats st;
    vregion_stats(&vs, &st);
    cr_assert_eq(st.mapped, 5 * MiB);
}

Test(vregion, a_reservation_anywhere_can_be_mapped_whole_with_device_attributes)
{
    uint64_t base = 0;
    ok(vregion_reserve_any(&vs, 2 * MiB, 2 * MiB, RW, &base));
    ok(vregion_mark_mapped(&vs, base, 2 * MiB, RW | VREGION_ATTR_DEVICE, 5));
    expect_region(base, VREGION_MAPPED, base, 2 * MiB, RW | VREGION_ATTR_DEVICE, 5);
    cr_assert_eq(region_count(), 3, "a whole-region change splits nothing");
}

Test(vregion, the_same_frame_can_be_mapped_many_times)
{
    /* The cookie stands for the frame: the regions do not care. */
    uint64_t base[8];
    for (int i = 0; i < 8; i++) {
        ok(vregion_reserve_any(&vs, 5 * MiB, 2 * MiB, RW, &base[i]));
        ok(vregion_mark_mapped(&vs, base[i], 5 * MiB, RW, 1234));
    }
    for (int i = 0; i < 8; i++)
        expect_region(base[i], VREGION_MAPPED, base[i], 5 * MiB, RW, 1234);
}

Test(vregion, mapping_over_an_existing_mapping_is_refused)
{
    ok(vregion_mark_mapped(&vs, GiB, 4 * PAGE, RW, 1));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_mark_mapped(&vs, GiB + PAGE, PAGE, RW, 2),
                   VREGION_ERR_ALREADY_MAPPED, &before);
    assert_refused(&vs, vregion_mark_mapped(&vs, GiB, 4 * PAGE, RW, 2),
                   VREGION_ERR_ALREADY_MAPPED, &before);
}

Test(vregion, mapping_a_range_that_runs_into_a_mapping_is_refused)
{
    ok(vregion_mark_mapped(&vs, GiB, 4 * PAGE, RW, 1));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_mark_mapped(&vs, GiB - PAGE, 2 * PAGE, RW, 2), VREGION_ERR_CROSSES,
                   &before);
}

Test(vregion, mapping_across_a_reservation_boundary_is_refused)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_mark_mapped(&vs, GiB + 3 * PAGE, 2 * PAGE, RW, 2),
                   VREGION_ERR_CROSSES, &before);
}

Test(vregion, mapping_device_memory_executable_is_refused)
{
    snap_take(&vs, &before);
    assert_refused(&vs,
                   vregion_mark_mapped(&vs, GiB, PAGE, RX | VREGION_ATTR_DEVICE, 1),
                   VREGION_ERR_BAD_ATTRS, &before);
}

Test(vregion, mapping_a_misaligned_or_non_canonical_address_is_refused)
{
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_mark_mapped(&vs, GiB + 8, PAGE, RW, 1), VREGION_ERR_MISALIGNED,
                   &before);
    assert_refused(&vs, vregion_mark_mapped(&vs, 1ull << 50, PAGE, RW, 1),
                   VREGION_ERR_NOT_CANONICAL, &before);
}

/* ---- Unmapping (mapped back to reserved). ---- */

Test(vregion, mark_reserved_turns_a_mapping_back_into_a_reservation)
{
    ok(vregion_reserve_at(&vs, GiB, 8 * PAGE, RW));
    ok(vregion_mark_mapped(&vs, GiB + 2 * PAGE, 2 * PAGE, RW, 3));
    ok(vregion_mark_reserved(&vs, GiB + 2 * PAGE, 2 * PAGE, RW));
    expect_region(GiB + 2 * PAGE, VREGION_RESERVED, GiB + 2 * PAGE, 2 * PAGE, RW, 0);
    struct vregion_stats st;
    vregion_stats(&vs, &st);
    cr_assert_eq(st.mapped, 0);
    cr_assert_eq(st.reserved, 8 * PAGE);
}

Test(vregion, mark_reserved_of_part_of_a_mapping_keeps_the_rest_mapped)
{
    ok(vregion_mark_mapped(&vs, GiB, 4 * PAGE, RW, 3));
    ok(vregion_mark_reserved(&vs, GiB + PAGE, PAGE, RW));
    expect_region(GiB, VREGION_MAPPED, GiB, PAGE, RW, 3);
    expect_region(GiB + PAGE, VREGION_RESERVED, GiB + PAGE, PAGE, RW, 0);
    expect_region(GiB + 2 * PAGE, VREGION_MAPPED, GiB + 2 * PAGE, 2 * PAGE, RW, 3);
}

Test(vregion, unmapping_what_was_never_mapped_is_refused)
{
    ok(vregion_reserve_at(&vs, GiB, 8 * PAGE, RW));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_mark_reserved(&vs, GiB, PAGE, RW), VREGION_ERR_NOT_MAPPED, &before);
    assert_refused(&vs, vregion_mark_reserved(&vs, 2 * GiB, PAGE, RW), VREGION_ERR_NOT_MAPPED,
                   &before);
}

Test(vregion, unmapping_past_the_end_of_a_mapping_is_refused)
{
    ok(vregion_mark_mapped(&vs, GiB, 2 * PAGE, RW, 3));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_mark_reserved(&vs, GiB, 3 * PAGE, RW), VREGION_ERR_CROSSES, &before);
}

/* ---- Freeing. ---- */

Test(vregion, free_of_a_whole_reservation_merges_with_both_free_neighbours)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    ok(vregion_free(&vs, GiB, 4 * PAGE));
    expect_region(GiB, VREGION_FREE, LO, HI - LO, 0, 0);
    cr_assert_eq(region_count(), 1);
}

Test(vregion, free_merges_with_a_free_neighbour_below_only)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    ok(vregion_reserve_at(&vs, GiB + 4 * PAGE, 4 * PAGE, RW));
    ok(vregion_free(&vs, GiB, 4 * PAGE));
    expect_region(GiB, VREGION_FREE, LO, GiB + 4 * PAGE - LO, 0, 0);
    expect_region(GiB + 4 * PAGE, VREGION_RESERVED, GiB + 4 * PAGE, 4 * PAGE, RW, 0);
}

Test(vregion, free_merges_with_a_free_neighbour_above_only)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    ok(vregion_reserve_at(&vs, GiB + 4 * PAGE, 4 * PAGE, RW));
    ok(vregion_free(&vs, GiB + 4 * PAGE, 4 * PAGE));
    expect_region(GiB + 4 * PAGE, VREGION_FREE, GiB + 4 * PAGE, HI - GiB - 4 * PAGE, 0, 0);
    expect_region(GiB, VREGION_RESERVED, GiB, 4 * PAGE, RW, 0);
}

Test(vregion, free_of_the_middle_of_a_reservation_leaves_two)
{
    ok(vregion_reserve_at(&vs, GiB, 8 * PAGE, RW));
    ok(vregion_free(&vs, GiB + 2 * PAGE, 3 * PAGE));
    expect_region(GiB, VREGION_RESERVED, GiB, 2 * PAGE, RW, 0);
    expect_region(GiB + 2 * PAGE, VREGION_FREE, GiB + 2 * PAGE, 3 * PAGE, 0, 0);
    expect_region(GiB + 5 * PAGE, VREGION_RESERVED, GiB + 5 * PAGE, 3 * PAGE, RW, 0);
}

Test(vregion, free_of_a_mapping_returns_it_to_free_space)
{
    ok(vregion_mark_mapped(&vs, GiB, 5 * MiB, RW, 3));
    ok(vregion_free(&vs, GiB, 5 * MiB));
    cr_assert_eq(region_count(), 1);
}

Test(vregion, everything_freed_in_any_order_leaves_one_free_region)
{
    uint64_t base[16];
    for (int i = 0; i < 16; i++)
        ok(vregion_reserve_any(&vs, (uint64_t)(i + 1) * PAGE, PAGE, RW, &base[i]));
    for (int i = 0; i < 16; i += 2)
        ok(vregion_free(&vs, base[i], (uint64_t)(i + 1) * PAGE));
    for (int i = 15; i > 0; i -= 2)
        ok(vregion_free(&vs, base[i], (uint64_t)(i + 1) * PAGE));
    expect_region(LO, VREGION_FREE, LO, HI - LO, 0, 0);
    cr_assert_eq(region_count(), 1);
}

Test(vregion, freeing_free_space_is_refused)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    ok(vregion_free(&vs, GiB, 4 * PAGE));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_free(&vs, GiB, 4 * PAGE), VREGION_ERR_NOT_ALLOCATED, &before);
}

Test(vregion, freeing_a_range_across_two_regions_is_refused)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    ok(vregion_reserve_at(&vs, GiB + 4 * PAGE, 4 * PAGE, RW));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_free(&vs, GiB + 2 * PAGE, 4 * PAGE), VREGION_ERR_CROSSES, &before);
}

Test(vregion, freeing_a_bad_range_is_refused)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    snap_take(&vs, &before);
    assert_refused(&vs, vregion_free(&vs, GiB, 0), VREGION_ERR_BAD_SIZE, &before);
    assert_refused(&vs, vregion_free(&vs, GiB + 1, PAGE), VREGION_ERR_MISALIGNED, &before);
    assert_refused(&vs, vregion_free(&vs, 0, PAGE), VREGION_ERR_OUTSIDE, &before);
    assert_refused(&vs, vregion_free(&vs, HI, PAGE), VREGION_ERR_NOT_CANONICAL, &before);
}

/* ---- Lookup and walks. ---- */

Test(vregion, lookup_finds_the_region_at_its_first_and_last_byte_and_not_beyond)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    expect_region(GiB - 1, VREGION_FREE, LO, GiB - LO, 0, 0);
    expect_region(GiB, VREGION_RESERVED, GiB, 4 * PAGE, RW, 0);
    expect_region(GiB + 4 * PAGE - 1, VREGION_RESERVED, GiB, 4 * PAGE, RW, 0);
    expect_region(GiB + 4 * PAGE, VREGION_FREE, GiB + 4 * PAGE, HI - GiB - 4 * PAGE, 0, 0);
    expect_region(HI - 1, VREGION_FREE, GiB + 4 * PAGE, HI - GiB - 4 * PAGE, 0, 0);
}

Test(vregion, lookup_after_the_region_it_last_found_changed_or_merged_away_sees_the_change)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    expect_region(GiB + PAGE, VREGION_RESERVED, GiB, 4 * PAGE, RW, 0);
    ok(vregion_mark_mapped(&vs, GiB + PAGE, PAGE, RW, 8));
    expect_region(GiB + PAGE, VREGION_MAPPED, GiB + PAGE, PAGE, RW, 8);
    expect_region(GiB + 3 * PAGE, VREGION_RESERVED, GiB + 2 * PAGE, 2 * PAGE, RW, 0);
    ok(vregion_free(&vs, GiB + 2 * PAGE, 2 * PAGE));     /* merges into the free region above */
    cr_assert(vregion_check(&vs));
    expect_region(GiB + 3 * PAGE, VREGION_FREE, GiB + 2 * PAGE, HI - GiB - 2 * PAGE, 0, 0);
    expect_region(GiB + PAGE, VREGION_MAPPED, GiB + PAGE, PAGE, RW, 8);
}

Test(vregion, lookup_outside_the_space_or_non_canonical_is_refused)
{
    struct vregion_info info;
    cr_assert_eq(err_no(vregion_lookup(&vs, LO - 1, &info)), VREGION_ERR_OUTSIDE);
    cr_assert_eq(err_no(vregion_lookup(&vs, 0, &info)), VREGION_ERR_OUTSIDE);
    cr_assert_eq(err_no(vregion_lookup(&vs, HI, &info)), VREGION_ERR_NOT_CANONICAL);
    cr_assert_eq(err_no(vregion_lookup(&vs, UINT64_MAX, &info)), VREGION_ERR_NOT_CANONICAL);
}

Test(vregion, a_lookup_loop_visits_each_region_overlapping_a_range_once)
{
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    ok(vregion_mark_mapped(&vs, GiB + PAGE, PAGE, RW, 8));
    ok(vregion_reserve_at(&vs, GiB + 8 * PAGE, 4 * PAGE, RW));
    uint64_t bases[8];
    int n = 0;
    struct vregion_info info;
    for (uint64_t x = GiB + 2 * PAGE; x < GiB + 9 * PAGE; x = info.base + info.size) {
        ok(vregion_lookup(&vs, x, &info));
        cr_assert_lt(n, 8);
        bases[n++] = info.base;
    }
    cr_assert_eq(n, 3);
    cr_assert_eq(bases[0], GiB + 2 * PAGE);
    cr_assert_eq(bases[1], GiB + 4 * PAGE);
    cr_assert_eq(bases[2], GiB + 8 * PAGE);
}

Test(vregion, walk_reports_the_regions_overlapping_a_range_in_order)
{
    static struct snapshot s;
    ok(vregion_reserve_at(&vs, GiB, 4 * PAGE, RW));
    ok(vregion_mark_mapped(&vs, GiB + 6 * PAGE, 2 * PAGE, RW, 4));
    s.n = 0;
    vregion_walk(&vs, GiB + 3 * PAGE, 4 * PAGE, snap_add, &s);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.r[0].base, GiB);
    cr_assert_eq(s.r[1].state, VREGION_FREE);
    cr_assert_eq(s.r[2].cookie, 4);
    s.n = 0;
    vregion_walk(&vs, 0, LO, snap_add, &s);
    cr_assert_eq(s.n, 0, "nothing lies below the space");
}

/* ---- Stats. ---- */

Test(vregion, stats_count_bytes_in_each_state_and_the_largest_gap)
{
    vfake_space_init(&vs, 0, 64 * MiB, true);
    ok(vregion_reserve_at(&vs, 16 * MiB, 16 * MiB, RW));
    ok(vregion_mark_mapped(&vs, 20 * MiB, 4 * MiB, RW, 1));
    struct vregion_stats st;
    vregion_stats(&vs, &st);
    cr_assert_eq(st.total, 64 * MiB);
    cr_assert_eq(st.free, 48 * MiB);
    cr_assert_eq(st.reserved, 12 * MiB);
    cr_assert_eq(st.mapped, 4 * MiB);
    cr_assert_eq(st.largest_free, 32 * MiB);
    cr_assert_eq(st.regions, 5);
}

/* ---- Records and the lock. ---- */

Test(vregion, running_out_of_records_is_refused_and_changes_nothing)
{
    vfake_space_init(&vs, LO, HI, false);
    errval_t err = SYS_ERR_OK;
    uint64_t addr = GiB;
    for (int i = 0; i < 1000 && err_is_ok(err); i++) {
        snap_take(&vs, &before);
        err = vregion_reserve_at(&vs, addr, PAGE, RW);
        addr += 2 * PAGE;
    }
    assert_refused(&vs, err, VREGION_ERR_NO_RECORDS, &before);
    cr_assert(err_contains(err, LIB_ERR_SLAB_EMPTY), "the slab's error is below ours");
    /* A change that needs no new record still works. */
    ok(vregion_mark_mapped(&vs, GiB, PAGE, RW, 1));
}

Test(vregion, the_refill_adds_records_for_thousands_of_regions)
{
    uint64_t base = 0;
    for (int i = 0; i < 5000; i++)
        ok(vregion_reserve_at(&vs, GiB + (uint64_t)i * 2 * PAGE, PAGE, RW));
    cr_assert_eq(region_count(), 10001);
    cr_assert_gt(vfake.refills, 0);
    ok(vregion_reserve_any(&vs, PAGE, PAGE, RW, &base));
    cr_assert_eq(base, LO);
}

Test(vregion, a_failing_refill_is_reported_as_out_of_records)
{
    vfake.refill_fails = true;
    errval_t err = SYS_ERR_OK;
    for (int i = 0; i < 1000 && err_is_ok(err); i++) {
        snap_take(&vs, &before);
        err = vregion_reserve_at(&vs, GiB + (uint64_t)i * 2 * PAGE, PAGE, RW);
    }
    assert_refused(&vs, err, VREGION_ERR_NO_RECORDS, &before);
    vfake.refill_fails = false;
    ok(vregion_reserve_at(&vs, 512 * GiB, PAGE, RW));
}

Test(vregion, every_operation_takes_and_releases_the_lock)
{
    uint64_t base = 0;
    unsigned before_ops = vfake.acquires;
    ok(vregion_reserve_any(&vs, PAGE, PAGE, RW, &base));
    cr_assert_gt(vfake.acquires, before_ops);
    cr_assert_not(vfake.locked);
    struct vregion_info info;
    before_ops = vfake.acquires;
    cr_assert(err_is_ok(vregion_lookup(&vs, base, &info)));
    cr_assert_eq(vfake.acquires, before_ops + 1);
    cr_assert_not(vfake.locked);
}
