/*
 * uaccess.c — checks on user memory before the kernel touches it (uaccess.h).
 */
#include "uaccess.h"

#include "memlayout.h"
#include "sysreg.h"

static bool page_ok(uint64_t page, bool write)
{
    if (write)
        __asm__ volatile("at s1e0w, %0" :: "r"(page));
    else
        __asm__ volatile("at s1e0r, %0" :: "r"(page));
    isb();
    return (READ_SYSREG(par_el1) & 1) == 0;
}

bool user_access_ok(uint64_t va, uint64_t len, bool write)
{
    if (len == 0)
        return true;
    if (va + len < va || va + len > USER_TOP)
        return false;
    for (uint64_t page = va & ~(PAGE_SIZE - 1); page < va + len; page += PAGE_SIZE)
        if (!page_ok(page, write))
            return false;
    return true;
}
