/*
 * syscall.h — user-side system call stubs (conventions in
 * include/minnow/syscall.h). Inline so a call is just the svc.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <minnow/errors.h>
#include <minnow/lmp.h>
#include <minnow/syscall.h>
#include <minnow/upcall.h>

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

struct sysret4 {
    errval_t err;
    uint64_t r1, r2, r3;
};

/* SYS_INVOKE: x0 target, x1 command, x2-x7 arguments; results in x1-x3. */
static inline struct sysret4 sys_invoke(uint64_t target, uint64_t cmd, uint64_t a2, uint64_t a3,
                                        uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7)
{
    register uint64_t x0 __asm__("x0") = target;
    register uint64_t x1 __asm__("x1") = cmd;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    register uint64_t x4 __asm__("x4") = a4;
    register uint64_t x5 __asm__("x5") = a5;
    register uint64_t x6 __asm__("x6") = a6;
    register uint64_t x7 __asm__("x7") = a7;
    register uint64_t x8 __asm__("x8") = SYS_INVOKE;
    __asm__ volatile("svc #0"
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
                     : "r"(x4), "r"(x5), "r"(x6), "r"(x7), "r"(x8)
                     : "memory");
    return (struct sysret4){ x0, x1, x2, x3 };
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

/* Register the upcall (include/minnow/upcall.h); entry 0 turns it off. */
static inline errval_t sys_upcall_set(uint64_t entry, uint64_t stack_top, struct upcall_ctx *save)
{
    register uint64_t x0 __asm__("x0") = entry;
    register uint64_t x1 __asm__("x1") = stack_top;
    register uint64_t x2 __asm__("x2") = (uint64_t)save;
    register uint64_t x8 __asm__("x8") = SYS_UPCALL_SET;
    __asm__ volatile("svc #0" : "+r"(x0), "+r"(x1) : "r"(x2), "r"(x8) : "memory");
    return (errval_t)x0;
}

/* Load `ctx` (clearing *flag as it does, if flag is not NULL). Returns
 * only on error: SYS_ERR_BAD_USER_POINTER. */
static inline errval_t sys_resume(const struct upcall_ctx *ctx, volatile uint32_t *flag)
{
    return syscall2(SYS_RESUME, (uint64_t)ctx, (uint64_t)flag).err;
}

/* SYS_LMP_SEND's registers, declared and loaded: x0 the EndPoint, x1 the
 * control word, the words in x2..x7, x9, x10, x8 the call's number. */
#define LMP_SEND_REGS(ep, control, w)                                  \
    register uint64_t x0 __asm__("x0") = (ep);                         \
    register uint64_t x1 __asm__("x1") = (control);                    \
    register uint64_t x2 __asm__("x2") = (w)[0];                       \
    register uint64_t x3 __asm__("x3") = (w)[1];                       \
    register uint64_t x4 __asm__("x4") = (w)[2];                       \
    register uint64_t x5 __asm__("x5") = (w)[3];                       \
    register uint64_t x6 __asm__("x6") = (w)[4];                       \
    register uint64_t x7 __asm__("x7") = (w)[5];                       \
    register uint64_t x9 __asm__("x9") = (w)[6];                       \
    register uint64_t x10 __asm__("x10") = (w)[7];                     \
    register uint64_t x8 __asm__("x8") = SYS_LMP_SEND

/* SYS_LMP_SEND (include/minnow/lmp.h): the words go in x2..x7, x9, x10;
 * every register but x0 and x1 comes back unchanged (x1 as 0: no
 * LMP_SEND_RECV here), so nothing else is clobbered. */
static inline errval_t sys_lmp_send(uint64_t ep, uint64_t control, const uint64_t w[LMP_MSG_WORDS])
{
    LMP_SEND_REGS(ep, control, w);
    __asm__ volatile("svc #0"
                     : "+r"(x0), "+r"(x1)
                     : "r"(x2), "r"(x3), "r"(x4), "r"(x5), "r"(x6), "r"(x7), "r"(x8), "r"(x9), "r"(x10)
                     : "memory");
    return (errval_t)x0;
}

/* SYS_LMP_SEND with LMP_SEND_RECV in `control`: as sys_lmp_send, and if
 * a message came into the registers while this dispatcher waited parked,
 * its header (LMP_SLOT_IN_REGS set) in *header and its eight words (as
 * many valid as the header says) in w[]; else *header is 0 and w[] is
 * unchanged. The badge (x11) is not kept. */
static inline errval_t sys_lmp_send_recv(uint64_t ep, uint64_t control, uint64_t w[LMP_MSG_WORDS],
                                         uint64_t *header)
{
    LMP_SEND_REGS(ep, control, w);
    __asm__ volatile("svc #0"
                     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6), "+r"(x7),
                       "+r"(x9), "+r"(x10)
                     : "r"(x8)
                     : "x11", "memory");
    if (x1 != 0) {
        w[0] = x2; w[1] = x3; w[2] = x4; w[3] = x5;
        w[4] = x6; w[5] = x7; w[6] = x9; w[7] = x10;
    }
    *header = x1;
    return (errval_t)x0;
}

/* SYS_WAIT: until a message is pending in the dispatcher frame or the
 * CNTVCT_EL0 deadline passes (0: none). LMP_ERR_WAIT_TIMEOUT at the deadline. */
static inline errval_t sys_wait(uint64_t deadline)
{
    return syscall2(SYS_WAIT, deadline, 0).err;
}

__attribute__((noreturn)) static inline void sys_exit(int code)
{
    syscall2(SYS_EXIT, (uint64_t)(int64_t)code, 0);
    __builtin_unreachable();
}
