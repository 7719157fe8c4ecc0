/*
 * record_pool.c — slab refills from a static buffer (record_pool.h).
 */
#include "record_pool.h"

errval_t record_pool_refill(struct slab_allocator *slab, void *arg)
{
    struct record_pool *p = arg;
    if (p->size - p->used < RECORD_POOL_CHUNK)
        return p->empty;
    errval_t err = slab_grow(slab, p->mem + p->used, RECORD_POOL_CHUNK);
    p->used += RECORD_POOL_CHUNK;
    return err;
}
