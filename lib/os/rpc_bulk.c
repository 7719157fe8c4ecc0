/*
 * rpc_bulk.c — payloads larger than RPC_INLINE_MAX travel in a frame
 * (docs/rpc.md): the sender allocates one, copies the payload in and sends
 * its capability; the receiver maps its copy, lets the handler (or the
 * waiting caller) read it, unmaps and deletes it, and sends RELEASE naming
 * the message (its kind as the type, its id); then the sender frees the
 * frame. (Kind and id together are unique among a sender's messages:
 * calls and notifications draw ids from one counter, replies carry the
 * peer's.) Frames the peer never
 * releases are freed when the channel closes.
 */
#include "rpc_internal.h"

#include <stdlib.h>
#include <string.h>

#include "paging.h"
#include "ram.h"
#include "slots.h"
#include "thread_internal.h"
#include "vregion.h"

static uint64_t page_round(size_t len) { return (len + OBJSIZE_PAGE - 1) & ~(uint64_t)(OBJSIZE_PAGE - 1); }

/* Fill a new frame with the payload (mapped only while copying). */
static errval_t fill(struct capref frame, const void *data, size_t len)
{
    uint64_t size = page_round(len), va;
    errval_t err = paging_map_frame(frame, size, VREGION_ATTR_RW, &va);
    if (err_is_fail(err))
        return err;
    memcpy((void *)va, data, len);
    err = paging_unmap(va, size);
    if (err_is_ok(err))
        err = paging_free(va, size);
    return err;
}

errval_t rpc_bulk_make(struct rpc_chan *c, enum rpc_kind kind, uint32_t id, const void *data,
                       size_t len, struct capref *cap)
{
    struct rpc_bulk_out *b = malloc(sizeof *b);
    if (b == NULL)
        return RPC_ERR_BULK;
    b->kind = kind;
    b->id = id;
    b->size = page_round(len);
    errval_t err = ram_new_object(OBJ_FRAME, b->size, OBJSIZE_PAGE, &b->cap, &b->base);
    if (err_is_ok(err)) {
        err = fill(b->cap, data, len);
        if (err_is_fail(err))
            ram_free(b->base, b->size);
    }
    if (err_is_fail(err)) {
        free(b);
        return err_push(err, RPC_ERR_BULK);
    }
    thread_mutex_lock_inline(&c->send_lock);
    b->next = c->bulk_out;
    c->bulk_out = b;
    c->stats.bulk_out++;
    thread_mutex_unlock_inline(&c->send_lock);
    *cap = b->cap;
    return SYS_ERR_OK;
}

errval_t rpc_bulk_view(struct capref cap, size_t len, const void **view)
{
    struct capinfo info;
    errval_t err = cap_identify(cap, &info);
    if (err_is_fail(err))
        return err_push(err, RPC_ERR_BULK);
    if (info.type != OBJ_FRAME || info.size < len)
        return RPC_ERR_BULK;
    uint64_t va;
    err = paging_map_frame(cap, page_round(len), VREGION_ATTR_READ, &va);
    if (err_is_fail(err))
        return err_push(err, RPC_ERR_BULK);
    *view = (const void *)va;
    return SYS_ERR_OK;
}

void rpc_bulk_unview(struct capref cap, const void *view, size_t len)
{
    if (view != NULL) {
        paging_unmap((uint64_t)view, page_round(len));
        paging_free((uint64_t)view, page_round(len));
    }
    cap_delete(cap);
    os_slot_free(cap);
}

static void bulk_free(struct rpc_bulk_out *b)
{
    ram_free(b->base, b->size);     /* revokes the peer's copy too */
    free(b);
}

void rpc_bulk_released(struct rpc_chan *c, enum rpc_kind kind, uint32_t id)
{
    thread_mutex_lock_inline(&c->send_lock);
    struct rpc_bulk_out **pp = &c->bulk_out, *b = NULL;
    while (*pp != NULL && ((*pp)->id != id || (*pp)->kind != kind))
        pp = &(*pp)->next;
    if (*pp != NULL) {
        b = *pp;
        *pp = b->next;
        c->stats.bulk_out--;
    }
    thread_mutex_unlock_inline(&c->send_lock);
    if (b != NULL)
        bulk_free(b);
}

void rpc_bulk_free_all(struct rpc_chan *c)
{
    thread_mutex_lock_inline(&c->send_lock);
    struct rpc_bulk_out *list = c->bulk_out;
    c->bulk_out = NULL;
    c->stats.bulk_out = 0;
    thread_mutex_unlock_inline(&c->send_lock);
    while (list != NULL) {
        struct rpc_bulk_out *next = list->next;
        bulk_free(list);
        list = next;
    }
}
