/*
 * ram.h — this process's physical memory: lib/mm wired to capabilities.
 *
 * Every allocation is a capability (RAM, or the object ram_new_object
 * asked for) retyped from the region it came from into a slot from the
 * default slot allocator (slots.h); freeing revokes and deletes it and
 * frees the slot, so its range can be retyped again. init owns all RAM
 * (ram_init_from_memcn); other processes will ask init's memory server.
 */
#pragma once

#include <minnow/errors.h>
#include "cap.h"
#include "mm/mm.h"

/* A manager holding every RAM capability in MEMCN, and the default slot
 * allocator refilled from it. Once per process: later calls return what
 * the first did (stdio makes the first before it connects to init). */
errval_t ram_init_from_memcn(void);

/* The process's memory manager (after ram_init_from_memcn). */
struct mm *ram_mm(void);

/* A RAM capability of `size` bytes (rounded up to pages), aligned to `align`. */
errval_t ram_alloc(uint64_t size, uint64_t align, struct capref *cap, uint64_t *base);
errval_t ram_free(uint64_t base, uint64_t size);

/* A fresh object of `type` filling a new allocation of `size` bytes
 * (aligned to `align`), retyped straight from the region into a new slot;
 * its physical base to *base (if not NULL). The object is the allocation's
 * capability: ram_free of its range revokes and deletes it and frees its
 * slot (the caller frees neither). On failure nothing is kept. */
errval_t ram_new_object(enum objtype type, uint64_t size, uint64_t align, struct capref *out,
                        uint64_t *base);

/* `count` (1 .. MM_BATCH_MAX) fresh objects of `type`, `size` bytes each,
 * side by side, in one retype into consecutive slots: the i-th is in slot
 * first->slot + i of first's CNode, at physical address *base + i * size.
 * Each is an allocation of its own, exactly as if made by ram_new_object.
 * On failure nothing is kept. */
errval_t ram_new_objects(enum objtype type, uint64_t size, size_t count, struct capref *first,
                         uint64_t *base);

/* The capability operations lib/mm calls (for programs with their own mm). */
extern const struct mm_cap_ops ram_cap_ops;
