/*
 * exception.c — the fault handler behind os_exception_set (exception.h).
 *
 * A fault reaches the process as an upcall (thread.c), which runs this
 * file's os_exception_run in the faulting thread on that thread's own
 * exception stack, so a fault caused by the normal stack (a guard page) can
 * still be handled, and the handler may take locks. If the function fixes
 * the fault, the faulting code resumes exactly (SYS_RESUME) and retries;
 * otherwise the process reports the fault and exits with code 70.
 */
#include "exception.h"

#include <stdio.h>
#include <stdlib.h>

#include "os.h"
#include "syscall.h"
#include "term.h"
#include "thread_internal.h"


static os_fault_fn handler, fast_handler;
static struct os_fault_counts counts;

const char *os_fault_kind(uint64_t esr)
{
    switch (OS_ESR_EC(esr)) {
    case 0x20: return os_fault_is_translation(esr) ? "instruction fetch from unmapped memory"
                                                   : "instruction fetch not allowed";
    case 0x24:
        if (os_fault_is_translation(esr))
            return os_fault_is_write(esr) ? "write to unmapped memory" : "read of unmapped memory";
        return os_fault_is_write(esr) ? "write not allowed" : "read not allowed";
    case 0x00: return "undefined instruction";
    case 0x22: case 0x26: return "misaligned pc or stack";
    case 0x3c: return "breakpoint";
    default: return "other fault";
    }
}

/* Entered from the fault upcall (thread.c) on the faulting thread's
 * exception stack, as that thread: it may block like any code. */
void os_exception_run(void)
{
    struct thread *t = thread_self();
    const struct os_fault *f = &t->fault;
    if (handler != NULL && handler(f)) {
        counts.fixed_in_thread++;
        thread_fault_resume();
    }
    const char *guard = thread_mem_guard(&t->mem, f->addr);
    os_stdio_last_words();      /* a broken process prints through the kernel only */
    printf("%s (pid %u): ", os_args()->name, os_args()->pid);
    if (t->id != 0)
        printf("thread %u: ", t->id);
    if (guard != NULL)
        printf("%s overflow: ", guard);
    printf("unhandled fault: %s at 0x%llx, pc 0x%llx\n", os_fault_kind(f->esr), (unsigned long long)f->addr,
           (unsigned long long)f->pc);
    exit(70);
}

/* Counted before the handler runs: one that fixes the fault may resume
 * the faulting code itself (paging.c) and never return here. */
bool os_exception_try_fast(const struct os_fault *f)
{
    counts.fixed_in_upcall++;
    bool fixed = fast_handler != NULL && fast_handler(f);
    counts.fixed_in_upcall -= !fixed;
    return fixed;
}

struct os_fault_counts os_fault_counts(void)
{
    return counts;
}

errval_t os_exception_set_fast(os_fault_fn fn)
{
    fast_handler = fn;
    return thread_lib_init();
}

errval_t os_exception_set(os_fault_fn fn)
{
    handler = fn;
    return thread_lib_init();
}
