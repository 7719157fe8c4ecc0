/*
 * boot_mmu.c — the page tables that let head.S turn the MMU on.
 *
 * Runs with the MMU off, at the physical load address. That is safe only
 * because this file uses nothing but PC-relative addressing (the kernel is
 * built with -mcmodel=small -fno-pic, so globals are reached by adrp/add)
 * and touches no other code. It maps
 *   - the image at its linked address KERNEL_IMAGE_BASE (2 MiB blocks),
 *   - the 1 GiB regions holding the image identity-mapped in TTBR0, just long
 *     enough to execute the instructions that switch the MMU on.
 * Everything else (RAM, devices) is mapped later by mmu.c from C.
 */
#include <stdint.h>

#include "memlayout.h"
#include "mmu.h"

struct boot_roots { uint64_t ttbr1, ttbr0; };

struct boot_roots boot_mmu_setup(uint64_t image_pa, uint64_t dtb_pa);

/* Boot tables; .bss is already zero. Page aligned as the hardware requires. */
pte_t boot_l0_kernel[512] __attribute__((aligned(4096)));
static pte_t boot_l1_image[512] __attribute__((aligned(4096)));
static pte_t boot_l2_image[512] __attribute__((aligned(4096)));
#define BOOT_IMAGE_L3_TABLES 2      /* 4 MiB of image; kernel.ld checks */
static pte_t boot_l3_image[BOOT_IMAGE_L3_TABLES][512] __attribute__((aligned(4096)));
static pte_t boot_l0_ident[512] __attribute__((aligned(4096)));
static pte_t boot_l1_ident[512] __attribute__((aligned(4096)));

extern char _kernel_start[], _kernel_end[], _text_end[], _rodata_end[];

#define PROT_KERNEL_TEXT   (PTE_ATTR(MT_NORMAL) | PTE_SH_INNER | PTE_AF | PTE_UXN | PTE_AP_RO)
#define PROT_KERNEL_RODATA (PROT_KERNEL_TEXT | PTE_PXN)
#define PROT_KERNEL_DATA   (PROT_KERNEL_RW | PTE_PXN)

/* The protection of the image page at `offset`: by section. */
__attribute__((section(".text.boot")))
static uint64_t image_prot(uint64_t offset)
{
    if (offset < (uint64_t)(_text_end - _kernel_start))
        return PROT_KERNEL_TEXT;
    if (offset < (uint64_t)(_rodata_end - _kernel_start))
        return PROT_KERNEL_RODATA;
    return PROT_KERNEL_DATA;
}

#define IDX(va, level) (((va) >> (39 - 9 * (level))) & 511)

__attribute__((section(".text.boot")))
struct boot_roots boot_mmu_setup(uint64_t image_pa, uint64_t dtb_pa)
{
    (void)dtb_pa;
    uint64_t size = (uint64_t)(_kernel_end - _kernel_start);
    uint64_t va = KERNEL_IMAGE_BASE;

    boot_l0_kernel[IDX(va, 0)] = (uint64_t)boot_l1_image | PTE_VALID | PTE_TABLE;
    boot_l1_image[IDX(va, 1)] = (uint64_t)boot_l2_image | PTE_VALID | PTE_TABLE;
    for (uint64_t t = 0; t < BOOT_IMAGE_L3_TABLES; t++)
        boot_l2_image[IDX(va, 2) + t] = (uint64_t)boot_l3_image[t] | PTE_VALID | PTE_TABLE;
    for (uint64_t off = 0; off < size; off += PAGE_SIZE)
        boot_l3_image[off / BLOCK_2M][(off / PAGE_SIZE) % 512] =
            (image_pa + off) | image_prot(off) | PTE_VALID | PTE_TABLE;

    /* Identity: the GiB holding the image and the next, in case it straddles. */
    uint64_t gib = image_pa & ~(BLOCK_1G - 1);
    boot_l0_ident[IDX(gib, 0)] = (uint64_t)boot_l1_ident | PTE_VALID | PTE_TABLE;
    for (uint64_t g = gib; g < gib + 2 * BLOCK_1G && IDX(g, 0) == IDX(gib, 0); g += BLOCK_1G)
        boot_l1_ident[IDX(g, 1)] = g | PROT_KERNEL_RW | PTE_VALID;

    return (struct boot_roots){ (uint64_t)boot_l0_kernel, (uint64_t)boot_l0_ident };
}
