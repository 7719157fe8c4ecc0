/*
 * test_mdb.c — the derivation database (lib/base/mdb.c).
 *
 * Nodes are embedded in `struct cap`, a stand-in for a capability table
 * entry that holds the key itself: base and size where the tree reads them,
 * and the type both for the model and as the node's rank (set_key).
 * Four groups of tests:
 *   - focused tests, one behaviour each, on small hand-built trees;
 *   - cost: on a tree of 6,000 nodes with long runs of copies, each query
 *     and update may read only a few root-to-leaf paths' worth of keys, as
 *     counted by mdb_key_reads;
 *   - mdb_check() on deliberately corrupted trees, to show it can fail;
 *   - a seeded random test of 120,000 operations (retype, copy, delete,
 *     revoke, new roots) checked against a reference model that answers
 *     every query by a linear scan over the live caps, using the plain
 *     meaning of "descendant" (nested range, or equal range and greater
 *     type) rather than the tree's order.
 * Type values here stand in for the kernel's; only their order matters.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/mdb.h"

struct cap {
    struct mdb_node node;
    uint64_t base, size;        /* read by the tree in place (mdb.h) */
    uint8_t type;
    bool live;
};

_Static_assert(offsetof(struct cap, size) == offsetof(struct cap, base) + sizeof(uint64_t),
               "the tree reads size right after base");

#define POOL 8192

static struct cap pool[POOL];
static size_t pool_used;
static struct mdb tree;

static struct cap *cap_of(const struct mdb_node *n)
{
    if (n == NULL)
        return NULL;
    return (struct cap *)((char *)n - offsetof(struct cap, node));
}

/* Give c a key, before it is inserted or used as a probe. */
static void set_key(struct cap *c, uint64_t base, uint64_t size, uint8_t type)
{
    c->base = base;
    c->size = size;
    c->type = type;
    c->node.rank = type;
}

static void setup(void)
{
    memset(pool, 0, sizeof pool);
    pool_used = 0;
    mdb_key_reads = 0;
    mdb_init(&tree, (ptrdiff_t)offsetof(struct cap, base) - (ptrdiff_t)offsetof(struct cap, node));
}

TestSuite(mdb, .init = setup);

/* Insert a new cap with the given key, taking the next pool entry. */
static struct cap *add(uint64_t base, uint64_t size, uint8_t type)
{
    cr_assert_lt(pool_used, POOL);
    struct cap *c = &pool[pool_used++];
    set_key(c, base, size, type);
    c->live = true;
    mdb_insert(&tree, &c->node);
    return c;
}

static struct mdb_node *first_desc(const struct cap *c)
{
    return mdb_first_descendant(&tree, &c->node);
}

static struct mdb_node *overlapping(const struct cap *c, uint64_t base, uint64_t size)
{
    return mdb_find_overlapping_descendant(&tree, &c->node, base, size);
}

static struct mdb_node *ancestor(const struct cap *c)
{
    return mdb_find_ancestor(&tree, &c->node);
}

enum { T_RAM = 1, T_FRAME = 3, T_CNODE = 4 };

#define K4 UINT64_C(0x1000)
#define M1 UINT64_C(0x100000)

/* ---- empty tree ---------------------------------------------------------- */

Test(mdb, empty_tree_has_no_nodes_and_passes_its_check)
{
    cr_assert_null(tree.root);
    cr_assert_eq(tree.count, 0);
    cr_assert_null(mdb_first(&tree));
    cr_assert(mdb_check(&tree));
}

Test(mdb, every_query_on_an_empty_tree_finds_nothing)
{
    struct cap *q = &pool[0];
    set_key(q, M1, K4, T_RAM);
    cr_assert_null(mdb_next(&tree, &q->node));
    cr_assert_null(mdb_prev(&tree, &q->node));
    cr_assert_not(mdb_has_copies(&tree, &q->node));
    cr_assert_null(first_desc(q));
    cr_assert_null(overlapping(q, M1, K4));
    cr_assert_null(ancestor(q));
}

/* ---- order --------------------------------------------------------------- */

Test(mdb, in_order_walk_follows_base_ascending)
{
    struct cap *c = add(3 * M1, K4, T_RAM);
    struct cap *a = add(1 * M1, K4, T_RAM);
    struct cap *b = add(2 * M1, K4, T_RAM);
    cr_assert_eq(mdb_first(&tree), &a->node);
    cr_assert_eq(mdb_next(&tree, &a->node), &b->node);
    cr_assert_eq(mdb_next(&tree, &b->node), &c->node);
    cr_assert_null(mdb_next(&tree, &c->node));
    cr_assert(mdb_check(&tree));
}

Test(mdb, equal_bases_order_by_size_descending)
{
    struct cap *small = add(M1, K4, T_RAM);
    struct cap *big = add(M1, 16 * K4, T_RAM);
    struct cap *mid = add(M1, 4 * K4, T_RAM);
    cr_assert_eq(mdb_first(&tree), &big->node);
    cr_assert_eq(mdb_next(&tree, &big->node), &mid->node);
    cr_assert_eq(mdb_next(&tree, &mid->node), &small->node);
}

Test(mdb, equal_ranges_order_by_type_ascending)
{
    struct cap *cnode = add(M1, K4, T_CNODE);
    struct cap *ram = add(M1, K4, T_RAM);
    struct cap *frame = add(M1, K4, T_FRAME);
    cr_assert_eq(mdb_first(&tree), &ram->node);
    cr_assert_eq(mdb_next(&tree, &ram->node), &frame->node);
    cr_assert_eq(mdb_next(&tree, &frame->node), &cnode->node);
}

Test(mdb, prev_walks_the_order_backwards)
{
    struct cap *a = add(M1, 2 * K4, T_RAM);
    struct cap *b = add(M1, K4, T_RAM);
    struct cap *c = add(M1 + K4, K4, T_FRAME);
    cr_assert_eq(mdb_prev(&tree, &c->node), &b->node);
    cr_assert_eq(mdb_prev(&tree, &b->node), &a->node);
    cr_assert_null(mdb_prev(&tree, &a->node));
}

/* ---- key layout ---------------------------------------------------------- */

/* The kernel's table entry keeps base and size before the node, so the
 * tree's key offset is negative there; the owner here mirrors that. */
struct entry_key_first {
    uint64_t base, size;
    struct mdb_node node;
};

Test(mdb, keys_stored_before_the_node_are_read_at_a_negative_offset)
{
    struct entry_key_first e[3] = {
        { .base = M1, .size = 4 * K4, .node.rank = T_RAM },
        { .base = M1 + K4, .size = K4, .node.rank = T_FRAME },
        { .base = M1, .size = 4 * K4, .node.rank = T_RAM },
    };
    struct mdb t;
    mdb_init(&t, (ptrdiff_t)offsetof(struct entry_key_first, base) -
                 (ptrdiff_t)offsetof(struct entry_key_first, node));
    cr_assert_lt(t.key_offset, 0);
    for (int i = 0; i < 3; i++)
        mdb_insert(&t, &e[i].node);
    cr_assert(mdb_check(&t));
    cr_assert(mdb_has_copies(&t, &e[0].node));
    cr_assert_eq(mdb_first_descendant(&t, &e[0].node), &e[1].node);
    cr_assert_eq(mdb_find_ancestor(&t, &e[1].node), &e[2].node);
}

/* ---- copies -------------------------------------------------------------- */

Test(mdb, copies_are_neighbours_in_the_order)
{
    struct cap *parent = add(M1, 4 * K4, T_RAM);
    struct cap *child = add(M1, K4, T_FRAME);
    struct cap *copy1 = add(M1, 4 * K4, T_RAM);
    struct cap *copy2 = add(M1, 4 * K4, T_RAM);
    /* Pool entries ascend in address, so the tie-break puts them in this order. */
    cr_assert_eq(mdb_next(&tree, &parent->node), &copy1->node);
    cr_assert_eq(mdb_next(&tree, &copy1->node), &copy2->node);
    cr_assert_eq(mdb_next(&tree, &copy2->node), &child->node);
}

Test(mdb, has_copies_sees_a_copy_from_either_side)
{
    struct cap *a = add(M1, K4, T_FRAME);
    struct cap *b = add(M1, K4, T_FRAME);
    cr_assert(mdb_has_copies(&tree, &a->node));
    cr_assert(mdb_has_copies(&tree, &b->node));
}

Test(mdb, a_lone_node_has_no_copies)
{
    add(0, M1, T_RAM);
    struct cap *a = add(M1, K4, T_FRAME);
    add(M1 + K4, K4, T_FRAME);
    cr_assert_not(mdb_has_copies(&tree, &a->node));
}

Test(mdb, same_range_of_another_type_is_not_a_copy)
{
    struct cap *ram = add(M1, K4, T_RAM);
    struct cap *frame = add(M1, K4, T_FRAME);
    cr_assert_not(mdb_has_copies(&tree, &ram->node));
    cr_assert_not(mdb_has_copies(&tree, &frame->node));
}

/* ---- first descendant ---------------------------------------------------- */

Test(mdb, first_descendant_finds_a_nested_child)
{
    struct cap *parent = add(M1, 16 * K4, T_RAM);
    struct cap *child = add(M1 + 4 * K4, K4, T_FRAME);
    add(M1 + 8 * K4, K4, T_FRAME);
    cr_assert_eq(first_desc(parent), &child->node);
}

Test(mdb, first_descendant_skips_the_nodes_own_copies)
{
    struct cap *parent = add(M1, 16 * K4, T_RAM);
    add(M1, 16 * K4, T_RAM);
    add(M1, 16 * K4, T_RAM);
    struct cap *child = add(M1 + K4, K4, T_FRAME);
    cr_assert_eq(first_desc(parent), &child->node);
}

Test(mdb, first_descendant_is_null_for_a_leaf_even_with_copies)
{
    add(M1, 16 * K4, T_RAM);
    struct cap *leaf = add(M1 + K4, K4, T_FRAME);
    add(M1 + K4, K4, T_FRAME);
    add(M1 + 2 * K4, K4, T_FRAME);
    cr_assert_null(first_desc(leaf));
}

Test(mdb, range_adjacent_neighbour_is_not_a_descendant)
{
    struct cap *parent = add(M1, 4 * K4, T_RAM);
    add(M1 + 4 * K4, K4, T_FRAME);      /* begins exactly at parent's end */
    cr_assert_null(first_desc(parent));
}

Test(mdb, equal_range_of_a_greater_type_is_a_descendant)
{
    struct cap *ram = add(M1, K4, T_RAM);
    struct cap *frame = add(M1, K4, T_FRAME);
    cr_assert_eq(first_desc(ram), &frame->node);
    cr_assert_null(first_desc(frame));
}

Test(mdb, first_descendant_steps_over_a_long_run_of_copies)
{
    struct cap *parent = add(0, M1, T_RAM);
    for (int i = 0; i < 500; i++)
        add(0, M1, T_RAM);
    struct cap *child = add(M1 / 2, K4, T_FRAME);
    cr_assert_eq(first_desc(parent), &child->node);
    cr_assert_eq(first_desc(&pool[250]), &child->node);
    cr_assert(mdb_check(&tree));
}

/* ---- overlapping descendant ---------------------------------------------- */

/* A parent of 16 pages with one child covering pages 4..7. */
static struct cap *parent_with_middle_child(struct cap **child)
{
    struct cap *parent = add(M1, 16 * K4, T_RAM);
    *child = add(M1 + 4 * K4, 4 * K4, T_FRAME);
    return parent;
}

Test(mdb, overlapping_descendant_found_across_its_lower_edge)
{
    struct cap *child;
    struct cap *parent = parent_with_middle_child(&child);
    cr_assert_eq(overlapping(parent, M1 + 2 * K4, 3 * K4), &child->node);
}

Test(mdb, overlapping_descendant_found_across_its_upper_edge)
{
    struct cap *child;
    struct cap *parent = parent_with_middle_child(&child);
    cr_assert_eq(overlapping(parent, M1 + 7 * K4, 3 * K4), &child->node);
}

Test(mdb, overlapping_descendant_found_when_it_contains_the_query)
{
    struct cap *child;
    struct cap *parent = parent_with_middle_child(&child);
    cr_assert_eq(overlapping(parent, M1 + 5 * K4, K4), &child->node);
}

Test(mdb, overlapping_descendant_found_when_the_query_contains_it)
{
    struct cap *child;
    struct cap *parent = parent_with_middle_child(&child);
    cr_assert_eq(overlapping(parent, M1, 16 * K4), &child->node);
}

Test(mdb, no_overlapping_descendant_for_disjoint_ranges)
{
    struct cap *child;
    struct cap *parent = parent_with_middle_child(&child);
    cr_assert_null(overlapping(parent, M1, 4 * K4));            /* ends at child's base */
    cr_assert_null(overlapping(parent, M1 + 8 * K4, 8 * K4));   /* begins at child's end */
}

Test(mdb, overlapping_descendant_ignores_copies_and_ancestors)
{
    struct cap *grand = add(0, 4 * M1, T_RAM);
    struct cap *parent = add(M1, 16 * K4, T_RAM);
    add(M1, 16 * K4, T_RAM);
    add(2 * M1, K4, T_FRAME);           /* grand's child, outside parent */
    cr_assert_null(overlapping(parent, M1, 16 * K4));
    cr_assert_null(overlapping(parent, 0, 4 * M1));
    cr_assert_not_null(overlapping(grand, 0, 4 * M1));
}

Test(mdb, overlapping_descendant_is_the_first_in_order_among_several)
{
    struct cap *parent = add(M1, 16 * K4, T_RAM);
    add(M1 + 8 * K4, K4, T_FRAME);
    struct cap *first = add(M1 + 2 * K4, K4, T_FRAME);
    add(M1 + 12 * K4, K4, T_FRAME);
    cr_assert_eq(overlapping(parent, M1, 16 * K4), &first->node);
}

Test(mdb, empty_query_range_overlaps_nothing)
{
    struct cap *child;
    struct cap *parent = parent_with_middle_child(&child);
    cr_assert_null(overlapping(parent, M1 + 5 * K4, 0));
}

Test(mdb, query_range_past_the_top_of_the_address_space_is_cut_there)
{
    uint64_t top = UINT64_MAX - 16 * K4;
    struct cap *parent = add(top, 16 * K4, T_RAM);
    struct cap *child = add(UINT64_MAX - K4, K4, T_FRAME);
    cr_assert_eq(overlapping(parent, UINT64_MAX - 2 * K4, 4 * K4), &child->node);
    cr_assert_eq(overlapping(parent, top, UINT64_MAX), &child->node);
    /* No key may hold the address UINT64_MAX itself, so nothing is there. */
    cr_assert_null(overlapping(parent, UINT64_MAX, 5));
}

/* ---- ancestor ------------------------------------------------------------ */

Test(mdb, find_ancestor_returns_the_innermost_container)
{
    add(0, 4 * M1, T_RAM);
    struct cap *mid = add(M1, M1, T_RAM);
    add(M1 + 8 * K4, 8 * K4, T_RAM);     /* a sibling after the leaf's range */
    struct cap *leaf = add(M1 + 4 * K4, K4, T_FRAME);
    cr_assert_eq(ancestor(leaf), &mid->node);
}

Test(mdb, find_ancestor_finds_an_equal_range_of_a_lower_type)
{
    add(0, M1, T_RAM);
    struct cap *ram = add(M1, K4, T_RAM);
    struct cap *frame = add(M1, K4, T_FRAME);
    cr_assert_eq(ancestor(frame), &ram->node);
}

Test(mdb, find_ancestor_of_a_root_is_null_even_with_copies_and_neighbours)
{
    struct cap *root = add(M1, M1, T_RAM);
    add(M1, M1, T_RAM);
    add(0, M1, T_RAM);                  /* ends where root begins */
    add(M1 + K4, K4, T_FRAME);
    cr_assert_null(ancestor(root));
}

/* ---- insert and remove --------------------------------------------------- */

Test(mdb, remove_of_one_copy_among_many_removes_exactly_that_node)
{
    add(0, 4 * M1, T_RAM);
    for (int i = 0; i < 200; i++)
        add(M1, K4, T_FRAME);
    struct cap *victim = &pool[101];
    mdb_remove(&tree, &victim->node);
    victim->live = false;
    cr_assert(mdb_check(&tree));
    cr_assert_eq(tree.count, 200);
    size_t seen = 0;
    for (struct mdb_node *n = mdb_first(&tree); n != NULL; n = mdb_next(&tree, n)) {
        cr_assert(cap_of(n)->live);
        seen++;
    }
    cr_assert_eq(seen, 200);
}

Test(mdb, removing_a_node_that_is_not_in_the_tree_changes_nothing)
{
    add(0, M1, T_RAM);
    add(0, K4, T_FRAME);
    struct cap *outsider = &pool[pool_used++];
    set_key(outsider, 0, K4, T_FRAME);
    mdb_remove(&tree, &outsider->node);
    cr_assert_eq(tree.count, 2);
    cr_assert(mdb_check(&tree));
}

Test(mdb, inserting_then_removing_everything_leaves_an_empty_tree)
{
    for (int i = 0; i < 300; i++)
        add((uint64_t)((i * 37) % 300) * K4, K4, (uint8_t)(i % 8));
    cr_assert(mdb_check(&tree));
    for (int i = 0; i < 300; i++) {
        mdb_remove(&tree, &pool[(i * 7) % 300].node);
        cr_assert(mdb_check(&tree));
    }
    cr_assert_null(tree.root);
    cr_assert_eq(tree.count, 0);
}

/* ---- cost --------------------------------------------------------------- */

/* A wide tree: a root of 4096 pages with a child on every page but one,
 * 1000 copies of the root and 1000 copies of one child. Every query below
 * would read thousands of keys if it walked copies or descendants. */
#define WIDE_PAGES 4096
#define WIDE_HOLE  2000
#define WIDE_COPIED_PAGE 3000

static struct cap *wide_root, *wide_child;

static void build_wide_tree(void)
{
    wide_root = add(0, WIDE_PAGES * K4, T_RAM);
    for (int i = 0; i < 1000; i++)
        add(0, WIDE_PAGES * K4, T_RAM);
    for (uint64_t page = 0; page < WIDE_PAGES; page++)
        if (page != WIDE_HOLE)
            add(page * K4, K4, T_FRAME);
    wide_child = add(WIDE_COPIED_PAGE * K4, K4, T_FRAME);
    for (int i = 0; i < 999; i++)
        add(WIDE_COPIED_PAGE * K4, K4, T_FRAME);
    cr_assert(mdb_check(&tree));
}

/* Three root-to-leaf paths, and a little over, is what the slowest query
 * (a miss in the middle of the descendants) may read. */
static void assert_logarithmic(size_t reads, const char *query)
{
    size_t bound = 4 * (size_t)tree.root->height + 4;
    cr_assert_leq(reads, bound, "%s read %zu keys, more than %zu", query, reads, bound);
}

#define COST(query, expr)           \
    do {                            \
        mdb_key_reads = 0;          \
        (void)(expr);               \
        assert_logarithmic(mdb_key_reads, query); \
    } while (0)

Test(mdb, every_query_reads_a_logarithmic_number_of_keys)
{
    build_wide_tree();
    struct cap *copy = &pool[500];
    COST("first_descendant", mdb_first_descendant(&tree, &copy->node));
    COST("has_copies", mdb_has_copies(&tree, &wide_child->node));
    COST("next", mdb_next(&tree, &copy->node));
    COST("prev", mdb_prev(&tree, &wide_child->node));
    COST("find_ancestor", mdb_find_ancestor(&tree, &wide_child->node));
    COST("overlap miss", mdb_find_overlapping_descendant(&tree, &copy->node,
                                                         WIDE_HOLE * K4, K4));
    COST("overlap hit", mdb_find_overlapping_descendant(&tree, &copy->node,
                                                        WIDE_HOLE * K4, 2 * K4));
    struct cap *extra = &pool[pool_used++];
    set_key(extra, K4, K4, T_CNODE);
    COST("insert", mdb_insert(&tree, &extra->node));
    COST("remove", mdb_remove(&tree, &copy->node));
}

/* An insert reads one key per level on the way down (its own key once, and
 * at most three more if a double rotation recomputes its nodes): no key is
 * read on the way back up to keep subtree_end right. */
Test(mdb, insert_reads_one_key_per_level)
{
    build_wide_tree();
    for (int i = 0; i < 200; i++) {
        struct cap *extra = &pool[pool_used++];
        set_key(extra, (uint64_t)((i * 37) % WIDE_PAGES) * K4, K4, T_CNODE);
        int h = tree.root->height;
        mdb_key_reads = 0;
        mdb_insert(&tree, &extra->node);
        cr_assert_leq(mdb_key_reads, (uint64_t)h + 4, "insert %d read %" PRIu64 " keys at height %d",
                      i, mdb_key_reads, h);
    }
    cr_assert(mdb_check(&tree));
}

Test(mdb, queries_on_the_wide_tree_give_the_expected_nodes)
{
    build_wide_tree();
    struct cap *last_root_copy = &pool[1000];
    cr_assert_eq(mdb_find_ancestor(&tree, &wide_child->node), &last_root_copy->node);
    cr_assert_eq(mdb_first_descendant(&tree, &wide_root->node), &pool[1001].node);
    cr_assert_null(mdb_find_overlapping_descendant(&tree, &wide_root->node, WIDE_HOLE * K4, K4));
    cr_assert_eq(cap_of(mdb_find_overlapping_descendant(&tree, &wide_root->node,
                                                        WIDE_HOLE * K4, 2 * K4))->base,
                 (WIDE_HOLE + 1) * K4);
    cr_assert(mdb_has_copies(&tree, &wide_child->node));
    cr_assert_not(mdb_has_copies(&tree, &pool[1001].node));
}

/* ---- runs (mdb_insert_run) ---------------------------------------------- */

/* Take n consecutive pool entries for a run of pages from base, as retype
 * makes them: one key after another, each a page further on. */
static struct cap *take_run(uint64_t base, size_t n, uint8_t type)
{
    cr_assert_leq(pool_used + n, POOL);
    struct cap *run = &pool[pool_used];
    pool_used += n;
    for (size_t i = 0; i < n; i++) {
        set_key(&run[i], base + i * K4, K4, type);
        run[i].live = true;
    }
    return run;
}

static void insert_run(struct cap *run, size_t n)
{
    mdb_insert_run(&tree, &run[0].node, n, sizeof run[0]);
}

/* The in-order walk must be ascending, every node's key, and count nodes. */
static void assert_walk_ascending(size_t count)
{
    size_t seen = 0;
    const struct cap *prev = NULL;
    for (struct mdb_node *n = mdb_first(&tree); n != NULL; n = mdb_next(&tree, n)) {
        const struct cap *c = cap_of(n);
        cr_assert(prev == NULL || prev->base < c->base ||
                  (prev->base == c->base && prev->size > c->size));
        prev = c;
        seen++;
    }
    cr_assert_eq(seen, count);
}

Test(mdb, insert_run_into_an_empty_tree_gives_a_valid_tree_of_every_length)
{
    for (size_t n = 0; n <= 70; n++) {
        setup();
        struct cap *run = take_run(M1, n, T_FRAME);
        insert_run(run, n);
        cr_assert(mdb_check(&tree), "run of %zu", n);
        cr_assert_eq(tree.count, n);
        assert_walk_ascending(n);
        if (n > 0)
            cr_assert_eq(mdb_first(&tree), &run[0].node);
    }
}

Test(mdb, insert_run_of_one_is_an_insert)
{
    add(0, M1, T_RAM);
    struct cap *run = take_run(K4, 1, T_FRAME);
    insert_run(run, 1);
    cr_assert(mdb_check(&tree));
    cr_assert_eq(tree.count, 2);
    cr_assert_eq(mdb_next(&tree, &pool[0].node), &run[0].node);
}

/* A RAM root of `pages` pages with a Frame on every even page; a run of
 * Frames at `at` pages (odd pages only are free, so runs go past the end
 * of the root or before it, or into a hole made for them). */
static void build_even_pages(uint64_t pages)
{
    add(64 * M1, pages * K4, T_RAM);
    for (uint64_t i = 0; i < pages; i += 2)
        add(64 * M1 + i * K4, K4, T_FRAME);
}

static void check_run_in_place(struct cap *run, size_t n, size_t count_before)
{
    cr_assert(mdb_check(&tree));
    cr_assert_eq(tree.count, count_before + n);
    assert_walk_ascending(count_before + n);
    for (size_t i = 0; i + 1 < n; i++)
        cr_assert_eq(mdb_next(&tree, &run[i].node), &run[i + 1].node);
}

Test(mdb, insert_run_before_every_node)
{
    for (size_t n = 2; n <= 40; n += 7) {
        setup();
        build_even_pages(600);
        size_t before = tree.count;
        struct cap *run = take_run(0, n, T_FRAME);
        insert_run(run, n);
        check_run_in_place(run, n, before);
        cr_assert_eq(mdb_first(&tree), &run[0].node);
    }
}

Test(mdb, insert_run_after_every_node)
{
    for (size_t n = 2; n <= 40; n += 7) {
        setup();
        build_even_pages(600);
        size_t before = tree.count;
        struct cap *run = take_run(128 * M1, n, T_FRAME);
        insert_run(run, n);
        check_run_in_place(run, n, before);
        cr_assert_null(mdb_next(&tree, &run[n - 1].node));
    }
}

/* Runs of every length into every gap of a 600-node tree, a fresh tree
 * each time: the root's Frames on even pages leave a one-page gap at each
 * odd page, and a longer run goes into a root of pages made free for it. */
Test(mdb, insert_run_into_the_middle_at_every_depth)
{
    for (uint64_t at = 1; at < 600; at += 38) {
        for (size_t n = 2; n <= 33; n += 31) {
            setup();
            add(64 * M1, 1200 * K4, T_RAM);
            for (uint64_t i = 0; i < 1200; i++)
                if (i < at || i >= at + n)
                    add(64 * M1 + i * K4, K4, T_FRAME);
            size_t before = tree.count;
            struct cap *run = take_run(64 * M1 + at * K4, n, T_FRAME);
            insert_run(run, n);
            check_run_in_place(run, n, before);
            cr_assert_eq(mdb_find_ancestor(&tree, &run[0].node), &pool[0].node);
        }
    }
}

/* A run of 16 into a tree of about 5,000 nodes reads about one path of
 * keys, the run's own 16, and a few per level rebuilt: far fewer than the
 * 16 paths of separate inserts. */
Test(mdb, insert_run_reads_a_path_and_the_run)
{
    build_wide_tree();
    struct cap *run = take_run(0x100000000ull, 16, T_FRAME);
    int h = tree.root->height;
    mdb_key_reads = 0;
    insert_run(run, 16);
    cr_assert_leq(mdb_key_reads, (uint64_t)(3 * h + 16 + 8), "run read %" PRIu64 " keys at height %d",
                  mdb_key_reads, h);
    cr_assert(mdb_check(&tree));
}

/* ---- mdb_check must be able to fail -------------------------------------- */

/* 100 disjoint single pages, enough for a tree of height 7. */
static void build_check_tree(void)
{
    for (int i = 0; i < 100; i++)
        add((uint64_t)i * K4, K4, T_FRAME);
    cr_assert(mdb_check(&tree));
}

Test(mdb, check_fails_on_a_wrong_height)
{
    build_check_tree();
    tree.root->left->height++;
    cr_assert_not(mdb_check(&tree));
}

Test(mdb, check_fails_on_a_wrong_subtree_end)
{
    build_check_tree();
    tree.root->right->subtree_end -= 1;
    cr_assert_not(mdb_check(&tree));
}

Test(mdb, check_fails_on_an_out_of_order_link)
{
    build_check_tree();
    struct mdb_node *r = tree.root;
    struct mdb_node *l = r->left;
    r->left = r->right;
    r->right = l;
    cr_assert_not(mdb_check(&tree));
}

Test(mdb, check_fails_on_a_key_changed_under_the_tree)
{
    build_check_tree();
    cap_of(tree.root)->base = 1000 * K4;
    cr_assert_not(mdb_check(&tree));
}

Test(mdb, check_fails_on_a_wrong_count)
{
    build_check_tree();
    tree.count++;
    cr_assert_not(mdb_check(&tree));
}

Test(mdb, check_fails_on_a_cycle_instead_of_looping)
{
    build_check_tree();
    struct mdb_node *n = tree.root;
    while (n->left != NULL)
        n = n->left;
    n->left = tree.root;
    cr_assert_not(mdb_check(&tree));
}

/* Link three caps into a right-leaning chain whose heights and ends are
 * each locally right, so only the balance rule is broken. */
Test(mdb, check_fails_on_an_unbalanced_tree)
{
    struct cap *c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = &pool[i];
        set_key(c[i], (uint64_t)i * K4, K4, T_FRAME);
        c[i]->node.height = (int8_t)(3 - i);
        c[i]->node.subtree_end = 3 * K4;
    }
    c[0]->node.right = &c[1]->node;
    c[1]->node.right = &c[2]->node;
    tree.root = &c[0]->node;
    tree.count = 3;
    cr_assert_not(mdb_check(&tree));
}

/* ---- the random model test ----------------------------------------------- */

#define MODEL_POOL   1024       /* the model test uses the start of pool[] */
#define MODEL_OPS    120000
#define MODEL_SEED   UINT64_C(0x6d696e6e6f77)   /* "minnow" */
#define QUERY_EVERY  4          /* compare queries after every 4th operation */
#define QUERY_NODES  3          /* ... on this many random live caps */
#define WALK_EVERY   997        /* compare the whole order now and then */
#define MAX_TYPE     7

static uint64_t rng_state;

/* splitmix64: small, and the same sequence on every host. */
static uint64_t rng(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t n)
{
    return rng() % n;
}

/* Where roots may be created. Two regions touch, one begins at 0 and one
 * ends at UINT64_MAX, so the edges of the number line are exercised. */
static const struct { uint64_t base, size; } regions[] = {
    { 0, M1 },
    { 0x40000000, M1 },
    { 0x40000000 + M1, M1 },
    { 0x80000000, 64 * K4 },
    { UINT64_C(0x4000000000), 4 * M1 },
    { UINT64_MAX - M1, M1 },
};
#define NREGIONS (sizeof regions / sizeof regions[0])

/* The live caps, for picking one at random, and the free pool entries. */
static struct cap *live[MODEL_POOL];
static size_t nlive;
static struct cap *free_caps[MODEL_POOL];
static size_t nfree;
static struct cap *hot;         /* copied again often, to grow long runs */
static bool model_runs;         /* retypes of many at once (op_retype_run) too */
static size_t runs_inserted;

static uint64_t end_of(const struct cap *c)
{
    return c->base + c->size;
}

static bool contains(const struct cap *outer, const struct cap *inner)
{
    return outer->base <= inner->base && end_of(inner) <= end_of(outer);
}

static bool same_range(const struct cap *a, const struct cap *b)
{
    return a->base == b->base && a->size == b->size;
}

/* The plain meaning of descent: a nested range, or the same range with a
 * greater type (as RAM is retyped to a Frame of the same size). */
static bool is_descendant(const struct cap *p, const struct cap *x)
{
    return contains(p, x) && (!same_range(p, x) || x->type > p->type);
}

static bool is_copy(const struct cap *a, const struct cap *b)
{
    return a != b && same_range(a, b) && a->type == b->type;
}

static bool overlaps(const struct cap *c, uint64_t base, uint64_t end)
{
    return c->base < end && base < end_of(c);
}

/* The order the tree should keep, written from the header's words. */
static int ref_cmp(const struct cap *a, const struct cap *b)
{
    if (a->base != b->base)
        return a->base < b->base ? -1 : 1;
    if (a->size != b->size)
        return a->size > b->size ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a != b)
        return a < b ? -1 : 1;
    return 0;
}

static void model_reset(void)
{
    rng_state = MODEL_SEED;
    model_runs = false;
    nlive = 0;
    nfree = 0;
    hot = NULL;
    for (size_t i = MODEL_POOL; i-- > 0;)
        free_caps[nfree++] = &pool[i];
}

/* The generator must keep the family laminar, or the model's meaning of
 * descent and the tree's would part; this checks it did. */
static void assert_laminar_with(const struct cap *c)
{
    for (size_t i = 0; i < nlive; i++) {
        const struct cap *x = live[i];
        bool disjoint = !overlaps(x, c->base, end_of(c));
        cr_assert(disjoint || contains(x, c) || contains(c, x),
                  "generator broke the laminar family");
    }
}

static struct cap *model_add(uint64_t base, uint64_t size, uint8_t type)
{
    if (nfree == 0)
        return NULL;
    struct cap *c = free_caps[--nfree];
    set_key(c, base, size, type);
    assert_laminar_with(c);
    c->live = true;
    live[nlive++] = c;
    mdb_insert(&tree, &c->node);
    return c;
}

static void model_remove(struct cap *c)
{
    mdb_remove(&tree, &c->node);
    c->live = false;
    for (size_t i = 0; i < nlive; i++) {
        if (live[i] == c) {
            live[i] = live[--nlive];
            break;
        }
    }
    free_caps[nfree++] = c;
}

static struct cap *random_live(void)
{
    return nlive > 0 ? live[rng_below(nlive)] : NULL;
}

static bool descendant_overlaps(const struct cap *p, uint64_t base, uint64_t end)
{
    for (size_t i = 0; i < nlive; i++)
        if (is_descendant(p, live[i]) && overlaps(live[i], base, end))
            return true;
    return false;
}

/* A new root over a region that holds nothing yet, as at boot. */
static void op_root(void)
{
    size_t r = rng_below(NREGIONS);
    for (size_t i = 0; i < nlive; i++)
        if (overlaps(live[i], regions[r].base, regions[r].base + regions[r].size))
            return;
    model_add(regions[r].base, regions[r].size, (uint8_t)rng_below(4));
}

/* One child of p, as retype makes it: the whole of p with a greater type,
 * or an aligned part of p of any type, refused if it would overlap one of
 * p's descendants. */
static void retype_one(const struct cap *p)
{
    unsigned shift = (unsigned)rng_below(6);
    uint64_t size = p->size >> shift;
    uint8_t type;
    if (size == 0)
        return;
    if (shift == 0) {
        if (p->type == MAX_TYPE)
            return;
        type = (uint8_t)(p->type + 1 + rng_below(MAX_TYPE - p->type));
    } else {
        type = (uint8_t)rng_below(MAX_TYPE + 1);
    }
    uint64_t base = p->base + rng_below(UINT64_C(1) << shift) * size;
    if (!descendant_overlaps(p, base, base + size))
        model_add(base, size, type);
}

static void op_retype(void)
{
    struct cap *p = random_live();
    if (p == NULL)
        return;
    for (uint64_t n = 1 + rng_below(3); n > 0; n--)
        retype_one(p);
}

static void op_copy(void)
{
    struct cap *src = (hot != NULL && hot->live && rng_below(2) == 0) ? hot : random_live();
    if (src == NULL)
        return;
    if (model_add(src->base, src->size, src->type) != NULL)
        hot = src;
}

/* Several children of p side by side in one mdb_insert_run, as one retype
 * with a count makes them: pool entries that are free and consecutive, a
 * part of p that overlaps none of p's descendants. Only in the runs test. */
static bool take_consecutive_free(size_t start, size_t n)
{
    if (start + n > MODEL_POOL)
        return false;
    for (size_t i = start; i < start + n; i++)
        if (pool[i].live)
            return false;
    for (size_t i = start; i < start + n; i++) {
        for (size_t j = 0; j < nfree; j++) {
            if (free_caps[j] == &pool[i]) {
                free_caps[j] = free_caps[--nfree];
                break;
            }
        }
    }
    return true;
}

static void op_retype_run(void)
{
    struct cap *p = random_live();
    unsigned shift = 1 + (unsigned)rng_below(5);
    uint64_t size = p != NULL ? p->size >> shift : 0;
    if (size == 0)
        return;
    uint64_t slots = UINT64_C(1) << shift;
    size_t n = 2 + (size_t)rng_below(slots - 1);
    uint64_t first = rng_below(slots - n + 1);
    uint64_t base = p->base + first * size;
    if (descendant_overlaps(p, base, base + n * size))
        return;
    size_t start = (size_t)rng_below(MODEL_POOL);
    for (int tries = 0; !take_consecutive_free(start, n); tries++) {
        if (tries == 8)
            return;
        start = (size_t)rng_below(MODEL_POOL);
    }
    uint8_t type = (uint8_t)rng_below(MAX_TYPE + 1);
    for (size_t i = 0; i < n; i++) {
        struct cap *c = &pool[start + i];
        set_key(c, base + i * size, size, type);
        assert_laminar_with(c);
        c->live = true;
        live[nlive++] = c;
    }
    mdb_insert_run(&tree, &pool[start].node, n, sizeof pool[0]);
    runs_inserted++;
}

static void op_delete(void)
{
    struct cap *c = random_live();
    if (c != NULL)
        model_remove(c);
}

/* Revoke as the kernel would write it, through the tree's own queries:
 * every node it hands out must be a descendant, and all must go. */
static void op_revoke(void)
{
    struct cap *p = random_live();
    if (p == NULL)
        return;
    size_t expected = 0, removed = 0;
    for (size_t i = 0; i < nlive; i++)
        expected += is_descendant(p, live[i]);
    struct mdb_node *d;
    while ((d = mdb_first_descendant(&tree, &p->node)) != NULL) {
        cr_assert(is_descendant(p, cap_of(d)));
        model_remove(cap_of(d));
        removed++;
    }
    cr_assert_eq(removed, expected);
}

/* Deletion grows likelier as the pool fills, so the tree swings between a
 * few hundred and most of the pool. */
static void random_operation(void)
{
    uint64_t r = rng_below(100);
    uint64_t del = 15 + 60 * nlive / MODEL_POOL;
    if (nlive == 0 || r < 2)
        op_root();
    else if (r < 2 + del)
        op_delete();
    else if (r < 3 + del)
        op_revoke();
    else if (r < 18 + del)
        op_copy();
    else if (model_runs && r < 30 + del)
        op_retype_run();
    else
        op_retype();
}

/* The model's answers for one cap, each from one linear scan. */
struct answers {
    const struct cap *next, *prev, *first_desc, *ancestor;
    bool has_copies;
};

static void keep_min(const struct cap **best, const struct cap *x)
{
    if (*best == NULL || ref_cmp(x, *best) < 0)
        *best = x;
}

static void keep_max(const struct cap **best, const struct cap *x)
{
    if (*best == NULL || ref_cmp(x, *best) > 0)
        *best = x;
}

static struct answers model_answers(const struct cap *c)
{
    struct answers a = { 0 };
    for (size_t i = 0; i < nlive; i++) {
        const struct cap *x = live[i];
        if (ref_cmp(x, c) > 0)
            keep_min(&a.next, x);
        if (ref_cmp(x, c) < 0)
            keep_max(&a.prev, x);
        if (is_descendant(c, x))
            keep_min(&a.first_desc, x);
        if (is_descendant(x, c))
            keep_max(&a.ancestor, x);
        a.has_copies |= is_copy(c, x);
    }
    return a;
}

static const struct cap *model_overlapping(const struct cap *c, uint64_t base, uint64_t end)
{
    const struct cap *best = NULL;
    for (size_t i = 0; i < nlive; i++)
        if (is_descendant(c, live[i]) && overlaps(live[i], base, end))
            keep_min(&best, live[i]);
    return best;
}

static void compare_overlapping(const struct cap *c, uint64_t base, uint64_t size)
{
    const struct cap *want = model_overlapping(c, base, base + size);
    struct mdb_node *got = mdb_find_overlapping_descendant(&tree, &c->node, base, size);
    cr_assert_eq(cap_of(got), want, "overlapping descendant of [%#llx,+%#llx) in [%#llx,+%#llx)",
                 (unsigned long long)base, (unsigned long long)size,
                 (unsigned long long)c->base, (unsigned long long)c->size);
}

/* Two random sub-ranges of c, and one that may stick out past its end. */
static void compare_overlap_queries(const struct cap *c)
{
    for (int i = 0; i < 2; i++) {
        uint64_t base = c->base + rng_below(c->size);
        uint64_t size = 1 + rng_below(end_of(c) - base);
        compare_overlapping(c, base, size);
    }
    uint64_t base = c->base + rng_below(c->size);
    uint64_t room = UINT64_MAX - base;
    compare_overlapping(c, base, 1 + rng_below(room < 2 * c->size ? room : 2 * c->size));
}

static void compare_queries(const struct cap *c)
{
    struct answers want = model_answers(c);
    cr_assert_eq(cap_of(mdb_next(&tree, &c->node)), want.next);
    cr_assert_eq(cap_of(mdb_prev(&tree, &c->node)), want.prev);
    cr_assert_eq(cap_of(mdb_first_descendant(&tree, &c->node)), want.first_desc);
    cr_assert_eq(cap_of(mdb_find_ancestor(&tree, &c->node)), want.ancestor);
    cr_assert_eq(mdb_has_copies(&tree, &c->node), want.has_copies);
    compare_overlap_queries(c);
}

/* The whole in-order walk must visit every live cap once, in ref_cmp order. */
static void compare_walk(void)
{
    size_t seen = 0;
    const struct cap *prev = NULL;
    for (struct mdb_node *n = mdb_first(&tree); n != NULL; n = mdb_next(&tree, n)) {
        const struct cap *c = cap_of(n);
        cr_assert(c->live);
        cr_assert(prev == NULL || ref_cmp(prev, c) < 0);
        prev = c;
        seen++;
    }
    cr_assert_eq(seen, nlive);
}

/* Run `ops` random operations from the model's current state, checking the
 * tree after each and its answers now and then. */
static void run_model(long ops)
{
    for (long op = 1; op <= ops; op++) {
        random_operation();
        cr_assert(mdb_check(&tree), "tree invariant broken after operation %ld", op);
        cr_assert_eq(tree.count, nlive);
        if (op % QUERY_EVERY == 0)
            for (int i = 0; i < QUERY_NODES && nlive > 0; i++)
                compare_queries(random_live());
        if (op % WALK_EVERY == 0)
            compare_walk();
    }
}

Test(mdb, random_operations_agree_with_a_reference_model)
{
    model_reset();
    run_model(MODEL_OPS);
}

/* The same with retypes of many objects at once (mdb_insert_run): before,
 * between and after existing nodes, into empty and full trees. */
Test(mdb, random_operations_with_runs_agree_with_a_reference_model)
{
    model_reset();
    model_runs = true;
    runs_inserted = 0;
    rng_state = MODEL_SEED ^ UINT64_C(0x72756e73);      /* "runs" */
    run_model(MODEL_OPS / 2);
    cr_assert_gt(runs_inserted, 1000, "only %zu runs inserted", runs_inserted);
}
