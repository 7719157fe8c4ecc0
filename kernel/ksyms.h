/*
 * ksyms.h — the kernel's embedded symbol table, for symbolised backtraces.
 *
 * tools/ksyms.py generates it from the first link of the kernel (nm), and the
 * second link embeds it in the .ksyms section, which lies after all code, so
 * no function moves between the two links.
 */
#pragma once

#include <stdint.h>

/* Name of the function containing addr and the offset into it; false if unknown. */
_Bool ksyms_lookup(uint64_t addr, const char **name, uint64_t *offset);
