/*
 * resize.c — growing a process's root CNode: every capability in the old
 * root moves to the same index of a larger, empty L1 CNode (made by retype),
 * which becomes the dispatcher's root. Addresses keep their meaning; the old
 * root object stays until its last capability is deleted.
 */
#include "ops.h"

#include "cspace.h"
#include "map.h"
#include "mmu.h"
#include "string.h"

static errval_t check_resize(const struct cte *root, const struct cte *old, const struct cte *new)
{
    if (old->cap.type != OBJ_L1CNODE || !cap_same_object(&old->cap, &root->cap))
        return CAP_ERR_RESIZE_NOT_ROOT;
    if (cte_is_empty(new))
        return CAP_ERR_SLOT_EMPTY;
    if (new->cap.type != OBJ_L1CNODE || cap_same_object(&new->cap, &old->cap) ||
        cnode_slots(&new->cap) <= cnode_slots(&old->cap))
        return CAP_ERR_RESIZE_TARGET;
    if (!(old->cap.rights & CAPRIGHTS_WRITE) || !(new->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    const struct cte *slots = phys_to_virt(new->cap.base);
    for (uint64_t i = 0; i < cnode_slots(&new->cap); i++)
        if (!cte_is_empty(&slots[i]))
            return CAP_ERR_RESIZE_TARGET;
    return SYS_ERR_OK;
}

/* A frame CTE takes its list of mappings along (cap.param), and a
 * FrameMapping its place in its frame's list; maplist_moved repoints their
 * neighbours. */
static void move(struct cte *to, struct cte *from)
{
    if (!cap_in_mdb(&from->cap)) {
        *to = *from;
    } else {
        struct capability cap = from->cap;
        mdb_remove(&cap_mdb, &from->mdb);
        cap_insert(to, &cap);
    }
    memset(from, 0, sizeof *from);
    maplist_moved(to);
}

errval_t cap_resize_root(struct cte *root, struct cte *old, struct cte *new)
{
    errval_t err = check_resize(root, old, new);
    if (err_is_fail(err))
        return err;
    /* `old` and `new` may themselves sit in root slots and move with the
     * rest, so take everything needed from them first. */
    struct capability cap = new->cap;
    uint64_t n = cnode_slots(&old->cap);
    struct cte *from = phys_to_virt(old->cap.base), *to = phys_to_virt(cap.base);
    for (uint64_t i = 0; i < n; i++)
        if (!cte_is_empty(&from[i]))
            move(&to[i], &from[i]);
    mdb_remove(&cap_mdb, &root->mdb);
    memset(root, 0, sizeof *root);
    cap_insert(root, &cap);
    return SYS_ERR_OK;
}
