/*
 * record_pool.h — memory for the slab refills of the runtime's bookkeeping
 * (slot allocator, memory manager, paging records), a page at a time.
 *
 * Each pool starts with a small static buffer, enough for a small program
 * and for starting the allocators (which cannot ask anyone for memory while
 * they are being built). Once that is used up, chunks come from the source
 * that ram.c sets when the memory manager and slot allocator are up:
 * paging's reserve of memory that is always backed (paging.c), since the
 * fault handler itself needs records. Without a source, running dry is the
 * pool's named error.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>
#include "base/slab.h"

struct record_pool {
    uint8_t *mem;
    size_t size, used;      /* the static buffer; guarded as the slabs it feeds */
    enum err_code empty;    /* returned when neither buffer nor source has more */
};

#define RECORD_POOL_CHUNK 4096

/* Define a static pool `name` of `bytes` bytes. */
#define RECORD_POOL(name, bytes, empty_err)                                 \
    static uint8_t name##_mem[bytes] __attribute__((aligned(16)));           \
    static struct record_pool name = { name##_mem, bytes, 0, empty_err }

/* A source: one backed, writable RECORD_POOL_CHUNK-byte chunk, or NULL. */
typedef void *(*record_pool_source_fn)(void);

/* Where every pool takes chunks once its static buffer is used up. */
void record_pool_set_source(record_pool_source_fn fn);

/* A slab_refill_fn: `arg` is the struct record_pool. */
errval_t record_pool_refill(struct slab_allocator *slab, void *arg);
