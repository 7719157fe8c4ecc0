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

errval_t cap_map(struct cte *vnode, struct cte *src, const struct map_args *a, struct cte *dest);

/* Clear the entries a deleted mapping capability stood for, if its table
 * is still alive and still holds them. */
void mapping_remove(const struct capability *mapping);

/* The FrameMappings made through a Frame or DevFrame CTE (cap_has_maplist),
 * in a list that hangs off that CTE (struct maplink). */
struct cte *maplist_first(const struct cte *frame);

/* Take FrameMapping m out of its frame CTE's list. */
void maplist_unlink(struct cte *m);

/* Move every mapping of `from`'s list onto `to`'s, a copy of the same
 * frame, when `from` is deleted and `to` survives it. */
void maplist_hand_over(struct cte *from, struct cte *to);

/* A CTE's contents were moved to `to` (resize.c): point the neighbours in
 * its list at the new place. */
void maplist_moved(struct cte *to);
