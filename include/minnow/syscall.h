/*
 * syscall.h — system call numbers and the calling convention, shared by the
 * kernel (kernel/syscall.c) and user space (lib/os/syscall.h).
 *
 * A call is `svc #0` with the number in x8 and arguments in x0-x7. On return
 * x0 holds an errval_t and x1-x3 results; every other register is preserved.
 */
#pragma once

/* Plain defines, not an enum, because vectors.S uses them too. */
#define SYS_NOP           0   /* does nothing; the null_syscall benchmark */
#define SYS_DEBUG_PRINT   1   /* x0 = buffer, x1 = length (<= SYSCALL_PRINT_MAX) */
#define SYS_DEBUG_GETCHAR 2   /* x1 = character, or SYS_ERR_NO_INPUT */
#define SYS_YIELD         3   /* give the rest of the time slice to the next process */
#define SYS_EXIT          4   /* x0 = exit code; does not return */
#define SYS_INVOKE        5   /* capability invocation: captypes.h */
#define SYS_EXCEPTION_SET 6   /* x0 handler entry (0: none), x1 its stack top */
#define SYS_EXCEPTION_RESUME 7 /* from the handler: retry the faulting code */
#define SYS_COUNT         8

/*
 * Exceptions. With a handler set, a fault in user mode (abort, alignment,
 * undefined instruction, breakpoint) does not stop the process: the kernel
 * keeps the faulting registers and enters the handler on its stack with
 * x0 = fault address, x1 = ESR (the kind: ESR_EL1 of ARMv8), x2 = pc.
 * SYS_EXCEPTION_RESUME then restores the faulting code exactly, to retry the
 * instruction. A fault inside the handler stops the process.
 */

#define SYSCALL_PRINT_MAX 4096
