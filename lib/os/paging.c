/*
 * paging.c — regions + page tables + lazy backing (paging.h).
 *
 * The page-table model's operations become capability invocations here: a
 * new table is a 4 KiB allocation from the memory manager retyped into a
 * VNode; freeing a table frees that allocation, which revokes the VNode;
 * links and mappings are VNODE_CMD_MAP into slots from the slot allocator,
 * and deleting a mapping capability unmaps. The fault handler backs a page
 * of a reserved region with a fresh (zeroed) frame; freeing the region
 * gives those frames back. Records come from a small static pool, then
 * from the reserve below; both are always backed (the fault handler needs
 * records, and must not fault on them).
 *
 * The reserve: chunks of memory mapped at once (never by faults), that
 * every record pool takes from once its static buffer is used up
 * (record_pool.h). Filling it maps memory, which takes records and maybe
 * slots and RAM itself, so it is filled while some chunks are still
 * left, and only where this thread holds no paging lock and paging is not
 * in the middle of an operation: at the end of every paging call, at the
 * start of both fault handlers (the fast one takes the lock for it: in the
 * upcall it is free), and in a refill that does not run under paging. A
 * refill under paging, or inside the fast handler's work, takes what is
 * left; the next of those points fills again.
 */
#include "paging.h"

#include "exception.h"
#include "frame_pool.h"
#include "os.h"
#include "ram.h"
#include "record_pool.h"
#include "slots.h"
#include "thread.h"
#include "thread_internal.h"

RECORD_POOL(records, 12 * 1024, LIB_ERR_SLAB_EMPTY);

#define RESERVE_FILL_BYTES (64 * 1024)  /* mapped at a time: 16 chunks */
#define RESERVE_LOW        8            /* fewer chunks left: fill where it can be done */
#define RESERVE_MAX        (RESERVE_LOW + RESERVE_FILL_BYTES / RECORD_POOL_CHUNK)

/* The lock guards everything below, and the model and tree behind them
 * (whose own lock hooks stay empty). Every public function and the fault
 * handler hold it for their whole work (the fast fault handler runs where
 * no other thread can, see on_fault_fast); the memory it guards (these
 * records, the static pool) is always backed, so no fault happens while
 * it is held. Lock order: paging, then the slot allocator or memory
 * manager (ram.c), never the other way. */
static struct thread_mutex lock = THREAD_MUTEX_INITIALIZER("paging");
static struct vregion_space regions;
static struct pt_model tables;
static struct frame_pool frames;        /* for the fault handler */
#define PAGING_SLOT_BATCH 16
static struct mapping_slots {           /* see mapping_slot() */
    size_t count;                       /* slots waiting, in [0, count) */
    capaddr_t slot[PAGING_SLOT_BATCH];
} mapping_slots;
static bool started;
static uint64_t faults_handled, pages_given_back;
static bool in_fast_fault;              /* on_fault_fast is working: no filling */

/* The reserve's chunks. reserve_lock is a leaf: nothing is taken while it
 * is held. The count is read without it for the cheap "is it low" test. */
static struct thread_mutex reserve_lock = THREAD_MUTEX_INITIALIZER("paging reserve");
static void *reserve[RESERVE_MAX];      /* guarded by reserve_lock */
static size_t reserve_count;            /* guarded by reserve_lock */
static void reserve_top_up(void);
static errval_t reserve_fill(void);

/* Inline: the fault handler asks on every fault. */
static inline bool reserve_low(void)
{
    return __atomic_load_n(&reserve_count, __ATOMIC_RELAXED) < RESERVE_LOW;
}

static capaddr_t addr_of(struct capref c) { return capaddr_make(c.l1, c.slot); }
static struct capref ref_of(capaddr_t a) { return capref_l2(capaddr_l1(a), capaddr_l2(a)); }

static errval_t new_table(void *arg, int level, capaddr_t *vnode)
{
    (void)arg;
    struct capref slot;
    errval_t err = ram_new_object((enum objtype)(OBJ_VNODE_L0 + level), OBJSIZE_VNODE, OBJSIZE_VNODE,
                                  &slot, NULL);
    if (err_is_ok(err))
        *vnode = addr_of(slot);
    return err;
}

/* An object made by ram_new_object (a table or a frame) is its
 * allocation's capability: freeing the allocation deletes it (and every
 * mapping of it) and frees its slot. */
static errval_t object_free(capaddr_t object)
{
    struct capinfo ci;
    errval_t err = cap_identify(ref_of(object), &ci);
    return err_is_ok(err) ? ram_free(ci.base, ci.size) : err;
}

static errval_t free_table(void *arg, capaddr_t vnode)
{
    (void)arg;
    return object_free(vnode);
}

/*
 * A slot for a mapping capability. Every page the fault handler backs
 * makes one, so they are taken from the slot allocator PAGING_SLOT_BATCH
 * at a time (one lock round trip) and handed out one by one; each is
 * freed on its own when its mapping goes (unmap). They need not be
 * consecutive, so they fill the holes that freed slots leave. Those not yet
 * used, fewer than PAGING_SLOT_BATCH, are allocated in the slot
 * allocator's eyes.
 */
static __attribute__((noinline)) errval_t mapping_slots_refill(void)
{
    errval_t err = slot_alloc_many(os_slots(), PAGING_SLOT_BATCH, mapping_slots.slot);
    if (err_is_ok(err))
        mapping_slots.count = PAGING_SLOT_BATCH;
    return err;
}

static inline errval_t mapping_slot(capaddr_t *slot)
{
    struct mapping_slots *ms = &mapping_slots;
    if (ms->count == 0) {
        errval_t err = mapping_slots_refill();
        if (err_is_fail(err))
            return err;
    }
    *slot = ms->slot[--ms->count];
    return SYS_ERR_OK;
}

/* Give back the slot mapping_slot just gave, still empty. */
static void mapping_slot_untake(void)
{
    mapping_slots.count++;
}

static errval_t map_into(capaddr_t vnode, unsigned entry, capaddr_t src, uint8_t rights,
                         uint64_t offset, unsigned count, capaddr_t *mapping)
{
    capaddr_t slot;
    errval_t err = mapping_slot(&slot);
    if (err_is_fail(err))
        return err;
    err = vnode_map(ref_of(vnode), entry, ref_of(src), rights, offset, count, ref_of(slot));
    if (err_is_ok(err))
        *mapping = slot;
    else
        mapping_slot_untake();
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

/* May the fault at `addr` be fixed by backing its page? */
static bool backable(const struct os_fault *f, struct vregion_info *info)
{
    return os_fault_is_translation(f->esr) && err_is_ok(vregion_lookup(&regions, f->addr, info)) &&
           info->state == VREGION_RESERVED && info->attrs != 0 &&
           (!os_fault_is_write(f->esr) || (info->attrs & VREGION_ATTR_WRITE));
}

/*
 * The fast handler's map, made its very last action: the page's run is
 * recorded first (with the mapping slot it will have), then one invocation
 * maps the page and resumes the faulting code (VNODE_MAP_RESUME), so it
 * returns only if it failed, and then the record and the slot go back.
 * The model may show the page before the tables have it because in the
 * upcall no other thread runs. A page whose L3 table must be made first
 * takes the ordinary way (pt_map_page), and the caller resumes.
 */
static errval_t map_page_resume(uint64_t va, capaddr_t frame, uint8_t rights)
{
    capaddr_t slot;
    errval_t err = mapping_slot(&slot);
    if (err_is_fail(err))
        return err;
    struct pt_page page;
    err = pt_page_record(&tables, va, frame, rights, slot, &page);
    if (err_is_fail(err)) {
        mapping_slot_untake();
        return err_no(err) == PT_ERR_NO_TABLE ? pt_map_page(&tables, va, frame, rights) : err;
    }
    in_fast_fault = false;      /* on success the map below never returns */
    err = vnode_map_resume(ref_of(page.vnode), page.entry, ref_of(frame), rights, ref_of(slot));
    pt_page_unrecord(&tables, &page);
    mapping_slot_untake();
    return err_push(err, PT_ERR_MAP);
}

/* Back the faulting page of a reserved region with a zeroed frame. The
 * region stays RESERVED (one record however many pages are backed); the
 * page tables say which pages are. Another thread may have backed the page
 * while this one waited for the lock: then the frame goes back to the pool
 * and there is nothing to do. *fixable is false when the fault is not one
 * paging can fix. With `resume` (the fast handler) a successful map
 * resumes the faulting code and does not return, so the count of handled
 * faults goes up before it. */
static errval_t back_page(const struct os_fault *f, bool resume, bool *fixable)
{
    struct vregion_info info;
    *fixable = backable(f, &info);
    if (!*fixable)
        return SYS_ERR_OK;
    struct capref frame;
    uint64_t paddr;
    errval_t err = frame_pool_take(&frames, &frame, &paddr);
    if (err_is_fail(err))
        return err;
    uint64_t va = f->addr & ~4095ull;
    faults_handled++;
    err = resume ? map_page_resume(va, addr_of(frame), rights_of(info.attrs))
                 : pt_map_page(&tables, va, addr_of(frame), rights_of(info.attrs));
    if (err_is_ok(err))
        return SYS_ERR_OK;
    faults_handled--;
    frame_pool_untake(&frames);     /* never mapped, so still zero */
    return err_no(err) == PT_ERR_ALREADY_MAPPED ? SYS_ERR_OK : err;
}

static bool yield_in_fault;     /* tests: paging_test_yield_in_fault */

static errval_t back_page_locked(const struct os_fault *f, bool *fixable)
{
    thread_mutex_lock(&lock);
    if (yield_in_fault)
        thread_yield();         /* holding the lock: other faulting threads must wait */
    errval_t err = back_page(f, false, fixable);
    thread_mutex_unlock(&lock);
    return err;
}

/* In the faulting thread, which may wait for the lock. */
static bool on_fault(const struct os_fault *f)
{
    bool fixable;
    reserve_top_up();
    errval_t err = back_page_locked(f, &fixable);
    if (err_is_fail(err))
        DEBUG_ERR(err, "paging: backing a page");
    return fixable && err_is_ok(err);
}

/* In the fault upcall (exception.h): the same work without a switch to
 * the thread's exception stack. There no other thread can run until the
 * upcall returns and no mutex is held, so the lock is free and nobody can
 * ask for it meanwhile: taking it would exclude no one, and it is not
 * taken. It must not yield, so the test hook sends faults the normal way.
 * Whatever goes wrong is left to on_fault, which tries again and reports. */
static bool on_fault_fast(const struct os_fault *f)
{
    bool fixable;
    if (yield_in_fault)
        return false;
    if (reserve_low())
        (void)reserve_fill();   /* before any work: the lock is free, no operation is half done;
                                 * no report here (it would print from the upcall): a thread's
                                 * next top-up fails again and reports */
    in_fast_fault = true;
    errval_t err = back_page(f, true, &fixable);
    in_fast_fault = false;
    return fixable && err_is_ok(err);
}

/* ---- the reserve of backed memory for record pools ---- */

static void reserve_put(uint64_t base, uint64_t bytes)
{
    thread_mutex_lock(&reserve_lock);
    for (uint64_t off = 0; off < bytes && reserve_count < RESERVE_MAX; off += RECORD_POOL_CHUNK)
        reserve[reserve_count++] = (void *)(base + off);
    thread_mutex_unlock(&reserve_lock);
}

static void *reserve_take(void)
{
    thread_mutex_lock(&reserve_lock);
    void *c = reserve_count > 0 ? reserve[--reserve_count] : NULL;
    thread_mutex_unlock(&reserve_lock);
    return c;
}

static errval_t do_map_new(uint64_t base, uint64_t size, uint32_t attrs);

/* Map fresh memory for the reserve, with the lock held. Checked again
 * under the lock: another thread may have filled it meanwhile. */
static errval_t reserve_fill_locked(void)
{
    uint64_t base;
    if (!reserve_low())
        return SYS_ERR_OK;
    errval_t err = vregion_reserve_any(&regions, RESERVE_FILL_BYTES, 4096, VREGION_ATTR_RW, &base);
    if (err_is_fail(err))
        return err;
    err = do_map_new(base, RESERVE_FILL_BYTES, VREGION_ATTR_RW);
    if (err_is_fail(err)) {
        vregion_free(&regions, base, RESERVE_FILL_BYTES);
        return err;
    }
    reserve_put(base, RESERVE_FILL_BYTES);
    return SYS_ERR_OK;
}

/* Fill the reserve if it is low and this is a point where it may be:
 * paging started, its lock not held by this thread, not inside the fast
 * fault handler (which works without the lock). Out of line: callers on
 * hot paths test reserve_low() first. */
static __attribute__((noinline)) errval_t reserve_fill(void)
{
    if (!reserve_low() || !started || in_fast_fault || lock.owner == thread_current)
        return SYS_ERR_OK;
    thread_mutex_lock(&lock);
    errval_t err = reserve_fill_locked();
    thread_mutex_unlock(&lock);
    return err;
}

/* reserve_fill, reporting a failure: in thread context only (a report
 * prints, which may block). */
static void reserve_top_up(void)
{
    errval_t err = reserve_fill();
    if (err_is_fail(err))
        DEBUG_ERR(err, "paging: mapping memory for records");
}

/* The record pools' source (record_pool.h), set by ram.c once the memory
 * manager and slot allocator are up: starts paging if the program has
 * not, so that every program's pools can grow. */
void *paging_records_chunk(void)
{
    if (!started && err_is_fail(paging_init()))
        return NULL;
    reserve_top_up();
    return reserve_take();
}

errval_t paging_init(void)
{
    if (started)
        return SYS_ERR_OK;
    errval_t err = vregion_init(&regions, PAGING_LO, PAGING_HI, record_pool_refill, &records);
    if (err_is_ok(err))
        err = pt_model_init(&tables, CAP_VROOT, &pt_cap_ops, NULL, record_pool_refill, &records);
    if (err_is_ok(err))
        err = os_exception_set(on_fault);
    if (err_is_ok(err))
        err = os_exception_set_fast(on_fault_fast);
    started = err_is_ok(err);
    reserve_top_up();
    return err;
}

static errval_t do_reserve(uint64_t size, uint64_t align, uint32_t attrs, uint64_t *base)
{
    return vregion_reserve_any(&regions, size, align, attrs, base);
}

static errval_t do_reserve_at(uint64_t base, uint64_t size, uint32_t attrs)
{
    return vregion_reserve_at(&regions, base, size, attrs);
}

static errval_t do_map_fixed(uint64_t base, struct capref frame, uint64_t size, uint32_t attrs)
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

static errval_t do_map_frame(struct capref frame, uint64_t size, uint32_t attrs, uint64_t *base)
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

static errval_t do_unmap(uint64_t base, uint64_t size)
{
    errval_t err = pt_unmap(&tables, base, size);
    return err_is_ok(err) ? vregion_mark_reserved(&regions, base, size, VREGION_ATTR_READ) : err;
}

/* Unmap and give back every page the fault handler backed in [base, end):
 * inside a RESERVED region, each mapped run is one such page. */
static errval_t release_backed(uint64_t base, uint64_t end)
{
    struct pt_lookup_info run;
    errval_t err = SYS_ERR_OK;
    while (err_is_ok(err) && err_is_ok(pt_find(&tables, base, end, &run))) {
        err = pt_unmap(&tables, run.run_va, run.run_size);
        if (err_is_ok(err))
            err = object_free(run.frame);
        if (err_is_ok(err))
            pages_given_back += run.run_size / 4096;
        base = run.run_va + run.run_size;
    }
    return err;
}

/* [base, base + size) must lie in one region in `state`. */
static errval_t inside_one(uint64_t base, uint64_t size, enum vregion_state state,
                           struct vregion_info *info)
{
    errval_t err = vregion_lookup(&regions, base, info);
    if (err_is_fail(err))
        return err;
    if (info->state != state)
        return state == VREGION_MAPPED ? VREGION_ERR_NOT_MAPPED : VREGION_ERR_NOT_ALLOCATED;
    if (size == 0 || base + size < base || base + size > info->base + info->size)
        return VREGION_ERR_CROSSES;
    return SYS_ERR_OK;
}

/* Every byte of [base, end) is in RESERVED regions (one or more). */
static errval_t all_reserved(uint64_t base, uint64_t end)
{
    struct vregion_info info;
    for (uint64_t a = base; a < end; a = info.base + info.size) {
        errval_t err = vregion_lookup(&regions, a, &info);
        if (err_is_fail(err))
            return err;
        if (info.state != VREGION_RESERVED)
            return VREGION_ERR_NOT_ALLOCATED;
    }
    return SYS_ERR_OK;
}

static errval_t do_free(uint64_t base, uint64_t size)
{
    uint64_t end = base + size;
    if (size == 0 || end < base || (size & 4095) != 0)
        return VREGION_ERR_BAD_SIZE;
    if ((base & 4095) != 0)
        return VREGION_ERR_MISALIGNED;
    errval_t err = all_reserved(base, end);
    if (err_is_ok(err))
        err = release_backed(base, end);
    struct vregion_info info;
    for (uint64_t a = base; err_is_ok(err) && a < end; a = info.base + info.size) {
        err = vregion_lookup(&regions, a, &info);
        uint64_t piece_end = info.base + info.size < end ? info.base + info.size : end;
        if (err_is_ok(err))
            err = vregion_free(&regions, a, piece_end - a);
    }
    return err;
}

static errval_t do_map_new(uint64_t base, uint64_t size, uint32_t attrs)
{
    struct vregion_info info;
    struct capref frame;
    errval_t err = inside_one(base, size, VREGION_RESERVED, &info);
    if (err_is_ok(err) && err_is_ok(pt_find(&tables, base, base + size, &(struct pt_lookup_info){ 0 })))
        err = VREGION_ERR_ALREADY_MAPPED;
    if (err_is_ok(err))
        err = ram_new_object(OBJ_FRAME, size, 4096, &frame, NULL);
    if (err_is_fail(err))
        return err;
    err = map_range(base, frame, size, attrs);
    if (err_is_fail(err))
        object_free(addr_of(frame));
    return err;
}

static errval_t do_unmap_free(uint64_t base, uint64_t size)
{
    struct vregion_info info;
    errval_t err = inside_one(base, size, VREGION_MAPPED, &info);
    if (err_is_ok(err) && (info.base != base || info.size != size))
        err = VREGION_ERR_CROSSES;
    if (err_is_ok(err))
        err = do_unmap(base, size);
    return err_is_ok(err) ? object_free((capaddr_t)info.cookie) : err;
}

/* Run `expr` with the lock held, once paging has started; then fill
 * the reserve if the records it took left it low. */
#define WITH_LOCK(expr) ({                                  \
    errval_t err_ = LIB_ERR_PAGING_INIT;                    \
    if (started) {                                          \
        thread_mutex_lock(&lock);                           \
        err_ = (expr);                                      \
        thread_mutex_unlock(&lock);                         \
        if (reserve_low())                                  \
            reserve_top_up();                               \
    }                                                       \
    err_; })

errval_t paging_reserve(uint64_t size, uint64_t align, uint32_t attrs, uint64_t *base)
{
    return WITH_LOCK(do_reserve(size, align, attrs, base));
}

errval_t paging_reserve_at(uint64_t base, uint64_t size, uint32_t attrs)
{
    return WITH_LOCK(do_reserve_at(base, size, attrs));
}

errval_t paging_map_fixed(uint64_t base, struct capref frame, uint64_t size, uint32_t attrs)
{
    return WITH_LOCK(do_map_fixed(base, frame, size, attrs));
}

errval_t paging_map_frame(struct capref frame, uint64_t size, uint32_t attrs, uint64_t *base)
{
    return WITH_LOCK(do_map_frame(frame, size, attrs, base));
}

errval_t paging_map_new(uint64_t base, uint64_t size, uint32_t attrs)
{
    return WITH_LOCK(do_map_new(base, size, attrs));
}

errval_t paging_unmap(uint64_t base, uint64_t size)
{
    return WITH_LOCK(do_unmap(base, size));
}

errval_t paging_unmap_free(uint64_t base, uint64_t size)
{
    return WITH_LOCK(do_unmap_free(base, size));
}

errval_t paging_free(uint64_t base, uint64_t size)
{
    return WITH_LOCK(do_free(base, size));
}

uint64_t paging_pages_given_back(void) { return pages_given_back; }
uint64_t paging_lock_waits(void) { return lock.waits; }
void paging_test_yield_in_fault(bool on) { yield_in_fault = on; }
struct vregion_space *paging_regions(void) { return &regions; }
struct pt_model *paging_tables(void) { return &tables; }
uint64_t paging_faults_handled(void) { return faults_handled; }

uint64_t paging_frames_idle_bytes(void)
{
    thread_mutex_lock(&lock);
    uint64_t bytes = frame_pool_idle_bytes(&frames);
    thread_mutex_unlock(&lock);
    return bytes;
}
