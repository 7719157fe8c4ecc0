/*
 * retype.c — making objects out of RAM (and RAM or device frames out of
 * physical address ranges).
 *
 * All checks come first: the source's type and rights, the target type and
 * object size, alignment, that the objects fit inside the source, that they
 * overlap no existing descendant of the source (in O(log n), mdb.h), and that
 * every destination slot is empty. Only then is memory cleared and are the
 * capabilities created, as descendants of the source. Several disjoint
 * retypes from one source are allowed.
 */
#include "ops.h"

#include "cspace.h"
#include "memlayout.h"
#include "mmu.h"
#include "string.h"

#define RETYPE_MAX_COUNT L2_CNODE_SLOTS

static bool type_allowed(enum objtype from, enum objtype to)
{
    if (from == OBJ_PHYSADDR)
        return to == OBJ_RAM || to == OBJ_DEVFRAME || to == OBJ_PHYSADDR;
    if (from == OBJ_RAM)
        return to == OBJ_RAM || to == OBJ_FRAME || to == OBJ_L1CNODE || to == OBJ_L2CNODE ||
               to == OBJ_DISPATCHER || (to >= OBJ_VNODE_L0 && to <= OBJ_VNODE_L3);
    return false;
}

/* The size of each object: fixed for most types; 0 asks for the fixed size. */
static errval_t object_size(enum objtype type, uint64_t requested, uint64_t *size)
{
    uint64_t fixed = 0;
    switch (type) {
    case OBJ_L2CNODE: fixed = OBJSIZE_L2CNODE; break;
    case OBJ_VNODE_L0: case OBJ_VNODE_L1: case OBJ_VNODE_L2: case OBJ_VNODE_L3:
        fixed = OBJSIZE_VNODE; break;
    case OBJ_DISPATCHER: fixed = OBJSIZE_DISPATCHER; break;
    case OBJ_L1CNODE:
        if (requested < L1_CNODE_MIN_SLOTS * OBJSIZE_CTE || requested % OBJSIZE_CTE != 0)
            return CAP_ERR_RETYPE_SIZE;
        *size = requested;
        return SYS_ERR_OK;
    default:    /* RAM, Frame, DevFrame, PhysAddr: whole pages */
        if (requested == 0 || requested % OBJSIZE_PAGE != 0)
            return CAP_ERR_RETYPE_SIZE;
        *size = requested;
        return SYS_ERR_OK;
    }
    if (requested != 0 && requested != fixed)
        return CAP_ERR_RETYPE_SIZE;
    *size = fixed;
    return SYS_ERR_OK;
}

static errval_t check_source(const struct cte *src, const struct retype_args *a)
{
    if (cte_is_empty(src))
        return CAP_ERR_SLOT_EMPTY;
    if (!type_allowed(src->cap.type, a->type))
        return CAP_ERR_RETYPE_TYPE;
    if (!(src->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    return SYS_ERR_OK;
}

/* Size, count, alignment and range; *total is the bytes covered. */
static errval_t check_range(const struct cte *src, const struct retype_args *a,
                            uint64_t objsize, uint64_t *total)
{
    if (a->count == 0 || a->count > RETYPE_MAX_COUNT)
        return CAP_ERR_RETYPE_COUNT;
    if (a->offset % OBJSIZE_PAGE != 0)
        return CAP_ERR_RETYPE_ALIGN;
    if (objsize > src->cap.size)
        return CAP_ERR_RETYPE_RANGE;
    *total = objsize * a->count;        /* no overflow: < 2^48 times <= 256 */
    if (a->offset >= src->cap.size || *total > src->cap.size - a->offset)
        return CAP_ERR_RETYPE_RANGE;
    if (a->type == src->cap.type && objsize == src->cap.size &&
        (a->type != OBJ_RAM || cap_generation(&src->cap) == CAP_GEN_MAX))
        return CAP_ERR_RETYPE_SIZE;     /* would be indistinguishable from a copy */
    struct mdb_node *o = mdb_find_overlapping_descendant(&cap_mdb, &src->mdb,
                                                         src->cap.base + a->offset, *total);
    return o == NULL ? SYS_ERR_OK : CAP_ERR_RETYPE_OVERLAP;
}

static errval_t check_dest(const struct capability *dest_cnode, const struct retype_args *a,
                           struct cte **first)
{
    if (!(dest_cnode->rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    errval_t err = cnode_slot(dest_cnode, a->dest_first, first);
    if (err_is_fail(err))
        return err;
    if (a->count > cnode_slots(dest_cnode) - a->dest_first)
        return CAP_ERR_SLOT_OUT_OF_RANGE;
    for (uint64_t i = 0; i < a->count; i++)
        if (!cte_is_empty(&(*first)[i]))
            return CAP_ERR_SLOT_OCCUPIED;
    return SYS_ERR_OK;
}

static bool needs_clearing(enum objtype type)
{
    return type != OBJ_RAM && type != OBJ_PHYSADDR && type != OBJ_DEVFRAME;
}

errval_t cap_retype(struct cte *src, const struct capability *dest_cnode, const struct retype_args *a)
{
    uint64_t objsize, total;
    struct cte *dest;
    errval_t err = check_source(src, a);
    if (err_is_ok(err)) err = object_size(a->type, a->objsize, &objsize);
    if (err_is_ok(err)) err = check_range(src, a, objsize, &total);
    if (err_is_ok(err)) err = check_dest(dest_cnode, a, &dest);
    if (err_is_fail(err))
        return err;

    uint64_t base = src->cap.base + a->offset;
    if (needs_clearing(a->type))
        memset(phys_to_virt(base), 0, total);
    for (uint64_t i = 0; i < a->count; i++) {
        struct capability cap = {
            .type = (uint8_t)a->type, .rights = CAPRIGHTS_ALL,
            .base = base + i * objsize, .size = objsize,
        };
        if (a->type == OBJ_L1CNODE)
            cap.extra = (uint32_t)(objsize / OBJSIZE_CTE);
        if (a->type == src->cap.type && objsize == src->cap.size)
            cap.flags = (uint16_t)((cap_generation(&src->cap) + 1) << CAP_GEN_SHIFT);
        cte_set(&dest[i], &cap);
    }
    /* The new capabilities are neighbours in the mdb, so they go in as one
     * run: their bases ascend, and nothing already there sorts among them.
     * check_range found no descendant of src overlapping them; ranges being
     * laminar, anything else that starts inside their range is src, a copy
     * of it or a capability containing src's range, which start at src's
     * base and are at least src's size: larger than objsize when count > 1
     * (the objects fit in src), so they sort before the first new one. */
    cap_insert_run(dest, a->count);
    return SYS_ERR_OK;
}
