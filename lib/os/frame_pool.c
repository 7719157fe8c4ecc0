/*
 * frame_pool.c — zeroed frames made in batches (frame_pool.h).
 */
#include "frame_pool.h"

#include "ram.h"

/* Make a batch, handed out lowest address first. When no free block
 * holds a whole batch (memory nearly used up, or cut up), one frame. */
errval_t frame_pool_refill(struct frame_pool *p)
{
    size_t n = FRAME_POOL_BATCH;
    errval_t err = ram_new_objects(OBJ_FRAME, 4096, n, &p->first, &p->base);
    if (err_is_fail(err)) {
        n = 1;
        err = ram_new_object(OBJ_FRAME, 4096, 4096, &p->first, &p->base);
    }
    if (err_is_fail(err))
        return err;
    p->next = 0;
    p->count = n;
    return SYS_ERR_OK;
}

void frame_pool_untake(struct frame_pool *p)
{
    p->next--;
}

uint64_t frame_pool_idle_bytes(const struct frame_pool *p)
{
    return (p->count - p->next) * 4096ull;
}
