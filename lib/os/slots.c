/*
 * slots.c — the default slot allocator's callbacks (slots.h).
 *
 * A new L2 CNode is a 16 KiB allocation from the memory manager retyped
 * straight into its root slot; a larger root CNode is an allocation retyped
 * into a slot the allocator hands out while it refills (it keeps a reserve
 * for exactly this). The records of the allocator's bookkeeping come from a
 * small static pool, then from paging's reserve (record_pool.h).
 */
#include "slots.h"

#include "thread.h"

#include "record_pool.h"

#include <stdint.h>

static struct slot_allocator allocator;
static struct thread_mutex allocator_lock = THREAD_MUTEX_INITIALIZER("slot allocator");
static struct mm *ram;
RECORD_POOL(records, 4 * 1024, LIB_ERR_SLAB_EMPTY);

/* Retype a fresh allocation of `bytes` into one object at `dest`. */
static errval_t make_object(struct capref dest, enum objtype type, uint64_t bytes, uint64_t objsize)
{
    struct mm_block b;
    errval_t err = mm_alloc(ram, bytes, OBJSIZE_PAGE, &b);
    if (err_is_fail(err))
        return err;
    err = cap_retype(dest, capref_from_addr(b.cap), type, 0, objsize, 1);
    if (err_is_fail(err))
        mm_free(ram, b.base, b.size);
    return err;
}

static errval_t new_cnode(void *arg, uint32_t l1_index, capaddr_t scratch)
{
    (void)arg;
    (void)scratch;      /* the CNode is retyped straight into its root slot */
    return make_object(capref_root_slot(l1_index), OBJ_L2CNODE, OBJSIZE_L2CNODE, 0);
}

static errval_t grow_l1(void *arg, uint32_t new_slots)
{
    (void)arg;
    capaddr_t slot;
    uint64_t bytes = (uint64_t)new_slots * OBJSIZE_CTE;
    errval_t err = slot_alloc(&allocator, &slot);
    if (err_is_fail(err))
        return err;
    struct capref root = capref_l2(capaddr_l1(slot), capaddr_l2(slot));
    err = make_object(root, OBJ_L1CNODE, (bytes + OBJSIZE_PAGE - 1) & ~(uint64_t)(OBJSIZE_PAGE - 1), bytes);
    if (err_is_ok(err))
        err = cnode_resize_root(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ROOTCN), root);
    return err;
}

errval_t os_slots_init_mm(struct mm *mm)
{
    struct capinfo ci;
    errval_t err = cap_identify(capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ROOTCN), &ci);
    if (err_is_fail(err))
        return err_push(err, LIB_ERR_SLOT_INIT);
    ram = mm;
    static const uint32_t cnodes[] = { ROOTCN_SLOT_SLOT_ALLOC0, ROOTCN_SLOT_SLOT_ALLOC1 };
    struct slot_alloc_config cfg = {
        .cnodes = cnodes, .ncnodes = 2, .l1_slots = (uint32_t)(ci.size / OBJSIZE_CTE),
        .first_free_l1 = ROOTCN_SLOTS_USER,
        .new_cnode = new_cnode, .grow_l1 = grow_l1,
        .record_refill = record_pool_refill, .record_refill_arg = &records,
    };
    err = slot_alloc_init(&allocator, &cfg);
    if (err_is_ok(err)) {
        struct alloc_lock lock = thread_mutex_as_alloc_lock(&allocator_lock);
        slot_alloc_set_lock(&allocator, &lock);
    }
    return err;
}

errval_t os_slot_alloc(struct capref *slot)
{
    capaddr_t a;
    errval_t err = slot_alloc(&allocator, &a);
    if (err_is_ok(err))
        *slot = capref_l2(capaddr_l1(a), capaddr_l2(a));
    return err;
}

errval_t os_slot_alloc_run(uint32_t count, struct capref *first)
{
    capaddr_t a;
    errval_t err = slot_alloc_run(&allocator, count, &a);
    if (err_is_ok(err))
        *first = capref_l2(capaddr_l1(a), capaddr_l2(a));
    return err;
}

errval_t os_slot_free(struct capref slot)
{
    return slot_free(&allocator, capaddr_make(slot.l1, slot.slot));
}

struct slot_allocator *os_slots(void)
{
    return &allocator;
}
