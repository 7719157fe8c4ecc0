/*
 * ram.c — the process's memory manager over its RAM capabilities (ram.h).
 *
 * Start-up order matters, because the two allocators lean on each other:
 * the manager is set up first (its capability operations take slots from
 * the slot allocator), then the slot allocator, whose refills take RAM for
 * new CNodes from the manager. A refill keeps a reserve of slots, so the
 * slot an allocation needs during a refill is always there. The manager's
 * records come from a small static pool; once both allocators are up, the
 * record pools may grow from paging's always-backed reserve (paging.c),
 * which needs them both.
 */
#include "ram.h"

#include "initcaps.h"
#include "paging.h"
#include "record_pool.h"
#include "thread.h"
#include "slots.h"

RECORD_POOL(records, 8 * 1024, MM_ERR_NO_METADATA);

static struct mm manager;
static struct thread_mutex manager_lock = THREAD_MUTEX_INITIALIZER("memory manager");

/* Slots for `count` new objects: one, or a run of consecutive ones. */
static errval_t slots_for(size_t count, struct capref *first)
{
    return count == 1 ? os_slot_alloc(first) : os_slot_alloc_run((uint32_t)count, first);
}

/* Kind MM_KIND_RAM is a RAM capability; any other kind is an object type,
 * retyped straight from the region (ram_new_object). `count` objects take
 * one system call: they go into consecutive slots. */
static errval_t retype_allocations(void *arg, uint64_t region, uint64_t offset, uint64_t size,
                                   uint8_t kind, size_t count, uint64_t *first_cap)
{
    (void)arg;
    struct capref first;
    errval_t err = slots_for(count, &first);
    if (err_is_fail(err))
        return err;
    enum objtype type = kind == MM_KIND_RAM ? OBJ_RAM : (enum objtype)kind;
    err = cap_retype(first, capref_from_addr(region), type, offset, size, count);
    if (err_is_fail(err)) {
        for (uint32_t i = 0; i < count; i++)
            os_slot_free(capref_l2(first.l1, first.slot + i));
        return err;
    }
    *first_cap = capref_addr(first);    /* the others follow: consecutive slots of one CNode */
    return SYS_ERR_OK;
}

static errval_t retype_allocation(void *arg, uint64_t region, uint64_t offset, uint64_t size,
                                  uint8_t kind, uint64_t *cap)
{
    return retype_allocations(arg, region, offset, size, kind, 1, cap);
}

static errval_t destroy_allocation(void *arg, uint64_t cap)
{
    (void)arg;
    struct capref c = capref_from_addr(cap);
    errval_t err = cap_revoke(c);
    if (err_is_ok(err))
        err = cap_delete(c);
    return err_is_ok(err) ? os_slot_free(c) : err;
}

const struct mm_cap_ops ram_cap_ops = { retype_allocation, destroy_allocation, retype_allocations };

static errval_t add_memcn(void)
{
    for (uint32_t i = 0; i < L2_CNODE_SLOTS; i++) {
        struct capref c = capref_l2(ROOTCN_SLOT_MEMCN, i);
        struct capinfo ci;
        if (err_is_fail(cap_identify(c, &ci)) || ci.type != OBJ_RAM)
            continue;
        errval_t err = mm_add(&manager, capref_addr(c), ci.base, ci.size);
        if (err_is_fail(err))
            return err;
    }
    return SYS_ERR_OK;
}

static errval_t init_from_memcn(void)
{
    errval_t err = mm_init(&manager, &ram_cap_ops, NULL, record_pool_refill, &records);
    if (err_is_ok(err)) {
        struct alloc_lock lock = thread_mutex_as_alloc_lock(&manager_lock);
        mm_set_lock(&manager, &lock);
        err = add_memcn();
    }
    if (err_is_ok(err))
        err = os_slots_init_mm(&manager);
    if (err_is_ok(err))
        record_pool_set_source(paging_records_chunk);
    return err;
}

/* Once per process: the program may call it, and stdio does before its
 * first call to the terminal service (which needs slots). */
errval_t ram_init_from_memcn(void)
{
    static struct thread_mutex once_lock = THREAD_MUTEX_INITIALIZER("ram init");
    static bool done;
    thread_mutex_lock(&once_lock);
    errval_t err = done ? SYS_ERR_OK : init_from_memcn();
    done = err_is_ok(err);
    thread_mutex_unlock(&once_lock);
    return err;
}

struct mm *ram_mm(void)
{
    return &manager;
}

errval_t ram_alloc(uint64_t size, uint64_t align, struct capref *cap, uint64_t *base)
{
    struct mm_block b;
    errval_t err = mm_alloc(&manager, size, align, &b);
    if (err_is_fail(err))
        return err;
    *cap = capref_from_addr(b.cap);
    if (base != NULL)
        *base = b.base;
    return SYS_ERR_OK;
}

errval_t ram_free(uint64_t base, uint64_t size)
{
    return mm_free(&manager, base, size);
}

_Static_assert(OBJ_COUNT <= 256 && OBJ_RAM != MM_KIND_RAM, "object types are mm kinds");

errval_t ram_new_object(enum objtype type, uint64_t size, uint64_t align, struct capref *out,
                        uint64_t *base)
{
    struct mm_block b;
    errval_t err = mm_alloc_kind(&manager, size, align, (uint8_t)type, &b);
    if (err_is_fail(err))
        return err;
    *out = capref_from_addr(b.cap);
    if (base != NULL)
        *base = b.base;
    return SYS_ERR_OK;
}

/* The blocks of a batch are side by side and, as retype_allocations made
 * their capabilities in one retype, in consecutive slots: the first block
 * says where all of them are. */
errval_t ram_new_objects(enum objtype type, uint64_t size, size_t count, struct capref *first,
                         uint64_t *base)
{
    struct mm_block b[MM_BATCH_MAX];
    errval_t err = mm_alloc_batch(&manager, size, count, (uint8_t)type, b);
    if (err_is_fail(err))
        return err;
    if (b[count - 1].cap != b[0].cap + (count - 1))
        __builtin_trap();   /* the one retype did not fill consecutive slots */
    *first = capref_from_addr(b[0].cap);
    *base = b[0].base;
    return SYS_ERR_OK;
}
