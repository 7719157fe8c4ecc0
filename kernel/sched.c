/*
 * sched.c — round-robin scheduling of this core's dispatchers.
 *
 * Runnable DCBs form a ring (next/prev). The running process's registers
 * live in its own DCB (vectors.S saves them there and returns from
 * sched_running's), so switching only changes sched_running and swaps
 * TPIDR_EL0, TTBR0 (ASIDs tag the TLB, so no flush) and, lazily, FP/SIMD
 * state. With nothing runnable the core idles with interrupts on until
 * there is work.
 *
 * FP/SIMD state is switched lazily: a switch only turns EL0's FP/SIMD
 * access off (CPACR_EL1) unless the next process owns the registers; its
 * first FP/SIMD instruction traps and sched_fpu_claim saves the owner's
 * state and loads its own. Most switches (an LMP call and its reply, with
 * no FP/SIMD in between) then move none of the 528 bytes. Entering and
 * leaving an upcall (upcall.c) read and write the live registers, so both
 * claim them first.
 *
 * A dispatcher in SYS_WAIT (DCB_WAITING) is on the wait list instead, until
 * an LMP message wakes it (sched_wake) or the tick finds its deadline past
 * (sched_wake_expired): deadlines are as precise as the tick.
 */
#include "sched.h"

#include "asid.h"
#include "memlayout.h"
#include "mmu.h"
#include "panic.h"
#include "printk.h"
#include "string.h"
#include "sysreg.h"
#include "upcall.h"

#include <minnow/upcall.h>

static struct dcb *ring;        /* any runnable DCB, or NULL; core-local */
static struct dcb *waiters;     /* DCB_WAITING ones, a list through next/prev; core-local */
struct dcb *sched_fpu_owner;    /* whose FP/SIMD state is in the registers, or NULL; core-local */
struct dcb *sched_running;      /* the DCB vectors.S returns to, or NULL (sched.h) */
/* CPACR_EL1 traps EL0's FP/SIMD accesses. False at boot (mmu.c lets EL0
 * use them), so that it is in .bss beside the two above and a switch
 * reaches all three from one address. */
bool sched_fpu_user_off;

void sched_make_runnable(struct dcb *d)
{
    kassert(d->state != DCB_RUNNABLE, "a DCB is in the run queue at most once");
    d->state = DCB_RUNNABLE;
    if (ring == NULL) {
        d->next = d->prev = d;
        ring = d;
        return;
    }
    d->next = ring;             /* at the end: just before the head */
    d->prev = ring->prev;
    ring->prev->next = d;
    ring->prev = d;
}

static void unlink(struct dcb *d)
{
    if (d->next == d) {
        ring = NULL;
    } else {
        d->prev->next = d->next;
        d->next->prev = d->prev;
        if (ring == d)
            ring = d->next;
    }
    d->next = d->prev = NULL;
}

static void wait_link(struct dcb *d)
{
    d->prev = NULL;
    d->next = waiters;
    if (waiters != NULL)
        waiters->prev = d;
    waiters = d;
}

static void wait_unlink(struct dcb *d)
{
    if (d->prev != NULL)
        d->prev->next = d->next;
    else
        waiters = d->next;
    if (d->next != NULL)
        d->next->prev = d->prev;
    d->next = d->prev = NULL;
}

static void leave_queue(struct dcb *d, enum dcb_state state)
{
    if (d->state == DCB_RUNNABLE)
        unlink(d);
    else if (d->state == DCB_WAITING)
        wait_unlink(d);
    d->state = state;
}

void sched_dcb_destroyed(struct dcb *d)
{
    leave_queue(d, DCB_NEW);
    if (sched_fpu_owner == d)
        sched_fpu_owner = NULL;       /* its state goes with it */
    if (d == sched_running)
        sched_running = NULL;         /* nothing to return to: the caller must switch */
    asid_free(d->asid);
    d->asid = 0;
}

/* A waiting DCB that is suspended returns from SYS_WAIT when it runs again:
 * a wake-up without a message, which its caller must allow for anyway. */
void sched_suspend(struct dcb *d)
{
    kassert(d != sched_running && (d->state == DCB_RUNNABLE || d->state == DCB_WAITING),
            "only another, runnable or waiting DCB is suspended");
    if (d->state == DCB_WAITING)
        d->regs.x[0] = SYS_ERR_OK;
    leave_queue(d, DCB_SUSPENDED);
}

void sched_wake(struct dcb *d, errval_t result)
{
    kassert(d->state == DCB_WAITING, "only a waiting DCB is woken");
    wait_unlink(d);
    d->regs.x[0] = result;
    d->state = DCB_SUSPENDED;   /* sched_make_runnable's precondition: not in a queue */
    sched_make_runnable(d);
}

void sched_wake_expired(void)
{
    uint64_t now = READ_SYSREG(cntvct_el0);
    struct dcb *d = waiters;
    while (d != NULL) {
        struct dcb *next = d->next;
        if (d->wait_deadline != 0 && d->wait_deadline <= now)
            sched_wake(d, LMP_ERR_WAIT_TIMEOUT);
        d = next;
    }
}

struct dcb *sched_current(void)
{
    return sched_running;
}

/* The runnable DCB after `from` (or the head), possibly `from` itself. */
static struct dcb *pick_after(struct dcb *from)
{
    if (from != NULL && from->state == DCB_RUNNABLE)
        return from->next;
    return ring;
}

#define CPACR_FP_ALL (3ul << 20)    /* FP/SIMD usable at EL1 and EL0 */
#define CPACR_FP_EL1 (1ul << 20)    /* at EL1 only: EL0's accesses trap */

static void fpu_user_access(bool on)
{
    if (sched_fpu_user_off == !on)
        return;
    WRITE_SYSREG(cpacr_el1, on ? CPACR_FP_ALL : CPACR_FP_EL1);
    sched_fpu_user_off = !on;         /* the eret to EL0 synchronises the change */
}

void sched_fpu_claim_slow(struct dcb *d)
{
    if (sched_fpu_owner != d) {
        if (sched_fpu_owner != NULL)
            fpu_save(&sched_fpu_owner->fpu);
        fpu_restore(&d->fpu);
        sched_fpu_owner = d;
    }
    fpu_user_access(true);
}

/* A process that used FP/SIMD recently gets its registers loaded at the
 * switch, for its next FPU_HOT_SWITCHES switches: a trap costs more than
 * the load it saves. One that does not (an LMP server between messages)
 * never moves them. */
#define FPU_HOT_SWITCHES 8

void sched_fpu_trap(struct dcb *d)
{
    d->fpu_hot = FPU_HOT_SWITCHES;
    sched_fpu_claim(d);
}

/* Load the FP/SIMD registers of `next`, which used them lately and does
 * not own them. Out of line and called last in load(), so that the usual
 * switch (nothing to load) needs no stack frame and this is a tail call. */
static __attribute__((noinline)) void fpu_load_hot(struct dcb *next)
{
    next->fpu_hot--;
    if (sched_fpu_owner != NULL)
        fpu_save(&sched_fpu_owner->fpu);
    fpu_restore(&next->fpu);
    sched_fpu_owner = next;
    fpu_user_access(true);
}

/* Make `next` the process the exception return goes to. Its registers
 * are already in its DCB, where the return path loads them from. */
static inline void load(struct dcb *next)
{
    next->lmp_park = 0;         /* it runs: no message may go into its registers now */
    WRITE_SYSREG(tpidr_el0, next->tpidr_el0);
    mmu_switch_user(next->ttbr0);
    sched_running = next;
    if (next != sched_fpu_owner && next->fpu_hot != 0)
        fpu_load_hot(next);
    else
        fpu_user_access(next == sched_fpu_owner);
}

/* Idle until an interrupt makes a DCB runnable. Only when no DCB waits
 * either is that worth a report: nothing will ever run again. */
static __attribute__((noreturn)) void idle(void)
{
    if (waiters == NULL)
        printk("kernel: no runnable processes on core %lu; idle\n", READ_SYSREG(mpidr_el1) & 0xff);
    sched_running = NULL;
    mmu_switch_user(0);
    for (;;) {
        irq_enable();
        wfi();
        irq_disable();
        if (ring != NULL) {
            load(ring);
            kernel_exit_to_user();
        }
    }
}

/* Switch from a process that has left the run queue (state already saved or gone). */
static void switch_away(void)
{
    struct dcb *next = ring;
    if (next == NULL)
        idle();
    load(next);
}

/* The registers are in the DCB already (vectors.S); only TPIDR_EL0 is not. */
static void save_current(void)
{
    sched_running->tpidr_el0 = READ_SYSREG(tpidr_el0);
}

/* The tick ends the time slice. A process with an upcall learns of it: it
 * will run next from its upcall (UPCALL_PREEMPT), where its thread library
 * can switch threads. */
void sched_tick(struct trap_frame *f)
{
    kassert(sched_running != NULL, "a trap from user mode has a sched_running process");
    sched_running->ticks++;
    if (upcall_enter(sched_running, f, UPCALL_PREEMPT, 0, 0) == UPCALL_BAD_SAVE_AREA) {
        sched_stop_current(f, "stopped: its upcall save area is not writable");
        return;
    }
    sched_yield(f);
}

void sched_yield(struct trap_frame *f)
{
    kassert(sched_running != NULL, "a trap from user mode has a sched_running process");
    struct dcb *next = pick_after(sched_running);
    if (next == sched_running || next == NULL)
        return;
    (void)f;                    /* the DCB's own frame: nothing to copy */
    save_current();
    load(next);
}

void sched_wait_current(struct trap_frame *f, uint64_t deadline)
{
    (void)f;                    /* already the DCB's own frame */
    save_current();
    leave_queue(sched_running, DCB_WAITING);
    sched_running->wait_deadline = deadline;
    wait_link(sched_running);
    switch_away();
}

void sched_switch_to(struct trap_frame *f, struct dcb *next)
{
    kassert(next->state == DCB_RUNNABLE && sched_running != NULL, "switch from a process to a runnable one");
    if (next == sched_running)
        return;
    (void)f;
    sched_switch_checked(next);
}

/* Its only call (fpu_load_hot) is a tail call. */
NO_FRAME_RECORD void sched_switch_checked(struct dcb *next)
{
    save_current();
    load(next);
}

void sched_exit_current(struct trap_frame *f, int64_t code)
{
    sched_running->exit_code = code;
    if (!sched_running->owned)        /* an owner reads the code from the dispatcher */
        printk("kernel: process %s (pid %u) exited with code %ld\n", sched_running->name, sched_running->pid, code);
    leave_queue(sched_running, DCB_EXITED);
    (void)f;
    switch_away();
}

void sched_stop_current(struct trap_frame *f, const char *why)
{
    (void)f;                    /* the DCB's own frame: the state stays for a post-mortem */
    printk("kernel: process %s (pid %u) %s; the system goes on\n", sched_running->name, sched_running->pid, why);
    leave_queue(sched_running, DCB_FAULTED);
    switch_away();
}

void sched_continue_or_switch(struct trap_frame *f)
{
    (void)f;
    if (sched_running == NULL)
        switch_away();
}

void sched_start(void)
{
    if (ring == NULL)
        idle();
    load(ring);
    kernel_exit_to_user();
}
