/*
 * regcheck.c — checks that the kernel saves and restores all user state:
 * every general-purpose and FP/SIMD register and sp, across yields (run two
 * copies, so each yield really switches to the other) and across timer
 * preemption during long spins. rounds=<n> sets the number of yields
 * (default 500), spins=<n> the number of spins (default 3; 0 spins forever,
 * which tests that the tick preempts a process that never yields).
 */
#include <stdio.h>
#include <stdlib.h>

#include "os.h"

uint64_t regcheck_run(uint64_t seed, uint64_t mode);

static const char *reg_name(uint64_t r, char *buf)
{
    if (r == 31)
        return "sp";
    snprintf(buf, 8, "%c%u", r >= 100 ? 'v' : 'x', (unsigned)(r >= 100 ? r - 100 : r));
    return buf;
}

/* Spins print their progress, so a test can see that two copies that never
 * yield still take turns: only the timer tick can make them. */
static int run(const char *what, unsigned count, uint64_t seed, uint64_t mode)
{
    char buf[8];
    for (unsigned i = 0; i < count; i++) {
        uint64_t bad = regcheck_run(seed + i * 0x1000, mode);
        if (bad != 0) {
            printf("regcheck (pid %u): FAILED: %s changed across %s %u\n",
                   os_args()->pid, reg_name(bad, buf), what, i + 1);
            return 1;
        }
        if (mode == 1)
            printf("regcheck (pid %u): %s %u intact\n", os_args()->pid, what, i + 1);
    }
    return 0;
}

int main(void)
{
    char arg[16];
    unsigned yields = os_getarg("rounds", arg, sizeof arg) ? (unsigned)atoi(arg) : 500;
    unsigned spins = os_getarg("spins", arg, sizeof arg) ? (unsigned)atoi(arg) : 3;
    uint64_t seed = (uint64_t)os_args()->pid << 40;
    if (run("yield", yields, seed, 0) || run("spin", spins == 0 ? ~0u : spins, seed, 1))
        return 1;
    printf("regcheck (pid %u): all registers intact across %u yields and %u preempted spins\n",
           os_args()->pid, yields, spins);
    return 0;
}
