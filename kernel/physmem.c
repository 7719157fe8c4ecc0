/*
 * physmem.c — free RAM ranges and page allocation at boot (physmem.h).
 *
 * Ranges are kept as a small array; removing a reserved region may split a
 * range in two. Allocation takes pages from the top of the highest range, so
 * the low memory near the kernel stays in large pieces.
 */
#include "physmem.h"

#include "memlayout.h"
#include "mmu.h"
#include "string.h"

static struct phys_range ranges[PHYSMEM_MAX_RANGES];
static unsigned nranges;

static void add_range(uint64_t base, uint64_t end)
{
    if (end > base && nranges < PHYSMEM_MAX_RANGES)
        ranges[nranges++] = (struct phys_range){ base, end - base };
}

/* Remove [base, base+size) (page-rounded outwards) from every range. */
static void remove_range(uint64_t base, uint64_t size)
{
    uint64_t lo = base & ~(PAGE_SIZE - 1);
    uint64_t hi = (base + size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    unsigned n = nranges;
    for (unsigned i = 0; i < n; i++) {
        uint64_t rb = ranges[i].base, re = rb + ranges[i].size;
        if (hi <= rb || lo >= re)
            continue;
        ranges[i].size = 0;
        add_range(rb, lo > rb ? lo : rb);
        add_range(hi < re ? hi : re, re);
    }
}

void physmem_init(const struct platform *p, struct phys_range image, struct phys_range dtb)
{
    for (unsigned i = 0; i < p->nram; i++) {
        uint64_t b = (p->ram[i].base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        uint64_t e = (p->ram[i].base + p->ram[i].size) & ~(PAGE_SIZE - 1);
        add_range(b, e);
    }
    remove_range(image.base, image.size);
    remove_range(dtb.base, dtb.size);
    remove_range(p->initrd.base, p->initrd.size);
    for (unsigned i = 0; i < p->nreserved; i++)
        remove_range(p->reserved[i].base, p->reserved[i].size);
}

uint64_t physmem_alloc(uint64_t bytes)
{
    struct phys_range *best = NULL;
    for (unsigned i = 0; i < nranges; i++)
        if (ranges[i].size >= bytes && (best == NULL || ranges[i].base > best->base))
            best = &ranges[i];
    if (best == NULL || bytes == 0 || bytes % PAGE_SIZE != 0)
        return 0;
    best->size -= bytes;
    uint64_t pa = best->base + best->size;
    memset(phys_to_virt(pa), 0, bytes);
    return pa;
}

uint64_t physmem_alloc_page(void)
{
    return physmem_alloc(PAGE_SIZE);
}

void physmem_take_all(void (*take)(struct phys_range r, void *arg), void *arg)
{
    for (unsigned i = 0; i < nranges; i++)
        if (ranges[i].size > 0)
            take(ranges[i], arg);
    nranges = 0;
}

uint64_t physmem_free_bytes(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < nranges; i++)
        total += ranges[i].size;
    return total;
}
