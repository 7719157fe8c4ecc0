/*
 * paging.c — regions + page tables + lazy backing (paging.h).
 *
 * The page-table model's operations become capability invocations here: a
 * new table is a 4 KiB allocation from the memory manager retyped into a
 * VNode; freeing a table frees that allocation, which revokes the VNode;
 * links and mappings are VNODE_CMD_MAP into slots from the slot allocator,
 * and deleting a mapping capability unmaps. The fault handler backs a page
 * of a reserved region with a fresh (zeroed) frame and marks it mapped.
 * Records come from static pools until the heap exists.
 */
#include "paging.h"

#include "exception.h"
#include "os.h"
#include "ram.h"
#include "record_pool.h"
#include "slots.h"

RECORD_POOL(records, 1024 * 1024, LIB_ERR_SLAB_EMPTY);

static struct vregion_space regions;
static struct pt_model tables;
static uint64_t faults_handled;

static capaddr_t addr_of(struct capref c) { return capaddr_make(c.l1, c.slot); }
static struct capref ref_of(capaddr_t a) { return capref_l2(capaddr_l1(a), capaddr_l2(a)); }

static errval_t new_table(void *arg, int level, capaddr_t *vnode)
{
    (void)arg;
    struct capref slot;
    errval_t err = ram_new_object((enum objtype)(OBJ_VNODE_L0 + level), OBJSIZE_VNODE, OBJSIZE_VNODE, &slot);
    if (err_is_ok(err))
        *vnode = addr_of(slot);
    return err;
}

/* Freeing the allocation revokes everything retyped from it: the VNode
 * (or, from the fault handler, a frame that could not be mapped). */
static errval_t free_table(void *arg, capaddr_t vnode)
{
    (void)arg;
    struct capinfo ci;
    errval_t err = cap_identify(ref_of(vnode), &ci);
    if (err_is_ok(err))
        err = ram_free(ci.base, 4096);
    return err_is_ok(err) ? os_slot_free(ref_of(vnode)) : err;
}

static errval_t map_into(capaddr_t vnode, unsigned entry, capaddr_t src, uint8_t rights,
                         uint64_t offset, unsigned count, capaddr_t *mapping)
{
    struct capref slot;
    errval_t err = os_slot_alloc(&slot);
    if (err_is_ok(err))
        err = vnode_map(ref_of(vnode), entry, ref_of(src), rights, offset, count, slot);
    if (err_is_ok(err))
        *mapping = addr_of(slot);
    return err;
}

static errval_t link(void *arg, capaddr_t parent, unsigned entry, capaddr_t child, capaddr_t *mapping)
{
    (void)arg;
    return map_into(parent, entry, child, 0, 0, 1, mapping);
}

static errval_t map(void *arg, capaddr_t vnode, unsigned entry, capaddr_t frame, uint64_t offset,
                    unsigned count, unsigned flags, capaddr_t *mapping)
{
    (void)arg;
    return map_into(vnode, entry, frame, (uint8_t)flags, offset, count, mapping);
}

static errval_t unmap(void *arg, capaddr_t mapping)
{
    (void)arg;
    errval_t err = cap_delete(ref_of(mapping));
    return err_is_ok(err) ? os_slot_free(ref_of(mapping)) : err;
}

static const struct pt_ops pt_cap_ops = { new_table, free_table, link, map, unmap };

static uint8_t rights_of(uint32_t attrs)
{
    return (uint8_t)(((attrs & VREGION_ATTR_READ) ? CAPRIGHTS_READ : 0) |
                     ((attrs & VREGION_ATTR_WRITE) ? CAPRIGHTS_WRITE : 0) |
                     ((attrs & VREGION_ATTR_EXEC) ? CAPRIGHTS_EXECUTE : 0));
}

/* Put [base, base + size) of `frame` into the page tables. */
static errval_t map_pages(uint64_t base, struct capref frame, uint64_t size, uint32_t attrs)
{
    struct capinfo ci;
    errval_t err = cap_identify(frame, &ci);
    if (err_is_fail(err))
        return err;
    if (ci.type != OBJ_FRAME && ci.type != OBJ_DEVFRAME)
        return CAP_ERR_MAP_TYPE;
    if (size > ci.size)
        return CAP_ERR_MAP_RANGE;
    return pt_map(&tables, base, addr_of(frame), ci.base, 0, size, rights_of(attrs), NULL);
}

/* Map a frame where the regions allow it, and record the mapping there. */
static errval_t map_range(uint64_t base, struct capref frame, uint64_t size, uint32_t attrs)
{
    errval_t err = map_pages(base, frame, size, attrs);
    return err_is_ok(err) ? vregion_mark_mapped(&regions, base, size, attrs, addr_of(frame)) : err;
}

/* Back the faulting page of a reserved region with a zeroed frame. The
 * region stays RESERVED (one record however many pages are backed); the
 * page tables say which pages are. */
static bool on_fault(const struct os_fault *f)
{
    struct vregion_info info;
    uint64_t page = f->addr & ~4095ull;
    if (!os_fault_is_translation(f->esr) || err_is_fail(vregion_lookup(&regions, f->addr, &info)) ||
        info.state != VREGION_RESERVED || info.attrs == 0 ||
        (os_fault_is_write(f->esr) && !(info.attrs & VREGION_ATTR_WRITE)))
        return false;
    struct capref frame;
    errval_t err = ram_new_object(OBJ_FRAME, 4096, 4096, &frame);
    if (err_is_ok(err)) {
        err = map_pages(page, frame, 4096, info.attrs);
        if (err_is_fail(err))
            free_table(NULL, addr_of(frame));   /* gives the frame's memory back the same way */
    }
    if (err_is_fail(err)) {
        DEBUG_ERR(err, "paging: backing a page");
        return false;
    }
    faults_handled++;
    return true;
}

errval_t paging_init(void)
{
    errval_t err = vregion_init(&regions, PAGING_LO, PAGING_HI, record_pool_refill, &records);
    if (err_is_ok(err))
        err = pt_model_init(&tables, CAP_VROOT, &pt_cap_ops, NULL, record_pool_refill, &records);
    if (err_is_ok(err))
        err = os_exception_set(on_fault);
    return err;
}

errval_t paging_reserve(uint64_t size, uint64_t align, uint32_t attrs, uint64_t *base)
{
    return vregion_reserve_any(&regions, size, align, attrs, base);
}

errval_t paging_reserve_at(uint64_t base, uint64_t size, uint32_t attrs)
{
    return vregion_reserve_at(&regions, base, size, attrs);
}

errval_t paging_map_fixed(uint64_t base, struct capref frame, uint64_t size, uint32_t attrs)
{
    struct vregion_info info;
    errval_t err = vregion_lookup(&regions, base, &info);
    if (err_is_fail(err))
        return err;
    if (info.state == VREGION_MAPPED)
        return VREGION_ERR_ALREADY_MAPPED;
    if (info.state == VREGION_FREE) {
        err = vregion_reserve_at(&regions, base, size, attrs);
        if (err_is_fail(err))
            return err;
    }
    err = map_range(base, frame, size, attrs);
    if (err_is_fail(err) && info.state == VREGION_FREE)
        vregion_free(&regions, base, size);
    return err;
}

errval_t paging_map_frame(struct capref frame, uint64_t size, uint32_t attrs, uint64_t *base)
{
    /* 2 MiB alignment lets the page tables use blocks for big frames. */
    uint64_t align = size >= PT_BLOCK_2M ? PT_BLOCK_2M : 4096;
    errval_t err = vregion_reserve_any(&regions, (size + 4095) & ~4095ull, align, attrs, base);
    if (err_is_fail(err))
        return err;
    err = map_range(*base, frame, size, attrs);
    if (err_is_fail(err))
        vregion_free(&regions, *base, (size + 4095) & ~4095ull);
    return err;
}

errval_t paging_unmap(uint64_t base, uint64_t size)
{
    errval_t err = pt_unmap(&tables, base, size);
    return err_is_ok(err) ? vregion_mark_reserved(&regions, base, size, VREGION_ATTR_READ) : err;
}

errval_t paging_free(uint64_t base, uint64_t size)
{
    return vregion_free(&regions, base, size);
}

struct vregion_space *paging_regions(void) { return &regions; }
struct pt_model *paging_tables(void) { return &tables; }
uint64_t paging_faults_handled(void) { return faults_handled; }
