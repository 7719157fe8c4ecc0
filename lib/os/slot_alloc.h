/*
 * slot_alloc.h — the slot allocator: hands out free capability slots
 * (capaddr_t) of the process's CSpace, and adds L2 CNodes as it runs low.
 *
 * It manages a set of L2 CNodes, each with a 256-bit bitmap of free slots
 * and a free count. CNodes with a free slot are on a list, so an allocation
 * takes the first one and finds a free bit with a count-trailing-zeros; a
 * small radix tree over the L1 index (a page table in miniature, see
 * slot_alloc.c) finds the CNode of a slot being freed. Both are O(1).
 *
 * Refill. When fewer than SLOT_ALLOC_REFILL_THRESHOLD slots are free, the
 * next slot_alloc() first adds a CNode: it sets aside one free slot as
 * scratch, picks the next free L1 slot (from first_free_l1 upwards), asks
 * grow_l1 to double the root CNode if it is full, then asks new_cnode to
 * create the L2 CNode there. The callbacks run without the lock; a slot
 * allocation they make (directly, or through an RPC or a page mapping) is
 * served from the slots below the threshold and never starts a second
 * refill. Because the threshold is far above what one refill needs, a
 * refill cannot run out of slots half-way. Check, then act: a failed refill
 * gives back the scratch slot and the records it took, so the allocator is
 * as it was (except that a root CNode that grow_l1 did double stays
 * doubled), and slot_alloc() returns the error pushed with
 * LIB_ERR_SLOT_REFILL without handing out a slot: the slots below the
 * threshold are a reserve for refills, and handing them out after a failed
 * refill would leave the next refill nothing to work with.
 *
 * Records. The per-CNode records and radix-tree nodes are 64-byte objects
 * of a slab (slab.h), so the allocator needs no malloc. SLOT_ALLOC_INLINE_OBJS
 * of them live inside struct slot_allocator, enough for the initial CNodes
 * and the first dozen or so refills (several thousand slots). The slab's
 * watermark is SLOT_REFILL_MAX_OBJS, the most one refill takes, and it
 * calls the owner's record_refill (which in the OS maps a fresh page and
 * slab_grow()s it) while that many are left; the record_refill runs inside
 * a slot refill, so any slot it needs comes from the reserve. Without a
 * record_refill, a refill that finds the slab empty fails with
 * LIB_ERR_SLAB_EMPTY.
 *
 * Pure code (no libc, no system calls), host-tested with a fake CSpace.
 * Implementation: slot_alloc.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/cspace.h>
#include <minnow/errors.h>

#include "base/slab.h"

/*
 * Refill below 64 free slots. A refill takes one scratch slot itself; what
 * its callbacks take besides (a RAM capability received from the memory
 * server, a frame and up to three page tables for a fresh page of records,
 * a doubled root CNode and the old one) is about a dozen, so 64 leaves a
 * wide margin, even for a few threads allocating while a refill runs. It is
 * a quarter of a CNode, so one refill lifts the count well above it again.
 */
#define SLOT_ALLOC_REFILL_THRESHOLD 64

/* The radix tree over L1 indices: 8 children per node, so 8 levels cover
 * all 2^24 L1 indices, and a node is as large as a CNode record. */
#define SLOT_DIR_BITS       3
#define SLOT_DIR_FANOUT     (1u << SLOT_DIR_BITS)
#define SLOT_DIR_MAX_HEIGHT ((L1_INDEX_BITS + SLOT_DIR_BITS - 1) / SLOT_DIR_BITS)

/* The most slab objects one refill takes: its CNode record and a new
 * radix-tree node at every level. */
#define SLOT_REFILL_MAX_OBJS (1 + SLOT_DIR_MAX_HEIGHT)

/* Objects inside struct slot_allocator, before any record_refill. */
#define SLOT_ALLOC_INLINE_OBJS 32

/* At most this many initial CNodes, so that they fit the inline objects. */
#define SLOT_ALLOC_MAX_INITIAL 4

/* The largest root CNode: every L1 index fits a capaddr_t. */
#define SLOT_ALLOC_MAX_L1_SLOTS (1u << L1_INDEX_BITS)

/*
 * Create an L2 CNode in root CNode slot l1_index (which is empty and below
 * the root CNode's size). scratch_slot is a free slot set aside for this
 * call, e.g. for the RAM capability to retype from; leave it empty on
 * return, and do not slot_free() it: the allocator takes it back. Called
 * without the allocator's lock held.
 */
typedef errval_t (*slot_new_cnode_fn)(void *arg, uint32_t l1_index, capaddr_t scratch_slot);

/* Resize the root CNode to new_l1_slots (twice its size, at most
 * SLOT_ALLOC_MAX_L1_SLOTS), keeping every capability in it. Called
 * without the allocator's lock held. */
typedef errval_t (*slot_grow_l1_fn)(void *arg, uint32_t new_l1_slots);

struct slot_alloc_config {
    const uint32_t *cnodes;     /* L1 indices of L2 CNodes whose slots are all free */
    size_t ncnodes;             /* 1 .. SLOT_ALLOC_MAX_INITIAL */
    uint32_t l1_slots;          /* the root CNode's current size */
    uint32_t first_free_l1;     /* L1 slots from here to the end are free and ours,
                                   normally ROOTCN_SLOTS_USER; the initial CNodes
                                   lie below it */
    slot_new_cnode_fn new_cnode;    /* NULL: never refill */
    slot_grow_l1_fn grow_l1;        /* NULL: the root CNode never grows */
    void *arg;                      /* for new_cnode and grow_l1 */
    slab_refill_fn record_refill;   /* NULL: only the inline records */
    void *record_refill_arg;
};

union slot_obj;

/* One managed L2 CNode. */
struct slot_cnode {
    struct slot_cnode *next, *prev;     /* in the list of CNodes with a free slot */
    uint32_t l1_index;
    uint32_t nfree;                     /* set bits in free_bits */
    uint64_t free_bits[L2_CNODE_SLOTS / 64];    /* bit i set: slot i is free */
};

/* A radix-tree node; the children of the lowest level are CNode records. */
struct slot_dir {
    union slot_obj *child[SLOT_DIR_FANOUT];
};

/* What the record slab holds. */
union slot_obj {
    struct slot_cnode cnode;
    struct slot_dir dir;
};

struct slot_allocator {
    /* Set by slot_alloc_init() and slot_alloc_set_lock() before the
     * allocator is shared; read-only afterwards. */
    slot_new_cnode_fn new_cnode;
    slot_grow_l1_fn grow_l1;
    void *arg;
    struct alloc_lock lock;

    /* Guarded by lock. */
    struct slot_cnode *nonfull;     /* list of CNodes with a free slot */
    size_t nfree;                   /* free slots in all CNodes */
    size_t ncnodes;                 /* CNodes managed */
    bool refilling;                 /* a refill is under way */

    /* Guarded by lock, and written only by the thread that set refilling
     * (or by init), so that thread may also read them without the lock. */
    union slot_obj *dir_root;       /* NULL while no CNode is managed */
    unsigned dir_height;            /* levels of the radix tree, >= 1 */
    uint32_t next_l1;               /* the next free L1 slot for a new CNode */
    uint32_t l1_slots;              /* the root CNode's size */

    /* The records; the slab has its own copy of the lock hook. */
    struct slab_allocator records;
    _Alignas(SLAB_ALIGN) union slot_obj inline_objs[SLOT_ALLOC_INLINE_OBJS];
};

/*
 * Start managing the CNodes of cfg. Errors: LIB_ERR_SLOT_INIT if there are
 * no or too many CNodes, if one lies at or above first_free_l1 or appears
 * twice, if first_free_l1 > l1_slots, or if l1_slots is above
 * SLOT_ALLOC_MAX_L1_SLOTS. If it fails, *sa is not usable.
 */
errval_t slot_alloc_init(struct slot_allocator *sa, const struct slot_alloc_config *cfg);

/* Guard the allocator and its record slab with `lock` (copied), set before
 * sharing. One mutex may serve both: neither is held while calling out. */
void slot_alloc_set_lock(struct slot_allocator *sa, const struct alloc_lock *lock);

/*
 * A free slot in *ret, after a refill if the allocator is low. Errors:
 * LIB_ERR_SLOT_REFILL over the cause (a callback's error,
 * LIB_ERR_SLOT_L1_FULL, LIB_ERR_SLAB_EMPTY) if a needed refill failed;
 * LIB_ERR_SLOT_ALLOC_EMPTY if no slot is free. On error nothing changed.
 */
errval_t slot_alloc(struct slot_allocator *sa, capaddr_t *ret);

/* The longest run slot_alloc_run() hands out: a run lies in one 64-bit
 * word of a CNode's bitmap. */
#define SLOT_RUN_MAX 64

/*
 * `count` (1 .. SLOT_RUN_MAX) consecutive free slots of one CNode, the first
 * in *first: where one retype puts `count` objects. If the CNodes looked at
 * (the first SLOT_RUN_PROBES with a free slot) have no such run, a CNode is
 * added first, as a refill would. Each slot is freed on its own with
 * slot_free(). Errors as slot_alloc(), and LIB_ERR_SLOT_BAD_RUN.
 */
#define SLOT_RUN_PROBES 8
errval_t slot_alloc_run(struct slot_allocator *sa, uint32_t count, capaddr_t *first);

/*
 * `count` (1 .. SLOT_MANY_MAX) free slots, not necessarily consecutive,
 * into slots[0..count), in one lock round trip when no refill is due: for
 * an owner that needs a slot per operation, such as a mapping per page
 * fault. A refill runs first if taking them would leave fewer than
 * SLOT_ALLOC_REFILL_THRESHOLD. Each slot is freed on its own. All or none:
 * errors as slot_alloc(), and LIB_ERR_SLOT_BAD_RUN for a bad count.
 */
#define SLOT_MANY_MAX 64
errval_t slot_alloc_many(struct slot_allocator *sa, size_t count, capaddr_t *slots);

/*
 * Give back a slot from slot_alloc(); the capability in it must have been
 * deleted. Errors (nothing changes): LIB_ERR_SLOT_NOT_MANAGED if the slot's
 * CNode is not one of ours, LIB_ERR_SLOT_NOT_ALLOCATED if the slot is free.
 */
errval_t slot_free(struct slot_allocator *sa, capaddr_t slot);

/* Number of free slots. */
size_t slot_alloc_freecount(const struct slot_allocator *sa);
