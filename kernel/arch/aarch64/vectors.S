/*
 * vectors.S — the exception vector table and the kernel entry/exit paths.
 *
 * Entry from EL0 saves the whole user state as a struct trap_frame straight
 * into the running process's DCB (dcb.h `regs`): while a process runs at EL0,
 * SP_EL1 points just past that frame, so the entry's pushes land in it. Then
 * SP moves to the kernel stack, whose every entry starts empty. The exit
 * restores the frame of whichever DCB is running then (sched_running), so a
 * context switch is a change of that pointer and copies no registers.
 * System calls take a short path: one compare pair checks the exception
 * class and x8 together, the handler from the syscall table is called with
 * the frame, and its return falls into the exit. Everything else goes to C
 * (exceptions.c). The frame and sched_running are reached PC-relative
 * (adr, ldr literal): the whole kernel image is within 1 MiB of the
 * vectors, and the link fails if it ever is not.
 * The kernel is not preemptible: IRQs are masked in the kernel except in the
 * idle loop, whose interrupts take the el1_irq path.
 */
#include "trapframe.h"
#include <minnow/syscall.h>

#define EC_SVC64 0x15

/* The first store moves SP to the frame's start (pre-index): no separate sub. */
.macro save_regs
    stp     x0, x1, [sp, #-FRAME_SIZE]!
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
.endm

.macro save_user
    save_regs
    mrs     x21, sp_el0
    mrs     x22, elr_el1
    mrs     x23, spsr_el1
    stp     x30, x21, [sp, #FRAME_X30]
    stp     x22, x23, [sp, #FRAME_ELR]
.endm

.macro save_kernel
    save_regs
    add     x21, sp, #FRAME_SIZE
    mrs     x22, elr_el1
    mrs     x23, spsr_el1
    stp     x30, x21, [sp, #FRAME_X30]
    stp     x22, x23, [sp, #FRAME_ELR]
.endm

/* x0-x29, x0 and x1 last: that load also moves SP just past the frame
 * (post-index). x30 is loaded by the caller (ret_to_user: paired with
 * sp_el0). */
.macro restore_x0_x29_pop
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    ldp     x0, x1, [sp], #FRAME_SIZE
.endm

.macro restore_regs
    ldr     x30, [sp, #FRAME_X30]
    restore_x0_x29_pop
.endm

.macro ventry target
    .balign 128
    b       \target
.endm

    .text
    .balign 2048
    .globl exception_vectors
exception_vectors:
    ventry  el1_unexpected          /* current EL, SP_EL0: never used */
    ventry  el1_unexpected
    ventry  el1_unexpected
    ventry  el1_unexpected
    ventry  el1_sync                /* current EL, SP_EL1 */
    ventry  el1_irq
    ventry  el1_unexpected
    ventry  el1_unexpected
    ventry  el0_sync                /* lower EL, AArch64 */
    ventry  el0_irq
    ventry  el0_unexpected
    ventry  el0_unexpected
    ventry  el0_unexpected          /* lower EL, AArch32: not supported */
    ventry  el0_unexpected
    ventry  el0_unexpected
    ventry  el0_unexpected

/* After save_user: x0 = the frame (in the DCB), SP = the empty kernel stack. */
.macro enter_kernel_stack
    mov     x0, sp
    adrp    x9, boot_stack_top
    add     sp, x9, :lo12:boot_stack_top
.endm

#if SYS_COUNT > 31
#error "el0_sync's ccmp takes SYS_COUNT as a 5-bit immediate"
#endif

/* A system call is an SVC with x8 below SYS_COUNT: the ccmp compares x8
 * only for an SVC and otherwise sets C, which reads as "out of range". */
el0_sync:
    save_user
    enter_kernel_stack
    mrs     x9, esr_el1
    lsr     x10, x9, #26
    cmp     x10, #EC_SVC64
    ccmp    x8, #SYS_COUNT, #2, eq
    b.hs    el0_sync_other
    adr     x10, syscall_table
    ldr     x10, [x10, x8, lsl #3]
    blr     x10
    /* the handler returns into the exit just below */

/* Return to whichever process is running now: SP goes to the start of its
 * frame, and the restore leaves it just past it, ready for the next entry. */
    .globl kernel_exit_to_user
kernel_exit_to_user:
ret_to_user:
    ldr     x0, sched_running
    add     sp, x0, #DCB_REGS
    ldp     x30, x21, [sp, #FRAME_X30]      /* x30 with sp_el0: one load for both */
    ldp     x22, x23, [sp, #FRAME_ELR]
    msr     sp_el0, x21
    msr     elr_el1, x22
    msr     spsr_el1, x23
    restore_x0_x29_pop
    eret

/* x9 = ESR, x10 = its exception class: an SVC here has a bad number. */
el0_sync_other:
    cmp     x10, #EC_SVC64
    b.eq    el0_syscall_illegal
    mov     x1, x9
    bl      el0_exception
    b       ret_to_user
el0_syscall_illegal:
    bl      syscall_illegal
    b       ret_to_user

el0_irq:
    save_user
    enter_kernel_stack
    bl      irq_from_user
    b       ret_to_user

el0_unexpected:
    save_user
    enter_kernel_stack
    mrs     x1, esr_el1
    bl      el0_exception
    b       ret_to_user

el1_sync:
    save_kernel
    mov     x0, sp
    mrs     x1, esr_el1
    bl      kernel_exception        /* does not return */
1:  b       1b

el1_irq:
    save_kernel
    mov     x0, sp
    bl      irq_from_kernel
    ldp     x22, x23, [sp, #FRAME_ELR]
    msr     elr_el1, x22
    msr     spsr_el1, x23
    restore_regs
    eret

el1_unexpected:
    save_kernel
    mov     x0, sp
    mrs     x1, esr_el1
    bl      kernel_exception
2:  b       2b

/* FP/SIMD state (struct fpu_state): q0-q31, then fpsr, fpcr. */
    .globl fpu_save
fpu_save:
    stp     q0, q1, [x0, #32 * 0]
    stp     q2, q3, [x0, #32 * 1]
    stp     q4, q5, [x0, #32 * 2]
    stp     q6, q7, [x0, #32 * 3]
    stp     q8, q9, [x0, #32 * 4]
    stp     q10, q11, [x0, #32 * 5]
    stp     q12, q13, [x0, #32 * 6]
    stp     q14, q15, [x0, #32 * 7]
    stp     q16, q17, [x0, #32 * 8]
    stp     q18, q19, [x0, #32 * 9]
    stp     q20, q21, [x0, #32 * 10]
    stp     q22, q23, [x0, #32 * 11]
    stp     q24, q25, [x0, #32 * 12]
    stp     q26, q27, [x0, #32 * 13]
    stp     q28, q29, [x0, #32 * 14]
    stp     q30, q31, [x0, #32 * 15]
    mrs     x1, fpsr
    mrs     x2, fpcr
    add     x0, x0, #512
    stp     x1, x2, [x0]
    ret

    .globl fpu_restore
fpu_restore:
    ldp     q0, q1, [x0, #32 * 0]
    ldp     q2, q3, [x0, #32 * 1]
    ldp     q4, q5, [x0, #32 * 2]
    ldp     q6, q7, [x0, #32 * 3]
    ldp     q8, q9, [x0, #32 * 4]
    ldp     q10, q11, [x0, #32 * 5]
    ldp     q12, q13, [x0, #32 * 6]
    ldp     q14, q15, [x0, #32 * 7]
    ldp     q16, q17, [x0, #32 * 8]
    ldp     q18, q19, [x0, #32 * 9]
    ldp     q20, q21, [x0, #32 * 10]
    ldp     q22, q23, [x0, #32 * 11]
    ldp     q24, q25, [x0, #32 * 12]
    ldp     q26, q27, [x0, #32 * 13]
    ldp     q28, q29, [x0, #32 * 14]
    ldp     q30, q31, [x0, #32 * 15]
    add     x0, x0, #512
    ldp     x1, x2, [x0]
    msr     fpsr, x1
    msr     fpcr, x2
    ret
