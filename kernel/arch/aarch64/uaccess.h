/*
 * uaccess.h — may the kernel touch this user memory on the caller's behalf?
 *
 * The kernel reads and writes user buffers directly (PAN is off, and the
 * caller's TTBR0 is live), but only after asking the MMU whether user mode
 * itself could: AT S1E0R / S1E0W on every page. One core runs a dispatcher,
 * so nothing can unmap the pages between the check and the access.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* True if EL0 may read (or, with `write`, write) every byte of [va, va + len). */
bool user_access_ok(uint64_t va, uint64_t len, bool write);
