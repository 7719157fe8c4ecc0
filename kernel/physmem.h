/*
 * physmem.h — the boot-time physical memory allocator.
 *
 * Holds the free RAM ranges (RAM from the device tree minus the kernel image,
 * the device tree, the boot modules and reserved regions) and hands out
 * zeroed pages for the first processes. Whatever is left after boot is what
 * init will receive as RAM capabilities (issue 3).
 */
#pragma once

#include <stdint.h>

#include <minnow/errors.h>
#include "platform.h"

#define PHYSMEM_MAX_RANGES 32

void physmem_init(const struct platform *p, struct phys_range image, struct phys_range dtb);

/* A zeroed 4 KiB page, or 0 when memory is exhausted. */
uint64_t physmem_alloc_page(void);

uint64_t physmem_free_bytes(void);
