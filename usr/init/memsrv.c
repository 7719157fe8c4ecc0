/*
 * memsrv.c — the memory service (svc.h: SVC_MEM_*): RAM capabilities from
 * init's memory manager, up to a limit per process.
 *
 * Init keeps its own copy of every RAM capability it hands out, with the
 * range, in the client's record; when the process ends, ram_free of each
 * range takes back the memory and (by revoke) every capability the process
 * made from it.
 */
#include "services.h"

#include <stdlib.h>

#include "ram.h"
#include "svc.h"

struct memsrv_alloc {
    struct memsrv_alloc *next;
    uint64_t base, size;
};

struct memsrv_client {
    uint64_t held, limit;
    struct memsrv_alloc *allocs;
};

static struct memsrv_client *record(struct svc_client *cl)
{
    if (cl->mem == NULL) {
        cl->mem = calloc(1, sizeof *cl->mem);
        if (cl->mem != NULL)
            cl->mem->limit = SVC_MEM_LIMIT_DEFAULT;
    }
    return cl->mem;
}

static void alloc_for(struct memsrv_client *mc, const struct rpc_msg *m, rpc_reply_handle *h)
{
    uint64_t size;
    if (m->len != sizeof size) {
        rpc_reply_error(h, SVC_ERR_BAD_REQUEST);
        return;
    }
    __builtin_memcpy(&size, m->data, sizeof size);
    if (size == 0 || size % OBJSIZE_PAGE != 0) {
        rpc_reply_error(h, SVC_ERR_BAD_REQUEST);
        return;
    }
    if (size > mc->limit - mc->held) {
        rpc_reply_error(h, SVC_ERR_MEM_LIMIT);
        return;
    }
    struct memsrv_alloc *a = malloc(sizeof *a);
    struct capref ram;
    errval_t err = a == NULL ? LIB_ERR_SLAB_EMPTY : ram_alloc(size, OBJSIZE_PAGE, &ram, &a->base);
    if (err_is_fail(err)) {
        free(a);
        rpc_reply_error(h, err);
        return;
    }
    a->size = size;
    a->next = mc->allocs;
    mc->allocs = a;
    mc->held += size;
    rpc_reply(h, SYS_ERR_OK, NULL, 0, &ram);
}

bool memsrv_serve(struct svc_client *cl, const struct rpc_msg *m, rpc_reply_handle *h)
{
    if (m->type != SVC_MEM_ALLOC && m->type != SVC_MEM_USAGE)
        return false;
    struct memsrv_client *mc = record(cl);
    if (mc == NULL) {
        rpc_reply_error(h, LIB_ERR_SLAB_EMPTY);
    } else if (m->type == SVC_MEM_ALLOC) {
        alloc_for(mc, m, h);
    } else {
        uint64_t v[2] = { mc->held, mc->limit };
        rpc_reply(h, SYS_ERR_OK, v, sizeof v, NULL);
    }
    return true;
}

void memsrv_release(struct svc_client *cl)
{
    struct memsrv_client *mc = cl->mem;
    if (mc == NULL)
        return;
    while (mc->allocs != NULL) {
        struct memsrv_alloc *a = mc->allocs;
        mc->allocs = a->next;
        ram_free(a->base, a->size);
        free(a);
    }
    free(mc);
    cl->mem = NULL;
}
