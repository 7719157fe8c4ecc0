/*
 * mm.c — the memory manager of mm.h.
 *
 * In this order:
 *   - the lock, and the spare records each operation draws on;
 *   - segments: the per-region neighbour list and the two trees;
 *   - carving an allocation out of a free segment, and releasing one
 *     (which coalesces), splitting an allocation for a partial free and
 *     joining it back;
 *   - placement: where a request fits (first fit, alignment, range);
 *   - the operations. Each has up to three steps: under the lock, check
 *     everything and make sure of the records, then change the structure;
 *     without the lock, the capability calls; under the lock again, settle
 *     the outcome. Without cap ops the middle step is empty and the first
 *     settles at once.
 * Uses no libc.
 */
#include "mm/mm.h"

/* An invariant the manager relies on; when one is broken it could hand
 * out memory twice, so stop at once. */
#define MM_INVARIANT(cond)          \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

#define PAGE MM_PAGE_SIZE

/* The allocation path (alloc_locked with find_fit and carve) has two
 * callers, alloc and mm_alloc_batch, so the compiler would keep it out of
 * line, which costs a single mm_alloc + mm_free pair 18 instructions of
 * its 426 (usr/bench, mm_alloc_free_4k_live*). Inlined into both. */
#define MM_HOT static inline __attribute__((always_inline))

_Static_assert((MM_PAGE_SIZE & (MM_PAGE_SIZE - 1)) == 0, "the page size is a power of two");
_Static_assert(offsetof(struct mm_segment, node) == 0, "a tree node is its segment");
_Static_assert(sizeof(union mm_record) <= 96, "records stay small: 10,000 allocations, < 1 MiB");

static uint64_t page_round_up(uint64_t x)
{
    return (x + PAGE - 1) & ~(PAGE - 1);
}

static uint64_t seg_end(const struct mm_segment *s)
{
    return s->node.base + s->node.size;
}

static struct mm_segment *seg_of(struct bt_node *n)
{
    return (struct mm_segment *)n;
}

static struct mm_block block_of(const struct mm_segment *s)
{
    return (struct mm_block){ s->node.base, s->node.size, s->cap };
}

/* ---- The lock and the spare records. ---- */

static void mm_lock(struct mm *mm)
{
    alloc_lock_acquire(&mm->lock);
}

static union mm_record *spare_take(struct mm *mm)
{
    union mm_record *r = mm->spare;
    MM_INVARIANT(r != NULL);    /* the operation made sure of its records */
    mm->spare = r->next_spare;
    mm->nspare--;
    return r;
}

static void spare_put(struct mm *mm, union mm_record *r)
{
    if ((void *)mm->recent == (void *)r)
        mm->recent = NULL;
    r->next_spare = mm->spare;
    mm->spare = r;
    mm->nspare++;
}

/*
 * With the lock held: make sure `need` spare records are there. The slab
 * (and the refill it may call, which may call this manager) runs without
 * the lock, so the caller must check its plan again afterwards.
 */
static errval_t spare_fill(struct mm *mm, size_t need)
{
    MM_INVARIANT(need <= MM_RECORDS_PER_OP_MAX);
    void *got[MM_RECORDS_PER_OP_MAX];
    size_t missing = need > mm->nspare ? need - mm->nspare : 0;

    alloc_lock_release(&mm->lock);
    size_t n = slab_alloc_many(&mm->records, got, missing);
    mm_lock(mm);
    /* Records from the slab were spare (or never used) before they went
     * there, so none is mm->recent: link them in as they are. */
    for (size_t i = n; i-- > 0;) {
        union mm_record *r = got[i];
        r->next_spare = mm->spare;
        mm->spare = r;
    }
    mm->nspare += n;
    return n < missing ? err_push(LIB_ERR_SLAB_EMPTY, MM_ERR_NO_METADATA) : SYS_ERR_OK;
}

/* Release the lock, and give the records beyond MM_SPARE_MAX back to the
 * slab after it, as the slab may share the lock. */
static __attribute__((noinline)) void mm_unlock_trim(struct mm *mm)
{
    union mm_record *surplus = NULL;
    while (mm->nspare > MM_SPARE_MAX) {
        union mm_record *r = spare_take(mm);
        r->next_spare = surplus;
        surplus = r;
    }
    alloc_lock_release(&mm->lock);
    while (surplus != NULL) {
        union mm_record *r = surplus;
        surplus = r->next_spare;
        slab_free(&mm->records, r);
    }
}

static inline void mm_unlock(struct mm *mm)
{
    if (mm->nspare > MM_SPARE_MAX)
        mm_unlock_trim(mm);
    else
        alloc_lock_release(&mm->lock);
}

/* ---- Segments: the neighbour list and the trees. ---- */

/* A segment from the spare records; the caller links it into a list. */
static struct mm_segment *seg_new(struct mm *mm, struct mm_region *region, uint64_t base,
                                  uint64_t size, enum mm_seg_state state)
{
    struct mm_segment *s = &spare_take(mm)->seg;
    s->node.base = base;
    s->node.size = size;
    s->node.free = (state == MM_SEG_FREE);
    s->region = region;
    s->cap = MM_CAP_NONE;
    s->state = (uint8_t)state;
    s->kind = MM_KIND_RAM;
    s->pieces = 1;
    return s;
}

static void list_insert_after(struct mm_segment *pos, struct mm_segment *s)
{
    s->prev = pos;
    s->next = pos->next;
    if (pos->next != NULL)
        pos->next->prev = s;
    pos->next = s;
}

static void list_insert_before(struct mm_segment *pos, struct mm_segment *s)
{
    s->next = pos;
    s->prev = pos->prev;
    if (pos->prev != NULL)
        pos->prev->next = s;
    else
        pos->region->first = s;
    pos->prev = s;
}

static void list_remove(struct mm_segment *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        s->region->first = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
}

static bool seg_is_allocated(const struct mm_segment *s)
{
    return s != NULL && s->state != MM_SEG_FREE;
}

/*
 * An allocation's list neighbour, if allocated, is also its neighbour in
 * the allocation tree (nothing lies between them), so it can be inserted
 * next to it without a search: the common case, as first fit packs
 * allocations together.
 */
static void alloc_tree_insert(struct mm *mm, struct mm_segment *a)
{
    if (seg_is_allocated(a->prev))
        blocktree_insert_after(&mm->alloc_tree, &a->prev->node, &a->node);
    else if (seg_is_allocated(a->next))
        blocktree_insert_before(&mm->alloc_tree, &a->next->node, &a->node);
    else
        blocktree_insert(&mm->alloc_tree, &a->node);
}

/* ---- Carving, releasing, splitting and joining. ---- */

/* Records carve() needs: one per piece of f left on either side. */
static size_t carve_need(const struct mm_segment *f, uint64_t at, uint64_t size)
{
    return (at > f->node.base) + (at + size < seg_end(f));
}

/*
 * Take [at, at + size) out of the free segment f as an allocation in
 * `state`. f keeps the piece below (or, if none, the piece above); a piece
 * above as well becomes a new free segment. Resizing f in place keeps its
 * position in the free tree, as no other free segment lies within f.
 */
MM_HOT struct mm_segment *carve(struct mm *mm, struct mm_segment *f, uint64_t at, uint64_t size,
                                enum mm_seg_state state)
{
    uint64_t end = seg_end(f);
    struct mm_segment *a;
    if (at == f->node.base && at + size == end) {
        blocktree_remove(&mm->free_tree, &f->node);
        a = f;
        a->node.free = false;
        a->state = (uint8_t)state;
        a->cap = MM_CAP_NONE;
    } else if (at == f->node.base) {
        a = seg_new(mm, f->region, at, size, state);
        f->node.base += size;
        f->node.size -= size;
        blocktree_resized(&mm->free_tree, &f->node);
        list_insert_before(f, a);
    } else {
        a = seg_new(mm, f->region, at, size, state);
        f->node.size = at - f->node.base;
        blocktree_resized(&mm->free_tree, &f->node);
        list_insert_after(f, a);
        if (at + size < end) {
            struct mm_segment *t =
                seg_new(mm, f->region, at + size, end - (at + size), MM_SEG_FREE);
            list_insert_after(a, t);
            blocktree_insert_after(&mm->free_tree, &f->node, &t->node);
        }
    }
    alloc_tree_insert(mm, a);
    mm->free -= size;
    mm->recent = a;
    return a;
}

/* The free neighbour n swallows s, which lies right below it. */
static void absorb_into_next(struct mm *mm, struct mm_segment *s, struct mm_segment *n)
{
    n->node.base = s->node.base;
    n->node.size += s->node.size;
    list_remove(s);
    spare_put(mm, (union mm_record *)s);
    blocktree_resized(&mm->free_tree, &n->node);
}

/*
 * Make the allocation a free, merging it with a free neighbour on either
 * side. Neighbours in the list are in the same region, so this never
 * merges across regions. Needs no records; gives back up to two.
 */
static void release(struct mm *mm, struct mm_segment *a)
{
    blocktree_remove(&mm->alloc_tree, &a->node);
    mm->free += a->node.size;
    a->state = MM_SEG_FREE;
    a->node.free = true;
    a->cap = MM_CAP_NONE;

    struct mm_segment *p = a->prev, *n = a->next;
    bool prev_free = (p != NULL && p->state == MM_SEG_FREE);
    bool next_free = (n != NULL && n->state == MM_SEG_FREE);
    if (prev_free && next_free) {
        blocktree_remove(&mm->free_tree, &n->node);
        p->node.size += a->node.size + n->node.size;
        list_remove(a);
        list_remove(n);
        spare_put(mm, (union mm_record *)a);
        spare_put(mm, (union mm_record *)n);
        blocktree_resized(&mm->free_tree, &p->node);
    } else if (prev_free) {
        p->node.size += a->node.size;
        list_remove(a);
        spare_put(mm, (union mm_record *)a);
        blocktree_resized(&mm->free_tree, &p->node);
    } else if (next_free) {
        absorb_into_next(mm, a, n);
    } else {
        blocktree_insert(&mm->free_tree, &a->node);
    }
}

/*
 * A free of [base, base + size) inside allocation a, prepared: a split
 * into up to three pending allocations, and what becomes of each once the
 * capability calls are over (see settle()).
 */
struct free_plan {
    struct mm_segment *left;    /* the part kept below, or NULL */
    struct mm_segment *mid;     /* the part to free */
    struct mm_segment *right;   /* the part kept above, or NULL */
    uint64_t old_cap;
    /* The outcome; split() plans success without capabilities, and the
     * capability step changes it. */
    bool keep_left, keep_right; /* false: that part is freed as well */
    uint64_t left_cap, right_cap;
    bool join;                  /* join the parts back into one allocation */
    uint64_t whole_cap;         /* its capability then */
};

/* Records split() needs: one per part kept on either side. */
static size_t split_need(const struct mm_segment *a, uint64_t base, uint64_t size)
{
    return (base > a->node.base) + (base + size < seg_end(a));
}

/* Cut s at `at` (inside it); the upper part is a new pending allocation. */
static struct mm_segment *cut(struct mm *mm, struct mm_segment *s, uint64_t at)
{
    struct mm_segment *upper = seg_new(mm, s->region, at, seg_end(s) - at, MM_SEG_PENDING);
    upper->kind = s->kind;
    s->node.size = at - s->node.base;
    list_insert_after(s, upper);
    blocktree_insert_after(&mm->alloc_tree, &s->node, &upper->node);
    return upper;
}

/* Allocations count 0 in the allocation tree's max_free, so cutting one
 * needs no tree update beyond the insertion. */
static void split(struct mm *mm, struct mm_segment *a, uint64_t base, uint64_t size,
                  struct free_plan *p)
{
    *p = (struct free_plan){ .mid = a, .old_cap = a->cap, .keep_left = true, .keep_right = true,
                             .left_cap = MM_CAP_NONE, .right_cap = MM_CAP_NONE,
                             .whole_cap = MM_CAP_NONE };
    a->state = MM_SEG_PENDING;
    if (base > a->node.base) {
        p->left = a;
        p->mid = cut(mm, a, base);
    }
    if (base + size < seg_end(p->mid))
        p->right = cut(mm, p->mid, base + size);
}

/* Undo split(): the parts become one pending allocation again. */
static struct mm_segment *join(struct mm *mm, struct free_plan *p)
{
    struct mm_segment *whole = p->left != NULL ? p->left : p->mid;
    struct mm_segment *parts[2] = { p->left != NULL ? p->mid : NULL, p->right };
    for (int i = 0; i < 2; i++) {
        if (parts[i] == NULL)
            continue;
        whole->node.size += parts[i]->node.size;
        blocktree_remove(&mm->alloc_tree, &parts[i]->node);
        list_remove(parts[i]);
        spare_put(mm, (union mm_record *)parts[i]);
    }
    return whole;
}

/* A part kept, with its new capability, or freed. */
static void settle_part(struct mm *mm, struct mm_segment *s, bool keep, uint64_t cap)
{
    if (s == NULL)
        return;
    if (!keep) {
        release(mm, s);
        return;
    }
    s->cap = cap;
    s->state = MM_SEG_ALLOCATED;
}

/* With the lock held: carry out the plan's outcome. */
static void settle(struct mm *mm, struct free_plan *p)
{
    if (p->join) {
        struct mm_segment *whole = join(mm, p);
        whole->cap = p->whole_cap;
        whole->state = MM_SEG_ALLOCATED;
        return;
    }
    release(mm, p->mid);
    settle_part(mm, p->left, p->keep_left, p->left_cap);
    settle_part(mm, p->right, p->keep_right, p->right_cap);
}

/* ---- Placement. ---- */

struct mm_request {
    uint64_t size;              /* page multiple, > 0 */
    uint64_t align;             /* power of two >= PAGE */
    uint64_t lo, hi;            /* page multiples, lo < hi */
    uint8_t kind;               /* of the capability to make */
};

/* The size and alignment of a request; the range is set by the caller. */
static errval_t request_init(struct mm_request *rq, uint64_t size, uint64_t align)
{
    if (size == 0)
        return MM_ERR_ZERO_SIZE;
    if (align == 0 || (align & (align - 1)) != 0)
        return MM_ERR_BAD_ALIGNMENT;
    rq->size = page_round_up(size);
    if (rq->size < size)
        return MM_ERR_OUT_OF_MEMORY;    /* rounding wrapped around */
    rq->align = align < PAGE ? PAGE : align;
    rq->lo = 0;
    rq->hi = MM_NO_LIMIT & ~(PAGE - 1);
    rq->kind = MM_KIND_RAM;
    return SYS_ERR_OK;
}

/* Narrow the request to [lo, hi), rounded inwards to pages. */
static errval_t request_range(struct mm_request *rq, uint64_t lo, uint64_t hi)
{
    uint64_t rlo = page_round_up(lo), rhi = hi & ~(PAGE - 1);
    if (rlo < lo || rlo >= rhi)
        return MM_ERR_BAD_RANGE;
    rq->lo = rlo;
    rq->hi = rhi;
    return SYS_ERR_OK;
}

/*
 * Where the request fits in the free block n, clipped to the request's
 * range: the lowest aligned address with room. The misalignment is
 * compared before it is added, so nothing overflows.
 */
static bool place_clipped(const struct bt_node *n, const struct mm_request *rq, uint64_t *at)
{
    uint64_t start = n->base > rq->lo ? n->base : rq->lo;
    uint64_t end = n->base + n->size < rq->hi ? n->base + n->size : rq->hi;
    if (start >= end)
        return false;
    uint64_t skip = (0 - start) & (rq->align - 1);
    if (skip >= end - start || end - start - skip < rq->size)
        return false;
    *at = start + skip;
    return true;
}

static errval_t no_fit(const struct mm *mm, const struct mm_request *rq)
{
    return blocktree_max_free(&mm->free_tree) < rq->size ? MM_ERR_OUT_OF_MEMORY : MM_ERR_NO_FIT;
}

/*
 * A block n at or above the range's start, at least rq->size large: does
 * the request fit at its lowest aligned address (1), not there but
 * perhaps in a block above (0), or nowhere above either because it would
 * pass the range's end (-1)?
 */
static int place_above(const struct bt_node *n, const struct mm_request *rq, uint64_t *at)
{
    uint64_t skip = (0 - n->base) & (rq->align - 1);
    if (skip > n->size - rq->size)
        return 0;
    *at = n->base + skip;
    /* Blocks above start higher, so their aligned addresses are no lower. */
    return *at < rq->hi && rq->hi - *at >= rq->size ? 1 : -1;
}

/*
 * Address-ordered first fit: the free block holding the range's start,
 * then the blocks above it that are large enough, lowest first, each found
 * in O(log n). At page alignment the first of them fits (or, past the
 * range's end, none does). At a larger alignment a block may be large
 * enough but misaligned, so after MM_FIT_PROBES of those take the first
 * block of at least size + align - PAGE, which fits wherever it starts.
 */
MM_HOT errval_t find_fit(const struct mm *mm, const struct mm_request *rq, struct mm_segment **f,
                         uint64_t *at)
{
    const struct blocktree *t = &mm->free_tree;
    struct bt_node *n = rq->lo > 0 ? blocktree_floor(t, rq->lo - 1) : NULL;
    if (n != NULL && place_clipped(n, rq, at)) {
        *f = seg_of(n);
        return SYS_ERR_OK;
    }

    uint64_t from = rq->lo;
    for (int probe = 0; probe < MM_FIT_PROBES; probe++) {
        n = blocktree_first_fit(t, from, rq->size);
        int fit = n == NULL ? -1 : place_above(n, rq, at);
        if (fit > 0) {
            *f = seg_of(n);
            return SYS_ERR_OK;
        }
        if (fit < 0)
            return no_fit(mm, rq);
        from = n->base + 1;
    }

    uint64_t slack = rq->align - PAGE;
    n = rq->size <= UINT64_MAX - slack ? blocktree_first_fit(t, from, rq->size + slack) : NULL;
    if (n != NULL && place_above(n, rq, at) > 0) {
        *f = seg_of(n);
        return SYS_ERR_OK;
    }
    return no_fit(mm, rq);
}

/* ---- The operations. ---- */

errval_t mm_init(struct mm *mm, const struct mm_cap_ops *ops, void *ops_arg,
                 slab_refill_fn refill, void *refill_arg)
{
    *mm = (struct mm){ .ops = ops, .ops_arg = ops_arg };
    blocktree_init(&mm->free_tree);
    blocktree_init(&mm->alloc_tree);
    errval_t err = slab_init(&mm->records, sizeof(union mm_record), refill, refill_arg);
    if (err_is_fail(err))
        return err;
    slab_set_watermark(&mm->records, MM_RECORD_WATERMARK);
    return slab_grow(&mm->records, mm->inline_records, sizeof mm->inline_records);
}

void mm_set_lock(struct mm *mm, const struct alloc_lock *lock)
{
    mm->lock = *lock;
    slab_set_lock(&mm->records, lock);
}

/* Any segment in either tree overlapping [base, base + size)? Segments
 * tile the regions, so this is "does it overlap a region". */
static bool overlaps_region(const struct mm *mm, uint64_t base, uint64_t size)
{
    const struct blocktree *trees[2] = { &mm->free_tree, &mm->alloc_tree };
    for (int i = 0; i < 2; i++) {
        struct bt_node *n = blocktree_floor(trees[i], base + size - 1);
        if (n != NULL && n->base + n->size > base)
            return true;
    }
    return false;
}

/* With the lock held and two spare records: the region and its one free segment. */
static void region_insert(struct mm *mm, uint64_t cap, uint64_t base, uint64_t size)
{
    struct mm_region *r = &spare_take(mm)->region;
    *r = (struct mm_region){ .base = base, .size = size, .cap = cap, .next = mm->regions };
    struct mm_segment *s = seg_new(mm, r, base, size, MM_SEG_FREE);
    s->prev = s->next = NULL;
    r->first = s;
    blocktree_insert(&mm->free_tree, &s->node);
    mm->regions = r;
    mm->nregions++;
    mm->total += size;
    mm->free += size;
}

errval_t mm_add(struct mm *mm, uint64_t region_cap, uint64_t base, uint64_t size)
{
    if (size == 0)
        return MM_ERR_ZERO_SIZE;
    if (((base | size) & (PAGE - 1)) != 0)
        return MM_ERR_NOT_PAGE_ALIGNED;
    if (size > UINT64_MAX - base)
        return MM_ERR_BAD_RANGE;

    errval_t err = SYS_ERR_OK;
    mm_lock(mm);
    for (;;) {
        if (overlaps_region(mm, base, size)) {
            err = MM_ERR_REGION_OVERLAP;
            break;
        }
        if (mm->nspare >= 2)
            break;
        err = spare_fill(mm, 2);
        if (err_is_fail(err))
            break;
    }
    if (err_is_ok(err))
        region_insert(mm, region_cap, base, size);
    mm_unlock(mm);
    return err;
}

/*
 * With the lock held: place the request and carve it out, pending if a
 * capability is still to be made. Filling the spare records drops the
 * lock, so the placement is made again after it.
 */
MM_HOT errval_t alloc_locked(struct mm *mm, const struct mm_request *rq, struct mm_segment **ret)
{
    for (;;) {
        struct mm_segment *f;
        uint64_t at;
        errval_t err = find_fit(mm, rq, &f, &at);
        if (err_is_fail(err))
            return err;
        size_t need = carve_need(f, at, rq->size);
        if (mm->nspare >= need) {
            enum mm_seg_state state = mm->ops != NULL ? MM_SEG_PENDING : MM_SEG_ALLOCATED;
            *ret = carve(mm, f, at, rq->size, state);
            (*ret)->kind = rq->kind;
            return SYS_ERR_OK;
        }
        err = spare_fill(mm, need);
        if (err_is_fail(err))
            return err;
    }
}

/* Make the pending allocation's capability; keep it, or give the memory back. */
static errval_t alloc_make_cap(struct mm *mm, struct mm_segment *a, struct mm_block *out)
{
    const struct mm_region *r = a->region;
    uint64_t cap;
    errval_t err = mm->ops->retype(mm->ops_arg, r->cap, a->node.base - r->base, a->node.size,
                                   a->kind, &cap);
    mm_lock(mm);
    if (err_is_ok(err)) {
        a->cap = cap;
        a->state = MM_SEG_ALLOCATED;
        *out = block_of(a);
    } else {
        release(mm, a);
    }
    mm_unlock(mm);
    return err_is_ok(err) ? SYS_ERR_OK : err_push(err, MM_ERR_RETYPE);
}

/* Both allocation calls, once the request is checked. */
static errval_t alloc(struct mm *mm, const struct mm_request *rq, struct mm_block *out)
{
    struct mm_segment *a = NULL;
    mm_lock(mm);
    errval_t err = alloc_locked(mm, rq, &a);
    if (mm->ops == NULL) {
        if (err_is_ok(err))
            *out = block_of(a);
        mm_unlock(mm);
        return err;
    }
    mm_unlock(mm);
    return err_is_ok(err) ? alloc_make_cap(mm, a, out) : err;
}

errval_t mm_alloc(struct mm *mm, uint64_t size, uint64_t align, struct mm_block *out)
{
    struct mm_request rq;
    errval_t err = request_init(&rq, size, align);
    return err_is_ok(err) ? alloc(mm, &rq, out) : err;
}

errval_t mm_alloc_kind(struct mm *mm, uint64_t size, uint64_t align, uint8_t kind,
                       struct mm_block *out)
{
    struct mm_request rq;
    errval_t err = request_init(&rq, size, align);
    rq.kind = kind;
    return err_is_ok(err) ? alloc(mm, &rq, out) : err;
}

errval_t mm_alloc_range(struct mm *mm, uint64_t size, uint64_t align, uint64_t min_base,
                        uint64_t max_limit, struct mm_block *out)
{
    struct mm_request rq;
    errval_t err = request_init(&rq, size, align);
    if (err_is_ok(err))
        err = request_range(&rq, min_base, max_limit);
    return err_is_ok(err) ? alloc(mm, &rq, out) : err;
}

/* ---- Batches. ---- */

/*
 * A batch stays one segment, one record in the allocation tree, until one
 * of its pieces is freed: `pieces` allocations of node.size / pieces bytes
 * each, the i-th with capability cap + i (retype_many makes consecutive
 * handles). mm_cap_of and mm_walk show the pieces; a free first cuts its
 * piece out as a plain allocation (batch_isolate) and goes on as for any
 * other. Cutting 16 pieces into the trees at once cost a frame-pool refill
 * about 2,000 instructions (docs/mm.md).
 */

static uint64_t piece_size(const struct mm_segment *a)
{
    return a->node.size / a->pieces;
}

/* The piece of batch (or plain allocation) a that holds addr. */
static struct mm_block piece_block(const struct mm_segment *a, uint64_t addr)
{
    if (a->pieces == 1)
        return block_of(a);
    uint64_t size = piece_size(a), i = (addr - a->node.base) / size;
    uint64_t cap = a->cap == MM_CAP_NONE ? MM_CAP_NONE : a->cap + i;
    return (struct mm_block){ a->node.base + i * size, size, cap };
}

/* Records a free of [base, + size) from batch a needs: batch_isolate's,
 * one per part of the batch left on either side of the piece, and then
 * split()'s, one per part of the piece kept on either side. */
static __attribute__((noinline)) size_t batch_free_need(const struct mm_segment *a, uint64_t base,
                                                         uint64_t size)
{
    struct mm_block p = piece_block(a, base);
    return (p.base > a->node.base) + (p.base + p.size < seg_end(a)) + (base > p.base) +
           (base + size < p.base + p.size);
}

/* Make the parts cut from a batch (by cut(), so pending) batches again:
 * `pieces` of them from capability `cap` on. */
static void batch_part(struct mm_segment *s, size_t pieces, uint64_t cap)
{
    s->pieces = (uint16_t)pieces;
    s->cap = cap;
    s->state = MM_SEG_ALLOCATED;
}

/* With the lock held and isolate_need's records there: cut the piece that
 * holds addr out of batch a, as a plain allocation, and return it. The
 * parts below and above stay batches; each new segment is one allocation
 * that the tree counts and batch_extra no longer does. */
static __attribute__((noinline)) struct mm_segment *batch_isolate(struct mm *mm,
                                                                  struct mm_segment *a, uint64_t addr)
{
    struct mm_block b = piece_block(a, addr);
    size_t n = a->pieces, i = (size_t)((b.base - a->node.base) / b.size);
    uint64_t first = a->cap;
    struct mm_segment *piece = a;
    if (i > 0) {
        piece = cut(mm, a, b.base);
        batch_part(a, i, first);
        mm->batch_extra--;
    }
    if (i + 1 < n) {
        struct mm_segment *rest = cut(mm, piece, b.base + b.size);
        batch_part(rest, n - i - 1, first == MM_CAP_NONE ? MM_CAP_NONE : first + i + 1);
        mm->batch_extra--;
    }
    batch_part(piece, 1, b.cap);
    return piece;
}

errval_t mm_alloc_batch(struct mm *mm, uint64_t size, size_t count, uint8_t kind,
                        struct mm_block *out)
{
    struct mm_request rq;
    if (count == 0 || count > MM_BATCH_MAX)
        return MM_ERR_BAD_COUNT;
    if (mm->ops != NULL && mm->ops->retype_many == NULL)
        return MM_ERR_NO_BATCH_OP;
    if (size == 0)
        return MM_ERR_ZERO_SIZE;
    size = page_round_up(size);
    if (size == 0 || size > UINT64_MAX / count)
        return MM_ERR_OUT_OF_MEMORY;
    errval_t err = request_init(&rq, size * count, (size & (size - 1)) == 0 ? size : PAGE);
    if (err_is_fail(err))
        return err;
    rq.kind = kind;
    struct mm_segment *a = NULL;
    mm_lock(mm);
    err = alloc_locked(mm, &rq, &a);
    mm_unlock(mm);
    if (err_is_fail(err))
        return err;
    uint64_t first = MM_CAP_NONE;
    if (mm->ops != NULL) {      /* all the capabilities, or none */
        const struct mm_region *r = a->region;
        err = mm->ops->retype_many(mm->ops_arg, r->cap, a->node.base - r->base, size, kind,
                                   count, &first);
    }
    uint64_t base = a->node.base;       /* a pending segment's: ours to read */
    mm_lock(mm);
    if (err_is_ok(err)) {
        batch_part(a, count, first);
        mm->batch_extra += count - 1;
    } else {
        release(mm, a);
    }
    mm_unlock(mm);
    if (err_is_fail(err))
        return err_push(err, MM_ERR_RETYPE);
    for (size_t i = 0; i < count; i++)
        out[i] = (struct mm_block){ base + i * size, size,
                                    first == MM_CAP_NONE ? MM_CAP_NONE : first + i };
    return SYS_ERR_OK;
}

/*
 * With the lock held: the allocated (or pending) segment holding addr, or
 * NULL. The most recent allocation is tried first, so that freeing what
 * was just allocated, the commonest pattern, costs no search.
 */
static struct mm_segment *lookup_allocation(struct mm *mm, uint64_t addr)
{
    struct mm_segment *s = mm->recent;
    if (s != NULL && s->state != MM_SEG_FREE && addr - s->node.base < s->node.size)
        return s;
    return (struct mm_segment *)blocktree_find(&mm->alloc_tree, addr);
}

/* With the lock held: why addr is not in an allocation. */
static errval_t not_allocated(struct mm *mm, uint64_t addr)
{
    return blocktree_find(&mm->free_tree, addr) != NULL ? MM_ERR_NOT_ALLOCATED : MM_ERR_NOT_MANAGED;
}

/* With the lock held: the allocation that [base, base + size) lies in. */
/* Does [base, base + size) go past the end of its piece of batch a? */
static __attribute__((noinline)) bool crosses_piece(const struct mm_segment *a, uint64_t base,
                                                    uint64_t size)
{
    struct mm_block p = piece_block(a, base);
    return p.base + p.size - base < size;
}

/* With the lock held: the allocation that [base, base + size) lies in;
 * in a batch, the range must lie in one piece. */
static errval_t find_allocation(struct mm *mm, uint64_t base, uint64_t size,
                                struct mm_segment **ret)
{
    struct mm_segment *a = lookup_allocation(mm, base);
    if (a == NULL)
        return not_allocated(mm, base);
    if (a->state == MM_SEG_PENDING)
        return MM_ERR_BUSY;
    if (seg_end(a) - base < size || (a->pieces != 1 && crosses_piece(a, base, size)))
        return MM_ERR_FREE_CROSSES;
    *ret = a;
    return SYS_ERR_OK;
}

/* With the lock held: check the free, and make sure of the records that
 * splitting the allocation for it will take (its piece cut out of a batch
 * first). *a is then the plain allocation that holds the range. */
static errval_t free_locked(struct mm *mm, uint64_t base, uint64_t size, struct mm_segment **a)
{
    for (;;) {
        errval_t err = find_allocation(mm, base, size, a);
        if (err_is_fail(err))
            return err;
        size_t need = (*a)->pieces == 1 ? split_need(*a, base, size) : batch_free_need(*a, base, size);
        if (mm->nspare >= need) {
            if ((*a)->pieces > 1)
                *a = batch_isolate(mm, *a, base);
            return SYS_ERR_OK;
        }
        err = spare_fill(mm, need);
        if (err_is_fail(err))
            return err;
    }
}

/* A new capability for a part kept (if there is one); *cap is set only on success. */
static errval_t retype_part(struct mm *mm, const struct mm_segment *s, uint64_t *cap)
{
    if (s == NULL)
        return SYS_ERR_OK;
    const struct mm_region *r = s->region;
    uint64_t c;
    errval_t err = mm->ops->retype(mm->ops_arg, r->cap, s->node.base - r->base, s->node.size,
                                   s->kind, &c);
    if (err_is_ok(err))
        *cap = c;
    return err;
}

/*
 * Without the lock: new capabilities for the parts kept. If one cannot be
 * made, destroy the other (so its range can be retyped) and make one for
 * the whole allocation instead; if that fails too, every part without a
 * capability is freed. Returns the first retype's error.
 */
static errval_t free_remake_caps(struct mm *mm, struct free_plan *p)
{
    bool have_left = false;
    errval_t err = retype_part(mm, p->left, &p->left_cap);
    if (err_is_ok(err)) {
        have_left = (p->left != NULL);
        err = retype_part(mm, p->right, &p->right_cap);
    }
    if (err_is_ok(err))
        return SYS_ERR_OK;

    if (have_left && err_is_ok(mm->ops->destroy(mm->ops_arg, p->left_cap)))
        have_left = false;
    p->keep_left = have_left;   /* a left part whose cap survived stays */
    p->keep_right = false;
    if (have_left)
        return err;

    const struct mm_segment *first = p->left != NULL ? p->left : p->mid;
    const struct mm_segment *last = p->right != NULL ? p->right : p->mid;
    const struct mm_region *r = first->region;
    uint64_t cap;
    if (err_is_ok(mm->ops->retype(mm->ops_arg, r->cap, first->node.base - r->base,
                                  seg_end(last) - first->node.base, first->kind, &cap))) {
        p->join = true;
        p->whole_cap = cap;
    }
    return err;
}

/* Without the lock: the capability step of a free, then settle it. */
static errval_t free_change_caps(struct mm *mm, struct free_plan *p)
{
    errval_t err = mm->ops->destroy(mm->ops_arg, p->old_cap);
    if (err_is_fail(err)) {
        p->join = true;
        p->whole_cap = p->old_cap;
        err = err_push(err, MM_ERR_DESTROY);
    } else {
        err = free_remake_caps(mm, p);
        if (err_is_fail(err)) {
            err = err_push(err, MM_ERR_RETYPE);
            err = err_push(err, p->join ? MM_ERR_PARTIAL_FREE : MM_ERR_CAP_LOST);
        }
    }
    mm_lock(mm);
    settle(mm, p);
    mm_unlock(mm);
    return err;
}

errval_t mm_free(struct mm *mm, uint64_t base, uint64_t size)
{
    if (size == 0)
        return MM_ERR_ZERO_SIZE;
    if ((base & (PAGE - 1)) != 0)
        return MM_ERR_NOT_PAGE_ALIGNED;
    uint64_t rounded = page_round_up(size);
    if (rounded < size || rounded > UINT64_MAX - base)
        return MM_ERR_BAD_RANGE;
    size = rounded;

    struct free_plan plan;
    struct mm_segment *a;
    mm_lock(mm);
    errval_t err = free_locked(mm, base, size, &a);
    if (err_is_fail(err)) {
        mm_unlock(mm);
        return err;
    }
    if (mm->ops == NULL) {
        if (base == a->node.base && size == a->node.size) {
            release(mm, a);     /* the common case needs no plan */
        } else {
            split(mm, a, base, size, &plan);
            settle(mm, &plan);
        }
        mm_unlock(mm);
        return SYS_ERR_OK;
    }
    split(mm, a, base, size, &plan);
    mm_unlock(mm);
    return free_change_caps(mm, &plan);
}

errval_t mm_cap_of(struct mm *mm, uint64_t addr, struct mm_block *out)
{
    mm_lock(mm);
    struct mm_segment *a = lookup_allocation(mm, addr);
    errval_t err = SYS_ERR_OK;
    if (a == NULL)
        err = not_allocated(mm, addr);
    else if (a->state == MM_SEG_PENDING)
        err = MM_ERR_BUSY;
    else
        *out = piece_block(a, addr);
    mm_unlock(mm);
    return err;
}

void mm_stats(struct mm *mm, struct mm_stats *st)
{
    mm_lock(mm);
    *st = (struct mm_stats){
        .total = mm->total,
        .free = mm->free,
        .allocated = mm->total - mm->free,
        .largest_free = blocktree_max_free(&mm->free_tree),
        .regions = mm->nregions,
        .allocations = mm->alloc_tree.count + mm->batch_extra,
        .free_blocks = mm->free_tree.count,
    };
    mm_unlock(mm);
}
