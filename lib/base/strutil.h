/*
 * strutil.h — the few bounded string helpers the lib/base parsers need.
 *
 * lib/base is also compiled for the freestanding kernel, which has no
 * <string.h>, so the parsers cannot rely on libc. These helpers never read
 * past the bound they are given, which is what lets the parsers keep every
 * access inside the blob they are checking.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of `s`, or `max` if no NUL occurs in its first `max` bytes. */
static inline size_t strutil_len_bounded(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    return n;
}

/* True if the two NUL-terminated strings are equal. */
static inline bool strutil_equal(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] != '\0' && a[i] == b[i])
        i++;
    return a[i] == b[i];
}

/* True if the first `n` bytes of `a` and `b` are equal (NULs included). */
static inline bool strutil_equal_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i])
            return false;
    }
    return true;
}
