/*
 * firstfit.c — the first-fit linked list of firstfit.h.
 *
 * Deliberately plain: every operation walks the list from its head. The
 * only care taken is the same check-then-act as in mm.c (the records an
 * operation needs are taken from the slab before anything changes), so
 * that the benchmark compares policies and structures, not robustness.
 * Uses no libc.
 */
#include "mm/firstfit.h"

#define PAGE MM_PAGE_SIZE

static uint64_t ff_end(const struct ff_segment *s)
{
    return s->base + s->size;
}

errval_t firstfit_init(struct firstfit *ff, bool merge_split, slab_refill_fn refill,
                       void *refill_arg)
{
    *ff = (struct firstfit){ .merge_split = merge_split };
    errval_t err = slab_init(&ff->records, sizeof(struct ff_segment), refill, refill_arg);
    if (err_is_fail(err))
        return err;
    return slab_grow(&ff->records, ff->inline_records, sizeof ff->inline_records);
}

/* Take `n` (<= 2) records, or none. */
static errval_t take_records(struct firstfit *ff, size_t n, struct ff_segment *rec[2])
{
    rec[0] = rec[1] = NULL;
    for (size_t i = 0; i < n; i++) {
        rec[i] = slab_alloc(&ff->records);
        if (rec[i] == NULL) {
            slab_free(&ff->records, rec[0]);
            return err_push(LIB_ERR_SLAB_EMPTY, MM_ERR_NO_METADATA);
        }
    }
    return SYS_ERR_OK;
}

/* Link rec after prev (or at the head) as [base, base + size). */
static struct ff_segment *link_after(struct firstfit *ff, struct ff_segment *prev,
                                     struct ff_segment *rec, uint64_t base, uint64_t size,
                                     uint32_t region, bool free)
{
    *rec = (struct ff_segment){ .base = base, .size = size, .region = region, .free = free };
    struct ff_segment **link = prev != NULL ? &prev->next : &ff->head;
    rec->next = *link;
    *link = rec;
    return rec;
}

errval_t firstfit_add(struct firstfit *ff, uint64_t base, uint64_t size)
{
    if (size == 0)
        return MM_ERR_ZERO_SIZE;
    if (((base | size) & (PAGE - 1)) != 0)
        return MM_ERR_NOT_PAGE_ALIGNED;
    if (size > UINT64_MAX - base)
        return MM_ERR_BAD_RANGE;

    struct ff_segment *prev = NULL;
    for (struct ff_segment *s = ff->head; s != NULL && s->base < base + size; s = s->next) {
        if (ff_end(s) > base)
            return MM_ERR_REGION_OVERLAP;
        prev = s;
    }
    struct ff_segment *rec[2];
    errval_t err = take_records(ff, 1, rec);
    if (err_is_fail(err))
        return err;
    link_after(ff, prev, rec[0], base, size, ff->nregions++, true);
    ff->total += size;
    ff->free += size;
    ff->nfree++;
    return SYS_ERR_OK;
}

static uint64_t largest_free(const struct firstfit *ff)
{
    uint64_t best = 0;
    for (const struct ff_segment *s = ff->head; s != NULL; s = s->next)
        if (s->free && s->size > best)
            best = s->size;
    return best;
}

/* The first free segment where `size` fits at `align`, and the address. */
static struct ff_segment *first_fit(struct firstfit *ff, uint64_t size, uint64_t align,
                                    uint64_t *at)
{
    for (struct ff_segment *s = ff->head; s != NULL; s = s->next) {
        if (!s->free)
            continue;
        uint64_t skip = (0 - s->base) & (align - 1);
        if (skip < s->size && s->size - skip >= size) {
            *at = s->base + skip;
            return s;
        }
    }
    return NULL;
}

errval_t firstfit_alloc(struct firstfit *ff, uint64_t size, uint64_t align, struct mm_block *out)
{
    if (size == 0)
        return MM_ERR_ZERO_SIZE;
    if (align == 0 || (align & (align - 1)) != 0)
        return MM_ERR_BAD_ALIGNMENT;
    if (size > UINT64_MAX - (PAGE - 1))
        return MM_ERR_OUT_OF_MEMORY;
    size = (size + PAGE - 1) & ~(PAGE - 1);
    align = align < PAGE ? PAGE : align;

    uint64_t at;
    struct ff_segment *s = first_fit(ff, size, align, &at);
    if (s == NULL)
        return largest_free(ff) < size ? MM_ERR_OUT_OF_MEMORY : MM_ERR_NO_FIT;
    uint64_t end = ff_end(s);
    struct ff_segment *rec[2];
    errval_t err = take_records(ff, (at > s->base) + (at + size < end), rec);
    if (err_is_fail(err))
        return err;

    /* s keeps the piece below, or becomes the allocation if there is none. */
    struct ff_segment *a = s;
    size_t used = 0;
    if (at > s->base) {
        s->size = at - s->base;
        a = link_after(ff, s, rec[used++], at, size, s->region, false);
    } else {
        s->size = size;
        s->free = false;
        ff->nfree--;
    }
    if (at + size < end) {
        link_after(ff, a, rec[used++], at + size, end - (at + size), s->region, true);
        ff->nfree++;
    }
    ff->nalloc++;
    ff->free -= size;
    *out = (struct mm_block){ at, size, MM_CAP_NONE };
    return SYS_ERR_OK;
}

static bool mergeable(const struct firstfit *ff, const struct ff_segment *a,
                      const struct ff_segment *b)
{
    return a->free && b->free && a->region == b->region && ff_end(a) == b->base &&
           (ff->merge_split || (!a->split && !b->split));
}

/* Merge s with the segment after it, if they may be merged. */
static void merge_next(struct firstfit *ff, struct ff_segment *s)
{
    struct ff_segment *n = s->next;
    if (n == NULL || !mergeable(ff, s, n))
        return;
    s->size += n->size;
    s->next = n->next;
    ff->nfree--;
    slab_free(&ff->records, n);
}

errval_t firstfit_free(struct firstfit *ff, uint64_t base, uint64_t size)
{
    if (size == 0)
        return MM_ERR_ZERO_SIZE;
    if ((base & (PAGE - 1)) != 0)
        return MM_ERR_NOT_PAGE_ALIGNED;
    if (size > UINT64_MAX - (PAGE - 1) || ((size + PAGE - 1) & ~(PAGE - 1)) > UINT64_MAX - base)
        return MM_ERR_BAD_RANGE;
    size = (size + PAGE - 1) & ~(PAGE - 1);

    struct ff_segment *prev = NULL, *s = ff->head;
    while (s != NULL && ff_end(s) <= base) {
        prev = s;
        s = s->next;
    }
    if (s == NULL || s->base > base)
        return MM_ERR_NOT_MANAGED;
    if (s->free)
        return MM_ERR_NOT_ALLOCATED;
    if (ff_end(s) - base < size)
        return MM_ERR_FREE_CROSSES;

    uint64_t end = ff_end(s);
    bool partial = base > s->base || base + size < end;
    struct ff_segment *rec[2];
    errval_t err = take_records(ff, (base > s->base) + (base + size < end), rec);
    if (err_is_fail(err))
        return err;

    size_t used = 0;
    struct ff_segment *mid = s;
    if (base > s->base) {
        s->size = base - s->base;
        s->split = true;
        prev = s;
        mid = link_after(ff, s, rec[used++], base, size, s->region, false);
        ff->nalloc++;
    }
    if (base + size < end) {
        mid->size = size;
        struct ff_segment *r = link_after(ff, mid, rec[used++], base + size, end - (base + size),
                                          s->region, false);
        r->split = true;
        ff->nalloc++;
    }
    mid->free = true;
    mid->split = mid->split || partial;
    ff->nalloc--;
    ff->nfree++;
    ff->free += size;
    merge_next(ff, mid);
    if (prev != NULL)
        merge_next(ff, prev);
    return SYS_ERR_OK;
}

void firstfit_stats(const struct firstfit *ff, struct mm_stats *st)
{
    *st = (struct mm_stats){
        .total = ff->total,
        .free = ff->free,
        .allocated = ff->total - ff->free,
        .largest_free = largest_free(ff),
        .regions = ff->nregions,
        .allocations = ff->nalloc,
        .free_blocks = ff->nfree,
    };
}
