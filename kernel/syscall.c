/*
 * syscall.c — the system call table and its handlers.
 *
 * vectors.S indexes syscall_table with x8 (already bounds-checked) and calls
 * the handler with the caller's trap frame, which is the caller's DCB's
 * `regs` (vectors.S): results written into it reach the caller whenever it
 * runs next, also after the handler switched to another process.
 * Calling conventions: include/minnow/syscall.h.
 */
#include <minnow/syscall.h>

#include "cap/invoke.h"
#include "cap/irq.h"
#include "lmp.h"
#include "memlayout.h"
#include "pl011.h"
#include "printk.h"
#include "sched.h"
#include "dcb.h"
#include "sysreg.h"
#include "trapframe.h"
#include "uaccess.h"
#include "upcall.h"

typedef void (*syscall_fn)(struct trap_frame *f);

void syscall_illegal(struct trap_frame *f);

static void sys_nop(struct trap_frame *f)
{
    f->x[0] = SYS_ERR_OK;
}

static void sys_debug_print(struct trap_frame *f)
{
    uint64_t buf = f->x[0], len = f->x[1];
    if (len > SYSCALL_PRINT_MAX) {
        f->x[0] = SYS_ERR_ARG_TOO_LONG;
        return;
    }
    if (!user_access_ok(buf, len, false)) {
        f->x[0] = SYS_ERR_BAD_USER_POINTER;
        return;
    }
    printk_write((const char *)buf, len);
    f->x[0] = SYS_ERR_OK;
}

static void sys_debug_getchar(struct trap_frame *f)
{
    char c;
    if (irq_console_taken()) {
        f->x[0] = SYS_ERR_CONSOLE_TAKEN;    /* the RX FIFO is the terminal driver's */
    } else if (pl011_getc(&c)) {
        f->x[0] = SYS_ERR_OK;
        f->x[1] = (uint8_t)c;
    } else {
        f->x[0] = SYS_ERR_NO_INPUT;
    }
}

static void sys_yield(struct trap_frame *f)
{
    f->x[0] = SYS_ERR_OK;
    sched_yield(f);
}

static void sys_exit(struct trap_frame *f)
{
    sched_exit_current(f, (int64_t)f->x[0]);
}

void syscall_illegal(struct trap_frame *f)
{
    f->x[0] = SYS_ERR_ILLEGAL_SYSCALL;
}

const syscall_fn syscall_table[SYS_COUNT] = {
    [SYS_NOP] = sys_nop,
    [SYS_DEBUG_PRINT] = sys_debug_print,
    [SYS_DEBUG_GETCHAR] = sys_debug_getchar,
    [SYS_YIELD] = sys_yield,
    [SYS_EXIT] = sys_exit,
    [SYS_INVOKE] = sys_invoke,
    [SYS_UPCALL_SET] = sys_upcall_set,
    [SYS_RESUME] = sys_resume,
    [SYS_LMP_SEND] = sys_lmp_send,
    [SYS_WAIT] = sys_wait,
};
