/*
 * bench.c — in-OS benchmarks, run by `make bench` as the first program
 * (init=bench) on one core under QEMU -icount shift=0,sleep=off, where the
 * cycle counter counts guest instructions exactly.
 *
 * Each benchmark warms up, then takes SAMPLES samples of a batch of
 * operations and reports the median instructions per operation:
 *   BENCH <name> instructions=<n> samples=<s> batch=<b> min=<n> max=<n>
 * tools/bench.py collects these lines into build/bench.json.
 */
#include <stdio.h>
#include <stdlib.h>

#include "os.h"
#include "syscall.h"

#define SAMPLES 31
#define WARMUP  1000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, uint64_t *samples, unsigned n, unsigned batch)
{
    qsort(samples, n, sizeof samples[0], cmp_u64);
    printf("BENCH %s instructions=%llu samples=%u batch=%u min=%llu max=%llu\n", name,
           (unsigned long long)samples[n / 2], n, batch,
           (unsigned long long)samples[0], (unsigned long long)samples[n - 1]);
}

/* Ten calls per loop turn, so the loop's own two instructions add 0.2 per call. */
static void null_syscall_x10(void)
{
    for (int i = 0; i < 10; i++)
        sys_nop();
}

static void bench_null_syscall(void)
{
    enum { BATCH = 100 };   /* turns of ten calls */
    uint64_t s[SAMPLES];
    for (int i = 0; i < WARMUP; i++)
        sys_nop();
    for (unsigned k = 0; k < SAMPLES; k++) {
        uint64_t t0 = os_cycles();
        for (int i = 0; i < BATCH; i++)
            null_syscall_x10();
        s[k] = (os_cycles() - t0) / (BATCH * 10);
    }
    report("null_syscall", s, SAMPLES, BATCH * 10);
}

/* From the kernel's first instruction to this program's first, measured once
 * by crt0.S (the counter was reset in the kernel's first instructions). */
static void bench_boot_to_init(void)
{
    uint64_t s[1] = { os_start_cycles };
    report("boot_to_init", s, 1, 1);
}

int main(void)
{
    bench_boot_to_init();
    bench_null_syscall();
    printf("BENCH-DONE\n");
    return 0;
}
