/*
 * mdb.c — the derivation database: an AVL tree of capability nodes ordered
 * by (base ascending, size descending, type ascending, address ascending),
 * in which every node also records the largest end address in its subtree.
 *
 * Nodes have no parent pointers (a node is half of a 64-byte table entry),
 * so insert and remove walk down from the root keeping the links they pass
 * and rebalance back up along them, and the neighbour queries search again
 * from the root with the node's full key. A run of nodes that will be
 * neighbours goes in at once (mdb_insert_run), joined in with AVL joins.
 * The depth is at most about 1.44 log2(n), so the paths and the recursion
 * of the joins are short. A node's key is read in place from its owner
 * (node_key); nothing here allocates, and nothing calls out of this file.
 *
 * The queries use two kinds of descent, both O(log n):
 *   - boundary descents, which find the first or last node on one side of a
 *     key and look at one node per level. They compare (base, size, type)
 *     without the address, so a run of copies is stepped over in one descent
 *     however long it is;
 *   - augmented descents, which find the first (or last) node of an
 *     in-order interval whose end is above some address. They skip every
 *     subtree whose subtree_end rules it out, so they follow one path per
 *     bound of the interval, plus one last path down to the answer.
 * Everything relies on mdb.h's contract for keys: size > 0 and base + size
 * does not overflow.
 */
#include "mdb.h"

/* AVL heights fit in int8_t up to 127, far above any tree that fits in
 * memory (height 93 already needs more than 2^64 nodes). mdb_check uses it
 * as a depth bound, so a corrupted tree cannot send it into endless
 * recursion. */
#define MDB_MAX_DEPTH 127

/* A node's key as the comparisons use it; type is the node's rank. */
struct mdb_key {
    uint64_t base;
    uint64_t size;
    uint8_t type;
};

#ifdef HOST_TEST
uint64_t mdb_key_reads;
#endif

/*
 * Read n's key where mdb.h's contract puts it: base and size at the tree's
 * key offset, the type in the node's rank. This is the only place that reads
 * keys. Inlined, a read is three loads into a local that stays in registers;
 * an insert reads a key per level, and when each read was a call through the
 * owner's function, the calls were a large part of the tree's cost.
 */
static inline struct mdb_key node_key(const struct mdb *t, const struct mdb_node *n)
{
    const uint64_t *range = (const uint64_t *)((const char *)n + t->key_offset);
#ifdef HOST_TEST
    mdb_key_reads++;
#endif
    return (struct mdb_key){ .base = range[0], .size = range[1], .type = n->rank };
}

static uint64_t key_end(const struct mdb_key *k)
{
    return k->base + k->size;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Order by (base asc, size desc, type asc). Copies compare equal. Size
 * descends so that, at one base, a container comes before what it holds. */
static int cmp_range_type(const struct mdb_key *a, const struct mdb_key *b)
{
    if (a->base != b->base)
        return a->base < b->base ? -1 : 1;
    if (a->size != b->size)
        return a->size > b->size ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    return 0;
}

/* The full order. The address tie-break gives each copy a place of its own,
 * which is how remove and the neighbour queries find one exact node. */
static int cmp_full(const struct mdb_key *a, const struct mdb_node *an,
                    const struct mdb_key *b, const struct mdb_node *bn)
{
    int c = cmp_range_type(a, b);
    if (c != 0)
        return c;
    uintptr_t x = (uintptr_t)an, y = (uintptr_t)bn;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* Compare tree node n against (k, kn), reading n's key from its owner. */
static int cmp_node(const struct mdb *t, const struct mdb_node *n,
                    const struct mdb_key *k, const struct mdb_node *kn)
{
    struct mdb_key nk = node_key(t, n);
    return cmp_full(&nk, n, k, kn);
}

static int height(const struct mdb_node *n)
{
    return n != NULL ? n->height : 0;
}

static uint64_t subtree_end(const struct mdb_node *n)
{
    return n != NULL ? n->subtree_end : 0;
}

static int balance(const struct mdb_node *n)
{
    return height(n->left) - height(n->right);
}

/* Recompute n's height and subtree_end from its children, which must
 * already be correct, and from n's own key. */
static void update(const struct mdb *t, struct mdb_node *n)
{
    struct mdb_key k = node_key(t, n);
    int hl = height(n->left), hr = height(n->right);
    n->height = (int8_t)(1 + (hl > hr ? hl : hr));
    n->subtree_end = max_u64(key_end(&k),
                             max_u64(subtree_end(n->left), subtree_end(n->right)));
}

static struct mdb_node *rotate_right(const struct mdb *t, struct mdb_node *n)
{
    struct mdb_node *l = n->left;
    n->left = l->right;
    l->right = n;
    update(t, n);       /* n is now below l, so it must be updated first */
    update(t, l);
    return l;
}

static struct mdb_node *rotate_left(const struct mdb *t, struct mdb_node *n)
{
    struct mdb_node *r = n->right;
    n->right = r->left;
    r->left = n;
    update(t, n);
    update(t, r);
    return r;
}

/* Restore the AVL property at n after one of its subtrees changed height by
 * at most one; return the subtree's new root. The double rotation is needed
 * when the taller child leans the other way, or a single rotation would
 * only move the imbalance across. */
static struct mdb_node *rebalance(const struct mdb *t, struct mdb_node *n)
{
    update(t, n);
    int b = balance(n);
    if (b > 1) {
        if (balance(n->left) < 0)
            n->left = rotate_left(t, n->left);
        return rotate_right(t, n);
    }
    if (b < -1) {
        if (balance(n->right) > 0)
            n->right = rotate_right(t, n->right);
        return rotate_left(t, n);
    }
    return n;
}

void mdb_init(struct mdb *t, ptrdiff_t key_offset)
{
    t->root = NULL;
    t->key_offset = key_offset;
    t->count = 0;
}

/* Deeper than any AVL tree that fits in memory (see MDB_MAX_DEPTH). */
#define MDB_PATH_MAX 96

/*
 * Insert iteratively, keeping the links walked through. On the way down,
 * every node passed gains the new node in its subtree, so its subtree_end
 * becomes the max with the new end — no key is read for that. On the way
 * back up only heights change; the first node whose height stays the same
 * ends the walk, and so does the first rotation, because a rotation after
 * an insert gives the subtree back its old height. Most inserts therefore
 * read one key per level, on the way down, and touch a level or two above
 * the new leaf.
 */
void mdb_insert(struct mdb *t, struct mdb_node *node)
{
    struct mdb_key k = node_key(t, node);
    struct mdb_node **path[MDB_PATH_MAX];
    int depth = 0;
    uint64_t end = key_end(&k);
    node->left = NULL;
    node->right = NULL;
    node->height = 1;
    node->subtree_end = end;

    struct mdb_node **link = &t->root;
    while (*link != NULL) {
        struct mdb_node *n = *link;
        if (depth == MDB_PATH_MAX)
            __builtin_trap();           /* not an AVL tree: memory is corrupt */
        path[depth++] = link;
        if (n->subtree_end < end)
            n->subtree_end = end;
        link = cmp_node(t, n, &k, node) > 0 ? &n->left : &n->right;
    }
    *link = node;
    t->count++;

    while (depth > 0) {
        link = path[--depth];
        struct mdb_node *n = *link;
        int b = balance(n);
        if (b > 1 || b < -1) {
            *link = rebalance(t, n);
            return;
        }
        int hl = height(n->left), hr = height(n->right);
        int8_t h = (int8_t)(1 + (hl > hr ? hl : hr));
        if (h == n->height)
            return;
        n->height = h;
    }
}

/*
 * Join two subtrees and a node that sorts between them (everything in l <
 * mid < everything in r) into one AVL subtree. The taller side is followed
 * down its inner edge to a subtree no more than one level taller than the
 * other side; mid joins the two there, and each level on the way back gains
 * at most one in height, so rebalance's single or double rotation restores
 * it. The cost is the difference of the heights, plus one.
 */
static struct mdb_node *join(const struct mdb *t, struct mdb_node *l, struct mdb_node *mid,
                             struct mdb_node *r)
{
    int hl = height(l), hr = height(r);
    if (hl > hr + 1) {
        l->right = join(t, l->right, mid, r);
        return rebalance(t, l);
    }
    if (hr > hl + 1) {
        r->left = join(t, l, mid, r->left);
        return rebalance(t, r);
    }
    mid->left = l;
    mid->right = r;
    update(t, mid);
    return mid;
}

static struct mdb_node *run_node(struct mdb_node *first, size_t i, size_t stride)
{
    return (struct mdb_node *)((char *)first + i * stride);
}

/* A run: n nodes, the i-th at (char *)first + i * stride. */
struct run {
    struct mdb_node *first;
    size_t stride;
};

static struct mdb_node *build_balanced(const struct mdb *t, const struct run *run, size_t lo, size_t hi);

/* Nodes lo .. hi - 1 of a run, possibly none, as a subtree: a leaf without
 * a call, the rest by build_balanced. Half of a balanced tree's nodes are
 * leaves. */
static inline struct mdb_node *build_part(const struct mdb *t, const struct run *run, size_t lo, size_t hi)
{
    if (hi - lo > 1)
        return build_balanced(t, run, lo, hi);
    if (hi == lo)
        return NULL;
    struct mdb_node *leaf = run_node(run->first, lo, run->stride);
    leaf->left = NULL;
    leaf->right = NULL;
    update(t, leaf);
    return leaf;
}

/* Nodes lo .. hi - 1 (at least one) of a run as a perfectly balanced
 * subtree: the halves under each node differ in size by at most one, so in
 * height too. */
static struct mdb_node *build_balanced(const struct mdb *t, const struct run *run, size_t lo, size_t hi)
{
    size_t mid = lo + (hi - lo) / 2;
    struct mdb_node *n = run_node(run->first, mid, run->stride);
    n->left = build_part(t, run, lo, mid);
    n->right = build_part(t, run, mid + 1, hi);
    update(t, n);
    return n;
}

/* Path node p gets s, a subtree of everything it had on one side and a
 * run, in place of that side. Usually the two sides stay within one level
 * of each other, and then p keeps its children's order without a
 * rotation, and its largest end is the old one or the run's (`end`): no
 * key is read. Otherwise join rebalances. */
static struct mdb_node *rejoin(const struct mdb *t, struct mdb_node *p, bool left,
                               struct mdb_node *s, uint64_t end)
{
    struct mdb_node *other = left ? p->right : p->left;
    int ho = height(other), hs = s->height;
    if (ho - hs > 1 || hs - ho > 1)
        return left ? join(t, s, p, other) : join(t, other, p, s);
    if (left)
        p->left = s;
    else
        p->right = s;
    p->height = (int8_t)(1 + (ho > hs ? ho : hs));
    p->subtree_end = max_u64(p->subtree_end, end);
    return p;
}

/* Walk down to the empty link where the run [first, last] belongs,
 * recording the nodes passed and on which side of each the run lies;
 * return how many. */
static int run_path(const struct mdb *t, struct mdb_node *first, struct mdb_node *last,
                    struct mdb_node **path, bool *went_left)
{
    struct mdb_key kf = node_key(t, first), kl = node_key(t, last);
    int depth = 0;
    for (struct mdb_node *p = t->root; p != NULL; depth++) {
        if (depth == MDB_PATH_MAX)
            __builtin_trap();           /* not an AVL tree: memory is corrupt */
        struct mdb_key pk = node_key(t, p);
        bool left = cmp_full(&pk, p, &kf, first) > 0;
        if (left != (cmp_full(&pk, p, &kl, last) > 0))
            __builtin_trap();           /* p sorts inside the run: the caller broke the contract */
        path[depth] = p;
        went_left[depth] = left;
        p = left ? p->left : p->right;
    }
    return depth;
}

/*
 * No node of the tree sorts inside the run, so the whole run belongs where a
 * single insert of its first node would go: at one empty link at the bottom
 * of one search path. The tree is rebuilt around it from the bottom of that
 * path up, with join; joining costs the difference in height, so each step
 * joins pieces of about the same height:
 *   - the path nodes lower than the run (near the bottom, where subtrees are
 *     small) are split into what lies left of the run and what lies right,
 *     each grown one path node at a time, as in an AVL split;
 *   - those two, the run's first and last node and a balanced subtree of
 *     the rest are joined into one subtree, which replaces the split part;
 *   - each path node above joins its other subtree and that subtree, until,
 *     as in mdb_insert, one level keeps its old height; above it only the
 *     largest end changes.
 * The cost is about the tree's height plus the run's length.
 */
void mdb_insert_run(struct mdb *t, struct mdb_node *first, size_t n, size_t stride)
{
    if (n <= 1) {
        if (n == 1)
            mdb_insert(t, first);
        return;
    }
    struct mdb_node *last = run_node(first, n - 1, stride);
    struct mdb_node *path[MDB_PATH_MAX];
    bool went_left[MDB_PATH_MAX];
    int d = run_path(t, first, last, path, went_left);

    struct run run = { first, stride };
    struct mdb_node *inner = build_part(t, &run, 1, n - 1);
    int run_height = height(inner) + 1;
    struct mdb_node *l = NULL, *r = NULL;
    int replaced_height = 0;            /* of the subtree below link level d */
    while (d > 0 && path[d - 1]->height <= run_height) {
        struct mdb_node *p = path[--d];
        replaced_height = p->height;
        if (went_left[d])
            r = join(t, r, p, p->right);
        else
            l = join(t, p->left, p, l);
    }
    struct mdb_node *s = join(t, l, first, join(t, inner, last, r));
    uint64_t end = s->subtree_end;
    while (d > 0 && s->height != replaced_height) {
        struct mdb_node *p = path[--d];
        replaced_height = p->height;
        s = rejoin(t, p, went_left[d], s, end);
    }

    /* s replaces what hung at link level d: the root, or a child of path[d - 1]. */
    if (d == 0) {
        t->root = s;
    } else {
        struct mdb_node *parent = path[d - 1];
        if (went_left[d - 1])
            parent->left = s;
        else
            parent->right = s;
        for (int i = d - 1; i >= 0; i--)
            path[i]->subtree_end = max_u64(path[i]->subtree_end, end);
    }
    t->count += n;
}

/*
 * Replace node, found at *link with two children, by its successor (the
 * leftmost node of its right subtree), recording in path[] the links down
 * to the successor's old parent; return the new depth. The usual trick of
 * copying the successor's key into node is not open to us: each node is
 * embedded in its owner and must stay where it is.
 */
static int splice_successor(struct mdb_node *node, struct mdb_node **link,
                            struct mdb_node ***path, int depth)
{
    int first = depth;
    struct mdb_node **sl = &node->right;
    while ((*sl)->left != NULL) {
        if (depth == MDB_PATH_MAX)
            __builtin_trap();           /* not an AVL tree: memory is corrupt */
        path[depth++] = sl;
        sl = &(*sl)->left;
    }
    struct mdb_node *succ = *sl;
    *sl = succ->right;
    succ->left = node->left;
    succ->right = node->right;
    succ->height = node->height;
    *link = succ;
    if (depth > first)
        path[first] = &succ->right;     /* was &node->right, which moved to succ */
    return depth;
}

/*
 * Iterative, like mdb_insert: find node by its full key keeping the links
 * walked through, unlink it, then rebalance back up. Each level is
 * recomputed (a key read) until one keeps both its height and its largest
 * end; above that nothing can change. That cannot happen below node's own
 * place when its successor moved there, because the successor's fields
 * are still node's.
 *
 * A node that is not in the tree is not found, and then nothing changes;
 * the count stays right even when a caller breaks the contract. The removed
 * node's links are cleared so that a stale walk from it stops at once.
 */
void mdb_remove(struct mdb *t, struct mdb_node *node)
{
    struct mdb_key k = node_key(t, node);
    struct mdb_node **path[MDB_PATH_MAX];
    int depth = 0;
    struct mdb_node **link = &t->root;
    while (*link != node) {
        struct mdb_node *n = *link;
        if (n == NULL)
            return;
        if (depth == MDB_PATH_MAX)
            __builtin_trap();           /* not an AVL tree: memory is corrupt */
        path[depth++] = link;
        link = cmp_node(t, n, &k, node) > 0 ? &n->left : &n->right;
    }
    int must_reach = depth;             /* levels at or below this must be recomputed */
    if (node->left == NULL || node->right == NULL) {
        *link = node->left != NULL ? node->left : node->right;
    } else {
        path[depth++] = link;
        depth = splice_successor(node, link, path, depth);
    }
    while (depth > 0) {
        link = path[--depth];
        struct mdb_node *n = *link;
        int h = n->height;
        uint64_t end = n->subtree_end;
        *link = rebalance(t, n);
        if (depth < must_reach && (*link)->height == h && (*link)->subtree_end == end)
            break;
    }
    t->count--;
    node->left = NULL;
    node->right = NULL;
    node->height = 0;
}

/* Searching by key rather than following node's own links means node need
 * not be in the tree: the answer is then its would-be neighbour. */
struct mdb_node *mdb_next(const struct mdb *t, const struct mdb_node *node)
{
    struct mdb_key k = node_key(t, node);
    struct mdb_node *best = NULL;
    for (struct mdb_node *n = t->root; n != NULL;) {
        if (cmp_node(t, n, &k, node) > 0) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

struct mdb_node *mdb_prev(const struct mdb *t, const struct mdb_node *node)
{
    struct mdb_key k = node_key(t, node);
    struct mdb_node *best = NULL;
    for (struct mdb_node *n = t->root; n != NULL;) {
        if (cmp_node(t, n, &k, node) < 0) {
            best = n;
            n = n->right;
        } else {
            n = n->left;
        }
    }
    return best;
}

struct mdb_node *mdb_first(const struct mdb *t)
{
    struct mdb_node *n = t->root;
    if (n == NULL)
        return NULL;
    while (n->left != NULL)
        n = n->left;
    return n;
}

/* Copies are exactly the nodes equal in (base, size, type), and the address
 * tie-break keeps them in one run, so if node has a copy, one of them sits
 * right next to it. */
bool mdb_has_copies(const struct mdb *t, const struct mdb_node *node)
{
    struct mdb_key k = node_key(t, node);
    const struct mdb_node *near = mdb_prev(t, node);
    if (near != NULL) {
        struct mdb_key nk = node_key(t, near);
        if (cmp_range_type(&nk, &k) == 0)
            return true;
    }
    near = mdb_next(t, node);
    if (near == NULL)
        return false;
    struct mdb_key nk = node_key(t, near);
    return cmp_range_type(&nk, &k) == 0;
}

/* The first node whose (base, size, type) is greater than k: the first node
 * after k's whole run of copies, found without walking that run. */
static struct mdb_node *first_after_copies(const struct mdb *t, const struct mdb_key *k)
{
    struct mdb_node *best = NULL;
    for (struct mdb_node *n = t->root; n != NULL;) {
        struct mdb_key nk = node_key(t, n);
        if (cmp_range_type(&nk, k) > 0) {
            best = n;
            n = n->left;
        } else {
            n = n->right;
        }
    }
    return best;
}

struct mdb_node *mdb_first_descendant(const struct mdb *t, const struct mdb_node *node)
{
    struct mdb_key k = node_key(t, node);
    struct mdb_node *c = first_after_copies(t, &k);
    if (c == NULL)
        return NULL;
    struct mdb_key ck = node_key(t, c);
    return ck.base < key_end(&k) ? c : NULL;
}

/* An in-order interval of the tree — the nodes whose (base, size, type) is
 * greater than *after and whose base is below base_below — and the address
 * that a wanted node's end must be above. */
struct span {
    const struct mdb_key *after;
    uint64_t base_below;
    uint64_t end_above;
};

/* The first node of the span in n's subtree that ends above s->end_above.
 * Below the node where the span's two bounds part, each subtree met is
 * bounded on one side only, and the child on the other side lies wholly
 * inside the span: there subtree_end alone says whether an answer exists,
 * so a call on it either returns at once or succeeds. Hence one path per
 * bound, O(log n). */
static struct mdb_node *first_in_span(const struct mdb *t, struct mdb_node *n,
                                      const struct span *s)
{
    if (n == NULL || n->subtree_end <= s->end_above)
        return NULL;
    struct mdb_key k = node_key(t, n);
    if (cmp_range_type(&k, s->after) <= 0)
        return first_in_span(t, n->right, s);
    if (k.base >= s->base_below)
        return first_in_span(t, n->left, s);
    struct mdb_node *found = first_in_span(t, n->left, s);
    if (found != NULL)
        return found;
    if (key_end(&k) > s->end_above)
        return n;
    return first_in_span(t, n->right, s);
}

/* Interpretation of the contract: the query range need not lie inside
 * node's range (only descendants are ever returned, so the part outside
 * cannot match); an empty range (size 0) overlaps nothing; a range that
 * would run past 2^64 is cut at UINT64_MAX, which loses nothing because no
 * key may end above it. Of several overlapping descendants, the first in
 * tree order is returned, so the answer is deterministic. */
struct mdb_node *mdb_find_overlapping_descendant(const struct mdb *t, const struct mdb_node *node,
                                                 uint64_t base, uint64_t size)
{
    if (size == 0)
        return NULL;
    struct mdb_key k = node_key(t, node);
    uint64_t query_end = base + size < base ? UINT64_MAX : base + size;
    struct span s = {
        .after = &k,
        .base_below = key_end(&k) < query_end ? key_end(&k) : query_end,
        .end_above = base,
    };
    return first_in_span(t, t->root, &s);
}

/* The last node in n's subtree whose (base, size, type) is less than *k and
 * whose end is at or above k's end. Such a node's base is at most k's base,
 * so it contains k's range. The span is bounded on one side only: the same
 * argument as for first_in_span makes this one path, O(log n). */
static struct mdb_node *last_container(const struct mdb *t, struct mdb_node *n,
                                       const struct mdb_key *k)
{
    if (n == NULL || n->subtree_end < key_end(k))
        return NULL;
    struct mdb_key nk = node_key(t, n);
    if (cmp_range_type(&nk, k) >= 0)
        return last_container(t, n->left, k);
    struct mdb_node *found = last_container(t, n->right, k);
    if (found != NULL)
        return found;
    if (key_end(&nk) >= key_end(k))
        return n;
    return last_container(t, n->left, k);
}

/* "Strictly less" compares (base, size, type) only, so node's copies are
 * never its ancestors. Containers nest, and the innermost one sorts last,
 * which is why the last match is the nearest ancestor. */
struct mdb_node *mdb_find_ancestor(const struct mdb *t, const struct mdb_node *node)
{
    struct mdb_key k = node_key(t, node);
    return last_container(t, t->root, &k);
}

/* What mdb_check carries along its in-order walk. */
struct check_walk {
    const struct mdb_node *prev;
    struct mdb_key prev_key;
    size_t visited;
    size_t limit;       /* more nodes than the count means a cycle */
};

/* Check n's own fields given its children's checked heights. */
static bool check_fields(const struct mdb_node *n, const struct mdb_key *k, int hl, int hr)
{
    if (hl - hr > 1 || hr - hl > 1)
        return false;
    if (n->height != 1 + (hl > hr ? hl : hr))
        return false;
    uint64_t end = max_u64(key_end(k), max_u64(subtree_end(n->left), subtree_end(n->right)));
    return n->subtree_end == end;
}

/* Check one key against the contract and against its in-order predecessor. */
static bool check_order(struct check_walk *w, const struct mdb_node *n, const struct mdb_key *k)
{
    if (k->size == 0 || key_end(k) < k->base)
        return false;
    if (w->prev != NULL && cmp_full(&w->prev_key, w->prev, k, n) >= 0)
        return false;
    w->prev = n;
    w->prev_key = *k;
    return true;
}

/* Check the subtree at n in order; return its height, or -1 if any
 * invariant fails. */
static int check_subtree(const struct mdb *t, const struct mdb_node *n,
                         struct check_walk *w, int depth)
{
    if (n == NULL)
        return 0;
    if (depth > MDB_MAX_DEPTH || ++w->visited > w->limit)
        return -1;
    int hl = check_subtree(t, n->left, w, depth + 1);
    if (hl < 0)
        return -1;
    struct mdb_key k = node_key(t, n);
    if (!check_order(w, n, &k))
        return -1;
    int hr = check_subtree(t, n->right, w, depth + 1);
    if (hr < 0 || !check_fields(n, &k, hl, hr))
        return -1;
    return n->height;
}

bool mdb_check(const struct mdb *t)
{
    struct check_walk w = { .prev = NULL, .visited = 0, .limit = t->count };
    if (check_subtree(t, t->root, &w, 1) < 0)
        return false;
    return w.visited == t->count;
}
