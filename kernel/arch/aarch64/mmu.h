/*
 * mmu.h — AArch64 translation tables (4 KiB granule, 4 levels) for the
 * kernel half and for user address spaces.
 *
 * mmu_map() is the one mapper: it walks from a level-0 table, creates
 * intermediate tables on demand from a caller-given allocator, and uses the
 * largest block (1 GiB, 2 MiB, 4 KiB) that alignment allows. Mapping over an
 * identical existing entry is allowed (the boot maps overlap); a conflicting
 * entry is an error.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <minnow/errors.h>

#include "memlayout.h"
#include "sysreg.h"

/* Memory types: indexes into MAIR_EL1 as set in head.S. */
#define MT_NORMAL        0ul
#define MT_DEVICE_nGnRnE 1ul
#define MT_DEVICE_nGnRE  2ul
#define MT_NORMAL_NC     3ul

/* Descriptor bits. */
#define PTE_VALID     (1ul << 0)
#define PTE_TABLE     (1ul << 1)    /* at levels 0-2: next-level table; at 3: page */
#define PTE_ATTR(mt)  ((mt) << 2)
#define PTE_AP_USER   (1ul << 6)    /* EL0 may access */
#define PTE_AP_RO     (1ul << 7)    /* read-only at every level */
#define PTE_SH_INNER  (3ul << 8)
#define PTE_AF        (1ul << 10)
#define PTE_NG        (1ul << 11)   /* not global: tagged with the ASID */
#define PTE_PXN       (1ul << 53)
#define PTE_UXN       (1ul << 54)
#define PTE_ADDR_MASK 0x0000fffffffff000ul

/* Attribute sets used by the kernel. */
#define PROT_KERNEL_RW  (PTE_ATTR(MT_NORMAL) | PTE_SH_INNER | PTE_AF | PTE_UXN)
#define PROT_KERNEL_DEV (PTE_ATTR(MT_DEVICE_nGnRE) | PTE_AF | PTE_UXN | PTE_PXN)
#define PROT_USER_BASE  (PTE_ATTR(MT_NORMAL) | PTE_SH_INNER | PTE_AF | PTE_NG | PTE_AP_USER | PTE_PXN)

typedef uint64_t pte_t;

/* Returns the physical address of a fresh, zeroed 4 KiB page, or 0. */
typedef uint64_t (*mmu_alloc_fn)(void);

errval_t mmu_map(uint64_t l0_pa, uint64_t va, uint64_t pa, uint64_t size,
                 uint64_t prot, mmu_alloc_fn alloc);

/* Physical address and descriptor of the leaf that maps va; false if none. */
bool mmu_lookup(uint64_t l0_pa, uint64_t va, uint64_t *pa, pte_t *leaf);

/* Change the attributes of the 4 KiB leaf that maps va (must exist). */
errval_t mmu_set_prot(uint64_t l0_pa, uint64_t va, uint64_t prot);

/* The kernel image's physical place, set once by mmu_init(). */
extern uint64_t mmu_image_pa, mmu_image_size;
extern char _kernel_start[];

/* Kernel-virtual address for a physical one: the image window for the
 * image's own pages (usable before the direct map exists), else the direct
 * map. Inline: every capability lookup makes one or two. */
static inline void *phys_to_virt(uint64_t pa)
{
    if (pa - mmu_image_pa < mmu_image_size)
        return _kernel_start + (pa - mmu_image_pa);
    return (void *)(pa + KERNEL_DIRECT_BASE);
}
uint64_t virt_to_phys(const void *va);

/* Boot-time set-up of the kernel half (mmu.c). */
void mmu_init(uint64_t image_pa);
errval_t mmu_map_direct(uint64_t pa, uint64_t size, bool device);
uint64_t mmu_kernel_root(void);
/* Switch TTBR0 to a user address space (root | ASID) or to none. Inline:
 * every context switch does it. No isb: the kernel touches user memory
 * (an upcall's save area, a resume context, a string to print) only of the
 * process that entered it and before any switch, which is the last thing
 * a system call, fault or interrupt does; the eret into the new process is
 * a context synchronization event (SCTLR_EL1.EOS is set, head.S). A path
 * that reads the new process's memory after a switch must isb first. */
static inline void mmu_switch_user(uint64_t ttbr0)
{
    WRITE_SYSREG(ttbr0_el1, ttbr0);
}
