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

/* `bytes` (a multiple of 4 KiB) of zeroed, contiguous memory, or 0. */
uint64_t physmem_alloc(uint64_t bytes);

/* Hand over every free range (for init's RAM capabilities): the ranges are
 * passed to `take` one by one and the allocator is left empty. */
void physmem_take_all(void (*take)(struct phys_range r, void *arg), void *arg);

uint64_t physmem_free_bytes(void);
