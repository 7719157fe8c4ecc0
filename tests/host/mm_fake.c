/*
 * mm_fake.c — the memory manager tests' fake capability system, refill,
 * lock hook and snapshots (mm_fake.h).
 */
#include "mm_fake.h"

#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

struct fake_caps fake;

/* ---- The lock hook. ---- */

static void fake_acquire(void *arg)
{
    (void)arg;
    cr_assert_not(fake.locked, "the manager never takes its lock twice");
    fake.locked = true;
    fake.acquires++;
}

static void fake_release(void *arg)
{
    (void)arg;
    cr_assert(fake.locked, "released a lock that is not held");
    fake.locked = false;
}

const struct alloc_lock fake_lock = { fake_acquire, fake_release, NULL };

/* ---- The capability system. ---- */

void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
}

void fake_region(uint64_t cap, uint64_t base, uint64_t size)
{
    cr_assert_lt(fake.nregions, FAKE_MAX_REGIONS);
    fake.region[fake.nregions].cap = cap;
    fake.region[fake.nregions].base = base;
    fake.region[fake.nregions].size = size;
    fake.nregions++;
}

/* Count down a failure; true if this call is the one that fails. */
static bool fail_now(unsigned *countdown)
{
    return *countdown > 0 && --*countdown == 0;
}

static void op_entry(void)
{
    cr_assert_not(fake.locked, "a cap op was called with the manager's lock held");
    if (fake.during_op != NULL)
        fake.during_op();
}

static errval_t fake_retype(void *arg, uint64_t region_cap, uint64_t offset, uint64_t size,
                            uint8_t kind, uint64_t *cap)
{
    cr_assert_eq(arg, &fake);
    op_entry();
    size_t r = 0;
    while (r < fake.nregions && fake.region[r].cap != region_cap)
        r++;
    cr_assert_lt(r, fake.nregions, "retype from unknown region cap %lu", region_cap);
    cr_assert(size > 0 && offset % MM_PAGE_SIZE == 0 && size % MM_PAGE_SIZE == 0);
    cr_assert(offset < fake.region[r].size && fake.region[r].size - offset >= size,
              "retype [%#lx, +%#lx) lies outside its region", offset, size);
    uint64_t base = fake.region[r].base + offset;
    for (size_t i = 0; i < fake.ncaps; i++) {
        const struct fake_cap *c = &fake.cap[i];
        cr_assert(!c->live || c->region_cap != region_cap || base + size <= c->base ||
                      c->base + c->size <= base,
                  "retype [%#lx, +%#lx) overlaps live cap [%#lx, +%#lx)", base, size, c->base,
                  c->size);
    }
    if (fail_now(&fake.fail_retype) || fake.fail_all_retypes)
        return FAKE_ERR;
    cr_assert_lt(fake.ncaps, FAKE_MAX_CAPS);
    fake.cap[fake.ncaps] = (struct fake_cap){ region_cap, base, size, true, kind };
    *cap = FAKE_CAP_BASE + fake.ncaps++;
    fake.nlive++;
    fake.retypes++;
    return SYS_ERR_OK;
}

const struct fake_cap *fake_cap_get(uint64_t handle)
{
    cr_assert(handle >= FAKE_CAP_BASE && handle - FAKE_CAP_BASE < fake.ncaps,
              "%#lx is not a capability handle", handle);
    return &fake.cap[handle - FAKE_CAP_BASE];
}

static errval_t fake_destroy(void *arg, uint64_t cap)
{
    cr_assert_eq(arg, &fake);
    op_entry();
    cr_assert(fake_cap_get(cap)->live, "destroy of a dead capability");
    if (fail_now(&fake.fail_destroy))
        return FAKE_ERR;
    fake.cap[cap - FAKE_CAP_BASE].live = false;
    fake.nlive--;
    fake.destroys++;
    return SYS_ERR_OK;
}

const struct mm_cap_ops fake_ops = { fake_retype, fake_destroy, NULL };

/* All or none, as one retype system call into consecutive slots: a failure
 * (fail_retype counts this call once) makes no capability. */
static errval_t fake_retype_many(void *arg, uint64_t region_cap, uint64_t offset, uint64_t size,
                                 uint8_t kind, size_t count, uint64_t *first)
{
    cr_assert(count > 0);
    if (fail_now(&fake.fail_retype) || fake.fail_all_retypes) {
        op_entry();
        return FAKE_ERR;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t cap;
        cr_assert(err_is_ok(fake_retype(arg, region_cap, offset + i * size, size, kind, &cap)));
        if (i == 0)
            *first = cap;
        cr_assert_eq(cap, *first + i, "consecutive handles, as retype_many promises");
    }
    fake.retype_many_calls++;
    return SYS_ERR_OK;
}

const struct mm_cap_ops fake_ops_batch = { fake_retype, fake_destroy, fake_retype_many };

static void check_one_cap(void *arg, const struct mm_segment_info *seg)
{
    size_t *nalloc = arg;
    if (seg->state == MM_SEG_FREE) {
        cr_assert_eq(seg->block.cap, MM_CAP_NONE);
        return;
    }
    cr_assert_eq(seg->state, MM_SEG_ALLOCATED, "no allocation is pending between calls");
    const struct fake_cap *c = fake_cap_get(seg->block.cap);
    cr_assert(c->live, "allocation [%#lx, +%#lx) has a dead cap", seg->block.base, seg->block.size);
    cr_assert(c->base == seg->block.base && c->size == seg->block.size,
              "allocation [%#lx, +%#lx) has cap [%#lx, +%#lx)", seg->block.base, seg->block.size,
              c->base, c->size);
    (*nalloc)++;
}

/* Distinct allocations have distinct handles, so equal counts mean each
 * live cap belongs to exactly one allocation. */
void fake_check_caps(struct mm *mm)
{
    size_t nalloc = 0;
    mm_walk(mm, check_one_cap, &nalloc);
    cr_assert_eq(nalloc, fake.nlive, "%zu allocations but %zu live caps", nalloc, fake.nlive);
}

/* ---- Records from malloc. ---- */

#define REFILL_BYTES (16 * 1024)
#define MAX_BUFFERS  4096

static void *buffers[MAX_BUFFERS];
static size_t nbuffers;

errval_t test_refill(struct slab_allocator *slab, void *arg)
{
    (void)arg;
    cr_assert_lt(nbuffers, MAX_BUFFERS);
    void *buf = malloc(REFILL_BYTES);
    cr_assert_not_null(buf);
    buffers[nbuffers++] = buf;
    return slab_grow(slab, buf, REFILL_BYTES);
}

void test_buffers_free(void)
{
    while (nbuffers > 0)
        free(buffers[--nbuffers]);
}

void mm_test_init(struct mm *mm, bool with_caps)
{
    mm_test_init_ops(mm, with_caps ? &fake_ops : NULL);
}

void mm_test_init_ops(struct mm *mm, const struct mm_cap_ops *ops)
{
    fake_reset();
    cr_assert(err_is_ok(mm_init(mm, ops, &fake, test_refill, NULL)));
    mm_set_lock(mm, &fake_lock);
}

void mm_test_add(struct mm *mm, uint64_t cap, uint64_t base, uint64_t size)
{
    fake_region(cap, base, size);
    errval_t err = mm_add(mm, cap, base, size);
    cr_assert(err_is_ok(err), "mm_add: %s", err_getcode(err_no(err)));
}

/* ---- Snapshots. ---- */

static void snap_one(void *arg, const struct mm_segment_info *seg)
{
    struct mm_snapshot *snap = arg;
    cr_assert_lt(snap->nseg, SNAPSHOT_MAX);
    snap->seg[snap->nseg++] = *seg;
}

void mm_snapshot(struct mm *mm, struct mm_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    mm_stats(mm, &snap->stats);
    mm_walk(mm, snap_one, snap);
}

static bool stats_equal(const struct mm_stats *a, const struct mm_stats *b)
{
    return a->total == b->total && a->free == b->free && a->allocated == b->allocated &&
           a->largest_free == b->largest_free && a->regions == b->regions &&
           a->allocations == b->allocations && a->free_blocks == b->free_blocks;
}

bool mm_snapshot_equal(const struct mm_snapshot *a, const struct mm_snapshot *b)
{
    if (!stats_equal(&a->stats, &b->stats) || a->nseg != b->nseg)
        return false;
    for (size_t i = 0; i < a->nseg; i++) {
        const struct mm_segment_info *x = &a->seg[i], *y = &b->seg[i];
        if (x->region_base != y->region_base || x->block.base != y->block.base ||
            x->block.size != y->block.size || x->block.cap != y->block.cap || x->state != y->state)
            return false;
    }
    return true;
}

struct mm_block mm_test_block_at(struct mm *mm, uint64_t addr)
{
    struct mm_block b;
    errval_t err = mm_cap_of(mm, addr, &b);
    cr_assert(err_is_ok(err), "no allocation at %#lx: %s", addr, err_getcode(err_no(err)));
    return b;
}
