/*
 * upcall.c — the kernel half of dispatcher upcalls (include/minnow/upcall.h).
 *
 * The kernel keeps no user register state of its own here: the interrupted
 * state goes straight to the process's save area, and SYS_RESUME loads
 * whatever state the process hands back. All the kernel remembers is where
 * to enter and whether the process is inside its upcall (dcb.h).
 */
#include "upcall.h"

#include <minnow/errors.h>
#include <minnow/upcall.h>

#include "memlayout.h"
#include "sched.h"
#include "sysreg.h"
#include "uaccess.h"

_Static_assert(offsetof(struct upcall_ctx, x) == sizeof(struct fpu_state),
               "upcall_ctx starts with the FP/SIMD save area");
_Static_assert(offsetof(struct upcall_ctx, tpidr) - offsetof(struct upcall_ctx, x) == sizeof(struct trap_frame),
               "upcall_ctx continues with the trap frame");

static struct fpu_state *ctx_fpu(struct upcall_ctx *c) { return (struct fpu_state *)c; }
static struct trap_frame *ctx_frame(struct upcall_ctx *c) { return (struct trap_frame *)c->x; }

enum upcall_result upcall_enter(struct dcb *d, struct trap_frame *f, uint64_t reason,
                                uint64_t far, uint64_t esr)
{
    if (d->upcall_entry == 0 || d->in_upcall)
        return UPCALL_NOT_TAKEN;
    struct upcall_ctx *save = (struct upcall_ctx *)d->upcall_save;
    if (!user_access_ok(d->upcall_save, sizeof *save, true))
        return UPCALL_BAD_SAVE_AREA;
    sched_fpu_claim(d);         /* the live FP/SIMD registers must be d's (lazy switching, sched.c) */
    fpu_save(ctx_fpu(save));
    trap_frame_copy(ctx_frame(save), f);
    save->tpidr = READ_SYSREG(tpidr_el0);

    d->in_upcall = true;
    f->elr = d->upcall_entry;
    f->sp = d->upcall_stack;
    f->spsr = 0;                /* EL0t, interrupts on */
    f->x[0] = reason;
    f->x[1] = d->upcall_save;
    f->x[2] = far;
    f->x[3] = esr;
    f->x[29] = f->x[30] = 0;    /* the upcall's backtrace ends here */
    return UPCALL_ENTERED;
}

static bool in_user_space(uint64_t va)
{
    return va != 0 && va < USER_TOP;
}

void sys_upcall_set(struct trap_frame *f)
{
    struct dcb *d = sched_current();
    uint64_t entry = f->x[0], stack = f->x[1], save = f->x[2];
    if (entry != 0 && (!in_user_space(entry) || !in_user_space(stack) || (stack & 15) != 0 ||
                       !in_user_space(save) || (save & 15) != 0)) {
        f->x[0] = SYS_ERR_BAD_HANDLER;
        return;
    }
    if (entry != 0 && !user_access_ok(save, sizeof(struct upcall_ctx), true)) {
        f->x[0] = SYS_ERR_BAD_USER_POINTER;
        return;
    }
    d->upcall_entry = entry;
    d->upcall_stack = stack;
    d->upcall_save = save;
    if (entry == 0)
        d->in_upcall = false;   /* no upcall to be in any more */
    f->x[0] = SYS_ERR_OK;
}

/* May the caller load a register state from ctx_va and clear the word at
 * flag_va (0: none)? */
static bool resume_args_ok(uint64_t ctx_va, uint64_t flag_va)
{
    return (ctx_va & 15) == 0 && user_access_ok(ctx_va, sizeof(struct upcall_ctx), false) &&
           (flag_va == 0 || ((flag_va & 3) == 0 && user_access_ok(flag_va, 4, true)));
}

/* SYS_RESUME's work, for arguments resume_args_ok accepted: `f` becomes
 * the state at ctx_va (only NZCV of its pstate), the word at flag_va is
 * cleared, and the process leaves its upcall if it was in it. The live
 * FP/SIMD registers are d's already (upcall_leave). */
static inline void leave_owning_fpu(struct dcb *d, struct trap_frame *f, uint64_t ctx_va, uint64_t flag_va)
{
    struct upcall_ctx *ctx = (struct upcall_ctx *)ctx_va;
    trap_frame_copy(f, ctx_frame(ctx));
    f->spsr = ctx->pstate & UPCALL_PSTATE_USER_MASK;   /* EL0t, interrupts on */
    fpu_restore(ctx_fpu(ctx));
    WRITE_SYSREG(tpidr_el0, ctx->tpidr);
    if (flag_va != 0)
        *(volatile uint32_t *)flag_va = 0;
    d->in_upcall = false;
}

static __attribute__((noinline)) void leave_claiming_fpu(struct dcb *d, struct trap_frame *f, uint64_t ctx_va,
                                                          uint64_t flag_va)
{
    sched_fpu_claim_slow(d);
    leave_owning_fpu(d, f, ctx_va, flag_va);
}

/* The FP/SIMD registers are claimed first: the state loaded into them must
 * not overwrite another process's (lazy switching, sched.c). Usually d's
 * are there already (its upcall claimed them): then this stays a leaf. */
static void upcall_leave(struct dcb *d, struct trap_frame *f, uint64_t ctx_va, uint64_t flag_va)
{
    if (d != sched_fpu_owner || sched_fpu_user_off)
        leave_claiming_fpu(d, f, ctx_va, flag_va);
    else
        leave_owning_fpu(d, f, ctx_va, flag_va);
}

/* Check both pointers, then load the state: a failed call changes nothing. */
void sys_resume(struct trap_frame *f)
{
    uint64_t ctx_va = f->x[0], flag_va = f->x[1];
    if (!resume_args_ok(ctx_va, flag_va)) {
        f->x[0] = SYS_ERR_BAD_USER_POINTER;
        return;
    }
    upcall_leave(sched_current(), f, ctx_va, flag_va);
}

errval_t upcall_resume_saved_check(const struct dcb *d)
{
    if (d->upcall_entry == 0 || !d->in_upcall)
        return SYS_ERR_NOT_IN_UPCALL;
    return resume_args_ok(d->upcall_save, 0) ? SYS_ERR_OK : SYS_ERR_BAD_USER_POINTER;
}

void upcall_resume_saved(struct dcb *d, struct trap_frame *f)
{
    upcall_leave(d, f, d->upcall_save, 0);
}
