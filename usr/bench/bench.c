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

#include "cap.h"
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

/* Scratch slots for the capability benchmarks: the slot allocator's CNode,
 * unused so far. The RAM comes from init's first RAM capability. */
#define BENCH_CN ROOTCN_SLOT_SLOT_ALLOC0

static struct capref bench_slot(uint32_t i) { return capref_l2(BENCH_CN, i); }

/* Carve a private 1 MiB RAM capability, so retypes have a small source. */
static struct capref bench_ram(void)
{
    struct capref ram = bench_slot(0);
    errval_t err = cap_retype(ram, capref_l2(ROOTCN_SLOT_MEMCN, 0), OBJ_RAM, 0, 1 << 20, 1);
    if (err_is_fail(err))
        DEBUG_ERR(err, "bench: carving RAM");
    return ram;
}

/* A copy of a RAM capability into an empty slot, then its deletion. */
static void bench_cap_copy_delete(struct capref ram)
{
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES + 10; k++) {
        uint64_t t0 = os_cycles();
        cap_copy(bench_slot(1), ram);
        cap_delete(bench_slot(1));
        if (k >= 10)
            s[k - 10] = os_cycles() - t0;
    }
    report("cap_copy_delete", s, SAMPLES, 1);
}

/* Retype of one 4 KiB frame (zeroing included); the delete is not counted. */
static void bench_cap_retype_frame(struct capref ram)
{
    uint64_t s[SAMPLES];
    for (unsigned k = 0; k < SAMPLES + 10; k++) {
        uint64_t t0 = os_cycles();
        cap_retype(bench_slot(1), ram, OBJ_FRAME, 0, 4096, 1);
        uint64_t t1 = os_cycles();
        cap_delete(bench_slot(1));
        if (k >= 10)
            s[k - 10] = t1 - t0;
    }
    report("cap_retype_frame", s, SAMPLES, 1);
}

/* Revoke of a RAM capability with 100 frame descendants. */
static void bench_cap_revoke_100(struct capref ram)
{
    enum { REVOKE_SAMPLES = 11 };
    uint64_t s[REVOKE_SAMPLES];
    for (unsigned k = 0; k < REVOKE_SAMPLES + 2; k++) {
        cap_retype(bench_slot(1), ram, OBJ_FRAME, 0, 4096, 100);
        uint64_t t0 = os_cycles();
        cap_revoke(ram);
        if (k >= 2)
            s[k - 2] = os_cycles() - t0;
    }
    report("cap_revoke_100", s, REVOKE_SAMPLES, 1);
}

int main(void)
{
    bench_boot_to_init();
    bench_null_syscall();
    struct capref ram = bench_ram();
    bench_cap_copy_delete(ram);
    bench_cap_retype_frame(ram);
    bench_cap_revoke_100(ram);
    printf("BENCH-DONE\n");
    return 0;
}
