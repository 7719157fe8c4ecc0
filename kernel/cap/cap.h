/*
 * cap.h — capabilities and capability table entries (CTEs) in the kernel.
 *
 * A CTE is one 64-byte slot of a CNode: the capability (what object, which
 * rights) and its node in this core's derivation database (lib/base/mdb.h).
 * CNodes, and so all CTEs, live in RAM that user space retyped; the kernel
 * reaches them through the direct map. Everything here is core-local: only
 * this core's CPU driver reads or writes its CTEs and its mdb.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <minnow/captypes.h>
#include <minnow/cspace.h>
#include <minnow/errors.h>
#include "base/mdb.h"
#include "panic.h"

struct capability {
    uint8_t type;           /* enum objtype; OBJ_NULL in an empty slot */
    uint8_t rights;         /* CAPRIGHTS_* */
    uint16_t flags;         /* CAP_FLAG_*, and the RAM generation (cap_generation) */
    uint32_t extra;         /* mappings: number of entries; L1 CNode: slots */
    uint64_t base;          /* physical base of the object (or a tag, see cap_tag) */
    uint64_t size;          /* bytes */
    uint64_t param;         /* mappings: VNode physical address | first entry;
                               endpoints: badge; Frame, DevFrame: this CTE's
                               first FrameMapping (struct maplink), never
                               copied and never shown to user space */
};

/* A FrameMapping's place in the list of mappings made through one Frame or
 * DevFrame CTE (map.c): FrameMappings are not in the mdb, so their CTEs
 * use the node's space for this. The frame CTE's cap.param points to the
 * first mapping; the list is the CTE's, not the capability's, and copies
 * start without one. */
struct maplink {
    struct cte *prev;       /* the previous mapping, or the frame CTE for the first */
    struct cte *next;       /* NULL at the end */
};

/* The mdb reads cap.base and cap.size in place and keeps the type in
 * mdb.rank (cap_mdb_rank), so none of base, size, type or generation may
 * change while the CTE is in the mdb: take it out first (cap_insert puts it
 * back). */
struct cte {
    struct capability cap;
    union {
        struct mdb_node mdb;    /* every capability but a FrameMapping */
        struct maplink map;     /* a FrameMapping (cap_in_mdb) */
    };
};

_Static_assert(sizeof(struct capability) == 32, "a capability is half a CTE");
_Static_assert(sizeof(struct cte) == OBJSIZE_CTE, "CTE layout is shared with user space sizes");
_Static_assert(offsetof(struct cte, mdb) == 32, "CTE layout");

/* Kernel and IRQ capabilities name no memory; they get ranges above any
 * physical address so that they never nest inside a memory capability. */
#define CAP_TAG_KERNEL (1ull << 62)
#define CAP_TAG_IRQ    (1ull << 61)

static inline bool cte_is_empty(const struct cte *c) { return c->cap.type == OBJ_NULL; }

/* Bits of capability.flags. */
#define CAP_FLAG_ZOMBIE        0x1u     /* a CNode being emptied (delete.c) */
#define CAP_FLAG_MAP_LEVEL(l)  ((uint16_t)((l) << 4))   /* a mapping's table level */
#define CAP_MAP_LEVEL(flags)   (((flags) >> 4) & 3)
#define CAP_GEN_SHIFT          8
#define CAP_GEN_MAX            7

/*
 * Retyping RAM into RAM of the very same range makes a child one generation
 * deeper. The generation is part of the derivation database's type key
 * (type << 3 | generation), so the child sorts after its parent and is its
 * descendant, not a copy: a memory manager can hand out a whole region as an
 * allocation and still revoke it without touching the region's capability.
 */
static inline unsigned cap_generation(const struct capability *c)
{
    return (c->flags >> CAP_GEN_SHIFT) & CAP_GEN_MAX;
}

_Static_assert(OBJ_COUNT << 3 <= 256, "type and generation fit the mdb's 8-bit rank");

/* A CTE's rank in the mdb (mdb.h): the type key above. Every node handed to
 * the mdb needs it, including probes that are never inserted. */
static inline uint8_t cap_mdb_rank(const struct capability *c)
{
    return (uint8_t)(c->type << 3 | cap_generation(c));
}

/* FrameMappings stay out of the mdb: they never have descendants, and a
 * list hung off their frame's CTE (map.c) makes a map and an unmap O(1)
 * instead of a tree insert and remove (docs/capabilities.md). */
static inline bool cap_in_mdb(const struct capability *c)
{
    return c->type != OBJ_FRAME_MAPPING;
}

/* The types whose CTEs hold a list of FrameMappings in cap.param. */
static inline bool cap_has_maplist(const struct capability *c)
{
    return c->type == OBJ_FRAME || c->type == OBJ_DEVFRAME;
}

/* Same object: what the derivation database calls a copy. */
static inline bool cap_same_object(const struct capability *a, const struct capability *b)
{
    return a->type == b->type && a->base == b->base && a->size == b->size &&
           cap_generation(a) == cap_generation(b);
}

/* This core's derivation database. */
extern struct mdb cap_mdb;
void cap_mdb_init(void);

/* Put `cap` into the empty slot `dest` and into the mdb. */
void cap_insert(struct cte *dest, const struct capability *cap);

/* The same in two steps, for many capabilities at once: cte_set fills each
 * empty slot first[0 .. n-1], then cap_insert_run puts them all into the
 * mdb (mdb_insert_run), which needs their keys ascending and no capability
 * already in the mdb sorting between the first and the last. cte_set is
 * inline so that a capability built on the caller's stack is written
 * straight into the slot (a retype of 16 Frames, a map per page fault). */
static inline void cte_set(struct cte *dest, const struct capability *cap)
{
    kassert(cte_is_empty(dest), "a capability goes only into an empty slot");
    kassert(cap->size > 0 && cap->base + cap->size > cap->base, "capability ranges are non-empty");
    dest->cap = *cap;
    dest->mdb.rank = cap_mdb_rank(cap);
}
void cap_insert_run(struct cte *first, size_t n);

/* Types whose objects live in memory the cap names (retype targets). */
bool cap_type_is_memory_object(enum objtype type);
const char *cap_type_name(enum objtype type);
