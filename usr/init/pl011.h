/*
 * pl011.h — the console UART driven from user space (pl011.c): its
 * registers mapped from a DevFrame, its interrupt connected to an LMP
 * endpoint through an IRQ capability (docs/terminal.md).
 *
 * The driver knows the device, nothing about terminals: termsrv.c decides
 * what the bytes mean. Not thread-safe: its one user serialises calls.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>

#include "cap.h"
#include "lmp.h"

struct pl011 {
    volatile uint32_t *regs;
    struct capref irq;              /* the IRQ capability of its line */
    struct lmp_endpoint *ep;        /* where the kernel sends its interrupts */
};

/* Map the UART whose registers are at physical `base` (one of
 * ROOTCN_SLOT_DEVCN's DevFrames), connect `irq` to a fresh endpoint whose
 * messages call `on_irq` (thread-scheduler context: see lmp.h), and turn
 * on its receive interrupts. */
errval_t pl011_start(struct pl011 *u, uint64_t base, struct capref irq,
                     lmp_handler_fn on_irq, void *arg);

/* After an interrupt message: take the messages, move every received byte
 * to `put` (in order), clear the interrupt and unmask the line. */
errval_t pl011_serve_irq(struct pl011 *u, void (*put)(char c, void *arg), void *arg);

/* Write bytes, waiting while the transmit FIFO is full. */
void pl011_write(struct pl011 *u, const char *s, size_t len);
