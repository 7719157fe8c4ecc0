/*
 * pl011.h — the ARM PL011 UART as the kernel console (polled).
 * The user-space terminal server will take the device over later; the
 * kernel keeps polled output for its own messages and panics.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

void pl011_init(volatile void *regs);
void pl011_putc(char c);
/* Returns true and the character if one is waiting. */
bool pl011_getc(char *c);
