/*
 * head.S — the first instructions of the CPU driver.
 *
 * The boot loader (QEMU, U-Boot, firmware) jumps to the start of the image
 * with the MMU off, x0 = physical address of the device tree. We:
 *   1. start the cycle counter (so boot_to_init counts from here),
 *   2. drop from EL2 to EL1 if entered at EL2,
 *   3. clear .bss and build the boot page tables (boot_mmu.c, run at the
 *      physical address, which works because it only uses PC-relative code),
 *   4. turn the MMU on and jump to the linked (upper-half) address,
 *   5. call kernel_main(dtb_pa, image_pa).
 */
#include "memlayout.h"
#include "trapframe.h"

/* MAIR: attr0 normal write-back, attr1 device nGnRnE, attr2 device nGnRE,
 * attr3 normal non-cacheable. Must match MT_* in mmu.h. */
    .equ BOOT_MAIR, 0x44040000ff
/* TCR: T0SZ=T1SZ=16 (48 bits), 4 KiB granules, inner/outer write-back
 * write-allocate, inner shareable walks, 16-bit ASIDs (AS). */
    .equ BOOT_TCR, (16 | (1 << 8) | (1 << 10) | (3 << 12) | (16 << 16) | (1 << 24) | (1 << 26) | (3 << 28) | (2 << 30) | (1 << 36))
/* SCTLR_EL1: M, C, SA, SA0, I, DZE, UCT, nTWI, nTWE, UCI plus RES1 bits; no
 * alignment checking (A=0) so user code may do unaligned accesses. */
    .equ BOOT_SCTLR_RES1, ((1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29))
    .equ BOOT_SCTLR, (BOOT_SCTLR_RES1 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 12) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 18) | (1 << 26))
    .equ BOOT_SCTLR_OFF, BOOT_SCTLR_RES1


    .section .text.head, "ax"
    .globl _start
_start:
    /* arm64 Image header (Documentation/arm64/booting.rst in Linux). */
    b       entry                   /* code0 */
    .long   0                       /* code1 */
    .quad   0                       /* text_offset: 2 MiB aligned base + 0 */
    .quad   _kernel_size            /* image_size, including .bss */
    .quad   0xa                     /* flags: little-endian, 4 KiB pages, anywhere in RAM */
    .quad   0, 0, 0                 /* reserved */
    .ascii  "ARM\x64"               /* magic */
    .long   0                       /* reserved (PE header offset) */

entry:
    /* PMCR_EL0: E (enable) | C (reset cycle counter); count the cycle counter. */
    mov     x9, #5
    msr     pmcr_el0, x9
    mov     x9, #(1 << 31)
    msr     pmcntenset_el0, x9
    msr     pmccfiltr_el0, xzr

    mov     x19, x0                 /* device tree (physical) */
    msr     daifset, #0xf

    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    cmp     x9, #2
    b.ne    at_el1
    bl      drop_to_el1
at_el1:
    /* Clear .bss (PC-relative addresses: still physical here). */
    adrp    x9, _bss_start
    add     x9, x9, :lo12:_bss_start
    adrp    x10, _bss_end
    add     x10, x10, :lo12:_bss_end
1:  cmp     x9, x10
    b.hs    2f
    stp     xzr, xzr, [x9], #16
    b       1b
2:
    /* A physical stack for boot_mmu_setup: the top of the boot stack. */
    adrp    x9, boot_stack_top
    add     x9, x9, :lo12:boot_stack_top
    mov     sp, x9

    adr     x20, _start             /* physical load address of the image */
    mov     x0, x20
    mov     x1, x19
    bl      boot_mmu_setup          /* returns x0 = TTBR1 root, x1 = TTBR0 root */

    ldr     x9, =BOOT_MAIR
    msr     mair_el1, x9
    mrs     x9, id_aa64mmfr0_el1
    and     x9, x9, #7              /* PARange -> TCR_EL1.IPS */
    ldr     x10, =BOOT_TCR
    orr     x10, x10, x9, lsl #32
    msr     tcr_el1, x10
    msr     ttbr1_el1, x0
    msr     ttbr0_el1, x1
    isb
    tlbi    vmalle1
    dsb     nsh
    isb

    ldr     x9, =BOOT_SCTLR
    msr     sctlr_el1, x9
    isb

    ldr     x9, =high_entry         /* absolute: the linked, upper-half address */
    br      x9

high_entry:
    /* The kernel stack; user trap frames live in the DCBs (trapframe.h). */
    ldr     x9, =boot_stack_top
    mov     sp, x9
    mov     x29, xzr                /* end of the frame-pointer chain */
    mov     x30, xzr
    ldr     x9, =exception_vectors
    msr     vbar_el1, x9
    isb
    mov     x0, x19
    mov     x1, x20
    bl      kernel_main
3:  wfi
    b       3b

/* Enter EL1h from EL2 with EL1 in AArch64 and the timers and PMU usable. */
drop_to_el1:
    mov     x9, #(1 << 31)          /* HCR_EL2.RW: EL1 is AArch64 */
    msr     hcr_el2, x9
    mov     x9, #3                  /* CNTHCTL_EL2: EL1PCTEN | EL1PCEN */
    msr     cnthctl_el2, x9
    msr     cntvoff_el2, xzr
    mrs     x9, mdcr_el2            /* keep HPMN; do not trap PMU accesses */
    and     x9, x9, #0x1f
    msr     mdcr_el2, x9
    mrs     x9, id_aa64pfr0_el1     /* GICv3 system registers at EL1, if present */
    ubfx    x9, x9, #24, #4
    cbz     x9, 1f
    mrs     x9, S3_4_C12_C9_5       /* ICC_SRE_EL2 */
    mov     x10, #0x9               /* SRE | Enable (EL1 may use ICC_SRE_EL1) */
    orr     x9, x9, x10
    msr     S3_4_C12_C9_5, x9
    isb
1:  ldr     x9, =BOOT_SCTLR_OFF
    msr     sctlr_el1, x9
    mov     x9, #0x3c5              /* SPSR: EL1h, D A I F masked */
    msr     spsr_el2, x9
    msr     elr_el2, x30
    eret

    .ltorg

    .section .bss.boot_stack, "aw", %nobits
    .balign 16
boot_stack:
    .space KERNEL_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:
