/*
 * panic.c — kernel panics: message, registers, symbolised backtrace, halt.
 *
 * The backtrace follows AAPCS64 frame records (x29 -> {previous x29, x30});
 * the kernel is built with -fno-omit-frame-pointer so every function has
 * one. Records are accepted only inside the boot stack, so a corrupt chain
 * ends the walk instead of faulting again.
 */
#include "panic.h"

#include <stdarg.h>
#include <stdbool.h>

#include "ksyms.h"
#include "memlayout.h"
#include "printk.h"
#include "sysreg.h"

#define BACKTRACE_MAX 32

extern char boot_stack_top[];

void panic_print_symbol(uint64_t pc)
{
    const char *name;
    uint64_t off;
    printk("0x%016lx", pc);
    if (ksyms_lookup(pc, &name, &off))
        printk(" %s+0x%lx", name, off);
}

void panic_dump_frame(const struct trap_frame *f)
{
    for (int i = 0; i < 31; i++)
        printk("  x%-2d 0x%016lx%s", i, f->x[i], (i % 4 == 3) ? "\n" : "");
    printk("  sp  0x%016lx\n", f->sp);
}

static bool on_stack(uint64_t fp)
{
    uint64_t top = (uint64_t)boot_stack_top;
    return (fp & 15) == 0 && fp < top && fp >= top - KERNEL_STACK_SIZE;
}

void panic_backtrace(uint64_t pc, uint64_t fp)
{
    printk("Backtrace:\n  #0  ");
    panic_print_symbol(pc);
    printk("\n");
    for (int depth = 1; depth < BACKTRACE_MAX && on_stack(fp); depth++) {
        const uint64_t *record = (const uint64_t *)fp;
        uint64_t lr = record[1];
        if (lr == 0)
            break;
        printk("  #%-2d ", depth);
        panic_print_symbol(lr - 4);     /* the call instruction, not the return */
        printk("\n");
        fp = record[0];
    }
}

void panic_halt(void)
{
    printk("Core halted.\n");
    irq_disable();
    for (;;)
        wfi();
}

void panic(const char *fmt, ...)
{
    irq_disable();
    printk("\nKernel panic on core %lu: ", READ_SYSREG(mpidr_el1) & 0xff);
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk("\n");
    /* Start at our caller: its pc is our return address, its frame is the
     * one our own frame record points to. */
    const uint64_t *own = __builtin_frame_address(0);
    panic_backtrace((uint64_t)__builtin_return_address(0) - 4, own[0]);
    panic_halt();
}
