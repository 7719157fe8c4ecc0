/*
 * exceptions.c — everything vectors.S does not handle on its fast path:
 * user faults, kernel faults (panics) and interrupts.
 *
 * A user fault never stops the kernel: the faulting process gets a report
 * (process, fault kind, address, pc) and is stopped, and the core goes on
 * with the next process — unless the process has an upcall (upcall.c), which
 * gets the fault first.
 */
#include <stdbool.h>
#include <stdint.h>

#include <minnow/upcall.h>

#include "cap/irq.h"
#include "dcb.h"
#include "gic.h"
#include "panic.h"
#include "printk.h"
#include "sched.h"
#include "sysreg.h"
#include "timer.h"
#include "trapframe.h"
#include "upcall.h"

void el0_exception(struct trap_frame *f, uint64_t esr);
void kernel_exception(struct trap_frame *f, uint64_t esr);
void irq_from_user(struct trap_frame *f);
void irq_from_kernel(struct trap_frame *f);

#define ESR_EC(esr)  (((esr) >> 26) & 0x3f)
#define ESR_ISS(esr) ((esr) & 0x1ffffff)

#define EC_UNKNOWN    0x00
#define EC_FP_ACCESS  0x07
#define EC_IABT_LOW   0x20
#define EC_IABT_CUR   0x21
#define EC_DABT_LOW   0x24
#define EC_DABT_CUR   0x25

static const char *ec_name(unsigned ec)
{
    switch (ec) {
    case 0x00: return "undefined instruction";
    case 0x01: return "trapped WFI/WFE";
    case 0x07: return "trapped FP/SIMD access";
    case 0x0e: return "illegal execution state";
    case 0x15: return "system call (SVC)";
    case 0x18: return "trapped system register access";
    case 0x20: return "instruction abort from user mode";
    case 0x21: return "instruction abort in the kernel";
    case 0x22: return "PC alignment fault";
    case 0x24: return "data abort from user mode";
    case 0x25: return "data abort in the kernel";
    case 0x26: return "SP alignment fault";
    case 0x2c: return "floating-point exception";
    case 0x2f: return "SError interrupt";
    case 0x30: case 0x31: return "breakpoint";
    case 0x32: case 0x33: return "software step";
    case 0x34: case 0x35: return "watchpoint";
    case 0x3c: return "BRK instruction";
    default: return "unrecognised exception class";
    }
}

/* The fault status code of an abort (ISS[5:0]) in words. */
static const char *fsc_name(unsigned fsc)
{
    switch (fsc >> 2) {
    case 0: return "address size fault";
    case 1: return "translation fault";
    case 2: return "access flag fault";
    case 3: return "permission fault";
    default: break;
    }
    switch (fsc) {
    case 0x10: return "synchronous external abort";
    case 0x21: return "alignment fault";
    case 0x30: return "TLB conflict abort";
    default: return "other abort";
    }
}

static bool is_abort(unsigned ec)
{
    return ec == EC_IABT_LOW || ec == EC_IABT_CUR || ec == EC_DABT_LOW || ec == EC_DABT_CUR;
}

/* "data abort from user mode (write, translation fault, level 0)" */
static void print_exception_kind(uint64_t esr)
{
    unsigned ec = ESR_EC(esr);
    printk("%s", ec_name(ec));
    if (!is_abort(ec))
        return;
    unsigned fsc = esr & 0x3f;
    bool data = (ec == EC_DABT_LOW || ec == EC_DABT_CUR);
    printk(" (%s%s", data ? ((esr & (1u << 6)) ? "write, " : "read, ") : "", fsc_name(fsc));
    if (fsc < 0x10)
        printk(", level %u", fsc & 3);
    printk(")");
}

void el0_exception(struct trap_frame *f, uint64_t esr)
{
    struct dcb *d = sched_current();
    if (ESR_EC(esr) == EC_FP_ACCESS) {
        sched_fpu_trap(d);      /* lazy FP/SIMD switching (sched.c): retry the instruction */
        return;
    }
    uint64_t far = READ_SYSREG(far_el1);
    uint64_t addr = is_abort(ESR_EC(esr)) ? far : f->elr;
    enum upcall_result r = upcall_enter(d, f, UPCALL_FAULT, addr, esr);
    if (r == UPCALL_ENTERED)
        return;
    printk("user fault in process %s (pid %u)%s: ", d->name, d->pid,
           r == UPCALL_BAD_SAVE_AREA ? " (its upcall save area is not writable)"
           : d->in_upcall            ? " in its upcall"
                                     : "");
    print_exception_kind(esr);
    printk("\n  address 0x%016lx  pc 0x%016lx  esr 0x%08lx\n", addr, f->elr, esr);
    sched_stop_current(f, "stopped after a fault");
}

void kernel_exception(struct trap_frame *f, uint64_t esr)
{
    printk("\nKernel panic on core %lu: ", READ_SYSREG(mpidr_el1) & 0xff);
    print_exception_kind(esr);
    printk("\n  ESR 0x%08lx  FAR 0x%016lx  SPSR 0x%08lx\n  ELR ",
           esr, READ_SYSREG(far_el1), f->spsr);
    panic_print_symbol(f->elr);
    printk("\n");
    panic_dump_frame(f);
    panic_backtrace(f->elr, f->x[29]);
    panic_halt();
}

/* Handle every pending interrupt; true if the tick fired. A line
 * connected to an EndPoint (cap/irq.c) becomes a message; *woken is the
 * last receiver one went to. */
static bool handle_irqs(struct dcb **woken)
{
    bool tick = false;
    *woken = NULL;
    for (;;) {
        uint32_t id = gic_ack();
        struct dcb *to;
        if (id == GIC_SPURIOUS)
            return tick;
        if (id == timer_intid()) {
            timer_rearm();
            tick = true;
        } else if (irq_deliver(id, &to)) {
            *woken = to != NULL ? to : *woken;
        } else {
            printk("kernel: unexpected interrupt %u\n", id);
        }
        gic_eoi(id);
    }
}

/* The tick preempts as always; otherwise a driver woken by its interrupt
 * runs at once, as a receiver does after LMP_SEND_YIELD. */
void irq_from_user(struct trap_frame *f)
{
    struct dcb *woken;
    if (handle_irqs(&woken)) {
        sched_wake_expired();
        sched_tick(f);
    } else if (woken != NULL && woken->state == DCB_RUNNABLE) {
        sched_switch_to(f, woken);
    }
}

void irq_from_kernel(struct trap_frame *f)
{
    struct dcb *woken;
    (void)f;
    if (handle_irqs(&woken))      /* the idle loop looks for work after every interrupt */
        sched_wake_expired();
}
