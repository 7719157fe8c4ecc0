/*
 * vregion_fake.h — what the virtual-region host tests (test_vregion.c,
 * test_vregion_property.c) share: a record refill from a static pool, a
 * lock hook that checks it is never taken twice nor held across the refill,
 * and snapshots that show a refused operation changed nothing.
 *
 * static inline, so that each test file gets its own copy and the test
 * binary's source list (rules.mk) needs no extra file.
 */
#pragma once

#include <criterion/criterion.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os/vregion.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)
#define TiB (1024 * GiB)
#define PAGE VREGION_PAGE_SIZE

/* Enough regions for every test; a snapshot holds this many. */
#define SNAP_MAX 2048

/* Pages the refill may hand out: 16 MiB, about 200,000 records. */
#define POOL_PAGES 4096

struct vregion_fake {
    _Alignas(16) unsigned char pool[POOL_PAGES][4096];
    size_t pool_used;           /* pages handed to the slab */
    bool refill_fails;          /* the refill adds nothing */
    unsigned refills;
    bool locked;
    unsigned acquires;
};

static struct vregion_fake vfake;

static inline void vfake_acquire(void *arg)
{
    (void)arg;
    cr_assert_not(vfake.locked, "the space never takes its lock twice");
    vfake.locked = true;
    vfake.acquires++;
}

static inline void vfake_release(void *arg)
{
    (void)arg;
    cr_assert(vfake.locked, "released a lock that is not held");
    vfake.locked = false;
}

static inline errval_t vfake_refill(struct slab_allocator *slab, void *arg)
{
    (void)arg;
    cr_assert_not(vfake.locked, "the slab refill runs without the space's lock");
    vfake.refills++;
    if (vfake.refill_fails || vfake.pool_used == POOL_PAGES)
        return LIB_ERR_SLAB_EMPTY;
    return slab_grow(slab, vfake.pool[vfake.pool_used++], 4096);
}

/* Start vs over [lo, hi), locked by the vfake hook, with or without a refill. */
static inline void vfake_space_init(struct vregion_space *vs, uint64_t lo, uint64_t hi,
                                   bool with_refill)
{
    vfake.pool_used = 0;
    vfake.refill_fails = false;
    vfake.refills = 0;
    vfake.locked = false;
    vfake.acquires = 0;
    errval_t err = vregion_init(vs, lo, hi, with_refill ? vfake_refill : NULL, NULL);
    cr_assert(err_is_ok(err), "vregion_init: %s", err_getcode(err_no(err)));
    static const struct alloc_lock lock = { vfake_acquire, vfake_release, NULL };
    vregion_set_lock(vs, &lock);
}

/* Every region and the stats, at one moment. */
struct snapshot {
    size_t n;
    struct vregion_info r[SNAP_MAX];
    struct vregion_stats st;
};

static inline void snap_add(void *arg, const struct vregion_info *info)
{
    struct snapshot *s = arg;
    cr_assert_lt(s->n, SNAP_MAX, "more regions than a snapshot holds");
    s->r[s->n++] = *info;
}

static inline void snap_take(struct vregion_space *vs, struct snapshot *s)
{
    s->n = 0;
    vregion_walk(vs, 0, VREGION_VA_LIMIT, snap_add, s);
    vregion_stats(vs, &s->st);
}

static inline bool info_eq(const struct vregion_info *a, const struct vregion_info *b)
{
    return a->base == b->base && a->size == b->size && a->state == b->state &&
           a->attrs == b->attrs && a->cookie == b->cookie;
}

static inline bool stats_eq(const struct vregion_stats *a, const struct vregion_stats *b)
{
    return a->total == b->total && a->free == b->free && a->reserved == b->reserved &&
           a->mapped == b->mapped && a->largest_free == b->largest_free &&
           a->regions == b->regions;
}

/* The invariants hold and nothing differs from `before`. */
static inline void assert_unchanged(struct vregion_space *vs, const struct snapshot *before)
{
    static struct snapshot now;
    cr_assert(vregion_check(vs), "vregion_check failed");
    snap_take(vs, &now);
    cr_assert(stats_eq(&now.st, &before->st), "the stats changed");
    cr_assert_eq(now.n, before->n, "the number of regions changed");
    for (size_t i = 0; i < now.n; i++)
        cr_assert(info_eq(&now.r[i], &before->r[i]), "region %zu changed", i);
}

/* err is exactly `code` (as the newest layer) and nothing changed. */
static inline void assert_refused(struct vregion_space *vs, errval_t err, enum err_code code,
                                  const struct snapshot *before)
{
    cr_assert_eq(err_no(err), code, "expected %s, got %s", err_getcode(code),
                 err_getcode(err_no(err)));
    assert_unchanged(vs, before);
    cr_assert_not(vfake.locked, "the lock is released after a refusal");
}
