/*
 * exception.c — the exception handler behind os_exception_set (exception.h).
 *
 * The handler runs on its own stack (EXCEPTION_STACK_BYTES, static), so a
 * fault caused by the normal stack (a guard page) can still be handled. If
 * the function fixes the fault, SYS_EXCEPTION_RESUME restores the faulting
 * code exactly; otherwise the process reports the fault and exits.
 */
#include "exception.h"

#include <stdio.h>
#include <stdlib.h>

#include "os.h"
#include "syscall.h"

#define EXCEPTION_STACK_BYTES (16 * 1024)

void os_exception_entry(void);
void os_exception_dispatch(uint64_t addr, uint64_t esr, uint64_t pc);

static os_fault_fn handler;
static uint8_t exception_stack[EXCEPTION_STACK_BYTES] __attribute__((aligned(16)));

#define ESR_EC(esr) (((esr) >> 26) & 0x3f)

bool os_fault_is_write(uint64_t esr)
{
    return ESR_EC(esr) == 0x24 && (esr & (1u << 6));
}

bool os_fault_is_translation(uint64_t esr)
{
    unsigned ec = ESR_EC(esr);
    return (ec == 0x20 || ec == 0x24) && ((esr & 0x3f) >> 2) == 1;
}

const char *os_fault_kind(uint64_t esr)
{
    switch (ESR_EC(esr)) {
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

void os_exception_dispatch(uint64_t addr, uint64_t esr, uint64_t pc)
{
    struct os_fault fault = { addr, esr, pc };
    if (handler != NULL && handler(&fault))
        sys_exception_resume();
    printf("%s (pid %u): unhandled fault: %s at 0x%llx, pc 0x%llx\n", os_args()->name, os_args()->pid,
           os_fault_kind(esr), (unsigned long long)addr, (unsigned long long)pc);
    exit(70);
}

errval_t os_exception_set(os_fault_fn fn)
{
    handler = fn;
    return sys_exception_set((uint64_t)os_exception_entry, (uint64_t)(exception_stack + EXCEPTION_STACK_BYTES));
}
