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
static pte_t boot_l0_ident[512] __attribute__((aligned(4096)));
static pte_t boot_l1_ident[512] __attribute__((aligned(4096)));

extern char _kernel_start[], _kernel_end[];

#define IDX(va, level) (((va) >> (39 - 9 * (level))) & 511)

__attribute__((section(".text.boot")))
struct boot_roots boot_mmu_setup(uint64_t image_pa, uint64_t dtb_pa)
{
    (void)dtb_pa;
    uint64_t size = (uint64_t)(_kernel_end - _kernel_start);
    uint64_t blocks = (size + BLOCK_2M - 1) / BLOCK_2M;
    uint64_t va = KERNEL_IMAGE_BASE;

    boot_l0_kernel[IDX(va, 0)] = (uint64_t)boot_l1_image | PTE_VALID | PTE_TABLE;
    boot_l1_image[IDX(va, 1)] = (uint64_t)boot_l2_image | PTE_VALID | PTE_TABLE;
    for (uint64_t i = 0; i < blocks; i++)
        boot_l2_image[IDX(va, 2) + i] = (image_pa + i * BLOCK_2M) | PROT_KERNEL_RW | PTE_VALID;

    /* Identity: the GiB holding the image and the next, in case it straddles. */
    uint64_t gib = image_pa & ~(BLOCK_1G - 1);
    boot_l0_ident[IDX(gib, 0)] = (uint64_t)boot_l1_ident | PTE_VALID | PTE_TABLE;
    for (uint64_t g = gib; g < gib + 2 * BLOCK_1G && IDX(g, 0) == IDX(gib, 0); g += BLOCK_1G)
        boot_l1_ident[IDX(g, 1)] = g | PROT_KERNEL_RW | PTE_VALID;

    return (struct boot_roots){ (uint64_t)boot_l0_kernel, (uint64_t)boot_l0_ident };
}
