/*
 * pt_model.c — the page-table model: the tree of tables and runs described
 * in pt_model.h, changed only through the owner's pt_ops.
 *
 * A map is cut into chunks by a pure function of its arguments (chunk_at):
 * each chunk is the largest leaf the alignment allows, as many entries as
 * stay inside one table. Because the cut does not depend on the tree, the
 * records a map may need are counted and taken from the slab before the
 * lock is taken and before anything changes. Records a call frees are
 * kept on the same private list and given back to the slab after the lock
 * is released, so the slab (and its refill) is never entered under the
 * model's lock, and the slab may share that lock.
 */
#include "os/pt_model.h"

_Static_assert(PT_ENTRIES == (1u << PT_ENTRY_BITS), "a table has 2^9 entries");
_Static_assert(PT_PAGE_BITS + PT_ENTRY_BITS * PT_LEVELS == PT_VA_BITS,
               "four levels of 9 bits over 4 KiB pages translate 48 bits");
_Static_assert(offsetof(struct pt_node, slot) == 0, "a node is its slot head");
_Static_assert(offsetof(struct pt_run, slot) == 0, "a run is its slot head");
_Static_assert(PT_RECORD_SIZE <= 48, "records stay small: one per run or table");
_Static_assert(PT_RECORD_SIZE % 8 == 0, "records are junked a word at a time");
_Static_assert(PT_ENTRIES <= UINT16_MAX, "entry numbers and counts fit 16 bits");

/* Freed records are filled with this, so that a dangling use fails loudly. */
#define PT_JUNK 0xdb

/* Trap on a broken invariant the code relies on; there is no libc assert
 * in the freestanding world. */
#define PT_ASSERT(cond) \
    do {                        \
        if (!(cond))            \
            __builtin_trap();   \
    } while (0)

/* The arguments of one pt_map, carried together through its helpers. */
struct pt_map_req {
    uint64_t va, size;
    capaddr_t frame;
    uint64_t paddr;             /* the frame's base, or PT_PADDR_UNKNOWN */
    uint64_t offset;            /* frame offset mapped at va */
    unsigned flags;
};

/* One run of a map: `count` entries from `first` of a level-`level` table. */
struct pt_chunk {
    uint64_t va, offset, size;
    int level;
    unsigned first, count;
};


/* Where a walk towards an address stopped. */
struct pt_path {
    struct pt_node *node[PT_LEVELS];    /* the tables on the way, by level */
    int depth;                          /* level of the last table reached */
    struct pt_slot *leaf;               /* the run mapping the address, or NULL */
};

/* ---- Records ---------------------------------------------------------- */

static void reserve_push(struct pt_records *r, void *record)
{
    struct pt_slot *s = record;
    s->next = r->head;
    r->head = s;
    r->count++;
}

/* A record a call is done with: junk, so that a dangling use fails loudly. */
static void reserve_put(struct pt_records *r, void *record)
{
    uint64_t *w = record;
    for (size_t i = 0; i < PT_RECORD_SIZE / sizeof *w; i++)
        w[i] = 0x0101010101010101ull * PT_JUNK;
    reserve_push(r, record);
}

static void *reserve_take(struct pt_records *r)
{
    struct pt_slot *s = r->head;
    PT_ASSERT(s != NULL);   /* spare_ensure() counted every record */
    r->head = s->next;
    r->count--;
    return s;
}

/* Give every record on a private list back to the slab; without the lock. */
static void reserve_release(struct pt_model *m, struct pt_records *r)
{
    while (r->head != NULL)
        slab_free(&m->slab, reserve_take(r));
}

/*
 * With the lock held: make sure the model's spare list holds `n` records.
 * The slab is entered only with the lock released (it may share the lock),
 * so the records are taken onto a private list first and spliced in after.
 * Records freed by an operation go back onto the spare list, so the common
 * operations (a page mapped and unmapped again and again) never reach the
 * slab at all; when the slab must be entered, it gives at least
 * PT_SPARE_FILL records, so that pages mapped one by one enter it seldom.
 */
static errval_t spare_ensure(struct pt_model *m, size_t n)
{
    size_t want = n > PT_SPARE_FILL ? n : PT_SPARE_FILL;
    size_t taken = 0;
    while (m->spare.count < n) {
        size_t missing = want - m->spare.count;
        void *got[PT_SPARE_FILL];
        alloc_lock_release(&m->lock);
        size_t k = slab_alloc_many(&m->slab, got, missing < PT_SPARE_FILL ? missing : PT_SPARE_FILL);
        alloc_lock_acquire(&m->lock);
        for (size_t i = 0; i < k; i++)
            reserve_push(&m->spare, got[i]);    /* fresh from the slab: no junk needed */
        taken += k;
        if (k == 0) {
            struct pt_records back = { NULL, 0 };   /* nothing changes */
            for (; taken > 0 && m->spare.head != NULL; taken--)
                reserve_push(&back, reserve_take(&m->spare));
            alloc_lock_release(&m->lock);
            reserve_release(m, &back);
            alloc_lock_acquire(&m->lock);
            return err_push(LIB_ERR_SLAB_EMPTY, PT_ERR_NO_RECORDS);
        }
    }
    return SYS_ERR_OK;
}

/* With the lock held: move the spare records above PT_SPARE_MAX to `excess`,
 * for reserve_release once the lock is dropped. */
static void spare_trim(struct pt_model *m, struct pt_records *excess)
{
    while (m->spare.count > PT_SPARE_MAX)
        reserve_put(excess, reserve_take(&m->spare));
}

/* ---- A table's list of entries ---------------------------------------- */

/* Where a search for entry `idx` may start: the hint if it comes no later,
 * else the head. Pages are mostly mapped in rising order (a heap growing,
 * a stack, a file read), so the hint makes those searches O(1). */
static struct pt_slot *const *search_start(const struct pt_node *n, unsigned idx)
{
    if (n->hint != NULL && n->hint->first <= idx)
        return &n->hint;
    return &n->entries;
}

/* The child or run covering entry `idx`, or NULL. */
static struct pt_slot *node_find(const struct pt_node *n, unsigned idx)
{
    for (struct pt_slot *s = *search_start(n, idx); s != NULL && s->first <= idx; s = s->next) {
        if (idx < (unsigned)s->first + s->count)
            return s;
    }
    return NULL;
}

/* Entries before the search start end at or before it (they are sorted
 * and disjoint), so none of them can reach into the range. */
static bool node_range_free(const struct pt_node *n, unsigned first, unsigned count)
{
    for (struct pt_slot *s = *search_start(n, first); s != NULL && s->first < first + count;
         s = s->next) {
        if ((unsigned)s->first + s->count > first)
            return false;
    }
    return true;
}

static void node_insert(struct pt_node *n, struct pt_slot *rec)
{
    struct pt_slot **pp = &n->entries;
    if (n->hint != NULL && n->hint->first < rec->first)
        pp = &n->hint->next;
    while (*pp != NULL && (*pp)->first < rec->first)
        pp = &(*pp)->next;
    rec->next = *pp;
    *pp = rec;
    n->hint = rec;
    n->used = (uint16_t)(n->used + rec->count);
}

static void node_remove(struct pt_node *n, struct pt_slot *rec)
{
    struct pt_slot **pp = &n->entries;
    if (n->hint != NULL && n->hint != rec && n->hint->first < rec->first)
        pp = &n->hint->next;
    while (*pp != rec) {
        PT_ASSERT(*pp != NULL);     /* rec is on n's list */
        pp = &(*pp)->next;
    }
    *pp = rec->next;
    if (n->hint == rec)
        n->hint = NULL;
    n->used = (uint16_t)(n->used - rec->count);
}

/* Walk from the root towards `va` as far as tables exist. */
static void path_walk(struct pt_model *m, uint64_t va, struct pt_path *p)
{
    struct pt_node *n = &m->root;
    p->leaf = NULL;
    for (;;) {
        p->node[n->level] = n;
        p->depth = n->level;
        struct pt_slot *s = node_find(n, pt_index(va, n->level));
        if (s == NULL)
            return;
        if (!s->is_table) {
            p->leaf = s;
            return;
        }
        n = (struct pt_node *)s;
    }
}

/* The first address a run of a level-`level` table maps; `va` is any
 * address the table translates. */
static uint64_t run_va(uint64_t va, int level, const struct pt_slot *run)
{
    uint64_t table_span = pt_entry_size(level) * PT_ENTRIES;
    return (va & ~(table_span - 1)) + run->first * pt_entry_size(level);
}

/* ---- Cutting a map into runs ------------------------------------------ */

static bool block_fits(const struct pt_map_req *q, uint64_t va, uint64_t offset,
                       uint64_t left, uint64_t block)
{
    if (q->paddr == PT_PADDR_UNKNOWN || left < block)
        return false;
    return ((va | offset | (q->paddr + offset)) & (block - 1)) == 0;
}

/* The chunk of q starting `done` bytes in; false when none is left. A page
 * run always ends at its L3 table's end, which is where a 2 MiB block may
 * start, so taking the largest leaf at each step finds every block. */
static bool chunk_at(const struct pt_map_req *q, uint64_t done, struct pt_chunk *c)
{
    if (done >= q->size)
        return false;
    uint64_t va = q->va + done, offset = q->offset + done, left = q->size - done;
    int level = 3;
    if (block_fits(q, va, offset, left, PT_BLOCK_1G))
        level = 1;
    else if (block_fits(q, va, offset, left, PT_BLOCK_2M))
        level = 2;
    uint64_t esize = pt_entry_size(level);
    unsigned first = pt_index(va, level);
    uint64_t count = left / esize;
    if (count > PT_ENTRIES - first)
        count = PT_ENTRIES - first;
    *c = (struct pt_chunk){ .va = va, .offset = offset, .size = count * esize,
                            .level = level, .first = first, .count = (unsigned)count };
    return true;
}

/* An upper bound on the records q needs: one per run, and one per table
 * the runs pass through (chunks come in address order, so the tables of
 * one level are met one after the other). */
static size_t map_records_needed(const struct pt_map_req *q)
{
    uint64_t last_table[PT_LEVELS] = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
    size_t n = 0;
    struct pt_chunk c;
    for (uint64_t done = 0; chunk_at(q, done, &c); done += c.size) {
        n++;
        for (int level = 1; level <= c.level; level++) {
            uint64_t table = c.va / pt_entry_size(level - 1);
            if (table != last_table[level]) {
                last_table[level] = table;
                n++;
            }
        }
    }
    return n;
}

static errval_t range_check(uint64_t va, uint64_t size)
{
    if ((va & (PT_PAGE_SIZE - 1)) != 0 || va >= PT_VA_LIMIT)
        return PT_ERR_BAD_VA;
    if (size == 0 || (size & (PT_PAGE_SIZE - 1)) != 0 || size > PT_VA_LIMIT - va)
        return PT_ERR_BAD_SIZE;
    return SYS_ERR_OK;
}

/* ---- Changing the tree (lock held) ------------------------------------ */

static errval_t table_create(struct pt_model *m, struct pt_node *parent, unsigned idx,
                             struct pt_records *r, struct pt_node **out)
{
    capaddr_t vnode, link;
    errval_t err = m->ops->new_table(m->ops_arg, parent->level + 1, &vnode);
    if (err_is_fail(err))
        return err_push(err, PT_ERR_NEW_TABLE);
    err = m->ops->link(m->ops_arg, parent->vnode, idx, vnode, &link);
    if (err_is_fail(err)) {
        errval_t ferr = m->ops->free_table(m->ops_arg, vnode);
        return err_is_fail(ferr) ? err_push(ferr, PT_ERR_UNDO) : err_push(err, PT_ERR_LINK);
    }
    struct pt_node *n = reserve_take(r);
    *n = (struct pt_node){ .slot = { .first = (uint16_t)idx, .count = 1, .is_table = true,
                                     .mapping = link },
                           .vnode = vnode, .level = (uint8_t)(parent->level + 1) };
    node_insert(parent, &n->slot);
    m->ntables++;
    *out = n;
    return SYS_ERR_OK;
}

/* Unlink an empty table and free it. The node leaves the model once the
 * link is gone, even if free_table fails: the table is unreachable then. */
static errval_t table_delete(struct pt_model *m, struct pt_node *parent, struct pt_node *n,
                             struct pt_records *graveyard)
{
    PT_ASSERT(n->used == 0 && n->entries == NULL);
    errval_t err = m->ops->unmap(m->ops_arg, n->slot.mapping);
    if (err_is_fail(err))
        return err_push(err, PT_ERR_UNMAP);
    capaddr_t vnode = n->vnode;
    if (m->l3 == n)
        m->l3 = NULL;
    node_remove(parent, &n->slot);
    m->ntables--;
    reserve_put(graveyard, n);
    err = m->ops->free_table(m->ops_arg, vnode);
    return err_is_fail(err) ? err_push(err, PT_ERR_FREE_TABLE) : SYS_ERR_OK;
}

/* Free the tables of a walk that are empty, bottom up, never the root. */
static errval_t path_prune(struct pt_model *m, const struct pt_path *p,
                           struct pt_records *graveyard)
{
    for (int level = p->depth; level > 0 && p->node[level]->used == 0; level--) {
        errval_t err = table_delete(m, p->node[level - 1], p->node[level], graveyard);
        if (err_is_fail(err))
            return err;
    }
    return SYS_ERR_OK;
}

/* Map `count` entries from `first` of n to `frame` from `offset`, and
 * record the run (a record from r). */
static errval_t run_create(struct pt_model *m, struct pt_node *n, unsigned first, unsigned count,
                           capaddr_t frame, uint64_t offset, unsigned flags, struct pt_records *r)
{
    capaddr_t mapping;
    errval_t err = m->ops->map(m->ops_arg, n->vnode, first, frame, offset, count, flags, &mapping);
    if (err_is_fail(err))
        return err_push(err, PT_ERR_MAP);
    struct pt_run *run = reserve_take(r);
    run->slot.first = (uint16_t)first;
    run->slot.count = (uint16_t)count;
    run->slot.is_table = false;
    run->slot.mapping = mapping;
    run->frame = frame;
    run->flags = flags;
    run->offset = offset;
    node_insert(n, &run->slot);
    m->nruns++;
    return SYS_ERR_OK;
}

/* Unmap the run a walk found, then free the tables it leaves empty. */
static errval_t run_delete(struct pt_model *m, const struct pt_path *p,
                           struct pt_records *graveyard)
{
    struct pt_slot *run = p->leaf;
    errval_t err = m->ops->unmap(m->ops_arg, run->mapping);
    if (err_is_fail(err))
        return err_push(err, PT_ERR_UNMAP);
    node_remove(p->node[p->depth], run);
    m->nruns--;
    reserve_put(graveyard, run);
    return path_prune(m, p, graveyard);
}

/* ---- Unmap ------------------------------------------------------------ */

/* Is [va, end) exactly a sequence of runs? */
static errval_t unmap_check(struct pt_model *m, uint64_t va, uint64_t end)
{
    while (va < end) {
        struct pt_path p;
        path_walk(m, va, &p);
        if (p.leaf == NULL)
            return PT_ERR_NOT_MAPPED;
        uint64_t size = p.leaf->count * pt_entry_size(p.depth);
        if (run_va(va, p.depth, p.leaf) != va || size > end - va)
            return PT_ERR_SPLITS_RUN;
        va += size;
    }
    return SYS_ERR_OK;
}

/* Delete the runs of [va, end), which unmap_check() accepted. */
static errval_t unmap_act(struct pt_model *m, uint64_t va, uint64_t end,
                          struct pt_records *graveyard)
{
    while (va < end) {
        struct pt_path p;
        path_walk(m, va, &p);
        PT_ASSERT(p.leaf != NULL && run_va(va, p.depth, p.leaf) == va);
        uint64_t size = p.leaf->count * pt_entry_size(p.depth);
        errval_t err = run_delete(m, &p, graveyard);
        if (err_is_fail(err))
            return err;
        va += size;
    }
    return SYS_ERR_OK;
}

errval_t pt_unmap(struct pt_model *m, uint64_t va, uint64_t size)
{
    errval_t err = range_check(va, size);
    if (err_is_fail(err))
        return err;
    struct pt_records excess = { NULL, 0 };
    alloc_lock_acquire(&m->lock);
    err = unmap_check(m, va, va + size);
    if (err_is_ok(err))
        err = unmap_act(m, va, va + size, &m->spare);
    spare_trim(m, &excess);
    alloc_lock_release(&m->lock);
    reserve_release(m, &excess);
    return err;
}

/* ---- Map -------------------------------------------------------------- */

/* Is every entry a chunk would use free? The tables it would be created
 * in may be missing: then all of it is free. */
static errval_t chunk_check(struct pt_model *m, const struct pt_chunk *c)
{
    struct pt_path p;
    path_walk(m, c->va, &p);
    if (p.leaf != NULL)
        return PT_ERR_ALREADY_MAPPED;
    if (p.depth < c->level)
        return SYS_ERR_OK;
    /* Deeper than the chunk: a table, never empty, sits where a block goes. */
    if (p.depth > c->level || !node_range_free(p.node[c->level], c->first, c->count))
        return PT_ERR_ALREADY_MAPPED;
    return SYS_ERR_OK;
}

static errval_t map_check(struct pt_model *m, const struct pt_map_req *q)
{
    struct pt_chunk c;
    for (uint64_t done = 0; chunk_at(q, done, &c); done += c.size) {
        errval_t err = chunk_check(m, &c);
        if (err_is_fail(err))
            return err;
    }
    return SYS_ERR_OK;
}

static void result_count(struct pt_map_result *res, const struct pt_chunk *c)
{
    res->runs++;
    if (c->level == 1)
        res->blocks_1g += c->count;
    else if (c->level == 2)
        res->blocks_2m += c->count;
    else
        res->pages += c->count;
}

/* Make the missing tables on the way to a chunk, then its run. */
static errval_t chunk_map(struct pt_model *m, const struct pt_map_req *q,
                          const struct pt_chunk *c, struct pt_records *r,
                          struct pt_map_result *res)
{
    struct pt_node *n = &m->root;
    while (n->level < c->level) {
        unsigned idx = pt_index(c->va, n->level);
        struct pt_slot *s = node_find(n, idx);
        if (s == NULL) {
            errval_t err = table_create(m, n, idx, r, &n);
            if (err_is_fail(err))
                return err;
            res->tables_created++;
        } else {
            PT_ASSERT(s->is_table);     /* map_check() found no run on the way */
            n = (struct pt_node *)s;
        }
    }
    errval_t err = run_create(m, n, c->first, c->count, q->frame, c->offset, q->flags, r);
    if (err_is_ok(err))
        result_count(res, c);
    return err;
}

/* Undo a map that failed at `failed_va`: the runs before it were all made
 * by this call (the range was free), and so were the tables left empty. */
static errval_t map_undo(struct pt_model *m, const struct pt_map_req *q, uint64_t failed_va,
                         struct pt_records *graveyard)
{
    errval_t err = unmap_act(m, q->va, failed_va, graveyard);
    if (err_is_fail(err))
        return err;
    struct pt_path p;
    path_walk(m, failed_va, &p);
    return path_prune(m, &p, graveyard);
}

static errval_t map_act(struct pt_model *m, const struct pt_map_req *q, struct pt_records *r,
                        struct pt_map_result *res)
{
    struct pt_chunk c;
    for (uint64_t done = 0; chunk_at(q, done, &c); done += c.size) {
        errval_t err = chunk_map(m, q, &c, r, res);
        if (err_is_fail(err)) {
            errval_t uerr = map_undo(m, q, c.va, r);
            return err_is_fail(uerr) ? err_push(uerr, PT_ERR_UNDO) : err;
        }
    }
    return SYS_ERR_OK;
}

errval_t pt_map(struct pt_model *m, uint64_t va, capaddr_t frame, uint64_t frame_paddr,
                uint64_t frame_offset, uint64_t size, unsigned flags,
                struct pt_map_result *result)
{
    errval_t err = range_check(va, size);
    if (err_is_fail(err))
        return err;
    if ((frame_offset & (PT_PAGE_SIZE - 1)) != 0)
        return PT_ERR_BAD_OFFSET;
    struct pt_map_req q = { .va = va, .size = size, .frame = frame, .paddr = frame_paddr,
                            .offset = frame_offset, .flags = flags };
    struct pt_records excess = { NULL, 0 };
    struct pt_map_result res = { 0 };
    alloc_lock_acquire(&m->lock);
    err = spare_ensure(m, map_records_needed(&q));
    if (err_is_ok(err))
        err = map_check(m, &q);
    if (err_is_ok(err))
        err = map_act(m, &q, &m->spare, &res);
    spare_trim(m, &excess);
    alloc_lock_release(&m->lock);
    reserve_release(m, &excess);
    if (err_is_ok(err) && result != NULL)
        *result = res;
    return err;
}

/* l3_table's walk, out of line so that the common case (the table
 * remembered) needs no room for a path on the stack. */
static __attribute__((noinline)) struct pt_node *l3_table_walk(struct pt_model *m, uint64_t va)
{
    struct pt_path p;
    path_walk(m, va, &p);
    if (p.depth != 3)
        return NULL;
    m->l3 = p.node[3];
    m->l3_va = va & ~(PT_BLOCK_2M - 1);
    return m->l3;
}

/* With the lock held: the L3 table translating va, or NULL if there is
 * none (a table on the way, or the L3 table, is missing, or a block maps
 * va). The last one found is remembered until it is deleted. */
static inline struct pt_node *l3_table(struct pt_model *m, uint64_t va)
{
    if (m->l3 != NULL && m->l3_va == (va & ~(PT_BLOCK_2M - 1)))
        return m->l3;
    return l3_table_walk(m, va);
}

/* With the lock held: one spare record ready, and the L3 table holding va
 * (NULL if there is none yet, or a block maps va). */
static struct pt_node *page_prepare(struct pt_model *m, uint64_t va, errval_t *err)
{
    *err = m->spare.count >= 1 ? SYS_ERR_OK : spare_ensure(m, 1);
    return err_is_ok(*err) ? l3_table(m, va) : NULL;
}

errval_t pt_map_page(struct pt_model *m, uint64_t va, capaddr_t frame, unsigned flags)
{
    errval_t err = range_check(va, PT_PAGE_SIZE);
    if (err_is_fail(err))
        return err;
    alloc_lock_acquire(&m->lock);
    struct pt_node *n = page_prepare(m, va, &err);
    if (n != NULL) {
        unsigned idx = pt_index(va, 3);
        err = node_find(n, idx) != NULL ? PT_ERR_ALREADY_MAPPED
                                        : run_create(m, n, idx, 1, frame, 0, flags, &m->spare);
    }
    alloc_lock_release(&m->lock);
    if (err_is_ok(err) && n == NULL)    /* a table to make, or a block in the way */
        err = pt_map(m, va, frame, PT_PADDR_UNKNOWN, 0, PT_PAGE_SIZE, flags, NULL);
    return err;
}

/* The run record of pt_map_page's common case, without the ops->map. */
static void run_record(struct pt_model *m, struct pt_node *n, struct pt_run *run, unsigned idx,
                       capaddr_t frame, unsigned flags, capaddr_t mapping)
{
    run->slot.first = (uint16_t)idx;
    run->slot.count = 1;
    run->slot.is_table = false;
    run->slot.mapping = mapping;
    run->frame = frame;
    run->flags = flags;
    run->offset = 0;
    node_insert(n, &run->slot);
    m->nruns++;
}

errval_t pt_page_record(struct pt_model *m, uint64_t va, capaddr_t frame, unsigned flags,
                        capaddr_t mapping, struct pt_page *page)
{
    errval_t err = range_check(va, PT_PAGE_SIZE);
    if (err_is_fail(err))
        return err;
    alloc_lock_acquire(&m->lock);
    struct pt_node *n = page_prepare(m, va, &err);
    unsigned idx = pt_index(va, 3);
    if (err_is_ok(err) && n == NULL)
        err = PT_ERR_NO_TABLE;
    else if (n != NULL && node_find(n, idx) != NULL)
        err = PT_ERR_ALREADY_MAPPED;
    if (err_is_ok(err)) {
        struct pt_run *run = reserve_take(&m->spare);
        run_record(m, n, run, idx, frame, flags, mapping);
        *page = (struct pt_page){ .table = n, .run = run, .vnode = n->vnode, .entry = idx };
    }
    alloc_lock_release(&m->lock);
    return err;
}

void pt_page_unrecord(struct pt_model *m, const struct pt_page *page)
{
    alloc_lock_acquire(&m->lock);
    node_remove(page->table, &page->run->slot);
    m->nruns--;
    reserve_put(&m->spare, page->run);
    alloc_lock_release(&m->lock);
}

/* ---- Lookup and checks ------------------------------------------------ */

static void lookup_fill(const struct pt_node *n, const struct pt_slot *leaf, uint64_t start,
                        uint64_t va, struct pt_lookup_info *info)
{
    const struct pt_run *run = (const struct pt_run *)leaf;
    *info = (struct pt_lookup_info){
        .level = n->level, .run_va = start,
        .run_size = run->slot.count * pt_entry_size(n->level),
        .vnode = n->vnode, .first = run->slot.first,
        .count = run->slot.count, .frame = run->frame, .mapping = run->slot.mapping,
        .frame_offset = run->offset + (va - start), .flags = run->flags };
}

errval_t pt_lookup(struct pt_model *m, uint64_t va, struct pt_lookup_info *info)
{
    if (va >= PT_VA_LIMIT)
        return PT_ERR_BAD_VA;
    struct pt_path p;
    errval_t err = PT_ERR_NOT_MAPPED;
    alloc_lock_acquire(&m->lock);
    path_walk(m, va, &p);
    if (p.leaf != NULL) {
        lookup_fill(p.node[p.depth], p.leaf, run_va(va, p.depth, p.leaf), va, info);
        err = SYS_ERR_OK;
    }
    alloc_lock_release(&m->lock);
    return err;
}

/* The first run under table `n` (which maps from `base`) that ends after
 * `va` and starts before `end`; its table and first address go out. */
static const struct pt_slot *find_run(const struct pt_node *n, uint64_t base, uint64_t va,
                                      uint64_t end, const struct pt_node **table, uint64_t *start)
{
    uint64_t esz = pt_entry_size(n->level);
    for (const struct pt_slot *s = n->entries; s != NULL; s = s->next) {
        uint64_t lo = base + s->first * esz, hi = lo + s->count * esz;
        if (hi <= va)
            continue;
        if (lo >= end)
            return NULL;
        if (!s->is_table) {
            *table = n;
            *start = lo;
            return s;
        }
        const struct pt_slot *r = find_run((const struct pt_node *)s, lo, va, end, table, start);
        if (r != NULL)
            return r;
    }
    return NULL;
}

errval_t pt_find(struct pt_model *m, uint64_t va, uint64_t end, struct pt_lookup_info *info)
{
    if (va >= PT_VA_LIMIT || end > PT_VA_LIMIT)
        return PT_ERR_BAD_VA;
    const struct pt_node *table;
    uint64_t start;
    errval_t err = PT_ERR_NOT_MAPPED;
    alloc_lock_acquire(&m->lock);
    const struct pt_slot *run = find_run(&m->root, 0, va, end, &table, &start);
    if (run != NULL) {
        lookup_fill(table, run, start, start > va ? start : va, info);
        err = SYS_ERR_OK;
    }
    alloc_lock_release(&m->lock);
    return err;
}

static bool slot_ok(const struct pt_node *n, const struct pt_slot *s, size_t *ntables,
                    size_t *nruns);

/* One table: sorted, disjoint records inside the table, `used` right. */
static bool node_ok(const struct pt_node *n, size_t *ntables, size_t *nruns)
{
    unsigned used = 0, next_free = 0;
    for (const struct pt_slot *s = n->entries; s != NULL; s = s->next) {
        if (s->count == 0 || s->first < next_free || s->first + s->count > PT_ENTRIES)
            return false;
        next_free = s->first + s->count;
        used += s->count;
        if (!slot_ok(n, s, ntables, nruns))
            return false;
    }
    return used == n->used;
}

/* A child one level down, never empty; or a run at level 1-3 whose frame
 * offset suits the entry size. */
static bool slot_ok(const struct pt_node *n, const struct pt_slot *s, size_t *ntables,
                    size_t *nruns)
{
    if (s->is_table) {
        const struct pt_node *child = (const struct pt_node *)s;
        (*ntables)++;
        return s->count == 1 && n->level < PT_LEVELS - 1 && child->level == n->level + 1 &&
               child->used != 0 && node_ok(child, ntables, nruns);
    }
    const struct pt_run *run = (const struct pt_run *)s;
    (*nruns)++;
    return n->level > 0 && (run->offset & (pt_entry_size(n->level) - 1)) == 0;
}

errval_t pt_check(struct pt_model *m)
{
    size_t ntables = 0, nruns = 0;
    alloc_lock_acquire(&m->lock);
    bool ok = m->root.level == 0 && node_ok(&m->root, &ntables, &nruns) &&
              ntables == m->ntables && nruns == m->nruns;
    alloc_lock_release(&m->lock);
    return ok ? SYS_ERR_OK : PT_ERR_INVARIANT;
}

/* ---- Setup ------------------------------------------------------------ */

errval_t pt_model_init(struct pt_model *m, capaddr_t root_l0, const struct pt_ops *ops,
                       void *ops_arg, slab_refill_fn refill, void *refill_arg)
{
    /* Field by field, not a compound literal: zeroing the whole struct
     * would call memset, which the freestanding world does not have. */
    m->ops = ops;
    m->ops_arg = ops_arg;
    m->lock = (struct alloc_lock){ NULL, NULL, NULL };
    m->root = (struct pt_node){ .vnode = root_l0, .level = 0 };
    m->ntables = 0;
    m->nruns = 0;
    m->spare = (struct pt_records){ NULL, 0 };
    m->l3 = NULL;
    m->l3_va = 0;
    errval_t err = slab_init(&m->slab, PT_RECORD_SIZE, refill, refill_arg);
    return err_is_fail(err) ? err_push(err, PT_ERR_NO_RECORDS) : SYS_ERR_OK;
}

/* The slab shares the lock: the model never enters the slab with it held. */
void pt_model_set_lock(struct pt_model *m, const struct alloc_lock *lock)
{
    m->lock = *lock;
    slab_set_lock(&m->slab, lock);
}

errval_t pt_model_grow(struct pt_model *m, void *buf, size_t bytes)
{
    return slab_grow(&m->slab, buf, bytes);
}
