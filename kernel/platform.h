/*
 * platform.h — what the device tree tells the kernel about the machine.
 *
 * platform_read() fills this once at boot; nothing in it is assumed at build
 * time. Physical addresses throughout.
 */
#pragma once

#include <stdint.h>

#include <minnow/errors.h>
#include "base/fdt.h"

#define PLATFORM_MAX_RAM      16
#define PLATFORM_MAX_RESERVED 16
#define PLATFORM_MAX_DEVICES  64

struct phys_range {
    uint64_t base, size;
};

struct platform {
    struct phys_range ram[PLATFORM_MAX_RAM];
    unsigned nram;
    uint64_t ram_total;
    /* Memory the kernel must not hand out: memreserve entries and /reserved-memory. */
    struct phys_range reserved[PLATFORM_MAX_RESERVED];
    unsigned nreserved;

    unsigned ncores;
    struct phys_range uart;
    unsigned uart_intid;                /* its interrupt (an SPI's INTID), 0 if none */
    unsigned gic_version;               /* 2 or 3 */
    struct phys_range gicd;             /* distributor */
    struct phys_range gicc_or_gicr;     /* v2: CPU interface; v3: redistributors */
    unsigned timer_intid;               /* virtual timer interrupt (a PPI) */
    struct phys_range initrd;           /* size 0 if none */
    const char *cmdline;                /* "" if none; lives in the device tree */
    /* Register ranges of the other devices (not RAM, CPUs or the GIC the
     * kernel drives), page-rounded, sorted, overlapping pages merged. */
    struct phys_range devices[PLATFORM_MAX_DEVICES];
    unsigned ndevices;
};

errval_t platform_read(const struct fdt *fdt, struct platform *p);
