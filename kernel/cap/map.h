/*
 * map.h — VNode (page-table) invocations: mapping frames and lower-level
 * tables into a table creates a mapping capability, and deleting that
 * capability (or revoking the frame or table it maps) clears the entries.
 */
#pragma once

#include "cap.h"

struct map_args {
    uint64_t entry, count, offset;
    uint8_t rights;
};

errval_t cap_map(struct cte *vnode, const struct cte *src, const struct map_args *a, struct cte *dest);

/* Clear the entries a deleted mapping capability stood for, if its table
 * is still alive and still holds them. */
void mapping_remove(const struct capability *mapping);
