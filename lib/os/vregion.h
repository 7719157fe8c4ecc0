/*
 * vregion.h — the bookkeeping of a user address space: which ranges are
 * free, reserved or mapped, with what attributes. No system calls and no
 * page tables: the paging layer keeps those (pt_model.h) and asks this
 * module where things go and what lies at an address.
 *
 * The space [lo, hi) given to vregion_init() is tiled by regions, each in
 * one state:
 *   FREE      nothing is there; free neighbours are always merged;
 *   RESERVED  set aside and backed lazily: the page-fault handler finds the
 *             region with vregion_lookup() and backs the page with a fresh
 *             zeroed frame, with the region's attributes. A reservation
 *             with attributes 0 (no access) is a guard: a fault there is a
 *             real fault. A stack is a reservation with a guard region
 *             reserved right below it by the caller;
 *   MAPPED    frames mapped explicitly; the region keeps its attributes and
 *             an opaque 64-bit cookie that the paging layer uses (to find
 *             its mapping records, say).
 * A state changes on a page-aligned sub-range of one region, which splits
 * it (into at most three); see the table at vregion_mark_mapped().
 *
 * Structure: the regions are in one red-black tree by address
 * (mm/blocktree.h) whose augmentation, the largest free size below each
 * node, makes every operation O(log n) in the number of regions: lookup by
 * address, a fixed-address change (find the region, split it), and
 * "anywhere" placement, which is address-ordered first fit. First fit
 * rather than best fit because it needs no second index by size, it is
 * deterministic (a program's layout is the same on every run, which makes
 * faults reproducible), and it reuses holes low in the space and leaves the
 * one huge gap at the top whole for large reservations such as the heap;
 * best fit's advantage, less fragmentation, hardly matters in 256 TiB.
 *
 * Records. Region records come from a slab (base/slab.h), started with
 * VREGION_INLINE_RECORDS records inside the struct and refilled by the
 * owner's callback. An operation makes sure it holds the records it needs
 * (at most 2, for a split in the middle) before it changes anything, so
 * running out is VREGION_ERR_NO_RECORDS and changes nothing.
 *
 * Threads. vs->lock (vregion_set_lock) guards every field below it in
 * struct vregion_space and every record in the tree. It is never held while
 * the slab is called, as the slab's refill maps memory and so may call back
 * into this module; one non-recursive mutex may serve both.
 *
 * Every operation that fails returns a named error and changes nothing.
 * Pure code (no libc), built for user space and the host tests.
 * Implementation: vregion.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#include "base/slab.h"
#include "mm/blocktree.h"

#define VREGION_PAGE_SIZE ((uint64_t)4096)

/* User addresses are canonical below 2^48 (48-bit TTBR0 walks). */
#define VREGION_VA_LIMIT ((uint64_t)1 << 48)

/* The largest alignment vregion_reserve_any() takes: a level-1 block. */
#define VREGION_MAX_ALIGN ((uint64_t)1 << 30)

/* Records inside struct vregion_space, enough for a program's first few
 * dozen regions before the first refill. */
#define VREGION_INLINE_RECORDS 32

/* The slab refills while this many records are left: the refill maps a
 * page, which itself takes up to two records, and other threads may take
 * some meanwhile. */
#define VREGION_RECORD_WATERMARK 16

/* The most records one operation needs: a change in the middle of a region
 * leaves a piece on each side. */
#define VREGION_RECORDS_PER_OP 2

/* Spare records kept back from the slab between operations: a free that
 * merges gives back two, the next split takes two. */
#define VREGION_SPARE_MAX 4

/* Free gaps that vregion_reserve_any() tries, lowest first, before it takes
 * the first gap of at least size + align - 4 KiB. */
#define VREGION_FIT_PROBES 16

enum vregion_state {
    VREGION_FREE,
    VREGION_RESERVED,
    VREGION_MAPPED,
};

/*
 * Attributes. No EXEC means execute-never. WRITE needs READ (ARMv8 has no
 * write-only pages); DEVICE is for mappings only (a lazily backed device
 * region makes no sense) and excludes EXEC (the architecture requires
 * device memory to be execute-never, or the CPU may fetch from it).
 */
#define VREGION_ATTR_READ   0x1u
#define VREGION_ATTR_WRITE  0x2u
#define VREGION_ATTR_EXEC   0x4u
#define VREGION_ATTR_DEVICE 0x8u
#define VREGION_ATTR_MASK   0xfu
#define VREGION_ATTR_RW     (VREGION_ATTR_READ | VREGION_ATTR_WRITE)

/* One region as the queries report it. attrs and cookie are 0 for FREE,
 * the cookie is 0 for RESERVED. */
struct vregion_info {
    uint64_t base;
    uint64_t size;
    enum vregion_state state;
    uint32_t attrs;
    uint64_t cookie;
};

struct vregion_stats {
    uint64_t total;             /* hi - lo */
    uint64_t free;              /* bytes in each state; they sum to total */
    uint64_t reserved;
    uint64_t mapped;
    uint64_t largest_free;      /* the largest free gap */
    size_t regions;             /* regions of every state */
};

struct vregion_record {
    struct bt_node node;        /* base and size; node.free iff state is FREE */
    uint64_t cookie;
    uint8_t state;              /* enum vregion_state */
    uint8_t attrs;
};

/* What the record slab holds. A spare record is linked through its first word. */
union vregion_slot {
    union vregion_slot *next_spare;
    struct vregion_record rec;
};

struct vregion_space {
    /* Set by vregion_init() and vregion_set_lock() before the space is
     * shared; read-only afterwards. */
    uint64_t lo, hi;
    struct alloc_lock lock;

    /* Guarded by lock, with every record in the tree. */
    struct blocktree tree;      /* every region; the free ones count in max_free */
    uint64_t bytes[3];          /* bytes in each enum vregion_state */
    union vregion_slot *spare;  /* records taken from the slab, not in use */
    size_t nspare;
    struct vregion_record *last;    /* what the last lookup found, tried first by
                                       the next (a fault after a fault in the
                                       same region); NULL or a record in the tree */

    /* The records; the slab has its own copy of the lock hook. */
    struct slab_allocator records;
    _Alignas(SLAB_ALIGN) union vregion_slot inline_records[VREGION_INLINE_RECORDS];
};

/*
 * Start a space [lo, hi) that is one free region. refill, called by the
 * record slab while a few records are left, should slab_grow(slab, ...) a
 * fresh page; NULL means the space has only its inline records.
 * Errors: VREGION_ERR_BAD_SPACE unless lo < hi, both page aligned, and
 * hi <= VREGION_VA_LIMIT.
 */
errval_t vregion_init(struct vregion_space *vs, uint64_t lo, uint64_t hi, slab_refill_fn refill,
                      void *refill_arg);

/* Guard the space and its record slab with `lock` (copied); set before
 * sharing. */
void vregion_set_lock(struct vregion_space *vs, const struct alloc_lock *lock);

/*
 * Reserve `size` bytes at a multiple of `align` wherever they fit, lowest
 * address first, and return the base in *base. The lowest fit is found
 * when it lies among the first VREGION_FIT_PROBES free gaps of at least
 * `size`; past those, the lowest gap of at least size + align - 4 KiB is
 * taken. So at 4 KiB alignment this fails only when no gap is `size`
 * large. Errors: VREGION_ERR_BAD_SIZE (zero or not a page multiple),
 * VREGION_ERR_BAD_ALIGNMENT (not a power of two from 4 KiB to 1 GiB),
 * VREGION_ERR_BAD_ATTRS, VREGION_ERR_NO_SPACE, VREGION_ERR_NO_RECORDS.
 */
errval_t vregion_reserve_any(struct vregion_space *vs, uint64_t size, uint64_t align,
                             uint32_t attrs, uint64_t *base);

/*
 * Reserve [base, base + size), which must be free. Errors: the range errors
 * (see below), VREGION_ERR_BAD_ATTRS, VREGION_ERR_OVERLAP if any part is
 * not free, VREGION_ERR_NO_RECORDS.
 *
 * Range errors, checked in this order by every operation on a range:
 * VREGION_ERR_BAD_SIZE (zero or not a page multiple), VREGION_ERR_MISALIGNED
 * (base), VREGION_ERR_NOT_CANONICAL (reaches 2^48 or beyond),
 * VREGION_ERR_OUTSIDE (not inside [lo, hi)).
 */
errval_t vregion_reserve_at(struct vregion_space *vs, uint64_t base, uint64_t size,
                            uint32_t attrs);

/*
 * The state changes, each on a range inside one region:
 *
 *   operation              from               to        when refused
 *   vregion_reserve_at     FREE               RESERVED  VREGION_ERR_OVERLAP
 *   vregion_mark_mapped    FREE or RESERVED   MAPPED    VREGION_ERR_ALREADY_MAPPED
 *   vregion_mark_reserved  MAPPED             RESERVED  VREGION_ERR_NOT_MAPPED
 *   vregion_free           RESERVED or MAPPED FREE      VREGION_ERR_NOT_ALLOCATED
 *
 * The refusal in the last column is for a range whose first page is in a
 * region of the wrong state; a range that starts in the right state but
 * goes past its region's end is VREGION_ERR_CROSSES (for reserve_at,
 * VREGION_ERR_OVERLAP, as free regions are merged, so the next one is not
 * free). The pieces of a split region left on either side keep their
 * state, attributes and cookie.
 */

/* Mark [base, base + size) mapped with `attrs` and `cookie`. Errors: the
 * range errors, VREGION_ERR_BAD_ATTRS, the table's, VREGION_ERR_NO_RECORDS. */
errval_t vregion_mark_mapped(struct vregion_space *vs, uint64_t base, uint64_t size,
                             uint32_t attrs, uint64_t cookie);

/* Mark the mapped [base, base + size) reserved again, with `attrs` (the
 * paging layer knows the attributes of the reservation it was mapped in).
 * Errors: as vregion_mark_mapped. */
errval_t vregion_mark_reserved(struct vregion_space *vs, uint64_t base, uint64_t size,
                               uint32_t attrs);

/* Give [base, base + size) back: it becomes free and merges with free
 * neighbours. The caller has already unmapped what a MAPPED range held.
 * Errors: the range errors, the table's, VREGION_ERR_NO_RECORDS. */
errval_t vregion_free(struct vregion_space *vs, uint64_t base, uint64_t size);

/*
 * The region containing addr (any byte address), in *info. O(log n).
 * Errors: VREGION_ERR_NOT_CANONICAL, VREGION_ERR_OUTSIDE.
 *
 * As the regions tile the space, the regions overlapping [a, b) are visited
 * with the lock dropped between steps (so each step may unmap) by:
 *     for (x = a; x < b; x = info.base + info.size)
 *         vregion_lookup(vs, x, &info);
 */
errval_t vregion_lookup(struct vregion_space *vs, uint64_t addr, struct vregion_info *info);

/*
 * Call fn(arg, info) for each region overlapping [base, base + size), in
 * address order, in O(log n + k). fn runs with the lock held and must not
 * call this module; use the lookup loop above for that.
 */
typedef void (*vregion_walk_fn)(void *arg, const struct vregion_info *info);
void vregion_walk(struct vregion_space *vs, uint64_t base, uint64_t size, vregion_walk_fn fn,
                  void *arg);

/* Byte totals, the largest free gap and the region count, from one
 * consistent moment. O(1). */
void vregion_stats(struct vregion_space *vs, struct vregion_stats *st);

/*
 * Check every invariant: the tree's own (blocktree_check), the regions tile
 * [lo, hi) exactly, no two free regions are neighbours, each record's state
 * and attributes are valid for its state, and the byte totals match.
 * For tests and debug checks; O(n).
 */
bool vregion_check(struct vregion_space *vs);
