/*
 * record_pool.c — slab refills from a static buffer, then from the source
 * (record_pool.h).
 */
#include "record_pool.h"

static record_pool_source_fn source;   /* set once, by ram.c */

void record_pool_set_source(record_pool_source_fn fn)
{
    __atomic_store_n(&source, fn, __ATOMIC_RELEASE);
}

errval_t record_pool_refill(struct slab_allocator *slab, void *arg)
{
    struct record_pool *p = arg;
    void *chunk = NULL;
    record_pool_source_fn more = __atomic_load_n(&source, __ATOMIC_ACQUIRE);
    if (p->size - p->used >= RECORD_POOL_CHUNK) {
        chunk = p->mem + p->used;
        p->used += RECORD_POOL_CHUNK;
    } else if (more != NULL) {
        chunk = more();
    }
    return chunk != NULL ? slab_grow(slab, chunk, RECORD_POOL_CHUNK) : p->empty;
}
