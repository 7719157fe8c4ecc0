/*
 * slots.h — the process's default slot allocator (lib/os/slot_alloc.c)
 * wired to the kernel: new L2 CNodes and larger root CNodes are retyped from
 * a RAM capability the program hands over. (With the memory manager of the
 * next milestone the RAM will come from it instead.)
 */
#pragma once

#include <minnow/errors.h>
#include "cap.h"
#include "os/slot_alloc.h"

/* Start the allocator over the two slot-allocator CNodes of cspace.h,
 * carving CNodes from `ram` (which must stay untouched by anything else). */
errval_t os_slots_init(struct capref ram);

errval_t os_slot_alloc(struct capref *slot);
errval_t os_slot_free(struct capref slot);
struct slot_allocator *os_slots(void);
