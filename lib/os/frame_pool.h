/*
 * frame_pool.h — zeroed 4 KiB frames for the page-fault handler, made
 * FRAME_POOL_BATCH at a time.
 *
 * A fault needs one fresh frame. Made one by one, each costs a memory
 * manager allocation and a retype system call; made in a batch
 * (ram_new_objects: one allocation, one retype into consecutive slots),
 * those costs are shared by FRAME_POOL_BATCH faults. Each frame is still an
 * allocation of its own, so it goes back to the memory manager on its own
 * (ram_free) when its page is freed; the pool never takes frames back
 * (they are no longer zero). At most FRAME_POOL_BATCH - 1 frames wait in
 * it: memory counted as allocated that no page uses yet
 * (frame_pool_idle_bytes says how much).
 *
 * Not thread-safe: the owner (paging.c) holds its lock around every call.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cap.h"

#define FRAME_POOL_BATCH 16

/* A batch is consecutive slots and consecutive memory, so the pool keeps
 * where it starts and how far it has been handed out. */
struct frame_pool {
    size_t next, count;         /* frames next .. count - 1 of the batch wait */
    struct capref first;        /* frame i is in slot first.slot + i */
    uint64_t base;              /* at base + i * 4096 */
};

/* Make a new batch; the pool must be empty. Errors: ram_new_objects'. */
errval_t frame_pool_refill(struct frame_pool *p);

/* A zeroed 4 KiB frame, an allocation of its own, and its physical base;
 * refills the pool first if it is empty. Errors: ram_new_objects'.
 * Inline: the fault handler takes one on every fault. */
static inline errval_t frame_pool_take(struct frame_pool *p, struct capref *frame, uint64_t *base)
{
    if (p->next == p->count) {
        errval_t err = frame_pool_refill(p);
        if (err_is_fail(err))
            return err;
    }
    *frame = capref_l2(p->first.l1, p->first.slot + (uint32_t)p->next);
    *base = p->base + p->next * 4096;
    p->next++;
    return SYS_ERR_OK;
}

/* Give back the frame frame_pool_take just gave, unused (so still zero):
 * the next take hands it out again. */
void frame_pool_untake(struct frame_pool *p);

/* Bytes of the frames waiting in the pool. */
uint64_t frame_pool_idle_bytes(const struct frame_pool *p);
