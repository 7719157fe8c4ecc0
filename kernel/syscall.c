/*
 * syscall.c — the system call table and its handlers.
 *
 * vectors.S indexes syscall_table with x8 (already bounds-checked) and calls
 * the handler with the caller's trap frame. A handler writes its error into
 * x[0] and any result into x[1] BEFORE it may switch processes, because a
 * switch replaces the frame's contents with the next process's registers.
 * Calling conventions: include/minnow/syscall.h.
 */
#include <minnow/syscall.h>

#include "cap/invoke.h"
#include "memlayout.h"
#include "pl011.h"
#include "printk.h"
#include "sched.h"
#include "dcb.h"
#include "sysreg.h"
#include "trapframe.h"

typedef void (*syscall_fn)(struct trap_frame *f);

void syscall_illegal(struct trap_frame *f);

static void sys_nop(struct trap_frame *f)
{
    f->x[0] = SYS_ERR_OK;
}

/* True if EL0 may read every byte of [va, va + len): asks the MMU itself
 * (AT S1E0R) about each page, so the answer matches what a user load sees. */
static bool user_readable(uint64_t va, uint64_t len)
{
    if (len == 0)
        return true;
    if (va + len < va || va + len > USER_TOP)
        return false;
    for (uint64_t page = va & ~(PAGE_SIZE - 1); page < va + len; page += PAGE_SIZE) {
        __asm__ volatile("at s1e0r, %0" :: "r"(page));
        isb();
        if (READ_SYSREG(par_el1) & 1)
            return false;
    }
    return true;
}

static void sys_debug_print(struct trap_frame *f)
{
    uint64_t buf = f->x[0], len = f->x[1];
    if (len > SYSCALL_PRINT_MAX) {
        f->x[0] = SYS_ERR_ARG_TOO_LONG;
        return;
    }
    if (!user_readable(buf, len)) {
        f->x[0] = SYS_ERR_BAD_USER_POINTER;
        return;
    }
    printk_write((const char *)buf, len);
    f->x[0] = SYS_ERR_OK;
}

static void sys_debug_getchar(struct trap_frame *f)
{
    char c;
    if (pl011_getc(&c)) {
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

static bool in_user_space(uint64_t va)
{
    return va != 0 && va < USER_TOP;
}

static void sys_exception_set(struct trap_frame *f)
{
    struct dcb *d = sched_current();
    uint64_t entry = f->x[0], stack = f->x[1];
    if (entry != 0 && (!in_user_space(entry) || !in_user_space(stack) || (stack & 15) != 0)) {
        f->x[0] = SYS_ERR_BAD_HANDLER;
        return;
    }
    d->exc_entry = entry;
    d->exc_stack = stack;
    f->x[0] = SYS_ERR_OK;
}

static void sys_exception_resume(struct trap_frame *f)
{
    struct dcb *d = sched_current();
    if (!d->in_handler) {
        f->x[0] = SYS_ERR_NOT_IN_HANDLER;
        return;
    }
    d->in_handler = false;
    *f = d->exc_saved;
    fpu_restore(&d->exc_fpu);
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
    [SYS_EXCEPTION_SET] = sys_exception_set,
    [SYS_EXCEPTION_RESUME] = sys_exception_resume,
};
