/*
 * irq.h — IRQ capabilities: interrupts delivered as LMP messages (irq.c).
 */
#pragma once

#include <stdbool.h>

#include "cap.h"
#include "dcb.h"
#include "trapframe.h"

/* At boot: which INTID is the console UART's (0: none). */
void irq_init(unsigned uart_intid);

/* IRQ_CMD_CONNECT / ACK / DISCONNECT on an IRQ capability. */
errval_t irq_invoke(const struct capability *root, struct cte *target, const struct trap_frame *f);

/* An interrupt that is not the kernel's: mask it and send it to its
 * connection. False if nobody ever connected the line (it stays masked);
 * *woken is the receiver, if one was sent to. */
bool irq_deliver(unsigned intid, struct dcb **woken);

/* The console's line is connected: its input is the user driver's. */
bool irq_console_taken(void);
