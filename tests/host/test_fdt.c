/*
 * test_fdt.c — lib/base/fdt.c on blobs written by tests/host/fdt_builder.c:
 * small well-formed trees for the query semantics, and one malformed blob
 * per rule that fdt_open enforces. The real QEMU tree is in test_fdt_qemu.c.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include <base/fdt.h>

#include "fdt_builder.h"

/* One builder per test process (Criterion forks each test). */
static struct fdtb builder;
static struct fdtb_blob blob;
static struct fdt fdt;

static void setup(void)
{
    fdtb_init(&builder);
}

static void teardown(void)
{
    fdtb_free(&blob);
}

TestSuite(fdt, .init = setup, .fini = teardown);

static errval_t open_blob(void)
{
    return fdt_open(&fdt, blob.data, blob.size);
}

static void open_ok(void)
{
    errval_t err = open_blob();
    cr_assert(err_is_ok(err), "fdt_open: %s", err_getcode(err_no(err)));
}

/* / { #address-cells = 2; #size-cells = 1; dev@1000 { reg; compatible; } } */
static void build_small_tree(void)
{
    static const uint32_t reg[] = { 0x0, 0x1000, 0x100, 0x1, 0x2000, 0x200 };
    static const char compat[] = "acme,widget\0acme,generic";
    fdtb_begin_node(&builder, "");
    fdtb_prop_u32(&builder, "#address-cells", 2);
    fdtb_prop_u32(&builder, "#size-cells", 1);
    fdtb_begin_node(&builder, "dev@1000");
    fdtb_prop_cells(&builder, "reg", reg, 6);
    fdtb_prop(&builder, "compatible", compat, sizeof(compat));
    fdtb_prop(&builder, "pair", reg, 8);
    fdtb_end_node(&builder);
    fdtb_begin_node(&builder, "leaf");
    fdtb_end_node(&builder);
    fdtb_end_node(&builder);
}

static int path_node(const char *path)
{
    int node = -1;
    errval_t err = fdt_path(&fdt, path, &node);
    cr_assert(err_is_ok(err), "fdt_path(%s): %s", path, err_getcode(err_no(err)));
    return node;
}

/* ---- Well-formed blobs. ---- */

Test(fdt, builder_tree_opens_and_its_nodes_are_found)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_str_eq(fdt_node_name(&fdt, path_node("/dev")), "dev@1000");
    cr_assert_str_eq(fdt_node_name(&fdt, path_node("/leaf")), "leaf");
}

Test(fdt, reg_decodes_entries_with_the_parents_cell_counts)
{
    uint64_t base = 0, size = 0;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert(err_is_ok(fdt_reg(&fdt, path_node("/dev"), 1, &base, &size)));
    cr_assert_eq(base, 0x100002000ull);
    cr_assert_eq(size, 0x200ull);
}

Test(fdt, reg_uses_two_address_and_one_size_cell_when_parent_gives_none)
{
    static const uint32_t reg[] = { 0x1, 0x2, 0x30 };
    uint64_t base = 0, size = 0;
    fdtb_begin_node(&builder, "");
    fdtb_begin_node(&builder, "dev");
    fdtb_prop_cells(&builder, "reg", reg, 3);
    fdtb_end_node(&builder);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert(err_is_ok(fdt_reg(&fdt, path_node("/dev"), 0, &base, &size)));
    cr_assert_eq(base, 0x100000002ull);
    cr_assert_eq(size, 0x30ull);
}

Test(fdt, reg_rejects_cell_counts_above_two)
{
    static const uint32_t reg[] = { 0, 0, 0, 0 };
    uint64_t base, size;
    fdtb_begin_node(&builder, "");
    fdtb_prop_u32(&builder, "#address-cells", 3);
    fdtb_begin_node(&builder, "dev");
    fdtb_prop_cells(&builder, "reg", reg, 4);
    fdtb_end_node(&builder);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_reg(&fdt, path_node("/dev"), 0, &base, &size)), FDT_ERR_BAD_VALUE);
}

Test(fdt, reg_rejects_zero_address_cells)
{
    static const uint32_t reg[] = { 0x10 };
    uint64_t base, size;
    fdtb_begin_node(&builder, "");
    fdtb_prop_u32(&builder, "#address-cells", 0);
    fdtb_begin_node(&builder, "dev");
    fdtb_prop_cells(&builder, "reg", reg, 1);
    fdtb_end_node(&builder);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_reg(&fdt, path_node("/dev"), 0, &base, &size)), FDT_ERR_BAD_VALUE);
}

Test(fdt, reg_rejects_a_length_that_is_not_whole_entries)
{
    static const uint32_t reg[] = { 0, 0x1000, 0x100, 0 };
    uint64_t base, size;
    fdtb_begin_node(&builder, "");
    fdtb_begin_node(&builder, "dev");
    fdtb_prop_cells(&builder, "reg", reg, 4);   /* entries are 3 cells */
    fdtb_end_node(&builder);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_reg(&fdt, path_node("/dev"), 0, &base, &size)), FDT_ERR_BAD_VALUE);
}

Test(fdt, prop_u32_rejects_a_property_of_another_length)
{
    uint32_t value = 7;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_prop_u32(&fdt, path_node("/dev"), "pair", &value)), FDT_ERR_BAD_VALUE);
    cr_assert_eq(value, 7);
}

Test(fdt, prop_u32_rejects_an_empty_property)
{
    uint32_t value;
    fdtb_begin_node(&builder, "");
    fdtb_prop(&builder, "flag", NULL, 0);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_prop_u32(&fdt, fdt_root(&fdt), "flag", &value)), FDT_ERR_BAD_VALUE);
}

Test(fdt, prop_string_rejects_a_value_without_terminating_nul)
{
    const char *s;
    fdtb_begin_node(&builder, "");
    fdtb_prop(&builder, "model", "abcd", 4);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_prop_string(&fdt, fdt_root(&fdt), "model", &s)), FDT_ERR_BAD_VALUE);
}

Test(fdt, missing_property_is_not_found)
{
    const void *value;
    uint32_t len;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_prop(&fdt, path_node("/dev"), "status", &value, &len)),
                 FDT_ERR_NOT_FOUND);
}

Test(fdt, property_lookup_does_not_see_a_childs_properties)
{
    const void *value;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_prop(&fdt, fdt_root(&fdt), "reg", &value, NULL)), FDT_ERR_NOT_FOUND);
}

Test(fdt, property_value_and_length_are_returned)
{
    const void *value = NULL;
    uint32_t len = 0;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert(err_is_ok(fdt_prop(&fdt, path_node("/dev"), "reg", &value, &len)));
    cr_assert_eq(len, 24);
    cr_assert_eq(fdt_be32((const uint8_t *)value + 4), 0x1000);
}

Test(fdt, compatible_ignores_an_unterminated_last_string)
{
    static const char compat[] = { 'a', ',', 'b', '\0', 'c', ',', 'd' };
    fdtb_begin_node(&builder, "");
    fdtb_prop(&builder, "compatible", compat, sizeof(compat));
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert(fdt_is_compatible(&fdt, fdt_root(&fdt), "a,b"));
    cr_assert_not(fdt_is_compatible(&fdt, fdt_root(&fdt), "c,d"));
}

Test(fdt, find_compatible_can_match_the_root)
{
    int node = -1;
    fdtb_begin_node(&builder, "");
    fdtb_prop_string(&builder, "compatible", "acme,board");
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert(err_is_ok(fdt_find_compatible(&fdt, -1, "acme,board", &node)));
    cr_assert_eq(node, fdt_root(&fdt));
}

Test(fdt, first_child_of_a_leaf_is_not_found)
{
    int child = 5;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_first_child(&fdt, path_node("/leaf"), &child)), FDT_ERR_NOT_FOUND);
    cr_assert_eq(child, 5);
}

Test(fdt, next_sibling_of_the_last_child_is_not_found)
{
    int sibling;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_next_sibling(&fdt, path_node("/leaf"), &sibling)), FDT_ERR_NOT_FOUND);
}

Test(fdt, next_sibling_skips_the_subtree_of_the_node)
{
    int sibling = -1;
    fdtb_begin_node(&builder, "");
    fdtb_begin_node(&builder, "a");
    fdtb_begin_node(&builder, "a-child");
    fdtb_end_node(&builder);
    fdtb_end_node(&builder);
    fdtb_begin_node(&builder, "b");
    fdtb_end_node(&builder);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert(err_is_ok(fdt_next_sibling(&fdt, path_node("/a"), &sibling)));
    cr_assert_str_eq(fdt_node_name(&fdt, sibling), "b");
}

Test(fdt, root_has_no_sibling)
{
    int sibling;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_next_sibling(&fdt, fdt_root(&fdt), &sibling)), FDT_ERR_NOT_FOUND);
}

Test(fdt, next_node_reports_depths_and_ends_with_not_found)
{
    static const char *const names[] = { "", "dev@1000", "leaf" };
    static const int depths[] = { 0, 1, 1 };
    int node = -1, depth = -1;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    for (int i = 0; i < 3; i++) {
        cr_assert(err_is_ok(fdt_next_node(&fdt, &node, &depth)));
        cr_assert_str_eq(fdt_node_name(&fdt, node), names[i]);
        cr_assert_eq(depth, depths[i]);
    }
    cr_assert_eq(err_no(fdt_next_node(&fdt, &node, &depth)), FDT_ERR_NOT_FOUND);
}

Test(fdt, next_node_refuses_a_depth_it_cannot_have_returned)
{
    int node, depth = FDT_MAX_DEPTH;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    node = fdt_root(&fdt);
    cr_assert_eq(err_no(fdt_next_node(&fdt, &node, &depth)), FDT_ERR_BAD_VALUE);
}

Test(fdt, offset_that_is_not_a_node_is_not_found)
{
    int child;
    const void *value;
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    int prop = fdt_root(&fdt) + 8;  /* the root's first FDT_PROP token */
    cr_assert_eq(err_no(fdt_first_child(&fdt, prop, &child)), FDT_ERR_NOT_FOUND);
    cr_assert_eq(err_no(fdt_prop(&fdt, prop, "reg", &value, NULL)), FDT_ERR_NOT_FOUND);
    cr_assert_eq(err_no(fdt_first_child(&fdt, -4, &child)), FDT_ERR_NOT_FOUND);
    cr_assert_eq(err_no(fdt_first_child(&fdt, 1 << 30, &child)), FDT_ERR_NOT_FOUND);
    cr_assert_eq(err_no(fdt_first_child(&fdt, 2, &child)), FDT_ERR_NOT_FOUND);
    cr_assert_str_eq(fdt_node_name(&fdt, prop), "");
}

Test(fdt, nop_tokens_are_skipped_everywhere)
{
    uint32_t cells = 0;
    int child = -1;
    fdtb_nop(&builder);
    fdtb_begin_node(&builder, "");
    fdtb_nop(&builder);
    fdtb_prop_u32(&builder, "#size-cells", 1);
    fdtb_nop(&builder);
    fdtb_begin_node(&builder, "dev");
    fdtb_nop(&builder);
    fdtb_end_node(&builder);
    fdtb_nop(&builder);
    fdtb_end_node(&builder);
    fdtb_nop(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(fdt_root(&fdt), 4);
    cr_assert(err_is_ok(fdt_prop_u32(&fdt, fdt_root(&fdt), "#size-cells", &cells)));
    cr_assert_eq(cells, 1);
    cr_assert(err_is_ok(fdt_first_child(&fdt, fdt_root(&fdt), &child)));
    cr_assert_str_eq(fdt_node_name(&fdt, child), "dev");
}

Test(fdt, nesting_of_exactly_the_maximum_depth_is_accepted)
{
    int node = -1, depth = 0, deepest = 0;
    fdtb_begin_node(&builder, "");
    for (int i = 1; i < FDT_MAX_DEPTH; i++)
        fdtb_begin_node(&builder, "n");
    for (int i = 0; i < FDT_MAX_DEPTH; i++)
        fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    while (err_is_ok(fdt_next_node(&fdt, &node, &depth)))
        deepest = depth;
    cr_assert_eq(deepest, FDT_MAX_DEPTH - 1);
}

Test(fdt, parent_is_found_at_the_maximum_depth)
{
    int node = -1, depth = 0, prev = -1, parent = -1;
    fdtb_begin_node(&builder, "");
    for (int i = 1; i < FDT_MAX_DEPTH; i++)
        fdtb_begin_node(&builder, "n");
    for (int i = 0; i < FDT_MAX_DEPTH; i++)
        fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    open_ok();
    while (err_is_ok(fdt_next_node(&fdt, &node, &depth)) && depth < FDT_MAX_DEPTH - 1)
        prev = node;
    cr_assert(err_is_ok(fdt_parent(&fdt, node, &parent)));
    cr_assert_eq(parent, prev);
}

Test(fdt, memory_reservations_are_returned_in_order)
{
    uint64_t base = 0, size = 0;
    fdtb_reserve(&builder, 0x40000000, 0x1000);
    fdtb_reserve(&builder, 0x48000000, 0x200000);
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert(err_is_ok(fdt_mem_rsv(&fdt, 0, &base, &size)));
    cr_assert_eq(base, 0x40000000ull);
    cr_assert_eq(size, 0x1000ull);
    cr_assert(err_is_ok(fdt_mem_rsv(&fdt, 1, &base, &size)));
    cr_assert_eq(base, 0x48000000ull);
    cr_assert_eq(size, 0x200000ull);
}

Test(fdt, memory_reservations_end_at_the_all_zero_entry)
{
    uint64_t base, size;
    fdtb_reserve(&builder, 0x40000000, 0x1000);
    build_small_tree();
    blob = fdtb_finish(&builder);
    open_ok();
    cr_assert_eq(err_no(fdt_mem_rsv(&fdt, 1, &base, &size)), FDT_ERR_NOT_FOUND);
    cr_assert_eq(err_no(fdt_mem_rsv(&fdt, 5, &base, &size)), FDT_ERR_NOT_FOUND);
}

Test(fdt, version_16_blob_is_read_without_a_structure_size)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_VERSION, 16);
    fdtb_patch_header(&blob, FDTB_HDR_SIZE_STRUCT, 0xffffffffu);   /* not a v16 field */
    open_ok();
    cr_assert_str_eq(fdt_node_name(&fdt, path_node("/dev")), "dev@1000");
}

Test(fdt, cell_reads_accept_unaligned_pointers)
{
    static const uint8_t bytes[] = { 0xff, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0 };
    cr_assert_eq(fdt_be32(bytes + 1), 0x12345678u);
    cr_assert_eq(fdt_be64(bytes + 1), 0x123456789abcdef0ull);
    cr_assert_eq(fdt_read_cells(bytes + 1, 1), 0x12345678u);
    cr_assert_eq(fdt_read_cells(bytes + 1, 2), 0x123456789abcdef0ull);
    cr_assert_eq(fdt_read_cells(bytes + 1, 0), 0);
}

/* ---- Malformed blobs: each breaks one rule. ---- */

static void expect_open_error(enum err_code expected)
{
    enum err_code got = err_no(open_blob());
    cr_assert_eq(got, expected, "expected %s, got %s", err_getcode(expected), err_getcode(got));
}

Test(fdt, open_rejects_a_bad_magic)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_MAGIC, 0xfeedd00du);
    expect_open_error(FDT_ERR_BAD_MAGIC);
}

Test(fdt, open_rejects_fewer_bytes_than_a_header)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    cr_assert_eq(err_no(fdt_open(&fdt, blob.data, 20)), FDT_ERR_TRUNCATED);
}

Test(fdt, open_rejects_available_bytes_short_of_totalsize)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    cr_assert_eq(err_no(fdt_open(&fdt, blob.data, blob.size - 1)), FDT_ERR_TRUNCATED);
}

Test(fdt, open_rejects_totalsize_beyond_the_available_bytes)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_TOTALSIZE, (uint32_t)blob.size + 64);
    expect_open_error(FDT_ERR_TRUNCATED);
}

Test(fdt, open_rejects_totalsize_smaller_than_the_header)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_TOTALSIZE, 16);
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_a_version_older_than_16)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_VERSION, 15);
    expect_open_error(FDT_ERR_BAD_VERSION);
}

Test(fdt, open_rejects_a_blob_not_readable_by_a_version_17_reader)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_VERSION, 18);
    fdtb_patch_header(&blob, FDTB_HDR_LAST_COMP, 18);
    expect_open_error(FDT_ERR_BAD_VERSION);
}

Test(fdt, open_rejects_a_structure_block_beyond_totalsize)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_SIZE_STRUCT, fdtb_header(&blob, FDTB_HDR_SIZE_STRUCT) +
                                                        (uint32_t)blob.size);
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_a_structure_offset_beyond_totalsize)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_OFF_STRUCT, 0x7ffffff0u);
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_a_structure_block_size_that_wraps)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_SIZE_STRUCT, 0xfffffffcu);
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_a_misaligned_structure_block)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_OFF_STRUCT, fdtb_header(&blob, FDTB_HDR_OFF_STRUCT) + 2);
    fdtb_patch_header(&blob, FDTB_HDR_SIZE_STRUCT, 4);
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_a_structure_block_inside_the_header)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_OFF_STRUCT, 8);
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_a_strings_block_beyond_totalsize)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_SIZE_STRINGS, fdtb_header(&blob, FDTB_HDR_SIZE_STRINGS) + 1);
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_overlapping_structure_and_strings_blocks)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_OFF_STRINGS, fdtb_header(&blob, FDTB_HDR_OFF_STRUCT));
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_a_reservation_list_inside_the_structure_block)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_OFF_RSVMAP, fdtb_header(&blob, FDTB_HDR_OFF_STRUCT));
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_a_reservation_list_without_its_terminator)
{
    fdtb_reserve(&builder, 0x40000000, 0x1000);
    build_small_tree();
    blob = fdtb_finish(&builder);
    /* Make the all-zero entry non-zero: the list now runs into the
     * structure block, which starts right after it. */
    blob.data[FDTB_HEADER_SIZE + 16 + 7] = 1;
    expect_open_error(FDT_ERR_BAD_LAYOUT);
}

Test(fdt, open_rejects_an_unterminated_node_name)
{
    fdtb_begin_node(&builder, "");
    fdtb_word(&builder, FDTB_BEGIN_NODE);
    fdtb_bytes(&builder, "unterminated", 12);   /* runs to the end of the block */
    blob = fdtb_finish_raw(&builder);
    expect_open_error(FDT_ERR_BAD_STRING);
}

Test(fdt, open_rejects_a_property_running_past_the_block)
{
    fdtb_begin_node(&builder, "");
    fdtb_word(&builder, FDTB_PROP);
    fdtb_word(&builder, 1000);
    fdtb_word(&builder, fdtb_string(&builder, "big"));
    fdtb_word(&builder, 0);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, open_rejects_a_property_header_cut_by_the_block_end)
{
    fdtb_begin_node(&builder, "");
    fdtb_word(&builder, FDTB_PROP);
    fdtb_word(&builder, 0);
    blob = fdtb_finish_raw(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, open_rejects_a_property_name_offset_outside_the_strings_block)
{
    fdtb_begin_node(&builder, "");
    fdtb_prop_u32(&builder, "ok", 1);
    fdtb_word(&builder, FDTB_PROP);
    fdtb_word(&builder, 4);
    fdtb_word(&builder, 0x1000);
    fdtb_word(&builder, 0);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_BAD_STRING);
}

Test(fdt, open_rejects_a_property_name_unterminated_in_the_strings_block)
{
    build_small_tree();
    blob = fdtb_finish(&builder);
    /* Drop the strings block's final NUL: the last name now runs out. */
    fdtb_patch_header(&blob, FDTB_HDR_SIZE_STRINGS, fdtb_header(&blob, FDTB_HDR_SIZE_STRINGS) - 1);
    expect_open_error(FDT_ERR_BAD_STRING);
}

Test(fdt, open_rejects_a_missing_end_token)
{
    build_small_tree();
    blob = fdtb_finish_raw(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, open_rejects_an_end_token_inside_an_open_node)
{
    fdtb_begin_node(&builder, "");
    fdtb_begin_node(&builder, "dev");
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, open_rejects_nesting_deeper_than_the_maximum)
{
    fdtb_begin_node(&builder, "");
    for (int i = 0; i < FDT_MAX_DEPTH; i++)
        fdtb_begin_node(&builder, "n");
    for (int i = 0; i <= FDT_MAX_DEPTH; i++)
        fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_TOO_DEEP);
}

Test(fdt, open_rejects_an_end_node_without_a_begin)
{
    fdtb_begin_node(&builder, "");
    fdtb_end_node(&builder);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, open_rejects_an_unknown_token)
{
    fdtb_begin_node(&builder, "");
    fdtb_word(&builder, 0x5);
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, open_rejects_a_second_root)
{
    fdtb_begin_node(&builder, "");
    fdtb_end_node(&builder);
    fdtb_begin_node(&builder, "");
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, open_rejects_a_property_outside_any_node)
{
    fdtb_prop_u32(&builder, "stray", 1);
    fdtb_begin_node(&builder, "");
    fdtb_end_node(&builder);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, open_rejects_a_structure_block_without_a_root)
{
    fdtb_nop(&builder);
    blob = fdtb_finish(&builder);
    expect_open_error(FDT_ERR_BAD_STRUCTURE);
}

Test(fdt, failed_open_leaves_the_fdt_untouched)
{
    struct fdt before;
    build_small_tree();
    blob = fdtb_finish(&builder);
    fdtb_patch_header(&blob, FDTB_HDR_MAGIC, 0);
    memset(&fdt, 0xa5, sizeof(fdt));
    before = fdt;
    expect_open_error(FDT_ERR_BAD_MAGIC);
    cr_assert_eq(memcmp(&fdt, &before, sizeof(fdt)), 0);
}
