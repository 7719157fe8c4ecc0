/*
 * frame_pool.c — zeroed frames made in batches (frame_pool.h).
 */
#include "frame_pool.h"

#include "ram.h"

/* Make a batch, handed out lowest address first. When no free block
 * holds a whole batch (memory nearly used up, or cut up), one frame. */
static errval_t refill(struct frame_pool *p)
{
    struct capref frame[FRAME_POOL_BATCH];
    uint64_t base[FRAME_POOL_BATCH];
    size_t n = FRAME_POOL_BATCH;
    errval_t err = ram_new_objects(OBJ_FRAME, 4096, n, frame, base);
    if (err_is_fail(err)) {
        n = 1;
        err = ram_new_object(OBJ_FRAME, 4096, 4096, &frame[0], &base[0]);
    }
    if (err_is_fail(err))
        return err;
    for (size_t i = 0; i < n; i++) {
        p->frame[n - 1 - i] = frame[i];
        p->base[n - 1 - i] = base[i];
    }
    p->count = n;
    return SYS_ERR_OK;
}

errval_t frame_pool_take(struct frame_pool *p, struct capref *frame, uint64_t *base)
{
    if (p->count == 0) {
        errval_t err = refill(p);
        if (err_is_fail(err))
            return err;
    }
    p->count--;
    *frame = p->frame[p->count];
    *base = p->base[p->count];
    return SYS_ERR_OK;
}

void frame_pool_untake(struct frame_pool *p)
{
    p->count++;
}

uint64_t frame_pool_idle_bytes(const struct frame_pool *p)
{
    return p->count * 4096ull;
}
