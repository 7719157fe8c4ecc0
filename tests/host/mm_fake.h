/*
 * mm_fake.h — what the memory manager's host tests share: a fake
 * capability system behind struct mm_cap_ops, a record refill from malloc,
 * a lock hook that checks it is never taken twice or held across a call
 * out, and snapshots to show that a refused operation changed nothing.
 * Implementation: mm_fake.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mm/mm.h"

/* The error a failing fake cap op returns: what running out of slots for
 * the new capability would give in the OS. */
#define FAKE_ERR LIB_ERR_SLOT_ALLOC_EMPTY

#define FAKE_MAX_CAPS    8192
#define FAKE_MAX_REGIONS 16
#define FAKE_CAP_BASE    1000   /* handles start here, so 0 and 1 are never caps */

struct fake_cap {
    uint64_t region_cap;
    uint64_t base, size;
    bool live;
    uint8_t kind;
};

/*
 * A fake capability system. It knows the regions (fake_region()), checks
 * that every retype lies inside its region and overlaps no live capability
 * of it (as the kernel refuses an overlapping retype), that only live caps
 * are destroyed, and that the manager's lock is not held while it runs.
 * fail_retype / fail_destroy, when set to n > 0, make the n-th next call
 * fail with FAKE_ERR (once); fail_all_retypes fails every retype.
 */
struct fake_caps {
    struct { uint64_t cap, base, size; } region[FAKE_MAX_REGIONS];
    size_t nregions;
    struct fake_cap cap[FAKE_MAX_CAPS];
    size_t ncaps;               /* handles issued */
    size_t nlive;
    unsigned retypes, destroys; /* successful calls (each piece of a retype_many counts) */
    unsigned retype_many_calls; /* successful calls of fake_ops_batch's retype_many */
    unsigned fail_retype, fail_destroy;
    bool fail_all_retypes;
    /* Called at the start of every op, if set: for tests that act while a
     * capability call is under way. */
    void (*during_op)(void);
    /* The lock hook's state. */
    bool locked;
    unsigned acquires;
};

extern struct fake_caps fake;
extern const struct mm_cap_ops fake_ops;          /* without retype_many */
extern const struct mm_cap_ops fake_ops_batch;    /* with it */
extern const struct alloc_lock fake_lock;

void fake_reset(void);
void fake_region(uint64_t cap, uint64_t base, uint64_t size);

/* The fake capability behind a handle the manager holds. */
const struct fake_cap *fake_cap_get(uint64_t handle);

/* Check that every allocation has exactly one live capability, covering
 * exactly it, and that no other capability is live. */
void fake_check_caps(struct mm *mm);

/* Start mm with the fake ops (or none), the malloc refill and the lock,
 * after fake_reset(). */
void mm_test_init(struct mm *mm, bool with_caps);
/* The same with the given ops (fake_ops, fake_ops_batch or NULL). */
void mm_test_init_ops(struct mm *mm, const struct mm_cap_ops *ops);

/* Add a region to mm and to the fake; asserts success. */
void mm_test_add(struct mm *mm, uint64_t cap, uint64_t base, uint64_t size);

/* A record refill from malloc; test_buffers_free() gives it all back. */
errval_t test_refill(struct slab_allocator *slab, void *arg);
void test_buffers_free(void);

#define SNAPSHOT_MAX 512

/* Everything a caller can see of the manager. */
struct mm_snapshot {
    struct mm_stats stats;
    size_t nseg;
    struct mm_segment_info seg[SNAPSHOT_MAX];
};

void mm_snapshot(struct mm *mm, struct mm_snapshot *snap);
bool mm_snapshot_equal(const struct mm_snapshot *a, const struct mm_snapshot *b);

/* The allocation at addr, asserting there is one. */
struct mm_block mm_test_block_at(struct mm *mm, uint64_t addr);
