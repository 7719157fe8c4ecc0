/*
 * initcaps.h — finding what the kernel gave init (include/minnow/cspace.h:
 * MEMCN holds RAM capabilities to all free memory).
 */
#pragma once

#include "cap.h"

/* The largest RAM capability in MEMCN; CAP_ERR_SLOT_EMPTY if there is none
 * (a program that is not init). */
errval_t initcaps_largest_ram(struct capref *ram, uint64_t *size);
