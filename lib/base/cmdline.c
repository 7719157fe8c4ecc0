/*
 * cmdline.c — "key=value" lookup in the kernel command line (cmdline.h).
 * Words are separated by spaces; the last occurrence of a key wins, so a
 * test can override a default given earlier. Pure code, host-tested.
 */
#include "cmdline.h"

#include "strutil.h"

static bool copy_until(const char *s, const char *stops, char *out, size_t outlen, size_t *used)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        bool stop = false;
        for (const char *c = stops; *c; c++)
            stop |= (s[n] == *c);
        if (stop)
            break;
        if (n + 1 >= outlen)
            return false;
        out[n] = s[n];
    }
    out[n] = '\0';
    *used = n;
    return true;
}

bool cmdline_get(const char *cmdline, const char *key, char *out, size_t outlen)
{
    size_t klen = strutil_len_bounded(key, (size_t)-1);
    const char *found = NULL;
    for (const char *w = cmdline; *w; ) {
        while (*w == ' ')
            w++;
        if (strutil_len_bounded(w, klen) == klen && strutil_equal_n(w, key, klen) && w[klen] == '=')
            found = w + klen + 1;
        while (*w && *w != ' ')
            w++;
    }
    size_t used;
    return found != NULL && copy_until(found, " ", out, outlen, &used);
}

bool cmdline_next_item(const char **pos, char *out, size_t outlen)
{
    while (**pos == ',')
        (*pos)++;
    if (**pos == '\0')
        return false;
    size_t used;
    if (!copy_until(*pos, ",", out, outlen, &used))
        return false;
    *pos += used;
    return true;
}
