/*
 * slab.h — a slab allocator: fixed-size objects carved from memory that the
 * owner hands in, O(1) alloc and free through an intrusive free list.
 *
 * The slab never asks for memory by itself: slab_grow() adds a buffer, and
 * an optional refill callback is called by slab_alloc() while a few objects
 * are still left (the watermark), so that a refill which needs objects of
 * this very slab (to map the page it is about to add, say) is served from
 * what is left instead of recursing or deadlocking. In the OS the callback
 * maps fresh pages; on the host, tests pass plain buffers.
 *
 * Pure code (no libc, no system calls), built for the kernel, user space
 * and the host tests. The slot allocator (slot_alloc.h) keeps its CNode
 * records in one of these. Implementation: slab.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

/*
 * Every object is aligned to SLAB_ALIGN bytes and its size is rounded up to
 * a multiple of it: 16 is the largest alignment a C type needs on AArch64
 * (alignof(max_align_t)), so an object can hold any type, and a free
 * object always has room for the free-list link.
 */
#define SLAB_ALIGN 16

/*
 * By default, refill when taking an object would leave fewer than 8 free:
 * a refill that maps a page may need a few objects of the slab it refills
 * (a region record, a page-table record per level), and 8 covers that
 * with room for other threads allocating meanwhile. An owner that knows
 * its refill better sets its own watermark.
 */
#define SLAB_DEFAULT_WATERMARK 8

/*
 * A lock hook, shared with the slot allocator: acquire(arg) and
 * release(arg) around every access to the guarded fields. acquire == NULL
 * means no locking (one thread, or the owner serialises calls). The
 * allocators never hold their lock while they call out, so a plain,
 * non-recursive mutex is enough.
 */
struct alloc_lock {
    void (*acquire)(void *arg);
    void (*release)(void *arg);
    void *arg;
};

static inline void alloc_lock_acquire(const struct alloc_lock *l)
{
    if (l->acquire != NULL)
        l->acquire(l->arg);
}

static inline void alloc_lock_release(const struct alloc_lock *l)
{
    if (l->release != NULL)
        l->release(l->arg);
}

struct slab_allocator;

/*
 * Add memory to `slab`, normally with slab_grow(). Called without the
 * slab's lock held; it may call slab_alloc() and slab_free() on the same
 * slab (a nested slab_alloc is served from the objects left and never calls
 * the refill again). Return an error if no memory could be added.
 */
typedef errval_t (*slab_refill_fn)(struct slab_allocator *slab, void *arg);

struct slab_free_obj {
    struct slab_free_obj *next;
};

struct slab_allocator {
    /* Set by slab_init() and the setters below, before the slab is shared;
     * read-only afterwards, so they are read without the lock. */
    size_t objsize;             /* the owner's size rounded up to SLAB_ALIGN */
    size_t watermark;
    slab_refill_fn refill;      /* NULL: the slab only grows by slab_grow() */
    void *refill_arg;
    struct alloc_lock lock;

    /* Guarded by lock. */
    struct slab_free_obj *free; /* free objects, most recently freed first */
    uint8_t *fresh;             /* the part of the newest buffer never handed out */
    size_t nfresh;              /* objects in it */
    size_t nfree;               /* the free list's length plus nfresh */
    size_t ntotal;              /* objects in every buffer added so far */
    bool refilling;             /* a refill callback is running */
    errval_t refill_err;        /* what the last refill returned */
};

/*
 * Start an empty slab of objects of `objsize` bytes (rounded up to
 * SLAB_ALIGN) with the default watermark and no lock. `refill` may be NULL.
 * Errors: LIB_ERR_SLAB_BAD_SIZE if objsize is 0 or too large to round up.
 */
errval_t slab_init(struct slab_allocator *slab, size_t objsize,
                   slab_refill_fn refill, void *refill_arg);

/* Keep at least `watermark` objects free where a refill can manage it;
 * 0 means refill only when the slab is empty. Set before sharing. */
void slab_set_watermark(struct slab_allocator *slab, size_t watermark);

/* Change the refill callback (NULL: none); set before sharing. */
void slab_set_refill(struct slab_allocator *slab, slab_refill_fn refill, void *refill_arg);

/* Guard the slab with `lock` (copied); set before sharing. */
void slab_set_lock(struct slab_allocator *slab, const struct alloc_lock *lock);

/*
 * Add the `bytes` bytes at `buf` (any alignment) as new free objects; the
 * slab keeps the memory for good. The objects are handed out from the
 * buffer in address order as they are needed, so growing does not touch
 * the buffer (in normal builds; see SLAB_DEBUG in slab.c). Errors:
 * LIB_ERR_SLAB_BAD_BUFFER if buf is NULL or the aligned part cannot hold
 * one object (nothing is added).
 */
errval_t slab_grow(struct slab_allocator *slab, void *buf, size_t bytes);

/*
 * An object, or NULL if the slab is empty (and the refill, if any, could not
 * add memory). If taking an object would leave fewer than the watermark
 * free, the refill callback is called first, once, unless a refill is
 * already running. The refill's result is kept in refill_err; if it failed,
 * the object is still served from what is left.
 */
void *slab_alloc(struct slab_allocator *slab);

/*
 * Up to `n` objects into objs[0..n), taken under one lock round trip: what
 * n calls of slab_alloc() would give, at the cost of one. The refill runs
 * first (as by slab_alloc) if taking n would leave fewer than the
 * watermark. Returns how many were taken: fewer than n only if the slab
 * ran dry.
 */
size_t slab_alloc_many(struct slab_allocator *slab, void **objs, size_t n);

/* Give an object back. `obj` must come from slab_alloc() on this slab;
 * NULL is ignored, as by free(). */
void slab_free(struct slab_allocator *slab, void *obj);

/* Number of free objects. */
size_t slab_freecount(const struct slab_allocator *slab);
