/*
 * memory.c — memcpy, memmove and memset for user space. They replace
 * picolibc's, which Debian's build compiles for size: byte loops at five
 * instructions a byte, which made every struct copy of the thread library
 * (an 816-byte register state) cost thousands of instructions. These move
 * eight bytes per load or store, 32 per loop turn; AArch64 allows
 * unaligned accesses to normal memory, so no alignment prologue is needed.
 *
 * The loops must not be turned back into calls of themselves by the
 * compiler's pattern recognition, hence NO_LIBCALLS.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

static inline uint64_t load8(const uint8_t *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, 8);     /* one (unaligned) ldr */
    return v;
}

static inline void store8(uint8_t *p, uint64_t v)
{
    __builtin_memcpy(p, &v, 8);
}

/* Forward copy; safe for overlap when dst < src (each turn loads before it stores). */
NO_LIBCALLS static void copy_forward(uint8_t *d, const uint8_t *s, size_t n)
{
    for (; n >= 32; d += 32, s += 32, n -= 32) {
        uint64_t a = load8(s), b = load8(s + 8), c = load8(s + 16), e = load8(s + 24);
        store8(d, a), store8(d + 8, b), store8(d + 16, c), store8(d + 24, e);
    }
    for (; n >= 8; d += 8, s += 8, n -= 8)
        store8(d, load8(s));
    while (n-- > 0)
        *d++ = *s++;
}

NO_LIBCALLS static void copy_backward(uint8_t *d, const uint8_t *s, size_t n)
{
    d += n, s += n;
    for (; n >= 32; n -= 32) {
        d -= 32, s -= 32;
        uint64_t a = load8(s), b = load8(s + 8), c = load8(s + 16), e = load8(s + 24);
        store8(d, a), store8(d + 8, b), store8(d + 16, c), store8(d + 24, e);
    }
    for (; n >= 8; n -= 8) {
        d -= 8, s -= 8;
        store8(d, load8(s));
    }
    while (n-- > 0)
        *--d = *--s;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    copy_forward(dst, src, n);
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d <= s || d >= s + n)
        copy_forward(d, s, n);
    else
        copy_backward(d, s, n);
    return dst;
}

NO_LIBCALLS void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    uint64_t v = 0x0101010101010101ull * (uint8_t)c;
    for (; n >= 32; d += 32, n -= 32)
        store8(d, v), store8(d + 8, v), store8(d + 16, v), store8(d + 24, v);
    for (; n >= 8; d += 8, n -= 8)
        store8(d, v);
    while (n-- > 0)
        *d++ = (uint8_t)c;
    return dst;
}
