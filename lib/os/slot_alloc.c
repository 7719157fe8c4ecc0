/*
 * slot_alloc.c — the slot allocator of slot_alloc.h.
 *
 * Three parts, in this order:
 *   - a CNode record: its free bitmap, and the list of records that have a
 *     free slot;
 *   - the radix tree from L1 index to record, a page table in miniature
 *     with 8 entries per level, whose height grows as higher L1 indices are
 *     added (at most 8 levels for 2^24 indices; 2 for the first 64);
 *   - the refill, in three steps: a plan made under the lock (reserve a
 *     scratch slot, pick the L1 index), the slab and the callbacks without
 *     the lock, then a commit or an undo under the lock again.
 * Uses no libc: it is also built for the kernel.
 */
#include "os/slot_alloc.h"

/* An invariant the allocator relies on; when one is broken, slots may be
 * handed out twice, so stop at once. */
#define SLOT_INVARIANT(cond)        \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

#define BITMAP_WORDS (L2_CNODE_SLOTS / 64)

_Static_assert(L2_CNODE_SLOTS % 64 == 0, "the free bitmap is whole 64-bit words");
_Static_assert(SLOT_ALLOC_REFILL_THRESHOLD < L2_CNODE_SLOTS,
               "one new CNode must lift the free count above the threshold");
_Static_assert(SLOT_DIR_BITS * SLOT_DIR_MAX_HEIGHT >= L1_INDEX_BITS,
               "the radix tree must reach every L1 index");

static void sa_lock(const struct slot_allocator *sa)
{
    alloc_lock_acquire(&sa->lock);
}

static void sa_unlock(const struct slot_allocator *sa)
{
    alloc_lock_release(&sa->lock);
}

/* ---- A CNode record and the list of records with a free slot. ---- */

static bool cnode_slot_is_free(const struct slot_cnode *cn, uint32_t l2)
{
    return (cn->free_bits[l2 / 64] >> (l2 % 64)) & 1;
}

/* Take the lowest free slot of a CNode that has one. */
static uint32_t cnode_take_lowest(struct slot_cnode *cn)
{
    for (uint32_t w = 0; w < BITMAP_WORDS; w++) {
        if (cn->free_bits[w] != 0) {
            uint32_t bit = (uint32_t)__builtin_ctzll(cn->free_bits[w]);
            cn->free_bits[w] &= ~((uint64_t)1 << bit);
            cn->nfree--;
            return w * 64 + bit;
        }
    }
    SLOT_INVARIANT(false);      /* nfree > 0 promised a set bit */
}

static void nonfull_push(struct slot_allocator *sa, struct slot_cnode *cn)
{
    cn->prev = NULL;
    cn->next = sa->nonfull;
    if (sa->nonfull != NULL)
        sa->nonfull->prev = cn;
    sa->nonfull = cn;
}

static void nonfull_remove(struct slot_allocator *sa, struct slot_cnode *cn)
{
    if (cn->prev != NULL)
        cn->prev->next = cn->next;
    else
        sa->nonfull = cn->next;
    if (cn->next != NULL)
        cn->next->prev = cn->prev;
    cn->next = cn->prev = NULL;
}

/* With the lock held: take a free slot, and say from which CNode. */
static errval_t slot_take(struct slot_allocator *sa, capaddr_t *ret, struct slot_cnode **from)
{
    struct slot_cnode *cn = sa->nonfull;
    if (cn == NULL) {
        SLOT_INVARIANT(sa->nfree == 0);
        return LIB_ERR_SLOT_ALLOC_EMPTY;
    }
    uint32_t l2 = cnode_take_lowest(cn);
    sa->nfree--;
    if (cn->nfree == 0)
        nonfull_remove(sa, cn);
    *ret = capaddr_make(cn->l1_index, l2);
    if (from != NULL)
        *from = cn;
    return SYS_ERR_OK;
}

/* The lowest bit i of w such that bits i .. i + count - 1 are all set, or
 * -1. After each step, bit i of m says that `have` bits from i are set. */
static int run_in_word(uint64_t w, uint32_t count)
{
    uint64_t m = w;
    for (uint32_t have = 1; have < count && m != 0;) {
        uint32_t step = have < count - have ? have : count - have;
        m &= m >> step;
        have += step;
    }
    return m != 0 ? __builtin_ctzll(m) : -1;
}

/* With the lock held: take a run of `count` free slots from one of the
 * first SLOT_RUN_PROBES CNodes with a free slot. */
static errval_t run_take(struct slot_allocator *sa, uint32_t count, capaddr_t *first)
{
    struct slot_cnode *cn = sa->nonfull;
    for (unsigned probe = 0; cn != NULL && probe < SLOT_RUN_PROBES; cn = cn->next, probe++) {
        for (uint32_t w = 0; cn->nfree >= count && w < BITMAP_WORDS; w++) {
            int bit = run_in_word(cn->free_bits[w], count);
            if (bit < 0)
                continue;
            uint64_t mask = (count == 64 ? ~(uint64_t)0 : ((uint64_t)1 << count) - 1) << bit;
            cn->free_bits[w] &= ~mask;
            cn->nfree -= count;
            sa->nfree -= count;
            if (cn->nfree == 0)
                nonfull_remove(sa, cn);
            *first = capaddr_make(cn->l1_index, w * 64 + (uint32_t)bit);
            return SYS_ERR_OK;
        }
    }
    return LIB_ERR_SLOT_ALLOC_EMPTY;
}

/* With the lock held: mark an allocated slot free. */
static void slot_put(struct slot_allocator *sa, struct slot_cnode *cn, uint32_t l2)
{
    SLOT_INVARIANT(!cnode_slot_is_free(cn, l2));
    cn->free_bits[l2 / 64] |= (uint64_t)1 << (l2 % 64);
    if (cn->nfree++ == 0)
        nonfull_push(sa, cn);
    sa->nfree++;
}

/* ---- The radix tree from L1 index to CNode record. ---- */

/* L1 indices a tree of `height` levels covers. */
static uint32_t dir_span(unsigned height)
{
    return (uint32_t)1 << (SLOT_DIR_BITS * height);
}

/* The child index of l1 in a node at `level` (0: children are records). */
static unsigned dir_digit(uint32_t l1, unsigned level)
{
    return (l1 >> (SLOT_DIR_BITS * level)) & (SLOT_DIR_FANOUT - 1);
}

static struct slot_cnode *dir_lookup(struct slot_allocator *sa, uint32_t l1)
{
    if (l1 >= dir_span(sa->dir_height))
        return NULL;
    union slot_obj *node = sa->dir_root;
    for (unsigned level = sa->dir_height; level > 0 && node != NULL; level--)
        node = node->dir.child[dir_digit(l1, level - 1)];
    return node == NULL ? NULL : &node->cnode;
}

/*
 * The tree nodes that dir_insert(l1) will create. With no tree, the whole
 * path. When l1 lies beyond the tree, a new root per added level, the old
 * root hanging under the lowest of them at child 0, plus a fresh path
 * below the top: l1's top digit is not 0, or the tree would not have had
 * to grow. Otherwise the missing tail of l1's path.
 */
static unsigned dir_nodes_missing(const struct slot_allocator *sa, uint32_t l1)
{
    unsigned height = sa->dir_height;
    while (l1 >= dir_span(height))
        height++;
    if (sa->dir_root == NULL)
        return height;
    if (height > sa->dir_height)
        return (height - sa->dir_height) + (height - 1);

    const union slot_obj *node = sa->dir_root;
    for (unsigned level = height - 1; level > 0; level--) {
        node = node->dir.child[dir_digit(l1, level)];
        if (node == NULL)
            return level;       /* levels level-1 .. 0 are missing */
    }
    return 0;
}

/* Slab objects taken for one new CNode before the lock is taken: its
 * record, then the tree nodes dir_nodes_missing() counted. */
struct obj_pool {
    union slot_obj *obj[SLOT_REFILL_MAX_OBJS];
    unsigned count;             /* taken from the slab */
    unsigned used;              /* handed to the record and the tree */
};

static union slot_obj *pool_take(struct obj_pool *pool)
{
    SLOT_INVARIANT(pool->used < pool->count);   /* the count was exact */
    return pool->obj[pool->used++];
}

static union slot_obj *pool_take_dir(struct obj_pool *pool)
{
    union slot_obj *node = pool_take(pool);
    for (unsigned i = 0; i < SLOT_DIR_FANOUT; i++)
        node->dir.child[i] = NULL;
    return node;
}

/* Give the unused objects back to the slab. */
static void pool_return(struct slot_allocator *sa, struct obj_pool *pool)
{
    while (pool->count > pool->used)
        slab_free(&sa->records, pool->obj[--pool->count]);
}

static errval_t pool_fill(struct slot_allocator *sa, struct obj_pool *pool, unsigned count)
{
    SLOT_INVARIANT(count <= SLOT_REFILL_MAX_OBJS);
    pool->count = pool->used = 0;
    while (pool->count < count) {
        union slot_obj *obj = slab_alloc(&sa->records);
        if (obj == NULL) {
            pool_return(sa, pool);
            return LIB_ERR_SLAB_EMPTY;
        }
        pool->obj[pool->count++] = obj;
    }
    return SYS_ERR_OK;
}

/* With the lock held (or during init): hang `rec` at l1, taking the nodes
 * dir_nodes_missing() counted from the pool. */
static void dir_insert(struct slot_allocator *sa, uint32_t l1, union slot_obj *rec,
                       struct obj_pool *pool)
{
    while (l1 >= dir_span(sa->dir_height)) {
        if (sa->dir_root != NULL) {
            union slot_obj *root = pool_take_dir(pool);
            root->dir.child[0] = sa->dir_root;
            sa->dir_root = root;
        }
        sa->dir_height++;
    }
    SLOT_INVARIANT(sa->dir_height <= SLOT_DIR_MAX_HEIGHT);

    union slot_obj **link = &sa->dir_root;
    for (unsigned level = sa->dir_height; level > 0; level--) {
        if (*link == NULL)
            *link = pool_take_dir(pool);
        link = &(*link)->dir.child[dir_digit(l1, level - 1)];
    }
    SLOT_INVARIANT(*link == NULL);      /* an L1 index is added only once */
    *link = rec;
}

/* With the lock held (or during init): manage the CNode at l1, all of
 * whose slots are free, with the objects in the pool. */
static void cnode_add(struct slot_allocator *sa, uint32_t l1, struct obj_pool *pool)
{
    union slot_obj *rec = pool_take(pool);
    struct slot_cnode *cn = &rec->cnode;
    *cn = (struct slot_cnode){ .l1_index = l1, .nfree = L2_CNODE_SLOTS };
    for (unsigned w = 0; w < BITMAP_WORDS; w++)
        cn->free_bits[w] = ~(uint64_t)0;
    dir_insert(sa, l1, rec, pool);
    SLOT_INVARIANT(pool->used == pool->count);

    nonfull_push(sa, cn);
    sa->nfree += L2_CNODE_SLOTS;
    sa->ncnodes++;
}

/* ---- Refill. ---- */

/* One refill's plan, made under the lock by refill_begin(). */
struct slot_refill {
    capaddr_t scratch;
    struct slot_cnode *scratch_cnode;
    uint32_t l1_index;          /* where the new CNode goes */
    uint32_t new_l1_slots;      /* grow the root CNode to this first; 0: no need */
    struct obj_pool pool;
};

/*
 * With the lock held: should this call refill? If so, check that it can,
 * then reserve the scratch slot and mark the refill as this thread's.
 */
/* With the lock held: is a refill wanted (and not under way already)? */
static bool refill_due(const struct slot_allocator *sa, bool force)
{
    return sa->new_cnode != NULL && !sa->refilling &&
           (force || sa->nfree < SLOT_ALLOC_REFILL_THRESHOLD);
}

static errval_t refill_begin(struct slot_allocator *sa, struct slot_refill *r, bool force,
                             bool *refill)
{
    *refill = refill_due(sa, force);
    if (!*refill)
        return SYS_ERR_OK;

    r->l1_index = sa->next_l1;
    r->new_l1_slots = 0;
    if (sa->next_l1 == sa->l1_slots) {
        if (sa->grow_l1 == NULL || sa->l1_slots == SLOT_ALLOC_MAX_L1_SLOTS)
            return LIB_ERR_SLOT_L1_FULL;
        r->new_l1_slots = sa->l1_slots * 2;
        if (r->new_l1_slots > SLOT_ALLOC_MAX_L1_SLOTS)
            r->new_l1_slots = SLOT_ALLOC_MAX_L1_SLOTS;
    }
    errval_t err = slot_take(sa, &r->scratch, &r->scratch_cnode);
    if (err_is_fail(err))
        return err;
    sa->refilling = true;
    return SYS_ERR_OK;
}

/*
 * Without the lock: take the slab objects, grow the root CNode if it is
 * full, and create the CNode. Only this thread writes dir_root, dir_height
 * and next_l1 while refilling is set, so it may read them unlocked.
 */
static errval_t refill_run(struct slot_allocator *sa, struct slot_refill *r)
{
    errval_t err = pool_fill(sa, &r->pool, 1 + dir_nodes_missing(sa, r->l1_index));
    if (err_is_fail(err))
        return err;
    if (r->new_l1_slots != 0) {
        err = sa->grow_l1(sa->arg, r->new_l1_slots);
        if (err_is_fail(err))
            return err;
        /* The root CNode did grow; a later failure cannot undo that. */
        sa_lock(sa);
        sa->l1_slots = r->new_l1_slots;
        sa_unlock(sa);
    }
    return sa->new_cnode(sa->arg, r->l1_index, r->scratch);
}

/* With the lock held: commit a refill that worked, or undo one that failed. */
static void refill_end(struct slot_allocator *sa, struct slot_refill *r, errval_t err)
{
    if (err_is_ok(err)) {
        cnode_add(sa, r->l1_index, &r->pool);
        sa->next_l1++;
    }
    slot_put(sa, r->scratch_cnode, capaddr_l2(r->scratch));
    sa->refilling = false;
}

/* Refill if the allocator is low, or if `force`. */
static errval_t refill_if(struct slot_allocator *sa, bool force)
{
    struct slot_refill r;
    bool refill;
    sa_lock(sa);
    errval_t err = refill_begin(sa, &r, force, &refill);
    sa_unlock(sa);
    if (err_is_fail(err) || !refill)
        return err;

    err = refill_run(sa, &r);
    sa_lock(sa);
    refill_end(sa, &r, err);
    sa_unlock(sa);
    pool_return(sa, &r.pool);   /* after a failure, all of it */
    return err;
}

/* ---- The interface. ---- */

static errval_t config_check(const struct slot_alloc_config *cfg)
{
    if (cfg->ncnodes == 0 || cfg->ncnodes > SLOT_ALLOC_MAX_INITIAL)
        return LIB_ERR_SLOT_INIT;
    if (cfg->l1_slots > SLOT_ALLOC_MAX_L1_SLOTS || cfg->first_free_l1 > cfg->l1_slots)
        return LIB_ERR_SLOT_INIT;
    for (size_t i = 0; i < cfg->ncnodes; i++) {
        if (cfg->cnodes[i] >= cfg->first_free_l1)
            return LIB_ERR_SLOT_INIT;
        for (size_t j = 0; j < i; j++) {
            if (cfg->cnodes[j] == cfg->cnodes[i])
                return LIB_ERR_SLOT_INIT;
        }
    }
    return SYS_ERR_OK;
}

/* The record slab starts with the inline objects and without its refill,
 * so that init cannot call out into an allocator it is still building. */
static void records_init(struct slot_allocator *sa)
{
    errval_t err = slab_init(&sa->records, sizeof(union slot_obj), NULL, NULL);
    SLOT_INVARIANT(err_is_ok(err));
    slab_set_watermark(&sa->records, SLOT_REFILL_MAX_OBJS);
    err = slab_grow(&sa->records, sa->inline_objs, sizeof sa->inline_objs);
    SLOT_INVARIANT(err_is_ok(err));
}

errval_t slot_alloc_init(struct slot_allocator *sa, const struct slot_alloc_config *cfg)
{
    errval_t err = config_check(cfg);
    if (err_is_fail(err))
        return err;
    *sa = (struct slot_allocator){
        .new_cnode = cfg->new_cnode,
        .grow_l1 = cfg->grow_l1,
        .arg = cfg->arg,
        .dir_height = 1,
        .next_l1 = cfg->first_free_l1,
        .l1_slots = cfg->l1_slots,
    };
    records_init(sa);
    for (size_t i = 0; i < cfg->ncnodes; i++) {
        struct obj_pool pool;
        err = pool_fill(sa, &pool, 1 + dir_nodes_missing(sa, cfg->cnodes[i]));
        if (err_is_fail(err))
            return err_push(err, LIB_ERR_SLOT_INIT);
        cnode_add(sa, cfg->cnodes[i], &pool);
    }
    slab_set_refill(&sa->records, cfg->record_refill, cfg->record_refill_arg);
    return SYS_ERR_OK;
}

void slot_alloc_set_lock(struct slot_allocator *sa, const struct alloc_lock *lock)
{
    /* Half a lock would acquire without releasing, or the reverse. */
    SLOT_INVARIANT((lock->acquire == NULL) == (lock->release == NULL));
    sa->lock = *lock;
    slab_set_lock(&sa->records, lock);
}

errval_t slot_alloc(struct slot_allocator *sa, capaddr_t *ret)
{
    /* The common case in one lock round trip: no refill due. */
    sa_lock(sa);
    if (!refill_due(sa, false)) {
        errval_t err = slot_take(sa, ret, NULL);
        sa_unlock(sa);
        return err;
    }
    sa_unlock(sa);
    errval_t err = refill_if(sa, false);
    if (err_is_fail(err))
        return err_push(err, LIB_ERR_SLOT_REFILL);
    sa_lock(sa);
    err = slot_take(sa, ret, NULL);
    sa_unlock(sa);
    return err;
}

/* With the lock held: the lowest free slots of a CNode that has some, up to
 * `count`, a bitmap word at a time; returns how many. */
static size_t cnode_take_many(struct slot_cnode *cn, size_t count, capaddr_t *slots)
{
    size_t n = 0;
    for (uint32_t w = 0; w < BITMAP_WORDS && n < count; w++) {
        uint64_t bits = cn->free_bits[w];
        for (; bits != 0 && n < count; bits &= bits - 1)
            slots[n++] = capaddr_make(cn->l1_index, w * 64 + (uint32_t)__builtin_ctzll(bits));
        cn->free_bits[w] = bits;
    }
    cn->nfree -= (uint32_t)n;
    return n;
}

/* With the lock held: all `count` slots, or none; lowest first from each
 * CNode on the list, as slot_take would take them. */
static errval_t many_take(struct slot_allocator *sa, size_t count, capaddr_t *slots)
{
    if (sa->nfree < count)
        return LIB_ERR_SLOT_ALLOC_EMPTY;
    sa->nfree -= count;
    for (size_t n = 0; n < count;) {
        struct slot_cnode *cn = sa->nonfull;
        SLOT_INVARIANT(cn != NULL);     /* nfree said the slots are there */
        n += cnode_take_many(cn, count - n, slots + n);
        if (cn->nfree == 0)
            nonfull_remove(sa, cn);
    }
    return SYS_ERR_OK;
}

errval_t slot_alloc_many(struct slot_allocator *sa, size_t count, capaddr_t *slots)
{
    if (count == 0 || count > SLOT_MANY_MAX)
        return LIB_ERR_SLOT_BAD_RUN;
    sa_lock(sa);
    bool low = sa->nfree < SLOT_ALLOC_REFILL_THRESHOLD + count;
    errval_t err = low ? SYS_ERR_OK : many_take(sa, count, slots);
    sa_unlock(sa);
    if (!low)
        return err;
    /* Forced, as the count may still be above the threshold; a refill
     * already under way is not waited for. */
    err = refill_if(sa, true);
    if (err_is_fail(err))
        return err_push(err, LIB_ERR_SLOT_REFILL);
    sa_lock(sa);
    err = many_take(sa, count, slots);
    sa_unlock(sa);
    return err;
}

errval_t slot_alloc_run(struct slot_allocator *sa, uint32_t count, capaddr_t *first)
{
    if (count == 0 || count > SLOT_RUN_MAX)
        return LIB_ERR_SLOT_BAD_RUN;
    /* The common case in one lock round trip: no refill due, a run found. */
    sa_lock(sa);
    errval_t err = refill_due(sa, false) ? LIB_ERR_SLOT_ALLOC_EMPTY : run_take(sa, count, first);
    sa_unlock(sa);
    if (err_is_ok(err))
        return err;
    for (bool force = false;; force = true) {
        err = refill_if(sa, force);
        if (err_is_fail(err))
            return err_push(err, LIB_ERR_SLOT_REFILL);
        sa_lock(sa);
        err = run_take(sa, count, first);
        sa_unlock(sa);
        if (err_is_ok(err) || force)
            return err;
    }
}

errval_t slot_free(struct slot_allocator *sa, capaddr_t slot)
{
    sa_lock(sa);
    struct slot_cnode *cn = dir_lookup(sa, capaddr_l1(slot));
    errval_t err = SYS_ERR_OK;
    if (cn == NULL)
        err = LIB_ERR_SLOT_NOT_MANAGED;
    else if (cnode_slot_is_free(cn, capaddr_l2(slot)))
        err = LIB_ERR_SLOT_NOT_ALLOCATED;
    else
        slot_put(sa, cn, capaddr_l2(slot));
    sa_unlock(sa);
    return err;
}

size_t slot_alloc_freecount(const struct slot_allocator *sa)
{
    sa_lock(sa);
    size_t n = sa->nfree;
    sa_unlock(sa);
    return n;
}
