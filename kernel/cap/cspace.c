/*
 * cspace.c — two-level capability address resolution (cspace.h).
 * Every failure names the step that failed; nothing is changed.
 */
#include "cspace.h"

#include "mmu.h"

uint64_t cnode_slots(const struct capability *cnode)
{
    return cnode->size / OBJSIZE_CTE;
}

errval_t cnode_slot(const struct capability *cnode, uint64_t index, struct cte **out)
{
    if (cnode->type != OBJ_L1CNODE && cnode->type != OBJ_L2CNODE)
        return CAP_ERR_NOT_A_CNODE;
    if (index >= cnode_slots(cnode))
        return CAP_ERR_SLOT_OUT_OF_RANGE;
    *out = (struct cte *)phys_to_virt(cnode->base) + index;
    return SYS_ERR_OK;
}

errval_t cspace_lookup(const struct capability *root, uint64_t addr, struct cte **out)
{
    if (root->type != OBJ_L1CNODE)
        return CAP_ERR_NOT_A_CNODE;
    if ((addr >> 32) == (CAPADDR_LEVEL1 >> 32)) {
        if ((uint32_t)addr >= cnode_slots(root))
            return CAP_ERR_ADDR_OUT_OF_RANGE;
        *out = (struct cte *)phys_to_virt(root->base) + (uint32_t)addr;
        return SYS_ERR_OK;
    }
    if ((addr >> 32) != 0 || capaddr_l1((capaddr_t)addr) >= cnode_slots(root))
        return CAP_ERR_ADDR_OUT_OF_RANGE;
    struct cte *l1 = (struct cte *)phys_to_virt(root->base) + capaddr_l1((capaddr_t)addr);
    if (l1->cap.type != OBJ_L2CNODE)
        return CAP_ERR_L1_SLOT_EMPTY;
    *out = (struct cte *)phys_to_virt(l1->cap.base) + capaddr_l2((capaddr_t)addr);
    return SYS_ERR_OK;
}
