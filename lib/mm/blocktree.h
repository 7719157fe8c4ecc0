/*
 * blocktree.h — a red-black tree of disjoint address ranges ("blocks"),
 * ordered by base address and augmented with the size of the largest free
 * block in each subtree.
 *
 * The memory manager (mm.c) keeps two of these: one of its free blocks and
 * one of its allocations. The augmentation lets the free tree answer "the
 * lowest block at or above an address that is at least this large" in one
 * root-to-leaf walk, which is what makes allocation O(log n); in the
 * allocation tree every block counts as size 0, so the augmentation costs
 * nothing there. Nodes carry parent pointers so that a node found through
 * another structure (the manager's per-region list of neighbours) can be
 * unlinked, re-sized or used as an insertion point without a search from
 * the root.
 *
 * Why red-black and not AVL: both keep the height within a small factor
 * of log2 n, but red-black rebalancing is amortised O(1) per update even
 * when inserts and removes alternate, and an AVL tree is not: freeing and
 * reallocating the same block over and over (the memory manager's
 * commonest pattern) can make every AVL update walk to the root. docs/mm.md
 * has the measurement.
 *
 * Nodes are embedded in their owner's records and never allocated here.
 * Pure code (no libc), built for the kernel, user space and the host tests.
 * Implementation: blocktree.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bt_node {
    struct bt_node *left, *right, *parent;
    uint64_t base;
    uint64_t size;              /* > 0 */
    uint64_t max_free;          /* largest free size in this subtree (0 if none) */
    bool red;
    bool free;                  /* counts in max_free; never changed while in a tree */
};

struct blocktree {
    struct bt_node *root;
    size_t count;
};

void blocktree_init(struct blocktree *t);

/* The block's size as max_free sees it. */
static inline uint64_t bt_free_size(const struct bt_node *n)
{
    return n->free ? n->size : 0;
}

/* The largest free block in the tree, 0 if none. O(1). */
static inline uint64_t blocktree_max_free(const struct blocktree *t)
{
    return t->root == NULL ? 0 : t->root->max_free;
}

/*
 * Insert `n` (base, size and free set; links are overwritten). It must not
 * overlap a block in the tree. blocktree_insert() searches from the root;
 * the _after/_before forms put n right after (before) `pos`, which must be
 * its in-order neighbour, and search nothing.
 */
void blocktree_insert(struct blocktree *t, struct bt_node *n);
void blocktree_insert_after(struct blocktree *t, struct bt_node *pos, struct bt_node *n);
void blocktree_insert_before(struct blocktree *t, struct bt_node *pos, struct bt_node *n);

/* Remove `n`, which is in the tree. */
void blocktree_remove(struct blocktree *t, struct bt_node *n);

/* n's max_free from its own block and its children's values. */
static inline uint64_t bt_subtree_max(const struct bt_node *n)
{
    uint64_t m = bt_free_size(n);
    uint64_t l = n->left != NULL ? n->left->max_free : 0;
    uint64_t r = n->right != NULL ? n->right->max_free : 0;
    if (l > m)
        m = l;
    return r > m ? r : m;
}

/*
 * `n`'s base or size changed without moving it past a neighbour (its range
 * still lies between its in-order neighbours' ranges): bring max_free up to
 * date on the path to the root. n's stored value is what its parent has
 * seen, so the walk stops at the first node whose value stays the same.
 * Inline: the memory manager resizes a free block on every allocation and
 * every free.
 */
static inline void blocktree_resized(struct blocktree *t, struct bt_node *n)
{
    (void)t;
    for (; n != NULL; n = n->parent) {
        uint64_t m = bt_subtree_max(n);
        if (m == n->max_free)
            return;
        n->max_free = m;
    }
}

/* The block whose range contains addr, or NULL. */
struct bt_node *blocktree_find(const struct blocktree *t, uint64_t addr);

/* The block with the greatest base <= addr, or NULL. */
struct bt_node *blocktree_floor(const struct blocktree *t, uint64_t addr);

/* The free block with the lowest base >= from whose size is >= min_size,
 * or NULL. O(log n). */
struct bt_node *blocktree_first_fit(const struct blocktree *t, uint64_t from, uint64_t min_size);

/* In-order walk: the lowest block, and a block's successor (NULL at the end). */
struct bt_node *blocktree_first(const struct blocktree *t);
struct bt_node *blocktree_next(const struct bt_node *n);

/*
 * Check every invariant: order and disjointness, parent links, the red-black
 * rules (black root, no red node with a red child, the same number of black
 * nodes on every path down), max_free, count. For tests and debug checks;
 * O(n).
 */
bool blocktree_check(const struct blocktree *t);
