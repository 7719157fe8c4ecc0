/*
 * regcheck_asm.S — fill every register with a pattern, let the kernel run
 * (a yield system call, or a long spin that the timer tick preempts), and
 * check that every register came back unchanged.
 *
 * uint64_t regcheck_run(uint64_t seed, uint64_t mode)
 *   mode 0: svc yield    (x0/x1 are the call's results; x8 must stay SYS_YIELD)
 *   mode 1: spin SPIN_ITERATIONS times (x0 counts down)
 * Returns 0 if intact, else the first bad register: n for xn, 100 + n for vn,
 * 31 for sp.
 */
#include <minnow/syscall.h>

#define SPIN_ITERATIONS 20000000

    .text
    .globl regcheck_run
regcheck_run:
    stp     x29, x30, [sp, #-160]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    str     x0, [sp, #-16]!         /* the seed, for the checks */
    mov     x9, sp
    str     x9, [sp, #8]            /* and sp itself */

    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x2, x0, #(100 + \n)
    dup     v\n\().2d, x2
    .endr
    mov     x7, x1                  /* mode, before x1 is needed */
    .irp n, 2,3,4,5,6,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    add     x\n, x0, #\n
    .endr
    cbnz    x7, spin
    add     x7, x0, #7
    mov     x8, #SYS_YIELD
    svc     #0
    cmp     x8, #SYS_YIELD
    mov     x1, #8
    b.ne    bad
    b       check
spin:
    add     x7, x0, #7
    add     x8, x0, #8
    ldr     x0, =SPIN_ITERATIONS
1:  subs    x0, x0, #1
    b.ne    1b
    ldr     x0, [sp]
    add     x1, x0, #8
    cmp     x8, x1
    mov     x1, #8
    b.ne    bad
check:
    ldr     x0, [sp]                /* seed */
    .irp n, 2,3,4,5,6,7,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30
    add     x1, x0, #\n
    cmp     x\n, x1
    mov     x1, #\n
    b.ne    bad
    .endr
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    add     x2, x0, #(100 + \n)
    mov     x1, v\n\().d[0]
    cmp     x1, x2
    mov     x1, #(100 + \n)
    b.ne    bad
    mov     x1, v\n\().d[1]
    cmp     x1, x2
    mov     x1, #(100 + \n)
    b.ne    bad
    .endr
    ldr     x2, [sp, #8]
    mov     x3, sp
    cmp     x2, x3
    mov     x1, #31
    b.ne    bad
    mov     x1, #0
bad:
    mov     x0, x1
    add     sp, sp, #16
    ldp     d14, d15, [sp, #144]
    ldp     d12, d13, [sp, #128]
    ldp     d10, d11, [sp, #112]
    ldp     d8, d9, [sp, #96]
    ldp     x27, x28, [sp, #80]
    ldp     x25, x26, [sp, #64]
    ldp     x23, x24, [sp, #48]
    ldp     x21, x22, [sp, #32]
    ldp     x19, x20, [sp, #16]
    ldp     x29, x30, [sp], #160
    ret
    .ltorg
