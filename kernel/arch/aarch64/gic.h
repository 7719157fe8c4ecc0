/*
 * gic.h — the ARM Generic Interrupt Controller, version 2 or 3 (whichever the
 * device tree describes). Only what a CPU driver needs: enable a private
 * interrupt on this core, route, mask and unmask a shared one, acknowledge
 * and end interrupts.
 */
#pragma once

#include <stdint.h>

#include <minnow/errors.h>
#include "platform.h"

#define GIC_SPURIOUS 1023u

errval_t gic_init(const struct platform *p);
void gic_enable_ppi(unsigned intid);
/* Shared peripheral interrupts (INTID >= 32), for IRQ capabilities
 * (kernel/cap/irq.c): route to this core at the kernel's priority and
 * enable; mask and unmask the line at the distributor. */
void gic_enable_spi(unsigned intid);
void gic_mask(unsigned intid);
void gic_unmask(unsigned intid);
uint32_t gic_ack(void);          /* INTID, or GIC_SPURIOUS */
void gic_eoi(uint32_t intid);
unsigned gic_version(void);
/* Shared peripheral interrupts (INTID 32 up) the distributor implements. */
unsigned gic_num_spis(void);
