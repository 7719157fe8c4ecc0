/*
 * mdb.h — the mapping (derivation) database: every capability's table entry
 * is a node of one balanced search tree, ordered by
 *     (base ascending, size DEscending, type ascending, node address ascending)
 * so that, for a capability C,
 *   - its copies (same base, size and type) are its neighbours,
 *   - its descendants are the nodes right after its copies whose base lies
 *     inside [C.base, C.base + C.size),
 *   - its ancestors come before it and contain its range.
 * This relies on the kernel's invariant that any two capability ranges are
 * either disjoint or nested (retype never overlaps an existing descendant)
 * and that, for equal ranges, an ancestor's type sorts before its
 * descendants' types.
 *
 * The tree is an AVL tree augmented with the largest end address in each
 * subtree, so every query below is O(log n). It is pure code: no allocation
 * (nodes are embedded in their owners), no kernel calls. Host-tested against
 * a reference model.
 *
 * The owner keeps each node's key where the tree reads it with plain loads:
 *   - base and size, two consecutive uint64_t (size right after base), at
 *     the same byte offset from every node of a tree, the key_offset given
 *     to mdb_init (negative if they come before the node in the owner);
 *   - the type, encoded as node->rank: equal ranges order by rank, so an
 *     ancestor's rank must be below its descendants'.
 * size > 0 and base + size must not overflow. The owner sets all three
 * before mdb_insert and changes none of them while the node is in the tree:
 * the tree's order and its subtree_end fields are computed from them. A
 * node passed to a query without being in the tree (a probe) needs the same
 * three set, and nothing else.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mdb_node {
    struct mdb_node *left, *right;
    uint64_t subtree_end;       /* max(base + size) over this subtree */
    int8_t height;              /* of this subtree; a leaf has height 1 */
    uint8_t rank;               /* the owner's: the node's type (see above) */
    uint8_t reserved[6];
};

_Static_assert(sizeof(struct mdb_node) == 32, "an mdb node is half a table entry");

struct mdb {
    struct mdb_node *root;
    ptrdiff_t key_offset;       /* from a node to its owner's base and size */
    size_t count;
};

#ifdef HOST_TEST
/* Keys read by every tree so far: the host tests' measure of what a query
 * costs. Only host builds count, so that elsewhere a key read stays three
 * loads. */
extern uint64_t mdb_key_reads;
#endif

/* key_offset: (char *)&base - (char *)node, the same for every node (see
 * above); base must be aligned for uint64_t. */
void mdb_init(struct mdb *t, ptrdiff_t key_offset);

/* Insert a node that is not in the tree (its links are overwritten). */
void mdb_insert(struct mdb *t, struct mdb_node *node);

/* Insert n nodes that are not in the tree, the i-th at (char *)first +
 * i * stride, as one run: they must be in strictly ascending order by i, and
 * no node already in the tree may sort between the first and the last (after
 * the insert they are neighbours). O(log(count) + n) rather than n inserts'
 * O(n log(count)). Each node's key is set as for mdb_insert. */
void mdb_insert_run(struct mdb *t, struct mdb_node *first, size_t n, size_t stride);

/* Remove a node that is in the tree. */
void mdb_remove(struct mdb *t, struct mdb_node *node);

/* In-order neighbours (copies included), NULL at the ends. */
struct mdb_node *mdb_next(const struct mdb *t, const struct mdb_node *node);
struct mdb_node *mdb_prev(const struct mdb *t, const struct mdb_node *node);
struct mdb_node *mdb_first(const struct mdb *t);

/* True if another node has the same (base, size, type). */
bool mdb_has_copies(const struct mdb *t, const struct mdb_node *node);

/* The first descendant of node: the first node whose key (base, size, type)
 * is strictly greater than node's and whose base < node.base + node.size.
 * NULL if node has no descendants. Further descendants follow in order
 * (mdb_next) until a node's base reaches node.base + node.size. */
struct mdb_node *mdb_first_descendant(const struct mdb *t, const struct mdb_node *node);

/* A descendant of node (as above) whose range overlaps [base, base + size),
 * or NULL. Used by retype to refuse overlapping objects. */
struct mdb_node *mdb_find_overlapping_descendant(const struct mdb *t, const struct mdb_node *node,
                                                 uint64_t base, uint64_t size);

/* The nearest ancestor: the greatest node whose key is strictly less than
 * node's and whose range contains node's range; NULL if none. */
struct mdb_node *mdb_find_ancestor(const struct mdb *t, const struct mdb_node *node);

/* Check every invariant (order, AVL balance and heights, subtree_end, count);
 * for tests and debug builds. */
bool mdb_check(const struct mdb *t);
