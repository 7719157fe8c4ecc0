/*
 * sched.c — round-robin scheduling of this core's processes.
 *
 * The running process's registers live in the trap frame at the top of the
 * kernel stack; switching copies them into its DCB and the next process's
 * registers into the frame, swaps FP/SIMD state and TTBR0 (ASIDs tag the
 * TLB, so no flush). With nothing runnable the core idles with interrupts
 * on until there is work; since processes come only from boot for now, an
 * empty run queue means the core's work is done, and it says so once.
 */
#include "sched.h"

#include "memlayout.h"
#include "mmu.h"
#include "panic.h"
#include "printk.h"
#include "string.h"
#include "sysreg.h"

static struct dcb dcbs[SCHED_MAX_PROCESSES];
static struct dcb *current;
static uint32_t next_pid = 1;

extern char boot_stack_top[];

static struct trap_frame *stack_frame(void)
{
    return (struct trap_frame *)((uintptr_t)boot_stack_top - sizeof(struct trap_frame));
}

struct dcb *sched_alloc_dcb(void)
{
    for (unsigned i = 0; i < SCHED_MAX_PROCESSES; i++) {
        if (dcbs[i].state == DCB_FREE) {
            memset(&dcbs[i], 0, sizeof dcbs[i]);
            dcbs[i].pid = next_pid++;
            dcbs[i].state = DCB_STOPPED;    /* not runnable until set up */
            return &dcbs[i];
        }
    }
    return NULL;
}

void sched_make_runnable(struct dcb *d)
{
    d->state = DCB_RUNNABLE;
}

struct dcb *sched_current(void)
{
    return current;
}

/* The next runnable DCB after `from` in table order, possibly `from` itself. */
static struct dcb *pick_after(struct dcb *from)
{
    unsigned start = from ? (unsigned)(from - dcbs) + 1 : 0;
    for (unsigned i = 0; i < SCHED_MAX_PROCESSES; i++) {
        struct dcb *d = &dcbs[(start + i) % SCHED_MAX_PROCESSES];
        if (d->state == DCB_RUNNABLE)
            return d;
    }
    return NULL;
}

static void load(struct dcb *next, struct trap_frame *f)
{
    fpu_restore(&next->fpu);
    WRITE_SYSREG(tpidr_el0, next->tpidr_el0);
    *f = next->regs;
    mmu_switch_user(next->ttbr0);
    current = next;
}

static __attribute__((noreturn)) void idle(void)
{
    printk("kernel: no runnable processes on core %lu; idle\n", READ_SYSREG(mpidr_el1) & 0xff);
    current = NULL;
    mmu_switch_user(0);
    for (;;) {
        irq_enable();
        wfi();
        irq_disable();
        struct dcb *next = pick_after(NULL);
        if (next != NULL) {
            load(next, stack_frame());
            kernel_exit_to_user(stack_frame());
        }
    }
}

/* Switch from the current process (already saved or gone) to the next. */
static void switch_from(struct dcb *prev, struct trap_frame *f)
{
    struct dcb *next = pick_after(prev);
    if (next == NULL)
        idle();
    if (next != prev)
        load(next, f);
}

static void save_current(struct trap_frame *f)
{
    current->regs = *f;
    current->tpidr_el0 = READ_SYSREG(tpidr_el0);
    fpu_save(&current->fpu);
}

void sched_tick(struct trap_frame *f)
{
    sched_yield(f);
}

void sched_yield(struct trap_frame *f)
{
    kassert(current != NULL, "a trap from user mode has a current process");
    struct dcb *next = pick_after(current);
    if (next == current || next == NULL)
        return;
    save_current(f);
    load(next, f);
}

void sched_exit_current(struct trap_frame *f, int64_t code)
{
    current->state = DCB_EXITED;
    current->exit_code = code;
    printk("kernel: process %s (pid %u) exited with code %ld\n", current->name, current->pid, code);
    switch_from(current, f);
}

void sched_stop_current(struct trap_frame *f, const char *why)
{
    current->state = DCB_STOPPED;
    current->regs = *f;
    printk("kernel: process %s (pid %u) %s; the system goes on\n", current->name, current->pid, why);
    switch_from(current, f);
}

void sched_start(void)
{
    struct dcb *first = pick_after(NULL);
    if (first == NULL)
        idle();
    load(first, stack_frame());
    kernel_exit_to_user(stack_frame());
}
