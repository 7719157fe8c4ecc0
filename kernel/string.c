/*
 * string.c — memory and string helpers for the freestanding kernel.
 * Simple byte loops, with a word loop for the large aligned copies and
 * clears that page set-up does.
 */
#include "string.h"

#include <stdbool.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    /* Register frames (a trap frame into an upcall save area and back) are
     * 16-byte multiples at 16-byte addresses: a pair of registers per load
     * and store. */
    if ((((uintptr_t)d | (uintptr_t)s | n) & 15) == 0) {
        for (size_t i = 0; i < n; i += 16)
            *(__uint128_t *)(d + i) = *(const __uint128_t *)(s + i);
        return dst;
    }
    if ((((uintptr_t)d | (uintptr_t)s | n) & 7) == 0) {
        for (size_t i = 0; i < n; i += 8)
            *(uint64_t *)(d + i) = *(const uint64_t *)(s + i);
        return dst;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
    return dst;
}

/* Bytes one DC ZVA clears (DCZID_EL0), or 0 if it is not allowed. */
static size_t zva_bytes(void)
{
    static size_t bytes = 1;    /* 1: not read yet */
    if (bytes == 1) {
        uint64_t dczid;
        __asm__ volatile("mrs %0, dczid_el0" : "=r"(dczid));
        bytes = (dczid & 16) ? 0 : (4u << (dczid & 15));
    }
    return bytes;
}

/* Clearing whole pages is the kernel's most common memset (new page
 * tables, retyped objects, a program's pages): DC ZVA clears a cache line
 * at a time. */
static bool clear_by_lines(unsigned char *d, size_t n)
{
    size_t line = zva_bytes();
    if (line == 0 || (((uintptr_t)d | n) & (line - 1)) != 0)
        return false;
    unsigned char *end = d + n;
    /* Eight lines a turn, a 64-byte-line page in 8: a clear and a pointer
     * step a line, and the loop's compare and branch once in eight. */
    for (; d + 8 * line <= end;)
        __asm__ volatile("dc zva, %0\n\tadd %0, %0, %1\n\t"
                         "dc zva, %0\n\tadd %0, %0, %1\n\t"
                         "dc zva, %0\n\tadd %0, %0, %1\n\t"
                         "dc zva, %0\n\tadd %0, %0, %1\n\t"
                         "dc zva, %0\n\tadd %0, %0, %1\n\t"
                         "dc zva, %0\n\tadd %0, %0, %1\n\t"
                         "dc zva, %0\n\tadd %0, %0, %1\n\t"
                         "dc zva, %0\n\tadd %0, %0, %1"
                         : "+r"(d) : "r"(line) : "memory");
    for (; d < end; d += line)
        __asm__ volatile("dc zva, %0" :: "r"(d) : "memory");
    return true;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    if (c == 0 && clear_by_lines(d, n))
        return dst;
    if (c == 0 && (((uintptr_t)d | n) & 15) == 0) {
        for (size_t i = 0; i < n; i += 16)
            __asm__ volatile("stp xzr, xzr, [%0]" :: "r"(d + i) : "memory");
        return dst;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0')
        n++;
    return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i] || a[i] == '\0')
            return (unsigned char)a[i] - (unsigned char)b[i];
    }
    return 0;
}

int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, (size_t)-1);
}
