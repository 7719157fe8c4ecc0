/*
 * slots.h — the process's default slot allocator (lib/os/slot_alloc.c)
 * wired to the kernel: new L2 CNodes and larger root CNodes are retyped from
 * RAM the process's memory manager (lib/mm, ram.h) hands out.
 */
#pragma once

#include <minnow/errors.h>
#include "cap.h"
#include "mm/mm.h"
#include "os/slot_alloc.h"

/* Start the allocator over the two slot-allocator CNodes of cspace.h,
 * taking RAM for new CNodes from `mm`. */
errval_t os_slots_init_mm(struct mm *mm);

errval_t os_slot_alloc(struct capref *slot);
errval_t os_slot_free(struct capref slot);
/* `count` consecutive slots of one CNode (slot_alloc_run), the first in
 * *first; each is freed on its own. */
errval_t os_slot_alloc_run(uint32_t count, struct capref *first);
struct slot_allocator *os_slots(void);
