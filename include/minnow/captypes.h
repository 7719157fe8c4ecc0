/*
 * captypes.h — capability types, rights, object sizes and the invocation
 * commands, shared by the kernel (kernel/cap/) and user space (lib/os).
 *
 * The order of enum objtype matters: the derivation database sorts
 * capabilities with equal ranges by type, and an ancestor must sort before
 * its descendants (PhysAddr -> RAM -> Frame -> FrameMapping, ...).
 */
#pragma once

#include <stdint.h>

enum objtype {
    OBJ_NULL = 0,           /* an empty slot */
    OBJ_PHYSADDR,           /* physical address range, no object yet */
    OBJ_RAM,                /* memory that can be retyped */
    OBJ_DEVFRAME,           /* device registers, mappable uncached */
    OBJ_FRAME,              /* memory, mappable */
    OBJ_L1CNODE,            /* a root CNode: n slots, n >= L1_CNODE_MIN_SLOTS */
    OBJ_L2CNODE,            /* a CNode of L2_CNODE_SLOTS slots */
    OBJ_VNODE_L0,           /* ARMv8 translation tables, 4 KiB granule */
    OBJ_VNODE_L1,
    OBJ_VNODE_L2,
    OBJ_VNODE_L3,
    OBJ_DISPATCHER,         /* a process's kernel-side state */
    OBJ_ENDPOINT,           /* a way to send to a dispatcher (LMP) */
    OBJ_FRAME_MAPPING,      /* entries of a VNode mapping a (Dev)Frame */
    OBJ_VNODE_MAPPING,      /* an entry of a VNode pointing to a lower VNode */
    OBJ_KERNEL,             /* authority over this core's CPU driver */
    OBJ_IRQ,                /* one interrupt line */
    OBJ_COUNT
};

/* Rights; every invocation checks the ones it needs. */
#define CAPRIGHTS_READ    (1u << 0)
#define CAPRIGHTS_WRITE   (1u << 1)
#define CAPRIGHTS_EXECUTE (1u << 2)
#define CAPRIGHTS_GRANT   (1u << 3)
#define CAPRIGHTS_ALL     0xfu
#define CAPRIGHTS_RW      (CAPRIGHTS_READ | CAPRIGHTS_WRITE)

/* Object sizes and alignments in bytes. Frames, RAM and DevFrames are any
 * multiple of OBJSIZE_PAGE; an L1 CNode is 64 bytes a slot. */
#define OBJSIZE_PAGE        4096u
#define OBJSIZE_CTE         64u
#define OBJSIZE_L2CNODE     (OBJSIZE_CTE * 256u)        /* 16 KiB */
#define L1_CNODE_MIN_SLOTS  32u
#define OBJSIZE_VNODE       4096u
#define OBJSIZE_DISPATCHER  4096u

/* Invocation commands: SYS_INVOKE with x0 = target capability address,
 * x1 = command, x2.. = arguments (docs/capabilities.md has each one).
 * Capability addresses are 64-bit (cspace.h: capaddr_t or CAPADDR_LEVEL1 | i);
 * a "slot" is an index into the target (or destination) CNode. */
enum cap_cmd {
    /* on an L1 or L2 CNode: operate on its slots */
    CNODE_CMD_COPY = 1,     /* x2 dest slot, x3 source capaddr */
    CNODE_CMD_MINT,         /* x2 dest slot, x3 source, x4 rights, x5 param */
    CNODE_CMD_DELETE,       /* x2 slot */
    CNODE_CMD_REVOKE,       /* x2 slot */
    CNODE_CMD_RESIZE,       /* on the caller's root L1 CNode: x2 a larger, empty
                               L1 CNode that becomes the new root */
    /* on a RAM capability */
    RAM_CMD_RETYPE,         /* x2 type, x3 offset, x4 object size, x5 count,
                               x6 dest CNode address, x7 first dest slot */
    /* on any capability */
    CAP_CMD_IDENTIFY,       /* -> x1 type | rights << 8, x2 base, x3 size */
    /* on a VNode (page table) */
    VNODE_CMD_MAP,          /* x2 first entry, x3 source (Frame, DevFrame or
                               next-level VNode), x4 rights for the pages,
                               x5 offset into the frame, x6 count | dest slot << 32,
                               x7 CNode for the mapping capability;
                               VNODE_MAP_RESUME in x4: see below */
    VNODE_CMD_UNMAP,        /* x2 mapping capability address */
    /* on the Kernel capability */
    KERNEL_CMD_CORE_ID,     /* -> x1 this core's id */
    /* on a Dispatcher (include/minnow/dispatcher.h) */
    DISPATCHER_CMD_SETUP,   /* x2 root L1 CNode, x3 level-0 VNode (both copied into
                               the dispatcher), x4 entry pc, x5 stack pointer,
                               x6 its x0 at the entry */
    DISPATCHER_CMD_SET_NAME, /* x2 pid, x3..x6 the name's bytes (for the kernel's reports) */
    DISPATCHER_CMD_RUN,     /* start or resume a suspended dispatcher */
    DISPATCHER_CMD_STOP,    /* suspend another, runnable dispatcher */
    DISPATCHER_CMD_STATUS,  /* -> x1 state, x2 exit code, x3 timer ticks it ran */
    DISPATCHER_CMD_SET_FRAME, /* x2 Frame capaddr: the dispatcher frame (lmp.h), once */
    DISPATCHER_CMD_ENDPOINT, /* x2 dest CNode, x3 dest slot, x4 buffer index, x5 badge
                               -> an EndPoint to that buffer of this dispatcher */
    DISPATCHER_CMD_BUFFER_RESET, /* x2 buffer index: empty it; EndPoints made to it so
                                   far get LMP_ERR_STALE (a buffer's next owner) */
    /* on an IRQ capability (kernel/cap/irq.c, docs/capabilities.md) */
    IRQ_CMD_CONNECT,        /* x2 EndPoint capaddr: each interrupt masks the line and
                               sends the EndPoint an LMP message, word 0 = the INTID */
    IRQ_CMD_ACK,            /* unmask the line: the driver has served the device */
    IRQ_CMD_DISCONNECT,     /* mask the line and drop the kernel's EndPoint copy */
    CAP_CMD_COUNT
};

/*
 * VNODE_CMD_MAP with this bit set in x4 (beside the rights) maps and then
 * ends the caller's upcall: on success it does what SYS_RESUME(save area, 0)
 * does, loading the register state the upcall saved, so the code that
 * faulted retries at once and the invocation returns nothing (x0-x3 are
 * that code's). It is the page-fault handler's last step: one system call
 * instead of two. On failure nothing is mapped, the upcall goes on and x0
 * holds the error as usual; the caller must be in its upcall
 * (SYS_ERR_NOT_IN_UPCALL) with a readable save area
 * (SYS_ERR_BAD_USER_POINTER), both checked before anything is mapped.
 */
#define VNODE_MAP_RESUME  (1u << 8)
