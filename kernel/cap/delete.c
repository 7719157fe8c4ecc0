/*
 * delete.c — deleting and revoking capabilities.
 *
 * Deleting the last copy of a CNode must delete everything in it, and those
 * may be last copies of CNodes too, nested as deep as user space likes. To
 * do this without recursion and without memory of its own, the kernel turns
 * such a CNode's CTE into a *zombie*: it keeps the capability (so the
 * CNode's memory stays in use in the derivation database), marks it with
 * CAP_FLAG_ZOMBIE and pushes it on a stack threaded through the zombies' own
 * `param` fields, with `extra` as the cursor of slots already emptied. The
 * stack is drained before the invocation returns (drain_zombies). The work is proportional to the number
 * of capabilities deleted (docs/capabilities.md, known gaps: no budget yet).
 *
 * FrameMappings are not in the derivation database but in a list on a
 * frame CTE (map.c): deleting the frame's last copy deletes them, deleting
 * another copy hands them to one that stays, and revoking the frame (or
 * anything it derives from) therefore reaches them too.
 */
#include "ops.h"

#include "cspace.h"
#include "map.h"
#include "dcb.h"
#include "sched.h"
#include "mmu.h"
#include "panic.h"
#include "string.h"


static struct cte *zombies;  /* top of the stack; core-local */

static bool is_cnode(const struct capability *cap)
{
    return cap->type == OBJ_L1CNODE || cap->type == OBJ_L2CNODE;
}

static void clear(struct cte *c)
{
    mdb_remove(&cap_mdb, &c->mdb);
    memset(c, 0, sizeof *c);
}

static void delete_one(struct cte *c);
static struct cte *other_copy(struct cte *c);

static void delete_mapping(struct cte *m)
{
    struct capability gone = m->cap;
    maplist_unlink(m);
    memset(m, 0, sizeof *m);
    mapping_remove(&gone);
}

/* The frame CTE c goes: its mappings go with it if it is the last copy,
 * or else move to a copy that stays. */
static void drop_maplist(struct cte *c, bool last)
{
    if (maplist_first(c) == NULL)
        return;
    if (!last) {
        maplist_hand_over(c, other_copy(c));
        return;
    }
    struct cte *m;
    while ((m = maplist_first(c)) != NULL)
        delete_mapping(m);
}

/* The last capability to a Dispatcher is gone: stop it, and drop its copy
 * of the root CNode capability (which may make that CNode a zombie) and of
 * its dispatcher frame. EndPoints to it may outlive it: with the frame copy
 * gone, a send through them finds it dead (kernel/lmp.c), and they keep
 * the DCB's memory from being retyped until they go too. */
static void destroy_dispatcher(struct dcb *d)
{
    sched_dcb_destroyed(d);
    if (!cte_is_empty(&d->dispframe))
        delete_one(&d->dispframe);
    if (!cte_is_empty(&d->cspace))
        delete_one(&d->cspace);
    if (!cte_is_empty(&d->vspace))
        delete_one(&d->vspace);
}

/* Remove one capability, cleaning up the object if it was its last copy. */
static void delete_one(struct cte *c)
{
    if (!cap_in_mdb(&c->cap)) {
        delete_mapping(c);
        return;
    }
    bool last = !mdb_has_copies(&cap_mdb, &c->mdb);
    if (last && is_cnode(&c->cap)) {
        c->cap.flags |= CAP_FLAG_ZOMBIE;
        c->cap.extra = 0;
        c->cap.param = (uint64_t)zombies;
        zombies = c;
        return;
    }
    if (cap_has_maplist(&c->cap))
        drop_maplist(c, last);
    struct capability gone = c->cap;
    clear(c);
    if (gone.type == OBJ_VNODE_MAPPING)
        mapping_remove(&gone);
    if (last && gone.type == OBJ_DISPATCHER)
        destroy_dispatcher(phys_to_virt(gone.base));
}

static bool is_zombie(const struct cte *c)
{
    return (c->cap.flags & CAP_FLAG_ZOMBIE) != 0;
}

/*
 * Empty the zombie on top of the stack one slot at a time; pop it when done.
 * A slot that holds another zombie is skipped: that zombie is on the stack
 * and clears its own CTE when it is done. Popping a CNode whose memory still
 * holds such a CTE is safe because the whole stack drains within this one
 * system call (the kernel is not preemptible), before anything could retype
 * that memory; and it is what lets cycles (CNodes holding each other's last
 * capability) end.
 */
static void drain_zombies(void)
{
    while (zombies != NULL) {
        struct cte *z = zombies;
        struct cte *slots = phys_to_virt(z->cap.base);
        uint64_t n = cnode_slots(&z->cap);
        while (z->cap.extra < n && (cte_is_empty(&slots[z->cap.extra]) || is_zombie(&slots[z->cap.extra])))
            z->cap.extra++;
        if (z->cap.extra < n) {
            delete_one(&slots[z->cap.extra]);
            continue;
        }
        zombies = (struct cte *)z->cap.param;
        clear(z);
    }
}

errval_t cap_delete(struct cte *c)
{
    if (cte_is_empty(c))
        return CAP_ERR_SLOT_EMPTY;
    delete_one(c);
    drain_zombies();
    return SYS_ERR_OK;
}

/* Another copy of c, or NULL. */
static struct cte *other_copy(struct cte *c)
{
    struct mdb_node *n = mdb_next(&cap_mdb, &c->mdb);
    if (n == NULL || !cap_same_object(&((struct cte *)((char *)n - offsetof(struct cte, mdb)))->cap, &c->cap))
        n = mdb_prev(&cap_mdb, &c->mdb);
    if (n == NULL)
        return NULL;
    struct cte *o = (struct cte *)((char *)n - offsetof(struct cte, mdb));
    return cap_same_object(&o->cap, &c->cap) ? o : NULL;
}

/* A FrameMapping has no descendants and no copies (a second mapping of
 * the same page is a mapping of its own), so revoking one does nothing.
 * A frame's mappings are deleted last, once every copy has handed its own
 * to c. */
errval_t cap_revoke(struct cte *c)
{
    if (cte_is_empty(c))
        return CAP_ERR_SLOT_EMPTY;
    if (!cap_in_mdb(&c->cap))
        return SYS_ERR_OK;
    /* Each deletion may empty c itself (c may live in a CNode it is the
     * ancestor of), so c is checked again after every step. */
    for (;;) {
        struct mdb_node *d = mdb_first_descendant(&cap_mdb, &c->mdb);
        struct cte *victim = d ? (struct cte *)((char *)d - offsetof(struct cte, mdb)) : other_copy(c);
        if (victim == NULL)
            break;
        delete_one(victim);
        drain_zombies();
        if (cte_is_empty(c))
            return SYS_ERR_OK;
    }
    if (cap_has_maplist(&c->cap))
        drop_maplist(c, true);
    return SYS_ERR_OK;
}
