/*
 * mm_check.c — looking at the whole memory manager (mm.h): mm_walk(), which
 * reports every segment, and mm_check(), which checks every invariant the
 * operations in mm.c rely on. Both are O(n) and meant for tests, debug
 * checks and boot-time statistics, never for a hot path.
 *
 * Uses no libc.
 */
#include "mm/mm.h"

/* A batch (mm.c) is reported as the allocations it stands for. */
static void walk_segment(const struct mm_region *r, const struct mm_segment *s, mm_walk_fn fn,
                         void *arg)
{
    uint64_t size = s->node.size / s->pieces;
    for (uint64_t i = 0; i < s->pieces; i++) {
        uint64_t cap = (s->cap == MM_CAP_NONE || s->pieces == 1) ? s->cap : s->cap + i;
        struct mm_segment_info info = {
            .region_base = r->base,
            .block = { s->node.base + i * size, size, cap },
            .state = (enum mm_seg_state)s->state,
        };
        fn(arg, &info);
    }
}

void mm_walk(struct mm *mm, mm_walk_fn fn, void *arg)
{
    alloc_lock_acquire(&mm->lock);
    for (const struct mm_region *r = mm->regions; r != NULL; r = r->next) {
        for (const struct mm_segment *s = r->first; s != NULL; s = s->next)
            walk_segment(r, s, fn, arg);
    }
    alloc_lock_release(&mm->lock);
}

/* Counts gathered while walking the regions, compared with the trees and
 * the totals at the end. */
struct tally {
    uint64_t total, free;
    size_t nfree, nalloc, nregions;
    size_t batch_extra;         /* pieces - 1 of every batch */
    bool recent_seen;           /* mm->recent is one of the segments */
};

/* One segment on its own, and against its lower neighbour. */
static bool segment_ok(const struct mm *mm, const struct mm_region *r, const struct mm_segment *s,
                       const struct mm_segment *prev)
{
    bool is_free = (s->state == MM_SEG_FREE);
    const struct blocktree *home = is_free ? &mm->free_tree : &mm->alloc_tree;
    if (s->region != r || s->prev != prev || s->node.free != is_free || s->state > MM_SEG_PENDING)
        return false;
    if (((s->node.base | s->node.size) & (MM_PAGE_SIZE - 1)) != 0 || s->node.size == 0)
        return false;
    /* Only an allocated batch has pieces, whole pages each. */
    if (s->pieces == 0 || (s->pieces > 1 && (s->state != MM_SEG_ALLOCATED ||
                                              (s->node.size / s->pieces) % MM_PAGE_SIZE != 0 ||
                                              s->node.size % s->pieces != 0)))
        return false;
    if (blocktree_find(home, s->node.base) != &s->node)
        return false;
    if (prev == NULL)
        return s->node.base == r->base;
    /* Contiguous with its neighbour, and never two free ones in a row. */
    return prev->node.base + prev->node.size == s->node.base &&
           !(is_free && prev->state == MM_SEG_FREE);
}

/* The segments of r tile it exactly. */
static bool region_ok(const struct mm *mm, const struct mm_region *r, struct tally *t)
{
    const struct mm_segment *prev = NULL;
    for (const struct mm_segment *s = r->first; s != NULL; prev = s, s = s->next) {
        if (!segment_ok(mm, r, s, prev))
            return false;
        t->recent_seen = t->recent_seen || s == mm->recent;
        if (s->state == MM_SEG_FREE) {
            t->free += s->node.size;
            t->nfree++;
        } else {
            t->nalloc++;
            t->batch_extra += s->pieces - 1u;
        }
    }
    t->total += r->size;
    t->nregions++;
    return prev != NULL && prev->node.base + prev->node.size == r->base + r->size;
}

static size_t spare_count(const struct mm *mm)
{
    size_t n = 0;
    for (const union mm_record *r = mm->spare; r != NULL; r = r->next_spare)
        n++;
    return n;
}

bool mm_check(struct mm *mm)
{
    alloc_lock_acquire(&mm->lock);
    struct tally t = { 0 };
    bool ok = blocktree_check(&mm->free_tree) && blocktree_check(&mm->alloc_tree);
    for (const struct mm_region *r = mm->regions; ok && r != NULL; r = r->next)
        ok = region_ok(mm, r, &t);
    ok = ok && t.total == mm->total && t.free == mm->free && t.nregions == mm->nregions &&
         t.nfree == mm->free_tree.count && t.nalloc == mm->alloc_tree.count &&
         t.batch_extra == mm->batch_extra &&
         (mm->recent == NULL || t.recent_seen) && spare_count(mm) == mm->nspare;
    alloc_lock_release(&mm->lock);
    return ok;
}
