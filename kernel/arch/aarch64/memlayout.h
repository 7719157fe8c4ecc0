/*
 * memlayout.h — the kernel's virtual address map (4 KiB granule, 48-bit VAs).
 *
 *   0x0000_0000_0000_0000 .. 0x0000_ffff_ffff_ffff   user space (TTBR0)
 *   0xffff_0000_0000_0000 + PA                       direct map of RAM (normal)
 *                                                    and device registers (device)
 *   0xffff_ff80_0000_0000                            the kernel image, as linked
 *
 * The image is linked at KERNEL_IMAGE_BASE and runs from wherever the boot
 * loader put it: head.S maps the image's physical location to that address,
 * so no physical address is assumed at build time.
 */
#pragma once

#define KERNEL_DIRECT_BASE 0xffff000000000000
#define KERNEL_IMAGE_BASE  0xffffff8000000000
#define USER_TOP           0x0001000000000000   /* first address past user space */

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1ul << PAGE_SHIFT)
#define BLOCK_2M   (1ul << 21)
#define BLOCK_1G   (1ul << 30)

#define KERNEL_STACK_SIZE (16 * 1024)
