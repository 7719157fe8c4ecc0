/*
 * blocktree.c — the augmented red-black tree of blocktree.h.
 *
 * The red-black rules are the textbook ones (Cormen et al., ch. 13), with
 * NULL for the black leaves and parent pointers, so that insertion and
 * removal fix the colours bottom-up. The augmentation is kept in two ways:
 *   - a rotation changes only the subtrees of the two nodes it turns, so
 *     it recomputes those two (the new top inherits the old top's value,
 *     as its subtree holds the same blocks);
 *   - any other change (a leaf hung or unlinked, a block resized) is
 *     carried up by raise_max(), which stops at the first ancestor whose
 *     value does not change, because nothing above can then change.
 * Structural changes finish their max_free walk before they rotate, so
 * rotations always start from correct values.
 *
 * Uses no libc: it is also built for the kernel.
 */
#include "mm/blocktree.h"

/* An invariant the tree relies on; when one is broken the manager could
 * hand out memory twice, so stop at once. */
#define BT_INVARIANT(cond)          \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

void blocktree_init(struct blocktree *t)
{
    t->root = NULL;
    t->count = 0;
}

static bool is_red(const struct bt_node *n)
{
    return n != NULL && n->red;
}

static uint64_t max_of(const struct bt_node *n)
{
    return n == NULL ? 0 : n->max_free;
}

/*
 * Recompute max_free from n up to the root, stopping at the first node
 * whose value stays the same, but not before `dirty` (a node whose stored
 * value is stale whatever happens below it), if that is on the way.
 */
static void raise_max(struct bt_node *n, const struct bt_node *dirty)
{
    for (; dirty != NULL && n != dirty; n = n->parent)
        n->max_free = bt_subtree_max(n);
    for (; n != NULL; n = n->parent) {
        uint64_t m = bt_subtree_max(n);
        if (m == n->max_free)
            return;
        n->max_free = m;
    }
}

/* Make `parent` (or the root, if parent is NULL) point to `to` instead of `from`. */
static void replace_child(struct blocktree *t, struct bt_node *parent, struct bt_node *from,
                          struct bt_node *to)
{
    if (parent == NULL)
        t->root = to;
    else if (parent->left == from)
        parent->left = to;
    else
        parent->right = to;
    if (to != NULL)
        to->parent = parent;
}

/* x's right child y takes x's place; x becomes y's left child. */
static void rotate_left(struct blocktree *t, struct bt_node *x)
{
    struct bt_node *y = x->right;
    replace_child(t, x->parent, x, y);
    x->right = y->left;
    if (x->right != NULL)
        x->right->parent = x;
    y->left = x;
    x->parent = y;
    y->max_free = x->max_free;
    x->max_free = bt_subtree_max(x);
}

/* The mirror image of rotate_left. */
static void rotate_right(struct blocktree *t, struct bt_node *x)
{
    struct bt_node *y = x->left;
    replace_child(t, x->parent, x, y);
    x->left = y->right;
    if (x->left != NULL)
        x->left->parent = x;
    y->right = x;
    x->parent = y;
    y->max_free = x->max_free;
    x->max_free = bt_subtree_max(x);
}

/*
 * n is red and may have a red parent. Push the violation up by recolouring
 * while the uncle is red; otherwise one or two rotations end it.
 */
static void insert_fixup(struct blocktree *t, struct bt_node *n)
{
    struct bt_node *p;
    while ((p = n->parent) != NULL && p->red) {
        struct bt_node *g = p->parent;     /* exists: the root is black */
        bool left = (p == g->left);
        struct bt_node *uncle = left ? g->right : g->left;
        if (is_red(uncle)) {
            p->red = uncle->red = false;
            g->red = true;
            n = g;
            continue;
        }
        if (n == (left ? p->right : p->left)) {
            if (left)
                rotate_left(t, p);
            else
                rotate_right(t, p);
            p = n;
        }
        p->red = false;
        g->red = true;
        if (left)
            rotate_right(t, g);
        else
            rotate_left(t, g);
        break;
    }
    t->root->red = false;
}

/* Hang the leaf n below parent on the given side, then rebalance. */
static inline void attach(struct blocktree *t, struct bt_node *parent, bool as_left,
                          struct bt_node *n)
{
    n->left = n->right = NULL;
    n->parent = parent;
    n->red = true;
    n->max_free = bt_free_size(n);
    if (parent == NULL)
        t->root = n;
    else if (as_left)
        parent->left = n;
    else
        parent->right = n;
    t->count++;
    /* A block that is not free changes no ancestor's max_free. */
    if (n->max_free != 0)
        raise_max(parent, NULL);
    insert_fixup(t, n);
}

void blocktree_insert(struct blocktree *t, struct bt_node *n)
{
    struct bt_node *parent = NULL;
    struct bt_node *cur = t->root;
    bool as_left = false;
    while (cur != NULL) {
        parent = cur;
        as_left = n->base < cur->base;
        cur = as_left ? cur->left : cur->right;
    }
    attach(t, parent, as_left, n);
}

/* The in-order successor of pos is the leftmost node of its right subtree
 * if it has one; n goes between them, as a leaf on whichever side is free. */
void blocktree_insert_after(struct blocktree *t, struct bt_node *pos, struct bt_node *n)
{
    BT_INVARIANT(pos->base < n->base);
    if (pos->right == NULL) {
        attach(t, pos, false, n);
        return;
    }
    struct bt_node *cur = pos->right;
    while (cur->left != NULL)
        cur = cur->left;
    attach(t, cur, true, n);
}

void blocktree_insert_before(struct blocktree *t, struct bt_node *pos, struct bt_node *n)
{
    BT_INVARIANT(n->base < pos->base);
    if (pos->left == NULL) {
        attach(t, pos, true, n);
        return;
    }
    struct bt_node *cur = pos->left;
    while (cur->right != NULL)
        cur = cur->right;
    attach(t, cur, false, n);
}

/*
 * A black node left the subtree at x (possibly NULL), x_parent's child:
 * that side is one black short. Move the shortage up by recolouring, or
 * end it with at most three rotations.
 */
static void remove_fixup(struct blocktree *t, struct bt_node *x, struct bt_node *xp)
{
    while (x != t->root && !is_red(x)) {
        bool left = (x == xp->left);
        struct bt_node *w = left ? xp->right : xp->left;   /* not NULL: that side is taller */
        if (w->red) {
            w->red = false;
            xp->red = true;
            if (left)
                rotate_left(t, xp);
            else
                rotate_right(t, xp);
            w = left ? xp->right : xp->left;
        }
        struct bt_node *near = left ? w->left : w->right;
        struct bt_node *far = left ? w->right : w->left;
        if (!is_red(near) && !is_red(far)) {
            w->red = true;
            x = xp;
            xp = x->parent;
            continue;
        }
        if (!is_red(far)) {
            near->red = false;
            w->red = true;
            if (left)
                rotate_right(t, w);
            else
                rotate_left(t, w);
            w = left ? xp->right : xp->left;
            far = left ? w->right : w->left;
        }
        w->red = xp->red;
        xp->red = false;
        far->red = false;
        if (left)
            rotate_left(t, xp);
        else
            rotate_right(t, xp);
        x = t->root;
        break;
    }
    if (x != NULL)
        x->red = false;
}

/*
 * A node with two children is replaced by its successor s, which moves up
 * into its place and takes its colour; then the colour that really left
 * the tree is s's own, from s's old position.
 */
void blocktree_remove(struct blocktree *t, struct bt_node *n)
{
    BT_INVARIANT(t->count > 0);
    t->count--;
    /* If nothing below n is free, no max_free changes anywhere. */
    bool fix_max = n->max_free != 0;
    struct bt_node *x, *xp;
    bool removed_red;
    if (n->left == NULL || n->right == NULL) {
        x = n->left != NULL ? n->left : n->right;
        xp = n->parent;
        removed_red = n->red;
        replace_child(t, xp, n, x);
        if (fix_max)
            raise_max(xp, NULL);
    } else {
        struct bt_node *s = n->right;
        while (s->left != NULL)
            s = s->left;
        removed_red = s->red;
        x = s->right;
        if (s->parent == n) {
            xp = s;
        } else {
            xp = s->parent;
            xp->left = x;
            if (x != NULL)
                x->parent = xp;
            s->right = n->right;
            s->right->parent = s;
        }
        s->left = n->left;
        s->left->parent = s;
        replace_child(t, n->parent, n, s);
        s->red = n->red;
        /* What n's parent has seen so far is n's value. */
        s->max_free = n->max_free;
        if (fix_max)
            raise_max(xp, s);
    }
    if (!removed_red)
        remove_fixup(t, x, xp);
}

struct bt_node *blocktree_find(const struct blocktree *t, uint64_t addr)
{
    struct bt_node *n = t->root;
    while (n != NULL) {
        if (addr < n->base)
            n = n->left;
        else if (addr - n->base < n->size)
            return n;
        else
            n = n->right;
    }
    return NULL;
}

struct bt_node *blocktree_floor(const struct blocktree *t, uint64_t addr)
{
    struct bt_node *best = NULL;
    struct bt_node *n = t->root;
    while (n != NULL) {
        if (n->base <= addr) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}

/* The lowest free block of at least min_size in the subtree n, whose
 * max_free promises one. */
static struct bt_node *leftmost_fit(struct bt_node *n, uint64_t min_size)
{
    for (;;) {
        BT_INVARIANT(n != NULL && n->max_free >= min_size);
        if (max_of(n->left) >= min_size)
            n = n->left;
        else if (bt_free_size(n) >= min_size)
            return n;
        else
            n = n->right;
    }
}

/*
 * Walk towards `from`. Each node at or above it on the way, with its right
 * subtree, is a candidate range lying above everything deeper on the walk,
 * so the deepest candidate that holds a large enough block is the answer:
 * the node itself or, failing that, the lowest fit in its right subtree.
 */
struct bt_node *blocktree_first_fit(const struct blocktree *t, uint64_t from, uint64_t min_size)
{
    struct bt_node *cand = NULL;
    struct bt_node *n = t->root;
    while (n != NULL && n->max_free >= min_size) {
        if (n->base >= from) {
            if (bt_free_size(n) >= min_size || max_of(n->right) >= min_size)
                cand = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    if (cand == NULL || bt_free_size(cand) >= min_size)
        return cand;
    return leftmost_fit(cand->right, min_size);
}

struct bt_node *blocktree_first(const struct blocktree *t)
{
    struct bt_node *n = t->root;
    while (n != NULL && n->left != NULL)
        n = n->left;
    return n;
}

struct bt_node *blocktree_next(const struct bt_node *n)
{
    if (n->right != NULL) {
        n = n->right;
        while (n->left != NULL)
            n = n->left;
        return (struct bt_node *)n;
    }
    while (n->parent != NULL && n->parent->right == n)
        n = n->parent;
    return n->parent;
}

/*
 * Check the subtree n, whose blocks must lie in [lo, hi), and count it;
 * returns its black height (NULL leaves count one), or -1 if broken.
 * Recursion is bounded by the height, at most 2 log2(n + 1).
 */
static int check_subtree(const struct bt_node *n, const struct bt_node *parent, uint64_t lo,
                         uint64_t hi, size_t *count)
{
    if (n == NULL)
        return 1;
    if (n->parent != parent || n->size == 0 || n->base < lo || n->base > hi ||
        hi - n->base < n->size)
        return -1;
    if (n->red && (is_red(n->left) || is_red(n->right)))
        return -1;
    int bl = check_subtree(n->left, n, lo, n->base, count);
    int br = check_subtree(n->right, n, n->base + n->size, hi, count);
    if (bl < 0 || bl != br || n->max_free != bt_subtree_max(n))
        return -1;
    (*count)++;
    return bl + (n->red ? 0 : 1);
}

bool blocktree_check(const struct blocktree *t)
{
    size_t count = 0;
    if (t->root != NULL && t->root->red)
        return false;
    return check_subtree(t->root, NULL, 0, UINT64_MAX, &count) > 0 && count == t->count;
}
