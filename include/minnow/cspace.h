/*
 * cspace.h — capability addresses and the well-known slots of every
 * process's CSpace, shared by the kernel and user space.
 *
 * A CSpace has two levels: a root (L1) CNode, which can grow, whose slots
 * hold L2 CNodes of L2_CNODE_SLOTS slots each. A capability address
 * (capaddr_t, 32 bits) is (L1 index << L2_CNODE_BITS) | L2 slot.
 */
#pragma once

#include <stdint.h>

typedef uint32_t capaddr_t;

#define L2_CNODE_BITS   8
#define L2_CNODE_SLOTS  (1u << L2_CNODE_BITS)           /* 256 */
#define L1_INDEX_BITS   (32 - L2_CNODE_BITS)            /* up to 2^24 L2 CNodes */
#define L1_CNODE_INITIAL_SLOTS 32                       /* a new root CNode */

/* Invocation arguments that name a capability are 64-bit: a capaddr_t, or
 * CAPADDR_LEVEL1 | l1_index to name the root CNode's slot itself (where the
 * L2 CNodes live), as a source or as the CNode to operate on. */
#define CAPADDR_LEVEL1 (1ull << 32)

static inline uint64_t capaddr_level1(uint32_t l1_index) { return CAPADDR_LEVEL1 | l1_index; }

static inline capaddr_t capaddr_make(uint32_t l1_index, uint32_t l2_slot)
{
    return (l1_index << L2_CNODE_BITS) | (l2_slot & (L2_CNODE_SLOTS - 1));
}
static inline uint32_t capaddr_l1(capaddr_t a) { return a >> L2_CNODE_BITS; }
static inline uint32_t capaddr_l2(capaddr_t a) { return a & (L2_CNODE_SLOTS - 1); }

/* L1 (root CNode) slots: each holds an L2 CNode. */
#define ROOTCN_SLOT_TASKCN      0   /* the process's own capabilities (below) */
#define ROOTCN_SLOT_PAGECN      1   /* page tables: slot 0 is the L0 VNode */
#define ROOTCN_SLOT_SLOT_ALLOC0 2   /* the slot allocator's first CNode */
#define ROOTCN_SLOT_SLOT_ALLOC1 3   /* ... and its reserve */
#define ROOTCN_SLOT_MEMCN       4   /* init: RAM capabilities to all free memory */
#define ROOTCN_SLOT_DEVCN       5   /* init: DevFrames for device registers, by address */
#define ROOTCN_SLOT_MODULECN    6   /* init: the boot-module archive (slot 0), then a
                                       Frame per module in archive order */
#define ROOTCN_SLOT_IRQCN       7   /* init: IRQ capabilities */
#define ROOTCN_SLOT_SPAWN       8   /* a spawner: ROOTCN_SLOT_SPAWN + i holds the
                                       L2 CNode of root slot i (TASKCN .. MEMCN) of the
                                       process it is building (lib/os/spawn.c) */
#define SPAWN_MOUNTED_CNODES    5
#define ROOTCN_SLOTS_USER       13  /* first L1 slot the slot allocator may use */

/* Slots of the task CNode. */
#define TASKCN_SLOT_DISPATCHER  0   /* this process's Dispatcher */
#define TASKCN_SLOT_ROOTCN      1   /* its root (L1) CNode */
#define TASKCN_SLOT_DISPFRAME   2   /* the frame shared with the kernel (dispatcher state) */
#define TASKCN_SLOT_ARGSPAGE    3   /* the argument page (args.h) */
#define TASKCN_SLOT_SELFEP      4   /* an EndPoint to itself */
#define TASKCN_SLOT_KERNELCAP   5   /* init only: the Kernel capability */
#define TASKCN_SLOT_INITEP      6   /* an EndPoint to this core's init */
#define TASKCN_SLOTS_USER       16  /* first task-CNode slot for other uses */

/* Well-known capability addresses. */
#define CAP_DISPATCHER  capaddr_make(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPATCHER)
#define CAP_ROOTCN      capaddr_make(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ROOTCN)
#define CAP_DISPFRAME   capaddr_make(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_DISPFRAME)
#define CAP_ARGSPAGE    capaddr_make(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_ARGSPAGE)
#define CAP_SELFEP      capaddr_make(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_SELFEP)
#define CAP_KERNEL      capaddr_make(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_KERNELCAP)
#define CAP_INITEP      capaddr_make(ROOTCN_SLOT_TASKCN, TASKCN_SLOT_INITEP)
#define CAP_VROOT       capaddr_make(ROOTCN_SLOT_PAGECN, 0)
