/*
 * sysreg.h — access to AArch64 system registers and barriers.
 *
 * The register name is pasted into the instruction, so READ_SYSREG(esr_el1)
 * reads ESR_EL1. Used by everything under kernel/arch/aarch64.
 */
#pragma once

#include <stdint.h>

#define READ_SYSREG(reg) ({                                    \
    uint64_t r_;                                               \
    __asm__ volatile("mrs %0, " #reg : "=r"(r_));              \
    r_;                                                        \
})

#define WRITE_SYSREG(reg, val) do {                            \
    uint64_t w_ = (uint64_t)(val);                             \
    __asm__ volatile("msr " #reg ", %0" :: "r"(w_) : "memory");\
} while (0)

static inline void isb(void) { __asm__ volatile("isb" ::: "memory"); }
static inline void dsb_sy(void) { __asm__ volatile("dsb sy" ::: "memory"); }
static inline void dsb_ish(void) { __asm__ volatile("dsb ish" ::: "memory"); }
static inline void dsb_ishst(void) { __asm__ volatile("dsb ishst" ::: "memory"); }
static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }

static inline void irq_enable(void) { __asm__ volatile("msr daifclr, #2" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }
