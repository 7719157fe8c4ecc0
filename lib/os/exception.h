/*
 * exception.h — this process's exception handler (include/minnow/syscall.h,
 * upcall.h): faults such as page faults are delivered to a C
 * function on a separate stack, which can fix the cause and retry.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <minnow/errors.h>

struct os_fault {
    uint64_t addr;      /* the faulting address (the pc for instruction faults) */
    uint64_t esr;       /* ESR_EL1: exception class and fault status */
    uint64_t pc;
};

/* Return true to retry the faulting instruction, false to end the process
 * (after a report naming the fault). */
typedef bool (*os_fault_fn)(const struct os_fault *fault);

errval_t os_exception_set(os_fault_fn fn);

/*
 * A second handler, tried first, in the fault upcall itself: on the upcall
 * stack, with no other thread able to run and no mutex held by anyone, so
 * it may take mutexes (they are all free) but must not block, yield or
 * sleep, and must not fault. Returning false hands the fault to the
 * handler of os_exception_set, run as usual in the faulting thread. Paging
 * uses it to back a page without switching stacks twice. Instead of
 * returning true it may resume the faulting code itself, as its very last
 * action (VNODE_MAP_RESUME, captypes.h): the state to resume is the one the
 * upcall saved, untouched, so that is the same as returning true.
 */
errval_t os_exception_set_fast(os_fault_fn fn);

/* Faults fixed so far, by where: in the upcall (fast handler) or in the
 * faulting thread (the handler of os_exception_set). */
struct os_fault_counts {
    uint64_t fixed_in_upcall;
    uint64_t fixed_in_thread;
};
struct os_fault_counts os_fault_counts(void);

/* Words for a fault: "data abort, write, translation fault" etc. */
const char *os_fault_kind(uint64_t esr);

/* ESR_EL1's exception class: 0x20 instruction abort, 0x24 data abort
 * (from EL0). Inline: the fault handler asks on every fault. */
#define OS_ESR_EC(esr) (((esr) >> 26) & 0x3f)

static inline bool os_fault_is_write(uint64_t esr)
{
    return OS_ESR_EC(esr) == 0x24 && (esr & (1u << 6));
}

/* Nothing mapped there: a translation fault, at any level. */
static inline bool os_fault_is_translation(uint64_t esr)
{
    unsigned ec = OS_ESR_EC(esr);
    return (ec == 0x20 || ec == 0x24) && ((esr & 0x3f) >> 2) == 1;
}
