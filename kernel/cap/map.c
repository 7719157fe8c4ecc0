/*
 * map.c — VNode map and the entries behind mapping capabilities.
 *
 * A FrameMapping's range is the part of the frame it maps, so it is a
 * descendant of that frame (and of the RAM under it): revoking the frame
 * deletes its mappings, and the frame's memory cannot be retyped while it is
 * mapped. A VNodeMapping's range is the lower table, likewise. The mapping
 * records its table and first entry in `param` (table address | entry) and
 * the table's level in its flags (CAP_FLAG_MAP_LEVEL).
 *
 * FrameMappings are kept out of the derivation database: each hangs in a
 * doubly linked list off the Frame or DevFrame CTE it was made through, so
 * creating and deleting one is O(1) (docs/capabilities.md). The frame's
 * range stands for the mapping's there: the frame outlives its mappings,
 * because deleting its last copy deletes them (delete.c), and deleting any
 * other copy hands its list to a copy that stays.
 */
#include "map.h"

#include "memlayout.h"
#include "mmu.h"
#include "sysreg.h"

#define ENTRIES 512u

static int vnode_level(uint8_t type)
{
    return (type >= OBJ_VNODE_L0 && type <= OBJ_VNODE_L3) ? type - OBJ_VNODE_L0 : -1;
}

/* Bytes one leaf entry maps at a level (levels 1-3; level 0 has no leaves). */
static uint64_t leaf_size(int level)
{
    return 1ull << (39 - 9 * level);
}

static bool is_table_source(int level, const struct capability *src)
{
    return level < 3 && src->type == OBJ_VNODE_L0 + level + 1;
}

static bool is_leaf_source(int level, const struct capability *src)
{
    return level >= 1 && (src->type == OBJ_FRAME || src->type == OBJ_DEVFRAME);
}

static errval_t check_source(int level, const struct capability *src, const struct map_args *a)
{
    if (is_table_source(level, src))
        return (a->count == 1 && a->offset == 0) ? SYS_ERR_OK : CAP_ERR_MAP_RANGE;
    if (!is_leaf_source(level, src))
        return CAP_ERR_MAP_TYPE;
    uint64_t page = leaf_size(level);
    if (a->offset % page != 0 || (src->base + a->offset) % page != 0 || a->offset >= src->size ||
        a->count > (src->size - a->offset) / page)
        return CAP_ERR_MAP_RANGE;
    if (!(a->rights & CAPRIGHTS_READ) || (a->rights & ~src->rights & CAPRIGHTS_ALL))
        return CAP_ERR_MAP_RIGHTS;
    if (src->type == OBJ_DEVFRAME && (a->rights & CAPRIGHTS_EXECUTE))
        return CAP_ERR_MAP_RIGHTS;      /* device registers are never executable */
    return SYS_ERR_OK;
}

static errval_t check_map(const struct cte *vnode, const struct cte *src, const struct map_args *a,
                          const struct cte *dest)
{
    int level = vnode_level(vnode->cap.type);
    if (level < 0)
        return CAP_ERR_WRONG_TYPE;
    if (!(vnode->cap.rights & CAPRIGHTS_WRITE))
        return CAP_ERR_NO_RIGHTS;
    if (cte_is_empty(src))
        return CAP_ERR_SLOT_EMPTY;
    if (!cte_is_empty(dest))
        return CAP_ERR_SLOT_OCCUPIED;
    if (a->count == 0 || a->entry >= ENTRIES || a->count > ENTRIES - a->entry)
        return CAP_ERR_VNODE_ENTRY;
    errval_t err = check_source(level, &src->cap, a);
    if (err_is_fail(err))
        return err;
    const pte_t *table = phys_to_virt(vnode->cap.base);
    for (uint64_t i = 0; i < a->count; i++)
        if (table[a->entry + i] & PTE_VALID)
            return CAP_ERR_VNODE_IN_USE;
    return SYS_ERR_OK;
}

static pte_t leaf_entry(int level, const struct capability *src, uint8_t rights, uint64_t pa)
{
    pte_t e = PTE_VALID | PTE_AF | PTE_NG | PTE_AP_USER | PTE_PXN | pa;
    e |= src->type == OBJ_DEVFRAME ? PTE_ATTR(MT_DEVICE_nGnRE) : (PTE_ATTR(MT_NORMAL) | PTE_SH_INNER);
    if (!(rights & CAPRIGHTS_WRITE))
        e |= PTE_AP_RO;
    if (!(rights & CAPRIGHTS_EXECUTE))
        e |= PTE_UXN;
    if (level == 3)
        e |= PTE_TABLE;             /* at level 3 this bit marks a page */
    return e;
}

struct cte *maplist_first(const struct cte *frame)
{
    return (struct cte *)frame->cap.param;
}

static void maplist_add(struct cte *frame, struct cte *m)
{
    struct cte *head = maplist_first(frame);
    m->map.prev = frame;
    m->map.next = head;
    if (head != NULL)
        head->map.prev = m;
    frame->cap.param = (uint64_t)m;
}

/* Make whatever points at m's place in the list (the previous mapping, or
 * the frame CTE for the first) point at `to` instead. */
static void point_prev_at(struct cte *m, struct cte *to)
{
    struct cte *prev = m->map.prev;
    if (prev->cap.type == OBJ_FRAME_MAPPING)
        prev->map.next = to;
    else
        prev->cap.param = (uint64_t)to;
}

void maplist_unlink(struct cte *m)
{
    point_prev_at(m, m->map.next);
    if (m->map.next != NULL)
        m->map.next->map.prev = m->map.prev;
}

/* Linear in from's list, which only a delete of a copy that is not the
 * last walks. */
void maplist_hand_over(struct cte *from, struct cte *to)
{
    struct cte *head = maplist_first(from);
    if (head == NULL)
        return;
    struct cte *tail = head;
    while (tail->map.next != NULL)
        tail = tail->map.next;
    struct cte *rest = maplist_first(to);
    tail->map.next = rest;
    if (rest != NULL)
        rest->map.prev = tail;
    head->map.prev = to;
    to->cap.param = (uint64_t)head;
    from->cap.param = 0;
}

void maplist_moved(struct cte *to)
{
    if (to->cap.type == OBJ_FRAME_MAPPING) {
        point_prev_at(to, to);
        if (to->map.next != NULL)
            to->map.next->map.prev = to;
    } else if (cap_has_maplist(&to->cap) && maplist_first(to) != NULL) {
        maplist_first(to)->map.prev = to;
    }
}

errval_t cap_map(struct cte *vnode, struct cte *src, const struct map_args *a, struct cte *dest)
{
    errval_t err = check_map(vnode, src, a, dest);
    if (err_is_fail(err))
        return err;
    int level = vnode_level(vnode->cap.type);
    pte_t *table = phys_to_virt(vnode->cap.base);
    struct capability m = {
        .rights = a->rights, .flags = CAP_FLAG_MAP_LEVEL(level),
        .extra = (uint32_t)a->count, .param = vnode->cap.base | a->entry,
    };
    if (is_table_source(level, &src->cap)) {
        table[a->entry] = src->cap.base | PTE_VALID | PTE_TABLE;
        m.type = OBJ_VNODE_MAPPING;
        m.base = src->cap.base;
        m.size = src->cap.size;
    } else {
        uint64_t page = leaf_size(level), pa = src->cap.base + a->offset;
        for (uint64_t i = 0; i < a->count; i++)
            table[a->entry + i] = leaf_entry(level, &src->cap, a->rights, pa + i * page);
        m.type = OBJ_FRAME_MAPPING;
        m.base = pa;
        m.size = a->count * page;
    }
    dsb_ishst();
    isb();
    if (m.type == OBJ_FRAME_MAPPING) {
        cte_set(dest, &m);
        maplist_add(src, dest);
    } else {
        cap_insert(dest, &m);
    }
    return SYS_ERR_OK;
}

/* Is there still a VNode of this level at this address? (A stale mapping
 * capability may outlive its table; then there is nothing to clear.) */
static bool table_alive(uint64_t pa, int level)
{
    struct cte probe = { .cap = { .type = (uint8_t)(OBJ_VNODE_L0 + level), .base = pa, .size = OBJSIZE_VNODE } };
    probe.mdb.rank = cap_mdb_rank(&probe.cap);
    return mdb_has_copies(&cap_mdb, &probe.mdb);
}

void mapping_remove(const struct capability *m)
{
    int level = CAP_MAP_LEVEL(m->flags);
    uint64_t table_pa = m->param & ~(uint64_t)(PAGE_SIZE - 1);
    uint64_t entry = m->param & (PAGE_SIZE - 1);
    if (!table_alive(table_pa, level))
        return;
    pte_t *table = phys_to_virt(table_pa);
    uint64_t page = m->type == OBJ_VNODE_MAPPING ? 0 : leaf_size(level);
    for (uint64_t i = 0; i < m->extra && entry + i < ENTRIES; i++) {
        if ((table[entry + i] & PTE_ADDR_MASK) == ((m->base + i * page) & PTE_ADDR_MASK))
            table[entry + i] = 0;
    }
    /* The table does not know its virtual address or ASID: flush them all. */
    __asm__ volatile("dsb ishst; tlbi vmalle1is; dsb ish; isb" ::: "memory");
}
