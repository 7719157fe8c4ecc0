/*
 * mm.h — the physical memory manager: it owns RAM regions (each a RAM
 * capability), hands out pieces of any page-multiple size at any
 * power-of-two alignment, optionally inside an address range, and takes
 * back whole allocations or any page-aligned part of one.
 *
 * Structure (docs/mm.md has the reasoning and the measurements). Every byte
 * of every region belongs to exactly one *segment*, free or allocated. The
 * segments of a region form a list in address order, which gives a
 * segment's neighbours in O(1), so freeing coalesces at once and never
 * across regions (a region's first and last segments have no neighbour).
 * Free segments are also in a free tree and allocations in an allocation
 * tree (blocktree.h: red-black trees by address, the free one augmented
 * with the largest free size below each node). Allocation is address-
 * ordered first fit in O(log n); a free finds its allocation in O(log n)
 * (O(1) if it is the latest allocation, which is tried first); neighbouring
 * free segments are always merged, so after everything is freed each region
 * is one free segment again, exactly as it was added. n is the number of
 * segments.
 *
 * Capabilities. The owner supplies mm_cap_ops (or NULL for none). Each
 * allocation has one capability, retyped from its region's capability and
 * covering exactly the allocation. Freeing destroys it. Freeing a part of
 * an allocation destroys its capability and retypes one for each part that
 * remains, and those parts are separate allocations from then on: the old
 * capability and everything derived from it (the client's copies too) are
 * gone, and mm_cap_of() gives the new ones.
 *
 * Records. Segment and region records come from a slab (base/slab.h) with
 * MM_INLINE_RECORDS records inside struct mm to start with; the owner's
 * refill callback adds memory before it runs dry (MM_RECORD_WATERMARK). An
 * operation first makes sure it holds the records it will need (at most
 * MM_RECORDS_PER_OP), so running out of records is an error that changes
 * nothing.
 *
 * Threads. mm->lock (mm_set_lock) guards all of the manager's state. It is
 * never held while the cap ops or the slab (and so its refill) are called:
 * both may call back into the manager (a slot allocator refilling from this
 * very manager, say). While an operation waits for its capability calls, its
 * segments are *pending*: counted as allocated, invisible to mm_free and
 * mm_cap_of (which return MM_ERR_BUSY for them), never merged.
 *
 * Pure code (no libc, no system calls; the compiler may call memset for
 * the zeroing of struct mm), built for user space and the host tests, and
 * buildable for the kernel. Implementation: mm.c (operations), mm_check.c (walk and invariant
 * check). A first-fit linked list with the same interface, the baseline of
 * the benchmarks, is firstfit.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#include "base/slab.h"
#include "mm/blocktree.h"

#define MM_PAGE_SIZE ((uint64_t)4096)

/* The capability of an allocation when there are no cap ops. */
#define MM_CAP_NONE UINT64_MAX

/* mm_alloc_range's max_limit for "no upper limit". */
#define MM_NO_LIMIT UINT64_MAX

/* Records inside struct mm, enough for a few regions and a few dozen
 * allocations before the first refill. */
#define MM_INLINE_RECORDS 64

/*
 * The record slab refills while this many records are left. While one
 * thread's refill runs (and allocates from this manager, taking up to two),
 * other threads are served from these instead of waiting, each operation
 * taking at most two: 32 covers a refill and about fifteen threads at once.
 * Were they all used up, an allocation would fail with MM_ERR_NO_METADATA
 * until the refill is done.
 */
#define MM_RECORD_WATERMARK 32

/* The most records one operation needs: a carve in the middle of a free
 * segment, or a free in the middle of an allocation, makes two. */
#define MM_RECORDS_PER_OP 2

/* The most allocations one mm_alloc_batch makes (a batch is one segment,
 * so it needs a carve's records), and the most records any operation
 * needs: a free of the middle of a piece in the middle of a batch, which
 * cuts the batch around the piece and the piece around the range. */
#define MM_BATCH_MAX 16
#define MM_RECORDS_PER_OP_MAX (2 * MM_RECORDS_PER_OP)
/* Spare records kept back from the slab between operations. */
#define MM_SPARE_MAX 16

/* Free segments an aligned allocation tries, lowest first, before it takes
 * the first one large enough to hold the request at any alignment. */
#define MM_FIT_PROBES 32

/*
 * Capability operations, called without the manager's lock. A capability
 * is an opaque 64-bit handle (in the OS, an encoded capref).
 *   retype:  make a new capability of the allocation's `kind` for
 *            [region base + offset, + size), a descendant of region_cap,
 *            and return it in *cap. Kind MM_KIND_RAM (what mm_alloc asks
 *            for) is plain memory; other kinds are the owner's (in the OS,
 *            an object type, so that a Frame is retyped straight from the
 *            region instead of from a RAM capability made first). The
 *            parts a partial free keeps get capabilities of the same kind;
 *   destroy: revoke and delete an allocation's capability, so that its
 *            range can be retyped again;
 *   retype_many (optional; mm_alloc_batch needs it): what `count` calls
 *            of retype would do for the consecutive pieces
 *            [offset + i * size, + size), all or none, with consecutive
 *            handles: piece i's capability is *first + i (in the OS, one
 *            retype system call into consecutive slots).
 */
struct mm_cap_ops {
    errval_t (*retype)(void *arg, uint64_t region_cap, uint64_t offset, uint64_t size,
                       uint8_t kind, uint64_t *cap);
    errval_t (*destroy)(void *arg, uint64_t cap);
    errval_t (*retype_many)(void *arg, uint64_t region_cap, uint64_t offset, uint64_t size,
                            uint8_t kind, size_t count, uint64_t *first);
};

/* The kind mm_alloc and mm_alloc_range ask for. */
#define MM_KIND_RAM 0

/* An allocation: its range and capability (MM_CAP_NONE without cap ops). */
struct mm_block {
    uint64_t base;
    uint64_t size;
    uint64_t cap;
};

struct mm_stats {
    uint64_t total;             /* bytes in all regions */
    uint64_t free;
    uint64_t allocated;         /* total - free, pending segments included */
    uint64_t largest_free;      /* the largest free segment */
    size_t regions;
    size_t allocations;         /* allocated segments, pending ones included */
    size_t free_blocks;         /* free segments */
};

enum mm_seg_state {
    MM_SEG_FREE,
    MM_SEG_ALLOCATED,
    MM_SEG_PENDING,             /* allocated; its capability is being changed */
};

struct mm_segment;

/* A region given by mm_add(). base, size and cap never change once added. */
struct mm_region {
    uint64_t base, size;
    uint64_t cap;
    struct mm_segment *first;   /* its lowest segment */
    struct mm_region *next;     /* all regions, most recently added first */
};

struct mm_segment {
    struct bt_node node;        /* base and size; in free_tree iff state is FREE */
    struct mm_segment *prev, *next;     /* address neighbours in the same region */
    struct mm_region *region;
    uint64_t cap;               /* the allocation's capability */
    uint8_t state;              /* enum mm_seg_state */
    uint8_t kind;               /* what its capability is (mm_alloc_kind) */
    uint16_t pieces;            /* 1, or an allocated batch (mm_alloc_batch) of this
                                   many allocations of node.size / pieces bytes, the
                                   i-th with capability cap + i */
};

/* What the record slab holds. A spare record is linked through its first word. */
union mm_record {
    union mm_record *next_spare;
    struct mm_segment seg;
    struct mm_region region;
};

struct mm {
    /* Set by mm_init() and mm_set_lock() before the manager is shared;
     * read-only afterwards. */
    const struct mm_cap_ops *ops;       /* NULL: no capabilities */
    void *ops_arg;
    struct alloc_lock lock;

    /* Guarded by lock, with every record reachable from them. Exception: a
     * PENDING segment's base, size, region and cap are changed only by the
     * thread that made it pending, which reads them without the lock. */
    struct blocktree free_tree;
    struct blocktree alloc_tree;
    struct mm_region *regions;
    size_t nregions;
    uint64_t total;
    uint64_t free;
    union mm_record *spare;             /* records taken from the slab, not in use */
    size_t nspare;
    struct mm_segment *recent;          /* the last allocation carved, or NULL: tried
                                           first by mm_free and mm_cap_of */
    size_t batch_extra;                 /* allocations the allocation tree does not
                                           count: pieces - 1 of every batch */

    /* The records; the slab has its own copy of the lock hook. */
    struct slab_allocator records;
    _Alignas(SLAB_ALIGN) union mm_record inline_records[MM_INLINE_RECORDS];
};

/*
 * Start an empty manager. ops may be NULL (no capabilities: allocations get
 * MM_CAP_NONE). refill, called by the record slab while a few records are
 * left, should slab_grow(slab, ...) a fresh page; NULL means the manager
 * has only its inline records. Never fails today; returns an errval_t so
 * that the slab's checks stay visible.
 */
errval_t mm_init(struct mm *mm, const struct mm_cap_ops *ops, void *ops_arg,
                 slab_refill_fn refill, void *refill_arg);

/* Guard the manager and its record slab with `lock` (copied); set before
 * sharing. One non-recursive mutex may serve both. */
void mm_set_lock(struct mm *mm, const struct alloc_lock *lock);

/*
 * Add the region [base, base + size), whose RAM capability is region_cap.
 * Errors (nothing changes): MM_ERR_ZERO_SIZE; MM_ERR_NOT_PAGE_ALIGNED if
 * base or size is not a page multiple; MM_ERR_BAD_RANGE if it does not
 * end below 2^64; MM_ERR_REGION_OVERLAP; MM_ERR_NO_METADATA.
 */
errval_t mm_add(struct mm *mm, uint64_t region_cap, uint64_t base, uint64_t size);

/*
 * Allocate `size` bytes (rounded up to pages) at a multiple of `align`, a
 * power of two (below a page it means a page; any larger power of two is
 * honoured). The lowest suitable free address is taken when it is among the
 * first MM_FIT_PROBES free segments large enough; past those, the lowest
 * segment of at least size + align - 4 KiB. So a request always succeeds if
 * some free segment is that large, and at page alignment exactly when some
 * free segment is at least `size`. Errors (nothing changes):
 * MM_ERR_ZERO_SIZE, MM_ERR_BAD_ALIGNMENT, MM_ERR_OUT_OF_MEMORY (no free
 * segment is `size` large), MM_ERR_NO_FIT (none at that alignment),
 * MM_ERR_NO_METADATA, MM_ERR_RETYPE over the cap op's error.
 */
errval_t mm_alloc(struct mm *mm, uint64_t size, uint64_t align, struct mm_block *out);

/* As mm_alloc(), with a capability of the owner's `kind` (see mm_cap_ops). */
errval_t mm_alloc_kind(struct mm *mm, uint64_t size, uint64_t align, uint8_t kind,
                       struct mm_block *out);
/*
 * `count` (1 .. MM_BATCH_MAX) allocations of `size` bytes each, side by
 * side, the first at a multiple of `size` if that is a power of two, each
 * with its own capability of `kind`, made in one retype_many: what a pool
 * of frames refills with at the cost of one allocation. They are separate
 * allocations from the start, freed one by one like any other (inside,
 * the batch is one segment until a piece is freed: mm.c). out[i] is the
 * i-th. Errors as mm_alloc (for count * size), MM_ERR_BAD_COUNT,
 * MM_ERR_NO_BATCH_OP if the cap ops have no retype_many; nothing changes
 * on error.
 */
errval_t mm_alloc_batch(struct mm *mm, uint64_t size, size_t count, uint8_t kind,
                        struct mm_block *out);

/*
 * As mm_alloc(), but the allocation lies inside [min_base, max_limit)
 * (rounded inwards to pages; MM_NO_LIMIT for none). Extra errors:
 * MM_ERR_BAD_RANGE if the rounded range is empty; MM_ERR_NO_FIT if nothing
 * fits inside it.
 */
errval_t mm_alloc_range(struct mm *mm, uint64_t size, uint64_t align, uint64_t min_base,
                        uint64_t max_limit, struct mm_block *out);

/*
 * Free [base, base + size) (size rounded up to pages): a whole allocation
 * or any page-aligned part of one. A part splits the allocation: the parts
 * that remain become allocations of their own with new capabilities.
 * Errors that change nothing: MM_ERR_ZERO_SIZE; MM_ERR_NOT_PAGE_ALIGNED
 * (base); MM_ERR_BAD_RANGE (wraps); MM_ERR_NOT_MANAGED (base in no region);
 * MM_ERR_NOT_ALLOCATED (base is free: never allocated, or freed twice);
 * MM_ERR_FREE_CROSSES (the range goes past its allocation's end);
 * MM_ERR_BUSY (another thread is changing that allocation);
 * MM_ERR_NO_METADATA; MM_ERR_DESTROY over the cap op's error.
 * If the capability of a remaining part cannot be made, the old one is
 * already destroyed; then (chain: cause, MM_ERR_RETYPE, then one of)
 *   MM_ERR_PARTIAL_FREE: the allocation stays whole, with a new capability;
 *   MM_ERR_CAP_LOST:     not even that could be made, so every part without
 *                        a capability was freed (in practice, all of it).
 */
errval_t mm_free(struct mm *mm, uint64_t base, uint64_t size);

/*
 * The allocation that covers addr, with its current capability. Errors:
 * MM_ERR_NOT_MANAGED, MM_ERR_NOT_ALLOCATED, MM_ERR_BUSY.
 */
errval_t mm_cap_of(struct mm *mm, uint64_t addr, struct mm_block *out);

/* Totals and counts, from one consistent moment. O(1). */
void mm_stats(struct mm *mm, struct mm_stats *st);

/* One segment as mm_walk() reports it. */
struct mm_segment_info {
    uint64_t region_base;
    struct mm_block block;      /* cap is MM_CAP_NONE for free segments */
    enum mm_seg_state state;
};

/*
 * Call fn for every segment, region by region (most recently added first),
 * in address order within a region. fn runs with the lock held and must
 * not call the manager.
 */
typedef void (*mm_walk_fn)(void *arg, const struct mm_segment_info *seg);
void mm_walk(struct mm *mm, mm_walk_fn fn, void *arg);

/*
 * Check every invariant: both trees (blocktree_check), each region tiled
 * exactly by its segments, no two free neighbours, every segment in the
 * tree its state says, page alignment, the totals, the spare records and
 * the recent-allocation hint. For tests and debug checks; O(n).
 */
bool mm_check(struct mm *mm);
