/*
 * printk.h — formatted output on the kernel console.
 *
 * Supports %s %c %d %i %u %x %X %p %% with the l, ll and z modifiers, a
 * field width and the '0' and '-' flags. Output goes to the console driver
 * registered with printk_set_console (the PL011 after boot).
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

typedef void (*console_putc_fn)(char c);

void printk_set_console(console_putc_fn putc);
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);
void printk_puts(const char *s);

/* Write exactly n bytes (used for user debug output). */
void printk_write(const char *s, size_t n);
