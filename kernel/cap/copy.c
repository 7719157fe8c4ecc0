/*
 * copy.c — copying and minting capabilities. A copy is a new CTE with the
 * same (base, size, type): in the derivation database it is a neighbour of
 * the original, and the object lives until its last copy is deleted.
 * Copying needs the GRANT right on the source, so a capability without it
 * cannot be passed on.
 */
#include "ops.h"

static errval_t check_copy(struct cte *dest, const struct cte *src)
{
    if (cte_is_empty(src))
        return CAP_ERR_SLOT_EMPTY;
    if (src->cap.type == OBJ_FRAME_MAPPING || src->cap.type == OBJ_VNODE_MAPPING)
        return CAP_ERR_WRONG_TYPE;      /* a mapping stands for page-table entries: not copyable */
    if (!(src->cap.rights & CAPRIGHTS_GRANT))
        return CAP_ERR_NO_RIGHTS;
    if (!cte_is_empty(dest))
        return CAP_ERR_SLOT_OCCUPIED;
    return SYS_ERR_OK;
}

/* The capability a copy gets: a frame CTE's list of mappings (cap.param)
 * stays with that CTE. */
static struct capability copy_of(const struct capability *c)
{
    struct capability cap = *c;
    if (cap_has_maplist(c))
        cap.param = 0;
    return cap;
}

errval_t cap_copy(struct cte *dest, const struct cte *src)
{
    errval_t err = check_copy(dest, src);
    if (err_is_fail(err))
        return err;
    struct capability cap = copy_of(&src->cap);
    cap_insert(dest, &cap);
    return SYS_ERR_OK;
}

errval_t cap_mint(struct cte *dest, const struct cte *src, uint8_t rights, uint64_t param)
{
    errval_t err = check_copy(dest, src);
    if (err_is_fail(err))
        return err;
    if (rights & ~src->cap.rights)
        return CAP_ERR_RIGHTS_INCREASE;
    if (param != 0 && src->cap.type != OBJ_ENDPOINT)
        return CAP_ERR_MINT_PARAM;      /* only endpoints carry a parameter (badge) */
    struct capability cap = copy_of(&src->cap);
    cap.rights = rights;
    if (cap.type == OBJ_ENDPOINT)
        cap.param = param;
    cap_insert(dest, &cap);
    return SYS_ERR_OK;
}
