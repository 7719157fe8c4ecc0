/*
 * syscall.h — system call numbers and the calling convention, shared by the
 * kernel (kernel/syscall.c) and user space (lib/os/syscall.h).
 *
 * A call is `svc #0` with the number in x8 and arguments in x0-x7 (SYS_LMP_SEND
 * also x9, x10). On return x0 holds an errval_t and x1-x3 results; every
 * other register is preserved.
 */
#pragma once

/* Plain defines, not an enum, because vectors.S uses them too. */
#define SYS_NOP           0   /* does nothing; the null_syscall benchmark */
#define SYS_DEBUG_PRINT   1   /* x0 = buffer, x1 = length (<= SYSCALL_PRINT_MAX) */
#define SYS_DEBUG_GETCHAR 2   /* x1 = character, or SYS_ERR_NO_INPUT */
#define SYS_YIELD         3   /* give the rest of the time slice to the next process */
#define SYS_EXIT          4   /* x0 = exit code; does not return */
#define SYS_INVOKE        5   /* capability invocation: captypes.h */
#define SYS_UPCALL_SET    6   /* x0 entry (0: none), x1 its stack top, x2 save area */
#define SYS_RESUME        7   /* x0 register state to load, x1 word to clear (or 0) */
#define SYS_LMP_SEND      8   /* LMP send: include/minnow/lmp.h has the registers */
#define SYS_WAIT          9   /* x0 = deadline (CNTVCT_EL0 ticks, 0: none): wait for a message */
#define SYS_COUNT         10

/* Upcalls (SYS_UPCALL_SET, SYS_RESUME): include/minnow/upcall.h. */

#define SYSCALL_PRINT_MAX 4096
