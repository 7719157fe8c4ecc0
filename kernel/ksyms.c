/*
 * ksyms.c — look addresses up in the embedded symbol table (ksyms.h).
 */
#include "ksyms.h"

#include <stdbool.h>

/* Provided by the generated build/kernel/ksyms.S (empty on the first link). */
extern const uint64_t ksyms_count;
extern const uint64_t ksyms_addr[];     /* sorted ascending */
extern const uint32_t ksyms_name_off[];
extern const char ksyms_names[];
extern char _kernel_start[], _image_end[];

bool ksyms_lookup(uint64_t addr, const char **name, uint64_t *offset)
{
    if (ksyms_count == 0 || addr < ksyms_addr[0] || addr >= (uint64_t)_image_end)
        return false;
    uint64_t lo = 0, hi = ksyms_count;     /* invariant: addr_[lo] <= addr */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ksyms_addr[mid] <= addr)
            lo = mid;
        else
            hi = mid;
    }
    *name = &ksyms_names[ksyms_name_off[lo]];
    *offset = addr - ksyms_addr[lo];
    return true;
}
