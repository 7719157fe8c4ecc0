/*
 * pt_model.h — a model of a process's ARMv8 page-table tree: which tables
 * exist, which capabilities hold them, and which runs of entries map which
 * frames. It creates intermediate tables on demand, maps with 1 GiB and
 * 2 MiB blocks wherever the addresses allow, and reclaims tables that
 * become empty.
 *
 * Hardware: 4 KiB granule, 48-bit virtual addresses, four levels of
 * 512-entry tables (L0 index = VA bits 47:39, L1 = 38:30, L2 = 29:21,
 * L3 = 20:12). Leaves are 4 KiB pages at L3, 2 MiB blocks at L2 and 1 GiB
 * blocks at L1. A run is a set of consecutive entries of ONE table that map
 * consecutive parts of one frame; the kernel makes one mapping capability
 * per run (VNODE_CMD_MAP), and deleting it clears the entries.
 *
 * Records. The tree mirrors the tables: a node per table, and per used
 * entry either a child node or a run record covering `count` entries.
 * A node keeps its children and runs on one list sorted by first entry,
 * not a 512-pointer array: a table usually holds a handful of runs (a
 * 5 MiB mapping is one run of blocks and one of pages), so a node costs
 * 48 bytes instead of 4 KiB, and the model's memory grows with the number
 * of runs, not of pages. The price is a walk of that list at each level
 * (at most 512 records, one per entry, when every page of a table is
 * mapped separately); a per-level array would only pay if a benchmark
 * showed such tables to be common. Node and run records are the same size
 * and come from one slab (base/slab.h), which the owner grows.
 *
 * Capability work goes through struct pt_ops, so this file makes no system
 * calls: in the OS the ops invoke VNodes, on the host tests use a fake.
 * Check, then act: pt_map and pt_unmap check the whole range before the
 * first ops call, and pt_map undoes its own work when an ops call fails.
 * Partial unmap is not supported: an unmap must cover whole runs (splitting
 * a 2 MiB block would mean remapping it as pages; the region layer above
 * unmaps what it mapped).
 *
 * Pure code (no libc, no system calls), host-tested against fake page
 * tables in tests/host/test_pt_model.c. Implementation: pt_model.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/cspace.h>
#include <minnow/errors.h>

#include "base/slab.h"

#define PT_LEVELS       4
#define PT_ENTRIES      512u
#define PT_ENTRY_BITS   9
#define PT_PAGE_BITS    12
#define PT_PAGE_SIZE    (1ull << PT_PAGE_BITS)
#define PT_VA_BITS      48
#define PT_VA_LIMIT     (1ull << PT_VA_BITS)
#define PT_BLOCK_2M     (1ull << 21)
#define PT_BLOCK_1G     (1ull << 30)

/* pt_map's frame_paddr when the caller does not know it: pages only. */
#define PT_PADDR_UNKNOWN UINT64_MAX

/* Bytes one entry of a level-`level` table maps (L1: 1 GiB, L3: 4 KiB). */
static inline uint64_t pt_entry_size(int level)
{
    return 1ull << (PT_PAGE_BITS + PT_ENTRY_BITS * (PT_LEVELS - 1 - level));
}

/* The entry of a level-`level` table that translates `va`. */
static inline unsigned pt_index(uint64_t va, int level)
{
    return (unsigned)(va >> (PT_PAGE_BITS + PT_ENTRY_BITS * (PT_LEVELS - 1 - level))) &
           (PT_ENTRIES - 1);
}

/*
 * What the model asks of its owner; `arg` is pt_model_init's ops_arg. Each
 * returns SYS_ERR_OK or an error, and on error has changed nothing. They
 * are called with the model's lock held (see struct pt_model), so they must
 * not call into the same model.
 */
struct pt_ops {
    /* Make a fresh, empty VNode_L<level> (level 1-3) table. */
    errval_t (*new_table)(void *arg, int level, capaddr_t *vnode);
    /* Delete an empty table that is no longer linked, and free its RAM. */
    errval_t (*free_table)(void *arg, capaddr_t vnode);
    /* Link `child` into entry `entry` of `parent` (one level up); the
     * VNodeMapping capability goes to *mapping. */
    errval_t (*link)(void *arg, capaddr_t parent, unsigned entry, capaddr_t child,
                     capaddr_t *mapping);
    /* Map `count` entries from `entry` of `vnode` to the frame from byte
     * `offset` on, with the owner's `flags`; the FrameMapping to *mapping. */
    errval_t (*map)(void *arg, capaddr_t vnode, unsigned entry, capaddr_t frame,
                    uint64_t offset, unsigned count, unsigned flags, capaddr_t *mapping);
    /* Delete a mapping capability (a link or a run), clearing its entries. */
    errval_t (*unmap)(void *arg, capaddr_t mapping);
};

/*
 * The head shared by nodes and runs: an entry record on its table's list.
 * Node and run records are never seen apart from their head's `is_table`.
 */
struct pt_slot {
    struct pt_slot *next;       /* next record of the same table, by first */
    uint16_t first;             /* first entry covered */
    uint16_t count;             /* entries covered (1 for a table) */
    bool is_table;              /* a struct pt_node, else a struct pt_run */
    capaddr_t mapping;          /* VNodeMapping (table) or FrameMapping (run) */
};

/* A table. The root's slot head is unused: it has no parent. */
struct pt_node {
    struct pt_slot slot;
    struct pt_slot *entries;    /* children and runs, sorted by first entry */
    struct pt_slot *hint;       /* the entry inserted last (or NULL): searches
                                   for entries at or after it start there */
    capaddr_t vnode;
    uint16_t used;              /* entries in use: the sum of the counts */
    uint8_t level;              /* 0 (root) to 3 */
};

/* A run of leaf entries: the pages or blocks of one ops->map call. */
struct pt_run {
    struct pt_slot slot;
    capaddr_t frame;
    unsigned flags;
    uint64_t offset;            /* frame offset the first entry maps */
};

/* The size the owner's slab buffers are counted in. */
union pt_record {
    struct pt_node node;
    struct pt_run run;
};
#define PT_RECORD_SIZE sizeof(union pt_record)

/* A list of free records (linked through their slot heads). */
struct pt_records {
    struct pt_slot *head;
    size_t count;
};

/* Free records a model keeps between calls. A page map needs up to four
 * (three tables and a run), so sixteen cover a few maps in a row. */
#define PT_SPARE_MAX 16
/* When the spare list runs short, it is filled to at least this many at
 * once, so that pages mapped one by one (faults) enter the slab once per
 * PT_SPARE_FILL maps, not at every one. */
#define PT_SPARE_FILL 16

struct pt_model {
    /* Set by pt_model_init() and the setters, before the model is shared;
     * read-only afterwards. */
    const struct pt_ops *ops;
    void *ops_arg;
    struct alloc_lock lock;

    /* Guarded by lock: the whole tree below root (every node and run
     * record reachable from it) and the counters. pt_map and pt_unmap
     * hold the lock for the whole operation, ops calls included, so that
     * no other thread sees a half-made mapping; they never hold it while
     * taking records from the slab, so a slab refill may map through
     * this model. */
    struct pt_node root;
    size_t ntables;             /* tables below the root */
    size_t nruns;
    struct pt_records spare;    /* taken from the slab, not in use */
    struct pt_node *l3;         /* the L3 table pt_map_page used last, or NULL */
    uint64_t l3_va;             /* the first address it translates */

    /* Guarded by its own copy of the same lock hook (pt_model_set_lock):
     * the model takes records before acquiring `lock` and gives them back
     * after releasing it, so the two are never held together. */
    struct slab_allocator slab;
};

/* What one pt_map made; pt_map fills it in if it succeeds. */
struct pt_map_result {
    unsigned runs;              /* ops->map calls, one mapping cap each */
    unsigned tables_created;
    uint64_t pages;             /* 4 KiB pages mapped as L3 entries */
    uint64_t blocks_2m;         /* L2 block entries */
    uint64_t blocks_1g;         /* L1 block entries */
};

/* Where one address is mapped: the run that maps it. */
struct pt_lookup_info {
    int level;                  /* of the table holding the run (1-3) */
    uint64_t run_va;            /* first address of the run */
    uint64_t run_size;          /* bytes the run maps */
    capaddr_t vnode;            /* the table holding the run */
    unsigned first, count;      /* its entries */
    capaddr_t frame, mapping;
    uint64_t frame_offset;      /* the frame offset `va` itself maps to */
    unsigned flags;
};

/*
 * Start a model whose root is the process's existing L0 VNode `root_l0`,
 * with no tables below it. Records come from an empty slab with the given
 * refill (may be NULL); grow it with pt_model_grow(). Errors: none beyond
 * slab_init()'s (pushed with PT_ERR_NO_RECORDS).
 */
errval_t pt_model_init(struct pt_model *m, capaddr_t root_l0, const struct pt_ops *ops,
                       void *ops_arg, slab_refill_fn refill, void *refill_arg);

/* Guard the model and its slab with `lock` (copied; a plain,
 * non-recursive mutex will do); set before sharing. */
void pt_model_set_lock(struct pt_model *m, const struct alloc_lock *lock);

/* Add `bytes` at `buf` as records (see slab_grow()). */
errval_t pt_model_grow(struct pt_model *m, void *buf, size_t bytes);

/*
 * Map `size` bytes at `va` to the frame `frame` from byte `frame_offset`
 * on, passing `flags` to ops->map. `frame_paddr` is the frame's physical
 * base: a 2 MiB (1 GiB) block is used where the address, the frame offset
 * and frame_paddr + offset are all 2 MiB (1 GiB) aligned and at least that
 * much remains; PT_PADDR_UNKNOWN maps pages only. Missing tables are made.
 * Every run stays inside one table: one ops->map per run. `result` may be
 * NULL. Errors, with nothing changed: PT_ERR_BAD_VA, PT_ERR_BAD_SIZE,
 * PT_ERR_BAD_OFFSET, PT_ERR_ALREADY_MAPPED, PT_ERR_NO_RECORDS; an ops error
 * pushed with PT_ERR_NEW_TABLE, PT_ERR_LINK or PT_ERR_MAP after this call's
 * work is undone; PT_ERR_UNDO (pushed on the error of the undo) if undoing
 * failed too, with the model showing what is still mapped.
 */
errval_t pt_map(struct pt_model *m, uint64_t va, capaddr_t frame, uint64_t frame_paddr,
                uint64_t frame_offset, uint64_t size, unsigned flags,
                struct pt_map_result *result);

/*
 * The fault handler's map: one 4 KiB page of `frame` (from its start) at
 * `va`. The result is pt_map's with frame_paddr PT_PADDR_UNKNOWN, offset 0
 * and size 4 KiB, but when the L3 table exists (the common case) it takes
 * one lookup, one record and one ops->map: the table is found from the
 * last one used (pt_model.l3) or by one walk, and the request is not cut
 * into chunks. Errors as pt_map's.
 */
errval_t pt_map_page(struct pt_model *m, uint64_t va, capaddr_t frame, unsigned flags);

/*
 * pt_map_page in two halves, for a caller whose map must be its very last
 * action (the fault handler's map that also resumes the faulting code,
 * paging.c). pt_page_record adds the page's run record, naming the mapping
 * capability it will have, and says which entry of which table to map;
 * it makes no ops call. The caller then maps that entry itself, and if
 * that fails, pt_page_unrecord takes the record out again. Between the two
 * the model shows a page the tables do not have yet, so the caller must
 * keep every other user of the model out (as paging's lock, or the fault
 * upcall, where no other thread runs, does).
 *
 * Errors: range_check's, PT_ERR_ALREADY_MAPPED, PT_ERR_NO_RECORDS, and
 * PT_ERR_NO_TABLE when no L3 table covers `va` yet (or a block does):
 * pt_map_page does that case. A failed call changes nothing.
 */
struct pt_page {
    struct pt_node *table;      /* the L3 table's node */
    struct pt_run *run;         /* the record added */
    capaddr_t vnode;            /* the table to map into ... */
    unsigned entry;             /* ... at this entry */
};
errval_t pt_page_record(struct pt_model *m, uint64_t va, capaddr_t frame, unsigned flags,
                        capaddr_t mapping, struct pt_page *page);
void pt_page_unrecord(struct pt_model *m, const struct pt_page *page);

/*
 * Unmap [va, va + size): the range must be exactly a set of runs. Their
 * mapping caps are deleted, and tables left empty are unlinked and freed,
 * bottom up (never the root). Errors, with nothing changed: PT_ERR_BAD_VA,
 * PT_ERR_BAD_SIZE, PT_ERR_NOT_MAPPED (a page is not mapped),
 * PT_ERR_SPLITS_RUN (the range starts or ends inside a run). An ops error
 * pushed with PT_ERR_UNMAP or PT_ERR_FREE_TABLE stops the unmap there: the
 * runs before it are gone, the model matches the tables. If free_table
 * fails, the table is already unlinked and dropped from the model.
 */
errval_t pt_unmap(struct pt_model *m, uint64_t va, uint64_t size);

/* Is `va` mapped, and by which run. Errors: PT_ERR_BAD_VA (va >= 2^48),
 * PT_ERR_NOT_MAPPED. */
errval_t pt_lookup(struct pt_model *m, uint64_t va, struct pt_lookup_info *info);

/* The first run that maps any of [va, end), in address order: fills info
 * as pt_lookup(max(va, its first address)) would. O(records visited).
 * Errors: PT_ERR_BAD_VA, PT_ERR_NOT_MAPPED (nothing mapped there). */
errval_t pt_find(struct pt_model *m, uint64_t va, uint64_t end, struct pt_lookup_info *info);

/*
 * Check the invariants, for tests: lists sorted and disjoint inside
 * 0-511, `used` the sum of the counts, children one level down, runs only
 * at levels 1-3, no empty table below the root, counters right.
 * Error: PT_ERR_INVARIANT.
 */
errval_t pt_check(struct pt_model *m);
