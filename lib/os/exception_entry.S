/*
 * exception_entry.S — where the kernel enters the exception handler:
 * x0 = fault address, x1 = ESR, x2 = pc, sp = the handler's own stack.
 * Calls os_exception_dispatch (exception.c), which does not return.
 */
    .text
    .globl os_exception_entry
os_exception_entry:
    mov     x29, xzr
    mov     x30, xzr
    bl      os_exception_dispatch
1:  b       1b
