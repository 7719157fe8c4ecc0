/*
 * cap.c — this core's derivation database and what every capability
 * operation shares: where the mdb finds a CTE's key, inserting a capability,
 * type names.
 */
#include "cap.h"

#include "panic.h"
#include "string.h"

struct mdb cap_mdb;

/* The mdb reads a CTE's range in place, as two consecutive uint64_t at a
 * fixed offset from the CTE's node. */
_Static_assert(_Generic(((struct capability *)0)->base, uint64_t: 1, default: 0) &&
               _Generic(((struct capability *)0)->size, uint64_t: 1, default: 0),
               "the mdb reads base and size as uint64_t");
_Static_assert(offsetof(struct capability, size) == offsetof(struct capability, base) + sizeof(uint64_t),
               "the mdb reads size right after base");

void cap_mdb_init(void)
{
    mdb_init(&cap_mdb, (ptrdiff_t)offsetof(struct cte, cap.base) - (ptrdiff_t)offsetof(struct cte, mdb));
}

void cap_insert(struct cte *dest, const struct capability *cap)
{
    cte_set(dest, cap);
    mdb_insert(&cap_mdb, &dest->mdb);
}

void cap_insert_run(struct cte *first, size_t n)
{
    mdb_insert_run(&cap_mdb, &first->mdb, n, sizeof *first);
}

bool cap_type_is_memory_object(enum objtype type)
{
    switch (type) {
    case OBJ_RAM: case OBJ_FRAME: case OBJ_L1CNODE: case OBJ_L2CNODE:
    case OBJ_VNODE_L0: case OBJ_VNODE_L1: case OBJ_VNODE_L2: case OBJ_VNODE_L3:
    case OBJ_DISPATCHER:
        return true;
    default:
        return false;
    }
}

const char *cap_type_name(enum objtype type)
{
    static const char *const names[OBJ_COUNT] = {
        [OBJ_NULL] = "Null", [OBJ_PHYSADDR] = "PhysAddr", [OBJ_RAM] = "RAM",
        [OBJ_DEVFRAME] = "DevFrame", [OBJ_FRAME] = "Frame", [OBJ_L1CNODE] = "L1CNode",
        [OBJ_L2CNODE] = "L2CNode", [OBJ_VNODE_L0] = "VNode_L0", [OBJ_VNODE_L1] = "VNode_L1",
        [OBJ_VNODE_L2] = "VNode_L2", [OBJ_VNODE_L3] = "VNode_L3", [OBJ_DISPATCHER] = "Dispatcher",
        [OBJ_ENDPOINT] = "EndPoint", [OBJ_FRAME_MAPPING] = "FrameMapping",
        [OBJ_VNODE_MAPPING] = "VNodeMapping", [OBJ_KERNEL] = "Kernel", [OBJ_IRQ] = "IRQ",
    };
    return (unsigned)type < OBJ_COUNT ? names[type] : "invalid";
}
