/*
 * record_pool.h — a static buffer that feeds a slab allocator's refills a
 * page at a time. The runtime's bookkeeping (slot allocator, memory manager,
 * paging records) uses these until the heap exists; each pool is sized for
 * its user and running dry is that user's named error.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>
#include "base/slab.h"

struct record_pool {
    uint8_t *mem;
    size_t size, used;
    enum err_code empty;    /* returned when the pool is used up */
};

#define RECORD_POOL_CHUNK 4096

/* Define a static pool `name` of `bytes` bytes. */
#define RECORD_POOL(name, bytes, empty_err)                                 \
    static uint8_t name##_mem[bytes] __attribute__((aligned(16)));           \
    static struct record_pool name = { name##_mem, bytes, 0, empty_err }

/* A slab_refill_fn: `arg` is the struct record_pool. */
errval_t record_pool_refill(struct slab_allocator *slab, void *arg);
