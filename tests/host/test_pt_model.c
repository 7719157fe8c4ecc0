/*
 * test_pt_model.c — the page-table model (lib/os/pt_model.c) against fake
 * "hardware": the fake ops keep a real 512-entry table per VNode cap and a
 * record per mapping cap, and fail the test on any call the kernel would
 * refuse (linking a table of the wrong level or into a used entry, a run
 * leaving its table or overlapping, a block at a misaligned address,
 * unmapping a dead cap, freeing a table that is linked or not empty).
 * They can be told to fail the n-th call, to show that a failed map leaves
 * the model and the tables exactly as before.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "os/pt_model.h"

/* Any code will do for a failing op; this one reads like the memory server
 * running out of RAM for a table. */
#define FAKE_ERR MM_ERR_OUT_OF_MEMORY

#define F_MAX_TABLES 2048
#define F_MAX_MAPS   65536
#define F_MAX_FRAMES 8
#define TABLE_BASE   0x1000u    /* table caps, mapping caps and frame caps */
#define MAP_BASE     0x100000u  /* live in different ranges, so that one */
#define FRAME_BASE   0x900u     /* passed for another fails the test */
#define ROOT_CAP     TABLE_BASE

#define KiB 1024ull
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

struct ftable {
    bool live, linked;
    int level;
    capaddr_t entry[PT_ENTRIES];        /* the mapping cap using it, or 0 */
};

struct fmap {
    bool live, is_link;
    capaddr_t table;
    unsigned first, count;
    capaddr_t child;                    /* a link: the table it links */
    capaddr_t frame;
    uint64_t offset;
};

struct fframe {
    uint64_t paddr, size;
};

static struct {
    struct ftable tables[F_MAX_TABLES];
    struct fmap maps[F_MAX_MAPS];
    struct fframe frames[F_MAX_FRAMES];
    unsigned nframes;
    size_t live_tables, live_maps;
    unsigned next_table, next_map;      /* where the search for a free id starts */
    unsigned long calls;                /* every op call so far */
    unsigned long fail_at;              /* fail the call with this number; 0: none */
    unsigned long new_tables, free_tables;
    bool use_lock, locked;
    unsigned refills;
} fake;

static struct pt_model model;

/* ---- Fake hardware ---------------------------------------------------- */

static struct ftable *ftable_of(capaddr_t cap)
{
    cr_assert(cap >= TABLE_BASE && cap < TABLE_BASE + F_MAX_TABLES, "cap %#x is not a table", cap);
    struct ftable *t = &fake.tables[cap - TABLE_BASE];
    cr_assert(t->live, "table %#x is dead", cap);
    return t;
}

static struct fmap *fmap_of(capaddr_t cap)
{
    cr_assert(cap >= MAP_BASE && cap < MAP_BASE + F_MAX_MAPS, "cap %#x is not a mapping", cap);
    struct fmap *f = &fake.maps[cap - MAP_BASE];
    cr_assert(f->live, "mapping %#x is dead", cap);
    return f;
}

/* Count the call; true if it is the one told to fail. Every op checks its
 * arguments first, so a failing call changes nothing. */
static bool fake_call_fails(void *arg)
{
    cr_assert_eq(arg, &fake);
    cr_assert(!fake.use_lock || fake.locked, "ops run with the model's lock held");
    fake.calls++;
    return fake.fail_at != 0 && fake.calls == fake.fail_at;
}

static capaddr_t fake_new_map(capaddr_t table, unsigned first, unsigned count)
{
    unsigned i = fake.next_map;
    while (fake.maps[i].live)
        i = (i + 1) % F_MAX_MAPS;
    fake.next_map = (i + 1) % F_MAX_MAPS;
    struct fmap *f = &fake.maps[i];
    *f = (struct fmap){ .live = true, .table = table, .first = first, .count = count };
    struct ftable *t = ftable_of(table);
    for (unsigned e = first; e < first + count; e++)
        t->entry[e] = MAP_BASE + i;
    fake.live_maps++;
    return MAP_BASE + i;
}

static errval_t fake_new_table(void *arg, int level, capaddr_t *vnode)
{
    cr_assert(level >= 1 && level <= 3, "only L1-L3 tables are made, not L%d", level);
    if (fake_call_fails(arg))
        return FAKE_ERR;
    unsigned i = fake.next_table;
    while (fake.tables[i].live)
        i = (i + 1) % F_MAX_TABLES;
    fake.next_table = (i + 1) % F_MAX_TABLES;
    fake.tables[i] = (struct ftable){ .live = true, .level = level };
    fake.live_tables++;
    fake.new_tables++;
    *vnode = TABLE_BASE + i;
    return SYS_ERR_OK;
}

static errval_t fake_free_table(void *arg, capaddr_t vnode)
{
    struct ftable *t = ftable_of(vnode);
    cr_assert_neq(vnode, ROOT_CAP, "the root is never freed");
    cr_assert_not(t->linked, "a table is unlinked before it is freed");
    for (unsigned e = 0; e < PT_ENTRIES; e++)
        cr_assert_eq(t->entry[e], 0, "freed table %#x has entry %u in use", vnode, e);
    if (fake_call_fails(arg))
        return FAKE_ERR;
    t->live = false;
    fake.live_tables--;
    fake.free_tables++;
    return SYS_ERR_OK;
}

static errval_t fake_link(void *arg, capaddr_t parent, unsigned entry, capaddr_t child,
                          capaddr_t *mapping)
{
    struct ftable *p = ftable_of(parent), *c = ftable_of(child);
    cr_assert_lt(entry, PT_ENTRIES);
    cr_assert_eq(p->entry[entry], 0, "link into a used entry");
    cr_assert_eq(c->level, p->level + 1, "an L%d table linked into an L%d", c->level, p->level);
    cr_assert_not(c->linked, "a table is linked once");
    if (fake_call_fails(arg))
        return FAKE_ERR;
    *mapping = fake_new_map(parent, entry, 1);
    fake.maps[*mapping - MAP_BASE].is_link = true;
    fake.maps[*mapping - MAP_BASE].child = child;
    c->linked = true;
    return SYS_ERR_OK;
}

static errval_t fake_map(void *arg, capaddr_t vnode, unsigned entry, capaddr_t frame,
                         uint64_t offset, unsigned count, unsigned flags, capaddr_t *mapping)
{
    struct ftable *t = ftable_of(vnode);
    cr_assert(t->level >= 1, "nothing maps frames into an L0 table");
    cr_assert(count >= 1 && entry + count <= PT_ENTRIES, "a run stays inside one table");
    for (unsigned e = entry; e < entry + count; e++)
        cr_assert_eq(t->entry[e], 0, "run over a used entry %u", e);
    cr_assert(frame >= FRAME_BASE && frame < FRAME_BASE + fake.nframes, "unknown frame");
    const struct fframe *f = &fake.frames[frame - FRAME_BASE];
    uint64_t esize = pt_entry_size(t->level);
    cr_assert_eq(offset % esize, 0, "offset misaligned for an L%d entry", t->level);
    cr_assert_eq((f->paddr + offset) % esize, 0, "block at a misaligned physical address");
    cr_assert_leq(offset + count * esize, f->size, "run past the frame's end");
    cr_assert_eq(flags, 3, "flags pass through");
    if (fake_call_fails(arg))
        return FAKE_ERR;
    *mapping = fake_new_map(vnode, entry, count);
    fake.maps[*mapping - MAP_BASE].frame = frame;
    fake.maps[*mapping - MAP_BASE].offset = offset;
    return SYS_ERR_OK;
}

static errval_t fake_unmap(void *arg, capaddr_t mapping)
{
    struct fmap *f = fmap_of(mapping);
    if (fake_call_fails(arg))
        return FAKE_ERR;
    struct ftable *t = ftable_of(f->table);
    for (unsigned e = f->first; e < f->first + f->count; e++)
        t->entry[e] = 0;
    if (f->is_link)
        ftable_of(f->child)->linked = false;
    f->live = false;
    fake.live_maps--;
    return SYS_ERR_OK;
}

static const struct pt_ops fake_ops = {
    .new_table = fake_new_table, .free_table = fake_free_table, .link = fake_link,
    .map = fake_map, .unmap = fake_unmap,
};

/* What the fake translates `va` to: false if no page maps it. */
static bool fake_translate(uint64_t va, capaddr_t *frame, uint64_t *offset, int *level)
{
    capaddr_t table = ROOT_CAP;
    for (int l = 0; l < PT_LEVELS; l++) {
        capaddr_t cap = ftable_of(table)->entry[pt_index(va, l)];
        if (cap == 0)
            return false;
        struct fmap *f = fmap_of(cap);
        if (f->is_link) {
            table = f->child;
            continue;
        }
        uint64_t esize = pt_entry_size(l);
        *frame = f->frame;
        *offset = f->offset + (pt_index(va, l) - f->first) * esize + va % esize;
        *level = l;
        return true;
    }
    cr_assert_fail("an L3 entry links a table");
    return false;
}

/* A digest of every live table and mapping the root reaches, by address,
 * so that two states compare equal whatever the cap numbers. */
static uint64_t mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001b3ull;
}

static uint64_t digest_table(capaddr_t table, uint64_t va_base)
{
    const struct ftable *t = ftable_of(table);
    uint64_t h = mix(0xcbf29ce484222325ull, (uint64_t)t->level);
    for (unsigned e = 0; e < PT_ENTRIES; e++) {
        if (t->entry[e] == 0)
            continue;
        const struct fmap *f = fmap_of(t->entry[e]);
        uint64_t va = va_base + e * pt_entry_size(t->level);
        h = mix(mix(h, va), f->is_link);
        if (f->is_link)
            h = mix(h, digest_table(f->child, va));
        else
            h = mix(mix(mix(h, f->frame), f->offset), e - f->first);
    }
    return h;
}

static uint64_t fake_digest(void)
{
    return mix(mix(digest_table(ROOT_CAP, 0), fake.live_tables), fake.live_maps);
}

/* ---- Model setup ------------------------------------------------------ */

static void fake_lock(void *arg)
{
    cr_assert_eq(arg, &fake);
    cr_assert_not(fake.locked, "the lock is never taken twice");
    fake.locked = true;
}

static void fake_unlock(void *arg)
{
    cr_assert_eq(arg, &fake);
    cr_assert(fake.locked);
    fake.locked = false;
}

/* The OS maps a fresh page of records; here, a heap block. */
static errval_t fake_refill(struct slab_allocator *slab, void *arg)
{
    cr_assert_eq(arg, &fake);
    cr_assert_not(fake.locked, "the slab refill runs without the model's lock");
    fake.refills++;
    void *page = aligned_alloc(4096, 4096);
    cr_assert_not_null(page);
    return slab_grow(slab, page, 4096);
}

static capaddr_t add_frame(uint64_t paddr, uint64_t size)
{
    cr_assert_lt(fake.nframes, F_MAX_FRAMES);
    fake.frames[fake.nframes] = (struct fframe){ paddr, size };
    return FRAME_BASE + fake.nframes++;
}

static void setup(void)
{
    memset(&fake, 0, sizeof fake);
    fake.tables[0] = (struct ftable){ .live = true, .linked = true, .level = 0 };
    fake.live_tables = 1;
    fake.next_table = 1;
    cr_assert(err_is_ok(pt_model_init(&model, ROOT_CAP, &fake_ops, &fake, fake_refill, &fake)));
    struct alloc_lock lock = { fake_lock, fake_unlock, &fake };
    pt_model_set_lock(&model, &lock);
    fake.use_lock = true;
}

TestSuite(pt_model, .init = setup);

static void check_model(void)
{
    errval_t err = pt_check(&model);
    cr_assert(err_is_ok(err), "pt_check: %s", err_getcode(err_no(err)));
    cr_assert_eq(fake.live_tables, model.ntables + 1, "the model knows every table");
    cr_assert_eq(fake.live_maps, model.nruns + model.ntables, "and every mapping cap");
}

static struct pt_map_result map_ok(uint64_t va, capaddr_t frame, uint64_t offset, uint64_t size)
{
    struct pt_map_result res;
    errval_t err = pt_map(&model, va, frame, fake.frames[frame - FRAME_BASE].paddr, offset, size,
                          3, &res);
    cr_assert(err_is_ok(err), "pt_map(%#llx, %#llx): %s", (unsigned long long)va,
              (unsigned long long)size, err_getcode(err_no(err)));
    check_model();
    return res;
}

static void expect_mapped(uint64_t va, capaddr_t frame, uint64_t offset, int level)
{
    struct pt_lookup_info info;
    cr_assert(err_is_ok(pt_lookup(&model, va, &info)), "%#llx is mapped", (unsigned long long)va);
    cr_assert_eq(info.frame, frame);
    cr_assert_eq(info.frame_offset, offset);
    cr_assert_eq(info.level, level);
    capaddr_t fframe;
    uint64_t foffset;
    int flevel;
    cr_assert(fake_translate(va, &fframe, &foffset, &flevel), "the fake maps it too");
    cr_assert_eq(fframe, frame);
    cr_assert_eq(foffset, offset);
    cr_assert_eq(flevel, level);
}

static void expect_unmapped(uint64_t va)
{
    struct pt_lookup_info info;
    capaddr_t f;
    uint64_t o;
    int l;
    cr_assert_eq(err_no(pt_lookup(&model, va, &info)), PT_ERR_NOT_MAPPED);
    cr_assert_not(fake_translate(va, &f, &o, &l));
}

/* Entries in use in the table that translates `va` at `level`. */
static unsigned fake_entries_used(uint64_t va, int level)
{
    capaddr_t table = ROOT_CAP;
    for (int l = 0; l < level; l++)
        table = fmap_of(ftable_of(table)->entry[pt_index(va, l)])->child;
    unsigned n = 0;
    for (unsigned e = 0; e < PT_ENTRIES; e++)
        n += ftable_of(table)->entry[e] != 0;
    return n;
}

/* ---- Mapping ---------------------------------------------------------- */

Test(pt_model, map_one_page_makes_three_tables_and_one_run)
{
    capaddr_t f = add_frame(0x40000000, 64 * KiB);
    struct pt_map_result res = map_ok(0x400000, f, 0, 4 * KiB);
    cr_assert_eq(res.runs, 1);
    cr_assert_eq(res.pages, 1);
    cr_assert_eq(res.tables_created, 3);
    cr_assert_eq(fake.new_tables, 3);
    expect_mapped(0x400000, f, 0, 3);
    expect_mapped(0x400abc, f, 0xabc, 3);
    expect_unmapped(0x401000);
    expect_unmapped(0x3ff000);
}

Test(pt_model, map_5mib_at_2mib_aligned_va_and_frame_uses_two_blocks_and_256_pages)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    uint64_t va = 5 * 2 * MiB;
    struct pt_map_result res = map_ok(va, f, 0, 5 * MiB);
    cr_assert_eq(res.blocks_2m, 2);
    cr_assert_eq(res.pages, 256);
    cr_assert_eq(res.blocks_1g, 0);
    cr_assert_eq(res.runs, 2, "one run of blocks, one of pages");
    cr_assert_eq(res.tables_created, 3);
    cr_assert_eq(fake_entries_used(va, 2), 3, "two blocks and the L3 table");
    cr_assert_eq(fake_entries_used(va + 4 * MiB, 3), 256);
    expect_mapped(va, f, 0, 2);
    expect_mapped(va + 2 * MiB + 0x1234, f, 2 * MiB + 0x1234, 2);
    expect_mapped(va + 4 * MiB, f, 4 * MiB, 3);
    expect_mapped(va + 5 * MiB - 4 * KiB, f, 5 * MiB - 4 * KiB, 3);
    expect_unmapped(va + 5 * MiB);
}

Test(pt_model, map_5mib_at_misaligned_va_uses_pages_only_one_run_per_l3_table)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    uint64_t va = 2 * MiB + 4 * KiB;
    struct pt_map_result res = map_ok(va, f, 0, 5 * MiB);
    cr_assert_eq(res.blocks_2m, 0);
    cr_assert_eq(res.pages, 1280);
    cr_assert_eq(res.runs, 3, "511 + 512 + 257 pages");
    cr_assert_eq(fake_entries_used(va, 3), 511);
    cr_assert_eq(fake_entries_used(4 * MiB, 3), 512);
    cr_assert_eq(fake_entries_used(6 * MiB, 3), 257);
    expect_mapped(va + 3 * MiB, f, 3 * MiB, 3);
}

Test(pt_model, map_with_unknown_physical_address_uses_pages_only)
{
    capaddr_t f = add_frame(0x80000000, 4 * MiB);
    struct pt_map_result res;
    cr_assert(err_is_ok(pt_map(&model, 2 * MiB, f, PT_PADDR_UNKNOWN, 0, 4 * MiB, 3, &res)));
    cr_assert_eq(res.blocks_2m, 0);
    cr_assert_eq(res.pages, 1024);
    check_model();
}

Test(pt_model, map_with_frame_misaligned_to_va_uses_pages_only)
{
    capaddr_t f = add_frame(0x80001000, 4 * MiB);
    struct pt_map_result res = map_ok(2 * MiB, f, 0, 2 * MiB);
    cr_assert_eq(res.blocks_2m, 0);
    cr_assert_eq(res.pages, 512);
}

Test(pt_model, map_across_l3_l2_and_l1_table_boundaries_splits_runs_per_table)
{
    capaddr_t f = add_frame(0x40000000, 64 * KiB);
    uint64_t va = 512 * GiB - 8 * KiB;     /* the last two pages of L0 entry 0 */
    struct pt_map_result res = map_ok(va, f, 0, 16 * KiB);
    cr_assert_eq(res.runs, 2);
    cr_assert_eq(res.tables_created, 6, "L1, L2, L3 on each side");
    expect_mapped(va, f, 0, 3);
    expect_mapped(512 * GiB, f, 8 * KiB, 3);
    expect_mapped(512 * GiB + 4 * KiB, f, 12 * KiB, 3);
    cr_assert_eq(fake_entries_used(0, 0), 2);
}

Test(pt_model, map_1gib_aligned_uses_a_1gib_block_then_2mib_blocks_then_pages)
{
    capaddr_t f = add_frame(4 * GiB, 2 * GiB);
    struct pt_map_result res = map_ok(GiB, f, 0, GiB + 2 * MiB + 4 * KiB);
    cr_assert_eq(res.blocks_1g, 1);
    cr_assert_eq(res.blocks_2m, 1);
    cr_assert_eq(res.pages, 1);
    cr_assert_eq(res.runs, 3);
    expect_mapped(GiB + 12345 * 4 * KiB, f, 12345 * 4 * KiB, 1);
    expect_mapped(2 * GiB, f, GiB, 2);
    expect_mapped(2 * GiB + 2 * MiB, f, GiB + 2 * MiB, 3);
}

Test(pt_model, same_frame_maps_at_17_addresses_and_unmaps_to_nothing)
{
    capaddr_t f = add_frame(0x80000000, 4 * MiB);
    for (uint64_t i = 0; i < 17; i++)
        map_ok(0x10000000 + i * 4 * MiB, f, 0, 2 * MiB + 64 * KiB);
    for (uint64_t i = 0; i < 17; i++) {
        expect_mapped(0x10000000 + i * 4 * MiB, f, 0, 2);
        expect_mapped(0x10000000 + i * 4 * MiB + 2 * MiB + 60 * KiB, f, 2 * MiB + 60 * KiB, 3);
    }
    for (uint64_t i = 0; i < 17; i++) {
        cr_assert(err_is_ok(pt_unmap(&model, 0x10000000 + i * 4 * MiB, 2 * MiB + 64 * KiB)));
        check_model();
    }
    cr_assert_eq(model.ntables, 0);
    cr_assert_eq(fake.live_tables, 1, "only the root is left");
    cr_assert_eq(fake.live_maps, 0);
}

Test(pt_model, map_over_an_existing_mapping_is_refused_and_changes_nothing)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(4 * MiB, f, 0, 5 * MiB);             /* blocks at 4-8 MiB, pages 8-9 MiB */
    map_ok(12 * MiB + 8 * KiB, f, 0, 4 * KiB);  /* one page in another L3 table */
    uint64_t before = fake_digest();
    unsigned long calls = fake.calls;
    static const uint64_t clash[][2] = {
        { 4 * MiB, 4 * KiB },                   /* a page inside a block */
        { 9 * MiB - 4 * KiB, 8 * KiB },         /* the last page and one more */
        { 2 * MiB, 4 * MiB },                   /* a block run ending in a block */
        { 12 * MiB, 2 * MiB },                  /* a block where an L3 table is */
        { 0, 64 * MiB },
    };
    for (size_t i = 0; i < sizeof clash / sizeof clash[0]; i++) {
        errval_t err = pt_map(&model, clash[i][0], f, 0x80000000, 0, clash[i][1], 3, NULL);
        cr_assert_eq(err_no(err), PT_ERR_ALREADY_MAPPED, "case %zu", i);
    }
    cr_assert_eq(fake.calls, calls, "refused before any op was called");
    cr_assert_eq(fake_digest(), before);
    check_model();
}

Test(pt_model, bad_addresses_sizes_and_offsets_are_refused)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    cr_assert_eq(err_no(pt_map(&model, 0x1001, f, 0, 0, 4 * KiB, 3, NULL)), PT_ERR_BAD_VA);
    cr_assert_eq(err_no(pt_map(&model, PT_VA_LIMIT, f, 0, 0, 4 * KiB, 3, NULL)), PT_ERR_BAD_VA);
    cr_assert_eq(err_no(pt_map(&model, 0xffff000000000000ull, f, 0, 0, 4 * KiB, 3, NULL)),
                 PT_ERR_BAD_VA, "kernel-half addresses are not ours");
    cr_assert_eq(err_no(pt_map(&model, 0, f, 0, 0, 0, 3, NULL)), PT_ERR_BAD_SIZE);
    cr_assert_eq(err_no(pt_map(&model, 0, f, 0, 0, 100, 3, NULL)), PT_ERR_BAD_SIZE);
    cr_assert_eq(err_no(pt_map(&model, PT_VA_LIMIT - 4 * KiB, f, 0, 0, 8 * KiB, 3, NULL)),
                 PT_ERR_BAD_SIZE);
    cr_assert_eq(err_no(pt_map(&model, 0, f, 0, 512, 4 * KiB, 3, NULL)), PT_ERR_BAD_OFFSET);
    cr_assert_eq(err_no(pt_unmap(&model, 0x1001, 4 * KiB)), PT_ERR_BAD_VA);
    cr_assert_eq(err_no(pt_unmap(&model, 0, 0)), PT_ERR_BAD_SIZE);
    struct pt_lookup_info info;
    cr_assert_eq(err_no(pt_lookup(&model, PT_VA_LIMIT, &info)), PT_ERR_BAD_VA);
    cr_assert_eq(fake.calls, 0);
    check_model();
}

Test(pt_model, last_page_below_2_pow_48_can_be_mapped)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(PT_VA_LIMIT - 4 * KiB, f, 0, 4 * KiB);
    expect_mapped(PT_VA_LIMIT - 1, f, 4 * KiB - 1, 3);
}

/* ---- Unmapping -------------------------------------------------------- */

/* ---- pt_map_page: the fault handler's one page ------------------------ */

static void map_page_ok(uint64_t va, capaddr_t frame)
{
    errval_t err = pt_map_page(&model, va, frame, 3);
    cr_assert(err_is_ok(err), "pt_map_page(%#llx): %s", (unsigned long long)va, err_getcode(err_no(err)));
    check_model();
}

Test(pt_model, map_page_into_an_existing_l3_table_is_one_map_call)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB), g = add_frame(0x90000000, 4 * KiB);
    map_ok(0x400000, f, 0, 4 * KiB);
    unsigned long calls = fake.calls;
    map_page_ok(0x401000, g);
    map_page_ok(0x5ff000, g);           /* the same table's last entry */
    cr_assert_eq(fake.calls, calls + 2, "no table made, one call each");
    expect_mapped(0x401000, g, 0, 3);
    expect_mapped(0x5ff000, g, 0, 3);
}

Test(pt_model, map_page_without_tables_makes_them_as_pt_map_does)
{
    capaddr_t g = add_frame(0x90000000, 4 * KiB);
    map_page_ok(0x7f0000201000, g);
    cr_assert_eq(fake.new_tables, 3);
    expect_mapped(0x7f0000201000, g, 0, 3);
    expect_unmapped(0x7f0000200000);
}

Test(pt_model, map_page_over_a_page_or_a_block_is_refused_and_changes_nothing)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB), g = add_frame(0x90000000, 4 * KiB);
    map_ok(4 * MiB, f, 0, 5 * MiB);             /* blocks at 4-8 MiB, pages 8-9 MiB */
    uint64_t before = fake_digest();
    unsigned long calls = fake.calls;
    cr_assert_eq(err_no(pt_map_page(&model, 8 * MiB + 4 * KiB, g, 3)), PT_ERR_ALREADY_MAPPED);
    cr_assert_eq(err_no(pt_map_page(&model, 6 * MiB, g, 3)), PT_ERR_ALREADY_MAPPED, "inside a block");
    cr_assert_eq(err_no(pt_map_page(&model, 0x1001, g, 3)), PT_ERR_BAD_VA);
    cr_assert_eq(err_no(pt_map_page(&model, PT_VA_LIMIT, g, 3)), PT_ERR_BAD_VA);
    cr_assert_eq(fake.calls, calls);
    cr_assert_eq(fake_digest(), before);
    check_model();
}

Test(pt_model, map_page_forgets_a_remembered_table_once_it_is_freed)
{
    capaddr_t g = add_frame(0x90000000, 4 * KiB);
    map_page_ok(0x400000, g);                   /* makes the tables */
    map_page_ok(0x402000, g);                   /* finds the L3 table, remembers it */
    cr_assert(err_is_ok(pt_unmap(&model, 0x400000, 4 * KiB)));
    cr_assert(err_is_ok(pt_unmap(&model, 0x402000, 4 * KiB)));
    cr_assert_eq(model.ntables, 0, "the remembered L3 table is gone");
    map_page_ok(0x401000, g);                   /* same 2 MiB: the table is made anew */
    cr_assert_eq(fake.new_tables, 6);
    expect_mapped(0x401000, g, 0, 3);
}

/* ---- pt_page_record: pt_map_page with the caller's own map ------------ */

/* The id fake_new_map will give next (its search, without taking it). */
static capaddr_t fake_next_map_id(void)
{
    unsigned i = fake.next_map;
    while (fake.maps[i].live)
        i = (i + 1) % F_MAX_MAPS;
    return MAP_BASE + i;
}

Test(pt_model, page_record_and_the_callers_map_make_what_pt_map_page_makes)
{
    capaddr_t g = add_frame(0x90000000, 4 * KiB);
    map_page_ok(0x400000, g);                   /* the L3 table exists */
    unsigned long calls = fake.calls;
    capaddr_t mapping = fake_next_map_id();
    struct pt_page page;
    cr_assert(err_is_ok(pt_page_record(&model, 0x403000, g, 3, mapping, &page)));
    cr_assert_eq(fake.calls, calls, "the record makes no ops call");
    /* The caller's map, made outside the model (and its lock). */
    capaddr_t made = fake_new_map(page.vnode, page.entry, 1);
    fake.maps[made - MAP_BASE].frame = g;
    cr_assert_eq(made, mapping);
    cr_assert_eq(page.entry, 3);
    check_model();
    expect_mapped(0x403000, g, 0, 3);
    cr_assert(err_is_ok(pt_unmap(&model, 0x403000, 4 * KiB)), "the run unmaps with its mapping");
    expect_unmapped(0x403000);
    check_model();
}

Test(pt_model, page_unrecord_after_a_failed_map_leaves_the_model_as_it_was)
{
    capaddr_t g = add_frame(0x90000000, 4 * KiB);
    map_page_ok(0x400000, g);
    map_page_ok(0x402000, g);
    uint64_t before = fake_digest();
    size_t runs = model.nruns;
    struct pt_page page;
    cr_assert(err_is_ok(pt_page_record(&model, 0x401000, g, 3, MAP_BASE + F_MAX_MAPS - 1, &page)));
    cr_assert_eq(model.nruns, runs + 1);
    pt_page_unrecord(&model, &page);            /* as if the caller's map failed */
    cr_assert_eq(model.nruns, runs);
    cr_assert_eq(fake_digest(), before);
    check_model();
    expect_unmapped(0x401000);
    map_page_ok(0x401000, g);                   /* and the page can be mapped after all */
    expect_mapped(0x401000, g, 0, 3);
}

Test(pt_model, page_record_refuses_no_table_a_mapped_page_and_bad_addresses_changing_nothing)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB), g = add_frame(0x90000000, 4 * KiB);
    map_ok(4 * MiB, f, 0, 5 * MiB);             /* blocks at 4-8 MiB, pages 8-9 MiB */
    uint64_t before = fake_digest();
    unsigned long calls = fake.calls;
    size_t runs = model.nruns;
    struct pt_page page;
    cr_assert_eq(err_no(pt_page_record(&model, 64 * MiB, g, 3, MAP_BASE, &page)), PT_ERR_NO_TABLE);
    cr_assert_eq(err_no(pt_page_record(&model, 6 * MiB, g, 3, MAP_BASE, &page)), PT_ERR_NO_TABLE,
                 "a block, not a table, covers it");
    cr_assert_eq(err_no(pt_page_record(&model, 8 * MiB, g, 3, MAP_BASE, &page)), PT_ERR_ALREADY_MAPPED);
    cr_assert_eq(err_no(pt_page_record(&model, 0x1001, g, 3, MAP_BASE, &page)), PT_ERR_BAD_VA);
    cr_assert_eq(err_no(pt_page_record(&model, PT_VA_LIMIT, g, 3, MAP_BASE, &page)), PT_ERR_BAD_VA);
    cr_assert_eq(fake.calls, calls);
    cr_assert_eq(model.nruns, runs);
    cr_assert_eq(fake_digest(), before);
    check_model();
}

Test(pt_model, unmap_of_the_only_page_frees_its_three_tables)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(0x400000, f, 0, 4 * KiB);
    cr_assert(err_is_ok(pt_unmap(&model, 0x400000, 4 * KiB)));
    check_model();
    cr_assert_eq(fake.free_tables, 3);
    cr_assert_eq(model.ntables, 0);
    cr_assert_eq(fake_entries_used(0, 0), 0, "the root is empty again");
    expect_unmapped(0x400000);
}

Test(pt_model, unmap_keeps_tables_that_still_hold_other_mappings)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(0x400000, f, 0, 4 * KiB);
    map_ok(0x600000, f, 0, 4 * KiB);            /* same L2, another L3 table */
    cr_assert(err_is_ok(pt_unmap(&model, 0x400000, 4 * KiB)));
    check_model();
    cr_assert_eq(fake.free_tables, 1, "only the emptied L3 table");
    expect_mapped(0x600000, f, 0, 3);
}

Test(pt_model, unmap_of_a_multi_run_mapping_removes_every_run)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(2 * MiB - 8 * KiB, f, 0x1fe000, 5 * MiB);
    cr_assert(err_is_ok(pt_unmap(&model, 2 * MiB - 8 * KiB, 5 * MiB)));
    check_model();
    cr_assert_eq(model.nruns, 0);
    cr_assert_eq(fake.live_tables, 1);
}

Test(pt_model, unmap_of_never_mapped_pages_is_refused_and_changes_nothing)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    cr_assert_eq(err_no(pt_unmap(&model, 0x400000, 4 * KiB)), PT_ERR_NOT_MAPPED);
    map_ok(0x400000, f, 0, 8 * KiB);
    uint64_t before = fake_digest();
    unsigned long calls = fake.calls;
    cr_assert_eq(err_no(pt_unmap(&model, 0x400000, 12 * KiB)), PT_ERR_NOT_MAPPED);
    cr_assert_eq(err_no(pt_unmap(&model, 0x3ff000, 12 * KiB)), PT_ERR_NOT_MAPPED);
    cr_assert_eq(err_no(pt_unmap(&model, 0x40000000, 4 * KiB)), PT_ERR_NOT_MAPPED);
    cr_assert_eq(fake.calls, calls);
    cr_assert_eq(fake_digest(), before);
    check_model();
}

Test(pt_model, unmap_of_part_of_a_run_is_refused_and_changes_nothing)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(2 * MiB, f, 0, 4 * MiB);             /* one run of two blocks */
    map_ok(8 * MiB, f, 0, 16 * KiB);            /* one run of four pages */
    uint64_t before = fake_digest();
    cr_assert_eq(err_no(pt_unmap(&model, 2 * MiB, 2 * MiB)), PT_ERR_SPLITS_RUN);
    cr_assert_eq(err_no(pt_unmap(&model, 2 * MiB + 4 * KiB, 4 * KiB)), PT_ERR_SPLITS_RUN);
    cr_assert_eq(err_no(pt_unmap(&model, 8 * MiB + 4 * KiB, 12 * KiB)), PT_ERR_SPLITS_RUN);
    cr_assert_eq(err_no(pt_unmap(&model, 8 * MiB, 8 * KiB)), PT_ERR_SPLITS_RUN);
    cr_assert_eq(fake.calls, 3 * 2 + 2, "three tables, two runs, no more calls");
    cr_assert_eq(fake_digest(), before);
    check_model();
}

Test(pt_model, unmap_of_two_adjacent_mappings_at_once_is_allowed)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(8 * MiB, f, 0, 16 * KiB);
    map_ok(8 * MiB + 16 * KiB, f, 0, 4 * KiB);
    cr_assert(err_is_ok(pt_unmap(&model, 8 * MiB, 20 * KiB)));
    check_model();
    cr_assert_eq(fake.live_tables, 1);
}

/* ---- Failure injection ------------------------------------------------ */

/* Map a large range crossing a 1 GiB boundary, with blocks and pages, and
 * fail each op call in turn: every failure leaves everything as before. */
static void fail_every_call_of_a_large_map(bool with_neighbour)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    if (with_neighbour)
        map_ok(GiB - 2 * MiB - 16 * KiB, f, 0, 4 * KiB);   /* its L1, L2, L3 preexist */
    uint64_t va = GiB - 2 * MiB - 8 * KiB, size = 8 * KiB + 4 * MiB + 12 * KiB;
    uint64_t offset = 2 * MiB - 8 * KiB;        /* congruent: blocks from 1 GiB - 2 MiB */
    uint64_t before = fake_digest();
    size_t nruns = model.nruns, ntables = model.ntables;
    errval_t err;
    unsigned long n = 0;
    do {
        n++;
        fake.fail_at = fake.calls + n;
        err = pt_map(&model, va, f, 0x80000000, offset, size, 3, NULL);
        fake.fail_at = 0;
        check_model();
        if (err_is_ok(err))
            break;
        cr_assert(err_contains(err, FAKE_ERR), "call %lu: the op's error is passed on", n);
        cr_assert_not(err_contains(err, PT_ERR_UNDO), "call %lu: the undo worked", n);
        cr_assert_eq(fake_digest(), before, "call %lu: the tables are as before", n);
        cr_assert_eq(model.nruns, nruns);
        cr_assert_eq(model.ntables, ntables);
        expect_unmapped(va);
        expect_unmapped(GiB);
    } while (n < 100);
    cr_assert(err_is_ok(err));
    cr_assert_eq(n, with_neighbour ? 9 : 15, "every call was failed once: %lu", n);
    expect_mapped(va, f, offset, 3);
    expect_mapped(GiB - 2 * MiB, f, 2 * MiB, 2);
    expect_mapped(GiB, f, 4 * MiB, 2);
    expect_mapped(GiB + 2 * MiB + 8 * KiB, f, 6 * MiB + 8 * KiB, 3);
}

Test(pt_model, failure_at_every_call_of_a_large_map_into_empty_tables_changes_nothing)
{
    fail_every_call_of_a_large_map(false);
}

Test(pt_model, failure_at_every_call_of_a_large_map_next_to_a_mapping_changes_nothing)
{
    fail_every_call_of_a_large_map(true);
}

Test(pt_model, failed_unmap_call_leaves_model_matching_tables)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(0x400000, f, 0, 4 * KiB);
    map_ok(0x401000, f, 0, 4 * KiB);
    fake.fail_at = fake.calls + 2;              /* the second run's unmap */
    errval_t err = pt_unmap(&model, 0x400000, 8 * KiB);
    fake.fail_at = 0;
    cr_assert_eq(err_no(err), PT_ERR_UNMAP);
    check_model();
    expect_unmapped(0x400000);
    expect_mapped(0x401000, f, 0, 3);
}

Test(pt_model, map_without_records_is_refused_before_any_call)
{
    struct pt_model m;
    cr_assert(err_is_ok(pt_model_init(&m, ROOT_CAP, &fake_ops, &fake, NULL, NULL)));
    enum { OBJ = (PT_RECORD_SIZE + SLAB_ALIGN - 1) / SLAB_ALIGN * SLAB_ALIGN };
    static _Alignas(SLAB_ALIGN) unsigned char buf[3 * OBJ];
    cr_assert(err_is_ok(pt_model_grow(&m, buf, sizeof buf)));
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    errval_t err = pt_map(&m, 0x400000, f, 0x80000000, 0, 4 * KiB, 3, NULL);
    cr_assert_eq(err_no(err), PT_ERR_NO_RECORDS, "three tables and a run need four");
    cr_assert(err_contains(err, LIB_ERR_SLAB_EMPTY));
    cr_assert_eq(fake.calls, 0);
    cr_assert_eq(slab_freecount(&m.slab), 3, "the records taken were given back");
    cr_assert(err_is_ok(pt_check(&m)));
}

Test(pt_model, records_of_an_unmap_are_kept_as_spares_for_the_next_map)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    map_ok(0x400000, f, 0, 4 * KiB);
    size_t free_mapped = slab_freecount(&model.slab), spare_mapped = model.spare.count;
    cr_assert(err_is_ok(pt_unmap(&model, 0x400000, 4 * KiB)));
    cr_assert_eq(model.spare.count, spare_mapped + 4, "three tables and a run are spare now");
    cr_assert_eq(slab_freecount(&model.slab), free_mapped, "the slab was not entered");
    map_ok(0x400000, f, 0, 4 * KiB);
    cr_assert_eq(slab_freecount(&model.slab), free_mapped, "the map took the spares");
    cr_assert_gt(fake.refills, 0, "records came from the refill");
}

Test(pt_model, spares_above_the_limit_go_back_to_the_slab)
{
    capaddr_t f = add_frame(0x80000000, 8 * MiB);
    for (uint64_t i = 0; i < 8; i++)
        map_ok(i * 512 * GiB, f, 0, 4 * KiB);  /* each needs three tables and a run */
    size_t free_mapped = slab_freecount(&model.slab);
    for (uint64_t i = 0; i < 8; i++)
        cr_assert(err_is_ok(pt_unmap(&model, i * 512 * GiB, 4 * KiB)));
    cr_assert_eq(model.spare.count, PT_SPARE_MAX);
    cr_assert_eq(slab_freecount(&model.slab), free_mapped + 8 * 4 - PT_SPARE_MAX);
    cr_assert(err_is_ok(pt_check(&model)));
}

/* ---- Randomized ------------------------------------------------------- */

#define R_BASE   (512 * GiB - 32 * MiB)         /* crosses L0, L1, L2 boundaries */
#define R_PAGES  16384u                         /* 64 MiB */
#define R_LIVE   R_PAGES

struct rmap {
    uint64_t va, size;
};

static struct {
    uint16_t ref[R_PAGES];          /* 1 + frame index of the page, or 0 */
    uint32_t refoff[R_PAGES];       /* its frame offset in pages */
    struct rmap live[R_LIVE];
    size_t nlive;
    uint64_t rng;
    unsigned maps, refused, blocks, bad_unmaps;    /* what the run exercised */
} r;

static uint64_t rnd(uint64_t n)
{
    r.rng ^= r.rng << 13;
    r.rng ^= r.rng >> 7;
    r.rng ^= r.rng << 17;
    return r.rng % n;
}

static void random_map(const capaddr_t *frames, const uint64_t *paddrs, unsigned nframes)
{
    uint64_t pick = rnd(10), npages = pick < 5 ? 1 + rnd(8) : pick < 9 ? 1 + rnd(1024) : 1 + rnd(3072);
    uint64_t page = rnd(R_PAGES - npages + 1), fpage = rnd(16384 - npages + 1);
    if (rnd(3) == 0) {                          /* make blocks possible */
        page &= ~511ull;
        fpage &= ~511ull;
    }
    unsigned fi = (unsigned)rnd(nframes);
    bool free = true;
    for (uint64_t i = 0; i < npages; i++)
        free = free && r.ref[page + i] == 0;
    struct pt_map_result res;
    errval_t err = pt_map(&model, R_BASE + page * 4 * KiB, frames[fi], paddrs[fi], fpage * 4 * KiB,
                          npages * 4 * KiB, 3, &res);
    if (!free) {
        cr_assert_eq(err_no(err), PT_ERR_ALREADY_MAPPED);
        r.refused++;
        return;
    }
    cr_assert(err_is_ok(err), "random map: %s", err_getcode(err_no(err)));
    cr_assert_eq(res.pages + res.blocks_2m * 512, npages);
    r.maps++;
    r.blocks += res.blocks_2m != 0;
    for (uint64_t i = 0; i < npages; i++) {
        r.ref[page + i] = (uint16_t)(1 + fi);
        r.refoff[page + i] = (uint32_t)(fpage + i);
    }
    cr_assert_lt(r.nlive, R_LIVE);
    r.live[r.nlive++] = (struct rmap){ R_BASE + page * 4 * KiB, npages * 4 * KiB };
}

static void random_unmap(void)
{
    if (r.nlive == 0)
        return;
    size_t i = rnd(r.nlive);
    struct rmap m = r.live[i];
    cr_assert(err_is_ok(pt_unmap(&model, m.va, m.size)));
    for (uint64_t p = 0; p < m.size / (4 * KiB); p++)
        r.ref[(m.va - R_BASE) / (4 * KiB) + p] = 0;
    r.live[i] = r.live[--r.nlive];
}

/* Would pt_unmap accept [va, va + size)? Asked of pt_lookup, run by run. */
static bool exactly_runs(uint64_t va, uint64_t size)
{
    for (uint64_t end = va + size; va < end;) {
        struct pt_lookup_info info;
        if (err_is_fail(pt_lookup(&model, va, &info)) || info.run_va != va ||
            info.run_size > end - va)
            return false;
        va += info.run_size;
    }
    return true;
}

static void random_bad_unmap(void)
{
    uint64_t va, size;
    if (r.nlive > 0 && rnd(2) == 0) {           /* all of a mapping but its last page */
        struct rmap m = r.live[rnd(r.nlive)];
        va = m.va;
        size = m.size - 4 * KiB;
    } else {
        uint64_t npages = 1 + rnd(16);
        va = R_BASE + rnd(R_PAGES - npages + 1) * 4 * KiB;
        size = npages * 4 * KiB;
    }
    if (size == 0 || exactly_runs(va, size))
        return;
    size_t nruns = model.nruns;
    errval_t err = pt_unmap(&model, va, size);
    cr_assert(err_no(err) == PT_ERR_NOT_MAPPED || err_no(err) == PT_ERR_SPLITS_RUN,
              "bad unmap: %s", err_getcode(err_no(err)));
    cr_assert_eq(model.nruns, nruns);
    r.bad_unmaps++;
}

static void compare_page(uint64_t page, const capaddr_t *frames)
{
    uint64_t va = R_BASE + page * 4 * KiB;
    struct pt_lookup_info info;
    errval_t err = pt_lookup(&model, va, &info);
    if (r.ref[page] == 0) {
        cr_assert_eq(err_no(err), PT_ERR_NOT_MAPPED, "page %llu", (unsigned long long)page);
        return;
    }
    cr_assert(err_is_ok(err), "page %llu is mapped", (unsigned long long)page);
    cr_assert_eq(info.frame, frames[r.ref[page] - 1]);
    cr_assert_eq(info.frame_offset, r.refoff[page] * 4 * KiB);
}

static void compare_all(const capaddr_t *frames)
{
    for (uint64_t page = 0; page < R_PAGES; page++) {
        compare_page(page, frames);
        capaddr_t f;
        uint64_t o;
        int l;
        bool mapped = fake_translate(R_BASE + page * 4 * KiB, &f, &o, &l);
        cr_assert_eq(mapped, r.ref[page] != 0, "the fake agrees on page %llu",
                     (unsigned long long)page);
        if (mapped) {
            cr_assert_eq(f, frames[r.ref[page] - 1]);
            cr_assert_eq(o, r.refoff[page] * 4 * KiB);
        }
    }
}

Test(pt_model, random_maps_and_unmaps_agree_with_a_page_model, .timeout = 300)
{
    static const uint64_t paddrs[] = { 0x40000000, 0x80200000, 0x12345000, PT_PADDR_UNKNOWN };
    capaddr_t frames[4];
    for (unsigned i = 0; i < 4; i++)
        frames[i] = add_frame(paddrs[i] == PT_PADDR_UNKNOWN ? 0 : paddrs[i], 64 * MiB);
    memset(&r, 0, sizeof r);
    r.rng = 0x9e3779b97f4a7c15ull;
    for (unsigned step = 0; step < 50000; step++) {
        uint64_t op = rnd(100);
        if (op < 50)
            random_map(frames, paddrs, 4);
        else if (op < 85)
            random_unmap();
        else if (op < 95)
            random_bad_unmap();
        else
            compare_page(rnd(R_PAGES), frames);
        check_model();
        if (step % 2500 == 0)
            compare_all(frames);
    }
    compare_all(frames);
    while (r.nlive > 0)
        random_unmap();
    check_model();
    cr_assert_eq(model.ntables, 0, "unmapping everything frees every table");
    cr_assert_eq(fake.live_tables, 1);
    cr_assert(r.maps > 10000 && r.refused > 3000 && r.blocks > 200 && r.bad_unmaps > 2000,
              "maps %u, refused %u, with blocks %u, bad unmaps %u", r.maps, r.refused, r.blocks,
              r.bad_unmaps);
}
