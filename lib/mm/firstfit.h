/*
 * firstfit.h — the baseline the memory manager (mm.h) is measured against:
 * one singly linked list of every segment, free or allocated, in address
 * order, searched from the head. Allocation takes the first free segment
 * where the aligned request fits; a free walks the list to its allocation,
 * splits it if only a part is freed, and merges the freed segment with a
 * free neighbour of the same region. Both are O(n) in the segments.
 *
 * Like the design of the reference report, it can also be told never to
 * merge pieces left by a partial free (merge_split = false): that is the
 * behaviour which fragments memory until requests fail, kept so the
 * fragmentation benchmark can show it.
 *
 * No capabilities, no lock, no address ranges: it exists for the host
 * benchmark (tests/host/mm_bench.c) and a few tests. Records come from a
 * slab as in mm.h. Pure code; implementation: firstfit.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#include "base/slab.h"
#include "mm/mm.h"

struct ff_segment {
    struct ff_segment *next;    /* the next segment up, in any region */
    uint64_t base, size;
    uint32_t region;            /* which firstfit_add() it came from */
    bool free;
    bool split;                 /* a piece of a partial free */
};

#define FF_INLINE_RECORDS 16

struct firstfit {
    struct ff_segment *head;
    bool merge_split;
    uint32_t nregions;
    uint64_t total, free;
    size_t nalloc, nfree;
    struct slab_allocator records;
    _Alignas(SLAB_ALIGN) struct ff_segment inline_records[FF_INLINE_RECORDS];
};

/* Start empty; refill as for mm_init(). */
errval_t firstfit_init(struct firstfit *ff, bool merge_split, slab_refill_fn refill,
                       void *refill_arg);

/* As mm_add(), without a capability. */
errval_t firstfit_add(struct firstfit *ff, uint64_t base, uint64_t size);

/* As mm_alloc(); out->cap is MM_CAP_NONE. Same errors, but no MM_ERR_NO_FIT
 * distinction is promised beyond what a full scan finds. */
errval_t firstfit_alloc(struct firstfit *ff, uint64_t size, uint64_t align, struct mm_block *out);

/* As mm_free() (whole allocations or any page-aligned part of one). */
errval_t firstfit_free(struct firstfit *ff, uint64_t base, uint64_t size);

/* As mm_stats(); the largest free segment costs a scan. */
void firstfit_stats(const struct firstfit *ff, struct mm_stats *st);
