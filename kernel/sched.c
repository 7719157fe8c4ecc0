/*
 * sched.c — round-robin scheduling of this core's dispatchers.
 *
 * Runnable DCBs form a ring (next/prev). The running process's registers
 * live in the trap frame at the top of the kernel stack; switching copies
 * them into its DCB and the next process's registers into the frame, swaps
 * FP/SIMD state, TPIDR_EL0 and TTBR0 (ASIDs tag the TLB, so no flush). With
 * nothing runnable the core idles with interrupts on until there is work.
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
struct dcb *sched_running;      /* the DCB whose state is in the frame, or NULL (sched.h) */

extern char boot_stack_top[];

static struct trap_frame *stack_frame(void)
{
    return (struct trap_frame *)((uintptr_t)boot_stack_top - sizeof(struct trap_frame));
}

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
    if (d == sched_running)
        sched_running = NULL;         /* the frame's state has no owner any more */
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

static void load(struct dcb *next, struct trap_frame *f)
{
    fpu_restore(&next->fpu);
    WRITE_SYSREG(tpidr_el0, next->tpidr_el0);
    trap_frame_copy(f, &next->regs);
    mmu_switch_user(next->ttbr0);
    sched_running = next;
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
            load(ring, stack_frame());
            kernel_exit_to_user(stack_frame());
        }
    }
}

/* Switch from a process that has left the run queue (state already saved or gone). */
static void switch_away(struct trap_frame *f)
{
    struct dcb *next = ring;
    if (next == NULL)
        idle();
    load(next, f);
}

static void save_current(struct trap_frame *f)
{
    trap_frame_copy(&sched_running->regs, f);
    sched_running->tpidr_el0 = READ_SYSREG(tpidr_el0);
    fpu_save(&sched_running->fpu);
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
    save_current(f);
    load(next, f);
}

void sched_wait_current(struct trap_frame *f, uint64_t deadline)
{
    save_current(f);
    leave_queue(sched_running, DCB_WAITING);
    sched_running->wait_deadline = deadline;
    wait_link(sched_running);
    switch_away(f);
}

void sched_switch_to(struct trap_frame *f, struct dcb *next)
{
    kassert(next->state == DCB_RUNNABLE && sched_running != NULL, "switch from a process to a runnable one");
    if (next == sched_running)
        return;
    save_current(f);
    load(next, f);
}

void sched_exit_current(struct trap_frame *f, int64_t code)
{
    sched_running->exit_code = code;
    if (!sched_running->owned)        /* an owner reads the code from the dispatcher */
        printk("kernel: process %s (pid %u) exited with code %ld\n", sched_running->name, sched_running->pid, code);
    leave_queue(sched_running, DCB_EXITED);
    switch_away(f);
}

void sched_stop_current(struct trap_frame *f, const char *why)
{
    trap_frame_copy(&sched_running->regs, f);
    printk("kernel: process %s (pid %u) %s; the system goes on\n", sched_running->name, sched_running->pid, why);
    leave_queue(sched_running, DCB_FAULTED);
    switch_away(f);
}

void sched_continue_or_switch(struct trap_frame *f)
{
    if (sched_running == NULL)
        switch_away(f);
}

void sched_start(void)
{
    if (ring == NULL)
        idle();
    load(ring, stack_frame());
    kernel_exit_to_user(stack_frame());
}
