/*
 * printk.c — the kernel's printf, writing one character at a time to the
 * console. Until a console is registered, output is dropped.
 */
#include "printk.h"

#include <stdbool.h>
#include <stdint.h>

static console_putc_fn console;

void printk_set_console(console_putc_fn putc)
{
    console = putc;
}

static void out(char c)
{
    if (console == NULL)
        return;
    if (c == '\n')
        console('\r');
    console(c);
}

void printk_puts(const char *s)
{
    while (*s)
        out(*s++);
}

struct spec {
    int width;
    bool zero, left;
};

static void pad(int n, char c)
{
    while (n-- > 0)
        out(c);
}

static void emit(const char *s, int len, struct spec sp)
{
    if (!sp.left)
        pad(sp.width - len, sp.zero ? '0' : ' ');
    for (int i = 0; i < len; i++)
        out(s[i]);
    if (sp.left)
        pad(sp.width - len, ' ');
}

static void emit_number(uint64_t v, unsigned base, bool neg, bool upper, struct spec sp)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char buf[24];
    int i = sizeof buf;
    do {
        buf[--i] = digits[v % base];
        v /= base;
    } while (v != 0);
    if (neg) {
        if (sp.zero && sp.width > 0) {
            out('-');
            sp.width--;
        } else {
            buf[--i] = '-';
        }
    }
    emit(&buf[i], (int)sizeof buf - i, sp);
}

static int str_len(const char *s)
{
    int n = 0;
    while (s[n])
        n++;
    return n;
}

/* Parse flags, width and length modifier; returns the conversion character. */
static const char *parse_spec(const char *f, struct spec *sp, int *longs)
{
    *sp = (struct spec){0};
    for (; *f == '0' || *f == '-'; f++) {
        if (*f == '0') sp->zero = true;
        else sp->left = true;
    }
    for (; *f >= '0' && *f <= '9'; f++)
        sp->width = sp->width * 10 + (*f - '0');
    *longs = 0;
    for (; *f == 'l' || *f == 'z'; f++)
        *longs = (*f == 'z') ? 2 : *longs + 1;
    return f;
}

static int64_t arg_signed(va_list *ap, int longs)
{
    return longs ? va_arg(*ap, int64_t) : va_arg(*ap, int);
}

static uint64_t arg_unsigned(va_list *ap, int longs)
{
    return longs ? va_arg(*ap, uint64_t) : va_arg(*ap, unsigned int);
}

void vprintk(const char *fmt, va_list ap)
{
    va_list args;
    va_copy(args, ap);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            out(*f);
            continue;
        }
        struct spec sp;
        int longs;
        f = parse_spec(f + 1, &sp, &longs);
        switch (*f) {
        case 'd': case 'i': {
            int64_t v = arg_signed(&args, longs);
            emit_number(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, false, sp);
            break;
        }
        case 'u': emit_number(arg_unsigned(&args, longs), 10, false, false, sp); break;
        case 'x': emit_number(arg_unsigned(&args, longs), 16, false, false, sp); break;
        case 'X': emit_number(arg_unsigned(&args, longs), 16, false, true, sp); break;
        case 'p':
            out('0'); out('x');
            sp.width = 16; sp.zero = true;
            emit_number((uintptr_t)va_arg(args, void *), 16, false, false, sp);
            break;
        case 'c': { char c = (char)va_arg(args, int); emit(&c, 1, sp); break; }
        case 's': {
            const char *s = va_arg(args, const char *);
            if (s == NULL) s = "(null)";
            emit(s, str_len(s), sp);
            break;
        }
        case '%': out('%'); break;
        case '\0': f--; break;
        default: out('%'); out(*f); break;
        }
    }
    va_end(args);
}

void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

void printk_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out(s[i]);
}
