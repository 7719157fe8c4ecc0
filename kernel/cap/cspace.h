/*
 * cspace.h — finding capability slots: by address in a CSpace (root L1
 * CNode -> L2 CNode -> slot), or by index in a CNode capability.
 */
#pragma once

#include "cap.h"

/* The slot at `addr` in the CSpace whose root is `root` (an L1CNode cap):
 * a capaddr_t (two levels) or CAPADDR_LEVEL1 | index (a root slot). */
errval_t cspace_lookup(const struct capability *root, uint64_t addr, struct cte **out);

/* Slot `index` of a CNode capability (L1 or L2). */
errval_t cnode_slot(const struct capability *cnode, uint64_t index, struct cte **out);

/* The number of slots of a CNode capability. */
uint64_t cnode_slots(const struct capability *cnode);
