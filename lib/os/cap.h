/*
 * cap.h — capability references and operations for user programs.
 *
 * A struct capref names a slot of the caller's CSpace: slot `slot` of the L2
 * CNode in root slot `l1`, or, with level 1, root slot `l1` itself. The
 * operations are thin wrappers over SYS_INVOKE (include/minnow/captypes.h,
 * docs/capabilities.md); every one returns the kernel's named error.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <minnow/captypes.h>
#include <minnow/cspace.h>
#include "syscall.h"

struct capref {
    uint32_t l1;
    uint32_t slot;          /* in the L2 CNode; ignored at level 1 */
    uint8_t level;          /* 2 (an L2 slot, the usual) or 1 (a root slot) */
};

struct capinfo {
    enum objtype type;
    uint8_t rights;
    uint64_t base, size;
};

static inline struct capref capref_l2(uint32_t l1, uint32_t slot)
{
    return (struct capref){ l1, slot, 2 };
}

static inline struct capref capref_root_slot(uint32_t l1)
{
    return (struct capref){ l1, 0, 1 };
}

/* The address that names this slot as an invocation target or source. */
static inline uint64_t capref_addr(struct capref r)
{
    return r.level == 1 ? capaddr_level1(r.l1) : capaddr_make(r.l1, r.slot);
}

/* Back from an address (as stored in 64-bit handles, e.g. by lib/mm). */
static inline struct capref capref_from_addr(uint64_t a)
{
    if ((a >> 32) == (CAPADDR_LEVEL1 >> 32))
        return capref_root_slot((uint32_t)a);
    return capref_l2(capaddr_l1((capaddr_t)a), capaddr_l2((capaddr_t)a));
}

/* The CNode that holds the slot, and the slot's index in it. */
static inline uint64_t capref_cnode(struct capref r)
{
    return r.level == 1 ? CAP_ROOTCN : capaddr_level1(r.l1);
}
static inline uint64_t capref_index(struct capref r)
{
    return r.level == 1 ? r.l1 : r.slot;
}

static inline errval_t cap_copy(struct capref dest, struct capref src)
{
    return sys_invoke(capref_cnode(dest), CNODE_CMD_COPY, capref_index(dest), capref_addr(src),
                      0, 0, 0, 0).err;
}

static inline errval_t cap_mint(struct capref dest, struct capref src, uint8_t rights, uint64_t param)
{
    return sys_invoke(capref_cnode(dest), CNODE_CMD_MINT, capref_index(dest), capref_addr(src),
                      rights, param, 0, 0).err;
}

static inline errval_t cap_delete(struct capref c)
{
    return sys_invoke(capref_cnode(c), CNODE_CMD_DELETE, capref_index(c), 0, 0, 0, 0, 0).err;
}

static inline errval_t cap_revoke(struct capref c)
{
    return sys_invoke(capref_cnode(c), CNODE_CMD_REVOKE, capref_index(c), 0, 0, 0, 0, 0).err;
}

/* `count` objects of `type`, `objsize` bytes each (0: the type's fixed
 * size), from `offset` bytes into `src`, into consecutive slots from `dest`. */
static inline errval_t cap_retype(struct capref dest, struct capref src, enum objtype type,
                                  uint64_t offset, uint64_t objsize, uint64_t count)
{
    return sys_invoke(capref_addr(src), RAM_CMD_RETYPE, type, offset, objsize, count,
                      capref_cnode(dest), capref_index(dest)).err;
}

/* Map `count` pages of `frame` from `offset` (or, for a lower-level table,
 * that table) into entries entry.. of `vnode`; the mapping capability goes
 * into `mapping`, and deleting it unmaps. */
static inline errval_t vnode_map(struct capref vnode, uint64_t entry, struct capref src, uint8_t rights,
                                 uint64_t offset, uint32_t count, struct capref mapping)
{
    return sys_invoke(capref_addr(vnode), VNODE_CMD_MAP, entry, capref_addr(src), rights, offset,
                      count | ((uint64_t)capref_index(mapping) << 32), capref_cnode(mapping)).err;
}

/* vnode_map of one page, which on success also ends the caller's upcall
 * (VNODE_MAP_RESUME, captypes.h): the code the upcall interrupted goes on
 * and this call does not return. It returns only with an error, and then
 * nothing is mapped. Only the fault upcall's last step uses it (paging.c). */
static inline errval_t vnode_map_resume(struct capref vnode, uint64_t entry, struct capref frame,
                                        uint8_t rights, struct capref mapping)
{
    return sys_invoke(capref_addr(vnode), VNODE_CMD_MAP, entry, capref_addr(frame),
                      rights | VNODE_MAP_RESUME, 0, 1 | ((uint64_t)capref_index(mapping) << 32),
                      capref_cnode(mapping)).err;
}

static inline errval_t vnode_unmap(struct capref vnode, struct capref mapping)
{
    return sys_invoke(capref_addr(vnode), VNODE_CMD_UNMAP, capref_addr(mapping), 0, 0, 0, 0, 0).err;
}

/* Grow this process's CSpace: `new_root` (a larger, empty L1 CNode) becomes
 * the root; every root slot moves to the same index in it. The task CNode's
 * ROOTCN slot is then pointed at the new root, so CAP_ROOTCN stays true. */
static inline errval_t cnode_resize_root(struct capref old_root, struct capref new_root)
{
    errval_t err = sys_invoke(capref_addr(old_root), CNODE_CMD_RESIZE, capref_addr(new_root),
                              0, 0, 0, 0, 0).err;
    if (err_is_fail(err))
        return err;
    struct capref rootcn = capref_l2(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ROOTCN);
    err = cap_delete(rootcn);
    return err_is_ok(err) ? cap_copy(rootcn, new_root) : err;
}

/* Copy `src` into slot `slot` of the CNode `cnode` names: for CNodes whose
 * slots have no address in this CSpace (another process's root CNode). */
static inline errval_t cnode_copy_to(struct capref cnode, uint32_t slot, struct capref src)
{
    return sys_invoke(capref_addr(cnode), CNODE_CMD_COPY, slot, capref_addr(src), 0, 0, 0, 0).err;
}

static inline errval_t cap_identify(struct capref c, struct capinfo *info)
{
    struct sysret4 r = sys_invoke(capref_addr(c), CAP_CMD_IDENTIFY, 0, 0, 0, 0, 0, 0);
    if (err_is_ok(r.err))
        *info = (struct capinfo){ (enum objtype)(r.r1 & 0xff), (uint8_t)(r.r1 >> 8), r.r2, r.r3 };
    return r.err;
}

/* IRQ capabilities (kernel/cap/irq.c): interrupts as LMP messages to `ep`. */
static inline errval_t irq_connect(struct capref irq, struct capref ep)
{
    return sys_invoke(capref_addr(irq), IRQ_CMD_CONNECT, capref_addr(ep), 0, 0, 0, 0, 0).err;
}

static inline errval_t irq_ack(struct capref irq)
{
    return sys_invoke(capref_addr(irq), IRQ_CMD_ACK, 0, 0, 0, 0, 0, 0).err;
}

static inline errval_t irq_disconnect(struct capref irq)
{
    return sys_invoke(capref_addr(irq), IRQ_CMD_DISCONNECT, 0, 0, 0, 0, 0, 0).err;
}

static inline errval_t kernel_core_id(struct capref kernel, uint64_t *core)
{
    struct sysret4 r = sys_invoke(capref_addr(kernel), KERNEL_CMD_CORE_ID, 0, 0, 0, 0, 0, 0);
    *core = r.r1;
    return r.err;
}
