/*
 * syscall.h — user-side system call stubs (conventions in
 * include/minnow/syscall.h). Inline so a call is just the svc.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>
#include <minnow/syscall.h>

struct sysret {
    errval_t err;
    uint64_t value;
};

static inline struct sysret syscall2(uint64_t num, uint64_t a0, uint64_t a1)
{
    register uint64_t x0 __asm__("x0") = a0;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x8 __asm__("x8") = num;
    __asm__ volatile("svc #0" : "+r"(x0), "+r"(x1) : "r"(x8) : "memory");
    return (struct sysret){ x0, x1 };
}

static inline errval_t sys_nop(void) { return syscall2(SYS_NOP, 0, 0).err; }

static inline errval_t sys_debug_print(const char *buf, size_t len)
{
    return syscall2(SYS_DEBUG_PRINT, (uint64_t)buf, len).err;
}

static inline errval_t sys_debug_getchar(char *c)
{
    struct sysret r = syscall2(SYS_DEBUG_GETCHAR, 0, 0);
    *c = (char)r.value;
    return r.err;
}

static inline errval_t sys_yield(void) { return syscall2(SYS_YIELD, 0, 0).err; }

__attribute__((noreturn)) static inline void sys_exit(int code)
{
    syscall2(SYS_EXIT, (uint64_t)(int64_t)code, 0);
    __builtin_unreachable();
}
