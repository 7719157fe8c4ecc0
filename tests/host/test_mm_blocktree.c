/*
 * test_mm_blocktree.c — the memory manager's augmented red-black tree
 * (lib/mm/blocktree.c): focused tests of each query, blocktree_check()
 * failing on damaged trees, and a seeded run of 300,000 random inserts
 * (from the root and next to a neighbour), removals and resizes, with
 * blocktree_check() after every step and every query compared with a
 * linear scan of a plain array.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include "mm/blocktree.h"

#define SLOTS  1024
#define STRIDE 100              /* slot i may hold a block inside [i * STRIDE, + STRIDE) */

static struct bt_node node[SLOTS];
static bool in_tree[SLOTS];
static struct blocktree tree;

static void setup(void)
{
    memset(node, 0, sizeof node);
    memset(in_tree, 0, sizeof in_tree);
    blocktree_init(&tree);
}

TestSuite(blocktree, .init = setup);

static void put(int i, uint64_t size, bool is_free)
{
    node[i].base = (uint64_t)i * STRIDE;
    node[i].size = size;
    node[i].free = is_free;
    blocktree_insert(&tree, &node[i]);
    in_tree[i] = true;
}

/* ---- Focused tests. ---- */

Test(blocktree, an_empty_tree_finds_nothing)
{
    cr_assert_null(blocktree_find(&tree, 0));
    cr_assert_null(blocktree_floor(&tree, UINT64_MAX));
    cr_assert_null(blocktree_first_fit(&tree, 0, 1));
    cr_assert_null(blocktree_first(&tree));
    cr_assert_eq(blocktree_max_free(&tree), 0);
    cr_assert(blocktree_check(&tree));
}

Test(blocktree, find_returns_the_block_containing_an_address)
{
    put(3, 10, false);
    put(5, 50, true);
    cr_assert_eq(blocktree_find(&tree, 300), &node[3]);
    cr_assert_eq(blocktree_find(&tree, 309), &node[3]);
    cr_assert_null(blocktree_find(&tree, 310));
    cr_assert_eq(blocktree_find(&tree, 549), &node[5]);
    cr_assert_null(blocktree_find(&tree, 299));
}

Test(blocktree, floor_returns_the_greatest_base_not_above_an_address)
{
    put(3, 10, false);
    put(5, 10, false);
    cr_assert_null(blocktree_floor(&tree, 299));
    cr_assert_eq(blocktree_floor(&tree, 300), &node[3]);
    cr_assert_eq(blocktree_floor(&tree, 499), &node[3]);
    cr_assert_eq(blocktree_floor(&tree, UINT64_MAX), &node[5]);
}

Test(blocktree, first_fit_takes_the_lowest_large_enough_free_block_from_an_address)
{
    put(1, 20, true);
    put(2, 90, false);          /* large but not free: never a fit */
    put(3, 60, true);
    put(4, 30, true);
    put(6, 80, true);
    cr_assert_eq(blocktree_first_fit(&tree, 0, 10), &node[1]);
    cr_assert_eq(blocktree_first_fit(&tree, 0, 25), &node[3]);
    cr_assert_eq(blocktree_first_fit(&tree, 101, 25), &node[3]);
    cr_assert_eq(blocktree_first_fit(&tree, 301, 25), &node[4]);
    cr_assert_eq(blocktree_first_fit(&tree, 301, 61), &node[6]);
    cr_assert_null(blocktree_first_fit(&tree, 0, 81));
    cr_assert_null(blocktree_first_fit(&tree, 601, 1));
    cr_assert_eq(blocktree_max_free(&tree), 80);
}

Test(blocktree, insert_after_and_before_place_a_block_next_to_its_neighbour)
{
    for (int i = 0; i < SLOTS; i += 4)
        put(i, 10, false);
    for (int i = 0; i + 4 < SLOTS; i += 8) {
        node[i + 1] = (struct bt_node){ .base = (uint64_t)(i + 1) * STRIDE, .size = 10 };
        blocktree_insert_after(&tree, &node[i], &node[i + 1]);
        node[i + 3] = (struct bt_node){ .base = (uint64_t)(i + 3) * STRIDE, .size = 10 };
        blocktree_insert_before(&tree, &node[i + 4], &node[i + 3]);
        cr_assert(blocktree_check(&tree));
    }
    uint64_t last = 0;
    size_t n = 0;
    for (struct bt_node *b = blocktree_first(&tree); b != NULL; b = blocktree_next(b), n++) {
        cr_assert(n == 0 || b->base > last);
        last = b->base;
    }
    cr_assert_eq(n, tree.count);
}

Test(blocktree, resizing_a_free_block_updates_the_largest_free)
{
    for (int i = 0; i < 64; i++)
        put(i, 10, true);
    cr_assert_eq(blocktree_max_free(&tree), 10);
    node[17].size = 90;
    blocktree_resized(&tree, &node[17]);
    cr_assert_eq(blocktree_max_free(&tree), 90);
    cr_assert_eq(blocktree_first_fit(&tree, 0, 11), &node[17]);
    node[17].size = 5;
    blocktree_resized(&tree, &node[17]);
    cr_assert_eq(blocktree_max_free(&tree), 10);
    cr_assert(blocktree_check(&tree));
}

/* ---- The checker can fail. ---- */

static void small_tree(void)
{
    for (int i = 0; i < 16; i++)
        put(i, 10, i % 3 == 0);
    cr_assert(blocktree_check(&tree));
}

Test(blocktree, check_finds_a_wrong_largest_free)
{
    small_tree();
    tree.root->max_free++;
    cr_assert_not(blocktree_check(&tree));
}

Test(blocktree, check_finds_a_red_root)
{
    small_tree();
    tree.root->red = true;
    cr_assert_not(blocktree_check(&tree));
}

Test(blocktree, check_finds_a_red_node_with_a_red_parent)
{
    small_tree();
    struct bt_node *r = blocktree_first(&tree);
    while (r != NULL && !(r->red && r->parent != NULL))
        r = blocktree_next(r);
    cr_assert_not_null(r, "sixteen inserts leave some red node");
    r->parent->red = true;
    cr_assert_not(blocktree_check(&tree));
}

Test(blocktree, check_finds_unequal_black_heights)
{
    small_tree();
    struct bt_node *leaf = blocktree_first(&tree);
    leaf->red = !leaf->red;
    cr_assert_not(blocktree_check(&tree));
}

Test(blocktree, check_finds_overlapping_blocks_and_a_wrong_count)
{
    small_tree();
    node[4].size = STRIDE + 1;  /* reaches into node 5 */
    cr_assert_not(blocktree_check(&tree));
    node[4].size = 10;
    tree.count++;
    cr_assert_not(blocktree_check(&tree));
}

/* ---- The long random run. ---- */

static uint64_t rng = 0x853c49e6748fea9bull;

static uint64_t rnd(uint64_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng % n;
}

static void model_queries(void)
{
    uint64_t addr = rnd(SLOTS * STRIDE), min = 1 + rnd(STRIDE);
    struct bt_node *find = NULL, *floor = NULL, *fit = NULL;
    uint64_t max = 0;
    for (int i = 0; i < SLOTS; i++) {
        if (!in_tree[i])
            continue;
        const struct bt_node *b = &node[i];
        if (addr >= b->base && addr < b->base + b->size)
            find = &node[i];
        if (b->base <= addr)
            floor = &node[i];
        if (fit == NULL && b->base >= addr && b->free && b->size >= min)
            fit = &node[i];
        if (b->free && b->size > max)
            max = b->size;
    }
    cr_assert_eq(blocktree_find(&tree, addr), find);
    cr_assert_eq(blocktree_floor(&tree, addr), floor);
    cr_assert_eq(blocktree_first_fit(&tree, addr, min), fit);
    cr_assert_eq(blocktree_max_free(&tree), max);
}

/* The nearest block in the tree below slot i, or NULL. */
static struct bt_node *lower_neighbour(int i)
{
    while (--i >= 0)
        if (in_tree[i])
            return &node[i];
    return NULL;
}

Test(blocktree, random_updates_keep_every_invariant_and_agree_with_a_scan)
{
    for (long step = 0; step < 300000; step++) {
        int i = (int)rnd(SLOTS);
        if (!in_tree[i]) {
            node[i] = (struct bt_node){ .base = (uint64_t)i * STRIDE, .size = 1 + rnd(STRIDE),
                                        .free = rnd(2) == 0 };
            struct bt_node *lower = lower_neighbour(i);
            if (lower != NULL && rnd(2) == 0)
                blocktree_insert_after(&tree, lower, &node[i]);
            else
                blocktree_insert(&tree, &node[i]);
            in_tree[i] = true;
        } else if (node[i].free && rnd(3) == 0) {
            node[i].size = 1 + rnd(STRIDE);
            blocktree_resized(&tree, &node[i]);
        } else {
            blocktree_remove(&tree, &node[i]);
            in_tree[i] = false;
        }
        cr_assert(blocktree_check(&tree), "step %ld", step);
        if (step % 8 == 0)
            model_queries();
    }
}
