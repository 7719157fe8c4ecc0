/*
 * thread_asm.S — the register work of thread switches (thread.c).
 *
 * A voluntary switch saves only what a call preserves (x19-x30, sp,
 * d8-d15, FPCR/FPSR, TPIDR_EL0) into a struct upcall_ctx
 * (include/minnow/upcall.h), in the same places a full save would use,
 * so either kind of state can be loaded by SYS_RESUME as well as here.
 */
/* Offsets from x1 = the context + 512 (past q0-q31; stp reaches 504). */
#define CTX_FPSR    0
#define CTX_X0      16
#define CTX_X19     (CTX_X0 + 19 * 8)
#define CTX_SP      264
#define CTX_PSTATE  280
#define CTX_TPIDR   288

    .text

/* int thread_ctx_save(struct upcall_ctx *c): 0 now, 1 when loaded again. */
    .globl thread_ctx_save
thread_ctx_save:
    add     x1, x0, #512
    stp     x19, x20, [x1, #CTX_X19]
    stp     x21, x22, [x1, #CTX_X19 + 16]
    stp     x23, x24, [x1, #CTX_X19 + 32]
    stp     x25, x26, [x1, #CTX_X19 + 48]
    stp     x27, x28, [x1, #CTX_X19 + 64]
    stp     x29, x30, [x1, #CTX_X19 + 80]
    mov     x9, sp
    stp     x9, x30, [x1, #CTX_SP]          /* sp, and pc = the return address */
    mrs     x9, tpidr_el0
    stp     xzr, x9, [x1, #CTX_PSTATE]
    mrs     x9, fpsr
    mrs     x10, fpcr
    stp     x9, x10, [x1, #CTX_FPSR]
    stp     q8, q9, [x0, #8 * 16]
    stp     q10, q11, [x0, #10 * 16]
    stp     q12, q13, [x0, #12 * 16]
    stp     q14, q15, [x0, #14 * 16]
    mov     x9, #1
    str     x9, [x1, #CTX_X0]               /* what the save "returns" when loaded */
    mov     x0, #0
    ret

/* void thread_ctx_load(const struct upcall_ctx *c): continue a state saved
 * by thread_ctx_save (or a new thread's first state). */
    .globl thread_ctx_load
thread_ctx_load:
    add     x1, x0, #512
    ldp     q8, q9, [x0, #8 * 16]
    ldp     q10, q11, [x0, #10 * 16]
    ldp     q12, q13, [x0, #12 * 16]
    ldp     q14, q15, [x0, #14 * 16]
    ldp     x9, x10, [x1, #CTX_FPSR]
    msr     fpsr, x9
    msr     fpcr, x10
    ldr     x9, [x1, #CTX_TPIDR]
    msr     tpidr_el0, x9
    ldp     x19, x20, [x1, #CTX_X19]
    ldp     x21, x22, [x1, #CTX_X19 + 16]
    ldp     x23, x24, [x1, #CTX_X19 + 32]
    ldp     x25, x26, [x1, #CTX_X19 + 48]
    ldp     x27, x28, [x1, #CTX_X19 + 64]
    ldp     x29, x30, [x1, #CTX_X19 + 80]
    ldp     x9, x10, [x1, #CTX_SP]
    mov     sp, x9
    ldr     x0, [x1, #CTX_X0]
    br      x10

/* Where the kernel enters: x0 reason, x1 save area, x2 address, x3 ESR. */
    .globl thread_upcall_entry
thread_upcall_entry:
    mov     x29, xzr
    mov     x30, xzr
    bl      thread_upcall
1:  b       1b
