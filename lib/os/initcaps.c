/*
 * initcaps.c — looking through init's well-known CNodes (initcaps.h).
 */
#include "initcaps.h"

errval_t initcaps_largest_ram(struct capref *ram, uint64_t *size)
{
    *size = 0;
    for (uint32_t i = 0; i < L2_CNODE_SLOTS; i++) {
        struct capinfo ci;
        struct capref c = capref_l2(ROOTCN_SLOT_MEMCN, i);
        if (err_is_ok(cap_identify(c, &ci)) && ci.type == OBJ_RAM && ci.size > *size) {
            *ram = c;
            *size = ci.size;
        }
    }
    return *size > 0 ? SYS_ERR_OK : CAP_ERR_SLOT_EMPTY;
}
