/*
 * vregion.c — the regions of a user address space (vregion.h).
 *
 * In order:
 *   - the lock, and the spare records each operation draws on;
 *   - the checks of arguments, done before the lock is taken;
 *   - carving: one region split around a range that changes state, and
 *     the merging of a range that became free with its free neighbours;
 *   - placement for vregion_reserve_any (first fit with alignment);
 *   - the operations, the queries and the invariant check.
 *
 * Every state change goes through change_apply(): find the region, check
 * it is in a state the change may start from and holds the whole range,
 * make sure the spare records cover the split, and only then carve. A
 * record's `free` flag counts in the tree's augmentation, so a record
 * changes state only while it is out of the tree (blocktree.h requires it).
 *
 * Uses no libc.
 */
#include "os/vregion.h"

/* An invariant the module relies on; when one is broken two users could be
 * handed the same addresses, so stop at once. */
#define VR_INVARIANT(cond)          \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

#define PAGE VREGION_PAGE_SIZE

/* Freed records are filled with this, so that a dangling use fails loudly. */
#define VR_POISON ((uint64_t)0xdeadbeefdeadbeefull)

/* A set of states, for the states a change may start from. */
#define STATE_BIT(s) (1u << (s))

static struct vregion_record *rec_of(const struct bt_node *n)
{
    return (struct vregion_record *)((const char *)n - offsetof(struct vregion_record, node));
}

/* ---- The lock and the spare records. ---- */

static void vr_lock(const struct vregion_space *vs)
{
    alloc_lock_acquire(&vs->lock);
}

static union vregion_slot *spare_take(struct vregion_space *vs)
{
    union vregion_slot *s = vs->spare;
    VR_INVARIANT(s != NULL);    /* the operation made sure of its records */
    vs->spare = s->next_spare;
    vs->nspare--;
    return s;
}

static void spare_put(struct vregion_space *vs, union vregion_slot *s)
{
    if (vs->last == &s->rec)
        vs->last = NULL;
    s->rec.node.base = s->rec.node.size = VR_POISON;
    s->rec.cookie = VR_POISON;
    s->next_spare = vs->spare;
    vs->spare = s;
    vs->nspare++;
}

/*
 * With the lock held: make sure `need` spare records are there. The slab
 * (and the refill it may call, which may call this module) runs without
 * the lock, so the caller must make its plan again afterwards.
 */
static errval_t spare_fill(struct vregion_space *vs, size_t need)
{
    VR_INVARIANT(need <= VREGION_RECORDS_PER_OP);
    union vregion_slot *got[VREGION_RECORDS_PER_OP];
    size_t missing = need > vs->nspare ? need - vs->nspare : 0;
    size_t n = 0;

    alloc_lock_release(&vs->lock);
    while (n < missing && (got[n] = slab_alloc(&vs->records)) != NULL)
        n++;
    vr_lock(vs);
    for (size_t i = 0; i < n; i++)
        spare_put(vs, got[i]);
    return n < missing ? err_push(LIB_ERR_SLAB_EMPTY, VREGION_ERR_NO_RECORDS) : SYS_ERR_OK;
}

/* Release the lock; the spares beyond VREGION_SPARE_MAX go back to the
 * slab after it, as the slab may share the lock. */
static void vr_unlock(struct vregion_space *vs)
{
    union vregion_slot *surplus = NULL;
    while (vs->nspare > VREGION_SPARE_MAX) {
        union vregion_slot *s = spare_take(vs);
        s->next_spare = surplus;
        surplus = s;
    }
    alloc_lock_release(&vs->lock);
    while (surplus != NULL) {
        union vregion_slot *s = surplus;
        surplus = s->next_spare;
        slab_free(&vs->records, s);
    }
}

/* ---- Checks of arguments (no lock: lo and hi never change). ---- */

static errval_t range_check(const struct vregion_space *vs, uint64_t base, uint64_t size)
{
    if (size == 0 || (size & (PAGE - 1)) != 0)
        return VREGION_ERR_BAD_SIZE;
    if ((base & (PAGE - 1)) != 0)
        return VREGION_ERR_MISALIGNED;
    if (base >= VREGION_VA_LIMIT || size > VREGION_VA_LIMIT - base)
        return VREGION_ERR_NOT_CANONICAL;
    if (base < vs->lo || base + size > vs->hi)
        return VREGION_ERR_OUTSIDE;
    return SYS_ERR_OK;
}

/* Attributes a region in `state` may have (vregion.h says why). */
static bool attrs_ok(uint32_t attrs, enum vregion_state state)
{
    if ((attrs & ~VREGION_ATTR_MASK) != 0)
        return false;
    if ((attrs & VREGION_ATTR_WRITE) != 0 && (attrs & VREGION_ATTR_READ) == 0)
        return false;
    if ((attrs & VREGION_ATTR_DEVICE) != 0)
        return state == VREGION_MAPPED && (attrs & VREGION_ATTR_EXEC) == 0;
    return true;
}

static bool is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* ---- Carving and merging. ---- */

/* A state change of [base, base + size), and how it is refused. */
struct change {
    uint64_t base, size;
    unsigned from;              /* STATE_BITs the range may be in */
    enum vregion_state to;
    uint32_t attrs;
    uint64_t cookie;
    enum err_code wrong_state;  /* the range's first page is in another state */
    enum err_code crosses;      /* the range goes past its region's end */
};

/* Records a change inside r needs: one per piece left on either side. */
static size_t split_need(const struct vregion_record *r, uint64_t base, uint64_t size)
{
    size_t need = 0;
    if (base > r->node.base)
        need++;
    if (base + size < r->node.base + r->node.size)
        need++;
    return need;
}

/* Put a spare record for [base, base + size) into the tree, with the state,
 * attributes and cookie of r, the region it is a piece of. */
static void piece_insert(struct vregion_space *vs, const struct vregion_record *r, uint64_t base,
                         uint64_t size)
{
    struct vregion_record *p = &spare_take(vs)->rec;
    p->node.base = base;
    p->node.size = size;
    p->node.free = r->node.free;
    p->state = r->state;
    p->attrs = r->attrs;
    p->cookie = r->cookie;
    blocktree_insert(&vs->tree, &p->node);
}

/* `lower` grows over `upper`, its free neighbour above, whose record
 * becomes a spare. lower's range then spans exactly what both held, so it
 * still lies between its neighbours and a resize keeps the tree right. */
static void absorb(struct vregion_space *vs, struct bt_node *lower, struct bt_node *upper)
{
    blocktree_remove(&vs->tree, upper);
    lower->size += upper->size;
    blocktree_resized(&vs->tree, lower);
    spare_put(vs, (union vregion_slot *)rec_of(upper));
}

/* r has just become free: merge it with free neighbours, so that no two
 * free regions ever touch (the placement and the OVERLAP rule rely on it). */
static void merge_neighbours(struct vregion_space *vs, struct vregion_record *r)
{
    struct bt_node *next = blocktree_next(&r->node);
    if (next != NULL && next->free)
        absorb(vs, &r->node, next);
    if (r->node.base == vs->lo)
        return;
    struct bt_node *prev = blocktree_find(&vs->tree, r->node.base - 1);
    VR_INVARIANT(prev != NULL);     /* the regions tile the space */
    if (prev->free)
        absorb(vs, prev, &r->node);
}

/*
 * With the lock held and split_need() spare records: the range of c, inside
 * r, takes c's state; the pieces of r on either side keep r's. r itself
 * becomes the middle piece, changed while out of the tree.
 */
static void carve(struct vregion_space *vs, struct vregion_record *r, const struct change *c)
{
    uint64_t lo = r->node.base, hi = lo + r->node.size, end = c->base + c->size;
    blocktree_remove(&vs->tree, &r->node);
    if (lo < c->base)
        piece_insert(vs, r, lo, c->base - lo);
    if (end < hi)
        piece_insert(vs, r, end, hi - end);
    vs->bytes[r->state] -= c->size;
    vs->bytes[c->to] += c->size;
    r->node.base = c->base;
    r->node.size = c->size;
    r->node.free = (c->to == VREGION_FREE);
    r->state = (uint8_t)c->to;
    r->attrs = (uint8_t)c->attrs;
    r->cookie = c->cookie;
    blocktree_insert(&vs->tree, &r->node);
    if (c->to == VREGION_FREE)
        merge_neighbours(vs, r);
}

/* With the lock held: the region c applies to, or why c is refused. */
static errval_t change_find(const struct vregion_space *vs, const struct change *c,
                            struct vregion_record **r)
{
    struct bt_node *n = blocktree_find(&vs->tree, c->base);
    VR_INVARIANT(n != NULL);        /* base is inside the space, which is tiled */
    struct vregion_record *rec = rec_of(n);
    if ((c->from & STATE_BIT(rec->state)) == 0)
        return c->wrong_state;
    if (c->base + c->size - n->base > n->size)
        return c->crosses;
    *r = rec;
    return SYS_ERR_OK;
}

/* Check c, then apply it; filling the spares drops the lock, so the region
 * is found and checked again after it. */
static errval_t change_apply(struct vregion_space *vs, const struct change *c)
{
    errval_t err = range_check(vs, c->base, c->size);
    if (err_is_fail(err))
        return err;
    if (c->to != VREGION_FREE && !attrs_ok(c->attrs, c->to))
        return VREGION_ERR_BAD_ATTRS;

    vr_lock(vs);
    for (;;) {
        struct vregion_record *r = NULL;
        err = change_find(vs, c, &r);
        if (err_is_fail(err))
            break;
        size_t need = split_need(r, c->base, c->size);
        if (vs->nspare >= need) {
            carve(vs, r, c);
            break;
        }
        err = spare_fill(vs, need);
        if (err_is_fail(err))
            break;
    }
    vr_unlock(vs);
    return err;
}

/* ---- Placement. ---- */

/* The lowest multiple of align in the free gap n with room for size. */
static bool fit_in(const struct bt_node *n, uint64_t size, uint64_t align, uint64_t *at)
{
    uint64_t skip = (0 - n->base) & (align - 1);
    if (skip > n->size || n->size - skip < size)
        return false;
    *at = n->base + skip;
    return true;
}

/*
 * Address-ordered first fit: the free gaps of at least `size`, lowest
 * first, each found in O(log n). At page alignment the first one fits; at a
 * larger one a gap may be large enough but misaligned, so after
 * VREGION_FIT_PROBES of those take the first gap of size + align - PAGE,
 * which fits wherever it starts. size + align cannot wrap: the caller has
 * checked that size fits in the space, which lies below 2^48.
 */
static errval_t find_fit(const struct vregion_space *vs, uint64_t size, uint64_t align,
                         struct vregion_record **r, uint64_t *at)
{
    uint64_t from = vs->lo;
    struct bt_node *n;
    for (int probe = 0; probe < VREGION_FIT_PROBES; probe++) {
        n = blocktree_first_fit(&vs->tree, from, size);
        if (n == NULL)
            return VREGION_ERR_NO_SPACE;
        if (fit_in(n, size, align, at)) {
            *r = rec_of(n);
            return SYS_ERR_OK;
        }
        from = n->base + 1;
    }
    n = blocktree_first_fit(&vs->tree, from, size + align - PAGE);
    if (n == NULL || !fit_in(n, size, align, at))
        return VREGION_ERR_NO_SPACE;
    *r = rec_of(n);
    return SYS_ERR_OK;
}

/* ---- The operations. ---- */

errval_t vregion_init(struct vregion_space *vs, uint64_t lo, uint64_t hi, slab_refill_fn refill,
                      void *refill_arg)
{
    if (lo >= hi || ((lo | hi) & (PAGE - 1)) != 0 || hi > VREGION_VA_LIMIT)
        return VREGION_ERR_BAD_SPACE;
    vs->lo = lo;
    vs->hi = hi;
    vs->lock = (struct alloc_lock){ .acquire = NULL, .release = NULL, .arg = NULL };
    blocktree_init(&vs->tree);
    for (int s = VREGION_FREE; s <= VREGION_MAPPED; s++)
        vs->bytes[s] = 0;
    vs->spare = NULL;
    vs->nspare = 0;
    vs->last = NULL;

    errval_t err = slab_init(&vs->records, sizeof(union vregion_slot), refill, refill_arg);
    if (err_is_fail(err))
        return err;
    slab_set_watermark(&vs->records, VREGION_RECORD_WATERMARK);
    err = slab_grow(&vs->records, vs->inline_records, sizeof vs->inline_records);
    if (err_is_fail(err))
        return err;

    /* The inline records are above the watermark, so no refill runs here. */
    union vregion_slot *s = slab_alloc(&vs->records);
    VR_INVARIANT(s != NULL);
    struct vregion_record *r = &s->rec;
    r->node.base = lo;
    r->node.size = hi - lo;
    r->node.free = true;
    r->state = VREGION_FREE;
    r->attrs = 0;
    r->cookie = 0;
    blocktree_insert(&vs->tree, &r->node);
    vs->bytes[VREGION_FREE] = hi - lo;
    return SYS_ERR_OK;
}

void vregion_set_lock(struct vregion_space *vs, const struct alloc_lock *lock)
{
    vs->lock = *lock;
    slab_set_lock(&vs->records, lock);
}

errval_t vregion_reserve_any(struct vregion_space *vs, uint64_t size, uint64_t align,
                             uint32_t attrs, uint64_t *base)
{
    if (size == 0 || (size & (PAGE - 1)) != 0)
        return VREGION_ERR_BAD_SIZE;
    if (!is_pow2(align) || align < PAGE || align > VREGION_MAX_ALIGN)
        return VREGION_ERR_BAD_ALIGNMENT;
    if (!attrs_ok(attrs, VREGION_RESERVED))
        return VREGION_ERR_BAD_ATTRS;
    if (size > vs->hi - vs->lo)
        return VREGION_ERR_NO_SPACE;

    struct change c = { .size = size, .from = STATE_BIT(VREGION_FREE), .to = VREGION_RESERVED,
                        .attrs = attrs, .cookie = 0 };
    errval_t err;
    vr_lock(vs);
    for (;;) {
        struct vregion_record *r = NULL;
        err = find_fit(vs, size, align, &r, &c.base);
        if (err_is_fail(err))
            break;
        size_t need = split_need(r, c.base, size);
        if (vs->nspare >= need) {
            carve(vs, r, &c);
            *base = c.base;
            break;
        }
        err = spare_fill(vs, need);
        if (err_is_fail(err))
            break;
    }
    vr_unlock(vs);
    return err;
}

errval_t vregion_reserve_at(struct vregion_space *vs, uint64_t base, uint64_t size,
                            uint32_t attrs)
{
    struct change c = {
        .base = base, .size = size, .from = STATE_BIT(VREGION_FREE), .to = VREGION_RESERVED,
        .attrs = attrs, .cookie = 0,
        .wrong_state = VREGION_ERR_OVERLAP, .crosses = VREGION_ERR_OVERLAP,
    };
    return change_apply(vs, &c);
}

errval_t vregion_mark_mapped(struct vregion_space *vs, uint64_t base, uint64_t size,
                             uint32_t attrs, uint64_t cookie)
{
    struct change c = {
        .base = base, .size = size,
        .from = STATE_BIT(VREGION_FREE) | STATE_BIT(VREGION_RESERVED), .to = VREGION_MAPPED,
        .attrs = attrs, .cookie = cookie,
        .wrong_state = VREGION_ERR_ALREADY_MAPPED, .crosses = VREGION_ERR_CROSSES,
    };
    return change_apply(vs, &c);
}

errval_t vregion_mark_reserved(struct vregion_space *vs, uint64_t base, uint64_t size,
                               uint32_t attrs)
{
    struct change c = {
        .base = base, .size = size, .from = STATE_BIT(VREGION_MAPPED), .to = VREGION_RESERVED,
        .attrs = attrs, .cookie = 0,
        .wrong_state = VREGION_ERR_NOT_MAPPED, .crosses = VREGION_ERR_CROSSES,
    };
    return change_apply(vs, &c);
}

errval_t vregion_free(struct vregion_space *vs, uint64_t base, uint64_t size)
{
    struct change c = {
        .base = base, .size = size,
        .from = STATE_BIT(VREGION_RESERVED) | STATE_BIT(VREGION_MAPPED), .to = VREGION_FREE,
        .attrs = 0, .cookie = 0,
        .wrong_state = VREGION_ERR_NOT_ALLOCATED, .crosses = VREGION_ERR_CROSSES,
    };
    return change_apply(vs, &c);
}

/* ---- Queries. ---- */

static void info_of(const struct vregion_record *r, struct vregion_info *info)
{
    info->base = r->node.base;
    info->size = r->node.size;
    info->state = (enum vregion_state)r->state;
    info->attrs = r->attrs;
    info->cookie = r->cookie;
}

errval_t vregion_lookup(struct vregion_space *vs, uint64_t addr, struct vregion_info *info)
{
    if (addr >= VREGION_VA_LIMIT)
        return VREGION_ERR_NOT_CANONICAL;
    if (addr < vs->lo || addr >= vs->hi)
        return VREGION_ERR_OUTSIDE;
    vr_lock(vs);
    struct vregion_record *r = vs->last;
    if (r == NULL || addr - r->node.base >= r->node.size) {
        struct bt_node *n = blocktree_find(&vs->tree, addr);
        VR_INVARIANT(n != NULL);    /* the regions tile the space */
        r = vs->last = rec_of(n);
    }
    info_of(r, info);
    alloc_lock_release(&vs->lock);  /* a lookup leaves the spares alone */
    return SYS_ERR_OK;
}

void vregion_walk(struct vregion_space *vs, uint64_t base, uint64_t size, vregion_walk_fn fn,
                  void *arg)
{
    /* Clip to the space first, so that nothing below can wrap around. */
    uint64_t start = base > vs->lo ? base : vs->lo;
    if (size == 0 || start >= vs->hi)
        return;
    uint64_t end = size > vs->hi - base ? vs->hi : base + size;
    if (start >= end)
        return;

    vr_lock(vs);
    struct vregion_info info;
    for (struct bt_node *n = blocktree_find(&vs->tree, start); n != NULL && n->base < end;
         n = blocktree_next(n)) {
        info_of(rec_of(n), &info);
        fn(arg, &info);
    }
    vr_unlock(vs);
}

void vregion_stats(struct vregion_space *vs, struct vregion_stats *st)
{
    vr_lock(vs);
    st->total = vs->hi - vs->lo;
    st->free = vs->bytes[VREGION_FREE];
    st->reserved = vs->bytes[VREGION_RESERVED];
    st->mapped = vs->bytes[VREGION_MAPPED];
    st->largest_free = blocktree_max_free(&vs->tree);
    st->regions = vs->tree.count;
    vr_unlock(vs);
}

/* ---- The invariant check. ---- */

/* A record's fields agree with its state. */
static bool record_ok(const struct vregion_record *r)
{
    if (r->state > VREGION_MAPPED || r->node.free != (r->state == VREGION_FREE))
        return false;
    if ((r->node.base | r->node.size) & (PAGE - 1))
        return false;
    if (r->state == VREGION_FREE)
        return r->attrs == 0 && r->cookie == 0;
    if (r->state == VREGION_RESERVED && r->cookie != 0)
        return false;
    return attrs_ok(r->attrs, (enum vregion_state)r->state);
}

static bool check_locked(const struct vregion_space *vs)
{
    if (!blocktree_check(&vs->tree) || vs->nspare > VREGION_SPARE_MAX)
        return false;
    uint64_t at = vs->lo;
    uint64_t bytes[3] = { 0, 0, 0 };
    bool prev_free = false, last_seen = (vs->last == NULL);
    for (struct bt_node *n = blocktree_first(&vs->tree); n != NULL; n = blocktree_next(n)) {
        const struct vregion_record *r = rec_of(n);
        if (n->base != at || !record_ok(r) || (prev_free && n->free))
            return false;
        last_seen |= (r == vs->last);
        bytes[r->state] += n->size;
        at += n->size;
        prev_free = n->free;
    }
    return at == vs->hi && last_seen && bytes[VREGION_FREE] == vs->bytes[VREGION_FREE] &&
           bytes[VREGION_RESERVED] == vs->bytes[VREGION_RESERVED] &&
           bytes[VREGION_MAPPED] == vs->bytes[VREGION_MAPPED];
}

bool vregion_check(struct vregion_space *vs)
{
    vr_lock(vs);
    bool ok = check_locked(vs);
    vr_unlock(vs);
    return ok;
}
