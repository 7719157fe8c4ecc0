/*
 * ops.h — the capability operations behind the invocations. Each one
 * checks everything first and changes nothing when it fails (check, then
 * act); invoke.c decodes the system call into these.
 */
#pragma once

#include "cap.h"

/* Copy `src` into the empty slot `dest`; mint also reduces rights and sets
 * the type-specific parameter (an endpoint's badge). */
errval_t cap_copy(struct cte *dest, const struct cte *src);
errval_t cap_mint(struct cte *dest, const struct cte *src, uint8_t rights, uint64_t param);

/* Delete one capability. Deleting the last copy of a CNode deletes what it
 * holds; the last copy of a Dispatcher stops that process. */
errval_t cap_delete(struct cte *c);

/* Delete every descendant and every other copy of c; c itself stays. */
errval_t cap_revoke(struct cte *c);

/* Retype part of a RAM (or PhysAddr) capability into `count` objects of
 * `type`, each `objsize` bytes, starting `offset` bytes into it, into slots
 * dest_first .. dest_first + count - 1 of `dest_cnode`. */
struct retype_args {
    enum objtype type;
    uint64_t offset, objsize, count;
    uint64_t dest_first;
};
errval_t cap_retype(struct cte *src, const struct capability *dest_cnode, const struct retype_args *a);

/* Make the larger, empty L1 CNode `new` the root of the CSpace whose root
 * copy is `root` (a dispatcher's), moving every root slot from `old`. */
errval_t cap_resize_root(struct cte *root, struct cte *old, struct cte *new);
