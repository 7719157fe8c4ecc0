/*
 * crt0.S — a minnow program's first instructions. The kernel enters here with
 * x0 = the argument page (include/minnow/args.h) and sp = the stack top.
 * The very first instruction reads the cycle counter, so the boot_to_init
 * benchmark measures the kernel up to exactly this point.
 */
    .section .text.init.enter, "ax"
    .globl _start
_start:
    mrs     x9, pmccntr_el0
    adrp    x10, os_start_cycles
    str     x9, [x10, :lo12:os_start_cycles]
    mov     x29, xzr                /* end of the frame-pointer chain */
    mov     x30, xzr
    bl      os_start                /* start.c; does not return */
1:  b       1b
