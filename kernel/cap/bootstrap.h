/*
 * bootstrap.h — the capabilities the kernel creates at boot: each boot
 * program's CSpace, and init's share of the machine.
 */
#pragma once

#include <minnow/errors.h>
#include "dcb.h"
#include "platform.h"

/* A boot program's CSpace: a root CNode with the task, page-table and two
 * slot-allocator CNodes (cspace.h), holding its Dispatcher, root CNode,
 * argument page, dispatcher frame (also copied into the DCB), an EndPoint
 * to its own buffer 0 and level-0 VNode capabilities. */
errval_t bootstrap_cspace(struct dcb *d, uint64_t dcb_pa, uint64_t l0_pa, uint64_t args_pa,
                          struct phys_range dispframe);

/* What init receives, after every boot program has its memory: RAM caps to
 * all remaining free memory, DevFrames for the device registers
 * (platform.h: everything but RAM, CPUs and the GIC), Frames for the
 * boot-module archive and for each module in it, IRQ caps and the Kernel cap. */
struct init_grant {
    unsigned ram_caps;
    uint64_t ram_bytes;
    unsigned irq_caps;
    unsigned module_frames;     /* besides the archive's own Frame */
    unsigned dev_frames;
};
errval_t bootstrap_init_resources(struct dcb *init, const struct platform *p, unsigned nirqs,
                                  struct init_grant *grant);
